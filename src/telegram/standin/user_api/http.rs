//! The chat page and its JSON API under `/sandbox/api/…`: the same operations as
//! [`Sandbox`], for a person in a browser.

use super::*;

const CHAT_PAGE: &str = include_str!("../chat_page.html");

/// The routes of the chat page and its JSON API.
pub(crate) fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/", get(chat_page))
        .route("/chat", get(chat_page))
        .route("/sandbox/api/info", get(info))
        .route("/sandbox/api/users", get(list_users).post(register_user))
        .route("/sandbox/api/send_text", post(http_send_text))
        .route("/sandbox/api/send_files", post(http_send_files))
        .route("/sandbox/api/send_contact", post(http_send_contact))
        .route("/sandbox/api/send_sticker", post(http_send_sticker))
        .route("/sandbox/api/press_button", post(http_press_button))
        .route("/sandbox/api/edit_text", post(http_edit_text))
        .route("/sandbox/api/block", post(http_block))
        .route("/sandbox/api/history", get(http_history))
        .route("/sandbox/api/file/{file_id}", get(http_file))
        .route("/sandbox/api/counters", get(http_counters))
}

struct HttpError(StatusCode, String);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "ok": false, "error": self.1 }))).into_response()
    }
}

impl From<UserActionError> for HttpError {
    fn from(error: UserActionError) -> Self {
        HttpError(StatusCode::BAD_REQUEST, error.to_string())
    }
}

fn ok_entries(entries: Vec<ChatEntry>) -> Json<Value> {
    Json(json!({ "ok": true, "entries": entries }))
}

async fn chat_page() -> Html<&'static str> {
    Html(CHAT_PAGE)
}

async fn info(State(sandbox): State<Sandbox>) -> Json<Value> {
    let bot = &sandbox.shared.bot;
    Json(
        json!({ "bot_id": bot.id, "bot_username": bot.username, "bot_first_name": bot.first_name }),
    )
}

async fn list_users(State(sandbox): State<Sandbox>) -> Json<Vec<UserSpec>> {
    Json(sandbox.users())
}

async fn register_user(State(sandbox): State<Sandbox>, Json(user): Json<UserSpec>) -> Json<Value> {
    sandbox.register_user(&user);
    Json(json!({ "ok": true }))
}

#[derive(Deserialize)]
struct SendTextBody {
    user: UserSpec,
    text: String,
}

async fn http_send_text(
    State(sandbox): State<Sandbox>,
    Json(body): Json<SendTextBody>,
) -> Result<Json<Value>, HttpError> {
    Ok(ok_entries(vec![sandbox.send_text(&body.user, &body.text)?]))
}

/// Multipart: `user` (JSON), `caption`, `as_file` (`true`/`false`), one or more `files`.
/// One image → a photo; several → an album; `as_file` → documents.
async fn http_send_files(
    State(sandbox): State<Sandbox>,
    mut multipart: Multipart,
) -> Result<Json<Value>, HttpError> {
    let bad = |message: String| HttpError(StatusCode::BAD_REQUEST, message);
    let mut user: Option<UserSpec> = None;
    let mut caption: Option<String> = None;
    let mut as_file = false;
    let mut files: Vec<FileUpload> = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|error| bad(error.to_string()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|error| bad(error.to_string()))?;
        match (name.as_str(), file_name) {
            (_, Some(file_name)) => files.push(FileUpload {
                bytes: bytes.to_vec(),
                file_name,
                mime_type: content_type,
            }),
            ("user", None) => {
                user = Some(
                    serde_json::from_slice(&bytes)
                        .map_err(|error| bad(format!("bad user: {error}")))?,
                )
            }
            ("caption", None) => {
                caption = Some(String::from_utf8_lossy(&bytes).into_owned())
                    .filter(|text| !text.is_empty())
            }
            ("as_file", None) => as_file = bytes.as_ref() == b"true",
            _ => {}
        }
    }
    let user = user.ok_or_else(|| bad("the user field is missing".to_owned()))?;
    let caption = caption.as_deref();
    let entries = match (files.len(), as_file) {
        (0, _) => return Err(bad("no files were attached".to_owned())),
        (1, true) => vec![
            sandbox
                .send_document(&user, files.remove(0), caption)
                .await?,
        ],
        (_, true) => sandbox.send_document_album(&user, files, caption).await?,
        (1, false) => {
            let upload = files.remove(0);
            if upload
                .mime_type
                .as_deref()
                .unwrap_or("")
                .starts_with("video/")
            {
                vec![sandbox.send_video(&user, upload, 5).await?]
            } else if image_dimensions(&upload.bytes).is_some() {
                vec![sandbox.send_photo(&user, upload.bytes, caption).await?]
            } else {
                vec![sandbox.send_document(&user, upload, caption).await?]
            }
        }
        (_, false) => {
            sandbox
                .send_album(
                    &user,
                    files.into_iter().map(|upload| upload.bytes).collect(),
                    caption,
                )
                .await?
        }
    };
    Ok(ok_entries(entries))
}

#[derive(Deserialize)]
struct SendContactBody {
    user: UserSpec,
    phone_number: String,
}

async fn http_send_contact(
    State(sandbox): State<Sandbox>,
    Json(body): Json<SendContactBody>,
) -> Result<Json<Value>, HttpError> {
    Ok(ok_entries(vec![
        sandbox.send_contact(&body.user, &body.phone_number)?,
    ]))
}

#[derive(Deserialize)]
struct SendStickerBody {
    user: UserSpec,
    emoji: String,
}

async fn http_send_sticker(
    State(sandbox): State<Sandbox>,
    Json(body): Json<SendStickerBody>,
) -> Result<Json<Value>, HttpError> {
    Ok(ok_entries(vec![
        sandbox.send_sticker(&body.user, &body.emoji).await?,
    ]))
}

#[derive(Deserialize)]
struct PressButtonBody {
    user: UserSpec,
    message_id: i64,
    callback_data: String,
}

async fn http_press_button(
    State(sandbox): State<Sandbox>,
    Json(body): Json<PressButtonBody>,
) -> Result<Json<Value>, HttpError> {
    let query_id = sandbox.press_button(&body.user, body.message_id, &body.callback_data)?;
    Ok(Json(json!({ "ok": true, "query_id": query_id })))
}

#[derive(Deserialize)]
struct EditTextBody {
    user: UserSpec,
    message_id: i64,
    text: String,
}

async fn http_edit_text(
    State(sandbox): State<Sandbox>,
    Json(body): Json<EditTextBody>,
) -> Result<Json<Value>, HttpError> {
    Ok(ok_entries(vec![sandbox.edit_text(
        &body.user,
        body.message_id,
        &body.text,
    )?]))
}

#[derive(Deserialize)]
struct BlockBody {
    user: UserSpec,
    blocked: bool,
}

async fn http_block(State(sandbox): State<Sandbox>, Json(body): Json<BlockBody>) -> Json<Value> {
    sandbox.set_blocked(&body.user, body.blocked);
    Json(json!({ "ok": true, "blocked": body.blocked }))
}

#[derive(Deserialize)]
struct HistoryQuery {
    chat_id: i64,
    /// The `version` of the previous answer; with `wait`, the call waits for a change.
    since: Option<u64>,
    /// Seconds to wait for a change (at most 25).
    wait: Option<u64>,
}

#[derive(Serialize)]
struct HistoryAnswer {
    version: u64,
    chat_id: i64,
    blocked: bool,
    entries: Vec<ChatEntry>,
    reply_keyboard: Option<ReplyKeyboard>,
    callbacks: Vec<CallbackRecord>,
    chat_actions: Vec<String>,
}

async fn http_history(
    State(sandbox): State<Sandbox>,
    Query(query): Query<HistoryQuery>,
) -> Json<HistoryAnswer> {
    if let (Some(since), Some(wait)) = (query.since, query.wait) {
        sandbox
            .shared
            .wait_for_change_since(since, Duration::from_secs(wait.min(25)))
            .await;
    }
    let version = sandbox.shared.version();
    Json(HistoryAnswer {
        version,
        chat_id: query.chat_id,
        blocked: sandbox.is_blocked(query.chat_id),
        entries: sandbox.history(query.chat_id),
        reply_keyboard: sandbox.reply_keyboard(query.chat_id),
        callbacks: sandbox.callbacks(query.chat_id),
        chat_actions: sandbox.chat_actions(query.chat_id),
    })
}

async fn http_file(State(sandbox): State<Sandbox>, Path(file_id): Path<String>) -> Response {
    let Some(file) = sandbox.shared.lock_file(&file_id) else {
        return HttpError(StatusCode::NOT_FOUND, "no such file".to_owned()).into_response();
    };
    file.download()
        .await
        .unwrap_or_else(|error| HttpError(StatusCode::NOT_FOUND, error.to_string()).into_response())
}

async fn http_counters(State(sandbox): State<Sandbox>) -> Json<Counters> {
    Json(sandbox.counters())
}
