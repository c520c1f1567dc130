//! ZIP archives of an avatar's portraits ("Download as ZIP" in the gallery).
//!
//! A handler only queues an [`Outgoing::ZipRequest`]. The delivery step plans
//! it here: every portrait's size comes from the object store (HEAD, no
//! download), the portraits are cut, in order, into parts that each stay
//! under `gallery.zip_part_max_bytes` (Telegram takes at most 50 MB from a
//! bot), and one [`Outgoing::ZipPart`] row is queued per part. Sending a part
//! builds its archive into a temporary file under `gallery.zip_dir`, entry by
//! entry, each streamed from the store straight into the file (stored, not
//! recompressed: PNG and JPEG are compressed already), uploads the file and
//! removes it. A restart simply builds the part again.

use std::io::{Seek, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use zip::write::SimpleFileOptions;

use crate::chat::outbox::{Outgoing, ZipEntry};
use crate::i18n::{Arg, Lang, tr_args};
use crate::store::{ObjectStore, StoreError};

/// An upper bound of what a ZIP adds per stored entry besides its name and
/// data: the local header (30), the central directory record (46), ZIP64 and
/// timestamp extra fields in both, and a data descriptor; generous on purpose.
const ENTRY_OVERHEAD: u64 = 256;
/// An upper bound of the end of the archive (end of central directory, ZIP64
/// records and locator).
const ARCHIVE_OVERHEAD: u64 = 1024;

/// The most bytes one entry can add to an archive.
pub fn entry_cost(size: u64, name: &str) -> u64 {
    size + ENTRY_OVERHEAD + 2 * name.len() as u64
}

#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("object store: {0}")]
    Store(#[from] StoreError),
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("temporary archive file: {0}")]
    Io(#[from] std::io::Error),
    #[error("portrait {name} ({size} bytes) does not fit in a ZIP of at most {limit} bytes")]
    EntryTooLarge { name: String, size: u64, limit: u64 },
    #[error("the archive came out at {size} bytes, over the limit of {limit}")]
    ArchiveTooLarge { size: u64, limit: u64 },
    #[error("avatar {avatar_id} has no portraits to archive")]
    Empty { avatar_id: i64 },
    #[error("building the archive stopped: {0}")]
    Join(String),
}

impl ZipError {
    /// True when trying again cannot help (the data itself does not fit).
    pub(crate) fn is_permanent(&self) -> bool {
        match self {
            ZipError::EntryTooLarge { .. }
            | ZipError::ArchiveTooLarge { .. }
            | ZipError::Empty { .. } => true,
            ZipError::Store(error) => error.is_not_found(),
            _ => false,
        }
    }
}

/// Cuts entries of the given costs (see [`entry_cost`]), in order, into
/// consecutive parts of at most `limit` bytes each. An entry that cannot fit
/// even alone is an error naming its index.
pub fn plan_parts(costs: &[u64], limit: u64) -> Result<Vec<Range<usize>>, usize> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut used = ARCHIVE_OVERHEAD;
    for (i, &cost) in costs.iter().enumerate() {
        if ARCHIVE_OVERHEAD + cost > limit {
            return Err(i);
        }
        if used + cost > limit {
            parts.push(start..i);
            start = i;
            used = ARCHIVE_OVERHEAD;
        }
        used += cost;
    }
    if start < costs.len() {
        parts.push(start..costs.len());
    }
    Ok(parts)
}

/// The file extension of a stored portrait: from its content type, else its key.
fn extension(content_type: &str, key: &str) -> String {
    match content_type {
        "image/png" => "png".to_owned(),
        "image/jpeg" | "image/jpg" => "jpg".to_owned(),
        "image/webp" => "webp".to_owned(),
        _ => key
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .filter(|ext| !ext.is_empty() && ext.len() <= 5)
            .unwrap_or_else(|| "png".to_owned()),
    }
}

/// The document's name: `portraits.zip`, or `portraits-part2.zip` of several.
pub(crate) fn file_name(part: u32, parts: u32) -> String {
    if parts <= 1 {
        "portraits.zip".to_owned()
    } else {
        format!("portraits-part{part}.zip")
    }
}

/// Plans the archive of `portraits` (id, object key), in order: the parts to
/// queue, each with its entries, name and caption in `lang`.
pub(crate) async fn plan(
    store: &ObjectStore,
    avatar_id: i64,
    portraits: &[(i64, String)],
    limit: u64,
    lang: Lang,
) -> Result<Vec<Outgoing>, ZipError> {
    if portraits.is_empty() {
        return Err(ZipError::Empty { avatar_id });
    }
    let width = portraits.len().to_string().len().max(2);
    let mut entries = Vec::with_capacity(portraits.len());
    let mut costs = Vec::with_capacity(portraits.len());
    for (i, (portrait_id, key)) in portraits.iter().enumerate() {
        let info = store.head(key).await?;
        let name = format!(
            "portrait-{:0width$}.{}",
            i + 1,
            extension(&info.content_type, key)
        );
        costs.push(entry_cost(info.size, &name));
        entries.push((
            ZipEntry {
                portrait_id: *portrait_id,
                object_key: key.clone(),
                name,
            },
            info.size,
        ));
    }
    let ranges = plan_parts(&costs, limit).map_err(|i| ZipError::EntryTooLarge {
        name: entries[i].0.name.clone(),
        size: entries[i].1,
        limit,
    })?;
    let parts = ranges.len() as u32;
    let total = tr_args(lang, "portraits", &[("count", portraits.len().into())]);
    Ok(ranges
        .into_iter()
        .enumerate()
        .map(|(i, range)| {
            let part = i as u32 + 1;
            let caption = if parts == 1 {
                tr_args(
                    lang,
                    "gallery-zip-caption",
                    &[("portraits", Arg::Str(&total))],
                )
            } else {
                tr_args(
                    lang,
                    "gallery-zip-part-caption",
                    &[
                        ("portraits", Arg::Str(&total)),
                        ("part", part.into()),
                        ("parts", parts.into()),
                    ],
                )
            };
            Outgoing::ZipPart {
                avatar_id,
                part,
                parts,
                file_name: file_name(part, parts),
                caption,
                entries: entries[range].iter().map(|(e, _)| e.clone()).collect(),
            }
        })
        .collect())
}

/// Where the archive of a queued message is built (one file per queue row,
/// so a retry overwrites its own leftovers).
pub fn work_path(dir: &Path, queue_id: i64) -> PathBuf {
    dir.join(format!("queue-{queue_id}.zip"))
}

/// Removes archives a killed process left behind (at start-up, before the
/// side task runs).
pub(crate) fn clear_work_dir(dir: &Path) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in listing.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("queue-") && name.ends_with(".zip") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An `AsyncWrite` over a blocking writer, for use on a blocking thread only
/// (inside `spawn_blocking`): each write completes at once.
struct BlockingWrite<'a, W>(&'a mut W);

impl<W: Write + Unpin> AsyncWrite for BlockingWrite<'_, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().0.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().0.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The ZIP timestamp of the entries (UTC; the format has no time zone).
fn zip_time(unix_ms: i64) -> zip::DateTime {
    use chrono::{Datelike, Timelike};
    chrono::DateTime::from_timestamp_millis(unix_ms)
        .and_then(|t| {
            zip::DateTime::from_date_and_time(
                u16::try_from(t.year()).ok()?,
                t.month() as u8,
                t.day() as u8,
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
            )
            .ok()
        })
        .unwrap_or_default()
}

/// Builds the archive of `entries` at `path`: each object is streamed from
/// the store into its stored (uncompressed) entry, so memory holds a buffer,
/// never a portrait or the archive. Returns the archive's size. On an error
/// the caller removes the file.
pub async fn build(
    store: &ObjectStore,
    entries: &[ZipEntry],
    path: &Path,
    modified_ms: i64,
) -> Result<u64, ZipError> {
    let handle = tokio::runtime::Handle::current();
    let store = store.clone();
    let entries = entries.to_vec();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || -> Result<u64, ZipError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(&path)?);
        let mut zip = zip::ZipWriter::new(file);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip_time(modified_ms));
        for entry in &entries {
            zip.start_file(entry.name.as_str(), options)?;
            // This thread belongs to the blocking pool: waiting here is fine,
            // and the store's I/O runs on the runtime meanwhile.
            handle
                .block_on(store.get_to_writer(&entry.object_key, &mut BlockingWrite(&mut zip)))?;
        }
        let mut file = zip.finish()?;
        file.flush()?;
        let size = file.stream_position()?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(size)
    })
    .await
    .map_err(|e| ZipError::Join(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_order_and_stay_under_the_limit() {
        let limit = 10_000;
        let costs = [3_000, 3_000, 3_000, 3_000, 500, 8_900];
        let parts = plan_parts(&costs, limit).unwrap();
        assert_eq!(parts, vec![0..2, 2..5, 5..6]);
        for range in &parts {
            let used: u64 = costs[range.clone()].iter().sum::<u64>() + ARCHIVE_OVERHEAD;
            assert!(used <= limit, "{range:?} uses {used}");
        }
        let all: Vec<usize> = parts.into_iter().flatten().collect();
        assert_eq!(all, (0..costs.len()).collect::<Vec<_>>());
    }

    #[test]
    fn everything_in_one_part_when_it_fits() {
        assert_eq!(
            plan_parts(&[100, 200, 300], 50_000_000).unwrap(),
            vec![0..3]
        );
        assert_eq!(plan_parts(&[], 1_000).unwrap(), Vec::<Range<usize>>::new());
    }

    #[test]
    fn an_entry_too_large_for_any_part_is_named() {
        assert_eq!(plan_parts(&[100, 9_500, 100], 10_000), Err(1));
    }

    #[test]
    fn names() {
        assert_eq!(file_name(1, 1), "portraits.zip");
        assert_eq!(file_name(2, 3), "portraits-part2.zip");
        assert_eq!(extension("image/jpeg", "a/b.png"), "jpg");
        assert_eq!(extension("application/octet-stream", "a/b.PNG"), "png");
    }
}
