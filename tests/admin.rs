//! The admin commands: hidden from everyone else (the very answer of an
//! unknown command, for every one of them), shown in the admins' menu only,
//! and stuck payments alerted about once at 24 h and cancelled once at 48 h.

use std::time::Duration;

use pinglass::kie::standin::Fault;
use pinglass::telegram::standin::UserSpec;

use crate::support::{LONG, TestApp, bot_text_contains, up_to_payment_link, wait_for};

const ADMIN: i64 = 900_000_001;

/// Every admin command, with and without arguments.
const ADMIN_COMMANDS: [&str; 19] = [
    "/stats",
    "/funnel",
    "/funnel 7",
    "/revenue",
    "/revenue 30",
    "/users",
    "/users 5",
    "/user 7001",
    "/pending",
    "/jobs",
    "/jobs 3",
    "/refund 1",
    "/cancel 1",
    "/credits",
    "/retry 1",
    "/retry",
    "/payouts",
    "/user abc",
    "/funnel 99999999",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_admins_have_admin_commands() {
    let app = TestApp::start().await;
    let sandbox = app.telegram.sandbox().clone();
    let stranger = UserSpec::new(5101, "Вася").with_language("ru");
    // The reference: what an unknown command gets.
    sandbox.send_text(&stranger, "/nosuchcommand").unwrap();
    wait_for(
        &app.telegram,
        &stranger,
        "the unknown-command answer",
        |c| c.iter().filter(|e| e.is_from_bot()).count() == 1,
        LONG,
    )
    .await;
    let unknown = sandbox.bot_messages(stranger.id)[0].text.clone().unwrap();
    for (i, command) in ADMIN_COMMANDS.iter().enumerate() {
        sandbox.send_text(&stranger, command).unwrap();
        wait_for(
            &app.telegram,
            &stranger,
            command,
            |c| c.iter().filter(|e| e.is_from_bot()).count() == i + 2,
            LONG,
        )
        .await;
        let answer = sandbox.bot_messages(stranger.id).last().unwrap().clone();
        assert_eq!(
            answer.text.as_deref(),
            Some(unknown.as_str()),
            "{command} answered a stranger differently"
        );
        assert!(
            answer.photo.is_empty() && answer.inline_keyboard.is_empty(),
            "{command}"
        );
    }
    // A forged confirmation button changes nothing either.
    let last = sandbox.bot_messages(stranger.id).last().unwrap().message_id;
    let query = sandbox.press_button_raw(&stranger, last, "arf:1").unwrap();
    let answer = sandbox
        .wait_for_callback_answer(&query, LONG)
        .await
        .unwrap();
    assert!(
        answer
            .text
            .as_deref()
            .is_some_and(|t| t.contains("кнопка уже не работает")),
        "{answer:?}"
    );
    // Handled, and whatever it left the side task done: no refund anywhere.
    crate::support::handled(&app.telegram, &stranger).await;
    app.settle().await;
    let refunds: i64 = app
        .app()
        .db
        .run_blocking(|c| c.query_row("SELECT COUNT(*) FROM refunds", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(refunds, 0);

    // The admin gets real answers to the same commands (never the unknown one).
    let admin = UserSpec::new(ADMIN, "Админ").with_language("ru");
    for command in ["/stats", "/pending", "/user abc", "/refund -1"] {
        let before = sandbox.bot_messages(ADMIN).len();
        sandbox.send_text(&admin, command).unwrap();
        wait_for(
            &app.telegram,
            &admin,
            command,
            |c| c.iter().filter(|e| e.is_from_bot()).count() > before,
            LONG,
        )
        .await;
        let answer = sandbox
            .bot_messages(ADMIN)
            .last()
            .unwrap()
            .text
            .clone()
            .unwrap();
        assert_ne!(answer, unknown, "{command}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_menu_is_set_in_admin_chats_only() {
    let mut app = TestApp::start().await;
    // Telegram refuses a menu for a chat that never wrote to the bot; the
    // bot starts anyway.
    assert!(
        app.telegram
            .sandbox()
            .commands(&format!("chat:{ADMIN}"), "")
            .is_empty()
    );
    let admin = UserSpec::new(ADMIN, "Админ").with_language("ru");
    app.telegram.sandbox().send_text(&admin, "/stats").unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "stats",
        |c| bot_text_contains(c, "Статистика"),
        LONG,
    )
    .await;
    // Telegram knows the admin's chat now: the menu is set at the next start.
    app.restart().await;
    let sandbox = app.telegram.sandbox();
    let admin_menu: Vec<String> = sandbox
        .commands(&format!("chat:{ADMIN}"), "")
        .into_iter()
        .map(|c| c.command)
        .collect();
    let everyone: Vec<String> = sandbox
        .commands("default", "")
        .into_iter()
        .map(|c| c.command)
        .collect();
    for command in [
        "stats", "funnel", "revenue", "users", "user", "pending", "jobs", "refund", "cancel",
        "credits", "retry", "payouts",
    ] {
        assert!(
            admin_menu.iter().any(|c| c == command),
            "{command} missing from the admin menu {admin_menu:?}"
        );
        assert!(
            !everyone.iter().any(|c| c == command),
            "{command} shown to everyone"
        );
    }
    assert!(
        admin_menu.iter().any(|c| c == "start"),
        "the admin keeps the user commands"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_payment_is_alerted_once_and_cancelled_once() {
    let app = TestApp::start().await;
    let sandbox = app.telegram.sandbox().clone();
    let admin = UserSpec::new(ADMIN, "Админ").with_language("ru");
    sandbox.send_text(&admin, "/pending").unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "pending",
        |c| bot_text_contains(c, "Незавершённых оплат нет"),
        LONG,
    )
    .await;
    let user = UserSpec::new(5201, "Оля").with_language("ru");
    let bank_id = up_to_payment_link(
        &app.telegram,
        &user,
        "stuck",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    let alerts = |needle: &str| {
        sandbox
            .bot_messages(ADMIN)
            .iter()
            .filter(|e| e.text.as_deref().is_some_and(|t| t.contains(needle)))
            .count()
    };

    // 23 hours: nothing yet.
    app.advance_clock(Duration::from_secs(23 * 3600));
    app.settle().await;
    assert_eq!(alerts("открыта уже"), 0);

    // 25 hours: one alert, and only one however long it stays open.
    app.advance_clock(Duration::from_secs(2 * 3600));
    wait_for(
        &app.telegram,
        &admin,
        "the stuck alert",
        |c| bot_text_contains(c, "открыта уже 25 ч"),
        LONG,
    )
    .await;
    for _ in 0..3 {
        app.advance_clock(Duration::from_secs(6 * 3600));
        app.settle().await;
    }
    assert_eq!(
        alerts("открыта уже"),
        1,
        "{:#?}",
        sandbox.bot_messages(ADMIN)
    );
    assert_eq!(alerts("слишком долго"), 0, "cancelled before 48 h");

    // 49 hours: cancelled at the bank, the user told (with a way to pay again), the admins told.
    app.advance_clock(Duration::from_secs(6 * 3600));
    wait_for(
        &app.telegram,
        &user,
        "the cancellation",
        |c| bot_text_contains(c, "закрыл счёт"),
        LONG,
    )
    .await;
    wait_for(
        &app.telegram,
        &admin,
        "the admins' note",
        |c| bot_text_contains(c, "слишком долго"),
        LONG,
    )
    .await;
    assert_eq!(
        app.tbank
            .status(&bank_id)
            .map(|s| s.as_str().to_owned())
            .as_deref(),
        Some("CANCELED")
    );
    let told = sandbox.bot_messages(user.id);
    let note = told
        .iter()
        .rev()
        .find(|e| e.text.as_deref().is_some_and(|t| t.contains("закрыл счёт")))
        .unwrap();
    assert!(
        note.inline_buttons()
            .any(|b| b.text == "Выбрать пакет снова"),
        "no way to pay again: {note:#?}"
    );

    // Days later: still one alert, one cancellation, one message each.
    for _ in 0..3 {
        app.advance_clock(Duration::from_secs(24 * 3600));
        app.settle().await;
    }
    assert_eq!(alerts("открыта уже"), 1);
    assert_eq!(alerts("слишком долго"), 1);
    assert_eq!(
        sandbox
            .bot_messages(user.id)
            .iter()
            .filter(|e| e.text.as_deref().is_some_and(|t| t.contains("закрыл счёт")))
            .count(),
        1
    );
    let (status, cancels): (String, i64) = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row(
                "SELECT p.status, (SELECT COUNT(*) FROM refunds r WHERE r.payment_id = p.id AND r.reason = 'stuck')
                 FROM payments p WHERE p.user_id = 5201",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .unwrap();
    assert_eq!((status.as_str(), cancels), ("canceled", 1));
    app.shutdown().await;
}

/// The 48 h cancellation crosses a payment made in the last second, after
/// the bot's GetState and before its Cancel: the Cancel of a paid payment
/// returns the money. The bot records what the bank answered (REFUNDED) and
/// tells the user the truth: paid, and returned in full; no set is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_cancel_that_crosses_a_last_second_payment_says_the_money_was_returned() {
    use pinglass::tbank::TbankMethod;
    use pinglass::tbank::standin::{CallFault, Fault as TbankFault};
    let app = TestApp::start().await;
    let user = UserSpec::new(5202, "Гоша").with_language("ru");
    let bank_id = up_to_payment_link(
        &app.telegram,
        &user,
        "last-second",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    app.tbank.script(
        TbankFault::on(TbankMethod::Cancel, CallFault::BuyerPaysFirst),
        1,
    );
    app.advance_clock(Duration::from_secs(49 * 3600));
    wait_for(
        &app.telegram,
        &user,
        "the truth",
        |c| bot_text_contains(c, "банк вернул её целиком"),
        LONG,
    )
    .await;
    app.settle().await;
    let at_bank = app.tbank.payment(&bank_id).unwrap();
    assert_eq!(at_bank.cancellations, [49_900], "{at_bank:?}");
    let (status, bank_status, jobs): (String, String, i64) = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row(
                "SELECT status, bank_status, (SELECT COUNT(*) FROM generation_jobs) FROM payments
                 WHERE user_id = 5202",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .unwrap();
    assert_eq!(
        (status.as_str(), bank_status.as_str(), jobs),
        ("canceled", "REFUNDED", 0)
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_set_sends_only_what_the_retry_made() {
    let app = TestApp::start().await;
    let sandbox = app.telegram.sandbox().clone();
    let user = UserSpec::new(5301, "Вера").with_language("ru");
    // One style refused by moderation in both of its wordings: 6 of 7 arrive.
    app.kie
        .script(Fault::ModeratePromptContaining("blinds".into()), 2);
    crate::support::buy(
        &app.telegram,
        &app.tbank,
        &user,
        "retry",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    wait_for(
        &app.telegram,
        &user,
        "the refund",
        |c| bot_text_contains(c, "Возврат 71,28 ₽ оформлен"),
        LONG,
    )
    .await;
    let photos_before = crate::support::portraits_received(&sandbox.history(user.id)).len();
    assert_eq!(photos_before, 6);
    // The set is finished once its last message is sent (the refund note can
    // come first): only then may an admin retry it.
    app.settle().await;
    let status: String = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row("SELECT status FROM generation_jobs WHERE id = 1", [], |r| {
                r.get(0)
            })
        })
        .unwrap();
    assert!(
        status != "delivering" && status != "running",
        "the set is finished: {status}"
    );

    let admin = UserSpec::new(ADMIN, "Админ").with_language("ru");
    sandbox.send_text(&admin, "/retry 1").unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "the retry",
        |c| bot_text_contains(c, "снова в очереди"),
        LONG,
    )
    .await;
    wait_for(
        &app.telegram,
        &user,
        "the retried portrait",
        |c| bot_text_contains(c, "Ещё один портрет"),
        LONG,
    )
    .await;
    wait_for(
        &app.telegram,
        &admin,
        "the admins' note",
        |c| bot_text_contains(c, "сделано и отправлено ещё 1"),
        LONG,
    )
    .await;
    // Everything the retry started is done: nothing more arrives.
    app.settle().await;
    let history = sandbox.history(user.id);
    assert_eq!(
        crate::support::portraits_received(&history).len(),
        7,
        "only the new portrait is sent"
    );
    let (status, completed, failed, refunded): (String, i64, i64, i64) = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row(
                "SELECT j.status, j.completed, j.failed, p.refunded_kopecks
                 FROM generation_jobs j JOIN payments p ON p.id = j.payment_id WHERE j.id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
        })
        .unwrap();
    assert_eq!((status.as_str(), completed, failed), ("done", 7, 0));
    assert_eq!(refunded, 7128, "the first refund stands, and no second one");
    // Nothing failed now: a second retry is refused and changes nothing.
    sandbox.send_text(&admin, "/retry 1").unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "the refusal",
        |c| bot_text_contains(c, "нельзя повторить"),
        LONG,
    )
    .await;
    app.shutdown().await;
}

/// A list longer than one Telegram message (`/pending` with 50 open
/// payments, about 6,000 characters) comes in several messages, cut
/// between lines, none over 4,096, none of the payments missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_list_longer_than_a_message_comes_in_parts() {
    let app = TestApp::start().await;
    let now = app.clock.now_ms();
    app.app()
        .db
        .run_blocking(move |c| pinglass::db::fixtures::seed_open_payments(c, 6100, 50, now))
        .unwrap();
    let sandbox = app.telegram.sandbox().clone();
    let admin = UserSpec::new(ADMIN, "Админ").with_language("ru");
    sandbox.send_text(&admin, "/pending").unwrap();
    crate::support::handled(&app.telegram, &admin).await;
    let parts: Vec<String> = sandbox
        .bot_messages(ADMIN)
        .iter()
        .filter_map(|m| m.text.clone())
        .collect();
    assert!(parts.len() >= 2, "{parts:#?}");
    assert!(
        parts[0].starts_with("⏳ Незавершённые оплаты (50)"),
        "{}",
        parts[0]
    );
    for part in &parts {
        assert!(part.encode_utf16().count() <= 4096, "{}", part.len());
    }
    let all = parts.join("\n");
    for user in 6100..6150 {
        assert!(all.contains(&user.to_string()), "user {user} missing");
    }
    app.shutdown().await;
}

/// The daily reconciliation: a payment the bot recorded as declined while
/// the bank took the money (a database restored from an old backup, a bug)
/// is found by comparing with GetState, and the admins are told once; a
/// payment both agree on raises nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_reconciliation_alerts_on_a_payment_the_bank_disagrees_with() {
    let app = TestApp::start().await;
    let sandbox = app.telegram.sandbox().clone();
    let admin = UserSpec::new(ADMIN, "Админ").with_language("ru");
    sandbox.send_text(&admin, "/start").unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "onboarding",
        |c| bot_text_contains(c, "Пакеты"),
        LONG,
    )
    .await;
    for (id, prefix) in [(5203, "reconcile-a"), (5204, "reconcile-b")] {
        let user = UserSpec::new(id, "Ян").with_language("ru");
        crate::support::starter_set(&app, &user, prefix).await;
    }
    let payment: i64 = app
        .app()
        .db
        .run_blocking(|c| {
            c.execute(
                "UPDATE payments SET status = 'rejected' WHERE user_id = 5203",
                [],
            )?;
            c.query_row("SELECT id FROM payments WHERE user_id = 5203", [], |r| {
                r.get(0)
            })
        })
        .unwrap();
    let mismatches = || {
        sandbox
            .bot_messages(ADMIN)
            .iter()
            // The alert itself, not the "still happening" summaries.
            .filter(|e| {
                e.text
                    .as_deref()
                    .is_some_and(|t| t.contains("а у бота он") && !t.starts_with('🔁'))
            })
            .map(|e| e.text.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    app.advance_clock(Duration::from_secs(25 * 3600));
    wait_for(
        &app.telegram,
        &admin,
        "the alert",
        |c| bot_text_contains(c, "а у бота он"),
        LONG,
    )
    .await;
    for _ in 0..2 {
        app.advance_clock(Duration::from_secs(25 * 3600));
        app.settle().await;
    }
    let told = mismatches();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(told[0].contains(&format!("платёж {payment} ")), "{told:#?}");
    assert!(told[0].contains("CONFIRMED"), "{told:#?}");
    app.shutdown().await;
}
