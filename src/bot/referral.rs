//! The referral programme in chat: `/start ref_<code>` (attribution, first
//! touch only), `/referral` (the link, who was brought, what was earned and
//! what is left) and its payout button. The money itself moves in the side
//! task (`worker::referrals`) and in `purchase::request_payment` (the
//! discount); the arithmetic is in `db::referrals`.

use std::sync::Arc;

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::BotCtx;
use super::handlers::{HandlerResult, UserCtx};
use super::press::Press;
use crate::chat::TgBot;
use crate::chat::callback::Callback;
use crate::chat::lang_of;
use crate::chat::outbox::{self, Delivery, Outgoing};
use crate::db::referrals::{self, Payout};
use crate::db::users;
use crate::i18n::{Arg, Lang, rub, tr, tr_args};

/// What opening a referral link did.
enum Arrival {
    Attributed,
    /// The user opened their own link.
    Own,
    /// The user had used the bot before this link: no attribution.
    NotNew,
    /// No user has this code (a mistyped or made-up link).
    Unknown,
}

/// `/start ref_<code>`: a brand-new user is attributed to the code's owner
/// (first touch only, never oneself); anyone else is told why not, politely.
pub(crate) async fn arrived_by_link(
    bot: &TgBot,
    chat: ChatId,
    me: &UserCtx,
    ctx: &BotCtx,
    code: String,
) -> HandlerResult {
    let (user_id, is_new) = (me.user.id, me.is_new);
    let arrival = ctx
        .db
        .run(move |c| {
            let Some(referrer) = users::by_referral_code(c, &code)? else {
                return Ok(Arrival::Unknown);
            };
            if referrer.id == user_id {
                return Ok(Arrival::Own);
            }
            if !is_new {
                return Ok(Arrival::NotNew);
            }
            Ok(if users::attribute_referrer(c, user_id, referrer.id)? {
                Arrival::Attributed
            } else {
                Arrival::NotNew
            })
        })
        .await?;
    let key = match arrival {
        Arrival::Attributed => {
            tracing::info!(user_id, "referral attributed");
            "start-referral-welcome"
        }
        Arrival::Own => "referral-self",
        Arrival::NotNew => "referral-not-new",
        Arrival::Unknown => return Ok(()),
    };
    bot.send_message(chat, tr(me.lang, key)).await?;
    Ok(())
}

/// The user's invitation link: `https://t.me/<bot>?start=ref_<code>`.
pub(crate) fn link(bot_username: &str, code: &str) -> String {
    format!("https://t.me/{bot_username}?start=ref_{code}")
}

/// The text of `/referral` for a summary.
pub(crate) fn summary_text(
    lang: Lang,
    percent: u32,
    link: &str,
    summary: &referrals::Summary,
) -> String {
    let money =
        |key: &str, amount: i64| tr_args(lang, key, &[("amount", Arg::Str(&rub(lang, amount)))]);
    let mut lines = vec![
        tr_args(lang, "referral-title", &[("percent", percent.into())]),
        tr_args(lang, "referral-link", &[("link", Arg::Str(link))]),
        String::new(),
        tr_args(
            lang,
            "referral-stats",
            &[
                ("brought", summary.brought.into()),
                ("credits", summary.credits.into()),
                ("earned", Arg::Str(&rub(lang, summary.earned))),
            ],
        ),
    ];
    if summary.reversed > 0 {
        lines.push(money("referral-reversed", summary.reversed));
    }
    if summary.spent > 0 {
        lines.push(money("referral-spent", summary.spent));
    }
    if summary.paid_out > 0 {
        lines.push(money("referral-paid-out", summary.paid_out));
    }
    if summary.requested > 0 {
        lines.push(money("referral-requested", summary.requested));
    }
    lines.push(money("referral-balance", summary.available()));
    lines.push(String::new());
    lines.push(tr(lang, "referral-how-spend"));
    lines.join("\n")
}

/// `/referral`.
pub(crate) async fn show(bot: TgBot, msg: Message, me: UserCtx, ctx: Arc<BotCtx>) -> HandlerResult {
    let lang = me.lang;
    let user_id = me.user.id;
    // getMe is cached by the bot adaptor: one call per process.
    let username = bot
        .get_me()
        .await?
        .user
        .username
        .clone()
        .unwrap_or_default();
    let summary = ctx.db.run(move |c| referrals::summary(c, user_id)).await?;
    let text = summary_text(
        lang,
        ctx.config.referral.percent,
        &link(&username, &me.user.referral_code),
        &summary,
    );
    let mut request = bot.send_message(msg.chat.id, text);
    if summary.available() > 0 && summary.requested == 0 {
        request = request.reply_markup(InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback(
                tr(lang, "referral-button-payout"),
                Callback::RequestPayout.encode(),
            ),
        ]]));
    }
    request.await?;
    Ok(())
}

/// The payout button: one request for the whole available balance (at most
/// one open per user), and every admin told through the queue in the same
/// transaction.
pub(crate) async fn request_payout(press: Press<'_>) -> HandlerResult {
    let (lang, bot, ctx) = (press.lang(), press.bot, press.ctx);
    let user = press.me.user.clone();
    let admins = ctx.config.bot.admin_ids.clone();
    let now = ctx.clock.now_ms();
    let outcome = ctx
        .db
        .run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let outcome = referrals::request_payout(&tx, user.id, now)?;
            if let Payout::Requested(request) = &outcome {
                for &admin in &admins {
                    let admin_lang = lang_of(&tx, admin)?;
                    let username = match &user.username {
                        Some(name) => format!("@{name}"),
                        None => tr(admin_lang, "referral-no-username"),
                    };
                    let text = tr_args(
                        admin_lang,
                        "referral-payout-admin",
                        &[
                            ("id", request.id.into()),
                            ("amount", Arg::Str(&rub(admin_lang, request.amount_kopecks))),
                            ("user_id", Arg::Str(&user.id.to_string())),
                            ("username", Arg::Str(&username)),
                            ("name", Arg::Str(&user.first_name)),
                        ],
                    );
                    outbox::enqueue(
                        &tx,
                        admin,
                        &Outgoing::text(text),
                        &format!("payout:{}:admin:{admin}", request.id),
                        Delivery::Essential,
                        now,
                    )?;
                }
            }
            tx.commit()?;
            Ok(outcome)
        })
        .await?;
    match outcome {
        Payout::Requested(request) => {
            tracing::info!(
                user_id = request.user_id,
                payout_id = request.id,
                amount = request.amount_kopecks,
                "payout requested"
            );
            if ctx.config.bot.admin_ids.is_empty() {
                tracing::warn!(
                    payout_id = request.id,
                    "payout requested but no admin is configured"
                );
            }
            ctx.wake.notify_one();
            press.answer().await?;
            let text = tr_args(
                lang,
                "referral-payout-requested",
                &[("amount", Arg::Str(&rub(lang, request.amount_kopecks)))],
            );
            // A private chat's id is the user's id.
            bot.send_message(ChatId(request.user_id), text).await?;
        }
        Payout::AlreadyOpen(request) => {
            let text = tr_args(
                lang,
                "referral-payout-open",
                &[("amount", Arg::Str(&rub(lang, request.amount_kopecks)))],
            );
            press.toast_text(text).await?;
        }
        Payout::NothingToPay => {
            press.toast("referral-payout-nothing").await?;
        }
    }
    Ok(())
}
