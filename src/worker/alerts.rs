//! Alerts to the admins: each incident is sent once through the message
//! queue; repeats are only counted until the incident is resolved, and an
//! incident that keeps repeating is summarised ("still happening: N times
//! since …") at most every `[alerts] summary_every_mins` by [`summarise`].

use rusqlite::Connection;

use crate::chat::outbox::{self, Delivery, Outgoing};
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
                Delivery::Essential,
                now,
            )?;
        }
        alerts::mark_sent(conn, key, now)?;
        crate::ops::metrics::alert_sent(kind, false);
    }
    Ok(fresh)
}

pub fn resolve(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<bool> {
    alerts::resolve(conn, key, now)
}

/// Queues a summary of every open incident that repeated since the admins
/// last heard of it, `every_ms` ago or longer. Returns how many were summarised.
pub fn summarise(
    conn: &Connection,
    admin_ids: &[i64],
    every_ms: i64,
    now: i64,
) -> rusqlite::Result<usize> {
    let due = alerts::due_for_summary(conn, now - every_ms)?;
    for incident in &due {
        let since = chrono::DateTime::from_timestamp_millis(incident.first_at)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        let text = format!(
            "🔁 Still happening: {} times since {since}. {}",
            incident.count, incident.message
        );
        for admin in admin_ids {
            outbox::enqueue(
                conn,
                *admin,
                &Outgoing::text(text.clone()),
                &format!("alert:{}:summary:{now}:{admin}", incident.key),
                Delivery::Essential,
                now,
            )?;
        }
        alerts::mark_sent(conn, &incident.key, now)?;
        crate::ops::metrics::alert_sent(&incident.kind, true);
        tracing::warn!(incident = %incident.key, count = incident.count, "admin alert summary");
    }
    Ok(due.len())
}
