//! The user's data, deleted by the side task: `/delete_my_data` requests and
//! the retention of reference photos.
//!
//! A deletion request (written by the handler, `deletion_requests`) is
//! worked in rounds that are each safe to repeat from the top after a crash
//! at any line:
//! 1. money or portraits in flight (an admin's retry, say) → wait;
//! 2. every avatar of the user is marked deleted (nothing of them is shown
//!    or used from now on) and its share links revoked;
//! 3. every object under `avatars/<id>/` (reference photos, previews,
//!    portraits) is deleted from the store;
//! 4. the rows with personal data are deleted or anonymised (`db::privacy`);
//! 5. the store is listed again: an object that arrived meanwhile (an upload
//!    that was in flight) is deleted and the round repeats;
//! 6. the request is closed and the user told, through the queue, in one
//!    transaction that erases the rows once more (whatever was written for
//!    the user meanwhile).
//!
//! Retention: sets delivered (or failed) `[privacy] retention_days` ago
//! give up their reference photos; the avatar is marked first (redos refuse
//! from then on), then each photo's object is deleted, then its row.

use tracing::{info, warn};

use super::WorkerCtx;
use crate::db::privacy::{self, DeletionRequest};
use crate::i18n::tr;

pub(crate) async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let due = ctx.db.run(move |c| privacy::due(c, now, 4)).await?;
    let mut worked = due.len();
    for request in due {
        let (id, attempts) = (request.id, request.attempts);
        if let Err(error) = delete_user(ctx, request, now).await {
            warn!(
                request_id = id,
                error = format!("{error:#}"),
                "data deletion failed, will try again"
            );
            let why = format!("{error:#}");
            let next = now + (5_000i64 << attempts.min(8));
            ctx.db
                .run(move |c| privacy::postpone(c, id, next, &why))
                .await?;
        }
    }
    worked += retention(ctx, now).await?;
    Ok(worked)
}

/// Deletes everything under each avatar's prefix; returns how many objects were there.
async fn delete_objects(ctx: &WorkerCtx, avatar_ids: &[i64]) -> anyhow::Result<usize> {
    let mut deleted = 0;
    for avatar_id in avatar_ids {
        for key in ctx.store.list(&format!("avatars/{avatar_id}/")).await? {
            ctx.store.delete(&key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

async fn delete_user(ctx: &WorkerCtx, request: DeletionRequest, now: i64) -> anyhow::Result<()> {
    let (id, user_id) = (request.id, request.user_id);
    // 1. Never while money or portraits are on their way (the handler
    //    refused then; an admin may have started something since).
    let held = ctx
        .db
        .run(move |c| {
            if privacy::sending_to(c, user_id)? {
                return Ok(Some((2_000, "a message to the user is being sent")));
            }
            Ok(match privacy::busy(c, user_id)? {
                Some(privacy::Busy::AlreadyDeleting) | None => None,
                Some(_) => Some((60_000, "money or portraits in flight")),
            })
        })
        .await?;
    if let Some((wait, why)) = held {
        info!(request_id = id, user_id, why, "data deletion waits");
        ctx.db
            .run(move |c| privacy::postpone(c, id, now + wait, why))
            .await?;
        return Ok(());
    }
    // 2. Nothing of the user's sets is used or shown from here on.
    let avatar_ids = ctx
        .db
        .run(move |c| privacy::mark_avatars_deleted(c, user_id, now))
        .await?;
    // 3. The objects, before the rows that name them.
    let objects = delete_objects(ctx, &avatar_ids).await?;
    // 4. The rows.
    ctx.db
        .run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            privacy::erase_rows(&tx, user_id, now)?;
            tx.commit()
        })
        .await?;
    // 5. Anything stored meanwhile goes too, and the round repeats.
    let late = delete_objects(ctx, &avatar_ids).await?;
    if late > 0 {
        info!(
            request_id = id,
            user_id, late, "objects stored during the deletion removed; once more"
        );
        ctx.db
            .run(move |c| privacy::postpone(c, id, now, "objects stored meanwhile"))
            .await?;
        return Ok(());
    }
    // 6. Done, and the user is told. The rows are erased once more in the
    //    closing transaction: anything written for the user since step 4 (a
    //    referral notice, say) goes too; a message being sent right now
    //    makes the round wait for it.
    let closed = ctx
        .db
        .run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if privacy::sending_to(&tx, user_id)? {
                privacy::postpone(&tx, id, now + 2_000, "a message to the user is being sent")?;
                tx.commit()?;
                return Ok(false);
            }
            privacy::erase_rows(&tx, user_id, now)?;
            let closed = privacy::finish(&tx, id, user_id, now)?;
            if closed {
                let dedup = format!("deletion:{id}:done");
                super::tell(&tx, user_id, &dedup, now, |lang| {
                    tr(lang, "privacy-deleted")
                })?;
            }
            tx.commit()?;
            Ok(closed)
        })
        .await?;
    if closed {
        info!(
            request_id = id,
            user_id,
            avatars = avatar_ids.len(),
            objects,
            "user data deleted"
        );
        ctx.wake.notify_one();
    }
    Ok(())
}

/// Reference photos of sets delivered more than `retention_days` ago.
async fn retention(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let cutoff = now - ctx.config.privacy.retention_ms();
    let marked = ctx
        .db
        .run(move |c| privacy::expire_photos(c, cutoff, now, 50))
        .await?;
    if !marked.is_empty() {
        info!(avatars = ?marked, "reference photos expired");
    }
    let expired = ctx.db.run(|c| privacy::expired_photos(c, 100)).await?;
    let count = expired.len();
    for (photo_id, key) in expired {
        ctx.store.delete(&key).await?;
        ctx.db
            .run(move |c| privacy::forget_photo(c, photo_id))
            .await?;
    }
    Ok(marked.len() + count)
}
