//! The HTTP API: `createTask` (rate limit, scripted and planned faults,
//! validation as the real models do), `recordInfo`, `credit`, and the
//! result files.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use url::Url;

use super::faults::{CreateFault, TaskFault};
use super::results::produce_result;
use super::tasks::{Book, Phase, RenderState, Task};
use super::{ASPECT_RATIOS, CREDITS_PER_TASK, Shared};
use crate::kie::types::{
    MODEL_NANO_BANANA_2, MODEL_NANO_BANANA_EDIT, MODEL_NANO_BANANA_PRO, MODEL_SEEDREAM_EDIT,
    max_prompt_chars, max_references,
};

/// The stand-in's routes.
pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/jobs/createTask", post(create_task))
        .route("/api/v1/jobs/recordInfo", get(record_info))
        .route("/api/v1/chat/credit", get(credit))
        .route("/results/{file}", get(result_file))
        .with_state(shared)
}

const NO_ACCESS: &str = "You do not have access permissions";
const NO_CREDITS: &str = "The current credits are insufficient. Please top up.";
const RATE_TOO_HIGH: &str = "The request rate is too high, please try again later.";
const SERVER_ERROR: &str = "Server error, please try again later.";

fn envelope(code: i64, msg: &str, data: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({ "code": code, "msg": msg, "data": data })),
    )
        .into_response()
}

/// HTTP 200 with a failing `code` and no `data`.
fn refusal(code: i64, msg: &str) -> Response {
    envelope(code, msg, Value::Null)
}

/// HTTP 429 with `code` 429 in the body too.
fn too_many_requests(msg: &str) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({ "code": 429, "msg": msg, "data": null })),
    )
        .into_response()
}

/// The CDN's refusal of a request without a User-Agent, then the key check.
/// Returns the refusal, if any.
fn refuse_caller(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let has_user_agent = headers
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| !value.trim().is_empty());
    if !has_user_agent {
        return Some((StatusCode::FORBIDDEN, "403 Forbidden").into_response());
    }
    let expected = format!("Bearer {}", shared.api_key);
    let authorised = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == expected);
    if !authorised {
        return Some(refusal(401, NO_ACCESS));
    }
    None
}

async fn create_task(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refuse_caller(&shared, &headers) {
        return refusal;
    }
    {
        let mut book = shared.book();
        let now = book.now();
        let window_start = now.checked_sub(Duration::from_secs(10));
        while book
            .recent_creates
            .front()
            .is_some_and(|at| window_start.is_some_and(|start| *at <= start))
        {
            book.recent_creates.pop_front();
        }
        if book.recent_creates.len() >= book.create_limit_per_10s as usize {
            tracing::info!("kie stand-in: createTask over the rate limit, dropped");
            return too_many_requests("Too many requests: at most 20 new tasks per 10 seconds.");
        }
        book.recent_creates.push_back(now);
    }

    match shared.take_create_fault() {
        Some(CreateFault::BadKey401) => return refusal(401, NO_ACCESS),
        Some(CreateFault::NoCredits402) => return refusal(402, NO_CREDITS),
        Some(CreateFault::RateLimitedInBody429) => return refusal(429, RATE_TOO_HIGH),
        Some(CreateFault::RateLimitedHttp429) => {
            return StatusCode::TOO_MANY_REQUESTS.into_response();
        }
        Some(CreateFault::Maintenance455) => {
            return refusal(455, "Service unavailable: the system is under maintenance.");
        }
        Some(CreateFault::ServerError500) => return refusal(500, SERVER_ERROR),
        Some(CreateFault::FeatureDisabled505) => return refusal(505, "The feature is disabled."),
        Some(CreateFault::SlowAnswer(delay)) => tokio::time::sleep(delay).await,
        None => {
            if let Some(refusal) = rated_create_fault(&shared) {
                return refusal;
            }
        }
    }

    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return refusal(422, &format!("Invalid JSON body: {error}")),
    };
    shared.book().create_requests.push(request.clone());
    let valid = match validate_create(&request) {
        Ok(valid) => valid,
        Err(message) => {
            tracing::info!(%message, "kie stand-in: createTask rejected");
            return refusal(422, &message);
        }
    };

    let task_id = hex::encode(rand::random::<[u8; 16]>());
    let faults = shared.take_task_faults(&valid.prompt);
    {
        let mut book = shared.book();
        if book.credits < CREDITS_PER_TASK {
            return refusal(402, NO_CREDITS);
        }
        book.credits -= CREDITS_PER_TASK;
        let task = Task {
            model: valid.model.clone(),
            param: request.to_string(),
            created_at: book.now(),
            create_time_ms: book.now_ms(),
            latency: if book.latency_max > book.latency {
                rand::random_range(book.latency..=book.latency_max)
            } else {
                book.latency
            },
            faults,
            hidden_polls_left: match faults.visibility {
                Some(TaskFault::HiddenForPolls(polls)) => polls,
                _ => 0,
            },
            render: RenderState::Pending,
            settled: None,
        };
        book.tasks.insert(task_id.clone(), task);
        book.created_count += 1;
    }
    let fails_anyway = matches!(
        faults.outcome,
        Some(TaskFault::FailModeration | TaskFault::FailTransient)
    );
    if !fails_anyway {
        let job = produce_result(
            shared.clone(),
            task_id.clone(),
            valid.reference_urls,
            valid.prompt,
        );
        let mut jobs = shared.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        while jobs.try_join_next().is_some() {}
        jobs.spawn(job);
    }
    tracing::info!(%task_id, model = %valid.model, "kie stand-in: task created");
    envelope(200, "success", json!({ "taskId": task_id }))
}

/// The fault plan's createTask faults: a 429 burst, the CDN's 502, or
/// `code` 500.
fn rated_create_fault(shared: &Shared) -> Option<Response> {
    let (kie, dice) = (&shared.rates.kie, &shared.dice);
    let in_burst = {
        let mut book = shared.book();
        if book.burst_left == 0 && dice.roll(kie.rate_limit_burst) {
            book.burst_left = kie.rate_limit_burst_len.max(1);
        }
        let in_burst = book.burst_left > 0;
        book.burst_left = book.burst_left.saturating_sub(1);
        in_burst
    };
    if in_burst {
        dice.record("kie.rate_limit_429");
        return Some(too_many_requests(RATE_TOO_HIGH));
    }
    if dice.roll(kie.http_5xx) {
        dice.record("kie.http_502");
        return Some(bad_gateway());
    }
    if dice.roll(kie.create_server_error) {
        dice.record("kie.code_500");
        return Some(refusal(500, SERVER_ERROR));
    }
    None
}

/// The CDN's answer when Kie's origin is down: HTTP 502 with an HTML page.
fn bad_gateway() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [(CONTENT_TYPE, "text/html")],
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
    )
        .into_response()
}

/// The parts of a valid createTask request the stand-in uses.
struct ValidCreate {
    model: String,
    prompt: String,
    reference_urls: Vec<Url>,
}

/// Checks a createTask body as the real models do; the error is the `msg`
/// of a code 422 answer.
fn validate_create(request: &Value) -> Result<ValidCreate, String> {
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .filter(|model| !model.is_empty())
        .ok_or("model is required")?;
    let (Some(max_refs), Some(max_prompt)) = (max_references(model), max_prompt_chars(model))
    else {
        return Err(format!("model {model} is not supported"));
    };
    let input = request
        .get("input")
        .and_then(Value::as_object)
        .ok_or("input is required")?;
    let text = |field: &str| -> Result<&str, String> {
        input
            .get(field)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .ok_or(format!("input.{field} is required"))
    };
    let one_of = |field: &str, allowed: &[&str]| -> Result<(), String> {
        let value = text(field)?;
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(format!(
                "input.{field} must be one of {}, not {value}",
                allowed.join(", ")
            ))
        }
    };

    let prompt = text("prompt")?;
    if prompt.chars().count() > max_prompt {
        return Err(format!(
            "input.prompt must be at most {max_prompt} characters"
        ));
    }
    let aspect_ratios_with_auto: Vec<&str> = ASPECT_RATIOS
        .iter()
        .copied()
        .chain(std::iter::once("auto"))
        .collect();
    let reference_field = match model {
        MODEL_NANO_BANANA_EDIT => {
            one_of("output_format", &["png", "jpeg"])?;
            one_of("image_size", &aspect_ratios_with_auto)?;
            "image_urls"
        }
        MODEL_NANO_BANANA_PRO | MODEL_NANO_BANANA_2 => {
            one_of("aspect_ratio", &aspect_ratios_with_auto)?;
            one_of("resolution", &["1K", "2K", "4K"])?;
            one_of("output_format", &["png", "jpg"])?;
            "image_input"
        }
        MODEL_SEEDREAM_EDIT => {
            one_of("aspect_ratio", ASPECT_RATIOS)?;
            one_of("quality", &["basic", "high"])?;
            "image_urls"
        }
        _ => return Err(format!("model {model} is not supported")),
    };
    let references = input
        .get(reference_field)
        .and_then(Value::as_array)
        .filter(|references| !references.is_empty())
        .ok_or(format!("input.{reference_field} is required"))?;
    if references.len() > max_refs {
        return Err(format!(
            "input.{reference_field} takes at most {max_refs} images, got {}",
            references.len()
        ));
    }
    let mut reference_urls = Vec::with_capacity(references.len());
    for (index, reference) in references.iter().enumerate() {
        let url = reference
            .as_str()
            .and_then(|text| Url::parse(text).ok())
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or(format!(
                "input.{reference_field}[{index}] is not a valid URL"
            ))?;
        reference_urls.push(url);
    }
    Ok(ValidCreate {
        model: model.to_owned(),
        prompt: prompt.to_owned(),
        reference_urls,
    })
}

async fn record_info(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = refuse_caller(&shared, &headers) {
        return refusal;
    }
    let Some(task_id) = query.get("taskId").filter(|id| !id.is_empty()) else {
        return refusal(422, "taskId is required");
    };
    if shared.dice.roll(shared.rates.kie.http_5xx) {
        shared.dice.record("kie.http_502");
        return bad_gateway();
    }
    let mut book = shared.book();
    let (now, now_ms) = (book.now(), book.now_ms());
    let Book { tasks, credits, .. } = &mut *book;
    let Some(task) = tasks.get_mut(task_id) else {
        return refusal(422, "recordInfo is null");
    };
    if task.hidden_polls_left > 0 {
        task.hidden_polls_left -= 1;
        return refusal(422, "recordInfo is null");
    }
    if task.faults.visibility == Some(TaskFault::LostRecord) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "code": 404, "msg": "task not found", "data": null })),
        )
            .into_response();
    }
    let phase = task.observe(now, now_ms, credits);
    let (fail_code, fail_msg) = match &phase {
        Phase::Fail { code, msg } => (code.clone(), msg.clone()),
        _ => (String::new(), String::new()),
    };
    let result_json = if phase == Phase::Success {
        json!({ "resultUrls": [shared.result_url(task_id)] }).to_string()
    } else {
        String::new()
    };
    let settled = task.settled.as_ref();
    let data = json!({
        "taskId": task_id,
        "model": task.model,
        "state": phase.as_str(),
        "param": task.param,
        "resultJson": result_json,
        "failCode": fail_code,
        "failMsg": fail_msg,
        "costTime": settled.map(|settled| settled.cost_time_ms),
        "completeTime": settled.map(|settled| settled.complete_time_ms),
        "createTime": task.create_time_ms,
        "updateTime": settled.map_or(now_ms, |settled| settled.complete_time_ms),
    });
    envelope(200, "success", data)
}

async fn credit(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refuse_caller(&shared, &headers) {
        return refusal;
    }
    let credits = shared.book().credits;
    let data = if credits.fract() == 0.0 && credits.abs() < 1e15 {
        json!(credits as i64)
    } else {
        json!(credits)
    };
    envelope(200, "success", data)
}

/// Serves a rendered portrait, with the scripted download faults. Like the
/// real result host, it needs no key.
async fn result_file(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    let Some(task_id) = file.strip_suffix(".png") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let result_fault = {
        let mut book = shared.book();
        let (now, now_ms) = (book.now(), book.now_ms());
        let Book { tasks, credits, .. } = &mut *book;
        let Some(task) = tasks.get_mut(task_id) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        if task.observe(now, now_ms, credits) != Phase::Success {
            return StatusCode::NOT_FOUND.into_response();
        }
        task.faults.result
    };
    match result_fault {
        Some(TaskFault::BrokenResult) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error",
            )
                .into_response();
        }
        Some(TaskFault::ExpiredResult) => {
            return (StatusCode::NOT_FOUND, "404 Not Found").into_response();
        }
        Some(TaskFault::SlowResult(delay)) => tokio::time::sleep(delay).await,
        Some(TaskFault::GarbageResult) => {
            return (
                [(CONTENT_TYPE, "image/png")],
                "<html><body>Service Unavailable</body></html>",
            )
                .into_response();
        }
        Some(TaskFault::HugeResult) => {
            let png = tokio::task::spawn_blocking(huge_png)
                .await
                .unwrap_or_default();
            return ([(CONTENT_TYPE, "image/png")], png).into_response();
        }
        _ => {}
    }
    match tokio::fs::read(shared.result_path(task_id)).await {
        Ok(png) => ([(CONTENT_TYPE, "image/png")], png).into_response(),
        Err(error) => {
            tracing::warn!(%task_id, %error, "kie stand-in: rendered portrait missing");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}

/// A PNG of noise that does not compress: 2,048 × 2,048 RGB, about 12.6 MB.
fn huge_png() -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(4096);
    let image = image::RgbImage::from_fn(2048, 2048, |_, _| image::Rgb(rng.random()));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map(|()| out.into_inner())
        .unwrap_or_default()
}
