//! Small named facts the side task keeps across restarts.

use rusqlite::{Connection, OptionalExtension, params};

pub(crate) fn get_i64(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM service_state WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    Ok(value.and_then(|v| v.parse().ok()))
}

pub(crate) fn set_i64(conn: &Connection, name: &str, value: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO service_state (name, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![name, value.to_string(), now],
    )?;
    Ok(())
}

pub(crate) fn remove(conn: &Connection, name: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM service_state WHERE name = ?1", [name])?;
    Ok(())
}

/// When the fact `name` was last written.
pub(crate) fn updated_at(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT updated_at FROM service_state WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .optional()
}
