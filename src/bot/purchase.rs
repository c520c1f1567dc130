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
use crate::db::payments::{self, Begun};
use crate::db::{avatars, referrals, refunds, users};
use crate::i18n::{Arg, Lang, tr, tr_args};

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
    let known = me
        .user
        .receipt_email
        .as_ref()
        .or(me.user.receipt_phone.as_ref());
    match purchasable(ctx, me.user.id, avatar_id, &tier.id).await? {
        Purchase::Open(payment) => return show_open_payment(step, avatar_id, &payment).await,
        Purchase::Refused(refusal) => return refuse(step, &refusal).await,
        // A payment made before has the contact: no need to ask again.
        Purchase::Switch(open) => {
            let contact = known
                .cloned()
                .unwrap_or_else(|| open.receipt_contact.clone());
            return switch_payment(step, avatar_id, &tier, &contact, &open).await;
        }
        Purchase::Fresh => {}
    }
    if let Some(contact) = known {
        let contact = contact.clone();
        return request_payment(step, avatar_id, &tier, &contact).await;
    }
    let keyboard = KeyboardMarkup::new([[
        KeyboardButton::new(tr(lang, "contact-button-phone")).request(ButtonRequest::Contact)
    ]])
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

/// Why an avatar cannot be bought now.
pub(crate) enum Refusal {
    NotOwned,
    NotDraft,
    TooFewPhotos(u32),
}

/// Whether a package can be bought for a set now.
enum Purchase {
    /// Nothing of the user's is open: a new payment.
    Fresh,
    /// This very package of this set is open: it is shown again.
    Open(Box<payments::Payment>),
    /// Another payment of the user is open (another package, or another
    /// set): it is cancelled at the bank first (one open payment per user).
    Switch(Box<payments::Payment>),
    Refused(Refusal),
}

/// Whether `avatar_id` is this user's draft with enough photos, and what is
/// open already.
async fn purchasable(
    ctx: &BotCtx,
    user_id: i64,
    avatar_id: i64,
    tier_id: &str,
) -> anyhow::Result<Purchase> {
    let min = ctx.config.upload.min_photos;
    let tier_id = tier_id.to_owned();
    Ok(ctx
        .db
        .run(move |c| {
            let Some(avatar) = avatars::get_owned(c, avatar_id, user_id)? else {
                return Ok(Purchase::Refused(Refusal::NotOwned));
            };
            let open = payments::open_for_user(c, user_id)?;
            if let Some(open) = &open
                && open.avatar_id == avatar_id
                && open.tier_id == tier_id
            {
                return Ok(Purchase::Open(Box::new(open.clone())));
            }
            // The set of the open payment awaits it, and becomes a draft
            // again when it is cancelled; any other set must be a draft.
            let reopens = open.as_ref().is_some_and(|o| o.avatar_id == avatar_id);
            if avatar.status != avatars::AvatarStatus::Draft && !reopens {
                return Ok(Purchase::Refused(Refusal::NotDraft));
            }
            let count = avatars::photo_count(c, avatar_id)?;
            if count < min {
                return Ok(Purchase::Refused(Refusal::TooFewPhotos(count)));
            }
            Ok(match open {
                Some(open) => Purchase::Switch(Box::new(open)),
                None => Purchase::Fresh,
            })
        })
        .await?)
}

/// Says why, and leaves a state the user can go on from.
async fn refuse(step: Step<'_>, refusal: &Refusal) -> HandlerResult {
    let (lang, dialogue) = (step.lang(), step.dialogue);
    let text = match refusal {
        Refusal::NotOwned => tr(lang, "unexpected-button"),
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
        if text.trim().chars().count() > crate::tbank::MAX_RECEIPT_EMAIL_CHARS {
            // T-Bank refuses a longer receipt address at Init.
            return step.say("contact-email-too-long").await;
        }
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
    // Look first: an open payment is shown again (or, for another package,
    // cancelled first), anything else that cannot be bought is refused, and
    // only then "creating…" is said, before the side task can answer.
    match purchasable(step.ctx, step.user_id(), avatar_id, &tier.id).await? {
        Purchase::Open(payment) => show_open_payment(step, avatar_id, &payment).await,
        Purchase::Switch(open) => switch_payment(step, avatar_id, tier, contact, &open).await,
        Purchase::Refused(refusal) => refuse(step, &refusal).await,
        Purchase::Fresh => create_payment(step, avatar_id, tier, contact).await,
    }
}

/// Writes the payment (`payments::begin`); the side task calls Init and
/// sends the link.
async fn create_payment(
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
            let order = payments::Order {
                user_id,
                avatar_id,
                tier_id: &tier.id,
                price_kopecks: tier.price_kopecks,
                portraits: tier.portraits,
                receipt_contact: &contact,
            };
            let begun = payments::begin(&tx, &order, now)?;
            if matches!(begun, Begun::Created(_)) {
                tx.commit()?;
            }
            Ok(begun)
        })
        .await?;
    match outcome {
        Begun::NotOwned => step.say("unexpected-button").await?,
        Begun::NotDraft(_) => step.say("packages-not-draft").await?,
        Begun::Created(payment) => {
            step.dialogue
                .update(State::AwaitingPayment {
                    avatar_id,
                    payment_id: payment.id,
                })
                .await?;
            ctx.wake.notify_one();
        }
        Begun::AlreadyOpen(payment) => {
            show_open_payment(step, avatar_id, &payment).await?;
        }
    }
    Ok(())
}

/// Another package while a payment is open: the open one is cancelled at
/// the bank first (the side task, through a `superseded` cancellation that
/// carries the new choice), and only then the new payment is made — never
/// two open bills, never two payments for one set.
async fn switch_payment(
    step: Step<'_>,
    avatar_id: i64,
    tier: &Tier,
    contact: &str,
    open: &payments::Payment,
) -> HandlerResult {
    let ctx = step.ctx;
    let lang = step.lang();
    let now = ctx.clock.now_ms();
    let (open_id, amount) = (open.id, open.amount_kopecks);
    let switch = refunds::Switch {
        avatar_id,
        tier_id: tier.id.clone(),
        contact: contact.to_owned(),
    };
    let asked = ctx
        .db
        .run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let still_open = payments::get(&tx, open_id)?.is_some_and(|p| p.status.is_open());
            if still_open {
                refunds::request_switch(&tx, open_id, amount, &switch, now)?;
                tx.commit()?;
            }
            Ok(still_open)
        })
        .await?;
    if !asked {
        // It ended meanwhile (paid, expired): decide again from what is now.
        return create_payment(step, avatar_id, tier, contact).await;
    }
    tracing::info!(
        payment_id = open_id,
        avatar_id,
        tier = %tier.id,
        "another package chosen: the open payment is cancelled first"
    );
    let old_tier = ctx
        .config
        .tier(&open.tier_id)
        .map_or_else(|| open.tier_id.clone(), |t| t.name.clone());
    step.dialogue
        .update(State::AwaitingPayment {
            avatar_id,
            payment_id: open_id,
        })
        .await?;
    ctx.wake.notify_one();
    let text = tr_args(
        lang,
        "payment-switching",
        &[
            ("tier", Arg::Str(&tier.name)),
            ("old_tier", Arg::Str(&old_tier)),
            ("amount", Arg::Str(&crate::i18n::rub(lang, amount))),
        ],
    );
    step.bot
        .send_message(step.chat, text)
        .reply_markup(KeyboardRemove::new())
        .await?;
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
    let (payment, current, switching) = ctx
        .db
        .run(move |c| {
            Ok((
                payments::get_owned(c, payment_id, user_id)?,
                payments::open_for_user(c, user_id)?,
                refunds::pending_switch(c, payment_id)?,
            ))
        })
        .await?;
    match payment {
        // Another package was chosen: this one is being cancelled first.
        Some(payment) if payment.status.is_open() && switching.is_some() => {
            step.say("payment-link-coming").await
        }
        Some(payment) if payment.status.is_open() => {
            show_open_payment(step, avatar_id, &payment).await
        }
        Some(payment) if payment.status == payments::PaymentStatus::Confirmed => {
            step.say("payment-status-paid").await
        }
        // Ended, and another payment of the user's is open (the package
        // chosen instead): that one.
        _ => match current {
            Some(current) => show_open_payment(step, current.avatar_id, &current).await,
            None => {
                let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(
                    tr(lang, "payment-button-retry"),
                    Callback::Packages(avatar_id).encode(),
                )]]);
                bot.send_message(msg.chat.id, tr(lang, "payment-status-ended"))
                    .reply_markup(keyboard)
                    .await?;
                Ok(())
            }
        },
    }
}
