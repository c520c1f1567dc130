//! Start-up: open the database, pick real services or stand-ins, start the
//! dispatcher and the side task, and stop them all on Ctrl-C or SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::sync::watch;

use crate::backup;
use crate::bot::{self, BotCtx};
use crate::chat::{self, Wake};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{self, Db};
use crate::ops::{self, Ops};
use crate::services::{self, Services};
use crate::startup;
use crate::worker::{self, WorkerCtx};

/// `pinglass migrate`: create or upgrade the schema and report it.
pub fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = Db::open(&config.database.path, 1)
        .with_context(|| format!("opening {}", config.database.path.display()))?;
    let version = db.schema_version()?;
    let tables = db.run_blocking(|c| db::table_names(c))?;
    println!(
        "{}: schema version {version}, {} tables",
        config.database.path.display(),
        tables.len()
    );
    Ok(())
}

/// `pinglass restore`: the latest backup becomes the database.
pub async fn restore(config: &Config) -> anyhow::Result<String> {
    backup::restore(config).await
}

/// `pinglass check`: calls each real service once, without side effects,
/// and prints a table; `Ok(true)` when every service is real and answers.
pub async fn check(config: &Config) -> bool {
    let rows = services::check(config).await;
    println!("{:<14} {:<7} detail", "service", "result");
    let mut all_ok = true;
    for (service, verdict) in rows {
        let (result, detail) = match verdict {
            startup::Verdict::Ok(said) => ("OK", said),
            startup::Verdict::Warning(said) => ("WARNING", said),
            startup::Verdict::Refused(why) => ("FAILED", why),
            startup::Verdict::Unreachable(why) => ("FAILED", format!("no answer: {why}")),
        };
        all_ok &= result != "FAILED";
        println!("{service:<14} {result:<7} {detail}");
    }
    all_ok
}

/// The whole running application: what `pinglass run` starts, and what the
/// tests start in-process against the stand-ins.
pub struct App {
    pub db: Db,
    pub services: Services,
    pub worker_ctx: Arc<WorkerCtx>,
    dispatcher: bot::Running,
    worker: Option<tokio::task::JoinHandle<()>>,
    stop_worker: watch::Sender<bool>,
    /// The periodic database backups (stopped by `stop_worker` too).
    backups: Option<tokio::task::JoinHandle<()>>,
    clock: Arc<Clock>,
    config: Arc<Config>,
    /// The metrics and `/healthz` endpoint, when `[telemetry] metrics_listen` is set.
    metrics: Option<ops::server::Running>,
}

impl App {
    /// Opens the database (running migrations), connects or starts every
    /// service, and starts the dispatcher and the side task.
    pub(crate) async fn start(config: Config) -> anyhow::Result<App> {
        App::start_with_clock(config, Arc::new(Clock::system())).await
    }

    /// [`App::start`] with a clock the caller keeps (tests move it forward).
    pub(crate) async fn start_with_clock(config: Config, clock: Arc<Clock>) -> anyhow::Result<App> {
        let db = Db::open(&config.database.path, config.database.pool_size)
            .with_context(|| format!("opening {}", config.database.path.display()))?;
        // Whatever a killed process left half-done is resumed now, not after its lease.
        let (tasks, messages) = db.run_blocking(|c| {
            let now = db::now_ms();
            Ok((
                db::jobs::resume_in_flight(c, now)?,
                db::queue::resume_in_flight(c, now)?,
            ))
        })?;
        if tasks + messages > 0 {
            tracing::info!(
                tasks,
                messages,
                "resuming work a previous run left in flight"
            );
        }
        // Archives a killed process was building are rebuilt from scratch.
        worker::zip::clear_work_dir(&config.gallery.zip_dir);
        let services = services::start(&config).await?;
        for line in services.describe() {
            tracing::info!("{line}");
        }
        let bot = chat::build_bot(
            services.telegram_token.expose_secret(),
            services.telegram_api.clone(),
            &config.telegram,
        )?;
        check_services(&bot, &config, &services).await?;
        let config = Arc::new(config);
        let wake = Arc::new(Wake::default());
        let ops = Arc::new(Ops::default());
        // Bound first: a busy address fails the start before anything runs.
        let metrics = match config.telemetry.metrics_listen {
            Some(listen) => Some(
                ops::server::start(
                    listen,
                    ops.clone(),
                    db.clone(),
                    std::time::Duration::from_secs(config.telemetry.healthz_stale_secs),
                )
                .await
                .with_context(|| format!("metrics endpoint on {listen}"))?,
            ),
            None => None,
        };
        let bot_ctx = Arc::new(BotCtx {
            config: config.clone(),
            db: db.clone(),
            store: services.store.clone(),
            wake: wake.clone(),
            clock: clock.clone(),
            ops: ops.clone(),
        });
        let dispatcher = bot::start(bot.clone(), bot_ctx).await?;
        let worker_ctx = Arc::new(WorkerCtx {
            config: config.clone(),
            db: db.clone(),
            bot: bot.clone(),
            store: services.store.clone(),
            tbank: services.tbank.clone(),
            kie: services.kie.clone(),
            create_limiter: Default::default(),
            pacing: Default::default(),
            wake,
            clock: clock.clone(),
            ops: ops.clone(),
        });
        let (stop_worker, stop_rx) = watch::channel(false);
        ops.worker_started();
        let backups = tokio::spawn(backup::run(
            db.clone(),
            services.store.clone(),
            clock.clone(),
            backup::Settings::of(&config),
            stop_rx.clone(),
        ));
        let worker = tokio::spawn(worker::run(worker_ctx.clone(), stop_rx));
        Ok(App {
            db,
            services,
            worker_ctx,
            dispatcher,
            worker: Some(worker),
            stop_worker,
            backups: Some(backups),
            clock,
            config,
            metrics,
        })
    }

    /// Resolves when the dispatcher or the side task stopped without being
    /// asked to (returned, panicked, or met an error no retry mends), with
    /// the reason. A process in that state no longer serves: it must exit.
    pub(crate) async fn ended(&mut self) -> String {
        let side_task = async {
            match &mut self.worker {
                Some(worker) => {
                    let joined = worker.await;
                    self.worker = None;
                    match joined {
                        Ok(()) => "the side task stopped".to_owned(),
                        Err(error) => format!("the side task failed: {error}"),
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            reason = self.dispatcher.ended() => reason,
            reason = side_task => reason,
        }
    }

    /// Stops polling, lets the updates in flight finish, stops the side task
    /// after its current step, takes a last backup, then stops the stand-ins.
    pub(crate) async fn stop(mut self) {
        let _ = self.stop_worker.send(true);
        self.dispatcher.shutdown().await;
        if let Some(worker) = self.worker.take() {
            let _ = worker.await;
        }
        if let Some(backups) = self.backups.take() {
            let _ = backups.await;
            let settings = backup::Settings::of(&self.config);
            let store = &self.services.store;
            backup::log(
                backup::backup_once(
                    &self.db,
                    store,
                    &self.clock,
                    &settings.work_dir,
                    settings.keep,
                )
                .await,
            );
        }
        if let Some(metrics) = self.metrics.take() {
            metrics.stop().await;
        }
        self.services.shutdown().await;
    }

    /// Stops only the side task (after its current step); the dispatcher and
    /// the metrics endpoint keep running. `/healthz` then reports it.
    pub async fn stop_side_task(&mut self) {
        let _ = self.stop_worker.send(true);
        if let Some(worker) = self.worker.take() {
            let _ = worker.await;
        }
    }

    /// Where the metrics and `/healthz` endpoint listens (the bound address,
    /// also when configured with port 0).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(|m| m.addr)
    }
}

/// The start-up calls, each retried with back-off (`startup`): Telegram's
/// `getMe`, `deleteWebhook` and `setMyCommands`, Kie's credit balance and a
/// T-Bank CheckOrder, the three services at once.
async fn check_services(
    bot: &chat::TgBot,
    config: &Config,
    services: &Services,
) -> anyhow::Result<()> {
    let window = std::time::Duration::from_secs(config.bot.startup_retry_secs);
    let telegram = async {
        startup::telegram(bot, window).await?;
        startup::retried(
            "setMyCommands",
            window,
            || bot::register_commands(bot, config),
            |e| !startup::token_refused(e),
        )
        .await
        .map_err(startup::telegram_failure)
        .context("registering the command menu (setMyCommands)")
    };
    tokio::try_join!(
        telegram,
        startup::kie(&services.kie, window),
        startup::tbank(&services.tbank, window),
    )?;
    Ok(())
}

/// `pinglass run`: serves until Ctrl-C or SIGTERM, or until a part of the
/// bot stops on its own — then it stops the rest and fails, so that the
/// supervisor (systemd's `Restart=always`) starts a process that serves.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let mut app = App::start(config).await?;
    if let Some(page) = &app.services.chat_page {
        println!();
        println!("  PinGlass is running in the local sandbox (no TELEGRAM_BOT_TOKEN set).");
        println!("  Open the chat page and play the user: {page}");
        println!("  Stop with Ctrl-C.");
        println!();
    }
    let ended = tokio::select! {
        () = wait_for_stop_signal() => None,
        reason = app.ended() => Some(reason),
    };
    match &ended {
        None => tracing::info!("stopping: finishing the updates in flight"),
        Some(reason) => tracing::error!(reason, "a part of the bot stopped: stopping the rest"),
    }
    app.stop().await;
    match ended {
        None => Ok(()),
        Some(reason) => Err(anyhow::anyhow!(reason)),
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub(crate) async fn wait_for_stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
