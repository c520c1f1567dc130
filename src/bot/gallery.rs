//! `/gallery`: the user's sets of portraits, each one sent again on request —
//! by the Telegram file_id remembered at the first delivery, so nothing is
//! uploaded twice. The albums go through the persistent queue like any
//! delivery (Telegram's limits, retries).

use std::sync::Arc;

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::callback::Callback;
use super::handlers::{HandlerResult, UserCtx};
use super::{BotCtx, TgBot};
use crate::db::{self, avatars, portraits};
use crate::i18n::{Arg, tr, tr_args};
use crate::worker::generation::albums;
use crate::worker::outbox;

pub async fn list(bot: TgBot, msg: Message, me: UserCtx, ctx: Arc<BotCtx>) -> HandlerResult {
    let lang = me.lang;
    let user_id = me.user.id;
    let ready: Vec<(avatars::Avatar, usize)> = ctx
        .db
        .run(move |c| {
            avatars::list_for_user(c, user_id)?
                .into_iter()
                .filter(|a| a.status == avatars::AvatarStatus::Ready)
                .map(|a| {
                    let count = portraits::for_avatar(c, a.id)?.len();
                    Ok((a, count))
                })
                .collect()
        })
        .await?;
    if ready.is_empty() {
        bot.send_message(msg.chat.id, tr(lang, "gallery-empty"))
            .await?;
        return Ok(());
    }
    let rows = ready.iter().enumerate().map(|(i, (avatar, count))| {
        let label = tr_args(
            lang,
            "gallery-button-show",
            &[
                ("number", (i + 1).into()),
                (
                    "portraits",
                    Arg::Str(&tr_args(lang, "portraits", &[("count", (*count).into())])),
                ),
            ],
        );
        [InlineKeyboardButton::callback(
            label,
            Callback::ShowGallery(avatar.id).encode(),
        )]
    });
    bot.send_message(msg.chat.id, tr(lang, "gallery-title"))
        .reply_markup(InlineKeyboardMarkup::new(rows))
        .await?;
    Ok(())
}

/// Sends one ready set again, if it is this user's.
pub async fn show(
    bot: &TgBot,
    query: &CallbackQuery,
    me: &UserCtx,
    ctx: &BotCtx,
    avatar_id: i64,
) -> HandlerResult {
    let lang = me.lang;
    let user_id = me.user.id;
    let caption = tr(lang, "gallery-caption");
    let request_key = query.id.0.clone();
    let queued = ctx
        .db
        .run(move |c| {
            let Some(avatar) = avatars::get_owned(c, avatar_id, user_id)? else {
                return Ok(false);
            };
            let made = portraits::for_avatar(c, avatar.id)?;
            if avatar.status != avatars::AvatarStatus::Ready || made.is_empty() {
                return Ok(false);
            }
            let tx = c.transaction()?;
            for (i, album) in albums(&made, &caption).iter().enumerate() {
                let key = format!("gallery:{avatar_id}:{request_key}:{i}");
                outbox::enqueue(&tx, user_id, album, &key, true, db::now_ms())?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await?;
    let key = if queued {
        ctx.wake.notify_one();
        "gallery-sending"
    } else {
        "unexpected-button"
    };
    bot.answer_callback_query(query.id.clone())
        .text(tr(lang, key))
        .await?;
    Ok(())
}
