//! The refund step: T-Bank Cancel with a partial amount for portraits that
//! could not be made, and an admin's refund. The refund row and its
//! ExternalRequestId exist before the call, and so does the mark that a
//! Cancel went out (`refunds.bank_before`, with what the bank held before
//! it). A Cancel whose outcome is unknown (no answer, an unreadable one, a
//! crash) is never sent again blindly: GetState first, and only an amount
//! at the bank that did not move sends it again. ExternalRequestId alone
//! would not do: T-Bank ignores it for SBP payments, which would be
//! refunded twice.

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
        refund_money(ctx, refund, payment, now).await?;
    }
    Ok(count)
}

/// One refund of money: read the bank first if an earlier Cancel of this row
/// may have taken effect, then (only if it did not) write that a Cancel goes
/// out, send it, and record the answer.
async fn refund_money(
    ctx: &WorkerCtx,
    refund: Refund,
    payment: payments::Payment,
    now: i64,
) -> anyhow::Result<()> {
    let Some(bank_id) = payment.bank_payment_id.clone() else {
        return Ok(());
    };
    let (refund_id, payment_id) = (refund.id, payment.id);
    if let Some(before) = refund.bank_before {
        use crate::tbank::PaymentStatus as Bank;
        let state = match ctx.tbank.get_state(&bank_id).await {
            Ok(state) => state,
            Err(error) => {
                let why = format!("a Cancel went out, its outcome unknown; GetState: {error}");
                return slow(ctx, &refund, why, now).await;
            }
        };
        let left = state.amount_kopecks;
        if left <= before - refund.amount_kopecks {
            info!(
                refund_id,
                payment_id, left, before, "the earlier Cancel took effect"
            );
            return done(ctx, &refund, &payment, state.status.as_str(), now).await;
        }
        let under_way = matches!(
            state.status,
            Bank::Reversing | Bank::Refunding | Bank::AsyncRefunding
        );
        if left < before || under_way {
            let why = format!(
                "a Cancel went out; the bank shows {} with {left} of {before} kopecks left",
                state.status
            );
            return slow(ctx, &refund, why, now).await;
        }
        info!(
            refund_id,
            payment_id, left, "the earlier Cancel did not take effect: sent again"
        );
    }
    // State first: that a Cancel goes out, and what the bank held before it.
    let before = refund
        .bank_before
        .unwrap_or(payment.amount_kopecks - payment.refunded_kopecks);
    // A partial refund needs a receipt with the buyer's contact, which
    // /delete_my_data erased: it is made by hand, and the admins are told
    // why. (A full one needs none, and goes through.)
    if refund.amount_kopecks < before && payment.receipt_contact.trim().is_empty() {
        warn!(
            refund_id,
            payment_id, "partial refund without a receipt contact: to be made by hand"
        );
        let why = "the user deleted their data: a partial refund needs a receipt contact; \
                   refund it by hand in the T-Bank cabinet"
            .to_owned();
        let alert = Alert::RefundRefused {
            refund: refund_id,
            payment: payment_id,
            kopecks: refund.amount_kopecks,
            error: why.clone(),
        };
        let incident = format!("refund:{refund_id}");
        return refused(ctx, refund_id, why, incident, alert, now).await;
    }
    ctx.db
        .run(move |c| refunds::mark_sending(c, refund_id, before, now))
        .await?;
    // A partial refund carries the receipt of the amount returned; a full
    // cancellation carries none (T-Bank's spec).
    let full = refund.amount_kopecks >= before;
    let mut receipt = super::payments::receipt_for(ctx, &payment);
    for item in &mut receipt.items {
        item.price = refund.amount_kopecks;
        item.amount = refund.amount_kopecks;
    }
    match ctx
        .tbank
        .cancel(
            &bank_id,
            (!full).then_some(refund.amount_kopecks),
            (!full).then_some(&receipt),
            &refund.external_request_id,
        )
        .await
    {
        Ok(answer) => done(ctx, &refund, &payment, answer.status.as_str(), now).await,
        // No answer, or one we could not read: the money may or may not have
        // moved. The next attempt reads the bank first — never a blind
        // repeat, never a give-up into a manual refund.
        Err(error)
            if error.is_transient() || matches!(error, crate::tbank::TbankError::Decode(_)) =>
        {
            slow(ctx, &refund, error.to_string(), now).await
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
            refused(ctx, refund_id, msg, incident, alert, now).await
        }
    }
}

/// The bank confirmed the refund (its status `bank_status`): the row is
/// done, the referral earning reversed in part, the user told.
async fn done(
    ctx: &WorkerCtx,
    refund: &Refund,
    payment: &payments::Payment,
    bank_status: &str,
    now: i64,
) -> anyhow::Result<()> {
    let (refund_id, payment_id, amount) = (refund.id, payment.id, refund.amount_kopecks);
    info!(
        refund_id,
        payment_id,
        amount,
        status = bank_status,
        "refund done"
    );
    let status = bank_status.to_owned();
    let (user_id, admins) = (payment.user_id, ctx.config.bot.admin_ids.clone());
    let done = refund.clone();
    let at = ctx.clock.now_ms();
    ctx.db
        .run(move |c| {
            let tx = c.transaction()?;
            if refunds::mark_done(&tx, refund_id, &status, at)? {
                super::referrals::reverse(&tx, payment_id, amount)?;
                let dedup = format!("refund:{refund_id}:done");
                super::tell(&tx, user_id, &dedup, now, |lang| {
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
    Ok(())
}

/// The refund is not confirmed yet (`why`): asked again at [`retry_at`];
/// after ten attempts the admins are alerted (once).
async fn slow(ctx: &WorkerCtx, refund: &Refund, why: String, now: i64) -> anyhow::Result<()> {
    let (refund_id, payment_id) = (refund.id, refund.payment_id);
    warn!(refund_id, payment_id, why = %why, attempts = refund.attempts, "refund not confirmed, will ask again");
    let next = retry_at(now, refund.attempts);
    let admins = ctx.config.bot.admin_ids.clone();
    let alert = Alert::RefundSlow {
        refund: refund_id,
        payment: payment_id,
        kopecks: refund.amount_kopecks,
        attempts: i64::from(refund.attempts) + 1,
        error: why.clone(),
    };
    let overdue = refund.attempts + 1 >= 10;
    ctx.db
        .run(move |c| {
            refunds::mark_retry(c, refund_id, &why, next)?;
            if overdue {
                super::alerts::raise(c, &admins, &format!("refund-slow:{refund_id}"), &alert, now)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}
