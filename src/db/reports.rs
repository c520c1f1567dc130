//! What the admin commands report: read-only SQL over the whole schema.
//! Every window is `(since, now]`, with `now` the application clock, so a
//! report is "as of now" (and rows stamped later do not count).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::events::Stage;

/// The numbers of `/stats` for one window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PeriodStats {
    /// Users who first wrote in the window.
    pub(crate) users: i64,
    /// Of those, how many have paid (ever).
    pub(crate) converted: i64,
    /// Distinct users with a payment confirmed in the window.
    pub(crate) paying: i64,
    /// Payments confirmed in the window.
    pub(crate) payments: i64,
    /// Their amount less what was refunded of it, kopecks.
    pub(crate) revenue_kopecks: i64,
    /// Paid sets finished (done or partial) in the window.
    pub(crate) jobs_done: i64,
    /// Portraits made in the window.
    pub(crate) portraits: i64,
}

pub(crate) fn period_stats(
    conn: &Connection,
    since: i64,
    now: i64,
) -> rusqlite::Result<PeriodStats> {
    conn.query_row(
        "SELECT
           (SELECT COUNT(*) FROM users WHERE created_at > ?1 AND created_at <= ?2),
           (SELECT COUNT(*) FROM users u WHERE u.created_at > ?1 AND u.created_at <= ?2
              AND EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.id
                          AND p.confirmed_at IS NOT NULL AND p.confirmed_at <= ?2)),
           (SELECT COUNT(DISTINCT user_id) FROM payments WHERE confirmed_at > ?1 AND confirmed_at <= ?2),
           (SELECT COUNT(*) FROM payments WHERE confirmed_at > ?1 AND confirmed_at <= ?2),
           (SELECT COALESCE(SUM(amount_kopecks - refunded_kopecks), 0) FROM payments
              WHERE confirmed_at > ?1 AND confirmed_at <= ?2),
           (SELECT COUNT(*) FROM generation_jobs WHERE kind = 'paid' AND status IN ('done', 'partial')
              AND finished_at > ?1 AND finished_at <= ?2),
           (SELECT COUNT(*) FROM portraits WHERE created_at > ?1 AND created_at <= ?2)",
        params![since, now],
        |r| {
            Ok(PeriodStats {
                users: r.get(0)?,
                converted: r.get(1)?,
                paying: r.get(2)?,
                payments: r.get(3)?,
                revenue_kopecks: r.get(4)?,
                jobs_done: r.get(5)?,
                portraits: r.get(6)?,
            })
        },
    )
}

/// When one user first reached each stage in the window (index = `Stage::ALL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserJourney {
    pub(crate) user_id: i64,
    pub(crate) reached: [Option<i64>; 5],
}

/// Every user with a funnel event in `(since, now]`, with the first time of
/// each stage (the first avatar's, for the stages that are about an avatar).
pub(crate) fn journeys(
    conn: &Connection,
    since: i64,
    now: i64,
) -> rusqlite::Result<Vec<UserJourney>> {
    let mut stmt = conn.prepare(
        "SELECT user_id, stage, MIN(at) FROM funnel_events
         WHERE at > ?1 AND at <= ?2 GROUP BY user_id, stage ORDER BY user_id",
    )?;
    let rows = stmt.query_map(params![since, now], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out: Vec<UserJourney> = Vec::new();
    for row in rows {
        let (user_id, stage, at) = row?;
        let Some(index) = Stage::ALL.iter().position(|s| s.as_str() == stage) else {
            continue;
        };
        if out.last().is_none_or(|j| j.user_id != user_id) {
            out.push(UserJourney {
                user_id,
                reached: [None; 5],
            });
        }
        if let Some(last) = out.last_mut() {
            last.reached[index] = Some(at);
        }
    }
    Ok(out)
}

/// Every A/B assignment: (user, experiment, variant).
pub(crate) fn assignments(conn: &Connection) -> rusqlite::Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT user_id, experiment, variant FROM ab_assignments ORDER BY experiment, variant, user_id",
    )?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}

/// Confirmed payments of one tier in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TierRevenue {
    pub(crate) tier_id: String,
    pub(crate) payments: i64,
    pub(crate) gross_kopecks: i64,
    pub(crate) refunded_kopecks: i64,
}

pub(crate) fn revenue_by_tier(
    conn: &Connection,
    since: i64,
    now: i64,
) -> rusqlite::Result<Vec<TierRevenue>> {
    let mut stmt = conn.prepare(
        "SELECT tier_id, COUNT(*), SUM(amount_kopecks), SUM(refunded_kopecks) FROM payments
         WHERE confirmed_at > ?1 AND confirmed_at <= ?2 GROUP BY tier_id ORDER BY SUM(amount_kopecks) DESC, tier_id",
    )?;
    stmt.query_map(params![since, now], |r| {
        Ok(TierRevenue {
            tier_id: r.get(0)?,
            payments: r.get(1)?,
            gross_kopecks: r.get(2)?,
            refunded_kopecks: r.get(3)?,
        })
    })?
    .collect()
}

/// Net revenue per UTC day of confirmation: (YYYY-MM-DD, payments, net kopecks);
/// only days with payments.
pub(crate) fn revenue_by_day(
    conn: &Connection,
    since: i64,
    now: i64,
) -> rusqlite::Result<Vec<(String, i64, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT date(confirmed_at / 1000, 'unixepoch') AS day, COUNT(*),
                SUM(amount_kopecks - refunded_kopecks)
         FROM payments WHERE confirmed_at > ?1 AND confirmed_at <= ?2 GROUP BY day ORDER BY day",
    )?;
    stmt.query_map(params![since, now], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?
    .collect()
}

/// One line of `/users`: who, when, and where they stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserLine {
    pub(crate) id: i64,
    pub(crate) first_name: String,
    pub(crate) username: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) blocked: bool,
    /// The furthest funnel stage reached, if any.
    pub(crate) stage: Option<Stage>,
    pub(crate) photos: i64,
    /// Status of the latest payment, if any.
    pub(crate) last_payment: Option<String>,
}

/// The columns of a [`UserLine`], of `users u`, in the order [`user_line`]
/// reads them; the stage is the rank (1 to 5) of the furthest one reached.
const USER_LINE_COLUMNS: &str =
    "u.id, u.first_name, u.username, u.created_at, u.blocked_at IS NOT NULL,
    (SELECT MAX(CASE stage WHEN 'onboarding' THEN 1 WHEN 'upload' THEN 2 WHEN 'payment' THEN 3
                           WHEN 'generation' THEN 4 WHEN 'delivered' THEN 5 END)
     FROM funnel_events WHERE user_id = u.id),
    (SELECT COUNT(*) FROM reference_photos p JOIN avatars a ON a.id = p.avatar_id
     WHERE a.user_id = u.id),
    (SELECT status FROM payments WHERE user_id = u.id ORDER BY created_at DESC, id DESC LIMIT 1)";

fn stage_of_rank(rank: Option<i64>) -> Option<Stage> {
    rank.and_then(|r| Stage::ALL.get(usize::try_from(r - 1).ok()?).copied())
}

/// A [`UserLine`] from the first eight columns of a row that starts with
/// [`USER_LINE_COLUMNS`].
fn user_line(r: &Row<'_>) -> rusqlite::Result<UserLine> {
    Ok(UserLine {
        id: r.get(0)?,
        first_name: r.get(1)?,
        username: r.get(2)?,
        created_at: r.get(3)?,
        blocked: r.get(4)?,
        stage: stage_of_rank(r.get(5)?),
        photos: r.get(6)?,
        last_payment: r.get(7)?,
    })
}

pub(crate) fn last_users(conn: &Connection, n: u32, now: i64) -> rusqlite::Result<Vec<UserLine>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {USER_LINE_COLUMNS}
         FROM users u WHERE u.created_at <= ?1 ORDER BY u.created_at DESC, u.id DESC LIMIT ?2"
    ))?;
    stmt.query_map(params![now, n], user_line)?.collect()
}

/// Everything `/user` shows about one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserDetail {
    pub(crate) line: UserLine,
    pub(crate) language: String,
    pub(crate) referral_code: String,
    pub(crate) referred_by: Option<i64>,
    pub(crate) referred_users: i64,
    pub(crate) referral_earned_kopecks: i64,
    pub(crate) variants: Vec<(String, String)>,
    /// (avatar id, status, tier, photos, created)
    pub(crate) avatars: Vec<(i64, String, Option<String>, i64, i64)>,
    pub(crate) payments: Vec<PaymentLine>,
    pub(crate) jobs: Vec<JobLine>,
}

pub(crate) fn user_detail(
    conn: &Connection,
    id: i64,
    now: i64,
) -> rusqlite::Result<Option<UserDetail>> {
    let line = conn
        .query_row(
            &format!(
                "SELECT {USER_LINE_COLUMNS},
                        u.language, u.referral_code, u.referred_by,
                        (SELECT COUNT(*) FROM users r WHERE r.referred_by = u.id),
                        (SELECT COALESCE(SUM(amount_kopecks - reversed_kopecks), 0)
                         FROM referral_earnings WHERE referrer_id = u.id)
                 FROM users u WHERE u.id = ?1"
            ),
            [id],
            |r| {
                Ok((
                    user_line(r)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, Option<i64>>(10)?,
                    r.get::<_, i64>(11)?,
                    r.get::<_, i64>(12)?,
                ))
            },
        )
        .optional()?;
    let Some((line, language, referral_code, referred_by, referred_users, earned)) = line else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT experiment, variant FROM ab_assignments WHERE user_id = ?1 ORDER BY experiment",
    )?;
    let variants = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(
        "SELECT a.id, a.status, a.tier_id,
                (SELECT COUNT(*) FROM reference_photos p WHERE p.avatar_id = a.id), a.created_at
         FROM avatars a WHERE a.user_id = ?1 ORDER BY a.id",
    )?;
    let avatars = stmt
        .query_map([id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let payments = payment_lines(conn, "p.user_id = ?1", id, now, 50)?;
    let jobs = job_lines(conn, "j.user_id = ?1", id, 50)?;
    Ok(Some(UserDetail {
        line,
        language,
        referral_code,
        referred_by,
        referred_users,
        referral_earned_kopecks: earned,
        variants,
        avatars,
        payments,
        jobs,
    }))
}

/// A payment as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaymentLine {
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) tier_id: String,
    pub(crate) amount_kopecks: i64,
    pub(crate) refunded_kopecks: i64,
    pub(crate) status: String,
    pub(crate) bank_status: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) checks: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) stuck_alerted: bool,
    /// Admin refunds or cancellations asked for and not failed.
    pub(crate) admin_requests: i64,
}

fn payment_lines(
    conn: &Connection,
    filter: &str,
    arg: i64,
    now: i64,
    limit: u32,
) -> rusqlite::Result<Vec<PaymentLine>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT p.id, p.user_id, p.tier_id, p.amount_kopecks, p.refunded_kopecks, p.status,
                p.bank_status, p.created_at, p.checks, p.last_error, p.stuck_alerted_at IS NOT NULL,
                (SELECT COUNT(*) FROM refunds r WHERE r.payment_id = p.id
                 AND r.reason IN ('admin_refund', 'admin_cancel', 'stuck') AND r.status <> 'failed')
         FROM payments p WHERE {filter} AND p.created_at <= ?2 ORDER BY p.created_at, p.id LIMIT ?3"
    ))?;
    stmt.query_map(params![arg, now, limit], |r| {
        Ok(PaymentLine {
            id: r.get(0)?,
            user_id: r.get(1)?,
            tier_id: r.get(2)?,
            amount_kopecks: r.get(3)?,
            refunded_kopecks: r.get(4)?,
            status: r.get(5)?,
            bank_status: r.get(6)?,
            created_at: r.get(7)?,
            checks: r.get(8)?,
            last_error: r.get(9)?,
            stuck_alerted: r.get(10)?,
            admin_requests: r.get(11)?,
        })
    })?
    .collect()
}

/// Open payments (new or open), oldest first.
pub(crate) fn pending_payments(conn: &Connection, now: i64) -> rusqlite::Result<Vec<PaymentLine>> {
    payment_lines(conn, "p.status IN ('new', 'open') AND ?1 = ?1", 0, now, 50)
}

/// A generation job as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobLine {
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) kind: String,
    pub(crate) status: String,
    pub(crate) total: i64,
    pub(crate) completed: i64,
    pub(crate) failed: i64,
    pub(crate) created_at: i64,
    pub(crate) finished_at: Option<i64>,
    /// Kie attempts over all tasks.
    pub(crate) attempts: i64,
    /// Tasks that needed more than one attempt.
    pub(crate) retried: i64,
    /// The last error of a failed task, if any.
    pub(crate) last_error: Option<String>,
}

fn job_lines(
    conn: &Connection,
    filter: &str,
    arg: i64,
    limit: u32,
) -> rusqlite::Result<Vec<JobLine>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT j.id, j.user_id, j.kind, j.status, j.total, j.completed, j.failed, j.created_at,
                j.finished_at,
                (SELECT COALESCE(SUM(attempts), 0) FROM generation_tasks t WHERE t.job_id = j.id),
                (SELECT COUNT(*) FROM generation_tasks t WHERE t.job_id = j.id AND t.attempts > 1),
                (SELECT last_error FROM generation_tasks t WHERE t.job_id = j.id AND t.state = 'failed'
                 ORDER BY t.id DESC LIMIT 1)
         FROM generation_jobs j WHERE {filter} ORDER BY j.created_at DESC, j.id DESC LIMIT ?2"
    ))?;
    stmt.query_map(params![arg, limit], |r| {
        Ok(JobLine {
            id: r.get(0)?,
            user_id: r.get(1)?,
            kind: r.get(2)?,
            status: r.get(3)?,
            total: r.get(4)?,
            completed: r.get(5)?,
            failed: r.get(6)?,
            created_at: r.get(7)?,
            finished_at: r.get(8)?,
            attempts: r.get(9)?,
            retried: r.get(10)?,
            last_error: r.get(11)?,
        })
    })?
    .collect()
}

/// The latest `n` jobs created up to `now`.
pub(crate) fn recent_jobs(conn: &Connection, n: u32, now: i64) -> rusqlite::Result<Vec<JobLine>> {
    job_lines(conn, "j.created_at <= ?1", now, n)
}
