//! The S3 backend (rust-s3): path-style requests to any S3-compatible
//! endpoint. With Cloudflare R2 the region is `auto` and the endpoint is
//! `https://<account-id>.r2.cloudflarestorage.com`.
//!
//! rust-s3 is built with `fail-on-err`, so every non-2xx answer arrives as
//! `S3Error::HttpFailWithBody(status, body)`; [`map_s3_error`] turns it into
//! a [`StoreError`] that keeps only the status and the body's `Code` and
//! `Message`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use s3::Bucket;
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::region::Region;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::AsyncWrite;
use url::Url;

use super::StoreError;
use crate::config::{Secrets, StorageConfig};

/// Everything [`S3Store::new`] needs.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Scheme, host and port only, e.g. `https://<account>.r2.cloudflarestorage.com`.
    pub endpoint: Url,
    /// `auto` for R2.
    pub region: String,
    pub bucket: String,
    pub access_key: SecretString,
    pub secret_key: SecretString,
    /// Limit for one whole request, body included.
    pub timeout: Duration,
}

impl S3Settings {
    /// Builds the settings from the `[storage]` section and the secrets.
    /// Missing credentials are a [`StoreError::Config`].
    pub(crate) fn from_config(
        storage: &StorageConfig,
        secrets: &Secrets,
        timeout: Duration,
    ) -> Result<S3Settings, StoreError> {
        let missing = |name: &str| StoreError::Config {
            detail: format!("{name} is not set"),
        };
        Ok(S3Settings {
            endpoint: storage.s3_endpoint.clone(),
            region: storage.s3_region.clone(),
            bucket: storage.s3_bucket.clone(),
            access_key: secrets
                .s3_access_key
                .clone()
                .ok_or_else(|| missing("S3_ACCESS_KEY_ID"))?,
            secret_key: secrets
                .s3_secret_key
                .clone()
                .ok_or_else(|| missing("S3_SECRET_ACCESS_KEY"))?,
            timeout,
        })
    }
}

/// An S3 bucket. Cheap to clone.
#[derive(Clone)]
pub struct S3Store {
    bucket: Arc<Bucket>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("endpoint", &self.bucket.url())
            .field("region", &self.bucket.region().to_string())
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Configures the client; no request is made.
    pub fn new(settings: S3Settings) -> Result<S3Store, StoreError> {
        let config_error = |detail: String| StoreError::Config { detail };
        let endpoint = &settings.endpoint;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(config_error(format!(
                "S3 endpoint {endpoint} must be http or https"
            )));
        }
        let Some(host) = endpoint.host_str() else {
            return Err(config_error(format!("S3 endpoint {endpoint} has no host")));
        };
        if endpoint.path() != "/" || endpoint.query().is_some() {
            return Err(config_error(format!(
                "S3 endpoint {endpoint} must have no path or query (the bucket goes in `bucket`)"
            )));
        }
        if settings.bucket.is_empty() || settings.region.is_empty() {
            return Err(config_error("S3 bucket and region must be set".to_owned()));
        }
        if settings.timeout.is_zero() {
            return Err(config_error("S3 timeout must be positive".to_owned()));
        }
        let access_key = settings.access_key.expose_secret();
        let secret_key = settings.secret_key.expose_secret();
        if access_key.is_empty() || secret_key.is_empty() {
            // rust-s3 would fall back to the environment and ~/.aws on an
            // empty access key; refuse instead.
            return Err(config_error(
                "S3 access key and secret key must be set".to_owned(),
            ));
        }
        let endpoint_text = match endpoint.port() {
            Some(port) => format!("{}://{}:{}", endpoint.scheme(), host, port),
            None => format!("{}://{}", endpoint.scheme(), host),
        };
        let region = Region::Custom {
            region: settings.region.clone(),
            endpoint: endpoint_text,
        };
        let credentials = Credentials::new(Some(access_key), Some(secret_key), None, None, None)
            .map_err(|_| config_error("S3 credentials are not usable".to_owned()))?;
        let bucket = Bucket::new(&settings.bucket, region, credentials)
            .and_then(|bucket| {
                bucket
                    .with_path_style()
                    .with_request_timeout(settings.timeout)
            })
            .map_err(|error| config_error(format!("S3 client: {error}")))?;
        Ok(S3Store {
            bucket: Arc::from(bucket),
        })
    }

    pub(super) async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.bucket
            .put_object_with_content_type(key, &bytes, content_type)
            .await
            .map_err(|error| map_s3_error("put", key, error))?;
        tracing::debug!(key, bytes = bytes.len(), "stored object in S3");
        Ok(())
    }

    pub(super) async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let response = self
            .bucket
            .get_object(key)
            .await
            .map_err(|error| map_s3_error("get", key, error))?;
        Ok(response.into_bytes())
    }

    pub(super) async fn get_to_writer<W>(&self, key: &str, writer: &mut W) -> Result<(), StoreError>
    where
        W: AsyncWrite + Send + Unpin + ?Sized,
    {
        self.bucket
            .get_object_to_writer(key, writer)
            .await
            .map_err(|error| map_s3_error("get", key, error))?;
        Ok(())
    }

    pub(super) async fn head(&self, key: &str) -> Result<super::ObjectInfo, StoreError> {
        let (head, status) = self
            .bucket
            .head_object(key)
            .await
            .map_err(|error| map_s3_error("head", key, error))?;
        if status == 404 {
            return Err(StoreError::NotFound {
                key: key.to_owned(),
            });
        }
        let size = head
            .content_length
            .and_then(|length| u64::try_from(length).ok())
            .ok_or_else(|| StoreError::Permanent {
                operation: "head",
                key: key.to_owned(),
                detail: format!("HTTP {status} without a Content-Length"),
            })?;
        Ok(super::ObjectInfo {
            size,
            content_type: head
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
        })
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.bucket.delete_object(key).await {
            Ok(_) => {
                tracing::debug!(key, "deleted object from S3");
                Ok(())
            }
            // S3 answers 204 for a missing key; some compatible servers
            // answer NoSuchKey. Both mean the object is gone.
            Err(error) => match map_s3_error("delete", key, error) {
                StoreError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let pages = self
            .bucket
            .list(prefix.to_owned(), None)
            .await
            .map_err(|error| map_s3_error("list", prefix, error))?;
        Ok(pages
            .into_iter()
            .flat_map(|page| page.contents.into_iter().map(|object| object.key))
            .collect())
    }

    pub(super) async fn presign_get(&self, key: &str, ttl: Duration) -> Result<Url, StoreError> {
        // Checked against MAX_PRESIGN_TTL by the caller, so it fits in u32.
        let ttl_secs = u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX);
        let url = self
            .bucket
            .presign_get(key, ttl_secs, None)
            .await
            .map_err(|error| map_s3_error("presign", key, error))?;
        Url::parse(&url).map_err(|error| StoreError::Permanent {
            operation: "presign",
            key: key.to_owned(),
            detail: format!("rust-s3 built an unparsable URL: {error}"),
        })
    }
}

/// Sorts a rust-s3 error into not-found, transient and permanent, keeping
/// nothing that could hold a credential.
fn map_s3_error(operation: &'static str, key: &str, error: S3Error) -> StoreError {
    let transient = |detail: String| StoreError::Transient {
        operation,
        key: key.to_owned(),
        detail,
    };
    let permanent = |detail: String| StoreError::Permanent {
        operation,
        key: key.to_owned(),
        detail,
    };
    match error {
        S3Error::HttpFailWithBody(status, body) => {
            let code = xml_element(&body, "Code").unwrap_or_default();
            let message = xml_element(&body, "Message").unwrap_or_default();
            let detail = format!("HTTP {status} {code} {message}").trim().to_owned();
            if code == "NoSuchKey" || (status == 404 && code.is_empty()) {
                StoreError::NotFound {
                    key: key.to_owned(),
                }
            } else if matches!(status, 408 | 429 | 500..=599)
                || matches!(
                    code.as_str(),
                    "SlowDown" | "RequestTimeout" | "InternalError"
                )
            {
                transient(detail)
            } else {
                permanent(detail)
            }
        }
        S3Error::HttpFail => permanent("non-2xx HTTP answer".to_owned()),
        S3Error::Reqwest(error) => {
            // The URL carries no credential (headers do), but drop it anyway:
            // the key is already in the error.
            let is_builder = error.is_builder();
            let detail = error.without_url().to_string();
            if is_builder {
                permanent(detail)
            } else {
                transient(detail)
            }
        }
        S3Error::Io(source) => StoreError::Io {
            operation,
            key: key.to_owned(),
            source,
        },
        S3Error::MaxExpiry(secs) => StoreError::BadTtl {
            ttl_secs: u64::from(secs),
        },
        // Credentials and signing errors print the rust-s3 message, which
        // never contains the key material itself.
        other => permanent(other.to_string()),
    }
}

/// The text of the first `<name>…</name>` element, if any. S3 error bodies
/// are small flat XML documents; a full parser is not needed.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = body.find(&open)? + open.len();
    let length = body[start..].find(&close)?;
    let text = body[start..start + length].trim();
    const LONGEST: usize = 300;
    Some(text.chars().take(LONGEST).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_reduced_to_code_and_message() {
        let body = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
                    <Message>no</Message><AWSAccessKeyId>AKIA123</AWSAccessKeyId></Error>";
        let error = map_s3_error("get", "a.jpg", S3Error::HttpFailWithBody(403, body.into()));
        assert!(!error.is_transient());
        let text = error.to_string();
        assert!(text.contains("SignatureDoesNotMatch"), "{text}");
        assert!(!text.contains("AKIA123"), "{text}");
    }

    #[test]
    fn status_classes() {
        let not_found = map_s3_error(
            "get",
            "a",
            S3Error::HttpFailWithBody(404, "<Error><Code>NoSuchKey</Code></Error>".into()),
        );
        assert!(not_found.is_not_found());
        let no_bucket = map_s3_error(
            "get",
            "a",
            S3Error::HttpFailWithBody(404, "<Error><Code>NoSuchBucket</Code></Error>".into()),
        );
        assert!(!no_bucket.is_not_found() && !no_bucket.is_transient());
        let busy = map_s3_error("get", "a", S3Error::HttpFailWithBody(503, String::new()));
        assert!(busy.is_transient());
        let throttled = map_s3_error("get", "a", S3Error::HttpFailWithBody(429, String::new()));
        assert!(throttled.is_transient());
    }
}
