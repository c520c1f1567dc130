//! Tests of the store area.
//!
//! Both backends go through the same checks (the `both_backends!` table at
//! the bottom): the local store with its presign server, and the S3 store
//! against a real S3 implementation, s3s-fs, running in-process with real
//! SigV4 signature checking. Every test has its own temp dir and port.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use pinglass::store::{
    LocalPresign, LocalServer, LocalStore, ObjectStore, S3Settings, S3Store, StoreError,
};
use rand::Rng;
use secrecy::SecretString;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

pub(crate) const ACCESS_KEY: &str = "test-access-key";
pub(crate) const SECRET_KEY: &str = "test-secret-key-0123456789";
pub(crate) const BUCKET: &str = "pinglass-test";
const SIGNING_KEY: [u8; 32] = [7; 32];

/// A store under test and what keeps it alive.
struct Backend {
    store: ObjectStore,
    /// Tells whether anything reached storage since the backend was made.
    touched: Box<dyn Fn() -> bool + Send + Sync>,
    _dir: TempDir,
    _server: ServerGuard,
}

#[allow(dead_code)] // Held only for their Drop.
enum ServerGuard {
    Local(LocalServer),
    S3(AbortOnDrop),
}

pub(crate) struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn local_backend() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let (base_url, server) =
        pinglass::store::local::serve(store_dir.clone(), localhost(), SIGNING_KEY)
            .await
            .unwrap();
    let store = LocalStore::new(
        store_dir.clone(),
        Some(LocalPresign {
            base_url,
            signing_key: SIGNING_KEY,
        }),
    );
    Backend {
        store: ObjectStore::Local(store),
        touched: Box::new(move || store_dir.exists()),
        _dir: dir,
        _server: ServerGuard::Local(server),
    }
}

/// An s3s-fs server on a fresh port with one bucket, and how many HTTP
/// requests it has received.
pub(crate) struct S3Server {
    pub(crate) endpoint: Url,
    requests: Arc<AtomicUsize>,
    pub(crate) task: AbortOnDrop,
}

pub(crate) async fn start_s3_server(root: &Path) -> S3Server {
    std::fs::create_dir_all(root.join(BUCKET)).unwrap();
    let file_system = s3s_fs::FileSystem::new(root).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(file_system);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build().into_shared();
    let listener = TcpListener::bind(localhost()).await.unwrap();
    let endpoint = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let counted = hyper::service::service_fn(move |request| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    service.call(request)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), counted)
                    .await;
            });
        }
    });
    S3Server {
        endpoint,
        requests,
        task: AbortOnDrop(task),
    }
}

fn s3_settings(endpoint: Url, secret_key: &str) -> S3Settings {
    S3Settings {
        endpoint,
        region: "auto".to_owned(),
        bucket: BUCKET.to_owned(),
        access_key: SecretString::from(ACCESS_KEY),
        secret_key: SecretString::from(secret_key),
        timeout: Duration::from_secs(10),
    }
}

async fn s3_backend() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let server = start_s3_server(dir.path()).await;
    let store = S3Store::new(s3_settings(server.endpoint.clone(), SECRET_KEY)).unwrap();
    let requests = server.requests.clone();
    Backend {
        store: ObjectStore::S3(store),
        touched: Box::new(move || requests.load(Ordering::SeqCst) > 0),
        _dir: dir,
        _server: ServerGuard::S3(server.task),
    }
}

fn random_bytes(length: usize) -> Bytes {
    let mut bytes = vec![0u8; length];
    rand::rng().fill(&mut bytes[..]);
    Bytes::from(bytes)
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn fetch(url: &Url) -> (reqwest::StatusCode, Bytes) {
    let response = http_client().get(url.clone()).send().await.unwrap();
    let status = response.status();
    (status, response.bytes().await.unwrap())
}

/// Compares without printing megabytes on failure.
fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: length differs");
    assert!(got == expected, "{what}: contents differ");
}

fn assert_not_found(result: Result<impl std::fmt::Debug, StoreError>, what: &str) {
    match result {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// The checks every backend must pass.

async fn round_trip_of_a_few_megabytes(backend: Backend) {
    let store = &backend.store;
    let key = "avatars/42/refs/photo-1.jpg";
    let payload = random_bytes(3 * 1024 * 1024 + 17);
    store.put(key, payload.clone(), "image/jpeg").await.unwrap();
    let got = store.get(key).await.unwrap();
    assert_same_bytes(&got, &payload, "get after put");
}

async fn overwrite_replaces_the_object(backend: Backend) {
    let store = &backend.store;
    let key = "avatars/42/portraits/1.png";
    store
        .put(
            key,
            Bytes::from_static(b"first version, the longer one"),
            "image/png",
        )
        .await
        .unwrap();
    store
        .put(key, Bytes::from_static(b"second"), "image/png")
        .await
        .unwrap();
    assert_eq!(store.get(key).await.unwrap(), Bytes::from_static(b"second"));
    assert_eq!(
        store.list("avatars/42/").await.unwrap(),
        vec![key.to_owned()]
    );
}

async fn missing_object_is_not_found(backend: Backend) {
    let store = &backend.store;
    store
        .put(
            "avatars/1/refs/present.jpg",
            Bytes::from_static(b"x"),
            "image/jpeg",
        )
        .await
        .unwrap();
    let error = store.get("avatars/1/refs/absent.jpg").await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    assert!(!error.is_transient(), "{error:?}");
    assert_not_found(
        store.get("avatars/404/refs/absent.jpg").await,
        "get in a missing folder",
    );

    let mut written = Vec::new();
    assert_not_found(
        store
            .get_to_writer("avatars/1/refs/absent.jpg", &mut written)
            .await,
        "streaming get",
    );
    assert!(
        written.is_empty(),
        "nothing is written for a missing object"
    );
}

async fn delete_removes_and_deleting_a_missing_key_is_ok(backend: Backend) {
    let store = &backend.store;
    let key = "avatars/7/refs/a.jpg";
    let neighbour = "avatars/7/refs/b.jpg";
    store
        .put(key, Bytes::from_static(b"a"), "image/jpeg")
        .await
        .unwrap();
    store
        .put(neighbour, Bytes::from_static(b"b"), "image/jpeg")
        .await
        .unwrap();

    store.delete(key).await.unwrap();
    assert_not_found(store.get(key).await, "get after delete");
    assert_eq!(
        store.list("avatars/7/").await.unwrap(),
        vec![neighbour.to_owned()]
    );
    assert_eq!(
        store.get(neighbour).await.unwrap(),
        Bytes::from_static(b"b")
    );

    store.delete(key).await.expect("deleting twice is Ok");
    store
        .delete("avatars/never/existed.jpg")
        .await
        .expect("deleting a key that never existed is Ok");
}

async fn list_filters_by_prefix(backend: Backend) {
    let store = &backend.store;
    let mut all = vec![
        "avatars/a1/portraits/1.png".to_owned(),
        "avatars/a10/refs/1.jpg".to_owned(),
        "avatars/b2/refs/1.jpg".to_owned(),
        "exports/a1.zip".to_owned(),
    ];
    let refs: Vec<String> = (0..25)
        .map(|n| format!("avatars/a1/refs/{n:02}.jpg"))
        .collect();
    all.extend(refs.iter().cloned());
    let puts = all
        .iter()
        .map(|key| store.put(key, Bytes::from(key.clone()), "image/jpeg"));
    for result in futures::future::join_all(puts).await {
        result.unwrap();
    }
    all.sort();

    assert_eq!(
        store.list("").await.unwrap(),
        all,
        "empty prefix lists everything"
    );
    assert_eq!(store.list("avatars/a1/refs/").await.unwrap(), refs);
    let mut a1 = refs.clone();
    a1.insert(0, "avatars/a1/portraits/1.png".to_owned());
    assert_eq!(
        store.list("avatars/a1/").await.unwrap(),
        a1,
        "a trailing slash does not match avatars/a10/"
    );
    assert_eq!(
        store.list("avatars/a1").await.unwrap().len(),
        a1.len() + 1,
        "without the slash avatars/a10/ matches too"
    );
    assert_eq!(
        store.list("avatars/a1/refs/0").await.unwrap(),
        refs[..10].to_vec(),
        "a prefix may end inside a file name"
    );
    assert!(store.list("avatars/zz/").await.unwrap().is_empty());
    assert!(store.list("nothing").await.unwrap().is_empty());
}

async fn bad_keys_are_rejected_without_touching_storage(backend: Backend) {
    let store = &backend.store;
    let long_key = "a".repeat(1025);
    let bad_keys = [
        "",
        "/avatars/1/refs/a.jpg",
        "avatars/../secret.jpg",
        "..",
        "../outside.jpg",
        "./a.jpg",
        "avatars/1/",
        "avatars//1.jpg",
        "avatars\\1.jpg",
        "avatars/1/ü.jpg",
        "avatars/1/a b.jpg",
        "avatars/1/a?.jpg",
        "avatars/1/a%2e.jpg",
        "avatars/1/a|b.jpg",
        "avatars/1/\n.jpg",
        long_key.as_str(),
    ];
    for key in bad_keys {
        let is_bad_key = |result: Result<(), StoreError>| {
            assert!(
                matches!(result, Err(StoreError::BadKey { .. })),
                "key {key:?}: expected BadKey, got {result:?}"
            )
        };
        is_bad_key(store.put(key, Bytes::from_static(b"x"), "image/jpeg").await);
        is_bad_key(store.get(key).await.map(drop));
        is_bad_key(store.get_to_writer(key, &mut Vec::new()).await);
        is_bad_key(store.delete(key).await);
        is_bad_key(
            store
                .presign_get(key, Duration::from_secs(60))
                .await
                .map(drop),
        );
    }
    for prefix in ["/avatars", "../", "avatars/../x", "a\\b"] {
        assert!(
            matches!(store.list(prefix).await, Err(StoreError::BadKey { .. })),
            "prefix {prefix:?}"
        );
    }
    for content_type in ["", "jpeg", "image/jpeg\r\nX-Injected: 1"] {
        let result = store
            .put("avatars/1/a.jpg", Bytes::from_static(b"x"), content_type)
            .await;
        assert!(
            matches!(result, Err(StoreError::BadContentType { .. })),
            "content type {content_type:?}: {result:?}"
        );
    }
    let too_long = pinglass::store::MAX_PRESIGN_TTL + Duration::from_secs(1);
    for ttl in [Duration::ZERO, Duration::from_millis(999), too_long] {
        let result = store.presign_get("avatars/1/a.jpg", ttl).await;
        assert!(
            matches!(result, Err(StoreError::BadTtl { .. })),
            "{ttl:?}: {result:?}"
        );
    }

    assert!(
        !(backend.touched)(),
        "rejected calls must not reach storage"
    );
    store
        .put("avatars/1/a.jpg", Bytes::from_static(b"x"), "image/jpeg")
        .await
        .unwrap();
    assert!(
        (backend.touched)(),
        "a valid call does reach storage (the probe works)"
    );
}

async fn presigned_get_works_without_credentials(backend: Backend) {
    let store = &backend.store;
    let key = "avatars/9/refs/photo.jpg";
    let payload = random_bytes(200 * 1024);
    store.put(key, payload.clone(), "image/jpeg").await.unwrap();

    let url = store
        .presign_get(key, Duration::from_secs(600))
        .await
        .unwrap();
    let (status, body) = fetch(&url).await;
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_same_bytes(&body, &payload, "presigned GET");

    let missing = store
        .presign_get("avatars/9/refs/missing.jpg", Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(fetch(&missing).await.0, reqwest::StatusCode::NOT_FOUND);
}

/// Changes the last hex digit of the signature query parameter.
fn with_tampered_signature(url: &Url) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| {
            let mut value = value.into_owned();
            if name == "sig" || name == "X-Amz-Signature" {
                let last = value.pop().unwrap();
                value.push(if last == '0' { '1' } else { '0' });
            }
            (name.into_owned(), value)
        })
        .collect();
    let mut tampered = url.clone();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    assert_ne!(&tampered, url);
    tampered
}

async fn tampered_presigned_url_is_refused(backend: Backend) {
    let store = &backend.store;
    let key = "avatars/5/refs/mine.jpg";
    let other = "avatars/5/refs/other.jpg";
    store
        .put(key, Bytes::from_static(b"mine"), "image/jpeg")
        .await
        .unwrap();
    store
        .put(other, Bytes::from_static(b"other"), "image/jpeg")
        .await
        .unwrap();
    let url = store
        .presign_get(key, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        fetch(&url).await.0,
        reqwest::StatusCode::OK,
        "the untouched URL works"
    );

    let (status, body) = fetch(&with_tampered_signature(&url)).await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN, "tampered signature");
    assert_ne!(body, Bytes::from_static(b"mine"));

    let mut other_key = url.clone();
    other_key.set_path(&url.path().replace(key, other));
    let (status, body) = fetch(&other_key).await;
    assert_eq!(
        status,
        reqwest::StatusCode::FORBIDDEN,
        "signature reused for another key"
    );
    assert_ne!(body, Bytes::from_static(b"other"));

    let mut unsigned = url.clone();
    unsigned.set_query(None);
    assert_eq!(
        fetch(&unsigned).await.0,
        reqwest::StatusCode::FORBIDDEN,
        "no signature"
    );
}

/// The wall-clock moment a presigned URL stops working, read from the URL
/// itself: `expires` (local) or `X-Amz-Date` + `X-Amz-Expires` (S3).
fn expiry_of(url: &Url) -> std::time::SystemTime {
    let param = |wanted: &str| {
        url.query_pairs()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.into_owned())
    };
    let unix_secs = if let Some(expires) = param("expires") {
        expires.parse::<u64>().unwrap()
    } else {
        let date = param("X-Amz-Date").expect("an S3 presigned URL");
        let date = chrono::NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ").unwrap();
        let lifetime: u64 = param("X-Amz-Expires").unwrap().parse().unwrap();
        u64::try_from(date.and_utc().timestamp()).unwrap() + lifetime
    };
    std::time::UNIX_EPOCH + Duration::from_secs(unix_secs)
}

async fn expired_presigned_url_is_refused(backend: Backend) {
    let store = &backend.store;
    let key = "avatars/6/refs/old.jpg";
    store
        .put(key, Bytes::from_static(b"old"), "image/jpeg")
        .await
        .unwrap();
    let url = store
        .presign_get(key, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        fetch(&url).await.0,
        reqwest::StatusCode::OK,
        "fresh URL works"
    );

    // The shortest lifetime S3 allows is one second, so wait (at most two
    // seconds) until the moment the URL names has passed on this clock.
    let expiry = expiry_of(&url);
    let wait = expiry
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO);
    assert!(wait <= Duration::from_secs(2), "expiry {wait:?} away");
    // Real time is the scenario: the URL's expiry is signed into it, checked
    // by the store against the wall clock (no clock of ours to move).
    tokio::time::sleep(wait + Duration::from_millis(50)).await;

    let (status, body) = fetch(&url).await;
    assert_eq!(
        status,
        reqwest::StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

async fn streaming_get_writes_the_right_bytes(backend: Backend) {
    let store = &backend.store;
    let key = "avatars/8/portraits/big.png";
    let payload = random_bytes(8 * 1024 * 1024 + 3);
    store.put(key, payload.clone(), "image/png").await.unwrap();

    let mut written: Vec<u8> = Vec::new();
    store.get_to_writer(key, &mut written).await.unwrap();
    assert_same_bytes(&written, &payload, "get_to_writer");

    let out_dir = tempfile::tempdir().unwrap();
    let path = out_dir.path().join("big.png");
    store.get_to_file(key, &path).await.unwrap();
    assert_same_bytes(&std::fs::read(&path).unwrap(), &payload, "get_to_file");
    let leftovers: Vec<_> = std::fs::read_dir(out_dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "only the finished file is left");

    let missing_path = out_dir.path().join("missing.png");
    assert_not_found(
        store
            .get_to_file("avatars/8/portraits/missing.png", &missing_path)
            .await,
        "get_to_file of a missing key",
    );
    assert!(!missing_path.exists());
    assert_eq!(
        std::fs::read_dir(out_dir.path()).unwrap().count(),
        1,
        "no partial file"
    );
}

async fn head_tells_size_and_content_type(backend: Backend) {
    let store = &backend.store;
    let key = "avatars/9/portraits/job1-01-v1.png";
    let payload = random_bytes(70_001);
    store.put(key, payload, "image/png").await.unwrap();
    let info = store.head(key).await.unwrap();
    assert_eq!(info.size, 70_001);
    // s3s-fs answers every object as application/octet-stream (R2 keeps
    // the type); the ZIP then names entries by the key's extension.
    assert!(
        ["image/png", "application/octet-stream"].contains(&info.content_type.as_str()),
        "{}",
        info.content_type
    );
    assert_not_found(
        store.head("avatars/9/portraits/missing.png").await,
        "head of a missing key",
    );
}

macro_rules! both_backends {
    ($($check:ident),* $(,)?) => {
        mod local_backend {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::local_backend().await).await;
                }
            )*
        }
        mod s3_backend {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::s3_backend().await).await;
                }
            )*
        }
    };
}

both_backends!(
    round_trip_of_a_few_megabytes,
    overwrite_replaces_the_object,
    missing_object_is_not_found,
    delete_removes_and_deleting_a_missing_key_is_ok,
    list_filters_by_prefix,
    bad_keys_are_rejected_without_touching_storage,
    presigned_get_works_without_credentials,
    tampered_presigned_url_is_refused,
    expired_presigned_url_is_refused,
    streaming_get_writes_the_right_bytes,
    head_tells_size_and_content_type,
);

// ---------------------------------------------------------------------------
// Local backend only.

#[tokio::test]
async fn local_presign_without_a_public_server_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::Local(LocalStore::new(dir.path().to_path_buf(), None));
    store
        .put(
            "avatars/1/refs/a.jpg",
            Bytes::from_static(b"a"),
            "image/jpeg",
        )
        .await
        .unwrap();
    let error = store
        .presign_get("avatars/1/refs/a.jpg", Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::PresignUnavailable), "{error:?}");
    assert!(error.to_string().contains("public HTTP server"), "{error}");
}

#[tokio::test]
async fn local_server_sends_the_stored_content_type() {
    let backend = local_backend().await;
    for (key, content_type) in [
        ("avatars/1/refs/a.jpg", "image/jpeg"),
        ("avatars/1/portraits/1.png", "image/png"),
        ("avatars/1/portraits/2.webp", "image/webp"),
    ] {
        backend
            .store
            .put(key, Bytes::from_static(b"pixels"), content_type)
            .await
            .unwrap();
        let url = backend
            .store
            .presign_get(key, Duration::from_secs(60))
            .await
            .unwrap();
        let response = http_client().get(url).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert_eq!(
            response.headers()[reqwest::header::CONTENT_TYPE],
            content_type
        );
        assert_eq!(response.headers()[reqwest::header::CONTENT_LENGTH], "6");
    }
}

#[tokio::test]
async fn local_url_past_its_expiry_is_refused_and_other_signers_are_not_trusted() {
    let backend = local_backend().await;
    let ObjectStore::Local(store) = &backend.store else {
        unreachable!()
    };
    let key = "avatars/1/refs/a.jpg";
    backend
        .store
        .put(key, Bytes::from_static(b"a"), "image/jpeg")
        .await
        .unwrap();
    let url = backend
        .store
        .presign_get(key, Duration::from_secs(60))
        .await
        .unwrap();
    let base_url = Url::parse(&url.origin().ascii_serialization()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let presign = LocalPresign {
        base_url: base_url.clone(),
        signing_key: SIGNING_KEY,
    };

    assert_eq!(
        fetch(&presign.url_until(key, now + 60).unwrap()).await.0,
        200
    );
    assert_eq!(
        fetch(&presign.url_until(key, now - 60).unwrap()).await.0,
        403,
        "expired"
    );
    let stranger = LocalPresign {
        base_url,
        signing_key: [8; 32],
    };
    assert_eq!(
        fetch(&stranger.url_until(key, now + 60).unwrap()).await.0,
        403,
        "signed with another key"
    );
    let mut malformed = url.clone();
    malformed.set_query(Some("expires=soon&sig=zz"));
    assert_eq!(fetch(&malformed).await.0, 403, "malformed query");
    assert!(
        format!("{store:?}").contains("***"),
        "Debug hides the signing key"
    );
    assert!(
        !format!("{store:?}").contains("7, 7, 7"),
        "Debug hides the signing key"
    );
}

#[tokio::test]
async fn local_concurrent_overwrites_never_mix_and_leave_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::Local(LocalStore::new(dir.path().to_path_buf(), None));
    let key = "avatars/3/portraits/1.png";
    let payloads: Vec<Bytes> = (0..8u8)
        .map(|n| Bytes::from(vec![n; 512 * 1024 + usize::from(n)]))
        .collect();
    let puts = payloads.iter().map(|payload| {
        let store = store.clone();
        let payload = payload.clone();
        tokio::spawn(async move { store.put(key, payload, "image/png").await })
    });
    for result in futures::future::join_all(puts).await {
        result.unwrap().unwrap();
    }
    let got = store.get(key).await.unwrap();
    assert!(
        payloads.contains(&got),
        "the object is exactly one of the written versions"
    );
    let temp_files = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
    assert_eq!(temp_files, 0, "temp files are renamed away");
    assert_eq!(store.list("").await.unwrap(), vec![key.to_owned()]);
}

#[tokio::test]
async fn local_keys_cannot_escape_the_store_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"secret").unwrap();
    let store_dir = dir.path().join("store");
    let store = ObjectStore::Local(LocalStore::new(store_dir.clone(), None));
    for key in [
        "../secret.txt",
        "../../secret.txt",
        "objects/../../secret.txt",
    ] {
        assert!(
            matches!(store.get(key).await, Err(StoreError::BadKey { .. })),
            "{key}"
        );
    }
    let (base_url, _server) = pinglass::store::local::serve(store_dir, localhost(), SIGNING_KEY)
        .await
        .unwrap();
    let raw = format!("{base_url}objects/..%2F..%2Fsecret.txt?expires=99999999999&sig=00");
    let (status, body) = fetch(&Url::parse(&raw).unwrap()).await;
    assert_ne!(body, Bytes::from_static(b"secret"));
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------
// S3 backend only.

#[tokio::test]
async fn s3_wrong_secret_is_a_permanent_error_that_does_not_leak_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_s3_server(dir.path()).await;
    let wrong_secret = "wrong-secret-value-xyz";
    let store =
        ObjectStore::S3(S3Store::new(s3_settings(server.endpoint.clone(), wrong_secret)).unwrap());
    let error = store
        .put(
            "avatars/1/refs/a.jpg",
            Bytes::from_static(b"a"),
            "image/jpeg",
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Permanent { .. }), "{error:?}");
    assert!(!error.is_transient());
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{store:?}"),
    ] {
        assert!(!shown.contains(wrong_secret), "{shown}");
        assert!(!shown.contains(SECRET_KEY), "{shown}");
    }
    let settings = s3_settings(server.endpoint.clone(), wrong_secret);
    assert!(!format!("{settings:?}").contains(wrong_secret));
}

#[tokio::test]
async fn s3_unreachable_endpoint_is_a_transient_error() {
    let listener = std::net::TcpListener::bind(localhost()).unwrap();
    let endpoint = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let store = ObjectStore::S3(S3Store::new(s3_settings(endpoint, SECRET_KEY)).unwrap());
    let error = store.get("avatars/1/refs/a.jpg").await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(!error.is_not_found());
}

#[tokio::test]
async fn s3_missing_bucket_is_permanent_not_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_s3_server(dir.path()).await;
    let mut settings = s3_settings(server.endpoint.clone(), SECRET_KEY);
    settings.bucket = "no-such-bucket".to_owned();
    let store = ObjectStore::S3(S3Store::new(settings).unwrap());
    let error = store.list("avatars/").await.unwrap_err();
    assert!(matches!(error, StoreError::Permanent { .. }), "{error:?}");
}

#[tokio::test]
async fn s3_settings_are_checked() {
    let endpoint = Url::parse("https://account.r2.cloudflarestorage.com/bucket").unwrap();
    let error = S3Store::new(s3_settings(endpoint, SECRET_KEY)).unwrap_err();
    assert!(matches!(error, StoreError::Config { .. }), "{error:?}");
    let endpoint = Url::parse("https://account.r2.cloudflarestorage.com").unwrap();
    let error = S3Store::new(s3_settings(endpoint.clone(), "")).unwrap_err();
    assert!(matches!(error, StoreError::Config { .. }), "{error:?}");
    S3Store::new(s3_settings(endpoint, SECRET_KEY)).expect("an R2-style endpoint is accepted");
}

#[test]
fn the_store_and_its_futures_can_cross_threads() {
    fn is_send_sync_clone<T: Send + Sync + Clone + 'static>(_: &T) {}
    fn is_send<T: Send>(_: T) {}
    let endpoint = Url::parse("https://account.r2.cloudflarestorage.com").unwrap();
    let stores = [
        ObjectStore::Local(LocalStore::new("unused".into(), None)),
        ObjectStore::S3(S3Store::new(s3_settings(endpoint, SECRET_KEY)).unwrap()),
    ];
    for store in &stores {
        is_send_sync_clone(store);
        // Futures are built, checked at compile time, and dropped unpolled.
        is_send(store.put("k", Bytes::new(), "image/png"));
        is_send(store.get("k"));
        is_send(store.get_to_file("k", Path::new("unused")));
        is_send(store.delete("k"));
        is_send(store.list(""));
        is_send(store.presign_get("k", Duration::from_secs(1)));
    }
}
