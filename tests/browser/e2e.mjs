// Plays one Russian-speaking user through the whole PinGlass funnel on the
// sandbox's chat page, in a real headless Chromium (Debian's /usr/bin/chromium):
// /start, an album of five photos, the call-to-action button (either A/B
// variant), the free watermarked preview shown with the packages, the Starter
// package, the receipt email, the payment link, paying on the T-Bank
// stand-in's checkout page, and the seven portraits arriving as one album with
// its caption, followed by the set's actions.
//
// Usage: node e2e.mjs <chat page URL> <output dir>
// The output dir must already hold photo-1.jpg … photo-5.jpg (tests/browser.rs
// writes them); screenshots of the key steps are saved there.
//
// Every step prints its name; any failure prints the step, the reason and the
// chat page's visible text, saves failure.png and exits with status 1.

import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
// This machine's closed network needs the background-networking flags: without
// them Chromium keeps trying to reach Google's hosts.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const PHOTO_COUNT = 5;
const PORTRAIT_COUNT = 7;
// Bot answers arrive within a few seconds; generating the portraits takes longer.
const STEP_TIMEOUT_MS = 30_000;
const PORTRAITS_TIMEOUT_MS = 90_000;

const [chatUrlArg, outputDirArg] = process.argv.slice(2);
if (!chatUrlArg || !outputDirArg) {
  console.error("usage: node e2e.mjs <chat page URL> <output dir>");
  process.exit(2);
}
const outputDir = path.resolve(outputDirArg);
const photos = Array.from({ length: PHOTO_COUNT }, (_, index) =>
  path.join(outputDir, `photo-${index + 1}.jpg`),
);
for (const photo of photos) {
  if (!existsSync(photo)) {
    console.error(`missing test photo ${photo} (tests/browser.rs writes them)`);
    process.exit(2);
  }
}

const userId = 700_000_000 + (Date.now() % 100_000_000);
const chatUrl = new URL(chatUrlArg);
chatUrl.searchParams.set("user_id", String(userId));
chatUrl.searchParams.set("name", "Тест");
chatUrl.searchParams.set("lang", "ru");
// Ask for history once a second instead of long polling.
chatUrl.searchParams.set("poll", "interval");

const started = Date.now();
let currentStep = "starting";
let shotNumber = 0;

function step(name) {
  currentStep = name;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`[${seconds.padStart(5)} s] step: ${name}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function screenshot(page, name) {
  shotNumber += 1;
  const file = path.join(outputDir, `${String(shotNumber).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file });
  console.log(`          screenshot: ${file}`);
  return file;
}

/** The newest bot bubble whose text contains `text`, once it is there. */
async function waitForBotMessage(page, text, timeout = STEP_TIMEOUT_MS) {
  const bubble = page.locator(".bot-message", { hasText: text }).last();
  await bubble.waitFor({ state: "visible", timeout });
  return bubble;
}

/** The inline keyboard right after the bot bubble `bubble`. */
function keyboardOf(bubble) {
  return bubble.locator("xpath=following-sibling::*[1][contains(@class,'inline-keyboard')]");
}

async function sendText(page, text) {
  await page.locator("#text-input").fill(text);
  await page.locator("#send-button").click();
}

const profileDir = mkdtempSync(path.join(tmpdir(), "pinglass-chromium-"));
let context = null;
let chat = null;
const pageErrors = [];

async function run() {
  step(`launching ${CHROMIUM}`);
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 800, height: 1200 },
    locale: "ru-RU",
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  chat = context.pages()[0] ?? (await context.newPage());
  chat.on("pageerror", (error) => pageErrors.push(`page error: ${error.message}`));
  chat.on("console", (message) => {
    const url = message.location().url;
    // The stand-in serves no favicon; Chromium asks for one by itself.
    if (message.type() !== "error" || new URL(url, chatUrl).pathname === "/favicon.ico") return;
    pageErrors.push(`console error: ${message.text()} (${url})`);
  });

  step(`opening the chat page as a new user ${userId} (Тест, ru)`);
  console.log(`          ${chatUrl}`);
  const response = await chat.goto(chatUrl.toString());
  check(response && response.ok(), `the chat page answered ${response && response.status()}`);
  await chat.locator("#status", { hasText: "подключено" }).waitFor();
  check((await chat.locator("#user-id").inputValue()) === String(userId), "#user-id is not the user from the URL");
  check((await chat.locator("#user-name").inputValue()) === "Тест", "#user-name is not Тест");

  step("sending /start and checking the onboarding answer");
  await sendText(chat, "/start");
  await chat.locator(".user-message", { hasText: "/start" }).waitFor();
  const greeting = await waitForBotMessage(chat, "Привет, Тест! Я PinGlass");
  check(
    (await greeting.innerText()).includes("Пришлите мне 5–15 своих фото"),
    "the greeting does not ask for 5–15 photos",
  );
  const packages = await waitForBotMessage(chat, "Пакеты:");
  const packagesText = await packages.innerText();
  for (const line of ["Starter — 7 портретов за 499 ₽", "Standard — 15 портретов за 999 ₽", "Premium — 23 портрета за 1499 ₽"]) {
    check(packagesText.includes(line), `the packages message lacks "${line}"`);
  }
  await screenshot(chat, "onboarding");

  step(`uploading ${PHOTO_COUNT} photos at once through #file-input`);
  await chat.locator("#send-as-file").setChecked(false);
  await chat.locator("#file-input").setInputFiles(photos);
  await chat.locator("#send-button").click();
  const album = chat.locator(".user-message", { has: chat.locator("img.photo") }).last();
  await waitForCount(album.locator("img.photo"), PHOTO_COUNT, "photos in the sent album");

  // bot.toml runs an A/B test of this button: the user sees one of two labels.
  step("checking the counter says 5 photos and shows the call-to-action button");
  const counter = await waitForBotMessage(chat, `Принято: ${PHOTO_COUNT} фото из 15`);
  const labels = ["✨ Создать портреты", "👀 Посмотреть, что получится"];
  const generate = keyboardOf(counter).locator("button.inline-button").first();
  await generate.waitFor();
  const label = (await generate.innerText()).trim();
  check(labels.includes(label), `the counter's button is "${label}", not one of the A/B variants`);
  check(
    (await counter.innerText()).includes(`Можно прислать ещё или нажать «${label.replace(/^\S+\s/, "")}»`),
    `the counter does not point at its button «${label}»`,
  );
  await waitForImagesLoaded(album, PHOTO_COUNT);
  await screenshot(chat, "after-upload");

  // The sandbox makes one free, watermarked preview before the package choice.
  step(`pressing «${label}»: the free preview is made first`);
  await generate.click();
  await waitForBotMessage(chat, "Сначала — бесплатный пробный портрет");
  const tiers = await waitForBotMessage(chat, "Ваш бесплатный пробный портрет", PORTRAITS_TIMEOUT_MS);
  await waitForImagesLoaded(tiers, 1);
  // Telegram shows a single photo whole; a face cut off at the chin fails here.
  await checkShownWhole(tiers.locator("img.photo"), "the free preview");
  check(
    (await tiers.innerText()).includes("Starter — 7 портретов в 7 разных стилях, 499 ₽"),
    "the preview does not come with the package list",
  );
  await tiers.scrollIntoViewIfNeeded();
  await screenshot(chat, "preview-and-packages");
  const starter = keyboardOf(tiers).locator("button.inline-button", { hasText: "Starter · 7 портретов · 499 ₽" });
  await starter.waitFor();

  step("pressing the Starter package");
  await starter.click();
  await waitForBotMessage(chat, "Куда прислать чек об оплате?");
  await chat.locator("#reply-keyboard .reply-button", { hasText: "Поделиться номером" }).waitFor();
  await screenshot(chat, "receipt-question");

  step("typing the receipt email and sending it");
  await sendText(chat, "test@example.ru");
  await chat.locator(".user-message", { hasText: "test@example.ru" }).waitFor();
  await waitForBotMessage(chat, "Спасибо, чек придёт туда.");

  step("waiting for the payment link «💳 Оплатить»");
  const invoice = await waitForBotMessage(chat, "Счёт на 499 ₽ — пакет Starter, 7 портретов.");
  const payLink = keyboardOf(invoice).locator("a.url-button", { hasText: "💳 Оплатить" });
  await payLink.waitFor();
  const payUrl = await payLink.getAttribute("href");
  check(payUrl && /^https?:\/\//.test(payUrl), `the payment button has no link: ${payUrl}`);
  check(
    (await keyboardOf(invoice).locator("button.inline-button", { hasText: "✅ Я оплатил" }).count()) === 1,
    "the invoice has no «✅ Я оплатил» button",
  );
  await screenshot(chat, "payment-link");

  step("opening the payment link (it opens a new tab)");
  console.log(`          ${payUrl}`);
  const [checkout] = await Promise.all([context.waitForEvent("page"), payLink.click()]);
  await checkout.waitForLoadState("domcontentloaded");
  check(checkout.url() === payUrl, `the new tab opened ${checkout.url()}, not ${payUrl}`);
  await checkout.locator("h1", { hasText: "Оплата заказа" }).waitFor();
  const amount = (await checkout.locator(".amount").innerText()).replace(/\s/g, " ");
  check(amount === "499,00 ₽", `the checkout page shows the amount "${amount}", not 499,00 ₽`);
  await screenshot(checkout, "checkout");

  step("pressing Pay on the checkout page");
  // The form posts, and the stand-in answers 303 back to the page, which now shows the result.
  await checkout.locator("button[value=pay]").click();
  const result = checkout.locator("p.result");
  await result.waitFor();
  const status = await result.getAttribute("data-status");
  const resultText = await result.innerText();
  check(status === "CONFIRMED", `the checkout result is ${status}: ${resultText}`);
  check(resultText.includes("Оплата прошла успешно"), `the checkout result says: ${resultText}`);
  await screenshot(checkout, "checkout-result");
  await checkout.close();

  step("back in the chat: waiting for the payment to be seen");
  await chat.bringToFront();
  await waitForBotMessage(chat, "Оплата получена, спасибо! Начинаю создавать 7 портретов");

  step(`waiting up to ${PORTRAITS_TIMEOUT_MS / 1000} s for the album of ${PORTRAIT_COUNT} portraits`);
  const portraits = await waitForBotMessage(
    chat,
    `✨ Ваши ${PORTRAIT_COUNT} AI-портретов готовы!`,
    PORTRAITS_TIMEOUT_MS,
  );
  await waitForCount(portraits.locator("img.photo"), PORTRAIT_COUNT, "portraits in the bot's album");
  await waitForImagesLoaded(portraits, PORTRAIT_COUNT);
  const fileIds = await portraits.locator("img.photo").evaluateAll((images) => images.map((image) => image.dataset.fileId));
  check(new Set(fileIds).size === PORTRAIT_COUNT, `the album repeats a portrait: ${fileIds.join(", ")}`);
  await portraits.scrollIntoViewIfNeeded();
  await screenshot(chat, "portraits");
  shotNumber += 1;
  const albumShot = path.join(outputDir, `${String(shotNumber).padStart(2, "0")}-portraits-album.png`);
  await portraits.screenshot({ path: albumShot });
  console.log(`          screenshot: ${albumShot}`);

  step("the set's actions follow the album");
  await waitForBotMessage(chat, "Что дальше?");

  check(pageErrors.length === 0, `the chat page reported errors:\n${pageErrors.join("\n")}`);
  const errorText = (await chat.locator("#error").innerText()).trim();
  check(errorText === "", `the chat page shows an error: ${errorText}`);
}

/** Waits until `locator` matches exactly `count` elements. */
async function waitForCount(locator, count, what) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const found = await locator.count();
    if (found === count) return;
    if (Date.now() > deadline) throw new Error(`expected ${count} ${what}, found ${found}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Waits until `count` img.photo inside `scope` have loaded real pixels. */
async function waitForImagesLoaded(scope, count) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const loaded = await scope
      .locator("img.photo")
      .evaluateAll((images) => images.filter((image) => image.complete && image.naturalWidth > 0).length);
    if (loaded >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${loaded} of ${count} photos loaded`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Fails unless the one photo `image` is shown whole: its box has the photo's
 * own aspect ratio (so neither object-fit: cover crops it nor fill stretches
 * it), no ancestor clips it, and it is not shrunk to a thumbnail.
 */
async function checkShownWhole(image, what) {
  check((await image.count()) === 1, `${what}: expected one photo, found ${await image.count()}`);
  const shown = await image.evaluate((img) => {
    const box = img.getBoundingClientRect();
    const style = getComputedStyle(img);
    // The content box: what object-fit fits the picture into.
    const padding = (side) => parseFloat(style[`padding${side}`]) + parseFloat(style[`border${side}Width`]);
    const width = box.width - padding("Left") - padding("Right");
    const height = box.height - padding("Top") - padding("Bottom");
    let clippedBy = null;
    for (let parent = img.parentElement; parent && parent !== document.body; parent = parent.parentElement) {
      const clip = getComputedStyle(parent);
      if (clip.overflowX === "visible" && clip.overflowY === "visible") continue;
      if (parent.id === "messages") break; // the scrolling chat: scrolled into view below
      const outer = parent.getBoundingClientRect();
      if (box.left < outer.left - 0.5 || box.top < outer.top - 0.5 || box.right > outer.right + 0.5 || box.bottom > outer.bottom + 0.5) {
        clippedBy = parent.className || parent.tagName;
        break;
      }
    }
    return {
      width,
      height,
      naturalWidth: img.naturalWidth,
      naturalHeight: img.naturalHeight,
      objectFit: style.objectFit,
      clippedBy,
    };
  });
  const described = `${what} is shown in a ${shown.width.toFixed(0)}×${shown.height.toFixed(0)} box ` +
    `(object-fit: ${shown.objectFit}) but is ${shown.naturalWidth}×${shown.naturalHeight}`;
  check(shown.naturalWidth > 0 && shown.naturalHeight > 0, `${what} has not loaded`);
  const boxRatio = shown.width / shown.height;
  const photoRatio = shown.naturalWidth / shown.naturalHeight;
  check(Math.abs(boxRatio / photoRatio - 1) < 0.02, `${described}: cropped or stretched`);
  // object-fit: none shows the picture at its own size, cut to a smaller box.
  check(
    shown.objectFit !== "none" || (shown.width >= shown.naturalWidth - 0.5 && shown.height >= shown.naturalHeight - 0.5),
    `${described}: object-fit none cuts it`,
  );
  check(shown.clippedBy === null, `${described}: cut by its container .${shown.clippedBy}`);
  check(Math.max(shown.width, shown.height) >= 240, `${described}: too small to look at`);
  console.log(`          ${what}: ${shown.naturalWidth}×${shown.naturalHeight} shown whole in ${shown.width.toFixed(0)}×${shown.height.toFixed(0)}`);
}

async function visibleText(page) {
  try {
    return await page.locator("body").innerText({ timeout: 5_000 });
  } catch (error) {
    return `(could not read the page: ${error.message})`;
  }
}

let exitCode = 0;
try {
  await run();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`PASSED: the whole funnel in ${seconds} s; screenshots in ${outputDir}`);
} catch (error) {
  exitCode = 1;
  const reason = String(error && error.message ? error.message : error).replace(/\x1b\[[0-9;]*m/g, "");
  console.error(`\nFAILED at step "${currentStep}": ${reason}`);
  if (pageErrors.length > 0) console.error(`\nchat page errors:\n${pageErrors.join("\n")}`);
  if (chat) {
    console.error(`\nvisible text of the chat page:\n${"-".repeat(60)}\n${await visibleText(chat)}\n${"-".repeat(60)}`);
    try {
      const file = path.join(outputDir, "failure.png");
      await chat.screenshot({ path: file });
      console.error(`screenshot of the failure: ${file}`);
    } catch {
      // The browser may be gone; the text above is what there is.
    }
  }
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profileDir, { recursive: true, force: true });
}
process.exit(exitCode);
