//! The user commands and the typed `/start` payload.

use teloxide::utils::command::BotCommands;

#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub(crate) enum Command {
    Start(String),
    Help,
    Language,
    Gallery,
    Referral,
    Stop,
    /// The full terms: refunds, redos, retention, deletion.
    Terms,
    #[command(rename = "delete_my_data")]
    DeleteMyData,
}

/// The commands shown in Telegram's menu, with their locale keys.
pub const MENU: [(&str, &str); 8] = [
    ("start", "cmd-start"),
    ("gallery", "cmd-gallery"),
    ("help", "cmd-help"),
    ("language", "cmd-language"),
    ("referral", "cmd-referral"),
    ("stop", "cmd-stop"),
    ("terms", "cmd-terms"),
    ("delete_my_data", "cmd-delete-my-data"),
];

/// What a `/start` deep link carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPayload {
    None,
    Referral(String),
    Gallery(String),
}

impl StartPayload {
    /// Parses the text after `/start`. Telegram allows at most 64 characters
    /// of `A-Z a-z 0-9 _ -`; anything else is treated as no payload.
    pub fn parse(payload: &str) -> StartPayload {
        let payload = payload.trim();
        let valid = !payload.is_empty()
            && payload.len() <= 64
            && payload
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return StartPayload::None;
        }
        if let Some(code) = payload.strip_prefix("ref_")
            && (4..=32).contains(&code.len())
        {
            return StartPayload::Referral(code.to_owned());
        }
        if let Some(token) = payload.strip_prefix("g_")
            && (22..=60).contains(&token.len())
        {
            return StartPayload::Gallery(token.to_owned());
        }
        StartPayload::None
    }
}
