//! The shapes of the Kie Market API: the task request, the task record, the
//! task state, and the errors with their retry classes.

use serde_json::{Value, json};
use url::Url;

/// The default model: Google's nano-banana edit, which takes `image_urls`.
pub const MODEL_NANO_BANANA_EDIT: &str = "google/nano-banana-edit";
/// Nano-banana pro, which takes `image_input`, `aspect_ratio` and `resolution`.
pub const MODEL_NANO_BANANA_PRO: &str = "nano-banana-pro";
/// Nano-banana 2, which takes the same fields as nano-banana pro.
pub const MODEL_NANO_BANANA_2: &str = "nano-banana-2";
/// Seedream 4.5 edit, which takes `image_urls`, `aspect_ratio` and `quality`.
pub const MODEL_SEEDREAM_EDIT: &str = "seedream/4.5-edit";

/// How many reference photos one task of a known model takes.
/// `None` for a model this code does not know.
pub fn max_references(model: &str) -> Option<usize> {
    match model {
        MODEL_NANO_BANANA_EDIT => Some(10),
        MODEL_NANO_BANANA_PRO => Some(8),
        MODEL_NANO_BANANA_2 => Some(14),
        MODEL_SEEDREAM_EDIT => Some(14),
        _ => None,
    }
}

/// The longest prompt a known model accepts, in characters.
pub fn max_prompt_chars(model: &str) -> Option<usize> {
    match model {
        MODEL_NANO_BANANA_EDIT | MODEL_NANO_BANANA_PRO | MODEL_NANO_BANANA_2 => Some(5000),
        MODEL_SEEDREAM_EDIT => Some(3000),
        _ => None,
    }
}

/// One image-generation task to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTask {
    /// The model name, e.g. `google/nano-banana-edit`.
    pub model: String,
    pub prompt: String,
    /// Reference photos Kie downloads (presigned GET URLs of our store).
    pub image_urls: Vec<Url>,
    /// `png` or `jpeg` (`jpg` is accepted too; it is spelled per model).
    pub output_format: String,
    /// Aspect ratio such as `3:4`; sent as `image_size` or `aspect_ratio`
    /// depending on the model.
    pub image_size: String,
}

impl CreateTask {
    /// The JSON body of `POST /api/v1/jobs/createTask`, with the `input`
    /// shaped as the model wants it. Every field is sent explicitly because
    /// the server does not always apply its documented defaults. A model this
    /// code does not know gets the nano-banana-edit shape.
    pub(crate) fn request_body(&self) -> Value {
        let image_urls: Vec<&str> = self.image_urls.iter().map(Url::as_str).collect();
        let input = match self.model.as_str() {
            MODEL_NANO_BANANA_PRO | MODEL_NANO_BANANA_2 => json!({
                "prompt": self.prompt,
                "image_input": image_urls,
                "aspect_ratio": self.image_size,
                "resolution": "1K",
                "output_format": spell_format_jpg(&self.output_format),
            }),
            MODEL_SEEDREAM_EDIT => json!({
                "prompt": self.prompt,
                "image_urls": image_urls,
                "aspect_ratio": self.image_size,
                "quality": "high",
            }),
            _ => json!({
                "prompt": self.prompt,
                "image_urls": image_urls,
                "output_format": spell_format_jpeg(&self.output_format),
                "image_size": self.image_size,
            }),
        };
        json!({ "model": self.model, "input": input })
    }
}

/// The nano-banana pro and 2 models spell JPEG as `jpg`.
fn spell_format_jpg(format: &str) -> String {
    let lower = format.to_ascii_lowercase();
    if lower == "jpeg" {
        "jpg".to_owned()
    } else {
        lower
    }
}

/// The nano-banana edit model spells JPEG as `jpeg`.
fn spell_format_jpeg(format: &str) -> String {
    let lower = format.to_ascii_lowercase();
    if lower == "jpg" {
        "jpeg".to_owned()
    } else {
        lower
    }
}

/// Where a task is. Only [`TaskState::Success`] and [`TaskState::Fail`] are
/// final; every other state, including one this code does not know, means
/// the task is still running.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// `recordInfo` answered `recordInfo is null`: the task was just created
    /// and is not visible yet. Ask again later.
    NotYetVisible,
    Waiting,
    Queuing,
    Generating,
    Success,
    Fail,
    /// A state string this code does not know; treated as still running.
    Unknown(String),
}

impl TaskState {
    /// Reads the `state` string of a task record.
    pub(crate) fn parse(state: &str) -> Self {
        match state {
            "waiting" => Self::Waiting,
            "queuing" => Self::Queuing,
            "generating" => Self::Generating,
            "success" => Self::Success,
            "fail" => Self::Fail,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The state as Kie spells it (`not_yet_visible` for the pending answer).
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::NotYetVisible => "not_yet_visible",
            Self::Waiting => "waiting",
            Self::Queuing => "queuing",
            Self::Generating => "generating",
            Self::Success => "success",
            Self::Fail => "fail",
            Self::Unknown(other) => other,
        }
    }

    /// True only for `success` and `fail`.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Success | Self::Fail)
    }
}

/// What `recordInfo` says about one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub task_id: String,
    pub state: TaskState,
    /// The generated images; empty until the task succeeds. Take the first.
    pub result_urls: Vec<Url>,
    /// Empty unless the task failed, e.g. `422` for content moderation.
    pub fail_code: String,
    pub fail_msg: String,
    pub cost_time_ms: Option<u64>,
}

/// Why a task ended in `fail`, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFailure {
    /// Content moderation refused the prompt: retrying the same prompt is
    /// pointless; retry with the next prompt variant or fail the task.
    Moderation,
    /// A server-side failure that may heal: retry the same prompt.
    Transient,
    /// Anything else.
    Other,
}

impl TaskRecord {
    /// The record of a task that `recordInfo` does not show yet.
    pub(crate) fn not_yet_visible(task_id: &str) -> Self {
        Self {
            task_id: task_id.to_owned(),
            state: TaskState::NotYetVisible,
            result_urls: Vec::new(),
            fail_code: String::new(),
            fail_msg: String::new(),
            cost_time_ms: None,
        }
    }

    /// The first result URL, the one to download.
    pub fn first_result_url(&self) -> Option<&Url> {
        self.result_urls.first()
    }

    /// Classifies the failure of a task from its `failCode` and `failMsg`.
    /// Meaningful when the state is [`TaskState::Fail`].
    pub fn failure_class(&self) -> TaskFailure {
        let code = self.fail_code.trim();
        let message = self.fail_msg.to_ascii_lowercase();
        let mentions_moderation = ["prohibited", "moderation", "sensitive", "nsfw", "violat"]
            .iter()
            .any(|word| message.contains(word));
        if code == "422" || mentions_moderation {
            return TaskFailure::Moderation;
        }
        let transient_code = matches!(code, "429" | "433" | "455" | "500" | "501" | "502" | "503");
        let mentions_retry = [
            "try again",
            "internal error",
            "timeout",
            "timed out",
            "busy",
        ]
        .iter()
        .any(|word| message.contains(word));
        if transient_code || mentions_retry {
            TaskFailure::Transient
        } else {
            TaskFailure::Other
        }
    }
}

/// How a caller should react to a [`KieError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retrying will not heal it (bad key, no credits, feature disabled, a
    /// request Kie rejects): stop creating tasks, keep the queue, alert the
    /// admins.
    Permanent,
    /// Back off and retry (maintenance, server errors, network, timeouts).
    Transient,
    /// Too many requests: slow down, then retry.
    RateLimited,
}

/// An error of one call to Kie. Never carries the API key.
#[derive(Debug, thiserror::Error)]
pub enum KieError {
    /// Kie (or the CDN in front of it) refused the call. `code` is the `code`
    /// of the body, or the HTTP status when the body carries none.
    #[error("Kie answered code {code} (HTTP {http_status}): {msg}")]
    Api {
        code: i64,
        msg: String,
        http_status: u16,
    },
    #[error("Kie did not answer in time")]
    Timeout,
    #[error("network error talking to Kie: {0}")]
    Network(String),
    #[error("Kie answered something unreadable: {0}")]
    Decode(String),
    /// The client could not be built from its settings.
    #[error("invalid Kie client settings: {0}")]
    InvalidSettings(String),
}

impl KieError {
    /// How a caller should react, from both the HTTP status and the body code.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Api {
                code, http_status, ..
            } => classify_api_error(*code, *http_status),
            Self::Timeout | Self::Network(_) | Self::Decode(_) => ErrorClass::Transient,
            Self::InvalidSettings(_) => ErrorClass::Permanent,
        }
    }
}

impl KieError {
    /// A refusal of the whole account (bad key, no credits, feature
    /// disabled): no task can succeed until someone acts, so the caller
    /// pauses instead of failing tasks one by one.
    pub(crate) fn is_account_refusal(&self) -> bool {
        match self {
            Self::Api { code, .. } => matches!(code, 401 | 402 | 505),
            Self::InvalidSettings(_) => true,
            _ => false,
        }
    }
}

/// Classifies an answer that is not a success. Errors usually come with HTTP
/// 200 and the real status in the body `code`; rate limiting comes as HTTP
/// 429; the CDN answers a bare HTTP 403 to requests it dislikes, which heals.
fn classify_api_error(code: i64, http_status: u16) -> ErrorClass {
    if http_status == 429 || code == 429 || code == 433 {
        return ErrorClass::RateLimited;
    }
    match code {
        // Bad key, no credits, not found (wrong model or path), request
        // rejected by validation, feature disabled.
        401 | 402 | 404 | 422 | 505 => return ErrorClass::Permanent,
        // CDN refusal, maintenance, server error, generation failed.
        403 | 455 | 500 | 501 => return ErrorClass::Transient,
        _ => {}
    }
    if code >= 500 || http_status >= 500 {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    }
}

/// An error of downloading a generated image.
#[derive(Debug, thiserror::Error)]
pub enum ResultDownloadError {
    /// The result URL has expired or never existed (HTTP 404 or 410): the
    /// image is gone and must be generated again.
    #[error("the result URL is gone (HTTP {http_status})")]
    Gone { http_status: u16 },
    /// The image is larger than the caller allows.
    #[error("the result is larger than {limit_bytes} bytes")]
    TooLarge { limit_bytes: usize },
    /// The result URL is not https while Kie is (only a local stand-in
    /// serves plain http): it is not fetched.
    #[error("the result URL is {scheme}, not https")]
    Insecure { scheme: String },
    /// Anything else (HTTP 5xx, 403, 429, network, timeout): retry later.
    #[error("downloading the result failed: {0}")]
    Failed(KieError),
}
