//! What operations watch: counts by state for the metrics, the oldest due
//! item of each side-task queue, delivery failures, and a liveness query.

use rusqlite::{Connection, params};

/// The database answers (`/healthz`).
pub(crate) fn ping(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
        .map(|_| ())
}

/// Rows by state of the tables the side task works through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) payments: Vec<(String, i64)>,
    pub(crate) jobs: Vec<(String, i64)>,
    pub(crate) tasks: Vec<(String, i64)>,
    pub(crate) queue: Vec<(String, i64)>,
}

fn grouped(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(sql)?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

pub(crate) fn snapshot(conn: &Connection) -> rusqlite::Result<Snapshot> {
    Ok(Snapshot {
        payments: grouped(
            conn,
            "SELECT status, COUNT(*) FROM payments GROUP BY status",
        )?,
        jobs: grouped(
            conn,
            "SELECT status, COUNT(*) FROM generation_jobs GROUP BY status",
        )?,
        tasks: grouped(
            conn,
            "SELECT state, COUNT(*) FROM generation_tasks GROUP BY state",
        )?,
        queue: grouped(
            conn,
            "SELECT status, COUNT(*) FROM message_queue GROUP BY status",
        )?,
    })
}

/// Messages that failed for good (attempts used up) at or after `since`.
pub(crate) fn failed_deliveries_since(conn: &Connection, since: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM message_queue WHERE failed_at >= ?1",
        params![since],
        |r| r.get(0),
    )
}

/// The oldest item the side task should already have worked on, per queue:
/// (queue, due since). Only queues with something overdue are listed.
pub(crate) fn oldest_due(
    conn: &Connection,
    now: i64,
) -> rusqlite::Result<Vec<(&'static str, i64)>> {
    let queries: [(&'static str, &str); 4] = [
        (
            "payment check",
            "SELECT MIN(next_check_at) FROM payments
             WHERE status IN ('new', 'open') AND next_check_at IS NOT NULL AND next_check_at <= ?1",
        ),
        (
            "generation task",
            "SELECT MIN(next_attempt_at) FROM generation_tasks
             WHERE state NOT IN ('succeeded', 'failed') AND next_attempt_at <= ?1",
        ),
        (
            "queued message",
            "SELECT MIN(next_attempt_at) FROM message_queue
             WHERE status IN ('pending', 'sending') AND next_attempt_at <= ?1",
        ),
        (
            "refund",
            "SELECT MIN(next_attempt_at) FROM refunds WHERE status = 'pending' AND next_attempt_at <= ?1",
        ),
    ];
    let mut out = Vec::new();
    for (name, sql) in queries {
        let due: Option<i64> = conn.query_row(sql, params![now], |r| r.get(0))?;
        if let Some(due) = due {
            out.push((name, due));
        }
    }
    Ok(out)
}

/// Work the bot has not finished: unfinished tasks and jobs, queued
/// messages, pending refunds, payments waiting for Init. Zero when idle.
pub(crate) fn in_flight(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT (SELECT COUNT(*) FROM generation_tasks WHERE state NOT IN ('succeeded', 'failed'))
              + (SELECT COUNT(*) FROM generation_jobs WHERE status IN ('running', 'delivering'))
              + (SELECT COUNT(*) FROM message_queue WHERE status IN ('pending', 'sending'))
              + (SELECT COUNT(*) FROM refunds WHERE status = 'pending')
              + (SELECT COUNT(*) FROM payments WHERE status = 'new')",
        [],
        |r| r.get(0),
    )
}
