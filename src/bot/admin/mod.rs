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
mod requests;
mod stats;

pub(crate) use confirm::on_callback;

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
}

/// The admin menu, with its locale keys (shown only in admin chats).
pub(crate) const MENU: [(&str, &str); 11] = [
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
    let chat = msg.chat.id;
    let lang = me.lang;
    let usage = |syntax: &str| tr_args(lang, "admin-usage", &[("usage", Arg::Str(syntax))]);
    let now = ctx.clock.now_ms();
    let result = match command {
        AdminCommand::Stats(_) => stats::stats(&bot, chat, lang, &ctx, now).await,
        AdminCommand::Funnel(arg) => match optional_count(&arg, 30, MAX_DAYS) {
            Some(days) => stats::funnel(&bot, chat, lang, &ctx, days, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-funnel"))).await,
        },
        AdminCommand::Revenue(arg) => match optional_count(&arg, 30, MAX_DAYS) {
            Some(days) => stats::revenue(&bot, chat, lang, &ctx, days, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-revenue"))).await,
        },
        AdminCommand::Users(arg) => match optional_count(&arg, 10, MAX_LINES) {
            Some(n) => lists::users(&bot, chat, lang, &ctx, n, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-users"))).await,
        },
        AdminCommand::User(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => lists::user(&bot, chat, lang, &ctx, id, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-user"))).await,
        },
        AdminCommand::Pending(_) => lists::pending(&bot, chat, lang, &ctx, now).await,
        AdminCommand::Jobs(arg) => match optional_count(&arg, 10, MAX_LINES) {
            Some(n) => lists::jobs(&bot, chat, lang, &ctx, n, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-jobs"))).await,
        },
        AdminCommand::Refund(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => confirm::ask_refund(&bot, chat, lang, &ctx, id, false).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-refund"))).await,
        },
        AdminCommand::Cancel(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => confirm::ask_refund(&bot, chat, lang, &ctx, id, true).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-cancel"))).await,
        },
        AdminCommand::Credits(_) => {
            requests::credits(&bot, chat, lang, &ctx, me.user.id, now).await
        }
        AdminCommand::Retry(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => requests::retry(&bot, chat, lang, &ctx, id, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-retry"))).await,
        },
    };
    super::handlers::apologize_on_error(&bot, chat, lang, result).await
}

async fn say(bot: &TgBot, chat: ChatId, text: String) -> HandlerResult {
    bot.send_message(chat, text).await?;
    Ok(())
}

async fn send_chart(bot: &TgBot, chat: ChatId, bars: Bars) -> HandlerResult {
    let png = tokio::task::spawn_blocking(move || bar_chart_png(&bars)).await??;
    bot.send_photo(chat, InputFile::memory(png).file_name("chart.png"))
        .await?;
    Ok(())
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
