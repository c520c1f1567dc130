//! The policy before paying and the user's control over their data (issue
//! 8): the package screen's policy lines and the package named to the bank;
//! `/delete_my_data` end to end (the bucket listed afterwards: nothing of
//! the user, another user's objects untouched; the database keeps only the
//! anonymised payments); refusals while money is in flight and forged or
//! replayed buttons; a deletion resumed after a crash half-way; the
//! retention sweep with a moved clock.

use std::time::Duration;

use pinglass::db::{Db, privacy};
use pinglass::harness::chat::last_bot_with_button;
use pinglass::store::ObjectStore;
use pinglass::telegram::standin::{ChatEntry, UserSpec};

use crate::support::{
    LONG, TestApp, bot_text_contains, buy, photo_jpeg, portraits_received, press, wait_for,
};

const STARTER: &str = "Starter · 7 портретов · 499 ₽";
const CONFIRM: &str = "🗑 Да, удалить всё";
const DONE: &str = "✅ Готово: ваши фото";
const MAKE_OWN: &str = "✨ Сделать свои портреты";

/// The callback data of the newest button with this label.
fn button_data(entries: &[ChatEntry], label: &str) -> String {
    entries
        .iter()
        .rev()
        .flat_map(|e| e.inline_buttons().collect::<Vec<_>>())
        .find(|b| b.text == label)
        .and_then(|b| b.callback_data.clone())
        .unwrap_or_else(|| panic!("no button {label:?}"))
}

async fn toast(app: &TestApp, query_id: &str) -> String {
    app.telegram
        .sandbox()
        .wait_for_callback_answer(query_id, LONG)
        .await
        .unwrap()
        .text
        .unwrap_or_default()
}

fn count(db: &Db, sql: &str, id: i64) -> i64 {
    db.run_blocking(|c| c.query_row(sql, [id], |r| r.get(0)))
        .unwrap()
}

fn avatars_of(db: &Db, user_id: i64) -> Vec<i64> {
    db.run_blocking(|c| {
        let mut stmt = c.prepare("SELECT id FROM avatars WHERE user_id = ?1 ORDER BY id")?;
        stmt.query_map([user_id], |r| r.get(0))?.collect()
    })
    .unwrap()
}

/// Every key in the store under one of these avatars.
async fn keys_of(store: &ObjectStore, avatars: &[i64]) -> Vec<String> {
    let all = store.list("").await.unwrap();
    all.into_iter()
        .filter(|k| {
            avatars
                .iter()
                .any(|a| k.starts_with(&format!("avatars/{a}/")))
        })
        .collect()
}

async fn ready_set(app: &TestApp, user: &UserSpec, prefix: &str) {
    buy(&app.telegram, &app.tbank, user, prefix, STARTER).await;
    wait_for(
        &app.telegram,
        user,
        "all 7 portraits and the set's actions",
        |e| {
            portraits_received(e).len() == 7
                && last_bot_with_button(e, "🔗 Ссылка для друзей").is_some()
        },
        LONG,
    )
    .await;
}

async fn draft_with_photos(app: &TestApp, user: &UserSpec, prefix: &str) {
    let sandbox = app.telegram.sandbox();
    // Only what comes after this call counts (a user back for a second
    // round has seen "5 фото" before).
    let seen = sandbox.history(user.id).len();
    sandbox.send_text(user, "/start").unwrap();
    wait_for(
        &app.telegram,
        user,
        "the onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
    let photos = (1..=5)
        .map(|i| photo_jpeg(&format!("{prefix}-{i}"), 800, 1000))
        .collect();
    sandbox.send_album(user, photos, None).await.unwrap();
    wait_for(
        &app.telegram,
        user,
        "five photos counted",
        |e| {
            e.iter().skip(seen).any(|m| {
                m.is_from_bot() && m.text_or_caption().is_some_and(|t| t.contains("5 фото"))
            })
        },
        LONG,
    )
    .await;
}

/// Polls until `check` holds (a state the side task reaches but never
/// leaves idle, so `settle` cannot wait for it), or panics after 30 s.
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..300 {
        if check() {
            return;
        }
        // Polls; returns as soon as `check` holds.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_package_screen_states_the_policy_and_the_bank_gets_the_package_named() {
    let app = TestApp::start().await;
    let user = UserSpec::new(5101, "Вера").with_language("ru");
    let payment = crate::support::up_to_payment_link(&app.telegram, &user, "vera", STARTER).await;
    let history = app.telegram.sandbox().history(user.id);
    let packages = history
        .iter()
        .find(|e| e.inline_buttons().any(|b| b.text == STARTER))
        .and_then(|e| e.text_or_caption())
        .unwrap()
        .to_owned();
    assert!(
        packages.contains("их доля цены сама вернётся на карту"),
        "{packages}"
    );
    assert!(
        packages.contains(
            "Бесплатные переделки после готовности: Starter — 1, Standard — 3, Premium — 4"
        ),
        "{packages}"
    );
    // What the bank was told: the description and the receipt item name the package.
    let bank = app
        .tbank
        .payment(&payment)
        .expect("the stand-in has the payment");
    assert_eq!(bank.description, "PinGlass: пакет Starter, AI-портретов: 7");
    assert!(bank.description.chars().count() <= 140);
    assert_eq!(
        bank.receipt_items,
        ["AI-портреты PinGlass, пакет «Starter» (7 шт.)"]
    );
    // /terms: the whole text, with the configuration's numbers.
    app.telegram.sandbox().send_text(&user, "/terms").unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the terms",
        |e| bot_text_contains(e, "📄 Условия PinGlass"),
        LONG,
    )
    .await;
    let terms = app
        .telegram
        .sandbox()
        .history(user.id)
        .last()
        .unwrap()
        .text_or_caption()
        .unwrap()
        .to_owned();
    for part in [
        "через 30 дн. после готовности",
        "одна переделка на каждые 5 портретов",
        "/delete_my_data",
        "без имени и контактов",
        "24 ч",
    ] {
        assert!(terms.contains(part), "{part:?} missing in {terms}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_my_data_removes_every_object_and_personal_row_and_keeps_accounting() {
    let app = TestApp::start().await;
    let dina = UserSpec::new(5201, "Дина").with_language("ru");
    let oleg = UserSpec::new(5202, "Олег").with_language("ru");
    let (db, store) = (app.app().db.clone(), app.app().services.store.clone());
    let sandbox = app.telegram.sandbox();

    ready_set(&app, &dina, "dina").await;
    press(&app, &dina, "🔗 Ссылка для друзей");
    wait_for(
        &app.telegram,
        &dina,
        "the share link",
        |e| bot_text_contains(e, "start=g_"),
        LONG,
    )
    .await;
    let link_text = sandbox
        .history(dina.id)
        .iter()
        .rev()
        .find_map(|e| {
            e.text_or_caption()
                .filter(|t| t.contains("start=g_"))
                .map(str::to_owned)
        })
        .unwrap();
    let token: String = link_text
        .split("start=g_")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    draft_with_photos(&app, &oleg, "oleg").await;

    let dina_avatars = avatars_of(&db, dina.id);
    let oleg_avatars = avatars_of(&db, oleg.id);
    let dina_keys = keys_of(&store, &dina_avatars).await;
    let oleg_keys = keys_of(&store, &oleg_avatars).await;
    assert!(
        dina_keys.iter().any(|k| k.contains("/refs/"))
            && dina_keys.iter().any(|k| k.contains("/portraits/"))
    );
    assert_eq!(oleg_keys.len(), 5);

    // Cancel first: nothing happens.
    sandbox.send_text(&dina, "/delete_my_data").unwrap();
    wait_for(
        &app.telegram,
        &dina,
        "the question",
        |e| last_bot_with_button(e, "Отмена").is_some(),
        LONG,
    )
    .await;
    press(&app, &dina, "Отмена");
    wait_for(
        &app.telegram,
        &dina,
        "the cancel",
        |e| bot_text_contains(e, "Хорошо, ничего не удаляю"),
        LONG,
    )
    .await;
    assert_eq!(keys_of(&store, &dina_avatars).await, dina_keys);

    // Then yes.
    sandbox.send_text(&dina, "/delete_my_data").unwrap();
    wait_for(
        &app.telegram,
        &dina,
        "the question",
        |e| last_bot_with_button(e, CONFIRM).is_some(),
        LONG,
    )
    .await;
    let confirm_data = button_data(&sandbox.history(dina.id), CONFIRM);
    let question = last_bot_with_button(&sandbox.history(dina.id), CONFIRM).unwrap();
    press(&app, &dina, CONFIRM);
    wait_for(
        &app.telegram,
        &dina,
        "the deletion done",
        |e| bot_text_contains(e, DONE),
        LONG,
    )
    .await;

    // The bucket: nothing of Dina's, all of Oleg's.
    let left: Vec<String> = store.list("").await.unwrap();
    let dina_left: Vec<&String> = left
        .iter()
        .filter(|k| {
            dina_avatars
                .iter()
                .any(|a| k.starts_with(&format!("avatars/{a}/")))
        })
        .collect();
    assert!(
        dina_left.is_empty(),
        "left of the deleted user: {dina_left:?}"
    );
    for key in &oleg_keys {
        assert!(left.contains(key), "{key} of another user was deleted");
    }
    assert_eq!(keys_of(&store, &oleg_avatars).await, oleg_keys);

    // The database: no personal data; the payment kept, anonymised.
    let per_avatar = |sql: &str| -> i64 { dina_avatars.iter().map(|a| count(&db, sql, *a)).sum() };
    assert_eq!(
        per_avatar("SELECT COUNT(*) FROM reference_photos WHERE avatar_id = ?1"),
        0
    );
    assert_eq!(
        per_avatar("SELECT COUNT(*) FROM portraits WHERE avatar_id = ?1"),
        0
    );
    let (first_name, username, email, phone, deleted): (String, Option<String>, Option<String>, Option<String>, Option<i64>) = db
        .run_blocking(|c| {
            c.query_row(
                "SELECT first_name, username, receipt_email, receipt_phone, deleted_at FROM users WHERE id = ?1",
                [dina.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
        })
        .unwrap();
    assert_eq!(
        (first_name.as_str(), username, email, phone),
        ("", None, None, None)
    );
    assert!(deleted.is_some());
    let (payments, amount, contact): (i64, i64, String) = db
        .run_blocking(|c| {
            c.query_row(
                "SELECT COUNT(*), SUM(amount_kopecks), MAX(receipt_contact) FROM payments WHERE user_id = ?1 AND status = 'confirmed'",
                [dina.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .unwrap();
    assert_eq!(
        (payments, amount, contact.as_str()),
        (1, 49900, ""),
        "the payment is kept without the email"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM dialogues WHERE chat_id = ?1",
            dina.id
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM funnel_events WHERE user_id = ?1",
            dina.id
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM message_queue WHERE chat_id = ?1 AND dedup_key NOT LIKE 'deletion:%'",
            dina.id
        ),
        0,
        "no message to the user is kept but the last one"
    );
    let oleg_photos: i64 = oleg_avatars
        .iter()
        .map(|a| {
            count(
                &db,
                "SELECT COUNT(*) FROM reference_photos WHERE avatar_id = ?1",
                *a,
            )
        })
        .sum();
    assert_eq!(oleg_photos, 5);

    // The shared link: the owner deleted it (not "revoked"), with "make your own".
    sandbox
        .send_text(&oleg, &format!("/start g_{token}"))
        .unwrap();
    wait_for(
        &app.telegram,
        &oleg,
        "the deleted-gallery answer",
        |e| bot_text_contains(e, "Владелец удалил эти портреты"),
        LONG,
    )
    .await;
    let answer = sandbox.history(oleg.id).last().unwrap().clone();
    assert!(
        answer
            .text_or_caption()
            .unwrap()
            .contains("Владелец удалил")
    );
    assert_eq!(
        answer
            .inline_buttons()
            .map(|b| b.text.clone())
            .collect::<Vec<_>>(),
        [MAKE_OWN]
    );

    // The old confirmation pressed again: out of date, nothing changes.
    let replay = sandbox
        .press_button_raw(&dina, question, &confirm_data)
        .unwrap();
    assert!(toast(&app, &replay).await.contains("кнопка устарела"));
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM deletion_requests WHERE user_id = ?1",
            dina.id
        ),
        1
    );

    // /start begins fresh: a new empty set, an empty gallery.
    sandbox.send_text(&dina, "/gallery").unwrap();
    wait_for(
        &app.telegram,
        &dina,
        "the empty gallery",
        |e| bot_text_contains(e, "Готовых портретов пока нет"),
        LONG,
    )
    .await;
    sandbox.send_text(&dina, "/start").unwrap();
    wait_for(
        &app.telegram,
        &dina,
        "a fresh welcome",
        |e| {
            e.iter().rev().take(2).any(|m| {
                m.is_from_bot() && m.text_or_caption().is_some_and(|t| t.contains("Пакеты"))
            })
        },
        LONG,
    )
    .await;
    let now_avatars = avatars_of(&db, dina.id);
    assert_eq!(now_avatars.len(), dina_avatars.len() + 1, "a new draft");
    let fresh = *now_avatars.last().unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM avatars WHERE id = ?1 AND status = 'draft' AND deleted_at IS NULL",
            fresh
        ),
        1
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_waits_for_money_in_flight_and_refuses_forged_buttons() {
    let app = TestApp::start().await;
    let user = UserSpec::new(5301, "Лев").with_language("ru");
    let db = app.app().db.clone();
    let sandbox = app.telegram.sandbox();
    let _payment = crate::support::up_to_payment_link(&app.telegram, &user, "lev", STARTER).await;

    // An open payment: the deletion is refused with the reason, no question asked.
    sandbox.send_text(&user, "/delete_my_data").unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the refusal",
        |e| bot_text_contains(e, "У вас открыт платёж"),
        LONG,
    )
    .await;
    assert!(last_bot_with_button(&sandbox.history(user.id), CONFIRM).is_none());

    // Forged confirmations: another user's id, garbage, a date from the future.
    let last = sandbox.history(user.id).last().unwrap().message_id;
    let now = app.clock.now_ms();
    for data in [
        format!("deldata:5302:{now}"),
        "keepdata:5302".to_owned(),
        "deldata:5301".to_owned(),
        "deldata:5301:-1".to_owned(),
    ] {
        let id = sandbox.press_button_raw(&user, last, &data).unwrap();
        let answer = toast(&app, &id).await;
        assert!(
            answer.contains("кнопка уже не работает"),
            "{data}: {answer}"
        );
    }
    let future = sandbox
        .press_button_raw(&user, last, &format!("deldata:5301:{}", now + 86_400_000))
        .unwrap();
    assert!(toast(&app, &future).await.contains("кнопка устарела"));
    // A confirmation that is this user's and fresh, but the payment is open: still refused.
    let fresh = sandbox
        .press_button_raw(&user, last, &format!("deldata:5301:{now}"))
        .unwrap();
    toast(&app, &fresh).await;
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM deletion_requests WHERE user_id = ?1",
            user.id
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM reference_photos WHERE avatar_id IN (SELECT id FROM avatars WHERE user_id = ?1)",
            user.id
        ),
        5
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM users WHERE id = ?1 AND first_name = 'Лев'",
            user.id
        ),
        1
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_interrupted_half_way_finishes_after_a_restart_and_tells_once() {
    let mut app = TestApp::start().await;
    let user = UserSpec::new(5401, "Ира").with_language("ru");
    ready_set(&app, &user, "ira").await;
    let (db, store) = (app.app().db.clone(), app.app().services.store.clone());
    let avatars = avatars_of(&db, user.id);
    app.stop().await;

    // As if killed between the steps: the request written, the sets marked
    // deleted, some objects gone, every row still there.
    let now = app.clock.now_ms();
    db.run_blocking(|c| {
        privacy::request(c, user.id, now)?;
        privacy::mark_avatars_deleted(c, user.id, now)
    })
    .unwrap();
    let keys = keys_of(&store, &avatars).await;
    for key in keys.iter().take(4) {
        store.delete(key).await.unwrap();
    }

    app.restart().await;
    wait_for(
        &app.telegram,
        &user,
        "the deletion done",
        |e| bot_text_contains(e, DONE),
        LONG,
    )
    .await;
    assert!(keys_of(&store, &avatars).await.is_empty());
    let photos: i64 = avatars
        .iter()
        .map(|a| {
            count(
                &db,
                "SELECT COUNT(*) FROM reference_photos WHERE avatar_id = ?1",
                *a,
            ) + count(
                &db,
                "SELECT COUNT(*) FROM portraits WHERE avatar_id = ?1",
                *a,
            )
        })
        .sum();
    assert_eq!(photos, 0);
    // Another restart: nothing is done twice, the message is not repeated.
    app.restart().await;
    app.settle().await;
    let told = app
        .telegram
        .sandbox()
        .history(user.id)
        .iter()
        .filter(|e| e.is_from_bot() && e.text_or_caption().is_some_and(|t| t.contains(DONE)))
        .count();
    assert_eq!(told, 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM deletion_requests WHERE user_id = ?1 AND status = 'done'",
            user.id
        ),
        1
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_reference_photos_of_delivered_sets_and_keeps_the_portraits() {
    let app = TestApp::start().await;
    let user = UserSpec::new(5501, "Юля").with_language("ru");
    ready_set(&app, &user, "yulia").await;
    let (db, store) = (app.app().db.clone(), app.app().services.store.clone());
    let avatar = avatars_of(&db, user.id)[0];
    let refs = format!("avatars/{avatar}/refs/");
    let portraits_prefix = format!("avatars/{avatar}/portraits/");
    assert!(bot_text_contains(
        &app.telegram.sandbox().history(user.id),
        "Исходные фото хранятся 30 дн."
    ));
    assert_eq!(store.list(&refs).await.unwrap().len(), 5);
    let portraits = store.list(&portraits_prefix).await.unwrap();
    assert_eq!(portraits.len(), 7);

    // 29 days on: still kept.
    app.advance_clock(Duration::from_secs(29 * 86_400));
    app.settle().await;
    assert_eq!(store.list(&refs).await.unwrap().len(), 5);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM reference_photos WHERE avatar_id = ?1",
            avatar
        ),
        5
    );

    // Past 30 days: gone from the store and the database; the portraits stay.
    app.advance_clock(Duration::from_secs(2 * 86_400));
    app.settle().await;
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM reference_photos WHERE avatar_id = ?1",
            avatar,
        ),
        0
    );
    assert!(store.list(&refs).await.unwrap().is_empty());
    assert_eq!(store.list(&portraits_prefix).await.unwrap(), portraits);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM avatars WHERE id = ?1 AND photos_deleted_at IS NOT NULL",
            avatar
        ),
        1
    );

    // /gallery still sends the set.
    let sandbox = app.telegram.sandbox();
    sandbox.send_text(&user, "/gallery").unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the gallery",
        |e| last_bot_with_button(e, "Набор 1 · 7 портретов").is_some(),
        LONG,
    )
    .await;
    press(&app, &user, "Набор 1 · 7 портретов");
    wait_for(
        &app.telegram,
        &user,
        "the set again",
        |e| portraits_received(e).len() == 14,
        LONG,
    )
    .await;
    // A redo needs the photos: refused, with the reason.
    wait_for(
        &app.telegram,
        &user,
        "the actions",
        |e| {
            e.iter()
                .filter(|m| {
                    m.inline_buttons()
                        .any(|b| b.text == "🔄 Переделать портрет")
                })
                .count()
                >= 2
        },
        LONG,
    )
    .await;
    press(&app, &user, "🔄 Переделать портрет");
    wait_for(
        &app.telegram,
        &user,
        "the redo refusal",
        |e| bot_text_contains(e, "Исходные фото этого набора уже удалены"),
        LONG,
    )
    .await;
    // An admin's /retry of the set cannot make anything from deleted photos.
    let admin = UserSpec::new(900_000_001, "Админ").with_language("ru");
    let job: i64 = db
        .run_blocking(|c| {
            c.query_row(
                "SELECT id FROM generation_jobs WHERE avatar_id = ?1 AND kind = 'paid'",
                [avatar],
                |r| r.get(0),
            )
        })
        .unwrap();
    sandbox.send_text(&admin, &format!("/retry {job}")).unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "the retry refusal",
        |e| bot_text_contains(e, "исходные фото этого набора уже удалены"),
        LONG,
    )
    .await;
    app.shutdown().await;
}

/// The same deletion with the production backend: the application runs on
/// an in-process S3 server (s3s-fs), and the bucket is listed afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_the_bucket_holds_nothing_of_a_deleted_user_and_all_of_another() {
    use crate::store::{ACCESS_KEY, BUCKET, SECRET_KEY, start_s3_server};
    let dir = tempfile::tempdir().unwrap();
    let server = start_s3_server(dir.path()).await;
    let endpoint = server.endpoint.clone();
    let app = TestApp::start_with(move |c| {
        c.storage.backend = pinglass::config::StorageBackend::S3;
        c.storage.s3_endpoint = endpoint;
        c.storage.s3_bucket = BUCKET.to_owned();
        c.secrets.s3_access_key = Some(secrecy::SecretString::from(ACCESS_KEY));
        c.secrets.s3_secret_key = Some(secrecy::SecretString::from(SECRET_KEY));
    })
    .await;
    let (db, store) = (app.app().db.clone(), app.app().services.store.clone());
    assert!(matches!(store, ObjectStore::S3(_)));
    let anna = UserSpec::new(5601, "Анна").with_language("ru");
    let boris = UserSpec::new(5602, "Борис").with_language("ru");
    ready_set(&app, &anna, "anna-s3").await;
    draft_with_photos(&app, &boris, "boris-s3").await;
    let (anna_avatars, boris_avatars) = (avatars_of(&db, anna.id), avatars_of(&db, boris.id));
    let before = store.list("").await.unwrap();
    let boris_keys = keys_of(&store, &boris_avatars).await;
    assert_eq!(boris_keys.len(), 5);
    assert!(
        keys_of(&store, &anna_avatars).await.len() >= 12,
        "{before:?}"
    );

    let sandbox = app.telegram.sandbox();
    sandbox.send_text(&anna, "/delete_my_data").unwrap();
    wait_for(
        &app.telegram,
        &anna,
        "the question",
        |e| last_bot_with_button(e, CONFIRM).is_some(),
        LONG,
    )
    .await;
    press(&app, &anna, CONFIRM);
    wait_for(
        &app.telegram,
        &anna,
        "the deletion done",
        |e| bot_text_contains(e, DONE),
        LONG,
    )
    .await;

    let after = store.list("").await.unwrap();
    let expected: Vec<String> = before
        .into_iter()
        .filter(|k| {
            !anna_avatars
                .iter()
                .any(|a| k.starts_with(&format!("avatars/{a}/")))
        })
        .collect();
    assert_eq!(
        after, expected,
        "exactly the deleted user's objects are gone"
    );
    for key in &boris_keys {
        assert!(after.contains(key));
    }
    app.shutdown().await;
    drop(server);
}

/// While a deletion is under way, every message and button of that user is
/// answered "deleting, I will write when done", and nothing else happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_deletion_runs_the_user_is_told_to_wait_and_nothing_changes() {
    let app = TestApp::start().await;
    let user = UserSpec::new(5701, "Тая").with_language("ru");
    draft_with_photos(&app, &user, "taya").await;
    let db = app.app().db.clone();
    // A request the side task will only take up tomorrow.
    let now = app.clock.now_ms();
    db.run_blocking(|c| {
        let (request, _) = privacy::request(c, user.id, now)?;
        privacy::postpone(c, request.id, now + 86_400_000, "test: later")
    })
    .unwrap();
    let sandbox = app.telegram.sandbox();
    let counter = last_bot_with_button(&sandbox.history(user.id), "✨ Создать портреты").unwrap();
    let avatars_before = avatars_of(&db, user.id);

    for text in ["/start", "/gallery", "/delete_my_data", "привет"] {
        let before = sandbox.history(user.id).len();
        sandbox.send_text(&user, text).unwrap();
        wait_for(
            &app.telegram,
            &user,
            "the wait answer",
            |e| {
                e.len() > before + 1
                    && e.last().unwrap().text_or_caption()
                        == Some("Удаляю ваши данные — напишу, когда закончу (обычно это несколько секунд).")
            },
            LONG,
        )
        .await;
    }
    let press = sandbox
        .press_button_with_text(&user, counter, "✨ Создать портреты")
        .unwrap();
    assert!(toast(&app, &press).await.starts_with("Удаляю ваши данные"));
    assert_eq!(avatars_of(&db, user.id), avatars_before);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM reference_photos WHERE avatar_id IN (SELECT id FROM avatars WHERE user_id = ?1)",
            user.id
        ),
        5
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM payments WHERE user_id = ?1",
            user.id
        ),
        0
    );
    app.shutdown().await;
}

/// Paid portraits still being made: the deletion waits for them (the money
/// is either turned into portraits or refunded first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_waits_while_paid_portraits_are_being_made() {
    let app = TestApp::start().await;
    let user = UserSpec::new(5801, "Глеб").with_language("ru");
    use pinglass::kie::standin::{Fault, TaskFault};
    app.kie.script(Fault::Task(TaskFault::NeverFinish), 1);
    buy(&app.telegram, &app.tbank, &user, "gleb", STARTER).await;
    let db = app.app().db.clone();
    wait_until("the job running", || {
        count(
            &db,
            "SELECT COUNT(*) FROM generation_jobs WHERE user_id = ?1 AND status = 'running'",
            user.id,
        ) == 1
    })
    .await;
    app.telegram
        .sandbox()
        .send_text(&user, "/delete_my_data")
        .unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the refusal",
        |e| bot_text_contains(e, "Сейчас для вас создаются портреты"),
        LONG,
    )
    .await;
    assert!(last_bot_with_button(&app.telegram.sandbox().history(user.id), CONFIRM).is_none());
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM deletion_requests WHERE user_id = ?1",
            user.id
        ),
        0
    );
    app.shutdown().await;
}

/// An abandoned draft's photos fall under the retention period too (its
/// last photo + `retention_days`), and what the bot no longer needs is
/// pruned on a schedule: sent queue rows and dialogues after
/// `messages_days`, funnel events after `events_days` (issue 15).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_drafts_lose_their_photos_and_old_rows_are_pruned() {
    let app = TestApp::start().await;
    let user = UserSpec::new(5511, "Кира").with_language("ru");
    draft_with_photos(&app, &user, "kira").await;
    app.settle().await;
    let (db, store) = (app.app().db.clone(), app.app().services.store.clone());
    let avatar = avatars_of(&db, user.id)[0];
    let refs = format!("avatars/{avatar}/refs/");
    assert_eq!(store.list(&refs).await.unwrap().len(), 5);
    let rows = |sql: &'static str| count(&db, sql, user.id);
    let sent =
        "SELECT COUNT(*) FROM message_queue WHERE chat_id = ?1 AND status IN ('sent', 'failed')";
    let dialogue = "SELECT COUNT(*) FROM dialogues WHERE chat_id = ?1";
    let events = "SELECT COUNT(*) FROM funnel_events WHERE user_id = ?1";
    let photos = "SELECT COUNT(*) FROM reference_photos p JOIN avatars a ON a.id = p.avatar_id \
                  WHERE a.user_id = ?1";
    assert_eq!(rows(dialogue), 1);
    assert!(rows(events) >= 2);
    // A queued message to the user, sent (or given up): a row to prune later.
    let (chat, now) = (user.id, app.clock.now_ms());
    db.run_blocking(move |c| {
        pinglass::db::queue::enqueue(
            c,
            chat,
            pinglass::db::queue::MessageKind::Text,
            r#"{"kind":"text","text":"привет","buttons":[]}"#,
            "test:housekeeping",
            (true, 2),
            now,
        )
    })
    .unwrap();
    app.settle().await;
    assert_eq!(rows(sent), 1);

    // 29 days on: everything kept.
    app.advance_clock(Duration::from_secs(29 * 86_400));
    app.settle().await;
    assert_eq!(rows(photos), 5);
    assert_eq!((rows(sent), rows(dialogue)), (1, 1));

    // Past 30 days: the draft's photos are gone from the store and the
    // database (the draft stays, empty); so are the sent row and the dialogue.
    app.advance_clock(Duration::from_secs(2 * 86_400));
    app.settle().await;
    assert_eq!(rows(photos), 0);
    assert!(store.list(&refs).await.unwrap().is_empty());
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM avatars WHERE id = ?1 AND status = 'draft'",
            avatar
        ),
        1
    );
    assert_eq!((rows(sent), rows(dialogue)), (0, 0));
    assert!(rows(events) >= 2, "the reports still see the events");

    // The user comes back: /start takes photos again into the same draft.
    draft_with_photos(&app, &user, "kira-again").await;
    assert_eq!(avatars_of(&db, user.id), vec![avatar]);

    // Day 399: the funnel events are kept (the reports' reach) …
    app.advance_clock(Duration::from_secs(368 * 86_400));
    app.settle().await;
    assert!(rows(events) >= 2);
    // … past `events_days` (400) they are gone.
    app.advance_clock(Duration::from_secs(3 * 86_400));
    app.settle().await;
    assert_eq!(rows(events), 0);
    app.shutdown().await;
}

/// After /delete_my_data the payment keeps no receipt contact. An admin's
/// refund of it still goes through: a full cancellation carries no receipt
/// (T-Bank's spec), so nothing of the erased contact is needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_refund_after_the_user_deleted_their_data_goes_through() {
    let app = TestApp::start().await;
    let sandbox = app.telegram.sandbox().clone();
    let user = UserSpec::new(7301, "Зоя").with_language("ru");
    let bank_id = crate::support::starter_set(&app, &user, "deleted-refund").await;
    sandbox.send_text(&user, "/delete_my_data").unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the question",
        |e| last_bot_with_button(e, CONFIRM).is_some(),
        LONG,
    )
    .await;
    press(&app, &user, CONFIRM);
    wait_for(
        &app.telegram,
        &user,
        "the deletion",
        |e| bot_text_contains(e, DONE),
        LONG,
    )
    .await;
    let payment: i64 = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row(
                "SELECT id FROM payments WHERE user_id = 7301 AND receipt_contact = ''",
                [],
                |r| r.get(0),
            )
        })
        .unwrap();
    crate::support::admin_refunds_in_full(&app, payment).await;
    let at_bank = app.tbank.payment(&bank_id).unwrap();
    assert_eq!(at_bank.cancellations, [49_900]);
    assert_eq!(at_bank.cancellation_receipts, [None]);
    app.shutdown().await;
}
