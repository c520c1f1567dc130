//! Inline and reply keyboards as the Bot API takes them, parse modes, message texts and captions.

use super::*;

/// A parsed `reply_markup`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ReplyMarkupSpec {
    Inline(Vec<Vec<InlineButton>>),
    Keyboard(ReplyKeyboard),
    Remove,
    ForceReply,
}

pub(super) fn parse_inline_button(value: &Value) -> Result<InlineButton, ApiFailure> {
    let Some(object) = value.as_object() else {
        return Err(ApiFailure::bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object",
        ));
    };
    let Some(text) = object.get("text").and_then(Value::as_str) else {
        return Err(ApiFailure::bad_request(
            "can't parse inline keyboard button: Field \"text\" must be of type String",
        ));
    };
    let callback_data = object
        .get("callback_data")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let url = object.get("url").and_then(Value::as_str).map(str::to_owned);
    if let Some(data) = &callback_data
        && (data.is_empty() || data.len() > MAX_CALLBACK_DATA_BYTES)
    {
        return Err(ApiFailure::bad_request("BUTTON_DATA_INVALID"));
    }
    if let Some(link) = &url {
        let valid = url::Url::parse(link)
            .is_ok_and(|parsed| matches!(parsed.scheme(), "http" | "https" | "tg"));
        if !valid {
            return Err(ApiFailure::bad_request("BUTTON_URL_INVALID"));
        }
    }
    const OTHER_ACTIONS: [&str; 8] = [
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    ];
    let has_other_action = OTHER_ACTIONS.iter().any(|key| object.contains_key(*key));
    if callback_data.is_none() && url.is_none() && !has_other_action {
        return Err(ApiFailure::bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ));
    }
    Ok(InlineButton {
        text: text.to_owned(),
        callback_data,
        url,
    })
}

/// The rows of a keyboard: `field` of a `markup` must be an array of arrays of buttons.
fn button_rows<T>(
    rows: &Value,
    field: &str,
    markup: &str,
    parse_button: impl Fn(&Value) -> Result<T, ApiFailure>,
) -> Result<Vec<Vec<T>>, ApiFailure> {
    let Some(rows) = rows.as_array() else {
        return Err(ApiFailure::bad_request(format!(
            "field \"{field}\" of the {markup} should be an Array"
        )));
    };
    let mut parsed = Vec::new();
    for row in rows {
        let Some(buttons) = row.as_array() else {
            return Err(ApiFailure::bad_request(format!(
                "field \"{field}\" of the {markup} should be an Array of Arrays"
            )));
        };
        parsed.push(
            buttons
                .iter()
                .map(&parse_button)
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    Ok(parsed)
}

/// A reply keyboard button: a string, or an object with `text`.
fn parse_keyboard_button(button: &Value) -> Result<KeyboardButton, ApiFailure> {
    let (text, request_contact) = match button {
        Value::String(text) => (text.clone(), false),
        Value::Object(_) => (
            str_field(button, "text"),
            button
                .get("request_contact")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        _ => (String::new(), false),
    };
    if text.is_empty() {
        return Err(ApiFailure::bad_request(
            "can't parse keyboard button: Field \"text\" must be of type String",
        ));
    }
    Ok(KeyboardButton {
        text,
        request_contact,
    })
}

pub(super) fn parse_reply_markup(
    value: Option<Value>,
) -> Result<Option<ReplyMarkupSpec>, ApiFailure> {
    let Some(value) = value else { return Ok(None) };
    let Some(object) = value.as_object() else {
        return Err(ApiFailure::bad_request("object expected as reply markup"));
    };
    if let Some(rows) = object.get("inline_keyboard") {
        let rows = button_rows(
            rows,
            "inline_keyboard",
            "InlineKeyboardMarkup",
            parse_inline_button,
        )?;
        return Ok(Some(ReplyMarkupSpec::Inline(rows)));
    }
    if let Some(rows) = object.get("keyboard") {
        let parsed = button_rows(
            rows,
            "keyboard",
            "ReplyKeyboardMarkup",
            parse_keyboard_button,
        )?;
        let flag = |name: &str| object.get(name).and_then(Value::as_bool).unwrap_or(false);
        return Ok(Some(ReplyMarkupSpec::Keyboard(ReplyKeyboard {
            rows: parsed,
            resize_keyboard: flag("resize_keyboard"),
            one_time_keyboard: flag("one_time_keyboard"),
            is_persistent: flag("is_persistent"),
            input_field_placeholder: object
                .get("input_field_placeholder")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })));
    }
    if object.get("remove_keyboard").and_then(Value::as_bool) == Some(true) {
        return Ok(Some(ReplyMarkupSpec::Remove));
    }
    if object.get("force_reply").and_then(Value::as_bool) == Some(true) {
        return Ok(Some(ReplyMarkupSpec::ForceReply));
    }
    Err(ApiFailure::bad_request(
        "can't parse reply keyboard markup JSON object",
    ))
}

pub(super) fn apply_markup(
    entry: &mut ChatEntry,
    chat: &mut ChatState,
    markup: &Option<ReplyMarkupSpec>,
) {
    match markup {
        Some(ReplyMarkupSpec::Inline(rows)) => entry.inline_keyboard = rows.clone(),
        Some(ReplyMarkupSpec::Keyboard(keyboard)) => {
            entry.reply_keyboard = Some(keyboard.clone());
            chat.reply_keyboard = Some(keyboard.clone());
        }
        Some(ReplyMarkupSpec::Remove) => {
            entry.remove_keyboard = true;
            chat.reply_keyboard = None;
        }
        Some(ReplyMarkupSpec::ForceReply) | None => {}
    }
}

/// Text (or caption) after `parse_mode`, or explicit entities when no `parse_mode` is given.
fn formatted_text(
    request: &BotRequest,
    text: &str,
    entities_field: &str,
) -> Result<(String, Vec<MessageEntity>), ApiFailure> {
    let parse_mode = request.string("parse_mode");
    let (plain, mut entities) =
        apply_parse_mode(text, parse_mode.as_deref()).map_err(ApiFailure::bad_request)?;
    if parse_mode.is_none()
        && let Some(explicit) = request.json(entities_field)?
    {
        entities = serde_json::from_value(explicit).map_err(|_| {
            ApiFailure::bad_request(format!("can't parse {entities_field} JSON object"))
        })?;
    }
    Ok((plain, entities))
}

/// The `text` of sendMessage or editMessageText; `too_long` is Telegram's error past
/// 4096 characters (the two methods word it differently).
pub(super) fn message_text(
    request: &BotRequest,
    too_long: &str,
) -> Result<(String, Vec<MessageEntity>), ApiFailure> {
    let raw = request.string("text").unwrap_or_default();
    let (text, entities) = formatted_text(request, &raw, "entities")?;
    if text.trim().is_empty() {
        return Err(ApiFailure::bad_request("message text is empty"));
    }
    if utf16_len(&text) > MAX_TEXT_LENGTH {
        return Err(ApiFailure::bad_request(too_long));
    }
    Ok((text, entities))
}

pub(super) fn caption(
    request: &BotRequest,
) -> Result<(Option<String>, Vec<MessageEntity>), ApiFailure> {
    let Some(raw) = request.string("caption").filter(|text| !text.is_empty()) else {
        return Ok((None, Vec::new()));
    };
    let (plain, entities) = formatted_text(request, &raw, "caption_entities")?;
    if utf16_len(&plain) > MAX_CAPTION_LENGTH {
        return Err(ApiFailure::bad_request("message caption is too long"));
    }
    Ok((Some(plain), entities))
}
