//! Start-up: open the database, pick real services or stand-ins, start the
//! dispatcher and the side task, and stop them all on Ctrl-C or SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::sync::watch;

use crate::bot::{self, BotCtx};
use crate::chat::{self, Wake};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{self, Db};
use crate::ops::{self, Ops};
use crate::services::{self, Services};
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

/// The whole running application: what `pinglass run` starts, and what the
/// tests start in-process against the stand-ins.
pub struct App {
    pub db: Db,
    pub services: Services,
    pub worker_ctx: Arc<WorkerCtx>,
    dispatcher: bot::Running,
    worker: Option<tokio::task::JoinHandle<()>>,
    stop_worker: watch::Sender<bool>,
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
        bot::register_commands(&bot, &config)
            .await
            .context("registering the command menu (setMyCommands)")?;
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
            clock,
            ops: ops.clone(),
        });
        let (stop_worker, stop_rx) = watch::channel(false);
        ops.worker_started();
        let worker = tokio::spawn(worker::run(worker_ctx.clone(), stop_rx));
        Ok(App {
            db,
            services,
            worker_ctx,
            dispatcher,
            worker: Some(worker),
            stop_worker,
            metrics,
        })
    }

    /// Stops polling, lets the updates in flight finish, stops the side task
    /// after its current step, then the stand-ins.
    pub(crate) async fn stop(mut self) {
        let _ = self.stop_worker.send(true);
        self.dispatcher.shutdown().await;
        if let Some(worker) = self.worker.take() {
            let _ = worker.await;
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

/// `pinglass run`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let app = App::start(config).await?;
    if let Some(page) = &app.services.chat_page {
        println!();
        println!("  PinGlass is running in the local sandbox (no TELEGRAM_BOT_TOKEN set).");
        println!("  Open the chat page and play the user: {page}");
        println!("  Stop with Ctrl-C.");
        println!();
    }
    wait_for_stop_signal().await;
    tracing::info!("stopping: finishing the updates in flight");
    app.stop().await;
    Ok(())
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
