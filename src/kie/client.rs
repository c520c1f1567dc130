//! The HTTP client of the Kie Market API.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::types::{CreateTask, KieError, ResultDownloadError, TaskRecord, TaskState};

/// The User-Agent this crate sends unless told otherwise: `pinglass/<version>`.
pub fn default_user_agent() -> String {
    format!("pinglass/{}", env!("CARGO_PKG_VERSION"))
}

/// How to reach Kie.
#[derive(Debug, Clone)]
pub struct KieSettings {
    /// `https://api.kie.ai`, or the stand-in's address.
    pub base_url: Url,
    pub api_key: SecretString,
    /// Timeout of one HTTP call, connection included.
    pub timeout: Duration,
    /// Sent on every call; the CDN in front of Kie may answer a bare HTTP 403
    /// without one. An empty string sends no User-Agent at all, which only
    /// tests of that 403 want; use [`default_user_agent`].
    pub user_agent: String,
}

/// The client of the Kie Market API: create tasks, poll them, read credits,
/// download results. Cheap to clone (one shared connection pool).
#[derive(Debug, Clone)]
pub struct KieClient {
    http: reqwest::Client,
    base_url: Url,
    api_key: SecretString,
}

/// The envelope of every Kie answer: `{"code": N, "msg": "…", "data": …}`.
/// Some answers say `message` instead of `msg`.
#[derive(Debug, Deserialize)]
struct Envelope {
    code: Option<i64>,
    msg: Option<String>,
    message: Option<String>,
    #[serde(default)]
    data: Value,
}

impl Envelope {
    fn message(&self) -> String {
        self.msg
            .clone()
            .or_else(|| self.message.clone())
            .unwrap_or_default()
    }
}

/// An answer whose body parsed as a Kie envelope.
struct Answer {
    http_status: u16,
    envelope: Envelope,
}

impl Answer {
    /// The `code` of the body, or the HTTP status when the body has none.
    fn code(&self) -> i64 {
        self.envelope.code.unwrap_or(i64::from(self.http_status))
    }

    /// The `data` of a successful answer, or the error it carries.
    fn into_data(self) -> Result<Value, KieError> {
        let code = self.code();
        let http_ok = (200..300).contains(&self.http_status);
        if http_ok && code == 200 {
            return Ok(self.envelope.data);
        }
        // An HTTP error with a body saying 200 still is an HTTP error.
        let code = if code == 200 {
            i64::from(self.http_status)
        } else {
            code
        };
        Err(KieError::Api {
            code,
            msg: self.envelope.message(),
            http_status: self.http_status,
        })
    }
}

impl KieClient {
    /// Builds the client. Fails only on settings no HTTP client can use.
    pub fn new(settings: KieSettings) -> Result<Self, KieError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .default_headers(headers);
        if !settings.user_agent.is_empty() {
            builder = builder.user_agent(settings.user_agent);
        }
        let http = builder
            .build()
            .map_err(|error| KieError::InvalidSettings(error.to_string()))?;
        if !matches!(settings.base_url.scheme(), "http" | "https") {
            return Err(KieError::InvalidSettings(format!(
                "base URL must be http or https, not {}",
                settings.base_url.scheme()
            )));
        }
        Ok(Self {
            http,
            base_url: settings.base_url,
            api_key: settings.api_key,
        })
    }

    /// `base_url` + `path`, keeping any path prefix of the base URL.
    fn endpoint(&self, path: &str) -> Result<Url, KieError> {
        let joined = format!("{}{}", self.base_url.as_str().trim_end_matches('/'), path);
        Url::parse(&joined).map_err(|error| KieError::InvalidSettings(error.to_string()))
    }

    /// Sends one authorised call and reads the envelope of the answer.
    async fn call(
        &self,
        method: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, KieError> {
        let started = std::time::Instant::now();
        let result = self.call_inner(request).await;
        // An answer Kie gave with an error code counts as an error too.
        // (recordInfo's 422 "not visible yet" right after creation is normal.)
        let ok = result.as_ref().is_ok_and(|a| {
            (200..300).contains(&a.http_status)
                && (a.code() == 200 || (method == "recordInfo" && a.code() == 422))
        });
        crate::ops::metrics::external_call("kie", method, ok, started.elapsed());
        result
    }

    async fn call_inner(&self, request: reqwest::RequestBuilder) -> Result<Answer, KieError> {
        let response = request
            .bearer_auth(self.api_key.expose_secret())
            .send()
            .await
            .map_err(transport_error)?;
        let http_status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport_error)?;
        match serde_json::from_slice::<Envelope>(&body) {
            Ok(envelope) => Ok(Answer {
                http_status,
                envelope,
            }),
            Err(error) if (200..300).contains(&http_status) => Err(KieError::Decode(format!(
                "{error}; body starts with {:?}",
                body_snippet(&body)
            ))),
            // A bare HTTP error (CDN 403, HTTP 429 without a body, a proxy's
            // HTML page): the HTTP status is the code.
            Err(_) => Err(KieError::Api {
                code: i64::from(http_status),
                msg: format!("HTTP {http_status}: {}", body_snippet(&body)),
                http_status,
            }),
        }
    }

    /// Creates one generation task and returns its task id. The task is
    /// created, not finished: poll it with [`KieClient::record_info`].
    pub async fn create_task(&self, request: &CreateTask) -> Result<String, KieError> {
        let url = self.endpoint("/api/v1/jobs/createTask")?;
        let body = request.request_body();
        let answer = self
            .call("createTask", self.http.post(url).json(&body))
            .await?;
        let data = answer.into_data().inspect_err(|error| {
            tracing::debug!(model = %request.model, %error, "kie createTask refused");
        })?;
        let task_id = data
            .get("taskId")
            .and_then(value_as_string)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| KieError::Decode(format!("createTask answer without taskId: {data}")))?;
        tracing::debug!(%task_id, model = %request.model, references = request.image_urls.len(), "kie task created");
        Ok(task_id)
    }

    /// Asks where a task is. A task Kie does not show yet (`recordInfo is
    /// null`, observed right after creation) is not an error: it comes back
    /// as a record in [`TaskState::NotYetVisible`].
    pub async fn record_info(&self, task_id: &str) -> Result<TaskRecord, KieError> {
        let mut url = self.endpoint("/api/v1/jobs/recordInfo")?;
        url.query_pairs_mut().append_pair("taskId", task_id);
        let answer = self.call("recordInfo", self.http.get(url)).await?;
        let http_ok = (200..300).contains(&answer.http_status);
        if http_ok && answer.code() == 422 && answer.envelope.data.is_null() {
            tracing::debug!(%task_id, msg = %answer.envelope.message(), "kie task not visible yet");
            return Ok(TaskRecord::not_yet_visible(task_id));
        }
        let data = answer.into_data()?;
        if data.is_null() {
            return Ok(TaskRecord::not_yet_visible(task_id));
        }
        let record = parse_task_record(task_id, &data)?;
        tracing::debug!(%task_id, state = record.state.as_str(), "kie task polled");
        Ok(record)
    }

    /// The credits left on the account.
    pub async fn credit(&self) -> Result<f64, KieError> {
        let url = self.endpoint("/api/v1/chat/credit")?;
        let data = self.call("credit", self.http.get(url)).await?.into_data()?;
        match &data {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.trim().parse::<f64>().ok(),
            _ => None,
        }
        .ok_or_else(|| KieError::Decode(format!("credit answer is not a number: {data}")))
    }

    /// Downloads a generated image (result URLs expire: download at once).
    /// The API key is NOT sent: result URLs live on another host.
    pub async fn download_result(
        &self,
        url: &Url,
        limit_bytes: usize,
    ) -> Result<Bytes, ResultDownloadError> {
        // The real Kie (an https API) hands out https result URLs; anything
        // else is not fetched. Only a local stand-in serves plain http.
        if self.base_url.scheme() == "https" && url.scheme() != "https" {
            return Err(ResultDownloadError::Insecure {
                scheme: url.scheme().to_owned(),
            });
        }
        let response = self
            .http
            .get(url.clone())
            .header(ACCEPT, "image/*")
            .send()
            .await
            .map_err(|error| ResultDownloadError::Failed(transport_error(error)))?;
        let http_status = response.status().as_u16();
        if http_status == 404 || http_status == 410 {
            return Err(ResultDownloadError::Gone { http_status });
        }
        if !response.status().is_success() {
            return Err(ResultDownloadError::Failed(KieError::Api {
                code: i64::from(http_status),
                msg: format!("result download answered HTTP {http_status}"),
                http_status,
            }));
        }
        if response
            .content_length()
            .is_some_and(|length| length > limit_bytes as u64)
        {
            return Err(ResultDownloadError::TooLarge { limit_bytes });
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|error| ResultDownloadError::Failed(transport_error(error)))?;
            if body.len() + chunk.len() > limit_bytes {
                return Err(ResultDownloadError::TooLarge { limit_bytes });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    }
}

/// Maps a reqwest error to a timeout or a network error, with its cause
/// chain (reqwest's own message hides the cause). The URL is left out.
fn transport_error(error: reqwest::Error) -> KieError {
    if error.is_timeout() {
        return KieError::Timeout;
    }
    let is_decode = error.is_decode();
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if is_decode {
        KieError::Decode(message)
    } else {
        KieError::Network(message)
    }
}

/// The first bytes of a body, for error messages.
fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.trim().to_owned()
}

/// A JSON string, or a number written as a string.
fn value_as_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Reads the `data` object of a `recordInfo` answer.
fn parse_task_record(requested_task_id: &str, data: &Value) -> Result<TaskRecord, KieError> {
    let object = data
        .as_object()
        .ok_or_else(|| KieError::Decode(format!("recordInfo data is not an object: {data}")))?;
    let task_id = object
        .get("taskId")
        .and_then(value_as_string)
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| requested_task_id.to_owned());
    let state = object
        .get("state")
        .and_then(Value::as_str)
        .map(TaskState::parse)
        .unwrap_or_else(|| TaskState::Unknown(String::new()));
    let result_urls = object
        .get("resultJson")
        .map(|value| parse_result_urls(&task_id, value))
        .unwrap_or_default();
    let fail_code = object
        .get("failCode")
        .and_then(value_as_string)
        .unwrap_or_default();
    let fail_msg = object
        .get("failMsg")
        .and_then(value_as_string)
        .unwrap_or_default();
    let cost_time_ms = object.get("costTime").and_then(|value| match value {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().filter(|ms| *ms >= 0.0).map(|ms| ms as u64)),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    });
    Ok(TaskRecord {
        task_id,
        state,
        result_urls,
        fail_code,
        fail_msg,
        cost_time_ms,
    })
}

/// Reads `resultUrls` from `resultJson`, which is a string holding JSON (or,
/// observed, an object). Anything missing or unreadable gives no URLs.
fn parse_result_urls(task_id: &str, result_json: &Value) -> Vec<Url> {
    let parsed;
    let object = match result_json {
        Value::Object(_) => result_json,
        Value::String(text) if text.trim().is_empty() => return Vec::new(),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                parsed = value;
                &parsed
            }
            Err(error) => {
                tracing::warn!(%task_id, %error, "kie resultJson is not JSON");
                return Vec::new();
            }
        },
        _ => return Vec::new(),
    };
    let Some(urls) = object.get("resultUrls").and_then(Value::as_array) else {
        return Vec::new();
    };
    urls.iter()
        .filter_map(Value::as_str)
        .filter_map(|text| match Url::parse(text) {
            Ok(url) => Some(url),
            Err(error) => {
                tracing::warn!(%task_id, %error, "kie result URL is not a URL");
                None
            }
        })
        .collect()
}
