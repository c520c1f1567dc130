//! A small, realistic business written straight into the database, for the
//! admin commands' tests and transcripts (`@seed business`): 20 users at
//! every stage of the funnel, payments of each tier and status (one open
//! for 30 hours, already alerted about), jobs with retries and failures,
//! refunds, referrals and A/B assignments. Everything is relative to `now`,
//! so a report "as of now" always reads the same.

use rusqlite::{Connection, params};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// (id, first name, hours ago, furthest stage 1..=5, payment (tier, status),
/// job (completed, failed, status), referred by)
type Row = (
    i64,
    &'static str,
    i64,
    u8,
    Option<(&'static str, &'static str)>,
    Option<(i64, i64, &'static str)>,
    Option<i64>,
);

const USERS: [Row; 20] = [
    (
        7001,
        "Анна",
        400,
        5,
        Some(("starter", "confirmed")),
        Some((7, 0, "done")),
        None,
    ),
    (
        7002,
        "Борис",
        380,
        5,
        Some(("standard", "partially_refunded")),
        Some((13, 2, "partial")),
        None,
    ),
    (
        7003,
        "Вика",
        300,
        5,
        Some(("premium", "confirmed")),
        Some((23, 0, "done")),
        None,
    ),
    (
        7004,
        "Глеб",
        250,
        5,
        Some(("starter", "refunded")),
        Some((7, 0, "done")),
        None,
    ),
    (
        7005,
        "Дина",
        200,
        5,
        Some(("standard", "confirmed")),
        Some((15, 0, "done")),
        Some(7001),
    ),
    (
        7006,
        "Егор",
        150,
        4,
        Some(("premium", "refunded")),
        Some((0, 23, "failed")),
        None,
    ),
    (
        7007,
        "Жанна",
        120,
        3,
        Some(("starter", "rejected")),
        None,
        None,
    ),
    (
        7008,
        "Зоя",
        100,
        3,
        Some(("standard", "expired")),
        None,
        None,
    ),
    (7009, "Игорь", 30, 3, Some(("starter", "open")), None, None),
    (7010, "Катя", 5, 3, Some(("premium", "open")), None, None),
    (7011, "Лев", 100, 2, None, None, None),
    (7012, "Маша", 90, 2, None, None, None),
    (7013, "Никита", 60, 2, None, None, Some(7003)),
    (7014, "Оля", 40, 1, None, None, None),
    (7015, "Петя", 20, 1, None, None, None),
    (7016, "Рита", 10, 1, None, None, None),
    (7017, "Сева", 3, 2, None, None, None),
    (7018, "Таня", 2, 1, None, None, None),
    (
        7019,
        "Ульяна",
        150,
        5,
        Some(("starter", "confirmed")),
        Some((7, 0, "done")),
        Some(7001),
    ),
    (7020, "Фёдор", 1, 1, None, None, None),
];

fn tier(id: &str) -> (i64, i64) {
    match id {
        "starter" => (49_900, 7),
        "standard" => (99_900, 15),
        _ => (149_900, 23),
    }
}

/// Writes the business; the ids of users are 7001..=7020.
pub fn seed_business(conn: &mut Connection, now: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    const STAGES: [&str; 5] = ["onboarding", "upload", "payment", "generation", "delivered"];
    for (i, (id, name, hours, stage, payment, job, referrer)) in USERS.iter().enumerate() {
        let i = i as i64;
        // Ten seconds past the minute: a report made a few seconds later
        // still shows the same ages.
        let created = now - hours * HOUR - 10_000;
        let variant = if i % 2 == 0 {
            "generate"
        } else {
            "see-yourself"
        };
        tx.execute(
            "INSERT INTO users (id, username, first_name, language, referral_code, referred_by,
                                receipt_email, created_at, last_seen_at)
             VALUES (?1, ?2, ?3, 'ru', ?4, ?5, ?6, ?7, ?7)",
            params![
                id,
                (i % 3 == 0).then(|| format!("user{id}")),
                name,
                format!("code{id}"),
                referrer,
                payment.map(|_| format!("u{id}@example.ru")),
                created
            ],
        )?;
        tx.execute(
            "INSERT INTO ab_assignments (user_id, experiment, variant, assigned_at) VALUES (?1, 'cta', ?2, ?3)",
            params![id, variant, created],
        )?;
        // Stage times: each user a little faster or slower than the last.
        let reached = [
            created,
            created + (4 + i) * MIN,
            created + (20 + 2 * i) * MIN,
            created + (26 + 2 * i) * MIN,
            created + (45 + 3 * i) * MIN,
        ];
        let avatar_status = match (stage, payment.map(|p| p.1)) {
            (5, _) => "ready",
            (4, _) => "failed",
            (3, Some("open")) => "awaiting_payment",
            _ => "draft",
        };
        tx.execute(
            "INSERT INTO avatars (user_id, status, tier_id, created_at, updated_at, ready_at)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            params![
                id,
                avatar_status,
                payment.map(|p| p.0),
                created,
                (*stage == 5).then_some(reached[4])
            ],
        )?;
        let avatar = tx.last_insert_rowid();
        for (s, at) in STAGES.iter().zip(reached).take(usize::from(*stage)) {
            let avatar_of_stage = if *s == "onboarding" { 0 } else { avatar };
            tx.execute(
                "INSERT INTO funnel_events (user_id, stage, avatar_id, variant, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, s, avatar_of_stage, format!("cta={variant}"), at],
            )?;
        }
        if *stage >= 2 {
            for p in 0..(5 + i % 4) {
                tx.execute(
                    "INSERT INTO reference_photos (avatar_id, file_id, file_unique_id, sha256, object_key,
                                                   width, height, size_bytes, created_at)
                     VALUES (?1, ?2, ?2, ?3, ?4, 1200, 1600, 350000, ?5)",
                    params![
                        avatar,
                        format!("f{id}-{p}"),
                        format!("sha{id}-{p}"),
                        format!("refs/{id}/{p}.jpg"),
                        reached[1]
                    ],
                )?;
            }
        }
        let Some((tier_id, status)) = payment else {
            continue;
        };
        let (amount, portraits) = tier(tier_id);
        let paid = matches!(*status, "confirmed" | "refunded" | "partially_refunded");
        let confirmed_at = paid.then_some(reached[2] + 5 * MIN);
        let bank_status = match *status {
            "confirmed" => "CONFIRMED",
            "partially_refunded" => "PARTIAL_REFUNDED",
            "refunded" => "REFUNDED",
            "rejected" => "REJECTED",
            "expired" => "DEADLINE_EXPIRED",
            _ if *hours > 24 => "FORM_SHOWED",
            _ => "NEW",
        };
        let refunded = match (*status, job) {
            ("refunded", _) => amount,
            ("partially_refunded", Some((_, failed, _))) => amount * failed / portraits,
            _ => 0,
        };
        tx.execute(
            "INSERT INTO payments (order_id, user_id, avatar_id, tier_id, amount_kopecks, portraits,
                                   receipt_contact, status, bank_status, bank_payment_id, payment_url,
                                   refunded_kopecks, checks, stuck_alerted_at, created_at, updated_at, confirmed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                format!("order-{id}"),
                id,
                avatar,
                tier_id,
                amount,
                portraits,
                format!("u{id}@example.ru"),
                status,
                bank_status,
                format!("{}", 880_000 + id),
                format!("https://securepay.example/{id}"),
                refunded,
                3 + i,
                (*status == "open" && *hours >= 24).then_some(created + 24 * HOUR),
                reached[2],
                confirmed_at.unwrap_or(reached[2]),
                confirmed_at
            ],
        )?;
        let payment_id = tx.last_insert_rowid();
        if refunded > 0 {
            let reason = if job.is_some_and(|j| j.1 > 0) {
                "failed_portraits"
            } else {
                "admin_refund"
            };
            tx.execute(
                "INSERT INTO refunds (payment_id, amount_kopecks, reason, external_request_id, status,
                                      attempts, next_attempt_at, created_at, done_at)
                 VALUES (?1, ?2, ?3, ?4, 'done', 1, ?5, ?5, ?5)",
                params![payment_id, refunded, reason, format!("refund-{payment_id}-seed"), reached[4]],
            )?;
        }
        if let Some(referrer) = referrer
            && paid
        {
            tx.execute(
                "INSERT INTO referral_earnings (referrer_id, referred_id, payment_id, amount_kopecks, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![referrer, id, payment_id, amount / 10, confirmed_at],
            )?;
        }
        let Some((completed, failed, job_status)) = job else {
            continue;
        };
        let started = confirmed_at.unwrap_or(reached[3]);
        let finished = started + (9 + 2 * i) * MIN;
        tx.execute(
            "INSERT INTO generation_jobs (avatar_id, user_id, kind, payment_id, total, completed, failed,
                                          status, created_at, finished_at, delivered_at)
             VALUES (?1, ?2, 'paid', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                avatar,
                id,
                payment_id,
                portraits,
                completed,
                failed,
                job_status,
                started,
                finished,
                (*completed > 0).then_some(finished + MIN)
            ],
        )?;
        let job_id = tx.last_insert_rowid();
        for t in 0..portraits {
            let ok = t < *completed;
            // Every third task of a set needed a second attempt; failed ones used all four.
            let attempts = if !ok {
                4
            } else if t % 3 == 0 {
                2
            } else {
                1
            };
            tx.execute(
                "INSERT INTO generation_tasks (job_id, prompt_index, reference_keys, state, kie_task_id,
                                               attempts, next_attempt_at, submitted_at, finished_at,
                                               result_key, last_error)
                 VALUES (?1, ?2, '[]', ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9)",
                params![
                    job_id,
                    t,
                    if ok { "succeeded" } else { "failed" },
                    format!("kie-{job_id}-{t}"),
                    attempts,
                    started,
                    finished,
                    ok.then(|| format!("portraits/{job_id}/{t}.png")),
                    (!ok).then_some("Kie: the prompt was refused by moderation (code 400)")
                ],
            )?;
            let task_id = tx.last_insert_rowid();
            if ok {
                tx.execute(
                    "INSERT INTO portraits (avatar_id, task_id, position, object_key, file_id, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        avatar,
                        task_id,
                        t,
                        format!("portraits/{job_id}/{t}.png"),
                        format!("pf-{job_id}-{t}"),
                        finished
                    ],
                )?;
            }
        }
    }
    tx.commit()
}

/// `count` users from `first_id` on, each with an avatar waiting for its
/// payment and the payment open at the bank, the oldest an hour old: the
/// admin lists that outgrow one message (`/pending`).
pub fn seed_open_payments(
    conn: &mut Connection,
    first_id: i64,
    count: i64,
    now: i64,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for id in first_id..first_id + count {
        let created = now - HOUR + (id - first_id) * MIN / 10;
        tx.execute(
            "INSERT INTO users (id, first_name, language, referral_code, receipt_email, created_at, last_seen_at)
             VALUES (?1, ?2, 'ru', ?3, ?4, ?5, ?5)",
            params![id, format!("Покупатель {id}"), format!("open{id}"), format!("u{id}@example.ru"), created],
        )?;
        tx.execute(
            "INSERT INTO avatars (user_id, status, tier_id, created_at, updated_at)
             VALUES (?1, 'awaiting_payment', 'premium', ?2, ?2)",
            params![id, created],
        )?;
        let avatar = tx.last_insert_rowid();
        let (amount, portraits) = tier("premium");
        tx.execute(
            "INSERT INTO payments (order_id, user_id, avatar_id, tier_id, amount_kopecks, portraits,
                                   receipt_contact, status, bank_status, bank_payment_id, payment_url,
                                   checks, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'premium', ?4, ?5, ?6, 'open', 'FORM_SHOWED', ?7, ?8, 1, ?9, ?9)",
            params![
                format!("order-open-{id}"),
                id,
                avatar,
                amount,
                portraits,
                format!("u{id}@example.ru"),
                format!("{}", 990_000 + id),
                format!("https://securepay.example/{id}"),
                created
            ],
        )?;
    }
    tx.commit()
}
