//! The bank is the source of truth: once a day every payment of the last
//! `[tbank] reconcile_days` that is no longer open here (paid, refunded,
//! ended without money) is compared with T-Bank's GetState, a batch per
//! round, and the admins get one alert for each payment where the two
//! disagree — money the bank took that the bot thinks it did not, a refund
//! the bank shows and the bot does not know, or the other way round. The
//! open ones are the payment step's. Where the pass stands is kept in
//! `service_state`, so a restart goes on where it stopped.

use tracing::{info, warn};

use super::WorkerCtx;
use super::alerts::Alert;
use crate::db::payments::{self, Payment, PaymentStatus};
use crate::db::{refunds, service_state};
use crate::tbank::{PaymentStatus as Bank, StateResponse};

const DAY_MS: i64 = 86_400_000;
/// When the next pass starts (milliseconds).
const NEXT_KEY: &str = "reconcile.next_at";
/// The last payment id compared in the pass under way.
const CURSOR_KEY: &str = "reconcile.after";
/// After a GetState that failed, the pass goes on this much later.
const RETRY_MS: i64 = 60_000;
/// Payments compared per round: GetState calls, one after another.
const BATCH: u32 = 20;

pub(crate) async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let since = now - i64::from(ctx.config.tbank.reconcile_days) * DAY_MS;
    let due = ctx
        .db
        .run(move |c| {
            if service_state::get_i64(c, NEXT_KEY)?.is_some_and(|next| next > now) {
                return Ok(None);
            }
            let after = service_state::get_i64(c, CURSOR_KEY)?.unwrap_or(0);
            Ok(Some(payments::to_reconcile(c, since, after, BATCH)?))
        })
        .await?;
    let Some(due) = due else {
        return Ok(0);
    };
    let count = due.len();
    let (mut last, mut stopped) = (None, false);
    for payment in due {
        if super::payments::at_other_terminal(ctx, &payment) {
            last = Some(payment.id);
            continue;
        }
        let Some(bank_id) = payment.bank_payment_id.clone() else {
            continue;
        };
        let state = match ctx.tbank.get_state(&bank_id).await {
            Ok(state) => state,
            // The bank knows no such payment: that disagrees with anything.
            Err(error) if error.code() == Some("255") => StateResponse {
                payment_id: bank_id.clone(),
                order_id: payment.order_id.clone(),
                status: Bank::Unknown("—".to_owned()),
                amount_kopecks: 0,
                params: Default::default(),
            },
            // The bank does not answer now: the pass goes on from here in a
            // minute.
            Err(error) => {
                warn!(payment_id = payment.id, %error, "reconciliation: GetState failed");
                stopped = true;
                break;
            }
        };
        let pending = {
            let id = payment.id;
            ctx.db.run(move |c| refunds::pending_kopecks(c, id)).await?
        };
        if disagrees(&payment, &state, pending) {
            warn!(
                payment_id = payment.id,
                ours = payment.status.as_str(),
                bank = %state.status,
                held = state.amount_kopecks,
                "reconciliation: the bank disagrees"
            );
            let admins = ctx.config.bot.admin_ids.clone();
            let alert = Alert::BankMismatch {
                payment: payment.id,
                order: payment.order_id.clone(),
                ours: payment.status.as_str().to_owned(),
                refunded: payment.refunded_kopecks,
                bank: state.status.as_str().to_owned(),
                held: state.amount_kopecks,
            };
            let incident = format!("bank_mismatch:{}", payment.id);
            ctx.db
                .run(move |c| super::alerts::raise(c, &admins, &incident, &alert, now))
                .await?;
        }
        last = Some(payment.id);
    }
    let finished = !stopped && count < BATCH as usize;
    ctx.db
        .run(move |c| {
            if let Some(id) = last {
                service_state::set_i64(c, CURSOR_KEY, id, now)?;
            }
            if stopped {
                service_state::set_i64(c, NEXT_KEY, now + RETRY_MS, now)?;
            }
            if finished {
                service_state::set_i64(c, NEXT_KEY, now + DAY_MS, now)?;
                service_state::remove(c, CURSOR_KEY)?;
            }
            Ok(())
        })
        .await?;
    if finished && count > 0 {
        info!(compared = count, "reconciliation pass finished");
    }
    Ok(count)
}

/// Whether the bank disagrees with what the bot recorded of a payment no
/// longer open here. A refund still under way (`pending` kopecks) may or
/// may not show at the bank yet.
fn disagrees(payment: &Payment, state: &StateResponse, pending: i64) -> bool {
    let left = payment.amount_kopecks - payment.refunded_kopecks;
    let bank_left = state.amount_kopecks;
    // Between what is left once the pending refunds are through, and now.
    let amount_agrees = (left - pending..=left).contains(&bank_left);
    let agrees = match payment.status {
        // Paid here: the bank holds what was not refunded.
        PaymentStatus::Confirmed | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => {
            let paid_at_bank = matches!(
                state.status,
                Bank::Confirmed
                    | Bank::PartialRefunded
                    | Bank::Refunded
                    | Bank::Refunding
                    | Bank::AsyncRefunding
            );
            paid_at_bank && amount_agrees
        }
        // No money here: the bank must not hold any.
        PaymentStatus::Rejected
        | PaymentStatus::Canceled
        | PaymentStatus::Expired
        | PaymentStatus::Failed => !matches!(
            state.status,
            Bank::Confirmed | Bank::PartialRefunded | Bank::PartialReversed | Bank::Authorized
        ),
        PaymentStatus::New | PaymentStatus::Open => true,
    };
    !agrees
}
