//! Updates: getMe and the token, long polling with offsets, a second
//! poller's 409, every user action as an update teloxide parses, a blocked
//! chat's 403, and a default teloxide dispatcher polling the stand-in.

use super::*;

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
