//! Upload: reference photos arrive as photos, albums (one update per
//! photo, sharing a `media_group_id`) or image files. Each is downloaded
//! through getFile, checked (format, size, orientation, then the
//! face-quality gate of `media::quality`: a refused photo gets its reason
//! and is neither stored nor counted), stored in the object store, then
//! recorded. One counter message is edited as photos arrive, with a Generate
//! button once the minimum is reached; if all the photos look nearly the
//! same then, one gentle message suggests variety. While the chat floods
//! (`flood.rs`), refused photos are not answered one by one.

use std::sync::Arc;

use bytes::Bytes;
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{
    FileMeta, InlineKeyboardButton, InlineKeyboardMarkup, MessageId, ReplyParameters,
};

use super::BotCtx;
use super::handlers::{Dlg, HandlerResult, Step, UserCtx};
use super::state::State;
use crate::chat::TgBot;
use crate::chat::callback::Callback;
use crate::db::{avatars, events};
use crate::i18n::{Arg, tr, tr_args};
use crate::media::{
    self, AcceptedPhoto, IntakeRules, QualityRejection, QualityReport, Rejection, quality,
};

/// How many photos are downloaded and decoded at once (one per core, at
/// least two): each holds the file and its decoded pixels in memory.
static INTAKE_TURNS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::sync::Semaphore::new(cores.max(2))
});

/// What the user sent, before any download.
enum Incoming {
    Photo(FileMeta),
    ImageFile {
        file: FileMeta,
        mime: Option<String>,
        name: Option<String>,
    },
    Refused(&'static str),
}

fn classify(msg: &Message) -> Incoming {
    if let Some(sizes) = msg.photo() {
        return match sizes
            .iter()
            .max_by_key(|p| u64::from(p.width) * u64::from(p.height))
        {
            Some(largest) => Incoming::Photo(largest.file.clone()),
            None => Incoming::Refused("upload-rejected-undecodable"),
        };
    }
    if let Some(document) = msg.document() {
        let mime = document
            .mime_type
            .as_ref()
            .map(|m| m.essence_str().to_owned());
        let name = document.file_name.clone();
        let looks_like_image = mime.as_deref().is_some_and(|m| m.starts_with("image/"))
            || name.as_deref().is_some_and(|n| {
                let n = n.to_ascii_lowercase();
                [".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"]
                    .iter()
                    .any(|ext| n.ends_with(ext))
            });
        return if looks_like_image {
            Incoming::ImageFile {
                file: document.file.clone(),
                mime,
                name,
            }
        } else {
            Incoming::Refused("upload-rejected-not-image")
        };
    }
    if msg.sticker().is_some() {
        return Incoming::Refused("unexpected-sticker");
    }
    if msg.video().is_some() || msg.animation().is_some() || msg.video_note().is_some() {
        return Incoming::Refused("upload-rejected-video");
    }
    Incoming::Refused("unexpected-media")
}

fn rejection_key(rejection: &Rejection) -> &'static str {
    match rejection {
        Rejection::Empty => "upload-rejected-empty",
        Rejection::TooLarge { .. } => "upload-rejected-too-large",
        Rejection::NotAnImage { .. } => "upload-rejected-not-image",
        Rejection::TooManyPixels { .. } => "upload-rejected-too-many-pixels",
        Rejection::Undecodable { .. } | Rejection::ReencodeFailed { .. } => {
            "upload-rejected-undecodable"
        }
        Rejection::TooSmall { .. } => "upload-rejected-too-small",
        Rejection::HeifUnsupported => "upload-rejected-heif-unsupported",
        Rejection::Quality(quality) => match quality {
            QualityRejection::NoFace => "upload-rejected-no-face",
            QualityRejection::SeveralFaces { .. } => "upload-rejected-several-faces",
            QualityRejection::FaceTooSmall { .. } => "upload-rejected-face-too-small",
            QualityRejection::Blurred { .. } => "upload-rejected-blurred",
            QualityRejection::TooDark { .. } => "upload-rejected-too-dark",
            QualityRejection::TooBright { .. } => "upload-rejected-too-bright",
        },
    }
}

pub(crate) fn intake_rules(ctx: &BotCtx) -> IntakeRules {
    IntakeRules {
        max_file_bytes: ctx.config.upload.max_file_bytes,
        min_side_px: ctx.config.upload.min_side_px,
        ..IntakeRules::default()
    }
}

/// The counter text and its keyboard for `count` accepted photos.
pub(crate) fn counter(
    ctx: &BotCtx,
    me: &UserCtx,
    avatar_id: i64,
    count: u32,
) -> (String, Option<InlineKeyboardMarkup>) {
    let lang = me.lang;
    let (min, max) = (ctx.config.upload.min_photos, ctx.config.upload.max_photos);
    let photos = tr_args(lang, "photos", &[("count", count.into())]);
    let cta = tr(lang, crate::ab::cta_key(&ctx.config, &me.assignments));
    let args = [
        ("photos", Arg::Str(&photos)),
        ("min", Arg::Num(min.into())),
        ("max", Arg::Num(max.into())),
        ("button", Arg::Str(button_name(&cta))),
    ];
    let (key, button) = if count >= max {
        ("upload-counter-full", true)
    } else if count >= min {
        ("upload-counter-enough", true)
    } else {
        ("upload-counter-more", false)
    };
    let text = tr_args(lang, key, &args);
    let markup = button.then(|| {
        InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(
            cta.clone(),
            Callback::Generate(avatar_id).encode(),
        )]])
    });
    (text, markup)
}

fn too_many(ctx: &BotCtx, me: &UserCtx, max: u32) -> String {
    let cta = tr(me.lang, crate::ab::cta_key(&ctx.config, &me.assignments));
    tr_args(
        me.lang,
        "upload-rejected-too-many",
        &[("max", max.into()), ("button", Arg::Str(button_name(&cta)))],
    )
}

/// A button's label as text refers to it: without its leading emoji.
pub(crate) fn button_name(label: &str) -> &str {
    label.trim_start_matches(|c: char| !c.is_alphanumeric())
}

/// Shows (or refreshes) the counter: edits the existing message, or sends
/// a new one when there is none yet. Returns the counter's message id.
async fn show_counter(
    step: Step<'_>,
    avatar_id: i64,
    count: u32,
    existing: Option<i32>,
) -> anyhow::Result<i32> {
    let Step { bot, chat, .. } = step;
    let (text, markup) = counter(step.ctx, step.me, avatar_id, count);
    if let Some(message_id) = existing {
        let mut edit = bot.edit_message_text(chat, MessageId(message_id), text.clone());
        if let Some(markup) = markup.clone() {
            edit = edit.reply_markup(markup);
        }
        match edit.await {
            Ok(_) => return Ok(message_id),
            Err(teloxide::RequestError::Api(teloxide::ApiError::MessageNotModified)) => {
                return Ok(message_id);
            }
            // The old counter is gone (deleted by the user): send a new one.
            Err(error) => tracing::debug!(%error, "counter edit failed, sending a new counter"),
        }
    }
    let mut send = bot.send_message(chat, text);
    if let Some(markup) = markup {
        send = send.reply_markup(markup);
    }
    Ok(send.await?.id.0)
}

/// A photo already in the set: said so, with where the set stands — the
/// count, and the Generate button once there are enough. Someone who sends
/// their photos again (the counter's update was lost, or they lost track)
/// is never left without the button.
async fn reply_duplicate(
    step: Step<'_>,
    msg: &Message,
    avatar_id: i64,
    count: u32,
) -> Result<Message, teloxide::RequestError> {
    let (counter, markup) = counter(step.ctx, step.me, avatar_id, count);
    let text = format!("{}\n{counter}", tr(step.lang(), "upload-duplicate"));
    let mut send = step
        .bot
        .send_message(msg.chat.id, text)
        .reply_parameters(ReplyParameters::new(msg.id).allow_sending_without_reply());
    if let Some(markup) = markup {
        send = send.reply_markup(markup);
    }
    send.await
}

/// Answers `msg` with `text`, quoting it (so in an album it is clear which photo is meant).
async fn reply(
    bot: &TgBot,
    msg: &Message,
    text: String,
) -> Result<Message, teloxide::RequestError> {
    bot.send_message(msg.chat.id, text)
        .reply_parameters(ReplyParameters::new(msg.id).allow_sending_without_reply())
        .await
}

/// A photo, an album item or a file while uploading.
pub(crate) async fn receive(
    bot: TgBot,
    msg: Message,
    dialogue: Dlg,
    me: UserCtx,
    ctx: Arc<BotCtx>,
    state: (i64, Option<i32>, bool),
    flood: Arc<super::flood::FloodGuard>,
) -> HandlerResult {
    let step = Step::new(&bot, msg.chat.id, &dialogue, &me, &ctx);
    let result = receive_inner(step, &msg, state, &flood).await;
    super::handlers::apologize_on_error(&bot, msg.chat.id, me.lang, result).await
}

/// Where the upload counter stands when a photo arrives (the dialogue state).
#[derive(Clone, Copy)]
struct Counter {
    avatar_id: i64,
    message_id: Option<i32>,
    /// A reply was sent below the counter: the next accepted photo sends a
    /// new counter (and deletes this one) instead of editing it.
    buried: bool,
}

/// Why a photo was not taken, decided before or after the download.
enum Refusal {
    /// Answered with this text, quoting the photo.
    Reply(String),
    /// Already in the set, which holds `count` photos.
    Duplicate(u32),
    /// The avatar is no longer this user's draft.
    NotOpen,
}

/// A photo, an album item or a file while uploading, in named steps: the
/// checks before any download, the download and the inspection, the object
/// and its row, then the counter.
async fn receive_inner(
    step: Step<'_>,
    msg: &Message,
    (avatar_id, message_id, buried): (i64, Option<i32>, bool),
    flood: &super::flood::FloodGuard,
) -> HandlerResult {
    let Step { ctx, me, .. } = step;
    let counter = Counter {
        avatar_id,
        message_id,
        buried,
    };
    let taken = match precheck(msg, me, ctx, avatar_id).await? {
        Ok(file) => match download_and_inspect(step, avatar_id, &file).await? {
            Ok(inspected) => store_photo(ctx, me, avatar_id, &file, inspected).await?,
            Err(refusal) => Err(refusal),
        },
        Err(refusal) => Err(refusal),
    };
    match taken {
        Ok((count, alike)) => show_progress(step, counter, count, alike).await,
        // In a flood the refusals go unanswered, one by one: the chat had
        // its one notice, and the counter says where the set stands.
        Err(_) if flood.is_flooding(step.chat.0) => Ok(()),
        Err(refusal) => refuse(step, msg, counter, refusal).await,
    }
}

/// A file to take: what Telegram says of it, and, for a document, its
/// declared type and name.
struct Offered {
    file: FileMeta,
    mime: Option<String>,
    name: Option<String>,
}

/// Everything decided before the download: what was sent, whether the
/// avatar is still this user's draft, a duplicate, the set full, the size
/// Telegram declares.
async fn precheck(
    msg: &Message,
    me: &UserCtx,
    ctx: &BotCtx,
    avatar_id: i64,
) -> anyhow::Result<Result<Offered, Refusal>> {
    let lang = me.lang;
    let user_id = me.user.id;
    let max = ctx.config.upload.max_photos;
    let offered = match classify(msg) {
        Incoming::Photo(file) => Offered {
            file,
            mime: None,
            name: None,
        },
        Incoming::ImageFile { file, mime, name } => Offered { file, mime, name },
        Incoming::Refused(key) => return Ok(Err(Refusal::Reply(tr(lang, key)))),
    };
    // The avatar must still be this user's draft (a stale state is rebuilt by /start).
    let unique = offered.file.unique_id.0.clone();
    let (avatar, count, duplicate) = ctx
        .db
        .run(move |c| {
            let avatar = avatars::get_owned(c, avatar_id, user_id)?;
            let count = avatars::photo_count(c, avatar_id)?;
            let duplicate = avatars::has_photo(c, avatar_id, &unique, None)?;
            Ok((avatar, count, duplicate))
        })
        .await?;
    if avatar.is_none_or(|a| a.status != avatars::AvatarStatus::Draft) {
        return Ok(Err(Refusal::NotOpen));
    }
    if duplicate {
        return Ok(Err(Refusal::Duplicate(count)));
    }
    if count >= max {
        return Ok(Err(Refusal::Reply(too_many(ctx, me, max))));
    }
    let size = offered.file.size;
    if let Err(rejection) = intake_rules(ctx).check_declared_size(u64::from(size)) {
        // A size of 0 means Telegram did not say; the download decides then.
        if !(size == 0 && rejection == Rejection::Empty) {
            return Ok(Err(Refusal::Reply(tr(lang, rejection_key(&rejection)))));
        }
    }
    Ok(Ok(offered))
}

/// Downloads the file and inspects it in one blocking step: decoding, EXIF
/// orientation and the face-quality gate.
async fn download_and_inspect(
    step: Step<'_>,
    avatar_id: i64,
    offered: &Offered,
) -> anyhow::Result<Result<(AcceptedPhoto, QualityReport), Refusal>> {
    let Step {
        bot, chat, ctx, me, ..
    } = step;
    bot.send_chat_action(chat, teloxide::types::ChatAction::UploadPhoto)
        .await
        .ok();
    // At most a few photos are downloaded and decoded at once: with many
    // users uploading together, memory stays bounded and the others wait
    // their turn (the dispatcher itself never waits: only this handler).
    let intake_turn = INTAKE_TURNS.acquire().await?;
    let telegram_file = bot.get_file(offered.file.id.clone()).await?;
    let mut bytes = Vec::with_capacity(telegram_file.size as usize);
    bot.download_file(&telegram_file.path, &mut bytes).await?;

    let (rules, gate) = (intake_rules(ctx), ctx.config.quality.clone());
    let (mime, name) = (offered.mime.clone(), offered.name.clone());
    let inspected = tokio::task::spawn_blocking(move || {
        media::inspect_upload_gated(&bytes, mime.as_deref(), name.as_deref(), &rules, &gate)
    })
    .await?;
    drop(intake_turn);
    Ok(inspected.map_err(|rejection| {
        tracing::info!(
            user_id = me.user.id,
            avatar_id,
            code = rejection.code(),
            "photo rejected"
        );
        Refusal::Reply(rejection_text(me.lang, &rejection))
    }))
}

/// What a refused photo is told.
fn rejection_text(lang: crate::i18n::Lang, rejection: &Rejection) -> String {
    match rejection {
        Rejection::TooSmall { width, height, min } => tr_args(
            lang,
            "upload-rejected-too-small",
            &[
                ("width", (*width).into()),
                ("height", (*height).into()),
                ("min", (*min).into()),
            ],
        ),
        other => tr(lang, rejection_key(other)),
    }
}

/// Stores the object, then its row (a crash in between leaves an
/// unreferenced object — harmless, overwritten by the same upload —, never
/// a row without bytes). Returns the new count, and whether all the photos
/// look nearly the same now that the minimum is reached.
async fn store_photo(
    ctx: &BotCtx,
    me: &UserCtx,
    avatar_id: i64,
    offered: &Offered,
    (photo, report): (AcceptedPhoto, QualityReport),
) -> anyhow::Result<Result<(u32, bool), Refusal>> {
    let key = format!("avatars/{avatar_id}/refs/{}.jpg", photo.sha256_hex);
    ctx.store
        .put(&key, Bytes::from(photo.jpeg), "image/jpeg")
        .await?;
    let user_id = me.user.id;
    let file_id = offered.file.id.0.clone();
    let unique = offered.file.unique_id.0.clone();
    let (width, height, sha) = (photo.width, photo.height, photo.sha256_hex.clone());
    let size = u64::from(offered.file.size);
    // The application clock: reminders count from the last photo's time.
    let now = ctx.clock.now_ms();
    let (min, max, similar) = (
        ctx.config.upload.min_photos,
        ctx.config.upload.max_photos,
        ctx.config.quality.similar_max_distance,
    );
    let ahash = report.hash;
    let (added, alike) = ctx
        .db
        .run(move |c| {
            let new = avatars::NewPhoto {
                avatar_id,
                file_id: &file_id,
                file_unique_id: &unique,
                sha256: &sha,
                object_key: &key,
                width,
                height,
                size_bytes: size.max(1),
            };
            let added = avatars::add_photo_with_hash(c, &new, Some(ahash), max, now)?;
            if matches!(added, avatars::AddPhoto::Added { count: 1, .. }) {
                events::record(c, user_id, events::Stage::Upload, avatar_id, None, now)?;
            }
            // Once, as the minimum is reached: do all the photos look the same?
            let alike = matches!(added, avatars::AddPhoto::Added { count, .. } if count == min)
                && quality::all_nearly_identical(&avatars::photo_hashes(c, avatar_id)?, similar);
            Ok((added, alike))
        })
        .await?;
    Ok(match added {
        avatars::AddPhoto::Added { count, .. } => {
            tracing::info!(user_id, avatar_id, count, "reference photo accepted");
            Ok((count, alike))
        }
        avatars::AddPhoto::Duplicate { count } => Err(Refusal::Duplicate(count)),
        avatars::AddPhoto::Full { .. } => Err(Refusal::Reply(too_many(ctx, me, max))),
    })
}

/// A photo taken: the counter shows the new count (one counter is ever
/// visible), the gentle word about photos that look alike, and the state.
async fn show_progress(step: Step<'_>, counter: Counter, count: u32, alike: bool) -> HandlerResult {
    let Step {
        bot,
        chat,
        dialogue,
        me,
        ..
    } = step;
    let Counter {
        avatar_id,
        message_id,
        buried,
    } = counter;
    let existing = if buried { None } else { message_id };
    let counter_id = show_counter(step, avatar_id, count, existing).await?;
    if buried && let Some(old) = message_id {
        // Only one counter is ever visible: the buried one goes.
        if let Err(error) = bot.delete_message(chat, MessageId(old)).await {
            tracing::debug!(%error, "old counter not deleted");
        }
    }
    if alike {
        // A gentle word, not a refusal; below the counter, so the next
        // accepted photo brings the counter down again.
        tracing::info!(
            user_id = me.user.id,
            avatar_id,
            count,
            "all photos look nearly the same"
        );
        bot.send_message(chat, tr(me.lang, "upload-similar-photos"))
            .await?;
    }
    if Some(counter_id) != message_id || buried || alike {
        dialogue
            .update(State::Uploading {
                avatar_id,
                counter_message_id: Some(counter_id),
                buried: alike,
            })
            .await?;
    }
    Ok(())
}

/// A photo not taken: the answer, and the counter marked buried under it
/// (the next accepted photo brings it down).
async fn refuse(
    step: Step<'_>,
    msg: &Message,
    counter: Counter,
    refusal: Refusal,
) -> HandlerResult {
    match refusal {
        Refusal::NotOpen => return step.say("upload-not-open").await,
        Refusal::Duplicate(count) => {
            reply_duplicate(step, msg, counter.avatar_id, count).await?;
        }
        Refusal::Reply(text) => {
            reply(step.bot, msg, text).await?;
        }
    }
    if counter.message_id.is_some() && !counter.buried {
        step.dialogue
            .update(State::Uploading {
                avatar_id: counter.avatar_id,
                counter_message_id: counter.message_id,
                buried: true,
            })
            .await?;
    }
    Ok(())
}
