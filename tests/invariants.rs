//! What must hold after any run, however the services misbehaved and however
//! often the bot was killed: every paid user has exactly their portraits,
//! each once; every payment was confirmed once, by one job; refunds exactly
//! where portraits could not be made; nothing left in flight. Used by the
//! fault tests (`faults.rs`, in-process) and the soak (`soak.rs`, the real
//! binary, SIGKILLed).

use pinglass::db::Db;
pub use pinglass::loadtest::invariants::{Delivered, Outcome};
use pinglass::loadtest::invariants::{Expect, Facts};
use pinglass::tbank::standin::Handle as TbankHandle;
use pinglass::telegram::standin::{ChatEntry, Handle as TelegramHandle, UserSpec};

/// How long a simulated person waits for the bot to finish a round.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(45);

fn bot_count(history: &[ChatEntry], pick: impl Fn(&str) -> bool) -> usize {
    history
        .iter()
        .filter(|e| e.is_from_bot() && !e.deleted && e.text_or_caption().is_some_and(&pick))
        .count()
}

/// Checks every invariant (`pinglass::loadtest::invariants`, the load
/// test's); `kills` is how many SIGKILLs the run had (shown; each may
/// re-send the one message in flight, an album at most). Panics naming
/// every broken one.
pub async fn check(
    db: &Db,
    telegram: &TelegramHandle,
    tbank: &TbankHandle,
    users: &[(UserSpec, Outcome)],
    kills: usize,
) -> Delivered {
    let users: Vec<(i64, Outcome)> = users.iter().map(|(u, o)| (u.id, *o)).collect();
    let facts = Facts::gather(db, telegram, tbank, &users).await.unwrap();
    let expect = Expect {
        faults: true,
        one_payment_each: true,
    };
    let (invariants, delivered) = pinglass::loadtest::invariants::check(&facts, &users, expect);
    let broken: Vec<String> = invariants
        .iter()
        .filter(|i| !i.ok)
        .map(|i| format!("{}: {}", i.name, i.detail))
        .collect();
    assert!(
        broken.is_empty(),
        "invariants broken ({kills} kills, {delivered:?}):\n{}",
        broken.join("\n")
    );
    delivered
}

/// The tiers the simulated users pick, in turn.
pub const TIERS: [(&str, usize); 2] = [
    ("Starter · 7 портретов · 499 ₽", 7),
    ("Standard · 15 портретов · 999 ₽", 15),
];

/// `count` Russian-speaking users from id `first_id`; every `decline_every`-th
/// declines at the bank and every `abandon_every`-th never pays (0: none).
pub fn users(
    first_id: i64,
    count: usize,
    decline_every: usize,
    abandon_every: usize,
) -> Vec<(UserSpec, Outcome)> {
    (0..count)
        .map(|i| {
            let n = i + 1;
            let outcome = if decline_every > 0 && n % decline_every == 0 {
                Outcome::Declined
            } else if abandon_every > 0 && n % abandon_every == 0 {
                Outcome::Abandoned
            } else {
                Outcome::Paid
            };
            let id = first_id + i as i64;
            (
                UserSpec::new(id, format!("Пользователь {n}")).with_language("ru"),
                outcome,
            )
        })
        .collect()
}

/// Every user, concurrently, from /start to the payment link (five photos,
/// a package, the receipt email); then each pays, declines or walks away.
pub async fn buy_all(
    telegram: &TelegramHandle,
    tbank: &TbankHandle,
    users: &[(UserSpec, Outcome)],
) {
    let mut running = tokio::task::JoinSet::new();
    for (i, (user, _)) in users.iter().enumerate() {
        let (telegram, user) = (telegram.clone(), user.clone());
        let tier = TIERS[i % TIERS.len()].0;
        running.spawn(async move {
            let prefix = format!("u{}", user.id);
            let payment = up_to_payment_link(&telegram, &user, &prefix, tier).await;
            (user.id, payment)
        });
    }
    while let Some(joined) = running.join_next().await {
        let (id, payment) = joined.expect("a user's funnel");
        let outcome = users.iter().find(|(u, _)| u.id == id).unwrap().1;
        match outcome {
            Outcome::Paid => {
                tbank.pay(&payment).unwrap();
            }
            Outcome::Declined => {
                tbank.decline(&payment).unwrap();
            }
            Outcome::Abandoned => {}
        }
    }
}

/// Whether every paid job is finished and delivered and nothing is in
/// flight (declined payments settled too).
pub fn settled(db: &Db, users: &[(UserSpec, Outcome)]) -> bool {
    let count = |outcome| users.iter().filter(|(_, o)| *o == outcome).count() as i64;
    let (paid, declined) = (count(Outcome::Paid), count(Outcome::Declined));
    db.run_blocking(|c| pinglass::db::loadtest::progress(c))
        .is_ok_and(|p| {
            p.finished_paid_jobs == paid && p.rejected_payments == declined && p.in_flight == 0
        })
}

/// Waits until [`settled`], or panics after `timeout`. Before counting, the
/// caller makes sure nothing more can come: in-process it runs the side
/// task to idle (`Harness::settle`); the real binary is killed and its
/// frozen database asked [`settled`] again.
pub async fn wait_settled(db: &Db, users: &[(UserSpec, Outcome)], timeout: std::time::Duration) {
    let started = std::time::Instant::now();
    while !settled(db, users) {
        assert!(
            started.elapsed() < timeout,
            "the run did not settle within {timeout:?}"
        );
        // Polls the database; returns as soon as the run has settled.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// What a simulated user does in one step.
enum Act<'a> {
    Text(&'a str),
    /// Five new photos as an album.
    Album(&'a str),
    /// Presses the newest button with this label (one of several labels).
    Press(&'a [&'a str]),
}

async fn perform(telegram: &TelegramHandle, user: &UserSpec, act: &Act<'_>, round: usize) {
    use pinglass::harness::chat::{last_bot_with_button, photo_jpeg};
    let sandbox = telegram.sandbox();
    match act {
        Act::Text(text) => {
            sandbox.send_text(user, text).unwrap();
        }
        Act::Album(prefix) => {
            // Drawn off the runtime: the bot shares it in these tests, and
            // seconds of drawing there would starve its sends into timeouts.
            let prefix = prefix.to_string();
            let photos = tokio::task::spawn_blocking(move || {
                (1..=5)
                    .map(|i| photo_jpeg(&format!("{prefix}-{round}-{i}"), 800, 1000))
                    .collect()
            })
            .await
            .unwrap();
            sandbox.send_album(user, photos, None).await.unwrap();
        }
        Act::Press(labels) => {
            let entries = sandbox.history(user.id);
            if let Some((label, message)) = labels
                .iter()
                .find_map(|l| last_bot_with_button(&entries, l).map(|id| (*l, id)))
            {
                let _ = sandbox.press_button_with_text(user, message, label);
            }
        }
    }
}

/// One step of a user: do `act`, and wait for `done`. A user whose answer
/// Telegram lost (the bot then asks to repeat, or nothing comes) does it
/// again, as a person would; a user the bot asks to press /start (its
/// state of the chat was lost) starts over: `false`.
async fn step(
    telegram: &TelegramHandle,
    user: &UserSpec,
    what: &str,
    act: Act<'_>,
    done: impl Fn(&[ChatEntry]) -> bool,
) -> bool {
    let sandbox = telegram.sandbox();
    let repeats =
        |entries: &[ChatEntry]| bot_count(entries, |t| t.starts_with("Telegram не донёс"));
    let restarts = |entries: &[ChatEntry]| bot_count(entries, |t| t.contains("Нажмите /start"));
    for round in 1..=5 {
        let history = sandbox.history(user.id);
        let (asked_before, restarts_before) = (repeats(&history), restarts(&history));
        perform(telegram, user, &act, round).await;
        let outcome = sandbox
            .wait_for(
                user.id,
                |e| done(e) || repeats(e) > asked_before || restarts(e) > restarts_before,
                std::time::Duration::from_secs(15),
            )
            .await;
        let history = sandbox.history(user.id);
        if outcome.is_ok() && done(&history) {
            return true;
        }
        if restarts(&history) > restarts_before {
            return false;
        }
        // A person looks at the chat before trying again: whatever the bot
        // still works through of this round (an album's photos, one after
        // another, a lost answer's send timeout each) is answered first.
        // Without this, a slow round piles the next one on top. The probe
        // itself may meet a fault (or a kill): then the next round goes on.
        let _ = pinglass::harness::chat::handled(telegram, user, PATIENCE).await;
        let history = sandbox.history(user.id);
        if done(&history) {
            return true;
        }
        if restarts(&history) > restarts_before {
            return false;
        }
    }
    let chat: Vec<String> = sandbox
        .history(user.id)
        .iter()
        .map(|e| format!("{:?}", e.text_or_caption()))
        .collect();
    panic!(
        "user {} never saw {what}; chat:\n{}",
        user.id,
        chat.join("\n")
    );
}

/// From /start to the payment link (five photos, the tier's button, an
/// email), repeating a step whose answer Telegram lost, starting over when
/// the bot asks to; the bank's payment id.
pub async fn up_to_payment_link(
    telegram: &TelegramHandle,
    user: &UserSpec,
    prefix: &str,
    tier: &str,
) -> String {
    use crate::support::bot_text_contains;
    use pinglass::harness::chat::{CTA_LABELS, last_bot_with_button};
    let email = format!("{prefix}@example.ru");
    let sandbox = telegram.sandbox();
    for _start in 0..3 {
        // Each round looks only at what came after its /start.
        let seen = sandbox.history(user.id).len();
        let after = move |e: &[ChatEntry]| e.get(seen..).unwrap_or_default().to_vec();
        let through = step(telegram, user, "the onboarding", Act::Text("/start"), |e| {
            bot_text_contains(&after(e), "Пакеты")
        })
        .await
            && step(
                telegram,
                user,
                "the Generate button",
                Act::Album(prefix),
                |e| {
                    CTA_LABELS
                        .iter()
                        .any(|l| last_bot_with_button(&after(e), l).is_some())
                },
            )
            .await
            && step(
                telegram,
                user,
                "the packages",
                Act::Press(&CTA_LABELS),
                |e| last_bot_with_button(&after(e), tier).is_some(),
            )
            .await
            && step(
                telegram,
                user,
                "the receipt question",
                Act::Press(&[tier]),
                |e| {
                    bot_text_contains(&after(e), "чек")
                        || last_bot_with_button(e, "💳 Оплатить").is_some()
                },
            )
            .await
            && (last_bot_with_button(&sandbox.history(user.id), "💳 Оплатить").is_some()
                || step(telegram, user, "the payment link", Act::Text(&email), |e| {
                    last_bot_with_button(e, "💳 Оплатить").is_some()
                })
                .await);
        if through {
            break;
        }
    }
    let url = telegram
        .sandbox()
        .history(user.id)
        .iter()
        .rev()
        .find_map(|e| {
            e.inline_buttons()
                .find_map(|b| b.url.clone().filter(|u| u.contains("/checkout/")))
        })
        .expect("a checkout link");
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}
