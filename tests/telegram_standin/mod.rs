//! Tests of the Telegram Bot API stand-in, driven by the real teloxide `Bot` on one side and
//! the stand-in's user side (`Sandbox`) on the other.
//! By topic: `updates` (polling, offsets, every kind of update), `messages`
//! (keyboards, edits, errors, the chat page), `files` (photos, albums,
//! documents), `limits` (429s and pacing). This module holds their setup.

mod files;
mod limits;
mod messages;
mod updates;

use std::{io::Cursor, time::Duration};

use pinglass::telegram::standin::{
    FileUpload, GroupSpec, Handle, Options, RateLimits, UserActionError, UserSpec,
};
use teloxide::{
    ApiError, RequestError,
    net::Download,
    prelude::*,
    types::{
        BotCommand, ButtonRequest, ChatAction, FileId, InlineKeyboardButton, InlineKeyboardMarkup,
        InputFile, InputMedia, InputMediaPhoto, KeyboardButton, KeyboardMarkup, MediaKind,
        MessageKind, ReplyMarkup, UpdateKind,
    },
};

const TOKEN: &str = "123456789:AAtest-token_for-the-stand-in";
const WAIT: Duration = Duration::from_secs(5);

struct Setup {
    standin: Handle,
    bot: Bot,
    _data_dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    setup_with_limits(RateLimits::default()).await
}

async fn setup_with_limits(limits: RateLimits) -> Setup {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let mut options = Options::new(TOKEN, "pinglass_test_bot", data_dir.path());
    options.limits = limits;
    let standin = pinglass::telegram::standin::start(options)
        .await
        .expect("stand-in starts");
    let bot = Bot::new(TOKEN).set_api_url(standin.base_url());
    Setup {
        standin,
        bot,
        _data_dir: data_dir,
    }
}

fn alice() -> UserSpec {
    UserSpec::new(1001, "Алиса")
        .with_username("alice")
        .with_language("ru")
}

/// A PNG test image with a gradient, so that different sizes give different bytes.
fn png_image(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
    });
    let mut bytes = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("png encodes");
    bytes.into_inner()
}

/// Fetches pending updates without waiting and confirms them.
async fn take_updates(bot: &Bot) -> Vec<Update> {
    let updates = bot.get_updates().timeout(0).await.expect("getUpdates");
    if let Some(last) = updates.last() {
        let offset = i32::try_from(last.id.0).expect("small update id") + 1;
        bot.get_updates()
            .offset(offset)
            .timeout(0)
            .await
            .expect("confirming getUpdates");
    }
    updates
}

fn api_error(result: Result<impl std::fmt::Debug, RequestError>) -> ApiError {
    match result {
        Err(RequestError::Api(error)) => error,
        other => panic!("expected a Telegram API error, got {other:?}"),
    }
}

fn message_of(update: &Update) -> &Message {
    match &update.kind {
        UpdateKind::Message(message) => message,
        other => panic!("expected a message update, got {other:?}"),
    }
}
