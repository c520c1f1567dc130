//! Shared galleries: an unguessable token that shows one avatar's portraits.
//! At most one live (not revoked) token per avatar (a partial unique index).

use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gallery {
    pub(crate) id: i64,
    pub(crate) avatar_id: i64,
    pub token: String,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, avatar_id, token, revoked_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Gallery> {
    Ok(Gallery {
        id: r.get(0)?,
        avatar_id: r.get(1)?,
        token: r.get(2)?,
        revoked_at: r.get(3)?,
    })
}

/// The gallery with this token, revoked or not (the caller tells the two apart).
pub fn by_token(conn: &Connection, token: &str) -> rusqlite::Result<Option<Gallery>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM shared_galleries WHERE token = ?1"),
        [token],
        from_row,
    )
    .optional()
}

/// The live (not revoked) link of an avatar, if it has one.
pub(crate) fn live_for_avatar(
    conn: &Connection,
    avatar_id: i64,
) -> rusqlite::Result<Option<Gallery>> {
    conn.query_row(
        &format!(
            "SELECT {COLUMNS} FROM shared_galleries WHERE avatar_id = ?1 AND revoked_at IS NULL"
        ),
        [avatar_id],
        from_row,
    )
    .optional()
}

/// The avatar's live link, created with `new_token` if it has none. Two
/// callers racing both get the one link that won (the partial unique index).
pub fn live_or_create(
    conn: &Connection,
    avatar_id: i64,
    new_token: &str,
    now: i64,
) -> rusqlite::Result<Gallery> {
    if let Some(live) = live_for_avatar(conn, avatar_id)? {
        return Ok(live);
    }
    conn.execute(
        "INSERT INTO shared_galleries (avatar_id, token, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![avatar_id, new_token, now],
    )?;
    live_for_avatar(conn, avatar_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// Revokes the avatar's live link; returns whether there was one.
pub fn revoke(conn: &Connection, avatar_id: i64, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE shared_galleries SET revoked_at = ?2 WHERE avatar_id = ?1 AND revoked_at IS NULL",
        params![avatar_id, now],
    )? == 1)
}

/// How often the shared set `gallery_id` was opened since `since`: by
/// `viewer`, and by everyone. Each opening queued one invite row
/// (`shared:<gallery>:<request>:invite`), counted here through the unique
/// index on the dedup key.
pub(crate) fn opens_since(
    conn: &Connection,
    gallery_id: i64,
    viewer: i64,
    since: i64,
) -> rusqlite::Result<(u32, u32)> {
    let (from, to) = (
        format!("shared:{gallery_id}:"),
        format!("shared:{gallery_id};"),
    );
    conn.query_row(
        "SELECT COALESCE(SUM(chat_id = ?3), 0), COUNT(*) FROM message_queue
         WHERE dedup_key >= ?1 AND dedup_key < ?2 AND dedup_key LIKE '%:invite'
           AND created_at >= ?4",
        params![from, to, viewer, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
