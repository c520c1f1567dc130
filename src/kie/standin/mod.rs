//! The local stand-in of Kie AI: an in-process axum server that answers
//! `createTask`, `recordInfo` and `credit` with the real shapes and the real
//! errors, walks each task through `waiting → queuing → generating →
//! success`, renders a real portrait from the task's reference photos, and
//! injects on demand every failure the real service shows.
//!
//! A task's state is computed from the time since its creation on the
//! stand-in's clock, which tests can move forward with
//! [`Handle::advance_clock`] instead of sleeping. A task reaches
//! `success` only once its portrait is rendered.
//!
//! Split by concern: `api` (the HTTP API), `tasks` (the task model and the
//! book), `results` (reference downloads and rendering), `faults` (the
//! scripted faults and how a task draws its faults).

mod api;
mod faults;
mod results;
mod tasks;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::task::JoinSet;
use url::Url;

#[cfg(feature = "testkit")]
use super::types::TaskState;
use crate::faults::{FaultDice, FaultPlan, Script};
use crate::standins::{BindError, Bound, Server};
pub use faults::{CreateFault, Fault, TaskFault};
use tasks::Book;
#[cfg(feature = "testkit")]
use tasks::Phase;

/// What one created task costs (failed tasks are refunded).
pub const CREDITS_PER_TASK: f64 = 5.0;
/// The largest reference photo the stand-in downloads.
pub(crate) const MAX_REFERENCE_BYTES: usize = 30 * 1024 * 1024;
/// Timeout of each reference photo download.
pub(crate) const REFERENCE_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30);

const ASPECT_RATIOS: &[&str] = &[
    "1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9",
];
const MODERATION_FAIL_CODE: &str = "422";
const MODERATION_FAIL_MSG: &str = "Invalid prompt: prompt contains prohibited content";
const TRANSIENT_FAIL_CODE: &str = "500";
const TRANSIENT_FAIL_MSG: &str = "internal error, please try again later.";

/// How to start the stand-in (`kie::standin::start`).
#[derive(Debug, Clone)]
pub struct Options {
    /// `127.0.0.1:0` for tests.
    pub bind: SocketAddr,
    /// The only key accepted as `Authorization: Bearer <key>`.
    pub api_key: String,
    /// Time from creation to `success` of each task (a third of it in each
    /// of `waiting`, `queuing`, `generating`).
    pub latency: Duration,
    /// Where rendered portraits are kept.
    pub data_dir: PathBuf,
    /// The base of result URLs; the stand-in's own address when `None`.
    pub public_base: Option<Url>,
    pub initial_credits: f64,
    /// At most this many createTask calls per rolling 10 seconds (Kie: 20).
    pub create_limit_per_10s: u32,
    /// Faults played at a rate on top of the scripted ones
    /// (`FaultPlan::none()` for none).
    pub faults: FaultPlan,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the Kie stand-in {0}")]
    Bind(#[from] BindError),
    #[error("creating the Kie stand-in data directory {path} failed: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("building the Kie stand-in failed: {0}")]
    Setup(String),
}

struct Shared {
    api_key: String,
    data_dir: PathBuf,
    public_base: Url,
    http: reqwest::Client,
    /// The faults a test scripted (`Handle::script`).
    script: Script<Fault>,
    rates: FaultPlan,
    dice: FaultDice,
    book: Mutex<Book>,
    jobs: Mutex<JoinSet<()>>,
}

impl Shared {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn result_path(&self, task_id: &str) -> PathBuf {
        self.data_dir.join(format!("{task_id}.png"))
    }

    fn result_url(&self, task_id: &str) -> String {
        format!(
            "{}/results/{task_id}.png",
            self.public_base.as_str().trim_end_matches('/')
        )
    }
}

/// How many tasks are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    pub waiting: usize,
    pub(crate) queuing: usize,
    pub generating: usize,
    pub(crate) success: usize,
    pub fail: usize,
}

/// Binds, starts serving in the background, and returns the handle.
pub async fn start(options: Options) -> Result<Handle, Error> {
    tokio::fs::create_dir_all(&options.data_dir)
        .await
        .map_err(|source| Error::DataDir {
            path: options.data_dir.clone(),
            source,
        })?;
    let bound = Bound::bind(options.bind).await?;
    let base_url = bound.base_url.clone();
    let http = reqwest::Client::builder()
        .timeout(REFERENCE_DOWNLOAD_TIMEOUT)
        .user_agent(concat!("kie-standin/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| Error::Setup(error.to_string()))?;
    let shared = Arc::new(Shared {
        api_key: options.api_key,
        data_dir: options.data_dir,
        public_base: options.public_base.unwrap_or_else(|| base_url.clone()),
        http,
        script: Script::default(),
        dice: options.faults.dice("kie"),
        rates: options.faults,
        book: Mutex::new(Book {
            latency: options.latency,
            latency_max: options.latency,
            clock_offset: Duration::ZERO,
            credits: options.initial_credits,
            create_limit_per_10s: options.create_limit_per_10s,
            recent_creates: VecDeque::new(),
            tasks: HashMap::new(),
            create_requests: Vec::new(),
            created_count: 0,
            burst_left: 0,
        }),
        jobs: Mutex::new(JoinSet::new()),
    });
    let server = bound.serve(api::routes(shared.clone()), "Kie");
    Ok(Handle {
        shared,
        base_url,
        server,
    })
}

/// Controls and inspects a running stand-in. Dropping it stops the server.
pub struct Handle {
    shared: Arc<Shared>,
    base_url: Url,
    server: Server,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("kie::standin::Handle")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// The URL to give the client as `base_url`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// Tasks created from now on take a latency drawn uniformly from
    /// `min..=max` (real Kie: 100–160 s a portrait).
    pub(crate) fn set_latency_range(&self, min: Duration, max: Duration) {
        let mut book = self.shared.book();
        book.latency = min;
        book.latency_max = max.max(min);
    }

    /// The latency a task was given at creation (creation to `success`).
    pub(crate) fn task_latency(&self, task_id: &str) -> Option<Duration> {
        self.shared
            .book()
            .tasks
            .get(task_id)
            .map(|task| task.latency)
    }

    /// Stops the server (waiting at most 2 s for requests in flight) and
    /// the rendering jobs.
    pub async fn shutdown(&self) {
        self.abort_jobs();
        self.server.shutdown(Duration::from_secs(2)).await;
    }

    fn abort_jobs(&self) {
        self.shared
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }
}

/// The scripted faults and the peeks into state: for tests only.
#[cfg(feature = "testkit")]
impl Handle {
    /// The next `times` calls `fault` fits play it: a createTask call that
    /// passes the rate limit (`Fault::Create`), a created task (`Task`: one
    /// of each kind per task), a task whose prompt contains the text
    /// (`ModeratePromptContaining`).
    pub fn script(&self, fault: Fault, times: u32) {
        self.shared.script.push(fault, times);
    }

    /// Every call `fault` fits plays it with `probability` when nothing
    /// scripted fits (replaces the rate of the same kind; 0 removes it).
    pub fn script_rate(&self, fault: Fault, probability: f64) {
        self.shared
            .script
            .set_rate(fault, probability, Fault::same_kind);
    }

    /// Forgets every scripted fault and rate.
    pub fn clear_script(&self) {
        self.shared.script.clear();
    }

    /// The latency of tasks created from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.set_latency_range(latency, latency);
    }

    /// Moves the stand-in's clock forward: tasks progress and the rate-limit
    /// window slides as if `by` had passed.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.book().clock_offset += by;
    }

    pub fn credits(&self) -> f64 {
        self.shared.book().credits
    }

    /// Tasks created so far.
    pub fn created_count(&self) -> usize {
        self.shared.book().created_count
    }

    /// Every createTask body that passed authentication and the rate limit,
    /// in order (valid or not).
    pub fn create_requests(&self) -> Vec<serde_json::Value> {
        self.shared.book().create_requests.clone()
    }

    /// The state of one task now, as `recordInfo` would say (ignoring
    /// `HiddenForPolls`).
    pub fn task_state(&self, task_id: &str) -> Option<TaskState> {
        let mut book = self.shared.book();
        let (now, now_ms) = (book.now(), book.now_ms());
        let Book { tasks, credits, .. } = &mut *book;
        let task = tasks.get_mut(task_id)?;
        Some(TaskState::parse(
            task.observe(now, now_ms, credits).as_str(),
        ))
    }

    /// How many tasks are in each state now.
    pub fn task_counts(&self) -> TaskCounts {
        let mut book = self.shared.book();
        let (now, now_ms) = (book.now(), book.now_ms());
        let Book { tasks, credits, .. } = &mut *book;
        let mut counts = TaskCounts::default();
        for task in tasks.values_mut() {
            match task.observe(now, now_ms, credits) {
                Phase::Waiting => counts.waiting += 1,
                Phase::Queuing => counts.queuing += 1,
                Phase::Generating => counts.generating += 1,
                Phase::Success => counts.success += 1,
                Phase::Fail { .. } => counts.fail += 1,
            }
        }
        counts
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.abort_jobs();
        self.server.signal_stop();
    }
}
