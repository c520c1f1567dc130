//! One simulated user, played through the Telegram stand-in's user side.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::tbank::standin::Handle as TbankHandle;
use crate::telegram::standin::{
    ChatEntry, Handle as TelegramHandle, UserSpec, bot_text_contains, last_bot_with_button,
    portraits_received,
};

/// The labels of the button under the upload counter: the default and
/// the other variant of bot.toml's A/B test.
pub const CTA_LABELS: [&str; 2] = ["✨ Создать портреты", "👀 Посмотреть, что получится"];

/// The bank's payment id in the newest checkout link the bot showed (the
/// last segment of the "Pay" button's URL), if it showed one.
pub(crate) fn checkout_payment_id(entries: &[ChatEntry]) -> Option<String> {
    let url = entries
        .iter()
        .rev()
        .flat_map(ChatEntry::inline_buttons)
        .find_map(|b| b.url.as_deref().filter(|u| u.contains("/checkout/")))?;
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .map(str::to_owned)
}

/// How a user's story ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Fate {
    /// Pays and waits for the portraits.
    Pay,
    /// The bank declines the card.
    Decline,
    /// Leaves at the payment link.
    Abandon,
}

/// What a user will do, drawn up front from the seed.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) user: UserSpec,
    /// Delay from the start of the run.
    pub(crate) arrives_after: Duration,
    /// Photo batches: 1 = a single photo, 2..=10 = an album.
    pub(crate) batches: Vec<usize>,
    /// Pauses between batches.
    pub(crate) pauses: Vec<Duration>,
    /// Which package button (index among them, modulo their number).
    pub(crate) package: usize,
    pub(crate) fate: Fate,
}

impl Plan {
    pub(crate) fn photos(&self) -> usize {
        self.batches.iter().sum()
    }
}

/// What happened to a user.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub(crate) user_id: i64,
    /// Updates the user caused (messages, photos, button presses).
    pub(crate) updates: u64,
    pub(crate) photos: u64,
    /// The portraits of the package chosen (0 before a choice).
    pub(crate) portraits_expected: usize,
    /// The bank's payment id, once the link was shown.
    pub(crate) payment: Option<String>,
    pub(crate) fate: Option<Fate>,
    /// When the user saw the last portrait and the set's actions.
    pub(crate) delivered: bool,
    pub(crate) error: Option<String>,
}

pub(crate) struct World {
    pub(crate) telegram: TelegramHandle,
    pub(crate) tbank: TbankHandle,
    /// Distinct photos to pick from (a user sends distinct ones).
    pub(crate) photos: Arc<Vec<Vec<u8>>>,
    /// How long one step may wait for the bot.
    pub(crate) step_timeout: Duration,
    /// How long a paying user waits for the portraits.
    pub(crate) delivery_timeout: Duration,
    /// When the bot is being killed, an update in flight can be lost (it
    /// was fetched, the process died before answering): a user who got no
    /// answer within `step_timeout` does it again, as a person would, up
    /// to this many times in all.
    pub(crate) attempts: u32,
    /// Faults are injected: a set may end with fewer portraits than paid
    /// for (the rest refunded), so the user waits for the set's end.
    pub(crate) partial_allowed: bool,
}

/// Does `action`, then waits for `check`; does it again when no answer came.
async fn act(
    world: &World,
    user: &UserSpec,
    what: &str,
    mut action: impl FnMut() -> anyhow::Result<()>,
    check: impl Fn(&[ChatEntry]) -> bool + Copy,
) -> anyhow::Result<Vec<ChatEntry>> {
    let mut last_error = None;
    for _ in 0..world.attempts.max(1) {
        action()?;
        match wait(world, user, what, check, world.step_timeout).await {
            Ok(entries) => return Ok(entries),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no attempt")))
}

async fn wait(
    world: &World,
    user: &UserSpec,
    what: &str,
    check: impl Fn(&[ChatEntry]) -> bool,
    timeout: Duration,
) -> anyhow::Result<Vec<ChatEntry>> {
    world
        .telegram
        .sandbox()
        .wait_for(user.id, check, timeout)
        .await
        .map_err(|_| anyhow::anyhow!("user {} never saw {what} within {timeout:?}", user.id))
}

fn photo_batches_bytes(world: &World, plan: &Plan) -> Vec<Vec<Vec<u8>>> {
    let pool = &world.photos;
    let mut index = (plan.user.id as usize).wrapping_mul(7);
    plan.batches
        .iter()
        .map(|&n| {
            (0..n)
                .map(|_| {
                    index += 1;
                    pool[index % pool.len()].clone()
                })
                .collect()
        })
        .collect()
}

async fn send_photos(world: &World, plan: &Plan, outcome: &mut Outcome) -> anyhow::Result<()> {
    let sandbox = world.telegram.sandbox();
    for (i, batch) in photo_batches_bytes(world, plan).into_iter().enumerate() {
        let n = batch.len() as u64;
        if batch.len() == 1 {
            let bytes = batch.into_iter().next().unwrap_or_default();
            sandbox.send_photo(&plan.user, bytes, None).await?;
        } else {
            sandbox.send_album(&plan.user, batch, None).await?;
        }
        outcome.updates += n;
        outcome.photos += n;
        if let Some(pause) = plan.pauses.get(i) {
            tokio::time::sleep(*pause).await;
        }
    }
    Ok(())
}

/// The front of the funnel only: /start and the photos, sent without
/// waiting for answers (the dispatcher's throughput).
pub(crate) async fn front(world: Arc<World>, plan: Plan) -> Outcome {
    tokio::time::sleep(plan.arrives_after).await;
    let mut outcome = Outcome {
        user_id: plan.user.id,
        ..Outcome::default()
    };
    let result: anyhow::Result<()> = async {
        world.telegram.sandbox().send_text(&plan.user, "/start")?;
        outcome.updates += 1;
        send_photos(&world, &plan, &mut outcome).await
    }
    .await;
    outcome.error = result.err().map(|e| format!("{e:#}"));
    outcome
}

/// The whole funnel: /start, photos, Generate, a package, the receipt
/// email, the payment link, then pay (and wait for every portrait), be
/// declined, or leave.
pub(crate) async fn funnel(world: Arc<World>, plan: Plan) -> Outcome {
    tokio::time::sleep(plan.arrives_after).await;
    let mut outcome = Outcome {
        user_id: plan.user.id,
        ..Outcome::default()
    };
    let result = funnel_steps(&world, &plan, &mut outcome).await;
    outcome.error = result.err().map(|e| format!("{e:#}"));
    outcome
}

async fn funnel_steps(world: &World, plan: &Plan, outcome: &mut Outcome) -> anyhow::Result<()> {
    let user = &plan.user;
    let sandbox = world.telegram.sandbox();
    let mut updates = 0u64;
    act(
        world,
        user,
        "the onboarding",
        || {
            updates += 1;
            Ok(sandbox.send_text(user, "/start").map(drop)?)
        },
        |e| bot_text_contains(e, "Пакеты"),
    )
    .await?;
    let n = plan.photos();
    let counter = format!("Принято: {n} фото");
    let has_counter = |e: &[ChatEntry]| {
        bot_text_contains(e, &counter)
            && CTA_LABELS
                .iter()
                .any(|l| last_bot_with_button(e, l).is_some())
    };
    let mut entries = Vec::new();
    for attempt in 0..world.attempts.max(1) {
        // Again after a lost update: the photos already taken are refused
        // as duplicates, the missing ones taken.
        send_photos(world, plan, outcome).await?;
        let what = format!("the counter at {n} with the Generate button");
        match wait(world, user, &what, has_counter, world.step_timeout).await {
            Ok(found) => {
                entries = found;
                break;
            }
            Err(error) if attempt + 1 >= world.attempts.max(1) => return Err(error),
            Err(_) => {}
        }
    }
    let (label, message) = CTA_LABELS
        .iter()
        .find_map(|l| last_bot_with_button(&entries, l).map(|id| (*l, id)))
        .context("no Generate button")?;
    let is_package = |text: &str| text.contains('₽') && text.contains("портрет");
    let entries = act(
        world,
        user,
        "the packages",
        || {
            updates += 1;
            Ok(sandbox
                .press_button_with_text(user, message, label)
                .map(drop)?)
        },
        |e| {
            e.iter()
                .any(|m| m.is_from_bot() && m.inline_buttons().any(|b| is_package(&b.text)))
        },
    )
    .await?;
    let (message, labels) = entries
        .iter()
        .rev()
        .find_map(|m| {
            let labels: Vec<String> = m
                .inline_buttons()
                .filter(|b| m.is_from_bot() && is_package(&b.text))
                .map(|b| b.text.clone())
                .collect();
            (!labels.is_empty()).then_some((m.message_id, labels))
        })
        .context("no package buttons")?;
    let label = &labels[plan.package % labels.len()];
    // "Starter · 7 портретов · 499 ₽": the number before "портрет".
    outcome.portraits_expected = label
        .split(" портрет")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no portrait count in {label:?}"))?;
    act(
        world,
        user,
        "the receipt question",
        || {
            updates += 1;
            Ok(sandbox
                .press_button_with_text(user, message, label)
                .map(drop)?)
        },
        |e| bot_text_contains(e, "чек"),
    )
    .await?;
    let entries = act(
        world,
        user,
        "the payment link",
        || {
            updates += 1;
            Ok(sandbox
                .send_text(user, &format!("user{}@example.ru", user.id))
                .map(drop)?)
        },
        |e| last_bot_with_button(e, "💳 Оплатить").is_some(),
    )
    .await?;
    outcome.updates += updates;
    let payment = checkout_payment_id(&entries).context("no checkout link")?;
    outcome.payment = Some(payment.clone());
    outcome.fate = Some(plan.fate);
    match plan.fate {
        Fate::Abandon => Ok(()),
        Fate::Decline => {
            world.tbank.decline(&payment)?;
            wait(
                world,
                user,
                "the bank's refusal",
                |e| bot_text_contains(e, "Банк отклонил оплату"),
                world.step_timeout * world.attempts.max(1),
            )
            .await?;
            Ok(())
        }
        Fate::Pay => {
            world.tbank.pay(&payment)?;
            let expected = outcome.portraits_expected;
            wait(
                world,
                user,
                &format!("all {expected} portraits and the set's actions"),
                |e| {
                    (portraits_received(e).len() >= expected || world.partial_allowed)
                        && bot_text_contains(e, "Что дальше?")
                },
                world.delivery_timeout,
            )
            .await?;
            outcome.delivered = true;
            Ok(())
        }
    }
}
