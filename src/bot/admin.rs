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
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, InputFile};
use teloxide::utils::command::BotCommands;

use super::BotCtx;
use super::handlers::{HandlerResult, UserCtx};
use crate::admin_charts::{Bars, bar_chart_png};
use crate::chat::TgBot;
use crate::chat::callback::Callback;
use crate::chat::credits::{CREDITS_MILLI, CREDITS_REQUEST, format_credits};
use crate::db::events::Stage;
use crate::db::payments::PaymentStatus;
use crate::db::{jobs, payments, refunds, reports, service_state};
use crate::i18n::{Arg, Lang, rub, tr, tr_args};

const DAY_MS: i64 = 86_400_000;
/// The longest window `/funnel` and `/revenue` accept, days.
const MAX_DAYS: i64 = 3650;
/// The most lines `/users` and `/jobs` show.
const MAX_LINES: i64 = 50;

#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum AdminCommand {
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
pub const MENU: [(&str, &str); 11] = [
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
pub fn branch() -> UpdateHandler<anyhow::Error> {
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
        AdminCommand::Stats(_) => stats(&bot, chat, lang, &ctx, now).await,
        AdminCommand::Funnel(arg) => match optional_count(&arg, 30, MAX_DAYS) {
            Some(days) => funnel(&bot, chat, lang, &ctx, days, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-funnel"))).await,
        },
        AdminCommand::Revenue(arg) => match optional_count(&arg, 30, MAX_DAYS) {
            Some(days) => revenue(&bot, chat, lang, &ctx, days, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-revenue"))).await,
        },
        AdminCommand::Users(arg) => match optional_count(&arg, 10, MAX_LINES) {
            Some(n) => users(&bot, chat, lang, &ctx, n, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-users"))).await,
        },
        AdminCommand::User(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => user(&bot, chat, lang, &ctx, id, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-user"))).await,
        },
        AdminCommand::Pending(_) => pending(&bot, chat, lang, &ctx, now).await,
        AdminCommand::Jobs(arg) => match optional_count(&arg, 10, MAX_LINES) {
            Some(n) => jobs(&bot, chat, lang, &ctx, n, now).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-jobs"))).await,
        },
        AdminCommand::Refund(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => ask_refund(&bot, chat, lang, &ctx, id, false).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-refund"))).await,
        },
        AdminCommand::Cancel(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => ask_refund(&bot, chat, lang, &ctx, id, true).await,
            None => say(&bot, chat, usage(&tr(lang, "admin-syntax-cancel"))).await,
        },
        AdminCommand::Credits(_) => credits(&bot, chat, lang, &ctx, me.user.id, now).await,
        AdminCommand::Retry(arg) => match parse_count(&arg, i64::MAX / 2) {
            Some(id) => retry(&bot, chat, lang, &ctx, id, now).await,
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
pub fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "?".into())
}

/// A compact duration: "45 s", "12 min", "3 h 5 min", "2 d 4 h".
pub fn span(lang: Lang, ms: i64) -> String {
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

async fn stats(bot: &TgBot, chat: ChatId, lang: Lang, ctx: &BotCtx, now: i64) -> HandlerResult {
    let periods = ctx
        .db
        .run(move |c| {
            Ok([
                reports::period_stats(c, now - DAY_MS, now)?,
                reports::period_stats(c, now - 7 * DAY_MS, now)?,
                reports::period_stats(c, i64::MIN, now)?,
            ])
        })
        .await?;
    let mut text = tr(lang, "admin-stats-title");
    for (key, p) in ["admin-period-day", "admin-period-week", "admin-period-all"]
        .iter()
        .zip(periods.iter())
    {
        text.push_str("\n\n");
        text.push_str(&tr_args(
            lang,
            "admin-stats-period",
            &[
                ("period", Arg::Str(&tr(lang, key))),
                ("users", Arg::Num(p.users)),
                ("converted", Arg::Num(p.converted)),
                ("conversion", Arg::Str(&percent(lang, p.converted, p.users))),
                ("paying", Arg::Num(p.paying)),
                ("payments", Arg::Num(p.payments)),
                ("revenue", Arg::Str(&rub(lang, p.revenue_kopecks))),
                ("sets", Arg::Num(p.jobs_done)),
                ("portraits", Arg::Num(p.portraits)),
            ],
        ));
    }
    say(bot, chat, text).await
}

/// Average and median of durations, ms.
fn avg_median(mut values: Vec<i64>) -> Option<(i64, i64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    let avg = values.iter().sum::<i64>() / n as i64;
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    };
    Some((avg, median))
}

async fn funnel(
    bot: &TgBot,
    chat: ChatId,
    lang: Lang,
    ctx: &BotCtx,
    days: i64,
    now: i64,
) -> HandlerResult {
    let since = now - days * DAY_MS;
    let (journeys, assignments) = ctx
        .db
        .run(move |c| Ok((reports::journeys(c, since, now)?, reports::assignments(c)?)))
        .await?;
    let mut text = tr_args(lang, "admin-funnel-title", &[("days", Arg::Num(days))]);
    if journeys.is_empty() {
        text.push('\n');
        text.push_str(&tr(lang, "admin-funnel-empty"));
        return say(bot, chat, text).await;
    }
    let count = |users: &mut dyn Iterator<Item = &reports::UserJourney>| {
        let mut counts = [0i64; 5];
        for j in users {
            for (i, at) in j.reached.iter().enumerate() {
                if at.is_some() {
                    counts[i] += 1;
                }
            }
        }
        counts
    };
    let total = count(&mut journeys.iter());
    for (i, stage) in Stage::ALL.iter().enumerate() {
        text.push('\n');
        let step = if i == 0 {
            "—".to_owned()
        } else {
            percent(lang, total[i], total[i - 1])
        };
        text.push_str(&tr_args(
            lang,
            "admin-funnel-stage",
            &[
                ("stage", Arg::Str(&stage_name(lang, *stage))),
                ("users", Arg::Num(total[i])),
                ("share", Arg::Str(&percent(lang, total[i], total[0]))),
                ("step", Arg::Str(&step)),
            ],
        ));
    }
    text.push_str("\n\n");
    text.push_str(&tr(lang, "admin-funnel-times"));
    for i in 0..Stage::ALL.len() - 1 {
        let spans: Vec<i64> = journeys
            .iter()
            .filter_map(|j| Some(j.reached[i + 1]? - j.reached[i]?))
            .filter(|d| *d >= 0)
            .collect();
        let n = spans.len() as i64;
        let line = match avg_median(spans) {
            Some((avg, median)) => tr_args(
                lang,
                "admin-funnel-time",
                &[
                    ("stage", Arg::Str(&stage_name(lang, Stage::ALL[i]))),
                    ("avg", Arg::Str(&span(lang, avg))),
                    ("median", Arg::Str(&span(lang, median))),
                    ("users", Arg::Num(n)),
                ],
            ),
            None => tr_args(
                lang,
                "admin-funnel-time-none",
                &[("stage", Arg::Str(&stage_name(lang, Stage::ALL[i])))],
            ),
        };
        text.push('\n');
        text.push_str(&line);
    }
    // Per A/B variant: the same counts among the users assigned to it.
    let mut series = vec![(
        tr(lang, "admin-funnel-all"),
        total.iter().map(|&n| n as f64).collect::<Vec<_>>(),
        total.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
    )];
    let mut experiments: Vec<&str> = assignments.iter().map(|(_, e, _)| e.as_str()).collect();
    experiments.dedup();
    for experiment in experiments {
        text.push_str("\n\n");
        text.push_str(&tr_args(
            lang,
            "admin-funnel-experiment",
            &[("experiment", Arg::Str(experiment))],
        ));
        let mut variants: Vec<&str> = assignments
            .iter()
            .filter(|(_, e, _)| e == experiment)
            .map(|(_, _, v)| v.as_str())
            .collect();
        variants.dedup();
        for variant in variants {
            let members: std::collections::HashSet<i64> = assignments
                .iter()
                .filter(|(_, e, v)| e == experiment && v == variant)
                .map(|(u, _, _)| *u)
                .collect();
            let counts = count(&mut journeys.iter().filter(|j| members.contains(&j.user_id)));
            let steps = counts
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" → ");
            text.push('\n');
            text.push_str(&tr_args(
                lang,
                "admin-funnel-variant",
                &[
                    ("variant", Arg::Str(variant)),
                    ("steps", Arg::Str(&steps)),
                    // Generation is reached when the payment is confirmed: "paid".
                    ("conversion", Arg::Str(&percent(lang, counts[3], counts[0]))),
                ],
            ));
            series.push((
                format!("{experiment}={variant}"),
                counts.iter().map(|&n| n as f64).collect(),
                counts.iter().map(|n| n.to_string()).collect(),
            ));
        }
    }
    say(bot, chat, text).await?;
    let bars = Bars {
        title: tr_args(lang, "admin-funnel-chart", &[("days", Arg::Num(days))]),
        groups: Stage::ALL.iter().map(|s| stage_name(lang, *s)).collect(),
        series,
    };
    send_chart(bot, chat, bars).await
}

async fn revenue(
    bot: &TgBot,
    chat: ChatId,
    lang: Lang,
    ctx: &BotCtx,
    days: i64,
    now: i64,
) -> HandlerResult {
    let since = now - days * DAY_MS;
    let (tiers, by_day) = ctx
        .db
        .run(move |c| {
            Ok((
                reports::revenue_by_tier(c, since, now)?,
                reports::revenue_by_day(c, since, now)?,
            ))
        })
        .await?;
    let gross: i64 = tiers.iter().map(|t| t.gross_kopecks).sum();
    let refunded: i64 = tiers.iter().map(|t| t.refunded_kopecks).sum();
    let count: i64 = tiers.iter().map(|t| t.payments).sum();
    let mut text = tr_args(
        lang,
        "admin-revenue-title",
        &[
            ("days", Arg::Num(days)),
            ("net", Arg::Str(&rub(lang, gross - refunded))),
            ("gross", Arg::Str(&rub(lang, gross))),
            ("refunded", Arg::Str(&rub(lang, refunded))),
            ("payments", Arg::Num(count)),
        ],
    );
    if tiers.is_empty() {
        text.push('\n');
        text.push_str(&tr(lang, "admin-revenue-empty"));
        return say(bot, chat, text).await;
    }
    text.push_str("\n\n");
    text.push_str(&tr(lang, "admin-revenue-by-tier"));
    for t in &tiers {
        let name = ctx
            .config
            .tier(&t.tier_id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| t.tier_id.clone());
        text.push('\n');
        text.push_str(&tr_args(
            lang,
            "admin-revenue-tier",
            &[
                ("tier", Arg::Str(&name)),
                ("payments", Arg::Num(t.payments)),
                ("gross", Arg::Str(&rub(lang, t.gross_kopecks))),
                ("refunded", Arg::Str(&rub(lang, t.refunded_kopecks))),
            ],
        ));
    }
    text.push_str("\n\n");
    text.push_str(&tr(lang, "admin-revenue-by-day"));
    for (day, payments, net) in &by_day {
        text.push('\n');
        text.push_str(&tr_args(
            lang,
            "admin-revenue-day",
            &[
                ("day", Arg::Str(day)),
                ("payments", Arg::Num(*payments)),
                ("net", Arg::Str(&rub(lang, *net))),
            ],
        ));
    }
    say(bot, chat, text).await?;
    // The chart: every day of the window that had payments, first to last,
    // with the days between them too (a gap is a day without money).
    let first = chrono::NaiveDate::parse_from_str(&by_day[0].0, "%Y-%m-%d")?;
    let last = chrono::NaiveDate::parse_from_str(&by_day[by_day.len() - 1].0, "%Y-%m-%d")?;
    let mut groups = Vec::new();
    let mut values = Vec::new();
    let mut labels = Vec::new();
    let mut day = first;
    while day <= last && groups.len() < 62 {
        let key = day.format("%Y-%m-%d").to_string();
        let net = by_day
            .iter()
            .find(|(d, _, _)| *d == key)
            .map_or(0, |(_, _, n)| *n);
        groups.push(day.format("%d.%m").to_string());
        values.push(net as f64 / 100.0);
        labels.push(if net > 0 {
            (net / 100).to_string()
        } else {
            String::new()
        });
        day = day.succ_opt().unwrap_or(day);
        if day == last && groups.len() > 61 {
            break;
        }
    }
    let bars = Bars {
        title: tr_args(lang, "admin-revenue-chart", &[("days", Arg::Num(days))]),
        groups,
        series: vec![(tr(lang, "admin-revenue-net"), values, labels)],
    };
    send_chart(bot, chat, bars).await
}

fn user_line(lang: Lang, line: &reports::UserLine) -> String {
    let name = match &line.username {
        Some(username) => format!("{} @{username}", line.first_name),
        None => line.first_name.clone(),
    };
    let stage = line
        .stage
        .map(|s| stage_name(lang, s))
        .unwrap_or_else(|| tr(lang, "admin-stage-none"));
    let payment = line.last_payment.clone().unwrap_or_else(|| "—".to_owned());
    tr_args(
        lang,
        "admin-users-line",
        &[
            ("id", Arg::Str(&line.id.to_string())),
            ("name", Arg::Str(&name)),
            ("created", Arg::Str(&when(line.created_at))),
            ("stage", Arg::Str(&stage)),
            ("photos", Arg::Num(line.photos)),
            ("payment", Arg::Str(&payment)),
            ("blocked", Arg::Str(if line.blocked { "yes" } else { "no" })),
        ],
    )
}

async fn users(
    bot: &TgBot,
    chat: ChatId,
    lang: Lang,
    ctx: &BotCtx,
    n: i64,
    now: i64,
) -> HandlerResult {
    let lines = ctx
        .db
        .run(move |c| reports::last_users(c, n as u32, now))
        .await?;
    let mut text = tr_args(
        lang,
        "admin-users-title",
        &[("count", Arg::Num(lines.len() as i64))],
    );
    for line in &lines {
        text.push('\n');
        text.push_str(&user_line(lang, line));
    }
    say(bot, chat, text).await
}

fn payment_text(lang: Lang, now: i64, p: &reports::PaymentLine) -> String {
    tr_args(
        lang,
        "admin-payment-line",
        &[
            ("id", Arg::Num(p.id)),
            ("user", Arg::Str(&p.user_id.to_string())),
            ("tier", Arg::Str(&p.tier_id)),
            ("amount", Arg::Str(&rub(lang, p.amount_kopecks))),
            ("status", Arg::Str(&p.status)),
            ("bank", Arg::Str(p.bank_status.as_deref().unwrap_or("—"))),
            ("age", Arg::Str(&span(lang, now - p.created_at))),
            ("refunded", Arg::Str(&rub(lang, p.refunded_kopecks))),
        ],
    )
}

fn job_text(lang: Lang, j: &reports::JobLine) -> String {
    let took = match j.finished_at {
        Some(end) => span(lang, end - j.created_at),
        None => tr(lang, "admin-job-running"),
    };
    let mut text = tr_args(
        lang,
        "admin-job-line",
        &[
            ("id", Arg::Num(j.id)),
            ("user", Arg::Str(&j.user_id.to_string())),
            ("kind", Arg::Str(&j.kind)),
            ("status", Arg::Str(&j.status)),
            ("completed", Arg::Num(j.completed)),
            ("total", Arg::Num(j.total)),
            ("failed", Arg::Num(j.failed)),
            ("attempts", Arg::Num(j.attempts)),
            ("retried", Arg::Num(j.retried)),
            ("took", Arg::Str(&took)),
        ],
    );
    if let Some(error) = &j.last_error {
        text.push_str("\n   ");
        text.push_str(&tr_args(
            lang,
            "admin-job-error",
            &[("error", Arg::Str(error))],
        ));
    }
    text
}

async fn user(
    bot: &TgBot,
    chat: ChatId,
    lang: Lang,
    ctx: &BotCtx,
    id: i64,
    now: i64,
) -> HandlerResult {
    let Some(d) = ctx
        .db
        .run(move |c| reports::user_detail(c, id, now))
        .await?
    else {
        return say(
            bot,
            chat,
            tr_args(
                lang,
                "admin-user-not-found",
                &[("id", Arg::Str(&id.to_string()))],
            ),
        )
        .await;
    };
    let mut text = user_line(lang, &d.line);
    let variants = if d.variants.is_empty() {
        "—".to_owned()
    } else {
        d.variants
            .iter()
            .map(|(e, v)| format!("{e}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    text.push('\n');
    text.push_str(&tr_args(
        lang,
        "admin-user-about",
        &[
            ("language", Arg::Str(&d.language)),
            ("variants", Arg::Str(&variants)),
            ("code", Arg::Str(&d.referral_code)),
            (
                "referrer",
                Arg::Str(&d.referred_by.map_or("—".to_owned(), |r| r.to_string())),
            ),
            ("referred", Arg::Num(d.referred_users)),
            ("earned", Arg::Str(&rub(lang, d.referral_earned_kopecks))),
        ],
    ));
    text.push_str("\n\n");
    text.push_str(&tr(lang, "admin-user-avatars"));
    for (id, status, tier, photos, created) in &d.avatars {
        text.push('\n');
        text.push_str(&tr_args(
            lang,
            "admin-avatar-line",
            &[
                ("id", Arg::Num(*id)),
                ("status", Arg::Str(status)),
                ("tier", Arg::Str(tier.as_deref().unwrap_or("—"))),
                ("photos", Arg::Num(*photos)),
                ("created", Arg::Str(&when(*created))),
            ],
        ));
    }
    text.push_str("\n\n");
    text.push_str(&tr(lang, "admin-user-payments"));
    if d.payments.is_empty() {
        text.push_str("\n—");
    }
    for p in &d.payments {
        text.push('\n');
        text.push_str(&payment_text(lang, now, p));
    }
    text.push_str("\n\n");
    text.push_str(&tr(lang, "admin-user-jobs"));
    if d.jobs.is_empty() {
        text.push_str("\n—");
    }
    for j in &d.jobs {
        text.push('\n');
        text.push_str(&job_text(lang, j));
    }
    say(bot, chat, text).await
}

async fn pending(bot: &TgBot, chat: ChatId, lang: Lang, ctx: &BotCtx, now: i64) -> HandlerResult {
    let open = ctx
        .db
        .run(move |c| reports::pending_payments(c, now))
        .await?;
    if open.is_empty() {
        return say(bot, chat, tr(lang, "admin-pending-empty")).await;
    }
    let mut text = tr_args(
        lang,
        "admin-pending-title",
        &[("count", Arg::Num(open.len() as i64))],
    );
    for p in &open {
        text.push('\n');
        text.push_str(&payment_text(lang, now, p));
        if p.stuck_alerted {
            text.push_str(&format!(" · {}", tr(lang, "admin-pending-stuck")));
        }
        if let Some(error) = &p.last_error {
            text.push_str(&format!(" · {error}"));
        }
    }
    say(bot, chat, text).await
}

async fn jobs(
    bot: &TgBot,
    chat: ChatId,
    lang: Lang,
    ctx: &BotCtx,
    n: i64,
    now: i64,
) -> HandlerResult {
    let lines = ctx
        .db
        .run(move |c| reports::recent_jobs(c, n as u32, now))
        .await?;
    if lines.is_empty() {
        return say(bot, chat, tr(lang, "admin-jobs-empty")).await;
    }
    let mut text = tr_args(
        lang,
        "admin-jobs-title",
        &[("count", Arg::Num(lines.len() as i64))],
    );
    for j in &lines {
        text.push('\n');
        text.push_str(&job_text(lang, j));
    }
    say(bot, chat, text).await
}

/// What a refund or cancellation of a payment would be, or why there is none.
enum Plan {
    /// A full refund of what is left of a paid payment, kopecks.
    Refund(i64),
    /// The cancellation of an unpaid payment.
    Cancel,
    Refused(String),
}

fn plan(
    conn: &rusqlite::Connection,
    payment_id: i64,
    cancel: bool,
) -> rusqlite::Result<Option<(payments::Payment, Plan)>> {
    let Some(p) = payments::get(conn, payment_id)? else {
        return Ok(None);
    };
    let plan = if cancel {
        if p.status.is_open() {
            Plan::Cancel
        } else {
            Plan::Refused("admin-cancel-impossible".into())
        }
    } else if matches!(
        p.status,
        PaymentStatus::Confirmed | PaymentStatus::PartiallyRefunded
    ) && p.bank_payment_id.is_some()
    {
        let left = p.amount_kopecks - p.refunded_kopecks - refunds::pending_kopecks(conn, p.id)?;
        if left > 0 {
            Plan::Refund(left)
        } else {
            Plan::Refused("admin-refund-nothing-left".into())
        }
    } else {
        Plan::Refused("admin-refund-impossible".into())
    };
    Ok(Some((p, plan)))
}

async fn ask_refund(
    bot: &TgBot,
    chat: ChatId,
    lang: Lang,
    ctx: &BotCtx,
    payment_id: i64,
    cancel: bool,
) -> HandlerResult {
    let Some((p, plan)) = ctx.db.run(move |c| plan(c, payment_id, cancel)).await? else {
        return say(
            bot,
            chat,
            tr_args(
                lang,
                "admin-payment-not-found",
                &[("id", Arg::Num(payment_id))],
            ),
        )
        .await;
    };
    let amount = match &plan {
        Plan::Refund(amount) => *amount,
        _ => p.amount_kopecks,
    };
    let (user_text, amount_text) = (p.user_id.to_string(), rub(lang, amount));
    let args = [
        ("id", Arg::Num(p.id)),
        ("user", Arg::Str(&user_text)),
        ("tier", Arg::Str(&p.tier_id)),
        ("amount", Arg::Str(&amount_text)),
        ("status", Arg::Str(p.status.as_str())),
    ];
    let (text, button, data) = match plan {
        Plan::Refused(key) => return say(bot, chat, tr_args(lang, &key, &args)).await,
        Plan::Refund(_) => (
            tr_args(lang, "admin-refund-confirm", &args),
            tr(lang, "admin-button-refund"),
            Callback::AdminRefund(p.id).encode(),
        ),
        Plan::Cancel => (
            tr_args(lang, "admin-cancel-confirm", &args),
            tr(lang, "admin-button-cancel"),
            Callback::AdminCancel(p.id).encode(),
        ),
    };
    let keyboard = InlineKeyboardMarkup::new([
        vec![InlineKeyboardButton::callback(button, data)],
        vec![InlineKeyboardButton::callback(
            tr(lang, "admin-button-keep"),
            Callback::AdminKeep(p.id).encode(),
        )],
    ]);
    bot.send_message(chat, text).reply_markup(keyboard).await?;
    Ok(())
}

/// A press of a confirmation button. Only an admin gets past the first line;
/// anyone else gets the answer of any unknown button.
pub async fn on_callback(
    bot: &TgBot,
    query: &CallbackQuery,
    me: &UserCtx,
    ctx: &BotCtx,
    callback: Callback,
) -> HandlerResult {
    let lang = me.lang;
    if !ctx.config.is_admin(me.user.id) {
        bot.answer_callback_query(query.id.clone())
            .text(tr(lang, "unexpected-button"))
            .await?;
        return Ok(());
    }
    let admin = me.user.id;
    let now = ctx.clock.now_ms();
    let text = match callback {
        Callback::AdminKeep(id) => tr_args(lang, "admin-kept", &[("id", Arg::Num(id))]),
        Callback::AdminRefund(id) | Callback::AdminCancel(id) => {
            let cancel = matches!(callback, Callback::AdminCancel(_));
            let outcome = ctx
                .db
                .run(move |c| {
                    let tx = c.transaction()?;
                    // The plan again: the payment may have changed since the question.
                    let result = match plan(&tx, id, cancel)? {
                        None => Err("admin-payment-not-found"),
                        // A new key per request: one that T-Bank refused may be asked again.
                        Some((p, Plan::Refund(amount))) => refunds::request(
                            &tx,
                            p.id,
                            amount,
                            "admin_refund",
                            &format!(
                                "refund-{}-admin-{}",
                                p.id,
                                refunds::for_payment(&tx, p.id)?.len()
                            ),
                            Some(admin),
                            now,
                        )
                        .map(|added| {
                            if added {
                                Ok("admin-refund-requested")
                            } else {
                                Err("admin-already-requested")
                            }
                        })?,
                        Some((p, Plan::Cancel)) => refunds::request(
                            &tx,
                            p.id,
                            p.amount_kopecks,
                            "admin_cancel",
                            &format!("cancel-{}-admin", p.id),
                            Some(admin),
                            now,
                        )
                        .map(|added| {
                            if added {
                                Ok("admin-cancel-requested")
                            } else {
                                Err("admin-already-requested")
                            }
                        })?,
                        Some((_, Plan::Refused(_))) => Err("admin-already-requested"),
                    };
                    tx.commit()?;
                    Ok(result)
                })
                .await?;
            match outcome {
                Ok(key) => {
                    ctx.wake.notify_one();
                    tr_args(lang, key, &[("id", Arg::Num(id))])
                }
                Err(key) => tr_args(lang, key, &[("id", Arg::Num(id))]),
            }
        }
        _ => return Ok(()),
    };
    bot.answer_callback_query(query.id.clone()).await?;
    if let Some(message) = query.regular_message() {
        bot.edit_message_text(message.chat.id, message.id, text)
            .await?;
    }
    Ok(())
}

async fn credits(
    bot: &TgBot,
    chat: ChatId,
    lang: Lang,
    ctx: &BotCtx,
    admin: i64,
    now: i64,
) -> HandlerResult {
    // The side task asks Kie (handlers never do) and answers through the queue.
    let known = ctx
        .db
        .run(move |c| {
            service_state::set_i64(c, CREDITS_REQUEST, admin, now)?;
            let value = service_state::get_i64(c, CREDITS_MILLI)?;
            let at: Option<i64> = service_state::updated_at(c, CREDITS_MILLI)?;
            Ok(value.zip(at))
        })
        .await?;
    ctx.wake.notify_one();
    let text = match known {
        Some((milli, at)) => tr_args(
            lang,
            "admin-credits-known",
            &[
                ("credits", Arg::Str(&format_credits(milli as f64 / 1000.0))),
                ("at", Arg::Str(&when(at))),
            ],
        ),
        None => tr(lang, "admin-credits-unknown"),
    };
    say(bot, chat, text).await
}

/// `/retry <job>`: the failed tasks of a finished paid set are queued again;
/// the side task makes them and sends what comes (no money moves).
async fn retry(
    bot: &TgBot,
    chat: ChatId,
    lang: Lang,
    ctx: &BotCtx,
    job_id: i64,
    now: i64,
) -> HandlerResult {
    let outcome = ctx
        .db
        .run(move |c| {
            let tx = c.transaction()?;
            let Some(job) = jobs::get(&tx, job_id)? else {
                return Ok(None);
            };
            // The reference photos are gone (retention, /delete_my_data):
            // nothing can be made again from them.
            if crate::db::privacy::photos_expired(&tx, job.avatar_id)?
                || crate::db::privacy::avatar_deleted(&tx, job.avatar_id)?
            {
                return Ok(Some((job, Err(true))));
            }
            // Err(false): not a finished paid set with failed portraits.
            let queued = jobs::requeue_failed(&tx, job_id, now)?.ok_or(false);
            tx.commit()?;
            Ok(Some((job, queued)))
        })
        .await?;
    let text = match outcome {
        None => tr_args(lang, "admin-job-not-found", &[("id", Arg::Num(job_id))]),
        Some((_, Err(true))) => tr_args(lang, "admin-retry-no-photos", &[("id", Arg::Num(job_id))]),
        Some((_, Ok((_, tasks)))) => {
            ctx.wake.notify_one();
            tr_args(
                lang,
                "admin-retry-started",
                &[
                    ("id", Arg::Num(job_id)),
                    ("tasks", Arg::Num(i64::from(tasks))),
                ],
            )
        }
        Some((job, Err(false))) => tr_args(
            lang,
            "admin-retry-impossible",
            &[
                ("id", Arg::Num(job_id)),
                ("kind", Arg::Str(&job.kind)),
                ("status", Arg::Str(&job.status)),
                ("failed", Arg::Num(i64::from(job.failed))),
            ],
        ),
    };
    say(bot, chat, text).await
}
