//! The outside world, chosen at start: each configured credential means the
//! real service; each missing one starts its local stand-in on loopback
//! (the sandbox). The rest of the program sees only typed clients.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context;
use rand::RngCore;
use secrecy::SecretString;
use url::Url;

use crate::config::{Config, StorageBackend};
use crate::kie::{KieClient, KieSettings, default_user_agent};
use crate::standins::{self, Credentials, Standins, StandinsOptions};
use crate::startup::{self, Verdict};
use crate::store::local::{LocalPresign, LocalServer, LocalStore};
use crate::store::s3::{S3Settings, S3Store};
use crate::store::{ObjectStore, local};
use crate::tbank::{TbankClient, TbankSettings};
use crate::telegram::standin::RateLimits;

/// The sandbox's fixed, non-secret credentials for its own stand-ins.
pub(crate) const SANDBOX_BOT_TOKEN: &str = "100000001:SANDBOX-local-stand-in-token";
const SANDBOX_BOT_USERNAME: &str = "PinGlassSandboxBot";
const SANDBOX_KIE_KEY: &str = "sandbox-kie-key";
const SANDBOX_TBANK_TERMINAL: &str = "PinGlassSandboxDEMO";

/// Every external service, real or stand-in.
pub struct Services {
    pub(crate) telegram_api: Url,
    pub(crate) telegram_token: SecretString,
    pub(crate) kie: KieClient,
    pub(crate) tbank: TbankClient,
    pub store: ObjectStore,
    /// The chat page, when Telegram is the local stand-in.
    pub(crate) chat_page: Option<Url>,
    /// The stand-ins of the services without credentials.
    standins: Standins,
    store_server: Option<LocalServer>,
}

impl Services {
    /// One line per service, for the start-up log (no secrets).
    pub(crate) fn describe(&self) -> Vec<String> {
        let which = |standin: bool| {
            if standin {
                "local stand-in"
            } else {
                "real service"
            }
        };
        vec![
            format!("Telegram: {}", which(self.standins.telegram.is_some())),
            format!("Kie AI: {}", which(self.standins.kie.is_some())),
            format!("T-Bank: {}", which(self.standins.tbank.is_some())),
            format!(
                "object store: {}",
                match self.store {
                    ObjectStore::Local(_) => "local directory",
                    ObjectStore::S3(_) => "S3",
                }
            ),
        ]
    }

    pub(crate) async fn shutdown(self) {
        self.standins.shutdown().await;
        if let Some(s) = self.store_server {
            s.shutdown().await;
        }
    }
}

fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn sandbox_host(config: &Config) -> anyhow::Result<IpAddr> {
    config.sandbox.host.parse().with_context(|| {
        format!(
            "sandbox.host {:?} is not an IP address",
            config.sandbox.host
        )
    })
}

/// Starts what is missing and connects to what is configured.
pub(crate) async fn start(config: &Config) -> anyhow::Result<Services> {
    refuse_local_store_for_real_kie(config)?;
    let (store, store_server) = start_store(config).await?;
    let standins = standins::start(sandbox_standins(config)?).await?;
    if config.secrets.telegram_token.is_some() {
        for (name, started) in [
            ("Kie AI", standins.kie.is_some()),
            ("T-Bank", standins.tbank.is_some()),
        ] {
            if started {
                tracing::warn!(
                    service = name,
                    "staging: real Telegram users are served by the local {name} stand-in \
                     ([sandbox] standins)"
                );
            }
        }
    }
    let (telegram_api, telegram_token) = match &standins.telegram {
        Some(handle) => (handle.base_url(), SecretString::from(SANDBOX_BOT_TOKEN)),
        None => (
            config.telegram.api_url.clone(),
            config
                .secrets
                .telegram_token
                .clone()
                .context("the Telegram token is set when its stand-in is not started")?,
        ),
    };
    Ok(Services {
        telegram_api,
        telegram_token,
        kie: kie_client(config, &standins)?,
        tbank: tbank_client(config, &standins)?,
        store,
        chat_page: standins.telegram.as_ref().map(|t| t.chat_page_url()),
        standins,
        store_server,
    })
}

/// The real Kie fetches the reference photos over the internet: a local
/// store cannot serve them.
fn refuse_local_store_for_real_kie(config: &Config) -> anyhow::Result<()> {
    let kie_is_local = matches!(
        config.kie.base_url.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || config.kie.base_url.host_str() == Some("localhost");
    if config.secrets.kie_api_key.is_some()
        && config.storage.backend == StorageBackend::Local
        && !kie_is_local
    {
        anyhow::bail!(
            "configuration: `storage.backend` is \"local\", but the real Kie AI must fetch the reference photos \
             over the internet: use \"s3\" (Cloudflare R2) with KIE_API_KEY"
        );
    }
    Ok(())
}

/// The object store alone, for the tools (`pinglass restore`): no server of
/// presigned URLs.
pub(crate) fn store_for_tools(config: &Config) -> anyhow::Result<ObjectStore> {
    Ok(match config.storage.backend {
        StorageBackend::S3 => {
            let settings =
                S3Settings::from_config(&config.storage, &config.secrets, Duration::from_secs(60))?;
            ObjectStore::S3(S3Store::new(settings)?)
        }
        StorageBackend::Local => {
            ObjectStore::Local(LocalStore::new(config.storage.local_dir.clone(), None))
        }
    })
}

/// The object store (and, for the local backend, the server of its presigned URLs).
async fn start_store(config: &Config) -> anyhow::Result<(ObjectStore, Option<LocalServer>)> {
    match config.storage.backend {
        StorageBackend::S3 => {
            let settings =
                S3Settings::from_config(&config.storage, &config.secrets, Duration::from_secs(60))?;
            Ok((ObjectStore::S3(S3Store::new(settings)?), None))
        }
        StorageBackend::Local => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            let dir = config.storage.local_dir.clone();
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let bind = std::net::SocketAddr::new(sandbox_host(config)?, 0);
            let (base_url, server) = local::serve(dir.clone(), bind, key)
                .await
                .context("starting the local object server")?;
            let presign = LocalPresign {
                base_url,
                signing_key: key,
            };
            Ok((
                ObjectStore::Local(LocalStore::new(dir, Some(presign))),
                Some(server),
            ))
        }
    }
}

/// The sandbox's stand-ins: one for each service whose credentials are
/// missing, on `[sandbox] host`, with Telegram's real limits, Kie's
/// `[sandbox] kie_latency_secs` and the `[sandbox] faults`.
fn sandbox_standins(config: &Config) -> anyhow::Result<StandinsOptions> {
    let secrets = &config.secrets;
    let tbank = match (&secrets.tbank_terminal_key, &secrets.tbank_password) {
        (Some(_), Some(_)) => false,
        (None, None) => true,
        _ => anyhow::bail!(
            "configuration: set both TBANK_TERMINAL_KEY and TBANK_PASSWORD, or neither"
        ),
    };
    let credentials = Credentials {
        bot_token: SANDBOX_BOT_TOKEN.to_owned(),
        bot_username: SANDBOX_BOT_USERNAME.to_owned(),
        kie_api_key: SANDBOX_KIE_KEY.to_owned(),
        tbank_terminal_key: SANDBOX_TBANK_TERMINAL.to_owned(),
        tbank_password: random_secret(),
    };
    Ok(StandinsOptions {
        telegram: secrets.telegram_token.is_none(),
        kie: secrets.kie_api_key.is_none(),
        tbank,
        host: sandbox_host(config)?,
        telegram_port: config.sandbox.chat_port,
        data_dir: config.sandbox.data_dir.clone(),
        credentials,
        telegram_limits: RateLimits::default(),
        kie_latency_min: Duration::from_secs_f64(config.sandbox.kie_latency_secs),
        kie_latency_max: Duration::from_secs_f64(config.sandbox.kie_latency_secs),
        kie_credits: 1_000_000.0,
        faults: config.sandbox.faults.plan(),
    })
}

/// Kie AI: the real one with the configured key, or the stand-in.
fn kie_client(config: &Config, standins: &Standins) -> anyhow::Result<KieClient> {
    let (base_url, api_key) = match (&standins.kie, &config.secrets.kie_api_key) {
        (Some(handle), _) => (
            handle.base_url(),
            SecretString::from(standins.credentials.kie_api_key.clone()),
        ),
        (None, Some(key)) => (config.kie.base_url.clone(), key.clone()),
        (None, None) => anyhow::bail!("no Kie key and no Kie stand-in"),
    };
    kie_at(config, base_url, api_key)
}

fn kie_at(config: &Config, base_url: Url, api_key: SecretString) -> anyhow::Result<KieClient> {
    Ok(KieClient::new(KieSettings {
        base_url,
        api_key,
        timeout: Duration::from_secs(config.kie.request_timeout_secs),
        user_agent: default_user_agent(),
    })?)
}

/// T-Bank: the real one with the configured terminal, or the stand-in.
fn tbank_client(config: &Config, standins: &Standins) -> anyhow::Result<TbankClient> {
    let secrets = &config.secrets;
    let (base_url, terminal_key, password) = match (
        &standins.tbank,
        &secrets.tbank_terminal_key,
        &secrets.tbank_password,
    ) {
        (Some(handle), _, _) => (
            handle.base_url(),
            SecretString::from(standins.credentials.tbank_terminal_key.clone()),
            SecretString::from(standins.credentials.tbank_password.clone()),
        ),
        (None, Some(terminal), Some(password)) => (
            config.tbank.base_url.clone(),
            terminal.clone(),
            password.clone(),
        ),
        _ => anyhow::bail!("no T-Bank terminal and no T-Bank stand-in"),
    };
    tbank_at(config, base_url, terminal_key, password)
}

fn tbank_at(
    config: &Config,
    base_url: Url,
    terminal_key: SecretString,
    password: SecretString,
) -> anyhow::Result<TbankClient> {
    Ok(TbankClient::new(TbankSettings {
        base_url,
        terminal_key,
        password,
        timeout: Duration::from_secs(config.tbank.request_timeout_secs),
    })?)
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("telegram_api", &self.telegram_api.as_str())
            .field("telegram_token", &"***")
            .field("chat_page", &self.chat_page.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

/// `pinglass check`: one call to each real service whose credentials are
/// set, without side effects — Telegram's `getMe`, Kie's credit balance, a
/// T-Bank CheckOrder of an order that does not exist, a listing of an empty
/// prefix of the bucket. A service without credentials is reported as not
/// configured.
pub(crate) async fn check(config: &Config) -> Vec<(&'static str, Verdict)> {
    let once = Duration::ZERO;
    let secrets = &config.secrets;
    let not_set =
        |names: &str| Verdict::Refused(format!("{names} not set: a stand-in would serve"));
    let telegram = async {
        let Some(token) = &secrets.telegram_token else {
            return not_set("TELEGRAM_BOT_TOKEN");
        };
        match crate::chat::build_bot(
            secrecy::ExposeSecret::expose_secret(token),
            config.telegram.api_url.clone(),
            &config.telegram,
        ) {
            Ok(bot) => startup::probe_telegram(&bot, once).await,
            Err(error) => Verdict::Refused(format!("{error:#}")),
        }
    };
    let kie = async {
        let Some(key) = &secrets.kie_api_key else {
            return not_set("KIE_API_KEY");
        };
        match kie_at(config, config.kie.base_url.clone(), key.clone()) {
            Ok(kie) => startup::probe_kie(&kie, once).await,
            Err(error) => Verdict::Refused(format!("{error:#}")),
        }
    };
    let tbank = async {
        let (Some(terminal), Some(password)) =
            (&secrets.tbank_terminal_key, &secrets.tbank_password)
        else {
            return not_set("TBANK_TERMINAL_KEY / TBANK_PASSWORD");
        };
        let (terminal, password) = (terminal.clone(), password.clone());
        match tbank_at(config, config.tbank.base_url.clone(), terminal, password) {
            Ok(tbank) => startup::probe_tbank(&tbank, once).await,
            Err(error) => Verdict::Refused(format!("{error:#}")),
        }
    };
    let (telegram, kie, tbank, store) = tokio::join!(telegram, kie, tbank, check_store(config));
    vec![
        ("Telegram", telegram),
        ("Kie AI", kie),
        ("T-Bank", tbank),
        ("object store", store),
    ]
}

async fn check_store(config: &Config) -> Verdict {
    match config.storage.backend {
        StorageBackend::Local => {
            let dir = &config.storage.local_dir;
            match std::fs::create_dir_all(dir) {
                Ok(()) => Verdict::Warning(format!(
                    "local directory {} (the real Kie needs \"s3\")",
                    dir.display()
                )),
                Err(error) => Verdict::Refused(format!("{}: {error}", dir.display())),
            }
        }
        StorageBackend::S3 => {
            let store =
                S3Settings::from_config(&config.storage, &config.secrets, Duration::from_secs(20))
                    .and_then(S3Store::new)
                    .map(ObjectStore::S3);
            match store {
                Ok(store) => match store.list("pinglass-check/").await {
                    Ok(_) => Verdict::Ok(format!("bucket {} answered", config.storage.s3_bucket)),
                    Err(error) if error.is_transient() => Verdict::Unreachable(error.to_string()),
                    Err(error) => Verdict::Refused(error.to_string()),
                },
                Err(error) => Verdict::Refused(error.to_string()),
            }
        }
    }
}
