//! The Bot API's JSON shapes (`User`, `Chat`, `Message`, `Update`, …) built from the model.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::model::{
    ChatEntry, ChatInfo, EntrySender, InlineButton, MessageEntity, PhotoSize, UserSpec,
};

/// Who the bot is, as `getMe` says.
#[derive(Clone, Debug)]
pub(crate) struct BotIdentity {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) first_name: String,
}

pub(crate) fn bot_user_json(bot: &BotIdentity) -> Value {
    json!({
        "id": bot.id,
        "is_bot": true,
        "first_name": bot.first_name,
        "username": bot.username,
    })
}

pub(crate) fn get_me_json(bot: &BotIdentity) -> Value {
    json!({
        "id": bot.id,
        "is_bot": true,
        "first_name": bot.first_name,
        "username": bot.username,
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
        "can_connect_to_business": false,
        "has_main_web_app": false,
    })
}

/// Sets `key` when there is a value (the Bot API leaves absent fields out).
fn insert_some<T: Serialize>(object: &mut Map<String, Value>, key: &str, value: &Option<T>) {
    if let Some(value) = value {
        object.insert(key.into(), json!(value));
    }
}

/// The fields every file object (`PhotoSize`, `Document`, …) has.
fn file_fields(file_id: &str, file_unique_id: &str, file_size: u64) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("file_id".into(), json!(file_id));
    object.insert("file_unique_id".into(), json!(file_unique_id));
    object.insert("file_size".into(), json!(file_size));
    object
}

pub(crate) fn user_json(user: &UserSpec) -> Value {
    let mut object = Map::new();
    object.insert("id".into(), json!(user.id));
    object.insert("is_bot".into(), json!(false));
    object.insert("first_name".into(), json!(user.first_name));
    insert_some(&mut object, "username", &user.username);
    insert_some(&mut object, "language_code", &user.language_code);
    Value::Object(object)
}

pub(crate) fn chat_json(chat: &ChatInfo) -> Value {
    match chat {
        ChatInfo::Private(user) => {
            let mut object = Map::new();
            object.insert("id".into(), json!(user.id));
            object.insert("first_name".into(), json!(user.first_name));
            insert_some(&mut object, "username", &user.username);
            object.insert("type".into(), json!("private"));
            Value::Object(object)
        }
        ChatInfo::Group(group) => json!({
            "id": group.id,
            "title": group.title,
            "type": "group",
            "all_members_are_administrators": true,
        }),
    }
}

pub(crate) fn photo_sizes_json(sizes: &[PhotoSize]) -> Value {
    Value::Array(
        sizes
            .iter()
            .map(|size| {
                let mut object = file_fields(&size.file_id, &size.file_unique_id, size.file_size);
                object.insert("width".into(), json!(size.width));
                object.insert("height".into(), json!(size.height));
                Value::Object(object)
            })
            .collect(),
    )
}

fn entities_json(entities: &[MessageEntity]) -> Value {
    serde_json::to_value(entities).unwrap_or(Value::Array(Vec::new()))
}

pub(crate) fn inline_keyboard_json(rows: &[Vec<InlineButton>]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            Value::Array(
                row.iter()
                    .map(|button| {
                        let mut object = Map::new();
                        object.insert("text".into(), json!(button.text));
                        insert_some(&mut object, "callback_data", &button.callback_data);
                        insert_some(&mut object, "url", &button.url);
                        Value::Object(object)
                    })
                    .collect(),
            )
        })
        .collect();
    json!({ "inline_keyboard": rows })
}

/// The `Message` object for a chat entry. `reply_to` is the replied-to entry, rendered one
/// level deep as Telegram does.
pub(crate) fn message_json(
    entry: &ChatEntry,
    chat: &ChatInfo,
    bot: &BotIdentity,
    reply_to: Option<&ChatEntry>,
) -> Value {
    let mut object = Map::new();
    object.insert("message_id".into(), json!(entry.message_id));
    let from = match &entry.sender {
        EntrySender::Bot => bot_user_json(bot),
        EntrySender::User(user) => user_json(user),
    };
    object.insert("from".into(), from);
    object.insert("chat".into(), chat_json(chat));
    object.insert("date".into(), json!(entry.date));
    insert_some(&mut object, "edit_date", &entry.edit_date);
    insert_some(&mut object, "media_group_id", &entry.media_group_id);
    if let Some(replied) = reply_to {
        object.insert(
            "reply_to_message".into(),
            message_json(replied, chat, bot, None),
        );
    }
    if let Some(text) = &entry.text {
        object.insert("text".into(), json!(text));
        if !entry.entities.is_empty() {
            object.insert("entities".into(), entities_json(&entry.entities));
        }
    }
    if !entry.photo.is_empty() {
        object.insert("photo".into(), photo_sizes_json(&entry.photo));
    }
    if let Some(document) = &entry.document {
        let mut value = file_fields(
            &document.file_id,
            &document.file_unique_id,
            document.file_size,
        );
        insert_some(&mut value, "file_name", &document.file_name);
        insert_some(&mut value, "mime_type", &document.mime_type);
        object.insert("document".into(), Value::Object(value));
    }
    if let Some(sticker) = &entry.sticker {
        let mut value = file_fields(&sticker.file_id, &sticker.file_unique_id, sticker.file_size);
        value.insert("width".into(), json!(sticker.width));
        value.insert("height".into(), json!(sticker.height));
        insert_some(&mut value, "emoji", &sticker.emoji);
        value.insert("type".into(), json!("regular"));
        value.insert("is_animated".into(), json!(false));
        value.insert("is_video".into(), json!(false));
        object.insert("sticker".into(), Value::Object(value));
    }
    if let Some(video) = &entry.video {
        let mut value = file_fields(&video.file_id, &video.file_unique_id, video.file_size);
        value.insert("duration".into(), json!(video.duration));
        value.insert("width".into(), json!(video.width));
        value.insert("height".into(), json!(video.height));
        insert_some(&mut value, "file_name", &video.file_name);
        insert_some(&mut value, "mime_type", &video.mime_type);
        object.insert("video".into(), Value::Object(value));
    }
    if let Some(contact) = &entry.contact {
        let mut value = Map::new();
        value.insert("phone_number".into(), json!(contact.phone_number));
        value.insert("first_name".into(), json!(contact.first_name));
        insert_some(&mut value, "user_id", &contact.user_id);
        object.insert("contact".into(), Value::Object(value));
    }
    if let Some(caption) = &entry.caption {
        object.insert("caption".into(), json!(caption));
        if !entry.caption_entities.is_empty() {
            object.insert(
                "caption_entities".into(),
                entities_json(&entry.caption_entities),
            );
        }
    }
    if !entry.inline_keyboard.is_empty() {
        object.insert(
            "reply_markup".into(),
            inline_keyboard_json(&entry.inline_keyboard),
        );
    }
    Value::Object(object)
}
