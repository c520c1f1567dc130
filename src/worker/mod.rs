//! The side task, in the same process as the dispatcher, made of small
//! idempotent steps that tests can call one at a time. It polls T-Bank (no
//! webhooks), drives generation on Kie, and drains the persistent Telegram
//! message queue.
//!
//! It runs as two loops: one for payments, generation and refunds, one for
//! delivery, so that waiting out Telegram's sending limits never delays a
//! payment check or a Kie poll.

pub(crate) mod admin;
pub(crate) mod alerts;
pub(crate) mod delivery;
pub(crate) mod free;
pub(crate) mod generation;
pub(crate) mod housekeeping;
pub mod monitor;
pub mod payments;
pub(crate) mod privacy;
pub(crate) mod reconcile;
pub(crate) mod referrals;
pub(crate) mod refunds;
pub mod reminders;
pub(crate) mod switch;
pub mod zip;

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Notify, watch};

use crate::chat::outbox::{self, Delivery, Outgoing};
use crate::chat::{TgBot, Wake};
use crate::config::Config;
use crate::db::Db;
use crate::i18n::Lang;
use crate::kie::KieClient;
use crate::store::ObjectStore;
use crate::tbank::TbankClient;

/// What the side task works with.
pub struct WorkerCtx {
    pub(crate) config: Arc<Config>,
    pub db: Db,
    pub(crate) bot: TgBot,
    pub(crate) store: ObjectStore,
    pub(crate) tbank: TbankClient,
    pub(crate) kie: KieClient,
    /// Keeps createTask within Kie's per-10-seconds limit.
    pub(crate) create_limiter: generation::CreateLimiter,
    /// Spaces messages to one chat after an album (Telegram counts every photo).
    pub(crate) pacing: delivery::Pacing,
    pub wake: Arc<Wake>,
    /// The time every step works with (moved only by tests).
    pub clock: Arc<crate::clock::Clock>,
    /// Heartbeats and error counts for `/healthz` and the alerts.
    pub ops: Arc<crate::ops::Ops>,
}

/// Queues a message its recipient must get (`Delivery::Essential`: /stop
/// does not drop it), once per `dedup_key`, in the caller's transaction.
/// Returns whether a row was added.
pub(crate) fn queue_essential(
    conn: &Connection,
    chat_id: i64,
    message: &Outgoing,
    dedup_key: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    outbox::enqueue(conn, chat_id, message, dedup_key, Delivery::Essential, now)
}

/// Queues a message of a paid set's delivery or of a payment: essential,
/// and first when Telegram's budget is short.
pub(crate) fn queue_paid(
    conn: &Connection,
    chat_id: i64,
    message: &Outgoing,
    dedup_key: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    outbox::enqueue(conn, chat_id, message, dedup_key, Delivery::Paid, now)
}

/// Queues an essential text to `chat_id` (a user or an admin), written by
/// `text` in their language, once per `dedup_key`.
pub(crate) fn tell(
    conn: &Connection,
    chat_id: i64,
    dedup_key: &str,
    now: i64,
    text: impl FnOnce(Lang) -> String,
) -> rusqlite::Result<bool> {
    let text = text(crate::chat::lang_of(conn, chat_id)?);
    queue_essential(conn, chat_id, &Outgoing::text(text), dedup_key, now)
}

fn log_step(ops: &crate::ops::Ops, name: &str, result: anyhow::Result<usize>) -> usize {
    match result {
        Ok(n) => n,
        Err(error) => {
            ops.error();
            crate::ops::metrics::side_task_error(name);
            tracing::error!(
                step = name,
                error = format!("{error:#}"),
                "side task step failed"
            );
            0
        }
    }
}

/// Runs a step; a panic inside it is logged as an error of the step instead
/// of silently ending the side task (the next round tries again).
async fn guarded(
    ctx: &WorkerCtx,
    name: &str,
    step: impl std::future::Future<Output = anyhow::Result<usize>>,
) -> usize {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(step).catch_unwind().await {
        Ok(result) => log_step(&ctx.ops, name, result),
        Err(_) => {
            ctx.ops.error();
            crate::ops::metrics::side_task_error(name);
            tracing::error!(
                step = name,
                "side task step panicked; it runs again next round"
            );
            0
        }
    }
}

/// Runs payments, generation, refunds and reminders once. Returns how many items were worked on.
pub async fn run_round(ctx: &WorkerCtx) -> usize {
    guarded(ctx, "payments", payments::step(ctx, ctx.clock.now_ms())).await
        + guarded(ctx, "generation", generation::step(ctx, ctx.clock.now_ms())).await
        + guarded(ctx, "refunds", refunds::step(ctx, ctx.clock.now_ms())).await
        + guarded(ctx, "reminders", reminders::step(ctx, ctx.clock.now_ms())).await
        + guarded(ctx, "admin", admin::step(ctx, ctx.clock.now_ms())).await
        + guarded(ctx, "monitor", monitor::step(ctx, ctx.clock.now_ms())).await
        + guarded(ctx, "privacy", privacy::step(ctx, ctx.clock.now_ms())).await
        + guarded(
            ctx,
            "housekeeping",
            housekeeping::step(ctx, ctx.clock.now_ms()),
        )
        .await
        + guarded(ctx, "reconcile", reconcile::step(ctx, ctx.clock.now_ms())).await
}

/// Runs the delivery step once.
pub async fn run_delivery_round(ctx: &WorkerCtx) -> usize {
    guarded(ctx, "delivery", delivery::step(ctx, ctx.clock.now_ms())).await
}

async fn idle(ctx: &WorkerCtx, notify: &Notify, stop: &mut watch::Receiver<bool>) {
    let tick = Duration::from_millis(ctx.config.worker.tick_ms);
    tokio::select! {
        _ = tokio::time::sleep(tick) => {}
        _ = notify.notified() => {}
        _ = stop.changed() => {}
    }
}

/// Both loops: rounds back to back while there is work, otherwise a pause of
/// `worker.tick_ms` (cut short by a wake-up) — until `stop` turns true.
pub(crate) async fn run(ctx: Arc<WorkerCtx>, stop: watch::Receiver<bool>) {
    tracing::info!("side task started");
    ctx.ops.worker_started();
    let mut delivery = {
        let ctx = ctx.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            while !*stop.borrow() {
                ctx.ops.delivery_beat();
                if run_delivery_round(&ctx).await == 0 {
                    idle(&ctx, ctx.wake.delivery(), &mut stop).await;
                }
            }
        })
    };
    let mut stop = stop;
    let main_loop = async {
        while !*stop.borrow() {
            ctx.ops.worker_beat();
            if run_round(&ctx).await == 0 {
                idle(&ctx, ctx.wake.main(), &mut stop).await;
            }
        }
    };
    tokio::pin!(main_loop);
    // A loop that panics takes the side task down with it, so that the
    // process exits (`app::run`) instead of running on with half of it.
    let delivery_ended = tokio::select! {
        () = &mut main_loop => delivery.await,
        ended = &mut delivery => {
            if ended.is_ok() {
                main_loop.await;
            }
            ended
        }
    };
    if let Err(error) = delivery_ended
        && error.is_panic()
    {
        std::panic::resume_unwind(error.into_panic());
    }
    ctx.ops.worker_stopped();
    tracing::info!("side task stopped");
}
