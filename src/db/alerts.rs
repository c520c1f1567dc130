//! Admin alerts: one row per incident. A repeat only counts; the message is
//! sent once (and again only after the incident was resolved). An open
//! incident that went on repeating after its last message is due for a
//! summary (`sent_at` is when the admins last heard of it).

use rusqlite::{Connection, params};

/// Raises (or counts again) the incident `key`. Returns true when this is a
/// new incident whose message should be sent.
pub(crate) fn raise(
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

pub(crate) fn resolve(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE alerts SET resolved_at = ?2 WHERE incident_key = ?1 AND resolved_at IS NULL",
        params![key, now],
    )? == 1)
}

pub(crate) fn mark_sent(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE alerts SET sent_at = ?2 WHERE incident_key = ?1",
        params![key, now],
    )?;
    Ok(())
}

/// An incident as the admins last heard of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Incident {
    pub(crate) key: String,
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) count: i64,
    pub(crate) first_at: i64,
    pub(crate) last_at: i64,
}

/// Open incidents that repeated after their last message, sent at or before
/// `sent_before`: each is due for a "still happening" summary.
pub(crate) fn due_for_summary(
    conn: &Connection,
    sent_before: i64,
) -> rusqlite::Result<Vec<Incident>> {
    let mut stmt = conn.prepare(
        "SELECT incident_key, kind, message, count, first_at, last_at FROM alerts
         WHERE resolved_at IS NULL AND sent_at IS NOT NULL AND last_at > sent_at AND sent_at <= ?1
         ORDER BY first_at LIMIT 20",
    )?;
    stmt.query_map(params![sent_before], |r| {
        Ok(Incident {
            key: r.get(0)?,
            kind: r.get(1)?,
            message: r.get(2)?,
            count: r.get(3)?,
            first_at: r.get(4)?,
            last_at: r.get(5)?,
        })
    })?
    .collect()
}
