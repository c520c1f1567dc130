//! The stand-in's state: chats, pending updates, files, callback queries and counters.
//!
//! Everything lives in one `World` behind a mutex that is never held across an `.await`.
//! Every change bumps a `watch` version so waiters (long polls, tests, the chat page) wake
//! up and re-check instead of sleeping.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    path::PathBuf,
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{
    files::{FileKind, PreparedFile, StoredFile, file_path_for, mime_type_for, new_file_id},
    limits::{RateLimiter, RateLimits},
    model::{
        BotCommandSpec, CallbackRecord, ChatEntry, ChatInfo, Counters, GroupSpec, PhotoSize,
        ReplyKeyboard, UserSpec,
    },
    shapes::{BotIdentity, message_json},
};

/// The current Unix time in seconds.
pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// One chat and everything said in it.
#[derive(Debug)]
pub(crate) struct ChatState {
    pub(crate) info: ChatInfo,
    pub(crate) entries: Vec<ChatEntry>,
    pub(crate) next_message_id: i64,
    /// True while the user has blocked the bot (private chats only).
    pub(crate) blocked: bool,
    /// The chat actions (`typing`, `upload_photo`, …) the bot sent, in order.
    pub(crate) chat_actions: Vec<String>,
    /// The reply keyboard currently shown above the input field.
    pub(crate) reply_keyboard: Option<ReplyKeyboard>,
}

impl ChatState {
    fn new(info: ChatInfo) -> Self {
        Self {
            info,
            entries: Vec::new(),
            next_message_id: 1,
            blocked: false,
            chat_actions: Vec::new(),
            reply_keyboard: None,
        }
    }

    /// Takes the next message id of this chat.
    pub(crate) fn take_message_id(&mut self) -> i64 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        id
    }

    pub(crate) fn entry(&self, message_id: i64) -> Option<&ChatEntry> {
        self.entries
            .iter()
            .find(|entry| entry.message_id == message_id)
    }

    pub(crate) fn entry_mut(&mut self, message_id: i64) -> Option<&mut ChatEntry> {
        self.entries
            .iter_mut()
            .find(|entry| entry.message_id == message_id)
    }

    /// The `Message` JSON of an entry, with its replied-to message.
    pub(crate) fn message_json(&self, entry: &ChatEntry, bot: &BotIdentity) -> Value {
        let reply_to = entry
            .reply_to_message_id
            .and_then(|id| self.entry(id))
            .filter(|replied| !replied.deleted);
        message_json(entry, &self.info, bot, reply_to)
    }
}

/// An update waiting for `getUpdates`.
#[derive(Clone, Debug)]
pub(crate) struct PendingUpdate {
    pub(crate) update_id: i64,
    /// The update type, e.g. `message` or `callback_query`.
    pub(crate) kind: &'static str,
    pub(crate) payload: Value,
}

impl PendingUpdate {
    pub(crate) fn to_json(&self) -> Value {
        let mut object = serde_json::Map::new();
        object.insert("update_id".into(), json!(self.update_id));
        object.insert(self.kind.into(), self.payload.clone());
        Value::Object(object)
    }
}

/// Everything the stand-in knows.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) chats: HashMap<i64, ChatState>,
    pub(crate) users: BTreeMap<i64, UserSpec>,
    pub(crate) updates: VecDeque<PendingUpdate>,
    pub(crate) next_update_id: i64,
    pub(crate) allowed_updates: Option<Vec<String>>,
    pub(crate) webhook_url: Option<String>,
    /// Incremented by every `getUpdates`; a waiting poll whose number is no longer current was
    /// terminated by a newer one.
    pub(crate) poll_generation: u64,
    pub(crate) active_long_polls: usize,
    pub(crate) files: HashMap<String, StoredFile>,
    pub(crate) files_by_path: HashMap<String, String>,
    /// For every photo size's `file_id`, all sizes of that photo.
    pub(crate) photo_sets: HashMap<String, Vec<PhotoSize>>,
    pub(crate) next_file_number: u64,
    pub(crate) callbacks: HashMap<String, CallbackRecord>,
    pub(crate) callback_order: Vec<String>,
    pub(crate) next_callback_number: u64,
    /// Commands per (scope key, language code).
    pub(crate) commands: BTreeMap<(String, String), Vec<BotCommandSpec>>,
    pub(crate) limiter: RateLimiter,
    pub(crate) counters: Counters,
    pub(crate) next_media_group: u64,
    pub(crate) shutting_down: bool,
}

impl World {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            chats: HashMap::new(),
            users: BTreeMap::new(),
            updates: VecDeque::new(),
            next_update_id: 1,
            allowed_updates: None,
            webhook_url: None,
            poll_generation: 0,
            active_long_polls: 0,
            files: HashMap::new(),
            files_by_path: HashMap::new(),
            photo_sets: HashMap::new(),
            next_file_number: 1,
            callbacks: HashMap::new(),
            callback_order: Vec::new(),
            next_callback_number: 1,
            commands: BTreeMap::new(),
            limiter: RateLimiter::new(limits),
            counters: Counters::default(),
            next_media_group: 13_000_000_000_000_000,
            shutting_down: false,
        }
    }

    /// The private chat with a user, created on first contact; the user's profile is updated.
    pub(crate) fn private_chat(&mut self, user: &UserSpec) -> &mut ChatState {
        self.users.insert(user.id, user.clone());
        self.chat(user.id, ChatInfo::Private(user.clone()))
    }

    /// A group chat, created on first contact.
    pub(crate) fn group_chat(&mut self, group: &GroupSpec) -> &mut ChatState {
        self.chat(group.id, ChatInfo::Group(group.clone()))
    }

    /// Chat `id`, created on first contact, described as `info` from now on.
    fn chat(&mut self, id: i64, info: ChatInfo) -> &mut ChatState {
        let chat = self
            .chats
            .entry(id)
            .or_insert_with(|| ChatState::new(info.clone()));
        chat.info = info;
        chat
    }

    /// Queues an update for `getUpdates` and returns its id.
    pub(crate) fn push_update(&mut self, kind: &'static str, payload: Value) -> i64 {
        let update_id = self.next_update_id;
        self.next_update_id += 1;
        self.updates.push_back(PendingUpdate {
            update_id,
            kind,
            payload,
        });
        update_id
    }

    /// A new `media_group_id`.
    pub(crate) fn take_media_group_id(&mut self) -> String {
        let id = self.next_media_group;
        self.next_media_group += 1;
        id.to_string()
    }

    /// Gives a prepared file a fresh `file_id` and a `file_path`.
    pub(crate) fn register_file(
        &mut self,
        prepared: &PreparedFile,
        kind: FileKind,
        file_name: Option<String>,
        mime_type: Option<String>,
    ) -> StoredFile {
        let file_id = new_file_id(kind);
        let file_path = file_path_for(kind, self.next_file_number, &prepared.extension);
        self.next_file_number += 1;
        let stored = StoredFile {
            file_id: file_id.clone(),
            file_unique_id: prepared.file_unique_id.clone(),
            kind,
            file_path: file_path.clone(),
            disk_path: prepared.disk_path.clone(),
            size: prepared.size,
            width: prepared.width,
            height: prepared.height,
            file_name,
            mime_type,
        };
        self.files_by_path.insert(file_path, file_id.clone());
        self.files.insert(file_id, stored.clone());
        stored
    }

    /// Registers all sizes of a prepared photo and returns them as `PhotoSize`s.
    pub(crate) fn register_photo(&mut self, prepared: &[PreparedFile]) -> Vec<PhotoSize> {
        let sizes: Vec<PhotoSize> = prepared
            .iter()
            .map(|file| {
                let mime_type = mime_type_for(&format!("photo.{}", file.extension)).to_owned();
                let stored = self.register_file(file, FileKind::Photo, None, Some(mime_type));
                PhotoSize {
                    file_id: stored.file_id,
                    file_unique_id: stored.file_unique_id,
                    width: stored.width,
                    height: stored.height,
                    file_size: stored.size,
                }
            })
            .collect();
        for size in &sizes {
            self.photo_sets.insert(size.file_id.clone(), sizes.clone());
        }
        sizes
    }

    pub(crate) fn count_request(&mut self, method: &str) {
        *self
            .counters
            .requests_per_method
            .entry(method.to_owned())
            .or_insert(0) += 1;
    }

    pub(crate) fn count_error(&mut self, status: u16) {
        *self.counters.errors_per_status.entry(status).or_insert(0) += 1;
        if status == 429 {
            self.counters.too_many_requests += 1;
        }
    }

    pub(crate) fn count_sent(&mut self, chat_id: i64, messages: u64) {
        *self
            .counters
            .messages_sent_per_chat
            .entry(chat_id)
            .or_insert(0) += messages;
    }

    /// Whether an update type passes the bot's `allowed_updates`.
    pub(crate) fn update_allowed(&self, kind: &str) -> bool {
        match &self.allowed_updates {
            Some(allowed) if !allowed.is_empty() => allowed.iter().any(|name| name == kind),
            _ => !matches!(
                kind,
                "chat_member" | "message_reaction" | "message_reaction_count"
            ),
        }
    }
}

/// The state shared by the HTTP handlers and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The bot token; kept secret so that debug output never shows it.
    pub(crate) token: SecretString,
    pub(crate) bot: BotIdentity,
    pub(crate) files_dir: PathBuf,
    world: Mutex<World>,
    changes: watch::Sender<u64>,
    pub(crate) fault_rates: crate::faults::TelegramFaultRates,
    pub(crate) fault_dice: crate::faults::FaultDice,
    /// Until when the current 429 storm of the fault plan lasts.
    pub(crate) storm_until: Mutex<Option<std::time::Instant>>,
    /// The faults a test scripted (`Handle::script`).
    pub(crate) script: crate::faults::Script<super::Fault>,
}

impl Shared {
    pub(crate) fn new(
        token: String,
        bot: BotIdentity,
        files_dir: PathBuf,
        limits: RateLimits,
        faults: &crate::faults::FaultPlan,
    ) -> Self {
        let (changes, _) = watch::channel(0);
        Self {
            token: SecretString::from(token),
            bot,
            files_dir,
            world: Mutex::new(World::new(limits)),
            changes,
            fault_rates: faults.telegram.clone(),
            fault_dice: faults.dice("telegram"),
            storm_until: Mutex::new(None),
            script: crate::faults::Script::default(),
        }
    }

    /// Whether a `bot{token}` path segment carries the right token.
    pub(crate) fn accepts_bot_segment(&self, bot_segment: &str) -> bool {
        bot_segment.strip_prefix("bot") == Some(self.token.expose_secret())
    }

    /// Locks the world. A panic while locked leaves consistent-enough state for a test
    /// stand-in, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes every waiter: something changed.
    pub(crate) fn notify(&self) {
        self.changes
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    /// The current change version (the chat page's `since`).
    pub(crate) fn version(&self) -> u64 {
        *self.changes.borrow()
    }

    /// Re-runs `check` after every change until it gives a value or the timeout passes.
    pub(crate) async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&World) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.changes.subscribe();
        loop {
            changes.borrow_and_update();
            if let Some(value) = check(&self.lock()) {
                return Some(value);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return check(&self.lock()),
            }
        }
    }

    /// Waits until the change version differs from `since`, or the timeout passes.
    pub(crate) async fn wait_for_change_since(&self, since: u64, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.changes.subscribe();
        while *changes.borrow_and_update() == since {
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}
