//! The one way the stand-ins start: the sandbox (`services.rs`, only those
//! whose credentials are missing), the in-process tests (`harness.rs`), the
//! tests of the real binary (`tests/child.rs`) and `pinglass loadtest` all
//! call [`start`] with [`StandinsOptions`]; what differs between them is
//! the options (where they listen, Telegram's limits, Kie's latency, the
//! faults, the credentials).
//!
//! The three stand-ins have one shape: `kie::standin`, `tbank::standin` and
//! `telegram::standin` each have `Options` (`bind`, `faults`; `data_dir`
//! where files are kept), `start(Options) -> Result<Handle, Error>`, and a
//! `Handle` with `base_url()` and `shutdown()`; with the `testkit` feature
//! also `script(Fault, times)` (see `crate::faults`). The faults played are
//! counted in the `FaultPlan`'s tally, which all three share. Each serves
//! HTTP the same way, through `Bound` and `Server` below.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
#[cfg(feature = "testkit")]
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

#[cfg(feature = "testkit")]
use crate::config::Config;
use crate::faults::FaultPlan;
use crate::telegram::standin::RateLimits;
use crate::{kie, tbank, telegram};

/// The credentials the stand-ins accept (and the bot's name on Telegram).
#[derive(Clone)]
pub struct Credentials {
    /// The only bot token the Telegram stand-in accepts; the bot's id is the
    /// part before `:`, as on Telegram.
    pub bot_token: String,
    pub bot_username: String,
    pub kie_api_key: String,
    pub tbank_terminal_key: String,
    pub tbank_password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("bot_username", &self.bot_username)
            .field("tbank_terminal_key", &self.tbank_terminal_key)
            .finish_non_exhaustive()
    }
}

/// Which stand-ins to start and how they behave.
#[derive(Debug, Clone)]
pub struct StandinsOptions {
    /// Which to start (the sandbox: those whose credentials are missing).
    pub telegram: bool,
    pub kie: bool,
    pub tbank: bool,
    /// The address they listen on (loopback; the sandbox: `[sandbox] host`).
    pub host: IpAddr,
    /// The Telegram stand-in's port, that of the chat page (0: a free one;
    /// Kie and T-Bank always take a free one).
    pub telegram_port: u16,
    /// Their files: `telegram/` and `kie/` under it.
    pub data_dir: PathBuf,
    pub credentials: Credentials,
    /// Telegram's sending limits as the stand-in enforces them
    /// (`RateLimits::disabled()`: none).
    pub telegram_limits: RateLimits,
    /// Each Kie task takes a latency drawn from `kie_latency_min..=max`.
    pub kie_latency_min: Duration,
    pub kie_latency_max: Duration,
    /// The Kie account's credits at start.
    pub kie_credits: f64,
    /// The faults every stand-in plays at a rate (`FaultPlan::none()`).
    pub faults: FaultPlan,
}

/// Kie's limit of new tasks per rolling 10 seconds.
const KIE_CREATE_LIMIT_PER_10S: u32 = 20;

impl StandinsOptions {
    /// All three on loopback, on free ports, files under `data_dir`: no
    /// sending limits, Kie tasks of 200 ms and a million credits, no faults
    /// (the callers change what they measure).
    pub fn local(data_dir: impl Into<PathBuf>, credentials: Credentials) -> Self {
        StandinsOptions {
            telegram: true,
            kie: true,
            tbank: true,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            telegram_port: 0,
            data_dir: data_dir.into(),
            credentials,
            telegram_limits: RateLimits::disabled(),
            kie_latency_min: Duration::from_millis(200),
            kie_latency_max: Duration::from_millis(200),
            kie_credits: 1_000_000.0,
            faults: FaultPlan::none(),
        }
    }

    /// One latency for every Kie task.
    pub fn with_kie_latency(mut self, latency: Duration) -> Self {
        self.kie_latency_min = latency;
        self.kie_latency_max = latency;
        self
    }
}

/// The stand-ins started (`None`: not asked for).
#[derive(Debug)]
pub struct Standins {
    pub(crate) telegram: Option<telegram::standin::Handle>,
    pub(crate) kie: Option<kie::standin::Handle>,
    pub(crate) tbank: Option<tbank::standin::Handle>,
    pub(crate) credentials: Credentials,
}

/// Starts the stand-ins `options` asks for.
pub async fn start(options: StandinsOptions) -> anyhow::Result<Standins> {
    let StandinsOptions {
        host,
        ref data_dir,
        ref credentials,
        ref faults,
        ..
    } = options;
    let free_port = SocketAddr::new(host, 0);
    let telegram = if options.telegram {
        let bind = SocketAddr::new(host, options.telegram_port);
        let handle = telegram::standin::start(telegram::standin::Options {
            bind,
            token: credentials.bot_token.clone(),
            bot_username: credentials.bot_username.clone(),
            data_dir: data_dir.join("telegram"),
            limits: options.telegram_limits,
            faults: faults.clone(),
        })
        .await
        .with_context(|| format!("starting the Telegram stand-in on {bind} (is the port free?)"))?;
        Some(handle)
    } else {
        None
    };
    let kie = if options.kie {
        let handle = kie::standin::start(kie::standin::Options {
            bind: free_port,
            api_key: credentials.kie_api_key.clone(),
            latency: options.kie_latency_min,
            data_dir: data_dir.join("kie"),
            public_base: None,
            initial_credits: options.kie_credits,
            create_limit_per_10s: KIE_CREATE_LIMIT_PER_10S,
            faults: faults.clone(),
        })
        .await
        .context("starting the Kie stand-in")?;
        handle.set_latency_range(options.kie_latency_min, options.kie_latency_max);
        Some(handle)
    } else {
        None
    };
    let tbank = if options.tbank {
        let handle = tbank::standin::start(tbank::standin::Options {
            bind: free_port,
            terminal_key: credentials.tbank_terminal_key.clone(),
            password: credentials.tbank_password.clone(),
            public_base: None,
            faults: faults.clone(),
        })
        .await
        .context("starting the T-Bank stand-in")?;
        Some(handle)
    } else {
        None
    };
    Ok(Standins {
        telegram,
        kie,
        tbank,
        credentials: options.credentials,
    })
}

impl Standins {
    /// The three handles, for a caller that started all three.
    pub fn into_all(
        self,
    ) -> anyhow::Result<(
        telegram::standin::Handle,
        kie::standin::Handle,
        tbank::standin::Handle,
    )> {
        Ok((
            self.telegram
                .context("the Telegram stand-in was not started")?,
            self.kie.context("the Kie stand-in was not started")?,
            self.tbank.context("the T-Bank stand-in was not started")?,
        ))
    }

    /// Points `config` at the stand-ins started: their URLs and credentials
    /// (as if they were the real services).
    #[cfg(feature = "testkit")]
    pub(crate) fn connect(&self, config: &mut Config) {
        let c = &self.credentials;
        let secrets = &mut config.secrets;
        if let Some(telegram) = &self.telegram {
            config.telegram.api_url = telegram.base_url();
            secrets.telegram_token = Some(SecretString::from(c.bot_token.clone()));
        }
        if let Some(kie) = &self.kie {
            config.kie.base_url = kie.base_url();
            secrets.kie_api_key = Some(SecretString::from(c.kie_api_key.clone()));
        }
        if let Some(tbank) = &self.tbank {
            config.tbank.base_url = tbank.base_url();
            secrets.tbank_terminal_key = Some(SecretString::from(c.tbank_terminal_key.clone()));
            secrets.tbank_password = Some(SecretString::from(c.tbank_password.clone()));
        }
    }

    /// The same for a bot in another process: its environment variables
    /// (credentials and `PINGLASS_*` URLs).
    pub fn bot_env(&self) -> Vec<(String, String)> {
        let c = &self.credentials;
        let mut env = Vec::new();
        let mut set = |key: &str, value: String| env.push((key.to_owned(), value));
        if let Some(telegram) = &self.telegram {
            set("TELEGRAM_BOT_TOKEN", c.bot_token.clone());
            set(
                "PINGLASS_TELEGRAM__API_URL",
                telegram.base_url().to_string(),
            );
        }
        if let Some(kie) = &self.kie {
            set("KIE_API_KEY", c.kie_api_key.clone());
            set("PINGLASS_KIE__BASE_URL", kie.base_url().to_string());
        }
        if let Some(tbank) = &self.tbank {
            set("TBANK_TERMINAL_KEY", c.tbank_terminal_key.clone());
            set("TBANK_PASSWORD", c.tbank_password.clone());
            set("PINGLASS_TBANK__BASE_URL", tbank.base_url().to_string());
        }
        env
    }

    /// Stops every stand-in started.
    pub(crate) async fn shutdown(self) {
        if let Some(s) = self.telegram {
            s.shutdown().await;
        }
        if let Some(s) = self.kie {
            s.shutdown().await;
        }
        if let Some(s) = self.tbank {
            s.shutdown().await;
        }
    }
}

/// Why a stand-in could not listen.
#[derive(Debug, thiserror::Error)]
#[error("could not listen on {address}: {source}")]
pub struct BindError {
    address: SocketAddr,
    source: std::io::Error,
}

/// A stand-in's listening socket, not yet serving: the address it got and
/// its URL, `http://{address}/`.
pub(crate) struct Bound {
    listener: TcpListener,
    pub(crate) address: SocketAddr,
    pub(crate) base_url: Url,
}

impl Bound {
    /// Listens on `bind` (port 0: a free one).
    pub(crate) async fn bind(bind: SocketAddr) -> Result<Bound, BindError> {
        let failed = |source| BindError {
            address: bind,
            source,
        };
        let listener = TcpListener::bind(bind).await.map_err(failed)?;
        let address = listener.local_addr().map_err(failed)?;
        let base_url = Url::parse(&format!("http://{address}/"))
            .map_err(|error| failed(std::io::Error::other(error)))?;
        Ok(Bound {
            listener,
            address,
            base_url,
        })
    }

    /// Serves `router` in the background until the [`Server`] is stopped or
    /// dropped; `name` ("Kie", …) is for the logs.
    pub(crate) fn serve(self, router: axum::Router, name: &'static str) -> Server {
        self.serve_until(router, name, watch::Sender::new(false))
    }

    /// The same, stopped by `stop` turning true, which the stand-in may also
    /// watch (to end the requests it holds).
    pub(crate) fn serve_until(
        self,
        router: axum::Router,
        name: &'static str,
        stop: watch::Sender<bool>,
    ) -> Server {
        let mut stopping = stop.subscribe();
        let task = tokio::spawn(async move {
            let served = axum::serve(self.listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopping.wait_for(|stopping| *stopping).await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the {name} stand-in stopped with an error");
            }
        });
        tracing::info!(address = %self.address, "{name} stand-in listening");
        Server {
            stop,
            task: Mutex::new(Some(task)),
            name,
        }
    }
}

/// A stand-in's HTTP server, serving in the background. Dropping it stops it
/// (gracefully, without waiting).
pub(crate) struct Server {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    name: &'static str,
}

impl Server {
    /// Tells the server to stop: it takes no new connections and ends once
    /// the requests in flight are answered.
    pub(crate) fn signal_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops the server and waits for the requests in flight, at most
    /// `grace`; then it is aborted.
    pub(crate) async fn shutdown(&self, grace: Duration) {
        self.signal_stop();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut task) = task
            && tokio::time::timeout(grace, &mut task).await.is_err()
        {
            tracing::warn!("the {} stand-in did not stop within {grace:?}", self.name);
            task.abort();
        }
    }
}
