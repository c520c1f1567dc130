//! The side task's promises that a transcript cannot show well: Kie refusing
//! for good pauses creation and alerts the admins once, then heals by itself;
//! a user who blocked the bot fails their deliveries without a retry storm;
//! Telegram's 429 is waited out; task creation is fair between jobs.

use std::time::Duration;

use pinglass::db::{self, Db, avatars, jobs, payments, users};
use pinglass::kie::standin::{CreateFault, Fault, TaskFault};
use pinglass::tbank::TbankMethod;
use pinglass::tbank::standin::{CallFault, Fault as TbankFault};
use pinglass::telegram::standin::{RateLimits, UserSpec};

use crate::support::{
    LONG, TestApp, bot_text_contains, buy, portraits_received, press, up_to_payment_link, wait_for,
};

const ADMIN: i64 = 900_000_001;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kie_refusing_pauses_creation_alerts_admins_once_and_resumes() {
    let app = TestApp::start_with(|c| c.kie.pause_on_refusal_secs = 1).await;
    let sandbox = app.telegram.sandbox().clone();
    // The admin has talked to the bot (a bot cannot write first).
    let admin = UserSpec::new(ADMIN, "Admin").with_language("ru");
    sandbox.send_text(&admin, "/start").unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "the admin's onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;

    // Kie has no credits for the first three attempts.
    app.kie.script(Fault::Create(CreateFault::NoCredits402), 3);
    let user = UserSpec::new(3001, "Лиза").with_language("ru");
    buy(
        &app.telegram,
        &app.tbank,
        &user,
        "liza",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;

    wait_for(
        &app.telegram,
        &admin,
        "the alert",
        |e| bot_text_contains(e, "Kie AI не принимает новые задачи"),
        LONG,
    )
    .await;
    // Everything still arrives once Kie answers again.
    wait_for(
        &app.telegram,
        &user,
        "all 7 portraits",
        |e| portraits_received(e).len() == 7,
        LONG,
    )
    .await;
    let alerts = sandbox
        .history(ADMIN)
        .iter()
        .filter(|e| {
            e.is_from_bot()
                && e.text
                    .as_deref()
                    .is_some_and(|t| t.contains("Kie AI не принимает"))
        })
        .count();
    assert_eq!(
        alerts, 1,
        "one alert for one incident, however many refusals"
    );
    let failed: i64 = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM generation_tasks WHERE state = 'failed'",
                [],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(failed, 0, "a refusal by Kie costs no task an attempt");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_blocked_the_bot_fails_their_deliveries_without_a_retry_storm() {
    let app = TestApp::start().await;
    let sandbox = app.telegram.sandbox().clone();
    let user = UserSpec::new(3002, "Гоша").with_language("ru");
    let payment_id = up_to_payment_link(
        &app.telegram,
        &user,
        "gosha",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    sandbox.block_bot(&user);
    app.tbank.pay(&payment_id).unwrap();

    // The payment is still processed and the portraits made; sending them fails for good.
    let db = app.app().db.clone();
    // The bot learns of the payment at its next poll of the bank (a second
    // away in the tests' configuration): past it, the side task runs to idle.
    app.advance_clock(Duration::from_secs(5));
    app.settle().await;
    let (failed, pending, done): (i64, i64, i64) = db
        .run_blocking(|c| {
            Ok((
                c.query_row(
                    "SELECT COUNT(*) FROM message_queue WHERE status = 'failed'",
                    [],
                    |r| r.get(0),
                )?,
                db::queue::depth(c)?,
                c.query_row(
                    "SELECT COUNT(*) FROM generation_jobs WHERE status IN ('done', 'partial')",
                    [],
                    |r| r.get(0),
                )?,
            ))
        })
        .unwrap();
    assert!(
        failed > 0 && pending == 0 && done == 1,
        "the deliveries settle as failed: {failed} failed, {pending} pending, {done} jobs done"
    );
    let reasons: Vec<String> = db
        .run_blocking(|c| {
            let mut stmt =
                c.prepare("SELECT last_error FROM message_queue WHERE status = 'failed'")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })
        .unwrap();
    assert!(reasons.iter().all(|r| r.contains("blocked")), "{reasons:?}");
    let user_row = db.run_blocking(|c| users::get(c, 3002)).unwrap().unwrap();
    assert!(user_row.blocked_at.is_some());
    // One failed attempt per chat, not one per message and retry.
    let counters = sandbox.counters();
    let album_requests = counters.requests("sendMediaGroup");
    assert!(
        album_requests <= 1,
        "{album_requests} album requests into a blocked chat"
    );
    // Later rounds, even a day later, try nothing more.
    app.advance_clock(Duration::from_secs(24 * 3600));
    app.settle().await;
    assert_eq!(
        sandbox.counters().requests("sendMediaGroup"),
        album_requests,
        "no retries later either"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_429_is_waited_out_and_nothing_is_lost_or_doubled() {
    // The stand-in is stricter than the bot thinks Telegram is: the bot meets 429s.
    let app = TestApp::start_with(|c| {
        c.telegram.messages_per_sec_chat = 5;
    })
    .await;
    let sandbox = app.telegram.sandbox().clone();
    sandbox.set_rate_limits(RateLimits {
        per_chat_per_sec: 1.0,
        per_chat_burst: 2,
        ..RateLimits::default()
    });
    let user = UserSpec::new(3003, "Рита").with_language("ru");
    buy(
        &app.telegram,
        &app.tbank,
        &user,
        "rita",
        "Standard · 15 портретов · 999 ₽",
    )
    .await;
    wait_for(
        &app.telegram,
        &user,
        "all 15 portraits",
        |e| portraits_received(e).len() >= 15,
        Duration::from_secs(120),
    )
    .await;
    app.settle().await;
    let received = portraits_received(&sandbox.history(user.id));
    assert_eq!(received.len(), 15, "every portrait once");
    assert!(
        sandbox.counters().too_many_requests > 0,
        "the test must meet Telegram's 429"
    );
    // Every answer of the conversation arrived, in order, once.
    let texts: Vec<String> = sandbox
        .history(user.id)
        .iter()
        .filter(|e| e.is_from_bot() && !e.deleted)
        .filter_map(|e| e.text.clone())
        .collect();
    for (needle, times) in [
        ("Привет, Рита", 1),
        ("Выберите пакет", 1),
        ("Счёт на 999 ₽", 1),
        ("Оплата получена", 1),
    ] {
        let n = texts.iter().filter(|t| t.contains(needle)).count();
        assert_eq!(n, times, "{needle:?} arrived {n} times: {texts:#?}");
    }
    app.shutdown().await;
}

#[test]
fn task_creation_is_fair_between_a_big_and_a_small_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("db.sqlite3"), 1).unwrap();
    let job_of = |user_id: i64, order: &str, tasks: u32| {
        let order = order.to_owned();
        db.run_blocking(move |c| {
            users::touch(
                c,
                &users::SeenUser {
                    id: user_id,
                    username: None,
                    first_name: "U",
                    language: "ru",
                },
                &format!("ref{user_id}"),
                1,
            )?;
            let avatar = avatars::create_draft(c, user_id, 1)?;
            let payments::CreatePayment::Created(payment) = payments::create(
                c,
                &payments::NewPayment {
                    order_id: &order,
                    user_id,
                    avatar_id: avatar.id,
                    tier_id: "x",
                    amount_kopecks: 10_000,
                    portraits: tasks,
                    discount_kopecks: 0,
                    receipt_contact: "a@b.ru",
                },
                1,
            )?
            else {
                unreachable!()
            };
            let new: Vec<jobs::NewTask> = (0..tasks)
                .map(|i| jobs::NewTask {
                    prompt_index: i,
                    reference_keys: vec!["k".into()],
                })
                .collect();
            Ok(jobs::create_for_payment(c, payment.id, avatar.id, user_id, &new, 1)?.0)
        })
        .unwrap()
    };
    // The big job was paid first; the small one must not wait behind all of it.
    let big = job_of(1, "o-big", 23);
    let small = job_of(2, "o-small", 7);
    let first_window = db
        .run_blocking(|c| jobs::due_for_creation(c, 10, 18))
        .unwrap();
    let of_small = first_window.iter().filter(|t| t.job_id == small.id).count();
    let of_big = first_window.iter().filter(|t| t.job_id == big.id).count();
    assert_eq!(
        (of_small, of_big),
        (7, 11),
        "the small job gets all its tasks in the first 10 s window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_menu_is_registered_in_every_language() {
    let app = TestApp::start().await;
    let sandbox = app.telegram.sandbox();
    let menu = |lang: &str| -> Vec<(String, String)> {
        sandbox
            .commands("default", lang)
            .into_iter()
            .map(|c| (c.command, c.description))
            .collect()
    };
    let ru = vec![
        ("start".to_owned(), "Начать заново".to_owned()),
        ("gallery".to_owned(), "Мои портреты".to_owned()),
        ("help".to_owned(), "Как это работает".to_owned()),
        ("language".to_owned(), "Сменить язык".to_owned()),
        ("referral".to_owned(), "Пригласить друзей".to_owned()),
        ("stop".to_owned(), "Не присылать напоминания".to_owned()),
        ("terms".to_owned(), "Условия: возвраты и данные".to_owned()),
        ("delete_my_data".to_owned(), "Удалить мои данные".to_owned()),
    ];
    assert_eq!(menu("ru"), ru);
    assert_eq!(menu(""), ru, "Russian is the menu for every other language");
    assert_eq!(
        menu("en")
            .iter()
            .map(|(_, d)| d.as_str())
            .collect::<Vec<_>>(),
        [
            "Start over",
            "My portraits",
            "How it works",
            "Change language",
            "Invite friends",
            "Stop reminders",
            "Terms: refunds and data",
            "Delete my data"
        ]
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_inside_a_handler_is_explained_to_the_user() {
    let app = TestApp::start().await;
    let sandbox = app.telegram.sandbox().clone();
    let user = UserSpec::new(3004, "Оля").with_language("ru");
    sandbox.send_text(&user, "/start").unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
    // The object store breaks: its directory becomes a file.
    let objects = app.config.storage.local_dir.clone();
    std::fs::remove_dir_all(&objects).unwrap();
    std::fs::write(&objects, b"not a directory").unwrap();
    sandbox
        .send_photo(&user, crate::support::photo_jpeg("olya-1", 800, 1000), None)
        .await
        .unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the apology",
        |e| bot_text_contains(e, "Что-то пошло не так"),
        LONG,
    )
    .await;
    // Nothing was recorded for the photo that could not be stored.
    let photos: i64 = app
        .app()
        .db
        .run_blocking(|c| c.query_row("SELECT COUNT(*) FROM reference_photos", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(photos, 0);
    app.shutdown().await;
}

/// Waits until `count` portraits of the running sets are made (stored).
async fn until_made(app: &TestApp, count: i64) {
    let started = std::time::Instant::now();
    loop {
        let made: i64 = app
            .app()
            .db
            .run_blocking(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM generation_tasks WHERE state = 'succeeded'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        if made >= count {
            return;
        }
        assert!(
            started.elapsed() < LONG * 2,
            "{made} of {count} portraits made"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The user's payments: (status, tier) by id.
fn payments_of(app: &TestApp, user: i64) -> Vec<(String, String)> {
    app.app()
        .db
        .run_blocking(move |c| {
            let mut stmt =
                c.prepare("SELECT status, tier_id FROM payments WHERE user_id = ?1 ORDER BY id")?;
            stmt.query_map([user], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .unwrap()
}

/// One open payment per user, at its edges (the plain switch is the
/// transcript `payment-change-package`): a bill paid at the bank just before
/// another package was chosen stands and the new choice is dropped (never two
/// payments); a bill the bank refuses to cancel stays valid, the user and the
/// admins are told, and no second payment is opened beside it; a bill paid
/// in the last second (between GetState and Cancel) is returned in full by
/// that Cancel, and the user is told so before the new link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_package_while_a_bill_is_open_never_makes_two_payments() {
    // Slow polls: the bot learns of a payment only when it asks.
    let app = TestApp::start_with(|c| c.worker.payment_poll_fast_secs = 600).await;
    let sandbox = app.telegram.sandbox().clone();
    let admin = UserSpec::new(ADMIN, "Admin").with_language("ru");
    sandbox.send_text(&admin, "/start").unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "the admin's onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;

    // Paid at the bank, then Standard chosen before the bot noticed.
    let paid = UserSpec::new(5301, "Оля").with_language("ru");
    let bank_id = up_to_payment_link(
        &app.telegram,
        &paid,
        "switch-paid",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    app.tbank.pay(&bank_id).unwrap();
    press(&app, &paid, "Standard · 15 портретов · 999 ₽");
    wait_for(
        &app.telegram,
        &paid,
        "the paid bill standing",
        |e| bot_text_contains(e, "уже оплачен"),
        LONG,
    )
    .await;
    wait_for(
        &app.telegram,
        &paid,
        "the Starter set",
        |e| portraits_received(e).len() == 7,
        LONG,
    )
    .await;
    app.settle().await;
    assert_eq!(
        payments_of(&app, paid.id),
        [("confirmed".to_owned(), "starter".to_owned())],
        "the new choice must not become a second payment"
    );
    assert_eq!(
        app.tbank
            .status(&bank_id)
            .map(|s| s.as_str().to_owned())
            .as_deref(),
        Some("CONFIRMED")
    );

    // The bank refuses the Cancel: the bill stays valid and payable.
    let refused = UserSpec::new(5302, "Ира").with_language("ru");
    let bank_id = up_to_payment_link(
        &app.telegram,
        &refused,
        "switch-refused",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    app.tbank.script(
        TbankFault::on(
            TbankMethod::Cancel,
            CallFault::error_code("8", "Неверный статус транзакции"),
        ),
        1,
    );
    press(&app, &refused, "Premium · 23 портрета · 1499 ₽");
    wait_for(
        &app.telegram,
        &refused,
        "the refusal",
        |e| bot_text_contains(e, "Банк не отменил прежний счёт"),
        LONG,
    )
    .await;
    wait_for(
        &app.telegram,
        &admin,
        "the admins' alert",
        |e| bot_text_contains(e, "отказал в отмене"),
        LONG,
    )
    .await;
    app.settle().await;
    assert_eq!(
        payments_of(&app, refused.id),
        [("open".to_owned(), "starter".to_owned())]
    );
    app.tbank.pay(&bank_id).unwrap();
    press(&app, &refused, "✅ Я оплатил");
    wait_for(
        &app.telegram,
        &refused,
        "the Starter set",
        |e| portraits_received(e).len() == 7,
        LONG,
    )
    .await;

    // Paid in the last second, between the bot's GetState and its Cancel:
    // the Cancel returns the money in full, the user is told so, and the
    // new package's link follows.
    let late = UserSpec::new(5308, "Тая").with_language("ru");
    let bank_id = up_to_payment_link(
        &app.telegram,
        &late,
        "switch-late",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    app.tbank.script(
        TbankFault::on(TbankMethod::Cancel, CallFault::BuyerPaysFirst),
        1,
    );
    press(&app, &late, "Standard · 15 портретов · 999 ₽");
    wait_for(
        &app.telegram,
        &late,
        "the truth and the new link",
        |e| {
            bot_text_contains(e, "банк вернул эти деньги целиком")
                && bot_text_contains(e, "Счёт на 999 ₽")
        },
        LONG,
    )
    .await;
    assert_eq!(app.tbank.payment(&bank_id).unwrap().cancellations, [49_900]);
    let late_payments = payments_of(&app, late.id);
    assert_eq!(
        late_payments[0],
        ("canceled".to_owned(), "starter".to_owned())
    );
    assert_eq!(late_payments[1].1, "standard");
    wait_for(
        &app.telegram,
        &refused,
        "the Starter set",
        |e| portraits_received(e).len() == 7,
        LONG,
    )
    .await;
    assert_eq!(
        payments_of(&app, refused.id),
        [("confirmed".to_owned(), "starter".to_owned())]
    );
    app.shutdown().await;
}

/// A payment made at another bank than the configured one (the real T-Bank
/// while the bot now runs against a stand-in, or the other way round, on
/// the same database) is never confirmed here, even when this bank answers
/// CONFIRMED for its PaymentId: the admins are told once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_made_at_another_terminal_is_never_confirmed_here() {
    let app = TestApp::start_with(|c| c.worker.payment_poll_fast_secs = 600).await;
    let sandbox = app.telegram.sandbox().clone();
    let admin = UserSpec::new(ADMIN, "Admin").with_language("ru");
    sandbox.send_text(&admin, "/start").unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "the admin's onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
    let user = UserSpec::new(5303, "Дина").with_language("ru");
    let bank_id = up_to_payment_link(
        &app.telegram,
        &user,
        "other-terminal",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    let tagged = app
        .app()
        .db
        .run_blocking(|c| {
            c.execute(
                "UPDATE payments SET terminal = 'another-bank' WHERE user_id = 5303 AND terminal IS NOT NULL",
                [],
            )
        })
        .unwrap();
    assert_eq!(tagged, 1, "Init tags the payment with its bank");
    app.tbank.pay(&bank_id).unwrap();
    press(&app, &user, "✅ Я оплатил");
    wait_for(
        &app.telegram,
        &admin,
        "the admins' alert",
        |e| bot_text_contains(e, "другом терминале"),
        LONG,
    )
    .await;
    for _ in 0..3 {
        press(&app, &user, "✅ Я оплатил");
        app.settle().await;
    }
    assert_eq!(
        payments_of(&app, user.id),
        [("open".to_owned(), "starter".to_owned())]
    );
    assert!(portraits_received(&sandbox.history(user.id)).is_empty());
    let alerts = sandbox
        .bot_messages(ADMIN)
        .iter()
        .filter(|e| {
            e.text
                .as_deref()
                .is_some_and(|t| t.contains("другом терминале"))
        })
        .count();
    assert_eq!(alerts, 1, "one alert per payment");
    app.shutdown().await;
}

/// T-Bank ignores `ExternalRequestId` for SBP payments, so a refund whose
/// Cancel answer was lost after it took effect must not be sent again
/// blindly: the bot reads the bank first (GetState) and sees the money
/// moved. The customer is refunded once, and told once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sbp_refund_whose_answer_was_lost_is_paid_once() {
    let app = TestApp::start_with(|c| {
        c.kie.max_attempts = 1;
        c.tbank.request_timeout_secs = 2;
    })
    .await;
    let user = UserSpec::new(5304, "Ася").with_language("ru");
    let bank_id = up_to_payment_link(
        &app.telegram,
        &user,
        "sbp-refund",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    // One portrait cannot be made; the Cancel of its share takes effect at
    // the bank, and its answer is lost.
    app.kie.script(Fault::Task(TaskFault::FailTransient), 1);
    app.tbank.script(
        TbankFault::on(
            TbankMethod::Cancel,
            CallFault::Timeout {
                hold: Duration::from_secs(3),
                processed: true,
            },
        ),
        1,
    );
    app.tbank.pay_sbp(&bank_id).unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the refund",
        |e| bot_text_contains(e, "Возврат"),
        LONG,
    )
    .await;
    app.settle().await;
    let at_bank = app.tbank.payment(&bank_id).unwrap();
    assert_eq!(at_bank.cancellations.len(), 1, "refunded once: {at_bank:?}");
    let (refunded, share): (i64, i64) = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row(
                "SELECT p.refunded_kopecks, r.amount_kopecks FROM payments p
                 JOIN refunds r ON r.payment_id = p.id WHERE p.user_id = 5304",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .unwrap();
    assert_eq!(at_bank.cancellations, [share]);
    // A partial refund carries the receipt of what it returns.
    assert_eq!(at_bank.cancellation_receipts, [Some(share)]);
    assert_eq!(refunded, share);
    assert_eq!(at_bank.amount, 49_900 - share);
    let told = app
        .telegram
        .sandbox()
        .history(user.id)
        .iter()
        .filter(|e| e.is_from_bot() && e.text_or_caption().is_some_and(|t| t.contains("Возврат")))
        .count();
    assert_eq!(told, 1);
    app.shutdown().await;
}

/// An admin's full refund is a full cancellation: no Amount and no Receipt
/// (T-Bank's spec: the receipt structure is passed only with a partial one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_refund_carries_no_receipt() {
    let app = TestApp::start().await;
    let user = UserSpec::new(5305, "Рита").with_language("ru");
    let bank_id = crate::support::starter_set(&app, &user, "full-refund").await;
    let payment: i64 = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row("SELECT id FROM payments WHERE user_id = 5305", [], |r| {
                r.get(0)
            })
        })
        .unwrap();
    crate::support::admin_refunds_in_full(&app, payment).await;
    let at_bank = app.tbank.payment(&bank_id).unwrap();
    assert_eq!(at_bank.cancellations, [49_900]);
    assert_eq!(at_bank.cancellation_receipts, [None]);
    app.shutdown().await;
}

/// An admin refunds a payment in full while its set is still being made;
/// one portrait then cannot be made. Its share is not refunded a second
/// time: the automatic refund counts what was already returned, and the
/// user is told the payment was refunded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_refund_while_the_set_is_made_counts_in_its_automatic_refund() {
    let app = TestApp::start_with(|c| c.kie.max_attempts = 1).await;
    let sandbox = app.telegram.sandbox().clone();
    let user = UserSpec::new(5306, "Оля").with_language("ru");
    let bank_id = up_to_payment_link(
        &app.telegram,
        &user,
        "refund-while-made",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    // One task never finishes on Kie: the set waits for it.
    app.kie.script(Fault::Task(TaskFault::NeverFinish), 1);
    app.tbank.pay(&bank_id).unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the confirmation",
        |e| bot_text_contains(e, "Оплата получена"),
        LONG,
    )
    .await;
    let payment: i64 = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row("SELECT id FROM payments WHERE user_id = 5306", [], |r| {
                r.get(0)
            })
        })
        .unwrap();
    crate::support::admin_refunds_in_full(&app, payment).await;
    // The six others are made; then the seventh times out, is given up
    // (one attempt), and the set is delivered.
    until_made(&app, 6).await;
    app.advance_clock(Duration::from_secs(20 * 60));
    wait_for(
        &app.telegram,
        &user,
        "the note",
        |e| bot_text_contains(e, "уже возвращена"),
        LONG,
    )
    .await;
    app.settle().await;
    assert_eq!(portraits_received(&sandbox.history(user.id)).len(), 6);
    let at_bank = app.tbank.payment(&bank_id).unwrap();
    assert_eq!(at_bank.cancellations, [49_900], "refunded once, in full");
    let refunds: i64 = app
        .app()
        .db
        .run_blocking(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM refunds WHERE payment_id = ?1",
                [payment],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(refunds, 1, "no automatic refund beyond the admin's");
    app.shutdown().await;
}

/// Kie by its documents, at its edges: a result whose body is no image is
/// never stored but made again; a 4K result over Telegram's 10 MB photo
/// limit (the stand-in refuses such an upload) is re-encoded to fit; a task
/// whose recordInfo keeps answering 404 ends at `task_timeout_secs` in a
/// retry, not in a set that never finishes. Seven portraits arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kie_results_that_are_no_image_too_big_or_lost_still_make_the_set() {
    let app = TestApp::start_with(|c| c.kie.max_attempts = 2).await;
    let sandbox = app.telegram.sandbox().clone();
    let user = UserSpec::new(5307, "Вика").with_language("ru");
    let bank_id = up_to_payment_link(
        &app.telegram,
        &user,
        "kie-edges",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    // A task takes one scripted fault of each kind, in order: the first
    // two tasks get the result faults (and a harmless visibility one each),
    // the third the lost record.
    app.kie.script(Fault::Task(TaskFault::GarbageResult), 1);
    app.kie.script(Fault::Task(TaskFault::HugeResult), 1);
    app.kie.script(Fault::Task(TaskFault::HiddenForPolls(1)), 2);
    app.kie.script(Fault::Task(TaskFault::LostRecord), 1);
    app.tbank.pay(&bank_id).unwrap();
    // The six others are made (one of them re-encoded, one made twice);
    // then the lost one times out and is made again.
    until_made(&app, 6).await;
    app.advance_clock(Duration::from_secs(20 * 60));
    wait_for(
        &app.telegram,
        &user,
        "the set",
        |e| portraits_received(e).len() == 7,
        LONG,
    )
    .await;
    let attempts: Vec<i64> = app
        .app()
        .db
        .run_blocking(|c| {
            let mut stmt =
                c.prepare("SELECT attempts FROM generation_tasks ORDER BY attempts DESC")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })
        .unwrap();
    assert_eq!(
        &attempts[..3],
        [2, 2, 1],
        "the lost and the garbage made twice: {attempts:?}"
    );
    assert!(
        !bot_text_contains(&sandbox.history(user.id), "Возвращаем"),
        "nothing given up"
    );
    app.shutdown().await;
}
