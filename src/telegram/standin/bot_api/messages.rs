//! What sends, edits or deletes a message: sendMessage, sendPhoto, sendDocument,
//! sendMediaGroup, the edits, deleteMessage, answerCallbackQuery, sendChatAction, getFile,
//! getChat.

use super::*;

/// Checks that the bot may write to a chat: it exists and the user has not blocked the bot.
pub(super) fn check_sendable(world: &World, chat_id: i64) -> Result<(), ApiFailure> {
    match world.chats.get(&chat_id) {
        None if world.users.contains_key(&chat_id) => Err(ApiFailure::forbidden(
            "bot can't initiate conversation with a user",
        )),
        None => Err(ApiFailure::bad_request("chat not found")),
        Some(chat) if chat.blocked => Err(ApiFailure::forbidden("bot was blocked by the user")),
        Some(_) => Ok(()),
    }
}

/// What every send shares: target chat, reply, markup.
pub(super) struct Delivery {
    chat_id: i64,
    reply_to: Option<(i64, bool)>,
    markup: Option<ReplyMarkupSpec>,
}

/// Sends `contents.len()` messages as one call: checks the chat, the reply target and the
/// limits, then appends the messages and returns their JSON. Nothing is sent on failure.
pub(super) fn deliver(
    shared: &Shared,
    delivery: Delivery,
    contents: Vec<ChatEntry>,
) -> Result<Vec<Value>, ApiFailure> {
    let count = u32::try_from(contents.len()).unwrap_or(u32::MAX);
    let mut world = shared.lock();
    check_sendable(&world, delivery.chat_id)?;
    let mut reply_to_message_id = None;
    if let Some((message_id, allow_without_reply)) = delivery.reply_to {
        let exists = world
            .chats
            .get(&delivery.chat_id)
            .and_then(|chat| chat.entry(message_id))
            .is_some_and(|entry| !entry.deleted);
        if exists {
            reply_to_message_id = Some(message_id);
        } else if !allow_without_reply {
            return Err(ApiFailure::bad_request("message to be replied not found"));
        }
    }
    world
        .limiter
        .try_send(delivery.chat_id, count, Instant::now())
        .map_err(ApiFailure::too_many_requests)?;
    world.count_sent(delivery.chat_id, u64::from(count));
    let date = now_unix();
    let Some(chat) = world.chats.get_mut(&delivery.chat_id) else {
        return Err(ApiFailure::bad_request("chat not found"));
    };
    let mut rendered = Vec::new();
    let last_index = contents.len().saturating_sub(1);
    for (index, mut entry) in contents.into_iter().enumerate() {
        entry.chat_id = delivery.chat_id;
        entry.message_id = chat.take_message_id();
        entry.date = date;
        entry.reply_to_message_id = reply_to_message_id;
        if index == last_index {
            apply_markup(&mut entry, chat, &delivery.markup);
        }
        rendered.push(chat.message_json(&entry, &shared.bot));
        chat.entries.push(entry);
    }
    drop(world);
    shared.notify();
    Ok(rendered)
}

/// Sends one message: `deliver` for a single entry.
fn deliver_one(shared: &Shared, delivery: Delivery, entry: ChatEntry) -> ApiResult {
    deliver(shared, delivery, vec![entry])?
        .pop()
        .ok_or_else(|| ApiFailure::bad_request("message was not sent"))
}

pub(super) fn bot_entry() -> ChatEntry {
    ChatEntry::new(0, 0, EntrySender::Bot, 0)
}

pub(super) fn send_message(shared: &Shared, request: &BotRequest) -> ApiResult {
    let chat_id = request.chat_id()?;
    let (text, entities) = message_text(request, "message is too long")?;
    let markup = parse_reply_markup(request.json("reply_markup")?)?;
    let mut entry = bot_entry();
    entry.text = Some(text);
    entry.entities = entities;
    entry.parse_mode = request.string("parse_mode");
    let delivery = Delivery {
        chat_id,
        reply_to: request.reply_to()?,
        markup,
    };
    deliver_one(shared, delivery, entry)
}

/// Why a `file_id` cannot be sent as a `wanted` ("Photo", …): it names a file of
/// another type, or none.
fn wrong_file(file: Option<&StoredFile>, wanted: &str) -> ApiFailure {
    match file {
        Some(file) => ApiFailure::bad_request(format!(
            "can't use file of type {} as {wanted}",
            file.kind.type_name()
        )),
        None => ApiFailure::bad_request("wrong file identifier/HTTP URL specified"),
    }
}

/// Turns an uploaded or referenced photo into its sizes.
pub(super) async fn resolve_photo(
    shared: &Arc<Shared>,
    input: InputFileRef,
) -> Result<Vec<PhotoSize>, ApiFailure> {
    match input {
        InputFileRef::FileId(file_id) => {
            let world = shared.lock();
            if let Some(sizes) = world.photo_sets.get(&file_id) {
                return Ok(sizes.clone());
            }
            Err(wrong_file(world.files.get(&file_id), "Photo"))
        }
        InputFileRef::Upload(upload) => {
            let files_dir = shared.files_dir.clone();
            let prepared =
                tokio::task::spawn_blocking(move || prepare_photo(&files_dir, &upload.bytes))
                    .await
                    .map_err(|_| ApiFailure::bad_request("IMAGE_PROCESS_FAILED"))??;
            let sizes = shared.lock().register_photo(&prepared);
            Ok(sizes)
        }
    }
}

/// Turns an uploaded or referenced document into a stored file.
pub(super) async fn resolve_document(
    shared: &Arc<Shared>,
    input: InputFileRef,
) -> Result<StoredFile, ApiFailure> {
    match input {
        InputFileRef::FileId(file_id) => {
            let world = shared.lock();
            match world.files.get(&file_id) {
                Some(file) if file.kind == FileKind::Document => Ok(file.clone()),
                other => Err(wrong_file(other, "Document")),
            }
        }
        InputFileRef::Upload(upload) => {
            if upload.bytes.len() > MAX_UPLOAD_BYTES {
                return Err(ApiFailure::entity_too_large());
            }
            let file_name = upload
                .file_name
                .clone()
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "file".to_owned());
            let mime_type = match upload.content_type.as_deref() {
                Some(declared) if declared != "application/octet-stream" => declared.to_owned(),
                _ => mime_type_for(&file_name).to_owned(),
            };
            let extension = extension_for(Some(&file_name), Some(&mime_type));
            let files_dir = shared.files_dir.clone();
            let prepared = tokio::task::spawn_blocking(move || {
                prepare_plain_file(&files_dir, "document", &upload.bytes, &extension)
            })
            .await
            .map_err(|_| ApiFailure::bad_request("file could not be stored"))??;
            Ok(shared.lock().register_file(
                &prepared,
                FileKind::Document,
                Some(file_name),
                Some(mime_type),
            ))
        }
    }
}

/// What sendPhoto and sendDocument share before the file is resolved: the
/// delivery, the one file of parameter `field`, and the captioned entry.
fn captioned_file(
    shared: &Shared,
    request: &BotRequest,
    field: &str,
) -> Result<(Delivery, InputFileRef, ChatEntry), ApiFailure> {
    let chat_id = request.chat_id()?;
    let (caption, caption_entities) = caption(request)?;
    let markup = parse_reply_markup(request.json("reply_markup")?)?;
    let reply_to = request.reply_to()?;
    let input = request
        .input_file(field)?
        .ok_or_else(|| ApiFailure::bad_request(format!("there is no {field} in the request")))?;
    check_sendable(&shared.lock(), chat_id)?;
    let mut entry = bot_entry();
    entry.caption = caption;
    entry.caption_entities = caption_entities;
    entry.parse_mode = request.string("parse_mode");
    let delivery = Delivery {
        chat_id,
        reply_to,
        markup,
    };
    Ok((delivery, input, entry))
}

pub(super) async fn send_photo(shared: &Arc<Shared>, request: &BotRequest) -> ApiResult {
    let (delivery, input, mut entry) = captioned_file(shared, request, "photo")?;
    entry.photo = resolve_photo(shared, input).await?;
    deliver_one(shared, delivery, entry)
}

pub(super) async fn send_document(shared: &Arc<Shared>, request: &BotRequest) -> ApiResult {
    let (delivery, input, mut entry) = captioned_file(shared, request, "document")?;
    entry.document = Some(resolve_document(shared, input).await?.document_info());
    deliver_one(shared, delivery, entry)
}

pub(super) async fn send_media_group(shared: &Arc<Shared>, request: &BotRequest) -> ApiResult {
    let chat_id = request.chat_id()?;
    let Some(media) = request.json("media")? else {
        return Err(ApiFailure::bad_request("parameter \"media\" is required"));
    };
    let Value::Array(items) = media else {
        return Err(ApiFailure::bad_request("can't parse media JSON object"));
    };
    match items.len() {
        0 => return Err(ApiFailure::bad_request("there are no messages to send")),
        // Deliberately strict: the Bot API documents 2–10 items (the real server quietly
        // sends a single item as a plain message).
        1 => {
            return Err(ApiFailure::bad_request(
                "media group must include 2-10 items",
            ));
        }
        count if count > 10 => {
            return Err(ApiFailure::bad_request(
                "too many messages to send as an album",
            ));
        }
        _ => {}
    }
    let mut kinds = Vec::new();
    let mut parsed = Vec::new();
    for item in &items {
        let kind = str_field(item, "type");
        let reference = str_field(item, "media");
        if reference.is_empty() {
            return Err(ApiFailure::bad_request(
                "can't parse InputMedia: media not found",
            ));
        }
        match kind.as_str() {
            "photo" | "document" => {}
            "video" | "audio" => {
                return Err(ApiFailure::bad_request(format!(
                    "the stand-in does not support {kind} in albums"
                )));
            }
            other => {
                return Err(ApiFailure::bad_request(format!(
                    "can't parse InputMedia: type \"{other}\" is unsupported"
                )));
            }
        }
        let mut item_request = BotRequest::default();
        for key in ["caption", "parse_mode", "caption_entities"] {
            if let Some(value) = item.get(key) {
                item_request.params.insert(key.to_owned(), value.clone());
            }
        }
        let (item_caption, item_entities) = caption(&item_request)?;
        kinds.push(kind.clone());
        parsed.push((
            kind,
            reference,
            item_caption,
            item_entities,
            item_request.string("parse_mode"),
        ));
    }
    if kinds.iter().any(|kind| kind == "document") && kinds.iter().any(|kind| kind != "document") {
        return Err(ApiFailure::bad_request(
            "document can't be mixed with other media types",
        ));
    }
    let reply_to = request.reply_to()?;
    check_sendable(&shared.lock(), chat_id)?;

    let mut inputs = Vec::new();
    for (_, reference, _, _, _) in &parsed {
        inputs.push(request.resolve_media_reference(reference)?);
    }
    let media_group_id = shared.lock().take_media_group_id();
    let mut entries = Vec::new();
    for ((kind, _, item_caption, item_entities, parse_mode), input) in
        parsed.into_iter().zip(inputs)
    {
        let mut entry = bot_entry();
        if kind == "photo" {
            entry.photo = resolve_photo(shared, input).await?;
        } else {
            entry.document = Some(resolve_document(shared, input).await?.document_info());
        }
        entry.caption = item_caption;
        entry.caption_entities = item_entities;
        entry.parse_mode = parse_mode;
        entry.media_group_id = Some(media_group_id.clone());
        entries.push(entry);
    }
    let messages = deliver(
        shared,
        Delivery {
            chat_id,
            reply_to,
            markup: None,
        },
        entries,
    )?;
    Ok(Value::Array(messages))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum EditKind {
    Text,
    Caption,
    ReplyMarkup,
}

pub(super) fn edit_message(shared: &Shared, request: &BotRequest, kind: EditKind) -> ApiResult {
    let chat_id = request.chat_id()?;
    let message_id = request.message_id()?;
    let new_text = match kind {
        EditKind::Text => {
            let (text, entities) = message_text(request, "MESSAGE_TOO_LONG")?;
            Some((Some(text), entities))
        }
        EditKind::Caption => Some(caption(request)?),
        EditKind::ReplyMarkup => None,
    };
    let markup = parse_reply_markup(request.json("reply_markup")?)?;
    let new_rows = match markup {
        Some(ReplyMarkupSpec::Inline(rows)) => rows,
        None => Vec::new(),
        Some(_) => return Err(ApiFailure::bad_request("inline keyboard expected")),
    };

    let mut world = shared.lock();
    let Some(chat) = world.chats.get_mut(&chat_id) else {
        return Err(ApiFailure::bad_request("chat not found"));
    };
    let Some(entry) = chat.entry(message_id).filter(|entry| !entry.deleted) else {
        return Err(ApiFailure::bad_request("message to edit not found"));
    };
    if !entry.is_from_bot() {
        return Err(ApiFailure::bad_request("message can't be edited"));
    }
    let is_text_message = entry.text.is_some();
    let mut edited = entry.clone();
    match (kind, new_text) {
        (EditKind::Text, Some((text, entities))) => {
            if !is_text_message {
                return Err(ApiFailure::bad_request(
                    "there is no text in the message to edit",
                ));
            }
            edited.text = text;
            edited.entities = entities;
            edited.parse_mode = request.string("parse_mode");
        }
        (EditKind::Caption, Some((caption, entities))) => {
            if is_text_message {
                return Err(ApiFailure::bad_request(
                    "there is no caption in the message to edit",
                ));
            }
            edited.caption = caption;
            edited.caption_entities = entities;
        }
        _ => {}
    }
    edited.inline_keyboard = new_rows;
    if &edited == entry {
        return Err(ApiFailure::bad_request(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    edited.edit_count += 1;
    edited.edit_date = Some(now_unix());
    let rendered = chat.message_json(&edited, &shared.bot);
    if let Some(slot) = chat.entry_mut(message_id) {
        *slot = edited;
    }
    drop(world);
    shared.notify();
    Ok(rendered)
}

pub(super) fn delete_message(shared: &Shared, request: &BotRequest) -> ApiResult {
    let chat_id = request.chat_id()?;
    let message_id = request.message_id()?;
    let mut world = shared.lock();
    let Some(chat) = world.chats.get_mut(&chat_id) else {
        return Err(ApiFailure::bad_request("chat not found"));
    };
    match chat.entry_mut(message_id) {
        Some(entry) if !entry.deleted => entry.deleted = true,
        _ => return Err(ApiFailure::bad_request("message to delete not found")),
    }
    drop(world);
    shared.notify();
    Ok(json!(true))
}

pub(super) fn answer_callback_query(shared: &Shared, request: &BotRequest) -> ApiResult {
    let query_id = request.string("callback_query_id").unwrap_or_default();
    let text = request.string("text").filter(|text| !text.is_empty());
    if text.as_ref().is_some_and(|text| text.chars().count() > 200) {
        return Err(ApiFailure::bad_request("MESSAGE_TOO_LONG"));
    }
    let answer = CallbackAnswer {
        text,
        show_alert: request.flag("show_alert"),
        url: request.string("url"),
    };
    let mut world = shared.lock();
    match world.callbacks.get_mut(&query_id) {
        Some(record) if record.answer.is_none() => {
            tracing::debug!(query_id = %query_id, chat_id = record.chat_id, "callback query answered");
            record.answer = Some(answer);
        }
        _ => {
            return Err(ApiFailure::bad_request(
                "query is too old and response timeout expired or query id is invalid",
            ));
        }
    }
    drop(world);
    shared.notify();
    Ok(json!(true))
}

pub(super) fn send_chat_action(shared: &Shared, request: &BotRequest) -> ApiResult {
    const ACTIONS: [&str; 11] = [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ];
    let chat_id = request.chat_id()?;
    let action = request.string("action").unwrap_or_default();
    if !ACTIONS.contains(&action.as_str()) {
        return Err(ApiFailure::bad_request("wrong parameter action in request"));
    }
    let mut world = shared.lock();
    check_sendable(&world, chat_id)?;
    if let Some(chat) = world.chats.get_mut(&chat_id) {
        chat.chat_actions.push(action);
    }
    drop(world);
    shared.notify();
    Ok(json!(true))
}

pub(super) fn get_file(shared: &Shared, request: &BotRequest) -> ApiResult {
    let file_id = request.string("file_id").unwrap_or_default();
    let world = shared.lock();
    let Some(file) = world.files.get(&file_id) else {
        return Err(ApiFailure::bad_request("invalid file_id"));
    };
    if file.size > MAX_DOWNLOAD_BYTES {
        return Err(ApiFailure::bad_request("file is too big"));
    }
    Ok(json!({
        "file_id": file.file_id,
        "file_unique_id": file.file_unique_id,
        "file_size": file.size,
        "file_path": file.file_path,
    }))
}

pub(super) fn get_chat(shared: &Shared, request: &BotRequest) -> ApiResult {
    let chat_id = request.chat_id()?;
    let world = shared.lock();
    let Some(chat) = world.chats.get(&chat_id) else {
        return Err(ApiFailure::bad_request("chat not found"));
    };
    let mut value = super::super::shapes::chat_json(&chat.info);
    if let Value::Object(object) = &mut value {
        object.insert("accent_color_id".into(), json!(0));
        object.insert("max_reaction_count".into(), json!(11));
        object.insert("accepted_gift_types".into(), json!({
            "unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false, "premium_subscription": false
        }));
    }
    Ok(value)
}
