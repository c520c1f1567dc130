//! The public data model of the stand-in: who the users are and what a chat holds.
//!
//! These types are what tests (and the chat page, as JSON) read. They describe the
//! conversation as a person sees it, not the Bot API wire shapes (those live in `shapes.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A Telegram user played by a test or by a person on the chat page.
///
/// The private chat with the bot has the same id as the user, as on real Telegram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    pub id: i64,
    pub(crate) first_name: String,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) language_code: Option<String>,
}

impl UserSpec {
    /// A user with a first name and no username or language.
    pub fn new(id: i64, first_name: impl Into<String>) -> Self {
        Self {
            id,
            first_name: first_name.into(),
            username: None,
            language_code: None,
        }
    }

    /// The same user with a username (without the `@`).
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The same user with an IETF language tag such as `ru` or `en`.
    pub fn with_language(mut self, language_code: impl Into<String>) -> Self {
        self.language_code = Some(language_code.into());
        self
    }
}

/// A basic group the bot is a member of. Group ids are negative, as on real Telegram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub id: i64,
    pub title: String,
}

/// What kind of chat a chat id belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatInfo {
    Private(UserSpec),
    Group(GroupSpec),
}

impl ChatInfo {
    /// The chat id.
    pub(crate) fn id(&self) -> i64 {
        match self {
            ChatInfo::Private(user) => user.id,
            ChatInfo::Group(group) => group.id,
        }
    }
}

/// Who wrote a chat entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntrySender {
    Bot,
    User(UserSpec),
}

/// One size of a photo, as in the Bot API's `PhotoSize`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoSize {
    pub file_id: String,
    pub file_unique_id: String,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) file_size: u64,
}

/// A file sent as a document (`sendDocument`, or a user's "send as file").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentInfo {
    pub file_id: String,
    pub(crate) file_unique_id: String,
    pub file_name: Option<String>,
    pub(crate) mime_type: Option<String>,
    pub file_size: u64,
}

/// A sticker sent by a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StickerInfo {
    pub(crate) file_id: String,
    pub(crate) file_unique_id: String,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) emoji: Option<String>,
    pub(crate) file_size: u64,
}

/// A video sent by a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoInfo {
    pub(crate) file_id: String,
    pub(crate) file_unique_id: String,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) duration: u32,
    pub(crate) file_name: Option<String>,
    pub(crate) mime_type: Option<String>,
    pub(crate) file_size: u64,
}

/// A shared contact ("share my phone number").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactInfo {
    pub(crate) phone_number: String,
    pub(crate) first_name: String,
    pub(crate) user_id: Option<i64>,
}

/// A Bot API `MessageEntity` (offsets and lengths in UTF-16 code units).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEntity {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) offset: usize,
    pub(crate) length: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) language: Option<String>,
}

/// One button of an inline keyboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineButton {
    pub text: String,
    pub callback_data: Option<String>,
    pub url: Option<String>,
}

/// One button of a reply keyboard (the keyboard shown above the input field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyboardButton {
    pub text: String,
    pub request_contact: bool,
}

/// A reply keyboard (`ReplyKeyboardMarkup`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyKeyboard {
    pub rows: Vec<Vec<KeyboardButton>>,
    pub(crate) resize_keyboard: bool,
    pub(crate) one_time_keyboard: bool,
    pub(crate) is_persistent: bool,
    pub(crate) input_field_placeholder: Option<String>,
}

/// One message of a chat, from either side, with edits applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatEntry {
    pub(crate) chat_id: i64,
    pub message_id: i64,
    pub(crate) sender: EntrySender,
    /// Unix time of sending.
    pub(crate) date: i64,
    /// The plain text (after `parse_mode` was applied), for text messages.
    pub text: Option<String>,
    pub(crate) entities: Vec<MessageEntity>,
    /// The plain caption, for media messages.
    pub caption: Option<String>,
    pub(crate) caption_entities: Vec<MessageEntity>,
    /// The `parse_mode` the bot used, if any.
    pub(crate) parse_mode: Option<String>,
    /// All sizes of the photo, smallest first; empty when this is not a photo.
    pub photo: Vec<PhotoSize>,
    pub document: Option<DocumentInfo>,
    pub(crate) sticker: Option<StickerInfo>,
    pub(crate) video: Option<VideoInfo>,
    pub(crate) contact: Option<ContactInfo>,
    pub media_group_id: Option<String>,
    /// Rows of the inline keyboard attached to the message; empty when there is none.
    pub inline_keyboard: Vec<Vec<InlineButton>>,
    /// The reply keyboard this message installed, if any.
    pub reply_keyboard: Option<ReplyKeyboard>,
    /// True when this message removed the reply keyboard (`ReplyKeyboardRemove`).
    pub(crate) remove_keyboard: bool,
    pub(crate) reply_to_message_id: Option<i64>,
    /// How many times the message was edited (text, caption or keyboard).
    pub edit_count: u32,
    pub(crate) edit_date: Option<i64>,
    /// True once the message was deleted; it stays in the history, marked.
    pub deleted: bool,
}

impl ChatEntry {
    /// A new empty entry; the caller fills in the content.
    pub(crate) fn new(chat_id: i64, message_id: i64, sender: EntrySender, date: i64) -> Self {
        Self {
            chat_id,
            message_id,
            sender,
            date,
            text: None,
            entities: Vec::new(),
            caption: None,
            caption_entities: Vec::new(),
            parse_mode: None,
            photo: Vec::new(),
            document: None,
            sticker: None,
            video: None,
            contact: None,
            media_group_id: None,
            inline_keyboard: Vec::new(),
            reply_keyboard: None,
            remove_keyboard: false,
            reply_to_message_id: None,
            edit_count: 0,
            edit_date: None,
            deleted: false,
        }
    }

    /// True when the bot sent this message.
    pub fn is_from_bot(&self) -> bool {
        matches!(self.sender, EntrySender::Bot)
    }

    /// The largest photo size, if this is a photo.
    pub fn largest_photo(&self) -> Option<&PhotoSize> {
        self.photo
            .iter()
            .max_by_key(|size| u64::from(size.width) * u64::from(size.height))
    }

    /// All inline buttons, row by row.
    pub fn inline_buttons(&self) -> impl Iterator<Item = &InlineButton> {
        self.inline_keyboard.iter().flatten()
    }

    /// The text or, for media, the caption.
    pub fn text_or_caption(&self) -> Option<&str> {
        self.text.as_deref().or(self.caption.as_deref())
    }

    /// A one-line description used in timeout messages and logs.
    pub(crate) fn summary(&self) -> String {
        let who = match &self.sender {
            EntrySender::Bot => "bot".to_owned(),
            EntrySender::User(user) => format!("user {}", user.id),
        };
        let mut parts = Vec::new();
        if let Some(text) = self.text_or_caption() {
            parts.push(format!("{text:?}"));
        }
        if !self.photo.is_empty() {
            parts.push("[photo]".to_owned());
        }
        if let Some(document) = &self.document {
            parts.push(format!("[document {:?}]", document.file_name));
        }
        if self.sticker.is_some() {
            parts.push("[sticker]".to_owned());
        }
        if self.video.is_some() {
            parts.push("[video]".to_owned());
        }
        if self.contact.is_some() {
            parts.push("[contact]".to_owned());
        }
        if let Some(group) = &self.media_group_id {
            parts.push(format!("(album {group})"));
        }
        let buttons: Vec<&str> = self
            .inline_buttons()
            .map(|button| button.text.as_str())
            .collect();
        if !buttons.is_empty() {
            parts.push(format!("buttons {buttons:?}"));
        }
        if self.deleted {
            parts.push("(deleted)".to_owned());
        }
        format!("#{} {who}: {}", self.message_id, parts.join(" "))
    }
}

/// The answer a bot gave to a callback query (`answerCallbackQuery`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackAnswer {
    pub text: Option<String>,
    pub(crate) show_alert: bool,
    pub(crate) url: Option<String>,
}

/// A button press and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRecord {
    pub(crate) query_id: String,
    pub(crate) chat_id: i64,
    pub(crate) message_id: i64,
    pub(crate) from_user_id: i64,
    pub(crate) data: String,
    /// `None` until the bot answers.
    pub answer: Option<CallbackAnswer>,
}

/// One bot command as stored by `setMyCommands`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotCommandSpec {
    pub command: String,
    pub description: String,
}

/// Counters tests read to check how the bot used the API.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Messages the bot successfully sent, per chat (an album counts one per item).
    pub messages_sent_per_chat: BTreeMap<i64, u64>,
    /// How many 429 "Too Many Requests" answers were given.
    pub too_many_requests: u64,
    /// Requests received per Bot API method (canonical spelling, e.g. `sendMessage`).
    pub(crate) requests_per_method: BTreeMap<String, u64>,
    /// Error answers given, per HTTP status code.
    pub errors_per_status: BTreeMap<u16, u64>,
}

impl Counters {
    /// Requests received for one method.
    pub fn requests(&self, method: &str) -> u64 {
        self.requests_per_method.get(method).copied().unwrap_or(0)
    }

    /// Messages the bot sent to one chat.
    pub fn messages_sent(&self, chat_id: i64) -> u64 {
        self.messages_sent_per_chat
            .get(&chat_id)
            .copied()
            .unwrap_or(0)
    }
}

/// Portrait photos the bot sent (albums and single photos), by file_unique_id.
pub fn portraits_received(entries: &[ChatEntry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.is_from_bot() && !e.photo.is_empty())
        .filter_map(|e| e.largest_photo().map(|p| p.file_unique_id.clone()))
        .collect()
}

/// Whether a bot message (not deleted) of the chat contains `needle`.
pub fn bot_text_contains(entries: &[ChatEntry], needle: &str) -> bool {
    entries.iter().any(|e| {
        e.is_from_bot() && !e.deleted && e.text_or_caption().is_some_and(|t| t.contains(needle))
    })
}

/// The newest bot message carrying a button with this label.
pub fn last_bot_with_button(entries: &[ChatEntry], label: &str) -> Option<i64> {
    entries
        .iter()
        .rev()
        .find(|e| e.is_from_bot() && !e.deleted && e.inline_buttons().any(|b| b.text == label))
        .map(|e| e.message_id)
}
