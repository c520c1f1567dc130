//! The referral programme: earnings (one per paid payment of a referred
//! user), their reversal by refunds, the balance spent as a discount on one's
//! own next package, and payout requests.
//!
//! # The balance
//!
//! ```text
//! balance = Σ earning.amount − Σ earning.reversed
//!         − Σ spends of payments that did not end without money
//!         − Σ payout requests that are requested or paid
//! ```
//!
//! * An earning is `floor(paid × percent / 100)` kopecks of the amount the
//!   referred user actually paid (after their own discount), written in the
//!   transaction that confirms the payment (UNIQUE payment_id: once).
//! * A refund of `r` kopecks of a payment of `paid` kopecks reverses
//!   `floor(earning × r / paid)` more, never above the earning in total.
//! * A spend is reserved with the payment row that carries the discount, in
//!   one transaction. It is *released* by the payment itself: a spend whose
//!   payment ended without money (rejected, canceled, expired, failed) no
//!   longer counts, so the balance comes back in the very update that ends
//!   the payment; no code path can forget it.
//! * A refund of a discounted payment returns money that was paid, never the
//!   balance spent on it: the spent balance stays spent (the portraits that
//!   were delivered used it).
//! * A payout request takes the whole balance; a rejected one gives it back.
//!
//! A reversal after the balance was spent or requested can leave the sum
//! below zero; then nothing is available ([`Summary::available`] is 0) and
//! the next earnings fill the gap first.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::payments::Payment;

/// T-Bank's smallest payment (10 ₽): a discount never takes a price below it.
pub(crate) const MIN_PAYMENT_KOPECKS: i64 = 1000;

/// The payment statuses that mean "no money was taken": their spends are released.
const ENDED_WITHOUT_MONEY: &str = "('rejected', 'canceled', 'expired', 'failed')";

/// The referrer's share of a payment: `percent` % of what was paid, rounded
/// down to a whole kopeck.
pub fn share(paid_kopecks: i64, percent: u32) -> i64 {
    (paid_kopecks.max(0) * i64::from(percent)) / 100
}

/// The discount a balance buys on a package of `price` kopecks: all of it,
/// but never so much that less than T-Bank's minimum is left to pay.
pub fn discount_for(balance: i64, price: i64) -> i64 {
    balance.min(price - MIN_PAYMENT_KOPECKS).max(0)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earning {
    pub(crate) id: i64,
    pub referrer_id: i64,
    pub(crate) referred_id: i64,
    pub(crate) payment_id: i64,
    pub amount_kopecks: i64,
    pub reversed_kopecks: i64,
    pub(crate) created_at: i64,
}

fn earning_from_row(r: &Row<'_>) -> rusqlite::Result<Earning> {
    Ok(Earning {
        id: r.get(0)?,
        referrer_id: r.get(1)?,
        referred_id: r.get(2)?,
        payment_id: r.get(3)?,
        amount_kopecks: r.get(4)?,
        reversed_kopecks: r.get(5)?,
        created_at: r.get(6)?,
    })
}

const EARNING_COLUMNS: &str =
    "id, referrer_id, referred_id, payment_id, amount_kopecks, reversed_kopecks, created_at";

pub(crate) fn earning_for_payment(
    conn: &Connection,
    payment_id: i64,
) -> rusqlite::Result<Option<Earning>> {
    conn.query_row(
        &format!("SELECT {EARNING_COLUMNS} FROM referral_earnings WHERE payment_id = ?1"),
        [payment_id],
        earning_from_row,
    )
    .optional()
}

/// Credits the referrer of the payment's user with their share, once per
/// payment. Call it in the transaction that confirms the payment. Returns
/// the earning written now: `None` if the user was not referred, the share
/// is zero, or the payment was already credited.
pub fn credit_for_payment(
    conn: &Connection,
    payment: &Payment,
    percent: u32,
    now: i64,
) -> rusqlite::Result<Option<Earning>> {
    let referrer: Option<i64> = conn
        .query_row(
            "SELECT referred_by FROM users WHERE id = ?1",
            [payment.user_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let Some(referrer_id) = referrer else {
        return Ok(None);
    };
    let amount = share(payment.amount_kopecks, percent);
    if amount <= 0 {
        return Ok(None);
    }
    let inserted = conn.execute(
        "INSERT INTO referral_earnings (referrer_id, referred_id, payment_id, amount_kopecks, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (payment_id) DO NOTHING",
        params![referrer_id, payment.user_id, payment.id, amount, now],
    )? == 1;
    if !inserted {
        return Ok(None);
    }
    earning_for_payment(conn, payment.id)
}

/// A refund of `refunded_kopecks` of a payment went through: its earning
/// loses the matching share, `floor(earning × refunded / paid)`, never more
/// than the earning in total. Call it in the transaction that marks the
/// refund done. Returns (the earning, kopecks reversed now), if there is one.
pub fn reverse_for_refund(
    conn: &Connection,
    payment_id: i64,
    refunded_kopecks: i64,
) -> rusqlite::Result<Option<(Earning, i64)>> {
    let Some(earning) = earning_for_payment(conn, payment_id)? else {
        return Ok(None);
    };
    let paid: i64 = conn.query_row(
        "SELECT amount_kopecks FROM payments WHERE id = ?1",
        [payment_id],
        |r| r.get(0),
    )?;
    let share = if paid > 0 {
        // i128: an earning times a refund cannot overflow.
        (i128::from(earning.amount_kopecks) * i128::from(refunded_kopecks.max(0))
            / i128::from(paid)) as i64
    } else {
        0
    };
    let reversed = share.min(earning.amount_kopecks - earning.reversed_kopecks);
    if reversed <= 0 {
        return Ok(Some((earning, 0)));
    }
    conn.execute(
        "UPDATE referral_earnings SET reversed_kopecks = reversed_kopecks + ?2 WHERE id = ?1",
        params![earning.id, reversed],
    )?;
    let earning =
        earning_for_payment(conn, payment_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok(Some((earning, reversed)))
}

/// Reserves `amount` of the user's balance for the payment that carries it
/// as its discount. Call it in the transaction that creates the payment.
pub fn reserve_spend(
    conn: &Connection,
    user_id: i64,
    payment_id: i64,
    amount: i64,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO referral_spends (user_id, payment_id, amount_kopecks, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![user_id, payment_id, amount, now],
    )?;
    Ok(())
}

/// Everything `/referral` shows, in kopecks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Users attributed to this one.
    pub brought: i64,
    /// Payments of those users that earned something.
    pub credits: i64,
    pub earned: i64,
    pub(crate) reversed: i64,
    /// Discounts on payments that did not end without money.
    pub spent: i64,
    /// The open payout request, if any.
    pub requested: i64,
    pub paid_out: i64,
}

impl Summary {
    /// What is left: may be below zero after a reversal (see the module).
    pub fn balance(&self) -> i64 {
        self.earned - self.reversed - self.spent - self.requested - self.paid_out
    }

    /// What can be spent or paid out now.
    pub fn available(&self) -> i64 {
        self.balance().max(0)
    }
}

pub fn summary(conn: &Connection, user_id: i64) -> rusqlite::Result<Summary> {
    let brought: i64 = conn.query_row(
        "SELECT COUNT(*) FROM users WHERE referred_by = ?1",
        [user_id],
        |r| r.get(0),
    )?;
    let (credits, earned, reversed): (i64, i64, i64) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(amount_kopecks), 0), COALESCE(SUM(reversed_kopecks), 0)
         FROM referral_earnings WHERE referrer_id = ?1",
        [user_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let spent: i64 = conn.query_row(
        &format!(
            "SELECT COALESCE(SUM(s.amount_kopecks), 0)
             FROM referral_spends s JOIN payments p ON p.id = s.payment_id
             WHERE s.user_id = ?1 AND p.status NOT IN {ENDED_WITHOUT_MONEY}"
        ),
        [user_id],
        |r| r.get(0),
    )?;
    let (requested, paid_out): (i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(CASE WHEN status = 'requested' THEN amount_kopecks END), 0),
                COALESCE(SUM(CASE WHEN status = 'paid' THEN amount_kopecks END), 0)
         FROM payout_requests WHERE user_id = ?1",
        [user_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Summary {
        brought,
        credits,
        earned,
        reversed,
        spent,
        requested,
        paid_out,
    })
}

/// The part of the balance that can be spent or paid out now.
pub fn available(conn: &Connection, user_id: i64) -> rusqlite::Result<i64> {
    Ok(summary(conn, user_id)?.available())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRequest {
    pub id: i64,
    pub(crate) user_id: i64,
    pub amount_kopecks: i64,
    pub(crate) status: String,
    pub(crate) created_at: i64,
    pub(crate) decided_at: Option<i64>,
}

fn payout_from_row(r: &Row<'_>) -> rusqlite::Result<PayoutRequest> {
    Ok(PayoutRequest {
        id: r.get(0)?,
        user_id: r.get(1)?,
        amount_kopecks: r.get(2)?,
        status: r.get(3)?,
        created_at: r.get(4)?,
        decided_at: r.get(5)?,
    })
}

const PAYOUT_COLUMNS: &str = "id, user_id, amount_kopecks, status, created_at, decided_at";

pub(crate) fn open_payout(
    conn: &Connection,
    user_id: i64,
) -> rusqlite::Result<Option<PayoutRequest>> {
    conn.query_row(
        &format!(
            "SELECT {PAYOUT_COLUMNS} FROM payout_requests WHERE user_id = ?1 AND status = 'requested'"
        ),
        [user_id],
        payout_from_row,
    )
    .optional()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payout {
    /// A request for the whole available balance was written now.
    Requested(PayoutRequest),
    /// One is open already (at most one per user); nothing was written.
    AlreadyOpen(PayoutRequest),
    /// Nothing is available.
    NothingToPay,
}

/// Asks for the whole available balance to be paid out. Run it in an
/// IMMEDIATE transaction: the balance read and the row written must see the
/// same state (a UNIQUE index also stops a second open request).
pub fn request_payout(conn: &Connection, user_id: i64, now: i64) -> rusqlite::Result<Payout> {
    if let Some(open) = open_payout(conn, user_id)? {
        return Ok(Payout::AlreadyOpen(open));
    }
    let amount = available(conn, user_id)?;
    if amount <= 0 {
        return Ok(Payout::NothingToPay);
    }
    match conn.execute(
        "INSERT INTO payout_requests (user_id, amount_kopecks, created_at) VALUES (?1, ?2, ?3)",
        params![user_id, amount, now],
    ) {
        Ok(_) => {}
        Err(e) if super::is_unique_violation(&e) => {
            return open_payout(conn, user_id)?
                .map(Payout::AlreadyOpen)
                .ok_or(rusqlite::Error::QueryReturnedNoRows);
        }
        Err(e) => return Err(e),
    }
    let id = conn.last_insert_rowid();
    conn.query_row(
        &format!("SELECT {PAYOUT_COLUMNS} FROM payout_requests WHERE id = ?1"),
        [id],
        payout_from_row,
    )
    .map(Payout::Requested)
}

/// The open payout requests, oldest first, at most `limit`.
pub(crate) fn open_payouts(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<PayoutRequest>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {PAYOUT_COLUMNS} FROM payout_requests WHERE status = 'requested'
         ORDER BY id LIMIT ?1"
    ))?;
    stmt.query_map([limit], payout_from_row)?.collect()
}

/// One payout request by id.
pub(crate) fn payout(conn: &Connection, id: i64) -> rusqlite::Result<Option<PayoutRequest>> {
    conn.query_row(
        &format!("SELECT {PAYOUT_COLUMNS} FROM payout_requests WHERE id = ?1"),
        [id],
        payout_from_row,
    )
    .optional()
}

/// An admin settled a request: `paid` keeps the amount out of the balance,
/// otherwise (rejected) it comes back. Only an open request moves.
pub fn decide_payout(conn: &Connection, id: i64, paid: bool, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE payout_requests SET status = ?2, decided_at = ?3 WHERE id = ?1 AND status = 'requested'",
        params![id, if paid { "paid" } else { "rejected" }, now],
    )? == 1)
}
