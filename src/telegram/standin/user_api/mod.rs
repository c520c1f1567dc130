//! The user side: what a person does in a Telegram client (write, send photos, press buttons,
//! block the bot) and what they see, as a Rust API for tests (`Sandbox`) and the same over
//! HTTP JSON under `/sandbox/api/…` for the chat page.
//!
//! Here: what a user does. `reading`: what a user sees, and waiting for it without sleeping.
//! `http`: the chat page and its JSON API.

use std::{io::Cursor, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Multipart, Path, Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

mod http;
mod reading;

pub(crate) use http::routes;

use super::{
    files::{
        FileKind, extension_for, image_dimensions, mime_type_for, prepare_photo, prepare_plain_file,
    },
    formatting::command_entities,
    model::{
        BotCommandSpec, CallbackAnswer, CallbackRecord, ChatEntry, ContactInfo, Counters,
        EntrySender, GroupSpec, ReplyKeyboard, StickerInfo, UserSpec, VideoInfo,
    },
    shapes::{bot_user_json, chat_json, user_json},
    world::{ChatState, Shared, World, now_unix},
};

/// Why a user action was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserActionError {
    #[error("user {user_id} has blocked the bot; unblock it first")]
    BotBlocked { user_id: i64 },
    #[error("message {message_id} was not found in chat {chat_id}")]
    MessageNotFound { chat_id: i64, message_id: i64 },
    #[error("message {message_id} in chat {chat_id} has no button {wanted}")]
    NoSuchButton {
        chat_id: i64,
        message_id: i64,
        wanted: String,
    },
    #[error("message {message_id} in chat {chat_id} was not written by this user")]
    NotOwnMessage { chat_id: i64, message_id: i64 },
    #[error("message {message_id} in chat {chat_id} has no text to edit")]
    NoTextToEdit { chat_id: i64, message_id: i64 },
    #[error("an album has 2 to 10 items, not {0}")]
    AlbumSize(usize),
    #[error("the message text is empty")]
    EmptyText,
    #[error("the photo was refused: {0}")]
    Photo(String),
    #[error("the file could not be stored: {0}")]
    Storage(String),
}

/// A wait that ran out of time; it says what the chat held, to make failures readable.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {waited:?} waiting for {what}; chat {chat_id} holds:\n{history}")]
pub struct WaitTimeout {
    pub(crate) what: String,
    pub(crate) waited: Duration,
    pub(crate) chat_id: i64,
    pub(crate) history: String,
}

/// A file a user sends (as a document or a video).
#[derive(Clone, Debug)]
pub struct FileUpload {
    pub(crate) bytes: Vec<u8>,
    pub(crate) file_name: String,
    /// Guessed from the file name when `None`.
    pub(crate) mime_type: Option<String>,
}

impl FileUpload {
    /// A file with its MIME type guessed from the name.
    pub fn new(bytes: Vec<u8>, file_name: impl Into<String>) -> Self {
        Self {
            bytes,
            file_name: file_name.into(),
            mime_type: None,
        }
    }
}

/// The user side of the stand-in. Cheap to clone; every clone drives the same stand-in.
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub(crate) shared: Arc<Shared>,
}

fn storage_error(error: impl std::fmt::Display) -> UserActionError {
    UserActionError::Storage(error.to_string())
}

impl Sandbox {
    // ----- Users and chats -----

    /// Makes a user known without starting a chat (the bot then gets 403 "bot can't initiate
    /// conversation with a user" when it writes first).
    pub fn register_user(&self, user: &UserSpec) {
        self.shared.lock().users.insert(user.id, user.clone());
        self.shared.notify();
    }

    /// All users known to the stand-in.
    pub(crate) fn users(&self) -> Vec<UserSpec> {
        self.shared.lock().users.values().cloned().collect()
    }

    /// Appends one user message to a chat and queues its `message` update.
    fn post_user_message(
        &self,
        chat: ChatTarget<'_>,
        build: impl FnOnce(&mut ChatEntry),
    ) -> Result<ChatEntry, UserActionError> {
        let mut build = Some(build);
        let mut entries = self.post_user_messages(
            chat,
            1,
            |entry, _| {
                if let Some(build) = build.take() {
                    build(entry);
                }
            },
            &Map::new(),
        )?;
        entries.pop().ok_or(UserActionError::EmptyText)
    }

    /// Appends `count` user messages to a chat and queues their `message` updates: `build`
    /// fills each entry, and the fields of `extra` are merged into each message's JSON.
    fn post_user_messages(
        &self,
        target: ChatTarget<'_>,
        count: usize,
        mut build: impl FnMut(&mut ChatEntry, usize),
        extra: &Map<String, Value>,
    ) -> Result<Vec<ChatEntry>, UserActionError> {
        let mut world = self.shared.lock();
        let sender = target.sender().clone();
        world.users.insert(sender.id, sender.clone());
        let chat = match target {
            ChatTarget::Private(user) => {
                let chat = world.private_chat(user);
                if chat.blocked {
                    return Err(UserActionError::BotBlocked { user_id: user.id });
                }
                chat
            }
            ChatTarget::Group(group, _) => world.group_chat(group),
        };
        let date = now_unix();
        let mut entries = Vec::new();
        let mut payloads = Vec::new();
        for index in 0..count {
            let message_id = chat.take_message_id();
            let mut entry = ChatEntry::new(
                chat.info.id(),
                message_id,
                EntrySender::User(sender.clone()),
                date,
            );
            build(&mut entry, index);
            let mut payload = chat.message_json(&entry, &self.shared.bot);
            if let Some(object) = payload.as_object_mut() {
                object.extend(extra.clone());
            }
            payloads.push(payload);
            chat.entries.push(entry.clone());
            entries.push(entry);
        }
        for payload in payloads {
            world.push_update("message", payload);
        }
        drop(world);
        self.shared.notify();
        tracing::debug!(
            user_id = sender.id,
            messages = entries.len(),
            "user message queued"
        );
        Ok(entries)
    }

    // ----- What a user sends -----

    /// Sends text; a `/command` gets a `bot_command` entity, as a Telegram client adds it.
    pub fn send_text(&self, user: &UserSpec, text: &str) -> Result<ChatEntry, UserActionError> {
        self.post_text(ChatTarget::Private(user), text)
    }

    /// Sends text in a group chat (chat id = the group's negative id).
    pub fn send_group_text(
        &self,
        group: &GroupSpec,
        user: &UserSpec,
        text: &str,
    ) -> Result<ChatEntry, UserActionError> {
        self.post_text(ChatTarget::Group(group, user), text)
    }

    fn post_text(&self, target: ChatTarget<'_>, text: &str) -> Result<ChatEntry, UserActionError> {
        if text.trim().is_empty() {
            return Err(UserActionError::EmptyText);
        }
        self.post_user_message(target, |entry| {
            entry.text = Some(text.to_owned());
            entry.entities = command_entities(text);
        })
    }

    async fn store_photo(
        &self,
        bytes: Vec<u8>,
    ) -> Result<Vec<super::model::PhotoSize>, UserActionError> {
        let files_dir = self.shared.files_dir.clone();
        let prepared = tokio::task::spawn_blocking(move || prepare_photo(&files_dir, &bytes))
            .await
            .map_err(storage_error)?
            .map_err(|error| UserActionError::Photo(error.to_string()))?;
        Ok(self.shared.lock().register_photo(&prepared))
    }

    async fn store_file(
        &self,
        upload: FileUpload,
        kind: FileKind,
    ) -> Result<super::files::StoredFile, UserActionError> {
        let mime_type = upload
            .mime_type
            .clone()
            .unwrap_or_else(|| mime_type_for(&upload.file_name).to_owned());
        let extension = extension_for(Some(&upload.file_name), Some(&mime_type));
        let files_dir = self.shared.files_dir.clone();
        let tag = match kind {
            FileKind::Video => "video",
            FileKind::Sticker => "sticker",
            _ => "document",
        };
        let bytes = upload.bytes;
        let prepared = tokio::task::spawn_blocking(move || {
            let dimensions = image_dimensions(&bytes);
            prepare_plain_file(&files_dir, tag, &bytes, &extension).map(|mut prepared| {
                if let Some((width, height)) = dimensions {
                    prepared.width = width;
                    prepared.height = height;
                }
                prepared
            })
        })
        .await
        .map_err(storage_error)?
        .map_err(storage_error)?;
        Ok(self.shared.lock().register_file(
            &prepared,
            kind,
            Some(upload.file_name),
            Some(mime_type),
        ))
    }

    /// Sends a photo (the bytes of a JPEG, PNG or WebP image), optionally with a caption.
    pub async fn send_photo(
        &self,
        user: &UserSpec,
        bytes: Vec<u8>,
        caption: Option<&str>,
    ) -> Result<ChatEntry, UserActionError> {
        self.ensure_not_blocked(user)?;
        let photo = self.store_photo(bytes).await?;
        self.post_user_message(ChatTarget::Private(user), |entry| {
            entry.photo = photo;
            entry.caption = caption.map(str::to_owned);
        })
    }

    /// Sends 2–10 photos as one album: separate messages (and updates) sharing a
    /// `media_group_id`; the caption goes on the first.
    pub async fn send_album(
        &self,
        user: &UserSpec,
        photos: Vec<Vec<u8>>,
        caption: Option<&str>,
    ) -> Result<Vec<ChatEntry>, UserActionError> {
        self.ensure_album(user, photos.len())?;
        let mut sizes = Vec::new();
        for bytes in photos {
            sizes.push(self.store_photo(bytes).await?);
        }
        self.post_album(user, sizes, caption, |entry, photo| entry.photo = photo)
    }

    /// Sends a file as a document ("send as file"); an image sent this way stays a document
    /// with an `image/…` MIME type, as on Telegram.
    pub async fn send_document(
        &self,
        user: &UserSpec,
        upload: FileUpload,
        caption: Option<&str>,
    ) -> Result<ChatEntry, UserActionError> {
        self.ensure_not_blocked(user)?;
        let file = self.store_file(upload, FileKind::Document).await?;
        self.post_user_message(ChatTarget::Private(user), |entry| {
            entry.document = Some(file.document_info());
            entry.caption = caption.map(str::to_owned);
        })
    }

    /// Sends 2–10 files as an album of documents.
    pub(crate) async fn send_document_album(
        &self,
        user: &UserSpec,
        uploads: Vec<FileUpload>,
        caption: Option<&str>,
    ) -> Result<Vec<ChatEntry>, UserActionError> {
        self.ensure_album(user, uploads.len())?;
        let mut files = Vec::new();
        for upload in uploads {
            files.push(self.store_file(upload, FileKind::Document).await?);
        }
        self.post_album(user, files, caption, |entry, file| {
            entry.document = Some(file.document_info());
        })
    }

    /// Before an album of `count` items is stored: 2 to 10 items, the bot not blocked.
    fn ensure_album(&self, user: &UserSpec, count: usize) -> Result<(), UserActionError> {
        if !(2..=10).contains(&count) {
            return Err(UserActionError::AlbumSize(count));
        }
        self.ensure_not_blocked(user)
    }

    /// Posts stored items as one album: separate messages sharing a `media_group_id`, each
    /// given its item by `attach`; the caption goes on the first.
    fn post_album<T>(
        &self,
        user: &UserSpec,
        items: Vec<T>,
        caption: Option<&str>,
        mut attach: impl FnMut(&mut ChatEntry, T),
    ) -> Result<Vec<ChatEntry>, UserActionError> {
        let media_group_id = self.shared.lock().take_media_group_id();
        let count = items.len();
        let mut items = items.into_iter();
        let build = |entry: &mut ChatEntry, index| {
            if let Some(item) = items.next() {
                attach(entry, item);
            }
            entry.media_group_id = Some(media_group_id.clone());
            if index == 0 {
                entry.caption = caption.map(str::to_owned);
            }
        };
        self.post_user_messages(ChatTarget::Private(user), count, build, &Map::new())
    }

    /// Sends a sticker (a generated 512×512 WebP image) with an emoji.
    pub async fn send_sticker(
        &self,
        user: &UserSpec,
        emoji: &str,
    ) -> Result<ChatEntry, UserActionError> {
        self.ensure_not_blocked(user)?;
        let bytes = sticker_webp(emoji).map_err(storage_error)?;
        let file = self
            .store_file(
                FileUpload {
                    bytes,
                    file_name: "sticker.webp".to_owned(),
                    mime_type: Some("image/webp".to_owned()),
                },
                FileKind::Sticker,
            )
            .await?;
        self.post_user_message(ChatTarget::Private(user), |entry| {
            entry.sticker = Some(StickerInfo {
                file_id: file.file_id,
                file_unique_id: file.file_unique_id,
                width: 512,
                height: 512,
                emoji: Some(emoji.to_owned()),
                file_size: file.size,
            });
        })
    }

    /// Sends a video. The stand-in cannot decode video, so it reports 640×360.
    pub async fn send_video(
        &self,
        user: &UserSpec,
        upload: FileUpload,
        duration_seconds: u32,
    ) -> Result<ChatEntry, UserActionError> {
        self.ensure_not_blocked(user)?;
        let file = self.store_file(upload, FileKind::Video).await?;
        self.post_user_message(ChatTarget::Private(user), |entry| {
            entry.video = Some(VideoInfo {
                file_id: file.file_id,
                file_unique_id: file.file_unique_id,
                width: 640,
                height: 360,
                duration: duration_seconds,
                file_name: file.file_name,
                mime_type: file.mime_type,
                file_size: file.size,
            });
        })
    }

    /// Shares the user's own contact (the "share phone number" button).
    pub fn send_contact(
        &self,
        user: &UserSpec,
        phone_number: &str,
    ) -> Result<ChatEntry, UserActionError> {
        self.post_user_message(ChatTarget::Private(user), |entry| {
            entry.contact = Some(ContactInfo {
                phone_number: phone_number.to_owned(),
                first_name: user.first_name.clone(),
                user_id: Some(user.id),
            });
        })
    }

    /// Sends a message of a kind the other helpers do not model (voice, location, poll, a
    /// contact of someone else, …): the fields of `extra` are merged into the message JSON
    /// as Telegram would send them. For hostile-input tests.
    pub fn send_raw_message(
        &self,
        user: &UserSpec,
        extra: Value,
    ) -> Result<ChatEntry, UserActionError> {
        let extra = match extra {
            Value::Object(extra) => extra,
            _ => Map::new(),
        };
        let mut entries =
            self.post_user_messages(ChatTarget::Private(user), 1, |_, _| {}, &extra)?;
        entries.pop().ok_or(UserActionError::EmptyText)
    }

    /// A post in a channel the bot was added to: a `channel_post` update, no `from`.
    pub fn send_channel_post(&self, channel_id: i64, text: &str) {
        let mut world = self.shared.lock();
        let payload = json!({
            "message_id": 1,
            "date": now_unix(),
            "chat": { "id": channel_id, "type": "channel", "title": "Channel" },
            "text": text,
        });
        world.push_update("channel_post", payload);
        drop(world);
        self.shared.notify();
    }

    /// Edits one of the user's own text messages; the bot gets an `edited_message` update.
    pub fn edit_text(
        &self,
        user: &UserSpec,
        message_id: i64,
        new_text: &str,
    ) -> Result<ChatEntry, UserActionError> {
        if new_text.trim().is_empty() {
            return Err(UserActionError::EmptyText);
        }
        let mut world = self.shared.lock();
        let chat = world.private_chat(user);
        let chat_id = chat.info.id();
        let Some(entry) = chat.entry_mut(message_id).filter(|entry| !entry.deleted) else {
            return Err(UserActionError::MessageNotFound {
                chat_id,
                message_id,
            });
        };
        if entry.sender != EntrySender::User(user.clone()) {
            return Err(UserActionError::NotOwnMessage {
                chat_id,
                message_id,
            });
        }
        if entry.text.is_none() {
            return Err(UserActionError::NoTextToEdit {
                chat_id,
                message_id,
            });
        }
        entry.text = Some(new_text.to_owned());
        entry.entities = command_entities(new_text);
        entry.edit_count += 1;
        entry.edit_date = Some(now_unix());
        let edited = entry.clone();
        let payload = chat.message_json(&edited, &self.shared.bot);
        world.push_update("edited_message", payload);
        drop(world);
        self.shared.notify();
        Ok(edited)
    }

    /// Presses an inline button of a bot message in the user's private chat, by its
    /// callback data. Returns the callback query id.
    pub fn press_button(
        &self,
        user: &UserSpec,
        message_id: i64,
        callback_data: &str,
    ) -> Result<String, UserActionError> {
        self.press(user, message_id, ButtonChoice::Data(callback_data), true)
    }

    /// Presses the inline button with this label. Returns the callback query id.
    pub fn press_button_with_text(
        &self,
        user: &UserSpec,
        message_id: i64,
        text: &str,
    ) -> Result<String, UserActionError> {
        self.press(user, message_id, ButtonChoice::Text(text), true)
    }

    /// Sends a callback query with any data, whether or not such a button exists (for
    /// hostile-input tests). A missing message arrives as an inaccessible message.
    pub fn press_button_raw(
        &self,
        user: &UserSpec,
        message_id: i64,
        callback_data: &str,
    ) -> Result<String, UserActionError> {
        self.press(user, message_id, ButtonChoice::Data(callback_data), false)
    }

    fn press(
        &self,
        user: &UserSpec,
        message_id: i64,
        choice: ButtonChoice<'_>,
        require_button: bool,
    ) -> Result<String, UserActionError> {
        let mut world = self.shared.lock();
        let chat = world.private_chat(user);
        let chat_id = chat.info.id();
        if chat.blocked {
            return Err(UserActionError::BotBlocked { user_id: user.id });
        }
        let entry = chat
            .entry(message_id)
            .filter(|entry| !entry.deleted)
            .cloned();
        let data = match (&entry, choice, require_button) {
            (_, ButtonChoice::Data(data), false) => data.to_owned(),
            (None, _, true) => {
                return Err(UserActionError::MessageNotFound {
                    chat_id,
                    message_id,
                });
            }
            (Some(entry), ButtonChoice::Data(data), true) => {
                if !entry
                    .inline_buttons()
                    .any(|button| button.callback_data.as_deref() == Some(data))
                {
                    return Err(UserActionError::NoSuchButton {
                        chat_id,
                        message_id,
                        wanted: format!("with callback data {data:?}"),
                    });
                }
                data.to_owned()
            }
            (entry, ButtonChoice::Text(text), _) => {
                let found = entry.as_ref().and_then(|entry| {
                    entry
                        .inline_buttons()
                        .find(|button| button.text == text)
                        .and_then(|button| button.callback_data.clone())
                });
                found.ok_or_else(|| UserActionError::NoSuchButton {
                    chat_id,
                    message_id,
                    wanted: format!("labelled {text:?}"),
                })?
            }
        };
        let message = match &entry {
            Some(entry) => chat.message_json(entry, &self.shared.bot),
            None => json!({ "chat": chat_json(&chat.info), "message_id": message_id, "date": 0 }),
        };
        let query_id = (4_000_000_000_000_000_000u64 + world.next_callback_number).to_string();
        world.next_callback_number += 1;
        let payload = json!({
            "id": query_id,
            "from": user_json(user),
            "message": message,
            "chat_instance": format!("-{}", 7_000_000_000_000_000_000u64.wrapping_add(chat_id.unsigned_abs())),
            "data": data,
        });
        world.callbacks.insert(
            query_id.clone(),
            CallbackRecord {
                query_id: query_id.clone(),
                chat_id,
                message_id,
                from_user_id: user.id,
                data,
                answer: None,
            },
        );
        world.callback_order.push(query_id.clone());
        world.push_update("callback_query", payload);
        drop(world);
        self.shared.notify();
        Ok(query_id)
    }

    /// The user blocks the bot: the bot gets a `my_chat_member` update and then 403 on sends.
    pub fn block_bot(&self, user: &UserSpec) {
        self.set_blocked(user, true);
    }

    /// The user unblocks (restarts) the bot.
    pub fn unblock_bot(&self, user: &UserSpec) {
        self.set_blocked(user, false);
    }

    fn set_blocked(&self, user: &UserSpec, blocked: bool) {
        let mut world = self.shared.lock();
        let chat = world.private_chat(user);
        if chat.blocked == blocked {
            return;
        }
        chat.blocked = blocked;
        let chat_value = chat_json(&chat.info);
        let bot = bot_user_json(&self.shared.bot);
        let member = json!({ "user": bot, "status": "member" });
        let kicked = json!({ "user": bot, "status": "kicked", "until_date": 0 });
        let (old, new) = if blocked {
            (member, kicked)
        } else {
            (kicked, member)
        };
        let payload = json!({
            "chat": chat_value,
            "from": user_json(user),
            "date": now_unix(),
            "old_chat_member": old,
            "new_chat_member": new,
        });
        world.push_update("my_chat_member", payload);
        drop(world);
        self.shared.notify();
        tracing::debug!(
            user_id = user.id,
            blocked,
            "user changed the bot's block state"
        );
    }

    fn ensure_not_blocked(&self, user: &UserSpec) -> Result<(), UserActionError> {
        let world = self.shared.lock();
        match world.chats.get(&user.id) {
            Some(chat) if chat.blocked => Err(UserActionError::BotBlocked { user_id: user.id }),
            _ => Ok(()),
        }
    }
}

enum ChatTarget<'a> {
    Private(&'a UserSpec),
    Group(&'a GroupSpec, &'a UserSpec),
}

impl ChatTarget<'_> {
    fn sender(&self) -> &UserSpec {
        match self {
            ChatTarget::Private(user) | ChatTarget::Group(_, user) => user,
        }
    }
}

#[derive(Clone, Copy)]
enum ButtonChoice<'a> {
    Data(&'a str),
    Text(&'a str),
}

/// A 512×512 lossless WebP whose colour depends on the emoji.
fn sticker_webp(emoji: &str) -> Result<Vec<u8>, image::ImageError> {
    let seed = emoji.bytes().fold(7u8, |accumulator, byte| {
        accumulator.wrapping_mul(31).wrapping_add(byte)
    });
    let image = image::RgbaImage::from_fn(512, 512, |x, y| {
        let inside = (i64::from(x) - 256).pow(2) + (i64::from(y) - 256).pow(2) < 200 * 200;
        if inside {
            image::Rgba([seed, 200, 255 - seed, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(image).write_to(&mut out, image::ImageFormat::WebP)?;
    Ok(out.into_inner())
}
