//! The object store: users' reference photos and generated portraits.
//!
//! One small interface, [`ObjectStore`], with two backends:
//! - [`S3Store`] talks to any S3-compatible service with path-style requests
//!   (Cloudflare R2 in production: region `auto`, a custom endpoint).
//! - [`LocalStore`] keeps files in a directory; its presigned URLs are served
//!   by [`local::serve`], a small HTTP server that checks an HMAC signature.
//!
//! Keys look like `avatars/<avatar_id>/refs/<photo_id>.jpg` and
//! `avatars/<avatar_id>/portraits/<n>.png`. Every key is checked by
//! [`validate_key`] before any backend is touched.

pub mod local;
pub(crate) mod s3;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use url::Url;

pub use local::{LocalPresign, LocalServer, LocalStore};
pub use s3::{S3Settings, S3Store};

/// Longest key accepted, in bytes (S3's own limit).
pub(crate) const MAX_KEY_LEN: usize = 1024;

/// Longest lifetime of a presigned URL (S3's SigV4 limit: seven days).
pub const MAX_PRESIGN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Why an object store operation failed.
///
/// No variant ever carries a credential: S3 error bodies are reduced to their
/// `Code` and `Message` elements before they land here.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("bad object key {key:?}: {reason}")]
    BadKey { key: String, reason: &'static str },
    #[error("bad content type {content_type:?}")]
    BadContentType { content_type: String },
    #[error("presign lifetime of {ttl_secs} s is outside 1 s to 7 days")]
    BadTtl { ttl_secs: u64 },
    #[error("object {key} not found")]
    NotFound { key: String },
    #[error(
        "presigned URLs need a public HTTP server, and this local store has none configured \
         (see store::local::serve)"
    )]
    PresignUnavailable,
    #[error("object store configuration: {detail}")]
    Config { detail: String },
    /// A failure that may go away on retry: network errors, timeouts, HTTP
    /// 408/429/5xx.
    #[error("object store {operation} of {key:?} failed, may succeed on retry: {detail}")]
    Transient {
        operation: &'static str,
        key: String,
        detail: String,
    },
    /// A failure that retrying will not fix: access denied, bad request, a
    /// missing bucket.
    #[error("object store {operation} of {key:?} failed: {detail}")]
    Permanent {
        operation: &'static str,
        key: String,
        detail: String,
    },
    #[error("object store {operation} of {key:?}: i/o error")]
    Io {
        operation: &'static str,
        key: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// True when retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Transient { .. } => true,
            StoreError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// True when the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    pub(crate) fn io(operation: &'static str, key: &str, source: std::io::Error) -> StoreError {
        StoreError::Io {
            operation,
            key: key.to_owned(),
            source,
        }
    }
}

/// Checks that `key` is a safe object key: non-empty, at most
/// [`MAX_KEY_LEN`] bytes, made only of ASCII letters, digits and `/._-`,
/// no leading or trailing `/`, no empty, `.` or `..` segment.
///
/// The same keys are then safe as file paths under the local store's
/// directory, as S3 keys, and verbatim in URL paths.
pub(crate) fn validate_key(key: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::BadKey {
            key: shorten(key),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > MAX_KEY_LEN {
        return bad("longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return bad("starts with '/'");
    }
    if key.ends_with('/') {
        return bad("ends with '/'");
    }
    if key.contains('\\') {
        return bad("contains a backslash");
    }
    if !key.bytes().all(is_key_byte) {
        return bad("only ASCII letters, digits and '/', '.', '_', '-' are allowed");
    }
    for segment in key.split('/') {
        match segment {
            "" => return bad("contains an empty segment ('//')"),
            "." | ".." => return bad("contains a '.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a list prefix: empty (everything) or a key's beginning, which may
/// end with `/`.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), StoreError> {
    if prefix.is_empty() {
        return Ok(());
    }
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    validate_key(trimmed).map_err(|error| match error {
        StoreError::BadKey { reason, .. } => StoreError::BadKey {
            key: shorten(prefix),
            reason,
        },
        other => other,
    })
}

fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'.' | b'_' | b'-')
}

/// Keeps error messages bounded when a caller passes a huge bogus key.
fn shorten(key: &str) -> String {
    const SHOWN: usize = 120;
    if key.len() <= SHOWN {
        return key.to_owned();
    }
    let mut end = SHOWN;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &key[..end])
}

/// A content type must be a plausible MIME type that fits in an HTTP header.
fn validate_content_type(content_type: &str) -> Result<(), StoreError> {
    let ok = !content_type.is_empty()
        && content_type.len() <= 200
        && content_type.contains('/')
        && content_type
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ');
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadContentType {
            content_type: shorten(content_type),
        })
    }
}

fn validate_ttl(ttl: Duration) -> Result<(), StoreError> {
    if ttl.as_secs() == 0 || ttl > MAX_PRESIGN_TTL {
        return Err(StoreError::BadTtl {
            ttl_secs: ttl.as_secs(),
        });
    }
    Ok(())
}

/// What [`ObjectStore::head`] tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Bytes.
    pub size: u64,
    pub content_type: String,
}

/// Tries of one S3 call that fails transiently.
const S3_TRIES: u32 = 3;

/// S3 and R2 answer a 500 `InternalError` or a 503 `SlowDown` now and then,
/// and both ask clients to retry with back-off: a call that fails
/// transiently is tried again after 100 ms, then 400 ms. (Streamed reads,
/// which may have written part of an object, are left to their callers.)
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = std::time::Duration::from_millis(100);
    for _ in 1..S3_TRIES {
        match call().await {
            Err(error) if error.is_transient() => {
                tracing::debug!(%error, ?delay, "S3 call failed, trying again");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            done => return done,
        }
    }
    call().await
}

/// The object store the rest of the bot uses. Cheap to clone.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    Local(LocalStore),
    S3(S3Store),
}

impl ObjectStore {
    /// Stores `bytes` under `key`, replacing any object already there.
    pub async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        validate_content_type(content_type)?;
        match self {
            ObjectStore::Local(store) => store.put(key, bytes, content_type).await,
            ObjectStore::S3(store) => {
                with_retries(|| store.put(key, bytes.clone(), content_type)).await
            }
        }
    }

    /// Reads a whole object into memory. A missing object is
    /// [`StoreError::NotFound`].
    pub async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        validate_key(key)?;
        match self {
            ObjectStore::Local(store) => store.get(key).await,
            ObjectStore::S3(store) => with_retries(|| store.get(key)).await,
        }
    }

    /// Streams an object into `writer` chunk by chunk, never holding the
    /// whole object in memory. A missing object is [`StoreError::NotFound`]
    /// and nothing is written; a failure midway may leave `writer` with a
    /// prefix of the object. The writer is flushed on success.
    pub async fn get_to_writer<W>(&self, key: &str, writer: &mut W) -> Result<(), StoreError>
    where
        W: AsyncWrite + Send + Unpin + ?Sized,
    {
        validate_key(key)?;
        match self {
            ObjectStore::Local(store) => store.get_to_writer(key, writer).await?,
            ObjectStore::S3(store) => store.get_to_writer(key, writer).await?,
        }
        writer
            .flush()
            .await
            .map_err(|source| StoreError::io("get", key, source))
    }

    /// Downloads an object into the file at `path`. The file appears only
    /// when complete (written beside it as `<path>.part`, then renamed); on
    /// failure nothing is left at `path`.
    /// A transient failure starts the download again (see `with_retries`).
    pub async fn get_to_file(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        validate_key(key)?;
        with_retries(|| self.get_to_file_once(key, path)).await
    }

    async fn get_to_file_once(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        let mut partial_name = path.as_os_str().to_owned();
        partial_name.push(".part");
        let partial_path = std::path::PathBuf::from(partial_name);
        let result = async {
            let mut file = tokio::fs::File::create(&partial_path)
                .await
                .map_err(|source| StoreError::io("get", key, source))?;
            self.get_to_writer(key, &mut file).await?;
            file.sync_all()
                .await
                .map_err(|source| StoreError::io("get", key, source))?;
            drop(file);
            tokio::fs::rename(&partial_path, path)
                .await
                .map_err(|source| StoreError::io("get", key, source))
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&partial_path).await;
        }
        result
    }

    /// The size and content type of an object, without reading it. A
    /// missing object is [`StoreError::NotFound`].
    pub async fn head(&self, key: &str) -> Result<ObjectInfo, StoreError> {
        validate_key(key)?;
        match self {
            ObjectStore::Local(store) => store.head(key).await,
            ObjectStore::S3(store) => with_retries(|| store.head(key)).await,
        }
    }

    /// Deletes an object. Deleting a missing object succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        match self {
            ObjectStore::Local(store) => store.delete(key).await,
            ObjectStore::S3(store) => with_retries(|| store.delete(key)).await,
        }
    }

    /// Every key that starts with `prefix` (all pages), sorted. An empty
    /// prefix lists the whole store.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        validate_prefix(prefix)?;
        let mut keys = match self {
            ObjectStore::Local(store) => store.list(prefix).await?,
            ObjectStore::S3(store) => with_retries(|| store.list(prefix)).await?,
        };
        // Real S3 already filters by prefix; some S3-compatible servers treat
        // `avatars/a1/` as matching `avatars/a10/…`, so filter again.
        keys.retain(|key| key.starts_with(prefix));
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// A URL that anyone can GET without credentials until `ttl` has passed.
    /// Used to hand reference photos to Kie. `ttl` counts in whole seconds,
    /// from 1 s to [`MAX_PRESIGN_TTL`] (S3's limits); the URL may stop working
    /// up to one second early, since its start is rounded down to the second.
    pub async fn presign_get(&self, key: &str, ttl: Duration) -> Result<Url, StoreError> {
        validate_key(key)?;
        validate_ttl(ttl)?;
        match self {
            ObjectStore::Local(store) => store.presign_get(key, ttl),
            ObjectStore::S3(store) => store.presign_get(key, ttl).await,
        }
    }
}

impl From<LocalStore> for ObjectStore {
    fn from(store: LocalStore) -> ObjectStore {
        ObjectStore::Local(store)
    }
}

impl From<S3Store> for ObjectStore {
    fn from(store: S3Store) -> ObjectStore {
        ObjectStore::S3(store)
    }
}
