//! An S3 server for tests: s3s-fs (a real S3 implementation over a
//! directory, with SigV4 checking) behind a fault layer that answers a
//! request, at the plan's rate, the way S3 and R2 do when they stumble —
//! HTTP 500 `InternalError` or 503 `SlowDown` with the S3 XML error body.

use std::path::Path;

use bytes::Bytes;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use pinglass::faults::FaultPlan;
use tokio::net::TcpListener;
use url::Url;

pub const ACCESS_KEY: &str = "soak-access-key";
pub const SECRET_KEY: &str = "soak-secret-key-0123456789";
pub const BUCKET: &str = "pinglass-soak";

/// The running server; dropping it stops it.
pub struct S3Standin {
    pub endpoint: Url,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for S3Standin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error_body(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{:016X}</RequestId></Error>",
        rand::random::<u64>()
    )
}

/// Serves the bucket [`BUCKET`] under `root` with `plan`'s S3 faults.
pub async fn start(root: &Path, plan: &FaultPlan) -> S3Standin {
    std::fs::create_dir_all(root.join(BUCKET)).unwrap();
    let file_system = s3s_fs::FileSystem::new(root).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(file_system);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build().into_shared();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let rate = plan.s3.error;
    let dice = plan.dice("s3");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (service, dice) = (service.clone(), dice.clone());
            tokio::spawn(async move {
                let faulty = hyper::service::service_fn(move |request| {
                    let (service, dice) = (service.clone(), dice.clone());
                    async move {
                        if dice.roll(rate) {
                            let (status, code, message) = if dice.coin() {
                                dice.record("s3.500_internal_error");
                                (
                                    500,
                                    "InternalError",
                                    "We encountered an internal error. Please try again.",
                                )
                            } else {
                                dice.record("s3.503_slow_down");
                                (503, "SlowDown", "Please reduce your request rate.")
                            };
                            let body = s3s::Body::from(Bytes::from(error_body(code, message)));
                            let response = hyper::Response::builder()
                                .status(status)
                                .header("content-type", "application/xml")
                                .body(body)
                                .unwrap();
                            return Ok(response);
                        }
                        service.call(request).await
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), faulty)
                    .await;
            });
        }
    });
    S3Standin { endpoint, task }
}
