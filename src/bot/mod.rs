//! The chat side: one handler tree (teloxide + dptree), dialogue state in
//! SQLite, long polling. Handlers talk to the database and send messages;
//! they never call Kie or T-Bank (the side task does).

pub(crate) mod admin;
pub mod commands;
pub(crate) mod flood;
pub(crate) mod free;
pub mod gallery;
pub mod handlers;
pub(crate) mod press;
pub(crate) mod privacy;
pub mod purchase;
pub(crate) mod referral;
pub mod state;
pub(crate) mod stop;
pub mod storage;
pub(crate) mod upload;

use std::sync::Arc;
use std::time::Duration;

use teloxide::dispatching::{Dispatcher, ShutdownToken};
use teloxide::prelude::*;
use teloxide::types::BotCommand;
use teloxide::update_listeners::Polling;

use crate::chat::{TgBot, Wake};
use crate::config::Config;
use crate::db::Db;
use crate::i18n::{Lang, tr};
use crate::store::ObjectStore;

/// What every handler may need, shared by the whole dispatcher.
pub struct BotCtx {
    pub config: Arc<Config>,
    pub db: Db,
    pub store: ObjectStore,
    /// Wakes the side task when a handler queued work for it.
    pub wake: Arc<Wake>,
    /// The application clock (moved only by tests).
    pub clock: Arc<crate::clock::Clock>,
    /// Liveness and error counts for `/healthz` and the alerts.
    pub ops: Arc<crate::ops::Ops>,
}

/// Registers the command menu in every language (and Russian as the default).
/// Idempotent: the start retries it whole.
pub(crate) async fn register_commands(
    bot: &TgBot,
    config: &Config,
) -> Result<(), teloxide::RequestError> {
    let commands = |lang: Lang| -> Vec<BotCommand> {
        commands::MENU
            .iter()
            .map(|(command, key)| BotCommand::new(*command, tr(lang, key)))
            .collect()
    };
    bot.set_my_commands(commands(Lang::Ru)).await?;
    for lang in Lang::ALL {
        bot.set_my_commands(commands(lang))
            .language_code(lang.code())
            .await?;
    }
    // The admin menu: the user commands and the admin ones, in each admin's
    // chat only. Telegram refuses a chat that never wrote to the bot ("chat
    // not found"): that admin gets the menu after a restart, once they have.
    for &admin in &config.bot.admin_ids {
        let chat = teloxide::types::Recipient::Id(ChatId(admin));
        for lang in Lang::ALL {
            let mut all = commands(lang);
            all.extend(
                admin::MENU
                    .iter()
                    .map(|(command, key)| BotCommand::new(*command, tr(lang, key))),
            );
            let mut request =
                bot.set_my_commands(all)
                    .scope(teloxide::types::BotCommandScope::Chat {
                        chat_id: chat.clone(),
                    });
            if lang != Lang::Ru {
                request = request.language_code(lang.code());
            }
            if let Err(error) = request.await {
                tracing::warn!(admin, %error, "could not set the admin command menu");
            }
        }
    }
    Ok(())
}

/// A running dispatcher: stop it with [`Running::shutdown`]; [`Running::ended`]
/// resolves when it stops on its own.
pub(crate) struct Running {
    pub(crate) shutdown: ShutdownToken,
    pub(crate) task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Set when long polling meets an error no retry can mend.
    fatal: tokio::sync::watch::Receiver<Option<String>>,
    /// The task's end was already read by [`Running::ended`].
    joined: bool,
}

impl Running {
    /// Stops polling, lets handlers in flight finish, and waits. A
    /// dispatcher that has not started polling yet refuses the stop
    /// ("idle"); it is asked again until it accepts, and aborted if it
    /// never does.
    pub(crate) async fn shutdown(mut self) {
        if self.joined {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.shutdown.shutdown() {
                Ok(wait) => {
                    // teloxide's `wait` misses the dispatcher's "done" when
                    // dispatching ends before `wait` is first polled (a lost
                    // wake-up seen under load): the task's end counts too.
                    // Polling that backs off after errors (up to minutes
                    // between tries) only sees the stop after its pause: the
                    // handlers in flight get a bound, then the task ends.
                    tokio::select! {
                        _ = wait => {}
                        _ = &mut self.task => return,
                        () = tokio::time::sleep(STOP_GRACE) => {
                            tracing::warn!("the dispatcher did not stop in time; aborting it");
                            self.task.abort();
                        }
                    }
                    break;
                }
                Err(_) if self.task.is_finished() => break,
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    tracing::warn!("the dispatcher did not accept the stop; aborting it");
                    self.task.abort();
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let _ = (&mut self.task).await;
    }

    /// Resolves when the dispatcher stopped without being asked to (it
    /// returned, panicked, or polling met a fatal error), with the reason.
    pub(crate) async fn ended(&mut self) -> String {
        tokio::select! {
            joined = &mut self.task => {
                self.joined = true;
                match joined {
                    Ok(Ok(())) => "the dispatcher stopped".to_owned(),
                    Ok(Err(error)) => format!("the dispatcher stopped: {error:#}"),
                    Err(error) => format!("the dispatcher task failed: {error}"),
                }
            }
            reason = self.fatal.wait_for(Option::is_some) => match reason {
                Ok(reason) => reason.clone().unwrap_or_default(),
                Err(_) => "the dispatcher's polling error handler is gone".to_owned(),
            },
        }
    }
}

/// How long a stopping dispatcher may take to finish the updates in flight.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// Long polling's errors: logged like teloxide's own handler does, and
/// counted when Telegram refuses the token (revoked in @BotFather): after
/// [`FATAL_TOKEN_REFUSALS`] of them the process must stop, because no
/// retry will ever get an update again.
struct PollingErrors {
    refusals: std::sync::atomic::AtomicU32,
    fatal: tokio::sync::watch::Sender<Option<String>>,
}

const FATAL_TOKEN_REFUSALS: u32 = 3;

impl teloxide::error_handlers::ErrorHandler<teloxide::RequestError> for PollingErrors {
    fn handle_error(
        self: Arc<Self>,
        error: teloxide::RequestError,
    ) -> futures::future::BoxFuture<'static, ()> {
        use std::sync::atomic::Ordering;
        if crate::startup::token_refused(&error) {
            let refusals = self.refusals.fetch_add(1, Ordering::SeqCst) + 1;
            tracing::error!(%error, refusals, "Telegram refuses the bot token while polling");
            if refusals >= FATAL_TOKEN_REFUSALS {
                self.fatal.send_replace(Some(format!(
                    "Telegram refuses TELEGRAM_BOT_TOKEN while polling ({error}): \
                     was it revoked in @BotFather?"
                )));
            }
        } else {
            tracing::error!(%error, "polling failed");
        }
        Box::pin(async {})
    }
}

/// Starts long polling and the dispatcher on the current runtime. The
/// start-up calls (`getMe`, `deleteWebhook`) were made before, with retries
/// (`startup::telegram`): the dispatcher reads the cached `getMe`.
pub(crate) async fn start(bot: TgBot, ctx: Arc<BotCtx>) -> anyhow::Result<Running> {
    let storage = storage::SqliteStorage::new(ctx.db.clone(), ctx.clock.clone());
    let poll_timeout = Duration::from_secs(u64::from(ctx.config.telegram.poll_timeout_secs));
    let (guard, released) = flood::FloodGuard::new(slow_down(ctx.clone()));
    let listener = flood::Guarded::new(
        Polling::builder(bot.clone()).timeout(poll_timeout).build(),
        guard.clone(),
        released,
    );
    let ops = ctx.ops.clone();
    let schema = timed(ops.clone(), guard.clone()).chain(handlers::schema());
    let mut dispatcher = Dispatcher::builder(bot, schema)
        .dependencies(dptree::deps![ctx, storage, guard])
        .default_handler(|update| async move {
            tracing::debug!(update_id = update.id.0, "update ignored");
        })
        .error_handler(Arc::new(handlers::LogErrors))
        .build();
    let shutdown = dispatcher.shutdown_token();
    let (fatal, fatal_rx) = tokio::sync::watch::channel(None);
    let errors = Arc::new(PollingErrors {
        refusals: Default::default(),
        fatal,
    });
    let task = tokio::spawn(async move {
        ops.dispatcher_started();
        let dispatched = dispatcher
            .try_dispatch_with_listener(listener, errors)
            .await
            .map_err(|error| anyhow::Error::new(error).context("getMe failed in the dispatcher"));
        ops.dispatcher_stopped();
        dispatched
    });
    Ok(Running {
        shutdown,
        task,
        fatal: fatal_rx,
        joined: false,
    })
}

/// The one "slow down" of a flooding chat (`flood.rs`), through the
/// persistent queue, in the user's language.
fn slow_down(ctx: Arc<BotCtx>) -> flood::OnFlood {
    Box::new(move |chat_id| {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let max = ctx.config.upload.max_photos;
            let key = format!("flood:{chat_id}:{}", ctx.clock.now_ms());
            let text = move |lang| {
                crate::i18n::tr_args(
                    lang,
                    "flood-slow-down",
                    &[("max", crate::i18n::Arg::from(max))],
                )
            };
            queue_notice(&ctx, chat_id, key, text, "the flood notice").await;
        });
    })
}

/// The first link of the handler tree: times every update through the rest
/// of the tree and counts its outcome (handled, error, ignored, absorbed)
/// for the metrics, the error-rate alert and `/healthz`, and tells the
/// flood guard when its chat's update is done. An update of a chat that
/// began to flood after it was handed on is absorbed here (`flood.rs`). It
/// changes nothing else: the update goes on with the same dependencies, and
/// an update no branch takes still reaches the dispatcher's default handler.
fn timed(
    ops: Arc<crate::ops::Ops>,
    guard: Arc<flood::FloodGuard>,
) -> teloxide::dispatching::UpdateHandler<anyhow::Error> {
    use std::ops::ControlFlow;
    use teloxide::dispatching::DpHandlerDescription;
    use teloxide::dptree::HandlerDescription;
    dptree::from_fn_with_description(
        DpHandlerDescription::entry(),
        move |deps, cont| {
            let ops = ops.clone();
            let guard = guard.clone();
            let update = deps.try_get::<Update>();
            let ctx = deps.try_get::<Arc<BotCtx>>();
            async move {
                let started = std::time::Instant::now();
                // Done even when the handler panics: the chat's next update goes on.
                let _done = update.clone().map(|update| Done {
                    guard: guard.clone(),
                    update,
                });
                if update
                    .as_deref()
                    .is_some_and(|update| guard.absorbs(update))
                {
                    ops.update_handled();
                    crate::ops::metrics::update_handled("absorbed", started.elapsed());
                    return ControlFlow::Break(Ok(()));
                }
                let flow = cont(deps).await;
                let outcome = match &flow {
                    ControlFlow::Break(Ok(())) => "handled",
                    ControlFlow::Break(Err(error)) => {
                        ops.error();
                        if let (Some(update), Some(ctx)) = (update, ctx) {
                            ask_to_repeat(&ctx, &update, error).await;
                        }
                        "error"
                    }
                    ControlFlow::Continue(_) => "ignored",
                };
                ops.update_handled();
                crate::ops::metrics::update_handled(outcome, started.elapsed());
                flow
            }
        },
        dptree::HandlerSignature::Entry,
    )
}

/// Tells the flood guard that an update is done, when dropped.
struct Done {
    guard: Arc<flood::FloodGuard>,
    update: Arc<Update>,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.guard.done(&self.update);
    }
}

/// Whether a handler failed because Telegram itself failed for a moment
/// (5xx — teloxide reads nginx's 502 page as invalid JSON —, `error_code`
/// 500, the network): the answer was lost, through no fault of the user.
pub(crate) fn telegram_hiccup(error: &anyhow::Error) -> bool {
    use teloxide::{ApiError, RequestError};
    error
        .chain()
        .any(|cause| match cause.downcast_ref::<RequestError>() {
            Some(RequestError::Network(_) | RequestError::InvalidJson { .. }) => true,
            Some(RequestError::Api(ApiError::Unknown(description))) => [
                "Internal Server Error",
                "Bad Gateway",
                "Service Unavailable",
                "Gateway Timeout",
            ]
            .iter()
            .any(|server| description.contains(server)),
            _ => false,
        })
}

/// A handler's answer was lost to a Telegram hiccup: the user, who would
/// otherwise wait for nothing, is asked to repeat the step — through the
/// persistent queue, which retries until Telegram takes it, once per update.
async fn ask_to_repeat(ctx: &BotCtx, update: &Update, error: &anyhow::Error) {
    if !telegram_hiccup(error) {
        return;
    }
    let Some(chat) = update.chat().filter(|chat| chat.is_private()) else {
        return;
    };
    let (chat_id, update_id) = (chat.id.0, update.id.0);
    let key = format!("update:{update_id}:repeat");
    let text = |lang| tr(lang, "telegram-hiccup");
    queue_notice(ctx, chat_id, key, text, "the request to repeat").await;
}

/// Queues an essential text to `chat_id` in the user's language, once per
/// `key`, and wakes the side task; a failure is logged as `what`.
async fn queue_notice(
    ctx: &BotCtx,
    chat_id: i64,
    key: String,
    text: impl FnOnce(Lang) -> String + Send + 'static,
    what: &'static str,
) {
    let now = ctx.clock.now_ms();
    let queued = ctx
        .db
        .run(move |c| {
            let lang = crate::chat::lang_of(c, chat_id)?;
            let message = crate::chat::outbox::Outgoing::Text {
                text: text(lang),
                buttons: vec![],
            };
            crate::chat::outbox::enqueue(
                c,
                chat_id,
                &message,
                &key,
                crate::chat::outbox::Delivery::Essential,
                now,
            )
        })
        .await;
    match queued {
        Ok(_) => ctx.wake.notify_one(),
        Err(error) => tracing::warn!(%error, "could not queue {what}"),
    }
}
