//! The whole application and the stand-ins it talks to, in one process:
//! what the tests, the measurements in `examples/` and load runs build on.
//! The stand-ins are started here and handed to the application as if they
//! were the real services (URLs plus credentials), so they outlive restarts
//! of the application, as the real services would.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;

use crate::app::App;
use crate::clock::Clock;
use crate::config::{Config, Secrets};
use crate::kie::standin::{KieStandin, KieStandinHandle, KieStandinOptions};
use crate::tbank::standin::{
    StandinHandle as TbankHandle, StandinOptions as TbankOptions, TbankStandin,
};
use crate::telegram::standin::{
    RateLimits, StandinHandle as TelegramHandle, StandinOptions, TelegramStandin,
};

pub const TOKEN: &str = "4242:harness-token";
const KIE_KEY: &str = "harness-kie-key";
const TERMINAL: &str = "HarnessTerminalDEMO";
const PASSWORD: &str = "harness-terminal-password";

/// How the stand-ins behave.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// Seconds the Kie stand-in takes per task.
    pub kie_latency: Duration,
    /// Telegram's sending limits as the stand-in enforces them.
    pub telegram_limits: RateLimits,
    /// Faults every stand-in plays at a rate (none by default).
    pub faults: crate::faults::FaultPlan,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        HarnessOptions {
            kie_latency: Duration::from_millis(200),
            telegram_limits: RateLimits::disabled(),
            faults: crate::faults::FaultPlan::none(),
        }
    }
}

/// The shipped configuration with every path under `dir`, fast polling and
/// generous sending limits (the callers adjust what they measure).
pub fn local_config(dir: &Path) -> anyhow::Result<Config> {
    let mut config = Config::from_toml_str(Config::shipped_toml(), Secrets::default())?;
    config.database.path = dir.join("pinglass.sqlite3");
    config.database.pool_size = 4;
    config.storage.local_dir = dir.join("objects");
    config.sandbox.data_dir = dir.join("sandbox");
    config.gallery.zip_dir = dir.join("tmp");
    config.sandbox.chat_port = 0;
    config.telegram.poll_timeout_secs = 2;
    config.telegram.messages_per_sec_chat = 50;
    config.telegram.messages_per_sec_overall = 100;
    config.worker.tick_ms = 50;
    config.worker.payment_poll_fast_secs = 1;
    config.bot.admin_ids = vec![900_000_001];
    // Tests opt in to the preview and the A/B tests (transcripts: `@config`),
    // so that every other conversation shows the plain funnel.
    config.preview.enabled = false;
    config.experiments.clear();
    // Tests run at any wall-clock hour: no night for reminders (the night
    // rule is tested with fixed times, `tests/reminders.rs`).
    config.reminders.quiet_hours_start = 0;
    config.reminders.quiet_hours_end = 0;
    Ok(config)
}

pub struct Harness {
    pub config: Config,
    pub telegram: TelegramHandle,
    pub kie: KieStandinHandle,
    pub tbank: TbankHandle,
    /// The application's clock, kept across restarts; see [`Harness::advance_clock`].
    pub clock: Arc<Clock>,
    app: Option<App>,
}

impl Harness {
    /// Starts the stand-ins and the application; `config` comes from
    /// [`local_config`] (and the caller's adjustments).
    pub async fn start(
        dir: &Path,
        mut config: Config,
        options: HarnessOptions,
    ) -> anyhow::Result<Harness> {
        let mut telegram_options =
            StandinOptions::new(TOKEN, "PinGlassLocalBot", dir.join("telegram"));
        telegram_options.limits = options.telegram_limits;
        telegram_options.faults = options.faults.clone();
        let telegram = TelegramStandin::start(telegram_options)
            .await
            .context("Telegram stand-in")?;
        let kie = KieStandin::start(KieStandinOptions {
            bind: "127.0.0.1:0".parse()?,
            api_key: KIE_KEY.into(),
            latency: options.kie_latency,
            data_dir: dir.join("kie"),
            public_base: None,
            initial_credits: 1_000_000.0,
            create_limit_per_10s: 20,
            faults: options.faults.clone(),
        })
        .await
        .context("Kie stand-in")?;
        let tbank = TbankStandin::start(TbankOptions {
            bind: "127.0.0.1:0".parse()?,
            terminal_key: TERMINAL.into(),
            password: PASSWORD.into(),
            public_base: None,
            faults: options.faults.clone(),
        })
        .await
        .context("T-Bank stand-in")?;
        config.telegram.api_url = telegram.api_url();
        config.kie.base_url = kie.base_url();
        config.tbank.base_url = tbank.base_url();
        config.secrets = Secrets {
            telegram_token: Some(SecretString::from(TOKEN)),
            kie_api_key: Some(SecretString::from(KIE_KEY)),
            tbank_terminal_key: Some(SecretString::from(TERMINAL)),
            tbank_password: Some(SecretString::from(PASSWORD)),
            // A test may run the store on an S3 server of its own.
            s3_access_key: config.secrets.s3_access_key.take(),
            s3_secret_key: config.secrets.s3_secret_key.take(),
            ..Secrets::default()
        };
        config.validate()?;
        let clock = Arc::new(Clock::system());
        let app = App::start_with_clock(config.clone(), clock.clone()).await?;
        Ok(Harness {
            clock,
            config,
            telegram,
            kie,
            tbank,
            app: Some(app),
        })
    }

    pub fn app(&self) -> &App {
        self.app.as_ref().expect("the application is running")
    }

    pub fn app_mut(&mut self) -> &mut App {
        self.app.as_mut().expect("the application is running")
    }

    /// Nothing in flight: no unfinished task or job, no queued message, no
    /// pending refund, no payment waiting for Init.
    pub fn is_idle(&self) -> bool {
        let busy: Result<i64, _> = self.app().db.run_blocking(|c| crate::db::ops::in_flight(c));
        busy.is_ok_and(|n| n == 0)
    }

    /// Stops the application gracefully (the stand-ins keep running).
    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }

    /// Stops and starts the application on the same database and store.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await;
        self.app = Some(App::start_with_clock(self.config.clone(), self.clock.clone()).await?);
        Ok(())
    }

    /// Moves the application's clock forward (the side task sees the time
    /// pass; the stand-ins keep their own clocks).
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.clock.advance(by);
        self.app().worker_ctx.wake.notify_one();
    }

    pub async fn shutdown(mut self) {
        self.stop().await;
        self.telegram.shutdown().await;
        self.kie.shutdown().await;
        self.tbank.shutdown().await;
    }
}

/// Playing users in the Telegram stand-in: what the tests and measurements
/// do in the chat, step by step, as a person would.
pub mod chat {
    use std::time::Duration;

    use anyhow::{Context, bail};

    use crate::telegram::standin::{ChatEntry, StandinHandle as TelegramHandle, UserSpec};

    pub const LONG: Duration = Duration::from_secs(60);

    /// The labels of the button under the upload counter: the default and
    /// the other variant of bot.toml's A/B test.
    pub const CTA_LABELS: [&str; 2] = ["✨ Создать портреты", "👀 Посмотреть, что получится"];

    pub fn bot_text_contains(entries: &[ChatEntry], needle: &str) -> bool {
        entries.iter().any(|e| {
            e.is_from_bot() && !e.deleted && e.text_or_caption().is_some_and(|t| t.contains(needle))
        })
    }

    /// The newest bot message carrying a button with this label.
    pub fn last_bot_with_button(entries: &[ChatEntry], label: &str) -> Option<i64> {
        entries
            .iter()
            .rev()
            .find(|e| e.is_from_bot() && !e.deleted && e.inline_buttons().any(|b| b.text == label))
            .map(|e| e.message_id)
    }

    /// Portrait photos the bot sent (albums and single photos), by file_unique_id.
    pub fn portraits_received(entries: &[ChatEntry]) -> Vec<String> {
        entries
            .iter()
            .filter(|e| e.is_from_bot() && !e.photo.is_empty())
            .filter_map(|e| e.largest_photo().map(|p| p.file_unique_id.clone()))
            .collect()
    }

    /// Waits until the chat satisfies `check`; the error shows the chat.
    pub async fn wait_for(
        telegram: &TelegramHandle,
        user: &UserSpec,
        what: &str,
        check: impl Fn(&[ChatEntry]) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<()> {
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
            bail!(
                "user {} never saw {what} within {timeout:?}; chat:\n{}",
                user.id,
                chat.join("\n")
            );
        }
        Ok(())
    }

    /// The head the generated photos are made of: a crop of scikit-image's
    /// `astronaut` (NASA, public domain; `tests/fixtures/faces/README.md`).
    static HEAD_JPEG: &[u8] = include_bytes!("../data/harness-face.jpg");

    /// A deterministic photo of one person that the face-quality gate
    /// accepts: the same head over a background, `name` picking the
    /// background's colours and direction, the head's size, place, mirroring
    /// and tint. Different names give different bytes (and photos that do
    /// not look alike); the same name the same bytes.
    pub fn photo_jpeg(name: &str, width: u32, height: u32) -> Vec<u8> {
        let seed = name
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        // splitmix64: a few well-mixed numbers from the name's hash.
        let mut state = u64::from(seed);
        let mut unit = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
        };
        let (r0, g0, b0) = (
            (seed & 0xff) as u8,
            ((seed >> 8) & 0xff) as u8,
            ((seed >> 16) & 0xff) as u8,
        );
        let direction = (unit() * 4.0) as u32;
        let (w, h) = (width.max(1) as usize, height.max(1) as usize);
        // The background: a gradient between the name's colours, in one of
        // four directions (a plain loop: this runs unoptimised in tests).
        let mut pixels = Vec::with_capacity(w * h * 3);
        let span = (w + h) as f32;
        for y in 0..h {
            for x in 0..w {
                let t = match direction {
                    0 => (x + y) as f32 / span,
                    1 => x as f32 / w as f32,
                    2 => y as f32 / h as f32,
                    _ => 1.0 - x as f32 / w as f32,
                };
                pixels.push((f32::from(r0) * (1.0 - t)) as u8);
                pixels.push((f32::from(g0) * t) as u8);
                pixels.push(b0.wrapping_add((t * 60.0) as u8));
            }
        }

        // The head, tinted, maybe mirrored, scaled with its soft-edged mask
        // (the `DynamicImage` methods run optimised even in tests).
        let tint = [0.9 + 0.2 * unit(), 0.9 + 0.2 * unit(), 0.9 + 0.2 * unit()];
        let mirror = unit() < 0.5;
        let short = w.min(h) as f32;
        let head_height = (short * (0.55 + 0.25 * unit())).max(2.0) as u32;
        let mut head = head_with_mask().clone();
        for pixel in head.pixels_mut() {
            for (channel, gain) in pixel.0.iter_mut().zip(tint) {
                *channel = (f32::from(*channel) * gain).min(255.0) as u8;
            }
        }
        let mut head = image::DynamicImage::ImageRgba8(head);
        if mirror {
            head = head.fliph();
        }
        let head_width = (u64::from(head_height) * u64::from(head.width())
            / u64::from(head.height()))
        .max(2) as u32;
        let head = head
            .resize_exact(
                head_width,
                head_height,
                image::imageops::FilterType::Triangle,
            )
            .into_rgba8();
        let (hw, hh) = (head.width() as usize, head.height() as usize);
        let left = ((w.saturating_sub(hw)) as f32 * unit()) as usize;
        let top = ((h.saturating_sub(hh)) as f32 * (0.2 + 0.6 * unit())) as usize;
        let raw = head.as_raw();
        for y in 0..hh.min(h - top) {
            for x in 0..hw.min(w - left) {
                let source = &raw[(y * hw + x) * 4..(y * hw + x) * 4 + 4];
                let alpha = u32::from(source[3]);
                if alpha == 0 {
                    continue;
                }
                let target = ((top + y) * w + left + x) * 3;
                for c in 0..3 {
                    let under = u32::from(pixels[target + c]);
                    pixels[target + c] =
                        ((u32::from(source[c]) * alpha + under * (255 - alpha)) / 255) as u8;
                }
            }
        }
        let image = image::RgbImage::from_raw(width.max(1), height.max(1), pixels)
            .expect("the buffer is width × height × 3");
        let mut out = Vec::new();
        // Encoding an in-memory RGB image into a Vec cannot fail.
        let _ =
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&image);
        out
    }

    /// The shipped head with an alpha mask: opaque inside an ellipse, fading
    /// out towards the crop's edges (so no hard rectangle shows).
    fn head_with_mask() -> &'static image::RgbaImage {
        static HEAD: std::sync::OnceLock<image::RgbaImage> = std::sync::OnceLock::new();
        HEAD.get_or_init(|| {
            let head = image::load_from_memory(HEAD_JPEG)
                .expect("the shipped head decodes")
                .into_rgb8();
            let (hw, hh) = (head.width() as f32, head.height() as f32);
            image::RgbaImage::from_fn(head.width(), head.height(), |x, y| {
                let (dx, dy) = (x as f32 / hw * 2.0 - 1.0, y as f32 / hh * 2.0 - 1.0);
                let distance = (dx * dx + dy * dy).sqrt();
                let alpha = ((1.0 - distance) / 0.15).clamp(0.0, 1.0);
                let [r, g, b] = head.get_pixel(x, y).0;
                image::Rgba([r, g, b, (alpha * 255.0) as u8])
            })
        })
    }

    /// From /start to the payment link in Russian (five photos, the tier's
    /// button, an email); returns the bank's payment id.
    pub async fn up_to_payment_link(
        telegram: &TelegramHandle,
        user: &UserSpec,
        prefix: &str,
        tier_label: &str,
    ) -> anyhow::Result<String> {
        let sandbox = telegram.sandbox();
        let history = || sandbox.history(user.id);
        sandbox.send_text(user, "/start")?;
        wait_for(
            telegram,
            user,
            "the onboarding",
            |e| bot_text_contains(e, "Пакеты"),
            LONG,
        )
        .await?;
        let photos = (1..=5)
            .map(|i| photo_jpeg(&format!("{prefix}-{i}"), 800, 1000))
            .collect();
        sandbox.send_album(user, photos, None).await?;
        wait_for(
            telegram,
            user,
            "the Generate button",
            |e| {
                CTA_LABELS
                    .iter()
                    .any(|l| last_bot_with_button(e, l).is_some())
            },
            LONG,
        )
        .await?;
        let entries = history();
        let (generate, counter) = CTA_LABELS
            .iter()
            .find_map(|l| last_bot_with_button(&entries, l).map(|id| (*l, id)))
            .context("no counter")?;
        sandbox.press_button_with_text(user, counter, generate)?;
        wait_for(
            telegram,
            user,
            "the packages",
            |e| last_bot_with_button(e, tier_label).is_some(),
            LONG,
        )
        .await?;
        let packages = last_bot_with_button(&history(), tier_label).context("no packages")?;
        sandbox.press_button_with_text(user, packages, tier_label)?;
        wait_for(
            telegram,
            user,
            "the receipt question",
            |e| bot_text_contains(e, "чек"),
            LONG,
        )
        .await?;
        sandbox.send_text(user, &format!("{prefix}@example.ru"))?;
        wait_for(
            telegram,
            user,
            "the payment link",
            |e| last_bot_with_button(e, "💳 Оплатить").is_some(),
            LONG,
        )
        .await?;
        let url = history()
            .iter()
            .rev()
            .find_map(|e| {
                e.inline_buttons()
                    .find_map(|b| b.url.clone().filter(|u| u.contains("/checkout/")))
            })
            .context("no checkout link")?;
        Ok(url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned())
    }
}
