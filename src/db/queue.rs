//! The persistent Telegram message queue: every message the side task sends
//! is a row first, so nothing is lost in a crash and nothing is sent twice
//! (`dedup_key` is unique per delivery part).

use rusqlite::{Connection, OptionalExtension, Row, params};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Photo,
    Album,
    Document,
    Edit,
}

impl MessageKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Photo => "photo",
            MessageKind::Album => "album",
            MessageKind::Document => "document",
            MessageKind::Edit => "edit",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: i64,
    pub(crate) chat_id: i64,
    pub(crate) kind: String,
    pub(crate) payload: String,
    pub dedup_key: String,
    pub(crate) status: String,
    pub(crate) attempts: u32,
    pub(crate) next_attempt_at: i64,
    pub(crate) last_error: Option<String>,
    /// 1 (a paid set's portraits, payments) to 3 (reminders).
    pub(crate) priority: i64,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<QueuedMessage> {
    Ok(QueuedMessage {
        id: r.get(0)?,
        chat_id: r.get(1)?,
        kind: r.get(2)?,
        payload: r.get(3)?,
        dedup_key: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        last_error: r.get(8)?,
        priority: r.get(9)?,
    })
}

const COLUMNS: &str = "id, chat_id, kind, payload, dedup_key, status, attempts, next_attempt_at, last_error, priority";

/// Queues a message unless one with the same `dedup_key` exists. Returns
/// whether a row was added.
pub fn enqueue(
    conn: &Connection,
    chat_id: i64,
    kind: MessageKind,
    payload: &str,
    dedup_key: &str,
    (essential, priority): (bool, i64),
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO message_queue (chat_id, kind, payload, dedup_key, essential, priority, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (dedup_key) DO NOTHING",
        params![chat_id, kind.as_str(), payload, dedup_key, essential, priority, now],
    )? == 1)
}

/// Claims up to `limit` due messages (pending, due now), marking them
/// `sending`. Rows left in `sending` by a crash are claimable again once
/// `stale_before` has passed their `next_attempt_at`.
pub fn claim_due(
    conn: &mut Connection,
    now: i64,
    lease_ms: i64,
    limit: u32,
) -> rusqlite::Result<Vec<QueuedMessage>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // A chat's messages go out strictly in the order they were queued: only
    // the oldest open row of each chat is due. One postponed for the chat's
    // pacing (after an album), waiting out a 429 or retrying after a 5xx
    // holds back the rows queued after it ("what next?" never arrives
    // before the portraits it is about). Across chats by priority (a paid
    // set's portraits and payments first), then oldest first.
    let rows: Vec<QueuedMessage> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT {COLUMNS} FROM message_queue AS m INDEXED BY queue_open
             WHERE status IN ('pending', 'sending') AND next_attempt_at <= ?1
               AND NOT EXISTS (
                   SELECT 1 FROM message_queue AS older
                   WHERE older.chat_id = m.chat_id AND older.id < m.id
                     AND older.status IN ('pending', 'sending'))
             ORDER BY priority, id LIMIT ?2"
        ))?;
        stmt.query_map(params![now, limit], from_row)?
            .collect::<Result<_, _>>()?
    };
    for row in &rows {
        tx.execute(
            "UPDATE message_queue SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?2
             WHERE id = ?1",
            params![row.id, now + lease_ms],
        )?;
    }
    tx.commit()?;
    Ok(rows)
}

pub fn mark_sent(
    conn: &Connection,
    id: i64,
    message_ids_json: &str,
    file_ids_json: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE message_queue SET status = 'sent', sent_message_ids = ?2, file_ids = ?3, sent_at = ?4,
                last_error = NULL
         WHERE id = ?1 AND status = 'sending'",
        params![id, message_ids_json, file_ids_json, now],
    )? == 1)
}

/// Gives a claimed row back to be sent again at `next_attempt_at`;
/// `uncertain`: Telegram may have taken this attempt (it did not answer), so
/// the next one may show the message twice (see [`uncertain_sends`]).
pub fn mark_retry(
    conn: &Connection,
    id: i64,
    error: &str,
    next_attempt_at: i64,
    uncertain: bool,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE message_queue SET status = 'pending', last_error = ?2, next_attempt_at = ?3,
                uncertain = uncertain + ?4
         WHERE id = ?1 AND status = 'sending'",
        params![id, error, next_attempt_at, i64::from(uncertain)],
    )?;
    Ok(())
}

/// How many sends to `chat_id` ended without knowing whether Telegram took
/// them (no answer, or the process killed mid-send): the upper bound of
/// messages that may have arrived twice in that chat.
pub fn uncertain_sends(conn: &Connection, chat_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(SUM(uncertain), 0) FROM message_queue WHERE chat_id = ?1",
        [chat_id],
        |r| r.get(0),
    )
}

pub fn mark_failed(conn: &Connection, id: i64, error: &str, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE message_queue SET status = 'failed', last_error = ?2, failed_at = ?3
         WHERE id = ?1 AND status <> 'sent'",
        params![id, error, now],
    )?;
    Ok(())
}

/// Marks every pending message of a chat failed (the user blocked the bot),
/// so the queue does not retry into a wall. Returns how many rows changed.
pub(crate) fn fail_all_for_chat(
    conn: &Connection,
    chat_id: i64,
    error: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE message_queue SET status = 'failed', last_error = ?2
         WHERE chat_id = ?1 AND status IN ('pending', 'sending')",
        params![chat_id, error],
    )
}

/// Fails every pending non-essential message (reminders, news) to a user who
/// sent /stop, with `reason`; essential ones (payment links, receipts,
/// portraits, refunds) are left to go. Returns how many rows changed.
pub(crate) fn skip_non_essential_for_stopped(
    conn: &Connection,
    reason: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE message_queue SET status = 'failed', last_error = ?1
         WHERE status = 'pending' AND essential = 0
           AND chat_id IN (SELECT id FROM users WHERE stopped = 1)",
        [reason],
    )
}

/// Messages waiting to be sent (pending or in flight).
pub fn depth(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM message_queue WHERE status IN ('pending', 'sending')",
        [],
        |r| r.get(0),
    )
}

/// Gives a claimed row back without counting the attempt (its chat must wait).
pub(crate) fn postpone(conn: &Connection, id: i64, next_attempt_at: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE message_queue SET status = 'pending', next_attempt_at = ?2, attempts = MAX(attempts - 1, 0)
         WHERE id = ?1 AND status = 'sending'",
        params![id, next_attempt_at],
    )?;
    Ok(())
}

/// At start-up, messages a killed process left in `sending` are due again at
/// once. Whether Telegram got them is unknown: they are sent again (at least
/// once, counted as uncertain); the window is the few milliseconds between
/// Telegram's answer and `mark_sent`. Returns how many.
pub fn resume_in_flight(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE message_queue SET status = 'pending', next_attempt_at = ?1, attempts = MAX(attempts - 1, 0),
                uncertain = uncertain + 1
         WHERE status = 'sending'",
        [now],
    )
}

/// The Telegram message id of a sent message (the first, for an album).
pub(crate) fn sent_message_id(conn: &Connection, dedup_key: &str) -> rusqlite::Result<Option<i32>> {
    let ids: Option<Option<String>> = conn
        .query_row(
            "SELECT sent_message_ids FROM message_queue WHERE dedup_key = ?1 AND status = 'sent'",
            [dedup_key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(ids
        .flatten()
        .and_then(|json| serde_json::from_str::<Vec<i32>>(&json).ok())
        .and_then(|ids| ids.first().copied()))
}

/// Whether a message whose dedup key starts with `prefix` is still waiting
/// to be sent (e.g. an archive already being made for this avatar).
pub(crate) fn pending_with_prefix(conn: &Connection, prefix: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM message_queue
                        WHERE status IN ('pending', 'sending') AND substr(dedup_key, 1, length(?1)) = ?1)",
        [prefix],
        |r| r.get(0),
    )
}
