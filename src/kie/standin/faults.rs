//! The Kie stand-in's scripted faults: what `createTask` answers instead of
//! creating, and how a task misbehaves (how it ends, how its result
//! downloads, whether `recordInfo` sees it); and how a created task draws
//! its faults from the script and the fault plan.

use std::time::Duration;

use super::Shared;

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
/// its result downloads (`SlowResult`, `BrokenResult`, `ExpiredResult`,
/// `GarbageResult`, `HugeResult`), and
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
    /// The result URL answers HTTP 200 with a body that is no image (an
    /// error page of a CDN, say).
    GarbageResult,
    /// The result is a PNG over Telegram's 10 MB photo limit (a 4K render
    /// at high quality).
    HugeResult,
    /// The first N `recordInfo` polls answer `recordInfo is null`.
    HiddenForPolls(u32),
    /// Every `recordInfo` answers HTTP 404 with code 404 (a task Kie lost):
    /// an error, not a task that is not visible yet.
    LostRecord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FaultKind {
    Outcome,
    Result,
    Visibility,
}

impl TaskFault {
    pub(super) fn kind(self) -> FaultKind {
        match self {
            Self::FailModeration | Self::FailTransient | Self::NeverFinish => FaultKind::Outcome,
            Self::SlowResult(_)
            | Self::BrokenResult
            | Self::ExpiredResult
            | Self::GarbageResult
            | Self::HugeResult => FaultKind::Result,
            Self::HiddenForPolls(_) | Self::LostRecord => FaultKind::Visibility,
        }
    }
}

/// A fault a test scripts on the stand-in (`Handle::script`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A createTask call that passes the rate limit answers so.
    Create(CreateFault),
    /// A created task carries this fault.
    Task(TaskFault),
    /// A created task whose prompt contains this text ends with moderation.
    ModeratePromptContaining(String),
}

impl Fault {
    /// Whether a rate of `other` is replaced by one of `self`: the same
    /// kind of fault, whatever its parameter.
    #[cfg(feature = "testkit")]
    pub(super) fn same_kind(&self, other: &Fault) -> bool {
        match (self, other) {
            (Fault::Create(a), Fault::Create(b)) => {
                std::mem::discriminant(a) == std::mem::discriminant(b)
            }
            (Fault::Task(a), Fault::Task(b)) => {
                std::mem::discriminant(a) == std::mem::discriminant(b)
            }
            (Fault::ModeratePromptContaining(a), Fault::ModeratePromptContaining(b)) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TaskFaults {
    pub(super) outcome: Option<TaskFault>,
    pub(super) result: Option<TaskFault>,
    pub(super) visibility: Option<TaskFault>,
}

impl TaskFaults {
    fn slot(&mut self, kind: FaultKind) -> &mut Option<TaskFault> {
        match kind {
            FaultKind::Outcome => &mut self.outcome,
            FaultKind::Result => &mut self.result,
            FaultKind::Visibility => &mut self.visibility,
        }
    }
}

impl Shared {
    /// The scripted createTask fault of this call, if any.
    pub(super) fn take_create_fault(&self) -> Option<CreateFault> {
        match self
            .script
            .take_or_roll(|fault| matches!(fault, Fault::Create(_)))
        {
            Some(Fault::Create(fault)) => Some(fault),
            _ => None,
        }
    }

    /// The faults a new task with this prompt carries: scripted first (one
    /// of each kind), then scripted rates, then the fault plan's rates.
    pub(super) fn take_task_faults(&self, prompt: &str) -> TaskFaults {
        let mut faults = TaskFaults::default();
        for kind in [FaultKind::Outcome, FaultKind::Result, FaultKind::Visibility] {
            if let Some(Fault::Task(fault)) = self
                .script
                .take(|f| matches!(f, Fault::Task(t) if t.kind() == kind))
            {
                *faults.slot(kind) = Some(fault);
            }
        }
        let moderated = |f: &Fault| matches!(f, Fault::ModeratePromptContaining(text) if prompt.contains(text.as_str()));
        if self.script.take(moderated).is_some() {
            faults.outcome = Some(TaskFault::FailModeration);
        }
        for (fault, probability) in self.script.rates() {
            let (kind, fault) = match fault {
                Fault::Task(fault) => (fault.kind(), fault),
                Fault::ModeratePromptContaining(_) if moderated(&fault) => {
                    (FaultKind::Outcome, TaskFault::FailModeration)
                }
                _ => continue,
            };
            let slot = faults.slot(kind);
            if slot.is_none() && rand::random::<f64>() < probability {
                *slot = Some(fault);
            }
        }
        // The fault plan's rates, for what is still free.
        let (kie, dice) = (&self.rates.kie, &self.dice);
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
