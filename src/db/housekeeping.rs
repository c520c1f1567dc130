//! Bounded growth (issue 15): what the bot no longer needs is deleted on a
//! schedule, in small batches so that no write holds the database long.
//!
//! - queue rows sent or given up before the messages cutoff (a sent row's
//!   dedup key guards a transaction that is itself guarded: a payment's
//!   link, a job's albums are queued once by their state change);
//! - dialogues untouched since the messages cutoff (the next update starts
//!   from the default state, and `/start` finds the user's draft again);
//! - funnel events before the events cutoff (the reports look no further).

use rusqlite::{Connection, params};

/// Rows deleted in one call, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pruned {
    pub(crate) messages: usize,
    pub(crate) dialogues: usize,
    pub(crate) events: usize,
}

impl Pruned {
    pub(crate) fn total(self) -> usize {
        self.messages + self.dialogues + self.events
    }
}

/// Deletes at most `batch` rows of each kind older than its cutoff.
pub(crate) fn prune(
    conn: &Connection,
    messages_before: i64,
    events_before: i64,
    batch: u32,
) -> rusqlite::Result<Pruned> {
    let messages = conn.execute(
        "DELETE FROM message_queue WHERE id IN (
             SELECT id FROM message_queue
             WHERE status IN ('sent', 'failed')
               AND COALESCE(sent_at, failed_at, created_at) < ?1
             ORDER BY id LIMIT ?2)",
        params![messages_before, batch],
    )?;
    let dialogues = conn.execute(
        "DELETE FROM dialogues WHERE chat_id IN (
             SELECT chat_id FROM dialogues WHERE updated_at < ?1 LIMIT ?2)",
        params![messages_before, batch],
    )?;
    let events = conn.execute(
        "DELETE FROM funnel_events WHERE id IN (
             SELECT id FROM funnel_events WHERE at < ?1 ORDER BY id LIMIT ?2)",
        params![events_before, batch],
    )?;
    Ok(Pruned {
        messages,
        dialogues,
        events,
    })
}
