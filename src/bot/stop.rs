//! `/stop`: no more non-essential messages (reminders). Essential ones —
//! payment links, receipts, portraits, refunds — still go. A button under
//! the answer turns reminders back on.

use std::sync::Arc;

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::BotCtx;
use super::handlers::{HandlerResult, UserCtx};
use super::press::Press;
use crate::chat::TgBot;
use crate::chat::callback::Callback;
use crate::chat::outbox::SKIPPED_STOPPED;
use crate::db::{queue, users};
use crate::i18n::tr;

pub(crate) async fn stop(bot: TgBot, msg: Message, me: UserCtx, ctx: Arc<BotCtx>) -> HandlerResult {
    let user_id = me.user.id;
    ctx.db
        .run(move |c| {
            let tx = c.transaction()?;
            users::set_stopped(&tx, user_id, true)?;
            // Whatever non-essential is already queued goes nowhere either.
            queue::skip_non_essential_for_stopped(&tx, SKIPPED_STOPPED)?;
            tx.commit()
        })
        .await?;
    tracing::info!(user_id, "reminders stopped (/stop)");
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(
        tr(me.lang, "stop-button-resume"),
        Callback::ResumeReminders.encode(),
    )]]);
    bot.send_message(msg.chat.id, tr(me.lang, "stop-done"))
        .reply_markup(keyboard)
        .await?;
    Ok(())
}

/// The button under the /stop answer: reminders on again.
pub(crate) async fn resume(press: Press<'_>) -> HandlerResult {
    let user_id = press.user_id();
    press
        .ctx
        .db
        .run(move |c| users::set_stopped(c, user_id, false))
        .await?;
    tracing::info!(user_id, "reminders resumed");
    press.answer().await?;
    let text = tr(press.lang(), "stop-resumed");
    match press.query.regular_message() {
        Some(message) => {
            press
                .bot
                .edit_message_text(message.chat.id, message.id, text)
                .await?;
        }
        None => {
            press.bot.send_message(ChatId(user_id), text).await?;
        }
    }
    Ok(())
}
