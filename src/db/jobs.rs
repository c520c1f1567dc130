//! Generation jobs (one per paid payment, preview or regeneration) and their
//! tasks (one per portrait, each one Kie task at a time).

use rusqlite::{Connection, OptionalExtension, Row, params};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Paid,
    Preview,
    Regenerate,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Paid => "paid",
            JobKind::Preview => "preview",
            JobKind::Regenerate => "regenerate",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub avatar_id: i64,
    pub user_id: i64,
    pub kind: String,
    pub payment_id: Option<i64>,
    pub total: u32,
    pub completed: u32,
    pub failed: u32,
    pub status: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        avatar_id: r.get(1)?,
        user_id: r.get(2)?,
        kind: r.get(3)?,
        payment_id: r.get(4)?,
        total: r.get(5)?,
        completed: r.get(6)?,
        failed: r.get(7)?,
        status: r.get(8)?,
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
/// call for the same payment returns the existing job and `false`.
pub fn create_for_payment(
    conn: &mut Connection,
    payment_id: i64,
    avatar_id: i64,
    user_id: i64,
    tasks: &[NewTask],
    now: i64,
) -> rusqlite::Result<(Job, bool)> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let inserted = tx.execute(
        "INSERT INTO generation_jobs (avatar_id, user_id, kind, payment_id, total, created_at)
         VALUES (?1, ?2, 'paid', ?3, ?4, ?5)
         ON CONFLICT (payment_id) DO NOTHING",
        params![avatar_id, user_id, payment_id, tasks.len() as i64, now],
    )? == 1;
    if inserted {
        let job_id = tx.last_insert_rowid();
        let mut insert = tx.prepare(
            "INSERT INTO generation_tasks (job_id, prompt_index, reference_keys, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for task in tasks {
            let keys = serde_json::to_string(&task.reference_keys)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            insert.execute(params![job_id, task.prompt_index, keys, now])?;
        }
    }
    let job = tx.query_row(
        &format!("SELECT {JOB_COLUMNS} FROM generation_jobs WHERE payment_id = ?1"),
        [payment_id],
        job_from_row,
    )?;
    tx.commit()?;
    Ok((job, inserted))
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Job>> {
    conn.query_row(
        &format!("SELECT {JOB_COLUMNS} FROM generation_jobs WHERE id = ?1"),
        [id],
        job_from_row,
    )
    .optional()
}

pub fn for_payment(conn: &Connection, payment_id: i64) -> rusqlite::Result<Option<Job>> {
    conn.query_row(
        &format!("SELECT {JOB_COLUMNS} FROM generation_jobs WHERE payment_id = ?1"),
        [payment_id],
        job_from_row,
    )
    .optional()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub job_id: i64,
    pub prompt_index: u32,
    pub prompt_variant: u32,
    pub reference_keys: Vec<String>,
    pub state: String,
    pub kie_task_id: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub result_key: Option<String>,
    pub last_error: Option<String>,
}

pub fn tasks(conn: &Connection, job_id: i64) -> rusqlite::Result<Vec<Task>> {
    let mut stmt = conn.prepare(
        "SELECT id, job_id, prompt_index, prompt_variant, reference_keys, state, kie_task_id,
                attempts, next_attempt_at, result_key, last_error
         FROM generation_tasks WHERE job_id = ?1 ORDER BY prompt_index",
    )?;
    stmt.query_map([job_id], |r| {
        let keys: String = r.get(4)?;
        Ok(Task {
            id: r.get(0)?,
            job_id: r.get(1)?,
            prompt_index: r.get(2)?,
            prompt_variant: r.get(3)?,
            reference_keys: serde_json::from_str(&keys).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    4,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
            state: r.get(5)?,
            kie_task_id: r.get(6)?,
            attempts: r.get(7)?,
            next_attempt_at: r.get(8)?,
            result_key: r.get(9)?,
            last_error: r.get(10)?,
        })
    })?
    .collect()
}
