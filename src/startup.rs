//! The start-up calls to the outside world, each retried with back-off.
//!
//! Telegram's front answers 502/504 with an HTML page during its short
//! outages, `getMe` at start-up included; Kie and T-Bank have bad minutes
//! too. A transient failure is retried (exponential back-off with jitter,
//! each retry logged) for up to `[bot] startup_retry_secs`; after that the
//! start fails and the process exits non-zero, for its supervisor to start it
//! again. A refused credential is not transient: it fails at once, naming the
//! variable to fix.
//!
//! Once `getMe` has answered, teloxide's dispatcher reads the bot's identity
//! from the [`TgBot`]'s cache instead of asking again (a second `getMe` that
//! failed would panic inside teloxide).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use teloxide::prelude::*;
use teloxide::{ApiError, RequestError};

use crate::chat::TgBot;
use crate::kie::{ErrorClass, KieClient};
use crate::tbank::{TbankClient, TbankError};

/// The OrderId of the start-up probe: no order of ours is ever named so.
const TBANK_PROBE_ORDER: &str = "pinglass-startup-probe";

/// Calls `call` until it succeeds, fails with an error that `transient`
/// rejects, or `window` has been spent waiting. `RetryAfter` from Telegram
/// waits exactly as long as Telegram asked.
pub(crate) async fn retried<T, E, Fut, F>(
    what: &'static str,
    window: Duration,
    call: F,
    transient: impl FnMut(&E) -> bool,
) -> Result<T, E>
where
    E: Display + RetryHint,
    Fut: Future<Output = Result<T, E>>,
    F: FnMut() -> Fut,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
        .with_total_delay(Some(window));
    call.retry(backoff)
        .sleep(tokio::time::sleep)
        .when(transient)
        .adjust(|error: &E, planned| error.retry_after().or(planned))
        .notify(|error: &E, wait: Duration| {
            tracing::warn!(
                call = what,
                error = %error,
                retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "start-up call failed; retrying"
            );
        })
        .await
}

/// A wait the service itself asked for (Telegram's `retry_after`).
pub(crate) trait RetryHint {
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl RetryHint for RequestError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            RequestError::RetryAfter(seconds) => Some(seconds.duration()),
            _ => None,
        }
    }
}

impl RetryHint for crate::kie::KieError {}
impl RetryHint for TbankError {}

/// Telegram refused the token (401 "Unauthorized", or 404 for a malformed
/// one): no retry will change that.
pub(crate) fn token_refused(error: &RequestError) -> bool {
    matches!(error, RequestError::Api(ApiError::InvalidToken))
}

/// What one call to a service showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It answered and accepts our credentials; what it said.
    Ok(String),
    /// It answered and accepts our credentials, with something to fix.
    Warning(String),
    /// It refuses a credential: no retry helps.
    Refused(String),
    /// It did not answer (after the retries).
    Unreachable(String),
}

impl Verdict {
    /// At start: an answer logs, a refusal or silence stops the start.
    fn at_start(self, service: &str) -> anyhow::Result<()> {
        match self {
            Verdict::Ok(said) => {
                tracing::info!(service, "{said}");
                Ok(())
            }
            Verdict::Warning(said) => {
                tracing::warn!(service, "{said}");
                Ok(())
            }
            Verdict::Refused(why) => anyhow::bail!("{service} {why}"),
            Verdict::Unreachable(why) => {
                anyhow::bail!("{service} did not answer within [bot] startup_retry_secs: {why}")
            }
        }
    }
}

/// `getMe`; on a real bot it also fills the identity cache the dispatcher reads.
pub(crate) async fn probe_telegram(bot: &TgBot, window: Duration) -> Verdict {
    match retried(
        "getMe",
        window,
        || bot.get_me().send(),
        |e| !token_refused(e),
    )
    .await
    {
        Ok(me) => Verdict::Ok(format!("answered getMe as @{}", me.username())),
        Err(error) => telegram_verdict(error),
    }
}

fn telegram_verdict(error: RequestError) -> Verdict {
    if token_refused(&error) {
        Verdict::Refused(format!(
            "refuses TELEGRAM_BOT_TOKEN ({error}): check the token with @BotFather"
        ))
    } else {
        Verdict::Unreachable(error.to_string())
    }
}

/// `getMe`, then `deleteWebhook` when a webhook is set: long polling gets
/// 409 otherwise.
pub(crate) async fn telegram(bot: &TgBot, window: Duration) -> anyhow::Result<()> {
    probe_telegram(bot, window).await.at_start("Telegram")?;
    retried(
        "deleteWebhook",
        window,
        || async {
            if bot.get_webhook_info().await?.url.is_some() {
                tracing::info!("a webhook is set: deleting it, for long polling");
                bot.delete_webhook().await?;
            }
            Ok(())
        },
        |e| !token_refused(e),
    )
    .await
    .map_err(telegram_failure)
}

/// The error a failed Telegram start-up call stops the start with.
pub(crate) fn telegram_failure(error: RequestError) -> anyhow::Error {
    match telegram_verdict(error).at_start("Telegram") {
        Err(error) => error,
        Ok(()) => anyhow::anyhow!("Telegram failed"),
    }
}

/// Kie's credit balance: proves the key, and tells what is left.
pub(crate) async fn probe_kie(kie: &KieClient, window: Duration) -> Verdict {
    let answer = retried(
        "Kie credit",
        window,
        || kie.credit(),
        |e| e.class() == ErrorClass::Transient,
    )
    .await;
    match answer {
        Ok(credits) => Verdict::Ok(format!("answered: {credits} credits left")),
        Err(crate::kie::KieError::Api { code: 401, msg, .. }) => {
            Verdict::Refused(format!("refuses KIE_API_KEY (code 401: {msg})"))
        }
        // Out of credits, say: the side task pauses generation and alerts
        // the admins; the bot still takes photos and payments.
        Err(error) if error.class() != ErrorClass::Transient => {
            Verdict::Warning(format!("refuses the account: {error}"))
        }
        Err(error) => Verdict::Unreachable(error.to_string()),
    }
}

/// A CheckOrder of an order that does not exist: T-Bank checks the token
/// (terminal key and password) first, so "order not found" (335) proves them.
pub(crate) async fn probe_tbank(tbank: &TbankClient, window: Duration) -> Verdict {
    let answer = retried(
        "T-Bank CheckOrder",
        window,
        || tbank.check_order(TBANK_PROBE_ORDER),
        TbankError::is_transient,
    )
    .await;
    match answer {
        Ok(_) => Verdict::Ok("answered CheckOrder".to_owned()),
        Err(TbankError::Api { code, .. }) if code == "335" => {
            Verdict::Ok("accepts the terminal key and password".to_owned())
        }
        Err(TbankError::Api { code, message, .. })
            if matches!(code.as_str(), "202" | "204" | "205" | "501") =>
        {
            Verdict::Refused(format!(
                "refuses TBANK_TERMINAL_KEY / TBANK_PASSWORD (error {code}: {message})"
            ))
        }
        Err(error) if !error.is_transient() => {
            Verdict::Warning(format!("answered the check unexpectedly: {error}"))
        }
        Err(error) => Verdict::Unreachable(error.to_string()),
    }
}

/// The start-up checks of Kie and T-Bank.
pub(crate) async fn kie(kie: &KieClient, window: Duration) -> anyhow::Result<()> {
    probe_kie(kie, window).await.at_start("Kie AI")
}

pub(crate) async fn tbank(tbank: &TbankClient, window: Duration) -> anyhow::Result<()> {
    probe_tbank(tbank, window).await.at_start("T-Bank")
}
