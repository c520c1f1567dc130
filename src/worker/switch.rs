//! One open payment per user: a package chosen while a payment was open is
//! a `superseded` cancellation of that payment carrying the new choice
//! ([`refunds::Switch`]). The refund step cancels the old payment at T-Bank
//! like any unpaid one (`admin::cancel_unpaid`), then this module ends it
//! and writes the new payment in one transaction — or, when the user paid
//! the old bill meanwhile, keeps that payment and drops the new choice.

use tracing::{info, warn};

use super::WorkerCtx;
use crate::chat::lang_of;
use crate::chat::outbox::Outgoing;
use crate::db::payments::{self, Begun, Payment, PaymentStatus};
use crate::db::refunds::{self, Refund};
use crate::i18n::{Arg, Lang, rub, tr_args};

/// The old bill and the new package, as the user reads them.
#[derive(Debug, Clone)]
struct Names {
    amount: i64,
    old_tier: String,
    tier: String,
}

impl Names {
    fn of(ctx: &WorkerCtx, old: &Payment, refund: &Refund) -> Names {
        let name = |id: &str| {
            ctx.config
                .tier(id)
                .map_or_else(|| id.to_owned(), |t| t.name.clone())
        };
        Names {
            amount: old.amount_kopecks,
            old_tier: name(&old.tier_id),
            tier: refund
                .switch
                .as_ref()
                .map_or_else(String::new, |s| name(&s.tier_id)),
        }
    }

    fn text(&self, lang: Lang, key: &str) -> String {
        tr_args(
            lang,
            key,
            &[
                ("amount", Arg::Str(&rub(lang, self.amount))),
                ("old_tier", Arg::Str(&self.old_tier)),
                ("tier", Arg::Str(&self.tier)),
            ],
        )
    }
}

/// The old payment is cancelled at the bank (`bank_status`), or had ended
/// without money already: it ends (if still open), its set is a draft
/// again, and the new choice becomes a payment — all in one transaction,
/// so a crash at any line leaves either the switch to do again or it done.
pub(crate) async fn carry_out(
    ctx: &WorkerCtx,
    refund: Refund,
    old: Payment,
    bank_status: Option<String>,
    now: i64,
) -> anyhow::Result<()> {
    let Some(switch) = refund.switch.clone() else {
        anyhow::bail!("refund {} is a switch without its choice", refund.id);
    };
    let tier = ctx.config.tier(&switch.tier_id).cloned();
    // Paid in the last second, between GetState and Cancel: the Cancel
    // returned the money, and the user is told so.
    let returned = bank_status
        .as_deref()
        .is_some_and(|status| crate::tbank::PaymentStatus::parse(status).returned_in_full());
    let switched_key = if returned {
        "payment-switched-returned"
    } else {
        "payment-switched"
    };
    let names = Names::of(ctx, &old, &refund);
    let refund_id = refund.id;
    let outcome = ctx
        .db
        .run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if !refunds::mark_done_without_money(&tx, refund_id, now)? {
                return Ok(None);
            }
            payments::end_unpaid(
                &tx,
                &old,
                PaymentStatus::Canceled,
                bank_status.as_deref(),
                now,
            )?;
            let begun = match &tier {
                Some(tier) => payments::begin(
                    &tx,
                    &payments::Order {
                        user_id: old.user_id,
                        avatar_id: switch.avatar_id,
                        tier_id: &tier.id,
                        price_kopecks: tier.price_kopecks,
                        portraits: tier.portraits,
                        receipt_contact: &switch.contact,
                    },
                    now,
                )?,
                // The tier left the configuration meanwhile.
                None => Begun::NotOwned,
            };
            let lang = lang_of(&tx, old.user_id)?;
            let message = match &begun {
                Begun::Created(_) => Outgoing::text(names.text(lang, switched_key)),
                // The new choice cannot be bought any more (the set was
                // deleted, or is no longer a draft): the old bill is
                // cancelled all the same, with the way on.
                _ => super::payments::choose_again(lang, "payment-canceled", switch.avatar_id),
            };
            super::queue_paid(
                &tx,
                old.user_id,
                &message,
                &format!("refund:{refund_id}:switched"),
                now,
            )?;
            tx.commit()?;
            Ok(Some(begun))
        })
        .await?;
    match outcome {
        Some(Begun::Created(payment)) => {
            info!(
                refund_id,
                old_payment_id = refund.payment_id,
                payment_id = payment.id,
                "package switched: the old bill is cancelled, the new one requested"
            );
        }
        Some(other) => {
            warn!(refund_id, outcome = ?other, "package switch: the old bill is cancelled, the new choice cannot be bought");
        }
        None => {}
    }
    ctx.wake.notify_one();
    Ok(())
}

/// The user paid the old bill before it could be cancelled: that payment
/// stands (the payment step confirms it at once), the new choice is dropped,
/// and the user is told nothing more is to be paid.
pub(crate) async fn paid_meanwhile(
    ctx: &WorkerCtx,
    refund: Refund,
    old: Payment,
    bank_status: &str,
    now: i64,
) -> anyhow::Result<()> {
    warn!(
        refund_id = refund.id,
        payment_id = old.id,
        bank_status,
        "package switch dropped: the old bill was paid meanwhile"
    );
    let why = format!("not sent: the payment was paid meanwhile ({bank_status})");
    let names = Names::of(ctx, &old, &refund);
    ctx.db
        .run(move |c| {
            let tx = c.transaction()?;
            refunds::mark_failed(&tx, refund.id, &why)?;
            payments::check_now(&tx, old.id, now)?;
            let lang = lang_of(&tx, old.user_id)?;
            let message = Outgoing::text(names.text(lang, "payment-switch-paid"));
            let dedup = format!("refund:{}:switch-paid", refund.id);
            super::queue_paid(&tx, old.user_id, &message, &dedup, now)?;
            tx.commit()
        })
        .await?;
    ctx.wake.notify_one();
    Ok(())
}

/// T-Bank refused to cancel the old bill: it stays valid and the new choice
/// is dropped; the user is told (the caller fails the row and alerts the
/// admins; a repeat of this notice is dropped by its key).
pub(crate) async fn tell_refused(
    ctx: &WorkerCtx,
    refund: &Refund,
    old: &Payment,
    now: i64,
) -> anyhow::Result<()> {
    let names = Names::of(ctx, old, refund);
    let (user_id, dedup) = (old.user_id, format!("refund:{}:switch-failed", refund.id));
    ctx.db
        .run(move |c| {
            let lang = lang_of(c, user_id)?;
            let message = Outgoing::text(names.text(lang, "payment-switch-failed"));
            super::queue_paid(c, user_id, &message, &dedup, now)
        })
        .await?;
    Ok(())
}
