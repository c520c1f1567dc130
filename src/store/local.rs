//! The local backend: objects are files under one directory, and presigned
//! URLs are served by [`serve`].
//!
//! Layout under the store directory:
//! - `objects/<key>`: the bytes of each object;
//! - `content-types/<key>`: the content type given to `put`, one line;
//! - `tmp/`: files being written. Every write goes to a fresh file here, is
//!   synced, then renamed into place, so a crash never leaves half an object
//!   under `objects/`.
//!
//! A presigned URL is `<base>/objects/<key>?expires=<unix>&sig=<hex>`, where
//! `sig` is HMAC-SHA256 over `<key>|<expires>` with a 32-byte signing key
//! shared by [`LocalStore`] and [`serve`]. The URL is refused (403) from the
//! second `expires` on.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use super::{StoreError, validate_key};

const OBJECTS_DIR: &str = "objects";
const CONTENT_TYPES_DIR: &str = "content-types";
const TMP_DIR: &str = "tmp";
const FALLBACK_CONTENT_TYPE: &str = "application/octet-stream";
const READ_CHUNK: usize = 64 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// Where presigned URLs of a [`LocalStore`] point, and the key that signs
/// them. `Debug` hides the key.
#[derive(Clone)]
pub struct LocalPresign {
    /// The server's address as outside clients reach it, e.g. the URL
    /// returned by [`serve`].
    pub base_url: Url,
    pub signing_key: [u8; 32],
}

impl std::fmt::Debug for LocalPresign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPresign")
            .field("base_url", &self.base_url.as_str())
            .field("signing_key", &"***")
            .finish()
    }
}

impl LocalPresign {
    /// The URL of `key` valid until `expires_unix` (seconds since the
    /// epoch). [`LocalStore::presign_get`] uses it with now + TTL; tests use
    /// it to build URLs that have already expired.
    pub fn url_until(&self, key: &str, expires_unix: u64) -> Result<Url, StoreError> {
        validate_key(key)?;
        let signature = sign(&self.signing_key, key, expires_unix);
        let mut base = self.base_url.as_str().to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let text = format!("{base}{OBJECTS_DIR}/{key}?expires={expires_unix}&sig={signature}");
        Url::parse(&text).map_err(|error| StoreError::Config {
            detail: format!("local presign base URL {}: {error}", self.base_url),
        })
    }
}

/// Objects as files under one directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    presign: Option<LocalPresign>,
}

impl LocalStore {
    /// A store under `dir`. Directories are created on the first write.
    /// Without `public`, [`LocalStore::presign_get`] fails with
    /// [`StoreError::PresignUnavailable`].
    pub fn new(dir: PathBuf, public: Option<LocalPresign>) -> LocalStore {
        LocalStore {
            root: dir,
            presign: public,
        }
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.root.join(OBJECTS_DIR).join(key)
    }

    fn content_type_path(&self, key: &str) -> PathBuf {
        self.root.join(CONTENT_TYPES_DIR).join(key)
    }

    pub(super) async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let io = |source| StoreError::io("put", key, source);
        // The content type first: a crash between the two renames leaves an
        // object with the new content type and the old (or no) bytes, never
        // half-written bytes.
        self.write_atomically(&self.content_type_path(key), content_type.as_bytes())
            .await
            .map_err(io)?;
        self.write_atomically(&self.object_path(key), &bytes)
            .await
            .map_err(io)?;
        tracing::debug!(key, bytes = bytes.len(), "stored object in local store");
        Ok(())
    }

    async fn write_atomically(&self, path: &Path, contents: &[u8]) -> std::io::Result<()> {
        let tmp_dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&tmp_dir).await?;
        let tmp_path = tmp_dir.join(format!("{:016x}.part", rand::random::<u64>()));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp_path).await?;
            file.write_all(contents).await?;
            file.sync_all().await?;
            drop(file);
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(&tmp_path, path).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp_path).await;
        }
        result
    }

    pub(super) async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        match tokio::fs::read(self.object_path(key)).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(error) => Err(map_read_error("get", key, error)),
        }
    }

    pub(super) async fn get_to_writer<W>(&self, key: &str, writer: &mut W) -> Result<(), StoreError>
    where
        W: AsyncWrite + Send + Unpin + ?Sized,
    {
        let mut file = self.open(key).await?;
        tokio::io::copy(&mut file, writer)
            .await
            .map_err(|source| StoreError::io("get", key, source))?;
        Ok(())
    }

    pub(super) async fn head(&self, key: &str) -> Result<super::ObjectInfo, StoreError> {
        let metadata = tokio::fs::metadata(self.object_path(key))
            .await
            .map_err(|error| map_read_error("head", key, error))?;
        if !metadata.is_file() {
            return Err(StoreError::NotFound {
                key: key.to_owned(),
            });
        }
        Ok(super::ObjectInfo {
            size: metadata.len(),
            content_type: self.content_type(key).await,
        })
    }

    async fn open(&self, key: &str) -> Result<tokio::fs::File, StoreError> {
        tokio::fs::File::open(self.object_path(key))
            .await
            .map_err(|error| map_read_error("get", key, error))
    }

    /// The content type stored with `key`, or `application/octet-stream`.
    async fn content_type(&self, key: &str) -> String {
        match tokio::fs::read_to_string(self.content_type_path(key)).await {
            Ok(text) if !text.trim().is_empty() => text.trim().to_owned(),
            _ => FALLBACK_CONTENT_TYPE.to_owned(),
        }
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        for path in [self.object_path(key), self.content_type_path(key)] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StoreError::io("delete", key, source)),
            }
        }
        tracing::debug!(key, "deleted object from local store");
        Ok(())
    }

    /// Keys under the deepest directory the prefix names; the caller filters
    /// by the full prefix.
    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let objects_root = self.root.join(OBJECTS_DIR);
        let start_dir = match prefix.rfind('/') {
            Some(slash) => objects_root.join(&prefix[..slash]),
            None => objects_root.clone(),
        };
        let mut keys = Vec::new();
        let mut pending = vec![start_dir];
        while let Some(dir) = pending.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                // A prefix that runs through a file, e.g. `a.jpg/`.
                Err(error) if error.kind() == std::io::ErrorKind::NotADirectory => continue,
                Err(source) => return Err(StoreError::io("list", prefix, source)),
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|source| StoreError::io("list", prefix, source))?
            {
                let file_type = entry
                    .file_type()
                    .await
                    .map_err(|source| StoreError::io("list", prefix, source))?;
                let path = entry.path();
                if file_type.is_dir() {
                    pending.push(path);
                } else if file_type.is_file()
                    && let Some(key) = key_of(&objects_root, &path)
                {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }

    pub(super) fn presign_get(&self, key: &str, ttl: Duration) -> Result<Url, StoreError> {
        let Some(presign) = &self.presign else {
            return Err(StoreError::PresignUnavailable);
        };
        presign.url_until(key, unix_now().saturating_add(ttl.as_secs()))
    }
}

/// The key of a file under `objects/`, if its path is a valid key (files
/// dropped there by hand with odd names are skipped).
fn key_of(objects_root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(objects_root).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    let key = parts?.join("/");
    validate_key(&key).ok()?;
    Some(key)
}

fn map_read_error(operation: &'static str, key: &str, error: std::io::Error) -> StoreError {
    match error.kind() {
        // NotADirectory: a key below an object, e.g. `a.jpg/b`.
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => StoreError::NotFound {
            key: key.to_owned(),
        },
        _ => StoreError::io(operation, key, error),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

fn mac(signing_key: &[u8; 32], key: &str, expires_unix: u64) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(signing_key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(key.as_bytes());
    mac.update(b"|");
    mac.update(expires_unix.to_string().as_bytes());
    mac
}

fn sign(signing_key: &[u8; 32], key: &str, expires_unix: u64) -> String {
    hex::encode(mac(signing_key, key, expires_unix).finalize().into_bytes())
}

/// Constant-time check of a hex signature.
fn signature_matches(signing_key: &[u8; 32], key: &str, expires_unix: u64, sig_hex: &str) -> bool {
    let Ok(signature) = hex::decode(sig_hex) else {
        return false;
    };
    mac(signing_key, key, expires_unix)
        .verify_slice(&signature)
        .is_ok()
}

/// A running [`serve`] server.
#[derive(Debug)]
pub struct LocalServer {
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl LocalServer {
    /// Stops accepting connections and waits for the server task to end.
    pub(crate) async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

#[derive(Clone)]
struct ServeState {
    store: LocalStore,
    signing_key: [u8; 32],
}

#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<String>,
    sig: Option<String>,
}

/// Serves the presigned URLs of the store in `store_dir` on `bind`:
/// `GET /objects/<key>?expires=<unix>&sig=<hex>`. A missing, wrong or
/// expired signature is 403; a signed key with no object is 404.
///
/// Returns the server's base URL (`http://<bound address>/`, to put in
/// [`LocalPresign::base_url`] when clients reach this address directly) and
/// a handle that stops the server when shut down or dropped.
pub async fn serve(
    store_dir: PathBuf,
    bind: SocketAddr,
    signing_key: [u8; 32],
) -> std::io::Result<(Url, LocalServer)> {
    let listener = TcpListener::bind(bind).await?;
    let address = listener.local_addr()?;
    let base_url = Url::parse(&format!("http://{address}/")).map_err(std::io::Error::other)?;
    let state = ServeState {
        store: LocalStore::new(store_dir, None),
        signing_key,
    };
    let router = Router::new()
        .route("/objects/{*key}", get(serve_object))
        .with_state(state);
    let (shutdown_sender, shutdown_receiver) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown_receiver.await;
            })
            .await;
        if let Err(error) = result {
            tracing::error!(%address, %error, "local object server stopped");
        }
    });
    tracing::info!(%address, "local object server listening");
    Ok((
        base_url,
        LocalServer {
            shutdown: Some(shutdown_sender),
            task,
        },
    ))
}

async fn serve_object(
    State(state): State<ServeState>,
    UrlPath(key): UrlPath<String>,
    Query(query): Query<SignedQuery>,
) -> Response {
    let expires = query.expires.and_then(|text| text.parse::<u64>().ok());
    let (Some(expires), Some(sig)) = (expires, query.sig) else {
        return (StatusCode::FORBIDDEN, "missing or malformed signature").into_response();
    };
    if !signature_matches(&state.signing_key, &key, expires, &sig) {
        tracing::info!(key, "refused presigned GET: bad signature");
        return (StatusCode::FORBIDDEN, "bad signature").into_response();
    }
    if unix_now() >= expires {
        tracing::info!(key, expires, "refused presigned GET: expired");
        return (StatusCode::FORBIDDEN, "expired").into_response();
    }
    if validate_key(&key).is_err() {
        // Only a leaked signing key could sign a bad key; refuse anyway.
        return (StatusCode::BAD_REQUEST, "bad key").into_response();
    }
    let file = match state.store.open(&key).await {
        Ok(file) => file,
        Err(StoreError::NotFound { .. }) => {
            return (StatusCode::NOT_FOUND, "no such object").into_response();
        }
        Err(error) => {
            tracing::error!(key, error = %error, "local object server could not open object");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let length = match file.metadata().await {
        Ok(metadata) => metadata.len(),
        Err(error) => {
            tracing::error!(key, %error, "local object server could not stat object");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let content_type = state.store.content_type(&key).await;
    tracing::debug!(key, length, "serving presigned GET");
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, length)
        .body(Body::from_stream(chunks(file)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The reader as a stream of chunks of at most [`READ_CHUNK`] bytes.
fn chunks<R>(reader: R) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send
where
    R: AsyncRead + Send + Unpin + 'static,
{
    futures::stream::try_unfold(reader, |mut reader| async move {
        let mut buffer = vec![0u8; READ_CHUNK];
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.truncate(read);
        Ok(Some((Bytes::from(buffer), reader)))
    })
}
