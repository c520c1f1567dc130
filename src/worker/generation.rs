//! The generation step: create Kie tasks within the account's limit (fair
//! across jobs), poll them with Kie's recommended back-off, retry what can
//! heal, copy every result into our object store at once, and hand finished
//! jobs to delivery.
//!
//! Permanent trouble (bad key, no credits, feature disabled) pauses task
//! creation — everything stays queued — and alerts the admins once; the pause
//! is lifted by the next successful call to Kie, tried after `kie.pause_on_refusal_secs`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::Connection;
use tracing::{info, warn};

use super::WorkerCtx;
use crate::chat::lang_of;
use crate::chat::outbox::{self, Outgoing};
use crate::db::jobs::{self, Job, JobKind, JobStatus, Task};
use crate::db::portraits::Portrait;
use crate::db::{avatars, events, payments, portraits, queue, refunds, service_state};
use crate::i18n::{Arg, Lang, rub, tr, tr_args};
use crate::kie::{CreateTask, ErrorClass, KieError, ResultDownloadError, TaskFailure, TaskState};
use crate::media;

/// Largest result accepted from Kie.
const MAX_RESULT_BYTES: usize = 30 * 1024 * 1024;
/// Telegram's limit for a photo sent by upload (sendPhoto, sendMediaGroup).
const TELEGRAM_PHOTO_MAX_BYTES: usize = 10 * 1024 * 1024;
/// How long a task may stay in `creating` / `downloading` before a crash is assumed.
const LEASE_MS: i64 = 90_000;
/// The service_state key holding "Kie paused until" (ms).
const KIE_PAUSED: &str = "kie_paused_until";

/// createTask calls in the last 10 seconds (in-process; after a restart the
/// window starts empty, which at worst sends one window's worth early and
/// meets Kie's 429, handled as rate limiting).
#[derive(Default)]
pub(crate) struct CreateLimiter {
    sent: Mutex<VecDeque<Instant>>,
}

impl CreateLimiter {
    /// How many creates may go out now, given at most `per_10s` per 10 s.
    pub(crate) fn budget(&self, per_10s: u32) -> u32 {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(10))
        {
            sent.pop_front();
        }
        per_10s.saturating_sub(sent.len() as u32)
    }

    pub(crate) fn record(&self) {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(Instant::now());
    }
}

/// Kie's recommended polling: every 2–3 s for the first 30 s, then 5–10 s,
/// then 15–30 s after two minutes.
pub(crate) fn poll_interval_ms(age_ms: i64) -> i64 {
    if age_ms < 30_000 {
        2_500
    } else if age_ms < 120_000 {
        7_000
    } else {
        20_000
    }
}

/// Back-off before attempt `attempts + 1` of a task: 5 s, 10 s, 20 s … ≤ 2 min.
pub(crate) fn retry_delay_ms(attempts: u32) -> i64 {
    (5_000i64 << attempts.saturating_sub(1).min(5)).min(120_000)
}

pub(crate) async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let mut worked = 0;
    worked += create_due(ctx, now).await?;
    worked += poll_due(ctx, now).await?;
    worked += show_progress(ctx).await?;
    worked += finish_jobs(ctx, now).await?;
    worked += complete_deliveries(ctx, now).await?;
    Ok(worked)
}

fn style_count() -> usize {
    media::catalogue().len()
}

/// The prompt of a task: its style's prompt (the variant moderation left),
/// and for a redo the request for a different take of the same style.
fn prompt_of(task: &Task) -> Option<String> {
    let prompt = media::prompt_for(
        task.prompt_index as usize % style_count(),
        task.prompt_variant as usize,
    )?;
    Some(if task.take == 0 {
        prompt.to_owned()
    } else {
        format!(
            "{prompt} This is take {} of this style: keep the person's face and the style \
             exactly, but choose a different pose, expression and framing than before.",
            task.take + 1
        )
    })
}

async fn kie_paused(ctx: &WorkerCtx, now: i64) -> anyhow::Result<bool> {
    let until = ctx
        .db
        .run(|c| service_state::get_i64(c, KIE_PAUSED))
        .await?;
    Ok(until.is_some_and(|until| until > now))
}

async fn create_due(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    if kie_paused(ctx, now).await? {
        return Ok(0);
    }
    let budget = ctx.create_limiter.budget(ctx.config.kie.create_per_10s);
    if budget == 0 {
        return Ok(0);
    }
    let due = ctx
        .db
        .run(move |c| jobs::due_for_creation(c, now, budget))
        .await?;
    let count = due.len();
    for task in due {
        if !create_one(ctx, task, now).await? {
            break; // Kie refused for good or asked to slow down: stop this round.
        }
    }
    Ok(count)
}

/// Creates one task on Kie. Returns whether the round may go on.
async fn create_one(ctx: &WorkerCtx, task: Task, now: i64) -> anyhow::Result<bool> {
    let task_id = task.id;
    let Some(prompt) = prompt_of(&task) else {
        // Every variant of this style was refused by moderation.
        let mut error = "content moderation refused every variant of this style".to_owned();
        if let Some(last) = &task.last_error {
            error = format!("{error}; last: {last}");
        }
        ctx.db
            .run(move |c| jobs::fail(c, task_id, &error, now))
            .await?;
        return Ok(true);
    };
    if !ctx
        .db
        .run(move |c| jobs::mark_creating(c, task_id, now, now + LEASE_MS))
        .await?
    {
        return Ok(true);
    }
    // This attempt counts from here on.
    let task = Task {
        attempts: task.attempts + 1,
        ..task
    };
    let ttl = Duration::from_secs(u64::from(ctx.config.storage.presign_ttl_secs));
    let mut image_urls = Vec::with_capacity(task.reference_keys.len());
    for key in &task.reference_keys {
        match ctx.store.presign_get(key, ttl).await {
            Ok(url) => image_urls.push(url),
            Err(error) => {
                warn!(task_id, job_id = task.job_id, %error, "presigning a reference failed");
                let msg = format!("presign: {error}");
                retry_or_fail(ctx, &task, &msg, now, false).await?;
                return Ok(true);
            }
        }
    }
    let request = CreateTask {
        model: ctx.config.kie.model.clone(),
        prompt,
        image_urls,
        output_format: ctx.config.kie.output_format.clone(),
        image_size: ctx.config.kie.image_size.clone(),
    };
    ctx.create_limiter.record();
    match ctx.kie.create_task(&request).await {
        Ok(kie_task_id) => {
            info!(task_id, job_id = task.job_id, %kie_task_id, attempt = task.attempts + 1, "Kie task created");
            let next = now + poll_interval_ms(0);
            ctx.db
                .run(move |c| jobs::mark_running(c, task_id, &kie_task_id, next))
                .await?;
            resume_kie(ctx).await?;
            Ok(true)
        }
        Err(error) => on_create_error(ctx, &task, error, now).await,
    }
}

async fn on_create_error(
    ctx: &WorkerCtx,
    task: &Task,
    error: KieError,
    now: i64,
) -> anyhow::Result<bool> {
    let task_id = task.id;
    let msg = error.to_string();
    match error.class() {
        ErrorClass::RateLimited => {
            warn!(task_id, job_id = task.job_id, %error, "Kie rate limit: backing off");
            // Not the task's fault: the attempt is given back.
            let next = now + 10_000;
            ctx.db
                .run(move |c| jobs::retry_without_attempt(c, task_id, &msg, next))
                .await?;
            Ok(false)
        }
        ErrorClass::Permanent if !error.is_account_refusal() => {
            // This one request is refused (validation, unknown model…): the
            // task pays an attempt and, in the end, fails and is refunded —
            // it never holds up the other users.
            warn!(task_id, job_id = task.job_id, %error, "Kie refused this task");
            retry_or_fail(ctx, task, &msg, now, false).await?;
            Ok(true)
        }
        ErrorClass::Permanent => {
            warn!(task_id, job_id = task.job_id, %error, "Kie refuses the account: pausing task creation");
            let until = now + (ctx.config.kie.pause_on_refusal_secs as i64) * 1000;
            let alert = super::alerts::Alert::KieRefused { error: msg.clone() };
            let admins = ctx.config.bot.admin_ids.clone();
            ctx.db
                .run(move |c| {
                    let tx = c.transaction()?;
                    jobs::retry_without_attempt(&tx, task_id, &msg, until)?;
                    service_state::set_i64(&tx, KIE_PAUSED, until, now)?;
                    super::alerts::raise(&tx, &admins, "kie_refused", &alert, now)?;
                    tx.commit()
                })
                .await?;
            Ok(false)
        }
        ErrorClass::Transient => {
            // Kie (or the way to it) stumbled: 5xx, code 500/455, a timeout.
            // Not the portrait's fault either: the attempt is given back, so
            // a minute of Kie trouble delays portraits instead of refunding
            // them (a long outage shows in the side-task and error alerts).
            warn!(task_id, job_id = task.job_id, %error, "createTask failed, will retry");
            let next = now + retry_delay_ms(task.attempts.max(1));
            ctx.db
                .run(move |c| jobs::retry_without_attempt(c, task_id, &msg, next))
                .await?;
            Ok(true)
        }
    }
}

/// Kie answered normally again: lift a pause and close its alert.
async fn resume_kie(ctx: &WorkerCtx) -> anyhow::Result<()> {
    let at = ctx.clock.now_ms();
    ctx.db
        .run(move |c| {
            if service_state::get_i64(c, KIE_PAUSED)?.is_some() {
                service_state::remove(c, KIE_PAUSED)?;
                super::alerts::resolve(c, "kie_refused", at)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

async fn retry_or_fail(
    ctx: &WorkerCtx,
    task: &Task,
    error: &str,
    now: i64,
    next_variant: bool,
) -> anyhow::Result<()> {
    let task_id = task.id;
    let error = error.to_owned();
    // `attempts` counts the attempt that just failed (incremented at creation).
    let attempts = task.attempts.max(1);
    if attempts >= ctx.config.kie.max_attempts {
        warn!(task_id, job_id = task.job_id, attempts, %error, "task given up");
        ctx.db
            .run(move |c| jobs::fail(c, task_id, &error, now))
            .await?;
    } else {
        let next = now + retry_delay_ms(attempts);
        ctx.db
            .run(move |c| jobs::retry(c, task_id, &error, next, next_variant))
            .await?;
    }
    Ok(())
}

async fn poll_due(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let due = ctx.db.run(move |c| jobs::due_for_poll(c, now, 32)).await?;
    let count = due.len();
    for task in due {
        let task_id = task.id;
        if let Err(error) = poll_one(ctx, task, now).await {
            warn!(
                task_id,
                error = format!("{error:#}"),
                "polling a task failed"
            );
        }
    }
    Ok(count)
}

async fn poll_one(ctx: &WorkerCtx, task: Task, now: i64) -> anyhow::Result<()> {
    let task_id = task.id;
    let Some(kie_task_id) = task.kie_task_id.clone() else {
        // A crash between "creating" and Kie's answer: we cannot know whether
        // Kie made the task, so it is created again (at worst one unused
        // image is paid for; the user never gets two).
        let next = now;
        ctx.db
            .run(move |c| jobs::retry_without_attempt(c, task_id, "resumed after a restart", next))
            .await?;
        return Ok(());
    };
    let submitted = ctx
        .db
        .run(move |c| jobs::submitted_at(c, task_id))
        .await?
        .unwrap_or(now);
    let age = now - submitted;
    let timeout_ms = (ctx.config.kie.task_timeout_secs as i64) * 1000;
    let record = match ctx.kie.record_info(&kie_task_id).await {
        Ok(record) => record,
        // recordInfo keeps failing (404, 401, …) past the task's time: the
        // task ends in a retry or is given up, never waits forever.
        Err(error) if age > timeout_ms => {
            warn!(task_id, job_id = task.job_id, %kie_task_id, %error, "recordInfo kept failing past the task timeout");
            let msg = format!("recordInfo kept failing: {error}");
            return retry_or_fail(ctx, &task, &msg, now, false).await;
        }
        Err(error) => {
            let next = now
                + match error.class() {
                    ErrorClass::RateLimited => 10_000,
                    _ => poll_interval_ms(age),
                };
            let note = format!("recordInfo: {error}");
            ctx.db
                .run(move |c| jobs::reschedule_poll(c, task_id, next, Some(&note)))
                .await?;
            return Ok(());
        }
    };
    match record.state {
        TaskState::Success => {
            let Some(url) = record.first_result_url().cloned() else {
                return retry_or_fail(
                    ctx,
                    &task,
                    "Kie reported success without a result URL",
                    now,
                    false,
                )
                .await;
            };
            ctx.db
                .run(move |c| jobs::mark_downloading(c, task_id, now + LEASE_MS))
                .await?;
            match ctx.kie.download_result(&url, MAX_RESULT_BYTES).await {
                Ok(bytes) => store_result(ctx, &task, bytes, now).await,
                Err(ResultDownloadError::Gone { http_status }) => {
                    let msg = format!("result URL gone (HTTP {http_status})");
                    retry_or_fail(ctx, &task, &msg, now, false).await
                }
                // Never stored: made again (or given up).
                Err(
                    error @ (ResultDownloadError::TooLarge { .. }
                    | ResultDownloadError::Insecure { .. }),
                ) => retry_or_fail(ctx, &task, &error.to_string(), now, false).await,
                // The task's time bounds the repeats of a failing download too.
                Err(error) if age > timeout_ms => {
                    let msg = format!("the result download kept failing: {error}");
                    retry_or_fail(ctx, &task, &msg, now, false).await
                }
                Err(error) => {
                    // The image is still on Kie: download again soon.
                    let note = error.to_string();
                    let next = now + 5_000;
                    ctx.db
                        .run(move |c| jobs::reschedule_poll(c, task_id, next, Some(&note)))
                        .await?;
                    Ok(())
                }
            }
        }
        TaskState::Fail => {
            let failure = record.failure_class();
            let msg = format!(
                "Kie failed the task: {} {}",
                record.fail_code, record.fail_msg
            );
            warn!(task_id, job_id = task.job_id, %kie_task_id, ?failure, %msg, "Kie task failed");
            match failure {
                // The same prompt will be refused again: try the next variant.
                TaskFailure::Moderation => retry_or_fail(ctx, &task, &msg, now, true).await,
                TaskFailure::Transient | TaskFailure::Other => {
                    retry_or_fail(ctx, &task, &msg, now, false).await
                }
            }
        }
        _ => {
            // waiting, queuing, generating, not yet visible, or unknown: still
            // running — unless it has been running too long. (Kie is asked
            // first: after a long restart a finished result is still taken.)
            if age > (ctx.config.kie.task_timeout_secs as i64) * 1000 {
                warn!(task_id, job_id = task.job_id, %kie_task_id, age_s = age / 1000, "Kie task timed out");
                return retry_or_fail(ctx, &task, "timed out on Kie", now, false).await;
            }
            let next = now + poll_interval_ms(age);
            ctx.db
                .run(move |c| jobs::reschedule_poll(c, task_id, next, None))
                .await?;
            Ok(())
        }
    }
}

async fn store_result(ctx: &WorkerCtx, task: &Task, bytes: Bytes, now: i64) -> anyhow::Result<()> {
    let task_id = task.id;
    let job = ctx.db.run({
        let job_id = task.job_id;
        move |c| jobs::get(c, job_id)
    });
    let Some(job) = job.await? else { return Ok(()) };
    let key = format!(
        "avatars/{}/portraits/job{}-{:02}-v{}.png",
        job.avatar_id, job.id, task.prompt_index, task.attempts
    );
    let content_type = if ctx.config.kie.output_format == "png" {
        "image/png"
    } else {
        "image/jpeg"
    };
    // The body must be an image, and fit Telegram's 10 MB photo limit
    // (a 4K render at high quality does not): re-encoded when it does not.
    let checked = tokio::task::spawn_blocking(move || {
        crate::media::fit_for_telegram(&bytes, TELEGRAM_PHOTO_MAX_BYTES)
            .map(|fitted| (bytes, fitted))
    })
    .await?;
    let (bytes, content_type) = match checked {
        Ok((_, Some(jpeg))) => {
            info!(
                task_id,
                bytes = jpeg.len(),
                "portrait re-encoded to fit Telegram's photo limit"
            );
            (Bytes::from(jpeg), "image/jpeg")
        }
        Ok((bytes, None)) => (bytes, content_type),
        Err(why) => {
            let msg = format!("the result is not an image: {why}");
            return retry_or_fail(ctx, task, &msg, now, false).await;
        }
    };
    ctx.store.put(&key, bytes, content_type).await?;
    let moved = ctx
        .db
        .run(move |c| jobs::succeed(c, task_id, &key, now))
        .await?;
    if moved {
        info!(
            task_id,
            job_id = job.id,
            avatar_id = job.avatar_id,
            "portrait stored"
        );
        ctx.wake.notify_one();
    }
    Ok(())
}

/// Jobs whose every task is final: queue the albums (and the refund of
/// what could not be made), move the avatar on, all in one transaction.
async fn finish_jobs(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let finished = ctx.db.run(|c| jobs::finished_but_running(c, 8)).await?;
    let count = finished.len();
    for job in finished {
        finish_job(ctx, job, now).await?;
    }
    Ok(count)
}

/// The incident of paid jobs that came short (failed or partly refunded).
pub(crate) const JOBS_FAILING: &str = "jobs_failing";

async fn finish_job(ctx: &WorkerCtx, job: Job, now: i64) -> anyhow::Result<()> {
    let id = job.id;
    if ctx.db.run(move |c| jobs::retry_round(c, id)).await?.0 > 0 {
        return super::admin::finish_retry(ctx, job, now).await;
    }
    match job.kind {
        JobKind::Preview => return super::free::finish_preview(ctx, job, now).await,
        JobKind::Regenerate => return super::free::finish_redo(ctx, job, now).await,
        JobKind::Paid => {}
    }
    let job_id = job.id;
    let admins = ctx.config.bot.admin_ids.clone();
    let retention_days = ctx.config.privacy.retention_days;
    let done = deliver_once(ctx, job, now, move |tx, lang, job| {
        let made = portraits::for_job(tx, job.id)?;
        let avatar_next = if made.is_empty() {
            avatars::AvatarStatus::Failed
        } else {
            avatars::AvatarStatus::Ready
        };
        avatars::transition(
            tx,
            job.avatar_id,
            avatars::AvatarStatus::Generating,
            avatar_next,
            now,
        )?;
        if !made.is_empty() {
            let caption = tr_args(lang, "delivery-caption", &[("count", made.len().into())]);
            let prefix = format!("job:{}", job.id);
            queue_albums(tx, job.user_id, &made, &caption, &prefix, now)?;
            events::record(
                tx,
                job.user_id,
                events::Stage::Delivered,
                job.avatar_id,
                None,
                now,
            )?;
        }
        // Nobody pays for a portrait they did not get.
        let missing = job.total.saturating_sub(made.len() as u32);
        if missing > 0
            && let Some(payment_id) = job.payment_id
            && let Some(payment) = payments::get(tx, payment_id)?
        {
            // The share of the missing portraits, within what is still
            // paid: an admin's refund while the set was made counts.
            let owed = payment.amount_kopecks * i64::from(missing) / i64::from(job.total.max(1));
            let left = payment.amount_kopecks
                - payment.refunded_kopecks
                - refunds::pending_kopecks(tx, payment_id)?;
            let share = owed.min(left.max(0));
            if share > 0 {
                refunds::request_failed_portraits(tx, payment_id, share, now)?;
            }
            let missing_text = tr_args(lang, "portraits", &[("count", missing.into())]);
            let text = if share > 0 {
                tr_args(
                    lang,
                    "delivery-partial-refund",
                    &[
                        ("missing", Arg::Str(&missing_text)),
                        ("amount", Arg::Str(&rub(lang, share))),
                    ],
                )
            } else {
                tr_args(
                    lang,
                    "delivery-partial-already-refunded",
                    &[("missing", Arg::Str(&missing_text))],
                )
            };
            let dedup = format!("job:{}:refund-note", job.id);
            super::queue_paid(tx, job.user_id, &Outgoing::text(text), &dedup, now)?;
        } else if missing > 0 {
            let text = Outgoing::text(tr(lang, "delivery-some-failed"));
            let dedup = format!("job:{}:failed-note", job.id);
            super::queue_paid(tx, job.user_id, &text, &dedup, now)?;
        }
        // A job that came short is an incident for the admins: one
        // "jobs are failing" incident, counted and summarised while it
        // goes on, resolved by the next job that delivers everything.
        if missing > 0 {
            let refunded = match job.payment_id {
                Some(payment_id) => payments::get(tx, payment_id)?
                    .map(|p| p.amount_kopecks * i64::from(missing) / i64::from(job.total.max(1)))
                    .unwrap_or(0),
                None => 0,
            };
            let alert = super::alerts::Alert::JobShort {
                job: job.id,
                user: job.user_id,
                made: made.len() as i64,
                total: i64::from(job.total),
                refund_kopecks: refunded,
            };
            super::alerts::raise(tx, &admins, JOBS_FAILING, &alert, now)?;
        } else {
            super::alerts::resolve(tx, JOBS_FAILING, now)?;
        }
        // Last, under everything else: what the user can do with the set.
        if !made.is_empty() {
            let actions = super::free::actions_message(lang, job.avatar_id, retention_days);
            let dedup = format!("job:{}:actions", job.id);
            super::queue_paid(tx, job.user_id, &actions, &dedup, now)?;
        }
        Ok((made.len(), missing))
    })
    .await?;
    if let Some((made, missing)) = done {
        info!(job_id, made, missing, "job finished, albums queued");
    }
    Ok(())
}

/// Finishes `job` once: in one transaction it moves from running to
/// delivering (only one caller wins: a later round, or one after a restart,
/// finds it moved and does nothing) and `queue` writes what is sent for it,
/// given the user's language. Returns what `queue` returned when this call
/// moved the job, and then wakes the side task.
pub(crate) async fn deliver_once<T: Send + 'static>(
    ctx: &WorkerCtx,
    job: Job,
    now: i64,
    queue: impl FnOnce(&Connection, Lang, &Job) -> rusqlite::Result<T> + Send + 'static,
) -> anyhow::Result<Option<T>> {
    let done = ctx
        .db
        .run(move |c| {
            let tx = c.transaction()?;
            if !jobs::set_status(&tx, job.id, JobStatus::Running, JobStatus::Delivering, now)? {
                return Ok(None);
            }
            let lang = lang_of(&tx, job.user_id)?;
            let done = queue(&tx, lang, &job)?;
            tx.commit()?;
            Ok(Some(done))
        })
        .await?;
    if done.is_some() {
        ctx.wake.notify_one();
    }
    Ok(done)
}

/// Queues the albums of a paid set's portraits (at most 10 each, the first
/// one captioned) as `{dedup_prefix}:album:{i}`, first when Telegram's
/// budget is short.
pub(crate) fn queue_albums(
    conn: &Connection,
    chat_id: i64,
    made: &[Portrait],
    caption: &str,
    dedup_prefix: &str,
    now: i64,
) -> rusqlite::Result<()> {
    for (i, album) in outbox::albums(made, caption).iter().enumerate() {
        let dedup = format!("{dedup_prefix}:album:{i}");
        super::queue_paid(conn, chat_id, album, &dedup, now)?;
    }
    Ok(())
}

/// Jobs whose albums have all left the queue become done (or partial).
async fn complete_deliveries(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    ctx.db
        .run(move |c| {
            let ready = jobs::delivering_with_queue_settled(c)?;
            for job in &ready {
                let to = if job.failed > 0 {
                    JobStatus::Partial
                } else {
                    JobStatus::Done
                };
                jobs::set_status(c, job.id, JobStatus::Delivering, to, now)?;
            }
            Ok(ready.len())
        })
        .await
        .map_err(Into::into)
}

/// "9 of 15 ready": the payment's confirmation message is edited as
/// portraits arrive (best effort: progress is not essential, the albums are).
/// Until the confirmation has left the queue there is nothing to edit yet.
async fn show_progress(ctx: &WorkerCtx) -> anyhow::Result<usize> {
    let behind = ctx.db.run(|c| jobs::progress_behind(c, 8)).await?;
    let mut shown = 0;
    for (job, message_id, _shown) in behind {
        let Some(payment_id) = job.payment_id else {
            continue;
        };
        let user_id = job.user_id;
        let (lang, message_id, portraits) = ctx
            .db
            .run(move |c| {
                let message_id = match message_id {
                    Some(id) => Some(id),
                    None => queue::sent_message_id(c, &format!("payment:{payment_id}:confirmed"))?,
                };
                let portraits = payments::get(c, payment_id)?.map_or(0, |p| p.portraits);
                Ok((lang_of(c, user_id)?, message_id, portraits))
            })
            .await?;
        let Some(message_id) = message_id else {
            if matches!(job.status, JobStatus::Done | JobStatus::Partial) {
                // Its queue has settled without the confirmation ever reaching
                // the user (blocked): there is nothing to edit, ever.
                let (job_id, completed) = (job.id, job.completed);
                ctx.db
                    .run(move |c| jobs::set_progress(c, job_id, None, completed))
                    .await?;
            }
            continue;
        };
        let confirmed = tr_args(
            lang,
            "payment-confirmed",
            &[(
                "portraits",
                Arg::Str(&tr_args(lang, "portraits", &[("count", portraits.into())])),
            )],
        );
        let progress = tr_args(
            lang,
            "generation-progress",
            &[("done", job.completed.into()), ("total", job.total.into())],
        );
        super::delivery::edit_text(
            ctx,
            user_id,
            message_id,
            format!("{confirmed}\n\n{progress}"),
        )
        .await;
        let (job_id, completed) = (job.id, job.completed);
        ctx.db
            .run(move |c| jobs::set_progress(c, job_id, Some(message_id), completed))
            .await?;
        shown += 1;
    }
    Ok(shown)
}
