//! The outside world, chosen at start: each configured credential means the
//! real service; each missing one starts its local stand-in on loopback
//! (the sandbox). The rest of the program sees only typed clients.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use rand::RngCore;
use secrecy::SecretString;
use url::Url;

use crate::config::{Config, StorageBackend};
use crate::kie::standin::{KieStandin, KieStandinHandle, KieStandinOptions};
use crate::kie::{KieClient, KieSettings, default_user_agent};
use crate::store::local::{LocalPresign, LocalServer, LocalStore};
use crate::store::s3::{S3Settings, S3Store};
use crate::store::{ObjectStore, local};
use crate::tbank::standin::{
    StandinHandle as TbankStandinHandle, StandinOptions as TbankStandinOptions, TbankStandin,
};
use crate::tbank::{TbankClient, TbankSettings};
use crate::telegram::standin::{
    RateLimits, StandinHandle as TelegramStandinHandle, StandinOptions as TelegramStandinOptions,
    TelegramStandin,
};

/// The sandbox's fixed, non-secret credentials for its own stand-ins.
pub const SANDBOX_BOT_TOKEN: &str = "100000001:SANDBOX-local-stand-in-token";
const SANDBOX_BOT_USERNAME: &str = "PinGlassSandboxBot";
const SANDBOX_KIE_KEY: &str = "sandbox-kie-key";
const SANDBOX_TBANK_TERMINAL: &str = "PinGlassSandboxDEMO";

/// Every external service, real or stand-in.
pub struct Services {
    pub telegram_api: Url,
    pub telegram_token: SecretString,
    pub kie: KieClient,
    pub tbank: TbankClient,
    pub store: ObjectStore,
    /// The chat page, when Telegram is the local stand-in.
    pub chat_page: Option<Url>,
    pub telegram_standin: Option<TelegramStandinHandle>,
    pub kie_standin: Option<KieStandinHandle>,
    pub tbank_standin: Option<TbankStandinHandle>,
    store_server: Option<LocalServer>,
}

impl Services {
    /// Whether anything runs as a local stand-in.
    pub fn is_sandbox(&self) -> bool {
        self.telegram_standin.is_some()
            || self.kie_standin.is_some()
            || self.tbank_standin.is_some()
    }

    /// One line per service, for the start-up log (no secrets).
    pub fn describe(&self) -> Vec<String> {
        let which = |standin: bool| {
            if standin {
                "local stand-in"
            } else {
                "real service"
            }
        };
        vec![
            format!("Telegram: {}", which(self.telegram_standin.is_some())),
            format!("Kie AI: {}", which(self.kie_standin.is_some())),
            format!("T-Bank: {}", which(self.tbank_standin.is_some())),
            format!(
                "object store: {}",
                match self.store {
                    ObjectStore::Local(_) => "local directory",
                    ObjectStore::S3(_) => "S3",
                }
            ),
        ]
    }

    pub async fn shutdown(self) {
        if let Some(s) = self.telegram_standin {
            s.shutdown().await;
        }
        if let Some(s) = self.kie_standin {
            s.shutdown().await;
        }
        if let Some(s) = self.tbank_standin {
            s.shutdown().await;
        }
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

fn sandbox_addr(config: &Config, port: u16) -> anyhow::Result<SocketAddr> {
    format!("{}:{port}", config.sandbox.host)
        .parse()
        .with_context(|| {
            format!(
                "sandbox.host {:?} is not an IP address",
                config.sandbox.host
            )
        })
}

/// Starts what is missing and connects to what is configured.
pub async fn start(config: &Config) -> anyhow::Result<Services> {
    let secrets = &config.secrets;
    let data_dir = &config.sandbox.data_dir;

    let kie_is_local = matches!(
        config.kie.base_url.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || config.kie.base_url.host_str() == Some("localhost");
    if secrets.kie_api_key.is_some()
        && config.storage.backend == StorageBackend::Local
        && !kie_is_local
    {
        anyhow::bail!(
            "configuration: `storage.backend` is \"local\", but the real Kie AI must fetch the reference photos \
             over the internet: use \"s3\" (Cloudflare R2) with KIE_API_KEY"
        );
    }

    // The object store (and, for the local backend, the server of its presigned URLs).
    let (store, store_server) = match config.storage.backend {
        StorageBackend::S3 => {
            let settings =
                S3Settings::from_config(&config.storage, secrets, Duration::from_secs(60))?;
            (ObjectStore::S3(S3Store::new(settings)?), None)
        }
        StorageBackend::Local => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            let dir = config.storage.local_dir.clone();
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let (base_url, server) = local::serve(dir.clone(), sandbox_addr(config, 0)?, key)
                .await
                .context("starting the local object server")?;
            let presign = LocalPresign {
                base_url,
                signing_key: key,
            };
            (
                ObjectStore::Local(LocalStore::new(dir, Some(presign))),
                Some(server),
            )
        }
    };

    // The faults the sandbox's stand-ins play (`[sandbox] faults`).
    let sandbox_faults = config.sandbox.faults.plan();

    // Telegram.
    let (telegram_api, telegram_token, telegram_standin, chat_page) = match &secrets.telegram_token
    {
        Some(token) => (config.telegram.api_url.clone(), token.clone(), None, None),
        None => {
            let handle = TelegramStandin::start(TelegramStandinOptions {
                bind: sandbox_addr(config, config.sandbox.chat_port)?,
                token: SANDBOX_BOT_TOKEN.to_owned(),
                bot_username: SANDBOX_BOT_USERNAME.to_owned(),
                data_dir: data_dir.join("telegram"),
                limits: RateLimits::default(),
                faults: sandbox_faults.clone(),
            })
            .await
            .context("starting the Telegram stand-in (is sandbox.chat_port free?)")?;
            let page = handle.chat_page_url();
            (
                handle.api_url(),
                SecretString::from(SANDBOX_BOT_TOKEN),
                Some(handle),
                Some(page),
            )
        }
    };

    // Kie AI.
    let (kie_settings, kie_standin) = match &secrets.kie_api_key {
        Some(key) => (
            KieSettings {
                base_url: config.kie.base_url.clone(),
                api_key: key.clone(),
                timeout: Duration::from_secs(config.kie.request_timeout_secs),
                user_agent: default_user_agent(),
            },
            None,
        ),
        None => {
            let handle = KieStandin::start(KieStandinOptions {
                bind: sandbox_addr(config, 0)?,
                api_key: SANDBOX_KIE_KEY.to_owned(),
                latency: Duration::from_secs_f64(config.sandbox.kie_latency_secs),
                data_dir: data_dir.join("kie"),
                public_base: None,
                initial_credits: 1_000_000.0,
                create_limit_per_10s: 20,
                faults: sandbox_faults.clone(),
            })
            .await
            .context("starting the Kie stand-in")?;
            let settings = KieSettings {
                base_url: handle.base_url(),
                api_key: SecretString::from(SANDBOX_KIE_KEY),
                timeout: Duration::from_secs(config.kie.request_timeout_secs),
                user_agent: default_user_agent(),
            };
            (settings, Some(handle))
        }
    };
    let kie = KieClient::new(kie_settings)?;

    // T-Bank.
    let (tbank_settings, tbank_standin) =
        match (&secrets.tbank_terminal_key, &secrets.tbank_password) {
            (Some(terminal), Some(password)) => (
                TbankSettings {
                    base_url: config.tbank.base_url.clone(),
                    terminal_key: terminal.clone(),
                    password: password.clone(),
                    timeout: Duration::from_secs(config.tbank.request_timeout_secs),
                },
                None,
            ),
            (None, None) => {
                let password = random_secret();
                let handle = TbankStandin::start(TbankStandinOptions {
                    bind: sandbox_addr(config, 0)?,
                    terminal_key: SANDBOX_TBANK_TERMINAL.to_owned(),
                    password: password.clone(),
                    public_base: None,
                    faults: sandbox_faults.clone(),
                })
                .await
                .context("starting the T-Bank stand-in")?;
                let settings = TbankSettings {
                    base_url: handle.base_url(),
                    terminal_key: SecretString::from(SANDBOX_TBANK_TERMINAL),
                    password: SecretString::from(password),
                    timeout: Duration::from_secs(config.tbank.request_timeout_secs),
                };
                (settings, Some(handle))
            }
            _ => anyhow::bail!(
                "configuration: set both TBANK_TERMINAL_KEY and TBANK_PASSWORD, or neither"
            ),
        };
    let tbank = TbankClient::new(tbank_settings)?;

    Ok(Services {
        telegram_api,
        telegram_token,
        kie,
        tbank,
        store,
        chat_page,
        telegram_standin,
        kie_standin,
        tbank_standin,
        store_server,
    })
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
