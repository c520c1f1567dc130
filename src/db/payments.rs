//! Payments: one row per T-Bank payment, carrying tier, amount and portrait
//! count from creation. Every status change is kept in
//! `payment_status_history` by triggers.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::text_enum;

/// Our view of a payment's life. `new` is written before Init is called
/// (intent first), `open` once T-Bank answered with a PaymentId.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    New,
    Open,
    Confirmed,
    Rejected,
    Canceled,
    Expired,
    Failed,
    Refunded,
    PartiallyRefunded,
}

impl PaymentStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::New => "new",
            PaymentStatus::Open => "open",
            PaymentStatus::Confirmed => "confirmed",
            PaymentStatus::Rejected => "rejected",
            PaymentStatus::Canceled => "canceled",
            PaymentStatus::Expired => "expired",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<PaymentStatus> {
        Some(match s {
            "new" => PaymentStatus::New,
            "open" => PaymentStatus::Open,
            "confirmed" => PaymentStatus::Confirmed,
            "rejected" => PaymentStatus::Rejected,
            "canceled" => PaymentStatus::Canceled,
            "expired" => PaymentStatus::Expired,
            "failed" => PaymentStatus::Failed,
            "refunded" => PaymentStatus::Refunded,
            "partially_refunded" => PaymentStatus::PartiallyRefunded,
            _ => return None,
        })
    }

    /// Still waiting for the user or the bank.
    pub(crate) fn is_open(self) -> bool {
        matches!(self, PaymentStatus::New | PaymentStatus::Open)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: i64,
    pub(crate) order_id: String,
    pub(crate) user_id: i64,
    pub(crate) avatar_id: i64,
    pub(crate) tier_id: String,
    pub amount_kopecks: i64,
    pub(crate) portraits: u32,
    pub(crate) discount_kopecks: i64,
    pub(crate) receipt_contact: String,
    pub(crate) status: PaymentStatus,
    pub(crate) bank_status: Option<String>,
    pub(crate) bank_payment_id: Option<String>,
    pub(crate) payment_url: Option<String>,
    pub(crate) refunded_kopecks: i64,
    pub(crate) checks: u32,
    pub(crate) next_check_at: Option<i64>,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) confirmed_at: Option<i64>,
    /// The bank it was made at (`TbankClient::terminal_tag`), once Init was called.
    pub(crate) terminal: Option<String>,
}

const COLUMNS: &str = "id, order_id, user_id, avatar_id, tier_id, amount_kopecks, portraits, \
    discount_kopecks, receipt_contact, status, bank_status, bank_payment_id, payment_url, \
    refunded_kopecks, checks, next_check_at, last_error, created_at, updated_at, confirmed_at, \
    terminal";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Payment> {
    Ok(Payment {
        id: r.get(0)?,
        order_id: r.get(1)?,
        user_id: r.get(2)?,
        avatar_id: r.get(3)?,
        tier_id: r.get(4)?,
        amount_kopecks: r.get(5)?,
        portraits: r.get(6)?,
        discount_kopecks: r.get(7)?,
        receipt_contact: r.get(8)?,
        status: text_enum(r, 9, PaymentStatus::parse)?,
        bank_status: r.get(10)?,
        bank_payment_id: r.get(11)?,
        payment_url: r.get(12)?,
        refunded_kopecks: r.get(13)?,
        checks: r.get(14)?,
        next_check_at: r.get(15)?,
        last_error: r.get(16)?,
        created_at: r.get(17)?,
        updated_at: r.get(18)?,
        confirmed_at: r.get(19)?,
        terminal: r.get(20)?,
    })
}

#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub order_id: &'a str,
    pub user_id: i64,
    pub avatar_id: i64,
    pub tier_id: &'a str,
    pub amount_kopecks: i64,
    pub portraits: u32,
    pub discount_kopecks: i64,
    pub receipt_contact: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatePayment {
    Created(Payment),
    /// The avatar already has an open payment: it is returned instead.
    AlreadyOpen(Payment),
}

/// Writes the intent to pay (status `new`) before T-Bank is called. A second
/// call for an avatar with an open payment returns that payment.
pub fn create(
    conn: &Connection,
    new: &NewPayment<'_>,
    now: i64,
) -> rusqlite::Result<CreatePayment> {
    if let Some(open) = open_for_avatar(conn, new.avatar_id)? {
        return Ok(CreatePayment::AlreadyOpen(open));
    }
    let inserted = conn.execute(
        "INSERT INTO payments (order_id, user_id, avatar_id, tier_id, amount_kopecks, portraits,
                               discount_kopecks, receipt_contact, status, next_check_at,
                               created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'new', ?9, ?9, ?9)
         ON CONFLICT DO NOTHING",
        params![
            new.order_id,
            new.user_id,
            new.avatar_id,
            new.tier_id,
            new.amount_kopecks,
            new.portraits,
            new.discount_kopecks,
            new.receipt_contact,
            now
        ],
    )?;
    if inserted == 0 {
        // A concurrent press won the race: return its payment.
        return open_for_avatar(conn, new.avatar_id)?
            .map(CreatePayment::AlreadyOpen)
            .ok_or(rusqlite::Error::QueryReturnedNoRows);
    }
    let payment =
        get(conn, conn.last_insert_rowid())?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok(CreatePayment::Created(payment))
}

/// A package the user chose for one of their sets.
#[derive(Debug, Clone)]
pub(crate) struct Order<'a> {
    pub(crate) user_id: i64,
    pub(crate) avatar_id: i64,
    pub(crate) tier_id: &'a str,
    pub(crate) price_kopecks: i64,
    pub(crate) portraits: u32,
    pub(crate) receipt_contact: &'a str,
}

/// What [`begin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Begun {
    Created(Payment),
    /// The set already has an open payment: it is returned instead.
    AlreadyOpen(Payment),
    /// The set is not the user's (or no longer exists).
    NotOwned,
    /// Only a draft can be bought: the set's status.
    NotDraft(super::avatars::AvatarStatus),
}

/// Writes a payment for `order` (status `new`, before T-Bank is called):
/// the user's referral balance becomes its discount and is reserved with
/// it, the set awaits payment, and the funnel records the step. Call it
/// in an immediate transaction, and commit only when it returns `Created`.
pub(crate) fn begin(conn: &Connection, order: &Order<'_>, now: i64) -> rusqlite::Result<Begun> {
    use super::{avatars, events, referrals};
    let Some(avatar) = avatars::get_owned(conn, order.avatar_id, order.user_id)? else {
        return Ok(Begun::NotOwned);
    };
    if let Some(open) = open_for_avatar(conn, order.avatar_id)? {
        return Ok(Begun::AlreadyOpen(open));
    }
    if avatar.status != avatars::AvatarStatus::Draft {
        return Ok(Begun::NotDraft(avatar.status));
    }
    let order_id = format!("pg-{}-{now}", order.avatar_id);
    let discount = referrals::discount_for(
        referrals::available(conn, order.user_id)?,
        order.price_kopecks,
    );
    let created = create(
        conn,
        &NewPayment {
            order_id: &order_id,
            user_id: order.user_id,
            avatar_id: order.avatar_id,
            tier_id: order.tier_id,
            amount_kopecks: order.price_kopecks - discount,
            portraits: order.portraits,
            discount_kopecks: discount,
            receipt_contact: order.receipt_contact,
        },
        now,
    )?;
    let payment = match created {
        CreatePayment::Created(payment) => payment,
        CreatePayment::AlreadyOpen(open) => return Ok(Begun::AlreadyOpen(open)),
    };
    avatars::set_tier(conn, order.avatar_id, order.tier_id, now)?;
    avatars::transition(
        conn,
        order.avatar_id,
        avatars::AvatarStatus::Draft,
        avatars::AvatarStatus::AwaitingPayment,
        now,
    )?;
    if discount > 0 {
        referrals::reserve_spend(conn, order.user_id, payment.id, discount, now)?;
    }
    events::record(
        conn,
        order.user_id,
        events::Stage::Payment,
        order.avatar_id,
        None,
        now,
    )?;
    tracing::info!(payment_id = payment.id, order_id = %payment.order_id, user_id = order.user_id,
        avatar_id = order.avatar_id, tier = %order.tier_id, discount, "payment requested");
    Ok(Begun::Created(payment))
}

/// The user's open payment (the newest, should there be several), whichever set it is for.
pub(crate) fn open_for_user(conn: &Connection, user_id: i64) -> rusqlite::Result<Option<Payment>> {
    conn.query_row(
        &format!(
            "SELECT {COLUMNS} FROM payments WHERE user_id = ?1 AND status IN ('new', 'open')
             ORDER BY id DESC LIMIT 1"
        ),
        [user_id],
        from_row,
    )
    .optional()
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Payment>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM payments WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

/// The payment `id` if it belongs to `user_id` (ids from users can be forged).
pub(crate) fn get_owned(
    conn: &Connection,
    id: i64,
    user_id: i64,
) -> rusqlite::Result<Option<Payment>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM payments WHERE id = ?1 AND user_id = ?2"),
        params![id, user_id],
        from_row,
    )
    .optional()
}

pub(crate) fn open_for_avatar(
    conn: &Connection,
    avatar_id: i64,
) -> rusqlite::Result<Option<Payment>> {
    conn.query_row(
        &format!(
            "SELECT {COLUMNS} FROM payments WHERE avatar_id = ?1 AND status IN ('new', 'open')"
        ),
        [avatar_id],
        from_row,
    )
    .optional()
}

/// Tags a payment with the bank it is made at, before Init is called (a
/// payment keeps its first tag). Returns the payment's tag.
pub(crate) fn tag_terminal(conn: &Connection, id: i64, terminal: &str) -> rusqlite::Result<String> {
    conn.query_row(
        "UPDATE payments SET terminal = COALESCE(terminal, ?2) WHERE id = ?1 RETURNING terminal",
        params![id, terminal],
        |r| r.get(0),
    )
}

/// Records T-Bank's answer to Init: the payment is open with its PaymentId and link.
pub fn mark_opened(
    conn: &Connection,
    id: i64,
    bank_payment_id: &str,
    payment_url: &str,
    bank_status: &str,
    next_check_at: i64,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE payments SET status = 'open', bank_payment_id = ?2, payment_url = ?3,
                bank_status = ?4, next_check_at = ?5, updated_at = ?6, last_error = NULL
         WHERE id = ?1 AND status = 'new'",
        params![
            id,
            bank_payment_id,
            payment_url,
            bank_status,
            next_check_at,
            now
        ],
    )? == 1)
}

/// Records a poll of T-Bank that did not end the payment.
pub(crate) fn record_check(
    conn: &Connection,
    id: i64,
    bank_status: Option<&str>,
    error: Option<&str>,
    next_check_at: i64,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE payments SET bank_status = COALESCE(?2, bank_status), last_error = ?3,
                checks = checks + 1, next_check_at = ?4, updated_at = ?5
         WHERE id = ?1",
        params![id, bank_status, error, next_check_at, now],
    )?;
    Ok(())
}

/// Moves an open payment to a final status. Only one caller ever wins: the
/// update only applies while the payment is still open. Returns whether it moved.
pub fn finish(
    conn: &Connection,
    id: i64,
    status: PaymentStatus,
    bank_status: Option<&str>,
    now: i64,
) -> rusqlite::Result<bool> {
    let confirmed_at = (status == PaymentStatus::Confirmed).then_some(now);
    Ok(conn.execute(
        "UPDATE payments SET status = ?2, bank_status = COALESCE(?3, bank_status),
                next_check_at = NULL, updated_at = ?4, confirmed_at = COALESCE(?5, confirmed_at)
         WHERE id = ?1 AND status IN ('new', 'open')",
        params![id, status.as_str(), bank_status, now, confirmed_at],
    )? == 1)
}

/// An open payment ends without money (`status`), and its set, which was
/// awaiting it, is a draft again. Returns whether it moved (only the first
/// caller wins, as with [`finish`]).
pub(crate) fn end_unpaid(
    conn: &Connection,
    payment: &Payment,
    status: PaymentStatus,
    bank_status: Option<&str>,
    now: i64,
) -> rusqlite::Result<bool> {
    if !finish(conn, payment.id, status, bank_status, now)? {
        return Ok(false);
    }
    super::avatars::transition(
        conn,
        payment.avatar_id,
        super::avatars::AvatarStatus::AwaitingPayment,
        super::avatars::AvatarStatus::Draft,
        now,
    )?;
    Ok(true)
}

/// Open payments whose next check is due, oldest first.
pub(crate) fn due_for_check(
    conn: &Connection,
    now: i64,
    limit: u32,
) -> rusqlite::Result<Vec<Payment>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM payments
         WHERE status IN ('new', 'open') AND next_check_at IS NOT NULL AND next_check_at <= ?1
         ORDER BY next_check_at LIMIT ?2"
    ))?;
    stmt.query_map(params![now, limit], from_row)?.collect()
}

/// Every status the payment went through, oldest first: (status, bank status, time).
pub fn history(conn: &Connection, id: i64) -> rusqlite::Result<Vec<(String, Option<String>, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT status, bank_status, at FROM payment_status_history WHERE payment_id = ?1 ORDER BY id",
    )?;
    stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}

/// "I have paid": make an open payment due for a check right now.
pub(crate) fn check_now(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE payments SET next_check_at = ?2 WHERE id = ?1 AND status IN ('new', 'open')",
        params![id, now],
    )? == 1)
}

/// Open payments created at or before `before` that the admins were not yet
/// alerted about, oldest first.
pub(crate) fn stuck_unalerted(
    conn: &Connection,
    before: i64,
    limit: u32,
) -> rusqlite::Result<Vec<Payment>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM payments
         WHERE status IN ('new', 'open') AND stuck_alerted_at IS NULL AND created_at <= ?1
         ORDER BY created_at, id LIMIT ?2"
    ))?;
    stmt.query_map(params![before, limit], from_row)?.collect()
}

/// Remembers that the admins were alerted about a stuck payment (once).
pub(crate) fn mark_stuck_alerted(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE payments SET stuck_alerted_at = ?2 WHERE id = ?1 AND stuck_alerted_at IS NULL",
        params![id, now],
    )? == 1)
}

/// Open payments created at or before `before` whose cancellation nobody has
/// asked for yet (a cancellation that failed is not asked for again).
pub(crate) fn stuck_to_cancel(
    conn: &Connection,
    before: i64,
    limit: u32,
) -> rusqlite::Result<Vec<Payment>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM payments p
         WHERE status IN ('new', 'open') AND created_at <= ?1
           AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id
                           AND r.reason IN ('stuck', 'admin_cancel'))
         ORDER BY created_at, id LIMIT ?2"
    ))?;
    stmt.query_map(params![before, limit], from_row)?.collect()
}

/// Payments the bank has seen (a PaymentId, and the tag of the bank it was
/// opened at: rows from before migration 0014 are left out), created at or after `since`,
/// with an id above `after`, no longer open here (the payment step polls
/// the open ones), oldest first: what the daily reconciliation compares.
pub(crate) fn to_reconcile(
    conn: &Connection,
    since: i64,
    after: i64,
    limit: u32,
) -> rusqlite::Result<Vec<Payment>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM payments
         WHERE created_at >= ?1 AND id > ?2 AND bank_payment_id IS NOT NULL
           AND terminal IS NOT NULL AND status NOT IN ('new', 'open')
         ORDER BY id LIMIT ?3"
    ))?;
    stmt.query_map(params![since, after, limit], from_row)?
        .collect()
}
