//! The referral programme's part of the side task: crediting the referrer in
//! the transaction that confirms a payment (with their message queued in the
//! same transaction), and reversing the share in the one that marks a refund
//! done. Both are called with an open transaction, so the money and the
//! message are written together or not at all.

use rusqlite::Connection;

use crate::chat::lang_of;
use crate::chat::outbox::{self, Delivery, Outgoing};
use crate::db::payments::Payment;
use crate::db::referrals;
use crate::i18n::{Arg, rub, tr_args};

/// A payment was confirmed now (the caller won the guarded update): credit
/// the referrer of its user, once, and queue their message (one per earning).
/// Returns the earning written, if any.
pub(crate) fn credit(
    tx: &Connection,
    percent: u32,
    payment: &Payment,
    now: i64,
) -> rusqlite::Result<Option<referrals::Earning>> {
    let Some(earning) = referrals::credit_for_payment(tx, payment, percent, now)? else {
        return Ok(None);
    };
    let lang = lang_of(tx, earning.referrer_id)?;
    let balance = referrals::available(tx, earning.referrer_id)?;
    let text = tr_args(
        lang,
        "referral-earned",
        &[
            ("amount", Arg::Str(&rub(lang, earning.amount_kopecks))),
            ("balance", Arg::Str(&rub(lang, balance))),
        ],
    );
    // Not essential: /stop silences it like any other news.
    outbox::enqueue(
        tx,
        earning.referrer_id,
        &Outgoing::text(text),
        &format!("referral:earning:{}", earning.id),
        Delivery::Optional,
        now,
    )?;
    tracing::info!(
        payment_id = payment.id,
        referrer_id = earning.referrer_id,
        amount = earning.amount_kopecks,
        "referrer credited"
    );
    Ok(Some(earning))
}

/// A refund of `refunded_kopecks` of `payment_id` went through now: the
/// referrer's earning on it loses the matching share.
pub(crate) fn reverse(
    tx: &Connection,
    payment_id: i64,
    refunded_kopecks: i64,
) -> rusqlite::Result<()> {
    if let Some((earning, reversed)) =
        referrals::reverse_for_refund(tx, payment_id, refunded_kopecks)?
        && reversed > 0
    {
        tracing::info!(
            payment_id,
            referrer_id = earning.referrer_id,
            reversed,
            "referral share reversed by a refund"
        );
    }
    Ok(())
}
