//! `/stats`, `/funnel` and `/revenue`: the business in numbers, the last two
//! with a chart.

use super::{DAY_MS, Reply, percent, span, stage_name};
use crate::admin_charts::Bars;
use crate::bot::handlers::HandlerResult;
use crate::db::events::Stage;
use crate::db::reports;
use crate::i18n::{Arg, rub, tr, tr_args};

pub(super) async fn stats(r: Reply<'_>) -> HandlerResult {
    let Reply { lang, ctx, now, .. } = r;
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
    r.say(text).await
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

pub(super) async fn funnel(r: Reply<'_>, days: i64) -> HandlerResult {
    let Reply { lang, ctx, now, .. } = r;
    let since = now - days * DAY_MS;
    let (journeys, assignments) = ctx
        .db
        .run(move |c| Ok((reports::journeys(c, since, now)?, reports::assignments(c)?)))
        .await?;
    let mut text = tr_args(lang, "admin-funnel-title", &[("days", Arg::Num(days))]);
    if journeys.is_empty() {
        text.push('\n');
        text.push_str(&tr(lang, "admin-funnel-empty"));
        return r.say(text).await;
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
    r.say(text).await?;
    let bars = Bars {
        title: tr_args(lang, "admin-funnel-chart", &[("days", Arg::Num(days))]),
        groups: Stage::ALL.iter().map(|s| stage_name(lang, *s)).collect(),
        series,
    };
    r.send_chart(bars).await
}

pub(super) async fn revenue(r: Reply<'_>, days: i64) -> HandlerResult {
    let Reply { lang, ctx, now, .. } = r;
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
        return r.say(text).await;
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
    r.say(text).await?;
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
    r.send_chart(bars).await
}
