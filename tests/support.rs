//! Builds the real application in-process against the stand-ins, each test
//! with its own temporary directory, database and ports.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use pinglass::config::Config;
use pinglass::harness::{Harness, HarnessOptions, local_config};
use pinglass::tbank::standin::Handle as TbankHandle;
use pinglass::telegram::standin::{ChatEntry, Handle as TelegramHandle, UserSpec};

/// The application and its stand-ins ([`Harness`]) in a temporary directory
/// of the test's own.
pub struct TestApp {
    harness: Harness,
    /// Keeps the test's files until the end of the test.
    _dir: tempfile::TempDir,
}

impl Deref for TestApp {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.harness
    }
}

impl DerefMut for TestApp {
    fn deref_mut(&mut self) -> &mut Harness {
        &mut self.harness
    }
}

/// `PINGLASS_TEST_LOG=debug` (a tracing filter) shows the bot's logs in
/// test output.
pub fn init_test_log() {
    if let Ok(filter) = std::env::var("PINGLASS_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        init_test_log();
        let dir = tempfile::tempdir().unwrap();
        let mut config = local_config(dir.path()).unwrap();
        adjust(&mut config);
        let harness = Harness::start(dir.path(), config, HarnessOptions::default())
            .await
            .unwrap();
        TestApp { harness, _dir: dir }
    }

    pub async fn restart(&mut self) {
        self.harness.restart().await.unwrap();
    }

    pub async fn shutdown(self) {
        self.harness.shutdown().await;
    }

    /// [`Harness::settle`]: runs the side task's rounds until nothing is
    /// left to do or in flight. A test that proves something did *not*
    /// happen asserts after this, instead of sleeping and hoping.
    pub async fn settle(&self) {
        if let Err(error) = self.harness.settle().await {
            panic!("{error:#}");
        }
    }
}

/// Returns once the bot has handled every update of the user's private chat
/// so far (see [`pinglass::harness::chat::handled`]).
pub async fn handled(telegram: &TelegramHandle, user: &UserSpec) {
    if let Err(error) = pinglass::harness::chat::handled(telegram, user, LONG).await {
        panic!("{error:#}");
    }
}

pub use pinglass::harness::chat::{LONG, bot_text_contains, photo_jpeg, portraits_received};

pub fn photo_png(name: &str, width: u32, height: u32) -> Vec<u8> {
    let jpeg = photo_jpeg(name, width, height);
    let image = image::load_from_memory(&jpeg).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// From /start to a paid payment, as a user in the chat.
pub async fn buy(
    telegram: &TelegramHandle,
    tbank: &TbankHandle,
    user: &UserSpec,
    prefix: &str,
    tier_label: &str,
) {
    let payment_id = up_to_payment_link(telegram, user, prefix, tier_label).await;
    tbank.pay(&payment_id).unwrap();
}

/// From /start to the seven portraits of a paid Starter set and the
/// actions under them (the set is delivered); returns the bank's payment id.
pub async fn starter_set(app: &TestApp, user: &UserSpec, prefix: &str) -> String {
    let bank_id =
        up_to_payment_link(&app.telegram, user, prefix, "Starter · 7 портретов · 499 ₽").await;
    app.tbank.pay(&bank_id).unwrap();
    wait_for(
        &app.telegram,
        user,
        "the set and its actions",
        |e| portraits_received(e).len() == 7 && bot_text_contains(e, "Что дальше?"),
        LONG,
    )
    .await;
    // The job is done once its last message is recorded as sent.
    app.settle().await;
    bank_id
}

/// The tests' admin refunds payment `payment` in full through `/refund` and
/// its confirmation button, and sees it done.
pub async fn admin_refunds_in_full(app: &TestApp, payment: i64) {
    let admin = UserSpec::new(900_000_001, "Админ").with_language("ru");
    app.telegram
        .sandbox()
        .send_text(&admin, &format!("/refund {payment}"))
        .unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "the question",
        |e| bot_text_contains(e, "целиком"),
        LONG,
    )
    .await;
    press(app, &admin, "✅ Да, вернуть");
    wait_for(
        &app.telegram,
        &admin,
        "the refund",
        |e| bot_text_contains(e, "возвращено"),
        LONG,
    )
    .await;
}

/// From /start to the payment link; returns the bank's payment id.
pub async fn up_to_payment_link(
    telegram: &TelegramHandle,
    user: &UserSpec,
    prefix: &str,
    tier_label: &str,
) -> String {
    pinglass::harness::chat::up_to_payment_link(telegram, user, prefix, tier_label)
        .await
        .unwrap()
}

/// Presses the button `label` of the newest bot message that has it;
/// returns the callback query id.
pub fn press(app: &TestApp, user: &UserSpec, label: &str) -> String {
    let sandbox = app.telegram.sandbox();
    let message = pinglass::harness::chat::last_bot_with_button(&sandbox.history(user.id), label)
        .unwrap_or_else(|| panic!("no button {label:?}"));
    sandbox
        .press_button_with_text(user, message, label)
        .unwrap()
}

/// Waits until the chat satisfies `check`, or fails the test showing the chat.
pub async fn wait_for(
    telegram: &TelegramHandle,
    user: &UserSpec,
    what: &str,
    check: impl Fn(&[ChatEntry]) -> bool,
    timeout: Duration,
) {
    if let Err(error) =
        pinglass::harness::chat::wait_for(telegram, user, what, check, timeout).await
    {
        panic!("{error:#}");
    }
}

/// A database of its own in a temporary directory (keep the directory).
pub fn open_db() -> (tempfile::TempDir, pinglass::db::Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = pinglass::db::Db::open(&dir.path().join("test.sqlite3"), 2).unwrap();
    (dir, db)
}

/// A Russian-speaking user `id` (referral code `code<id>`), as the first update makes one.
pub fn seed_user(c: &rusqlite::Connection, id: i64) {
    pinglass::db::users::touch(
        c,
        &pinglass::db::users::SeenUser {
            id,
            username: None,
            first_name: "Anna",
            language: "ru",
        },
        &format!("code{id}"),
        1_000,
    )
    .unwrap();
}
