//! Tests of the kie area: the real `KieClient` against the Kie stand-in (and,
//! for answer shapes the stand-in never produces, against a server that
//! replays one fixed answer). Reference photos come from a tiny photo server
//! standing in for presigned URLs of the object store.

use std::collections::HashMap;
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use image::{ImageFormat, Rgb, RgbImage};
use pinglass::kie::standin::{CREDITS_PER_TASK, CreateFault, Fault, Handle, Options, TaskFault};
use pinglass::kie::{
    CreateTask, ErrorClass, KieClient, KieError, KieSettings, MODEL_NANO_BANANA_2,
    MODEL_NANO_BANANA_EDIT, MODEL_NANO_BANANA_PRO, MODEL_SEEDREAM_EDIT, ResultDownloadError,
    TaskFailure, TaskRecord, TaskState, default_user_agent, max_references,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tempfile::TempDir;
use url::Url;

const API_KEY: &str = "test-kie-key-0123456789";
const RESULT_LIMIT: usize = 20 * 1024 * 1024;

// ---------------------------------------------------------------- helpers

/// A 300×400 (3:4) "person": a light face with dark eyes over a dark body,
/// on a vertical gradient. Strong structure, so a derived picture is easy to
/// recognise and an upside-down one is not.
fn reference_person() -> RgbImage {
    RgbImage::from_fn(300, 400, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let in_ellipse = |cx: f32, cy: f32, rx: f32, ry: f32| {
            ((fx - cx) / rx).powi(2) + ((fy - cy) / ry).powi(2) <= 1.0
        };
        if in_ellipse(120.0, 130.0, 12.0, 8.0) || in_ellipse(180.0, 130.0, 12.0, 8.0) {
            Rgb([30, 25, 20])
        } else if in_ellipse(150.0, 150.0, 70.0, 90.0) {
            Rgb([225, 185, 155])
        } else if y > 270 && (fx - 150.0).abs() < 60.0 + (fy - 270.0) {
            Rgb([45, 50, 70])
        } else {
            let shade = (40.0 + fy / 400.0 * 150.0) as u8;
            Rgb([shade / 2, shade, shade.saturating_add(40)])
        }
    })
}

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .expect("encode test image");
    bytes
}

/// Serves `/photos/{name}` from memory, like presigned GETs of the store.
struct PhotoServer {
    base: Url,
}

impl PhotoServer {
    async fn start(photos: HashMap<String, Vec<u8>>) -> Self {
        async fn photo(
            State(photos): State<Arc<HashMap<String, Vec<u8>>>>,
            Path(name): Path<String>,
        ) -> axum::response::Response {
            match photos.get(&name) {
                Some(bytes) => bytes.clone().into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        let router = Router::new()
            .route("/photos/{name}", get(photo))
            .with_state(Arc::new(photos));
        let base = serve(router).await;
        Self { base }
    }

    /// A presigned-looking URL of a photo.
    fn url(&self, name: &str) -> Url {
        let mut url = self
            .base
            .join(&format!("photos/{name}"))
            .expect("photo url");
        url.set_query(Some("X-Amz-Expires=3600&X-Amz-Signature=deadbeef"));
        url
    }
}

/// Serves a router on 127.0.0.1:0 for the rest of the test; returns its base URL.
async fn serve(router: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    Url::parse(&format!("http://{address}/")).expect("base url")
}

/// A server that answers every request with one fixed status and body.
async fn replaying(status: u16, body: Value) -> Url {
    let status = StatusCode::from_u16(status).expect("status");
    let body = body.to_string();
    let router = Router::new().fallback(any(move || {
        let body = body.clone();
        async move { (status, [("content-type", "application/json")], body) }
    }));
    serve(router).await
}

struct Setup {
    /// The stand-in's files (`kie/`: the portraits it made).
    dir: TempDir,
    standin: Handle,
    photos: PhotoServer,
    client: KieClient,
}

struct SetupOptions {
    latency: Duration,
    initial_credits: f64,
    create_limit_per_10s: u32,
}

impl Default for SetupOptions {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            initial_credits: 1000.0,
            create_limit_per_10s: 20,
        }
    }
}

async fn setup() -> Setup {
    setup_with(SetupOptions::default()).await
}

async fn setup_with(options: SetupOptions) -> Setup {
    let dir = TempDir::new().expect("temp dir");
    let person = reference_person();
    let mut photos = HashMap::new();
    photos.insert("person.png".to_owned(), encode(&person, ImageFormat::Png));
    photos.insert("person.jpg".to_owned(), encode(&person, ImageFormat::Jpeg));
    photos.insert(
        "upside-down.png".to_owned(),
        encode(&image::imageops::flip_vertical(&person), ImageFormat::Png),
    );
    photos.insert("not-an-image.png".to_owned(), b"hello".to_vec());
    let photos = PhotoServer::start(photos).await;
    let standin = pinglass::kie::standin::start(Options {
        bind: "127.0.0.1:0".parse::<SocketAddr>().expect("addr"),
        api_key: API_KEY.to_owned(),
        latency: options.latency,
        data_dir: dir.path().join("kie"),
        public_base: None,
        initial_credits: options.initial_credits,
        create_limit_per_10s: options.create_limit_per_10s,
        faults: pinglass::faults::FaultPlan::none(),
    })
    .await
    .expect("start stand-in");
    let client = client_for(
        standin.base_url(),
        API_KEY,
        Duration::from_secs(10),
        default_user_agent(),
    );
    Setup {
        dir,
        standin,
        photos,
        client,
    }
}

fn client_for(base_url: Url, key: &str, timeout: Duration, user_agent: String) -> KieClient {
    KieClient::new(KieSettings {
        base_url,
        api_key: SecretString::from(key.to_owned()),
        timeout,
        user_agent,
    })
    .expect("client")
}

impl Setup {
    fn task(&self, model: &str, prompt: &str, photos: &[&str]) -> CreateTask {
        CreateTask {
            model: model.to_owned(),
            prompt: prompt.to_owned(),
            image_urls: photos.iter().map(|name| self.photos.url(name)).collect(),
            output_format: "png".to_owned(),
            image_size: "3:4".to_owned(),
        }
    }

    /// Creates a task of the default model and returns its id.
    async fn create(&self, prompt: &str, photos: &[&str]) -> String {
        self.client
            .create_task(&self.task(MODEL_NANO_BANANA_EDIT, prompt, photos))
            .await
            .expect("createTask")
    }

    /// Polls until the task is final (deadline 10 s); returns the final record.
    async fn until_final(&self, task_id: &str) -> TaskRecord {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let record = self.client.record_info(task_id).await.expect("recordInfo");
            if record.state.is_final() {
                return record;
            }
            assert!(
                Instant::now() < deadline,
                "task {task_id} still {:?} after 10 s",
                record.state
            );
            // Polls the stand-in, which takes its latency in real time and
            // renders off the async threads; returns as soon as it is final.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Creates a task, waits for success, downloads and decodes the portrait.
    async fn portrait(&self, prompt: &str, photos: &[&str]) -> RgbImage {
        let task_id = self.create(prompt, photos).await;
        let record = self.until_final(&task_id).await;
        assert_eq!(record.state, TaskState::Success, "{record:?}");
        let url = record.first_result_url().expect("result url");
        let png = self
            .client
            .download_result(url, RESULT_LIMIT)
            .await
            .expect("download");
        image::load_from_memory(&png)
            .expect("result is an image")
            .to_rgb8()
    }
}

/// Mean luma of each cell of a 15×20 grid, leaving out the outer 10% (frame).
fn luma_grid(image: &RgbImage) -> Vec<f64> {
    let (width, height) = image.dimensions();
    let mut cells = Vec::new();
    for cell_y in 2..18 {
        for cell_x in 2..13 {
            let (x0, x1) = (cell_x * width / 15, (cell_x + 1) * width / 15);
            let (y0, y1) = (cell_y * height / 20, (cell_y + 1) * height / 20);
            let mut sum = 0.0;
            let mut count = 0.0;
            for y in y0..y1 {
                for x in x0..x1 {
                    let [r, g, b] = image.get_pixel(x, y).0.map(f64::from);
                    sum += 0.299 * r + 0.587 * g + 0.114 * b;
                    count += 1.0;
                }
            }
            cells.push(sum / count);
        }
    }
    cells
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let covariance: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - mean_a) * (y - mean_b))
        .sum();
    let spread_a: f64 = a.iter().map(|x| (x - mean_a).powi(2)).sum::<f64>().sqrt();
    let spread_b: f64 = b.iter().map(|y| (y - mean_b).powi(2)).sum::<f64>().sqrt();
    covariance / (spread_a * spread_b)
}

fn mean_abs_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .sum();
    total / a.as_raw().len() as f64
}

/// Asserts a Kie error with this body code, HTTP status and class.
fn assert_api_error(
    result: Result<String, KieError>,
    code: i64,
    http_status: u16,
    class: ErrorClass,
) {
    let error = match result {
        Err(error @ KieError::Api { .. }) => error,
        other => panic!("expected Kie code {code} (HTTP {http_status}), got {other:?}"),
    };
    let KieError::Api {
        code: got_code,
        http_status: got_status,
        ..
    } = &error
    else {
        unreachable!("matched above")
    };
    assert_eq!(
        (*got_code, *got_status, error.class()),
        (code, http_status, class),
        "{error}"
    );
}

// ---------------------------------------------------------------- lifecycle

#[tokio::test]
async fn a_task_walks_waiting_queuing_generating_success_and_yields_a_portrait_of_the_reference() {
    let setup = setup_with(SetupOptions {
        latency: Duration::from_secs(30),
        ..SetupOptions::default()
    })
    .await;
    let credits_before = setup.client.credit().await.expect("credit");
    let task_id = setup
        .create("a portrait in a sunny park", &["person.png"])
        .await;
    assert_eq!(task_id.len(), 32);
    assert!(task_id.chars().all(|c| c.is_ascii_hexdigit()), "{task_id}");

    let mut states = Vec::new();
    for _ in 0..3 {
        let record = setup
            .client
            .record_info(&task_id)
            .await
            .expect("recordInfo");
        assert!(!record.state.is_final());
        assert!(record.result_urls.is_empty());
        states.push(record.state);
        setup.standin.advance_clock(Duration::from_secs(10));
    }
    assert_eq!(
        states,
        [
            TaskState::Waiting,
            TaskState::Queuing,
            TaskState::Generating
        ]
    );
    let record = setup.until_final(&task_id).await;
    assert_eq!(record.state, TaskState::Success);
    assert_eq!(record.task_id, task_id);
    assert!(
        record.cost_time_ms.is_some_and(|ms| ms >= 30_000),
        "{record:?}"
    );
    assert_eq!(record.result_urls.len(), 1);
    assert_eq!(
        setup.client.credit().await.expect("credit"),
        credits_before - CREDITS_PER_TASK
    );

    let url = record.first_result_url().expect("result url");
    let png = setup
        .client
        .download_result(url, RESULT_LIMIT)
        .await
        .expect("download");
    assert_eq!(image::guess_format(&png).expect("format"), ImageFormat::Png);
    let portrait = image::load_from_memory(&png).expect("decode").to_rgb8();
    let (width, height) = portrait.dimensions();
    assert_eq!(
        width * 4,
        height * 3,
        "portrait is 3:4, got {width}x{height}"
    );

    // Recognisably the user's photo: its light and dark areas are where the
    // reference has them, and not where an upside-down photo has them.
    let reference = reference_person();
    let upside_down = image::imageops::flip_vertical(&reference);
    let to_reference = correlation(&luma_grid(&portrait), &luma_grid(&reference));
    let to_upside_down = correlation(&luma_grid(&portrait), &luma_grid(&upside_down));
    assert!(
        to_reference > 0.85 && to_reference - to_upside_down > 0.5,
        "luma correlation to the reference {to_reference:.3}, to it upside down {to_upside_down:.3}"
    );
    // But it is not the photo itself: it has been graded and framed.
    assert!(mean_abs_difference(&portrait, &reference) > 5.0);
}

#[tokio::test]
async fn different_prompts_give_visibly_different_portraits_and_the_same_prompt_the_same() {
    let setup = setup().await;
    let beach = setup
        .portrait("on a beach at sunset", &["person.jpg"])
        .await;
    let office = setup
        .portrait("business portrait in an office", &["person.jpg"])
        .await;
    let beach_again = setup
        .portrait("on a beach at sunset", &["person.jpg"])
        .await;
    let difference = mean_abs_difference(&beach, &office);
    assert!(
        difference > 10.0,
        "mean difference {difference:.1} per channel"
    );
    assert_eq!(mean_abs_difference(&beach, &beach_again), 0.0);
    // The first reference is the one shown.
    let other_first = setup
        .portrait("on a beach at sunset", &["upside-down.png", "person.png"])
        .await;
    let reference = reference_person();
    assert!(
        correlation(&luma_grid(&other_first), &luma_grid(&reference)) < 0.3,
        "the portrait follows the first reference"
    );
}

#[tokio::test]
async fn a_task_whose_references_cannot_be_fetched_fails_transiently_and_is_refunded() {
    let setup = setup().await;
    let credits_before = setup.standin.credits();
    for photos in [
        &["person.png", "missing.png"][..],
        &["not-an-image.png"][..],
    ] {
        let task_id = setup.create("portrait", photos).await;
        let record = setup.until_final(&task_id).await;
        assert_eq!(record.state, TaskState::Fail, "{photos:?}");
        assert_eq!(record.fail_code, "500");
        assert_eq!(record.failure_class(), TaskFailure::Transient);
        assert!(record.result_urls.is_empty());
    }
    assert_eq!(setup.standin.credits(), credits_before);
    assert_eq!(setup.standin.task_counts().fail, 2);
}

// ---------------------------------------------------------------- answer shapes

#[tokio::test]
async fn record_info_shapes_are_read_defensively() {
    struct Case {
        name: &'static str,
        data: Value,
        state: TaskState,
        urls: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "unknown state is still running",
            data: json!({"taskId": "t1", "state": "paused", "resultJson": ""}),
            state: TaskState::Unknown("paused".to_owned()),
            urls: &[],
        },
        Case {
            name: "resultJson as a string holding JSON",
            data: json!({"taskId": "t1", "state": "success",
                         "resultJson": "{\"resultUrls\":[\"https://cdn.example/a.png\",\"https://cdn.example/b.png\"]}"}),
            state: TaskState::Success,
            urls: &["https://cdn.example/a.png", "https://cdn.example/b.png"],
        },
        Case {
            name: "resultJson as an object",
            data: json!({"taskId": "t1", "state": "success",
                         "resultJson": {"resultUrls": ["https://cdn.example/a.png"]}}),
            state: TaskState::Success,
            urls: &["https://cdn.example/a.png"],
        },
        Case {
            name: "resultJson garbage",
            data: json!({"taskId": "t1", "state": "success", "resultJson": "{not json"}),
            state: TaskState::Success,
            urls: &[],
        },
        Case {
            name: "resultJson missing, failCode a number",
            data: json!({"taskId": "t1", "state": "fail", "failCode": 500, "failMsg": null}),
            state: TaskState::Fail,
            urls: &[],
        },
    ];
    for case in cases {
        let base = replaying(
            200,
            json!({"code": 200, "msg": "success", "data": case.data}),
        )
        .await;
        let client = client_for(base, API_KEY, Duration::from_secs(5), default_user_agent());
        let record = client
            .record_info("t1")
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
        assert_eq!(record.state, case.state, "{}", case.name);
        assert_eq!(
            record.state.is_final(),
            matches!(case.state, TaskState::Success | TaskState::Fail),
            "{}",
            case.name
        );
        let urls: Vec<&str> = record.result_urls.iter().map(Url::as_str).collect();
        assert_eq!(urls, case.urls, "{}", case.name);
    }

    // `message` instead of `msg`.
    let base = replaying(200, json!({"code": 455, "message": "under maintenance"})).await;
    let client = client_for(base, API_KEY, Duration::from_secs(5), default_user_agent());
    match client.credit().await {
        Err(KieError::Api { code: 455, msg, .. }) => assert_eq!(msg, "under maintenance"),
        other => panic!("expected code 455, got {other:?}"),
    }
    // A proxy's HTML page with HTTP 502 is a transient error, not a decode failure.
    let router = Router::new().fallback(any(|| async {
        (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>")
    }));
    let client = client_for(
        serve(router).await,
        API_KEY,
        Duration::from_secs(5),
        default_user_agent(),
    );
    let error = client.record_info("t1").await.expect_err("502");
    assert!(
        matches!(
            error,
            KieError::Api {
                code: 502,
                http_status: 502,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Transient);
    // Fractional credits.
    let base = replaying(200, json!({"code": 200, "msg": "success", "data": 12.5})).await;
    let client = client_for(base, API_KEY, Duration::from_secs(5), default_user_agent());
    assert_eq!(client.credit().await.expect("credit"), 12.5);
}

#[tokio::test]
async fn record_info_null_is_a_pending_record_not_an_error() {
    let setup = setup().await;
    setup
        .standin
        .script(Fault::Task(TaskFault::HiddenForPolls(2)), 1);
    let task_id = setup.create("portrait", &["person.png"]).await;
    for _ in 0..2 {
        let record = setup
            .client
            .record_info(&task_id)
            .await
            .expect("null is not an error");
        assert_eq!(record.state, TaskState::NotYetVisible);
        assert!(!record.state.is_final());
        assert_eq!(record.task_id, task_id);
    }
    let record = setup.until_final(&task_id).await;
    assert_eq!(record.state, TaskState::Success);
    // A task id Kie does not know gets the same answer.
    let record = setup
        .client
        .record_info("0123456789abcdef0123456789abcdef")
        .await
        .expect("unknown id");
    assert_eq!(record.state, TaskState::NotYetVisible);
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn every_create_fault_is_classified() {
    let setup = setup().await;
    let cases = [
        (CreateFault::BadKey401, 401, 200, ErrorClass::Permanent),
        (CreateFault::NoCredits402, 402, 200, ErrorClass::Permanent),
        (
            CreateFault::FeatureDisabled505,
            505,
            200,
            ErrorClass::Permanent,
        ),
        (
            CreateFault::RateLimitedInBody429,
            429,
            200,
            ErrorClass::RateLimited,
        ),
        (
            CreateFault::RateLimitedHttp429,
            429,
            429,
            ErrorClass::RateLimited,
        ),
        (CreateFault::Maintenance455, 455, 200, ErrorClass::Transient),
        (CreateFault::ServerError500, 500, 200, ErrorClass::Transient),
    ];
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);
    for (fault, code, http_status, class) in cases {
        setup.standin.script(Fault::Create(fault), 1);
        assert_api_error(
            setup.client.create_task(&request).await,
            code,
            http_status,
            class,
        );
    }
    assert_eq!(setup.standin.created_count(), 0);
    // The faults were used up: the next create works.
    setup
        .client
        .create_task(&request)
        .await
        .expect("createTask after the faults");

    // A wrong key: HTTP 200 with code 401, permanent.
    let wrong_key = client_for(
        setup.standin.base_url(),
        "wrong-key",
        Duration::from_secs(5),
        default_user_agent(),
    );
    assert_api_error(
        wrong_key.create_task(&request).await,
        401,
        200,
        ErrorClass::Permanent,
    );
    assert!(matches!(
        wrong_key.credit().await,
        Err(KieError::Api { code: 401, .. })
    ));

    // A request Kie rejects (unknown model, too many references, too long a
    // prompt): 422, permanent.
    let unknown_model = setup.task("acme/unknown-model", "portrait", &["person.png"]);
    assert_api_error(
        setup.client.create_task(&unknown_model).await,
        422,
        200,
        ErrorClass::Permanent,
    );
    assert_eq!(max_references(MODEL_NANO_BANANA_PRO), Some(8));
    let nine = setup.task(MODEL_NANO_BANANA_PRO, "portrait", &["person.png"; 9]);
    assert_api_error(
        setup.client.create_task(&nine).await,
        422,
        200,
        ErrorClass::Permanent,
    );
    let mut long_prompt = setup.task(MODEL_SEEDREAM_EDIT, &"x".repeat(3001), &["person.png"]);
    assert_api_error(
        setup.client.create_task(&long_prompt).await,
        422,
        200,
        ErrorClass::Permanent,
    );
    long_prompt.prompt.truncate(3000);
    setup
        .client
        .create_task(&long_prompt)
        .await
        .expect("3000 characters is allowed");
}

#[tokio::test]
async fn a_timeout_a_refused_connection_and_the_cdn_403_are_transient() {
    let setup = setup().await;
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);

    setup.standin.script(
        Fault::Create(CreateFault::SlowAnswer(Duration::from_millis(1500))),
        1,
    );
    let impatient = client_for(
        setup.standin.base_url(),
        API_KEY,
        Duration::from_millis(150),
        default_user_agent(),
    );
    let started = Instant::now();
    let error = impatient.create_task(&request).await.expect_err("timeout");
    assert!(matches!(error, KieError::Timeout), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Transient);
    assert!(started.elapsed() < Duration::from_secs(1));

    let no_user_agent = client_for(
        setup.standin.base_url(),
        API_KEY,
        Duration::from_secs(5),
        String::new(),
    );
    assert_api_error(
        no_user_agent.create_task(&request).await,
        403,
        403,
        ErrorClass::Transient,
    );
    let error = no_user_agent.record_info("any").await.expect_err("403");
    assert_eq!(error.class(), ErrorClass::Transient);

    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let nowhere = client_for(
        Url::parse(&format!("http://127.0.0.1:{closed_port}")).expect("url"),
        API_KEY,
        Duration::from_secs(5),
        default_user_agent(),
    );
    let error = nowhere.credit().await.expect_err("connection refused");
    assert!(matches!(error, KieError::Network(_)), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn the_api_key_never_shows_in_debug_or_errors() {
    let setup = setup().await;
    assert!(!format!("{:?}", setup.client).contains(API_KEY));
    let wrong_key = client_for(
        setup.standin.base_url(),
        "secret-wrong-key",
        Duration::from_secs(5),
        default_user_agent(),
    );
    let error = wrong_key.credit().await.expect_err("401");
    assert!(!format!("{error} {error:?}").contains("secret-wrong-key"));
}

#[tokio::test]
async fn credits_running_out_answers_402() {
    let setup = setup_with(SetupOptions {
        initial_credits: 2.0 * CREDITS_PER_TASK,
        ..SetupOptions::default()
    })
    .await;
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);
    setup.client.create_task(&request).await.expect("first");
    setup.client.create_task(&request).await.expect("second");
    let result = setup.client.create_task(&request).await;
    match &result {
        Err(KieError::Api { msg, .. }) => assert!(msg.contains("insufficient"), "{msg}"),
        other => panic!("expected 402, got {other:?}"),
    }
    assert_api_error(result, 402, 200, ErrorClass::Permanent);
    assert_eq!(setup.client.credit().await.expect("credit"), 0.0);
    assert_eq!(setup.standin.created_count(), 2);
}

#[tokio::test]
async fn creates_over_the_limit_per_10_seconds_get_http_429_and_are_dropped() {
    let setup = setup_with(SetupOptions {
        create_limit_per_10s: 3,
        ..SetupOptions::default()
    })
    .await;
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);
    for _ in 0..3 {
        setup
            .client
            .create_task(&request)
            .await
            .expect("within the limit");
    }
    assert_api_error(
        setup.client.create_task(&request).await,
        429,
        429,
        ErrorClass::RateLimited,
    );
    assert_eq!(setup.standin.created_count(), 3);
    setup.standin.advance_clock(Duration::from_secs(10));
    setup
        .client
        .create_task(&request)
        .await
        .expect("the window has slid");
    assert_eq!(setup.standin.created_count(), 4);
}

// ---------------------------------------------------------------- task failures

#[tokio::test]
async fn failed_tasks_are_classified_and_refunded() {
    let setup = setup().await;
    let credits_before = setup.standin.credits();
    let faults = &setup.standin;

    faults.script(Fault::Task(TaskFault::FailModeration), 1);
    let task_id = setup.create("portrait", &["person.png"]).await;
    let record = setup.until_final(&task_id).await;
    assert_eq!(record.state, TaskState::Fail);
    assert_eq!(
        (record.fail_code.as_str(), record.fail_msg.as_str()),
        ("422", "Invalid prompt: prompt contains prohibited content")
    );
    assert_eq!(record.failure_class(), TaskFailure::Moderation);

    faults.script(Fault::Task(TaskFault::FailTransient), 1);
    let task_id = setup.create("portrait", &["person.png"]).await;
    let record = setup.until_final(&task_id).await;
    assert_eq!(record.fail_code, "500");
    assert_eq!(record.failure_class(), TaskFailure::Transient);
    assert_eq!(
        setup.standin.credits(),
        credits_before,
        "failed tasks cost nothing"
    );

    // Prompt-targeted moderation hits only the next matching prompt.
    faults.script(Fault::ModeratePromptContaining("swimsuit".into()), 1);
    let mut outcomes = Vec::new();
    for prompt in ["office portrait", "beach, swimsuit", "beach, swimsuit"] {
        let task_id = setup.create(prompt, &["person.png"]).await;
        let record = setup.until_final(&task_id).await;
        outcomes.push((record.state.clone(), record.failure_class()));
    }
    assert_eq!(outcomes[0].0, TaskState::Success);
    assert_eq!(outcomes[1], (TaskState::Fail, TaskFailure::Moderation));
    assert_eq!(outcomes[2].0, TaskState::Success);
}

#[tokio::test]
async fn a_task_that_never_finishes_stays_running() {
    let setup = setup().await;
    setup.standin.script(Fault::Task(TaskFault::NeverFinish), 1);
    let task_id = setup.create("portrait", &["person.png"]).await;
    // Its portrait is made like any other's (the file written): only the
    // fault keeps the task from finishing.
    let portrait = setup.dir.path().join("kie").join(format!("{task_id}.png"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !portrait.exists() {
        assert!(Instant::now() < deadline, "the portrait was never made");
        // Polls for the file; returns as soon as it is written.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Hours later, again and again: still generating.
    for _ in 0..3 {
        setup.standin.advance_clock(Duration::from_secs(3600));
        let record = setup
            .client
            .record_info(&task_id)
            .await
            .expect("recordInfo");
        assert_eq!(record.state, TaskState::Generating);
        assert!(!record.state.is_final());
    }
    assert_eq!(setup.standin.task_counts().generating, 1);
}

#[tokio::test]
async fn result_downloads_can_be_slow_broken_or_expired() {
    let setup = setup().await;
    let faults = &setup.standin;
    let mut urls = Vec::new();
    for fault in [
        TaskFault::SlowResult(Duration::from_millis(300)),
        TaskFault::BrokenResult,
        TaskFault::ExpiredResult,
    ] {
        faults.script(Fault::Task(fault), 1);
        let task_id = setup.create("portrait", &["person.png"]).await;
        let record = setup.until_final(&task_id).await;
        assert_eq!(record.state, TaskState::Success);
        urls.push(record.first_result_url().expect("url").clone());
    }
    let started = Instant::now();
    let png = setup
        .client
        .download_result(&urls[0], RESULT_LIMIT)
        .await
        .expect("slow download");
    assert!(started.elapsed() >= Duration::from_millis(300));
    image::load_from_memory(&png).expect("image");
    match setup.client.download_result(&urls[1], RESULT_LIMIT).await {
        Err(ResultDownloadError::Failed(error)) => {
            assert_eq!(error.class(), ErrorClass::Transient, "{error}")
        }
        other => panic!("expected a transient failure, got {other:?}"),
    }
    assert!(matches!(
        setup.client.download_result(&urls[2], RESULT_LIMIT).await,
        Err(ResultDownloadError::Gone { http_status: 404 })
    ));
    assert!(matches!(
        setup.client.download_result(&urls[0], 100).await,
        Err(ResultDownloadError::TooLarge { limit_bytes: 100 })
    ));
}

#[tokio::test]
async fn fault_rates_latency_and_shutdown_can_be_driven_from_tests() {
    let setup = setup().await;
    let faults = &setup.standin;
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);

    faults.script_rate(Fault::Create(CreateFault::ServerError500), 1.0);
    for _ in 0..3 {
        assert_api_error(
            setup.client.create_task(&request).await,
            500,
            200,
            ErrorClass::Transient,
        );
    }
    faults.script_rate(Fault::Create(CreateFault::ServerError500), 0.0);
    faults.script_rate(Fault::Task(TaskFault::FailTransient), 1.0);
    for _ in 0..2 {
        let task_id = setup
            .client
            .create_task(&request)
            .await
            .expect("createTask");
        assert_eq!(setup.until_final(&task_id).await.state, TaskState::Fail);
    }
    faults.clear_script();
    setup.standin.set_latency(Duration::from_secs(60));
    let task_id = setup
        .client
        .create_task(&request)
        .await
        .expect("createTask");
    assert_eq!(
        setup
            .client
            .record_info(&task_id)
            .await
            .expect("poll")
            .state,
        TaskState::Waiting
    );
    assert_eq!(setup.standin.task_state(&task_id), Some(TaskState::Waiting));
    assert_eq!(setup.standin.task_counts().waiting, 1);

    let base_url = setup.standin.base_url();
    setup.standin.shutdown().await;
    let client = client_for(
        base_url,
        API_KEY,
        Duration::from_secs(2),
        default_user_agent(),
    );
    let error = client.credit().await.expect_err("the stand-in is stopped");
    assert_eq!(error.class(), ErrorClass::Transient, "{error}");
}

// ---------------------------------------------------------------- models

#[tokio::test]
async fn each_model_gets_its_own_input_shape() {
    let setup = setup().await;
    let references = ["person.png", "person.jpg"];
    let urls: Vec<String> = references
        .iter()
        .map(|name| setup.photos.url(name).to_string())
        .collect();
    let cases = [
        (
            MODEL_NANO_BANANA_EDIT,
            json!({"prompt": "p", "image_urls": urls, "output_format": "jpeg", "image_size": "3:4"}),
        ),
        (
            MODEL_NANO_BANANA_PRO,
            json!({"prompt": "p", "image_input": urls, "aspect_ratio": "3:4", "resolution": "1K", "output_format": "jpg"}),
        ),
        (
            MODEL_NANO_BANANA_2,
            json!({"prompt": "p", "image_input": urls, "aspect_ratio": "3:4", "resolution": "1K", "output_format": "jpg"}),
        ),
        (
            MODEL_SEEDREAM_EDIT,
            json!({"prompt": "p", "image_urls": urls, "aspect_ratio": "3:4", "quality": "high"}),
        ),
    ];
    for (model, expected_input) in cases {
        let mut request = setup.task(model, "p", &references);
        request.output_format = "jpeg".to_owned();
        let task_id = setup
            .client
            .create_task(&request)
            .await
            .unwrap_or_else(|error| panic!("{model}: {error}"));
        let received = setup.standin.create_requests().pop().expect("received");
        assert_eq!(
            received,
            json!({"model": model, "input": expected_input}),
            "{model}"
        );
        let record = setup.until_final(&task_id).await;
        assert_eq!(record.state, TaskState::Success, "{model}");
    }
    // An unknown model gets the nano-banana-edit shape.
    let request = setup.task("acme/new-model", "p", &references);
    let _refused = setup.client.create_task(&request).await;
    let received = setup.standin.create_requests().pop().expect("received");
    assert_eq!(received["model"], "acme/new-model");
    assert_eq!(received["input"]["image_urls"], json!(urls));
    assert_eq!(received["input"]["image_size"], "3:4");
    assert_eq!(received["input"]["output_format"], "png");
}

#[test]
fn the_portrait_crop_is_three_by_four_inside_the_photo() {
    use pinglass::kie::render::portrait_crop;
    for (width, height) in [
        (400, 300),
        (300, 400),
        (300, 900),
        (1000, 1000),
        (1, 1),
        (3, 4),
        (4000, 3),
    ] {
        let (x, y, crop_width, crop_height) = portrait_crop(width, height);
        assert!(
            x + crop_width <= width && y + crop_height <= height,
            "{width}x{height}"
        );
        assert!(crop_width >= 1 && crop_height >= 1, "{width}x{height}");
        if crop_width > 10 && crop_height > 10 {
            let ratio = crop_width as f32 / crop_height as f32;
            assert!(
                (ratio - 0.75).abs() < 0.02,
                "{width}x{height}: {crop_width}x{crop_height}"
            );
        }
    }
}
