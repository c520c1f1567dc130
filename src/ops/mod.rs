//! Operations: what an operator watches while the bot runs — Prometheus
//! metrics and `/healthz` on `[telemetry] metrics_listen` ([`server`]), the
//! liveness of the poller and the side task ([`Ops`]), and the counts the
//! side task's watch step turns into admin alerts (`worker::watch`).

pub(crate) mod metrics;
pub(crate) mod server;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared by the dispatcher, the side task and the HTTP endpoint of one
/// application. Heartbeats are monotonic (real time, not the application
/// clock that tests move).
#[derive(Debug)]
pub struct Ops {
    started: Instant,
    dispatcher_running: AtomicBool,
    /// Milliseconds since `started` of the last update handled (-1: none).
    last_update: AtomicI64,
    worker_running: AtomicBool,
    worker_beat: AtomicI64,
    delivery_beat: AtomicI64,
    /// Handler errors and side-task step errors, since start.
    errors: AtomicU64,
    /// Where the watch step left off.
    pub(crate) watch: Mutex<WatchState>,
}

impl Default for Ops {
    fn default() -> Self {
        Ops {
            started: Instant::now(),
            dispatcher_running: AtomicBool::new(false),
            last_update: AtomicI64::new(-1),
            worker_running: AtomicBool::new(false),
            worker_beat: AtomicI64::new(0),
            delivery_beat: AtomicI64::new(0),
            errors: AtomicU64::new(0),
            watch: Mutex::new(WatchState::default()),
        }
    }
}

/// What the side task's watch step remembers from its last check.
#[derive(Debug, Default)]
pub(crate) struct WatchState {
    /// Application time of the last check (None: not checked yet).
    pub(crate) last_at: Option<i64>,
    /// (application time, [`Ops::errors`]) at each check of the last minute,
    /// and the newest one before it: the error rate is over a rolling minute.
    pub(crate) error_samples: std::collections::VecDeque<(i64, u64)>,
    /// Items overdue at the last check: (queue, due since).
    pub(crate) overdue: Vec<(&'static str, i64)>,
}

/// What `/healthz` reports of one component.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Component {
    pub(crate) ok: bool,
    pub(crate) detail: String,
}

impl Ops {
    fn elapsed_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    pub(crate) fn dispatcher_started(&self) {
        self.dispatcher_running.store(true, Ordering::SeqCst);
    }

    pub(crate) fn dispatcher_stopped(&self) {
        self.dispatcher_running.store(false, Ordering::SeqCst);
    }

    pub(crate) fn update_handled(&self) {
        self.last_update.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    pub(crate) fn worker_started(&self) {
        self.worker_beat();
        self.delivery_beat();
        self.worker_running.store(true, Ordering::SeqCst);
    }

    pub(crate) fn worker_stopped(&self) {
        self.worker_running.store(false, Ordering::SeqCst);
    }

    /// The payments/generation/refunds loop is going round.
    pub(crate) fn worker_beat(&self) {
        self.worker_beat.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    /// The delivery loop is going round.
    pub(crate) fn delivery_beat(&self) {
        self.delivery_beat
            .store(self.elapsed_ms(), Ordering::Relaxed);
    }

    /// A handler or a side-task step failed (counted for the error-rate alert).
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The poller: alive while the dispatcher's polling loop runs.
    pub(crate) fn poller(&self) -> Component {
        let last = self.last_update.load(Ordering::Relaxed);
        let seen = if last < 0 {
            "no update yet".to_owned()
        } else {
            format!("last update {} s ago", (self.elapsed_ms() - last) / 1000)
        };
        if self.dispatcher_running.load(Ordering::SeqCst) {
            Component {
                ok: true,
                detail: format!("polling; {seen}"),
            }
        } else {
            Component {
                ok: false,
                detail: format!("the dispatcher is not running; {seen}"),
            }
        }
    }

    /// The side task: both loops running and each gone round within `stale`.
    pub(crate) fn side_task(&self, stale: Duration) -> Component {
        if !self.worker_running.load(Ordering::SeqCst) {
            return Component {
                ok: false,
                detail: "stopped".into(),
            };
        }
        let now = self.elapsed_ms();
        let main = now - self.worker_beat.load(Ordering::Relaxed);
        let delivery = now - self.delivery_beat.load(Ordering::Relaxed);
        let limit = stale.as_millis() as i64;
        let detail = format!(
            "last round {} s ago, last delivery round {} s ago",
            main / 1000,
            delivery / 1000
        );
        Component {
            ok: main <= limit && delivery <= limit,
            detail,
        }
    }
}
