//! The policy before paying and the user's control over their data:
//! `/terms` (refunds, free redos, retention, deletion, what accounting
//! keeps — all from the configuration, so the text says what the code does),
//! the policy lines of the package screen, and `/delete_my_data` with its
//! confirmation. The handler only writes the request; the side task
//! (`worker::privacy`) deletes the objects and the rows and tells the user.

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::BotCtx;
use super::handlers::{HandlerResult, UserCtx};
use super::press::Press;
use crate::chat::TgBot;
use crate::chat::callback::Callback;
use crate::config::Config;
use crate::db::privacy::{self, Busy};
use crate::i18n::{Arg, Lang, tr, tr_args};

/// A confirmation button is honoured for this long after the question.
const CONFIRM_VALID_MS: i64 = 3_600_000;

/// The full terms, with the numbers of the configuration.
pub(crate) fn terms_text(config: &Config, lang: Lang) -> String {
    tr_args(
        lang,
        "terms",
        &[
            ("deadline", config.tbank.payment_deadline_hours.into()),
            ("per_free", config.regenerate.portraits_per_free.into()),
            (
                "quotas",
                Arg::Str(&crate::chat::packages::redo_quotas(config)),
            ),
            ("days", config.privacy.retention_days.into()),
        ],
    )
}

pub(crate) async fn terms(
    bot: TgBot,
    msg: Message,
    me: UserCtx,
    ctx: std::sync::Arc<BotCtx>,
) -> HandlerResult {
    bot.send_message(msg.chat.id, terms_text(&ctx.config, me.lang))
        .await?;
    Ok(())
}

/// Why not now, in the user's words.
fn busy_text(config: &Config, lang: Lang, busy: Busy) -> String {
    match busy {
        Busy::OpenPayment => tr_args(
            lang,
            "privacy-busy-payment",
            &[("hours", config.tbank.payment_deadline_hours.into())],
        ),
        Busy::Generating => tr(lang, "privacy-busy-generating"),
        Busy::Refund => tr(lang, "privacy-busy-refund"),
        Busy::Payout => tr(lang, "privacy-busy-payout"),
        Busy::AlreadyDeleting => tr(lang, "privacy-already-deleting"),
    }
}

/// `/delete_my_data`: what will be deleted and kept, with a confirmation
/// and a cancel button — or, while money or portraits are on their way,
/// why it has to wait.
pub(crate) async fn ask(
    bot: TgBot,
    msg: Message,
    me: UserCtx,
    ctx: std::sync::Arc<BotCtx>,
) -> HandlerResult {
    let (lang, user_id) = (me.lang, me.user.id);
    let busy = ctx.db.run(move |c| privacy::busy(c, user_id)).await?;
    if let Some(busy) = busy {
        bot.send_message(msg.chat.id, busy_text(&ctx.config, lang, busy))
            .await?;
        return Ok(());
    }
    let issued_ms = ctx.clock.now_ms();
    let keyboard = InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback(
            tr(lang, "privacy-button-confirm"),
            Callback::DeleteData { user_id, issued_ms }.encode(),
        ),
        InlineKeyboardButton::callback(
            tr(lang, "privacy-button-cancel"),
            Callback::KeepData(user_id).encode(),
        ),
    ]]);
    bot.send_message(msg.chat.id, tr(lang, "privacy-confirm"))
        .reply_markup(keyboard)
        .await?;
    Ok(())
}

/// Stops the spinner and replaces the question by `text` (its buttons go).
/// A message that cannot be edited any more (too old, already edited) is
/// left as it is.
async fn settle_question(press: Press<'_>, text: String) -> HandlerResult {
    press.answer().await?;
    if let Err(error) = press.edit(text).await {
        tracing::debug!(%error, "deletion question not edited");
    }
    Ok(())
}

/// The answer to the question's buttons.
pub(crate) async fn on_callback(press: Press<'_>, callback: Callback) -> HandlerResult {
    enum Outcome {
        Requested,
        Busy(Busy),
        Stale,
    }
    let (lang, user_id, ctx) = (press.lang(), press.user_id(), press.ctx);
    match callback {
        Callback::KeepData(owner) if owner == user_id => {
            settle_question(press, tr(lang, "privacy-kept")).await?;
        }
        Callback::DeleteData {
            user_id: owner,
            issued_ms,
        } if owner == user_id => {
            let now = ctx.clock.now_ms();
            let outcome = ctx
                .db
                .run(move |c| {
                    let tx =
                        c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    // A question older than the last deletion (a replayed
                    // press after starting again), or simply too old.
                    let stale = privacy::last_requested_at(&tx, user_id)?
                        .is_some_and(|last| last >= issued_ms)
                        || now - issued_ms > CONFIRM_VALID_MS
                        || issued_ms > now + 60_000;
                    if stale {
                        return Ok(Outcome::Stale);
                    }
                    if let Some(busy) = privacy::busy(&tx, user_id)? {
                        return Ok(Outcome::Busy(busy));
                    }
                    privacy::request(&tx, user_id, now)?;
                    tx.commit()?;
                    Ok(Outcome::Requested)
                })
                .await?;
            match outcome {
                Outcome::Requested => {
                    tracing::info!(user_id, "data deletion requested");
                    ctx.wake.notify_one();
                    settle_question(press, tr(lang, "privacy-deleting")).await?;
                }
                Outcome::Busy(busy) => {
                    settle_question(press, busy_text(&ctx.config, lang, busy)).await?;
                }
                Outcome::Stale => press.toast("privacy-button-stale").await?,
            }
        }
        _ => {
            // Someone else's question (a forged press): nothing changes.
            tracing::info!(user_id, "deletion button naming another user");
            press.refuse().await?;
        }
    }
    Ok(())
}

/// While the user's data is being deleted: every message and button gets
/// "deleting, I will write when done", and nothing else happens.
pub(crate) async fn deleting_now(bot: TgBot, update: Update, me: UserCtx) -> HandlerResult {
    use teloxide::types::UpdateKind;
    let text = tr(me.lang, "privacy-deleting-now");
    match update.kind {
        UpdateKind::CallbackQuery(query) => {
            bot.answer_callback_query(query.id).text(text).await?;
        }
        UpdateKind::Message(msg) if msg.chat.is_private() => {
            bot.send_message(msg.chat.id, text).await?;
        }
        _ => {}
    }
    Ok(())
}
