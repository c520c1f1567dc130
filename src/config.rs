//! Typed configuration: `bot.toml`, then `PINGLASS_*` environment overrides,
//! then secrets (from the environment only).
//!
//! Every field is documented in `bot.toml` itself. Unknown fields are
//! rejected, and a bad value fails start-up with the field's name and the
//! reason. Secrets never print: their `Debug` shows `***`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

/// The environment variable prefix for overrides of `bot.toml` fields.
/// `PINGLASS_KIE__MODEL=x` overrides `[kie] model`.
pub(crate) const ENV_PREFIX: &str = "PINGLASS_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("configuration: `{field}` {reason}")]
    Invalid { field: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub(crate) bot: BotConfig,
    pub telegram: TelegramConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub kie: KieConfig,
    pub tbank: TbankConfig,
    pub tiers: Vec<Tier>,
    pub upload: UploadConfig,
    pub worker: WorkerConfig,
    pub(crate) sandbox: SandboxConfig,
    pub telemetry: TelemetryConfig,
    pub preview: PreviewConfig,
    pub regenerate: RegenerateConfig,
    /// A/B tests of the call to action (none: everyone sees the default).
    #[serde(default)]
    pub experiments: Vec<Experiment>,
    pub referral: ReferralConfig,
    pub reminders: RemindersConfig,
    pub gallery: GalleryConfig,
    /// Admin alerts: thresholds of the incidents the side task watches for.
    pub alerts: AlertsConfig,
    /// Online backups of the database into the object store.
    pub(crate) backup: BackupConfig,
    /// Privacy: how long reference photos are kept after delivery.
    pub privacy: PrivacyConfig,
    /// The face-quality gate on uploaded photos (issue 8).
    pub quality: crate::media::QualityRules,
    /// Secrets are never read from the file; they are filled from the
    /// environment by [`Config::load`].
    #[serde(skip)]
    pub secrets: Secrets,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BotConfig {
    /// Telegram user ids with admin power.
    pub(crate) admin_ids: Vec<i64>,
    /// Language for users whose Telegram language is neither Russian nor English.
    pub(crate) default_language: String,
    /// How long the start-up calls to Telegram, Kie and T-Bank are retried
    /// (with back-off) before the process gives up and exits non-zero.
    #[serde(default = "default_startup_retry_secs")]
    pub(crate) startup_retry_secs: u64,
}

fn default_startup_retry_secs() -> u64 {
    300
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// Base URL of the Bot API.
    pub(crate) api_url: Url,
    /// Long-polling timeout of getUpdates, in seconds.
    pub(crate) poll_timeout_secs: u32,
    /// Messages the bot sends to one chat per second (Telegram: about 1).
    pub messages_per_sec_chat: u32,
    /// Messages the bot sends per second overall (Telegram: about 30).
    pub messages_per_sec_overall: u32,
    /// How long one send (a message, or an album with its uploads) may take
    /// before it is given up as unanswered. Telegram may still have taken it:
    /// the Bot API has no idempotency key, so an unanswered queued message is
    /// sent again (counted as uncertain). Generous, so that it is rare.
    #[serde(default = "default_send_timeout_secs")]
    pub send_timeout_secs: u64,
}

fn default_send_timeout_secs() -> u64 {
    60
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Path of the SQLite database file.
    pub path: PathBuf,
    /// Connections in the pool.
    pub pool_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Local,
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Directory of the local backend.
    pub local_dir: PathBuf,
    /// S3 endpoint (Cloudflare R2: `https://<account>.r2.cloudflarestorage.com`).
    pub s3_endpoint: Url,
    pub(crate) s3_region: String,
    pub s3_bucket: String,
    /// How long presigned GET URLs handed to Kie stay valid, in seconds.
    pub(crate) presign_ttl_secs: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KieConfig {
    pub(crate) base_url: Url,
    pub model: String,
    /// How many reference photos the model takes in one task.
    pub max_references: usize,
    pub(crate) image_size: String,
    pub(crate) output_format: String,
    pub(crate) request_timeout_secs: u64,
    /// At most this many createTask calls per 10 seconds (Kie's limit is 20).
    pub(crate) create_per_10s: u32,
    /// Give up on a task that has not finished after this many seconds.
    pub(crate) task_timeout_secs: u64,
    /// Attempts per task before it is failed for good.
    pub max_attempts: u32,
    /// After Kie refuses for good (bad key, no credits), wait this long
    /// before trying again, in seconds.
    pub pause_on_refusal_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TbankConfig {
    pub(crate) base_url: Url,
    pub request_timeout_secs: u64,
    /// 54-FZ taxation system: osn, usn_income, usn_income_outcome, esn, patent.
    pub(crate) taxation: String,
    /// VAT of the receipt item: none, vat0, vat5, vat7, vat10, vat20.
    pub(crate) tax: String,
    /// Hours until an unpaid payment link expires (RedirectDueDate).
    pub(crate) payment_deadline_hours: u32,
    /// The receipt format of the cash register: "1.05" or "1.2".
    pub(crate) ffd_version: String,
    /// Once a day, the payments of this many last days are compared with
    /// the bank's GetState.
    pub(crate) reconcile_days: u32,
}

/// One package a user can buy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub id: String,
    pub(crate) name: String,
    pub price_kopecks: i64,
    pub portraits: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadConfig {
    pub min_photos: u32,
    pub max_photos: u32,
    pub(crate) min_side_px: u32,
    pub(crate) max_file_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Pause between two rounds of the side task when nothing is due, in milliseconds.
    pub(crate) tick_ms: u64,
    /// GetState interval during the first ten minutes of a payment, in seconds.
    pub payment_poll_fast_secs: u64,
    /// GetState interval after that, in seconds.
    pub(crate) payment_poll_slow_secs: u64,
    /// Attempts to send one queued Telegram message before it is marked failed.
    pub(crate) delivery_max_attempts: u32,
    /// An open payment this many hours old raises one alert to the admins.
    pub(crate) stuck_alert_hours: u32,
    /// An open payment this many hours old is cancelled through T-Bank Cancel.
    pub(crate) stuck_cancel_hours: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SandboxConfig {
    /// Address the sandbox's stand-ins listen on (loopback).
    pub(crate) host: String,
    /// Port of the chat page and the Telegram stand-in (0: any free port).
    pub(crate) chat_port: u16,
    /// Seconds the Kie stand-in takes per task (real Kie: 100–160).
    pub(crate) kie_latency_secs: f64,
    /// Where the sandbox keeps its stand-ins' files.
    pub(crate) data_dir: PathBuf,
    /// Faults the sandbox's stand-ins play at a rate: "none" or "realistic".
    #[serde(default)]
    pub(crate) faults: SandboxFaults,
    /// Stand-ins a staging bot keeps behind a real Telegram token, named one
    /// by one. Outside the sandbox every other service must be real.
    #[serde(default)]
    pub(crate) standins: Vec<StandinName>,
}

/// A stand-in a staging bot may name in `[sandbox] standins`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StandinName {
    Kie,
    Tbank,
}

/// `[sandbox] faults`: which [`crate::faults::FaultPlan`] the sandbox's stand-ins play.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SandboxFaults {
    #[default]
    None,
    Realistic,
}

impl SandboxFaults {
    pub(crate) fn plan(self) -> crate::faults::FaultPlan {
        match self {
            SandboxFaults::None => crate::faults::FaultPlan::none(),
            SandboxFaults::Realistic => crate::faults::FaultPlan::realistic(),
        }
    }
}

/// `[backup]`: snapshots of the SQLite database in the object store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackupConfig {
    /// Minutes between snapshots (fractions allowed); one more at a graceful stop.
    pub(crate) interval_minutes: f64,
    /// Snapshots kept; older ones are deleted.
    pub(crate) keep: u32,
}

/// The gallery's ZIP download (issue 5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GalleryConfig {
    /// Largest ZIP file sent as one document, bytes; bigger sets are split
    /// into parts (Telegram takes at most 50 MB from a bot).
    pub zip_part_max_bytes: u64,
    /// Where archives are written while they are built and uploaded (removed after).
    pub zip_dir: PathBuf,
    /// How often one viewer may open one shared set in 24 hours (each
    /// opening queues its albums).
    #[serde(default = "default_share_opens_per_viewer")]
    pub share_opens_per_viewer_per_day: u32,
    /// How often one shared set may be opened in 24 hours, by everyone.
    #[serde(default = "default_share_opens_per_set")]
    pub share_opens_per_set_per_day: u32,
}

fn default_share_opens_per_viewer() -> u32 {
    3
}

fn default_share_opens_per_set() -> u32 {
    100
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    pub(crate) format: LogFormat,
    /// tracing-subscriber filter, e.g. `info,pinglass=debug`.
    pub(crate) filter: String,
    /// Local address of the Prometheus endpoint (also `/healthz`); empty for none.
    pub metrics_listen: Option<SocketAddr>,
    /// The endpoint has no authentication: an address outside loopback
    /// needs this explicit opt-in.
    #[serde(default)]
    pub(crate) metrics_public: bool,
    /// `/healthz` reports the side task unhealthy when one of its loops has
    /// not gone round for this many seconds.
    pub(crate) healthz_stale_secs: u64,
}

/// Incidents the side task watches for; each alerts the admins once, and a
/// repeating one is summarised at most every `summary_every_mins`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// How often the side task looks for incidents, seconds.
    pub check_secs: u64,
    /// An open incident that keeps repeating is summarised at most this often, minutes.
    pub summary_every_mins: u64,
    /// Messages given up (delivery attempts used up) within an hour that raise an alert.
    pub delivery_failures_per_hour: u32,
    /// The side task is behind when an item has been due for longer than this, seconds.
    pub behind_secs: u64,
    /// Errors per minute (handler errors plus side-task step errors) that raise an alert.
    pub errors_per_min: u32,
}

/// What the bot keeps of a user's photos, and for how long.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Days after a set is delivered (or failed), or after a draft's last
    /// photo, before the side task deletes its reference photos from the
    /// store and the database (1..=3650).
    pub retention_days: u32,
    /// Days before sent (or given-up) queued messages and untouched
    /// dialogues are deleted (1..=3650).
    #[serde(default = "default_messages_days")]
    pub(crate) messages_days: u32,
    /// Days the funnel events are kept: the reach of `/funnel` and the A/B
    /// conversion (30..=3650).
    #[serde(default = "default_events_days")]
    pub(crate) events_days: u32,
}

fn default_messages_days() -> u32 {
    30
}

fn default_events_days() -> u32 {
    400
}

const DAY_MS: i64 = 24 * 3_600_000;

impl PrivacyConfig {
    /// The retention period in milliseconds.
    pub(crate) fn retention_ms(&self) -> i64 {
        i64::from(self.retention_days) * DAY_MS
    }

    pub(crate) fn messages_ms(&self) -> i64 {
        i64::from(self.messages_days) * DAY_MS
    }

    pub(crate) fn events_ms(&self) -> i64 {
        i64::from(self.events_days) * DAY_MS
    }
}

/// The free preview portrait shown before the package choice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewConfig {
    /// Whether users get one free preview (an A/B variant may switch it).
    pub enabled: bool,
    /// Long side of the preview image, pixels (smaller than the real portraits).
    pub(crate) size_px: u32,
}

/// "Redo one portrait" after delivery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegenerateConfig {
    /// One free redo per this many portraits of the package (at least one per set).
    pub(crate) portraits_per_free: u32,
}

impl RegenerateConfig {
    /// Free redos of a set of `portraits`.
    pub fn quota(&self, portraits: u32) -> u32 {
        (portraits / self.portraits_per_free.max(1)).max(1)
    }
}

/// An A/B test: each user is assigned one variant once, by weight.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// Relative share of users (0 takes no new users; assigned ones keep it).
    pub weight: u32,
    /// Locale key of the call-to-action button under the upload counter.
    #[serde(default)]
    pub cta: Option<String>,
    /// Flow switch: the free preview on or off for this variant.
    #[serde(default)]
    pub preview: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralConfig {
    /// Percent of every payment of a referred user credited to the referrer (0..=50).
    pub percent: u32,
}

/// Reminders to people who stopped half-way (uploaded photos or opened a
/// payment, then went quiet). Times count from the user's last activity on
/// the avatar; night is judged in a timezone guessed from the language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemindersConfig {
    pub enabled: bool,
    /// Hours after the last activity before the first reminder.
    pub first_after_hours: u32,
    /// Hours after the last activity before the second (and last) reminder.
    pub second_after_hours: u32,
    /// Activity older than this many hours is never reminded of.
    pub give_up_after_hours: u32,
    /// Local hour (0–23) the night starts; a reminder due at night waits for
    /// `quiet_hours_end`. Equal start and end: no quiet hours.
    pub quiet_hours_start: u32,
    /// Local hour (0–23) the night ends.
    pub quiet_hours_end: u32,
}

/// Secrets, read from the environment only.
#[derive(Clone, Default)]
pub struct Secrets {
    pub telegram_token: Option<SecretString>,
    pub kie_api_key: Option<SecretString>,
    pub(crate) tbank_terminal_key: Option<SecretString>,
    pub(crate) tbank_password: Option<SecretString>,
    pub s3_access_key: Option<SecretString>,
    pub s3_secret_key: Option<SecretString>,
    pub(crate) sentry_dsn: Option<SecretString>,
}

/// The environment variables secrets come from.
pub(crate) const SECRET_VARS: [&str; 7] = [
    "TELEGRAM_BOT_TOKEN",
    "KIE_API_KEY",
    "TBANK_TERMINAL_KEY",
    "TBANK_PASSWORD",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "SENTRY_DSN",
];

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn mask(s: &Option<SecretString>) -> &'static str {
            if s.is_some() { "***" } else { "unset" }
        }
        f.debug_struct("Secrets")
            .field("telegram_token", &mask(&self.telegram_token))
            .field("kie_api_key", &mask(&self.kie_api_key))
            .field("tbank_terminal_key", &mask(&self.tbank_terminal_key))
            .field("tbank_password", &mask(&self.tbank_password))
            .field("s3_access_key", &mask(&self.s3_access_key))
            .field("s3_secret_key", &mask(&self.s3_secret_key))
            .field("sentry_dsn", &mask(&self.sentry_dsn))
            .finish()
    }
}

impl Secrets {
    /// Reads the secrets from a lookup function (the process environment in
    /// production, a map in tests). Empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Secrets {
        let read = |name: &str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| SecretString::from(v.trim().to_owned()))
        };
        Secrets {
            telegram_token: read(SECRET_VARS[0]),
            kie_api_key: read(SECRET_VARS[1]),
            tbank_terminal_key: read(SECRET_VARS[2]),
            tbank_password: read(SECRET_VARS[3]),
            s3_access_key: read(SECRET_VARS[4]),
            s3_secret_key: read(SECRET_VARS[5]),
            sentry_dsn: read(SECRET_VARS[6]),
        }
    }
}

impl Config {
    /// Loads `path`, applies `PINGLASS_*` overrides and secrets from the
    /// process environment, and validates the result.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        if !path.exists() {
            return Err(invalid(
                path.display().to_string(),
                "does not exist (pass --config PATH)",
            ));
        }
        let figment = Figment::new()
            .merge(Toml::file(path))
            .merge(Env::prefixed(ENV_PREFIX).split("__"));
        let mut config: Config = figment.extract().map_err(Box::new)?;
        config.secrets = Secrets::from_lookup(|k| std::env::var(k).ok());
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML string with no environment involved (tests, tools).
    pub fn from_toml_str(text: &str, secrets: Secrets) -> Result<Config, ConfigError> {
        let mut config: Config = Figment::new()
            .merge(Toml::string(text))
            .extract()
            .map_err(Box::new)?;
        config.secrets = secrets;
        config.validate()?;
        Ok(config)
    }

    /// The configuration shipped as `bot.toml`, compiled in (tests and tools).
    pub fn shipped_toml() -> &'static str {
        include_str!("../bot.toml")
    }

    /// Checks the rules of the table `RULES` (below) in order; the first
    /// that fails names its field and the reason.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check(self, &[], "", RULES)
    }

    pub(crate) fn tier(&self, id: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.id == id)
    }

    pub(crate) fn is_admin(&self, user_id: i64) -> bool {
        self.bot.admin_ids.contains(&user_id)
    }
}

/// One row of a rules table: the field an error names, and its check.
struct Rule<T> {
    field: &'static str,
    check: Check<T>,
}

/// How a [`Rule`] judges `T` (the configuration, or one item of a list).
enum Check<T> {
    /// Fine when the function holds; otherwise the reason.
    Holds(fn(&T) -> bool, &'static str),
    /// Fine when the value is at least 1.
    AtLeast1(fn(&T) -> u64),
    /// Fine on `None`; otherwise the reason, which names the value.
    Explains(fn(&T) -> Option<String>),
    /// In a list: fine when no earlier item has the same key; otherwise the reason.
    Unique(fn(&T) -> &str, fn(&T) -> String),
    /// A list field: each item by its own table, named `field[i].…`.
    Each(fn(&T, &str) -> Result<(), ConfigError>),
}

/// `field` is fine when `ok` holds, otherwise `reason`.
const fn rule<T>(field: &'static str, ok: fn(&T) -> bool, reason: &'static str) -> Rule<T> {
    let check = Check::Holds(ok, reason);
    Rule { field, check }
}

/// `field`, a count or a duration, is at least 1.
const fn positive<T>(field: &'static str, value: fn(&T) -> u64) -> Rule<T> {
    let check = Check::AtLeast1(value);
    Rule { field, check }
}

/// `field` is fine when `problem` finds none, otherwise the reason it gives.
const fn explained<T>(field: &'static str, problem: fn(&T) -> Option<String>) -> Rule<T> {
    let check = Check::Explains(problem);
    Rule { field, check }
}

/// In a list: `key` of each item differs from every earlier item's.
const fn unique<T>(field: &'static str, key: fn(&T) -> &str, reason: fn(&T) -> String) -> Rule<T> {
    let check = Check::Unique(key, reason);
    Rule { field, check }
}

/// The list `field`: each item by its table (`check_each(path, items, RULES)`).
const fn each<T>(field: &'static str, items: fn(&T, &str) -> Result<(), ConfigError>) -> Rule<T> {
    let check = Check::Each(items);
    Rule { field, check }
}

/// Checks `subject` (after the items `earlier` of its list) against `rules`,
/// each field named `{prefix}{field}`.
fn check<T>(
    subject: &T,
    earlier: &[T],
    prefix: &str,
    rules: &[Rule<T>],
) -> Result<(), ConfigError> {
    for rule in rules {
        let field = || format!("{prefix}{}", rule.field);
        let failed = match &rule.check {
            Check::Holds(ok, reason) => (!ok(subject)).then(|| (*reason).to_owned()),
            Check::AtLeast1(value) => (value(subject) == 0).then(|| "must be at least 1".into()),
            Check::Explains(problem) => problem(subject),
            Check::Unique(key, reason) => {
                let twice = earlier.iter().any(|item| key(item) == key(subject));
                twice.then(|| reason(subject))
            }
            Check::Each(items) => {
                items(subject, &field())?;
                None
            }
        };
        if let Some(reason) = failed {
            return Err(invalid(field(), reason));
        }
    }
    Ok(())
}

/// Checks every item of the list `path` against `rules`.
fn check_each<T>(path: &str, items: &[T], rules: &[Rule<T>]) -> Result<(), ConfigError> {
    for (i, item) in items.iter().enumerate() {
        check(item, &items[..i], &format!("{path}[{i}]."), rules)?;
    }
    Ok(())
}

const TAXATIONS: [&str; 5] = ["osn", "usn_income", "usn_income_outcome", "esn", "patent"];
const TAXES: [&str; 8] = [
    "none", "vat0", "vat5", "vat7", "vat10", "vat20", "vat105", "vat110",
];

/// Outside the sandbox (a real Telegram token) every service must be real,
/// except the stand-ins a staging bot names in `[sandbox] standins`: the
/// variables still missing, or `None`.
fn missing_real_services(c: &Config) -> Option<String> {
    c.secrets.telegram_token.as_ref()?;
    let named = |standin| c.sandbox.standins.contains(&standin);
    let secrets = &c.secrets;
    let mut missing = Vec::new();
    if !named(StandinName::Kie) && secrets.kie_api_key.is_none() {
        missing.push("KIE_API_KEY");
    }
    if !named(StandinName::Tbank) {
        if secrets.tbank_terminal_key.is_none() {
            missing.push("TBANK_TERMINAL_KEY");
        }
        if secrets.tbank_password.is_none() {
            missing.push("TBANK_PASSWORD");
        }
    }
    (!missing.is_empty()).then(|| {
        format!(
            "is set, so real users are served and every service must be real, but {} {} not set: \
             set {}, or name the stand-ins of a staging bot in `[sandbox] standins`",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" },
            if missing.len() == 1 { "it" } else { "them" },
        )
    })
}

fn is_loopback(host: &str) -> bool {
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The configuration's rules, checked in this order.
const RULES: &[Rule<Config>] = &[
    explained("TELEGRAM_BOT_TOKEN", missing_real_services),
    rule(
        "sandbox.host",
        |c| is_loopback(&c.sandbox.host),
        "must be a loopback address (127.0.0.1 or ::1): the stand-ins and the chat page \
         have no authentication",
    ),
    rule(
        "telemetry.metrics_listen",
        |c| {
            c.telemetry.metrics_public
                || c.telemetry
                    .metrics_listen
                    .is_none_or(|a| a.ip().is_loopback())
        },
        "is outside loopback, but the endpoint has no authentication: set \
         `telemetry.metrics_public = true` to open it anyway",
    ),
    positive("bot.startup_retry_secs", |c| c.bot.startup_retry_secs),
    rule(
        "backup.interval_minutes",
        |c| c.backup.interval_minutes > 0.0 && c.backup.interval_minutes <= 10_080.0,
        "must be more than 0 and at most 10080 (a week)",
    ),
    positive("backup.keep", |c| u64::from(c.backup.keep)),
    rule(
        "bot.default_language",
        |c| matches!(c.bot.default_language.as_str(), "ru" | "en"),
        "must be \"ru\" or \"en\"",
    ),
    rule(
        "telegram.poll_timeout_secs",
        |c| (1..=50).contains(&c.telegram.poll_timeout_secs),
        "must be 1..=50",
    ),
    // teloxide waits 10 s after a Telegram 5xx before reading its answer:
    // a shorter timeout would turn every 5xx into an unanswered send.
    rule(
        "telegram.send_timeout_secs",
        |c| (15..=600).contains(&c.telegram.send_timeout_secs),
        "must be 15..=600",
    ),
    positive("telegram.messages_per_sec_chat", |c| {
        u64::from(c.telegram.messages_per_sec_chat)
    }),
    positive("telegram.messages_per_sec_overall", |c| {
        u64::from(c.telegram.messages_per_sec_overall)
    }),
    positive("database.pool_size", |c| u64::from(c.database.pool_size)),
    rule(
        "storage.presign_ttl_secs",
        |c| c.storage.presign_ttl_secs >= 600,
        "must be at least 600: Kie fetches reference photos while the task runs",
    ),
    rule(
        "storage.s3_bucket",
        |c| c.storage.backend != StorageBackend::S3 || !c.storage.s3_bucket.trim().is_empty(),
        "must be set for the s3 backend",
    ),
    rule(
        "storage.backend",
        |c| {
            c.storage.backend != StorageBackend::S3
                || (c.secrets.s3_access_key.is_some() && c.secrets.s3_secret_key.is_some())
        },
        "is s3 but S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY are not set",
    ),
    rule(
        "kie.model",
        |c| !c.kie.model.trim().is_empty(),
        "must not be empty",
    ),
    positive("kie.max_references", |c| c.kie.max_references as u64),
    rule(
        "kie.create_per_10s",
        |c| (1..=20).contains(&c.kie.create_per_10s),
        "must be 1..=20 (Kie drops requests over 20 per 10 s)",
    ),
    positive("kie.pause_on_refusal_secs", |c| c.kie.pause_on_refusal_secs),
    positive("kie.max_attempts", |c| u64::from(c.kie.max_attempts)),
    explained("tbank.taxation", |c| one_of(&TAXATIONS, &c.tbank.taxation)),
    explained("tbank.tax", |c| one_of(&TAXES, &c.tbank.tax)),
    rule(
        "tbank.reconcile_days",
        |c| (1..=90).contains(&c.tbank.reconcile_days),
        "must be 1..=90",
    ),
    explained("tbank.ffd_version", |c| {
        one_of(&["1.05", "1.2"], &c.tbank.ffd_version)
    }),
    rule(
        "tbank.payment_deadline_hours",
        |c| (1..=90 * 24).contains(&c.tbank.payment_deadline_hours),
        "must be 1..=2160 (T-Bank allows up to 90 days)",
    ),
    rule(
        "tiers",
        |c| !c.tiers.is_empty(),
        "must list at least one package",
    ),
    each("tiers", |c, path| check_each(path, &c.tiers, TIER_RULES)),
    rule(
        "upload.min_photos",
        |c| c.upload.min_photos >= 1 && c.upload.min_photos <= c.upload.max_photos,
        "must be at least 1 and not above upload.max_photos",
    ),
    rule(
        "upload.max_photos",
        |c| c.upload.max_photos <= 50,
        "must be at most 50",
    ),
    rule(
        "upload.max_file_bytes",
        |c| (1..=20 * 1024 * 1024).contains(&c.upload.max_file_bytes),
        "must be 1..=20971520 (getFile downloads at most 20 MB)",
    ),
    positive("worker.tick_ms", |c| c.worker.tick_ms),
    rule(
        "worker.stuck_cancel_hours",
        |c| {
            c.worker.stuck_alert_hours >= 1
                && c.worker.stuck_cancel_hours > c.worker.stuck_alert_hours
        },
        "stuck_alert_hours must be at least 1 and stuck_cancel_hours greater than it",
    ),
    positive("worker.delivery_max_attempts", |c| {
        u64::from(c.worker.delivery_max_attempts)
    }),
    positive("reminders.first_after_hours", |c| {
        u64::from(c.reminders.first_after_hours)
    }),
    rule(
        "reminders.second_after_hours",
        |c| c.reminders.second_after_hours > c.reminders.first_after_hours,
        "must be greater than reminders.first_after_hours",
    ),
    rule(
        "reminders.give_up_after_hours",
        |c| c.reminders.give_up_after_hours >= c.reminders.second_after_hours + 24,
        "must be at least reminders.second_after_hours + 24 (a reminder due at night waits for the morning)",
    ),
    rule(
        "reminders.quiet_hours_start",
        |c| c.reminders.quiet_hours_start <= 23,
        "must be an hour 0..=23",
    ),
    rule(
        "reminders.quiet_hours_end",
        |c| c.reminders.quiet_hours_end <= 23,
        "must be an hour 0..=23",
    ),
    rule(
        "sandbox.kie_latency_secs",
        |c| (0.0..=3600.0).contains(&c.sandbox.kie_latency_secs),
        "must be 0..=3600",
    ),
    rule(
        "preview.size_px",
        |c| (128..=2048).contains(&c.preview.size_px),
        "must be 128..=2048",
    ),
    positive("regenerate.portraits_per_free", |c| {
        u64::from(c.regenerate.portraits_per_free)
    }),
    each("experiments", |c, path| {
        check_each(path, &c.experiments, EXPERIMENT_RULES)
    }),
    rule(
        "referral.percent",
        |c| c.referral.percent <= 50,
        "must be 0..=50",
    ),
    rule(
        "gallery.zip_part_max_bytes",
        |c| (65_536..=50_000_000).contains(&c.gallery.zip_part_max_bytes),
        "must be 65536..=50000000 (Telegram takes at most 50 MB from a bot)",
    ),
    rule(
        "SENTRY_DSN",
        |c| {
            c.secrets.sentry_dsn.as_ref().is_none_or(|dsn| {
                secrecy::ExposeSecret::expose_secret(dsn)
                    .parse::<sentry::types::Dsn>()
                    .is_ok()
            })
        },
        "is not a valid Sentry DSN",
    ),
    positive("telemetry.healthz_stale_secs", |c| {
        c.telemetry.healthz_stale_secs
    }),
    positive("alerts.check_secs", |c| c.alerts.check_secs),
    positive("alerts.summary_every_mins", |c| c.alerts.summary_every_mins),
    positive("alerts.delivery_failures_per_hour", |c| {
        u64::from(c.alerts.delivery_failures_per_hour)
    }),
    positive("alerts.behind_secs", |c| c.alerts.behind_secs),
    positive("alerts.errors_per_min", |c| {
        u64::from(c.alerts.errors_per_min)
    }),
    rule(
        "privacy.retention_days",
        |c| (1..=3650).contains(&c.privacy.retention_days),
        "must be 1..=3650",
    ),
    rule(
        "gallery.share_opens_per_viewer_per_day",
        |c| (1..=100).contains(&c.gallery.share_opens_per_viewer_per_day),
        "must be 1..=100",
    ),
    rule(
        "gallery.share_opens_per_set_per_day",
        |c| {
            (c.gallery.share_opens_per_viewer_per_day..=100_000)
                .contains(&c.gallery.share_opens_per_set_per_day)
        },
        "must be at least share_opens_per_viewer_per_day and at most 100000",
    ),
    rule(
        "privacy.messages_days",
        |c| (1..=3650).contains(&c.privacy.messages_days),
        "must be 1..=3650",
    ),
    rule(
        "privacy.events_days",
        |c| (30..=3650).contains(&c.privacy.events_days),
        "must be 30..=3650",
    ),
    rule(
        "quality.face_score_min",
        |c| c.quality.face_score_min > 0.0 && c.quality.face_score_min <= 20.0,
        "must be above 0 and at most 20",
    ),
    rule(
        "quality.min_face_share_percent",
        |c| (5..=100).contains(&c.quality.min_face_share_percent),
        "must be 5..=100 (smaller faces make detection too slow)",
    ),
    rule(
        "quality.min_sharpness",
        |c| c.quality.min_sharpness >= 0.0 && c.quality.min_sharpness.is_finite(),
        "must be 0 or more",
    ),
    rule(
        "quality.min_brightness",
        |c| c.quality.min_brightness < c.quality.max_brightness,
        "must be below quality.max_brightness",
    ),
    rule(
        "quality.similar_max_distance",
        |c| c.quality.similar_max_distance <= 64,
        "must be 0..=64 (bits of the hash)",
    ),
    explained("telemetry.filter", |c| {
        let filter = c.telemetry.filter.parse::<tracing_subscriber::EnvFilter>();
        filter.err().map(|e| e.to_string())
    }),
];

/// `None` when `value` is one of `allowed`, otherwise the reason.
fn one_of(allowed: &[&str], value: &str) -> Option<String> {
    let listed = allowed.contains(&value);
    (!listed).then(|| format!("must be one of {}", allowed.join(", ")))
}

/// The rules of each `[[tiers]]` item.
const TIER_RULES: &[Rule<Tier>] = &[
    rule(
        "id",
        |t| {
            !t.id.is_empty()
                && t.id.len() <= 16
                && t.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        },
        "must be 1–16 of a-z, 0-9, _",
    ),
    unique("id", |t| &t.id, |t| format!("\"{}\" is used twice", t.id)),
    rule(
        "name",
        |t| !t.name.trim().is_empty() && t.name.chars().count() <= 64,
        "must be 1–64 characters",
    ),
    rule(
        "price_kopecks",
        |t| t.price_kopecks >= 1000,
        "must be at least 1000 (10 ₽, T-Bank's minimum)",
    ),
    rule(
        "portraits",
        |t| (1..=100).contains(&t.portraits),
        "must be 1..=100",
    ),
];

/// An experiment's or a variant's name: 1–24 of a-z, 0-9, _, -.
fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 24
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The rules of each `[[experiments]]` item.
const EXPERIMENT_RULES: &[Rule<Experiment>] = &[
    rule(
        "name",
        |e| name_ok(&e.name),
        "must be 1–24 of a-z, 0-9, _, -",
    ),
    unique("name", |e| &e.name, |_| "is used twice".into()),
    rule(
        "variants",
        |e| !e.variants.is_empty(),
        "must list at least one variant",
    ),
    rule(
        "variants",
        |e| e.variants.iter().any(|v| v.weight > 0),
        "need a weight above 0",
    ),
    each("variants", |e, path| {
        check_each(path, &e.variants, VARIANT_RULES)
    }),
];

const VARIANT_NAME: &str = "must be 1–24 of a-z, 0-9, _, - and unique in its experiment";

/// The rules of each variant of an experiment.
const VARIANT_RULES: &[Rule<Variant>] = &[
    rule("name", |v| name_ok(&v.name), VARIANT_NAME),
    unique("name", |v| &v.name, |_| VARIANT_NAME.into()),
    explained("cta", |v| {
        let key = v.cta.as_deref()?;
        let everywhere = crate::i18n::Lang::ALL
            .iter()
            .all(|&lang| crate::i18n::has_key(lang, key));
        (!everywhere).then(|| format!("\"{key}\" is not a key of every locale"))
    }),
];
