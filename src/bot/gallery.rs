//! `/gallery`: the user's sets of portraits, each one sent again on request —
//! by the Telegram file_id remembered at the first delivery, so nothing is
//! uploaded twice. The albums go through the persistent queue like any
//! delivery (Telegram's limits, retries), followed by a small message with
//! the set's actions ([`action_buttons`]): download as ZIP (built by the side
//! task, `worker::zip`) and a share link (`t.me/<bot>?start=g_<token>`) that
//! shows this one set, and nothing else of its owner, to whoever opens it,
//! until the owner revokes it.

use std::sync::Arc;

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::BotCtx;
use super::handlers::{HandlerResult, UserCtx};
use super::press::{Press, own_ready_set};
use crate::chat::TgBot;
use crate::chat::callback::Callback;
use crate::chat::outbox::albums;
use crate::chat::outbox::{self, Button, Delivery, Outgoing};
use crate::chat::sets::action_buttons;
use crate::db::{self, avatars, galleries, portraits, queue};
use crate::i18n::{Arg, Lang, tr, tr_args};

pub(crate) async fn list(bot: TgBot, msg: Message, me: UserCtx, ctx: Arc<BotCtx>) -> HandlerResult {
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
pub(crate) async fn show(press: Press<'_>, avatar_id: i64) -> HandlerResult {
    let (lang, user_id, ctx) = (press.lang(), press.user_id(), press.ctx);
    let caption = tr(lang, "gallery-caption");
    let request_key = press.query.id.0.clone();
    let now = ctx.clock.now_ms();
    let queued = ctx
        .db
        .run(move |c| {
            let Some(made) = own_ready_set(c, avatar_id, user_id)? else {
                return Ok(false);
            };
            let tx = c.transaction()?;
            for (i, album) in albums(&made, &caption).iter().enumerate() {
                let key = format!("gallery:{avatar_id}:{request_key}:{i}");
                outbox::enqueue(&tx, user_id, album, &key, Delivery::Essential, now)?;
            }
            // Under the set: what else can be done with it.
            let actions = Outgoing::Text {
                text: tr(lang, "gallery-actions"),
                buttons: action_buttons(lang, avatar_id),
            };
            let key = format!("gallery:{avatar_id}:{request_key}:actions");
            outbox::enqueue(&tx, user_id, &actions, &key, Delivery::Essential, now)?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    press
        .toast(woken(ctx, queued, "gallery-sending", "unexpected-button"))
        .await
}

/// `sent` when something was queued (and the side task is woken for it),
/// `not_sent` otherwise.
fn woken<'k>(ctx: &BotCtx, queued: bool, sent: &'k str, not_sent: &'k str) -> &'k str {
    if queued {
        ctx.wake.notify_one();
        sent
    } else {
        not_sent
    }
}

/// A press naming a set that is not the user's own ready one: nothing changes.
async fn refuse(press: Press<'_>) -> HandlerResult {
    tracing::info!(query_id = %press.query.id.0, "gallery button for a set that is not the user's");
    press.refuse().await
}

/// "Download as ZIP": queues the request; the side task builds and sends it.
/// A second press while the archive is still on its way queues nothing.
pub(crate) async fn zip(press: Press<'_>, avatar_id: i64) -> HandlerResult {
    if !press.owns_ready_set(avatar_id).await? {
        return refuse(press).await;
    }
    let (user_id, ctx) = (press.user_id(), press.ctx);
    let prefix = format!("zip:{avatar_id}:");
    let key = format!("{prefix}{}", press.query.id.0);
    let now = ctx.clock.now_ms();
    let queued = ctx
        .db
        .run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if queue::pending_with_prefix(&tx, &prefix)? {
                return Ok(false);
            }
            let request = Outgoing::ZipRequest { avatar_id };
            outbox::enqueue(&tx, user_id, &request, &key, Delivery::Essential, now)?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    press
        .toast(woken(
            ctx,
            queued,
            "gallery-zip-preparing",
            "gallery-zip-already",
        ))
        .await
}

/// An unguessable share token: 24 characters of the 64 URL-safe ones from
/// the thread-local CSPRNG (ChaCha, seeded by the OS): 144 bits.
pub fn new_share_token() -> String {
    use rand::RngCore;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 63)] as char)
        .collect()
}

/// "Share link": the set's live link (made on the first press, the same one
/// after), with a button to revoke it.
pub(crate) async fn share(press: Press<'_>, avatar_id: i64) -> HandlerResult {
    if !press.owns_ready_set(avatar_id).await? {
        return refuse(press).await;
    }
    let (lang, bot, ctx) = (press.lang(), press.bot, press.ctx);
    let token = new_share_token();
    let now = ctx.clock.now_ms();
    let gallery = ctx
        .db
        .run(move |c| galleries::live_or_create(c, avatar_id, &token, now))
        .await?;
    let me_bot = bot.get_me().await?;
    let username = me_bot.user.username.clone().unwrap_or_default();
    let link = format!("https://t.me/{username}?start=g_{}", gallery.token);
    press.answer().await?;
    let revoke = InlineKeyboardButton::callback(
        tr(lang, "gallery-button-revoke"),
        Callback::RevokeShare(avatar_id).encode(),
    );
    bot.send_message(
        ChatId(press.user_id()),
        tr_args(lang, "gallery-share-link", &[("link", Arg::Str(&link))]),
    )
    .reply_markup(InlineKeyboardMarkup::new([[revoke]]))
    .await?;
    Ok(())
}

/// "Revoke link": whoever opens it from now on is told the owner removed it.
pub(crate) async fn revoke(press: Press<'_>, avatar_id: i64) -> HandlerResult {
    let (user_id, ctx) = (press.user_id(), press.ctx);
    let now = ctx.clock.now_ms();
    let revoked = ctx
        .db
        .run(move |c| match avatars::get_owned(c, avatar_id, user_id)? {
            Some(_) => galleries::revoke(c, avatar_id, now).map(Some),
            None => Ok(None),
        })
        .await?;
    let Some(revoked) = revoked else {
        return refuse(press).await;
    };
    press
        .toast(if revoked {
            "gallery-revoked-toast"
        } else {
            "gallery-revoked-already"
        })
        .await?;
    if revoked {
        press.edit(tr(press.lang(), "gallery-revoked")).await?;
    }
    Ok(())
}

/// The button under a shared set: start one's own portraits.
fn make_own_keyboard(lang: Lang) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(
        tr(lang, "gallery-button-make-own"),
        Callback::StartOwn.encode(),
    )]])
}

/// `/start g_<token>`: the shared set (its portraits by file_id, through
/// the queue, captioned without anything of the owner) and a button to make
/// one's own; a revoked or unknown link is explained politely.
pub(crate) async fn open_shared(
    bot: &TgBot,
    msg: &Message,
    me: &UserCtx,
    ctx: &BotCtx,
    token: String,
) -> HandlerResult {
    enum Found {
        Unknown,
        Revoked,
        Deleted,
        Shown,
        /// This viewer opened it too often today, or everyone did.
        ViewerLimit,
        SetLimit,
    }
    let (lang, viewer) = (me.lang, me.user.id);
    let caption = tr(lang, "gallery-shared-caption");
    let invite = Outgoing::Text {
        text: tr(lang, "gallery-shared-invite"),
        buttons: vec![vec![Button::Callback {
            text: tr(lang, "gallery-button-make-own"),
            data: Callback::StartOwn.encode(),
        }]],
    };
    let request_key = format!("{}:{}", msg.chat.id.0, msg.id.0);
    let now = ctx.clock.now_ms();
    let (per_viewer, per_set) = (
        ctx.config.gallery.share_opens_per_viewer_per_day,
        ctx.config.gallery.share_opens_per_set_per_day,
    );
    let found = ctx
        .db
        .run(move |c| {
            let Some(gallery) = galleries::by_token(c, &token)? else {
                return Ok(Found::Unknown);
            };
            // The owner deleted their data (`/delete_my_data`): said as such.
            if db::privacy::avatar_deleted(c, gallery.avatar_id)? {
                return Ok(Found::Deleted);
            }
            if gallery.revoked_at.is_some() {
                return Ok(Found::Revoked);
            }
            let shown = avatars::get(c, gallery.avatar_id)?
                .filter(|a| a.status == avatars::AvatarStatus::Ready);
            let made = match shown {
                Some(avatar) => portraits::for_avatar(c, avatar.id)?,
                None => Vec::new(),
            };
            if made.is_empty() {
                return Ok(Found::Unknown);
            }
            // Immediate: the count and the rows it limits in one write.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let day_ago = now - 24 * 3_600_000;
            let (by_viewer, by_all) = galleries::opens_since(&tx, gallery.id, viewer, day_ago)?;
            if by_viewer >= per_viewer {
                return Ok(Found::ViewerLimit);
            }
            if by_all >= per_set {
                return Ok(Found::SetLimit);
            }
            for (i, album) in albums(&made, &caption).iter().enumerate() {
                let key = format!("shared:{}:{request_key}:{i}", gallery.id);
                outbox::enqueue(&tx, viewer, album, &key, Delivery::Essential, now)?;
            }
            let key = format!("shared:{}:{request_key}:invite", gallery.id);
            outbox::enqueue(&tx, viewer, &invite, &key, Delivery::Essential, now)?;
            tx.commit()?;
            Ok(Found::Shown)
        })
        .await?;
    let key = match found {
        Found::Shown => {
            tracing::info!(viewer, "shared gallery opened");
            ctx.wake.notify_one();
            return Ok(());
        }
        Found::ViewerLimit => "gallery-shared-limit-viewer",
        Found::SetLimit => "gallery-shared-limit-set",
        Found::Revoked => "gallery-shared-revoked",
        Found::Deleted => "gallery-shared-deleted",
        Found::Unknown => "gallery-not-found",
    };
    bot.send_message(msg.chat.id, tr(lang, key))
        .reply_markup(make_own_keyboard(lang))
        .await?;
    Ok(())
}
