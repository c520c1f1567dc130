//! The dialogue state of one chat. Stored as JSON in SQLite by
//! [`super::storage::SqliteStorage`], so a restart resumes every conversation.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state")]
pub enum State {
    /// Nothing started yet: the user has not pressed /start.
    #[default]
    Start,
    /// Collecting reference photos for a draft avatar; the counter message
    /// is edited as photos arrive.
    Uploading {
        avatar_id: i64,
        /// The counter message, once sent.
        #[serde(default)]
        counter_message_id: Option<i32>,
        /// A reply about a refused photo came after the counter: the next
        /// accepted photo moves the counter to the bottom of the chat.
        #[serde(default)]
        buried: bool,
    },
    /// The package keyboard is shown.
    ChoosingPackage { avatar_id: i64 },
    /// Waiting for an email or a shared phone number for the receipt.
    AwaitingContact { avatar_id: i64, tier_id: String },
    /// A payment was requested; the side task sends the link and watches it.
    AwaitingPayment { avatar_id: i64, payment_id: i64 },
}
