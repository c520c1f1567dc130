//! A press of an inline button: what the handlers of the buttons share —
//! who pressed, the answers that stop the button's spinner, the refusal of
//! a press naming what is not the user's, and the look-ups of the user's
//! own set by the id the button carries (an id from a button is never
//! trusted: the set is looked up together with its owner).

use teloxide::prelude::*;

use super::BotCtx;
use super::handlers::{HandlerResult, UserCtx};
use crate::chat::TgBot;
use crate::db::{avatars, portraits};
use crate::i18n::{Lang, tr};

/// A press of an inline button, with what every handler of one needs.
#[derive(Clone, Copy)]
pub(crate) struct Press<'a> {
    pub(crate) bot: &'a TgBot,
    pub(crate) query: &'a CallbackQuery,
    pub(crate) me: &'a UserCtx,
    pub(crate) ctx: &'a BotCtx,
}

impl Press<'_> {
    pub(crate) fn lang(&self) -> Lang {
        self.me.lang
    }

    pub(crate) fn user_id(&self) -> i64 {
        self.me.user.id
    }

    /// Stops the button's spinner, saying nothing.
    pub(crate) async fn answer(&self) -> HandlerResult {
        self.bot
            .answer_callback_query(self.query.id.clone())
            .await?;
        Ok(())
    }

    /// Stops the spinner with a short notice over the chat.
    pub(crate) async fn toast_text(&self, text: String) -> HandlerResult {
        self.bot
            .answer_callback_query(self.query.id.clone())
            .text(text)
            .await?;
        Ok(())
    }

    /// Stops the spinner with the notice of the locale key `key`.
    pub(crate) async fn toast(&self, key: &str) -> HandlerResult {
        self.toast_text(tr(self.lang(), key)).await
    }

    /// A press naming what is not the user's (another user's, not ready,
    /// gone, forged, stale): nothing changes, and the notice says so.
    pub(crate) async fn refuse(&self) -> HandlerResult {
        self.toast("unexpected-button").await
    }

    /// Replaces the message under the button by `text` (its buttons go).
    pub(crate) async fn edit(&self, text: String) -> HandlerResult {
        if let Some(message) = self.query.regular_message() {
            self.bot
                .edit_message_text(message.chat.id, message.id, text)
                .await?;
        }
        Ok(())
    }

    /// Whether `avatar_id` is the presser's own ready set with portraits
    /// ([`own_ready_set`]).
    pub(crate) async fn owns_ready_set(&self, avatar_id: i64) -> anyhow::Result<bool> {
        let user_id = self.user_id();
        Ok(self
            .ctx
            .db
            .run(move |c| Ok(own_ready_set(c, avatar_id, user_id)?.is_some()))
            .await?)
    }
}

/// The avatar `avatar_id` if it is the user's own and ready; `None` for
/// any other (another user's, not ready, deleted, forged).
pub(crate) fn own_ready(
    c: &rusqlite::Connection,
    avatar_id: i64,
    user_id: i64,
) -> rusqlite::Result<Option<avatars::Avatar>> {
    Ok(avatars::get_owned(c, avatar_id, user_id)?
        .filter(|a| a.status == avatars::AvatarStatus::Ready))
}

/// The portraits of the user's own ready set `avatar_id`; `None` for any
/// other (another user's, not ready, without portraits, forged).
pub(crate) fn own_ready_set(
    c: &rusqlite::Connection,
    avatar_id: i64,
    user_id: i64,
) -> rusqlite::Result<Option<Vec<portraits::Portrait>>> {
    let Some(avatar) = own_ready(c, avatar_id, user_id)? else {
        return Ok(None);
    };
    let made = portraits::for_avatar(c, avatar.id)?;
    Ok((!made.is_empty()).then_some(made))
}
