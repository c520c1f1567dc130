//! What a user sees (the chats, callbacks, keyboards, counters), and waiting for it
//! without sleeping.

use super::*;

impl Sandbox {
    /// The whole conversation of a chat, both sides, in order (deleted messages marked).
    pub fn history(&self, chat_id: i64) -> Vec<ChatEntry> {
        self.read_chat(chat_id, |chat| chat.entries.clone())
            .unwrap_or_default()
    }

    /// Reads a chat, if it exists.
    fn read_chat<T>(&self, chat_id: i64, read: impl FnOnce(&ChatState) -> T) -> Option<T> {
        self.shared.lock().chats.get(&chat_id).map(read)
    }

    /// The bot's messages in a chat, including deleted ones (check `deleted`).
    pub fn bot_messages(&self, chat_id: i64) -> Vec<ChatEntry> {
        self.history(chat_id)
            .into_iter()
            .filter(ChatEntry::is_from_bot)
            .collect()
    }

    /// The bytes of a stored file (any size of a photo, a document, …).
    pub async fn file_bytes(&self, file_id: &str) -> Option<Vec<u8>> {
        let file = self.shared.lock_file(file_id)?;
        tokio::fs::read(&file.disk_path).await.ok()
    }

    /// A button press and the bot's answer, if any.
    pub fn callback(&self, query_id: &str) -> Option<CallbackRecord> {
        self.shared.lock().callbacks.get(query_id).cloned()
    }

    /// All button presses in a chat, oldest first.
    pub(crate) fn callbacks(&self, chat_id: i64) -> Vec<CallbackRecord> {
        let world = self.shared.lock();
        world
            .callback_order
            .iter()
            .filter_map(|id| world.callbacks.get(id))
            .filter(|record| record.chat_id == chat_id)
            .cloned()
            .collect()
    }

    /// The chat actions (`typing`, `upload_photo`, …) the bot sent to a chat.
    pub fn chat_actions(&self, chat_id: i64) -> Vec<String> {
        self.read_chat(chat_id, |chat| chat.chat_actions.clone())
            .unwrap_or_default()
    }

    /// The reply keyboard currently shown to the user, if any.
    pub fn reply_keyboard(&self, chat_id: i64) -> Option<ReplyKeyboard> {
        self.read_chat(chat_id, |chat| chat.reply_keyboard.clone())
            .flatten()
    }

    /// True while the user has blocked the bot.
    pub(crate) fn is_blocked(&self, chat_id: i64) -> bool {
        self.read_chat(chat_id, |chat| chat.blocked)
            .unwrap_or(false)
    }

    /// The commands set with `setMyCommands` for a scope key (`default`,
    /// `all_private_chats`, `chat:<id>`, …) and a language code (`""` for all languages).
    pub fn commands(&self, scope_key: &str, language_code: &str) -> Vec<BotCommandSpec> {
        self.shared
            .lock()
            .commands
            .get(&(scope_key.to_owned(), language_code.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// How the bot used the API so far.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// Updates not yet confirmed by the bot.
    pub fn pending_update_count(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// Replaces the sending limits (and refills every bucket): for tests only.
    #[cfg(feature = "testkit")]
    pub fn set_rate_limits(&self, limits: super::super::RateLimits) {
        self.shared.lock().limiter.set_limits(limits);
    }

    // ----- Waiting without sleeping -----

    fn timeout_error(&self, chat_id: i64, what: String, waited: Duration) -> WaitTimeout {
        let history = self
            .history(chat_id)
            .iter()
            .map(ChatEntry::summary)
            .collect::<Vec<_>>()
            .join("\n");
        WaitTimeout {
            what,
            waited,
            chat_id,
            history,
        }
    }

    /// Waits until `check` gives a value for the chat's entries; on timeout the error names
    /// `what` and shows the chat.
    async fn wait_for_chat<T>(
        &self,
        chat_id: i64,
        what: impl FnOnce() -> String,
        timeout: Duration,
        check: impl Fn(&[ChatEntry]) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        let found = self
            .shared
            .wait_until(timeout, |world: &World| {
                let entries = world
                    .chats
                    .get(&chat_id)
                    .map(|chat| chat.entries.as_slice())
                    .unwrap_or(&[]);
                check(entries)
            })
            .await;
        found.ok_or_else(|| self.timeout_error(chat_id, what(), timeout))
    }

    /// Waits until `holds` is true of the world; on timeout the error names `what`.
    async fn wait_for_world(
        &self,
        what: &str,
        timeout: Duration,
        holds: impl Fn(&World) -> bool,
    ) -> Result<(), WaitTimeout> {
        let found = self
            .shared
            .wait_until(timeout, |world: &World| holds(world).then_some(()))
            .await;
        found.ok_or_else(|| WaitTimeout {
            what: what.to_owned(),
            waited: timeout,
            chat_id: 0,
            history: String::new(),
        })
    }

    /// Waits until `predicate` holds for the chat's history; returns that history.
    pub async fn wait_for(
        &self,
        chat_id: i64,
        predicate: impl Fn(&[ChatEntry]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<ChatEntry>, WaitTimeout> {
        let what = || "a condition on the chat".to_owned();
        self.wait_for_chat(chat_id, what, timeout, |entries| {
            predicate(entries).then(|| entries.to_vec())
        })
        .await
    }

    /// Waits until the bot has sent at least `count` messages to the chat (deleted ones
    /// included); returns the bot's messages.
    pub async fn wait_for_bot_message_count(
        &self,
        chat_id: i64,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<ChatEntry>, WaitTimeout> {
        let what = || format!("{count} bot messages");
        self.wait_for_chat(chat_id, what, timeout, |entries| {
            let bot: Vec<ChatEntry> = entries
                .iter()
                .filter(|entry| entry.is_from_bot())
                .cloned()
                .collect();
            (bot.len() >= count).then_some(bot)
        })
        .await
    }

    /// Waits until the bot answers a callback query.
    pub async fn wait_for_callback_answer(
        &self,
        query_id: &str,
        timeout: Duration,
    ) -> Result<CallbackAnswer, WaitTimeout> {
        let found = self
            .shared
            .wait_until(timeout, |world: &World| {
                world
                    .callbacks
                    .get(query_id)
                    .and_then(|record| record.answer.clone())
            })
            .await;
        let chat_id = self
            .callback(query_id)
            .map(|record| record.chat_id)
            .unwrap_or(0);
        found.ok_or_else(|| {
            self.timeout_error(
                chat_id,
                format!("an answer to callback query {query_id}"),
                timeout,
            )
        })
    }

    /// Waits until a `getUpdates` long poll is waiting on the stand-in.
    pub async fn wait_for_long_poll(&self, timeout: Duration) -> Result<(), WaitTimeout> {
        self.wait_for_world("a getUpdates long poll", timeout, |world| {
            world.active_long_polls > 0
        })
        .await
    }

    /// Waits until the bot has confirmed every queued update.
    pub async fn wait_for_updates_consumed(&self, timeout: Duration) -> Result<(), WaitTimeout> {
        self.wait_for_world("the bot to confirm all updates", timeout, |world| {
            world.updates.is_empty()
        })
        .await
    }
}
