//! `pinglass loadtest`: the stand-ins in this process (Telegram with its
//! real rate limits, Kie with a configurable latency, T-Bank), the bot as a
//! child process of the same binary (so its RSS and CPU are its own), and N
//! simulated users driven through the funnel at once. The report compares
//! what the bot did with what was driven, and checks the invariants: every
//! paying user got exactly their portraits, once; no payment was processed
//! twice; nothing is left pending.

pub mod probe;
pub mod user;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::db::{self, Db};
use crate::harness::chat::portraits_received;
use crate::kie::standin::{KieStandin, KieStandinHandle, KieStandinOptions};
use crate::tbank::standin::{StandinOptions as TbankOptions, TbankStandin};
use crate::telegram::standin::{RateLimits, StandinOptions, TelegramStandin, UserSpec};
use user::{Fate, Outcome, Plan};

const TOKEN: &str = "4242:loadtest-token";
const KIE_KEY: &str = "loadtest-kie";
const TERMINAL: &str = "LoadtestTerminalDEMO";
const PASSWORD: &str = "loadtest-password";
/// The first simulated user's id.
const FIRST_USER: i64 = 8_000_000;

/// What to run. `Default` is a small quick run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadtestOptions {
    /// Simulated users.
    pub users: u32,
    /// Users arrive uniformly within this window.
    #[serde(with = "secs")]
    pub arrival_window: Duration,
    /// Each Kie task takes a latency drawn from `kie_latency_min..=max`.
    #[serde(with = "secs")]
    pub kie_latency_min: Duration,
    #[serde(with = "secs")]
    pub kie_latency_max: Duration,
    /// Every user picks this package (0 = the smallest); `None`: each at random.
    pub package: Option<usize>,
    /// Share of users whose card the bank declines.
    pub decline_share: f64,
    /// Share of users who leave at the payment link.
    pub abandon_share: f64,
    /// Photos per user, drawn from `photos_min..=photos_max` (5–15; 0 with
    /// `front_only`: /start alone, no photo processing).
    pub photos_min: u32,
    pub photos_max: u32,
    /// Side of the (square-ish) test photos in pixels (the bot needs 512).
    pub photo_side: u32,
    /// Only the front of the funnel (/start and the photos, sent without
    /// waiting for answers): the dispatcher's throughput with many users.
    pub front_only: bool,
    /// Telegram's real limits in the stand-in and the bot (false: both off,
    /// to isolate the dispatcher from the 30 messages a second).
    pub telegram_limits: bool,
    pub seed: u64,
    /// SIGKILL the bot this many times at random moments, restarting it.
    pub kills: u32,
    /// The stand-ins' faults (`crate::faults::FaultPlan::named`): "none" or
    /// "realistic" (Kie 5xx, 429 bursts, moderation, recordInfo null, slow
    /// downloads; Telegram 429 storms and 5xx; T-Bank timeouts and errors).
    pub faults: String,
    /// Give up waiting for a user after this long.
    #[serde(with = "secs")]
    pub deadline: Duration,
    /// Where to write the JSON report.
    pub output: Option<PathBuf>,
    /// The bot's configuration file.
    pub config: PathBuf,
    /// The `pinglass` binary to run (default: this executable).
    pub bot_exe: Option<PathBuf>,
    /// Where the bot's database, logs and the stand-ins' files go (default:
    /// a temporary directory, kept when an invariant breaks).
    pub work_dir: Option<PathBuf>,
}

impl Default for LoadtestOptions {
    fn default() -> Self {
        Self {
            users: 50,
            arrival_window: Duration::from_secs(10),
            kie_latency_min: Duration::from_secs(2),
            kie_latency_max: Duration::from_secs(3),
            package: None,
            decline_share: 0.1,
            abandon_share: 0.1,
            photos_min: 5,
            photos_max: 15,
            photo_side: 512,
            front_only: false,
            telegram_limits: true,
            seed: 1,
            kills: 0,
            faults: "none".into(),
            deadline: Duration::from_secs(1800),
            output: None,
            config: PathBuf::from("bot.toml"),
            bot_exe: None,
            work_dir: None,
        }
    }
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// What was driven.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Driven {
    pub users: u64,
    pub updates: u64,
    pub photos: u64,
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
    /// From the first update handled to the last.
    pub active_secs: f64,
    pub updates_per_sec: f64,
    /// The best 5 s of the run.
    pub peak_updates_per_sec_5s: f64,
    pub latency: Latency,
    pub peak_rss_mb: f64,
    pub cpu_secs: f64,
    pub starts: u32,
    /// 429s the bot met and waited out (its own count).
    pub retry_after_waited: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TelegramFigures {
    pub messages_sent: u64,
    /// Over the time messages were going out.
    pub messages_per_sec: f64,
    /// The best 10 s of the run.
    pub peak_messages_per_sec_10s: f64,
    /// Telegram's limit, for comparison.
    pub limit_per_sec: f64,
    pub too_many_requests: u64,
}

/// One paid job: payment confirmed → last album sent, against its slowest Kie task.
#[derive(Debug, Clone, Serialize)]
pub struct JobTiming {
    pub user_id: i64,
    pub job_id: i64,
    pub portraits: i64,
    pub confirmed_to_delivered_secs: Option<f64>,
    pub slowest_task_secs: Option<f64>,
    pub ratio: Option<f64>,
    /// Within 1.1 × the slowest task + 10 s.
    pub within_target: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JobFigures {
    pub jobs: u64,
    pub within_target: u64,
    pub ratio_median: Option<f64>,
    pub ratio_max: Option<f64>,
    pub each: Vec<JobTiming>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Invariant {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub options: LoadtestOptions,
    pub started_at: String,
    pub duration_secs: f64,
    pub driven: Driven,
    pub bot: BotFigures,
    pub telegram: TelegramFigures,
    pub jobs: JobFigures,
    pub db_bytes: u64,
    pub pending: db::loadtest::Pending,
    /// Faults the stand-ins played, by kind.
    pub faults_met: std::collections::BTreeMap<String, u64>,
    pub invariants: Vec<Invariant>,
    pub ok: bool,
    pub work_dir: Option<PathBuf>,
}

/// One sample of the monitor, every second.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    messages: u64,
    updates: f64,
}

fn draw_plans(opts: &LoadtestOptions) -> Vec<Plan> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    (0..opts.users)
        .map(|i| {
            let id = FIRST_USER + i64::from(i);
            let window = opts.arrival_window.as_secs_f64();
            let arrives_after = Duration::from_secs_f64(rng.random_range(0.0..=window.max(0.0)));
            let (lo, hi) = (opts.photos_min, opts.photos_max.max(opts.photos_min));
            let mut left = rng.random_range(lo..=hi) as usize;
            let mut batches = Vec::new();
            while left > 0 {
                // About half the photos come as albums (2–10), the rest one by one.
                let n = if left >= 2 && rng.random_bool(0.5) {
                    rng.random_range(2..=left.min(10))
                } else {
                    1
                };
                batches.push(n);
                left -= n;
            }
            let pauses = batches
                .iter()
                .map(|_| Duration::from_millis(rng.random_range(100..600)))
                .collect();
            let roll: f64 = rng.random();
            let fate = if roll < opts.decline_share {
                Fate::Decline
            } else if roll < opts.decline_share + opts.abandon_share {
                Fate::Abandon
            } else {
                Fate::Pay
            };
            Plan {
                user: UserSpec::new(id, format!("Гость {i}")).with_language("ru"),
                arrives_after,
                batches,
                pauses,
                package: opts.package.unwrap_or_else(|| rng.random_range(0..3)),
                fate,
            }
        })
        .collect()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(PathBuf::from(p)).ok()
        })
        .map(|m| m.len())
        .sum()
}

/// The best rate over `window` seconds, from cumulative samples.
fn peak_rate(samples: &[Sample], window: f64, value: impl Fn(&Sample) -> f64) -> f64 {
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
fn active_rate(samples: &[Sample], value: impl Fn(&Sample) -> f64) -> (f64, f64) {
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

/// Runs the load test and checks the invariants.
pub async fn run(opts: LoadtestOptions) -> anyhow::Result<Report> {
    let started_at = chrono::Utc::now().to_rfc3339();
    let (temp, dir) = match &opts.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            (None, dir.clone())
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("pinglass-loadtest")
                .tempdir()?;
            let dir = temp.path().to_path_buf();
            (Some(temp), dir)
        }
    };

    // The stand-ins, in this process, with the faults asked for.
    let faults = crate::faults::FaultPlan::named(&opts.faults)
        .with_context(|| format!("unknown fault plan {:?} (none, realistic)", opts.faults))?
        .with_seed(opts.seed);
    let faulty = opts.faults != "none";
    let mut options = StandinOptions::new(TOKEN, "PinGlassLoadBot", dir.join("telegram"));
    options.faults = faults.clone();
    options.limits = if opts.telegram_limits {
        RateLimits::default()
    } else {
        RateLimits::disabled()
    };
    let limit_per_sec = options.limits.global_per_sec;
    let telegram = TelegramStandin::start(options).await?;
    let kie: KieStandinHandle = KieStandin::start(KieStandinOptions {
        bind: "127.0.0.1:0".parse()?,
        api_key: KIE_KEY.into(),
        latency: opts.kie_latency_min,
        data_dir: dir.join("kie"),
        public_base: None,
        initial_credits: 10_000_000.0,
        create_limit_per_10s: 20,
        faults: faults.clone(),
    })
    .await?;
    kie.set_latency_range(opts.kie_latency_min, opts.kie_latency_max);
    let tbank = TbankStandin::start(TbankOptions {
        bind: "127.0.0.1:0".parse()?,
        terminal_key: TERMINAL.into(),
        password: PASSWORD.into(),
        public_base: None,
        faults: faults.clone(),
    })
    .await?;

    // The bot, a child process.
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let mut env: Vec<(String, String)> = vec![
        ("RUST_LOG".into(), "warn".into()),
        ("TELEGRAM_BOT_TOKEN".into(), TOKEN.into()),
        ("KIE_API_KEY".into(), KIE_KEY.into()),
        ("TBANK_TERMINAL_KEY".into(), TERMINAL.into()),
        ("TBANK_PASSWORD".into(), PASSWORD.into()),
        (
            "PINGLASS_TELEGRAM__API_URL".into(),
            telegram.api_url().to_string(),
        ),
        ("PINGLASS_KIE__BASE_URL".into(), kie.base_url().to_string()),
        (
            "PINGLASS_TBANK__BASE_URL".into(),
            tbank.base_url().to_string(),
        ),
        (
            "PINGLASS_DATABASE__PATH".into(),
            dir.join("pinglass.sqlite3").display().to_string(),
        ),
        (
            "PINGLASS_STORAGE__LOCAL_DIR".into(),
            dir.join("objects").display().to_string(),
        ),
        (
            "PINGLASS_SANDBOX__DATA_DIR".into(),
            dir.join("sandbox").display().to_string(),
        ),
        (
            "PINGLASS_TELEMETRY__METRICS_LISTEN".into(),
            metrics.to_string(),
        ),
        // Paid sets only: the free preview is a funnel of its own.
        ("PINGLASS_PREVIEW__ENABLED".into(), "false".into()),
    ];
    if !opts.telegram_limits {
        for key in ["MESSAGES_PER_SEC_CHAT", "MESSAGES_PER_SEC_OVERALL"] {
            env.push((format!("PINGLASS_TELEGRAM__{key}"), "1000000".into()));
        }
    }
    let exe = match &opts.bot_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe()?,
    };
    let mut bot = probe::Bot::new(probe::BotSpec {
        exe,
        config: opts.config.clone(),
        dir: dir.clone(),
        env,
        metrics,
    });
    bot.start()?;
    let run_started = Instant::now();

    // The users.
    let photos = {
        let side = opts.photo_side;
        let count = (opts.photos_max.max(1) as usize).max(15) + 1;
        tokio::task::spawn_blocking(move || {
            (0..count)
                .map(|i| crate::harness::chat::photo_jpeg(&format!("load-{i}"), side, side * 5 / 4))
                .collect::<Vec<_>>()
        })
        .await?
    };
    let world = Arc::new(user::World {
        telegram,
        tbank,
        photos: Arc::new(photos),
        step_timeout: if opts.kills > 0 || faulty {
            Duration::from_secs(20)
        } else {
            Duration::from_secs(120)
        }
        .min(opts.deadline),
        delivery_timeout: opts.deadline,
        attempts: if opts.kills > 0 || faulty { 6 } else { 1 },
        // A portrait Kie refuses is given up and refunded: the set then
        // ends with fewer portraits (the invariants check the refund).
        partial_allowed: faulty,
    });
    let plans = draw_plans(&opts);
    let mut users = tokio::task::JoinSet::new();
    for plan in plans {
        let world = world.clone();
        if opts.front_only {
            users.spawn(user::front(world, plan));
        } else {
            users.spawn(user::funnel(world, plan));
        }
    }

    // Monitor, kill and wait.
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x5eed);
    let expected_run = opts.arrival_window + opts.kie_latency_max * 2 + Duration::from_secs(20);
    let mut kill_at: Vec<Duration> = (0..opts.kills)
        .map(|_| {
            Duration::from_secs_f64(rng.random_range(2.0..expected_run.as_secs_f64().max(3.0)))
        })
        .collect();
    kill_at.sort();
    kill_at.reverse();
    let mut samples: Vec<Sample> = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut last_sample = Instant::now() - Duration::from_secs(2);
    let sample = |bot: &probe::Bot, telegram: &crate::telegram::standin::StandinHandle, at: f64| {
        let counters = telegram.sandbox().counters();
        let updates_before: f64 = bot.scrapes_ended.iter().map(|s| s.updates).sum();
        Sample {
            at,
            messages: counters.messages_sent_per_chat.values().sum(),
            updates: updates_before + bot.last_scrape.map_or(0.0, |s| s.updates),
        }
    };
    while !users.is_empty() {
        let tick = tokio::time::sleep(Duration::from_millis(250));
        tokio::select! {
            joined = users.join_next() => {
                if let Some(joined) = joined {
                    outcomes.push(joined.context("a simulated user panicked")?);
                }
            }
            _ = tick => {}
        }
        if last_sample.elapsed() >= Duration::from_secs(1) {
            last_sample = Instant::now();
            let _ = bot.sample().await;
            samples.push(sample(
                &bot,
                &world.telegram,
                run_started.elapsed().as_secs_f64(),
            ));
        }
        if let Some(status) = bot.exited() {
            anyhow::bail!(
                "the bot exited by itself ({status}); its log: {}",
                bot.dir().join(format!("bot-{}.log", bot.starts)).display()
            );
        }
        if kill_at
            .last()
            .is_some_and(|at| run_started.elapsed() >= *at)
        {
            kill_at.pop();
            bot.kill().await?;
            bot.start()?;
        }
        if run_started.elapsed() > opts.deadline + Duration::from_secs(60) {
            users.abort_all();
            break;
        }
    }

    // Let the bot finish what it has: every update consumed, nothing pending.
    let db = Db::open(&bot.db_path(), 1)?;
    let settle_deadline = Instant::now()
        + opts
            .deadline
            .clamp(Duration::from_secs(60), Duration::from_secs(900));
    let driven_updates: u64 = outcomes.iter().map(|o| o.updates).sum();
    loop {
        let _ = bot.sample().await;
        samples.push(sample(
            &bot,
            &world.telegram,
            run_started.elapsed().as_secs_f64(),
        ));
        let pending = db.run(|c| db::loadtest::pending(c)).await?;
        let consumed = world.telegram.sandbox().pending_update_count() == 0;
        let handled = samples.last().map_or(0.0, |s| s.updates);
        let all_handled = opts.kills > 0 || handled >= driven_updates as f64;
        if (consumed && all_handled && pending.queue == 0 && pending.jobs == 0)
            || Instant::now() > settle_deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // A wrongly repeated send would show within this.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = bot.sample().await;
    samples.push(sample(
        &bot,
        &world.telegram,
        run_started.elapsed().as_secs_f64(),
    ));
    bot.stop().await?;
    let duration_secs = run_started.elapsed().as_secs_f64();

    // The figures.
    let mut driven = Driven {
        users: outcomes.len() as u64,
        updates: driven_updates,
        ..Driven::default()
    };
    for o in &outcomes {
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

    let scrapes = bot.scrapes();
    let worst = |i: usize| scrapes.iter().map(|s| s.quantiles[i]).fold(0.0, f64::max) * 1000.0;
    let (active_secs, updates_per_sec) = active_rate(&samples, |s| s.updates);
    let bot_figures = BotFigures {
        updates_handled: scrapes.iter().map(|s| s.updates).sum::<f64>() as u64,
        active_secs,
        updates_per_sec,
        peak_updates_per_sec_5s: peak_rate(&samples, 5.0, |s| s.updates),
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
    };
    let counters = world.telegram.sandbox().counters();
    let messages_sent: u64 = counters.messages_sent_per_chat.values().sum();
    let (_, messages_per_sec) = active_rate(&samples, |s| s.messages as f64);
    let telegram_figures = TelegramFigures {
        messages_sent,
        messages_per_sec,
        peak_messages_per_sec_10s: peak_rate(&samples, 10.0, |s| s.messages as f64),
        limit_per_sec: if opts.telegram_limits {
            limit_per_sec
        } else {
            0.0
        },
        too_many_requests: counters.too_many_requests,
    };

    // What the database says.
    let jobs = db.run(|c| db::loadtest::paid_jobs(c)).await?;
    let payments = db.run(|c| db::loadtest::payments(c)).await?;
    let pending = db.run(|c| db::loadtest::pending(c)).await?;
    let db_bytes = dir_bytes(&bot.db_path());

    let mut each = Vec::new();
    for job in &jobs {
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
        let ratio = took.zip(slowest).map(|(t, s)| t / s.max(1e-3));
        let within_target = took.zip(slowest).is_some_and(|(t, s)| t <= 1.1 * s + 10.0);
        each.push(JobTiming {
            user_id: job.user_id,
            job_id: job.job_id,
            portraits: job.total,
            confirmed_to_delivered_secs: took,
            slowest_task_secs: slowest,
            ratio,
            within_target,
        });
    }
    let mut ratios: Vec<f64> = each.iter().filter_map(|j| j.ratio).collect();
    ratios.sort_by(f64::total_cmp);
    let job_figures = JobFigures {
        jobs: each.len() as u64,
        within_target: each.iter().filter(|j| j.within_target).count() as u64,
        ratio_median: ratios.get(ratios.len() / 2).copied(),
        ratio_max: ratios.last().copied(),
        each,
    };

    // The invariants.
    let mut invariants = Vec::new();
    let mut check = |name: &'static str, problems: Vec<String>| {
        invariants.push(Invariant {
            name,
            ok: problems.is_empty(),
            detail: if problems.is_empty() {
                "ok".into()
            } else {
                format!(
                    "{} problem(s): {}",
                    problems.len(),
                    problems
                        .iter()
                        .take(10)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            },
        });
    };
    if !opts.front_only {
        let mut problems = Vec::new();
        for o in &outcomes {
            let history = world.telegram.sandbox().history(o.user_id);
            let received = portraits_received(&history);
            let mut unique = received.clone();
            unique.sort();
            unique.dedup();
            match o.fate {
                Some(Fate::Pay) => {
                    let job = jobs.iter().find(|j| j.user_id == o.user_id);
                    // A SIGKILL between Telegram accepting an album and the
                    // bot recording it, or a send Telegram did not answer,
                    // re-sends that album (documented in ARCHITECTURE.md):
                    // only an album with an uncertain send may repeat.
                    let extra_allowed: usize = job.map_or(0, |j| {
                        j.album_uncertain
                            .iter()
                            .enumerate()
                            .map(|(i, n)| {
                                (*n as usize)
                                    * (o.portraits_expected.saturating_sub(i * 10)).min(10)
                            })
                            .sum()
                    });
                    // With faults a portrait may be given up: then the
                    // user gets exactly the portraits made, and the
                    // given-up share comes back as a refund.
                    let made = job.map_or(0, |j| j.completed as usize);
                    let failed = job.map_or(0, |j| j.failed as usize);
                    let expected = if faulty { made } else { o.portraits_expected };
                    if made + failed != o.portraits_expected
                        || (failed > 0 && job.is_none_or(|j| j.refunded_kopecks <= 0))
                    {
                        problems.push(format!(
                            "user {}: {} portraits paid, {made} made, {failed} given up, refunded {}",
                            o.user_id,
                            o.portraits_expected,
                            job.map_or(0, |j| j.refunded_kopecks)
                        ));
                    }
                    if !faulty && failed > 0 {
                        problems.push(format!(
                            "user {}: {failed} portraits given up with no fault injected",
                            o.user_id
                        ));
                    }
                    if unique.len() != expected || received.len() > expected + extra_allowed {
                        problems.push(format!(
                            "user {} paid for {} and received {} ({} different)",
                            o.user_id,
                            o.portraits_expected,
                            received.len(),
                            unique.len()
                        ));
                    }
                }
                _ if !received.is_empty() => problems.push(format!(
                    "user {} did not pay and received {} portraits",
                    o.user_id,
                    received.len()
                )),
                _ => {}
            }
        }
        check(
            "every paying user received exactly their portraits (made, or refunded), once",
            problems,
        );

        let mut problems = Vec::new();
        for p in &payments {
            if p.confirmations > 1 || p.jobs > 1 {
                problems.push(format!(
                    "payment {} confirmed {} times, {} jobs",
                    p.id, p.confirmations, p.jobs
                ));
            }
        }
        for o in &outcomes {
            let mine: Vec<_> = payments.iter().filter(|p| p.user_id == o.user_id).collect();
            let confirmed = mine.iter().filter(|p| p.confirmations > 0).count();
            let want = usize::from(o.fate == Some(Fate::Pay));
            if confirmed != want {
                problems.push(format!(
                    "user {} ({:?}) has {confirmed} confirmed payment(s)",
                    o.user_id, o.fate
                ));
            }
            if o.fate == Some(Fate::Decline)
                && !mine.iter().any(|p| {
                    p.status == "rejected" && p.bank_payment_id.as_deref() == o.payment.as_deref()
                })
            {
                problems.push(format!(
                    "user {}'s declined payment is not rejected",
                    o.user_id
                ));
            }
        }
        check(
            "no payment processed twice (one confirmation, one job)",
            problems,
        );
    }
    let mut problems = Vec::new();
    if pending.queue > 0 {
        problems.push(format!("{} queued messages", pending.queue));
    }
    if pending.jobs > 0 {
        problems.push(format!("{} jobs running", pending.jobs));
    }
    if pending.tasks > 0 {
        problems.push(format!("{} tasks unfinished", pending.tasks));
    }
    if pending.refunds > 0 {
        problems.push(format!("{} refunds pending", pending.refunds));
    }
    if world.telegram.sandbox().pending_update_count() > 0 {
        problems.push(format!(
            "{} updates never fetched",
            world.telegram.sandbox().pending_update_count()
        ));
    }
    if opts.kills == 0 && bot_figures.updates_handled < driven.updates {
        problems.push(format!(
            "{} updates driven, {} handled",
            driven.updates, bot_figures.updates_handled
        ));
    }
    check(
        "nothing left pending (queue, jobs, tasks, refunds, updates)",
        problems,
    );
    let problems = driven.errors.iter().take(5).cloned().collect::<Vec<_>>();
    check("every simulated user finished their story", problems);

    let ok = invariants.iter().all(|i| i.ok);
    let work_dir = match temp {
        Some(temp) if !ok => Some(temp.keep()),
        Some(_) => None,
        None => Some(dir),
    };
    let faults_met = faults.tally().snapshot();
    let report = Report {
        options: opts.clone(),
        started_at,
        duration_secs,
        driven,
        bot: bot_figures,
        telegram: telegram_figures,
        faults_met,
        jobs: job_figures,
        db_bytes,
        pending,
        invariants,
        ok,
        work_dir,
    };
    if let Some(path) = &opts.output {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
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
        let _ = writeln!(
            out,
            "pinglass loadtest: {} users within {:.0} s, Kie {:.0}–{:.0} s, {}{}{}, seed {}",
            o.users,
            o.arrival_window.as_secs_f64(),
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
