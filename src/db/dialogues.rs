//! Dialogue state of each chat, serialized by the bot's `Storage`.

use rusqlite::{Connection, OptionalExtension, params};

pub fn get(conn: &Connection, chat_id: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT state FROM dialogues WHERE chat_id = ?1",
        [chat_id],
        |r| r.get(0),
    )
    .optional()
}

pub fn put(conn: &Connection, chat_id: i64, state: &str, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO dialogues (chat_id, state, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (chat_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        params![chat_id, state, now],
    )?;
    Ok(())
}

/// Removes a chat's state; returns whether there was one.
pub(crate) fn remove(conn: &Connection, chat_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM dialogues WHERE chat_id = ?1", [chat_id])? == 1)
}
