//! The bot-facing side: `POST {api_url}/bot{token}/{method}` and file downloads, with the
//! real JSON shapes and the real errors.
//!
//! Here: the request (JSON, form or multipart) and its errors, the faults, the dispatch, and
//! file downloads. `updates`: getUpdates, webhooks and the command menus. `markup`: inline and
//! reply keyboards, parse modes, captions. `messages`: what sends, edits or deletes a message.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{FromRequest, Multipart, Path, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use serde_json::{Map, Value, json};

mod markup;
mod messages;
mod updates;

use markup::*;
use messages::*;
use updates::*;

use super::{
    Fault,
    files::{
        FileError, FileKind, MAX_DOWNLOAD_BYTES, MAX_UPLOAD_BYTES, StoredFile, extension_for,
        mime_type_for, prepare_photo, prepare_plain_file,
    },
    formatting::{apply_parse_mode, utf16_len},
    model::{
        BotCommandSpec, CallbackAnswer, ChatEntry, EntrySender, InlineButton, KeyboardButton,
        MessageEntity, PhotoSize, ReplyKeyboard,
    },
    shapes::get_me_json,
    world::{ChatState, Shared, World, now_unix},
};

/// The most a single request body may carry (a bit over the 50 MB upload limit, so that the
/// limit itself answers with Telegram's 413).
pub(crate) const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024 * 1024;
const MAX_TEXT_LENGTH: usize = 4096;
const MAX_CAPTION_LENGTH: usize = 1024;
const MAX_CALLBACK_DATA_BYTES: usize = 64;
const MAX_LONG_POLL_SECONDS: i64 = 60;

/// The routes of the bot-facing API.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{bot_segment}/{method}", any(bot_endpoint))
        .route("/file/{bot_segment}/{*file_path}", get(download_endpoint))
}

/// A failed Bot API call, answered as `{"ok":false,…}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiFailure {
    pub(crate) status: u16,
    pub(crate) description: String,
    pub(crate) retry_after: Option<u64>,
}

impl ApiFailure {
    /// A failure without `retry_after`.
    fn new(status: u16, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(detail: impl AsRef<str>) -> Self {
        Self::new(400, format!("Bad Request: {}", detail.as_ref()))
    }

    fn forbidden(detail: &str) -> Self {
        Self::new(403, format!("Forbidden: {detail}"))
    }

    fn conflict(detail: &str) -> Self {
        Self::new(409, format!("Conflict: {detail}"))
    }

    fn too_many_requests(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(429, format!("Too Many Requests: retry after {retry_after}"))
        }
    }

    fn not_found() -> Self {
        Self::new(404, "Not Found")
    }

    fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }

    fn entity_too_large() -> Self {
        Self::new(413, "Request Entity Too Large")
    }

    fn internal() -> Self {
        Self::new(500, "Internal Server Error")
    }

    fn body(&self) -> Value {
        let mut object = Map::new();
        object.insert("ok".into(), json!(false));
        object.insert("error_code".into(), json!(self.status));
        object.insert("description".into(), json!(self.description));
        if let Some(retry_after) = self.retry_after {
            object.insert("parameters".into(), json!({ "retry_after": retry_after }));
        }
        Value::Object(object)
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.body())).into_response()
    }
}

impl From<FileError> for ApiFailure {
    fn from(error: FileError) -> Self {
        match error {
            FileError::Io(source) => {
                tracing::error!(error = %source, "the stand-in could not store a file");
                Self::new(500, "Internal Server Error: could not store the file")
            }
            other => Self::bad_request(other.to_string()),
        }
    }
}

type ApiResult = Result<Value, ApiFailure>;

/// A string field of a JSON object; empty when absent or not a string.
fn str_field(object: &Value, key: &str) -> String {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// An uploaded multipart file part.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) file_name: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) bytes: Bytes,
}

/// A file named by a request: uploaded bytes or an existing `file_id`.
#[derive(Debug, Clone)]
enum InputFileRef {
    Upload(Upload),
    FileId(String),
}

/// The parameters of one call, whatever encoding it came in.
#[derive(Debug, Default)]
struct BotRequest {
    params: Map<String, Value>,
    uploads: HashMap<String, Upload>,
}

impl BotRequest {
    fn has(&self, name: &str) -> bool {
        self.params.get(name).is_some_and(|value| !value.is_null())
    }

    fn string(&self, name: &str) -> Option<String> {
        match self.params.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, ApiFailure> {
        match self.params.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiFailure::bad_request(format!("invalid {name} specified"))),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => text
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiFailure::bad_request(format!("invalid {name} specified"))),
            Some(_) => Err(ApiFailure::bad_request(format!("invalid {name} specified"))),
        }
    }

    fn flag(&self, name: &str) -> bool {
        match self.params.get(name) {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::String(text)) => matches!(text.as_str(), "true" | "True" | "1"),
            Some(Value::Number(number)) => number.as_i64() == Some(1),
            _ => false,
        }
    }

    /// A parameter that holds a JSON value, sent either as JSON or as a JSON-encoded string.
    fn json(&self, name: &str) -> Result<Option<Value>, ApiFailure> {
        match self.params.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => serde_json::from_str(text)
                .map(Some)
                .map_err(|_| ApiFailure::bad_request(format!("can't parse {name} JSON object"))),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    fn chat_id(&self) -> Result<i64, ApiFailure> {
        let Some(raw) = self
            .string("chat_id")
            .filter(|text| !text.trim().is_empty())
        else {
            return Err(ApiFailure::bad_request("chat_id is empty"));
        };
        raw.trim()
            .parse::<i64>()
            .map_err(|_| ApiFailure::bad_request("chat not found"))
    }

    fn message_id(&self) -> Result<i64, ApiFailure> {
        if self.has("inline_message_id") && !self.has("message_id") {
            return Err(ApiFailure::bad_request(
                "inline messages are not supported by the stand-in",
            ));
        }
        self.integer("message_id")?
            .ok_or_else(|| ApiFailure::bad_request("message identifier is not specified"))
    }

    /// The message this one replies to: `reply_parameters.message_id` or `reply_to_message_id`.
    fn reply_to(&self) -> Result<Option<(i64, bool)>, ApiFailure> {
        if let Some(parameters) = self.json("reply_parameters")? {
            let message_id = parameters.get("message_id").and_then(Value::as_i64);
            let allow = parameters
                .get("allow_sending_without_reply")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            return Ok(message_id.map(|id| (id, allow)));
        }
        let allow = self.flag("allow_sending_without_reply");
        Ok(self.integer("reply_to_message_id")?.map(|id| (id, allow)))
    }

    /// A file parameter: an uploaded part (directly or through `attach://name`) or a `file_id`.
    fn input_file(&self, name: &str) -> Result<Option<InputFileRef>, ApiFailure> {
        if let Some(upload) = self.uploads.get(name) {
            return Ok(Some(InputFileRef::Upload(upload.clone())));
        }
        let Some(value) = self.string(name).filter(|text| !text.is_empty()) else {
            return Ok(None);
        };
        self.resolve_media_reference(&value).map(Some)
    }

    fn resolve_media_reference(&self, value: &str) -> Result<InputFileRef, ApiFailure> {
        if let Some(attachment) = value.strip_prefix("attach://") {
            return self
                .uploads
                .get(attachment)
                .cloned()
                .map(InputFileRef::Upload)
                .ok_or_else(|| ApiFailure::bad_request("can't parse InputMedia: media not found"));
        }
        if value.contains("://") || value.contains('.') {
            // Telegram would download the URL; the stand-in has no network.
            return Err(ApiFailure::bad_request("failed to get HTTP URL content"));
        }
        Ok(InputFileRef::FileId(value.to_owned()))
    }
}

async fn parse_request(request: Request) -> Result<BotRequest, ApiFailure> {
    let mut parsed = BotRequest::default();
    if let Some(query) = request.uri().query() {
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            parsed
                .params
                .insert(key.into_owned(), Value::String(value.into_owned()));
        }
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();

    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|rejection| {
                ApiFailure::bad_request(format!("can't parse multipart body: {rejection}"))
            })?;
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(ApiFailure::entity_too_large());
                }
                Err(error) => {
                    return Err(ApiFailure::bad_request(format!(
                        "can't parse multipart body: {error}"
                    )));
                }
            };
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let part_content_type = field.content_type().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|error| {
                if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiFailure::entity_too_large()
                } else {
                    ApiFailure::bad_request(format!("can't parse multipart body: {error}"))
                }
            })?;
            if file_name.is_some() {
                parsed.uploads.insert(
                    name,
                    Upload {
                        file_name,
                        content_type: part_content_type,
                        bytes,
                    },
                );
            } else {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                parsed.params.insert(name, Value::String(text));
            }
        }
        return Ok(parsed);
    }

    let body = axum::body::to_bytes(request.into_body(), MAX_REQUEST_BODY_BYTES)
        .await
        .map_err(|_| ApiFailure::entity_too_large())?;
    if body.is_empty() {
        return Ok(parsed);
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        for (key, value) in url::form_urlencoded::parse(&body) {
            parsed
                .params
                .insert(key.into_owned(), Value::String(value.into_owned()));
        }
        return Ok(parsed);
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(object)) => {
            parsed.params.extend(object);
            Ok(parsed)
        }
        _ => Err(ApiFailure::bad_request("can't parse JSON body")),
    }
}

/// The methods the stand-in serves, in their canonical spelling (method names are
/// case-insensitive on Telegram), and whether each sends or changes something in a chat.
const METHODS: [(&str, bool); 22] = [
    ("getMe", false),
    ("getUpdates", false),
    ("deleteWebhook", false),
    ("setWebhook", false),
    ("getWebhookInfo", false),
    ("setMyCommands", false),
    ("getMyCommands", false),
    ("deleteMyCommands", false),
    ("sendMessage", true),
    ("editMessageText", true),
    ("editMessageCaption", true),
    ("editMessageReplyMarkup", true),
    ("deleteMessage", true),
    ("answerCallbackQuery", true),
    ("sendChatAction", true),
    ("sendPhoto", true),
    ("sendMediaGroup", true),
    ("sendDocument", true),
    ("getFile", false),
    ("logOut", false),
    ("close", false),
    ("getChat", false),
];

/// A served method by any spelling: its canonical name and whether it sends.
fn known_method(method: &str) -> Option<(&'static str, bool)> {
    METHODS
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(method))
}

async fn bot_endpoint(
    State(shared): State<Arc<Shared>>,
    Path((bot_segment, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    if !bot_segment.starts_with("bot") {
        return ApiFailure::not_found().into_response();
    }
    if !shared.accepts_bot_segment(&bot_segment) {
        return ApiFailure::unauthorized().into_response();
    }
    let Some((method, sending)) = known_method(&method) else {
        return shared.fail(ApiFailure::not_found());
    };
    shared.lock().count_request(method);
    // The whole request is read before any answer, faults included, as
    // Telegram's front servers do: an answer given while the client is still
    // uploading an album would stall the client until its timeout.
    let parsed = parse_request(request).await;
    if let Some(fault) = outage(&shared) {
        return fault;
    }
    if let Some(fault) = rated_fault(&shared, method, sending) {
        return fault;
    }
    let result = match parsed {
        Ok(parsed) => dispatch(&shared, method, parsed).await,
        Err(failure) => Err(failure),
    };
    if result.is_ok()
        && matches!(
            method,
            "sendMessage" | "sendPhoto" | "sendMediaGroup" | "sendDocument"
        )
        && ((method == "sendMediaGroup"
            && shared
                .script
                .take(|f| *f == Fault::AlbumAnswerLost)
                .is_some())
            || shared.fault_dice.roll(shared.fault_rates.lost_answer))
    {
        // Sent, but the answer comes after the client stopped waiting.
        shared.fault_dice.record("telegram.lost_answer");
        tokio::time::sleep(shared.fault_rates.lost_answer_hold).await;
    }
    match result {
        Ok(value) => {
            tracing::debug!(method, "bot api call answered");
            axum::Json(json!({ "ok": true, "result": value })).into_response()
        }
        Err(failure) => {
            tracing::debug!(method, status = failure.status, description = %failure.description, "bot api call failed");
            shared.fail(failure)
        }
    }
}

/// The scripted faults of the whole service: an outage of Telegram's front
/// (502 with its HTML page) or a revoked token (401), on any method.
fn outage(shared: &Shared) -> Option<Response> {
    let fault = shared
        .script
        .take(|f| matches!(f, Fault::Outage | Fault::TokenRevoked))?;
    let failure = if fault == Fault::Outage {
        bad_gateway()
    } else {
        ApiFailure::unauthorized().into_response()
    };
    shared.lock().count_error(failure.status().as_u16());
    Some(failure)
}

/// nginx's 502 page, as Telegram's front answers during an outage.
fn bad_gateway() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [(axum::http::header::CONTENT_TYPE, "text/html")],
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n",
    )
        .into_response()
}

/// The fault plan's faults, played after the request is read and before it
/// is looked at (so nothing is sent): a 429 storm on every sending method while it lasts,
/// and 5xx (nginx's 502 page, or `error_code` 500) on sends and getUpdates.
fn rated_fault(shared: &Shared, method: &str, sending: bool) -> Option<Response> {
    let (rates, dice) = (&shared.fault_rates, &shared.fault_dice);
    if sending && shared.script.take(|f| *f == Fault::SendError500).is_some() {
        return Some(shared.fail(ApiFailure::internal()));
    }
    let five_xx = if sending {
        let now = std::time::Instant::now();
        let mut storm = shared
            .storm_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if storm.is_none_or(|until| until <= now) && dice.roll(rates.storm) {
            dice.record("telegram.storm");
            *storm = Some(now + Duration::from_secs(rates.storm_secs.max(1)));
        }
        if let Some(until) = storm.filter(|until| *until > now) {
            let left = until.saturating_duration_since(now).as_secs_f64().ceil() as u64;
            drop(storm);
            dice.record("telegram.429");
            return Some(shared.fail(ApiFailure::too_many_requests(left.max(1))));
        }
        rates.send_5xx
    } else if method == "getUpdates" {
        rates.get_updates_5xx
    } else {
        0.0
    };
    if !dice.roll(five_xx) {
        return None;
    }
    let kind = if sending { "send" } else { "get_updates" };
    if dice.coin() {
        dice.record(&format!("telegram.{kind}_502"));
        shared.lock().count_error(502);
        Some(bad_gateway())
    } else {
        dice.record(&format!("telegram.{kind}_500"));
        Some(shared.fail(ApiFailure::internal()))
    }
}

async fn dispatch(shared: &Arc<Shared>, method: &'static str, request: BotRequest) -> ApiResult {
    match method {
        "getMe" => Ok(get_me_json(&shared.bot)),
        "getUpdates" => get_updates(shared, &request).await,
        "deleteWebhook" => delete_webhook(shared, &request),
        "setWebhook" => set_webhook(shared, &request),
        "getWebhookInfo" => get_webhook_info(shared),
        "setMyCommands" => set_my_commands(shared, &request),
        "getMyCommands" => get_my_commands(shared, &request),
        "deleteMyCommands" => delete_my_commands(shared, &request),
        "sendMessage" => send_message(shared, &request),
        "editMessageText" => edit_message(shared, &request, EditKind::Text),
        "editMessageCaption" => edit_message(shared, &request, EditKind::Caption),
        "editMessageReplyMarkup" => edit_message(shared, &request, EditKind::ReplyMarkup),
        "deleteMessage" => delete_message(shared, &request),
        "answerCallbackQuery" => answer_callback_query(shared, &request),
        "sendChatAction" => send_chat_action(shared, &request),
        "sendPhoto" => send_photo(shared, &request).await,
        "sendMediaGroup" => send_media_group(shared, &request).await,
        "sendDocument" => send_document(shared, &request).await,
        "getFile" => get_file(shared, &request),
        "getChat" => get_chat(shared, &request),
        "logOut" | "close" => Ok(json!(true)),
        _ => Err(ApiFailure::not_found()),
    }
}

/// `GET /file/bot{token}/{file_path}`: a stored file's bytes.
async fn download_endpoint(
    State(shared): State<Arc<Shared>>,
    Path((bot_segment, file_path)): Path<(String, String)>,
) -> Response {
    if !shared.accepts_bot_segment(&bot_segment) {
        return ApiFailure::unauthorized().into_response();
    }
    let file_id = shared.lock().files_by_path.get(&file_path).cloned();
    let file = file_id.and_then(|file_id| shared.lock_file(&file_id));
    let Some(file) = file else {
        return ApiFailure::not_found().into_response();
    };
    file.download().await.unwrap_or_else(|error| {
        tracing::error!(file_path = %file_path, error = %error, "a stored file could not be read");
        ApiFailure::not_found().into_response()
    })
}

impl Shared {
    /// Counts a failed call and answers it.
    fn fail(&self, failure: ApiFailure) -> Response {
        self.lock().count_error(failure.status);
        failure.into_response()
    }

    /// A stored file by `file_id`.
    pub(crate) fn lock_file(&self, file_id: &str) -> Option<StoredFile> {
        self.lock().files.get(file_id).cloned()
    }
}
