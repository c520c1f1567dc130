//! teloxide's dialogue `Storage` on our SQLite pool. Reads and writes go
//! through [`Db::run`], off the async executor threads.

use std::sync::Arc;

use futures::future::BoxFuture;
use teloxide::dispatching::dialogue::Storage;
use teloxide::types::ChatId;

use super::state::State;
use crate::clock::Clock;
use crate::db::{self, Db, DbError};

pub struct SqliteStorage {
    db: Db,
    /// The application clock: a dialogue's `updated_at`.
    clock: Arc<Clock>,
}

impl SqliteStorage {
    pub fn new(db: Db, clock: Arc<Clock>) -> Arc<SqliteStorage> {
        Arc::new(SqliteStorage { db, clock })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("dialogue state could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl Storage<State> for SqliteStorage {
    type Error = StorageError;

    fn remove_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
    ) -> BoxFuture<'static, Result<(), Self::Error>> {
        Box::pin(async move {
            self.db
                .run(move |c| db::dialogues::remove(c, chat_id.0))
                .await?;
            Ok(())
        })
    }

    fn update_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
        dialogue: State,
    ) -> BoxFuture<'static, Result<(), Self::Error>> {
        Box::pin(async move {
            let json = serde_json::to_string(&dialogue)?;
            let now = self.clock.now_ms();
            self.db
                .run(move |c| db::dialogues::put(c, chat_id.0, &json, now))
                .await?;
            Ok(())
        })
    }

    fn get_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
    ) -> BoxFuture<'static, Result<Option<State>, Self::Error>> {
        Box::pin(async move {
            let stored = self
                .db
                .run(move |c| db::dialogues::get(c, chat_id.0))
                .await?;
            Ok(stored.and_then(|json| match serde_json::from_str(&json) {
                Ok(state) => Some(state),
                Err(error) => {
                    // A state written by an older version: start the chat afresh
                    // rather than failing every update of this chat.
                    tracing::warn!(chat_id = chat_id.0, %error, "unreadable dialogue state, starting over");
                    None
                }
            }))
        })
    }
}
