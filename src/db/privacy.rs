//! The user's control over their data: `/delete_my_data` requests (the
//! intent, written before anything is deleted), what may not be deleted yet
//! (money in flight), the erasure of every row with personal data, and the
//! retention of reference photos of delivered sets.
//!
//! What an erasure keeps, for accounting: the user's numeric id (payments
//! refer to it), payments with their status history, refunds, jobs (what
//! was made and paid to Kie), referral earnings, spends and payout requests,
//! and the avatar rows (ids and tier, marked deleted). What it removes: names,
//! usernames, receipt contacts (also on payments), reference photos,
//! portraits, object keys, share links (kept only as revoked tokens, so a
//! link answers "deleted"), queued and sent messages, the dialogue state,
//! funnel events, A/B assignments and reminders.

use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionRequest {
    pub id: i64,
    pub(crate) user_id: i64,
    pub(crate) requested_at: i64,
    pub(crate) attempts: u32,
}

const REQUEST_COLUMNS: &str = "id, user_id, requested_at, attempts";

fn request_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeletionRequest> {
    Ok(DeletionRequest {
        id: r.get(0)?,
        user_id: r.get(1)?,
        requested_at: r.get(2)?,
        attempts: r.get(3)?,
    })
}

/// The user's deletion request that is not done yet, if any.
pub(crate) fn pending_for_user(
    conn: &Connection,
    user_id: i64,
) -> rusqlite::Result<Option<DeletionRequest>> {
    conn.query_row(
        &format!(
            "SELECT {REQUEST_COLUMNS} FROM deletion_requests WHERE user_id = ?1 AND status = 'pending'"
        ),
        [user_id],
        request_from_row,
    )
    .optional()
}

/// When the user's last finished deletion was asked for: a confirmation
/// button issued before it is stale (pressing it again must not delete
/// what the user made afterwards).
pub(crate) fn last_requested_at(conn: &Connection, user_id: i64) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT MAX(requested_at) FROM deletion_requests WHERE user_id = ?1",
        [user_id],
        |r| r.get(0),
    )
}

/// Why the user's data cannot be deleted right now: money or portraits are
/// on their way, and deleting would lose them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// A payment is created or open (the user may pay any moment).
    OpenPayment,
    /// Portraits (paid, preview or redo) are being made or delivered.
    Generating,
    /// A refund is on its way back to the card.
    Refund,
    /// A referral payout request waits for an admin.
    Payout,
    /// A deletion was asked for and is not finished.
    AlreadyDeleting,
}

/// What holds the deletion back, if anything.
pub(crate) fn busy(conn: &Connection, user_id: i64) -> rusqlite::Result<Option<Busy>> {
    let exists = |sql: &str| -> rusqlite::Result<bool> {
        conn.query_row(&format!("SELECT EXISTS ({sql})"), [user_id], |r| r.get(0))
    };
    if exists("SELECT 1 FROM deletion_requests WHERE user_id = ?1 AND status = 'pending'")? {
        return Ok(Some(Busy::AlreadyDeleting));
    }
    if exists("SELECT 1 FROM payments WHERE user_id = ?1 AND status IN ('new', 'open')")? {
        return Ok(Some(Busy::OpenPayment));
    }
    if exists(
        "SELECT 1 FROM generation_jobs WHERE user_id = ?1 AND status IN ('running', 'delivering')",
    )? {
        return Ok(Some(Busy::Generating));
    }
    if exists(
        "SELECT 1 FROM refunds r JOIN payments p ON p.id = r.payment_id
         WHERE p.user_id = ?1 AND r.status = 'pending'",
    )? {
        return Ok(Some(Busy::Refund));
    }
    if exists("SELECT 1 FROM payout_requests WHERE user_id = ?1 AND status = 'requested'")? {
        return Ok(Some(Busy::Payout));
    }
    Ok(None)
}

/// Writes the request unless one is pending. Returns the pending request
/// and whether it was created now.
pub fn request(
    conn: &Connection,
    user_id: i64,
    now: i64,
) -> rusqlite::Result<(DeletionRequest, bool)> {
    let created = conn.execute(
        "INSERT INTO deletion_requests (user_id, requested_at, next_attempt_at) VALUES (?1, ?2, ?2)
         ON CONFLICT DO NOTHING",
        params![user_id, now],
    )? == 1;
    let pending = pending_for_user(conn, user_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok((pending, created))
}

/// Pending requests whose time has come, oldest first.
pub(crate) fn due(
    conn: &Connection,
    now: i64,
    limit: u32,
) -> rusqlite::Result<Vec<DeletionRequest>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {REQUEST_COLUMNS} FROM deletion_requests
         WHERE status = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2"
    ))?;
    stmt.query_map(params![now, limit], request_from_row)?
        .collect()
}

/// Tries the request again at `next` (something was in flight, or a step failed).
pub fn postpone(conn: &Connection, id: i64, next: i64, why: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE deletion_requests SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3
         WHERE id = ?1 AND status = 'pending'",
        params![id, next, why],
    )?;
    Ok(())
}

/// Whether a queued message to the user is being sent this moment (its row
/// is left alone until it settles).
pub(crate) fn sending_to(conn: &Connection, user_id: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM message_queue WHERE chat_id = ?1 AND status = 'sending')",
        [user_id],
        |r| r.get(0),
    )
}

/// Marks every avatar of the user deleted (nothing of them is shown or used
/// from now on) and revokes their share links. Returns all their ids.
pub fn mark_avatars_deleted(
    conn: &Connection,
    user_id: i64,
    now: i64,
) -> rusqlite::Result<Vec<i64>> {
    conn.execute(
        "UPDATE avatars SET deleted_at = ?2 WHERE user_id = ?1 AND deleted_at IS NULL",
        params![user_id, now],
    )?;
    conn.execute(
        "UPDATE shared_galleries SET revoked_at = ?2
         WHERE revoked_at IS NULL AND avatar_id IN (SELECT id FROM avatars WHERE user_id = ?1)",
        params![user_id, now],
    )?;
    let mut stmt = conn.prepare("SELECT id FROM avatars WHERE user_id = ?1 ORDER BY id")?;
    stmt.query_map([user_id], |r| r.get(0))?.collect()
}

/// Deletes or anonymises every row with the user's personal data, keeping
/// what accounting needs (see the module's comment). Idempotent.
pub(crate) fn erase_rows(conn: &Connection, user_id: i64, now: i64) -> rusqlite::Result<()> {
    mark_avatars_deleted(conn, user_id, now)?;
    let own_avatars = "SELECT id FROM avatars WHERE user_id = ?1";
    conn.execute(
        &format!("DELETE FROM reference_photos WHERE avatar_id IN ({own_avatars})"),
        [user_id],
    )?;
    conn.execute(
        &format!("DELETE FROM portraits WHERE avatar_id IN ({own_avatars})"),
        [user_id],
    )?;
    conn.execute(
        &format!(
            "UPDATE generation_tasks SET reference_keys = '[]', result_key = NULL
             WHERE job_id IN (SELECT id FROM generation_jobs
                              WHERE user_id = ?1 OR avatar_id IN ({own_avatars}))"
        ),
        [user_id],
    )?;
    // Shared albums of the user's sets still waiting for a viewer, and every
    // message to the user (texts, albums, archives) but one being sent now.
    conn.execute(
        &format!(
            "DELETE FROM message_queue WHERE status <> 'sending' AND EXISTS (
                 SELECT 1 FROM shared_galleries g
                 WHERE g.avatar_id IN ({own_avatars})
                   AND message_queue.dedup_key LIKE 'shared:' || g.id || ':%')"
        ),
        [user_id],
    )?;
    conn.execute(
        "DELETE FROM message_queue WHERE chat_id = ?1 AND status <> 'sending'",
        [user_id],
    )?;
    conn.execute("DELETE FROM dialogues WHERE chat_id = ?1", [user_id])?;
    conn.execute("DELETE FROM funnel_events WHERE user_id = ?1", [user_id])?;
    conn.execute("DELETE FROM ab_assignments WHERE user_id = ?1", [user_id])?;
    conn.execute("DELETE FROM reminders WHERE user_id = ?1", [user_id])?;
    conn.execute(
        "UPDATE payments SET receipt_contact = '' WHERE user_id = ?1",
        [user_id],
    )?;
    conn.execute(
        "UPDATE users SET username = NULL, first_name = '', receipt_email = NULL,
                          receipt_phone = NULL
         WHERE id = ?1",
        [user_id],
    )?;
    Ok(())
}

/// Closes the request once nothing of the user is left. Returns whether it
/// was closed now (false: already done).
pub(crate) fn finish(conn: &Connection, id: i64, user_id: i64, now: i64) -> rusqlite::Result<bool> {
    let closed = conn.execute(
        "UPDATE deletion_requests SET status = 'done', done_at = ?2, last_error = NULL
         WHERE id = ?1 AND status = 'pending'",
        params![id, now],
    )? == 1;
    if closed {
        conn.execute(
            "UPDATE users SET deleted_at = ?2 WHERE id = ?1",
            params![user_id, now],
        )?;
    }
    Ok(closed)
}

/// Whether the avatar was deleted by its owner (`/delete_my_data`).
pub(crate) fn avatar_deleted(conn: &Connection, avatar_id: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT deleted_at IS NOT NULL FROM avatars WHERE id = ?1",
            [avatar_id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// Whether the reference photos of the avatar were given up by retention.
pub(crate) fn photos_expired(conn: &Connection, avatar_id: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT photos_deleted_at IS NOT NULL FROM avatars WHERE id = ?1",
            [avatar_id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// Retention, first half: the sets delivered (or failed) at or before
/// `cutoff`, with nothing being made for them, give up their reference
/// photos: the avatar is marked (redos refuse from now on) and each photo row
/// is marked for the second half. So do drafts whose last photo came at or
/// before `cutoff` (abandoned): their photo rows are marked, the draft stays
/// a draft (empty, it takes photos again). Returns the avatars marked.
pub(crate) fn expire_photos(
    conn: &mut Connection,
    cutoff: i64,
    now: i64,
    limit: u32,
) -> rusqlite::Result<Vec<i64>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let drafts: Vec<i64> = {
        let mut stmt = tx.prepare(
            "SELECT a.id FROM avatars a
             WHERE a.status = 'draft' AND a.deleted_at IS NULL
               AND EXISTS (SELECT 1 FROM reference_photos p
                           WHERE p.avatar_id = a.id AND p.deleted_at IS NULL)
               AND NOT EXISTS (SELECT 1 FROM reference_photos p
                               WHERE p.avatar_id = a.id AND p.created_at > ?1)
             ORDER BY a.id LIMIT ?2",
        )?;
        stmt.query_map(params![cutoff, limit], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    for id in &drafts {
        tx.execute(
            "UPDATE reference_photos SET deleted_at = ?2 WHERE avatar_id = ?1 AND deleted_at IS NULL",
            params![id, now],
        )?;
    }
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare(
            "SELECT a.id FROM avatars a
             WHERE a.photos_deleted_at IS NULL AND a.deleted_at IS NULL
               AND ((a.status = 'ready' AND a.ready_at <= ?1)
                    OR (a.status = 'failed' AND a.updated_at <= ?1))
               AND NOT EXISTS (SELECT 1 FROM generation_jobs j
                               WHERE j.status IN ('running', 'delivering') AND j.avatar_id = a.id)
             ORDER BY a.id LIMIT ?2",
        )?;
        stmt.query_map(params![cutoff, limit], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    for id in &ids {
        tx.execute(
            "UPDATE avatars SET photos_deleted_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        tx.execute(
            "UPDATE reference_photos SET deleted_at = ?2 WHERE avatar_id = ?1 AND deleted_at IS NULL",
            params![id, now],
        )?;
    }
    tx.commit()?;
    Ok(drafts.into_iter().chain(ids).collect())
}

/// Retention, second half: photo rows whose object is still to be deleted.
pub(crate) fn expired_photos(
    conn: &Connection,
    limit: u32,
) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare(
        "SELECT id, object_key FROM reference_photos WHERE deleted_at IS NOT NULL ORDER BY id LIMIT ?1",
    )?;
    stmt.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Forgets a photo row whose object was deleted.
pub(crate) fn forget_photo(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM reference_photos WHERE id = ?1 AND deleted_at IS NOT NULL",
        [id],
    )?;
    Ok(())
}
