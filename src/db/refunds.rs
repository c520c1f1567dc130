//! Refunds and cancellations sent through T-Bank Cancel. The row (with its
//! idempotency key) is written before the call, so a retry after a crash
//! moves the money at most once.

use rusqlite::{Connection, Row, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: i64,
    pub payment_id: i64,
    pub amount_kopecks: i64,
    pub reason: String,
    pub external_request_id: String,
    pub status: String,
    pub attempts: u32,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Refund> {
    Ok(Refund {
        id: r.get(0)?,
        payment_id: r.get(1)?,
        amount_kopecks: r.get(2)?,
        reason: r.get(3)?,
        external_request_id: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
    })
}

/// Requests the automatic refund of portraits that could not be made (at
/// most one per payment). Returns whether a row was added.
pub fn request_failed_portraits(
    conn: &Connection,
    payment_id: i64,
    amount: i64,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO refunds (payment_id, amount_kopecks, reason, external_request_id, next_attempt_at, created_at)
         VALUES (?1, ?2, 'failed_portraits', 'refund-' || ?1 || '-failed', ?3, ?3)
         ON CONFLICT DO NOTHING",
        params![payment_id, amount, now],
    )? == 1)
}

pub fn due(conn: &Connection, now: i64, limit: u32) -> rusqlite::Result<Vec<Refund>> {
    let mut stmt = conn.prepare(
        "SELECT id, payment_id, amount_kopecks, reason, external_request_id, status, attempts
         FROM refunds WHERE status = 'pending' AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2",
    )?;
    stmt.query_map(params![now, limit], from_row)?.collect()
}

pub fn for_payment(conn: &Connection, payment_id: i64) -> rusqlite::Result<Vec<Refund>> {
    let mut stmt = conn.prepare(
        "SELECT id, payment_id, amount_kopecks, reason, external_request_id, status, attempts
         FROM refunds WHERE payment_id = ?1 ORDER BY id",
    )?;
    stmt.query_map([payment_id], from_row)?.collect()
}

/// T-Bank confirmed the refund: the row is done and the payment records the
/// money returned (refunded in full, or partially).
pub fn mark_done(
    conn: &Connection,
    id: i64,
    bank_status: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let moved = conn.execute(
        "UPDATE refunds SET status = 'done', done_at = ?2, attempts = attempts + 1, last_error = NULL
         WHERE id = ?1 AND status = 'pending'",
        params![id, now],
    )? == 1;
    if moved {
        conn.execute(
            "UPDATE payments SET
                 refunded_kopecks = MIN(amount_kopecks, refunded_kopecks +
                     (SELECT amount_kopecks FROM refunds WHERE id = ?1)),
                 bank_status = ?2, updated_at = ?3
             WHERE id = (SELECT payment_id FROM refunds WHERE id = ?1)",
            params![id, bank_status, now],
        )?;
        conn.execute(
            "UPDATE payments SET status = CASE WHEN refunded_kopecks >= amount_kopecks
                                               THEN 'refunded' ELSE 'partially_refunded' END
             WHERE id = (SELECT payment_id FROM refunds WHERE id = ?1)
               AND status IN ('confirmed', 'partially_refunded')",
            [id],
        )?;
    }
    Ok(moved)
}

pub fn mark_retry(
    conn: &Connection,
    id: i64,
    error: &str,
    next_attempt_at: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE refunds SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
         WHERE id = ?1 AND status = 'pending'",
        params![id, error, next_attempt_at],
    )?;
    Ok(())
}

pub fn mark_failed(conn: &Connection, id: i64, error: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE refunds SET status = 'failed', attempts = attempts + 1, last_error = ?2
         WHERE id = ?1 AND status = 'pending'",
        params![id, error],
    )?;
    Ok(())
}

/// Asks for a refund or cancellation (`admin_refund`, `admin_cancel`,
/// `stuck`) under the idempotency key `external_request_id`: a second request
/// with the same key adds nothing. Returns whether a row was added.
pub fn request(
    conn: &Connection,
    payment_id: i64,
    amount: i64,
    reason: &str,
    external_request_id: &str,
    requested_by: Option<i64>,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO refunds (payment_id, amount_kopecks, reason, external_request_id,
                              next_attempt_at, requested_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5)
         ON CONFLICT DO NOTHING",
        params![
            payment_id,
            amount,
            reason,
            external_request_id,
            now,
            requested_by
        ],
    )? == 1)
}

/// Refunds of a payment still waiting for T-Bank, in kopecks.
pub fn pending_kopecks(conn: &Connection, payment_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(SUM(amount_kopecks), 0) FROM refunds WHERE payment_id = ?1 AND status = 'pending'",
        [payment_id],
        |r| r.get(0),
    )
}

/// A cancellation of an unpaid payment is done: no money moved, so the
/// payment's refunded amount stays as it is.
pub fn mark_done_without_money(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE refunds SET status = 'done', done_at = ?2, attempts = attempts + 1, last_error = NULL
         WHERE id = ?1 AND status = 'pending'",
        params![id, now],
    )? == 1)
}
