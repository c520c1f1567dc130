//! What the side task does for the admins: stuck payments (one alert at
//! `stuck_alert_hours`, a T-Bank Cancel at `stuck_cancel_hours`), the
//! cancellation of unpaid payments (stuck, or `/cancel` by an admin), and the
//! Kie balance an admin asked for with `/credits` (handlers never call Kie).

use tracing::{info, warn};

use super::WorkerCtx;
use super::alerts::Alert;
use crate::chat::credits::{CREDITS_MILLI, CREDITS_REQUEST, format_credits};
use crate::db::payments::{self, Payment, PaymentStatus};
use crate::db::refunds::{self, Refund, RefundReason};
use crate::db::{avatars, jobs, portraits, service_state};
use crate::i18n::{Arg, Lang, rub, tr_args};

const HOUR_MS: i64 = 3_600_000;

/// One round: stuck payments, then a Kie balance asked for.
pub(crate) async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    Ok(stuck_payments(ctx, now).await? + credits(ctx, now).await?)
}

/// Queues `text` to every admin, each in their language.
pub(crate) fn tell_admins(
    conn: &rusqlite::Connection,
    admins: &[i64],
    dedup: &str,
    now: i64,
    text: impl Fn(Lang) -> String,
) -> rusqlite::Result<()> {
    for &admin in admins {
        super::tell(conn, admin, &format!("{dedup}:admin:{admin}"), now, &text)?;
    }
    Ok(())
}

/// Alerts about open payments older than `stuck_alert_hours` (once per
/// payment: `payments.stuck_alerted_at`), and asks for the cancellation of
/// those older than `stuck_cancel_hours` (once: a `stuck` refunds row, which
/// the refund step carries out through [`cancel_unpaid`]).
pub(crate) async fn stuck_payments(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let alert_before = now - i64::from(ctx.config.worker.stuck_alert_hours) * HOUR_MS;
    let cancel_before = now - i64::from(ctx.config.worker.stuck_cancel_hours) * HOUR_MS;
    let admins = ctx.config.bot.admin_ids.clone();
    let worked = ctx
        .db
        .run(move |c| {
            let tx = c.transaction()?;
            let mut worked = 0;
            for payment in payments::stuck_unalerted(&tx, alert_before, 16)? {
                if !payments::mark_stuck_alerted(&tx, payment.id, now)? {
                    continue;
                }
                let hours = (now - payment.created_at) / HOUR_MS;
                let alert = Alert::StuckPayment {
                    payment: payment.id,
                    user: payment.user_id,
                    tier: payment.tier_id.clone(),
                    kopecks: payment.amount_kopecks,
                    hours,
                    bank_status: payment
                        .bank_status
                        .clone()
                        .unwrap_or_else(|| "—".to_owned()),
                    cancel_hours: cancel_before_hours(now, cancel_before),
                };
                super::alerts::raise(
                    &tx,
                    &admins,
                    &format!("stuck_payment:{}", payment.id),
                    &alert,
                    now,
                )?;
                worked += 1;
            }
            for payment in payments::stuck_to_cancel(&tx, cancel_before, 16)? {
                if refunds::request(
                    &tx,
                    payment.id,
                    payment.amount_kopecks,
                    RefundReason::Stuck,
                    &format!("cancel-{}-stuck", payment.id),
                    None,
                    now,
                )? {
                    info!(
                        payment_id = payment.id,
                        "stuck payment: cancellation requested"
                    );
                    worked += 1;
                }
            }
            tx.commit()?;
            Ok(worked)
        })
        .await?;
    if worked > 0 {
        ctx.wake.notify_one();
    }
    Ok(worked)
}

fn cancel_before_hours(now: i64, cancel_before: i64) -> i64 {
    (now - cancel_before) / HOUR_MS
}

/// Carries out a `stuck` or `admin_cancel` row: T-Bank Cancel of a payment
/// nobody paid (or, when Init never answered, just closing it here), then
/// the payment ends without money like any abandoned one: the user is told
/// with a button to choose a package again, and the admins are told.
pub(crate) async fn cancel_unpaid(
    ctx: &WorkerCtx,
    refund: Refund,
    payment: Payment,
    now: i64,
) -> anyhow::Result<()> {
    let admins = ctx.config.bot.admin_ids.clone();
    let refund_id = refund.id;
    let stuck = refund.reason == RefundReason::Stuck;
    let switch = refund.reason == RefundReason::Superseded;
    if switch && !payment.status.is_open() {
        // Ended meanwhile: paid (the payment stands, the new choice is
        // dropped), or without money (the new choice goes on).
        return if payment.status == PaymentStatus::Canceled
            || payment.status == PaymentStatus::Expired
            || payment.status == PaymentStatus::Rejected
            || payment.status == PaymentStatus::Failed
        {
            super::switch::carry_out(ctx, refund, payment, None, now).await
        } else {
            let status = payment.status.as_str();
            super::switch::paid_meanwhile(ctx, refund, payment.clone(), status, now).await
        };
    }
    if !payment.status.is_open() {
        // Paid, expired or ended meanwhile: nothing to cancel, and a paid
        // payment is never refunded by a cancellation meant for an unpaid one.
        let why = NotCancelled::NoLongerOpen(payment.status.as_str().to_owned());
        return cancel_not_sent(ctx, &admins, refund_id, payment.id, why, false, now).await;
    }
    // The user may have paid at the last moment, before our next GetState:
    // such a payment is left to the payment step (it confirms it), never
    // cancelled (Cancel of a paid payment would be a refund).
    // A cancellation whose answer was lost, or one the bank made itself
    // (the deadline passed): the bank's final status is taken as it is, and
    // no Cancel is sent again.
    let mut ended_at_bank: Option<Option<String>> = None;
    if let Some(bank_id) = payment.bank_payment_id.as_deref() {
        match ctx.tbank.get_state(bank_id).await {
            Ok(state) if state.status.is_final() && !state.status.money_moving() => {
                ended_at_bank = Some(Some(state.status.as_str().to_owned()));
            }
            Ok(state) if state.status.money_moving() => {
                if switch {
                    let status = state.status.as_str();
                    return super::switch::paid_meanwhile(ctx, refund, payment, status, now).await;
                }
                let why = NotCancelled::PaidMeanwhile(state.status.as_str().to_owned());
                return cancel_not_sent(ctx, &admins, refund_id, payment.id, why, true, now).await;
            }
            Ok(_) => {}
            // Nothing at the bank by that id: nothing to cancel there.
            Err(error) if error.code() == Some("255") => {
                warn!(refund_id, payment_id = payment.id, %error, "the bank knows no such payment: closed here");
                ended_at_bank = Some(None);
            }
            // Not known where the payment stands: never a blind Cancel.
            Err(error) => {
                return super::refunds::retry_later(ctx, &refund, error.to_string(), now).await;
            }
        }
    }
    let bank_status = match (ended_at_bank, payment.bank_payment_id.as_deref()) {
        (Some(status), _) => status,
        // Init never answered: there is nothing at the bank to cancel.
        (None, None) => None,
        (None, Some(bank_id)) => match ctx
            .tbank
            .cancel(bank_id, None, None, &refund.external_request_id)
            .await
        {
            Ok(answer) => Some(answer.status.as_str().to_owned()),
            Err(error) if error.is_transient() => {
                warn!(refund_id, payment_id = payment.id, %error, "Cancel failed, will retry");
                return super::refunds::retry_later(ctx, &refund, error.to_string(), now).await;
            }
            Err(error) => {
                warn!(refund_id, payment_id = payment.id, %error, "Cancel refused");
                let msg = error.to_string();
                let alert = Alert::CancelRefused {
                    payment: payment.id,
                    order: payment.order_id.clone(),
                    error: msg.clone(),
                };
                if switch {
                    super::switch::tell_refused(ctx, &refund, &payment, now).await?;
                }
                let incident = format!("cancel:{refund_id}");
                super::refunds::refused(ctx, refund_id, msg, incident, alert, now).await?;
                ctx.wake.notify_one();
                return Ok(());
            }
        },
    };
    info!(refund_id, payment_id = payment.id, bank_status = ?bank_status, stuck, switch, "unpaid payment cancelled");
    if switch {
        return super::switch::carry_out(ctx, refund, payment, bank_status, now).await;
    }
    // The buyer paid in the last second, between GetState and Cancel: the
    // Cancel of a paid payment returned the money in full. Recorded as the
    // bank answered (REFUNDED / REVERSED), and the user is told the truth.
    let returned = bank_status
        .as_deref()
        .is_some_and(|status| crate::tbank::PaymentStatus::parse(status).returned_in_full());
    if returned {
        warn!(refund_id, payment_id = payment.id, bank_status = ?bank_status, "paid in the last second: the cancellation returned the money");
    }
    let key = match (returned, stuck) {
        (true, _) => "payment-canceled-returned",
        (false, true) => "payment-stuck-canceled",
        (false, false) => "payment-canceled",
    };
    super::payments::end_without_money(
        ctx,
        &payment,
        PaymentStatus::Canceled,
        bank_status.as_deref(),
        key,
        now,
    )
    .await?;
    let (payment_id, user_id, amount) = (payment.id, payment.user_id, payment.amount_kopecks);
    let at = ctx.clock.now_ms();
    ctx.db
        .run(move |c| {
            let tx = c.transaction()?;
            if refunds::mark_done_without_money(&tx, refund_id, at)? {
                let key = if stuck {
                    "admin-stuck-canceled"
                } else {
                    "admin-cancel-done"
                };
                let dedup = format!("refund:{refund_id}:done");
                tell_admins(&tx, &admins, &dedup, now, |lang| {
                    tr_args(
                        lang,
                        key,
                        &[
                            ("payment", Arg::Num(payment_id)),
                            ("user", Arg::Num(user_id)),
                            ("amount", Arg::Str(&rub(lang, amount))),
                            ("status", Arg::Str(bank_status.as_deref().unwrap_or("—"))),
                        ],
                    )
                })?;
                super::alerts::resolve(&tx, &format!("stuck_payment:{payment_id}"), now)?;
            }
            tx.commit()
        })
        .await?;
    ctx.wake.notify_one();
    Ok(())
}

/// A full refund an admin asked for is done: tell the admins.
pub(crate) fn admin_refund_done(
    conn: &rusqlite::Connection,
    admins: &[i64],
    refund: &Refund,
    bank_status: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tell_admins(
        conn,
        admins,
        &format!("refund:{}:done", refund.id),
        now,
        |lang| {
            tr_args(
                lang,
                "admin-refund-done",
                &[
                    ("payment", Arg::Num(refund.payment_id)),
                    ("amount", Arg::Str(&rub(lang, refund.amount_kopecks))),
                    ("status", Arg::Str(bank_status)),
                ],
            )
        },
    )
}

/// The Kie balance an admin asked for: fetched once, kept as the last
/// known balance, and sent to that admin through the queue.
pub(crate) async fn credits(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let Some(admin) = ctx
        .db
        .run(|c| service_state::get_i64(c, CREDITS_REQUEST))
        .await?
    else {
        return Ok(0);
    };
    let answer = ctx.kie.credit().await;
    ctx.db
        .run(move |c| {
            let tx = c.transaction()?;
            service_state::remove(&tx, CREDITS_REQUEST)?;
            if let Ok(credits) = &answer {
                let milli = (credits * 1000.0).round() as i64;
                service_state::set_i64(&tx, CREDITS_MILLI, milli, now)?;
            }
            super::tell(
                &tx,
                admin,
                &format!("credits:{now}:{admin}"),
                now,
                |lang| match &answer {
                    Ok(credits) => tr_args(
                        lang,
                        "admin-credits-now",
                        &[("credits", Arg::Str(&format_credits(*credits)))],
                    ),
                    Err(error) => tr_args(
                        lang,
                        "admin-credits-failed",
                        &[("error", Arg::Str(&error.to_string()))],
                    ),
                },
            )?;
            tx.commit()
        })
        .await?;
    ctx.wake.notify_one();
    Ok(1)
}

/// A set an admin retried (`/retry`) is final again: what the retry made is
/// sent as albums of its own (the earlier albums were delivered already; the
/// share of what failed the first time was refunded then, so nothing more is
/// refunded now), and the admins are told how it went.
pub(crate) async fn finish_retry(ctx: &WorkerCtx, job: jobs::Job, now: i64) -> anyhow::Result<()> {
    let admins = ctx.config.bot.admin_ids.clone();
    let job_id = job.id;
    let done = super::generation::deliver_once(ctx, job, now, move |tx, lang, job| {
        let (round, retried_at) = jobs::retry_round(tx, job.id)?;
        let retried_at = retried_at.unwrap_or(0);
        let made = portraits::for_job_since(tx, job.id, retried_at)?;
        if !made.is_empty() {
            avatars::transition(
                tx,
                job.avatar_id,
                avatars::AvatarStatus::Failed,
                avatars::AvatarStatus::Ready,
                now,
            )?;
            let caption = tr_args(lang, "retry-caption", &[("count", made.len().into())]);
            let prefix = format!("job:{}:retry{round}", job.id);
            super::generation::queue_albums(tx, job.user_id, &made, &caption, &prefix, now)?;
        }
        let still_failed = job.failed;
        let dedup = format!("job:{}:retry{round}:admins", job.id);
        tell_admins(tx, &admins, &dedup, now, |lang| {
            tr_args(
                lang,
                "admin-retry-done",
                &[
                    ("id", Arg::Num(job.id)),
                    ("made", Arg::Num(made.len() as i64)),
                    ("failed", Arg::Num(i64::from(still_failed))),
                ],
            )
        })?;
        Ok(made.len())
    })
    .await?;
    if let Some(made) = done {
        info!(job_id, made, "retried job finished");
    }
    Ok(())
}

/// A cancellation that is not sent (the payment is no longer open, or the
/// user paid at the bank meanwhile): the refund row fails with the reason and
/// the admins are told; with `check_now` the payment step asks T-Bank at once.
/// Why a cancellation was not sent to T-Bank.
enum NotCancelled {
    /// The payment is no longer open (its status).
    NoLongerOpen(String),
    /// The user paid at the bank meanwhile (the bank's status).
    PaidMeanwhile(String),
}

impl NotCancelled {
    fn render(&self, lang: Lang) -> String {
        let (key, status) = match self {
            NotCancelled::NoLongerOpen(status) => ("admin-cancel-why-not-open", status),
            NotCancelled::PaidMeanwhile(status) => ("admin-cancel-why-paid", status),
        };
        tr_args(lang, key, &[("status", Arg::Str(status))])
    }
}

async fn cancel_not_sent(
    ctx: &WorkerCtx,
    admins: &[i64],
    refund_id: i64,
    payment_id: i64,
    why: NotCancelled,
    check_now: bool,
    now: i64,
) -> anyhow::Result<()> {
    // The refund row keeps the reason in English, as the log does.
    let reason = why.render(Lang::En);
    warn!(refund_id, payment_id, why = %reason, "cancellation not sent");
    let admins = admins.to_vec();
    ctx.db
        .run(move |c| {
            let tx = c.transaction()?;
            refunds::mark_failed(&tx, refund_id, &reason)?;
            if check_now {
                payments::check_now(&tx, payment_id, now)?;
            }
            let dedup = format!("refund:{refund_id}:failed");
            tell_admins(&tx, &admins, &dedup, now, |lang| {
                tr_args(
                    lang,
                    "admin-cancel-not-needed",
                    &[
                        ("payment", Arg::Num(payment_id)),
                        ("why", Arg::Str(&why.render(lang))),
                    ],
                )
            })?;
            tx.commit()
        })
        .await?;
    ctx.wake.notify_one();
    Ok(())
}
