//! The local stand-in of Kie AI: an in-process axum server that answers
//! `createTask`, `recordInfo` and `credit` with the real shapes and the real
//! errors, walks each task through `waiting → queuing → generating →
//! success`, renders a real portrait from the task's reference photos, and
//! injects on demand every failure the real service shows.
//!
//! A task's state is computed from the time since its creation on the
//! stand-in's clock, which tests can move forward with
//! [`KieStandinHandle::advance_clock`] instead of sleeping. A task reaches
//! `success` only once its portrait is rendered.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use url::Url;

use super::render;
use super::types::{
    MODEL_NANO_BANANA_2, MODEL_NANO_BANANA_EDIT, MODEL_NANO_BANANA_PRO, MODEL_SEEDREAM_EDIT,
    TaskState, max_prompt_chars, max_references,
};
use crate::faults::{FaultDice, FaultPlan as RatePlan};

/// What one created task costs (failed tasks are refunded).
pub const CREDITS_PER_TASK: f64 = 5.0;
/// The largest reference photo the stand-in downloads.
pub const MAX_REFERENCE_BYTES: usize = 30 * 1024 * 1024;
/// Timeout of each reference photo download.
pub const REFERENCE_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30);

const ASPECT_RATIOS: &[&str] = &[
    "1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9",
];
const MODERATION_FAIL_CODE: &str = "422";
const MODERATION_FAIL_MSG: &str = "Invalid prompt: prompt contains prohibited content";
const TRANSIENT_FAIL_CODE: &str = "500";
const TRANSIENT_FAIL_MSG: &str = "internal error, please try again later.";

/// How to start the stand-in.
#[derive(Debug, Clone)]
pub struct KieStandinOptions {
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
    pub faults: crate::faults::FaultPlan,
}

#[derive(Debug, thiserror::Error)]
pub enum KieStandinError {
    #[error("binding the Kie stand-in to {address} failed: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("creating the Kie stand-in data directory {path} failed: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("building the Kie stand-in failed: {0}")]
    Setup(String),
}

/// A scripted misbehaviour of `createTask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateFault {
    /// HTTP 200, `code` 401 (bad key).
    BadKey401,
    /// HTTP 200, `code` 402 (credits insufficient).
    NoCredits402,
    /// HTTP 200, `code` 429 in the body.
    RateLimitedInBody429,
    /// A bare HTTP 429 with no body.
    RateLimitedHttp429,
    /// HTTP 200, `code` 455 (maintenance).
    Maintenance455,
    /// HTTP 200, `code` 500 (server error).
    ServerError500,
    /// HTTP 200, `code` 505 (feature disabled).
    FeatureDisabled505,
    /// Answer normally, but only after this delay (the task IS created, as
    /// it would be when a real answer is lost to a client timeout).
    SlowAnswer(Duration),
}

/// A scripted misbehaviour of a task. A task can carry one fault of each
/// kind: how it ends (`FailModeration`, `FailTransient`, `NeverFinish`), how
/// its result downloads (`SlowResult`, `BrokenResult`, `ExpiredResult`), and
/// `HiddenForPolls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFault {
    /// Ends in `fail` with failCode "422", "…prohibited content".
    FailModeration,
    /// Ends in `fail` with failCode "500", "internal error, please try again later.".
    FailTransient,
    /// Stays in `generating` forever.
    NeverFinish,
    /// The result URL answers only after this delay.
    SlowResult(Duration),
    /// The result URL answers HTTP 500.
    BrokenResult,
    /// The result URL answers HTTP 404, as an expired one does.
    ExpiredResult,
    /// The first N `recordInfo` polls answer `recordInfo is null`.
    HiddenForPolls(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultKind {
    Outcome,
    Result,
    Visibility,
}

impl TaskFault {
    fn kind(self) -> FaultKind {
        match self {
            Self::FailModeration | Self::FailTransient | Self::NeverFinish => FaultKind::Outcome,
            Self::SlowResult(_) | Self::BrokenResult | Self::ExpiredResult => FaultKind::Result,
            Self::HiddenForPolls(_) => FaultKind::Visibility,
        }
    }
}

#[derive(Debug, Default)]
struct FaultPlan {
    next_creates: VecDeque<CreateFault>,
    create_rates: Vec<(CreateFault, f64)>,
    next_outcomes: VecDeque<TaskFault>,
    next_results: VecDeque<TaskFault>,
    next_visibility: VecDeque<TaskFault>,
    task_rates: Vec<(TaskFault, f64)>,
    moderate_prompts_containing: Vec<String>,
}

/// The scripting API of the stand-in's failures: "the next N times" queues
/// and probability rates (for soak tests). Queued faults come first.
#[derive(Debug, Clone, Default)]
pub struct KieFaults {
    plan: Arc<Mutex<FaultPlan>>,
}

impl KieFaults {
    fn plan(&self) -> MutexGuard<'_, FaultPlan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `times` createTask calls that pass the rate limit answer with `fault`.
    pub fn next_creates(&self, fault: CreateFault, times: u32) {
        let mut plan = self.plan();
        plan.next_creates
            .extend(std::iter::repeat_n(fault, times as usize));
    }

    /// Every createTask call answers with `fault` with this probability
    /// (replaces the rate of the same fault; 0 removes it).
    pub fn create_rate(&self, fault: CreateFault, probability: f64) {
        let mut plan = self.plan();
        plan.create_rates.retain(|(existing, _)| {
            std::mem::discriminant(existing) != std::mem::discriminant(&fault)
        });
        if probability > 0.0 {
            plan.create_rates.push((fault, probability));
        }
    }

    /// The next `tasks` created tasks carry `fault`.
    pub fn next_tasks(&self, fault: TaskFault, tasks: u32) {
        let mut plan = self.plan();
        let queue = match fault.kind() {
            FaultKind::Outcome => &mut plan.next_outcomes,
            FaultKind::Result => &mut plan.next_results,
            FaultKind::Visibility => &mut plan.next_visibility,
        };
        queue.extend(std::iter::repeat_n(fault, tasks as usize));
    }

    /// Every created task carries `fault` with this probability (replaces
    /// the rate of the same fault; 0 removes it).
    pub fn task_rate(&self, fault: TaskFault, probability: f64) {
        let mut plan = self.plan();
        plan.task_rates.retain(|(existing, _)| {
            std::mem::discriminant(existing) != std::mem::discriminant(&fault)
        });
        if probability > 0.0 {
            plan.task_rates.push((fault, probability));
        }
    }

    /// The next task whose prompt contains `text` fails with moderation.
    pub fn moderate_next_prompt_containing(&self, text: impl Into<String>) {
        self.plan().moderate_prompts_containing.push(text.into());
    }

    /// Forgets every scripted fault and rate.
    pub fn clear(&self) {
        *self.plan() = FaultPlan::default();
    }

    fn take_create_fault(&self) -> Option<CreateFault> {
        let mut plan = self.plan();
        if let Some(fault) = plan.next_creates.pop_front() {
            return Some(fault);
        }
        plan.create_rates
            .iter()
            .find(|(_, probability)| rand::random::<f64>() < *probability)
            .map(|(fault, _)| *fault)
    }

    fn take_task_faults(&self, prompt: &str, rates: &RatePlan, dice: &FaultDice) -> TaskFaults {
        let mut plan = self.plan();
        let mut faults = TaskFaults {
            outcome: plan.next_outcomes.pop_front(),
            result: plan.next_results.pop_front(),
            visibility: plan.next_visibility.pop_front(),
        };
        if let Some(index) = plan
            .moderate_prompts_containing
            .iter()
            .position(|text| prompt.contains(text.as_str()))
        {
            plan.moderate_prompts_containing.remove(index);
            faults.outcome = Some(TaskFault::FailModeration);
        }
        for (fault, probability) in &plan.task_rates {
            let slot = match fault.kind() {
                FaultKind::Outcome => &mut faults.outcome,
                FaultKind::Result => &mut faults.result,
                FaultKind::Visibility => &mut faults.visibility,
            };
            if slot.is_none() && rand::random::<f64>() < *probability {
                *slot = Some(*fault);
            }
        }
        // The fault plan's rates, for what is still free.
        let kie = &rates.kie;
        if faults.outcome.is_none() {
            if dice.roll(kie.moderation) {
                dice.record("kie.moderation");
                faults.outcome = Some(TaskFault::FailModeration);
            } else if dice.roll(kie.transient_fail) {
                dice.record("kie.task_fail_500");
                faults.outcome = Some(TaskFault::FailTransient);
            }
        }
        if faults.result.is_none() && dice.roll(kie.slow_result) {
            dice.record("kie.slow_result");
            faults.result = Some(TaskFault::SlowResult(kie.slow_result_delay));
        }
        if faults.visibility.is_none() && dice.roll(kie.record_info_null) {
            dice.record("kie.record_info_null");
            faults.visibility = Some(TaskFault::HiddenForPolls(kie.record_info_null_polls));
        }
        faults
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct TaskFaults {
    outcome: Option<TaskFault>,
    result: Option<TaskFault>,
    visibility: Option<TaskFault>,
}

#[derive(Debug, Clone)]
enum RenderState {
    Pending,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Waiting,
    Queuing,
    Generating,
    Success,
    Fail { code: String, msg: String },
}

impl Phase {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Queuing => "queuing",
            Self::Generating => "generating",
            Self::Success => "success",
            Self::Fail { .. } => "fail",
        }
    }
}

#[derive(Debug, Clone)]
struct Settled {
    phase: Phase,
    complete_time_ms: i64,
    cost_time_ms: u64,
}

#[derive(Debug)]
struct Task {
    model: String,
    /// The createTask body as received, as a JSON string (like `param`).
    param: String,
    created_at: Instant,
    create_time_ms: i64,
    latency: Duration,
    faults: TaskFaults,
    hidden_polls_left: u32,
    render: RenderState,
    settled: Option<Settled>,
}

impl Task {
    /// Where the task is at `now`; settles it (and refunds a failure) the
    /// first time it is seen final.
    fn observe(&mut self, now: Instant, now_ms: i64, credits: &mut f64) -> Phase {
        if let Some(settled) = &self.settled {
            return settled.phase.clone();
        }
        let elapsed = now.saturating_duration_since(self.created_at);
        let phase = if elapsed < self.latency / 3 {
            Phase::Waiting
        } else if elapsed < self.latency * 2 / 3 {
            Phase::Queuing
        } else if elapsed < self.latency {
            Phase::Generating
        } else {
            match (self.faults.outcome, &self.render) {
                (Some(TaskFault::NeverFinish), _) => Phase::Generating,
                (Some(TaskFault::FailModeration), _) => Phase::Fail {
                    code: MODERATION_FAIL_CODE.to_owned(),
                    msg: MODERATION_FAIL_MSG.to_owned(),
                },
                (Some(TaskFault::FailTransient), _) | (_, RenderState::Failed) => Phase::Fail {
                    code: TRANSIENT_FAIL_CODE.to_owned(),
                    msg: TRANSIENT_FAIL_MSG.to_owned(),
                },
                (_, RenderState::Done) => Phase::Success,
                (_, RenderState::Pending) => Phase::Generating,
            }
        };
        if matches!(phase, Phase::Success | Phase::Fail { .. }) {
            if matches!(phase, Phase::Fail { .. }) {
                *credits += CREDITS_PER_TASK;
            }
            self.settled = Some(Settled {
                phase: phase.clone(),
                complete_time_ms: now_ms,
                cost_time_ms: elapsed.as_millis() as u64,
            });
        }
        phase
    }
}

/// Everything that changes, under one lock (never held across an await).
#[derive(Debug)]
struct Book {
    latency: Duration,
    /// Each task's latency is drawn from `latency..=latency_max`.
    latency_max: Duration,
    clock_offset: Duration,
    credits: f64,
    create_limit_per_10s: u32,
    recent_creates: VecDeque<Instant>,
    tasks: HashMap<String, Task>,
    create_requests: Vec<Value>,
    created_count: usize,
    /// createTask calls still to refuse with 429 in a burst of the fault plan.
    burst_left: u32,
}

impl Book {
    fn now(&self) -> Instant {
        Instant::now() + self.clock_offset
    }

    fn now_ms(&self) -> i64 {
        let wall = SystemTime::now() + self.clock_offset;
        wall.duration_since(UNIX_EPOCH)
            .map(|since| since.as_millis() as i64)
            .unwrap_or(0)
    }
}

struct Shared {
    api_key: String,
    data_dir: PathBuf,
    public_base: Url,
    http: reqwest::Client,
    faults: KieFaults,
    rates: RatePlan,
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
pub struct KieStandinTaskCounts {
    pub waiting: usize,
    pub queuing: usize,
    pub generating: usize,
    pub success: usize,
    pub fail: usize,
}

/// The running stand-in. Dropping it stops the server.
pub struct KieStandin;

impl KieStandin {
    /// Binds, starts serving in the background, and returns the handle.
    pub async fn start(options: KieStandinOptions) -> Result<KieStandinHandle, KieStandinError> {
        tokio::fs::create_dir_all(&options.data_dir)
            .await
            .map_err(|source| KieStandinError::DataDir {
                path: options.data_dir.clone(),
                source,
            })?;
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .map_err(|source| KieStandinError::Bind {
                address: options.bind,
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| KieStandinError::Bind {
                address: options.bind,
                source,
            })?;
        let base_url = Url::parse(&format!("http://{local_addr}"))
            .map_err(|error| KieStandinError::Setup(error.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(REFERENCE_DOWNLOAD_TIMEOUT)
            .user_agent(concat!("kie-standin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| KieStandinError::Setup(error.to_string()))?;
        let shared = Arc::new(Shared {
            api_key: options.api_key,
            data_dir: options.data_dir,
            public_base: options.public_base.unwrap_or_else(|| base_url.clone()),
            http,
            faults: KieFaults::default(),
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
        let router = Router::new()
            .route("/api/v1/jobs/createTask", post(create_task))
            .route("/api/v1/jobs/recordInfo", get(record_info))
            .route("/api/v1/chat/credit", get(credit))
            .route("/results/{file}", get(result_file))
            .with_state(shared.clone());
        let (shutdown_sender, shutdown_receiver) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serving = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = shutdown_receiver.await;
            });
            if let Err(error) = serving.await {
                tracing::error!(%error, "kie stand-in server stopped");
            }
        });
        tracing::info!(%base_url, "kie stand-in listening");
        Ok(KieStandinHandle {
            shared,
            base_url,
            local_addr,
            shutdown: Some(shutdown_sender),
            server: Some(server),
        })
    }
}

/// Controls and inspects a running stand-in.
pub struct KieStandinHandle {
    shared: Arc<Shared>,
    base_url: Url,
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl KieStandinHandle {
    /// The URL to give the client as `base_url`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The fault scripting API.
    pub fn faults(&self) -> &KieFaults {
        &self.shared.faults
    }

    /// The latency of tasks created from now on.
    pub fn set_latency(&self, latency: Duration) {
        let mut book = self.shared.book();
        book.latency = latency;
        book.latency_max = latency;
    }

    /// Tasks created from now on take a latency drawn uniformly from
    /// `min..=max` (real Kie: 100–160 s a portrait).
    pub fn set_latency_range(&self, min: Duration, max: Duration) {
        let mut book = self.shared.book();
        book.latency = min;
        book.latency_max = max.max(min);
    }

    /// The latency a task was given at creation (creation to `success`).
    pub fn task_latency(&self, task_id: &str) -> Option<Duration> {
        self.shared
            .book()
            .tasks
            .get(task_id)
            .map(|task| task.latency)
    }

    /// Moves the stand-in's clock forward: tasks progress and the rate-limit
    /// window slides as if `by` had passed.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.book().clock_offset += by;
    }

    pub fn credits(&self) -> f64 {
        self.shared.book().credits
    }

    pub fn set_credits(&self, credits: f64) {
        self.shared.book().credits = credits;
    }

    pub fn set_create_limit_per_10s(&self, limit: u32) {
        self.shared.book().create_limit_per_10s = limit;
    }

    /// Tasks created so far.
    pub fn created_count(&self) -> usize {
        self.shared.book().created_count
    }

    /// Every createTask body that passed authentication and the rate limit,
    /// in order (valid or not).
    pub fn create_requests(&self) -> Vec<Value> {
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
    pub fn task_counts(&self) -> KieStandinTaskCounts {
        let mut book = self.shared.book();
        let (now, now_ms) = (book.now(), book.now_ms());
        let Book { tasks, credits, .. } = &mut *book;
        let mut counts = KieStandinTaskCounts::default();
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

    /// Where the portrait of a task is (or will be) saved.
    pub fn result_path(&self, task_id: &str) -> PathBuf {
        self.shared.result_path(task_id)
    }

    /// Stops the server (waiting at most 2 s for requests in flight) and
    /// the rendering jobs.
    pub async fn shutdown(mut self) {
        self.signal_stop();
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }

    fn signal_stop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        self.shared
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }
}

impl Drop for KieStandinHandle {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// A Kie envelope with HTTP 200.
fn envelope(code: i64, msg: &str, data: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({ "code": code, "msg": msg, "data": data })),
    )
        .into_response()
}

/// The CDN's refusal of a request without a User-Agent, then the key check.
/// Returns the refusal, if any.
fn refuse_caller(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let has_user_agent = headers
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| !value.trim().is_empty());
    if !has_user_agent {
        return Some((StatusCode::FORBIDDEN, "403 Forbidden").into_response());
    }
    let expected = format!("Bearer {}", shared.api_key);
    let authorised = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == expected);
    if !authorised {
        return Some(envelope(
            401,
            "You do not have access permissions",
            Value::Null,
        ));
    }
    None
}

async fn create_task(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refuse_caller(&shared, &headers) {
        return refusal;
    }
    {
        let mut book = shared.book();
        let now = book.now();
        let window_start = now.checked_sub(Duration::from_secs(10));
        while book
            .recent_creates
            .front()
            .is_some_and(|at| window_start.is_some_and(|start| *at <= start))
        {
            book.recent_creates.pop_front();
        }
        if book.recent_creates.len() >= book.create_limit_per_10s as usize {
            tracing::info!("kie stand-in: createTask over the rate limit, dropped");
            return (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "code": 429,
                    "msg": "Too many requests: at most 20 new tasks per 10 seconds.",
                    "data": null,
                })),
            )
                .into_response();
        }
        book.recent_creates.push_back(now);
    }

    match shared.faults.take_create_fault() {
        Some(CreateFault::BadKey401) => {
            return envelope(401, "You do not have access permissions", Value::Null);
        }
        Some(CreateFault::NoCredits402) => {
            return envelope(
                402,
                "The current credits are insufficient. Please top up.",
                Value::Null,
            );
        }
        Some(CreateFault::RateLimitedInBody429) => {
            return envelope(
                429,
                "The request rate is too high, please try again later.",
                Value::Null,
            );
        }
        Some(CreateFault::RateLimitedHttp429) => {
            return StatusCode::TOO_MANY_REQUESTS.into_response();
        }
        Some(CreateFault::Maintenance455) => {
            return envelope(
                455,
                "Service unavailable: the system is under maintenance.",
                Value::Null,
            );
        }
        Some(CreateFault::ServerError500) => {
            return envelope(500, "Server error, please try again later.", Value::Null);
        }
        Some(CreateFault::FeatureDisabled505) => {
            return envelope(505, "The feature is disabled.", Value::Null);
        }
        Some(CreateFault::SlowAnswer(delay)) => tokio::time::sleep(delay).await,
        None => {
            if let Some(refusal) = rated_create_fault(&shared) {
                return refusal;
            }
        }
    }

    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return envelope(422, &format!("Invalid JSON body: {error}"), Value::Null),
    };
    shared.book().create_requests.push(request.clone());
    let valid = match validate_create(&request) {
        Ok(valid) => valid,
        Err(message) => {
            tracing::info!(%message, "kie stand-in: createTask rejected");
            return envelope(422, &message, Value::Null);
        }
    };

    let task_id = hex::encode(rand::random::<[u8; 16]>());
    let faults = shared
        .faults
        .take_task_faults(&valid.prompt, &shared.rates, &shared.dice);
    {
        let mut book = shared.book();
        if book.credits < CREDITS_PER_TASK {
            return envelope(
                402,
                "The current credits are insufficient. Please top up.",
                Value::Null,
            );
        }
        book.credits -= CREDITS_PER_TASK;
        let task = Task {
            model: valid.model.clone(),
            param: request.to_string(),
            created_at: book.now(),
            create_time_ms: book.now_ms(),
            latency: if book.latency_max > book.latency {
                rand::random_range(book.latency..=book.latency_max)
            } else {
                book.latency
            },
            faults,
            hidden_polls_left: match faults.visibility {
                Some(TaskFault::HiddenForPolls(polls)) => polls,
                _ => 0,
            },
            render: RenderState::Pending,
            settled: None,
        };
        book.tasks.insert(task_id.clone(), task);
        book.created_count += 1;
    }
    let fails_anyway = matches!(
        faults.outcome,
        Some(TaskFault::FailModeration | TaskFault::FailTransient)
    );
    if !fails_anyway {
        let job = produce_result(
            shared.clone(),
            task_id.clone(),
            valid.reference_urls,
            valid.prompt,
        );
        let mut jobs = shared.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        while jobs.try_join_next().is_some() {}
        jobs.spawn(job);
    }
    tracing::info!(%task_id, model = %valid.model, "kie stand-in: task created");
    envelope(200, "success", json!({ "taskId": task_id }))
}

/// The fault plan's createTask faults: a 429 burst, the CDN's 502, or
/// `code` 500.
fn rated_create_fault(shared: &Shared) -> Option<Response> {
    let (kie, dice) = (&shared.rates.kie, &shared.dice);
    let in_burst = {
        let mut book = shared.book();
        if book.burst_left == 0 && dice.roll(kie.rate_limit_burst) {
            book.burst_left = kie.rate_limit_burst_len.max(1);
        }
        let in_burst = book.burst_left > 0;
        book.burst_left = book.burst_left.saturating_sub(1);
        in_burst
    };
    if in_burst {
        dice.record("kie.rate_limit_429");
        return Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "code": 429,
                    "msg": "The request rate is too high, please try again later.",
                    "data": null,
                })),
            )
                .into_response(),
        );
    }
    if dice.roll(kie.http_5xx) {
        dice.record("kie.http_502");
        return Some(bad_gateway());
    }
    if dice.roll(kie.create_server_error) {
        dice.record("kie.code_500");
        return Some(envelope(
            500,
            "Server error, please try again later.",
            Value::Null,
        ));
    }
    None
}

/// The CDN's answer when Kie's origin is down: HTTP 502 with an HTML page.
fn bad_gateway() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [(CONTENT_TYPE, "text/html")],
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
    )
        .into_response()
}

/// The parts of a valid createTask request the stand-in uses.
struct ValidCreate {
    model: String,
    prompt: String,
    reference_urls: Vec<Url>,
}

/// Checks a createTask body as the real models do; the error is the `msg`
/// of a code 422 answer.
fn validate_create(request: &Value) -> Result<ValidCreate, String> {
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .filter(|model| !model.is_empty())
        .ok_or("model is required")?;
    let (Some(max_refs), Some(max_prompt)) = (max_references(model), max_prompt_chars(model))
    else {
        return Err(format!("model {model} is not supported"));
    };
    let input = request
        .get("input")
        .and_then(Value::as_object)
        .ok_or("input is required")?;
    let text = |field: &str| -> Result<&str, String> {
        input
            .get(field)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .ok_or(format!("input.{field} is required"))
    };
    let one_of = |field: &str, allowed: &[&str]| -> Result<(), String> {
        let value = text(field)?;
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(format!(
                "input.{field} must be one of {}, not {value}",
                allowed.join(", ")
            ))
        }
    };

    let prompt = text("prompt")?;
    if prompt.chars().count() > max_prompt {
        return Err(format!(
            "input.prompt must be at most {max_prompt} characters"
        ));
    }
    let aspect_ratios_with_auto: Vec<&str> = ASPECT_RATIOS
        .iter()
        .copied()
        .chain(std::iter::once("auto"))
        .collect();
    let reference_field = match model {
        MODEL_NANO_BANANA_EDIT => {
            one_of("output_format", &["png", "jpeg"])?;
            one_of("image_size", &aspect_ratios_with_auto)?;
            "image_urls"
        }
        MODEL_NANO_BANANA_PRO | MODEL_NANO_BANANA_2 => {
            one_of("aspect_ratio", &aspect_ratios_with_auto)?;
            one_of("resolution", &["1K", "2K", "4K"])?;
            one_of("output_format", &["png", "jpg"])?;
            "image_input"
        }
        MODEL_SEEDREAM_EDIT => {
            one_of("aspect_ratio", ASPECT_RATIOS)?;
            one_of("quality", &["basic", "high"])?;
            "image_urls"
        }
        _ => return Err(format!("model {model} is not supported")),
    };
    let references = input
        .get(reference_field)
        .and_then(Value::as_array)
        .filter(|references| !references.is_empty())
        .ok_or(format!("input.{reference_field} is required"))?;
    if references.len() > max_refs {
        return Err(format!(
            "input.{reference_field} takes at most {max_refs} images, got {}",
            references.len()
        ));
    }
    let mut reference_urls = Vec::with_capacity(references.len());
    for (index, reference) in references.iter().enumerate() {
        let url = reference
            .as_str()
            .and_then(|text| Url::parse(text).ok())
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or(format!(
                "input.{reference_field}[{index}] is not a valid URL"
            ))?;
        reference_urls.push(url);
    }
    Ok(ValidCreate {
        model: model.to_owned(),
        prompt: prompt.to_owned(),
        reference_urls,
    })
}

/// Downloads the references, renders the portrait off the async threads,
/// saves it, and records the outcome on the task.
async fn produce_result(
    shared: Arc<Shared>,
    task_id: String,
    references: Vec<Url>,
    prompt: String,
) {
    let outcome = render_task(&shared, &task_id, &references, prompt).await;
    let render = match outcome {
        Ok(()) => {
            tracing::debug!(%task_id, "kie stand-in: portrait rendered");
            RenderState::Done
        }
        Err(reason) => {
            tracing::warn!(%task_id, %reason, "kie stand-in: task fails, the portrait could not be made");
            RenderState::Failed
        }
    };
    if let Some(task) = shared.book().tasks.get_mut(&task_id) {
        task.render = render;
    }
}

async fn render_task(
    shared: &Shared,
    task_id: &str,
    references: &[Url],
    prompt: String,
) -> Result<(), String> {
    let downloads = references
        .iter()
        .map(|url| download_reference(&shared.http, url));
    let photos = futures::future::try_join_all(downloads).await?;
    let png = tokio::task::spawn_blocking(move || render::render_portrait_png(&photos, &prompt))
        .await
        .map_err(|error| format!("rendering job failed: {error}"))?
        .map_err(|error| error.to_string())?;
    let path = shared.result_path(task_id);
    tokio::fs::write(&path, png)
        .await
        .map_err(|error| format!("saving {} failed: {error}", path.display()))
}

/// Downloads one reference photo and checks it is an image Kie takes.
async fn download_reference(http: &reqwest::Client, url: &Url) -> Result<Vec<u8>, String> {
    let shown = url_without_query(url);
    let response = http
        .get(url.clone())
        .send()
        .await
        .map_err(|error| format!("fetching reference {shown} failed: {error}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "fetching reference {shown} answered HTTP {}",
            response.status()
        ));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| format!("reading reference {shown} failed: {error}"))?;
        if body.len() + chunk.len() > MAX_REFERENCE_BYTES {
            return Err(format!(
                "reference {shown} is larger than {MAX_REFERENCE_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    match image::guess_format(&body) {
        Ok(image::ImageFormat::Jpeg | image::ImageFormat::Png | image::ImageFormat::WebP) => {
            Ok(body)
        }
        _ => Err(format!(
            "reference {shown} is not a JPEG, PNG or WebP image"
        )),
    }
}

/// A URL for logs: presigned query strings carry signatures.
fn url_without_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

async fn record_info(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = refuse_caller(&shared, &headers) {
        return refusal;
    }
    let Some(task_id) = query.get("taskId").filter(|id| !id.is_empty()) else {
        return envelope(422, "taskId is required", Value::Null);
    };
    if shared.dice.roll(shared.rates.kie.http_5xx) {
        shared.dice.record("kie.http_502");
        return bad_gateway();
    }
    let mut book = shared.book();
    let (now, now_ms) = (book.now(), book.now_ms());
    let Book { tasks, credits, .. } = &mut *book;
    let Some(task) = tasks.get_mut(task_id) else {
        return envelope(422, "recordInfo is null", Value::Null);
    };
    if task.hidden_polls_left > 0 {
        task.hidden_polls_left -= 1;
        return envelope(422, "recordInfo is null", Value::Null);
    }
    let phase = task.observe(now, now_ms, credits);
    let (fail_code, fail_msg) = match &phase {
        Phase::Fail { code, msg } => (code.clone(), msg.clone()),
        _ => (String::new(), String::new()),
    };
    let result_json = if phase == Phase::Success {
        json!({ "resultUrls": [shared.result_url(task_id)] }).to_string()
    } else {
        String::new()
    };
    let settled = task.settled.as_ref();
    let data = json!({
        "taskId": task_id,
        "model": task.model,
        "state": phase.as_str(),
        "param": task.param,
        "resultJson": result_json,
        "failCode": fail_code,
        "failMsg": fail_msg,
        "costTime": settled.map(|settled| settled.cost_time_ms),
        "completeTime": settled.map(|settled| settled.complete_time_ms),
        "createTime": task.create_time_ms,
        "updateTime": settled.map_or(now_ms, |settled| settled.complete_time_ms),
    });
    envelope(200, "success", data)
}

async fn credit(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refuse_caller(&shared, &headers) {
        return refusal;
    }
    let credits = shared.book().credits;
    let data = if credits.fract() == 0.0 && credits.abs() < 1e15 {
        json!(credits as i64)
    } else {
        json!(credits)
    };
    envelope(200, "success", data)
}

/// Serves a rendered portrait, with the scripted download faults. Like the
/// real result host, it needs no key.
async fn result_file(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    let Some(task_id) = file.strip_suffix(".png") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let result_fault = {
        let mut book = shared.book();
        let (now, now_ms) = (book.now(), book.now_ms());
        let Book { tasks, credits, .. } = &mut *book;
        let Some(task) = tasks.get_mut(task_id) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        if task.observe(now, now_ms, credits) != Phase::Success {
            return StatusCode::NOT_FOUND.into_response();
        }
        task.faults.result
    };
    match result_fault {
        Some(TaskFault::BrokenResult) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error",
            )
                .into_response();
        }
        Some(TaskFault::ExpiredResult) => {
            return (StatusCode::NOT_FOUND, "404 Not Found").into_response();
        }
        Some(TaskFault::SlowResult(delay)) => tokio::time::sleep(delay).await,
        _ => {}
    }
    match tokio::fs::read(shared.result_path(task_id)).await {
        Ok(png) => ([(CONTENT_TYPE, "image/png")], png).into_response(),
        Err(error) => {
            tracing::warn!(%task_id, %error, "kie stand-in: rendered portrait missing");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}
