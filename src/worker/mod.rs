//! The side task: one loop in the same process as the dispatcher, made of
//! small idempotent steps that tests can call one at a time. It polls T-Bank
//! (no webhooks), drives generation on Kie, and drains the persistent
//! Telegram message queue.

pub mod alerts;
pub mod delivery;
pub mod generation;
pub mod outbox;
pub mod payments;
pub mod refunds;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::bot::TgBot;
use crate::config::Config;
use crate::db::{self, Db};
use crate::kie::KieClient;
use crate::store::ObjectStore;
use crate::tbank::TbankClient;

/// What the side task works with.
pub struct WorkerCtx {
    pub config: Arc<Config>,
    pub db: Db,
    pub bot: TgBot,
    pub store: ObjectStore,
    pub tbank: TbankClient,
    pub kie: KieClient,
    /// Keeps createTask within Kie's per-10-seconds limit.
    pub create_limiter: generation::CreateLimiter,
    /// Wakes the loop early (a handler queued work, or a step made more).
    pub wake: Arc<Notify>,
}

/// Runs every step once. Returns how many items were worked on.
pub async fn run_round(ctx: &WorkerCtx) -> usize {
    let mut worked = 0;
    let now = db::now_ms();
    match payments::step(ctx, now).await {
        Ok(n) => worked += n,
        Err(error) => tracing::error!(error = format!("{error:#}"), "payment step failed"),
    }
    match generation::step(ctx, db::now_ms()).await {
        Ok(n) => worked += n,
        Err(error) => tracing::error!(error = format!("{error:#}"), "generation step failed"),
    }
    match refunds::step(ctx, db::now_ms()).await {
        Ok(n) => worked += n,
        Err(error) => tracing::error!(error = format!("{error:#}"), "refund step failed"),
    }
    match delivery::step(ctx, db::now_ms()).await {
        Ok(n) => worked += n,
        Err(error) => tracing::error!(error = format!("{error:#}"), "delivery step failed"),
    }
    worked
}

/// The loop: rounds back to back while there is work, otherwise a pause of
/// `worker.tick_ms` (cut short by a wake-up) — until `stop` turns true.
pub async fn run(ctx: Arc<WorkerCtx>, mut stop: watch::Receiver<bool>) {
    let tick = Duration::from_millis(ctx.config.worker.tick_ms);
    tracing::info!("side task started");
    loop {
        if *stop.borrow() {
            break;
        }
        let worked = run_round(&ctx).await;
        if worked == 0 {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = ctx.wake.notified() => {}
                _ = stop.changed() => {}
            }
        } else {
            tokio::task::yield_now().await;
        }
    }
    tracing::info!("side task stopped");
}
