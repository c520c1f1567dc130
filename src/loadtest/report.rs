//! What `pinglass loadtest` reports: the figures of the run (what was
//! driven, the bot process, Telegram, the paid jobs), the invariants, and
//! the human summary.

use std::path::PathBuf;

use serde::Serialize;

use super::LoadtestOptions;
use super::invariants::Invariant;
use super::user::{Fate, Outcome};
use crate::db;
use crate::db::loadtest::JobTiming as JobRow;
use crate::kie::standin::Handle as KieHandle;

/// What was driven.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Driven {
    pub users: u64,
    pub updates: u64,
    pub(crate) photos: u64,
    pub reached_payment: u64,
    pub paid: u64,
    pub declined: u64,
    pub abandoned: u64,
    pub delivered: u64,
    /// Users whose story broke off (first 20 reasons).
    pub user_errors: u64,
    pub errors: Vec<String>,
}

/// Handler latency inside the bot, milliseconds (the summary's quantiles;
/// after kills, the worst of every life's).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BotFigures {
    /// Updates through the handler tree, every life summed.
    pub updates_handled: u64,
    /// Updates of flooding chats absorbed before the handler tree.
    pub(crate) updates_dropped: u64,
    /// Database backups the bot wrote (`[backup] interval_minutes`), their
    /// mean time (snapshot and upload) and the largest's size.
    pub(crate) backups: u64,
    pub(crate) backup_mean_ms: f64,
    pub(crate) backup_mb: f64,
    /// From the first update handled to the last.
    pub(crate) active_secs: f64,
    pub updates_per_sec: f64,
    /// The best 5 s of the run.
    pub(crate) peak_updates_per_sec_5s: f64,
    pub latency: Latency,
    pub peak_rss_mb: f64,
    pub cpu_secs: f64,
    pub starts: u32,
    /// 429s the bot met and waited out (its own count).
    pub(crate) retry_after_waited: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TelegramFigures {
    pub messages_sent: u64,
    /// Over the time messages were going out.
    pub(crate) messages_per_sec: f64,
    /// The best 10 s of the run.
    pub peak_messages_per_sec_10s: f64,
    /// Telegram's limit, for comparison.
    pub(crate) limit_per_sec: f64,
    pub(crate) too_many_requests: u64,
}

/// One paid job: payment confirmed → last album sent, against its slowest Kie task.
#[derive(Debug, Clone, Serialize)]
pub struct JobTiming {
    pub(crate) user_id: i64,
    pub(crate) job_id: i64,
    pub portraits: i64,
    pub(crate) confirmed_to_delivered_secs: Option<f64>,
    pub(crate) slowest_task_secs: Option<f64>,
    pub ratio: Option<f64>,
    /// Within 1.1 × the slowest task + 10 s.
    pub(crate) within_target: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JobFigures {
    pub jobs: u64,
    pub(crate) within_target: u64,
    pub(crate) ratio_median: Option<f64>,
    pub(crate) ratio_max: Option<f64>,
    pub each: Vec<JobTiming>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub(crate) options: LoadtestOptions,
    pub(crate) started_at: String,
    pub(crate) duration_secs: f64,
    pub driven: Driven,
    pub bot: BotFigures,
    pub telegram: TelegramFigures,
    pub jobs: JobFigures,
    /// `--flood`: what a flood in one chat did to the others.
    pub flood: Option<super::flood::FloodFigures>,
    /// `--spike`: a paying user's set among newcomers, against alone.
    pub spike: Option<super::spike::SpikeFigures>,
    pub db_bytes: u64,
    pub(crate) pending: db::loadtest::Pending,
    /// Faults the stand-ins played, by kind.
    pub(crate) faults_met: std::collections::BTreeMap<String, u64>,
    pub invariants: Vec<Invariant>,
    pub ok: bool,
    pub(crate) work_dir: Option<PathBuf>,
}

/// One sample of the monitor, every second.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    pub(super) at: f64,
    pub(super) messages: u64,
    pub(super) updates: f64,
}

/// The best rate over `window` seconds, from cumulative samples.
pub(super) fn peak_rate(samples: &[Sample], window: f64, value: impl Fn(&Sample) -> f64) -> f64 {
    let mut best: f64 = 0.0;
    let mut j = 0;
    for i in 0..samples.len() {
        while samples[i].at - samples[j].at > window {
            j += 1;
        }
        let dt = samples[i].at - samples[j].at;
        if dt >= window * 0.8 {
            best = best.max((value(&samples[i]) - value(&samples[j])) / dt);
        }
    }
    best
}

/// From the first change of `value` to the last: (seconds, rate).
pub(super) fn active_rate(samples: &[Sample], value: impl Fn(&Sample) -> f64) -> (f64, f64) {
    let last_value = samples.last().map_or(0.0, &value);
    let first = samples.iter().position(|s| value(s) > 0.0);
    let last = samples.iter().position(|s| value(s) >= last_value);
    match (first, last) {
        (Some(f), Some(l)) if l > f => {
            // The sample before the first change bounds its start.
            let start = samples[f.saturating_sub(1)].at;
            let start_value = if f > 0 { value(&samples[f - 1]) } else { 0.0 };
            let secs = samples[l].at - start;
            (secs, (last_value - start_value) / secs.max(1e-9))
        }
        _ => (0.0, 0.0),
    }
}

impl Driven {
    /// What the simulated users did.
    pub(super) fn of(outcomes: &[Outcome]) -> Driven {
        let mut driven = Driven {
            users: outcomes.len() as u64,
            updates: outcomes.iter().map(|o| o.updates).sum(),
            ..Driven::default()
        };
        for o in outcomes {
            driven.photos += o.photos;
            driven.reached_payment += u64::from(o.payment.is_some());
            match o.fate {
                Some(Fate::Pay) => driven.paid += 1,
                Some(Fate::Decline) => driven.declined += 1,
                Some(Fate::Abandon) => driven.abandoned += 1,
                None => {}
            }
            driven.delivered += u64::from(o.delivered);
            if let Some(error) = &o.error {
                driven.user_errors += 1;
                if driven.errors.len() < 20 {
                    driven.errors.push(error.chars().take(400).collect());
                }
            }
        }
        driven
    }
}

impl BotFigures {
    /// The bot's figures from its scrapes (every life's) and the samples.
    pub(super) fn of(bot: &super::probe::Bot, samples: &[Sample]) -> BotFigures {
        let scrapes = bot.scrapes();
        let worst = |i: usize| scrapes.iter().map(|s| s.quantiles[i]).fold(0.0, f64::max) * 1000.0;
        let (active_secs, updates_per_sec) = active_rate(samples, |s| s.updates);
        BotFigures {
            updates_handled: scrapes.iter().map(|s| s.updates).sum::<f64>() as u64,
            updates_dropped: scrapes.iter().map(|s| s.dropped).sum::<f64>() as u64,
            backups: scrapes.iter().map(|s| s.backups).sum::<f64>() as u64,
            backup_mean_ms: {
                let (n, secs) = scrapes
                    .iter()
                    .fold((0.0, 0.0), |(n, t), s| (n + s.backups, t + s.backup_secs));
                if n > 0.0 { secs / n * 1000.0 } else { 0.0 }
            },
            backup_mb: scrapes.iter().map(|s| s.backup_bytes).fold(0.0, f64::max) / 1e6,
            active_secs,
            updates_per_sec,
            peak_updates_per_sec_5s: peak_rate(samples, 5.0, |s| s.updates),
            latency: Latency {
                p50_ms: worst(0),
                p95_ms: worst(1),
                p99_ms: worst(2),
                max_ms: worst(3),
            },
            peak_rss_mb: bot.peak_rss as f64 / (1024.0 * 1024.0),
            cpu_secs: bot.cpu_ended,
            starts: bot.starts,
            retry_after_waited: scrapes.iter().map(|s| s.retry_after).sum::<f64>() as u64,
        }
    }
}

impl TelegramFigures {
    /// The stand-in's counts against the samples; `limit_per_sec` is 0
    /// without Telegram's limits.
    pub(super) fn of(
        counters: &crate::telegram::standin::Counters,
        samples: &[Sample],
        limit_per_sec: f64,
    ) -> TelegramFigures {
        let (_, messages_per_sec) = active_rate(samples, |s| s.messages as f64);
        TelegramFigures {
            messages_sent: counters.messages_sent_per_chat.values().sum(),
            messages_per_sec,
            peak_messages_per_sec_10s: peak_rate(samples, 10.0, |s| s.messages as f64),
            limit_per_sec,
            too_many_requests: counters.too_many_requests,
        }
    }
}

impl JobFigures {
    /// Each paid job's time from confirmation to its last album, against
    /// its slowest Kie task.
    pub(super) fn of(jobs: &[JobRow], kie: &KieHandle) -> JobFigures {
        let each: Vec<JobTiming> = jobs
            .iter()
            .map(|job| {
                let slowest = job
                    .kie_task_ids
                    .iter()
                    .filter_map(|id| kie.task_latency(id))
                    .max()
                    .map(|d| d.as_secs_f64());
                let took = match (job.confirmed_at, job.last_album_sent_at) {
                    (Some(c), Some(d)) => Some((d - c) as f64 / 1000.0),
                    _ => None,
                };
                JobTiming {
                    user_id: job.user_id,
                    job_id: job.job_id,
                    portraits: job.total,
                    confirmed_to_delivered_secs: took,
                    slowest_task_secs: slowest,
                    ratio: took.zip(slowest).map(|(t, s)| t / s.max(1e-3)),
                    within_target: took.zip(slowest).is_some_and(|(t, s)| t <= 1.1 * s + 10.0),
                }
            })
            .collect();
        let mut ratios: Vec<f64> = each.iter().filter_map(|j| j.ratio).collect();
        ratios.sort_by(f64::total_cmp);
        JobFigures {
            jobs: each.len() as u64,
            within_target: each.iter().filter(|j| j.within_target).count() as u64,
            ratio_median: ratios.get(ratios.len() / 2).copied(),
            ratio_max: ratios.last().copied(),
            each,
        }
    }
}

impl Report {
    /// The human summary.
    pub fn summary(&self) -> String {
        let o = &self.options;
        let d = &self.driven;
        let b = &self.bot;
        let t = &self.telegram;
        let j = &self.jobs;
        let mut out = String::new();
        use std::fmt::Write;
        let who = if o.spike > 0 {
            format!("a payer alone, then a payer and {} newcomers", o.spike)
        } else {
            format!(
                "{} users within {:.0} s",
                o.users,
                o.arrival_window.as_secs_f64()
            )
        };
        let _ = writeln!(
            out,
            "pinglass loadtest: {who}, Kie {:.0}–{:.0} s, {}{}{}, seed {}",
            o.kie_latency_min.as_secs_f64(),
            o.kie_latency_max.as_secs_f64(),
            if o.front_only {
                "front of the funnel only"
            } else {
                "whole funnel"
            },
            if o.telegram_limits {
                ", Telegram's limits"
            } else {
                ", no Telegram limits"
            },
            if o.kills > 0 {
                format!(", {} kills", o.kills)
            } else {
                String::new()
            } + &if o.faults != "none" {
                format!(", {} faults", o.faults)
            } else {
                String::new()
            },
            o.seed
        );
        let _ = writeln!(
            out,
            "  driven: {} updates, {} photos; {} reached payment: {} paid ({} delivered), {} declined, {} abandoned; {} broke off",
            d.updates,
            d.photos,
            d.reached_payment,
            d.paid,
            d.delivered,
            d.declined,
            d.abandoned,
            d.user_errors
        );
        let _ = writeln!(
            out,
            "  bot: {} updates in {:.1} s = {:.0}/s (best 5 s: {:.0}/s); handler p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            b.updates_handled,
            b.active_secs,
            b.updates_per_sec,
            b.peak_updates_per_sec_5s,
            b.latency.p50_ms,
            b.latency.p95_ms,
            b.latency.p99_ms,
            b.latency.max_ms
        );
        let _ = writeln!(
            out,
            "  bot process: peak RSS {:.1} MB, CPU {:.1} s, {} start(s); database {:.1} MB",
            b.peak_rss_mb,
            b.cpu_secs,
            b.starts,
            self.db_bytes as f64 / 1e6
        );
        if b.backups > 0 {
            let _ = writeln!(
                out,
                "  backups: {} written while serving, {:.0} ms each on average (snapshot and upload), up to {:.1} MB",
                b.backups, b.backup_mean_ms, b.backup_mb
            );
        }
        let _ = writeln!(
            out,
            "  telegram: {} messages, {:.1}/s while sending (best 10 s: {:.1}/s, limit {:.0}/s); {} × 429 (the bot waited out {})",
            t.messages_sent,
            t.messages_per_sec,
            t.peak_messages_per_sec_10s,
            t.limit_per_sec,
            t.too_many_requests,
            b.retry_after_waited
        );
        if j.jobs > 0 {
            let _ = writeln!(
                out,
                "  jobs: {} paid; confirmed → last album ÷ slowest Kie task: median {:.2}, max {:.2}; {} of {} within 1.1 × slowest + 10 s",
                j.jobs,
                j.ratio_median.unwrap_or(f64::NAN),
                j.ratio_max.unwrap_or(f64::NAN),
                j.within_target,
                j.jobs
            );
        }
        if let Some(f) = &self.flood {
            let _ = writeln!(
                out,
                "  flood: {} messages at once ({} photos, {} counted); the flooder got {} answer(s), {} notice(s); \
                 newcomers' wait for the onboarding: calm median {:.2} s (max {:.2} s), during the flood median {:.2} s (max {:.2} s): +{:.2} s added ({}; target ≤ 1 s)",
                f.messages,
                f.photos,
                f.photos_counted
                    .map_or("none".to_owned(), |n| n.to_string()),
                f.answers,
                f.notices,
                f.calm_median_secs,
                f.calm_max_secs,
                f.flood_median_secs,
                f.flood_max_secs,
                f.added_delay_secs,
                if f.added_delay_secs <= 1.0 {
                    "within"
                } else {
                    "ABOVE"
                },
            );
        }
        if let Some(s) = &self.spike {
            let secs = |v: Option<f64>| v.map_or("none".to_owned(), |v| format!("{v:.1} s"));
            let _ = writeln!(
                out,
                "  spike: {} newcomers pressed /start at the payment; payment confirmed → last album: alone {}, among them {}: ratio {} (target ≤ 1.2)",
                s.newcomers,
                secs(s.calm_secs),
                secs(s.spike_secs),
                s.ratio.map_or("none".to_owned(), |r| format!("{r:.2}")),
            );
        }
        if !self.faults_met.is_empty() {
            let met: Vec<String> = self
                .faults_met
                .iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect();
            let _ = writeln!(out, "  faults met: {}", met.join(", "));
        }
        for i in &self.invariants {
            let _ = writeln!(
                out,
                "  [{}] {}: {}",
                if i.ok { "ok" } else { "BROKEN" },
                i.name,
                i.detail
            );
        }
        if let Some(dir) = &self.work_dir {
            let _ = writeln!(out, "  files kept in {}", dir.display());
        }
        out
    }
}
