//! The real binary as a child process against stand-ins in the test
//! process (which outlive the bot, as the real services would): started,
//! SIGKILLed and started again on the same database. Used by `crash.rs` and
//! `soak.rs`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use pinglass::faults::FaultPlan;
use pinglass::kie::standin::Handle as KieHandle;
use pinglass::standins::{self, Credentials, Standins, StandinsOptions};
use pinglass::tbank::standin::Handle as TbankHandle;
use pinglass::telegram::standin::{ChatEntry, Handle as TelegramHandle, UserSpec};

/// The stand-ins and the bot process.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub telegram: TelegramHandle,
    /// Kept for the run: dropping it stops the Kie stand-in.
    _kie: KieHandle,
    pub tbank: TbankHandle,
    /// The bot's variables that point it at the stand-ins.
    standin_env: Vec<(String, String)>,
    /// The running bot, if any (behind a lock, so that a killer can run
    /// beside the users).
    pub child: Mutex<Option<Child>>,
    pub starts: AtomicU32,
    /// More `PINGLASS_*` (and other) variables for the bot.
    pub env: Vec<(String, String)>,
}

impl Harness {
    /// Stand-ins without faults.
    pub async fn new(kie_latency: Duration) -> Harness {
        Self::with_faults(kie_latency, FaultPlan::none()).await
    }

    /// Stand-ins playing `faults`.
    pub async fn with_faults(kie_latency: Duration, faults: FaultPlan) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let credentials = Credentials {
            bot_token: "5151:crash-test-token".into(),
            bot_username: "PinGlassCrashBot".into(),
            kie_api_key: "crash-kie".into(),
            tbank_terminal_key: "CrashTerminalDEMO".into(),
            tbank_password: "crash-password".into(),
        };
        let standins: Standins = standins::start(StandinsOptions {
            kie_credits: 100_000.0,
            faults,
            ..StandinsOptions::local(dir.path(), credentials).with_kie_latency(kie_latency)
        })
        .await
        .unwrap();
        let standin_env = standins.bot_env();
        let (telegram, kie, tbank) = standins.into_all().unwrap();
        Harness {
            dir,
            telegram,
            _kie: kie,
            tbank,
            standin_env,
            child: Mutex::new(None),
            starts: AtomicU32::new(0),
            env: Vec::new(),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("pinglass.sqlite3")
    }

    pub fn start_bot(&self) {
        let mut running = self.child.lock().unwrap();
        assert!(running.is_none());
        let start = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml");
        let log = std::fs::File::create(self.dir.path().join(format!("bot-{start}.log"))).unwrap();
        let dir = self.dir.path();
        let child = Command::new(env!("CARGO_BIN_EXE_pinglass"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .envs(
                self.standin_env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .env("PINGLASS_TELEGRAM__POLL_TIMEOUT_SECS", "1")
            .env("PINGLASS_DATABASE__PATH", self.db_path())
            .env("PINGLASS_STORAGE__LOCAL_DIR", dir.join("objects"))
            .env("PINGLASS_SANDBOX__DATA_DIR", dir.join("sandbox"))
            .env("PINGLASS_WORKER__TICK_MS", "50")
            // The free preview is its own test; here only paid sets are counted.
            .env("PINGLASS_PREVIEW__ENABLED", "false")
            .env("PINGLASS_WORKER__PAYMENT_POLL_FAST_SECS", "1")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the pinglass binary starts");
        *running = Some(child);
    }

    /// SIGKILL: no graceful anything.
    pub fn kill_bot(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Waits until the bot's database shows nothing in flight (no task, job,
    /// queued message, refund or new payment), SIGKILLs the bot and checks
    /// that the database, frozen now, still shows nothing: whatever the bot
    /// would still have sent on its own — a wrongly repeated message too —
    /// is in the chats by then, without sleeping and hoping.
    pub async fn kill_when_settled(&self, timeout: Duration) {
        let db = pinglass::db::Db::open(&self.db_path(), 1).unwrap();
        let in_flight = || {
            db.run_blocking(|c| pinglass::db::loadtest::progress(c))
                .map(|p| p.in_flight)
                .unwrap_or(-1)
        };
        let deadline = std::time::Instant::now() + timeout;
        while in_flight() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the bot still had work in flight after {timeout:?}"
            );
            // Polls the bot's database; returns as soon as nothing is in flight.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill_bot();
        assert_eq!(
            in_flight(),
            0,
            "the bot took on new work before it was killed"
        );
    }

    pub fn history(&self, user: &UserSpec) -> Vec<ChatEntry> {
        self.telegram.sandbox().history(user.id)
    }

    pub async fn wait_for(
        &self,
        user: &UserSpec,
        what: &str,
        check: impl Fn(&[ChatEntry]) -> bool,
        timeout: Duration,
    ) {
        crate::support::wait_for(&self.telegram, user, what, check, timeout).await;
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.kill_bot();
        if std::thread::panicking() {
            // Keep the database and the bot's logs of a failed run for a look.
            let kept = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap()).keep();
            eprintln!("crash test files kept in {}", kept.display());
        }
    }
}
