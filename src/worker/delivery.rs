//! The delivery step: drains the persistent message queue into Telegram.
//!
//! A row is claimed (leased) before it is sent and marked sent after, so a
//! crash re-sends at most the one message in flight, never a whole queue.
//! 429 `retry_after` is obeyed exactly; a user who blocked the bot fails all
//! of their pending rows at once, with the reason, instead of retrying into
//! a wall. Non-essential rows (reminders) to a user who sent /stop are
//! failed with the reason instead of sent.

use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{
    ChatId, FileId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, InputMedia,
    InputMediaPhoto, MessageId,
};
use tracing::{info, warn};

use super::WorkerCtx;
use crate::chat::outbox::{self, AlbumPhoto, Button, Outgoing};
use crate::db::queue::QueuedMessage;
use crate::db::{portraits, queue, users};

/// When each chat may receive its next queued message. Telegram counts every
/// photo of an album against the per-chat limit (so does `chat::paced`); after
/// an album the chat's next row is postponed rather than held in a send.
#[derive(Default)]
pub(crate) struct Pacing {
    ready_at: std::sync::Mutex<std::collections::HashMap<i64, i64>>,
}

impl Pacing {
    fn ready_at(&self, chat_id: i64) -> i64 {
        let map = self.ready_at.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&chat_id).copied().unwrap_or(0)
    }

    fn after_album(&self, chat_id: i64, photos: usize, per_sec: u32, now: i64) {
        let extra = (photos.saturating_sub(1) as i64) * 1000 / i64::from(per_sec.max(1));
        let mut map = self.ready_at.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, at| *at > now);
        map.insert(chat_id, now + extra);
    }
}

/// Messages sent per round.
const BATCH: u32 = 8;
/// How long a claimed row stays leased to this sender.
const LEASE_MS: i64 = 120_000;

pub(crate) fn keyboard(rows: &[Vec<Button>]) -> Option<InlineKeyboardMarkup> {
    if rows.is_empty() {
        return None;
    }
    let rows = rows.iter().map(|row| {
        row.iter()
            .filter_map(|button| match button {
                Button::Callback { text, data } => {
                    Some(InlineKeyboardButton::callback(text.clone(), data.clone()))
                }
                Button::Url { text, url } => url::Url::parse(url)
                    .ok()
                    .map(|url| InlineKeyboardButton::url(text.clone(), url)),
            })
            .collect::<Vec<_>>()
    });
    Some(InlineKeyboardMarkup::new(rows))
}

/// What a successful send produced: message ids, and the file_id of every
/// portrait in order (for re-sending without upload).
struct Sent {
    message_ids: Vec<i32>,
    portrait_file_ids: Vec<(i64, String)>,
    /// Messages this row turned into (the parts of a planned ZIP), queued in
    /// the same transaction that marks the row sent.
    follow_ups: Vec<Outgoing>,
}

/// The incident of albums (portraits) that could not be delivered.
pub(crate) const ALBUMS_FAILING: &str = "albums_failing";

pub(crate) async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let claimed = ctx
        .db
        .run(move |c| {
            // A user who sent /stop gets no non-essential message (reminders);
            // essential ones (payments, portraits, refunds) still go.
            queue::skip_non_essential_for_stopped(c, outbox::SKIPPED_STOPPED)?;
            queue::claim_due(c, now, LEASE_MS, BATCH)
        })
        .await?;
    let count = claimed.len();
    for row in claimed {
        // The row's class goes with its sends (`chat::paced`).
        let priority = crate::chat::paced::Priority::from_rank(row.priority);
        crate::chat::paced::with_priority(priority, deliver(ctx, row, now)).await?;
    }
    Ok(count)
}

/// One claimed row: postponed while its chat is paced after an album,
/// failed when unreadable, otherwise sent and the outcome recorded.
async fn deliver(ctx: &WorkerCtx, row: QueuedMessage, now: i64) -> anyhow::Result<()> {
    let (id, chat_id) = (row.id, row.chat_id);
    let ready_at = ctx.pacing.ready_at(chat_id);
    if ready_at > now {
        ctx.db
            .run(move |c| queue::postpone(c, id, ready_at))
            .await?;
        return Ok(());
    }
    let message = match outbox::decode(&row.payload) {
        Ok(message) => message,
        Err(error) => {
            warn!(queue_id = id, chat_id, %error, "unreadable queued message");
            let e = format!("unreadable payload: {error}");
            let now = ctx.clock.now_ms();
            ctx.db
                .run(move |c| queue::mark_failed(c, id, &e, now))
                .await?;
            return Ok(());
        }
    };
    match send(ctx, id, chat_id, &message).await {
        Ok(sent) => record_sent(ctx, &row, &message, sent).await,
        Err(SendError::Telegram(RequestError::RetryAfter(wait))) => {
            crate::ops::metrics::telegram_retry_after();
            let next = ctx.clock.now_ms() + wait.duration().as_millis() as i64;
            warn!(
                queue_id = id,
                chat_id,
                retry_after_s = wait.seconds(),
                "Telegram asked to wait"
            );
            ctx.db
                .run(move |c| queue::mark_retry(c, id, "429 Too Many Requests", next, false))
                .await?;
            Ok(())
        }
        Err(SendError::Telegram(RequestError::Api(api)))
            if matches!(
                api,
                teloxide::ApiError::BotBlocked
                    | teloxide::ApiError::UserDeactivated
                    | teloxide::ApiError::ChatNotFound
                    | teloxide::ApiError::BotKicked
            ) =>
        {
            let reason = api.to_string();
            warn!(queue_id = id, chat_id, %reason, "chat unreachable, its pending messages are failed");
            let at = ctx.clock.now_ms();
            ctx.db
                .run(move |c| {
                    users::mark_blocked(c, chat_id, at)?;
                    queue::fail_all_for_chat(c, chat_id, &reason)?;
                    Ok(())
                })
                .await?;
            Ok(())
        }
        Err(error) => send_failed(ctx, &row, &message, error).await,
    }
}

/// Portraits (albums and ZIPs of them): their failing is one admin incident.
fn is_portraits(message: &Outgoing) -> bool {
    matches!(
        message,
        Outgoing::Album { .. } | Outgoing::ZipRequest { .. } | Outgoing::ZipPart { .. }
    )
}

/// Telegram has the message: the row is marked sent with its message ids,
/// the portraits' file_ids are kept, its follow-ups queued. The record must
/// not be lost to a passing database error, or the row would be sent again
/// when its lease ends: retried until it is written.
async fn record_sent(
    ctx: &WorkerCtx,
    row: &QueuedMessage,
    message: &Outgoing,
    sent: Sent,
) -> anyhow::Result<()> {
    let (id, chat_id) = (row.id, row.chat_id);
    let is_album = is_portraits(message);
    if sent.message_ids.len() > 1 {
        let per_sec = ctx.config.telegram.messages_per_sec_chat;
        ctx.pacing
            .after_album(chat_id, sent.message_ids.len(), per_sec, ctx.clock.now_ms());
    }
    let ids = serde_json::to_string(&sent.message_ids)?;
    let files = serde_json::to_string(
        &sent
            .portrait_file_ids
            .iter()
            .map(|(_, f)| f)
            .collect::<Vec<_>>(),
    )?;
    let record = std::sync::Arc::new((
        ids,
        files,
        sent.portrait_file_ids,
        sent.follow_ups,
        row.dedup_key.clone(),
    ));
    let mut wait = std::time::Duration::from_millis(100);
    loop {
        let record = record.clone();
        let at = ctx.clock.now_ms();
        let written = ctx
            .db
            .run(move |c| {
                let (ids, files, file_ids, follow_ups, dedup_key) = &*record;
                let tx = c.transaction()?;
                queue::mark_sent(&tx, id, ids, files, at)?;
                for (portrait_id, file_id) in file_ids {
                    portraits::set_file_id(&tx, *portrait_id, file_id)?;
                }
                for (i, follow_up) in follow_ups.iter().enumerate() {
                    let key = format!("{dedup_key}:part{}", i + 1);
                    super::queue_essential(&tx, chat_id, follow_up, &key, at)?;
                }
                if is_album {
                    super::alerts::resolve(&tx, ALBUMS_FAILING, at)?;
                }
                tx.commit()
            })
            .await;
        match written {
            Ok(()) => break,
            Err(error) => {
                warn!(queue_id = id, chat_id, %error, "a sent message could not be recorded yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
    info!(queue_id = id, chat_id, dedup_key = %row.dedup_key, "message sent");
    Ok(())
}

/// A send that failed otherwise: retried on a back-off, or, after
/// `delivery_max_attempts` (or a ZIP that can never be built), failed for
/// good — the user told of a ZIP that will not come, the admins of portraits
/// that did not reach the user.
async fn send_failed(
    ctx: &WorkerCtx,
    row: &QueuedMessage,
    message: &Outgoing,
    error: SendError,
) -> anyhow::Result<()> {
    let (id, chat_id, attempts) = (row.id, row.chat_id, row.attempts + 1);
    let reason = error.to_string();
    let permanent = matches!(&error, SendError::Zip(e) if e.is_permanent());
    if attempts < ctx.config.worker.delivery_max_attempts && !permanent {
        let backoff = 1_000i64 << attempts.min(8);
        let uncertain = error.is_uncertain();
        if uncertain {
            crate::ops::metrics::telegram_uncertain_send();
        }
        warn!(queue_id = id, chat_id, attempts, uncertain, %reason, "send failed, will retry");
        let next = ctx.clock.now_ms() + backoff;
        ctx.db
            .run(move |c| queue::mark_retry(c, id, &reason, next, uncertain))
            .await?;
        return Ok(());
    }
    warn!(queue_id = id, chat_id, attempts, %reason, "message failed for good");
    // Portraits that did not reach the user are an incident for the
    // admins: one incident while albums keep failing (counted and
    // summarised, not one message each), ended by the next album sent.
    let is_album = is_portraits(message);
    let admins = ctx.config.bot.admin_ids.clone();
    // A user who asked for a ZIP is told it did not come.
    let is_zip = matches!(
        message,
        Outgoing::ZipRequest { .. } | Outgoing::ZipPart { .. }
    );
    let failed_key = format!("{}:failed", row.dedup_key);
    let alert = super::alerts::Alert::DeliveryFailed {
        message: row.dedup_key.clone(),
        chat: chat_id,
        attempts: i64::from(attempts),
        error: reason.clone(),
    };
    let now = ctx.clock.now_ms();
    ctx.db
        .run(move |c| {
            queue::mark_failed(c, id, &reason, now)?;
            if is_zip {
                super::tell(c, chat_id, &failed_key, now, |lang| {
                    crate::i18n::tr(lang, "gallery-zip-failed")
                })?;
            }
            if is_album {
                super::alerts::raise(c, &admins, ALBUMS_FAILING, &alert, now)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

impl SendError {
    /// Whether Telegram may have taken the message although the send failed:
    /// the request went out and no answer came (a timeout, a connection lost
    /// after sending). An answer, even an error or a gateway's page, means
    /// it was not sent; so does a connection never made.
    fn is_uncertain(&self) -> bool {
        match self {
            SendError::Telegram(RequestError::Network(error)) => {
                error.is_timeout() || !(error.is_connect() || error.is_builder())
            }
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error(transparent)]
    Telegram(#[from] RequestError),
    #[error("object store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("database: {0}")]
    Db(#[from] crate::db::DbError),
    #[error("an album needs at least one photo")]
    EmptyAlbum,
    #[error("ZIP archive: {0}")]
    Zip(#[from] super::zip::ZipError),
}

async fn photo_input(
    ctx: &WorkerCtx,
    portrait_id: i64,
    object_key: &str,
) -> Result<InputFile, SendError> {
    let known = ctx
        .db
        .run(move |c| portraits::file_id(c, portrait_id))
        .await?;
    Ok(match known {
        Some(file_id) => InputFile::file_id(FileId(file_id)),
        None => {
            let bytes = ctx.store.get(object_key).await?;
            InputFile::memory(bytes).file_name(format!("portrait-{portrait_id}.png"))
        }
    })
}

async fn send(
    ctx: &WorkerCtx,
    queue_id: i64,
    chat_id: i64,
    message: &Outgoing,
) -> Result<Sent, SendError> {
    let chat = ChatId(chat_id);
    match message {
        Outgoing::Text { text, buttons } => {
            let mut request = ctx.bot.send_message(chat, text.clone());
            if let Some(markup) = keyboard(buttons) {
                request = request.reply_markup(markup);
            }
            Ok(Sent::one(request.await?.id.0))
        }
        Outgoing::Photo {
            object_key,
            caption,
            buttons,
        } => send_picture(ctx, chat, object_key, caption.as_deref(), buttons).await,
        Outgoing::Album { photos, caption } => {
            send_album(ctx, chat, photos, caption.as_deref()).await
        }
        Outgoing::ZipRequest { avatar_id } => plan_zip(ctx, chat_id, *avatar_id).await,
        Outgoing::ZipPart {
            avatar_id,
            part,
            parts,
            file_name,
            caption,
            entries,
        } => {
            let path = super::zip::work_path(&ctx.config.gallery.zip_dir, queue_id);
            let result = send_zip_part(ctx, chat, &path, file_name, caption, entries).await;
            // The archive is rebuilt on a retry: nothing is kept on disk.
            if let Err(error) = tokio::fs::remove_file(&path).await
                && error.kind() != std::io::ErrorKind::NotFound
            {
                warn!(path = %path.display(), %error, "could not remove a temporary archive");
            }
            let (message_id, size) = result?;
            info!(chat_id, avatar_id, part, parts, bytes = size, "ZIP sent");
            Ok(Sent::one(message_id))
        }
    }
}

impl Sent {
    /// One message, nothing else to remember.
    fn one(message_id: i32) -> Sent {
        Sent {
            message_ids: vec![message_id],
            portrait_file_ids: Vec::new(),
            follow_ups: Vec::new(),
        }
    }
}

/// One picture that is not a portrait (the free preview), uploaded from the
/// object store with its caption and buttons.
async fn send_picture(
    ctx: &WorkerCtx,
    chat: ChatId,
    object_key: &str,
    caption: Option<&str>,
    buttons: &[Vec<Button>],
) -> Result<Sent, SendError> {
    let bytes = ctx.store.get(object_key).await?;
    let name = object_key
        .rsplit('/')
        .next()
        .unwrap_or("picture.jpg")
        .to_owned();
    let mut request = ctx
        .bot
        .send_photo(chat, InputFile::memory(bytes).file_name(name));
    if let Some(caption) = caption {
        request = request.caption(caption.to_owned());
    }
    if let Some(markup) = keyboard(buttons) {
        request = request.reply_markup(markup);
    }
    Ok(Sent::one(request.await?.id.0))
}

/// An album of portraits (one photo alone is sent as a photo), each by its
/// file_id when known; remembers the file_id Telegram gives each.
async fn send_album(
    ctx: &WorkerCtx,
    chat: ChatId,
    photos: &[AlbumPhoto],
    caption: Option<&str>,
) -> Result<Sent, SendError> {
    if photos.is_empty() {
        return Err(SendError::EmptyAlbum);
    }
    let mut inputs = Vec::with_capacity(photos.len());
    for photo in photos {
        inputs.push(photo_input(ctx, photo.portrait_id, &photo.object_key).await?);
    }
    let messages = if inputs.len() == 1 {
        let mut request = ctx.bot.send_photo(chat, inputs.remove(0));
        if let Some(caption) = caption {
            request = request.caption(caption.to_owned());
        }
        vec![request.await?]
    } else {
        let media = inputs.into_iter().enumerate().map(|(i, input)| {
            let mut photo = InputMediaPhoto::new(input);
            if i == 0
                && let Some(caption) = caption
            {
                photo = photo.caption(caption.to_owned());
            }
            InputMedia::Photo(photo)
        });
        ctx.bot.send_media_group(chat, media).await?
    };
    let portrait_file_ids = photos
        .iter()
        .zip(&messages)
        .filter_map(|(photo, message)| {
            let largest = message.photo()?.iter().max_by_key(|p| p.width * p.height)?;
            Some((photo.portrait_id, largest.file.id.0.clone()))
        })
        .collect();
    Ok(Sent {
        message_ids: messages.iter().map(|m| m.id.0).collect(),
        portrait_file_ids,
        follow_ups: Vec::new(),
    })
}

/// A ZIP asked for: planned, not sent — its parts become rows of their own.
async fn plan_zip(ctx: &WorkerCtx, chat_id: i64, avatar_id: i64) -> Result<Sent, SendError> {
    let (portraits, lang) = ctx
        .db
        .run(move |c| {
            let made = portraits::for_avatar(c, avatar_id)?
                .into_iter()
                .map(|p| (p.id, p.object_key))
                .collect::<Vec<_>>();
            Ok((made, crate::chat::lang_of(c, chat_id)?))
        })
        .await?;
    let limit = ctx.config.gallery.zip_part_max_bytes;
    let parts = super::zip::plan(&ctx.store, avatar_id, &portraits, limit, lang).await?;
    info!(chat_id, avatar_id, parts = parts.len(), "ZIP planned");
    Ok(Sent {
        message_ids: Vec::new(),
        portrait_file_ids: Vec::new(),
        follow_ups: parts,
    })
}

/// Builds one part's archive at `path` and sends it as a document; returns
/// the message id and the archive's size.
async fn send_zip_part(
    ctx: &WorkerCtx,
    chat: ChatId,
    path: &std::path::Path,
    file_name: &str,
    caption: &str,
    entries: &[outbox::ZipEntry],
) -> Result<(i32, u64), SendError> {
    let size = super::zip::build(&ctx.store, entries, path, ctx.clock.now_ms()).await?;
    let limit = ctx.config.gallery.zip_part_max_bytes;
    if size > limit {
        return Err(super::zip::ZipError::ArchiveTooLarge { size, limit }.into());
    }
    let document = InputFile::file(path.to_owned()).file_name(file_name.to_owned());
    let sent = upload_bot(ctx)?
        .send_document(chat, document)
        .caption(caption.to_owned())
        .await?;
    Ok((sent.id.0, size))
}

/// How long uploading one archive (up to 50 MB) may take.
const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// The bot with an HTTP client that gives a large upload time: the usual
/// client allows only the long-polling timeout plus a little. (Telegram's
/// pacing is kept by the delivery loop itself.)
fn upload_bot(ctx: &WorkerCtx) -> Result<teloxide::Bot, SendError> {
    let bot = ctx.bot.inner().inner();
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(UPLOAD_TIMEOUT)
        .build()
        .map_err(|e| SendError::Telegram(RequestError::Network(std::sync::Arc::new(e))))?;
    Ok(teloxide::Bot::with_client(bot.token(), client).set_api_url(bot.api_url()))
}

/// Edits a progress message in place (best effort: progress is not essential,
/// and an edit that fails is simply superseded by the next one).
pub(crate) async fn edit_text(ctx: &WorkerCtx, chat_id: i64, message_id: i32, text: String) {
    if let Err(error) = ctx
        .bot
        .edit_message_text(ChatId(chat_id), MessageId(message_id), text)
        .await
    {
        tracing::debug!(chat_id, message_id, %error, "progress edit skipped");
    }
}
