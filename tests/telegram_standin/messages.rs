//! Messages and what the user sees of them: inline keyboards and presses,
//! edits and deletions, reply keyboards, command menus and chat actions,
//! Telegram's 400s for malformed requests, and the chat page driving the
//! same chat.

use super::*;

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
