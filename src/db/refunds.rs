//! Refunds and cancellations sent through T-Bank Cancel. The row (with its
//! idempotency key) is written before the call, so a retry after a crash
//! moves the money at most once.

use rusqlite::{Connection, Row, params};

use super::text_enum;

/// Why a refund row exists (the `reason` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefundReason {
    /// Portraits of a paid set that could not be made (partial, automatic).
    FailedPortraits,
    /// An admin's `/refund` of a paid payment.
    AdminRefund,
    /// An admin's `/cancel` of an unpaid payment (no money moves).
    AdminCancel,
    /// An unpaid payment open past `stuck_cancel_hours` (no money moves).
    Stuck,
    /// The user chose another package while this payment was open: it is
    /// cancelled first (no money moves), then the row's [`Switch`] becomes
    /// the next payment.
    Superseded,
}

impl RefundReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RefundReason::FailedPortraits => "failed_portraits",
            RefundReason::AdminRefund => "admin_refund",
            RefundReason::AdminCancel => "admin_cancel",
            RefundReason::Stuck => "stuck",
            RefundReason::Superseded => "superseded",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<RefundReason> {
        Some(match s {
            "failed_portraits" => RefundReason::FailedPortraits,
            "admin_refund" => RefundReason::AdminRefund,
            "admin_cancel" => RefundReason::AdminCancel,
            "stuck" => RefundReason::Stuck,
            "superseded" => RefundReason::Superseded,
            _ => return None,
        })
    }

    /// A cancellation of an unpaid payment: T-Bank Cancel without money.
    pub(crate) fn is_cancellation(self) -> bool {
        matches!(
            self,
            RefundReason::AdminCancel | RefundReason::Stuck | RefundReason::Superseded
        )
    }
}

/// Where a refund row stands (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefundStatus {
    /// Not confirmed by T-Bank yet: the refund step asks (again).
    Pending,
    Done,
    /// Refused, or not needed: the reason is in `last_error`.
    Failed,
}

impl RefundStatus {
    pub(crate) fn parse(s: &str) -> Option<RefundStatus> {
        Some(match s {
            "pending" => RefundStatus::Pending,
            "done" => RefundStatus::Done,
            "failed" => RefundStatus::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: i64,
    pub(crate) payment_id: i64,
    pub(crate) amount_kopecks: i64,
    pub(crate) reason: RefundReason,
    pub(crate) external_request_id: String,
    pub(crate) status: RefundStatus,
    pub(crate) attempts: u32,
    /// Reason `superseded` only: the package chosen instead.
    pub(crate) switch: Option<Switch>,
    /// Set when a Cancel of this row went out: what the bank held of the
    /// payment before it, in kopecks. Its outcome is known only when the
    /// row is done; until then the next attempt reads the bank first.
    pub(crate) bank_before: Option<i64>,
}

/// The package a user chose while another payment was open: it becomes a
/// payment once that one is cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Switch {
    pub(crate) avatar_id: i64,
    pub(crate) tier_id: String,
    pub(crate) contact: String,
}

const COLUMNS: &str = "id, payment_id, amount_kopecks, reason, external_request_id, status, \
    attempts, next_avatar_id, next_tier_id, next_contact, bank_before";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Refund> {
    Ok(Refund {
        id: r.get(0)?,
        payment_id: r.get(1)?,
        amount_kopecks: r.get(2)?,
        reason: text_enum(r, 3, RefundReason::parse)?,
        external_request_id: r.get(4)?,
        status: text_enum(r, 5, RefundStatus::parse)?,
        attempts: r.get(6)?,
        switch: match (r.get(7)?, r.get(8)?, r.get(9)?) {
            (Some(avatar_id), Some(tier_id), Some(contact)) => Some(Switch {
                avatar_id,
                tier_id,
                contact,
            }),
            _ => None,
        },
        bank_before: r.get(10)?,
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

/// Pending rows whose time has come, oldest first; one payment's rows one
/// at a time (a later one waits until the earlier is done or failed, so
/// that what the bank holds can be reasoned about).
pub(crate) fn due(conn: &Connection, now: i64, limit: u32) -> rusqlite::Result<Vec<Refund>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM refunds r
         WHERE status = 'pending' AND next_attempt_at <= ?1
           AND NOT EXISTS (SELECT 1 FROM refunds e WHERE e.payment_id = r.payment_id
                           AND e.status = 'pending' AND e.id < r.id)
         ORDER BY id LIMIT ?2"
    ))?;
    stmt.query_map(params![now, limit], from_row)?.collect()
}

pub fn for_payment(conn: &Connection, payment_id: i64) -> rusqlite::Result<Vec<Refund>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE payment_id = ?1 ORDER BY id"
    ))?;
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

/// A Cancel of this row goes out now: what the bank held before it (kept
/// from the first time).
pub(crate) fn mark_sending(
    conn: &Connection,
    id: i64,
    bank_before: i64,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE refunds SET bank_before = COALESCE(bank_before, ?2), sent_at = ?3
         WHERE id = ?1 AND status = 'pending'",
        params![id, bank_before, now],
    )?;
    Ok(())
}

pub(crate) fn mark_retry(
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

pub(crate) fn mark_failed(conn: &Connection, id: i64, error: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE refunds SET status = 'failed', attempts = attempts + 1, last_error = ?2
         WHERE id = ?1 AND status = 'pending'",
        params![id, error],
    )?;
    Ok(())
}

/// Asks for a refund or cancellation (an admin's, or of a stuck payment)
/// under the idempotency key `external_request_id`: a second request
/// with the same key adds nothing. Returns whether a row was added.
pub(crate) fn request(
    conn: &Connection,
    payment_id: i64,
    amount: i64,
    reason: RefundReason,
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
            reason.as_str(),
            external_request_id,
            now,
            requested_by
        ],
    )? == 1)
}

/// Refunds of a payment still waiting for T-Bank, in kopecks.
pub(crate) fn pending_kopecks(conn: &Connection, payment_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(SUM(amount_kopecks), 0) FROM refunds WHERE payment_id = ?1 AND status = 'pending'",
        [payment_id],
        |r| r.get(0),
    )
}

/// A cancellation of an unpaid payment is done: no money moved, so the
/// payment's refunded amount stays as it is.
pub(crate) fn mark_done_without_money(
    conn: &Connection,
    id: i64,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE refunds SET status = 'done', done_at = ?2, attempts = attempts + 1, last_error = NULL
         WHERE id = ?1 AND status = 'pending'",
        params![id, now],
    )? == 1)
}

/// Asks for the cancellation of the open payment `payment_id` because its
/// user chose `switch` instead. A switch already waiting for that payment
/// takes the newer choice (the cancellation it asked for stays the same).
/// Returns the refund row's id.
pub(crate) fn request_switch(
    conn: &Connection,
    payment_id: i64,
    amount: i64,
    switch: &Switch,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO refunds (payment_id, amount_kopecks, reason, external_request_id,
                              next_attempt_at, created_at, next_avatar_id, next_tier_id, next_contact)
         VALUES (?1, ?2, 'superseded', 'cancel-' || ?1 || '-switch-' || ?3, ?3, ?3, ?4, ?5, ?6)
         ON CONFLICT (payment_id) WHERE reason = 'superseded' AND status = 'pending'
         DO UPDATE SET next_avatar_id = excluded.next_avatar_id,
                       next_tier_id = excluded.next_tier_id,
                       next_contact = excluded.next_contact
         RETURNING id",
        params![
            payment_id,
            amount,
            now,
            switch.avatar_id,
            switch.tier_id,
            switch.contact
        ],
        |r| r.get(0),
    )
}

/// The switch waiting for the cancellation of `payment_id`, if any.
pub(crate) fn pending_switch(
    conn: &Connection,
    payment_id: i64,
) -> rusqlite::Result<Option<Switch>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM refunds
                 WHERE payment_id = ?1 AND reason = 'superseded' AND status = 'pending'"
            ),
            [payment_id],
            from_row,
        )
        .optional()?
        .and_then(|r| r.switch))
}
