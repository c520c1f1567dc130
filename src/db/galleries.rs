//! Shared galleries: an unguessable token that shows one avatar's portraits.

use rusqlite::{Connection, OptionalExtension};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gallery {
    pub id: i64,
    pub avatar_id: i64,
    pub token: String,
    pub revoked_at: Option<i64>,
}

/// The gallery with this token, revoked or not (the caller tells the two apart).
pub fn by_token(conn: &Connection, token: &str) -> rusqlite::Result<Option<Gallery>> {
    conn.query_row(
        "SELECT id, avatar_id, token, revoked_at FROM shared_galleries WHERE token = ?1",
        [token],
        |r| {
            Ok(Gallery {
                id: r.get(0)?,
                avatar_id: r.get(1)?,
                token: r.get(2)?,
                revoked_at: r.get(3)?,
            })
        },
    )
    .optional()
}
