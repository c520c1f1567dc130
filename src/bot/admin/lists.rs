//! `/users`, `/user`, `/pending` and `/jobs`: who came and how far they got,
//! one user in full, the payments not finished, the latest generations.

use super::{Reply, span, stage_name, when};
use crate::bot::handlers::HandlerResult;
use crate::db::reports;
use crate::i18n::{Arg, Lang, rub, tr, tr_args};

/// The title `title` with the number of `items` (its `count`), then a line
/// for each.
fn listing<T>(lang: Lang, title: &str, items: &[T], line: impl Fn(&T) -> String) -> String {
    let mut text = tr_args(lang, title, &[("count", Arg::Num(items.len() as i64))]);
    for item in items {
        text.push('\n');
        text.push_str(&line(item));
    }
    text
}

/// Below `text`: a blank line, the heading `heading`, then a line for each
/// of `items`, or "—" when there are none.
fn section<T>(
    text: &mut String,
    lang: Lang,
    heading: &str,
    items: &[T],
    line: impl Fn(&T) -> String,
) {
    text.push_str("\n\n");
    text.push_str(&tr(lang, heading));
    if items.is_empty() {
        text.push_str("\n—");
    }
    for item in items {
        text.push('\n');
        text.push_str(&line(item));
    }
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

pub(super) async fn users(r: Reply<'_>, n: i64) -> HandlerResult {
    let Reply { lang, ctx, now, .. } = r;
    let lines = ctx
        .db
        .run(move |c| reports::last_users(c, n as u32, now))
        .await?;
    r.say(listing(lang, "admin-users-title", &lines, |line| {
        user_line(lang, line)
    }))
    .await
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

pub(super) async fn user(r: Reply<'_>, id: i64) -> HandlerResult {
    let Reply { lang, ctx, now, .. } = r;
    let Some(d) = ctx
        .db
        .run(move |c| reports::user_detail(c, id, now))
        .await?
    else {
        return r
            .say(tr_args(
                lang,
                "admin-user-not-found",
                &[("id", Arg::Str(&id.to_string()))],
            ))
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
    section(&mut text, lang, "admin-user-payments", &d.payments, |p| {
        payment_text(lang, now, p)
    });
    section(&mut text, lang, "admin-user-jobs", &d.jobs, |j| {
        job_text(lang, j)
    });
    r.say(text).await
}

pub(super) async fn pending(r: Reply<'_>) -> HandlerResult {
    let Reply { lang, ctx, now, .. } = r;
    let open = ctx
        .db
        .run(move |c| reports::pending_payments(c, now))
        .await?;
    if open.is_empty() {
        return r.say(tr(lang, "admin-pending-empty")).await;
    }
    let text = listing(lang, "admin-pending-title", &open, |p| {
        let mut line = payment_text(lang, now, p);
        if p.stuck_alerted {
            line.push_str(&format!(" · {}", tr(lang, "admin-pending-stuck")));
        }
        if let Some(error) = &p.last_error {
            line.push_str(&format!(" · {error}"));
        }
        line
    });
    r.say(text).await
}

pub(super) async fn jobs(r: Reply<'_>, n: i64) -> HandlerResult {
    let Reply { lang, ctx, now, .. } = r;
    let lines = ctx
        .db
        .run(move |c| reports::recent_jobs(c, n as u32, now))
        .await?;
    if lines.is_empty() {
        return r.say(tr(lang, "admin-jobs-empty")).await;
    }
    r.say(listing(lang, "admin-jobs-title", &lines, |j| {
        job_text(lang, j)
    }))
    .await
}
