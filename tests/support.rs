//! Builds the real application in-process against the stand-ins, each test
//! with its own temporary directory, database and ports.

use std::time::Duration;

use pinglass::app::App;
use pinglass::config::{Config, Secrets};
use pinglass::kie::standin::{KieStandin, KieStandinHandle, KieStandinOptions};
use pinglass::tbank::standin::{
    StandinHandle as TbankHandle, StandinOptions as TbankOptions, TbankStandin,
};
use pinglass::telegram::standin::{
    ChatEntry, RateLimits, StandinHandle as TelegramHandle, StandinOptions, TelegramStandin,
    UserSpec,
};
use secrecy::SecretString;

pub const TOKEN: &str = "4242:test-token";
const KIE_KEY: &str = "test-kie-key";
const TERMINAL: &str = "TestTerminalDEMO";
const PASSWORD: &str = "test-terminal-password";

/// The shipped configuration with test paths, fast polling and generous
/// sending limits (the rate-limit tests set their own).
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::from_toml_str(Config::shipped_toml(), Secrets::default()).unwrap();
    config.database.path = dir.join("pinglass.sqlite3");
    config.database.pool_size = 4;
    config.storage.local_dir = dir.join("objects");
    config.sandbox.data_dir = dir.join("sandbox");
    config.sandbox.chat_port = 0;
    config.telegram.poll_timeout_secs = 2;
    config.telegram.messages_per_sec_chat = 50;
    config.telegram.messages_per_sec_overall = 100;
    config.worker.tick_ms = 50;
    config.worker.payment_poll_fast_secs = 1;
    config.bot.admin_ids = vec![900_000_001];
    config
}

/// The application plus the stand-ins it talks to. The stand-ins outlive
/// restarts of the application, as the real services would.
pub struct TestApp {
    /// Keeps the test's files until the end of the test.
    _dir: tempfile::TempDir,
    pub config: Config,
    pub telegram: TelegramHandle,
    pub kie: KieStandinHandle,
    pub tbank: TbankHandle,
    app: Option<App>,
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        // PINGLASS_TEST_LOG=debug shows the bot's logs in test output.
        if let Ok(filter) = std::env::var("PINGLASS_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let mut options =
            StandinOptions::new(TOKEN, "PinGlassTestBot", dir.path().join("telegram"));
        options.limits = RateLimits::disabled();
        let telegram = TelegramStandin::start(options).await.unwrap();
        let kie = KieStandin::start(KieStandinOptions {
            bind: "127.0.0.1:0".parse().unwrap(),
            api_key: KIE_KEY.into(),
            latency: Duration::from_millis(200),
            data_dir: dir.path().join("kie"),
            public_base: None,
            initial_credits: 100_000.0,
            create_limit_per_10s: 20,
        })
        .await
        .unwrap();
        let tbank = TbankStandin::start(TbankOptions {
            bind: "127.0.0.1:0".parse().unwrap(),
            terminal_key: TERMINAL.into(),
            password: PASSWORD.into(),
            public_base: None,
        })
        .await
        .unwrap();
        config.telegram.api_url = telegram.api_url();
        config.kie.base_url = kie.base_url();
        config.tbank.base_url = tbank.base_url();
        config.secrets = Secrets {
            telegram_token: Some(SecretString::from(TOKEN)),
            kie_api_key: Some(SecretString::from(KIE_KEY)),
            tbank_terminal_key: Some(SecretString::from(TERMINAL)),
            tbank_password: Some(SecretString::from(PASSWORD)),
            ..Secrets::default()
        };
        config.validate().unwrap();
        let app = App::start(config.clone()).await.unwrap();
        TestApp {
            _dir: dir,
            config,
            telegram,
            kie,
            tbank,
            app: Some(app),
        }
    }

    pub fn app(&self) -> &App {
        self.app.as_ref().expect("the application is running")
    }

    /// Nothing in flight: no unfinished task or job, no queued message, no pending refund.
    pub fn is_idle(&self) -> bool {
        let busy: i64 = self
            .app()
            .db
            .run_blocking(|c| {
                c.query_row(
                    "SELECT (SELECT COUNT(*) FROM generation_tasks WHERE state NOT IN ('succeeded', 'failed'))
                          + (SELECT COUNT(*) FROM generation_jobs WHERE status IN ('running', 'delivering'))
                          + (SELECT COUNT(*) FROM message_queue WHERE status IN ('pending', 'sending'))
                          + (SELECT COUNT(*) FROM refunds WHERE status = 'pending')
                          + (SELECT COUNT(*) FROM payments WHERE status = 'new')",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        busy == 0
    }

    /// Stops the application gracefully (the stand-ins keep running).
    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }

    /// Stops and starts the application on the same database and store.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.app = Some(App::start(self.config.clone()).await.unwrap());
    }

    pub async fn shutdown(mut self) {
        self.stop().await;
        self.telegram.shutdown().await;
    }
}

/// A deterministic test photo: `name` picks its colours, so different names
/// give different bytes and the same name the same bytes.
pub fn photo_jpeg(name: &str, width: u32, height: u32) -> Vec<u8> {
    let seed = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let (r0, g0, b0) = (
        (seed & 0xff) as u8,
        ((seed >> 8) & 0xff) as u8,
        ((seed >> 16) & 0xff) as u8,
    );
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        // A light "face" ellipse in the upper middle over a coloured gradient.
        let (cx, cy) = (width as f32 / 2.0, height as f32 * 0.4);
        let (rx, ry) = (width as f32 * 0.22, height as f32 * 0.2);
        let d = ((x as f32 - cx) / rx).powi(2) + ((y as f32 - cy) / ry).powi(2);
        if d < 1.0 {
            image::Rgb([235, 200, 170])
        } else {
            let t = (x + y) as f32 / (width + height) as f32;
            image::Rgb([
                (f32::from(r0) * (1.0 - t)) as u8,
                (f32::from(g0) * t) as u8,
                b0.wrapping_add((t * 60.0) as u8),
            ])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&image)
        .unwrap();
    out
}

pub fn photo_png(name: &str, width: u32, height: u32) -> Vec<u8> {
    let jpeg = photo_jpeg(name, width, height);
    let image = image::load_from_memory(&jpeg).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn bot_text_contains(entries: &[ChatEntry], needle: &str) -> bool {
    entries.iter().any(|e| {
        e.is_from_bot() && !e.deleted && e.text_or_caption().is_some_and(|t| t.contains(needle))
    })
}

pub fn last_bot_with_button(entries: &[ChatEntry], label: &str) -> Option<i64> {
    entries
        .iter()
        .rev()
        .find(|e| e.is_from_bot() && !e.deleted && e.inline_buttons().any(|b| b.text == label))
        .map(|e| e.message_id)
}

/// Portrait photos the bot sent to this user (albums and single photos).
pub fn portraits_received(entries: &[ChatEntry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.is_from_bot() && !e.photo.is_empty())
        .filter_map(|e| e.largest_photo().map(|p| p.file_unique_id.clone()))
        .collect()
}

pub const LONG: Duration = Duration::from_secs(60);

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

/// From /start to the payment link, as a user in the chat; returns the bank's payment id.
pub async fn up_to_payment_link(
    telegram: &TelegramHandle,
    user: &UserSpec,
    prefix: &str,
    tier_label: &str,
) -> String {
    let sandbox = telegram.sandbox();
    let history = || sandbox.history(user.id);
    sandbox.send_text(user, "/start").unwrap();
    wait_for(
        telegram,
        user,
        "the onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
    let photos = (1..=5)
        .map(|i| photo_jpeg(&format!("{prefix}-{i}"), 800, 1000))
        .collect();
    sandbox.send_album(user, photos, None).await.unwrap();
    wait_for(
        telegram,
        user,
        "the Generate button",
        |e| last_bot_with_button(e, "✨ Создать портреты").is_some(),
        LONG,
    )
    .await;
    let counter = last_bot_with_button(&history(), "✨ Создать портреты").unwrap();
    sandbox
        .press_button_with_text(user, counter, "✨ Создать портреты")
        .unwrap();
    wait_for(
        telegram,
        user,
        "the packages",
        |e| last_bot_with_button(e, tier_label).is_some(),
        LONG,
    )
    .await;
    let packages = last_bot_with_button(&history(), tier_label).unwrap();
    sandbox
        .press_button_with_text(user, packages, tier_label)
        .unwrap();
    wait_for(
        telegram,
        user,
        "the receipt question",
        |e| bot_text_contains(e, "чек"),
        LONG,
    )
    .await;
    sandbox
        .send_text(user, &format!("{prefix}@example.ru"))
        .unwrap();
    wait_for(
        telegram,
        user,
        "the payment link",
        |e| last_bot_with_button(e, "💳 Оплатить").is_some(),
        LONG,
    )
    .await;
    let url = history()
        .iter()
        .rev()
        .find_map(|e| {
            e.inline_buttons()
                .find_map(|b| b.url.clone().filter(|u| u.contains("/checkout/")))
        })
        .unwrap();
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// Waits until the chat satisfies `check`, or fails the test showing the chat.
pub async fn wait_for(
    telegram: &TelegramHandle,
    user: &UserSpec,
    what: &str,
    check: impl Fn(&[ChatEntry]) -> bool,
    timeout: Duration,
) {
    if telegram
        .sandbox()
        .wait_for(user.id, check, timeout)
        .await
        .is_err()
    {
        let chat: Vec<String> = telegram
            .sandbox()
            .history(user.id)
            .iter()
            .map(|e| format!("{e:?}"))
            .collect();
        panic!(
            "user {} never saw {what}; chat:\n{}",
            user.id,
            chat.join("\n")
        );
    }
}
