//! Tests of the Telegram Bot API stand-in, driven by the real teloxide `Bot` on one side and
//! the stand-in's user side (`Sandbox`) on the other.

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

#[tokio::test]
async fn get_me_describes_the_bot_and_a_wrong_token_is_unauthorized() {
    let setup = setup().await;
    let me = setup.bot.get_me().await.expect("getMe");
    assert_eq!(me.username.as_deref(), Some("pinglass_test_bot"));
    assert_eq!(me.id.0, 123_456_789);
    assert!(me.is_bot);

    let wrong = Bot::new("123456789:wrong").set_api_url(setup.standin.base_url());
    assert_eq!(api_error(wrong.get_me().await), ApiError::InvalidToken);
}

#[tokio::test]
async fn user_text_reaches_the_bot_once_and_offsets_confirm_updates() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox
        .send_text(&user, "/start ref_42")
        .expect("user sends /start");
    sandbox.send_text(&user, "Привет").expect("user sends text");

    let updates = setup.bot.get_updates().await.expect("getUpdates");
    assert_eq!(updates.len(), 2);
    assert!(updates[1].id.0 > updates[0].id.0, "update ids increase");
    let start = message_of(&updates[0]);
    assert_eq!(start.text(), Some("/start ref_42"));
    assert_eq!(start.chat.id, ChatId(user.id));
    let from = start.from.as_ref().expect("sender");
    assert_eq!(from.language_code.as_deref(), Some("ru"));
    let entities = start.entities().expect("command entity");
    assert_eq!((entities[0].offset, entities[0].length), (0, 6));
    let greeting = message_of(&updates[1]);
    assert_eq!(greeting.text(), Some("Привет"));
    assert!(greeting.id.0 > start.id.0, "message ids increase");

    // Without an offset the same updates come again; with one they are confirmed.
    assert_eq!(setup.bot.get_updates().await.expect("getUpdates").len(), 2);
    let offset = i32::try_from(updates[1].id.0).expect("small id") + 1;
    assert!(
        setup
            .bot
            .get_updates()
            .offset(offset)
            .await
            .expect("getUpdates")
            .is_empty()
    );
    assert_eq!(sandbox.pending_update_count(), 0);

    // A long poll is woken by the next message instead of waiting out its timeout.
    let poll = tokio::spawn({
        let bot = setup.bot.clone();
        async move { bot.get_updates().offset(offset).timeout(10).await }
    });
    sandbox
        .wait_for_long_poll(WAIT)
        .await
        .expect("the poll waits");
    sandbox.send_text(&user, "ещё").expect("user sends text");
    let woken = tokio::time::timeout(WAIT, poll)
        .await
        .expect("poll answers at once")
        .expect("task")
        .expect("ok");
    assert_eq!(woken.len(), 1);
    assert_eq!(message_of(&woken[0]).text(), Some("ещё"));
}

#[tokio::test]
async fn a_second_poller_terminates_the_first_with_409() {
    let setup = setup().await;
    let first = tokio::spawn({
        let bot = setup.bot.clone();
        async move { bot.get_updates().timeout(10).await }
    });
    setup
        .standin
        .sandbox()
        .wait_for_long_poll(WAIT)
        .await
        .expect("first poll waits");
    let second = setup.bot.get_updates().timeout(0).await;
    assert!(second.expect("second poll").is_empty());
    let first = tokio::time::timeout(WAIT, first)
        .await
        .expect("first poll ends")
        .expect("task");
    assert_eq!(api_error(first), ApiError::TerminatedByOtherGetUpdates);
    assert_eq!(
        setup
            .standin
            .sandbox()
            .counters()
            .errors_per_status
            .get(&409),
        Some(&1)
    );
}

#[tokio::test]
async fn inline_keyboard_shows_in_history_and_a_press_becomes_a_callback_query() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    take_updates(&setup.bot).await;

    let checkout = url::Url::parse("https://pay.example/checkout/1").expect("url");
    let keyboard = InlineKeyboardMarkup::new(vec![
        vec![InlineKeyboardButton::callback(
            "Базовый — 499 ₽",
            "pkg:basic",
        )],
        vec![InlineKeyboardButton::url("Оплатить", checkout.clone())],
    ]);
    let sent = setup
        .bot
        .send_message(ChatId(user.id), "Выберите пакет")
        .reply_markup(keyboard)
        .await
        .expect("sendMessage");

    let bot_messages = sandbox
        .wait_for_bot_message_count(user.id, 1, WAIT)
        .await
        .expect("bot message");
    let shown = &bot_messages[0];
    assert_eq!(shown.text.as_deref(), Some("Выберите пакет"));
    assert_eq!(
        shown.inline_keyboard[0][0].callback_data.as_deref(),
        Some("pkg:basic")
    );
    assert_eq!(
        shown.inline_keyboard[1][0].url.as_deref(),
        Some(checkout.as_str())
    );

    let wrong = sandbox.press_button(&user, i64::from(sent.id.0), "pkg:gold");
    assert!(
        matches!(wrong, Err(UserActionError::NoSuchButton { .. })),
        "{wrong:?}"
    );
    let query_id = sandbox
        .press_button_with_text(&user, i64::from(sent.id.0), "Базовый — 499 ₽")
        .expect("press");

    let updates = take_updates(&setup.bot).await;
    let UpdateKind::CallbackQuery(query) = &updates[0].kind else {
        panic!("expected a callback query: {updates:?}")
    };
    assert_eq!(query.id.0, query_id);
    assert_eq!(query.data.as_deref(), Some("pkg:basic"));
    assert_eq!(query.from.id.0, 1001);
    assert_eq!(
        query.message.as_ref().map(|message| message.id()),
        Some(sent.id)
    );

    setup
        .bot
        .answer_callback_query(query.id.clone())
        .text("Пакет выбран")
        .await
        .expect("answer");
    let answer = sandbox
        .wait_for_callback_answer(&query_id, WAIT)
        .await
        .expect("answered");
    assert_eq!(answer.text.as_deref(), Some("Пакет выбран"));
    // A query is answered once; an unknown id is "too old" as well.
    assert_eq!(
        api_error(setup.bot.answer_callback_query(query.id.clone()).await),
        ApiError::InvalidQueryId
    );
    let unknown = teloxide::types::CallbackQueryId("999".to_owned());
    assert_eq!(
        api_error(setup.bot.answer_callback_query(unknown).await),
        ApiError::InvalidQueryId
    );

    // A hostile client may send data no button carries, even for a missing message.
    sandbox
        .press_button_raw(&user, 9999, "pkg:free")
        .expect("raw press");
    let updates = take_updates(&setup.bot).await;
    let UpdateKind::CallbackQuery(hostile) = &updates[0].kind else {
        panic!("expected a callback query")
    };
    assert_eq!(hostile.data.as_deref(), Some("pkg:free"));
    assert!(matches!(
        hostile.message,
        Some(teloxide::types::MaybeInaccessibleMessage::Inaccessible(_))
    ));
}

#[tokio::test]
async fn send_photo_uploads_by_multipart_and_resends_by_file_id() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    let original = png_image(640, 480, 1);

    let first = setup
        .bot
        .send_photo(
            ChatId(user.id),
            InputFile::memory(original.clone()).file_name("portrait.png"),
        )
        .caption("Ваш портрет")
        .await
        .expect("sendPhoto upload");
    let sizes = first.photo().expect("photo sizes");
    assert!(sizes.len() >= 3, "several sizes: {sizes:?}");
    let largest = sizes.last().expect("largest");
    assert_eq!((largest.width, largest.height), (640, 480));
    assert!(sizes[0].width < largest.width);
    assert_eq!(
        sandbox.file_bytes(&largest.file.id.0).await.as_deref(),
        Some(original.as_slice())
    );

    let again = setup
        .bot
        .send_photo(ChatId(user.id), InputFile::file_id(largest.file.id.clone()))
        .await
        .expect("sendPhoto by file_id");
    let resent = again.photo().expect("photo").last().expect("largest");
    assert_eq!(resent.file.unique_id, largest.file.unique_id);

    let history = sandbox.bot_messages(user.id);
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].caption.as_deref(), Some("Ваш портрет"));
    assert_eq!(sandbox.counters().requests("sendPhoto"), 2);

    // Not an image: Telegram cannot process it; an unknown file_id is refused.
    let garbage = setup
        .bot
        .send_photo(
            ChatId(user.id),
            InputFile::memory(b"not an image".to_vec()).file_name("x.jpg"),
        )
        .await;
    assert_eq!(api_error(garbage), ApiError::ImageProcessFailed);
    let unknown = setup
        .bot
        .send_photo(
            ChatId(user.id),
            InputFile::file_id(FileId("AgACnope".to_owned())),
        )
        .await;
    assert_eq!(api_error(unknown), ApiError::WrongFileIdOrUrl);
}

#[tokio::test]
async fn send_media_group_accepts_two_to_ten_items_only() {
    let setup = setup_with_limits(RateLimits::disabled()).await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    let photo = |seed: u8| {
        InputMedia::Photo(InputMediaPhoto::new(
            InputFile::memory(png_image(120, 90, seed)).file_name("p.png"),
        ))
    };

    let mut album = vec![photo(1), photo(2), photo(3)];
    if let InputMedia::Photo(first) = &mut album[0] {
        first.caption = Some("Ваши портреты".to_owned());
    }
    let messages = setup
        .bot
        .send_media_group(ChatId(user.id), album)
        .await
        .expect("album of 3");
    assert_eq!(messages.len(), 3);
    let group = messages[0]
        .media_group_id()
        .expect("media group id")
        .clone();
    assert!(
        messages
            .iter()
            .all(|message| message.media_group_id() == Some(&group))
    );
    assert_eq!(messages[0].caption(), Some("Ваши портреты"));
    assert_eq!(messages[1].caption(), None);
    assert_eq!(sandbox.counters().messages_sent(user.id), 3);

    // Re-sending the album by file_id costs no upload.
    let by_id: Vec<InputMedia> = messages
        .iter()
        .map(|message| {
            let id = message
                .photo()
                .and_then(|sizes| sizes.last())
                .expect("photo")
                .file
                .id
                .clone();
            InputMedia::Photo(InputMediaPhoto::new(InputFile::file_id(id)))
        })
        .collect();
    assert_eq!(
        setup
            .bot
            .send_media_group(ChatId(user.id), by_id)
            .await
            .expect("album by id")
            .len(),
        3
    );

    let one = setup
        .bot
        .send_media_group(ChatId(user.id), vec![photo(4)])
        .await;
    assert!(matches!(api_error(one), ApiError::Unknown(text) if text.starts_with("Bad Request: ")));
    let eleven: Vec<InputMedia> = (0..11).map(photo).collect();
    let eleven = setup.bot.send_media_group(ChatId(user.id), eleven).await;
    assert_eq!(
        api_error(eleven),
        ApiError::Unknown("Bad Request: too many messages to send as an album".to_owned())
    );
    assert_eq!(
        sandbox.bot_messages(user.id).len(),
        6,
        "refused albums send nothing"
    );
}

#[tokio::test]
async fn malformed_requests_get_telegrams_400s() {
    let setup = setup_with_limits(RateLimits::disabled()).await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    let chat = ChatId(user.id);

    assert_eq!(
        api_error(setup.bot.send_message(chat, "").await),
        ApiError::MessageTextIsEmpty
    );
    assert_eq!(
        api_error(setup.bot.send_message(chat, "я".repeat(4097)).await),
        ApiError::MessageIsTooLong
    );
    setup
        .bot
        .send_message(chat, "я".repeat(4096))
        .await
        .expect("4096 characters fit");
    let long_caption = setup
        .bot
        .send_photo(
            chat,
            InputFile::memory(png_image(50, 50, 9)).file_name("p.png"),
        )
        .caption("x".repeat(1025))
        .await;
    assert_eq!(
        api_error(long_caption),
        ApiError::Unknown("Bad Request: message caption is too long".to_owned())
    );
    let long_data = InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::callback(
        "x",
        "d".repeat(65),
    )]]);
    assert_eq!(
        api_error(
            setup
                .bot
                .send_message(chat, "x")
                .reply_markup(long_data)
                .await
        ),
        ApiError::ButtonDataInvalid
    );
    assert_eq!(
        api_error(setup.bot.send_message(ChatId(424242), "x").await),
        ApiError::ChatNotFound
    );
    let broken_html = setup
        .bot
        .send_message(chat, "<b>жирный")
        .parse_mode(teloxide::types::ParseMode::Html)
        .await;
    assert!(matches!(
        api_error(broken_html),
        ApiError::CantParseEntities(_)
    ));

    let html = setup
        .bot
        .send_message(chat, "<b>Готово</b> &amp; всё")
        .parse_mode(teloxide::types::ParseMode::Html)
        .await
        .expect("html");
    assert_eq!(html.text(), Some("Готово & всё"));
    assert_eq!(
        sandbox.bot_messages(user.id).len(),
        2,
        "failed calls send nothing"
    );
}

#[tokio::test]
async fn edits_and_deletions_apply_to_history_with_real_errors() {
    let setup = setup_with_limits(RateLimits::disabled()).await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    let chat = ChatId(user.id);
    let keyboard =
        InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::callback("Да", "yes")]]);
    let sent = setup
        .bot
        .send_message(chat, "Генерируем…")
        .reply_markup(keyboard.clone())
        .await
        .expect("send");

    let edited = setup
        .bot
        .edit_message_text(chat, sent.id, "Готово 5/10")
        .reply_markup(keyboard.clone())
        .await
        .expect("edit");
    assert_eq!(edited.text(), Some("Готово 5/10"));
    let same = setup
        .bot
        .edit_message_text(chat, sent.id, "Готово 5/10")
        .reply_markup(keyboard)
        .await;
    assert_eq!(api_error(same), ApiError::MessageNotModified);
    setup
        .bot
        .edit_message_reply_markup(chat, sent.id)
        .await
        .expect("remove keyboard");
    let entry = sandbox
        .history(user.id)
        .into_iter()
        .find(|entry| entry.message_id == i64::from(sent.id.0))
        .expect("entry");
    assert_eq!(
        (entry.text.as_deref(), entry.edit_count),
        (Some("Готово 5/10"), 2)
    );
    assert!(entry.inline_keyboard.is_empty());

    let user_message = teloxide::types::MessageId(1);
    assert_eq!(
        api_error(setup.bot.edit_message_text(chat, user_message, "x").await),
        ApiError::MessageCantBeEdited
    );
    setup
        .bot
        .delete_message(chat, sent.id)
        .await
        .expect("delete");
    assert!(sandbox.bot_messages(user.id)[0].deleted);
    assert_eq!(
        api_error(setup.bot.delete_message(chat, sent.id).await),
        ApiError::MessageToDeleteNotFound
    );
}

#[tokio::test]
async fn user_photo_is_downloadable_by_the_bot_with_the_same_bytes() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    let original = png_image(900, 700, 3);
    let first = sandbox
        .send_photo(&user, original.clone(), Some("селфи"))
        .await
        .expect("user sends a photo");
    let second = sandbox
        .send_photo(&user, original.clone(), None)
        .await
        .expect("same photo again");
    assert_ne!(
        first.largest_photo().map(|p| &p.file_id),
        second.largest_photo().map(|p| &p.file_id)
    );
    assert_eq!(
        first.largest_photo().map(|p| &p.file_unique_id),
        second.largest_photo().map(|p| &p.file_unique_id),
        "the same bytes keep their file_unique_id"
    );

    let updates = take_updates(&setup.bot).await;
    let message = message_of(&updates[0]);
    assert_eq!(message.caption(), Some("селфи"));
    let largest = message
        .photo()
        .and_then(|sizes| sizes.last())
        .expect("photo")
        .clone();
    assert_eq!((largest.width, largest.height), (900, 700));

    let file = setup
        .bot
        .get_file(largest.file.id.clone())
        .await
        .expect("getFile");
    let mut downloaded = Vec::new();
    setup
        .bot
        .download_file(&file.path, &mut downloaded)
        .await
        .expect("download");
    assert_eq!(downloaded, original);

    let unknown = setup.bot.get_file(FileId("AgACunknown".to_owned())).await;
    assert_eq!(
        api_error(unknown),
        ApiError::Unknown("Bad Request: invalid file_id".to_owned())
    );
}

#[tokio::test]
async fn every_user_action_arrives_as_an_update_teloxide_understands() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    let album = sandbox
        .send_album(
            &user,
            vec![png_image(60, 40, 1), png_image(60, 40, 2)],
            Some("мои фото"),
        )
        .await
        .expect("album");
    sandbox
        .send_document(
            &user,
            FileUpload::new(png_image(80, 60, 4), "IMG_1.png"),
            None,
        )
        .await
        .expect("image as file");
    sandbox
        .send_document(
            &user,
            FileUpload::new(b"%PDF-1.4".to_vec(), "doc.pdf"),
            None,
        )
        .await
        .expect("pdf");
    sandbox.send_sticker(&user, "😀").await.expect("sticker");
    sandbox
        .send_video(&user, FileUpload::new(vec![0, 0, 0, 24], "clip.mp4"), 3)
        .await
        .expect("video");
    sandbox
        .send_contact(&user, "+79990001122")
        .expect("contact");
    let not_text = sandbox.edit_text(&user, album[0].message_id, "нельзя");
    assert!(
        matches!(not_text, Err(UserActionError::NoTextToEdit { .. })),
        "{not_text:?}"
    );
    let text = sandbox.send_text(&user, "опечтка").expect("text");
    sandbox
        .edit_text(&user, text.message_id, "опечатка")
        .expect("edit");
    let group = GroupSpec {
        id: -100_500,
        title: "Семья".to_owned(),
    };
    sandbox
        .send_group_text(&group, &user, "/start@pinglass_test_bot")
        .expect("group message");
    sandbox.block_bot(&user);

    let updates = take_updates(&setup.bot).await;
    assert!(
        updates
            .iter()
            .all(|update| !matches!(update.kind, UpdateKind::Error(_))),
        "{updates:#?}"
    );
    assert_eq!(updates.len(), 11);
    let media = |index: usize| match &message_of(&updates[index]).kind {
        MessageKind::Common(common) => common.media_kind.clone(),
        other => panic!("expected a common message, got {other:?}"),
    };
    assert!(matches!(media(0), MediaKind::Photo(_)));
    assert_eq!(
        message_of(&updates[0]).media_group_id(),
        message_of(&updates[1]).media_group_id()
    );
    assert!(message_of(&updates[0]).media_group_id().is_some());
    let MediaKind::Document(image_file) = media(2) else {
        panic!("image as file is a document")
    };
    assert_eq!(
        image_file
            .document
            .mime_type
            .map(|mime| mime.to_string())
            .as_deref(),
        Some("image/png")
    );
    assert!(matches!(media(3), MediaKind::Document(_)));
    assert!(matches!(media(4), MediaKind::Sticker(_)));
    assert!(matches!(media(5), MediaKind::Video(_)));
    let MediaKind::Contact(contact) = media(6) else {
        panic!("contact")
    };
    assert_eq!(contact.contact.phone_number, "+79990001122");
    assert!(
        matches!(&updates[8].kind, UpdateKind::EditedMessage(edited) if edited.text() == Some("опечатка"))
    );
    assert!(message_of(&updates[9]).chat.is_group());
    assert!(matches!(&updates[10].kind, UpdateKind::MyChatMember(_)));
}

#[tokio::test]
async fn a_user_who_blocked_the_bot_gives_403_until_unblocking() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    sandbox.block_bot(&user);
    assert_eq!(
        api_error(setup.bot.send_message(ChatId(user.id), "Вернитесь!").await),
        ApiError::BotBlocked
    );
    assert!(sandbox.bot_messages(user.id).is_empty());
    sandbox.unblock_bot(&user);
    setup
        .bot
        .send_message(ChatId(user.id), "С возвращением")
        .await
        .expect("send after unblocking");

    // A user who never wrote cannot be written to.
    let stranger = UserSpec::new(2002, "Борис");
    sandbox.register_user(&stranger);
    // Today's wording is "Forbidden: …"; teloxide only knows the old "Unauthorized: …" one.
    let refused = setup.bot.send_message(ChatId(stranger.id), "Привет").await;
    assert_eq!(
        api_error(refused),
        ApiError::Unknown("Forbidden: bot can't initiate conversation with a user".to_owned())
    );
}

#[tokio::test]
async fn keyboards_commands_and_chat_actions_are_recorded() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    let chat = ChatId(user.id);

    let share = KeyboardMarkup::new(vec![vec![
        KeyboardButton::new("Поделиться номером").request(ButtonRequest::Contact),
    ]])
    .resize_keyboard()
    .one_time_keyboard();
    setup
        .bot
        .send_message(chat, "Нужен телефон для чека")
        .reply_markup(ReplyMarkup::Keyboard(share))
        .await
        .expect("send");
    let keyboard = sandbox
        .reply_keyboard(user.id)
        .expect("reply keyboard shown");
    assert!(keyboard.rows[0][0].request_contact);
    setup
        .bot
        .send_message(chat, "Спасибо")
        .reply_markup(ReplyMarkup::kb_remove())
        .await
        .expect("remove keyboard");
    assert!(sandbox.reply_keyboard(user.id).is_none());

    setup
        .bot
        .send_chat_action(chat, ChatAction::UploadPhoto)
        .await
        .expect("chat action");
    assert_eq!(
        sandbox.chat_actions(user.id),
        vec!["upload_photo".to_owned()]
    );

    setup
        .bot
        .set_my_commands(vec![
            BotCommand::new("start", "Начать"),
            BotCommand::new("help", "Помощь"),
        ])
        .language_code("ru")
        .await
        .expect("setMyCommands");
    let commands = setup
        .bot
        .get_my_commands()
        .language_code("ru")
        .await
        .expect("getMyCommands");
    assert_eq!(commands.len(), 2);
    assert_eq!(sandbox.commands("default", "ru")[1].command, "help");
    assert!(
        setup
            .bot
            .get_my_commands()
            .await
            .expect("default language")
            .is_empty()
    );
}

#[tokio::test]
async fn sending_past_the_per_chat_limit_gives_retry_after_and_sends_nothing() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    for index in 0..3 {
        setup
            .bot
            .send_message(ChatId(user.id), format!("сообщение {index}"))
            .await
            .expect("within the burst");
    }
    let refused = setup.bot.send_message(ChatId(user.id), "лишнее").await;
    match refused {
        Err(RequestError::RetryAfter(seconds)) => assert!(seconds.seconds() >= 1),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    let counters = sandbox.counters();
    assert_eq!(counters.too_many_requests, 1);
    assert_eq!(counters.messages_sent(user.id), 3);
    assert_eq!(sandbox.bot_messages(user.id).len(), 3);
}

#[tokio::test]
async fn a_paced_bot_keeps_ten_messages_to_one_chat_under_the_limit() {
    // Faster limits keep the test short. The bot's pacing (`chat::paced`) is set just under
    // them (4 a second against 5), as a bot should be, so that network jitter cannot cause a 429.
    let limits = RateLimits {
        per_chat_per_sec: 5.0,
        per_chat_burst: 5,
        global_per_sec: 30.0,
        global_burst: 30,
        enabled: true,
    };
    let setup = setup_with_limits(limits).await;
    let sandbox = setup.standin.sandbox();
    let blasted = UserSpec::new(3003, "Вера");
    let throttled = alice();
    sandbox.send_text(&blasted, "/start").expect("user starts");
    sandbox
        .send_text(&throttled, "/start")
        .expect("user starts");

    // Without pacing, ten messages at once overrun the chat's limit.
    let blast = (0..10).map(|index| {
        setup
            .bot
            .send_message(ChatId(blasted.id), format!("{index}"))
            .into_future()
    });
    let blast_results = futures::future::join_all(blast).await;
    assert!(
        blast_results
            .iter()
            .any(|result| matches!(result, Err(RequestError::RetryAfter(_))))
    );
    let refused_before = sandbox.counters().too_many_requests;
    assert!(refused_before > 0);

    let bot = pinglass::chat::paced::Paced::new(
        setup.bot.clone(),
        setup.bot.clone(),
        pinglass::chat::paced::Limiter::new(4, 30),
    );
    let sends = (0..10).map(|index| {
        bot.send_message(ChatId(throttled.id), format!("{index}"))
            .into_future()
    });
    let results = futures::future::join_all(sends).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        sandbox.counters().too_many_requests,
        refused_before,
        "the paced bot caused no 429"
    );
    assert_eq!(sandbox.counters().messages_sent(throttled.id), 10);
}

#[tokio::test]
async fn the_chat_page_and_its_json_api_drive_the_same_chat() {
    let setup = setup().await;
    let client = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("client");
    let page = client
        .get(setup.standin.chat_page_url())
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    for marker in [
        "id=\"text-input\"",
        "id=\"send-button\"",
        "id=\"file-input\"",
        "bot-message",
        "inline-button",
    ] {
        assert!(page.contains(marker), "the page has {marker}");
    }

    let api = setup.standin.base_url();
    let user = serde_json::json!({ "id": 77, "first_name": "Гость", "language_code": "ru" });
    let sent: serde_json::Value = client
        .post(api.join("sandbox/api/send_text").expect("url"))
        .json(&serde_json::json!({ "user": user, "text": "/start" }))
        .send()
        .await
        .expect("send_text")
        .json()
        .await
        .expect("json");
    assert_eq!(sent["ok"], true);
    let updates = take_updates(&setup.bot).await;
    assert_eq!(message_of(&updates[0]).text(), Some("/start"));

    let photo = reqwest::multipart::Part::bytes(png_image(50, 40, 5))
        .file_name("a.png")
        .mime_str("image/png")
        .expect("mime");
    let form = reqwest::multipart::Form::new()
        .text("user", user.to_string())
        .part("files", photo);
    let answer: serde_json::Value = client
        .post(api.join("sandbox/api/send_files").expect("url"))
        .multipart(form)
        .send()
        .await
        .expect("send_files")
        .json()
        .await
        .expect("json");
    assert_eq!(
        answer["entries"][0]["photo"].as_array().map(Vec::len),
        Some(1)
    );

    setup
        .bot
        .send_message(ChatId(77), "Добро пожаловать")
        .await
        .expect("bot replies");
    let history: serde_json::Value = client
        .get(api.join("sandbox/api/history?chat_id=77").expect("url"))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let entries = history["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2]["sender"]["kind"], "bot");
    assert_eq!(entries[2]["text"], "Добро пожаловать");
}

#[tokio::test]
async fn a_teloxide_dispatcher_with_default_polling_works_against_the_stand_in() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    let handler = Update::filter_message().endpoint(|bot: Bot, message: Message| async move {
        let text = format!("эхо: {}", message.text().unwrap_or_default());
        bot.send_message(message.chat.id, text).await?;
        respond(())
    });
    let mut dispatcher = Dispatcher::builder(setup.bot.clone(), handler).build();
    let shutdown = dispatcher.shutdown_token();
    let running = tokio::spawn(async move { dispatcher.dispatch().await });

    sandbox.send_text(&user, "привет").expect("user writes");
    let replies = sandbox
        .wait_for_bot_message_count(user.id, 1, WAIT)
        .await
        .expect("the bot replies");
    assert_eq!(replies[0].text.as_deref(), Some("эхо: привет"));
    let counters = sandbox.counters();
    assert_eq!(
        counters.requests("getWebhookInfo"),
        1,
        "teloxide checks for a webhook first"
    );
    assert!(counters.errors_per_status.is_empty(), "{counters:?}");

    let stopping = shutdown.shutdown().expect("the dispatcher is running");
    tokio::time::timeout(WAIT, stopping)
        .await
        .expect("the dispatcher stops");
    tokio::time::timeout(WAIT, running)
        .await
        .expect("dispatch returns")
        .expect("task");
}

#[tokio::test]
async fn send_document_stores_a_zip_that_both_sides_can_download() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    let archive = b"PK\x03\x04 portraits archive bytes".to_vec();

    let sent = setup
        .bot
        .send_document(
            ChatId(user.id),
            InputFile::memory(archive.clone()).file_name("portraits.zip"),
        )
        .caption("Все портреты")
        .await
        .expect("sendDocument");
    let document = sent.document().expect("document").clone();
    assert_eq!(document.file_name.as_deref(), Some("portraits.zip"));
    assert_eq!(
        document.mime_type.map(|mime| mime.to_string()).as_deref(),
        Some("application/zip")
    );

    let shown = sandbox.bot_messages(user.id);
    let stored = shown[0]
        .document
        .as_ref()
        .expect("history has the document");
    assert_eq!(
        sandbox.file_bytes(&stored.file_id).await,
        Some(archive.clone())
    );
    let file = setup
        .bot
        .get_file(document.file.id.clone())
        .await
        .expect("getFile");
    let mut downloaded = Vec::new();
    setup
        .bot
        .download_file(&file.path, &mut downloaded)
        .await
        .expect("download");
    assert_eq!(downloaded, archive);

    let again = setup
        .bot
        .send_document(
            ChatId(user.id),
            InputFile::file_id(document.file.id.clone()),
        )
        .await
        .expect("sendDocument by file_id");
    assert_eq!(
        again.document().map(|d| &d.file.unique_id),
        Some(&document.file.unique_id)
    );
    // A document's file_id is not a photo.
    let wrong_kind = setup
        .bot
        .send_photo(ChatId(user.id), InputFile::file_id(document.file.id))
        .await;
    assert_eq!(
        api_error(wrong_kind),
        ApiError::Unknown("Bad Request: can't use file of type Document as Photo".to_owned())
    );
    setup.bot.delete_webhook().await.expect("deleteWebhook");
}

#[tokio::test]
async fn a_document_over_50_mb_is_refused_with_413_and_nothing_is_sent() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    let too_big = vec![0u8; 50 * 1024 * 1024 + 1];
    let result = setup
        .bot
        .send_document(
            ChatId(user.id),
            InputFile::memory(too_big).file_name("portraits.zip"),
        )
        .await;
    assert_eq!(api_error(result), ApiError::RequestEntityTooLarge);
    assert!(sandbox.bot_messages(user.id).is_empty());
    setup.bot.delete_webhook().await.expect("deleteWebhook");
}

/// Many users sending the very same photo at once (a forwarded picture, or
/// the load test's shared photos): every upload is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_photo_sent_by_many_users_at_once_is_accepted_for_each() {
    let setup = setup_with_limits(RateLimits::disabled()).await;
    let photo = png_image(800, 600, 9);
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..16 {
        let sandbox = setup.standin.sandbox().clone();
        let photo = photo.clone();
        sends.spawn(async move {
            let user = UserSpec::new(5000 + i, "Гость").with_language("ru");
            sandbox.send_photo(&user, photo, None).await.map(drop)
        });
    }
    let mut accepted = 0;
    while let Some(result) = sends.join_next().await {
        result.expect("no panic").expect("the upload is accepted");
        accepted += 1;
    }
    assert_eq!(accepted, 16);
}
