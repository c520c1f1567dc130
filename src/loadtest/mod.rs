//! `pinglass loadtest`: the stand-ins in this process (Telegram with its
//! real rate limits, Kie with a configurable latency, T-Bank), the bot as a
//! child process of the same binary (so its RSS and CPU are its own), and N
//! simulated users driven through the funnel at once. The report compares
//! what the bot did with what was driven, and checks the invariants: every
//! paying user got exactly their portraits, once; no payment was processed
//! twice; nothing is left pending.

//!
//! `run` is a sequence of named steps: the work directory, the stand-ins
//! (`crate::standins::start`), the bot, the users, the drive (monitor and
//! kills), the settling, the figures (`report.rs`) and the invariants
//! (`invariants.rs`, shared with the fault tests).

pub(crate) mod flood;
pub mod invariants;
pub(crate) mod photo;
pub(crate) mod probe;
mod report;
pub(crate) mod spike;
pub(crate) mod user;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::db::{self, Db};
use crate::faults::FaultPlan;
use crate::standins::{self, Credentials, Standins, StandinsOptions};
use crate::telegram::standin::{RateLimits, UserSpec};
use invariants::{Expect, Invariant};
use report::Sample;
pub(crate) use report::{BotFigures, Driven, JobFigures, Report, TelegramFigures};
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
    /// One more user sends this many messages at once, half-way through
    /// the arrivals (`flood.rs`; 0: no flood).
    pub flood: u32,
    /// Instead of the random users: a payer alone, then a payer with this
    /// many newcomers pressing /start at their payment (`spike.rs`).
    pub spike: u32,
    /// The bot backs its database up this often while serving (`[backup]
    /// interval_minutes`); `None`: as its configuration says.
    pub backup_minutes: Option<f64>,
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
            flood: 0,
            spike: 0,
            backup_minutes: None,
        }
    }
}

mod secs {
    pub(crate) fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
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

/// The run's files: `work_dir`, or a temporary directory (kept by
/// [`Report::work_dir`] when an invariant breaks).
fn work_dir(opts: &LoadtestOptions) -> anyhow::Result<(Option<tempfile::TempDir>, PathBuf)> {
    match &opts.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            Ok((None, dir.clone()))
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("pinglass-loadtest")
                .tempdir()?;
            let dir = temp.path().to_path_buf();
            Ok((Some(temp), dir))
        }
    }
}

/// The stand-ins, in this process: Telegram with its real limits (or
/// none), Kie with the latency range asked for, the faults asked for.
async fn start_standins(
    opts: &LoadtestOptions,
    dir: &Path,
    faults: &FaultPlan,
) -> anyhow::Result<Standins> {
    let credentials = Credentials {
        bot_token: TOKEN.into(),
        bot_username: "PinGlassLoadBot".into(),
        kie_api_key: KIE_KEY.into(),
        tbank_terminal_key: TERMINAL.into(),
        tbank_password: PASSWORD.into(),
    };
    standins::start(StandinsOptions {
        telegram_limits: if opts.telegram_limits {
            RateLimits::default()
        } else {
            RateLimits::disabled()
        },
        kie_latency_min: opts.kie_latency_min,
        kie_latency_max: opts.kie_latency_max,
        kie_credits: 10_000_000.0,
        faults: faults.clone(),
        ..StandinsOptions::local(dir, credentials)
    })
    .await
}

/// The bot, a child process of `bot_exe` against the stand-ins, its
/// metrics on a free port.
fn start_bot(
    opts: &LoadtestOptions,
    dir: &Path,
    standins: &Standins,
) -> anyhow::Result<probe::Bot> {
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let mut env: Vec<(String, String)> = vec![("RUST_LOG".into(), "warn".into())];
    env.extend(standins.bot_env());
    let path = |p: &str| dir.join(p).display().to_string();
    env.extend([
        ("PINGLASS_DATABASE__PATH".into(), path("pinglass.sqlite3")),
        ("PINGLASS_STORAGE__LOCAL_DIR".into(), path("objects")),
        ("PINGLASS_SANDBOX__DATA_DIR".into(), path("sandbox")),
        (
            "PINGLASS_TELEMETRY__METRICS_LISTEN".into(),
            metrics.to_string(),
        ),
        // Paid sets only: the free preview is a funnel of its own.
        ("PINGLASS_PREVIEW__ENABLED".into(), "false".into()),
    ]);
    if let Some(minutes) = opts.backup_minutes {
        env.push((
            "PINGLASS_BACKUP__INTERVAL_MINUTES".into(),
            minutes.to_string(),
        ));
    }
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
        dir: dir.to_path_buf(),
        env,
        metrics,
    });
    bot.start()?;
    Ok(bot)
}

/// The users' world: the stand-ins they play through, their photos
/// (drawn off the runtime), and how long and how often they try.
async fn users_world(
    opts: &LoadtestOptions,
    telegram: crate::telegram::standin::Handle,
    tbank: crate::tbank::standin::Handle,
) -> anyhow::Result<Arc<user::World>> {
    let faulty = opts.faults != "none";
    let photos = {
        let side = opts.photo_side;
        let count = (opts.photos_max.max(1) as usize).max(15) + 1;
        tokio::task::spawn_blocking(move || {
            (0..count)
                .map(|i| photo::photo_jpeg(&format!("load-{i}"), side, side * 5 / 4))
                .collect::<Vec<_>>()
        })
        .await?
    };
    Ok(Arc::new(user::World {
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
    }))
}

/// The bot and the monitor's samples, every second.
struct Monitor {
    bot: probe::Bot,
    samples: Vec<Sample>,
    started: Instant,
}

impl Monitor {
    async fn sample(&mut self, telegram: &crate::telegram::standin::Handle) {
        let _ = self.bot.sample().await;
        let counters = telegram.sandbox().counters();
        let updates_before: f64 = self.bot.scrapes_ended.iter().map(|s| s.updates).sum();
        self.samples.push(Sample {
            at: self.started.elapsed().as_secs_f64(),
            messages: counters.messages_sent_per_chat.values().sum(),
            updates: updates_before + self.bot.last_scrape.map_or(0.0, |s| s.updates),
        });
    }

    /// Updates handled so far, or absorbed by the flood guard (which
    /// never reach the handlers), every life summed.
    fn handled(&self) -> f64 {
        let of = |s: &probe::Scrape| s.updates + s.dropped;
        self.bot.scrapes_ended.iter().map(of).sum::<f64>()
            + self.bot.last_scrape.as_ref().map_or(0.0, of)
    }
}

/// Runs every user to the end of their story, sampling every second and
/// SIGKILLing (and restarting) the bot at `opts.kills` random moments.
async fn drive(
    opts: &LoadtestOptions,
    monitor: &mut Monitor,
    world: &Arc<user::World>,
) -> anyhow::Result<Scenarios> {
    let mut users = tokio::task::JoinSet::new();
    let mut spike = (opts.spike > 0).then(|| {
        let (world, db_path) = (world.clone(), monitor.bot.db_path());
        let (newcomers, package) = (opts.spike, opts.package.unwrap_or(0));
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let figures = spike::run(world, db_path, newcomers, package, &mut outcomes).await;
            (figures, outcomes)
        })
    });
    let plans = if spike.is_some() {
        Vec::new()
    } else {
        draw_plans(opts)
    };
    for plan in plans {
        let world = world.clone();
        if opts.front_only {
            users.spawn(user::front(world, plan));
        } else {
            users.spawn(user::funnel(world, plan));
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x5eed);
    let expected_run = opts.arrival_window + opts.kie_latency_max * 2 + Duration::from_secs(20);
    let mut kill_at: Vec<Duration> = (0..opts.kills)
        .map(|_| {
            Duration::from_secs_f64(rng.random_range(2.0..expected_run.as_secs_f64().max(3.0)))
        })
        .collect();
    kill_at.sort();
    kill_at.reverse();
    let mut flood = (opts.flood > 0).then(|| {
        let (world, messages, after) = (world.clone(), opts.flood, opts.arrival_window / 2);
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let figures = flood::run(&world, messages, after, &mut outcomes).await;
            (figures, outcomes)
        })
    });
    let mut flood_figures = None;
    let mut spike_figures = None;
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut last_sample = Instant::now() - Duration::from_secs(2);
    while !users.is_empty() || flood.is_some() || spike.is_some() {
        let tick = tokio::time::sleep(Duration::from_millis(250));
        tokio::select! {
            Some(joined) = users.join_next() => {
                outcomes.push(joined.context("a simulated user panicked")?);
            }
            _ = tick => {}
        }
        if let Some(running) = flood.take_if(|f| f.is_finished()) {
            let (figures, flooded) = running.await.context("the flood panicked")?;
            outcomes.extend(flooded);
            flood_figures = Some(figures?);
        }
        if let Some(running) = spike.take_if(|s| s.is_finished()) {
            let (figures, spiked) = running.await.context("the spike panicked")?;
            outcomes.extend(spiked);
            spike_figures = Some(figures?);
        }
        if last_sample.elapsed() >= Duration::from_secs(1) {
            last_sample = Instant::now();
            monitor.sample(&world.telegram).await;
        }
        let bot = &mut monitor.bot;
        if let Some(status) = bot.exited() {
            anyhow::bail!(
                "the bot exited by itself ({status}); its log: {}",
                bot.dir().join(format!("bot-{}.log", bot.starts)).display()
            );
        }
        if kill_at
            .last()
            .is_some_and(|at| monitor.started.elapsed() >= *at)
        {
            kill_at.pop();
            bot.kill().await?;
            bot.start()?;
        }
        if monitor.started.elapsed() > opts.deadline + Duration::from_secs(60) {
            users.abort_all();
            break;
        }
    }
    Ok(Scenarios {
        outcomes,
        flood: flood_figures,
        spike: spike_figures,
    })
}

/// What the drive produced: every simulated user's outcome, and the
/// figures of the flood and spike scenarios when they ran.
struct Scenarios {
    outcomes: Vec<Outcome>,
    flood: Option<flood::FloodFigures>,
    spike: Option<spike::SpikeFigures>,
}

/// Lets the bot finish what it has: every update consumed and handled,
/// nothing in flight (or the settle deadline passed); then stops it.
async fn settle(
    opts: &LoadtestOptions,
    monitor: &mut Monitor,
    db: &Db,
    world: &user::World,
    driven_updates: u64,
) -> anyhow::Result<()> {
    let settle_deadline = Instant::now()
        + opts
            .deadline
            .clamp(Duration::from_secs(60), Duration::from_secs(900));
    loop {
        monitor.sample(&world.telegram).await;
        let progress = db.run(|c| db::loadtest::progress(c)).await?;
        let consumed = world.telegram.sandbox().pending_update_count() == 0;
        let all_handled = opts.kills > 0 || monitor.handled() >= driven_updates as f64;
        if (consumed && all_handled && progress.in_flight == 0) || Instant::now() > settle_deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // A wrongly repeated send would show within this.
    tokio::time::sleep(Duration::from_secs(2)).await;
    monitor.sample(&world.telegram).await;
    monitor.bot.stop().await?;
    Ok(())
}

/// The funnel invariants (`invariants.rs`; not for `front_only`), then
/// those of the load test itself: every update fetched and handled, every
/// user's story finished.
async fn check_invariants(
    opts: &LoadtestOptions,
    db: &Db,
    world: &user::World,
    outcomes: &[Outcome],
    driven: &Driven,
    bot: &BotFigures,
) -> anyhow::Result<Vec<Invariant>> {
    let mut checked = Vec::new();
    if !opts.front_only {
        let users: Vec<(i64, invariants::Outcome)> = outcomes
            .iter()
            .map(|o| {
                let outcome = match o.fate {
                    Some(Fate::Pay) => invariants::Outcome::Paid,
                    Some(Fate::Decline) => invariants::Outcome::Declined,
                    Some(Fate::Abandon) | None => invariants::Outcome::Abandoned,
                };
                (o.user_id, outcome)
            })
            .collect();
        let facts = invariants::Facts::gather(db, &world.telegram, &world.tbank, &users).await?;
        let expect = Expect {
            faults: opts.faults != "none",
            one_payment_each: false,
        };
        checked.extend(invariants::check(&facts, &users, expect).0);
    }
    let mut problems = Vec::new();
    let unfetched = world.telegram.sandbox().pending_update_count();
    if unfetched > 0 {
        problems.push(format!("{unfetched} updates never fetched"));
    }
    // A flooding chat's updates may be absorbed before the handler tree.
    if opts.kills == 0 && bot.updates_handled + bot.updates_dropped < driven.updates {
        problems.push(format!(
            "{} updates driven, {} handled, {} absorbed in a flood",
            driven.updates, bot.updates_handled, bot.updates_dropped
        ));
    }
    let queue = db.run(|c| db::loadtest::pending(c)).await?;
    if queue != db::loadtest::Pending::default() {
        problems.push(format!("still pending: {queue:?}"));
    }
    checked.push(invariants::invariant(
        "every update fetched and handled, nothing pending",
        problems,
    ));
    checked.push(invariants::invariant(
        "every simulated user finished their story",
        driven.errors.iter().take(5).cloned().collect(),
    ));
    Ok(checked)
}

/// Runs the load test and checks the invariants.
pub async fn run(opts: LoadtestOptions) -> anyhow::Result<Report> {
    let started_at = chrono::Utc::now().to_rfc3339();
    let (temp, dir) = work_dir(&opts)?;
    let faults = FaultPlan::named(&opts.faults)
        .with_context(|| format!("unknown fault plan {:?} (none, realistic)", opts.faults))?
        .with_seed(opts.seed);
    let standins = start_standins(&opts, &dir, &faults).await?;
    let limit_per_sec = if opts.telegram_limits {
        RateLimits::default().global_per_sec
    } else {
        0.0
    };
    let bot = start_bot(&opts, &dir, &standins)?;
    let mut monitor = Monitor {
        bot,
        samples: Vec::new(),
        started: Instant::now(),
    };
    let (telegram, kie, tbank) = standins.into_all()?;
    let world = users_world(&opts, telegram, tbank).await?;
    let Scenarios {
        outcomes,
        flood,
        spike,
    } = drive(&opts, &mut monitor, &world).await?;
    let driven = Driven::of(&outcomes);
    let db = Db::open(&monitor.bot.db_path(), 1)?;
    settle(&opts, &mut monitor, &db, &world, driven.updates).await?;
    let duration_secs = monitor.started.elapsed().as_secs_f64();

    let bot = BotFigures::of(&monitor.bot, &monitor.samples);
    let telegram = TelegramFigures::of(
        &world.telegram.sandbox().counters(),
        &monitor.samples,
        limit_per_sec,
    );
    let jobs = db.run(|c| db::loadtest::paid_jobs(c)).await?;
    let pending = db.run(|c| db::loadtest::pending(c)).await?;
    let mut invariants = check_invariants(&opts, &db, &world, &outcomes, &driven, &bot).await?;
    if let Some(flood) = &flood {
        let max = crate::config::Config::load(&opts.config)?.upload.max_photos;
        invariants.push(flood.invariant(max as u64));
    }
    let ok = invariants.iter().all(|i| i.ok);
    let report = Report {
        options: opts.clone(),
        started_at,
        duration_secs,
        driven,
        bot,
        telegram,
        jobs: JobFigures::of(&jobs, &kie),
        flood,
        spike,
        db_bytes: dir_bytes(&monitor.bot.db_path()),
        pending,
        faults_met: faults.tally().snapshot(),
        invariants,
        ok,
        work_dir: match temp {
            Some(temp) if !ok => Some(temp.keep()),
            Some(_) => None,
            None => Some(dir),
        },
    };
    if let Some(path) = &opts.output {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}
