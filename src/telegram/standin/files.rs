//! Files on the stand-in's "servers": stored under the data directory, named by content.
//!
//! Like Telegram, every upload gets a fresh `file_id` but the same bytes always get the same
//! `file_unique_id`. Photos are decoded with the `image` crate: the original is kept as the
//! largest size and smaller JPEG sizes are generated from it.

use std::{
    io::Cursor,
    path::{Path, PathBuf},
};

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use image::{GenericImageView, ImageFormat};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::model::DocumentInfo;

/// The largest photo Telegram accepts as an upload (10 MiB).
pub(crate) const MAX_PHOTO_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// The largest file a bot may upload (50 MiB).
pub(crate) const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;
/// The largest file a bot may download through `getFile` (20 MiB).
pub(crate) const MAX_DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// The longest sides of the smaller sizes generated for every photo.
const PHOTO_SIZE_LIMITS: [u32; 3] = [90, 320, 800];

/// What a stored file is, which decides how it may be re-sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Photo,
    Document,
    Sticker,
    Video,
}

impl FileKind {
    fn file_id_prefix(self) -> &'static str {
        match self {
            FileKind::Photo => "AgACAgIAAxkBAA",
            FileKind::Document => "BQACAgIAAxkBAA",
            FileKind::Sticker => "CAACAgIAAxkBAA",
            FileKind::Video => "BAACAgIAAxkBAA",
        }
    }

    fn folder(self) -> &'static str {
        match self {
            FileKind::Photo => "photos",
            FileKind::Document => "documents",
            FileKind::Sticker => "stickers",
            FileKind::Video => "videos",
        }
    }

    /// The name Telegram uses in "can't use file of type X as Y".
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            FileKind::Photo => "Photo",
            FileKind::Document => "Document",
            FileKind::Sticker => "Sticker",
            FileKind::Video => "Video",
        }
    }
}

/// Bytes written to disk, not yet given a `file_id`.
#[derive(Clone, Debug)]
pub(crate) struct PreparedFile {
    pub(crate) file_unique_id: String,
    pub(crate) disk_path: PathBuf,
    pub(crate) size: u64,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) extension: String,
}

/// A file known by `file_id`.
#[derive(Clone, Debug)]
pub(crate) struct StoredFile {
    pub(crate) file_id: String,
    pub(crate) file_unique_id: String,
    pub(crate) kind: FileKind,
    /// The relative path handed out by `getFile`, e.g. `photos/file_3.jpg`.
    pub(crate) file_path: String,
    pub(crate) disk_path: PathBuf,
    pub(crate) size: u64,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) file_name: Option<String>,
    pub(crate) mime_type: Option<String>,
}

impl StoredFile {
    /// The file as a message's `document`.
    pub(crate) fn document_info(&self) -> DocumentInfo {
        DocumentInfo {
            file_id: self.file_id.clone(),
            file_unique_id: self.file_unique_id.clone(),
            file_name: self.file_name.clone(),
            mime_type: self.mime_type.clone(),
            file_size: self.size,
        }
    }

    /// The file's bytes as a download: 200 with its MIME type
    /// (`application/octet-stream` when unknown).
    pub(crate) async fn download(&self) -> std::io::Result<Response> {
        let bytes = tokio::fs::read(&self.disk_path).await?;
        let content_type = self
            .mime_type
            .as_deref()
            .unwrap_or("application/octet-stream");
        let mut response = (StatusCode::OK, bytes).into_response();
        if let Ok(value) = HeaderValue::from_str(content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        Ok(response)
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error("file must be non-empty")]
    Empty,
    #[error("file of size {0} bytes is too big for a photo; the maximum size is 10485760 bytes")]
    PhotoTooBig(usize),
    #[error("IMAGE_PROCESS_FAILED")]
    ImageProcessFailed,
    #[error("PHOTO_INVALID_DIMENSIONS")]
    PhotoInvalidDimensions,
    #[error("could not store the file: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes bytes as unpadded URL-safe base64, the alphabet of Telegram's ids.
pub(crate) fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk[0]);
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        let symbols = chunk.len() + 1;
        for index in 0..symbols {
            let shift = 18 - 6 * index;
            out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
        }
    }
    out
}

/// A fresh `file_id` for a file of this kind.
pub(crate) fn new_file_id(kind: FileKind) -> String {
    let mut random = [0u8; 36];
    rand::rng().fill_bytes(&mut random);
    format!("{}{}", kind.file_id_prefix(), base64_url(&random))
}

/// The `file_unique_id` of some content: the same bytes and tag always give the same id.
pub(crate) fn unique_id_for(tag: &str, bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tag.as_bytes());
    hasher.update([0u8]);
    hasher.update(bytes);
    let digest = hasher.finalize();
    format!("AQAD{}", base64_url(&digest[..12]))
}

/// The relative `file_path` of the n-th file of a kind.
pub(crate) fn file_path_for(kind: FileKind, number: u64, extension: &str) -> String {
    format!("{}/file_{number}.{extension}", kind.folder())
}

fn write_once(
    files_dir: &Path,
    file_unique_id: &str,
    extension: &str,
    bytes: &[u8],
) -> Result<PathBuf, std::io::Error> {
    std::fs::create_dir_all(files_dir)?;
    let disk_path = files_dir.join(format!("{file_unique_id}.{extension}"));
    if !disk_path.exists() {
        // A temporary name of its own: two users may send the same bytes at
        // once, and both then write (the same content) and rename.
        let temporary = files_dir.join(format!(
            "{file_unique_id}.{extension}.{:016x}.partial",
            rand::random::<u64>()
        ));
        std::fs::write(&temporary, bytes)?;
        std::fs::rename(&temporary, &disk_path)?;
    }
    Ok(disk_path)
}

/// Stores any file as-is (documents, videos, stickers). Blocking: run it off the executor.
pub(crate) fn prepare_plain_file(
    files_dir: &Path,
    tag: &str,
    bytes: &[u8],
    extension: &str,
) -> Result<PreparedFile, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    let file_unique_id = unique_id_for(tag, bytes);
    let disk_path = write_once(files_dir, &file_unique_id, extension, bytes)?;
    Ok(PreparedFile {
        file_unique_id,
        disk_path,
        size: bytes.len() as u64,
        width: 0,
        height: 0,
        extension: extension.to_owned(),
    })
}

/// Decodes a photo and stores it in several sizes, smallest first; the original is the
/// largest. Blocking: run it off the executor.
pub(crate) fn prepare_photo(
    files_dir: &Path,
    bytes: &[u8],
) -> Result<Vec<PreparedFile>, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if bytes.len() > MAX_PHOTO_UPLOAD_BYTES {
        return Err(FileError::PhotoTooBig(bytes.len()));
    }
    let format = image::guess_format(bytes).map_err(|_| FileError::ImageProcessFailed)?;
    let decoded = image::load_from_memory_with_format(bytes, format)
        .map_err(|_| FileError::ImageProcessFailed)?;
    let (width, height) = decoded.dimensions();
    if width == 0 || height == 0 {
        return Err(FileError::ImageProcessFailed);
    }
    let (long_side, short_side) = (width.max(height), width.min(height));
    if u64::from(width) + u64::from(height) > 10_000 || long_side > short_side.saturating_mul(20) {
        return Err(FileError::PhotoInvalidDimensions);
    }

    let mut sizes = Vec::new();
    for limit in PHOTO_SIZE_LIMITS {
        if long_side <= limit {
            break;
        }
        let smaller = decoded.thumbnail(limit, limit).to_rgb8();
        let mut encoded = Cursor::new(Vec::new());
        smaller
            .write_to(&mut encoded, ImageFormat::Jpeg)
            .map_err(|_| FileError::ImageProcessFailed)?;
        let encoded = encoded.into_inner();
        let file_unique_id = unique_id_for(&format!("photo-{limit}"), bytes);
        let disk_path = write_once(files_dir, &file_unique_id, "jpg", &encoded)?;
        sizes.push(PreparedFile {
            file_unique_id,
            disk_path,
            size: encoded.len() as u64,
            width: smaller.width(),
            height: smaller.height(),
            extension: "jpg".to_owned(),
        });
    }

    let extension = format
        .extensions_str()
        .first()
        .copied()
        .unwrap_or("jpg")
        .to_owned();
    let file_unique_id = unique_id_for("photo-original", bytes);
    let disk_path = write_once(files_dir, &file_unique_id, &extension, bytes)?;
    sizes.push(PreparedFile {
        file_unique_id,
        disk_path,
        size: bytes.len() as u64,
        width,
        height,
        extension,
    });
    Ok(sizes)
}

/// Reads an image's dimensions without failing the caller (for documents that are images).
pub(crate) fn image_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let format = image::guess_format(bytes).ok()?;
    let reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    reader.into_dimensions().ok()
}

/// A MIME type guessed from a file name's extension, as Telegram does for documents.
pub(crate) fn mime_type_for(file_name: &str) -> &'static str {
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase());
    match extension.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("heic") => "image/heic",
        Some("pdf") => "application/pdf",
        Some("zip") => "application/zip",
        Some("txt") => "text/plain",
        Some("mp4") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The extension to store a file under, from its name or MIME type.
pub(crate) fn extension_for(file_name: Option<&str>, mime_type: Option<&str>) -> String {
    if let Some((_, extension)) = file_name.and_then(|name| name.rsplit_once('.')) {
        let clean: String = extension
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(8)
            .collect();
        if !clean.is_empty() {
            return clean.to_ascii_lowercase();
        }
    }
    match mime_type {
        Some("image/jpeg") => "jpg",
        Some("image/png") => "png",
        Some("image/webp") => "webp",
        Some("application/pdf") => "pdf",
        Some("application/zip") => "zip",
        Some("video/mp4") => "mp4",
        _ => "bin",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_url_matches_the_standard_alphabet_without_padding() {
        assert_eq!(base64_url(b"Man"), "TWFu");
        assert_eq!(base64_url(b"Ma"), "TWE");
        assert_eq!(base64_url(b"M"), "TQ");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn the_same_bytes_give_the_same_unique_id() {
        assert_eq!(
            unique_id_for("photo", b"abc"),
            unique_id_for("photo", b"abc")
        );
        assert_ne!(
            unique_id_for("photo", b"abc"),
            unique_id_for("photo", b"abd")
        );
    }
}
