//! Tests of the kie area: the real `KieClient` against the Kie stand-in (and,
//! for answer shapes the stand-in never produces, against a server that
//! replays one fixed answer). Reference photos come from a tiny photo server
//! standing in for presigned URLs of the object store.
//! By topic: `tasks` (a task's life, its failures, the models), `answers`
//! (answer shapes and errors). This module holds their setup and helpers.

mod answers;
mod tasks;

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
