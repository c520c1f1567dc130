//! The dialogue state of one chat. Stored as JSON in SQLite by
//! [`super::storage::SqliteStorage`], so a restart resumes every conversation.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state")]
pub enum State {
    /// Nothing started yet: the user has not pressed /start.
    #[default]
    Start,
    /// Collecting reference photos for a draft avatar.
    Uploading { avatar_id: i64 },
}
