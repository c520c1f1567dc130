//! A/B assignments: one row per user and experiment, written once.

use rusqlite::{Connection, params};

/// Stores the given (experiment, variant) picks where the user has none yet,
/// and returns every stored assignment of the user (the stored one wins over a
/// new pick: an assignment never changes).
pub fn ensure(
    conn: &Connection,
    user_id: i64,
    picks: &[(String, String)],
    now: i64,
) -> rusqlite::Result<Vec<(String, String)>> {
    let stored = for_user(conn, user_id)?;
    if picks
        .iter()
        .all(|(experiment, _)| stored.iter().any(|(e, _)| e == experiment))
    {
        return Ok(stored);
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO ab_assignments (user_id, experiment, variant, assigned_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, experiment) DO NOTHING",
    )?;
    for (experiment, variant) in picks {
        insert.execute(params![user_id, experiment, variant, now])?;
    }
    for_user(conn, user_id)
}

/// The user's assignments, by experiment name.
pub(crate) fn for_user(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT experiment, variant FROM ab_assignments WHERE user_id = ?1 ORDER BY experiment",
    )?;
    stmt.query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}
