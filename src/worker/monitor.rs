//! The monitor step: every `[alerts] check_secs` it looks for incidents that
//! no single step sees — delivery failures piling up, the side task falling
//! behind, an error rate above the limit — raises or resolves their alerts,
//! and sends the "still happening" summaries of repeating incidents.
//!
//! "Behind" needs the same item overdue at two checks in a row: right after
//! a pause (or a test moving the clock) everything is briefly overdue, and
//! the round that follows works it off.

use super::WorkerCtx;
use super::alerts::Alert;
use crate::db;

pub(crate) const DELIVERY_FAILURES: &str = "delivery_failures";
pub(crate) const BEHIND: &str = "side_task_behind";
pub(crate) const ERROR_RATE: &str = "error_rate";

const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// Never counts as work (the loop pauses between rounds as usual).
pub async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let config = ctx.config.alerts.clone();
    let errors_now = ctx.ops.errors();
    let (error_rate, was_overdue) = {
        let mut watch = ctx.ops.watch.lock().unwrap_or_else(|e| e.into_inner());
        if watch
            .last_at
            .is_some_and(|at| now - at < (config.check_secs as i64) * 1000)
        {
            return Ok(0);
        }
        watch.last_at = Some(now);
        // Errors per minute over the last minute (or since the last check,
        // when that was longer ago), never over less than a minute.
        let samples = &mut watch.error_samples;
        while samples.len() > 1 && samples[1].0 <= now - MINUTE_MS {
            samples.pop_front();
        }
        let rate = samples.front().map(|&(at, errors)| {
            let count = errors_now.saturating_sub(errors);
            let minutes = ((now - at) as f64 / MINUTE_MS as f64).max(1.0);
            (count as f64 / minutes, count)
        });
        samples.push_back((now, errors_now));
        (rate, watch.overdue.clone())
    };
    let admins = ctx.config.bot.admin_ids.clone();
    let overdue = ctx
        .db
        .run(move |c| {
            let tx = c.transaction()?;
            let failed = db::ops::failed_deliveries_since(&tx, now - HOUR_MS)?;
            if failed >= i64::from(config.delivery_failures_per_hour) {
                let alert = Alert::DeliveryFailures {
                    failed,
                    limit: config.delivery_failures_per_hour,
                };
                super::alerts::raise(&tx, &admins, DELIVERY_FAILURES, &alert, now)?;
            } else {
                super::alerts::resolve(&tx, DELIVERY_FAILURES, now)?;
            }

            let overdue: Vec<(&'static str, i64)> = db::ops::oldest_due(&tx, now)?
                .into_iter()
                .filter(|(_, due)| now - due > (config.behind_secs as i64) * 1000)
                .collect();
            let still: Vec<_> = overdue.iter().filter(|o| was_overdue.contains(o)).collect();
            if let Some((queue, due)) = still.iter().min_by_key(|(_, due)| *due) {
                let alert = Alert::Behind {
                    queue: (*queue).to_owned(),
                    minutes: (now - due) / 60_000,
                    limit_secs: config.behind_secs,
                };
                super::alerts::raise(&tx, &admins, BEHIND, &alert, now)?;
            } else if overdue.is_empty() {
                super::alerts::resolve(&tx, BEHIND, now)?;
            }

            if let Some((rate, count)) = error_rate {
                if rate >= f64::from(config.errors_per_min) {
                    let alert = Alert::ErrorRate {
                        count,
                        per_min: rate,
                        limit: config.errors_per_min,
                    };
                    super::alerts::raise(&tx, &admins, ERROR_RATE, &alert, now)?;
                } else {
                    super::alerts::resolve(&tx, ERROR_RATE, now)?;
                }
            }

            super::alerts::summarise(
                &tx,
                &admins,
                (config.summary_every_mins as i64) * 60_000,
                now,
            )?;
            tx.commit()?;
            Ok(overdue)
        })
        .await?;
    ctx.ops
        .watch
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .overdue = overdue;
    ctx.wake.delivery().notify_one();
    Ok(0)
}
