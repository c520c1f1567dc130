//! The stand-ins misbehave at a rate ([`FaultPlan`]), one service at a
//! time, while several users go through the whole funnel at once: the bot
//! recovers from every fault with nothing lost or doubled, each payment
//! processed once and refunds only where portraits could not be made
//! (`invariants::check`). The real binary under all faults at once, and
//! SIGKILLed, is `soak.rs`.

use std::time::Duration;

use pinglass::faults::FaultPlan;
use pinglass::harness::{Harness, HarnessOptions, local_config};
use pinglass::kie::standin::{Fault as KieFault, TaskFault};
use pinglass::tbank::TbankMethod;
use pinglass::tbank::standin::{CallFault, Fault as TbankFault};
use pinglass::telegram::standin::Fault as TelegramFault;

use crate::invariants::{self, Delivered, Outcome};

/// Runs `users` through the funnel against stand-ins playing `plan`, waits
/// until all is settled, checks the invariants and that the plan's faults
/// of `kinds` were met.
async fn run(
    plan: FaultPlan,
    users: &[(pinglass::telegram::standin::UserSpec, Outcome)],
    adjust: impl FnOnce(&mut pinglass::config::Config),
    before: impl FnOnce(&Harness),
    kinds: &[&str],
) -> Delivered {
    crate::support::init_test_log();
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path()).unwrap();
    // The T-Bank timeouts of the plan hold calls past this.
    config.tbank.request_timeout_secs = 2;
    adjust(&mut config);
    let tally = plan.tally().clone();
    let h = Harness::start(
        dir.path(),
        config,
        HarnessOptions {
            faults: plan,
            ..HarnessOptions::default()
        },
    )
    .await
    .unwrap();
    before(&h);
    invariants::buy_all(&h.telegram, &h.tbank, users).await;
    let db = h.app().db.clone();
    invariants::wait_settled(&db, users, Duration::from_secs(240)).await;
    // Whatever the side task would still do (a wrongly repeated send) is done.
    h.settle().await.unwrap();
    let met = tally.snapshot();
    eprintln!("faults met: {met:?}");
    let delivered = invariants::check(&db, &h.telegram, &h.tbank, users, 0).await;
    eprintln!("delivered: {delivered:?}");
    for kind in kinds {
        assert!(
            met.keys().any(|k| k.starts_with(kind)),
            "no fault {kind} was met: {met:?}"
        );
    }
    h.shutdown().await;
    delivered
}

fn plan(seed: u64) -> FaultPlan {
    FaultPlan::none().with_seed(seed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kie_5xx_429_bursts_record_info_null_and_slow_downloads_lose_nothing() {
    let mut plan = plan(11);
    plan.kie.create_server_error = 0.2;
    plan.kie.http_5xx = 0.15;
    plan.kie.rate_limit_burst = 0.15;
    plan.kie.rate_limit_burst_len = 3;
    plan.kie.record_info_null = 0.4;
    plan.kie.record_info_null_polls = 3;
    plan.kie.slow_result = 0.4;
    plan.kie.slow_result_delay = Duration::from_secs(2);
    let users = invariants::users(8101, 3, 0, 0);
    let delivered = run(
        plan,
        &users,
        |_| {},
        |_| {},
        &[
            "kie.code_500",
            "kie.http_502",
            "kie.rate_limit_429",
            "kie.record_info_null",
            "kie.slow_result",
        ],
    )
    .await;
    // None of these faults is the portrait's: every one is made.
    assert_eq!(delivered.failed, 0, "{delivered:?}");
    assert_eq!(delivered.portraits, 7 + 15 + 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kie_moderation_and_failed_tasks_are_retried_and_refunded_only_when_given_up() {
    let mut plan = plan(12);
    plan.kie.moderation = 0.3;
    plan.kie.transient_fail = 0.2;
    let users = invariants::users(8201, 2, 0, 0);
    let delivered = run(
        plan,
        &users,
        // Two attempts per portrait, so that some are given up (and refunded).
        |config| config.kie.max_attempts = 2,
        |_| {},
        &["kie.moderation", "kie.task_fail_500"],
    )
    .await;
    assert_eq!(
        delivered.portraits + delivered.failed,
        7 + 15,
        "{delivered:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_429_storms_and_5xx_on_sends_and_get_updates_lose_nothing() {
    let mut plan = plan(13);
    plan.telegram.storm = 0.03;
    plan.telegram.storm_secs = 2;
    plan.telegram.send_5xx = 0.08;
    plan.telegram.get_updates_5xx = 0.15;
    // Some sends take effect but their answer comes after the bot stopped
    // waiting: the bot sends again (counted as uncertain), and only those
    // may show twice (`invariants::check`).
    plan.telegram.lost_answer = 0.03;
    plan.telegram.lost_answer_hold = Duration::from_secs(17);
    let users = invariants::users(8301, 3, 3, 0);
    let delivered = run(
        plan,
        &users,
        // The shortest allowed (teloxide holds a 5xx answer 10 s).
        |config| config.telegram.send_timeout_secs = 15,
        // And surely one: the first album arrives, its answer does not.
        |h| h.telegram.script(TelegramFault::AlbumAnswerLost, 1),
        &[
            "telegram.storm",
            "telegram.429",
            "telegram.send_5",
            "telegram.get_updates_5",
            "telegram.lost_answer",
        ],
    )
    .await;
    assert_eq!(delivered.portraits, 7 + 15);
    // The album whose answer was lost went out again (at least once): the
    // user has it twice, and that repeat is the one the check allowed.
    assert!(delivered.uncertain >= 1, "{delivered:?}");
    assert!(delivered.resent >= 2, "{delivered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tbank_timeouts_and_errors_process_each_payment_and_refund_once() {
    let mut plan = plan(14);
    plan.tbank.timeout = 0.2;
    plan.tbank.timeout_hold = Duration::from_secs(3);
    plan.tbank.error = 0.2;
    plan.tbank.http_5xx = 0.1;
    let users = invariants::users(8401, 4, 4, 0);
    let delivered = run(
        plan,
        &users,
        // One attempt per portrait: the two failed tasks below are given up
        // and refunded through Cancel, which meets the faults too.
        |config| config.kie.max_attempts = 1,
        |h| {
            h.kie.script(KieFault::Task(TaskFault::FailTransient), 2);
            // The refund's Cancel: taken by the bank but the answer lost,
            // then an internal error — and still one refund.
            let cancel = |play| TbankFault::on(TbankMethod::Cancel, play);
            h.tbank.script(
                cancel(CallFault::Timeout {
                    hold: Duration::from_secs(3),
                    processed: true,
                }),
                1,
            );
            h.tbank.script(cancel(CallFault::internal_error()), 1);
        },
        &["tbank.Init", "tbank.GetState"],
    )
    .await;
    assert_eq!(delivered.failed, 2, "{delivered:?}");
    assert!(delivered.refunds >= 1, "{delivered:?}");
}

/// S3 / R2 stumbling (500 InternalError, 503 SlowDown) at a high rate: the
/// store's calls are retried with back-off and the bot's work gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_errors_are_retried_by_the_store() {
    let mut plan = plan(15);
    plan.s3.error = 0.3;
    let dir = tempfile::tempdir().unwrap();
    let server = crate::s3_standin::start(dir.path(), &plan).await;
    let store = pinglass::store::ObjectStore::S3(
        pinglass::store::S3Store::new(pinglass::store::S3Settings {
            endpoint: server.endpoint.clone(),
            region: "auto".to_owned(),
            bucket: crate::s3_standin::BUCKET.to_owned(),
            access_key: secrecy::SecretString::from(crate::s3_standin::ACCESS_KEY),
            secret_key: secrecy::SecretString::from(crate::s3_standin::SECRET_KEY),
            timeout: Duration::from_secs(10),
        })
        .unwrap(),
    );
    let (mut ok, mut failed) = (0, 0);
    for i in 0..40 {
        let key = format!("avatars/1/{i}.jpg");
        let bytes = bytes::Bytes::from(format!("photo {i}"));
        let round = async {
            store.put(&key, bytes.clone(), "image/jpeg").await?;
            assert_eq!(store.head(&key).await?.size, bytes.len() as u64);
            assert_eq!(store.get(&key).await?, bytes);
            store.get_to_file(&key, &dir.path().join("copy")).await?;
            store.delete(&key).await
        };
        match round.await {
            Ok(()) => ok += 1,
            Err(error) => {
                assert!(error.is_transient(), "only S3's stumbles fail: {error}");
                failed += 1;
            }
        }
    }
    let met = plan.tally().snapshot();
    eprintln!("S3: {ok} rounds through, {failed} failed after the retries; faults met {met:?}");
    assert!(plan.tally().total("s3.") >= 20, "{met:?}");
    // Five calls a round, each failing 3 tries in a row with 0.3³ ≈ 2.7 %.
    assert!(ok >= 30, "{ok} of 40 rounds got through");
}

/// The welcome is lost to a Telegram 500: the user is asked (through the
/// queue) to repeat, and the photos they send next are taken all the same —
/// the onboarding stored the state before answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_lost_to_a_telegram_5xx_asks_to_repeat_and_the_state_holds() {
    use crate::support::{LONG, TestApp, bot_text_contains, photo_jpeg, wait_for};
    let h = TestApp::start().await;
    let user = pinglass::telegram::standin::UserSpec::new(8501, "Ира").with_language("ru");
    let sandbox = h.telegram.sandbox().clone();
    h.telegram.script(TelegramFault::SendError500, 1);
    sandbox.send_text(&user, "/start").unwrap();
    wait_for(
        &h.telegram,
        &user,
        "the request to repeat",
        |e| bot_text_contains(e, "Telegram не донёс мой ответ"),
        LONG,
    )
    .await;
    assert!(!bot_text_contains(&sandbox.history(user.id), "Привет"));
    let photos = (1..=5)
        .map(|i| photo_jpeg(&format!("ira-{i}"), 800, 1000))
        .collect();
    sandbox.send_album(&user, photos, None).await.unwrap();
    wait_for(
        &h.telegram,
        &user,
        "the counter",
        |e| bot_text_contains(e, "Принято: 5 фото"),
        LONG,
    )
    .await;
    let repeats = sandbox
        .history(user.id)
        .iter()
        .filter(|e| {
            e.text
                .as_deref()
                .is_some_and(|t| t.starts_with("Telegram не донёс"))
        })
        .count();
    assert_eq!(repeats, 1, "asked once");
    h.shutdown().await;
}
