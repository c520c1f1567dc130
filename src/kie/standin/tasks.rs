//! The task model: a task's phase computed from the time since its
//! creation on the stand-in's clock, and the book of everything that changes.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::faults::{TaskFault, TaskFaults};
use super::{
    CREDITS_PER_TASK, MODERATION_FAIL_CODE, MODERATION_FAIL_MSG, TRANSIENT_FAIL_CODE,
    TRANSIENT_FAIL_MSG,
};

#[derive(Debug, Clone)]
pub(super) enum RenderState {
    Pending,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Phase {
    Waiting,
    Queuing,
    Generating,
    Success,
    Fail { code: String, msg: String },
}

impl Phase {
    pub(super) fn as_str(&self) -> &'static str {
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
pub(super) struct Settled {
    pub(super) phase: Phase,
    pub(super) complete_time_ms: i64,
    pub(super) cost_time_ms: u64,
}

#[derive(Debug)]
pub(super) struct Task {
    pub(super) model: String,
    /// The createTask body as received, as a JSON string (like `param`).
    pub(super) param: String,
    pub(super) created_at: Instant,
    pub(super) create_time_ms: i64,
    pub(super) latency: Duration,
    pub(super) faults: TaskFaults,
    pub(super) hidden_polls_left: u32,
    pub(super) render: RenderState,
    pub(super) settled: Option<Settled>,
}

impl Task {
    /// Where the task is at `now`; settles it (and refunds a failure) the
    /// first time it is seen final.
    pub(super) fn observe(&mut self, now: Instant, now_ms: i64, credits: &mut f64) -> Phase {
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
pub(super) struct Book {
    pub(super) latency: Duration,
    /// Each task's latency is drawn from `latency..=latency_max`.
    pub(super) latency_max: Duration,
    pub(super) clock_offset: Duration,
    pub(super) credits: f64,
    pub(super) create_limit_per_10s: u32,
    pub(super) recent_creates: VecDeque<Instant>,
    pub(super) tasks: HashMap<String, Task>,
    pub(super) create_requests: Vec<Value>,
    pub(super) created_count: usize,
    /// createTask calls still to refuse with 429 in a burst of the fault plan.
    pub(super) burst_left: u32,
}

impl Book {
    pub(super) fn now(&self) -> Instant {
        Instant::now() + self.clock_offset
    }

    pub(super) fn now_ms(&self) -> i64 {
        let wall = SystemTime::now() + self.clock_offset;
        wall.duration_since(UNIX_EPOCH)
            .map(|since| since.as_millis() as i64)
            .unwrap_or(0)
    }
}
