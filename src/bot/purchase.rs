//! Package and payment in chat. The handlers only write state: the payment
//! row (status `new`, with tier, amount and portrait count) is created here,
//! and the side task calls T-Bank Init and sends the link.

use std::sync::Arc;

use teloxide::prelude::*;
use teloxide::types::{
    ButtonRequest, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, KeyboardMarkup,
    KeyboardRemove,
};

use super::BotCtx;
use super::handlers::{Dlg, HandlerResult, Step, UserCtx};
use super::press::Press;
use super::state::State;
use crate::chat::TgBot;
use crate::chat::callback::Callback;
use crate::config::Tier;
use crate::db::payments::{self, CreatePayment};
use crate::db::{avatars, events, referrals, users};
use crate::i18n::{Lang, tr, tr_args};

/// The package keyboard with prices after the user's referral balance (the
/// discount `request_payment` will take: [`referrals::discount_for`]).
pub(crate) fn packages_message_with_balance(
    ctx: &BotCtx,
    lang: Lang,
    avatar_id: i64,
    balance: i64,
) -> (String, InlineKeyboardMarkup) {
    let (text, rows) =
        crate::chat::packages::packages_content(&ctx.config, lang, avatar_id, balance);
    let rows = rows
        .into_iter()
        .map(|(label, data)| [InlineKeyboardButton::callback(label, data)]);
    (text, InlineKeyboardMarkup::new(rows))
}

/// Generate (or "choose again" after a failed payment): show the packages if
/// the avatar is this user's draft with enough photos.
pub(crate) async fn show_packages(step: Step<'_>, avatar_id: i64) -> HandlerResult {
    let Step { bot, chat, ctx, .. } = step;
    let (lang, user_id) = (step.lang(), step.user_id());
    let (avatar, count, balance) = ctx
        .db
        .run(move |c| {
            Ok((
                avatars::get_owned(c, avatar_id, user_id)?,
                avatars::photo_count(c, avatar_id)?,
                referrals::available(c, user_id)?,
            ))
        })
        .await?;
    let Some(avatar) = avatar else {
        return step.say("unexpected-button").await;
    };
    if avatar.status != avatars::AvatarStatus::Draft {
        return step.say("packages-not-draft").await;
    }
    let min = ctx.config.upload.min_photos;
    if count < min {
        let text = tr_args(
            lang,
            "packages-need-photos",
            &[("count", count.into()), ("min", min.into())],
        );
        bot.send_message(chat, text).await?;
        return Ok(());
    }
    let (text, keyboard) = packages_message_with_balance(ctx, lang, avatar_id, balance);
    // The state first: an answer Telegram took but did not acknowledge
    // must not leave the chat in the previous step.
    step.dialogue
        .update(State::ChoosingPackage { avatar_id })
        .await?;
    bot.send_message(chat, text).reply_markup(keyboard).await?;
    Ok(())
}

/// A tier was chosen: pay now if we know where to send the receipt, or ask once.
pub(crate) async fn choose_tier(step: Step<'_>, avatar_id: i64, tier_id: String) -> HandlerResult {
    let (lang, me, ctx) = (step.lang(), step.me, step.ctx);
    let Some(tier) = ctx.config.tier(&tier_id).cloned() else {
        return step.say("unexpected-button").await;
    };
    // Refuse before asking anything: another user's avatar, a set that is no
    // longer a draft, or too few photos.
    if let Some(refusal) = purchasable(ctx, me.user.id, avatar_id).await? {
        if let Refusal::OpenPayment(payment) = refusal {
            return show_open_payment(step, avatar_id, &payment).await;
        }
        return refuse(step, &refusal).await;
    }
    match (&me.user.receipt_email, &me.user.receipt_phone) {
        (Some(contact), _) | (None, Some(contact)) => {
            let contact = contact.clone();
            request_payment(step, avatar_id, &tier, &contact).await
        }
        (None, None) => {
            let keyboard =
                KeyboardMarkup::new([[KeyboardButton::new(tr(lang, "contact-button-phone"))
                    .request(ButtonRequest::Contact)]])
                .resize_keyboard()
                .one_time_keyboard();
            // The state first (see `show_packages`).
            step.dialogue
                .update(State::AwaitingContact {
                    avatar_id,
                    tier_id: tier.id.clone(),
                })
                .await?;
            step.bot
                .send_message(step.chat, tr(lang, "contact-ask"))
                .reply_markup(keyboard)
                .await?;
            Ok(())
        }
    }
}

/// Why an avatar cannot be bought now.
pub(crate) enum Refusal {
    NotOwned,
    NotDraft,
    TooFewPhotos(u32),
    OpenPayment(Box<payments::Payment>),
}

/// Whether `avatar_id` is this user's draft with enough photos and no open payment.
async fn purchasable(
    ctx: &BotCtx,
    user_id: i64,
    avatar_id: i64,
) -> anyhow::Result<Option<Refusal>> {
    let min = ctx.config.upload.min_photos;
    Ok(ctx
        .db
        .run(move |c| {
            let Some(avatar) = avatars::get_owned(c, avatar_id, user_id)? else {
                return Ok(Some(Refusal::NotOwned));
            };
            if let Some(payment) = payments::open_for_avatar(c, avatar_id)? {
                return Ok(Some(Refusal::OpenPayment(Box::new(payment))));
            }
            if avatar.status != avatars::AvatarStatus::Draft {
                return Ok(Some(Refusal::NotDraft));
            }
            let count = avatars::photo_count(c, avatar_id)?;
            Ok((count < min).then_some(Refusal::TooFewPhotos(count)))
        })
        .await?)
}

/// Says why, and leaves a state the user can go on from.
async fn refuse(step: Step<'_>, refusal: &Refusal) -> HandlerResult {
    let (lang, dialogue) = (step.lang(), step.dialogue);
    let text = match refusal {
        Refusal::NotOwned | Refusal::OpenPayment(_) => tr(lang, "unexpected-button"),
        Refusal::NotDraft => tr(lang, "packages-not-draft"),
        Refusal::TooFewPhotos(count) => tr_args(
            lang,
            "packages-need-photos",
            &[
                ("count", (*count).into()),
                ("min", step.ctx.config.upload.min_photos.into()),
            ],
        ),
    };
    if matches!(dialogue.get().await?, Some(State::AwaitingContact { .. })) {
        dialogue.update(State::Start).await?;
    }
    step.bot
        .send_message(step.chat, text)
        .reply_markup(KeyboardRemove::new())
        .await?;
    Ok(())
}

/// A plausible email for a receipt: one `@`, a dotted domain, no spaces.
pub fn valid_email(text: &str) -> bool {
    let text = text.trim();
    if text.len() > 254 || text.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// A phone from a shared contact: digits with an optional leading +.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    (10..=15)
        .contains(&digits.len())
        .then(|| format!("+{digits}"))
}

/// The answer to "where should we send the receipt?".
pub(crate) async fn receive_contact(
    bot: TgBot,
    msg: Message,
    dialogue: Dlg,
    me: UserCtx,
    ctx: Arc<BotCtx>,
    (avatar_id, tier_id): (i64, String),
) -> HandlerResult {
    let step = Step::new(&bot, msg.chat.id, &dialogue, &me, &ctx);
    let (lang, user_id) = (step.lang(), step.user_id());
    let (email, phone) = if let Some(contact) = msg.contact() {
        // Only the user's own number, shared through the button.
        let own = contact.user_id.is_some_and(|id| id.0 as i64 == user_id);
        match normalize_phone(&contact.phone_number).filter(|_| own) {
            Some(phone) => (None, Some(phone)),
            None => {
                let key = if own {
                    "contact-invalid"
                } else {
                    "contact-not-own"
                };
                return step.say(key).await;
            }
        }
    } else if let Some(text) = msg.text().filter(|t| valid_email(t)) {
        (Some(text.trim().to_lowercase()), None)
    } else {
        return step.say("contact-invalid").await;
    };
    let contact = email.clone().or(phone.clone()).unwrap_or_default();
    ctx.db
        .run(move |c| users::set_receipt_contact(c, user_id, email.as_deref(), phone.as_deref()))
        .await?;
    // A lost "saved" must not stop the payment below (its link comes
    // through the persistent queue).
    if let Err(error) = bot
        .send_message(msg.chat.id, tr(lang, "contact-saved"))
        .reply_markup(KeyboardRemove::new())
        .await
    {
        tracing::warn!(%error, "the contact confirmation was not delivered");
    }
    let Some(tier) = ctx.config.tier(&tier_id).cloned() else {
        // The tier was removed from the configuration meanwhile: choose again.
        return show_packages(step, avatar_id).await;
    };
    request_payment(step, avatar_id, &tier, &contact).await
}

async fn request_payment(
    step: Step<'_>,
    avatar_id: i64,
    tier: &Tier,
    contact: &str,
) -> HandlerResult {
    let Step { bot, chat, ctx, .. } = step;
    let (lang, user_id) = (step.lang(), step.user_id());
    let tier = tier.clone();
    let contact = contact.to_owned();
    let now = ctx.clock.now_ms();
    // Look first: an open payment is shown again, anything else that cannot
    // be bought is refused, and only then "creating…" is said, before the
    // side task can answer.
    match purchasable(ctx, user_id, avatar_id).await? {
        Some(Refusal::OpenPayment(payment)) => {
            return show_open_payment(step, avatar_id, &payment).await;
        }
        Some(refusal) => return refuse(step, &refusal).await,
        None => {}
    }
    // Best effort: the payment link itself comes through the persistent
    // queue, so a lost "creating…" must not stop the payment.
    if let Err(error) = bot.send_message(chat, tr(lang, "payment-creating")).await {
        tracing::warn!(%error, "the payment notice was not delivered");
    }
    let outcome = ctx
        .db
        .run(move |c| {
            // Immediate: this transaction reads, then writes; a deferred one
            // could fail on a snapshot the side task changed meanwhile.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(avatar) = avatars::get_owned(&tx, avatar_id, user_id)? else {
                return Ok(None);
            };
            let order_id = format!("pg-{avatar_id}-{now}");
            // The referral balance becomes the discount, reserved below with
            // the payment in this transaction (released if it ends unpaid).
            let discount =
                referrals::discount_for(referrals::available(&tx, user_id)?, tier.price_kopecks);
            let created = payments::create(
                &tx,
                &payments::NewPayment {
                    order_id: &order_id,
                    user_id,
                    avatar_id,
                    tier_id: &tier.id,
                    amount_kopecks: tier.price_kopecks - discount,
                    portraits: tier.portraits,
                    discount_kopecks: discount,
                    receipt_contact: &contact,
                },
                now,
            )?;
            if let CreatePayment::Created(payment) = &created {
                if avatar.status == avatars::AvatarStatus::Draft {
                    avatars::set_tier(&tx, avatar_id, &tier.id, now)?;
                    avatars::transition(
                        &tx,
                        avatar_id,
                        avatars::AvatarStatus::Draft,
                        avatars::AvatarStatus::AwaitingPayment,
                        now,
                    )?;
                } else {
                    // Only a draft can be bought; undo by not committing.
                    return Ok(Some(Err(avatar.status)));
                }
                if discount > 0 {
                    referrals::reserve_spend(&tx, user_id, payment.id, discount, now)?;
                }
                events::record(&tx, user_id, events::Stage::Payment, avatar_id, None, now)?;
                tracing::info!(payment_id = payment.id, order_id = %payment.order_id, user_id, avatar_id, tier = %tier.id, discount, "payment requested");
            }
            tx.commit()?;
            Ok(Some(Ok(created)))
        })
        .await?;
    match outcome {
        None => step.say("unexpected-button").await?,
        Some(Err(_status)) => step.say("packages-not-draft").await?,
        Some(Ok(CreatePayment::Created(payment))) => {
            step.dialogue
                .update(State::AwaitingPayment {
                    avatar_id,
                    payment_id: payment.id,
                })
                .await?;
            ctx.wake.notify_one();
        }
        Some(Ok(CreatePayment::AlreadyOpen(payment))) => {
            show_open_payment(step, avatar_id, &payment).await?;
        }
    }
    Ok(())
}

/// A second press of Pay: no second payment; the open one is shown again.
async fn show_open_payment(
    step: Step<'_>,
    avatar_id: i64,
    payment: &payments::Payment,
) -> HandlerResult {
    let lang = step.lang();
    let text = if payment.payment_url.is_some() {
        tr(lang, "payment-already-open")
    } else {
        tr(lang, "payment-link-coming")
    };
    let mut rows = Vec::new();
    if let Some(url) = payment
        .payment_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
    {
        rows.push(vec![InlineKeyboardButton::url(
            tr(lang, "payment-button-pay"),
            url,
        )]);
    }
    rows.push(vec![InlineKeyboardButton::callback(
        tr(lang, "payment-button-paid"),
        Callback::CheckPayment(payment.id).encode(),
    )]);
    step.dialogue
        .update(State::AwaitingPayment {
            avatar_id,
            payment_id: payment.id,
        })
        .await?;
    step.bot
        .send_message(step.chat, text)
        .reply_markup(InlineKeyboardMarkup::new(rows))
        .await?;
    Ok(())
}

/// "I have paid": ask T-Bank now instead of at the next scheduled poll.
pub(crate) async fn check_payment(press: Press<'_>, payment_id: i64) -> HandlerResult {
    let (user_id, ctx) = (press.user_id(), press.ctx);
    let now = ctx.clock.now_ms();
    let payment = ctx
        .db
        .run(move |c| {
            let payment = payments::get_owned(c, payment_id, user_id)?;
            if payment.as_ref().is_some_and(|p| p.status.is_open()) {
                payments::check_now(c, payment_id, now)?;
            }
            Ok(payment)
        })
        .await?;
    let key = match payment.map(|p| p.status) {
        None => "unexpected-button",
        Some(status) if status.is_open() => {
            ctx.wake.notify_one();
            "payment-checking"
        }
        Some(payments::PaymentStatus::Confirmed) => "payment-already-paid",
        Some(_) => "payment-closed",
    };
    press.toast(key).await
}

/// Text while a payment was requested: where that payment stands, with the
/// way on (the link again, the packages again, or a new set).
pub(crate) async fn payment_status(
    bot: TgBot,
    msg: Message,
    dialogue: Dlg,
    me: UserCtx,
    ctx: Arc<BotCtx>,
    (avatar_id, payment_id): (i64, i64),
) -> HandlerResult {
    let step = Step::new(&bot, msg.chat.id, &dialogue, &me, &ctx);
    let (lang, user_id) = (step.lang(), step.user_id());
    let payment = ctx
        .db
        .run(move |c| payments::get_owned(c, payment_id, user_id))
        .await?;
    match payment {
        Some(payment) if payment.status.is_open() => {
            show_open_payment(step, avatar_id, &payment).await
        }
        Some(payment) if payment.status == payments::PaymentStatus::Confirmed => {
            step.say("payment-status-paid").await
        }
        _ => {
            let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(
                tr(lang, "payment-button-retry"),
                Callback::Packages(avatar_id).encode(),
            )]]);
            bot.send_message(msg.chat.id, tr(lang, "payment-status-ended"))
                .reply_markup(keyboard)
                .await?;
            Ok(())
        }
    }
}
