//! Users: one row per Telegram user who ever wrote to the bot.

use rusqlite::{Connection, OptionalExtension, Row, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub(crate) id: i64,
    pub(crate) username: Option<String>,
    pub(crate) first_name: String,
    pub(crate) language: String,
    pub(crate) language_chosen: bool,
    pub referral_code: String,
    pub referred_by: Option<i64>,
    pub(crate) receipt_email: Option<String>,
    pub(crate) receipt_phone: Option<String>,
    pub stopped: bool,
    pub blocked_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
}

/// What Telegram tells us about a user on each update.
#[derive(Debug, Clone)]
pub struct SeenUser<'a> {
    pub id: i64,
    pub username: Option<&'a str>,
    pub first_name: &'a str,
    /// The language to store if the user is new (from Telegram's language_code).
    pub language: &'a str,
}

const COLUMNS: &str = "id, username, first_name, language, language_chosen, referral_code, \
    referred_by, receipt_email, receipt_phone, stopped, blocked_at, created_at, last_seen_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        first_name: r.get(2)?,
        language: r.get(3)?,
        language_chosen: r.get(4)?,
        referral_code: r.get(5)?,
        referred_by: r.get(6)?,
        receipt_email: r.get(7)?,
        receipt_phone: r.get(8)?,
        stopped: r.get(9)?,
        blocked_at: r.get(10)?,
        created_at: r.get(11)?,
        last_seen_at: r.get(12)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

pub(crate) fn by_referral_code(conn: &Connection, code: &str) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE referral_code = ?1"),
        [code],
        from_row,
    )
    .optional()
}

/// Records that a user was seen: creates the row on first contact (with the
/// given fresh referral code) or refreshes name and last-seen time. Returns
/// the user and whether the row was created now.
pub fn touch(
    conn: &Connection,
    seen: &SeenUser<'_>,
    fresh_referral_code: &str,
    now: i64,
) -> rusqlite::Result<(User, bool)> {
    let created = conn.execute(
        "INSERT INTO users (id, username, first_name, language, referral_code, created_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT (id) DO NOTHING",
        params![seen.id, seen.username, seen.first_name, seen.language, fresh_referral_code, now],
    )? == 1;
    if !created {
        conn.execute(
            "UPDATE users SET username = ?2, first_name = ?3, last_seen_at = ?4, blocked_at = NULL
             WHERE id = ?1",
            params![seen.id, seen.username, seen.first_name, now],
        )?;
    }
    let user = get(conn, seen.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok((user, created))
}

/// Sets the language the user chose with /language.
pub(crate) fn set_language(conn: &Connection, id: i64, language: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE users SET language = ?2, language_chosen = 1 WHERE id = ?1",
        params![id, language],
    )? == 1)
}

/// Attributes a new user to a referrer (first touch only, never oneself).
/// Returns whether the attribution was made.
pub fn attribute_referrer(conn: &Connection, id: i64, referrer_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE users SET referred_by = ?2 WHERE id = ?1 AND referred_by IS NULL AND ?1 <> ?2",
        params![id, referrer_id],
    )? == 1)
}

/// Remembers the receipt contact (54-FZ needs an email or a phone).
pub(crate) fn set_receipt_contact(
    conn: &Connection,
    id: i64,
    email: Option<&str>,
    phone: Option<&str>,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE users SET receipt_email = ?2, receipt_phone = ?3 WHERE id = ?1",
        params![id, email, phone],
    )? == 1)
}

pub fn mark_blocked(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET blocked_at = ?2 WHERE id = ?1 AND blocked_at IS NULL",
        params![id, now],
    )?;
    Ok(())
}

pub fn set_stopped(conn: &Connection, id: i64, stopped: bool) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET stopped = ?2 WHERE id = ?1",
        params![id, stopped],
    )?;
    Ok(())
}
