//! The bot-facing side: `POST {api_url}/bot{token}/{method}` and file downloads, with the
//! real JSON shapes and the real errors.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{FromRequest, Multipart, Path, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use serde_json::{Map, Value, json};

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
    pub(crate) fn bad_request(detail: impl AsRef<str>) -> Self {
        Self {
            status: 400,
            description: format!("Bad Request: {}", detail.as_ref()),
            retry_after: None,
        }
    }

    fn forbidden(detail: &str) -> Self {
        Self {
            status: 403,
            description: format!("Forbidden: {detail}"),
            retry_after: None,
        }
    }

    fn conflict(detail: &str) -> Self {
        Self {
            status: 409,
            description: format!("Conflict: {detail}"),
            retry_after: None,
        }
    }

    fn too_many_requests(retry_after: u64) -> Self {
        Self {
            status: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    fn not_found() -> Self {
        Self {
            status: 404,
            description: "Not Found".to_owned(),
            retry_after: None,
        }
    }

    fn unauthorized() -> Self {
        Self {
            status: 401,
            description: "Unauthorized".to_owned(),
            retry_after: None,
        }
    }

    fn entity_too_large() -> Self {
        Self {
            status: 413,
            description: "Request Entity Too Large".to_owned(),
            retry_after: None,
        }
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
                Self {
                    status: 500,
                    description: "Internal Server Error: could not store the file".to_owned(),
                    retry_after: None,
                }
            }
            other => Self::bad_request(other.to_string()),
        }
    }
}

type ApiResult = Result<Value, ApiFailure>;

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

/// The canonical spelling of the methods the stand-in serves (method names are
/// case-insensitive on Telegram).
fn canonical_method(method: &str) -> Option<&'static str> {
    const METHODS: [&str; 22] = [
        "getMe",
        "getUpdates",
        "deleteWebhook",
        "setWebhook",
        "getWebhookInfo",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "sendMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
        "answerCallbackQuery",
        "sendChatAction",
        "sendPhoto",
        "sendMediaGroup",
        "sendDocument",
        "getFile",
        "logOut",
        "close",
        "getChat",
    ];
    METHODS
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(method))
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
    let Some(method) = canonical_method(&method) else {
        shared.lock().count_error(404);
        return ApiFailure::not_found().into_response();
    };
    shared.lock().count_request(method);
    // The whole request is read before any answer, faults included, as
    // Telegram's front servers do: an answer given while the client is still
    // uploading an album would stall the client until its timeout.
    let parsed = parse_request(request).await;
    if let Some(fault) = rated_fault(&shared, method) {
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
            shared.lock().count_error(failure.status);
            failure.into_response()
        }
    }
}

/// Methods that send or change something in a chat.
const SENDING_METHODS: [&str; 10] = [
    "sendMessage",
    "sendPhoto",
    "sendMediaGroup",
    "sendDocument",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "deleteMessage",
    "answerCallbackQuery",
    "sendChatAction",
];

/// The fault plan's faults, played after the request is read and before it
/// is looked at (so nothing is sent): a 429 storm on every sending method while it lasts,
/// and 5xx (nginx's 502 page, or `error_code` 500) on sends and getUpdates.
fn rated_fault(shared: &Shared, method: &'static str) -> Option<Response> {
    let (rates, dice) = (&shared.fault_rates, &shared.fault_dice);
    let sending = SENDING_METHODS.contains(&method);
    if sending && shared.script.take(|f| *f == Fault::SendError500).is_some() {
        shared.lock().count_error(500);
        return Some(
            ApiFailure {
                status: 500,
                description: "Internal Server Error".to_owned(),
                retry_after: None,
            }
            .into_response(),
        );
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
            shared.lock().count_error(429);
            return Some(ApiFailure::too_many_requests(left.max(1)).into_response());
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
        Some(
            (
                StatusCode::BAD_GATEWAY,
                [(axum::http::header::CONTENT_TYPE, "text/html")],
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n",
            )
                .into_response(),
        )
    } else {
        dice.record(&format!("telegram.{kind}_500"));
        shared.lock().count_error(500);
        Some(
            ApiFailure {
                status: 500,
                description: "Internal Server Error".to_owned(),
                retry_after: None,
            }
            .into_response(),
        )
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

/// Counts a long poll as active while it waits (the test hook `wait_for_long_poll`).
struct ActivePoll<'a> {
    shared: &'a Shared,
}

impl<'a> ActivePoll<'a> {
    fn start(shared: &'a Shared) -> Self {
        shared.lock().active_long_polls += 1;
        shared.notify();
        Self { shared }
    }
}

impl Drop for ActivePoll<'_> {
    fn drop(&mut self) {
        let mut world = self.shared.lock();
        world.active_long_polls = world.active_long_polls.saturating_sub(1);
        drop(world);
        self.shared.notify();
    }
}

async fn get_updates(shared: &Arc<Shared>, request: &BotRequest) -> ApiResult {
    let offset = request.integer("offset")?.unwrap_or(0);
    let limit =
        usize::try_from(request.integer("limit")?.unwrap_or(100).clamp(1, 100)).unwrap_or(100);
    let timeout_seconds = request
        .integer("timeout")?
        .unwrap_or(0)
        .clamp(0, MAX_LONG_POLL_SECONDS);
    let allowed_updates = match request.json("allowed_updates")? {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ),
        Some(_) => {
            return Err(ApiFailure::bad_request(
                "can't parse allowed_updates JSON object",
            ));
        }
        None => None,
    };

    let generation = {
        let mut world = shared.lock();
        if world.webhook_url.is_some() {
            return Err(ApiFailure::conflict(
                "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            ));
        }
        if let Some(allowed) = allowed_updates {
            world.allowed_updates = Some(allowed);
        }
        if offset > 0 {
            world.updates.retain(|update| update.update_id >= offset);
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while world.updates.len() > keep {
                world.updates.pop_front();
            }
        }
        world.poll_generation += 1;
        world.poll_generation
    };
    // Wake an older poll so that it notices it was terminated.
    shared.notify();

    let collect = |world: &World| -> Option<ApiResult> {
        if world.poll_generation != generation {
            return Some(Err(ApiFailure::conflict(
                "terminated by other getUpdates request; make sure that only one bot instance is running",
            )));
        }
        if world.shutting_down {
            return Some(Ok(json!([])));
        }
        let updates: Vec<Value> = world
            .updates
            .iter()
            .filter(|update| world.update_allowed(update.kind))
            .take(limit)
            .map(|update| update.to_json())
            .collect();
        (!updates.is_empty()).then_some(Ok(Value::Array(updates)))
    };

    if timeout_seconds == 0 {
        return collect(&shared.lock()).unwrap_or_else(|| Ok(json!([])));
    }
    let _active = ActivePoll::start(shared);
    let timeout = Duration::from_secs(u64::try_from(timeout_seconds).unwrap_or(0));
    shared
        .wait_until(timeout, collect)
        .await
        .unwrap_or_else(|| Ok(json!([])))
}

fn delete_webhook(shared: &Shared, request: &BotRequest) -> ApiResult {
    let mut world = shared.lock();
    world.webhook_url = None;
    if request.flag("drop_pending_updates") {
        world.updates.clear();
    }
    Ok(json!(true))
}

fn set_webhook(shared: &Shared, request: &BotRequest) -> ApiResult {
    let url = request.string("url").unwrap_or_default();
    let mut world = shared.lock();
    if url.is_empty() {
        world.webhook_url = None;
    } else {
        if !url.starts_with("https://") {
            return Err(ApiFailure::bad_request(
                "bad webhook: HTTPS url must be provided for webhook",
            ));
        }
        world.webhook_url = Some(url);
    }
    if request.flag("drop_pending_updates") {
        world.updates.clear();
    }
    Ok(json!(true))
}

fn get_webhook_info(shared: &Shared) -> ApiResult {
    let world = shared.lock();
    Ok(json!({
        "url": world.webhook_url.clone().unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": world.updates.len(),
    }))
}

fn scope_key(request: &BotRequest) -> Result<(String, String), ApiFailure> {
    let scope = request.json("scope")?;
    let key = match scope {
        None => "default".to_owned(),
        Some(scope) => {
            let kind = scope
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned();
            let chat = scope
                .get("chat_id")
                .map(|id| format!(":{id}"))
                .unwrap_or_default();
            let user = scope
                .get("user_id")
                .map(|id| format!(":{id}"))
                .unwrap_or_default();
            format!("{kind}{chat}{user}")
        }
    };
    let language = request.string("language_code").unwrap_or_default();
    Ok((key, language))
}

fn set_my_commands(shared: &Shared, request: &BotRequest) -> ApiResult {
    let Some(Value::Array(items)) = request.json("commands")? else {
        return Err(ApiFailure::bad_request(
            "parameter \"commands\" is required",
        ));
    };
    if items.len() > 100 {
        return Err(ApiFailure::bad_request("too many commands specified"));
    }
    let mut commands = Vec::new();
    for item in items {
        let command = item
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned();
        let description = item
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let valid_command = !command.is_empty()
            && command.len() <= 32
            && command
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_command {
            return Err(ApiFailure::bad_request("BOT_COMMAND_INVALID"));
        }
        let description_length = description.chars().count();
        if description_length == 0 || description_length > 256 {
            return Err(ApiFailure::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
        commands.push(BotCommandSpec {
            command,
            description,
        });
    }
    let key = scope_key(request)?;
    // Like Telegram: a chat scope must name a chat the bot knows.
    if let Some(Value::Object(scope)) = request.json("scope")?
        && let Some(chat_id) = scope.get("chat_id").and_then(Value::as_i64)
        && !shared.lock().chats.contains_key(&chat_id)
    {
        return Err(ApiFailure::bad_request("chat not found"));
    }
    shared.lock().commands.insert(key, commands);
    shared.notify();
    Ok(json!(true))
}

fn get_my_commands(shared: &Shared, request: &BotRequest) -> ApiResult {
    let key = scope_key(request)?;
    let world = shared.lock();
    let commands = world.commands.get(&key).cloned().unwrap_or_default();
    serde_json::to_value(commands).map_err(|_| ApiFailure::bad_request("can't serialize commands"))
}

fn delete_my_commands(shared: &Shared, request: &BotRequest) -> ApiResult {
    let key = scope_key(request)?;
    shared.lock().commands.remove(&key);
    shared.notify();
    Ok(json!(true))
}

/// A parsed `reply_markup`.
#[derive(Debug, Clone, PartialEq)]
enum ReplyMarkupSpec {
    Inline(Vec<Vec<InlineButton>>),
    Keyboard(ReplyKeyboard),
    Remove,
    ForceReply,
}

fn parse_inline_button(value: &Value) -> Result<InlineButton, ApiFailure> {
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

fn parse_reply_markup(value: Option<Value>) -> Result<Option<ReplyMarkupSpec>, ApiFailure> {
    let Some(value) = value else { return Ok(None) };
    let Some(object) = value.as_object() else {
        return Err(ApiFailure::bad_request("object expected as reply markup"));
    };
    if let Some(rows) = object.get("inline_keyboard") {
        let Some(rows) = rows.as_array() else {
            return Err(ApiFailure::bad_request(
                "field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array",
            ));
        };
        let mut parsed = Vec::new();
        for row in rows {
            let Some(buttons) = row.as_array() else {
                return Err(ApiFailure::bad_request(
                    "field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays",
                ));
            };
            parsed.push(
                buttons
                    .iter()
                    .map(parse_inline_button)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        return Ok(Some(ReplyMarkupSpec::Inline(parsed)));
    }
    if let Some(rows) = object.get("keyboard") {
        let Some(rows) = rows.as_array() else {
            return Err(ApiFailure::bad_request(
                "field \"keyboard\" of the ReplyKeyboardMarkup should be an Array",
            ));
        };
        let mut parsed = Vec::new();
        for row in rows {
            let Some(buttons) = row.as_array() else {
                return Err(ApiFailure::bad_request(
                    "field \"keyboard\" of the ReplyKeyboardMarkup should be an Array of Arrays",
                ));
            };
            let mut parsed_row = Vec::new();
            for button in buttons {
                let (text, request_contact) = match button {
                    Value::String(text) => (text.clone(), false),
                    Value::Object(fields) => (
                        fields
                            .get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        fields
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
                parsed_row.push(KeyboardButton {
                    text,
                    request_contact,
                });
            }
            parsed.push(parsed_row);
        }
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

fn apply_markup(entry: &mut ChatEntry, chat: &mut ChatState, markup: &Option<ReplyMarkupSpec>) {
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

fn caption(request: &BotRequest) -> Result<(Option<String>, Vec<MessageEntity>), ApiFailure> {
    let Some(raw) = request.string("caption").filter(|text| !text.is_empty()) else {
        return Ok((None, Vec::new()));
    };
    let (plain, entities) = formatted_text(request, &raw, "caption_entities")?;
    if utf16_len(&plain) > MAX_CAPTION_LENGTH {
        return Err(ApiFailure::bad_request("message caption is too long"));
    }
    Ok((Some(plain), entities))
}

/// Checks that the bot may write to a chat: it exists and the user has not blocked the bot.
fn check_sendable(world: &World, chat_id: i64) -> Result<(), ApiFailure> {
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
struct Delivery {
    chat_id: i64,
    reply_to: Option<(i64, bool)>,
    markup: Option<ReplyMarkupSpec>,
}

/// Sends `contents.len()` messages as one call: checks the chat, the reply target and the
/// limits, then appends the messages and returns their JSON. Nothing is sent on failure.
fn deliver(
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

fn bot_entry() -> ChatEntry {
    ChatEntry::new(0, 0, EntrySender::Bot, 0)
}

fn send_message(shared: &Shared, request: &BotRequest) -> ApiResult {
    let chat_id = request.chat_id()?;
    let raw_text = request.string("text").unwrap_or_default();
    let (text, entities) = formatted_text(request, &raw_text, "entities")?;
    if text.trim().is_empty() {
        return Err(ApiFailure::bad_request("message text is empty"));
    }
    if utf16_len(&text) > MAX_TEXT_LENGTH {
        return Err(ApiFailure::bad_request("message is too long"));
    }
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
    deliver(shared, delivery, vec![entry])?
        .pop()
        .ok_or_else(|| ApiFailure::bad_request("message was not sent"))
}

/// Turns an uploaded or referenced photo into its sizes.
async fn resolve_photo(
    shared: &Arc<Shared>,
    input: InputFileRef,
) -> Result<Vec<PhotoSize>, ApiFailure> {
    match input {
        InputFileRef::FileId(file_id) => {
            let world = shared.lock();
            if let Some(sizes) = world.photo_sets.get(&file_id) {
                return Ok(sizes.clone());
            }
            match world.files.get(&file_id) {
                Some(file) => Err(ApiFailure::bad_request(format!(
                    "can't use file of type {} as Photo",
                    file.kind.type_name()
                ))),
                None => Err(ApiFailure::bad_request(
                    "wrong file identifier/HTTP URL specified",
                )),
            }
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
async fn resolve_document(
    shared: &Arc<Shared>,
    input: InputFileRef,
) -> Result<StoredFile, ApiFailure> {
    match input {
        InputFileRef::FileId(file_id) => {
            let world = shared.lock();
            match world.files.get(&file_id) {
                Some(file) if file.kind == FileKind::Document => Ok(file.clone()),
                Some(file) => Err(ApiFailure::bad_request(format!(
                    "can't use file of type {} as Document",
                    file.kind.type_name()
                ))),
                None => Err(ApiFailure::bad_request(
                    "wrong file identifier/HTTP URL specified",
                )),
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

fn document_info(file: &StoredFile) -> super::model::DocumentInfo {
    super::model::DocumentInfo {
        file_id: file.file_id.clone(),
        file_unique_id: file.file_unique_id.clone(),
        file_name: file.file_name.clone(),
        mime_type: file.mime_type.clone(),
        file_size: file.size,
    }
}

async fn send_photo(shared: &Arc<Shared>, request: &BotRequest) -> ApiResult {
    let chat_id = request.chat_id()?;
    let (caption, caption_entities) = caption(request)?;
    let markup = parse_reply_markup(request.json("reply_markup")?)?;
    let reply_to = request.reply_to()?;
    let input = request
        .input_file("photo")?
        .ok_or_else(|| ApiFailure::bad_request("there is no photo in the request"))?;
    check_sendable(&shared.lock(), chat_id)?;
    let photo = resolve_photo(shared, input).await?;
    let mut entry = bot_entry();
    entry.photo = photo;
    entry.caption = caption;
    entry.caption_entities = caption_entities;
    entry.parse_mode = request.string("parse_mode");
    deliver(
        shared,
        Delivery {
            chat_id,
            reply_to,
            markup,
        },
        vec![entry],
    )?
    .pop()
    .ok_or_else(|| ApiFailure::bad_request("message was not sent"))
}

async fn send_document(shared: &Arc<Shared>, request: &BotRequest) -> ApiResult {
    let chat_id = request.chat_id()?;
    let (caption, caption_entities) = caption(request)?;
    let markup = parse_reply_markup(request.json("reply_markup")?)?;
    let reply_to = request.reply_to()?;
    let input = request
        .input_file("document")?
        .ok_or_else(|| ApiFailure::bad_request("there is no document in the request"))?;
    check_sendable(&shared.lock(), chat_id)?;
    let file = resolve_document(shared, input).await?;
    let mut entry = bot_entry();
    entry.document = Some(document_info(&file));
    entry.caption = caption;
    entry.caption_entities = caption_entities;
    entry.parse_mode = request.string("parse_mode");
    deliver(
        shared,
        Delivery {
            chat_id,
            reply_to,
            markup,
        },
        vec![entry],
    )?
    .pop()
    .ok_or_else(|| ApiFailure::bad_request("message was not sent"))
}

async fn send_media_group(shared: &Arc<Shared>, request: &BotRequest) -> ApiResult {
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
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let reference = item
            .get("media")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
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
            entry.document = Some(document_info(&resolve_document(shared, input).await?));
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
enum EditKind {
    Text,
    Caption,
    ReplyMarkup,
}

fn edit_message(shared: &Shared, request: &BotRequest, kind: EditKind) -> ApiResult {
    let chat_id = request.chat_id()?;
    let message_id = request.message_id()?;
    let new_text = match kind {
        EditKind::Text => {
            let raw = request.string("text").unwrap_or_default();
            let (text, entities) = formatted_text(request, &raw, "entities")?;
            if text.trim().is_empty() {
                return Err(ApiFailure::bad_request("message text is empty"));
            }
            if utf16_len(&text) > MAX_TEXT_LENGTH {
                return Err(ApiFailure::bad_request("MESSAGE_TOO_LONG"));
            }
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

fn delete_message(shared: &Shared, request: &BotRequest) -> ApiResult {
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

fn answer_callback_query(shared: &Shared, request: &BotRequest) -> ApiResult {
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

fn send_chat_action(shared: &Shared, request: &BotRequest) -> ApiResult {
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

fn get_file(shared: &Shared, request: &BotRequest) -> ApiResult {
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

fn get_chat(shared: &Shared, request: &BotRequest) -> ApiResult {
    let chat_id = request.chat_id()?;
    let world = shared.lock();
    let Some(chat) = world.chats.get(&chat_id) else {
        return Err(ApiFailure::bad_request("chat not found"));
    };
    let mut value = super::shapes::chat_json(&chat.info);
    if let Value::Object(object) = &mut value {
        object.insert("accent_color_id".into(), json!(0));
        object.insert("max_reaction_count".into(), json!(11));
        object.insert("accepted_gift_types".into(), json!({
            "unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false, "premium_subscription": false
        }));
    }
    Ok(value)
}

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
    match tokio::fs::read(&file.disk_path).await {
        Ok(bytes) => {
            let content_type = file
                .mime_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let mut response = (StatusCode::OK, bytes).into_response();
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        Err(error) => {
            tracing::error!(file_path = %file_path, error = %error, "a stored file could not be read");
            ApiFailure::not_found().into_response()
        }
    }
}

impl Shared {
    /// A stored file by `file_id`.
    pub(crate) fn lock_file(&self, file_id: &str) -> Option<StoredFile> {
        self.lock().files.get(file_id).cloned()
    }
}
