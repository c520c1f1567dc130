//! The whole application and the stand-ins it talks to, in one process:
//! what the tests, the measurements in `examples/` and load runs build on.
//! The stand-ins are started here and handed to the application as if they
//! were the real services (URLs plus credentials), so they outlive restarts
//! of the application, as the real services would.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::clock::Clock;
use crate::config::{Config, Secrets};
use crate::kie::standin::Handle as KieHandle;
use crate::standins::{self, Credentials, StandinsOptions};
use crate::tbank::standin::Handle as TbankHandle;
use crate::telegram::standin::{Handle as TelegramHandle, RateLimits};

pub(crate) const TOKEN: &str = "4242:harness-token";
const KIE_KEY: &str = "harness-kie-key";
const TERMINAL: &str = "HarnessTerminalDEMO";
const PASSWORD: &str = "harness-terminal-password";
/// How long [`Harness::settle`] lets the side task work before giving up.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

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

/// The credentials of the harness's stand-ins.
pub(crate) fn credentials() -> Credentials {
    Credentials {
        bot_token: TOKEN.into(),
        bot_username: "PinGlassLocalBot".into(),
        kie_api_key: KIE_KEY.into(),
        tbank_terminal_key: TERMINAL.into(),
        tbank_password: PASSWORD.into(),
    }
}

pub struct Harness {
    pub config: Config,
    pub telegram: TelegramHandle,
    pub kie: KieHandle,
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
        let standins = standins::start(StandinsOptions {
            telegram_limits: options.telegram_limits,
            faults: options.faults,
            ..StandinsOptions::local(dir, credentials()).with_kie_latency(options.kie_latency)
        })
        .await?;
        config.secrets = Secrets {
            // A test may run the store on an S3 server of its own.
            s3_access_key: config.secrets.s3_access_key.take(),
            s3_secret_key: config.secrets.s3_secret_key.take(),
            ..Secrets::default()
        };
        standins.connect(&mut config);
        let (telegram, kie, tbank) = standins.into_all()?;
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

    /// Runs the side task's steps one round at a time until nothing is left:
    /// a round finds nothing to do and nothing is in flight, and so does a
    /// round one tick later (the side task's own loops run beside these
    /// rounds; a step of theirs under way at the first look has finished by
    /// the second). Whatever the side task would still do at this clock is
    /// done then: a test that proves something did *not* happen asserts
    /// after this instead of sleeping and hoping (and moves the clock past a
    /// back-off first when it claims "never again"). What the dispatcher
    /// does is not covered: see [`chat::handled`]. Fails if work is still
    /// going after two minutes (a set being made counts as work).
    pub async fn settle(&self) -> anyhow::Result<()> {
        let ctx = self.app().worker_ctx.clone();
        let tick = Duration::from_millis(self.config.worker.tick_ms.max(1));
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        let mut quiet = 0;
        while tokio::time::Instant::now() < deadline {
            let worked = crate::worker::run_round(&ctx).await
                + crate::worker::run_delivery_round(&ctx).await;
            if worked > 0 {
                quiet = 0;
                continue;
            }
            if self.is_idle() {
                quiet += 1;
                if quiet == 2 {
                    return Ok(());
                }
            } else {
                // A send of the side task's own loop is on its way, or an
                // item waits out a short back-off.
                quiet = 0;
            }
            tokio::time::sleep(tick).await;
        }
        anyhow::bail!("the side task still had work after {SETTLE_LIMIT:?}")
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

    pub use crate::loadtest::photo::photo_jpeg;
    pub use crate::loadtest::user::CTA_LABELS;
    use crate::telegram::standin::{ChatEntry, Handle as TelegramHandle, UserSpec};
    pub use crate::telegram::standin::{
        bot_text_contains, last_bot_with_button, portraits_received,
    };

    pub const LONG: Duration = Duration::from_secs(60);

    /// What [`handled`] presses: data no button of the bot carries.
    const HANDLED_PROBE: &str = "harness:handled";

    /// Returns once the bot has handled every update of the user's private
    /// chat sent so far. The dispatcher handles one chat's updates one after
    /// another, so it answers a press of a button that does not exist (a
    /// toast; nothing in the chat, nothing in the database but the user's
    /// `last_seen_at`) only when it is done with everything before it. A
    /// user who blocked the bot cannot press: it returns at once for them.
    /// The side task is [`super::Harness::settle`]'s.
    pub async fn handled(
        telegram: &TelegramHandle,
        user: &UserSpec,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let sandbox = telegram.sandbox();
        let under = sandbox
            .history(user.id)
            .iter()
            .rev()
            .find(|e| e.is_from_bot() && !e.deleted)
            .map_or(0, |e| e.message_id);
        let query = match sandbox.press_button_raw(user, under, HANDLED_PROBE) {
            Ok(query) => query,
            Err(crate::telegram::standin::UserActionError::BotBlocked { .. }) => return Ok(()),
            Err(error) => bail!("could not press the probe for user {}: {error}", user.id),
        };
        sandbox
            .wait_for_callback_answer(&query, timeout)
            .await
            .map_err(|error| {
                anyhow::anyhow!("the bot never handled user {}'s updates: {error}", user.id)
            })?;
        Ok(())
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
