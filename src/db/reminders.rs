//! Reminders to people who stopped half-way: who may get one, and the record
//! of each one sent (at most one row per avatar and number, so a crash or a
//! second scan never sends a reminder twice).

use rusqlite::{Connection, Row, params};

use super::avatars::AvatarStatus;
use super::text_enum;

/// The open payment of an avatar someone may be reminded of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenPayment {
    pub(crate) id: i64,
    pub(crate) payment_url: Option<String>,
    pub(crate) tier_id: String,
    pub(crate) amount_kopecks: i64,
    pub(crate) portraits: u32,
    pub(crate) created_at: i64,
}

/// A user whose newest avatar is unfinished (draft or awaiting payment, at
/// least one photo, never paid for), who has not sent /stop, has not
/// blocked the bot, and has had fewer than two reminders for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) user_id: i64,
    pub(crate) language: String,
    pub(crate) avatar_id: i64,
    pub(crate) status: AvatarStatus,
    pub(crate) photos: u32,
    /// The last photo uploaded or the last change of a payment of this avatar.
    pub(crate) last_activity: i64,
    /// Reminders already sent for this avatar (0 or 1).
    pub(crate) sent: u32,
    pub(crate) first_sent_at: Option<i64>,
    /// A payment of this avatar ended without money (declined, expired, canceled).
    pub(crate) payment_ended: bool,
    pub(crate) open_payment: Option<OpenPayment>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Candidate> {
    let open_id: Option<i64> = r.get(9)?;
    let open_payment = match open_id {
        Some(id) => Some(OpenPayment {
            id,
            payment_url: r.get(10)?,
            tier_id: r.get(11)?,
            amount_kopecks: r.get(12)?,
            portraits: r.get(13)?,
            created_at: r.get(14)?,
        }),
        None => None,
    };
    Ok(Candidate {
        user_id: r.get(0)?,
        language: r.get(1)?,
        avatar_id: r.get(2)?,
        status: text_enum(r, 3, AvatarStatus::parse)?,
        photos: r.get(4)?,
        last_activity: r.get(5)?,
        sent: r.get(6)?,
        first_sent_at: r.get(7)?,
        payment_ended: r.get(8)?,
        open_payment,
    })
}

/// Users who may be due a reminder at `now`: their last activity lies
/// between `now - give_up_ms` and `now - first_ms`. Whether one is really
/// due (second reminder, night) is decided by the caller. Oldest first.
pub(crate) fn candidates(
    conn: &Connection,
    now: i64,
    first_ms: i64,
    give_up_ms: i64,
    limit: u32,
) -> rusqlite::Result<Vec<Candidate>> {
    let mut stmt = conn.prepare(
        "WITH latest AS (SELECT MAX(id) AS avatar_id FROM avatars GROUP BY user_id),
         c AS MATERIALIZED (
           SELECT a.id AS avatar_id, a.user_id, a.status,
             (SELECT COUNT(*) FROM reference_photos p
               WHERE p.avatar_id = a.id AND p.deleted_at IS NULL) AS photos,
             MAX(COALESCE((SELECT MAX(p.created_at) FROM reference_photos p
                            WHERE p.avatar_id = a.id), 0),
                 COALESCE((SELECT MAX(h.at) FROM payments pm
                            JOIN payment_status_history h ON h.payment_id = pm.id
                            WHERE pm.avatar_id = a.id), 0)) AS last_activity,
             (SELECT COUNT(*) FROM reminders r WHERE r.avatar_id = a.id) AS sent,
             (SELECT r.sent_at FROM reminders r
               WHERE r.avatar_id = a.id AND r.sequence = 1) AS first_sent_at,
             EXISTS (SELECT 1 FROM payments pm WHERE pm.avatar_id = a.id
                      AND pm.status NOT IN ('new', 'open')) AS payment_ended
           FROM latest
           JOIN avatars a ON a.id = latest.avatar_id
           JOIN users u ON u.id = a.user_id
           WHERE a.status IN ('draft', 'awaiting_payment')
             AND u.stopped = 0 AND u.blocked_at IS NULL AND u.deleted_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM payments pm
                              WHERE pm.avatar_id = a.id AND pm.confirmed_at IS NOT NULL)
         )
         SELECT c.user_id, u.language, c.avatar_id, c.status, c.photos, c.last_activity,
                c.sent, c.first_sent_at, c.payment_ended,
                op.id, op.payment_url, op.tier_id, op.amount_kopecks, op.portraits, op.created_at
         FROM c
         JOIN users u ON u.id = c.user_id
         LEFT JOIN payments op ON op.avatar_id = c.avatar_id AND op.status IN ('new', 'open')
         WHERE c.photos > 0 AND c.sent < 2
           AND c.last_activity >= ?1 - ?3 AND c.last_activity <= ?1 - ?2
         ORDER BY c.last_activity, c.avatar_id
         LIMIT ?4",
    )?;
    stmt.query_map(params![now, first_ms, give_up_ms, limit], from_row)?
        .collect()
}

/// Whether `avatar_id` is still the unfinished newest avatar of `user_id`,
/// never paid for, of a user who has not sent /stop or blocked the bot: the
/// check made again, under the write lock, right before a reminder is recorded.
pub fn still_eligible(conn: &Connection, user_id: i64, avatar_id: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (
           SELECT 1 FROM avatars a JOIN users u ON u.id = a.user_id
           WHERE a.id = ?2 AND a.user_id = ?1
             AND a.status IN ('draft', 'awaiting_payment')
             AND a.id = (SELECT MAX(id) FROM avatars WHERE user_id = ?1)
             AND u.stopped = 0 AND u.blocked_at IS NULL AND u.deleted_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM payments pm
                              WHERE pm.avatar_id = a.id AND pm.confirmed_at IS NOT NULL))",
        params![user_id, avatar_id],
        |r| r.get(0),
    )
}

/// Records reminder `sequence` (1 or 2) of an avatar. Returns false when it
/// was already recorded: the caller then queues nothing.
pub fn record(
    conn: &Connection,
    user_id: i64,
    avatar_id: i64,
    sequence: u8,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO reminders (user_id, avatar_id, sequence, sent_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (avatar_id, sequence) DO NOTHING",
        params![user_id, avatar_id, sequence, now],
    )? == 1)
}

/// The reminders recorded for an avatar: (sequence, time), in order.
pub fn for_avatar(conn: &Connection, avatar_id: i64) -> rusqlite::Result<Vec<(u8, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT sequence, sent_at FROM reminders WHERE avatar_id = ?1 ORDER BY sequence",
    )?;
    stmt.query_map([avatar_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}
