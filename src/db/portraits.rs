//! Portraits: one row per successful task, with the Telegram file_id once sent.

use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portrait {
    pub(crate) id: i64,
    pub(crate) avatar_id: i64,
    pub(crate) task_id: i64,
    pub(crate) position: u32,
    pub object_key: String,
    pub(crate) file_id: Option<String>,
}

/// The columns `from_row` reads, of `portraits p`.
const COLUMNS: &str = "p.id, p.avatar_id, p.task_id, p.position, p.object_key, p.file_id";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Portrait> {
    Ok(Portrait {
        id: r.get(0)?,
        avatar_id: r.get(1)?,
        task_id: r.get(2)?,
        position: r.get(3)?,
        object_key: r.get(4)?,
        file_id: r.get(5)?,
    })
}

pub(crate) fn for_job(conn: &Connection, job_id: i64) -> rusqlite::Result<Vec<Portrait>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM portraits p JOIN generation_tasks t ON t.id = p.task_id
         WHERE t.job_id = ?1 ORDER BY p.position"
    ))?;
    stmt.query_map([job_id], from_row)?.collect()
}

pub(crate) fn file_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<String>> {
    Ok(conn
        .query_row("SELECT file_id FROM portraits WHERE id = ?1", [id], |r| {
            r.get::<_, Option<String>>(0)
        })
        .optional()?
        .flatten())
}

/// Remembers the Telegram file_id of a portrait after its first send.
pub(crate) fn set_file_id(conn: &Connection, id: i64, file_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE portraits SET file_id = ?2 WHERE id = ?1 AND file_id IS NULL",
        params![id, file_id],
    )?;
    Ok(())
}

/// Every portrait made for an avatar, in the order the user saw them: the
/// set in album order, then redos as they were made (task order).
pub fn for_avatar(conn: &Connection, avatar_id: i64) -> rusqlite::Result<Vec<Portrait>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM portraits p WHERE avatar_id = ?1 ORDER BY task_id"
    ))?;
    stmt.query_map([avatar_id], from_row)?.collect()
}

/// The portrait `id` if its avatar belongs to `user_id` (ids from buttons can be forged).
pub(crate) fn get_owned(
    conn: &Connection,
    id: i64,
    user_id: i64,
) -> rusqlite::Result<Option<Portrait>> {
    conn.query_row(
        &format!(
            "SELECT {COLUMNS} FROM portraits p JOIN avatars a ON a.id = p.avatar_id
             WHERE p.id = ?1 AND a.user_id = ?2"
        ),
        params![id, user_id],
        from_row,
    )
    .optional()
}

/// The portraits of a job made at or after `since` (what a retry made).
pub(crate) fn for_job_since(
    conn: &Connection,
    job_id: i64,
    since: i64,
) -> rusqlite::Result<Vec<Portrait>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM portraits p JOIN generation_tasks t ON t.id = p.task_id
         WHERE t.job_id = ?1 AND p.created_at >= ?2 ORDER BY p.position"
    ))?;
    stmt.query_map(params![job_id, since], from_row)?.collect()
}
