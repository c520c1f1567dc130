//! Alerts to the admins: each incident is sent once through the message
//! queue; repeats are only counted until the incident is resolved.

use rusqlite::Connection;

use super::outbox::{self, Outgoing};
use crate::db::alerts;

/// Raises incident `key` and, when it is new, queues its message to every admin.
pub fn raise(
    conn: &Connection,
    admin_ids: &[i64],
    key: &str,
    kind: &str,
    message: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let fresh = alerts::raise(conn, key, kind, message, now)?;
    if fresh {
        tracing::warn!(incident = key, kind, message, "admin alert");
        for admin in admin_ids {
            let text = format!("⚠️ {message}");
            outbox::enqueue(
                conn,
                *admin,
                &Outgoing::text(text),
                &format!("alert:{key}:{now}:{admin}"),
                true,
                now,
            )?;
        }
        alerts::mark_sent(conn, key, now)?;
    }
    Ok(fresh)
}

pub fn resolve(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<bool> {
    alerts::resolve(conn, key, now)
}
