//! Avatars (one set of reference photos and what is made from it) and their
//! reference photos.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::text_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvatarStatus {
    Draft,
    AwaitingPayment,
    Generating,
    Ready,
    Failed,
}

impl AvatarStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AvatarStatus::Draft => "draft",
            AvatarStatus::AwaitingPayment => "awaiting_payment",
            AvatarStatus::Generating => "generating",
            AvatarStatus::Ready => "ready",
            AvatarStatus::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<AvatarStatus> {
        Some(match s {
            "draft" => AvatarStatus::Draft,
            "awaiting_payment" => AvatarStatus::AwaitingPayment,
            "generating" => AvatarStatus::Generating,
            "ready" => AvatarStatus::Ready,
            "failed" => AvatarStatus::Failed,
            _ => return None,
        })
    }

    /// The moves the avatar's life allows. A payment that ends without money
    /// returns the avatar to draft; a paid one moves it to generating.
    pub(crate) fn can_move_to(self, next: AvatarStatus) -> bool {
        use AvatarStatus::*;
        matches!(
            (self, next),
            (Draft, AwaitingPayment)
                | (AwaitingPayment, Draft)
                | (AwaitingPayment, Generating)
                | (Draft, Generating)
                | (Generating, Ready)
                | (Generating, Failed)
                // An admin's /retry made portraits of a set that had none.
                | (Failed, Ready)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    pub id: i64,
    pub(crate) user_id: i64,
    pub(crate) status: AvatarStatus,
    pub(crate) tier_id: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) ready_at: Option<i64>,
}

fn avatar_from_row(r: &Row<'_>) -> rusqlite::Result<Avatar> {
    Ok(Avatar {
        id: r.get(0)?,
        user_id: r.get(1)?,
        status: text_enum(r, 2, AvatarStatus::parse)?,
        tier_id: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        ready_at: r.get(6)?,
    })
}

const AVATAR_COLUMNS: &str = "id, user_id, status, tier_id, created_at, updated_at, ready_at";

pub fn create_draft(conn: &Connection, user_id: i64, now: i64) -> rusqlite::Result<Avatar> {
    conn.execute(
        "INSERT INTO avatars (user_id, status, created_at, updated_at) VALUES (?1, 'draft', ?2, ?2)",
        params![user_id, now],
    )?;
    get(conn, conn.last_insert_rowid())?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

pub(crate) fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Avatar>> {
    conn.query_row(
        &format!("SELECT {AVATAR_COLUMNS} FROM avatars WHERE id = ?1"),
        [id],
        avatar_from_row,
    )
    .optional()
}

/// The avatar `id` if it belongs to `user_id` (and was not deleted by them):
/// the only lookup handlers use for ids that arrive from a user (callback
/// data can be forged).
pub fn get_owned(conn: &Connection, id: i64, user_id: i64) -> rusqlite::Result<Option<Avatar>> {
    conn.query_row(
        &format!("SELECT {AVATAR_COLUMNS} FROM avatars WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL"),
        params![id, user_id],
        avatar_from_row,
    )
    .optional()
}

/// The user's newest avatar still in draft, if any.
pub(crate) fn latest_draft(conn: &Connection, user_id: i64) -> rusqlite::Result<Option<Avatar>> {
    conn.query_row(
        &format!(
            "SELECT {AVATAR_COLUMNS} FROM avatars WHERE user_id = ?1 AND status = 'draft'
               AND deleted_at IS NULL
             ORDER BY id DESC LIMIT 1"
        ),
        [user_id],
        avatar_from_row,
    )
    .optional()
}

pub(crate) fn list_for_user(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<Avatar>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {AVATAR_COLUMNS} FROM avatars WHERE user_id = ?1 AND deleted_at IS NULL ORDER BY id"
    ))?;
    stmt.query_map([user_id], avatar_from_row)?.collect()
}

/// Moves an avatar from `from` to `to` if it is still in `from` and the move
/// is allowed. Returns whether it moved (false: someone else moved it first).
pub fn transition(
    conn: &Connection,
    id: i64,
    from: AvatarStatus,
    to: AvatarStatus,
    now: i64,
) -> rusqlite::Result<bool> {
    if !from.can_move_to(to) {
        return Ok(false);
    }
    let ready_at = (to == AvatarStatus::Ready).then_some(now);
    Ok(conn.execute(
        "UPDATE avatars SET status = ?3, updated_at = ?4, ready_at = COALESCE(?5, ready_at)
         WHERE id = ?1 AND status = ?2",
        params![id, from.as_str(), to.as_str(), now, ready_at],
    )? == 1)
}

pub(crate) fn set_tier(
    conn: &Connection,
    id: i64,
    tier_id: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE avatars SET tier_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, tier_id, now],
    )?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReferencePhoto {
    pub(crate) id: i64,
    pub(crate) avatar_id: i64,
    pub(crate) file_id: String,
    pub(crate) file_unique_id: String,
    pub(crate) sha256: String,
    pub(crate) object_key: String,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) size_bytes: u64,
    pub(crate) created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewPhoto<'a> {
    pub avatar_id: i64,
    pub file_id: &'a str,
    pub file_unique_id: &'a str,
    pub sha256: &'a str,
    pub object_key: &'a str,
    pub width: u32,
    pub height: u32,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddPhoto {
    Added {
        photo_id: i64,
        count: u32,
    },
    /// The same Telegram file or the same bytes are already in this avatar.
    Duplicate {
        count: u32,
    },
    /// The avatar already holds `max` photos.
    Full {
        count: u32,
    },
}

pub(crate) fn photo_count(conn: &Connection, avatar_id: i64) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT COUNT(*) FROM reference_photos WHERE avatar_id = ?1 AND deleted_at IS NULL",
        [avatar_id],
        |r| r.get(0),
    )
}

/// The average hashes of an avatar's photos (those uploaded before
/// hashes were stored have none and are left out).
pub(crate) fn photo_hashes(conn: &Connection, avatar_id: i64) -> rusqlite::Result<Vec<u64>> {
    let mut statement = conn.prepare(
        "SELECT ahash FROM reference_photos
         WHERE avatar_id = ?1 AND deleted_at IS NULL AND ahash IS NOT NULL ORDER BY id",
    )?;
    let rows = statement.query_map([avatar_id], |r| r.get::<_, i64>(0))?;
    rows.map(|h| h.map(|h| h as u64)).collect()
}

/// Whether this avatar already has a photo with this Telegram file or these bytes.
pub(crate) fn has_photo(
    conn: &Connection,
    avatar_id: i64,
    file_unique_id: &str,
    sha256: Option<&str>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM reference_photos WHERE avatar_id = ?1
                        AND (file_unique_id = ?2 OR sha256 = ?3))",
        params![avatar_id, file_unique_id, sha256],
        |r| r.get(0),
    )
}

/// Adds a photo unless it is a duplicate or the avatar is full, in one
/// transaction so that concurrent album messages cannot pass `max`.
pub fn add_photo(
    conn: &mut Connection,
    photo: &NewPhoto<'_>,
    max: u32,
    now: i64,
) -> rusqlite::Result<AddPhoto> {
    add_photo_with_hash(conn, photo, None, max, now)
}

/// [`add_photo`], storing the photo's average hash (`media::quality`)
/// in the same insert.
pub(crate) fn add_photo_with_hash(
    conn: &mut Connection,
    photo: &NewPhoto<'_>,
    ahash: Option<u64>,
    max: u32,
    now: i64,
) -> rusqlite::Result<AddPhoto> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let count = photo_count(&tx, photo.avatar_id)?;
    if has_photo(
        &tx,
        photo.avatar_id,
        photo.file_unique_id,
        Some(photo.sha256),
    )? {
        return Ok(AddPhoto::Duplicate { count });
    }
    if count >= max {
        return Ok(AddPhoto::Full { count });
    }
    tx.execute(
        "INSERT INTO reference_photos (avatar_id, file_id, file_unique_id, sha256, object_key,
                                       width, height, size_bytes, created_at, ahash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            photo.avatar_id,
            photo.file_id,
            photo.file_unique_id,
            photo.sha256,
            photo.object_key,
            photo.width,
            photo.height,
            photo.size_bytes,
            now,
            // The hash's 64 bits as SQLite's signed integer.
            ahash.map(|h| h as i64)
        ],
    )?;
    let photo_id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(AddPhoto::Added {
        photo_id,
        count: count + 1,
    })
}

pub(crate) fn photos(conn: &Connection, avatar_id: i64) -> rusqlite::Result<Vec<ReferencePhoto>> {
    let mut stmt = conn.prepare(
        "SELECT id, avatar_id, file_id, file_unique_id, sha256, object_key, width, height,
                size_bytes, created_at
         FROM reference_photos WHERE avatar_id = ?1 AND deleted_at IS NULL ORDER BY id",
    )?;
    stmt.query_map([avatar_id], |r| {
        Ok(ReferencePhoto {
            id: r.get(0)?,
            avatar_id: r.get(1)?,
            file_id: r.get(2)?,
            file_unique_id: r.get(3)?,
            sha256: r.get(4)?,
            object_key: r.get(5)?,
            width: r.get(6)?,
            height: r.get(7)?,
            size_bytes: r.get(8)?,
            created_at: r.get(9)?,
        })
    })?
    .collect()
}
