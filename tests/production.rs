//! The real binary against services that misbehave the way the real ones
//! do at start-up and while running (issue 15): it waits out an outage of
//! Telegram's front, exits non-zero when a part of it can no longer serve,
//! and never serves real users with a stand-in it was not told to use.

use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use pinglass::telegram::standin::{Fault, UserSpec};

use crate::child::Harness;
use crate::support::{LONG, bot_text_contains};

/// Waits for the bot process to exit on its own; `None` if it still runs.
fn wait_for_exit(h: &Harness, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(child) = h.child.lock().unwrap().as_mut()
            && let Some(status) = child.try_wait().unwrap()
        {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn bot_log(h: &Harness) -> String {
    let start = h.starts.load(std::sync::atomic::Ordering::SeqCst);
    std::fs::read_to_string(h.dir.path().join(format!("bot-{start}.log"))).unwrap_or_default()
}

async fn answers_start(h: &Harness, user: &UserSpec) {
    h.telegram.sandbox().send_text(user, "/start").unwrap();
    h.wait_for(
        user,
        "the onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_telegram_at_start_up_is_waited_out_and_the_bot_serves() {
    let h = Harness::new(Duration::from_millis(200)).await;
    // getMe (the first call) and the retries after it meet the 502 page.
    h.telegram.script(Fault::Outage, 3);
    h.start_bot();
    answers_start(&h, &UserSpec::new(8101, "Оля").with_language("ru")).await;
    let log = bot_log(&h);
    assert!(
        log.matches("start-up call failed; retrying").count() >= 3,
        "each failed call is logged before its retry: {log}"
    );
    assert!(log.contains("getMe"), "the log names the call: {log}");
    assert!(wait_for_exit(&h, Duration::ZERO).is_none(), "still running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_that_never_answers_at_start_up_ends_the_process_with_an_error() {
    let mut h = Harness::new(Duration::from_millis(200)).await;
    h.env
        .push(("PINGLASS_BOT__STARTUP_RETRY_SECS".into(), "2".into()));
    h.telegram.script(Fault::Outage, 10_000);
    h.start_bot();
    let status = wait_for_exit(&h, Duration::from_secs(60)).expect("the process gives up");
    assert!(!status.success(), "{status}");
    let log = bot_log(&h);
    assert!(
        log.contains("Telegram did not answer within [bot] startup_retry_secs"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_while_serving_ends_the_process_with_an_error() {
    let h = Harness::new(Duration::from_millis(200)).await;
    h.start_bot();
    answers_start(&h, &UserSpec::new(8102, "Дима").with_language("ru")).await;
    assert!(wait_for_exit(&h, Duration::ZERO).is_none(), "serving");
    h.telegram.script(Fault::TokenRevoked, 10_000);
    let status = wait_for_exit(&h, Duration::from_secs(60))
        .expect("a bot that can never get an update again exits");
    assert!(!status.success(), "{status}");
    let log = bot_log(&h);
    assert!(log.contains("was it revoked in @BotFather?"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_at_start_up_fails_at_once_naming_the_variable() {
    let h = Harness::new(Duration::from_millis(200)).await;
    h.telegram.script(Fault::TokenRevoked, 10_000);
    h.start_bot();
    let status =
        wait_for_exit(&h, Duration::from_secs(20)).expect("no retries for a refused token");
    assert!(!status.success(), "{status}");
    let log = bot_log(&h);
    assert!(log.contains("Telegram refuses TELEGRAM_BOT_TOKEN"), "{log}");
    assert!(!log.contains("retrying"), "{log}");
}

/// The binary with only a real Telegram token in its environment.
fn run_with_env(env: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml");
    Command::new(env!("CARGO_BIN_EXE_pinglass"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PINGLASS_DATABASE__PATH", dir.path().join("db.sqlite3"))
        .env("PINGLASS_STORAGE__LOCAL_DIR", dir.path().join("objects"))
        .env("PINGLASS_SANDBOX__DATA_DIR", dir.path().join("sandbox"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn a_real_token_without_the_other_services_refuses_to_start_naming_each_variable() {
    let out = run_with_env(&[("TELEGRAM_BOT_TOKEN", "123456:real-looking-token")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for variable in ["KIE_API_KEY", "TBANK_TERMINAL_KEY", "TBANK_PASSWORD"] {
        assert!(stderr.contains(variable), "{variable} is named: {stderr}");
    }
    assert!(
        !stderr.contains("real-looking-token"),
        "no secret in the message"
    );

    let out = run_with_env(&[
        ("TELEGRAM_BOT_TOKEN", "123456:real-looking-token"),
        ("KIE_API_KEY", "a-key"),
        ("TBANK_TERMINAL_KEY", "Terminal"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TBANK_PASSWORD is not set"), "{stderr}");
    assert!(
        !stderr.contains("KIE_API_KEY"),
        "only what is missing: {stderr}"
    );
}

#[test]
fn stand_ins_and_an_open_metrics_endpoint_are_refused_outside_loopback() {
    let out = run_with_env(&[("PINGLASS_SANDBOX__HOST", "0.0.0.0")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`sandbox.host` must be a loopback address"),
        "{out:?}"
    );
    let out = run_with_env(&[("PINGLASS_TELEMETRY__METRICS_LISTEN", "0.0.0.0:0")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("metrics_public"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staging_bot_keeps_only_the_stand_ins_it_names_and_says_so() {
    let mut h = Harness::new(Duration::from_millis(200)).await;
    // The Kie key is taken away: the start would fail, but for the name.
    h.env.push(("KIE_API_KEY".into(), String::new()));
    h.env
        .push(("PINGLASS_SANDBOX__STANDINS".into(), "[\"kie\"]".into()));
    h.start_bot();
    answers_start(&h, &UserSpec::new(8103, "Лена").with_language("ru")).await;
    let log = bot_log(&h);
    assert!(log.contains("staging"), "a warning at start: {log}");
    assert!(log.contains("Kie AI: local stand-in"), "{log}");
    assert!(log.contains("T-Bank: real service"), "{log}");
}

/// `pinglass check` with `env` on top of variables that point it at the stand-ins.
async fn check_against_standins(env: &[(&str, &str)]) -> std::process::Output {
    use pinglass::standins::{self, Credentials, StandinsOptions};
    let dir = tempfile::tempdir().unwrap();
    let credentials = Credentials {
        bot_token: "5252:check-token".into(),
        bot_username: "PinGlassCheckBot".into(),
        kie_api_key: "check-kie".into(),
        tbank_terminal_key: "CheckTerminalDEMO".into(),
        tbank_password: "check-password".into(),
    };
    let standins = standins::start(StandinsOptions::local(dir.path(), credentials))
        .await
        .unwrap();
    let standin_env = standins.bot_env();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinglass"));
    command
        .arg("--config")
        .arg(&config)
        .arg("check")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PINGLASS_STORAGE__LOCAL_DIR", dir.path().join("objects"))
        .envs(standin_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(env.iter().copied());
    let out = command.output().await.unwrap();
    drop(standins);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_calls_each_service_once_and_reports_what_is_wrong() {
    let out = check_against_standins(&[]).await;
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    for row in [
        "Telegram       OK      answered getMe as @PinGlassCheckBot",
        "Kie AI         OK      answered:",
        "T-Bank         OK      accepts the terminal key and password",
        "object store   WARNING local directory",
    ] {
        assert!(table.contains(row), "{row:?} in:\n{table}");
    }
    assert_eq!(out.status.code(), Some(0), "{table}");

    let out = check_against_standins(&[("TBANK_PASSWORD", "a-wrong-password")]).await;
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        table.contains(
            "T-Bank         FAILED  refuses TBANK_TERMINAL_KEY / TBANK_PASSWORD (error 204"
        ),
        "{table}"
    );
    assert!(
        table.contains("Telegram       OK"),
        "the others still checked: {table}"
    );
    assert!(!table.contains("a-wrong-password"), "{table}");
    assert_eq!(out.status.code(), Some(1), "{table}");
}

/// `pinglass restore` on the harness's database and object store.
fn run_restore(h: &Harness) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pinglass"))
        .arg("--config")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml"))
        .arg("restore")
        .env_clear()
        .env("PINGLASS_DATABASE__PATH", h.db_path())
        .env("PINGLASS_STORAGE__LOCAL_DIR", h.dir.path().join("objects"))
        .output()
        .unwrap()
}

/// The bot's local object store keeps `backups/…` here.
fn backups_dir(h: &Harness) -> std::path::PathBuf {
    h.dir.path().join("objects").join("objects").join("backups")
}

/// The newest backup file in the bot's local object store, with its time.
fn newest_backup(h: &Harness) -> Option<(std::path::PathBuf, std::time::SystemTime)> {
    let dir = backups_dir(h);
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".sqlite3"))
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.modified().ok()?)))
        .max_by_key(|(_, modified)| *modified)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_lost_its_database_is_rebuilt_from_the_backup_and_resumes_the_paid_set() {
    use crate::support::{portraits_received, up_to_payment_link};
    // Kie takes its time, so that the set is being made when the disk goes.
    let mut h = Harness::new(Duration::from_secs(6)).await;
    h.env
        .push(("PINGLASS_BACKUP__INTERVAL_MINUTES".into(), "0.02".into()));
    h.env.push(("PINGLASS_BACKUP__KEEP".into(), "3".into()));
    h.start_bot();
    let user = UserSpec::new(8104, "Вера").with_language("ru");
    let payment =
        up_to_payment_link(&h.telegram, &user, "vera", "Starter · 7 портретов · 499 ₽").await;
    h.tbank.pay(&payment).unwrap();
    h.wait_for(
        &user,
        "the payment confirmation",
        |e| bot_text_contains(e, "Оплата получена"),
        LONG,
    )
    .await;
    // A backup taken after the confirmation (one every 1.2 s).
    let confirmed_at = std::time::SystemTime::now();
    let deadline = Instant::now() + LONG;
    while newest_backup(&h).is_none_or(|(_, at)| at <= confirmed_at + Duration::from_millis(200)) {
        assert!(Instant::now() < deadline, "no backup after the payment");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        portraits_received(&h.history(&user)).is_empty(),
        "the set is still being made at the loss"
    );
    h.kill_bot();
    let kept = std::fs::read_dir(backups_dir(&h)).unwrap().count();
    // A kill between an upload and its pruning leaves one more.
    assert!(kept <= 3 + 1, "[backup] keep: {kept} snapshots");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", h.db_path().display()));
    }

    let restore = run_restore(&h);
    assert!(restore.status.success(), "{restore:?}");
    assert!(
        String::from_utf8_lossy(&restore.stdout).contains("restored backups/pinglass-"),
        "{restore:?}"
    );
    let again = run_restore(&h);
    assert!(
        !again.status.success(),
        "a database that exists is never overwritten"
    );

    h.start_bot();
    h.wait_for(
        &user,
        "all 7 portraits after the restore",
        |e| portraits_received(e).len() >= 7,
        Duration::from_secs(120),
    )
    .await;
    h.kill_bot();
    assert_eq!(
        portraits_received(&h.history(&user)).len(),
        7,
        "each portrait once"
    );
    let db = pinglass::db::Db::open(&h.db_path(), 1).unwrap();
    let confirmations: i64 = db
        .run_blocking(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM payments WHERE user_id = 8104 AND status = 'confirmed'",
                [],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(confirmations, 1, "one payment, confirmed once");
}

/// A flood in one chat (a forwarded chat, a script: 150 messages at once)
/// never mutes another chat. teloxide gives each chat a queue of 64 and
/// waits for room: without the flood guard, B's /start waited until A's
/// replies — one a second there — had made room, more than a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_in_one_chat_leaves_the_others_answered_and_gets_one_notice() {
    let h = Harness::new(Duration::from_millis(200)).await;
    h.start_bot();
    let (flooder, other) = (
        UserSpec::new(8131, "Флуд").with_language("ru"),
        UserSpec::new(8132, "Вера").with_language("ru"),
    );
    answers_start(&h, &flooder).await;
    let photos = tokio::task::spawn_blocking(|| {
        (0..20)
            .map(|i| crate::support::photo_jpeg(&format!("flood-{i}"), 600, 750))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let before = h.history(&flooder).len();
    let sandbox = h.telegram.sandbox();
    // More than the 64 updates teloxide queues for one chat.
    for i in 0..100 {
        sandbox
            .send_text(&flooder, &format!("сообщение {i}"))
            .unwrap();
    }
    sandbox.send_text(&other, "/start").unwrap();
    // The rest of the flood: its photos among more texts, as a forwarded
    // chat brings them.
    let rest = {
        let (sandbox, flooder) = (sandbox.clone(), flooder.clone());
        tokio::spawn(async move {
            for (i, photo) in photos.into_iter().enumerate() {
                sandbox.send_photo(&flooder, photo, None).await.unwrap();
                for j in 0..2 {
                    let text = format!("ещё {i}.{j}");
                    sandbox.send_text(&flooder, &text).unwrap();
                }
            }
        })
    };
    // Within seconds, however long A's backlog takes.
    h.wait_for(
        &other,
        "the other chat's onboarding during the flood",
        |e| bot_text_contains(e, "Пакеты"),
        Duration::from_secs(15),
    )
    .await;
    rest.await.unwrap();
    // Photos inside the flood still count, up to the maximum (the counter
    // is the set's count in the database).
    h.wait_for(
        &flooder,
        "the counter at the maximum",
        |e| bot_text_contains(e, "Принято: 15 фото — это максимум"),
        LONG,
    )
    .await;
    crate::support::handled(&h.telegram, &flooder).await;
    let answers: Vec<String> = h.history(&flooder)[before..]
        .iter()
        .filter(|e| e.is_from_bot() && !e.deleted)
        .filter_map(|e| e.text_or_caption().map(str::to_owned))
        .collect();
    let notices = answers
        .iter()
        .filter(|t| t.starts_with("Слишком много сообщений сразу"))
        .count();
    assert_eq!(notices, 1, "one notice: {answers:#?}");
    // The counter, the notice, and the few texts answered before the
    // flood was seen — not 140 replies, nor one per photo refused.
    assert!(answers.len() <= 6, "{answers:#?}");
}
