//! What must hold after any run, however the services misbehaved and however
//! often the bot was killed: every paid user has exactly their portraits,
//! each once; every payment was confirmed once, by one job; refunds exactly
//! where portraits could not be made; nothing left in flight. Used by the
//! fault tests (`faults.rs`, in-process) and the soak (`soak.rs`, the real
//! binary, SIGKILLed).

use pinglass::db::Db;
use pinglass::tbank::PaymentStatus as BankStatus;
use pinglass::tbank::standin::StandinHandle as TbankHandle;
use pinglass::telegram::standin::{ChatEntry, StandinHandle as TelegramHandle, UserSpec};

use crate::support::portraits_received;

/// How a simulated user's purchase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Paid,
    Declined,
    /// Got the payment link and never paid.
    Abandoned,
}

/// What the run delivered.
#[derive(Debug, Default)]
pub struct Delivered {
    pub paid: usize,
    pub portraits: usize,
    /// Portraits that could not be made (and were refunded).
    pub failed: usize,
    pub refunds: usize,
    /// Messages shown twice through the window ARCHITECTURE.md names (a
    /// SIGKILL between Telegram's acceptance and the bot's record, or a send
    /// Telegram took but did not answer).
    pub resent: usize,
    /// Sends whose outcome the bot could not know (`queue::uncertain_sends`):
    /// the most messages that may show twice.
    pub uncertain: usize,
}

/// id, order_id, status, amount, portraits, refunded, bank_payment_id.
type PaymentRow = (i64, String, String, i64, i64, i64, Option<String>);

fn bot_count(history: &[ChatEntry], pick: impl Fn(&str) -> bool) -> usize {
    history
        .iter()
        .filter(|e| e.is_from_bot() && !e.deleted && e.text_or_caption().is_some_and(&pick))
        .count()
}

/// Checks every invariant; `kills` is how many SIGKILLs the run had (shown;
/// may re-send the one message in flight, an album at most). Panics naming
/// the first broken one.
pub fn check(
    db: &Db,
    telegram: &TelegramHandle,
    tbank: &TbankHandle,
    users: &[(UserSpec, Outcome)],
    kills: usize,
) -> Delivered {
    let mut delivered = Delivered::default();
    let mut resent_messages = 0usize;
    let mut doubled = Vec::new();
    for (user, outcome) in users {
        let uid = user.id;
        let payments: Vec<PaymentRow> = db
            .run_blocking(move |c| {
                let mut stmt = c.prepare(
                    "SELECT id, order_id, status, amount_kopecks, portraits, refunded_kopecks, bank_payment_id
                     FROM payments WHERE user_id = ?1",
                )?;
                stmt.query_map([uid], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
                })?
                .collect()
            })
            .unwrap();
        assert_eq!(payments.len(), 1, "user {uid}: one payment: {payments:?}");
        let (payment_id, order_id, status, amount, portraits, refunded, bank_id) =
            payments[0].clone();
        let at_bank = tbank.payments_of_order(&order_id);
        let charged = at_bank
            .iter()
            .filter(|p| {
                matches!(
                    p.status,
                    BankStatus::Confirmed | BankStatus::PartialRefunded | BankStatus::Refunded
                )
            })
            .count();
        let history = telegram.sandbox().history(uid);
        let received = portraits_received(&history);
        let jobs: Vec<(i64, i64, i64, String)> = db
            .run_blocking(move |c| {
                let mut stmt = c.prepare(
                    "SELECT id, completed, failed, status FROM generation_jobs WHERE payment_id = ?1",
                )?;
                stmt.query_map([payment_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect()
            })
            .unwrap();
        let confirms: i64 = db
            .run_blocking(move |c| {
                c.query_row(
                    // Transitions into confirmed (a later bank_status change
                    // while confirmed is its own history row).
                    "SELECT COUNT(*) FROM (
                         SELECT status, LAG(status) OVER (ORDER BY id) AS previous
                         FROM payment_status_history WHERE payment_id = ?1)
                     WHERE status = 'confirmed' AND previous IS NOT 'confirmed'",
                    [payment_id],
                    |r| r.get(0),
                )
            })
            .unwrap();
        match outcome {
            Outcome::Declined | Outcome::Abandoned => {
                assert_eq!(
                    charged, 0,
                    "user {uid} ({outcome:?}) was charged: {at_bank:?}"
                );
                assert!(jobs.is_empty(), "user {uid} ({outcome:?}) has a job");
                assert!(
                    received.is_empty(),
                    "user {uid} ({outcome:?}) got portraits"
                );
                let expected = if *outcome == Outcome::Declined {
                    "rejected"
                } else {
                    "open"
                };
                assert_eq!(status, expected, "user {uid} ({outcome:?}): payment status");
                continue;
            }
            Outcome::Paid => {}
        }
        delivered.paid += 1;
        assert_eq!(
            charged, 1,
            "user {uid}: charged exactly once at the bank: {at_bank:?}"
        );
        assert!(bank_id.is_some(), "user {uid}: the payment has its bank id");
        assert_eq!(confirms, 1, "user {uid}: the payment was confirmed once");
        assert_eq!(jobs.len(), 1, "user {uid}: one job for the payment");
        let (job_id, completed, failed, job_status) = jobs[0].clone();
        let made: i64 = db
            .run_blocking(move |c| {
                c.query_row(
                    "SELECT COUNT(*) FROM portraits p JOIN generation_tasks t ON t.id = p.task_id
                     WHERE t.job_id = ?1",
                    [job_id],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(
            completed + failed,
            portraits,
            "user {uid}: every portrait made or given up (job {job_status})"
        );
        assert_eq!(made, completed, "user {uid}: a stored portrait per success");
        let mut unique = received.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len() as i64,
            completed,
            "user {uid}: received {} different portraits, {completed} were made",
            unique.len()
        );
        let doubled_portraits = received.len() - unique.len();
        let actions = bot_count(&history, |t| t.starts_with("Что дальше?"));
        // The side task's confirmation (`payment-confirmed`), not the
        // handler's "payment received, portraits on the way" answer to a
        // message the user repeated after paying (`payment-status-paid`).
        let confirmations = bot_count(&history, |t| t.starts_with("Оплата получена, спасибо"));
        assert!(
            actions >= 1 && confirmations >= 1,
            "user {uid}: the confirmation ({confirmations}) and the set's actions ({actions}) arrived"
        );
        // A re-sent album is up to 10 photos but one message.
        let resent_here = doubled_portraits.div_ceil(10) + (actions - 1) + (confirmations - 1);
        let uncertain_here = db
            .run_blocking(move |c| pinglass::db::queue::uncertain_sends(c, uid))
            .unwrap() as usize;
        if resent_here > uncertain_here {
            doubled.push(format!(
                "user {uid}: {doubled_portraits} portrait(s) twice, {actions} \"Что дальше?\", \
                 {confirmations} \"Оплата получена\"; {uncertain_here} uncertain send(s)"
            ));
        }
        resent_messages += resent_here;
        delivered.uncertain += uncertain_here;
        delivered.resent += doubled_portraits + (actions - 1) + (confirmations - 1);
        delivered.portraits += unique.len();
        delivered.failed += failed as usize;

        let cancellations = at_bank
            .iter()
            .flat_map(|p| p.cancellations.iter().copied())
            .collect::<Vec<_>>();
        let due: Vec<i64> = if failed == 0 {
            vec![]
        } else {
            vec![amount * failed / portraits]
        };
        assert_eq!(
            cancellations, due,
            "user {uid}: the bank returned exactly the share of the {failed} failed portrait(s), once"
        );
        // Refunds: exactly the share of the portraits that could not be made.
        let refunds: Vec<(i64, String)> = db
            .run_blocking(move |c| {
                let mut stmt =
                    c.prepare("SELECT amount_kopecks, status FROM refunds WHERE payment_id = ?1")?;
                stmt.query_map([payment_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .unwrap();
        if failed == 0 {
            assert!(
                refunds.is_empty(),
                "user {uid}: a refund nobody was due: {refunds:?}"
            );
            assert_eq!(refunded, 0);
            assert_eq!(status, "confirmed", "user {uid}: payment status");
        } else {
            let share = amount * failed / portraits;
            assert_eq!(
                refunds,
                vec![(share, "done".to_owned())],
                "user {uid}: one refund of {failed}/{portraits} of {amount}"
            );
            assert_eq!(refunded, share, "user {uid}: refunded kopecks");
            delivered.refunds += 1;
        }
    }
    // A message may show twice only where its send was uncertain: Telegram
    // did not answer, or the bot was killed mid-send (each kill leaves at
    // most its claimed rows so).
    assert!(
        doubled.is_empty(),
        "a real double-send ({resent_messages} message(s) twice, {} uncertain send(s), {kills} kills): {doubled:#?}",
        delivered.uncertain
    );

    let in_flight: i64 = db
        .run_blocking(|c| pinglass::db::ops::in_flight(c))
        .unwrap();
    assert_eq!(in_flight, 0, "nothing left in flight");
    // (Admin alerts are not counted: the tests' admin never wrote to the bot.)
    let user_ids: Vec<i64> = users.iter().map(|(u, _)| u.id).collect();
    let failed_messages: Vec<(String, Option<String>)> = db
        .run_blocking(|c| {
            let mut stmt = c.prepare(
                "SELECT chat_id, dedup_key, last_error FROM message_queue WHERE status = 'failed'",
            )?;
            stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<(i64, String, Option<String>)>, _>>()
        })
        .unwrap()
        .into_iter()
        .filter(|(chat, ..)| user_ids.contains(chat))
        .map(|(_, key, error)| (key, error))
        .collect();
    assert!(
        failed_messages.is_empty(),
        "queued messages given up: {failed_messages:?}"
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
    let paid = users.iter().filter(|(_, o)| *o == Outcome::Paid).count() as i64;
    let declined = users
        .iter()
        .filter(|(_, o)| *o == Outcome::Declined)
        .count() as i64;
    let counts: Result<(i64, i64, i64), _> = db.run_blocking(|c| {
        c.query_row(
            "SELECT (SELECT COUNT(*) FROM generation_jobs WHERE kind = 'paid' AND status IN ('done', 'partial', 'failed')),
                    (SELECT COUNT(*) FROM payments WHERE status = 'rejected'),
                    (SELECT COUNT(*) FROM generation_tasks WHERE state NOT IN ('succeeded', 'failed'))
                  + (SELECT COUNT(*) FROM generation_jobs WHERE status IN ('running', 'delivering'))
                  + (SELECT COUNT(*) FROM message_queue WHERE status IN ('pending', 'sending'))
                  + (SELECT COUNT(*) FROM refunds WHERE status = 'pending')
                  + (SELECT COUNT(*) FROM payments WHERE status = 'new')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    counts.is_ok_and(|(done, rejected, busy)| done == paid && rejected == declined && busy == 0)
}

/// Waits until [`settled`], or panics after `timeout`.
pub async fn wait_settled(db: &Db, users: &[(UserSpec, Outcome)], timeout: std::time::Duration) {
    let started = std::time::Instant::now();
    while !settled(db, users) {
        assert!(
            started.elapsed() < timeout,
            "the run did not settle within {timeout:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Give a wrongly repeated send the chance to show up before counting.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
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
