//! Generation jobs (one per paid payment, preview or regeneration) and their
//! tasks (one per portrait, each one Kie task at a time).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::text_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    Paid,
    Preview,
    Regenerate,
}

impl JobKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobKind::Paid => "paid",
            JobKind::Preview => "preview",
            JobKind::Regenerate => "regenerate",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<JobKind> {
        Some(match s {
            "paid" => JobKind::Paid,
            "preview" => JobKind::Preview,
            "regenerate" => JobKind::Regenerate,
            _ => return None,
        })
    }
}

/// Where a job stands (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobStatus {
    /// Its tasks are being made.
    Running,
    /// Every task is final; what was made is in the queue.
    Delivering,
    /// Everything made and sent.
    Done,
    /// Sent, with some portraits that could not be made.
    Partial,
    /// Nothing could be made.
    Failed,
}

impl JobStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Delivering => "delivering",
            JobStatus::Done => "done",
            JobStatus::Partial => "partial",
            JobStatus::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<JobStatus> {
        Some(match s {
            "running" => JobStatus::Running,
            "delivering" => JobStatus::Delivering,
            "done" => JobStatus::Done,
            "partial" => JobStatus::Partial,
            "failed" => JobStatus::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub(crate) avatar_id: i64,
    pub(crate) user_id: i64,
    pub(crate) kind: JobKind,
    pub(crate) payment_id: Option<i64>,
    pub(crate) total: u32,
    pub(crate) completed: u32,
    pub(crate) failed: u32,
    pub(crate) status: JobStatus,
    pub(crate) created_at: i64,
    pub(crate) finished_at: Option<i64>,
}

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        avatar_id: r.get(1)?,
        user_id: r.get(2)?,
        kind: text_enum(r, 3, JobKind::parse)?,
        payment_id: r.get(4)?,
        total: r.get(5)?,
        completed: r.get(6)?,
        failed: r.get(7)?,
        status: text_enum(r, 8, JobStatus::parse)?,
        created_at: r.get(9)?,
        finished_at: r.get(10)?,
    })
}

const JOB_COLUMNS: &str = "id, avatar_id, user_id, kind, payment_id, total, completed, failed, status, created_at, finished_at";

/// What one task of a new job will make.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub prompt_index: u32,
    /// Object keys of the reference photos this task sends to Kie.
    pub reference_keys: Vec<String>,
}

/// Creates the job of a paid payment with its tasks, exactly once: a second
/// call for the same payment returns the existing job and `false`. Run it
/// inside the caller's transaction, together with the payment's confirmation.
pub fn create_for_payment(
    conn: &Connection,
    payment_id: i64,
    avatar_id: i64,
    user_id: i64,
    tasks: &[NewTask],
    now: i64,
) -> rusqlite::Result<(Job, bool)> {
    let inserted = conn.execute(
        "INSERT INTO generation_jobs (avatar_id, user_id, kind, payment_id, total, created_at)
         VALUES (?1, ?2, 'paid', ?3, ?4, ?5)
         ON CONFLICT (payment_id) DO NOTHING",
        params![avatar_id, user_id, payment_id, tasks.len() as i64, now],
    )? == 1;
    if inserted {
        let job_id = conn.last_insert_rowid();
        for task in tasks {
            insert_task(conn, job_id, task, 0, now)?;
        }
    }
    let job = conn.query_row(
        &format!("SELECT {JOB_COLUMNS} FROM generation_jobs WHERE payment_id = ?1"),
        [payment_id],
        job_from_row,
    )?;
    Ok((job, inserted))
}

/// Why a free job (preview or redo) was not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreeJob {
    Created(Job),
    /// The user already had their one preview.
    PreviewUsed,
}

/// Creates the user's one free preview job (one task) for a draft avatar.
/// A second call for the same user creates nothing (UNIQUE per user).
pub fn create_preview(
    conn: &Connection,
    avatar_id: i64,
    user_id: i64,
    task: &NewTask,
    now: i64,
) -> rusqlite::Result<FreeJob> {
    let inserted = conn.execute(
        "INSERT INTO generation_jobs (avatar_id, user_id, kind, total, created_at)
         VALUES (?1, ?2, 'preview', 1, ?3) ON CONFLICT DO NOTHING",
        params![avatar_id, user_id, now],
    )? == 1;
    if !inserted {
        return Ok(FreeJob::PreviewUsed);
    }
    let job_id = conn.last_insert_rowid();
    insert_task(conn, job_id, task, 0, now)?;
    Ok(FreeJob::Created(
        get(conn, job_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?,
    ))
}

/// Whether the user has had (or is having) their free preview.
pub(crate) fn preview_of_user(conn: &Connection, user_id: i64) -> rusqlite::Result<Option<Job>> {
    conn.query_row(
        &format!(
            "SELECT {JOB_COLUMNS} FROM generation_jobs WHERE user_id = ?1 AND kind = 'preview'"
        ),
        [user_id],
        job_from_row,
    )
    .optional()
}

fn insert_task(
    conn: &Connection,
    job_id: i64,
    task: &NewTask,
    take: u32,
    now: i64,
) -> rusqlite::Result<()> {
    let keys = serde_json::to_string(&task.reference_keys)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.prepare_cached(
        "INSERT INTO generation_tasks (job_id, prompt_index, reference_keys, next_attempt_at, take)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![job_id, task.prompt_index, keys, now, take])?;
    Ok(())
}

/// Redos of an avatar that count against its free quota: made, or in the making.
pub(crate) fn redos_used(conn: &Connection, avatar_id: i64) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT COUNT(*) FROM generation_jobs
         WHERE avatar_id = ?1 AND kind = 'regenerate' AND failed = 0",
        [avatar_id],
        |r| r.get(0),
    )
}

/// A redo of this avatar still being made, if any (one at a time).
pub(crate) fn redo_running(conn: &Connection, avatar_id: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM generation_jobs
         WHERE avatar_id = ?1 AND kind = 'regenerate' AND status IN ('running', 'delivering'))",
        [avatar_id],
        |r| r.get(0),
    )
}

/// The portraits of a paid set (the size of the package it was bought as).
pub(crate) fn paid_total(conn: &Connection, avatar_id: i64) -> rusqlite::Result<Option<u32>> {
    conn.query_row(
        "SELECT MAX(total) FROM generation_jobs WHERE avatar_id = ?1 AND kind = 'paid'",
        [avatar_id],
        |r| r.get(0),
    )
}

/// Creates a redo job: one task, the same style and reference photos as the
/// task that made `original`, as the next take of that style.
pub(crate) fn create_redo(
    conn: &Connection,
    avatar_id: i64,
    user_id: i64,
    original: &Task,
    now: i64,
) -> rusqlite::Result<Job> {
    let take: u32 = conn.query_row(
        "SELECT COALESCE(MAX(t.take), 0) + 1 FROM generation_tasks t
         JOIN generation_jobs j ON j.id = t.job_id
         WHERE j.avatar_id = ?1 AND t.prompt_index = ?2",
        params![avatar_id, original.prompt_index],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO generation_jobs (avatar_id, user_id, kind, total, created_at)
         VALUES (?1, ?2, 'regenerate', 1, ?3)",
        params![avatar_id, user_id, now],
    )?;
    let job_id = conn.last_insert_rowid();
    let task = NewTask {
        prompt_index: original.prompt_index,
        reference_keys: original.reference_keys.clone(),
    };
    insert_task(conn, job_id, &task, take, now)?;
    get(conn, job_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

pub(crate) fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Job>> {
    conn.query_row(
        &format!("SELECT {JOB_COLUMNS} FROM generation_jobs WHERE id = ?1"),
        [id],
        job_from_row,
    )
    .optional()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub(crate) id: i64,
    pub job_id: i64,
    pub(crate) prompt_index: u32,
    pub(crate) prompt_variant: u32,
    pub(crate) reference_keys: Vec<String>,
    pub(crate) state: String,
    pub(crate) kie_task_id: Option<String>,
    pub(crate) attempts: u32,
    pub(crate) next_attempt_at: i64,
    pub(crate) result_key: Option<String>,
    pub(crate) last_error: Option<String>,
    /// 0 for the original portrait of a style, k for its k-th redo.
    pub(crate) take: u32,
}

pub fn tasks(conn: &Connection, job_id: i64) -> rusqlite::Result<Vec<Task>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {TASK_COLUMNS} FROM generation_tasks WHERE job_id = ?1 ORDER BY prompt_index"
    ))?;
    stmt.query_map([job_id], task_from_row)?.collect()
}

const TASK_COLUMNS: &str = "id, job_id, prompt_index, prompt_variant, reference_keys, state, kie_task_id, \
    attempts, next_attempt_at, result_key, last_error, take";

fn task_from_row(r: &Row<'_>) -> rusqlite::Result<Task> {
    let keys: String = r.get(4)?;
    Ok(Task {
        id: r.get(0)?,
        job_id: r.get(1)?,
        prompt_index: r.get(2)?,
        prompt_variant: r.get(3)?,
        reference_keys: serde_json::from_str(&keys).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
        })?,
        state: r.get(5)?,
        kie_task_id: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_at: r.get(8)?,
        result_key: r.get(9)?,
        last_error: r.get(10)?,
        take: r.get(11)?,
    })
}

pub(crate) fn task(conn: &Connection, id: i64) -> rusqlite::Result<Option<Task>> {
    conn.query_row(
        &format!("SELECT {TASK_COLUMNS} FROM generation_tasks WHERE id = ?1"),
        [id],
        task_from_row,
    )
    .optional()
}

/// Queued tasks due for (re)creation on Kie, interleaved across jobs so that
/// one big job cannot starve a small one: the first task of every job comes
/// before the second task of any job.
pub fn due_for_creation(conn: &Connection, now: i64, limit: u32) -> rusqlite::Result<Vec<Task>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {TASK_COLUMNS} FROM (
             SELECT *, ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY prompt_index) AS turn
             FROM generation_tasks WHERE state = 'queued' AND next_attempt_at <= ?1)
         ORDER BY turn, job_id LIMIT ?2"
    ))?;
    stmt.query_map(params![now, limit], task_from_row)?
        .collect()
}

/// Running tasks whose next status poll is due, plus tasks a crash left in
/// `creating` or `downloading` (their lease has passed).
pub(crate) fn due_for_poll(conn: &Connection, now: i64, limit: u32) -> rusqlite::Result<Vec<Task>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {TASK_COLUMNS} FROM generation_tasks
         WHERE state IN ('running', 'creating', 'downloading') AND next_attempt_at <= ?1
         ORDER BY next_attempt_at LIMIT ?2"
    ))?;
    stmt.query_map(params![now, limit], task_from_row)?
        .collect()
}

/// Intent before calling createTask: one more attempt, leased until `lease_until`.
pub(crate) fn mark_creating(
    conn: &Connection,
    id: i64,
    now: i64,
    lease_until: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE generation_tasks SET state = 'creating', attempts = attempts + 1,
                next_attempt_at = ?3, submitted_at = ?2
         WHERE id = ?1 AND state = 'queued'",
        params![id, now, lease_until],
    )? == 1)
}

/// Kie accepted the task.
pub(crate) fn mark_running(
    conn: &Connection,
    id: i64,
    kie_task_id: &str,
    next_poll_at: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE generation_tasks SET state = 'running', kie_task_id = ?2, next_attempt_at = ?3
         WHERE id = ?1 AND state = 'creating'",
        params![id, kie_task_id, next_poll_at],
    )? == 1)
}

/// Polled, still not final: ask again at `next_poll_at`.
pub(crate) fn reschedule_poll(
    conn: &Connection,
    id: i64,
    next_poll_at: i64,
    note: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE generation_tasks SET next_attempt_at = ?2, last_error = COALESCE(?3, last_error)
         WHERE id = ?1 AND state IN ('running', 'downloading')",
        params![id, next_poll_at, note],
    )?;
    Ok(())
}

/// Kie finished the task: its result is being copied into our store.
pub(crate) fn mark_downloading(
    conn: &Connection,
    id: i64,
    lease_until: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE generation_tasks SET state = 'downloading', next_attempt_at = ?2
         WHERE id = ?1 AND state IN ('running', 'downloading')",
        params![id, lease_until],
    )? == 1)
}

/// Puts a task back in the queue for another attempt (a transient failure, a
/// timeout, or a moderation refusal that moves to the next prompt variant).
pub(crate) fn retry(
    conn: &Connection,
    id: i64,
    error: &str,
    next_attempt_at: i64,
    next_variant: bool,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE generation_tasks SET state = 'queued', kie_task_id = NULL, last_error = ?2,
                next_attempt_at = ?3, prompt_variant = prompt_variant + ?4
         WHERE id = ?1 AND state IN ('creating', 'running', 'downloading')",
        params![id, error, next_attempt_at, i64::from(next_variant)],
    )? == 1)
}

/// The result is in our store: the task succeeded, its portrait is recorded,
/// and the job's counter moves, all at once.
pub(crate) fn succeed(
    conn: &mut Connection,
    id: i64,
    result_key: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let moved = tx.execute(
        "UPDATE generation_tasks SET state = 'succeeded', result_key = ?2, finished_at = ?3, last_error = NULL
         WHERE id = ?1 AND state IN ('running', 'downloading', 'creating')",
        params![id, result_key, now],
    )? == 1;
    if moved {
        tx.execute(
            "UPDATE generation_jobs SET completed = completed + 1
             WHERE id = (SELECT job_id FROM generation_tasks WHERE id = ?1)",
            [id],
        )?;
        tx.execute(
            "INSERT INTO portraits (avatar_id, task_id, position, object_key, created_at)
             SELECT j.avatar_id, t.id, t.prompt_index, ?2, ?3
             FROM generation_tasks t JOIN generation_jobs j ON j.id = t.job_id
             WHERE t.id = ?1 AND j.kind <> 'preview'",
            params![id, result_key, now],
        )?;
    }
    tx.commit()?;
    Ok(moved)
}

/// The task is given up for good (attempts exhausted or a permanent refusal).
pub(crate) fn fail(
    conn: &mut Connection,
    id: i64,
    error: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let moved = tx.execute(
        "UPDATE generation_tasks SET state = 'failed', last_error = ?2, finished_at = ?3
         WHERE id = ?1 AND state NOT IN ('succeeded', 'failed')",
        params![id, error, now],
    )? == 1;
    if moved {
        tx.execute(
            "UPDATE generation_jobs SET failed = failed + 1
             WHERE id = (SELECT job_id FROM generation_tasks WHERE id = ?1)",
            [id],
        )?;
    }
    tx.commit()?;
    Ok(moved)
}

/// Running jobs whose every task is final (ready for delivery).
pub(crate) fn finished_but_running(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {JOB_COLUMNS} FROM generation_jobs
         WHERE status = 'running' AND completed + failed = total ORDER BY id LIMIT ?1"
    ))?;
    stmt.query_map([limit], job_from_row)?.collect()
}

/// Moves a job from one status to the next; returns whether it moved.
pub(crate) fn set_status(
    conn: &Connection,
    id: i64,
    from: JobStatus,
    to: JobStatus,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE generation_jobs SET status = ?3,
                finished_at = CASE WHEN ?2 = 'running' THEN ?4 ELSE finished_at END,
                delivered_at = CASE WHEN ?3 IN ('done', 'partial', 'failed') THEN ?4 ELSE delivered_at END
         WHERE id = ?1 AND status = ?2",
        params![id, from.as_str(), to.as_str(), now],
    )? == 1)
}

/// Puts a task back in the queue without counting the attempt (rate limits,
/// a paused Kie, a restart: none of them is the task's fault).
pub(crate) fn retry_without_attempt(
    conn: &Connection,
    id: i64,
    note: &str,
    next_attempt_at: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE generation_tasks SET state = 'queued', kie_task_id = NULL, last_error = ?2,
                next_attempt_at = ?3, attempts = MAX(attempts - 1, 0)
         WHERE id = ?1 AND state IN ('creating', 'running', 'downloading')",
        params![id, note, next_attempt_at],
    )? == 1)
}

/// When the task's current attempt was sent to Kie.
pub(crate) fn submitted_at(conn: &Connection, id: i64) -> rusqlite::Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT submitted_at FROM generation_tasks WHERE id = ?1",
            [id],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten())
}

/// Jobs in `delivering` none of whose album rows is still pending or in flight.
pub(crate) fn delivering_with_queue_settled(conn: &Connection) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {JOB_COLUMNS} FROM generation_jobs j
         WHERE status = 'delivering' AND NOT EXISTS (
             SELECT 1 FROM message_queue q
             WHERE q.dedup_key LIKE 'job:' || j.id || ':%' AND q.status IN ('pending', 'sending'))"
    ))?;
    stmt.query_map([], job_from_row)?.collect()
}

/// Paid jobs whose progress message is behind their completed count. A job
/// that finished (even delivered) before its last count was shown is still
/// caught up, so "7 of 7" is always the message's final state.
pub(crate) fn progress_behind(
    conn: &Connection,
    limit: u32,
) -> rusqlite::Result<Vec<(Job, Option<i32>, i64)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {JOB_COLUMNS}, progress_message_id, progress_shown FROM generation_jobs
         WHERE payment_id IS NOT NULL AND completed <> progress_shown AND completed > 0
           AND status IN ('running', 'delivering', 'done', 'partial')
         ORDER BY id LIMIT ?1"
    ))?;
    stmt.query_map([limit], |r| Ok((job_from_row(r)?, r.get(11)?, r.get(12)?)))?
        .collect()
}

/// Records which count the progress message shows (and its id once sent).
pub(crate) fn set_progress(
    conn: &Connection,
    id: i64,
    message_id: Option<i32>,
    shown: u32,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE generation_jobs SET progress_message_id = COALESCE(?2, progress_message_id), progress_shown = ?3
         WHERE id = ?1",
        params![id, message_id, shown],
    )?;
    Ok(())
}

/// At start-up, tasks a killed process left in `creating` or `downloading`
/// are due at once (nothing else can be working on them). Returns how many.
pub(crate) fn resume_in_flight(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE generation_tasks SET next_attempt_at = ?1
         WHERE state IN ('creating', 'downloading') AND next_attempt_at > ?1",
        [now],
    )
}

/// An admin's `/retry`: the failed tasks of a finished paid set are queued
/// again from scratch, and the job runs again as retry round n+1. Returns
/// (round, tasks queued), or None when the job is not a finished paid set
/// with failed tasks.
pub(crate) fn requeue_failed(
    conn: &Connection,
    job_id: i64,
    now: i64,
) -> rusqlite::Result<Option<(u32, u32)>> {
    let tasks = conn.execute(
        "UPDATE generation_tasks SET state = 'queued', attempts = 0, kie_task_id = NULL,
                prompt_variant = 0, next_attempt_at = ?2, submitted_at = NULL, finished_at = NULL
         WHERE job_id = ?1 AND state = 'failed'
           AND EXISTS (SELECT 1 FROM generation_jobs j WHERE j.id = ?1 AND j.kind = 'paid'
                       AND j.status IN ('partial', 'failed'))",
        params![job_id, now],
    )? as u32;
    if tasks == 0 {
        return Ok(None);
    }
    conn.execute(
        "UPDATE generation_jobs SET failed = failed - ?2, status = 'running', finished_at = NULL,
                retry_round = retry_round + 1, retried_at = ?3
         WHERE id = ?1",
        params![job_id, tasks, now],
    )?;
    let round: u32 = conn.query_row(
        "SELECT retry_round FROM generation_jobs WHERE id = ?1",
        [job_id],
        |r| r.get(0),
    )?;
    Ok(Some((round, tasks)))
}

/// The retry round of a job (0: never retried) and when it was retried.
pub(crate) fn retry_round(conn: &Connection, job_id: i64) -> rusqlite::Result<(u32, Option<i64>)> {
    conn.query_row(
        "SELECT retry_round, retried_at FROM generation_jobs WHERE id = ?1",
        [job_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
