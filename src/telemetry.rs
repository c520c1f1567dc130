//! Logging (a readable console format by default, JSON lines when
//! configured) and optional error tracking with Sentry.
//!
//! Sentry is on only when `SENTRY_DSN` is set. Errors logged through
//! `tracing` become Sentry events (warnings become breadcrumbs), panics too.
//! Every event passes [`scrub_event`] first: bot tokens (also inside URLs),
//! passwords, keys and other secret-looking fields, photos and file ids,
//! e-mails and phones are removed; the user is identified by id only.

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::Value;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, LogFormat, TelemetryConfig};

/// Installs the global subscriber (`RUST_LOG` overrides the configured
/// filter; calling it twice is harmless), plus Sentry when `SENTRY_DSN` is set. Keep the returned guard
/// for the life of the process: dropping it flushes the queued events.
pub fn init_with_sentry(config: &Config) -> Option<sentry::ClientInitGuard> {
    let guard = config
        .secrets
        .sentry_dsn
        .as_ref()
        .and_then(|dsn| start_sentry(dsn.expose_secret()));
    install(&config.telemetry, guard.is_some());
    if guard.is_some() {
        tracing::info!("error tracking: Sentry is on");
    }
    guard
}

fn install(config: &TelemetryConfig, sentry: bool) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| f.parse::<EnvFilter>().ok())
        .unwrap_or_else(|| EnvFilter::new(&config.filter));
    let console = match config.format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(console)
        .with(sentry.then(sentry::integrations::tracing::layer))
        .try_init();
}

/// Starts the Sentry client; `None` (and a message on stderr) for a DSN that
/// does not parse — `Config::validate` refuses those already.
fn start_sentry(dsn: &str) -> Option<sentry::ClientInitGuard> {
    let dsn: sentry::types::Dsn = match dsn.parse() {
        Ok(dsn) => dsn,
        Err(error) => {
            eprintln!("pinglass: SENTRY_DSN is not a valid DSN ({error}); error tracking is off");
            return None;
        }
    };
    Some(sentry::init(sentry::ClientOptions {
        dsn: Some(dsn),
        release: sentry::release_name!(),
        send_default_pii: false,
        before_send: Some(Arc::new(scrub_event)),
        before_breadcrumb: Some(Arc::new(scrub_breadcrumb)),
        ..Default::default()
    }))
}

const REDACTED: &str = "[redacted]";

/// Field names whose values never leave the process.
fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    const WORDS: [&str; 16] = [
        "password",
        "passwd",
        "token",
        "secret",
        "api_key",
        "apikey",
        "terminal_key",
        "terminalkey",
        "authorization",
        "cookie",
        "dsn",
        "photo",
        "file_id",
        "image",
        "email",
        "phone",
    ];
    WORDS.iter().any(|w| key.contains(w))
        || key == "key"
        || (key.ends_with("_key") && key != "incident_key" && key != "dedup_key")
        || key == "receipt_contact"
        || key == "bytes"
}

/// Removes secrets from free text: Telegram bot tokens (`123456:AA…`, also
/// inside `…/bot<token>/…` URLs) and the value after a password/token/secret
/// word (`Password=…`, `"Token":"…"`).
pub fn scrub_text(text: &str) -> String {
    let redacted_tokens = scrub_bot_tokens(text);
    scrub_key_values(&redacted_tokens)
}

fn scrub_bot_tokens(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        // A run of at least 5 digits not preceded by a digit, then ':', then
        // at least 30 token characters: a bot token.
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()) {
            let digits_end = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits_end - i >= 5 && bytes.get(digits_end) == Some(&b':') {
                let secret = bytes[digits_end + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
                    .count();
                if secret >= 30 {
                    out.push_str(&text[copied..i]);
                    out.push_str("[bot-token]");
                    i = digits_end + 1 + secret;
                    copied = i;
                    continue;
                }
            }
            i = digits_end;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

fn scrub_key_values(text: &str) -> String {
    const WORDS: [&str; 4] = ["password", "token", "secret", "api_key"];
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let Some(word) = WORDS
            .iter()
            .find(|w| lower.as_bytes()[i..].starts_with(w.as_bytes()))
        else {
            i += 1;
            continue;
        };
        let mut j = i + word.len();
        // Rest of the key (`TerminalPassword`, `token_x`), then the separator.
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        let sep_start = j;
        while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b' ' | b'\\') {
            j += 1;
        }
        if j < bytes.len() && matches!(bytes[j], b':' | b'=') {
            j += 1;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b' ' | b'\\') {
                j += 1;
            }
            let value_start = j;
            while j < bytes.len()
                && !matches!(
                    bytes[j],
                    b'"' | b'\'' | b'&' | b',' | b' ' | b'}' | b'\\' | b'\n'
                )
            {
                j += 1;
            }
            if j > value_start {
                out.push_str(&text[copied..value_start]);
                out.push_str(REDACTED);
                copied = j;
            }
            i = j.max(i + 1);
        } else {
            i = sep_start.max(i + 1);
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn scrub_value(value: &mut Value) {
    match value {
        Value::String(text) => *text = scrub_text(text),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if is_sensitive_key(key) {
                    *value = Value::String(REDACTED.into());
                } else {
                    scrub_value(value);
                }
            }
        }
        _ => {}
    }
}

/// The user an event is about, from its fields (`user_id`, else `chat_id`).
fn find_user_id(value: &Value) -> Option<String> {
    fn find(value: &Value, key: &str) -> Option<String> {
        match value {
            Value::Object(map) => map
                .get(key)
                .and_then(|v| match v {
                    Value::Number(n) => Some(n.to_string()),
                    Value::String(s) if s.parse::<i64>().is_ok() => Some(s.clone()),
                    _ => None,
                })
                .or_else(|| map.values().find_map(|v| find(v, key))),
            Value::Array(items) => items.iter().find_map(|v| find(v, key)),
            _ => None,
        }
    }
    find(value, "user_id").or_else(|| find(value, "chat_id"))
}

/// What Sentry receives of an event: secrets, photos and contact data
/// removed everywhere in it (message, exception, fields, breadcrumbs,
/// contexts), no request data, and the user by id only. An event that cannot
/// be checked is dropped.
pub fn scrub_event(
    event: sentry::protocol::Event<'static>,
) -> Option<sentry::protocol::Event<'static>> {
    let mut value = serde_json::to_value(&event).ok()?;
    if let Value::Object(map) = &mut value {
        map.remove("request");
        map.remove("user");
        map.remove("server_name");
    }
    let user_id = find_user_id(&value);
    scrub_value(&mut value);
    let mut event: sentry::protocol::Event<'static> = serde_json::from_value(value).ok()?;
    event.user = user_id.map(|id| sentry::User {
        id: Some(id),
        ..Default::default()
    });
    Some(event)
}

/// The same for a breadcrumb (a warning logged before an error).
pub fn scrub_breadcrumb(
    crumb: sentry::protocol::Breadcrumb,
) -> Option<sentry::protocol::Breadcrumb> {
    let mut value = serde_json::to_value(&crumb).ok()?;
    scrub_value(&mut value);
    serde_json::from_value(value).ok()
}
