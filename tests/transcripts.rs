//! Replays every conversation in `dialogues/` against the real dispatcher
//! and side task, through the Telegram, Kie and T-Bank stand-ins, and shows a
//! readable diff on mismatch.
//!
//! # The format (`dialogues/*.chat`)
//!
//! ```text
//! # A comment: what this conversation shows.
//! @user 1001 Анна ru          the user who speaks next (id, first name, Telegram language)
//!
//! you: /start                 the user sends text or a command
//! bot: Привет, Анна!          a message from the bot …
//!    | second line            … and its further lines
//!    [Button] [Link ↗]        a row of its inline buttons (↗: a link)
//!    {📱 Share phone}          its reply keyboard
//! bot edits: 5 photos …       an earlier message, as edited during this step
//! bot deletes: 1 photo …      an earlier message deleted during this step
//! bot toast: Checking…        the short answer to a button press
//! ```
//!
//! User actions: `[photo NAME]`, `[photo NAME WxH]`, `[album NAME NAME …]`,
//! `[file NAME.ext]` (jpg/png/heic: an image sent as a file — every .heic
//! name sends the same iPhone-style HEIC, `tests/fixtures/IMG_0001.heic`;
//! txt, pdf: other files; a name with "broken": a truncated JPEG, or a
//! truncated HEIC when it ends in .heic), `[sticker]`,
//! `[video]`, `[contact]` (share one's own phone), `[press LABEL]`,
//! `[raw-press DATA]` (a forged button press on the last bot message),
//! `[pay]` / `[decline]` / `[fail-3ds]` / `[exhaust-attempts]` (on the
//! checkout page of the last payment link: paid, declined by the bank, the
//! 3-D Secure check failed, the tries on the form ran out),
//! `[wait]` (the user does nothing: what follows, the bot does on its own),
//! `[wait 1.5h]` (the same, while the bot's clock jumps 1.5 hours: what the
//! bot does "then", e.g. reminders, shows in this step),
//! `[open-ref ID]` (open the referral link of user ID: `/start ref_<code>`),
//! `[open-shared-link USER_ID]` (sends `/start g_…` with the last share link
//! the bot gave that user), `[photo faces/FILE]` (a shipped test image of
//! `tests/fixtures/faces/` sent as a photo, e.g. `faces/blurred.jpg`; such
//! names work in `[album …]` too). Generated photos (every other NAME) show
//! one face that the quality gate accepts.
//!
//! Several users may speak in one file: each `@user` line switches. The first
//! step of a user after a switch also shows what the bot sent them while
//! others spoke. Referral codes are random, so `ref_<code>` is shown as
//! `ref_<ID>` (whose code it is).
//!
//! Directives: `@needs heic` / `@needs no-heic` (the file is replayed only
//! in a build with / without that cargo feature); `@restart` (stop the bot
//! and start it again on the same database); `@config preview on|off`, `@config experiments shipped` (the
//! A/B tests of bot.toml; tests start with neither), `@config weights EXP W1
//! W2…`, `@config kie-max-attempts N` (before the first action: from the
//! start; later: from the next `@restart`); `@kie fail-transient N` / `@kie fail-moderation N` /
//! `@kie never-finish N` (the next N Kie tasks), `@kie moderate TEXT N`
//! (the next N prompts containing TEXT are refused by moderation),
//! `@tbank advance-hours H` (the bank's clock jumps, e.g. past a deadline),
//! `@clock advance-hours H` (the bot's own clock jumps: what the side task
//! does "H hours later", e.g. reminders; fractions allowed), `@seed business`
//! (the bot's clock is set to 2026-03-16 12:00 UTC and a small business of 20
//! users, payments, jobs and referrals is written to the database: what the
//! admin commands report on; `@user 900000001 Админ ru` is the tests' admin;
//! `@seed business live`: the same, seeded at the running clock's now).
//! A photo from the bot shows as `[photo 1200×800 PNG]`: the size and format
//! of the largest size the stand-in stored, decoded from its bytes.
//!
//! Photos with the same NAME have the same bytes; different names differ.
//! A document the bot sends shows as `[file NAME SIZE]`; share-link tokens
//! (random) show as `g_<token N>`, the same token with the same N.
//!
//! # Re-recording after an intended change of wording
//!
//! `PINGLASS_RECORD=1 cargo test --locked --test tests transcripts` writes
//! what the bot actually said back into the files (`PINGLASS_RECORD=starter`:
//! only the files whose name contains "starter"); review the change with
//! `git diff dialogues/`. `PINGLASS_DIALOGUES=gallery` replays only the files
//! whose name contains "gallery". Recording waits after each step until the chat is
//! quiet and the bot has nothing left to do.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pinglass::kie::standin::{Fault, TaskFault};
use pinglass::telegram::standin::{ChatEntry, FileUpload, UserSpec};

use crate::support::{TestApp, photo_jpeg, photo_png};

const STEP_TIMEOUT: Duration = Duration::from_secs(45);

/// What each photo the bot sent is, by the file_id of its largest size:
/// "1200×800 PNG", decoded from the bytes the stand-in stored.
type Photos = std::collections::HashMap<String, String>;

#[derive(Debug)]
enum Item {
    /// A comment, a blank line or a directive: copied as is.
    Verbatim(String),
    Action {
        line: String,
        expected: Vec<String>,
    },
}

fn parse(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for line in text.lines() {
        let is_bot_line = line.starts_with("bot") || line.starts_with("   ");
        match items.last_mut() {
            Some(Item::Action { expected, .. }) if is_bot_line => expected.push(line.to_owned()),
            _ if line.starts_with("you: ") => items.push(Item::Action {
                line: line.to_owned(),
                expected: Vec::new(),
            }),
            _ => items.push(Item::Verbatim(line.to_owned())),
        }
    }
    items
}

fn render_text(prefix: &str, text: &str, out: &mut Vec<String>) {
    let mut lines = text.split('\n');
    out.push(
        format!("{prefix} {}", lines.next().unwrap_or(""))
            .trim_end()
            .to_owned(),
    );
    for line in lines {
        out.push(format!("   | {line}").trim_end().to_owned());
    }
}

fn render_keyboards(entry: &ChatEntry, out: &mut Vec<String>) {
    for row in &entry.inline_keyboard {
        let buttons: Vec<String> = row
            .iter()
            .map(|b| {
                if b.url.is_some() {
                    format!("[{} ↗]", b.text)
                } else {
                    format!("[{}]", b.text)
                }
            })
            .collect();
        out.push(format!("   {}", buttons.join(" ")));
    }
    if let Some(keyboard) = &entry.reply_keyboard {
        for row in &keyboard.rows {
            let buttons: Vec<String> = row.iter().map(|b| format!("{{{}}}", b.text)).collect();
            out.push(format!("   {}", buttons.join(" ")));
        }
    }
}

fn render_entry(prefix: &str, entry: &ChatEntry, photos: &Photos, out: &mut Vec<String>) {
    if entry.deleted {
        let first_line = entry
            .text_or_caption()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("");
        out.push(format!("bot deletes: {first_line}").trim_end().to_owned());
        return;
    }
    let mut body = String::new();
    if let Some(largest) = entry.photo.last() {
        let about = photos
            .get(&largest.file_id)
            .map(String::as_str)
            .unwrap_or("not decoded");
        body.push_str(&format!("[photo {about}] "));
    }
    if let Some(document) = &entry.document {
        body.push_str(&format!(
            "[file {} {}] ",
            document.file_name.as_deref().unwrap_or("?"),
            human_size(document.file_size)
        ));
    }
    body.push_str(entry.text_or_caption().unwrap_or(""));
    render_text(prefix, body.trim_end(), out);
    render_keyboards(entry, out);
}

/// Sizes as Telegram shows them: "840 KB", "1.2 MB" (binary units).
fn human_size(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if (bytes as f64) < MB {
        format!("{} KB", (bytes as f64 / 1024.0).round())
    } else {
        format!("{:.1} MB", bytes as f64 / MB)
    }
}

/// The last share-link token (`start=g_…`) in a text.
fn share_token(text: &str) -> Option<&str> {
    let start = text.rfind("start=g_")? + "start=g_".len();
    let token = &text[start..];
    let end = token
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(token.len());
    Some(&token[..end])
}

/// Share-link tokens are random: each distinct one is shown as `g_<token N>`,
/// numbered in order of appearance in the transcript (`seen`).
fn mask_share_tokens(line: &str, seen: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("start=g_") {
        let (head, tail) = rest.split_at(at + "start=g_".len());
        out.push_str(head);
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(tail.len());
        let token = &tail[..end];
        let n = match seen.iter().position(|t| t == token) {
            Some(i) => i + 1,
            None => {
                seen.push(token.to_owned());
                seen.len()
            }
        };
        out.push_str(&format!("<token {n}>"));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// What the bot did in one step: edits of earlier messages, then new
/// messages in order (an album as one line), then toasts.
fn render_step(
    before: &[ChatEntry],
    after: &[ChatEntry],
    toasts: &[String],
    photos: &Photos,
) -> Vec<String> {
    let mut out = Vec::new();
    let last_before = before.iter().map(|e| e.message_id).max().unwrap_or(0);
    for entry in after
        .iter()
        .filter(|e| e.is_from_bot() && e.message_id <= last_before)
    {
        let old = before.iter().find(|b| b.message_id == entry.message_id);
        if old.is_some_and(|old| old != entry) {
            render_entry("bot edits:", entry, photos, &mut out);
        }
    }
    let new: Vec<&ChatEntry> = after
        .iter()
        .filter(|e| e.is_from_bot() && e.message_id > last_before)
        .collect();
    let mut i = 0;
    while i < new.len() {
        let entry = new[i];
        if let Some(group) = &entry.media_group_id {
            let count = new[i..]
                .iter()
                .take_while(|e| e.media_group_id.as_ref() == Some(group))
                .count();
            let caption = entry.caption.as_deref().unwrap_or("");
            out.push(
                format!("bot: [album: {count} photos] {caption}")
                    .trim_end()
                    .to_owned(),
            );
            i += count;
        } else {
            render_entry("bot:", entry, photos, &mut out);
            i += 1;
        }
    }
    for toast in toasts {
        out.push(format!("bot toast: {toast}"));
    }
    out
}

fn file_upload(name: &str) -> FileUpload {
    let lower = name.to_ascii_lowercase();
    const HEIC: &[u8] = include_bytes!("fixtures/IMG_0001.heic");
    let bytes = if lower.contains("broken") && lower.ends_with(".heic") {
        HEIC[..HEIC.len() / 2].to_vec()
    } else if lower.contains("broken") {
        let mut jpeg = photo_jpeg(name, 800, 1000);
        jpeg.truncate(jpeg.len() / 3);
        jpeg
    } else if lower.ends_with(".png") {
        photo_png(name, 800, 1000)
    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        photo_jpeg(name, 800, 1000)
    } else if lower.ends_with(".heic") {
        HEIC.to_vec()
    } else if lower.ends_with(".pdf") {
        b"%PDF-1.4\n% a tiny document\n".to_vec()
    } else {
        format!("a text file called {name}\n").into_bytes()
    };
    FileUpload::new(bytes, name)
}

fn parse_photo_spec(spec: &str) -> (String, u32, u32) {
    let mut parts = spec.split_whitespace();
    let name = parts.next().unwrap_or("photo").to_owned();
    let (w, h) = parts
        .next()
        .and_then(|size| size.split_once('x'))
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((800, 1000));
    (name, w, h)
}

struct Runner {
    app: TestApp,
    user: UserSpec,
    record: bool,
    /// Each user's chat as of the end of their last step.
    seen: std::collections::HashMap<i64, Vec<ChatEntry>>,
    /// Set by `@user`: the next step starts from that user's last view.
    switched: bool,
    /// Referral codes of the users who spoke (random, so rendered by owner).
    codes: std::collections::HashMap<i64, String>,
    /// Share-link tokens seen so far (see [`mask_share_tokens`]).
    tokens: std::sync::Mutex<Vec<String>>,
    photos: Photos,
}

impl Runner {
    fn chat(&self) -> Vec<ChatEntry> {
        self.app.telegram.sandbox().history(self.user.id)
    }

    fn referral_code(&self, user_id: i64) -> Option<String> {
        self.app
            .app()
            .db
            .run_blocking(|c| pinglass::db::users::get(c, user_id))
            .ok()
            .flatten()
            .map(|u| u.referral_code)
    }

    /// `ref_<code>` → `ref_<ID>` for every user known so far.
    fn mask_codes(&mut self, lines: Vec<String>) -> Vec<String> {
        let ids: Vec<i64> = self.seen.keys().copied().chain([self.user.id]).collect();
        for id in ids {
            if !self.codes.contains_key(&id)
                && let Some(code) = self.referral_code(id)
            {
                self.codes.insert(id, code);
            }
        }
        lines
            .into_iter()
            .map(|mut line| {
                for (id, code) in &self.codes {
                    line = line.replace(&format!("ref_{code}"), &format!("ref_<{id}>"));
                }
                line
            })
            .collect()
    }

    /// Decodes every photo of the bot not seen yet.
    async fn decode_photos(&mut self, entries: &[ChatEntry]) {
        for entry in entries.iter().filter(|e| e.is_from_bot()) {
            let Some(largest) = entry.photo.last() else {
                continue;
            };
            if self.photos.contains_key(&largest.file_id) {
                continue;
            }
            let about = match self
                .app
                .telegram
                .sandbox()
                .file_bytes(&largest.file_id)
                .await
            {
                None => "missing".to_owned(),
                Some(bytes) => match (image::guess_format(&bytes), image::load_from_memory(&bytes))
                {
                    (Ok(format), Ok(image)) => format!(
                        "{}×{} {}",
                        image.width(),
                        image.height(),
                        format!("{format:?}").to_uppercase()
                    ),
                    _ => "undecodable".to_owned(),
                },
            };
            self.photos.insert(largest.file_id.clone(), about);
        }
    }

    fn last_bot_with(&self, pick: impl Fn(&ChatEntry) -> bool) -> Option<ChatEntry> {
        self.chat()
            .into_iter()
            .rev()
            .find(|e| e.is_from_bot() && !e.deleted && pick(e))
    }

    /// Performs the user's action; returns the ids of callback queries it made.
    async fn act(&mut self, action: &str) -> Result<Vec<String>, String> {
        let sandbox = self.app.telegram.sandbox().clone();
        let user = self.user.clone();
        let err = |e: &dyn std::fmt::Display| format!("{action}: {e}");
        let Some(inner) = action.strip_prefix('[').and_then(|a| a.strip_suffix(']')) else {
            sandbox.send_text(&user, action).map_err(|e| err(&e))?;
            return Ok(Vec::new());
        };
        let (verb, rest) = inner.split_once(' ').unwrap_or((inner, ""));
        match verb {
            "photo" => {
                let (name, w, h) = parse_photo_spec(rest);
                let bytes = match name.strip_prefix("faces/") {
                    Some(_) => crate::faces::fixture(&name["faces/".len()..]),
                    None => photo_jpeg(&name, w, h),
                };
                sandbox
                    .send_photo(&user, bytes, None)
                    .await
                    .map_err(|e| err(&e))?;
            }
            "album" => {
                let photos = rest
                    .split_whitespace()
                    .map(|name| match name.strip_prefix("faces/") {
                        Some(fixture) => crate::faces::fixture(fixture),
                        None => photo_jpeg(name, 800, 1000),
                    })
                    .collect();
                sandbox
                    .send_album(&user, photos, None)
                    .await
                    .map_err(|e| err(&e))?;
            }
            "file" => {
                sandbox
                    .send_document(&user, file_upload(rest), None)
                    .await
                    .map_err(|e| err(&e))?;
            }
            "sticker" => {
                sandbox
                    .send_sticker(&user, "😀")
                    .await
                    .map_err(|e| err(&e))?;
            }
            "video" => {
                let clip = FileUpload::new(
                    b"\0\0\0\x18ftypmp42 not really a video".to_vec(),
                    "clip.mp4",
                );
                sandbox
                    .send_video(&user, clip, 3)
                    .await
                    .map_err(|e| err(&e))?;
            }
            "contact" => {
                sandbox
                    .send_contact(&user, "+7 900 123-45-67")
                    .map_err(|e| err(&e))?;
            }
            "press" => {
                let entry = self
                    .last_bot_with(|e| {
                        e.inline_buttons()
                            .any(|b| b.text == rest && b.callback_data.is_some())
                    })
                    .ok_or_else(|| format!("{action}: no bot message has a button {rest:?}"))?;
                let id = sandbox
                    .press_button_with_text(&user, entry.message_id, rest)
                    .map_err(|e| err(&e))?;
                return Ok(vec![id]);
            }
            "raw-press" => {
                let entry = self
                    .last_bot_with(|_| true)
                    .ok_or_else(|| format!("{action}: no bot message"))?;
                let id = sandbox
                    .press_button_raw(&user, entry.message_id, rest)
                    .map_err(|e| err(&e))?;
                return Ok(vec![id]);
            }
            // The user does nothing; what the bot does on its own follows.
            "wait" if rest.is_empty() => {}
            // … for a while: the bot's clock jumps after the step began, so
            // what it sends "then" is this step's output (not the next one's).
            "wait" => {
                let hours: f64 = rest
                    .strip_suffix('h')
                    .and_then(|h| h.parse().ok())
                    .filter(|h: &f64| h.is_finite() && *h > 0.0)
                    .ok_or_else(|| format!("{action}: expected [wait H h], e.g. [wait 1.5h]"))?;
                self.app
                    .advance_clock(Duration::from_secs_f64(hours * 3600.0));
            }
            "open-ref" => {
                let owner: i64 = rest
                    .trim()
                    .parse()
                    .map_err(|_| format!("{action}: not a user id"))?;
                let code = self
                    .referral_code(owner)
                    .ok_or_else(|| format!("{action}: user {owner} is unknown to the bot"))?;
                sandbox
                    .send_text(&user, &format!("/start ref_{code}"))
                    .map_err(|e| err(&e))?;
            }
            "open-shared-link" => {
                let owner: i64 = rest
                    .trim()
                    .parse()
                    .map_err(|_| format!("{action}: bad user id"))?;
                let token = sandbox
                    .history(owner)
                    .iter()
                    .rev()
                    .filter(|e| e.is_from_bot())
                    .find_map(|e| e.text_or_caption().and_then(share_token).map(str::to_owned))
                    .ok_or_else(|| format!("{action}: user {owner} got no share link"))?;
                sandbox
                    .send_text(&user, &format!("/start g_{token}"))
                    .map_err(|e| err(&e))?;
            }
            "pay" | "decline" | "fail-3ds" | "exhaust-attempts" => {
                let url = self
                    .last_bot_with(|e| {
                        e.inline_buttons()
                            .any(|b| b.url.as_deref().is_some_and(|u| u.contains("/checkout/")))
                    })
                    .and_then(|e| {
                        e.inline_buttons()
                            .find_map(|b| b.url.clone().filter(|u| u.contains("/checkout/")))
                    })
                    .ok_or_else(|| format!("{action}: no payment link in the chat"))?;
                let payment_id = url
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let tbank = &self.app.tbank;
                let result = match verb {
                    "pay" => tbank.pay(&payment_id),
                    "decline" => tbank.decline(&payment_id),
                    "fail-3ds" => tbank.fail_three_ds(&payment_id),
                    _ => tbank.exhaust_attempts(&payment_id),
                };
                result.map_err(|e| err(&e))?;
            }
            other => return Err(format!("unknown action [{other}]")),
        }
        Ok(Vec::new())
    }

    fn toasts(&self, queries: &[String]) -> Vec<String> {
        queries
            .iter()
            .filter_map(|id| self.app.telegram.sandbox().callback(id))
            .filter_map(|record| record.answer.and_then(|a| a.text))
            .collect()
    }

    /// The step as rendered now, share tokens masked.
    fn render_now(
        &self,
        before: &[ChatEntry],
        chat: &[ChatEntry],
        queries: &[String],
    ) -> Vec<String> {
        let mut tokens = self.tokens.lock().unwrap();
        render_step(before, chat, &self.toasts(queries), &self.photos)
            .into_iter()
            .map(|line| mask_share_tokens(&line, &mut tokens))
            .collect()
    }

    /// Waits until the step's output equals `expected` (then until the bot is
    /// done with the step: handled and settled), or, when recording, until
    /// the chat has been quiet for a while and the bot idle.
    async fn observe(
        &mut self,
        before: &[ChatEntry],
        queries: &[String],
        expected: &[String],
    ) -> Vec<String> {
        let started = Instant::now();
        let mut last = Vec::new();
        let mut last_change = Instant::now();
        loop {
            let chat = self.chat();
            self.decode_photos(&chat).await;
            let now = {
                let lines = self.render_now(before, &chat, queries);
                self.mask_codes(lines)
            };
            if now != last {
                last = now;
                last_change = Instant::now();
            }
            let done = if self.record {
                // Quiet chat and nothing left to do in the bot (a Kie retry
                // can keep the chat quiet for a while without being done).
                last_change.elapsed() > Duration::from_millis(1500)
                    && (!last.is_empty() || started.elapsed() > Duration::from_secs(3))
                    && self.app.is_idle()
            } else {
                last == expected
            };
            if done || started.elapsed() > STEP_TIMEOUT {
                break;
            }
            // Polls the chat until the step shows what is expected (or, when
            // recording, until it is quiet); a match is then settled below.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !self.record {
            if last == expected {
                // Recorded steps end when the bot has nothing left to do: once
                // it has handled the user's updates and the side task is idle,
                // anything more (a doubled message) is in the chat.
                crate::support::handled(&self.app.telegram, &self.user).await;
                self.app.settle().await;
            }
            let chat = self.chat();
            self.decode_photos(&chat).await;
            last = {
                let lines = self.render_now(before, &chat, queries);
                self.mask_codes(lines)
            };
        }
        self.seen.insert(self.user.id, self.chat());
        last
    }

    async fn directive(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["@user", id, name, lang] => {
                let id: i64 = id.parse().map_err(|_| format!("bad user id in {line:?}"))?;
                let mut user = UserSpec::new(id, *name);
                if *lang != "-" {
                    user = user.with_language(*lang);
                }
                self.user = user;
                self.switched = true;
            }
            ["@restart"] => self.app.restart().await,
            // Read when the files are listed (`dialogue_files`).
            ["@needs", _] => {}
            ["@seed", "business"] => {
                // 2026-03-16 12:00:00 UTC: the same dates in every run.
                const SEED_NOW: i64 = 1_773_662_400_000;
                self.app.clock.set_now(SEED_NOW);
                self.app
                    .app()
                    .db
                    .run_blocking(|c| pinglass::db::fixtures::seed_business(c, SEED_NOW))
                    .map_err(|e| format!("{line}: {e}"))?;
            }
            // The same business, seeded "now" on the running clock (no fixed
            // dates): for conversations where live users pay beside it.
            ["@seed", "business", "live"] => {
                let now = self.app.clock.now_ms();
                self.app
                    .app()
                    .db
                    .run_blocking(|c| pinglass::db::fixtures::seed_business(c, now))
                    .map_err(|e| format!("{line}: {e}"))?;
            }
            ["@kie", "moderate", text, n] => {
                let n: u32 = n.parse().map_err(|_| format!("bad count in {line:?}"))?;
                for _ in 0..n {
                    self.app
                        .kie
                        .script(Fault::ModeratePromptContaining((*text).into()), 1);
                }
            }
            ["@clock", "advance-hours", hours] => {
                let hours: f64 = hours
                    .parse()
                    .map_err(|_| format!("bad hours in {line:?}"))?;
                self.app
                    .advance_clock(Duration::from_secs_f64(hours * 3600.0));
            }
            ["@tbank", "advance-hours", hours] => {
                let hours: u64 = hours
                    .parse()
                    .map_err(|_| format!("bad hours in {line:?}"))?;
                self.app
                    .tbank
                    .advance_clock(Duration::from_secs(hours * 3600));
            }
            ["@kie", fault, n] => {
                let n: u32 = n.parse().map_err(|_| format!("bad count in {line:?}"))?;
                let fault = match *fault {
                    "fail-transient" => TaskFault::FailTransient,
                    "fail-moderation" => TaskFault::FailModeration,
                    "never-finish" => TaskFault::NeverFinish,
                    other => return Err(format!("unknown Kie fault {other}")),
                };
                self.app.kie.script(Fault::Task(fault), n);
            }
            _ => return Err(format!("unknown directive {line:?}")),
        }
        Ok(())
    }
}

/// `@config …`: a change of the bot's configuration. Before the first action
/// it applies from the start; later, from the next `@restart`.
fn apply_config(config: &mut pinglass::config::Config, words: &[&str]) -> Result<(), String> {
    match words {
        ["preview", switch @ ("on" | "off")] => config.preview.enabled = *switch == "on",
        ["kie-max-attempts", n] => {
            config.kie.max_attempts = n.parse().map_err(|_| format!("bad count {n}"))?;
        }
        ["experiments", "shipped"] => {
            config.experiments = pinglass::config::Config::from_toml_str(
                pinglass::config::Config::shipped_toml(),
                Default::default(),
            )
            .map_err(|e| e.to_string())?
            .experiments;
        }
        ["weights", experiment, weights @ ..] => {
            let experiment = config
                .experiments
                .iter_mut()
                .find(|e| e.name == *experiment)
                .ok_or_else(|| format!("no experiment {experiment}"))?;
            if weights.len() != experiment.variants.len() {
                return Err(format!("{} weights expected", experiment.variants.len()));
            }
            for (variant, weight) in experiment.variants.iter_mut().zip(weights.iter()) {
                variant.weight = weight.parse().map_err(|_| format!("bad weight {weight}"))?;
            }
        }
        _ => return Err(format!("unknown @config {}", words.join(" "))),
    }
    Ok(())
}

/// Replays one transcript; returns the actual transcript text.
async fn replay(path: &Path, record: bool) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    // `@config` lines before the first action shape the bot from its start.
    let mut early = Vec::new();
    for line in text.lines() {
        if line.starts_with("you: ") {
            break;
        }
        if let Some(rest) = line.strip_prefix("@config ") {
            early.push(rest.to_owned());
        }
    }
    let mut problem = None;
    let app = TestApp::start_with(|config| {
        for line in &early {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Err(e) = apply_config(config, &words) {
                problem = Some(e);
            }
        }
    })
    .await;
    if let Some(problem) = problem {
        app.shutdown().await;
        return Err(problem);
    }
    let mut runner = Runner {
        app,
        user: UserSpec::new(1001, "Анна").with_language("ru"),
        record,
        seen: Default::default(),
        switched: false,
        codes: Default::default(),
        tokens: Default::default(),
        photos: Photos::new(),
    };
    let mut actual = Vec::new();
    let mut acted = false;
    for item in parse(&text) {
        match item {
            Item::Verbatim(line) => {
                if let Some(rest) = line.strip_prefix("@config ") {
                    if acted {
                        let words: Vec<&str> = rest.split_whitespace().collect();
                        apply_config(&mut runner.app.config, &words)?;
                    }
                } else if line.starts_with('@') {
                    runner.directive(&line).await?;
                }
                actual.push(line);
            }
            Item::Action { line, expected } => {
                acted = true;
                let before = if std::mem::take(&mut runner.switched) {
                    runner
                        .seen
                        .get(&runner.user.id)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    runner.chat()
                };
                let queries = runner.act(&line["you: ".len()..]).await?;
                let output = runner.observe(&before, &queries, &expected).await;
                actual.push(line);
                actual.extend(output);
            }
        }
    }
    runner.app.shutdown().await;
    let mut out = actual.join("\n");
    out.push('\n');
    Ok(out)
}

fn dialogue_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chat"))
        .filter(|p| features_present(&std::fs::read_to_string(p).unwrap()))
        .collect();
    files.sort();
    files
}

/// `@needs heic` / `@needs no-heic`: a conversation that only happens in a
/// build with (or without) a cargo feature; the other build skips the file.
fn features_present(text: &str) -> bool {
    text.lines()
        .filter_map(|l| l.strip_prefix("@needs "))
        .all(|need| match need.trim() {
            "heic" => cfg!(feature = "heic"),
            "no-heic" => !cfg!(feature = "heic"),
            other => panic!("unknown feature in `@needs {other}`"),
        })
}

fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(4)
        .header("expected", "actual")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_dialogue_replays() {
    // PINGLASS_RECORD=1 re-records every file; PINGLASS_RECORD=name only the
    // files whose name contains it.
    let record_filter = std::env::var("PINGLASS_RECORD")
        .ok()
        .filter(|v| !v.is_empty());
    let files = dialogue_files();
    assert!(files.len() >= 2, "no transcripts found in dialogues/");
    // PINGLASS_DIALOGUES=name replays only the files whose name contains it
    // (a quick loop while working on one conversation; CI replays them all).
    let only = std::env::var("PINGLASS_DIALOGUES")
        .ok()
        .filter(|v| !v.is_empty());
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| {
            only.as_deref().is_none_or(|only| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(only))
            })
        })
        .collect();
    // A few at a time: each one runs a whole application and its stand-ins.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
    let runs = files.iter().map(|path| {
        let path = path.clone();
        let slots = slots.clone();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let record = record_filter
            .as_deref()
            .is_some_and(|f| f == "1" || name.contains(f));
        tokio::spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            let result = replay(&path, record).await;
            (path, record, result)
        })
    });
    let mut failures = Vec::new();
    for run in futures::future::join_all(runs).await {
        let (path, record, result) = run.unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let expected = std::fs::read_to_string(&path).unwrap();
        match result {
            Err(problem) => failures.push(format!("{name}: {problem}")),
            Ok(actual) if record => {
                if actual != expected {
                    std::fs::write(&path, &actual).unwrap();
                    eprintln!("re-recorded {name}");
                }
            }
            Ok(actual) if actual != expected => {
                failures.push(format!("{name} differs:\n{}", diff(&expected, &actual)));
            }
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
