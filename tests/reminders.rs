//! Reminders to people who stopped half-way, and /stop: the schedule and the
//! night rule with fixed times (a transcript runs at whatever hour CI does),
//! the scan against a real database (who gets one, which text, never twice),
//! and the delivery step dropping non-essential messages after /stop.

use pinglass::chat::outbox::{self, Button, Delivery, Outgoing};
use pinglass::config::{Config, RemindersConfig, Secrets};
use pinglass::db::{Db, avatars, payments, reminders, users};
use pinglass::i18n::Lang;
use pinglass::telegram::standin::UserSpec;
use pinglass::worker::reminders::{due, is_quiet, local_hour, run_once, scan};

use crate::support::{LONG, TestApp, bot_text_contains, wait_for};

const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

/// 2026-01-15 at `hour:minute` UTC, in ms.
fn utc(day: u32, hour: u32, minute: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(2026, 1, day)
        .unwrap()
        .and_hms_opt(hour, minute, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

/// Moscow time (UTC+3) of 2026-01-`day`, in ms.
fn msk(day: u32, hour: u32, minute: u32) -> i64 {
    utc(day, hour, minute) - 3 * HOUR
}

fn shipped() -> Config {
    Config::from_toml_str(Config::shipped_toml(), Secrets::default()).unwrap()
}

fn schedule() -> RemindersConfig {
    let config = shipped().reminders;
    assert_eq!(
        (
            config.enabled,
            config.first_after_hours,
            config.second_after_hours,
            config.quiet_hours_start,
            config.quiet_hours_end
        ),
        (true, 1, 24, 22, 9),
        "the shipped schedule these tests describe"
    );
    config
}

#[test]
fn the_timezone_is_guessed_from_the_language() {
    let noon_utc = utc(15, 12, 0);
    assert_eq!(local_hour(noon_utc, Lang::Ru), 15, "Moscow: UTC+3");
    assert_eq!(local_hour(noon_utc, Lang::En), 12, "English: UTC");
    assert_eq!(
        local_hour(utc(15, 22, 30), Lang::Ru),
        1,
        "past midnight in Moscow"
    );
}

#[test]
fn night_is_22_to_9_local_and_equal_hours_mean_no_night() {
    let c = schedule();
    assert!(!is_quiet(&c, Lang::Ru, msk(15, 21, 59)));
    assert!(is_quiet(&c, Lang::Ru, msk(15, 22, 0)));
    assert!(is_quiet(&c, Lang::Ru, msk(16, 3, 0)));
    assert!(is_quiet(&c, Lang::Ru, msk(16, 8, 59)));
    assert!(!is_quiet(&c, Lang::Ru, msk(16, 9, 0)));
    // 23:00 in Moscow is 20:00 UTC: evening, not night, for an English speaker.
    assert!(!is_quiet(&c, Lang::En, msk(15, 23, 0)));
    assert!(is_quiet(&c, Lang::En, utc(15, 23, 0)));
    // A night that does not cross midnight.
    let early = RemindersConfig {
        quiet_hours_start: 1,
        quiet_hours_end: 6,
        ..c.clone()
    };
    assert!(!is_quiet(&early, Lang::En, utc(15, 0, 30)));
    assert!(is_quiet(&early, Lang::En, utc(15, 1, 0)));
    assert!(!is_quiet(&early, Lang::En, utc(15, 6, 0)));
    let none = RemindersConfig {
        quiet_hours_start: 0,
        quiet_hours_end: 0,
        ..c
    };
    for hour in 0..24 {
        assert!(!is_quiet(&none, Lang::Ru, utc(15, hour, 0)));
    }
}

#[test]
fn first_after_an_hour_second_after_a_day_then_never() {
    let c = schedule();
    let last = msk(15, 10, 0);
    assert_eq!(due(&c, Lang::Ru, last, 0, None, last + 59 * MINUTE), None);
    assert_eq!(due(&c, Lang::Ru, last, 0, None, last + HOUR), Some(1));
    let first = last + HOUR + MINUTE;
    assert_eq!(
        due(&c, Lang::Ru, last, 1, Some(first), last + 2 * HOUR),
        None
    );
    // A day after the activity, and 23 hours (the schedule's gap) after the first.
    assert_eq!(
        due(&c, Lang::Ru, last, 1, Some(first), last + 24 * HOUR),
        None
    );
    assert_eq!(
        due(
            &c,
            Lang::Ru,
            last,
            1,
            Some(first),
            last + 24 * HOUR + MINUTE
        ),
        Some(2)
    );
    for later in [25, 30, 48, 60] {
        assert_eq!(
            due(&c, Lang::Ru, last, 2, Some(first), last + later * HOUR),
            None
        );
    }
    // Long-gone activity is left alone (72 hours).
    assert_eq!(due(&c, Lang::Ru, last, 0, None, last + 72 * HOUR), None);
    assert_eq!(
        due(&c, Lang::Ru, last, 1, Some(first), last + 71 * HOUR),
        Some(2)
    );
    // Switched off: nothing.
    let off = RemindersConfig {
        enabled: false,
        ..c
    };
    assert_eq!(due(&off, Lang::Ru, last, 0, None, last + 2 * HOUR), None);
}

#[test]
fn a_reminder_due_at_night_waits_for_the_morning_and_keeps_its_gap() {
    let c = schedule();
    // Photos at 21:30 Moscow time: the first reminder is due at 22:30, night.
    let last = msk(15, 21, 30);
    assert_eq!(due(&c, Lang::Ru, last, 0, None, msk(15, 22, 30)), None);
    assert_eq!(due(&c, Lang::Ru, last, 0, None, msk(16, 3, 0)), None);
    assert_eq!(due(&c, Lang::Ru, last, 0, None, msk(16, 8, 59)), None);
    assert_eq!(due(&c, Lang::Ru, last, 0, None, msk(16, 9, 0)), Some(1));
    // The same moment is 19:30 UTC: an English speaker gets it at once.
    assert_eq!(due(&c, Lang::En, last, 0, None, msk(15, 22, 30)), Some(1));
    // The first went out at 9:00; the second is not due a day after the
    // photos (21:30, only 12.5 hours after the first) but 23 hours after
    // the first — 8:00, still night — so at 9:00.
    let first = msk(16, 9, 0);
    assert_eq!(
        due(&c, Lang::Ru, last, 1, Some(first), msk(16, 21, 30)),
        None
    );
    assert_eq!(due(&c, Lang::Ru, last, 1, Some(first), msk(17, 8, 0)), None);
    assert_eq!(
        due(&c, Lang::Ru, last, 1, Some(first), msk(17, 9, 0)),
        Some(2)
    );
}

#[test]
fn the_reminder_config_is_validated() {
    let text = Config::shipped_toml();
    for (from, to, field) in [
        (
            "first_after_hours = 1",
            "first_after_hours = 0",
            "reminders.first_after_hours",
        ),
        (
            "second_after_hours = 24",
            "second_after_hours = 1",
            "reminders.second_after_hours",
        ),
        (
            "give_up_after_hours = 72",
            "give_up_after_hours = 30",
            "reminders.give_up_after_hours",
        ),
        (
            "quiet_hours_start = 22",
            "quiet_hours_start = 24",
            "reminders.quiet_hours_start",
        ),
        (
            "quiet_hours_end = 9",
            "quiet_hours_end = 25",
            "reminders.quiet_hours_end",
        ),
    ] {
        assert!(text.contains(from), "bot.toml no longer contains {from:?}");
        let error = Config::from_toml_str(&text.replacen(from, to, 1), Secrets::default())
            .expect_err(to)
            .to_string();
        assert!(error.contains(field), "{error:?} does not name {field}");
    }
}

// ---- The scan against a real database ----

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("test.sqlite3"), 2).unwrap();
    (dir, db)
}

fn user(c: &rusqlite::Connection, id: i64, language: &str) {
    users::touch(
        c,
        &users::SeenUser {
            id,
            username: None,
            first_name: "Anna",
            language,
        },
        &format!("code{id}"),
        1_000,
    )
    .unwrap();
}

/// A draft of `user_id` with `photos` photos, the last one uploaded at `at`.
fn draft(c: &mut rusqlite::Connection, user_id: i64, photos: u32, at: i64) -> i64 {
    let avatar = avatars::create_draft(c, user_id, at - HOUR).unwrap();
    for i in 0..photos {
        let name = format!("{}-{i}", avatar.id);
        let photo = avatars::NewPhoto {
            avatar_id: avatar.id,
            file_id: &name,
            file_unique_id: &name,
            sha256: &name,
            object_key: &format!("refs/{name}.jpg"),
            width: 800,
            height: 1000,
            size_bytes: 1,
        };
        let time = at - i64::from(photos - 1 - i) * MINUTE;
        avatars::add_photo(c, &photo, 15, time).unwrap();
    }
    avatar.id
}

/// A payment of the avatar opened at `at` (avatar awaiting payment).
fn open_payment(c: &rusqlite::Connection, user_id: i64, avatar_id: i64, at: i64) -> i64 {
    let created = payments::create(
        c,
        &payments::NewPayment {
            order_id: &format!("order-{avatar_id}-{at}"),
            user_id,
            avatar_id,
            tier_id: "starter",
            amount_kopecks: 49900,
            portraits: 7,
            discount_kopecks: 0,
            receipt_contact: "a@example.ru",
        },
        at,
    )
    .unwrap();
    let payments::CreatePayment::Created(payment) = created else {
        panic!("a payment was already open");
    };
    avatars::transition(
        c,
        avatar_id,
        avatars::AvatarStatus::Draft,
        avatars::AvatarStatus::AwaitingPayment,
        at,
    )
    .unwrap();
    let url = format!("https://securepay.example/pay/{}", payment.id);
    let bank_id = format!("bank-{}", payment.id);
    payments::mark_opened(c, payment.id, &bank_id, &url, "NEW", at, at).unwrap();
    payment.id
}

/// The queued messages of a chat: (dedup key, essential, payload).
fn queued(c: &rusqlite::Connection, chat_id: i64) -> Vec<(String, bool, Outgoing)> {
    let mut stmt = c
        .prepare("SELECT dedup_key, essential, payload FROM message_queue WHERE chat_id = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([chat_id], |r| {
        let payload: String = r.get(2)?;
        Ok((r.get(0)?, r.get(1)?, outbox::decode(&payload).unwrap()))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn text_and_buttons(message: &Outgoing) -> (&str, Vec<&Button>) {
    match message {
        Outgoing::Text { text, buttons } => (text, buttons.iter().flatten().collect()),
        other => panic!("a reminder is text, not {other:?}"),
    }
}

#[test]
fn a_draft_with_enough_photos_gets_two_reminders_with_the_generate_button_and_no_more() {
    let (_dir, db) = open();
    let config = shipped();
    let last = msk(15, 11, 0);
    let avatar = db
        .run_blocking(|c| {
            user(c, 1, "ru");
            Ok(draft(c, 1, 5, last))
        })
        .unwrap();
    db.run_blocking(|c| {
        assert_eq!(scan(c, &config, last + 50 * MINUTE)?, 0, "not yet due");
        assert_eq!(scan(c, &config, last + 70 * MINUTE)?, 1);
        // Scanning again (or after a restart) queues nothing more.
        assert_eq!(scan(c, &config, last + 71 * MINUTE)?, 0);
        assert_eq!(scan(c, &config, last + 23 * HOUR)?, 0);
        assert_eq!(
            scan(c, &config, last + 24 * HOUR + 5 * MINUTE)?,
            0,
            "23 h after the first"
        );
        assert_eq!(scan(c, &config, last + 24 * HOUR + 11 * MINUTE)?, 1);
        assert_eq!(scan(c, &config, last + 48 * HOUR)?, 0);
        assert_eq!(scan(c, &config, last + 60 * HOUR)?, 0);
        Ok(())
    })
    .unwrap();
    let (rows, messages) = db
        .run_blocking(|c| Ok((reminders::for_avatar(c, avatar)?, queued(c, 1))))
        .unwrap();
    assert_eq!(
        rows,
        [(1, last + 70 * MINUTE), (2, last + 24 * HOUR + 11 * MINUTE)]
    );
    assert_eq!(messages.len(), 2);
    for (i, (key, essential, message)) in messages.iter().enumerate() {
        assert_eq!(key, &format!("reminder:{avatar}:{}", i + 1));
        assert!(!essential, "reminders are not essential");
        let (text, buttons) = text_and_buttons(message);
        assert!(text.contains("5 фото"), "{text}");
        assert!(
            matches!(buttons.as_slice(), [Button::Callback { data, .. }] if *data == format!("gen:{avatar}")),
            "{buttons:?}"
        );
    }
    assert!(text_and_buttons(&messages[0].2).0.contains("/stop"));
    assert!(text_and_buttons(&messages[1].2).0.contains("последнее"));
}

#[test]
fn the_text_depends_on_where_the_user_stopped() {
    let (_dir, db) = open();
    let config = shipped();
    let last = msk(15, 11, 0);
    let now = last + 2 * HOUR;
    let (few, ended, open) = db
        .run_blocking(|c| {
            user(c, 1, "ru");
            user(c, 2, "en");
            user(c, 3, "ru");
            // Two photos of five.
            let few = draft(c, 1, 2, last);
            // A payment declined: back to draft.
            let ended = draft(c, 2, 6, last - HOUR);
            let payment = open_payment(c, 2, ended, last - 30 * MINUTE);
            payments::finish(
                c,
                payment,
                payments::PaymentStatus::Rejected,
                Some("REJECTED"),
                last,
            )?;
            avatars::transition(
                c,
                ended,
                avatars::AvatarStatus::AwaitingPayment,
                avatars::AvatarStatus::Draft,
                last,
            )?;
            // A payment opened and not finished.
            let open = draft(c, 3, 5, last - HOUR);
            let payment = open_payment(c, 3, open, last);
            Ok((few, ended, (open, payment)))
        })
        .unwrap();
    assert_eq!(db.run_blocking(|c| scan(c, &config, now)).unwrap(), 3);
    let messages = |chat| db.run_blocking(move |c| Ok(queued(c, chat))).unwrap();

    let first = messages(1);
    let (text, buttons) = text_and_buttons(&first[0].2);
    assert!(
        text.contains("уже 2 фото") && text.contains("ещё 3 фото"),
        "{text}"
    );
    assert!(
        buttons.is_empty(),
        "photos are sent, not pressed: {buttons:?}"
    );
    assert_eq!(first[0].0, format!("reminder:{few}:1"));

    let second = messages(2);
    let (text, buttons) = text_and_buttons(&second[0].2);
    assert!(text.contains("did not go through"), "in English: {text}");
    assert!(
        matches!(buttons.as_slice(), [Button::Callback { data, .. }] if *data == format!("pkgs:{ended}")),
        "{buttons:?}"
    );

    let third = messages(3);
    let (text, buttons) = text_and_buttons(&third[0].2);
    assert!(text.contains("Starter") && text.contains("499"), "{text}");
    let (open_avatar, payment) = open;
    assert_eq!(third[0].0, format!("reminder:{open_avatar}:1"));
    assert!(
        matches!(buttons.as_slice(), [
            Button::Url { url, .. },
            Button::Callback { data, .. },
        ] if url.ends_with(&format!("/pay/{payment}")) && *data == format!("paid:{payment}")),
        "the link again and «I have paid»: {buttons:?}"
    );
}

#[test]
fn nobody_is_reminded_after_paying_stopping_blocking_or_starting_over() {
    let (_dir, db) = open();
    let config = shipped();
    let last = msk(15, 11, 0);
    db.run_blocking(|c| {
        for id in 1..=5 {
            user(c, id, "ru");
        }
        // 1 paid: the payment confirmed, the avatar generating.
        let paid = draft(c, 1, 5, last);
        let payment = open_payment(c, 1, paid, last);
        payments::finish(
            c,
            payment,
            payments::PaymentStatus::Confirmed,
            Some("CONFIRMED"),
            last,
        )?;
        avatars::transition(
            c,
            paid,
            avatars::AvatarStatus::AwaitingPayment,
            avatars::AvatarStatus::Generating,
            last,
        )?;
        // 2 sent /stop, 3 blocked the bot.
        draft(c, 2, 5, last);
        users::set_stopped(c, 2, true)?;
        draft(c, 3, 5, last);
        users::mark_blocked(c, 3, last)?;
        // 4 began a new set (no photos yet) after leaving one with photos.
        draft(c, 4, 5, last);
        avatars::create_draft(c, 4, last)?;
        // 5 only pressed /start: a draft without photos.
        avatars::create_draft(c, 5, last)?;
        Ok(())
    })
    .unwrap();
    for hours in [2, 25, 50] {
        assert_eq!(
            db.run_blocking(|c| scan(c, &config, last + hours * HOUR))
                .unwrap(),
            0,
            "{hours} hours later"
        );
    }
    // The control: the stopped user turning reminders on again gets one.
    db.run_blocking(|c| users::set_stopped(c, 2, false))
        .unwrap();
    assert_eq!(
        db.run_blocking(|c| scan(c, &config, last + 2 * HOUR))
            .unwrap(),
        1
    );
}

#[test]
fn a_reminder_recorded_before_a_crash_is_not_queued_again() {
    let (_dir, db) = open();
    let config = shipped();
    let last = msk(15, 11, 0);
    let avatar = db
        .run_blocking(|c| {
            user(c, 1, "ru");
            let avatar = draft(c, 1, 5, last);
            // The first reminder was recorded (and its message queued) by a
            // process that died right after.
            reminders::record(c, 1, avatar, 1, last + HOUR)?;
            Ok(avatar)
        })
        .unwrap();
    assert_eq!(
        db.run_blocking(|c| scan(c, &config, last + 2 * HOUR))
            .unwrap(),
        0
    );
    assert!(db.run_blocking(|c| Ok(queued(c, 1))).unwrap().is_empty());
    assert_eq!(
        db.run_blocking(|c| reminders::for_avatar(c, avatar))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_due_reminder_at_night_is_queued_in_the_morning() {
    let (_dir, db) = open();
    let config = shipped();
    let last = msk(15, 21, 30);
    db.run_blocking(|c| {
        user(c, 1, "ru");
        draft(c, 1, 5, last);
        Ok(())
    })
    .unwrap();
    for night in [msk(15, 22, 40), msk(16, 2, 0), msk(16, 8, 55)] {
        assert_eq!(db.run_blocking(|c| scan(c, &config, night)).unwrap(), 0);
    }
    assert_eq!(
        db.run_blocking(|c| scan(c, &config, msk(16, 9, 1)))
            .unwrap(),
        1
    );
}

#[test]
fn the_database_is_scanned_at_most_once_a_minute() {
    let (_dir, db) = open();
    let config = shipped();
    let last = msk(15, 11, 0);
    db.run_blocking(|c| {
        user(c, 1, "ru");
        draft(c, 1, 5, last);
        Ok(())
    })
    .unwrap();
    let run = |now: i64| db.run_blocking(|c| run_once(c, &config, now)).unwrap();
    assert_eq!(run(last + 59 * MINUTE + 30_000), 0, "not due yet");
    assert_eq!(
        run(last + 60 * MINUTE + 10_000),
        0,
        "due, but the last scan was 40 s ago"
    );
    assert_eq!(
        run(last + 60 * MINUTE + 31_000),
        1,
        "a minute after the last scan"
    );
}

// ---- /stop and the delivery step, in the real application ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_stop_non_essential_messages_are_dropped_and_essential_ones_still_go() {
    let app = TestApp::start().await;
    let sandbox = app.telegram.sandbox().clone();
    let user = UserSpec::new(3201, "Ира").with_language("ru");
    sandbox.send_text(&user, "/start").unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
    sandbox.send_text(&user, "/stop").unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the /stop answer",
        |e| bot_text_contains(e, "больше никаких напоминаний"),
        LONG,
    )
    .await;
    let stopped = app
        .app()
        .db
        .run_blocking(|c| users::get(c, 3201))
        .unwrap()
        .unwrap()
        .stopped;
    assert!(stopped);

    let enqueue = |text: &'static str, key: &'static str, delivery: Delivery| {
        let now = app.clock.now_ms();
        app.app()
            .db
            .run_blocking(move |c| {
                outbox::enqueue(c, 3201, &Outgoing::text(text), key, delivery, now)
            })
            .unwrap();
        app.app().worker_ctx.wake.notify_one();
    };
    enqueue("news for everyone", "test:news:1", Delivery::Optional);
    enqueue("your receipt", "test:receipt", Delivery::Essential);
    wait_for(
        &app.telegram,
        &user,
        "the essential message",
        |e| bot_text_contains(e, "your receipt"),
        LONG,
    )
    .await;
    let (status, error): (String, Option<String>) = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row(
                "SELECT status, last_error FROM message_queue WHERE dedup_key = 'test:news:1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .unwrap();
    assert_eq!(status, "failed");
    assert_eq!(
        error.as_deref(),
        Some(pinglass::chat::outbox::SKIPPED_STOPPED)
    );
    assert!(!bot_text_contains(
        &sandbox.history(3201),
        "news for everyone"
    ));

    // The button under the answer turns them on again: the next one arrives.
    let history = sandbox.history(3201);
    let label = "🔔 Снова присылать напоминания";
    let message = pinglass::harness::chat::last_bot_with_button(&history, label).unwrap();
    sandbox
        .press_button_with_text(&user, message, label)
        .unwrap();
    wait_for(
        &app.telegram,
        &user,
        "reminders on again",
        |e| bot_text_contains(e, "Напоминания снова включены"),
        LONG,
    )
    .await;
    enqueue("news again", "test:news:2", Delivery::Optional);
    wait_for(
        &app.telegram,
        &user,
        "the non-essential message",
        |e| bot_text_contains(e, "news again"),
        LONG,
    )
    .await;
    app.shutdown().await;
}

#[test]
fn the_check_under_the_write_lock_refuses_what_changed_since_the_read() {
    let (_dir, db) = open();
    let last = msk(15, 11, 0);
    db.run_blocking(|c| {
        for id in 1..=4 {
            user(c, id, "ru");
        }
        let fine = draft(c, 1, 5, last);
        assert!(reminders::still_eligible(c, 1, fine)?);
        assert!(
            !reminders::still_eligible(c, 2, fine)?,
            "another user's avatar"
        );
        // Paid meanwhile.
        let paid = draft(c, 2, 5, last);
        let payment = open_payment(c, 2, paid, last);
        assert!(
            reminders::still_eligible(c, 2, paid)?,
            "a payment opened is still unfinished"
        );
        payments::finish(
            c,
            payment,
            payments::PaymentStatus::Confirmed,
            Some("CONFIRMED"),
            last,
        )?;
        assert!(!reminders::still_eligible(c, 2, paid)?);
        // /stop meanwhile, then blocked.
        let stopped = draft(c, 3, 5, last);
        users::set_stopped(c, 3, true)?;
        assert!(!reminders::still_eligible(c, 3, stopped)?);
        users::set_stopped(c, 3, false)?;
        users::mark_blocked(c, 3, last)?;
        assert!(!reminders::still_eligible(c, 3, stopped)?);
        // A new set begun meanwhile.
        let old = draft(c, 4, 5, last);
        avatars::create_draft(c, 4, last)?;
        assert!(!reminders::still_eligible(c, 4, old)?);
        Ok(())
    })
    .unwrap();
}
