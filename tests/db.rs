//! The database: migrations validate and are idempotent; the constraints that
//! make double-processing impossible hold.

use pinglass::db::{self, Db, avatars, jobs, payments, queue, users};

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("test.sqlite3"), 2).unwrap();
    (dir, db)
}

fn user(db: &Db, id: i64) {
    db.run_blocking(|c| {
        users::touch(
            c,
            &users::SeenUser {
                id,
                username: None,
                first_name: "Anna",
                language: "ru",
            },
            &format!("code{id}"),
            1_000,
        )
    })
    .unwrap();
}

#[test]
fn migrations_are_valid() {
    db::migrations().validate().unwrap();
}

#[test]
fn migrate_twice_changes_nothing_and_creates_the_whole_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/pinglass.sqlite3");
    let first = Db::open(&path, 1).unwrap();
    let tables = first.run_blocking(|c| db::table_names(c)).unwrap();
    let version = first.schema_version().unwrap();
    drop(first);
    let second = Db::open(&path, 1).unwrap();
    assert_eq!(second.schema_version().unwrap(), version);
    assert_eq!(second.run_blocking(|c| db::table_names(c)).unwrap(), tables);
    for expected in [
        "users",
        "avatars",
        "reference_photos",
        "payments",
        "payment_status_history",
        "generation_jobs",
        "generation_tasks",
        "message_queue",
        "referral_earnings",
        "shared_galleries",
        "dialogues",
        "funnel_events",
        "refunds",
        "portraits",
        "alerts",
        "deletion_requests",
    ] {
        assert!(
            tables.iter().any(|t| t == expected),
            "missing table {expected}: {tables:?}"
        );
    }
    // Per-connection pragmas are applied by the pool.
    let (journal, fk): (String, i64) = second
        .run_blocking(|c| {
            Ok((
                c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
            ))
        })
        .unwrap();
    assert_eq!((journal.as_str(), fk), ("wal", 1));
}

#[test]
fn tables_are_strict_and_payments_need_a_tier() {
    let (_dir, db) = open();
    user(&db, 1);
    let avatar = db.run_blocking(|c| avatars::create_draft(c, 1, 1)).unwrap();
    // STRICT: a text in an integer column is refused.
    let err = db
        .run_blocking(|c| c.execute("UPDATE users SET created_at = 'yesterday' WHERE id = 1", []))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot store TEXT value in INTEGER column"),
        "{err}"
    );
    // The old system's bug: a payment without a tier. Impossible here.
    let err = db
        .run_blocking(move |c| {
            c.execute(
                "INSERT INTO payments (order_id, user_id, avatar_id, tier_id, amount_kopecks, portraits,
                                       receipt_contact, created_at, updated_at)
                 VALUES ('o1', 1, ?1, NULL, 49900, 7, 'a@b.ru', 1, 1)",
                [avatar.id],
            )
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("NOT NULL constraint failed: payments.tier_id"),
        "{err}"
    );
}

fn new_payment(order_id: &str, avatar_id: i64) -> payments::NewPayment<'_> {
    payments::NewPayment {
        order_id,
        user_id: 1,
        avatar_id,
        tier_id: "starter",
        amount_kopecks: 49900,
        portraits: 7,
        discount_kopecks: 0,
        receipt_contact: "anna@example.ru",
    }
}

#[test]
fn one_open_payment_per_avatar_and_one_confirmation() {
    let (_dir, db) = open();
    user(&db, 1);
    let avatar = db.run_blocking(|c| avatars::create_draft(c, 1, 1)).unwrap();
    let first = db
        .run_blocking(|c| payments::create(c, &new_payment("o-1", avatar.id), 10))
        .unwrap();
    let payments::CreatePayment::Created(first) = first else {
        panic!("first press must create")
    };
    let second = db
        .run_blocking(|c| payments::create(c, &new_payment("o-2", avatar.id), 11))
        .unwrap();
    assert_eq!(second, payments::CreatePayment::AlreadyOpen(first.clone()));

    assert!(
        db.run_blocking(|c| payments::mark_opened(c, first.id, "777", "http://pay", "NEW", 20, 12))
            .unwrap()
    );
    let confirm = |now| {
        db.run_blocking(move |c| {
            payments::finish(
                c,
                first.id,
                payments::PaymentStatus::Confirmed,
                Some("CONFIRMED"),
                now,
            )
        })
        .unwrap()
    };
    assert!(confirm(13), "the first confirmation wins");
    assert!(!confirm(14), "a second confirmation changes nothing");
    let history = db.run_blocking(|c| payments::history(c, first.id)).unwrap();
    let statuses: Vec<_> = history
        .iter()
        .map(|(s, b, at)| (s.as_str(), b.as_deref(), *at))
        .collect();
    assert_eq!(
        statuses,
        [
            ("new", None, 10),
            ("open", Some("NEW"), 12),
            ("confirmed", Some("CONFIRMED"), 13)
        ]
    );
    // Once confirmed, a new payment for the avatar may be opened again (e.g. a new package).
    let third = db
        .run_blocking(|c| payments::create(c, &new_payment("o-3", avatar.id), 15))
        .unwrap();
    assert!(matches!(third, payments::CreatePayment::Created(_)));
}

#[test]
fn exactly_one_job_per_paid_payment() {
    let (_dir, db) = open();
    user(&db, 1);
    let avatar = db.run_blocking(|c| avatars::create_draft(c, 1, 1)).unwrap();
    let payments::CreatePayment::Created(payment) = db
        .run_blocking(|c| payments::create(c, &new_payment("o-1", avatar.id), 10))
        .unwrap()
    else {
        panic!()
    };
    let tasks: Vec<_> = (0..7)
        .map(|i| jobs::NewTask {
            prompt_index: i,
            reference_keys: vec![format!("refs/{i}.jpg")],
        })
        .collect();
    let t = tasks.clone();
    let (job, created) = db
        .run_blocking(move |c| jobs::create_for_payment(c, payment.id, avatar.id, 1, &t, 20))
        .unwrap();
    assert!(created);
    let (again, created_again) = db
        .run_blocking(move |c| jobs::create_for_payment(c, payment.id, avatar.id, 1, &tasks, 21))
        .unwrap();
    assert!(!created_again);
    assert_eq!(job, again);
    assert_eq!(
        db.run_blocking(move |c| jobs::tasks(c, job.id))
            .unwrap()
            .len(),
        7
    );
}

#[test]
fn duplicate_photos_and_the_maximum_are_enforced() {
    let (_dir, db) = open();
    user(&db, 1);
    let avatar = db.run_blocking(|c| avatars::create_draft(c, 1, 1)).unwrap();
    let add = |unique: &str, sha: &str| {
        let (unique, sha) = (unique.to_owned(), sha.to_owned());
        db.run_blocking(move |c| {
            let key = format!("refs/{unique}");
            let photo = avatars::NewPhoto {
                avatar_id: avatar.id,
                file_id: "f",
                file_unique_id: &unique,
                sha256: &sha,
                object_key: &key,
                width: 800,
                height: 600,
                size_bytes: 1000,
            };
            avatars::add_photo(c, &photo, 2, 5)
        })
        .unwrap()
    };
    assert!(matches!(
        add("u1", "h1"),
        avatars::AddPhoto::Added { count: 1, .. }
    ));
    assert_eq!(add("u1", "h9"), avatars::AddPhoto::Duplicate { count: 1 });
    assert_eq!(add("u8", "h1"), avatars::AddPhoto::Duplicate { count: 1 });
    assert!(matches!(
        add("u2", "h2"),
        avatars::AddPhoto::Added { count: 2, .. }
    ));
    assert_eq!(add("u3", "h3"), avatars::AddPhoto::Full { count: 2 });
}

#[test]
fn queue_rows_are_unique_per_delivery_part_and_claimed_once() {
    let (_dir, db) = open();
    let key = "job:1:album:0";
    assert!(
        db.run_blocking(|c| queue::enqueue(
            c,
            5,
            queue::MessageKind::Album,
            "{}",
            key,
            (true, 2),
            100
        ))
        .unwrap()
    );
    assert!(
        !db.run_blocking(|c| queue::enqueue(
            c,
            5,
            queue::MessageKind::Album,
            "{}",
            key,
            (true, 2),
            101
        ))
        .unwrap()
    );
    let claimed = db
        .run_blocking(|c| queue::claim_due(c, 200, 30_000, 10))
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        db.run_blocking(|c| queue::claim_due(c, 201, 30_000, 10))
            .unwrap()
            .is_empty(),
        "leased"
    );
    // A crash leaves the row in `sending`; after the lease it is claimable again.
    assert_eq!(
        db.run_blocking(|c| queue::claim_due(c, 40_000, 30_000, 10))
            .unwrap()
            .len(),
        1
    );
    assert!(
        db.run_blocking(move |c| queue::mark_sent(c, claimed[0].id, "[1]", "[]", 40_001))
            .unwrap()
    );
    assert!(
        db.run_blocking(|c| queue::claim_due(c, 999_999, 30_000, 10))
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.run_blocking(|c| queue::depth(c)).unwrap(), 0);
}

#[test]
fn a_chats_messages_are_claimed_strictly_in_queue_order() {
    let (_dir, db) = open();
    let enqueue = |chat: i64, key: &'static str, at: i64| {
        db.run_blocking(move |c| {
            queue::enqueue(c, chat, queue::MessageKind::Text, "{}", key, (true, 2), at)
        })
        .unwrap()
    };
    enqueue(5, "a1", 100);
    enqueue(5, "a2", 100);
    enqueue(6, "b1", 100);
    let claim = |now: i64| {
        db.run_blocking(move |c| queue::claim_due(c, now, 30_000, 10))
            .unwrap()
            .into_iter()
            .map(|r| (r.dedup_key, r.id))
            .collect::<Vec<_>>()
    };
    // One row per chat: the oldest.
    let first = claim(200);
    let keys: Vec<&str> = first.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a1", "b1"]);
    // a1 fails and waits 5 s: a2 (due long ago) must not overtake it.
    let a1 = first[0].1;
    db.run_blocking(move |c| queue::mark_retry(c, a1, "502", 5_200, false))
        .unwrap();
    assert!(claim(300).is_empty(), "a2 waits behind a1");
    assert_eq!(
        claim(5_200)
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["a1"]
    );
    db.run_blocking(move |c| queue::mark_sent(c, a1, "[1]", "[]", 5_201))
        .unwrap();
    assert_eq!(
        claim(5_202)
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["a2"]
    );
}

#[test]
fn only_unanswered_sends_and_kills_count_as_uncertain() {
    let (_dir, db) = open();
    db.run_blocking(|c| queue::enqueue(c, 7, queue::MessageKind::Text, "{}", "k1", (true, 2), 100))
        .unwrap();
    let id = db
        .run_blocking(|c| queue::claim_due(c, 200, 30_000, 10))
        .unwrap()[0]
        .id;
    let uncertain = || db.run_blocking(|c| queue::uncertain_sends(c, 7)).unwrap();
    // Telegram answered 5xx: it did not take the message.
    db.run_blocking(move |c| queue::mark_retry(c, id, "500", 300, false))
        .unwrap();
    assert_eq!(uncertain(), 0);
    db.run_blocking(|c| queue::claim_due(c, 300, 30_000, 10))
        .unwrap();
    // No answer within the send timeout: it may have arrived.
    db.run_blocking(move |c| queue::mark_retry(c, id, "timed out", 400, true))
        .unwrap();
    assert_eq!(uncertain(), 1);
    // Killed while sending: at start-up the row is resumed, uncertain again.
    db.run_blocking(|c| queue::claim_due(c, 400, 30_000, 10))
        .unwrap();
    assert_eq!(
        db.run_blocking(|c| queue::resume_in_flight(c, 500))
            .unwrap(),
        1
    );
    assert_eq!(uncertain(), 2);
    assert_eq!(
        db.run_blocking(|c| queue::uncertain_sends(c, 8)).unwrap(),
        0
    );
}

#[test]
fn avatar_ownership_is_checked() {
    let (_dir, db) = open();
    user(&db, 1);
    user(&db, 2);
    let avatar = db.run_blocking(|c| avatars::create_draft(c, 1, 1)).unwrap();
    assert!(
        db.run_blocking(move |c| avatars::get_owned(c, avatar.id, 2))
            .unwrap()
            .is_none()
    );
    assert!(
        db.run_blocking(move |c| avatars::get_owned(c, avatar.id, 1))
            .unwrap()
            .is_some()
    );
}
