//! `/payouts`: the open referral payout requests, oldest first, each with a
//! "paid" and a "reject" button. A press settles the request (only an open
//! one moves: a second press, or another admin's, changes nothing) and
//! tells the user through the queue, in the same transaction. A rejected
//! request gives the balance back.

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::Reply;
use crate::bot::handlers::HandlerResult;
use crate::bot::press::Press;
use crate::chat::callback::Callback;
use crate::chat::lang_of;
use crate::chat::outbox::{self, Delivery, Outgoing};
use crate::db::referrals;
use crate::i18n::{Arg, rub, tr_args};

/// Requests listed (and buttons shown) at most: two buttons each.
const LISTED: u32 = 20;

pub(super) async fn list(r: Reply<'_>) -> HandlerResult {
    let Reply { lang, ctx, .. } = r;
    let open = ctx.db.run(|c| referrals::open_payouts(c, LISTED)).await?;
    if open.is_empty() {
        return r.say(crate::i18n::tr(lang, "admin-payouts-none")).await;
    }
    let mut text = tr_args(
        lang,
        "admin-payouts-header",
        &[("count", open.len().into())],
    );
    let mut rows = Vec::new();
    let now = r.now;
    for request in &open {
        let days = (now - request.created_at).max(0) / 86_400_000;
        text.push('\n');
        text.push_str(&tr_args(
            lang,
            "admin-payouts-line",
            &[
                ("id", Arg::Num(request.id)),
                ("user", Arg::Num(request.user_id)),
                ("amount", Arg::Str(&rub(lang, request.amount_kopecks))),
                ("days", Arg::Num(days)),
            ],
        ));
        let id = [("id", Arg::Num(request.id))];
        rows.push(vec![
            InlineKeyboardButton::callback(
                tr_args(lang, "admin-payout-button-paid", &id),
                Callback::AdminPayoutPaid(request.id).encode(),
            ),
            InlineKeyboardButton::callback(
                tr_args(lang, "admin-payout-button-reject", &id),
                Callback::AdminPayoutReject(request.id).encode(),
            ),
        ]);
    }
    r.bot
        .send_message(r.chat, text)
        .reply_markup(InlineKeyboardMarkup::new(rows))
        .await?;
    Ok(())
}

/// A press of "paid" or "reject". Only an admin gets past the first line;
/// anyone else gets the answer of any unknown button.
pub(crate) async fn on_callback(press: Press<'_>, callback: Callback) -> HandlerResult {
    let (lang, admin, ctx) = (press.lang(), press.user_id(), press.ctx);
    if !ctx.config.is_admin(admin) {
        return press.refuse().await;
    }
    let (id, paid) = match callback {
        Callback::AdminPayoutPaid(id) => (id, true),
        Callback::AdminPayoutReject(id) => (id, false),
        _ => return Ok(()),
    };
    let now = ctx.clock.now_ms();
    let settled = ctx
        .db
        .run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(request) = referrals::payout(&tx, id)? else {
                return Ok(None);
            };
            if !referrals::decide_payout(&tx, id, paid, now)? {
                return Ok(Some((request, false)));
            }
            let user_lang = lang_of(&tx, request.user_id)?;
            let key = if paid {
                "referral-payout-paid"
            } else {
                "referral-payout-rejected"
            };
            let text = tr_args(
                user_lang,
                key,
                &[("amount", Arg::Str(&rub(user_lang, request.amount_kopecks)))],
            );
            outbox::enqueue(
                &tx,
                request.user_id,
                &Outgoing::text(text),
                &format!("payout:{id}:decided"),
                Delivery::Essential,
                now,
            )?;
            tx.commit()?;
            Ok(Some((request, true)))
        })
        .await?;
    let text = match settled {
        None => tr_args(lang, "admin-payout-not-found", &[("id", Arg::Num(id))]),
        Some((request, true)) => {
            tracing::info!(payout_id = id, admin, paid, "payout decided");
            ctx.wake.notify_one();
            let key = if paid {
                "admin-payout-paid"
            } else {
                "admin-payout-rejected"
            };
            tr_args(
                lang,
                key,
                &[
                    ("id", Arg::Num(id)),
                    ("amount", Arg::Str(&rub(lang, request.amount_kopecks))),
                    ("user", Arg::Num(request.user_id)),
                ],
            )
        }
        Some((request, false)) => tr_args(
            lang,
            "admin-payout-already",
            &[("id", Arg::Num(id)), ("status", Arg::Str(&request.status))],
        ),
    };
    press.answer().await?;
    // A private chat's id is the user's id.
    press.bot.send_message(ChatId(admin), text).await?;
    Ok(())
}
