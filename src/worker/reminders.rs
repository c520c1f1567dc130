//! The reminders step: up to two gentle reminders per avatar to people who
//! stopped half-way — photos uploaded but not paid for, or a payment opened
//! and not finished.
//!
//! - **When**: counted from the last activity on the avatar (the last photo
//!   uploaded, or the last change of one of its payments, e.g. the link
//!   opened or the payment declined): the first after
//!   `reminders.first_after_hours`, the second after `second_after_hours`
//!   and at least as long after the first as the schedule puts between them.
//!   New activity moves both; the numbers used stay used (never more than two
//!   per avatar). Activity older than `give_up_after_hours` is left alone.
//! - **Never at night**: Telegram does not tell a user's timezone, so it is
//!   guessed from the language: Russian → UTC+3 (Moscow), English → UTC+0.
//!   A reminder due between `quiet_hours_start` and `quiet_hours_end` local
//!   time waits for the morning.
//! - **Never** for an avatar that was paid for, to a user who blocked the bot
//!   or sent /stop, or about an older avatar once a newer one exists.
//! - **Exactly once**: the `reminders` row and the queued message are written
//!   in one transaction; `UNIQUE (avatar_id, sequence)` and the queue's dedup
//!   key make a second scan or a crash-and-restart queue nothing more.
//!   Reminders are non-essential queue rows: the delivery step drops them for
//!   a user who sent /stop meanwhile.
//!
//! The database is scanned at most once a minute (the time of the next scan
//! is kept in `service_state`).

use rusqlite::Connection;
use tracing::info;

use super::WorkerCtx;
use crate::chat::callback::Callback;
use crate::chat::outbox::{self, Button, Delivery, Outgoing};
use crate::config::{Config, RemindersConfig};
use crate::db::avatars::AvatarStatus;
use crate::db::reminders::{self, Candidate};
use crate::db::service_state;
use crate::i18n::{Arg, Lang, rub, tr, tr_args};

const HOUR_MS: i64 = 3_600_000;
/// The database is scanned for due reminders at most this often.
pub(crate) const SCAN_EVERY_MS: i64 = 60_000;
const NEXT_SCAN_KEY: &str = "reminders_next_scan_at";
/// Candidates looked at per scan (oldest activity first; the rest next scan).
const BATCH: u32 = 500;
/// A payment link expiring sooner than this is not offered again: the
/// payment ends first and the reminder offers the packages instead.
const LINK_MARGIN_MS: i64 = HOUR_MS;

/// The UTC offset guessed for a user, in hours: Telegram does not tell the
/// timezone, so Russian speakers are taken to be on Moscow time (UTC+3) and
/// English speakers on UTC.
pub(crate) fn guessed_utc_offset_hours(lang: Lang) -> i64 {
    match lang {
        Lang::Ru => 3,
        Lang::En => 0,
    }
}

/// The local hour (0–23) at `now_ms` for a user speaking `lang`.
pub fn local_hour(now_ms: i64, lang: Lang) -> u32 {
    (now_ms.div_euclid(HOUR_MS) + guessed_utc_offset_hours(lang)).rem_euclid(24) as u32
}

/// Whether `now_ms` is night for a user speaking `lang`.
pub fn is_quiet(config: &RemindersConfig, lang: Lang, now_ms: i64) -> bool {
    let (start, end) = (config.quiet_hours_start, config.quiet_hours_end);
    let hour = local_hour(now_ms, lang);
    match start.cmp(&end) {
        std::cmp::Ordering::Equal => false,
        std::cmp::Ordering::Less => start <= hour && hour < end,
        std::cmp::Ordering::Greater => hour >= start || hour < end,
    }
}

/// Which reminder (1 or 2) is due at `now`, if any, for an avatar whose last
/// activity was at `last_activity`, with `sent` reminders already sent (the
/// first at `first_sent_at`). The whole schedule and night rule, without
/// the database.
pub fn due(
    config: &RemindersConfig,
    lang: Lang,
    last_activity: i64,
    sent: u32,
    first_sent_at: Option<i64>,
    now: i64,
) -> Option<u8> {
    if !config.enabled {
        return None;
    }
    let first = i64::from(config.first_after_hours) * HOUR_MS;
    let second = i64::from(config.second_after_hours) * HOUR_MS;
    let (sequence, due_at) = match sent {
        0 => (1, last_activity + first),
        1 => {
            // At least the schedule's gap after the first (which may have
            // waited for the morning).
            let after_first = first_sent_at.unwrap_or(last_activity) + (second - first);
            (2, (last_activity + second).max(after_first))
        }
        _ => return None,
    };
    let give_up_at = last_activity + i64::from(config.give_up_after_hours) * HOUR_MS;
    if now < due_at || now >= give_up_at || is_quiet(config, lang, now) {
        return None;
    }
    Some(sequence)
}

/// The reminder for where the user stopped, or None when there is nothing
/// sensible to say now (a payment link not made yet or about to expire).
pub(crate) fn compose(
    config: &Config,
    candidate: &Candidate,
    sequence: u8,
    now: i64,
) -> Option<Outgoing> {
    let lang = Lang::parse(&candidate.language).unwrap_or(Lang::Ru);
    let min = config.upload.min_photos;
    let (text, buttons) = if let Some(payment) = &candidate.open_payment {
        let url = payment.payment_url.clone()?;
        let expires_at =
            payment.created_at + i64::from(config.tbank.payment_deadline_hours) * HOUR_MS;
        if expires_at - now < LINK_MARGIN_MS {
            return None;
        }
        let tier = config
            .tier(&payment.tier_id)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| payment.tier_id.clone());
        let portraits = tr_args(lang, "portraits", &[("count", payment.portraits.into())]);
        let text = tr_args(
            lang,
            "reminder-payment-open",
            &[
                ("tier", Arg::Str(&tier)),
                ("portraits", Arg::Str(&portraits)),
                ("amount", Arg::Str(&rub(lang, payment.amount_kopecks))),
            ],
        );
        let buttons = vec![
            vec![Button::Url {
                text: tr(lang, "payment-button-pay"),
                url,
            }],
            vec![Button::Callback {
                text: tr(lang, "payment-button-paid"),
                data: Callback::CheckPayment(payment.id).encode(),
            }],
        ];
        (text, buttons)
    } else if candidate.status != AvatarStatus::Draft {
        return None;
    } else if candidate.photos < min {
        let text = tr_args(
            lang,
            "reminder-more-photos",
            &[
                (
                    "photos",
                    Arg::Str(&tr_args(
                        lang,
                        "photos",
                        &[("count", candidate.photos.into())],
                    )),
                ),
                (
                    "more",
                    Arg::Str(&tr_args(
                        lang,
                        "photos",
                        &[("count", (min - candidate.photos).into())],
                    )),
                ),
            ],
        );
        (text, Vec::new())
    } else if candidate.payment_ended {
        let button = Button::Callback {
            text: tr(lang, "payment-button-retry"),
            data: Callback::Packages(candidate.avatar_id).encode(),
        };
        (tr(lang, "reminder-payment-ended"), vec![vec![button]])
    } else {
        let photos = tr_args(lang, "photos", &[("count", candidate.photos.into())]);
        let button = Button::Callback {
            text: tr(lang, "upload-button-generate"),
            data: Callback::Generate(candidate.avatar_id).encode(),
        };
        let text = tr_args(lang, "reminder-generate", &[("photos", Arg::Str(&photos))]);
        (text, vec![vec![button]])
    };
    let footer = if sequence == 1 {
        tr(lang, "reminder-footer-first")
    } else {
        tr(lang, "reminder-footer-last")
    };
    Some(Outgoing::Text {
        text: format!("{text}\n\n{footer}"),
        buttons,
    })
}

/// One scan: every due reminder is recorded and queued (non-essential),
/// the row and the message in one transaction. The candidates are read
/// without holding the write lock; each one is checked again under it.
/// Returns how many were queued.
pub fn scan(conn: &mut Connection, config: &Config, now: i64) -> rusqlite::Result<usize> {
    let r = &config.reminders;
    if !r.enabled {
        return Ok(0);
    }
    let candidates = reminders::candidates(
        conn,
        now,
        i64::from(r.first_after_hours) * HOUR_MS,
        i64::from(r.give_up_after_hours) * HOUR_MS,
        BATCH,
    )?;
    let due_now: Vec<(Candidate, u8, Outgoing)> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let lang = Lang::parse(&candidate.language).unwrap_or(Lang::Ru);
            let sequence = due(
                r,
                lang,
                candidate.last_activity,
                candidate.sent,
                candidate.first_sent_at,
                now,
            )?;
            let message = compose(config, &candidate, sequence, now)?;
            Some((candidate, sequence, message))
        })
        .collect();
    if due_now.is_empty() {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut queued = 0;
    for (candidate, sequence, message) in due_now {
        let (user_id, avatar_id) = (candidate.user_id, candidate.avatar_id);
        // Paid, /stop or a new set since the read: nothing. Already recorded
        // (a second scan, a restart): nothing either.
        if reminders::still_eligible(&tx, user_id, avatar_id)?
            && reminders::record(&tx, user_id, avatar_id, sequence, now)?
        {
            let key = format!("reminder:{avatar_id}:{sequence}");
            outbox::enqueue(&tx, user_id, &message, &key, Delivery::Optional, now)?;
            info!(user_id, avatar_id, sequence, "reminder queued");
            queued += 1;
        }
    }
    tx.commit()?;
    Ok(queued)
}

/// [`scan`] at most once every [`SCAN_EVERY_MS`] (a clock that jumped back
/// does not stall it).
pub fn run_once(conn: &mut Connection, config: &Config, now: i64) -> rusqlite::Result<usize> {
    if !config.reminders.enabled {
        return Ok(0);
    }
    if let Some(next) = service_state::get_i64(conn, NEXT_SCAN_KEY)?
        && now < next
        && next - now <= SCAN_EVERY_MS
    {
        return Ok(0);
    }
    let queued = scan(conn, config, now)?;
    service_state::set_i64(conn, NEXT_SCAN_KEY, now + SCAN_EVERY_MS, now)?;
    Ok(queued)
}

/// The side-task step.
pub(crate) async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let config = ctx.config.clone();
    let queued = ctx.db.run(move |c| run_once(c, &config, now)).await?;
    if queued > 0 {
        ctx.wake.notify_one();
    }
    Ok(queued)
}
