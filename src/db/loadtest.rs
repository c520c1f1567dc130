//! The read-only queries of `pinglass loadtest` and of the funnel
//! invariants (`loadtest::invariants`): what the database says after a run
//! (job timings, payments, refunds, what is still pending or given up).

use rusqlite::Connection;

/// One paid job, with the times the report compares.
#[derive(Debug, Clone)]
pub struct JobTiming {
    pub(crate) job_id: i64,
    pub(crate) user_id: i64,
    pub(crate) payment_id: i64,
    pub(crate) total: i64,
    pub(crate) status: String,
    /// When the payment turned `confirmed` (the first time), ms.
    pub(crate) confirmed_at: Option<i64>,
    /// When the job's last album row was sent, ms.
    pub(crate) last_album_sent_at: Option<i64>,
    /// The Kie task ids of the job's tasks (every attempt that got one).
    pub(crate) kie_task_ids: Vec<String>,
    /// Each album row's uncertain sends (Telegram took it, perhaps: no
    /// answer, or killed mid-send), by part.
    pub(crate) album_uncertain: Vec<i64>,
    /// Portraits made, and given up (refunded), by the job.
    pub(crate) completed: i64,
    pub(crate) failed: i64,
    /// Portraits stored for the job's tasks.
    pub(crate) stored: i64,
}

pub(crate) fn paid_jobs(c: &Connection) -> rusqlite::Result<Vec<JobTiming>> {
    let mut stmt = c.prepare(
        "SELECT j.id, j.user_id, j.payment_id, j.total, j.status,
                (SELECT MIN(h.at) FROM payment_status_history h
                  WHERE h.payment_id = j.payment_id AND h.status = 'confirmed'),
                (SELECT MAX(q.sent_at) FROM message_queue q
                  WHERE q.dedup_key LIKE 'job:' || j.id || ':album:%' AND q.status = 'sent'),
                j.completed, j.failed,
                (SELECT COUNT(*) FROM portraits p JOIN generation_tasks t ON t.id = p.task_id
                  WHERE t.job_id = j.id)
           FROM generation_jobs j WHERE j.kind = 'paid' ORDER BY j.id",
    )?;
    let mut jobs = stmt
        .query_map([], |r| {
            Ok(JobTiming {
                job_id: r.get(0)?,
                user_id: r.get(1)?,
                payment_id: r.get(2)?,
                total: r.get(3)?,
                status: r.get(4)?,
                confirmed_at: r.get(5)?,
                last_album_sent_at: r.get(6)?,
                kie_task_ids: Vec::new(),
                album_uncertain: Vec::new(),
                completed: r.get(7)?,
                failed: r.get(8)?,
                stored: r.get(9)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut tasks = c.prepare(
        "SELECT kie_task_id FROM generation_tasks WHERE job_id = ?1 AND kie_task_id IS NOT NULL",
    )?;
    let mut albums = c.prepare(
        "SELECT uncertain FROM message_queue WHERE dedup_key LIKE 'job:' || ?1 || ':album:%'
          ORDER BY dedup_key",
    )?;
    for job in &mut jobs {
        job.kie_task_ids = tasks
            .query_map([job.job_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        job.album_uncertain = albums
            .query_map([job.job_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(jobs)
}

/// A payment and how many times it was recorded as confirmed.
#[derive(Debug, Clone)]
pub(crate) struct PaymentRow {
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) order_id: String,
    pub(crate) status: String,
    pub(crate) bank_payment_id: Option<String>,
    pub(crate) amount_kopecks: i64,
    pub(crate) portraits: i64,
    pub(crate) refunded_kopecks: i64,
    pub(crate) confirmations: i64,
    pub(crate) jobs: i64,
}

pub(crate) fn payments(c: &Connection) -> rusqlite::Result<Vec<PaymentRow>> {
    let mut stmt = c.prepare(
        "SELECT p.id, p.user_id, p.status, p.bank_payment_id, p.order_id, p.amount_kopecks,
                p.portraits, p.refunded_kopecks,
                -- Transitions into confirmed: a bank status change while
                -- confirmed (a partial refund) is a history row of its own.
                (SELECT COUNT(*) FROM (
                     SELECT h.status, LAG(h.status) OVER (ORDER BY h.id) AS previous
                       FROM payment_status_history h WHERE h.payment_id = p.id)
                  WHERE status = 'confirmed' AND previous IS NOT 'confirmed'),
                (SELECT COUNT(*) FROM generation_jobs j WHERE j.payment_id = p.id)
           FROM payments p ORDER BY p.id",
    )?;
    stmt.query_map([], |r| {
        Ok(PaymentRow {
            id: r.get(0)?,
            user_id: r.get(1)?,
            status: r.get(2)?,
            bank_payment_id: r.get(3)?,
            order_id: r.get(4)?,
            amount_kopecks: r.get(5)?,
            portraits: r.get(6)?,
            refunded_kopecks: r.get(7)?,
            confirmations: r.get(8)?,
            jobs: r.get(9)?,
        })
    })?
    .collect()
}

/// Work the bot has not finished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Pending {
    /// Queue rows pending or in flight.
    pub(crate) queue: i64,
    /// Jobs running or delivering.
    pub(crate) jobs: i64,
    /// Generation tasks not yet succeeded or failed.
    pub(crate) tasks: i64,
    /// Refunds not yet done or failed.
    pub(crate) refunds: i64,
}

pub(crate) fn pending(c: &Connection) -> rusqlite::Result<Pending> {
    let count = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
    Ok(Pending {
        queue: super::queue::depth(c)?,
        jobs: count(
            "SELECT COUNT(*) FROM generation_jobs WHERE status IN ('running', 'delivering')",
        )?,
        tasks: count(
            "SELECT COUNT(*) FROM generation_tasks WHERE state NOT IN ('succeeded', 'failed')",
        )?,
        refunds: count("SELECT COUNT(*) FROM refunds WHERE status = 'pending'")?,
    })
}

/// A refund row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefundRow {
    pub(crate) payment_id: i64,
    pub(crate) amount_kopecks: i64,
    pub(crate) status: String,
}

pub(crate) fn refunds(c: &Connection) -> rusqlite::Result<Vec<RefundRow>> {
    let mut stmt =
        c.prepare("SELECT payment_id, amount_kopecks, status FROM refunds ORDER BY id")?;
    stmt.query_map([], |r| {
        Ok(RefundRow {
            payment_id: r.get(0)?,
            amount_kopecks: r.get(1)?,
            status: r.get(2)?,
        })
    })?
    .collect()
}

/// A queued message the delivery gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailedMessage {
    pub(crate) chat_id: i64,
    pub(crate) dedup_key: String,
    pub(crate) last_error: Option<String>,
}

pub(crate) fn failed_messages(c: &Connection) -> rusqlite::Result<Vec<FailedMessage>> {
    let mut stmt = c.prepare(
        "SELECT chat_id, dedup_key, last_error FROM message_queue WHERE status = 'failed' ORDER BY id",
    )?;
    stmt.query_map([], |r| {
        Ok(FailedMessage {
            chat_id: r.get(0)?,
            dedup_key: r.get(1)?,
            last_error: r.get(2)?,
        })
    })?
    .collect()
}

/// How far a run has come: paid jobs finished (done, partial or failed),
/// payments rejected, and work in flight (`ops::in_flight`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub finished_paid_jobs: i64,
    pub rejected_payments: i64,
    pub in_flight: i64,
}

pub fn progress(c: &Connection) -> rusqlite::Result<Progress> {
    let count = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
    Ok(Progress {
        finished_paid_jobs: count(
            "SELECT COUNT(*) FROM generation_jobs
              WHERE kind = 'paid' AND status IN ('done', 'partial', 'failed')",
        )?,
        rejected_payments: count("SELECT COUNT(*) FROM payments WHERE status = 'rejected'")?,
        in_flight: super::ops::in_flight(c)?,
    })
}
