//! The admin commands: a command set only the ids in `[bot] admin_ids`
//! can see (their menu is set per admin chat) and use. For anyone else the
//! branch does not match, so they get exactly the unknown-command answer.
//!
//! Handlers here read reports (`db::reports`), draw charts
//! (`admin_charts`) and write intents (a `refunds` row, a request for the Kie
//! balance); the side task talks to T-Bank and Kie (`worker::admin`).

use std::sync::Arc;

use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::InputFile;
use teloxide::utils::command::BotCommands;

use super::BotCtx;
use super::handlers::{HandlerResult, UserCtx};
use crate::admin_charts::{Bars, bar_chart_png};
use crate::chat::TgBot;
use crate::db::events::Stage;
use crate::i18n::{Arg, Lang, tr, tr_args};

mod confirm;
mod lists;
mod payouts;
mod requests;
mod stats;

pub(crate) use confirm::on_callback;
pub(crate) use payouts::on_callback as on_payout_callback;

const DAY_MS: i64 = 86_400_000;
/// The longest window `/funnel` and `/revenue` accept, days.
const MAX_DAYS: i64 = 3650;
/// The most lines `/users` and `/jobs` show.
const MAX_LINES: i64 = 50;

#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub(crate) enum AdminCommand {
    Stats(String),
    Funnel(String),
    Revenue(String),
    Users(String),
    User(String),
    Pending(String),
    Jobs(String),
    Refund(String),
    Cancel(String),
    Credits(String),
    Retry(String),
    Payouts(String),
}

/// The admin menu, with its locale keys (shown only in admin chats).
pub(crate) const MENU: [(&str, &str); 12] = [
    ("stats", "admin-cmd-stats"),
    ("funnel", "admin-cmd-funnel"),
    ("revenue", "admin-cmd-revenue"),
    ("users", "admin-cmd-users"),
    ("user", "admin-cmd-user"),
    ("pending", "admin-cmd-pending"),
    ("jobs", "admin-cmd-jobs"),
    ("refund", "admin-cmd-refund"),
    ("cancel", "admin-cmd-cancel"),
    ("credits", "admin-cmd-credits"),
    ("retry", "admin-cmd-retry"),
    ("payouts", "admin-cmd-payouts"),
];

/// The branch of the handler tree: admins' commands only.
pub(crate) fn branch() -> UpdateHandler<anyhow::Error> {
    dptree::filter(|me: UserCtx, ctx: Arc<BotCtx>| ctx.config.is_admin(me.user.id))
        .chain(teloxide::filter_command::<AdminCommand, _>())
        .endpoint(handle)
}

/// A positive whole number of at most `max`, or None (garbage, sign, zero, too big).
fn parse_count(text: &str, max: i64) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().filter(|&n| n > 0 && n <= max)
}

/// An optional count: empty means `default`.
fn optional_count(text: &str, default: i64, max: i64) -> Option<i64> {
    if text.trim().is_empty() {
        Some(default)
    } else {
        parse_count(text, max)
    }
}

async fn handle(
    bot: TgBot,
    msg: Message,
    me: UserCtx,
    ctx: Arc<BotCtx>,
    command: AdminCommand,
) -> HandlerResult {
    let r = Reply {
        bot: &bot,
        chat: msg.chat.id,
        lang: me.lang,
        ctx: &ctx,
        now: ctx.clock.now_ms(),
    };
    let result = match command {
        AdminCommand::Stats(_) => stats::stats(r).await,
        AdminCommand::Funnel(arg) => match optional_count(&arg, 30, MAX_DAYS) {
            Some(days) => stats::funnel(r, days).await,
            None => r.usage("admin-syntax-funnel").await,
        },
        AdminCommand::Revenue(arg) => match optional_count(&arg, 30, MAX_DAYS) {
            Some(days) => stats::revenue(r, days).await,
            None => r.usage("admin-syntax-revenue").await,
        },
        AdminCommand::Users(arg) => match optional_count(&arg, 10, MAX_LINES) {
            Some(n) => lists::users(r, n).await,
            None => r.usage("admin-syntax-users").await,
        },
        AdminCommand::User(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => lists::user(r, id).await,
            None => r.usage("admin-syntax-user").await,
        },
        AdminCommand::Pending(_) => lists::pending(r).await,
        AdminCommand::Jobs(arg) => match optional_count(&arg, 10, MAX_LINES) {
            Some(n) => lists::jobs(r, n).await,
            None => r.usage("admin-syntax-jobs").await,
        },
        AdminCommand::Refund(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => confirm::ask_refund(r, id, false).await,
            None => r.usage("admin-syntax-refund").await,
        },
        AdminCommand::Cancel(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => confirm::ask_refund(r, id, true).await,
            None => r.usage("admin-syntax-cancel").await,
        },
        AdminCommand::Credits(_) => requests::credits(r, me.user.id).await,
        AdminCommand::Retry(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => requests::retry(r, id).await,
            None => r.usage("admin-syntax-retry").await,
        },
        AdminCommand::Payouts(_) => payouts::list(r).await,
    };
    super::handlers::apologize_on_error(&bot, msg.chat.id, me.lang, result).await
}

/// An admin command being answered: in which chat and language, and the
/// time it is answered at.
#[derive(Clone, Copy)]
struct Reply<'a> {
    bot: &'a TgBot,
    chat: ChatId,
    lang: Lang,
    ctx: &'a BotCtx,
    now: i64,
}

impl Reply<'_> {
    /// Sends `text`; a list longer than one message (`/pending` with many
    /// payments, `/users 50`) goes out in several, cut between lines.
    async fn say(&self, text: String) -> HandlerResult {
        for part in crate::chat::split_text(&text, crate::chat::MAX_MESSAGE) {
            self.bot.send_message(self.chat, part).await?;
        }
        Ok(())
    }

    /// The usage line of a command whose argument did not parse; `syntax`
    /// is the locale key of the command's syntax.
    async fn usage(&self, syntax: &str) -> HandlerResult {
        let syntax = tr(self.lang, syntax);
        self.say(tr_args(
            self.lang,
            "admin-usage",
            &[("usage", Arg::Str(&syntax))],
        ))
        .await
    }

    async fn send_chart(&self, bars: Bars) -> HandlerResult {
        let png = tokio::task::spawn_blocking(move || bar_chart_png(&bars)).await??;
        self.bot
            .send_photo(self.chat, InputFile::memory(png).file_name("chart.png"))
            .await?;
        Ok(())
    }
}

/// UTC date and time, minutes.
pub(crate) fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "?".into())
}

/// A compact duration: "45 s", "12 min", "3 h 5 min", "2 d 4 h".
pub(crate) fn span(lang: Lang, ms: i64) -> String {
    let s = (ms / 1000).max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    let unit = |key: &str| tr(lang, key);
    if d > 0 {
        format!("{d} {} {h} {}", unit("admin-unit-d"), unit("admin-unit-h"))
    } else if h > 0 {
        format!(
            "{h} {} {m} {}",
            unit("admin-unit-h"),
            unit("admin-unit-min")
        )
    } else if m > 0 {
        format!("{m} {}", unit("admin-unit-min"))
    } else {
        format!("{s} {}", unit("admin-unit-s"))
    }
}

fn percent(lang: Lang, part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "—".into();
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    let sep = if lang == Lang::Ru { ',' } else { '.' };
    format!("{}{sep}{}%", tenths / 10, tenths % 10)
}

fn stage_name(lang: Lang, stage: Stage) -> String {
    tr(lang, &format!("admin-stage-{}", stage.as_str()))
}
