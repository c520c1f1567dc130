//! The vocabulary the chat handlers (`bot/`) and the side task (`worker/`)
//! share, and the bot client both send through. Both layers use this module;
//! it uses neither of them, and they never use each other
//! (`tests/layers.rs` checks it).
//!
//! - `callback`: typed inline-button data (what a button carries and how it
//!   is parsed back);
//! - `outbox`: what a queued Telegram message is, how it is queued
//!   ([`outbox::Delivery`]: essential or optional), the albums of a set;
//! - `sets`: the action buttons under a ready set;
//! - `packages`: the package screen (text and one button per tier) and the
//!   policy lines under it;
//! - `credits`: the Kie balance an admin asks for (its `service_state` names
//!   and its format);
//! - `paced`: the bot client's pacing within Telegram's limits;
//! - here: [`TgBot`] and [`build_bot`], [`lang_of`], [`Wake`], which
//!   handlers use to wake the side task, and [`split_text`] for texts
//!   longer than one message.

pub mod callback;
pub(crate) mod credits;
pub mod outbox;
pub mod paced;
pub(crate) mod packages;
pub(crate) mod sets;

use std::time::Duration;

use teloxide::adaptors::CacheMe;
use teloxide::prelude::*;
use tokio::sync::Notify;
use url::Url;

use crate::config::TelegramConfig;
use crate::i18n::Lang;

/// The bot as handlers and the side task use it: getMe cached, sends paced
/// within Telegram's limits by [`paced::Paced`] (the innermost adaptor; it
/// replaced teloxide's `Throttle`, whose fixed 250 ms loop made every
/// handler reply wait up to 250 ms).
pub type TgBot = CacheMe<paced::Paced>;

/// Builds the bot client. The HTTP client's timeout is longer than the
/// long-polling timeout, or every idle poll would end in a client error;
/// sends (uploads included) have their own client and `send_timeout_secs`.
pub fn build_bot(token: &str, api_url: Url, telegram: &TelegramConfig) -> anyhow::Result<TgBot> {
    let client = |timeout: Duration| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .build()
    };
    let poll_timeout = Duration::from_secs(u64::from(telegram.poll_timeout_secs) + 15);
    let bot = Bot::with_client(token, client(poll_timeout)?).set_api_url(api_url.clone());
    let sender = Bot::with_client(
        token,
        client(Duration::from_secs(telegram.send_timeout_secs))?,
    )
    .set_api_url(api_url);
    let limiter = paced::Limiter::new(
        telegram.messages_per_sec_chat,
        telegram.messages_per_sec_overall,
    );
    Ok(paced::Paced::new(bot, sender, limiter).cache_me())
}

/// Wakes both loops of the side task early: a handler or a step queued work.
#[derive(Default)]
pub struct Wake {
    main: Notify,
    delivery: Notify,
}

impl Wake {
    pub fn notify_one(&self) {
        self.main.notify_one();
        self.delivery.notify_one();
    }

    /// What the loop of payments, generation and refunds waits on.
    pub(crate) fn main(&self) -> &Notify {
        &self.main
    }

    /// What the delivery loop waits on.
    pub(crate) fn delivery(&self) -> &Notify {
        &self.delivery
    }
}

/// The language a user's messages are written in (Russian if unknown).
pub(crate) fn lang_of(conn: &rusqlite::Connection, user_id: i64) -> rusqlite::Result<Lang> {
    Ok(crate::db::users::get(conn, user_id)?
        .and_then(|u| Lang::parse(&u.language))
        .unwrap_or(Lang::Ru))
}

/// The most a Telegram message holds, in UTF-16 code units (as Telegram
/// counts them).
pub(crate) const MAX_MESSAGE: usize = 4096;

/// `text` in parts of at most `limit` UTF-16 code units, cut between lines
/// (a line longer than a part is cut between characters), so that a long
/// list goes out as several messages instead of being refused ("message is
/// too long"). A text within the limit is one part.
pub(crate) fn split_text(text: &str, limit: usize) -> Vec<String> {
    let units = |s: &str| s.encode_utf16().count();
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut part_units = 0;
    for line in text.split('\n') {
        let mut line = line;
        loop {
            let line_units = units(line);
            let joined = part_units + usize::from(!part.is_empty()) + line_units;
            if joined <= limit {
                if !part.is_empty() {
                    part.push('\n');
                }
                part.push_str(line);
                part_units = joined;
                break;
            }
            if !part.is_empty() {
                parts.push(std::mem::take(&mut part));
                part_units = 0;
                continue;
            }
            // One line longer than a whole part: as much of it as fits.
            let mut taken = 0;
            let cut = line
                .char_indices()
                .find(|(_, c)| {
                    taken += c.len_utf16();
                    taken > limit
                })
                .map_or(line.len(), |(at, _)| at);
            parts.push(line[..cut].to_owned());
            line = &line[cut..];
            if line.is_empty() {
                break;
            }
        }
    }
    if !part.trim().is_empty() || parts.is_empty() {
        parts.push(part);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::split_text;

    #[test]
    fn a_short_text_is_one_part() {
        assert_eq!(split_text("a\nb", 10), vec!["a\nb"]);
    }

    #[test]
    fn a_long_list_is_cut_between_lines_and_nothing_is_lost() {
        let lines: Vec<String> = (0..300).map(|i| format!("#{i} платёж на 499 ₽")).collect();
        let text = lines.join("\n");
        let parts = split_text(&text, 4096);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(part.encode_utf16().count() <= 4096, "{}", part.len());
        }
        assert_eq!(parts.join("\n"), text);
    }

    #[test]
    fn a_line_longer_than_a_part_is_cut_between_characters() {
        // Emoji are two UTF-16 units each.
        let text = "😀".repeat(5);
        let parts = split_text(&text, 4);
        assert_eq!(parts, vec!["😀😀", "😀😀", "😀"]);
    }
}
