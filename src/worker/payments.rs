//! The payment step of the side task: Init for payments the chat created,
//! then GetState on a back-off schedule until a final status.
//!
//! State first, then the call, then the result: a payment row exists (status
//! `new`) before Init is called; a crash between Init and saving its answer
//! leaves it `new`, and the next round calls Init again with the same
//! OrderId (the orphaned bank payment was never shown to anyone and expires).

use std::time::Duration;

use tracing::{info, warn};

use super::WorkerCtx;
use crate::chat::callback::Callback;
use crate::chat::lang_of;
use crate::chat::outbox::{Button, Outgoing};
use crate::db::payments::{self, Payment, PaymentStatus};
use crate::db::{avatars, events, jobs};
use crate::i18n::{Arg, rub, tr, tr_args};
use crate::tbank::{self, InitRequest, Receipt, ReceiptItem};

/// Init attempts (one every 5 s) before the payment is given up as failed.
const INIT_ATTEMPTS: u32 = 12;

/// Payments handled per round.
const BATCH: u32 = 16;

/// How long after creation a payment is polled at the fast interval.
const FAST_WINDOW: Duration = Duration::from_secs(10 * 60);

/// When to ask T-Bank again about a payment created at `created_at`.
pub(crate) fn next_check_at(ctx: &WorkerCtx, created_at: i64, now: i64) -> i64 {
    let age = Duration::from_millis(now.saturating_sub(created_at).max(0) as u64);
    let interval = if age < FAST_WINDOW {
        ctx.config.worker.payment_poll_fast_secs
    } else {
        ctx.config.worker.payment_poll_slow_secs
    };
    now + (interval as i64) * 1000
}

/// One round: every due payment gets Init (if new) or GetState (if open).
/// Returns how many payments were looked at.
pub(crate) async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let due = ctx
        .db
        .run(move |c| payments::due_for_check(c, now, BATCH))
        .await?;
    let count = due.len();
    for payment in due {
        let (payment_id, order_id) = (payment.id, payment.order_id.clone());
        let result = if at_other_terminal(ctx, &payment) {
            other_terminal(ctx, &payment, now).await
        } else {
            match payment.status {
                PaymentStatus::New => init(ctx, payment, now).await,
                _ => check(ctx, payment, now).await,
            }
        };
        if let Err(error) = result {
            warn!(
                payment_id,
                order_id,
                error = format!("{error:#}"),
                "payment step failed"
            );
        }
    }
    Ok(count)
}

/// Whether `payment` was made at another bank than this client's (another
/// terminal, or a stand-in and the real T-Bank): it is never polled,
/// confirmed, cancelled or refunded from here.
pub(crate) fn at_other_terminal(ctx: &WorkerCtx, payment: &Payment) -> bool {
    payment
        .terminal
        .as_deref()
        .is_some_and(|tag| tag != ctx.tbank.terminal_tag())
}

/// A payment of another bank came due: the admins are told once, and it is
/// looked at again only rarely (the configuration may be switched back).
async fn other_terminal(ctx: &WorkerCtx, payment: &Payment, now: i64) -> anyhow::Result<()> {
    warn!(payment_id = payment.id, order_id = %payment.order_id, "payment made at another T-Bank terminal: not polled");
    let admins = ctx.config.bot.admin_ids.clone();
    let alert = super::alerts::Alert::OtherTerminal {
        payment: payment.id,
        order: payment.order_id.clone(),
    };
    let (id, next) = (
        payment.id,
        now + ctx.config.worker.payment_poll_slow_secs as i64 * 1000,
    );
    ctx.db
        .run(move |c| {
            let tx = c.transaction()?;
            let why = "made at another T-Bank terminal (or a stand-in): not polled here";
            payments::record_check(&tx, id, None, Some(why), next, now)?;
            super::alerts::raise(&tx, &admins, &format!("other_terminal:{id}"), &alert, now)?;
            tx.commit()
        })
        .await?;
    Ok(())
}

/// The 54-FZ receipt of a payment: one service item for the package.
pub(crate) fn receipt_for(ctx: &WorkerCtx, payment: &Payment) -> Receipt {
    let tier_name = ctx
        .config
        .tier(&payment.tier_id)
        .map(|t| t.name.clone())
        .unwrap_or_else(|| payment.tier_id.clone());
    let (email, phone) = if payment.receipt_contact.contains('@') {
        (Some(payment.receipt_contact.clone()), None)
    } else {
        (None, Some(payment.receipt_contact.clone()))
    };
    let ffd = ctx.config.tbank.ffd_version.clone();
    let measurement_unit = (ffd == "1.2").then(|| "шт".to_owned());
    Receipt {
        email,
        phone,
        taxation: ctx.config.tbank.taxation.clone(),
        ffd_version: Some(ffd),
        items: vec![ReceiptItem {
            name: format!(
                "AI-портреты PinGlass, пакет «{tier_name}» ({} шт.)",
                payment.portraits
            ),
            price: payment.amount_kopecks,
            quantity: 1.0,
            amount: payment.amount_kopecks,
            tax: ctx.config.tbank.tax.clone(),
            // Full payment, not prepayment: the portraits are delivered
            // within minutes of the payment, so there is no later
            // delivery to close with a second receipt (a share that could
            // not be made is refunded, with its own return receipt).
            payment_method: "full_payment".into(),
            payment_object: "service".into(),
            measurement_unit,
        }],
    }
}

async fn init(ctx: &WorkerCtx, payment: Payment, now: i64) -> anyhow::Result<()> {
    // The bank first, then the call: a payment is only ever opened, polled
    // and cancelled at the bank it was first sent to.
    let (lang, terminal) = {
        let (user_id, id, tag) = (payment.user_id, payment.id, ctx.tbank.terminal_tag());
        ctx.db
            .run(move |c| Ok((lang_of(c, user_id)?, payments::tag_terminal(c, id, &tag)?)))
            .await?
    };
    if terminal != ctx.tbank.terminal_tag() {
        return other_terminal(ctx, &payment, now).await;
    }
    let tier_name = ctx
        .config
        .tier(&payment.tier_id)
        .map(|t| t.name.clone())
        .unwrap_or_else(|| payment.tier_id.clone());
    let request = InitRequest {
        amount_kopecks: payment.amount_kopecks,
        order_id: payment.order_id.clone(),
        description: tr_args(
            lang,
            "payment-description",
            &[
                ("tier", Arg::Str(&tier_name)),
                ("portraits", Arg::Num(payment.portraits.into())),
            ],
        ),
        customer_key: Some(payment.user_id.to_string()),
        language: Some(lang.code().to_owned()),
        // For T-Bank, which keeps its own time: the real clock, not the
        // application's (which tests move).
        redirect_due_date: chrono::Utc::now()
            + chrono::Duration::hours(i64::from(ctx.config.tbank.payment_deadline_hours)),
        receipt: receipt_for(ctx, &payment),
        data: Default::default(),
    };
    match ctx.tbank.init(&request).await {
        Ok(answer) => {
            info!(payment_id = payment.id, order_id = %payment.order_id, bank_payment_id = %answer.payment_id, "payment opened");
            let next = next_check_at(ctx, payment.created_at, now);
            let mut text = tr_args(
                lang,
                "payment-link",
                &[
                    ("amount", Arg::Str(&rub(lang, payment.amount_kopecks))),
                    ("tier", Arg::Str(&tier_name)),
                    (
                        "portraits",
                        Arg::Str(&tr_args(
                            lang,
                            "portraits",
                            &[("count", payment.portraits.into())],
                        )),
                    ),
                ],
            );
            if payment.discount_kopecks > 0 {
                let full = payment.amount_kopecks + payment.discount_kopecks;
                text.push_str("\n\n");
                text.push_str(&tr_args(
                    lang,
                    "payment-link-discount",
                    &[
                        ("discount", Arg::Str(&rub(lang, payment.discount_kopecks))),
                        ("price", Arg::Str(&rub(lang, full))),
                    ],
                ));
            }
            let message = Outgoing::Text {
                text,
                buttons: vec![
                    vec![Button::Url {
                        text: tr(lang, "payment-button-pay"),
                        url: answer.payment_url.to_string(),
                    }],
                    vec![Button::Callback {
                        text: tr(lang, "payment-button-paid"),
                        data: Callback::CheckPayment(payment.id).encode(),
                    }],
                ],
            };
            let at = ctx.clock.now_ms();
            ctx.db
                .run(move |c| {
                    let tx = c.transaction()?;
                    if payments::mark_opened(
                        &tx,
                        payment.id,
                        &answer.payment_id,
                        answer.payment_url.as_str(),
                        answer.status.as_str(),
                        next,
                        at,
                    )? {
                        let dedup = format!("payment:{}:link", payment.id);
                        super::queue_paid(&tx, payment.user_id, &message, &dedup, now)?;
                    }
                    tx.commit()
                })
                .await?;
            ctx.wake.notify_one();
        }
        Err(error) if error.is_transient() && payment.checks < INIT_ATTEMPTS => {
            warn!(payment_id = payment.id, order_id = %payment.order_id, %error, "Init failed, will retry");
            let next = now + 5_000;
            let msg = error.to_string();
            ctx.db
                .run(move |c| payments::record_check(c, payment.id, None, Some(&msg), next, now))
                .await?;
        }
        Err(error) => {
            warn!(payment_id = payment.id, order_id = %payment.order_id, %error, "Init refused or kept failing");
            let admins = ctx.config.bot.admin_ids.clone();
            let alert = super::alerts::Alert::InitFailed {
                payment: payment.id,
                order: payment.order_id.clone(),
                error: error.to_string(),
            };
            ctx.db
                .run(move |c| super::alerts::raise(c, &admins, "tbank_init", &alert, now))
                .await?;
            end_without_money(
                ctx,
                &payment,
                PaymentStatus::Failed,
                None,
                "payment-init-failed",
                now,
            )
            .await?;
        }
    }
    Ok(())
}

async fn check(ctx: &WorkerCtx, payment: Payment, now: i64) -> anyhow::Result<()> {
    let Some(bank_id) = payment.bank_payment_id.clone() else {
        return Ok(());
    };
    let state = match ctx.tbank.get_state(&bank_id).await {
        Ok(state) => state,
        Err(error) => {
            let next = if error.is_transient() {
                now + 5_000
            } else {
                next_check_at(ctx, payment.created_at, now)
            };
            warn!(payment_id = payment.id, bank_payment_id = %bank_id, %error, "GetState failed");
            let msg = error.to_string();
            ctx.db
                .run(move |c| payments::record_check(c, payment.id, None, Some(&msg), next, now))
                .await?;
            return Ok(());
        }
    };
    let bank_status = state.status.as_str().to_owned();
    use tbank::OpenOutcome as Bank;
    let ended =
        |status, key| end_without_money(ctx, &payment, status, Some(&bank_status), key, now);
    match state.status.for_open_payment() {
        Bank::Paid => confirm(ctx, &payment, &bank_status, now).await,
        Bank::PaidPartlyReturned => {
            // Paid, and part of it returned at the bank before the bot saw
            // the payment: the set is owed for what was paid; the admins
            // look at the bank's side.
            warn!(
                payment_id = payment.id,
                bank_status, "paid and partly returned outside the bot"
            );
            let admins = ctx.config.bot.admin_ids.clone();
            let alert = super::alerts::Alert::BankMismatch {
                payment: payment.id,
                order: payment.order_id.clone(),
                ours: payment.status.as_str().to_owned(),
                refunded: payment.refunded_kopecks,
                bank: bank_status.clone(),
                held: state.amount_kopecks,
            };
            let incident = format!("bank_mismatch:{}", payment.id);
            ctx.db
                .run(move |c| super::alerts::raise(c, &admins, &incident, &alert, now))
                .await?;
            confirm(ctx, &payment, &bank_status, now).await
        }
        Bank::Rejected => ended(PaymentStatus::Rejected, "payment-rejected").await,
        Bank::AuthFailed => ended(PaymentStatus::Rejected, "payment-auth-failed").await,
        Bank::AttemptsExpired => ended(PaymentStatus::Rejected, "payment-attempts-expired").await,
        Bank::Expired => ended(PaymentStatus::Expired, "payment-expired").await,
        Bank::Canceled => ended(PaymentStatus::Canceled, "payment-canceled").await,
        Bank::Waiting => {
            let next = next_check_at(ctx, payment.created_at, now);
            ctx.db
                .run(move |c| {
                    payments::record_check(c, payment.id, Some(&bank_status), None, next, now)
                })
                .await?;
            Ok(())
        }
    }
}

/// CONFIRMED: in one transaction mark the payment paid (only the first
/// caller wins), move the avatar to generating, create exactly one job, record
/// the funnel event, credit the referrer and queue the messages. Public so a
/// test can confirm one payment twice at once and across a restart.
pub async fn confirm(
    ctx: &WorkerCtx,
    payment: &Payment,
    bank_status: &str,
    now: i64,
) -> anyhow::Result<()> {
    let payment = payment.clone();
    let bank_status = bank_status.to_owned();
    let max_refs = ctx.config.kie.max_references;
    let referral_percent = ctx.config.referral.percent;
    let job = ctx
        .db
        .run(move |c| {
            let tx = c.transaction()?;
            if !payments::finish(
                &tx,
                payment.id,
                PaymentStatus::Confirmed,
                Some(&bank_status),
                now,
            )? {
                return Ok(None);
            }
            let avatar = avatars::get(&tx, payment.avatar_id)?
                .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            avatars::transition(
                &tx,
                avatar.id,
                avatar.status,
                avatars::AvatarStatus::Generating,
                now,
            )?;
            let keys: Vec<String> = avatars::photos(&tx, avatar.id)?
                .into_iter()
                .map(|p| p.object_key)
                .collect();
            let spread = crate::media::styles::spread_references(
                &keys,
                payment.portraits as usize,
                max_refs,
            );
            let tasks: Vec<jobs::NewTask> = spread
                .into_iter()
                .enumerate()
                .map(|(i, reference_keys)| jobs::NewTask {
                    prompt_index: i as u32,
                    reference_keys,
                })
                .collect();
            let (job, _) =
                jobs::create_for_payment(&tx, payment.id, avatar.id, payment.user_id, &tasks, now)?;
            events::record(
                &tx,
                payment.user_id,
                events::Stage::Generation,
                avatar.id,
                None,
                now,
            )?;
            let dedup = format!("payment:{}:confirmed", payment.id);
            let lang = lang_of(&tx, payment.user_id)?;
            let portraits = tr_args(lang, "portraits", &[("count", payment.portraits.into())]);
            let text = tr_args(
                lang,
                "payment-confirmed",
                &[("portraits", Arg::Str(&portraits))],
            );
            super::queue_paid(&tx, payment.user_id, &Outgoing::text(text), &dedup, now)?;
            super::referrals::credit(&tx, referral_percent, &payment, now)?;
            tx.commit()?;
            Ok(Some(job))
        })
        .await?;
    if let Some(job) = job {
        info!(
            payment_id = job.payment_id,
            job_id = job.id,
            avatar_id = job.avatar_id,
            tasks = job.total,
            "payment confirmed, job created"
        );
        ctx.wake.notify_one();
    }
    Ok(())
}

/// Why a payment ended (`key`), with the button to choose a package for
/// the set `avatar_id` again.
pub(crate) fn choose_again(lang: crate::i18n::Lang, key: &str, avatar_id: i64) -> Outgoing {
    Outgoing::Text {
        text: tr(lang, key),
        buttons: vec![vec![Button::Callback {
            text: tr(lang, "payment-button-retry"),
            data: Callback::Packages(avatar_id).encode(),
        }]],
    }
}

/// A payment that ended without money: the avatar goes back to draft and the
/// user gets the reason and a button to choose a package again.
pub(crate) async fn end_without_money(
    ctx: &WorkerCtx,
    payment: &Payment,
    status: PaymentStatus,
    bank_status: Option<&str>,
    message_key: &'static str,
    now: i64,
) -> anyhow::Result<()> {
    let ending = payment.clone();
    let bank_status = bank_status.map(str::to_owned);
    let ended = ctx
        .db
        .run(move |c| {
            let tx = c.transaction()?;
            if !payments::end_unpaid(&tx, &ending, status, bank_status.as_deref(), now)? {
                return Ok(false);
            }
            let lang = lang_of(&tx, ending.user_id)?;
            let message = choose_again(lang, message_key, ending.avatar_id);
            let dedup = format!("payment:{}:ended", ending.id);
            super::queue_paid(&tx, ending.user_id, &message, &dedup, now)?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if ended {
        info!(payment_id = payment.id, order_id = %payment.order_id, status = status.as_str(), "payment ended without money");
        ctx.wake.notify_one();
    }
    Ok(())
}
