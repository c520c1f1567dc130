//! The free things in chat: the preview before paying (started by the
//! Generate button) and the redo of one portrait of a ready set. Handlers
//! only write the job to SQLite; the side task makes it on Kie and sends it.

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::handlers::{HandlerResult, Step};
use super::press::{Press, own_ready};
use super::state::State;
use crate::chat::callback::Callback;
use crate::db::jobs::{self, FreeJob, NewTask};
use crate::db::{avatars, portraits};
use crate::i18n::{tr, tr_args};

/// The style the preview is made in (the first of the catalogue).
const PREVIEW_STYLE: u32 = 0;

/// Generate: with the preview on for this user and not used yet, start it
/// and show the packages with it when it is ready; otherwise the packages now.
pub(crate) async fn generate(step: Step<'_>, avatar_id: i64) -> HandlerResult {
    let (me, ctx) = (step.me, step.ctx);
    if !crate::ab::preview_enabled(&ctx.config, &me.assignments) {
        return super::purchase::show_packages(step, avatar_id).await;
    }
    let user_id = me.user.id;
    let min = ctx.config.upload.min_photos;
    let max_refs = ctx.config.kie.max_references;
    let now = ctx.clock.now_ms();
    let started = ctx
        .db
        .run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(avatar) = avatars::get_owned(&tx, avatar_id, user_id)? else {
                return Ok(None);
            };
            if avatar.status != avatars::AvatarStatus::Draft
                || avatars::photo_count(&tx, avatar_id)? < min
                || jobs::preview_of_user(&tx, user_id)?.is_some()
            {
                return Ok(None);
            }
            let keys: Vec<String> = avatars::photos(&tx, avatar_id)?
                .into_iter()
                .map(|p| p.object_key)
                .collect();
            let reference_keys = crate::media::spread_references(&keys, 1, max_refs)
                .pop()
                .unwrap_or_default();
            let task = NewTask {
                prompt_index: PREVIEW_STYLE,
                reference_keys,
            };
            let created = jobs::create_preview(&tx, avatar_id, user_id, &task, now)?;
            tx.commit()?;
            Ok(match created {
                FreeJob::Created(job) => Some(job),
                FreeJob::PreviewUsed => None,
            })
        })
        .await?;
    let Some(job) = started else {
        // Not a draft of this user, too few photos (both explained there), or
        // the one preview was had already: the packages.
        return super::purchase::show_packages(step, avatar_id).await;
    };
    tracing::info!(user_id, avatar_id, job_id = job.id, "free preview started");
    ctx.wake.notify_one();
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(
        tr(me.lang, "preview-button-skip"),
        Callback::Packages(avatar_id).encode(),
    )]]);
    // The state first: an answer Telegram took but did not acknowledge
    // must not leave the chat in the previous step.
    step.dialogue
        .update(State::ChoosingPackage { avatar_id })
        .await?;
    step.bot
        .send_message(step.chat, tr(me.lang, "preview-started"))
        .reply_markup(keyboard)
        .await?;
    Ok(())
}

/// How many free redos a set has and how many are used.
fn redo_quota(
    c: &rusqlite::Connection,
    config: &crate::config::Config,
    avatar_id: i64,
) -> rusqlite::Result<(u32, u32)> {
    let quota = config
        .regenerate
        .quota(jobs::paid_total(c, avatar_id)?.unwrap_or(0));
    Ok((quota, jobs::redos_used(c, avatar_id)?))
}

/// "Redo a portrait": the set's portraits as numbered buttons.
pub(crate) async fn choose(press: Press<'_>, avatar_id: i64) -> HandlerResult {
    let (lang, user_id, bot, ctx) = (press.lang(), press.user_id(), press.bot, press.ctx);
    let config = ctx.config.clone();
    let found = ctx
        .db
        .run(move |c| {
            if own_ready(c, avatar_id, user_id)?.is_none() {
                return Ok(None);
            }
            let (quota, used) = redo_quota(c, &config, avatar_id)?;
            let running = jobs::redo_running(c, avatar_id)?;
            let expired = crate::db::privacy::photos_expired(c, avatar_id)?;
            Ok(Some((
                portraits::for_avatar(c, avatar_id)?,
                quota,
                used,
                running,
                expired,
            )))
        })
        .await?;
    let Some((made, quota, used, running, expired)) = found else {
        return press.refuse().await;
    };
    press.answer().await?;
    let chat = ChatId(user_id);
    if expired {
        // Retention deleted the reference photos a redo would need.
        let days = ctx.config.privacy.retention_days;
        let text = tr_args(lang, "redo-photos-expired", &[("days", days.into())]);
        bot.send_message(chat, text).await?;
        return Ok(());
    }
    if running {
        bot.send_message(chat, tr(lang, "redo-running")).await?;
        return Ok(());
    }
    if used >= quota {
        bot.send_message(
            chat,
            tr_args(lang, "redo-quota-used", &[("quota", quota.into())]),
        )
        .await?;
        return Ok(());
    }
    let buttons: Vec<InlineKeyboardButton> = made
        .iter()
        .enumerate()
        .map(|(i, p)| {
            InlineKeyboardButton::callback(
                tr_args(lang, "redo-number-button", &[("number", (i + 1).into())]),
                Callback::RedoPortrait(p.id).encode(),
            )
        })
        .collect();
    let rows: Vec<Vec<InlineKeyboardButton>> = buttons.chunks(6).map(<[_]>::to_vec).collect();
    bot.send_message(
        chat,
        tr_args(lang, "redo-choose", &[("left", (quota - used).into())]),
    )
    .reply_markup(InlineKeyboardMarkup::new(rows))
    .await?;
    Ok(())
}

/// Why a redo was not started.
enum RedoRefusal {
    NotOwned,
    Running,
    QuotaUsed(u32),
    PhotosExpired,
}

/// Redo one portrait: a new take of its style, counted against the free quota.
pub(crate) async fn redo(press: Press<'_>, portrait_id: i64) -> HandlerResult {
    let (lang, user_id, ctx) = (press.lang(), press.user_id(), press.ctx);
    let config = ctx.config.clone();
    let now = ctx.clock.now_ms();
    let outcome = ctx
        .db
        .run(move |c| {
            // Immediate: the quota is read and spent in one step, so two
            // quick presses cannot both pass it.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(portrait) = portraits::get_owned(&tx, portrait_id, user_id)? else {
                return Ok(Err(RedoRefusal::NotOwned));
            };
            let ready = avatars::get(&tx, portrait.avatar_id)?
                .is_some_and(|a| a.status == avatars::AvatarStatus::Ready);
            let Some(original) = jobs::task(&tx, portrait.task_id)?.filter(|_| ready) else {
                return Ok(Err(RedoRefusal::NotOwned));
            };
            if crate::db::privacy::photos_expired(&tx, portrait.avatar_id)? {
                return Ok(Err(RedoRefusal::PhotosExpired));
            }
            if jobs::redo_running(&tx, portrait.avatar_id)? {
                return Ok(Err(RedoRefusal::Running));
            }
            let (quota, used) = redo_quota(&tx, &config, portrait.avatar_id)?;
            if used >= quota {
                return Ok(Err(RedoRefusal::QuotaUsed(quota)));
            }
            let number = portraits::for_avatar(&tx, portrait.avatar_id)?
                .iter()
                .position(|p| p.id == portrait.id)
                .map_or(0, |i| i + 1);
            let job = jobs::create_redo(&tx, portrait.avatar_id, user_id, &original, now)?;
            tx.commit()?;
            Ok(Ok((job, number, quota - used - 1)))
        })
        .await?;
    let text = match outcome {
        Err(RedoRefusal::NotOwned) => return press.refuse().await,
        Err(RedoRefusal::Running) => tr(lang, "redo-running"),
        Err(RedoRefusal::PhotosExpired) => tr_args(
            lang,
            "redo-photos-expired",
            &[("days", ctx.config.privacy.retention_days.into())],
        ),
        Err(RedoRefusal::QuotaUsed(quota)) => {
            tr_args(lang, "redo-quota-used", &[("quota", quota.into())])
        }
        Ok((job, number, left)) => {
            tracing::info!(
                user_id,
                job_id = job.id,
                avatar_id = job.avatar_id,
                "redo started"
            );
            ctx.wake.notify_one();
            tr_args(
                lang,
                "redo-started",
                &[("number", number.into()), ("left", left.into())],
            )
        }
    };
    press.answer().await?;
    press.bot.send_message(ChatId(user_id), text).await?;
    Ok(())
}
