//! A faithful, in-process stand-in for the Telegram Bot API, plus the user's side of the chat.
//!
//! The bot (teloxide, pointed here with `Bot::new(token).set_api_url(handle.base_url())`) talks
//! to `POST /bot{token}/{method}` and downloads from `GET /file/bot{token}/{file_path}`, and gets
//! the real JSON shapes and the real errors (400/401/403/409/429). A test plays the user
//! through [`Sandbox`]; a person plays the user in a browser on the chat page at `/chat`, which
//! uses the same operations over `/sandbox/api/…`.
//!
//! Driving it from a test:
//!
//! ```text
//! let standin = telegram::standin::start(Options::new(token, "pinglass_bot", temp_dir)).await?;
//! let bot = Bot::new(token).set_api_url(standin.base_url());
//! let sandbox = standin.sandbox();
//! let alice = UserSpec::new(1001, "Алиса").with_language("ru");
//! sandbox.send_text(&alice, "/start")?;                       // the bot sees it in getUpdates
//! let replies = sandbox.wait_for_bot_message_count(alice.id, 1, Duration::from_secs(5)).await?;
//! let query_id = sandbox.press_button(&alice, replies[0].message_id, "pkg:basic")?;
//! ```
//!
//! Limits follow Telegram's: about one message per second per chat with a small burst, about
//! thirty per second overall; an album counts one per item (teloxide's `Throttle` counts an
//! album as one request, so a bot may still meet a 429 after a big album and must honour
//! `retry_after`). A refused request (400/403/429) sends nothing.
//!
//! What is deliberately absent: webhooks deliver nothing (only `getUpdates`), inline mode,
//! payments inside Telegram, channels and supergroups, forwarding, polls, and any download of
//! files by URL (the stand-in has no network, so a URL as a file answers "failed to get HTTP
//! URL content").

mod bot_api;
mod files;
mod formatting;
mod limits;
mod model;
mod shapes;
mod user_api;
mod world;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::extract::DefaultBodyLimit;
use url::Url;

use crate::standins::{BindError, Bound, Server};

pub use limits::RateLimits;
pub use model::{
    BotCommandSpec, CallbackAnswer, CallbackRecord, ChatEntry, ChatInfo, ContactInfo, Counters,
    DocumentInfo, EntrySender, GroupSpec, InlineButton, KeyboardButton, MessageEntity, PhotoSize,
    ReplyKeyboard, StickerInfo, UserSpec, VideoInfo, bot_text_contains, last_bot_with_button,
    portraits_received,
};
pub use user_api::{FileUpload, Sandbox, UserActionError, WaitTimeout};

use shapes::BotIdentity;
use world::Shared;

/// How to start the stand-in (`telegram::standin::start`). Its `Debug`
/// output leaves the token out.
#[derive(Clone)]
pub struct Options {
    /// Where to listen; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The only token the stand-in accepts (anything else gets 401 Unauthorized).
    pub(crate) token: String,
    /// The bot's username, without `@`.
    pub(crate) bot_username: String,
    /// Where uploaded files are stored.
    pub data_dir: PathBuf,
    pub limits: RateLimits,
    /// Faults played at a rate: 429 storms and 5xx on sends and getUpdates
    /// (`FaultPlan::none()` for none).
    pub faults: crate::faults::FaultPlan,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("telegram::standin::Options")
            .field("bind", &self.bind)
            .field("token", &"[redacted]")
            .field("bot_username", &self.bot_username)
            .field("data_dir", &self.data_dir)
            .field("limits", &self.limits)
            .field("faults", &self.faults)
            .finish()
    }
}

impl Options {
    /// Options for a stand-in on 127.0.0.1 with a free port and default limits.
    pub fn new(
        token: impl Into<String>,
        bot_username: impl Into<String>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: token.into(),
            bot_username: bot_username.into(),
            data_dir: data_dir.into(),
            limits: RateLimits::default(),
            faults: crate::faults::FaultPlan::none(),
        }
    }
}

/// Why the stand-in could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the Telegram stand-in {0}")]
    Bind(#[from] BindError),
}

/// A fault a test scripts on the stand-in (`Handle::script`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A send of the bot (sendMessage, sendPhoto, edits, answerCallbackQuery…)
    /// answers `error_code` 500 and sends nothing.
    SendError500,
    /// An album the bot sends (sendMediaGroup) takes effect, but its answer
    /// is held for the fault plan's `lost_answer_hold` (past the bot's send
    /// timeout): the bot cannot know it arrived.
    AlbumAnswerLost,
    /// Telegram's front is down, as in its short outages: any call, `getMe`
    /// at start-up included, answers 502 Bad Gateway with an HTML page.
    Outage,
    /// The token was revoked in @BotFather: any call answers 401
    /// "Unauthorized".
    TokenRevoked,
}

/// Starts the stand-in's HTTP server in the current tokio runtime.
pub async fn start(options: Options) -> Result<Handle, Error> {
    let files_dir = options.data_dir.join("files");
    std::fs::create_dir_all(&files_dir).map_err(|source| Error::DataDir {
        path: files_dir.clone(),
        source,
    })?;
    let bot = BotIdentity {
        id: bot_id_from_token(&options.token),
        first_name: options.bot_username.clone(),
        username: options.bot_username.clone(),
    };
    let shared = Arc::new(Shared::new(
        options.token.clone(),
        bot,
        files_dir,
        options.limits,
        &options.faults,
    ));
    let sandbox = Sandbox {
        shared: shared.clone(),
    };
    let router = bot_api::routes()
        .with_state(shared.clone())
        .merge(user_api::routes().with_state(sandbox.clone()))
        .layer(DefaultBodyLimit::max(bot_api::MAX_REQUEST_BODY_BYTES));

    let bound = Bound::bind(options.bind).await?;
    let (address, base_url) = (bound.address, bound.base_url.clone());
    let server = bound.serve(router, "Telegram");
    Ok(Handle {
        sandbox,
        base_url,
        address,
        server: Arc::new(server),
    })
}

/// The numeric bot id is the part of the token before `:`, as on Telegram.
fn bot_id_from_token(token: &str) -> i64 {
    token
        .split(':')
        .next()
        .and_then(|prefix| prefix.parse::<i64>().ok())
        .unwrap_or(100_000_001)
}

/// A running stand-in. Cheap to clone; `shutdown` stops it for every clone.
#[derive(Clone)]
pub struct Handle {
    sandbox: Sandbox,
    base_url: Url,
    address: SocketAddr,
    server: Arc<Server>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("telegram::standin::Handle")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// The URL to give teloxide: `Bot::new(token).set_api_url(handle.base_url())`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// The chat page a person opens in a browser to play the user.
    pub fn chat_page_url(&self) -> Url {
        self.base_url
            .join("chat")
            .unwrap_or_else(|_| self.base_url.clone())
    }

    /// The user side: act as users and read the chats.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Stops the server: pending long polls answer with no updates, then it shuts down.
    pub(crate) async fn shutdown(&self) {
        self.sandbox.shared.lock().shutting_down = true;
        self.sandbox.shared.notify();
        self.server.shutdown(Duration::from_secs(5)).await;
    }
}

/// The scripted faults: for tests only.
#[cfg(feature = "testkit")]
impl Handle {
    /// The next `times` calls `fault` fits play it (a send, an album).
    pub fn script(&self, fault: Fault, times: u32) {
        self.sandbox.shared.script.push(fault, times);
    }
}
