//! Files both ways: photos uploaded by multipart and re-sent by file_id,
//! albums, a user's photo downloaded by the bot, documents (a ZIP; one over
//! 50 MB refused), the same photo from many users at once.

use super::*;

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
