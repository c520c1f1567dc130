//! The fault plan: how often each stand-in misbehaves on its own, the way
//! the real service does on a bad day.
//!
//! One [`FaultPlan`] is given to every stand-in (`faults` in the `Options`
//! of `kie::standin`, `tbank::standin` and `telegram::standin`, through
//! `standins::StandinsOptions::faults`, and the S3 fault layer of the
//! tests). Every fault answers with the real service's shapes (see
//! each stand-in). The dice are seeded: a plan with the same seed rolls the
//! same sequence per service (the order of requests still varies with
//! timing). Every fault played is counted in the plan's [`FaultTally`], which
//! all clones of a plan share — the soak prints it.
//!
//! `FaultPlan::none()` (the default) injects nothing. On top of the plan,
//! a test scripts faults on a stand-in's handle (feature `testkit`), the same
//! way for all three: `handle.script(Fault, times)` plays a fault of that
//! stand-in's `Fault` enum on the next `times` calls it fits,
//! `handle.script_rate(Fault, p)` on every call with probability `p` (Kie and
//! T-Bank), `handle.clear_script()` (Kie and T-Bank) forgets them; scripted faults come before
//! the plan's rates. They are kept in a [`Script`]; the faults played are
//! counted in the plan's tally. `FaultPlan::realistic()` is a bad day, raised so that a short soak
//! meets every kind a few times; `[sandbox] faults = "realistic"` gives it
//! to the sandbox's stand-ins.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Per-call or per-task probabilities of each fault, for every stand-in.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// Seeds every stand-in's dice (salted with the service's name).
    pub(crate) seed: u64,
    pub kie: KieFaultRates,
    pub telegram: TelegramFaultRates,
    pub tbank: TbankFaultRates,
    pub s3: S3FaultRates,
    tally: FaultTally,
}

/// Kie AI. Call rates are per `createTask` / `recordInfo`; task rates per
/// created task.
#[derive(Debug, Clone, Default)]
pub struct KieFaultRates {
    /// createTask answers HTTP 200 with `code` 500 ("Server error…").
    pub create_server_error: f64,
    /// createTask or recordInfo answers HTTP 502 with the CDN's HTML page.
    pub http_5xx: f64,
    /// createTask starts a burst of 429s: this call and the next
    /// `rate_limit_burst_len - 1` answer HTTP 429 `code` 429.
    pub rate_limit_burst: f64,
    pub rate_limit_burst_len: u32,
    /// A task ends in `fail` with the moderation failCode "422".
    pub moderation: f64,
    /// A task ends in `fail` with failCode "500" ("internal error…").
    pub transient_fail: f64,
    /// A task's first `record_info_null_polls` polls answer
    /// `{"code":422,"msg":"recordInfo is null","data":null}`.
    pub record_info_null: f64,
    pub record_info_null_polls: u32,
    /// A task's result image answers only after `slow_result_delay`.
    pub slow_result: f64,
    pub slow_result_delay: Duration,
}

/// Telegram Bot API. Rates are per request.
#[derive(Debug, Clone, Default)]
pub struct TelegramFaultRates {
    /// A send starts a 429 storm: every send for `storm_secs` answers
    /// `ok:false, error_code:429, parameters.retry_after` (the seconds left).
    pub storm: f64,
    pub storm_secs: u64,
    /// A send (sendMessage, sendPhoto, sendMediaGroup, sendDocument,
    /// editMessage*, answerCallbackQuery…) answers 502 Bad Gateway or
    /// `error_code` 500, and sends nothing.
    pub send_5xx: f64,
    /// getUpdates answers 502 Bad Gateway or `error_code` 500 (the updates
    /// stay for the next call).
    pub get_updates_5xx: f64,
    /// A message send (sendMessage, sendPhoto, sendMediaGroup, sendDocument)
    /// takes effect, but its answer is held for `lost_answer_hold` — longer
    /// than the bot's `send_timeout_secs` — so the bot never learns that it
    /// was sent.
    pub lost_answer: f64,
    pub lost_answer_hold: Duration,
}

/// T-Bank. Rates are per call of Init, GetState and Cancel.
#[derive(Debug, Clone, Default)]
pub struct TbankFaultRates {
    /// The call is held for `timeout_hold` (longer than the client's
    /// timeout), then answered 504; half of them take effect first (only
    /// the answer is lost).
    pub timeout: f64,
    pub timeout_hold: Duration,
    /// HTTP 200 with `Success: false` and T-Bank's internal-error codes
    /// (9999 "Внутренняя ошибка системы", 3 "Внутренняя ошибка").
    pub error: f64,
    /// HTTP 503 with an HTML page.
    pub http_5xx: f64,
}

/// The object store (S3 / R2). Rate per request.
#[derive(Debug, Clone, Default)]
pub struct S3FaultRates {
    /// HTTP 500 `InternalError` or 503 `SlowDown`, with the S3 XML error body.
    pub error: f64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::none()
    }
}

impl FaultPlan {
    /// No fault at all.
    pub fn none() -> Self {
        FaultPlan {
            seed: 0,
            kie: KieFaultRates::default(),
            telegram: TelegramFaultRates::default(),
            tbank: TbankFaultRates::default(),
            s3: S3FaultRates::default(),
            tally: FaultTally::default(),
        }
    }

    /// A bad day of every service, raised so that a short soak meets each
    /// fault several times: a few per cent of calls fail, 429 storms and
    /// bursts are short, timeouts are held past the clients' timeouts.
    pub fn realistic() -> Self {
        FaultPlan {
            seed: 0x5eed_fa17,
            kie: KieFaultRates {
                create_server_error: 0.04,
                http_5xx: 0.03,
                rate_limit_burst: 0.03,
                rate_limit_burst_len: 3,
                moderation: 0.04,
                transient_fail: 0.04,
                record_info_null: 0.10,
                record_info_null_polls: 2,
                slow_result: 0.08,
                slow_result_delay: Duration::from_secs(3),
            },
            telegram: TelegramFaultRates {
                storm: 0.005,
                storm_secs: 2,
                send_5xx: 0.02,
                get_updates_5xx: 0.03,
                // Each would hold the delivery loop for the whole send
                // timeout (60 s): played by `tests/faults.rs` with a short one.
                lost_answer: 0.0,
                lost_answer_hold: Duration::ZERO,
            },
            tbank: TbankFaultRates {
                timeout: 0.04,
                timeout_hold: Duration::from_secs(25),
                error: 0.05,
                http_5xx: 0.02,
            },
            s3: S3FaultRates { error: 0.03 },
            tally: FaultTally::default(),
        }
    }

    /// By name, as in `[sandbox] faults`: "none" or "realistic".
    pub(crate) fn named(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::none()),
            "realistic" => Some(Self::realistic()),
            _ => None,
        }
    }

    /// The same rates with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The counts of faults played, shared by every clone of this plan.
    pub fn tally(&self) -> &FaultTally {
        &self.tally
    }

    /// The seeded dice of one service.
    pub fn dice(&self, service: &str) -> FaultDice {
        let mut hasher = DefaultHasher::new();
        service.hash(&mut hasher);
        FaultDice {
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(
                self.seed ^ hasher.finish(),
            ))),
            tally: self.tally.clone(),
        }
    }
}

/// A service's seeded dice and the tally it records into.
#[derive(Debug, Clone)]
pub struct FaultDice {
    rng: Arc<Mutex<StdRng>>,
    tally: FaultTally,
}

impl FaultDice {
    /// True with `probability` (never for 0).
    pub fn roll(&self, probability: f64) -> bool {
        probability > 0.0
            && self
                .rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .random::<f64>()
                < probability
    }

    /// A fair choice between two.
    pub fn coin(&self) -> bool {
        self.roll(0.5)
    }

    /// Counts one fault of `kind` played.
    pub fn record(&self, kind: &str) {
        self.tally.record(kind);
    }
}

/// The faults a test scripted on one stand-in, `F` being that stand-in's
/// fault enum: a queue played in order, each on the next call it fits, and
/// rates rolled on every call it fits once nothing queued fits. Empty unless
/// a test scripts it (the scripting methods are behind `testkit`).
#[derive(Debug)]
pub(crate) struct Script<F> {
    inner: Mutex<ScriptInner<F>>,
}

#[derive(Debug)]
struct ScriptInner<F> {
    queue: VecDeque<F>,
    rates: Vec<(F, f64)>,
}

impl<F> Default for Script<F> {
    fn default() -> Self {
        Script {
            inner: Mutex::new(ScriptInner {
                queue: VecDeque::new(),
                rates: Vec::new(),
            }),
        }
    }
}

impl<F: Clone> Script<F> {
    fn inner(&self) -> std::sync::MutexGuard<'_, ScriptInner<F>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `fault` for the next `times` calls it fits.
    #[cfg(feature = "testkit")]
    pub(crate) fn push(&self, fault: F, times: u32) {
        self.inner()
            .queue
            .extend(std::iter::repeat_n(fault, times as usize));
    }

    /// Plays `fault` with `probability` (0–1) on every call it fits; a rate
    /// of the `same` fault is replaced, and 0 removes it.
    #[cfg(feature = "testkit")]
    pub(crate) fn set_rate(&self, fault: F, probability: f64, same: impl Fn(&F, &F) -> bool) {
        let probability = if probability.is_finite() {
            probability.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mut inner = self.inner();
        inner.rates.retain(|(existing, _)| !same(existing, &fault));
        if probability > 0.0 {
            inner.rates.push((fault, probability));
        }
    }

    /// Forgets every queued fault and rate.
    #[cfg(feature = "testkit")]
    pub(crate) fn clear(&self) {
        let mut inner = self.inner();
        inner.queue.clear();
        inner.rates.clear();
    }

    /// Takes the first queued fault that `fits`.
    pub(crate) fn take(&self, fits: impl Fn(&F) -> bool) -> Option<F> {
        let mut inner = self.inner();
        let index = inner.queue.iter().position(fits)?;
        inner.queue.remove(index)
    }

    /// How many queued faults `fit`.
    #[cfg(feature = "testkit")]
    pub(crate) fn queued(&self, fits: impl Fn(&F) -> bool) -> usize {
        self.inner().queue.iter().filter(|f| fits(f)).count()
    }

    /// The first queued fault that `fits`, else the first rate that fits and
    /// whose roll comes up.
    pub(crate) fn take_or_roll(&self, fits: impl Fn(&F) -> bool) -> Option<F> {
        self.take(&fits).or_else(|| {
            self.rates()
                .into_iter()
                .find(|(fault, probability)| fits(fault) && rand::random::<f64>() < *probability)
                .map(|(fault, _)| fault)
        })
    }

    /// The rates, in the order they were set.
    pub(crate) fn rates(&self) -> Vec<(F, f64)> {
        self.inner().rates.clone()
    }
}

/// How many faults of each kind were played ("kie.moderation", …).
#[derive(Debug, Clone, Default)]
pub struct FaultTally {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl FaultTally {
    pub(crate) fn record(&self, kind: &str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(kind.to_owned())
            .or_insert(0) += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Faults whose kind starts with `prefix` ("kie.", "telegram.", …).
    pub fn total(&self, prefix: &str) -> u64 {
        self.snapshot()
            .iter()
            .filter(|(kind, _)| kind.starts_with(prefix))
            .map(|(_, count)| count)
            .sum()
    }
}
