//! `/refund` and `/cancel`: a question with a confirmation button; the press
//! writes a `refunds` row (`admin_refund` / `admin_cancel`), which the side
//! task carries out through T-Bank.

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::Reply;
use crate::bot::handlers::HandlerResult;
use crate::bot::press::Press;
use crate::chat::callback::Callback;
use crate::db::payments::PaymentStatus;
use crate::db::refunds::RefundReason;
use crate::db::{payments, refunds};
use crate::i18n::{Arg, rub, tr, tr_args};

/// What a refund or cancellation of a payment would be, or why there is none.
enum Plan {
    /// A full refund of what is left of a paid payment, kopecks.
    Refund(i64),
    /// The cancellation of an unpaid payment.
    Cancel,
    Refused(String),
}

fn plan(
    conn: &rusqlite::Connection,
    payment_id: i64,
    cancel: bool,
) -> rusqlite::Result<Option<(payments::Payment, Plan)>> {
    let Some(p) = payments::get(conn, payment_id)? else {
        return Ok(None);
    };
    let plan = if cancel {
        if p.status.is_open() {
            Plan::Cancel
        } else {
            Plan::Refused("admin-cancel-impossible".into())
        }
    } else if matches!(
        p.status,
        PaymentStatus::Confirmed | PaymentStatus::PartiallyRefunded
    ) && p.bank_payment_id.is_some()
    {
        let left = p.amount_kopecks - p.refunded_kopecks - refunds::pending_kopecks(conn, p.id)?;
        if left > 0 {
            Plan::Refund(left)
        } else {
            Plan::Refused("admin-refund-nothing-left".into())
        }
    } else {
        Plan::Refused("admin-refund-impossible".into())
    };
    Ok(Some((p, plan)))
}

pub(super) async fn ask_refund(r: Reply<'_>, payment_id: i64, cancel: bool) -> HandlerResult {
    let Reply { lang, ctx, .. } = r;
    let Some((p, plan)) = ctx.db.run(move |c| plan(c, payment_id, cancel)).await? else {
        return r
            .say(tr_args(
                lang,
                "admin-payment-not-found",
                &[("id", Arg::Num(payment_id))],
            ))
            .await;
    };
    let amount = match &plan {
        Plan::Refund(amount) => *amount,
        _ => p.amount_kopecks,
    };
    let (user_text, amount_text) = (p.user_id.to_string(), rub(lang, amount));
    let args = [
        ("id", Arg::Num(p.id)),
        ("user", Arg::Str(&user_text)),
        ("tier", Arg::Str(&p.tier_id)),
        ("amount", Arg::Str(&amount_text)),
        ("status", Arg::Str(p.status.as_str())),
    ];
    let (text, button, data) = match plan {
        Plan::Refused(key) => return r.say(tr_args(lang, &key, &args)).await,
        Plan::Refund(_) => (
            tr_args(lang, "admin-refund-confirm", &args),
            tr(lang, "admin-button-refund"),
            Callback::AdminRefund(p.id).encode(),
        ),
        Plan::Cancel => (
            tr_args(lang, "admin-cancel-confirm", &args),
            tr(lang, "admin-button-cancel"),
            Callback::AdminCancel(p.id).encode(),
        ),
    };
    let keyboard = InlineKeyboardMarkup::new([
        vec![InlineKeyboardButton::callback(button, data)],
        vec![InlineKeyboardButton::callback(
            tr(lang, "admin-button-keep"),
            Callback::AdminKeep(p.id).encode(),
        )],
    ]);
    r.bot
        .send_message(r.chat, text)
        .reply_markup(keyboard)
        .await?;
    Ok(())
}

/// The `refunds` row a confirmation writes, and the answer once it is written.
struct Request {
    payment_id: i64,
    amount: i64,
    reason: RefundReason,
    key: String,
    answer: &'static str,
}

/// A press of a confirmation button. Only an admin gets past the first line;
/// anyone else gets the answer of any unknown button.
pub(crate) async fn on_callback(press: Press<'_>, callback: Callback) -> HandlerResult {
    let (lang, admin, ctx) = (press.lang(), press.user_id(), press.ctx);
    if !ctx.config.is_admin(admin) {
        return press.refuse().await;
    }
    let now = ctx.clock.now_ms();
    let text = match callback {
        Callback::AdminKeep(id) => tr_args(lang, "admin-kept", &[("id", Arg::Num(id))]),
        Callback::AdminRefund(id) | Callback::AdminCancel(id) => {
            let cancel = matches!(callback, Callback::AdminCancel(_));
            let outcome = ctx
                .db
                .run(move |c| {
                    let tx = c.transaction()?;
                    // The plan again: the payment may have changed since the question.
                    let request = match plan(&tx, id, cancel)? {
                        None => Err("admin-payment-not-found"),
                        // A new key per request: one that T-Bank refused may be asked again.
                        Some((p, Plan::Refund(amount))) => Ok(Request {
                            payment_id: p.id,
                            amount,
                            reason: RefundReason::AdminRefund,
                            key: format!(
                                "refund-{}-admin-{}",
                                p.id,
                                refunds::for_payment(&tx, p.id)?.len()
                            ),
                            answer: "admin-refund-requested",
                        }),
                        Some((p, Plan::Cancel)) => Ok(Request {
                            payment_id: p.id,
                            amount: p.amount_kopecks,
                            reason: RefundReason::AdminCancel,
                            key: format!("cancel-{}-admin", p.id),
                            answer: "admin-cancel-requested",
                        }),
                        Some((_, Plan::Refused(_))) => Err("admin-already-requested"),
                    };
                    let result = match request {
                        Ok(r) => {
                            let added = refunds::request(
                                &tx,
                                r.payment_id,
                                r.amount,
                                r.reason,
                                &r.key,
                                Some(admin),
                                now,
                            )?;
                            if added {
                                Ok(r.answer)
                            } else {
                                Err("admin-already-requested")
                            }
                        }
                        Err(key) => Err(key),
                    };
                    tx.commit()?;
                    Ok(result)
                })
                .await?;
            match outcome {
                Ok(key) => {
                    ctx.wake.notify_one();
                    tr_args(lang, key, &[("id", Arg::Num(id))])
                }
                Err(key) => tr_args(lang, key, &[("id", Arg::Num(id))]),
            }
        }
        _ => return Ok(()),
    };
    press.answer().await?;
    press.edit(text).await
}
