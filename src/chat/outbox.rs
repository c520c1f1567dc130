//! What the side task and the handlers put in the persistent Telegram
//! message queue. The text is localized when the row is written, so a
//! restart sends exactly what was decided.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::db::portraits::Portrait;
use crate::db::queue::{self, MessageKind};

/// Whether a queued message still goes to a user who sent /stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Essential, and first when Telegram's budget is short: a paid set's
    /// portraits (and the notes that end its delivery), payment links and
    /// payment outcomes ([`crate::chat::paced::Priority::Paid`]).
    Paid,
    /// Sent whatever the user asked for: refunds, answers to what the user
    /// did, admin messages.
    Essential,
    /// Not sent to a user who sent /stop (reminders): the delivery step fails
    /// the row with [`SKIPPED_STOPPED`] instead. Last when the budget is short.
    Optional,
}

impl Delivery {
    /// Whether the row still goes to a user who sent /stop, and its class.
    fn row(self) -> (bool, crate::chat::paced::Priority) {
        use crate::chat::paced::Priority;
        match self {
            Delivery::Paid => (true, Priority::Paid),
            Delivery::Essential => (true, Priority::Answer),
            Delivery::Optional => (false, Priority::Background),
        }
    }
}

/// Why an optional message was not sent (its `last_error`).
pub const SKIPPED_STOPPED: &str = "skipped: the user sent /stop (non-essential message)";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Button {
    Callback { text: String, data: String },
    Url { text: String, url: String },
}

/// One portrait of an album: sent by its Telegram file_id when it has one,
/// otherwise uploaded from the object store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlbumPhoto {
    pub(crate) portrait_id: i64,
    pub(crate) object_key: String,
}

/// One file of a ZIP archive: a portrait, read from the object store, stored
/// under `name` without recompression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZipEntry {
    pub portrait_id: i64,
    pub object_key: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<Vec<Button>>,
    },
    Album {
        photos: Vec<AlbumPhoto>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// One picture that is not a portrait of a set (the free preview),
    /// uploaded from the object store, with a caption and buttons.
    Photo {
        object_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<Vec<Button>>,
    },
    /// "Every portrait of avatar N as a ZIP", as a handler asks for it. The
    /// side task plans the parts (each under `gallery.zip_part_max_bytes`)
    /// and queues one [`Outgoing::ZipPart`] each; nothing is sent for this row.
    ZipRequest { avatar_id: i64 },
    /// Part `part` of `parts` of avatar N's ZIP: built from the object store
    /// into a temporary file, sent as one document, the file removed after.
    ZipPart {
        avatar_id: i64,
        part: u32,
        parts: u32,
        file_name: String,
        caption: String,
        entries: Vec<ZipEntry>,
    },
}

impl Outgoing {
    pub fn text(text: impl Into<String>) -> Outgoing {
        Outgoing::Text {
            text: text.into(),
            buttons: Vec::new(),
        }
    }

    fn kind(&self) -> MessageKind {
        match self {
            Outgoing::Text { .. } => MessageKind::Text,
            Outgoing::Album { .. } => MessageKind::Album,
            Outgoing::Photo { .. } => MessageKind::Photo,
            Outgoing::ZipRequest { .. } | Outgoing::ZipPart { .. } => MessageKind::Document,
        }
    }
}

/// Queues `message` for `chat_id` once per `dedup_key`; returns whether it was added.
pub fn enqueue(
    conn: &Connection,
    chat_id: i64,
    message: &Outgoing,
    dedup_key: &str,
    delivery: Delivery,
    now: i64,
) -> rusqlite::Result<bool> {
    let payload = serde_json::to_string(message)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    queue::enqueue(
        conn,
        chat_id,
        message.kind(),
        &payload,
        dedup_key,
        {
            let (essential, priority) = delivery.row();
            (essential, priority.rank())
        },
        now,
    )
}

/// Reads a queued payload back.
pub fn decode(payload: &str) -> Result<Outgoing, serde_json::Error> {
    serde_json::from_str(payload)
}

/// The albums of a finished set, at most 10 portraits each, the first captioned.
pub(crate) fn albums(portraits: &[Portrait], caption: &str) -> Vec<Outgoing> {
    portraits
        .chunks(10)
        .enumerate()
        .map(|(i, chunk)| Outgoing::Album {
            photos: chunk
                .iter()
                .map(|p| AlbumPhoto {
                    portrait_id: p.id,
                    object_key: p.object_key.clone(),
                })
                .collect(),
            caption: (i == 0).then(|| caption.to_owned()),
        })
        .collect()
}
