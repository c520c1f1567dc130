//! The referral programme's money: the balance arithmetic (earned, reversed
//! by refunds, spent as a discount, released when that payment ends without
//! money, requested and paid out), attribution rules, the configuration, and
//! a payment confirmed twice at once and again after a restart crediting the
//! referrer exactly once, with one message.

use pinglass::config::{Config, Secrets};
use pinglass::db::payments::{self, CreatePayment, PaymentStatus};
use pinglass::db::referrals::{self, Payout};
use pinglass::db::{self, Db, avatars, users};
use pinglass::telegram::standin::UserSpec;

use crate::support::{LONG, TestApp, bot_text_contains, portraits_received, wait_for};

use crate::support::{open_db as open, seed_user as user};

/// A payment of `user` for a new avatar: `price` with `discount` taken off,
/// the spend reserved as `purchase::request_payment` does.
fn pay(c: &mut rusqlite::Connection, user: i64, price: i64, discount: i64) -> payments::Payment {
    let tx = c.transaction().unwrap();
    let avatar = avatars::create_draft(&tx, user, 1_000).unwrap();
    let order = format!("order-{user}-{}", avatar.id);
    let CreatePayment::Created(payment) = payments::create(
        &tx,
        &payments::NewPayment {
            order_id: &order,
            user_id: user,
            avatar_id: avatar.id,
            tier_id: "starter",
            amount_kopecks: price - discount,
            portraits: 7,
            discount_kopecks: discount,
            receipt_contact: "a@example.ru",
        },
        1_000,
    )
    .unwrap() else {
        panic!("a new avatar has no open payment");
    };
    if discount > 0 {
        referrals::reserve_spend(&tx, user, payment.id, discount, 1_000).unwrap();
    }
    tx.commit().unwrap();
    payment
}

fn finish(c: &rusqlite::Connection, payment: &payments::Payment, status: PaymentStatus) {
    assert!(payments::finish(c, payment.id, status, None, 2_000).unwrap());
}

#[test]
fn shares_and_discounts_are_whole_kopecks_rounded_down_and_keep_the_bank_minimum() {
    assert_eq!(referrals::share(49_900, 10), 4_990);
    assert_eq!(referrals::share(40_632, 10), 4_063, "4063.2 is floored");
    assert_eq!(referrals::share(999, 33), 329, "329.67 is floored");
    assert_eq!(referrals::share(49_900, 0), 0);
    // The whole balance when the price allows it…
    assert_eq!(referrals::discount_for(9_268, 49_900), 9_268);
    // …but T-Bank's 10 ₽ minimum is always left to pay.
    assert_eq!(referrals::discount_for(100_000, 49_900), 48_900);
    assert_eq!(referrals::discount_for(100_000, 1_000), 0);
    assert_eq!(referrals::discount_for(0, 49_900), 0);
    assert_eq!(
        referrals::discount_for(-500, 49_900),
        0,
        "a negative balance is no surcharge"
    );
}

#[test]
fn the_balance_follows_earnings_reversals_spends_releases_and_payouts() {
    let (_dir, db) = open();
    db.run_blocking(|c| {
        let (a, b) = (1, 2);
        user(c, a);
        user(c, b);
        assert!(users::attribute_referrer(c, b, a)?);

        // B pays twice: A earns 10 % of each, once per payment.
        let p1 = pay(c, b, 49_900, 0);
        finish(c, &p1, PaymentStatus::Confirmed);
        let first = referrals::credit_for_payment(c, &p1, 10, 2_000)?.expect("credited");
        assert_eq!((first.referrer_id, first.amount_kopecks), (a, 4_990));
        assert_eq!(
            referrals::credit_for_payment(c, &p1, 10, 3_000)?,
            None,
            "a payment credits once"
        );
        let p2 = pay(c, b, 49_900, 0);
        finish(c, &p2, PaymentStatus::Confirmed);
        referrals::credit_for_payment(c, &p2, 10, 2_000)?.expect("credited");
        let s = referrals::summary(c, a)?;
        assert_eq!((s.brought, s.credits, s.earned), (1, 2, 9_980));
        assert_eq!(s.balance(), 9_980);
        // B is nobody's referrer: their own payments earn them nothing.
        assert_eq!(referrals::summary(c, b)?.earned, 0);

        // One portrait of seven refunded: floor(4990 × 7128 / 49900) = 712.
        let (_, reversed) = referrals::reverse_for_refund(c, p1.id, 7_128)?.unwrap();
        assert_eq!(reversed, 712);
        assert_eq!(referrals::summary(c, a)?.balance(), 9_268);
        // The rest of that payment refunded: the share never goes above the earning.
        let (e, reversed) = referrals::reverse_for_refund(c, p1.id, 42_772)?.unwrap();
        assert_eq!((reversed, e.reversed_kopecks), (4_277, 4_989));
        let (e, reversed) = referrals::reverse_for_refund(c, p1.id, 49_900)?.unwrap();
        assert_eq!(
            (reversed, e.reversed_kopecks),
            (1, 4_990),
            "capped at the earning"
        );
        assert_eq!(referrals::summary(c, a)?.balance(), 4_990);

        // A spends the balance on a package: reserved with the payment.
        let discount = referrals::discount_for(referrals::available(c, a)?, 49_900);
        assert_eq!(discount, 4_990);
        let spend = pay(c, a, 49_900, discount);
        assert_eq!(spend.amount_kopecks, 44_910);
        let s = referrals::summary(c, a)?;
        assert_eq!((s.spent, s.available()), (4_990, 0), "reserved while open");
        // A second package meanwhile gets no discount: nothing is spent twice.
        assert_eq!(referrals::available(c, a)?, 0);
        // The bank declines: the spend is released by the same update.
        finish(c, &spend, PaymentStatus::Rejected);
        let s = referrals::summary(c, a)?;
        assert_eq!((s.spent, s.available()), (0, 4_990));
        for status in [
            PaymentStatus::Expired,
            PaymentStatus::Canceled,
            PaymentStatus::Failed,
        ] {
            let p = pay(c, a, 49_900, 4_990);
            assert_eq!(referrals::available(c, a)?, 0);
            finish(c, &p, status);
            assert_eq!(referrals::available(c, a)?, 4_990, "released on {status:?}");
        }
        // Paid with the discount: spent for good, even after a partial refund
        // (refunds return money paid, not balance).
        let paid = pay(c, a, 49_900, 4_990);
        finish(c, &paid, PaymentStatus::Confirmed);
        pinglass::db::refunds::request_failed_portraits(c, paid.id, 6_415, 3_000)?;
        let refund = pinglass::db::refunds::for_payment(c, paid.id)?.remove(0);
        assert!(pinglass::db::refunds::mark_done(
            c,
            refund.id,
            "PARTIAL_REFUNDED",
            3_000
        )?);
        let s = referrals::summary(c, a)?;
        assert_eq!((s.spent, s.available()), (4_990, 0));

        // B pays again; A asks for a payout of the whole balance.
        let p3 = pay(c, b, 99_900, 0);
        finish(c, &p3, PaymentStatus::Confirmed);
        referrals::credit_for_payment(c, &p3, 10, 2_000)?.expect("credited");
        assert_eq!(referrals::available(c, a)?, 9_990);
        let Payout::Requested(request) = referrals::request_payout(c, a, 4_000)? else {
            panic!("a positive balance can be requested");
        };
        assert_eq!(request.amount_kopecks, 9_990);
        let s = referrals::summary(c, a)?;
        assert_eq!(
            (s.requested, s.available()),
            (9_990, 0),
            "requested is not shown as balance"
        );
        assert!(matches!(
            referrals::request_payout(c, a, 4_001)?,
            Payout::AlreadyOpen(open) if open.id == request.id
        ));
        assert_eq!(
            referrals::request_payout(c, b, 4_000)?,
            Payout::NothingToPay
        );
        // Rejected by the admin: the amount comes back; paid: it is gone.
        assert!(referrals::decide_payout(c, request.id, false, 5_000)?);
        assert!(
            !referrals::decide_payout(c, request.id, true, 5_000)?,
            "decided once"
        );
        assert_eq!(referrals::available(c, a)?, 9_990);
        let Payout::Requested(second) = referrals::request_payout(c, a, 6_000)? else {
            panic!("after a rejection the balance can be requested again");
        };
        assert!(referrals::decide_payout(c, second.id, true, 7_000)?);
        let s = referrals::summary(c, a)?;
        assert_eq!((s.paid_out, s.requested, s.available()), (9_990, 0, 0));

        // A refund after the money left: the balance goes below zero, nothing
        // is available, and the next earning fills the gap first.
        referrals::reverse_for_refund(c, p3.id, 99_900)?;
        let s = referrals::summary(c, a)?;
        assert_eq!((s.balance(), s.available()), (-9_990, 0));
        assert_eq!(
            referrals::request_payout(c, a, 8_000)?,
            Payout::NothingToPay
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn one_open_payout_request_per_user_is_enforced_by_the_schema() {
    let (_dir, db) = open();
    db.run_blocking(|c| {
        user(c, 1);
        c.execute(
            "INSERT INTO payout_requests (user_id, amount_kopecks, created_at) VALUES (1, 100, 1)",
            [],
        )?;
        let second = c.execute(
            "INSERT INTO payout_requests (user_id, amount_kopecks, created_at) VALUES (1, 100, 2)",
            [],
        );
        assert!(second.is_err_and(|e| db::is_unique_violation(&e)));
        Ok(())
    })
    .unwrap();
}

#[test]
fn attribution_is_first_touch_only_and_never_oneself() {
    let (_dir, db) = open();
    db.run_blocking(|c| {
        for id in [1, 2, 3] {
            user(c, id);
        }
        assert!(!users::attribute_referrer(c, 2, 2)?, "not oneself");
        assert!(users::attribute_referrer(c, 2, 1)?);
        assert!(!users::attribute_referrer(c, 2, 3)?, "first touch only");
        assert_eq!(users::get(c, 2)?.unwrap().referred_by, Some(1));
        assert_eq!(referrals::summary(c, 1)?.brought, 1);
        assert_eq!(referrals::summary(c, 3)?.brought, 0);
        Ok(())
    })
    .unwrap();
}

#[test]
fn the_referral_percent_is_configurable_within_0_to_50() {
    let shipped = Config::from_toml_str(Config::shipped_toml(), Secrets::default()).unwrap();
    assert_eq!(shipped.referral.percent, 10);
    let text = Config::shipped_toml().replacen("percent = 10", "percent = 51", 1);
    let err = Config::from_toml_str(&text, Secrets::default()).unwrap_err();
    assert!(err.to_string().contains("referral.percent"), "{err}");
    let text = Config::shipped_toml().replacen("percent = 10", "percent = 0", 1);
    assert_eq!(
        Config::from_toml_str(&text, Secrets::default())
            .unwrap()
            .referral
            .percent,
        0
    );
}

fn count(db: &Db, sql: &'static str, id: i64) -> i64 {
    db.run_blocking(|c| c.query_row(sql, [id], |r| r.get(0)))
        .unwrap()
}

fn earning_messages(app: &TestApp, user: i64) -> usize {
    app.telegram
        .sandbox()
        .history(user)
        .iter()
        .filter(|e| {
            e.is_from_bot()
                && e.text
                    .as_deref()
                    .is_some_and(|t| t.contains("на ваш реферальный баланс"))
        })
        .count()
}

/// The side task confirms a payment twice at once while the bot is down (a
/// crash after the confirmation, before any message went out), and once more
/// after the restart: one earning, one queued message, one message received.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_confirmed_twice_and_after_a_restart_credits_the_referrer_once() {
    let mut app = TestApp::start().await;
    let sandbox = app.telegram.sandbox().clone();
    let alla = UserSpec::new(3101, "Алла").with_language("ru");
    let boris = UserSpec::new(3102, "Борис").with_language("ru");
    sandbox.send_text(&alla, "/start").unwrap();
    wait_for(
        &app.telegram,
        &alla,
        "the onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
    let code = app
        .app()
        .db
        .run_blocking(|c| users::get(c, 3101))
        .unwrap()
        .unwrap()
        .referral_code;
    sandbox
        .send_text(&boris, &format!("/start ref_{code}"))
        .unwrap();
    wait_for(
        &app.telegram,
        &boris,
        "the onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
    assert!(bot_text_contains(
        &sandbox.history(3102),
        "Вас пригласил друг"
    ));
    let bank_id = crate::support::up_to_payment_link(
        &app.telegram,
        &boris,
        "boris",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;

    // The bot goes down; the payment is made meanwhile; two confirmations
    // race (the worker of the dead process and a duplicate poll).
    let old_ctx = app.app().worker_ctx.clone();
    app.stop().await;
    app.tbank.pay(&bank_id).unwrap();
    let db = old_ctx.db.clone();
    let payment_id = count(&db, "SELECT id FROM payments WHERE user_id = ?1", 3102);
    let payment = db
        .run_blocking(|c| payments::get(c, payment_id))
        .unwrap()
        .unwrap();
    let now = db::now_ms();
    let (a, b) = tokio::join!(
        pinglass::worker::payments::confirm(&old_ctx, &payment, "CONFIRMED", now),
        pinglass::worker::payments::confirm(&old_ctx, &payment, "CONFIRMED", now + 1),
    );
    a.unwrap();
    b.unwrap();
    drop(old_ctx);
    let earnings = "SELECT COUNT(*) FROM referral_earnings WHERE payment_id = ?1";
    assert_eq!(count(&db, earnings, payment_id), 1);
    let queued = "SELECT COUNT(*) FROM message_queue WHERE chat_id = ?1 AND dedup_key LIKE 'referral:earning:%'";
    assert_eq!(count(&db, queued, 3101), 1);
    assert_eq!(
        earning_messages(&app, 3101),
        0,
        "nothing was sent before the crash"
    );

    // Restarted: the queued message goes out once, and a late confirmation
    // of the same payment changes nothing.
    app.restart().await;
    pinglass::worker::payments::confirm(&app.app().worker_ctx, &payment, "CONFIRMED", db::now_ms())
        .await
        .unwrap();
    wait_for(
        &app.telegram,
        &alla,
        "the earning message",
        |e| bot_text_contains(e, "+49,90 ₽"),
        LONG,
    )
    .await;
    wait_for(
        &app.telegram,
        &boris,
        "all 7 portraits",
        |e| portraits_received(e).len() == 7,
        LONG,
    )
    .await;
    app.restart().await;
    // Whatever the restarted side task would redo, it has done by now.
    app.settle().await;
    let db = app.app().db.clone();
    assert_eq!(count(&db, earnings, payment_id), 1);
    assert_eq!(count(&db, queued, 3101), 1);
    assert_eq!(earning_messages(&app, 3101), 1, "one payment, one message");
    let amount: i64 = count(
        &db,
        "SELECT amount_kopecks FROM referral_earnings WHERE payment_id = ?1",
        payment_id,
    );
    assert_eq!(amount, 4_990);
    let confirmations = sandbox
        .history(3102)
        .iter()
        .filter(|e| {
            e.is_from_bot()
                && e.text
                    .as_deref()
                    .is_some_and(|t| t.starts_with("Оплата получена"))
        })
        .count();
    assert_eq!(confirmations, 1);
    assert_eq!(
        portraits_received(&sandbox.history(3102)).len(),
        7,
        "one job"
    );
    app.shutdown().await;
}
