//! Finishing the free jobs: the preview before paying (made smaller and
//! watermarked, shown with the packages) and the redo of one portrait of a
//! delivered set. Both go through the same queue and the same Kie machinery
//! as a paid job; neither moves the avatar or any money.

use bytes::Bytes;
use tracing::info;

use super::WorkerCtx;
use crate::chat::outbox::{AlbumPhoto, Button, Outgoing};
use crate::db::jobs::{self, Job};
use crate::db::{avatars, portraits};
use crate::i18n::{tr, tr_args};

/// Where the watermarked preview of a job is kept.
pub(crate) fn preview_key(job: &Job) -> String {
    format!("avatars/{}/preview/job{}.jpg", job.avatar_id, job.id)
}

/// The preview is made: store its small watermarked copy, then (once) queue
/// it with the packages — or, if it could not be made, say so with the
/// packages. If the avatar was bought meanwhile, the packages are left out.
pub(crate) async fn finish_preview(ctx: &WorkerCtx, job: Job, now: i64) -> anyhow::Result<()> {
    let job_id = job.id;
    let result_key = ctx
        .db
        .run(move |c| {
            Ok(jobs::tasks(c, job_id)?
                .into_iter()
                .find(|t| t.state == "succeeded")
                .and_then(|t| t.result_key))
        })
        .await?;
    let key = preview_key(&job);
    if let Some(result_key) = &result_key {
        // Derived from the stored result: after a crash it is simply made again.
        let bytes = ctx.store.get(result_key).await?;
        let size = ctx.config.preview.size_px;
        let jpeg =
            tokio::task::spawn_blocking(move || crate::media::preview::make_preview(&bytes, size))
                .await??;
        ctx.store.put(&key, Bytes::from(jpeg), "image/jpeg").await?;
    }
    let config = ctx.config.clone();
    let made = result_key.is_some();
    let queued = super::generation::deliver_once(ctx, job, now, move |tx, lang, job| {
        let draft = avatars::get(tx, job.avatar_id)?
            .is_some_and(|a| a.status == avatars::AvatarStatus::Draft);
        let (packages, rows) = if draft {
            let balance = crate::db::referrals::available(tx, job.user_id)?;
            crate::chat::packages::packages_content(&config, lang, job.avatar_id, balance)
        } else {
            (String::new(), Vec::new())
        };
        let buttons: Vec<Vec<Button>> = rows
            .into_iter()
            .map(|(text, data)| vec![Button::Callback { text, data }])
            .collect();
        let head = tr(
            lang,
            if made {
                "preview-caption"
            } else {
                "preview-failed"
            },
        );
        let text = if packages.is_empty() {
            head
        } else {
            format!("{head}\n\n{packages}")
        };
        let message = if made {
            Outgoing::Photo {
                object_key: key,
                caption: Some(text),
                buttons,
            }
        } else {
            Outgoing::Text { text, buttons }
        };
        let dedup = format!("job:{}:preview", job.id);
        super::queue_essential(tx, job.user_id, &message, &dedup, now)
    })
    .await?;
    if queued.is_some() {
        info!(job_id, made, "preview finished");
    }
    Ok(())
}

/// A redo is made (or could not be): send the new take with its number in
/// the set and the free redos left, or say it failed and was not counted.
pub(crate) async fn finish_redo(ctx: &WorkerCtx, job: Job, now: i64) -> anyhow::Result<()> {
    let job_id = job.id;
    let config = ctx.config.clone();
    let queued = super::generation::deliver_once(ctx, job, now, move |tx, lang, job| {
        let made = portraits::for_job(tx, job.id)?;
        let message = match made.first() {
            Some(portrait) => {
                let all = portraits::for_avatar(tx, job.avatar_id)?;
                let number = all.iter().position(|p| p.id == portrait.id).unwrap_or(0) + 1;
                let quota = config
                    .regenerate
                    .quota(jobs::paid_total(tx, job.avatar_id)?.unwrap_or(0));
                let left = quota.saturating_sub(jobs::redos_used(tx, job.avatar_id)?);
                let caption = tr_args(
                    lang,
                    "redo-caption",
                    &[("number", number.into()), ("left", left.into())],
                );
                Outgoing::Album {
                    photos: vec![AlbumPhoto {
                        portrait_id: portrait.id,
                        object_key: portrait.object_key.clone(),
                    }],
                    caption: Some(caption),
                }
            }
            None => Outgoing::text(tr(lang, "redo-failed")),
        };
        let dedup = format!("job:{}:album:0", job.id);
        super::queue_essential(tx, job.user_id, &message, &dedup, now)?;
        Ok(!made.is_empty())
    })
    .await?;
    if let Some(made) = queued {
        info!(job_id, made, "redo finished");
    }
    Ok(())
}

/// The text and buttons of a ready set's actions, queued after its albums:
/// the same actions `/gallery` offers (ZIP, share link, redo a portrait).
pub(crate) fn actions_message(
    lang: crate::i18n::Lang,
    avatar_id: i64,
    retention_days: u32,
) -> Outgoing {
    // How long the reference photos are kept, said at delivery (issue 8).
    let retention = crate::i18n::tr_args(
        lang,
        "delivery-retention",
        &[("days", retention_days.into())],
    );
    Outgoing::Text {
        text: format!("{}\n\n{retention}", tr(lang, "delivery-actions")),
        buttons: crate::chat::sets::action_buttons(lang, avatar_id),
    }
}
