//! Admin alerts: one row per incident. A repeat only counts; the message is
//! sent once (and again only after the incident was resolved).

use rusqlite::{Connection, params};

/// Raises (or counts again) the incident `key`. Returns true when this is a
/// new incident whose message should be sent.
pub fn raise(
    conn: &Connection,
    key: &str,
    kind: &str,
    message: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let inserted = conn.execute(
        "INSERT INTO alerts (incident_key, kind, message, first_at, last_at) VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (incident_key) DO NOTHING",
        params![key, kind, message, now],
    )? == 1;
    if inserted {
        return Ok(true);
    }
    // A known incident: count it; if it had been resolved, it is open again.
    let reopened = conn.execute(
        "UPDATE alerts SET count = 1, first_at = ?2, last_at = ?2, message = ?3, resolved_at = NULL, sent_at = NULL
         WHERE incident_key = ?1 AND resolved_at IS NOT NULL",
        params![key, now, message],
    )? == 1;
    if !reopened {
        conn.execute(
            "UPDATE alerts SET count = count + 1, last_at = ?2 WHERE incident_key = ?1",
            params![key, now],
        )?;
    }
    Ok(reopened)
}

pub fn resolve(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE alerts SET resolved_at = ?2 WHERE incident_key = ?1 AND resolved_at IS NULL",
        params![key, now],
    )? == 1)
}

pub fn mark_sent(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE alerts SET sent_at = ?2 WHERE incident_key = ?1",
        params![key, now],
    )?;
    Ok(())
}
