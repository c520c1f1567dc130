//! The refund step: T-Bank Cancel with a partial amount for portraits that
//! could not be made. The refund row and its ExternalRequestId exist before
//! the call, so a retry never moves the money twice.

use tracing::{info, warn};

use super::WorkerCtx;
use super::alerts::Alert;
use crate::db::refunds::{Refund, RefundReason};
use crate::db::{payments, refunds};
use crate::i18n::{Arg, rub, tr_args};

/// When a refund row whose T-Bank call did not go through is tried again,
/// after `attempts` tries: in 10 s, doubling up to 640 s.
fn retry_at(now: i64, attempts: u32) -> i64 {
    now + (10_000i64 << attempts.min(6))
}

/// A T-Bank call for `refund` failed transiently: the row is tried again at
/// [`retry_at`], under the same ExternalRequestId.
pub(crate) async fn retry_later(
    ctx: &WorkerCtx,
    refund: &Refund,
    error: String,
    now: i64,
) -> anyhow::Result<()> {
    let (id, next) = (refund.id, retry_at(now, refund.attempts));
    ctx.db
        .run(move |c| refunds::mark_retry(c, id, &error, next))
        .await?;
    Ok(())
}

/// T-Bank refused a refund or cancellation for good: the row fails with the
/// error and the admins get `alert` (incident `incident`), together.
pub(crate) async fn refused(
    ctx: &WorkerCtx,
    refund_id: i64,
    error: String,
    incident: String,
    alert: Alert,
    now: i64,
) -> anyhow::Result<()> {
    let admins = ctx.config.bot.admin_ids.clone();
    ctx.db
        .run(move |c| {
            let tx = c.transaction()?;
            refunds::mark_failed(&tx, refund_id, &error)?;
            super::alerts::raise(&tx, &admins, &incident, &alert, now)?;
            tx.commit()
        })
        .await?;
    Ok(())
}

pub(crate) async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let due = ctx.db.run(move |c| refunds::due(c, now, 8)).await?;
    let count = due.len();
    for refund in due {
        let payment_id = refund.payment_id;
        let Some(payment) = ctx.db.run(move |c| payments::get(c, payment_id)).await? else {
            continue;
        };
        // Another bank's payment: not this bot's to cancel or refund; the
        // row fails and the admins see it (one alert per payment).
        if super::payments::at_other_terminal(ctx, &payment) {
            warn!(
                refund_id = refund.id,
                payment_id, "refund of a payment made at another T-Bank terminal: not sent"
            );
            let alert = Alert::OtherTerminal {
                payment: payment.id,
                order: payment.order_id.clone(),
            };
            let why = "made at another T-Bank terminal (or a stand-in): not sent".to_owned();
            let incident = format!("other_terminal:{payment_id}");
            refused(ctx, refund.id, why, incident, alert, now).await?;
            continue;
        }
        // A cancellation of an unpaid payment (stuck, or /cancel) moves no money.
        if refund.reason.is_cancellation() {
            super::admin::cancel_unpaid(ctx, refund, payment, now).await?;
            continue;
        }
        let Some(bank_id) = payment.bank_payment_id.clone() else {
            continue;
        };
        let mut receipt = super::payments::receipt_for(ctx, &payment);
        for item in &mut receipt.items {
            item.price = refund.amount_kopecks;
            item.amount = refund.amount_kopecks;
        }
        let refund_id = refund.id;
        match ctx
            .tbank
            .cancel(
                &bank_id,
                Some(refund.amount_kopecks),
                Some(&receipt),
                &refund.external_request_id,
            )
            .await
        {
            Ok(answer) => {
                info!(refund_id, payment_id, bank_payment_id = %bank_id, amount = refund.amount_kopecks, status = answer.status.as_str(), "refund done");
                let status = answer.status.as_str().to_owned();
                let amount = refund.amount_kopecks;
                let admins = ctx.config.bot.admin_ids.clone();
                let done = refund.clone();
                let at = ctx.clock.now_ms();
                ctx.db
                    .run(move |c| {
                        let tx = c.transaction()?;
                        if refunds::mark_done(&tx, refund_id, &status, at)? {
                            super::referrals::reverse(&tx, payment.id, amount)?;
                            let dedup = format!("refund:{refund_id}:done");
                            super::tell(&tx, payment.user_id, &dedup, now, |lang| {
                                tr_args(
                                    lang,
                                    "refund-done",
                                    &[("amount", Arg::Str(&rub(lang, amount)))],
                                )
                            })?;
                            if done.reason == RefundReason::AdminRefund {
                                super::admin::admin_refund_done(&tx, &admins, &done, &status, now)?;
                            }
                        }
                        tx.commit()
                    })
                    .await?;
                ctx.wake.notify_one();
            }
            // No answer, or one we could not read: the money may or may not
            // have moved. Ask again with the same ExternalRequestId (T-Bank
            // moves it at most once) — never give up into a manual refund.
            Err(error)
                if error.is_transient() || matches!(error, crate::tbank::TbankError::Decode(_)) =>
            {
                warn!(refund_id, payment_id, %error, attempts = refund.attempts, "refund not confirmed, will ask again");
                let msg = error.to_string();
                let next = retry_at(now, refund.attempts);
                let admins = ctx.config.bot.admin_ids.clone();
                let alert = Alert::RefundSlow {
                    refund: refund_id,
                    payment: payment_id,
                    kopecks: refund.amount_kopecks,
                    attempts: i64::from(refund.attempts) + 1,
                    error: msg.clone(),
                };
                let overdue = refund.attempts + 1 >= 10;
                ctx.db
                    .run(move |c| {
                        refunds::mark_retry(c, refund_id, &msg, next)?;
                        if overdue {
                            super::alerts::raise(
                                c,
                                &admins,
                                &format!("refund-slow:{refund_id}"),
                                &alert,
                                now,
                            )?;
                        }
                        Ok(())
                    })
                    .await?;
            }
            Err(error) => {
                warn!(refund_id, payment_id, %error, "refund refused");
                let msg = error.to_string();
                let alert = Alert::RefundRefused {
                    refund: refund_id,
                    payment: payment_id,
                    kopecks: refund.amount_kopecks,
                    error: msg.clone(),
                };
                let incident = format!("refund:{refund_id}");
                refused(ctx, refund_id, msg, incident, alert, now).await?;
            }
        }
    }
    Ok(count)
}
