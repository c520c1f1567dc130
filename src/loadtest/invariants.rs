//! The funnel invariants, once: what must hold after any run, however the
//! services misbehaved and however often the bot was killed. Every paid
//! user has exactly their portraits, each once (a repeat only where a send
//! was uncertain); every payment was confirmed once, by one job, and
//! charged once at the bank; refunds exactly for the portraits given up;
//! nothing left in flight, no message given up. Checked by `pinglass
//! loadtest` and by the fault tests and the soak (`tests/invariants.rs`).
//!
//! [`Facts::gather`] reads the database and the stand-ins; [`check`] judges
//! them, invariant by invariant, naming every user that breaks one.

use std::collections::HashMap;

use serde::Serialize;

use crate::db::loadtest::{FailedMessage, JobTiming, PaymentRow, RefundRow};
use crate::db::{self, Db};
use crate::tbank::PaymentStatus as BankStatus;
use crate::tbank::standin::{Handle as TbankHandle, StandinPayment};
use crate::telegram::standin::{ChatEntry, Handle as TelegramHandle, portraits_received};

/// How a simulated user's purchase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Paid,
    Declined,
    /// Got the payment link and never paid (or never got that far).
    Abandoned,
}

/// What the run is allowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect {
    /// Faults were played: a portrait may be given up (and refunded).
    pub faults: bool,
    /// Each user made exactly one payment (the load test's users may start
    /// over after a kill, and pay on a later one).
    pub one_payment_each: bool,
}

/// One invariant and whether it held.
#[derive(Debug, Clone, Serialize)]
pub struct Invariant {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// What the run delivered.
#[derive(Debug, Default, Clone, Serialize)]
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

/// What the database, the chats and the bank say after a run.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub(crate) payments: Vec<PaymentRow>,
    pub(crate) jobs: Vec<JobTiming>,
    pub(crate) refunds: Vec<RefundRow>,
    pub(crate) failed_messages: Vec<FailedMessage>,
    pub(crate) in_flight: i64,
    /// Per user: the chat, the uncertain sends of their queue rows.
    pub(crate) chats: HashMap<i64, Vec<ChatEntry>>,
    pub(crate) uncertain: HashMap<i64, i64>,
    /// Per order id: the bank's payments.
    pub(crate) bank: HashMap<String, Vec<StandinPayment>>,
}

impl Facts {
    /// Reads everything [`check`] needs about `users`.
    pub async fn gather(
        db: &Db,
        telegram: &TelegramHandle,
        tbank: &TbankHandle,
        users: &[(i64, Outcome)],
    ) -> anyhow::Result<Facts> {
        let ids: Vec<i64> = users.iter().map(|(id, _)| *id).collect();
        let (payments, jobs, refunds, failed_messages, in_flight, uncertain) = db
            .run(move |c| {
                let mut uncertain = HashMap::new();
                for id in ids {
                    uncertain.insert(id, db::queue::uncertain_sends(c, id)?);
                }
                Ok((
                    db::loadtest::payments(c)?,
                    db::loadtest::paid_jobs(c)?,
                    db::loadtest::refunds(c)?,
                    db::loadtest::failed_messages(c)?,
                    db::ops::in_flight(c)?,
                    uncertain,
                ))
            })
            .await?;
        let chats = users
            .iter()
            .map(|(id, _)| (*id, telegram.sandbox().history(*id)))
            .collect();
        let bank = payments
            .iter()
            .map(|p| (p.order_id.clone(), tbank.payments_of_order(&p.order_id)))
            .collect();
        Ok(Facts {
            payments,
            jobs,
            refunds,
            failed_messages,
            in_flight,
            chats,
            uncertain,
            bank,
        })
    }
}

/// Bot messages in a chat whose text starts with `prefix`.
fn bot_messages_starting(history: &[ChatEntry], prefix: &str) -> usize {
    history
        .iter()
        .filter(|e| {
            e.is_from_bot()
                && !e.deleted
                && e.text_or_caption().is_some_and(|t| t.starts_with(prefix))
        })
        .count()
}

/// The side task's confirmation (`payment-confirmed`), not the handler's
/// "payment received, portraits on the way" (`payment-status-paid`).
const CONFIRMATION: &str = "Оплата получена, спасибо";
/// The message after a delivered set (`delivery-actions`).
const ACTIONS: &str = "Что дальше?";

/// The problems of each invariant, named.
#[derive(Default)]
struct Problems {
    portraits: Vec<String>,
    payments: Vec<String>,
    refunds: Vec<String>,
    pending: Vec<String>,
}

/// Judges `facts` for `users`.
pub fn check(
    facts: &Facts,
    users: &[(i64, Outcome)],
    expect: Expect,
) -> (Vec<Invariant>, Delivered) {
    let mut problems = Problems::default();
    let mut delivered = Delivered::default();
    for p in &facts.payments {
        if p.confirmations > 1 || p.jobs > 1 {
            problems.payments.push(format!(
                "payment {} confirmed {} times, {} jobs",
                p.id, p.confirmations, p.jobs
            ));
        }
    }
    for &(uid, outcome) in users {
        check_user(facts, uid, outcome, expect, &mut problems, &mut delivered);
    }
    if facts.in_flight > 0 {
        problems.pending.push(format!(
            "{} rows in flight (`ops::in_flight`)",
            facts.in_flight
        ));
    }
    // (Admin alerts are not counted: the runs' admins never wrote to the bot.)
    let given_up: Vec<String> = facts
        .failed_messages
        .iter()
        .filter(|m| users.iter().any(|(id, _)| *id == m.chat_id))
        .map(|m| {
            format!(
                "queued message {} given up: {:?}",
                m.dedup_key, m.last_error
            )
        })
        .collect();
    problems.pending.extend(given_up);
    let invariants = vec![
        invariant(
            "every paying user received exactly their portraits (made, or refunded), once",
            problems.portraits,
        ),
        invariant(
            "no payment processed twice (one confirmation, one job, one charge)",
            problems.payments,
        ),
        invariant(
            "refunds exactly for the portraits given up",
            problems.refunds,
        ),
        invariant(
            "nothing left in flight, no message given up",
            problems.pending,
        ),
    ];
    (invariants, delivered)
}

pub(crate) fn invariant(name: &'static str, problems: Vec<String>) -> Invariant {
    Invariant {
        name,
        ok: problems.is_empty(),
        detail: if problems.is_empty() {
            "ok".into()
        } else {
            format!(
                "{} problem(s): {}",
                problems.len(),
                problems
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
    }
}

fn charged(bank: &[StandinPayment]) -> usize {
    bank.iter()
        .filter(|p| {
            matches!(
                p.status,
                BankStatus::Confirmed | BankStatus::PartialRefunded | BankStatus::Refunded
            )
        })
        .count()
}

fn check_user(
    facts: &Facts,
    uid: i64,
    outcome: Outcome,
    expect: Expect,
    problems: &mut Problems,
    delivered: &mut Delivered,
) {
    let mine: Vec<&PaymentRow> = facts.payments.iter().filter(|p| p.user_id == uid).collect();
    if expect.one_payment_each && mine.len() != 1 {
        problems.payments.push(format!(
            "user {uid} ({outcome:?}) has {} payments",
            mine.len()
        ));
    }
    let no_bank = Vec::new();
    let bank_of = |p: &PaymentRow| facts.bank.get(&p.order_id).unwrap_or(&no_bank);
    let history = facts.chats.get(&uid).map(Vec::as_slice).unwrap_or_default();
    let received = portraits_received(history);
    let confirmed: Vec<&&PaymentRow> = mine.iter().filter(|p| p.confirmations > 0).collect();
    if outcome != Outcome::Paid {
        if !confirmed.is_empty() {
            problems
                .payments
                .push(format!("user {uid} ({outcome:?}) has a confirmed payment"));
        }
        let charges: usize = mine.iter().map(|p| charged(bank_of(p))).sum();
        if charges > 0 {
            problems.payments.push(format!(
                "user {uid} ({outcome:?}) was charged {charges} time(s)"
            ));
        }
        if outcome == Outcome::Declined && !mine.iter().any(|p| p.status == "rejected") {
            problems
                .payments
                .push(format!("user {uid}'s declined payment is not rejected"));
        }
        if outcome == Outcome::Abandoned && mine.iter().any(|p| p.status != "open") {
            problems.payments.push(format!(
                "user {uid} abandoned a payment that is not open: {mine:?}"
            ));
        }
        if !received.is_empty() {
            problems.portraits.push(format!(
                "user {uid} ({outcome:?}) did not pay and received {} portraits",
                received.len()
            ));
        }
        return;
    }
    let [payment] = confirmed.as_slice() else {
        problems.payments.push(format!(
            "user {uid} paid and has {} confirmed payments",
            confirmed.len()
        ));
        return;
    };
    delivered.paid += 1;
    let bank = bank_of(payment);
    if charged(bank) != 1 || payment.bank_payment_id.is_none() {
        problems.payments.push(format!(
            "user {uid}: charged {} time(s) at the bank (bank id {:?}): {bank:?}",
            charged(bank),
            payment.bank_payment_id
        ));
    }
    let Some(job) = facts.jobs.iter().find(|j| j.payment_id == payment.id) else {
        problems
            .payments
            .push(format!("user {uid}: no job for payment {}", payment.id));
        return;
    };
    let (completed, failed) = (job.completed, job.failed);
    if completed + failed != payment.portraits || job.stored != completed {
        problems.portraits.push(format!(
            "user {uid}: {} portraits paid, {completed} made ({} stored), {failed} given up (job {})",
            payment.portraits, job.stored, job.status
        ));
    }
    if !expect.faults && failed > 0 {
        problems.portraits.push(format!(
            "user {uid}: {failed} portraits given up with no fault injected"
        ));
    }
    let mut unique = received.clone();
    unique.sort();
    unique.dedup();
    if unique.len() as i64 != completed {
        problems.portraits.push(format!(
            "user {uid}: received {} different portraits, {completed} were made",
            unique.len()
        ));
    }
    // A message may show twice only where its send was uncertain: Telegram
    // did not answer, or the bot was killed mid-send. A re-sent album is up
    // to 10 photos but one message.
    let doubled = received.len() - unique.len();
    let actions = bot_messages_starting(history, ACTIONS);
    let confirmations = bot_messages_starting(history, CONFIRMATION);
    if actions == 0 || confirmations == 0 {
        problems.portraits.push(format!(
            "user {uid}: the confirmation ({confirmations}) and the set's actions ({actions}) arrived"
        ));
    }
    let repeats = (actions.max(1) - 1) + (confirmations.max(1) - 1);
    let uncertain = facts.uncertain.get(&uid).copied().unwrap_or(0) as usize;
    if doubled.div_ceil(10) + repeats > uncertain {
        problems.portraits.push(format!(
            "user {uid}: a real double send: {doubled} portrait(s) twice, {actions} \"{ACTIONS}\", \
             {confirmations} \"{CONFIRMATION}\"; {uncertain} uncertain send(s)"
        ));
    }
    delivered.resent += doubled + repeats;
    delivered.uncertain += uncertain;
    delivered.portraits += unique.len();
    delivered.failed += failed as usize;

    // Refunds: exactly the share of the portraits that could not be made,
    // once, at the bank and in the database.
    let share = if failed == 0 || payment.portraits == 0 {
        0
    } else {
        payment.amount_kopecks * failed / payment.portraits
    };
    let cancellations: Vec<i64> = bank
        .iter()
        .flat_map(|p| p.cancellations.iter().copied())
        .collect();
    let refunds: Vec<(i64, &str)> = facts
        .refunds
        .iter()
        .filter(|r| r.payment_id == payment.id)
        .map(|r| (r.amount_kopecks, r.status.as_str()))
        .collect();
    let (want_cancellations, want_refunds, want_status) = if failed == 0 {
        (vec![], vec![], Some("confirmed"))
    } else {
        (vec![share], vec![(share, "done")], None)
    };
    if cancellations != want_cancellations
        || refunds != want_refunds
        || payment.refunded_kopecks != share
        || want_status.is_some_and(|s| payment.status != s)
    {
        problems.refunds.push(format!(
            "user {uid}: {failed}/{} of {} given up: the bank returned {cancellations:?}, \
             refunds {refunds:?}, refunded {} (payment {})",
            payment.portraits, payment.amount_kopecks, payment.refunded_kopecks, payment.status
        ));
    }
    if failed > 0 {
        delivered.refunds += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(id: i64, user_id: i64, confirmations: i64) -> PaymentRow {
        PaymentRow {
            id,
            user_id,
            order_id: format!("order-{id}"),
            status: "confirmed".into(),
            bank_payment_id: Some(format!("{id}")),
            amount_kopecks: 70_000,
            portraits: 7,
            refunded_kopecks: 0,
            confirmations,
            jobs: 1,
        }
    }

    fn names_broken(invariants: &[Invariant]) -> Vec<&'static str> {
        invariants
            .iter()
            .filter(|i| !i.ok)
            .map(|i| i.name)
            .collect()
    }

    #[test]
    fn a_payment_confirmed_twice_and_a_non_payer_with_a_job_break_the_payment_invariant() {
        let facts = Facts {
            payments: vec![payment(1, 10, 2), payment(2, 20, 1)],
            ..Facts::default()
        };
        let users = [(10, Outcome::Paid), (20, Outcome::Declined)];
        let (invariants, _) = check(&facts, &users, Expect::default());
        let payments = invariants
            .iter()
            .find(|i| i.name.starts_with("no payment processed twice"))
            .unwrap();
        assert!(!payments.ok);
        assert!(
            payments.detail.contains("payment 1 confirmed 2 times"),
            "{}",
            payments.detail
        );
        assert!(
            payments
                .detail
                .contains("user 20 (Declined) has a confirmed payment")
        );
        assert!(payments.detail.contains("user 10: no job for payment 1"));
    }

    #[test]
    fn nothing_in_flight_and_no_user_holds() {
        let (invariants, delivered) = check(&Facts::default(), &[], Expect::default());
        assert!(names_broken(&invariants).is_empty(), "{invariants:?}");
        assert_eq!(delivered.paid, 0);
        let busy = Facts {
            in_flight: 3,
            ..Facts::default()
        };
        let (invariants, _) = check(&busy, &[], Expect::default());
        assert_eq!(
            names_broken(&invariants),
            vec!["nothing left in flight, no message given up"]
        );
    }
}
