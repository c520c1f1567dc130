//! The gallery's ZIP download and share links, where a transcript cannot
//! look: the archive is opened and compared byte for byte with the object
//! store, split under a lowered part limit, rebuilt after a crash, explained
//! at once when a portrait is missing from the store; share
//! tokens are unguessable and one live link per set.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use pinglass::bot::commands::StartPayload;
use pinglass::bot::gallery::new_share_token;
use pinglass::chat::outbox::{self, Delivery, Outgoing};
use pinglass::db::{self, Db, galleries, portraits, queue};
use pinglass::telegram::standin::{ChatEntry, UserSpec};

use crate::support::{LONG, TestApp, buy, portraits_received, press, wait_for};

const SET: &str = "Набор 1 · 7 портретов";
const ZIP: &str = "📦 Скачать ZIP-архив";

fn zip_documents(entries: &[ChatEntry]) -> Vec<ChatEntry> {
    entries
        .iter()
        .filter(|e| {
            e.is_from_bot()
                && e.document
                    .as_ref()
                    .and_then(|d| d.file_name.as_deref())
                    .is_some_and(|n| n.ends_with(".zip"))
        })
        .cloned()
        .collect()
}

/// Opens a ZIP the bot sent: its entries, name → bytes; every entry stored
/// (not recompressed).
async fn open_zip(app: &TestApp, document: &ChatEntry) -> (u64, BTreeMap<String, Vec<u8>>) {
    let info = document.document.as_ref().unwrap();
    let bytes = app
        .telegram
        .sandbox()
        .file_bytes(&info.file_id)
        .await
        .expect("the document is stored");
    assert_eq!(bytes.len() as u64, info.file_size);
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a valid ZIP");
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        assert_eq!(file.compression(), zip::CompressionMethod::Stored);
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        let name = file.name().unwrap().into_owned();
        assert!(
            files.insert(name.clone(), content).is_none(),
            "{name} twice"
        );
    }
    (info.file_size, files)
}

/// Every portrait of the user's first avatar: object bytes from the store, in order.
async fn stored_portraits(app: &TestApp) -> Vec<Vec<u8>> {
    let keys: Vec<String> = app
        .app()
        .db
        .run(|c| portraits::for_avatar(c, 1))
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.object_key)
        .collect();
    let mut out = Vec::new();
    for key in keys {
        out.push(app.app().services.store.get(&key).await.unwrap().to_vec());
    }
    out
}

async fn ready_set(app: &TestApp, user: &UserSpec, prefix: &str) {
    buy(
        &app.telegram,
        &app.tbank,
        user,
        prefix,
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    wait_for(
        &app.telegram,
        user,
        "all 7 portraits",
        |e| portraits_received(e).len() == 7,
        LONG,
    )
    .await;
    app.telegram.sandbox().send_text(user, "/gallery").unwrap();
    wait_for(
        &app.telegram,
        user,
        "the gallery",
        |e| pinglass::harness::chat::last_bot_with_button(e, SET).is_some(),
        LONG,
    )
    .await;
    press(app, user, SET);
    wait_for(
        &app.telegram,
        user,
        "the set's actions",
        |e| pinglass::harness::chat::last_bot_with_button(e, ZIP).is_some(),
        LONG,
    )
    .await;
}

/// The temporary archives left once the side task has nothing more to do
/// (a part's file is removed as soon as Telegram answered, before the queue
/// row is marked sent).
async fn zip_dir_left(app: &TestApp) -> Vec<String> {
    app.settle().await;
    zip_dir_files(app)
}

fn zip_dir_files(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(&app.config.gallery.zip_dir)
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_holds_every_portrait_whole_and_splits_under_a_lower_limit() {
    let mut app = TestApp::start().await;
    let user = UserSpec::new(4101, "Зоя").with_language("ru");
    ready_set(&app, &user, "zoya").await;
    let portraits = stored_portraits(&app).await;
    assert_eq!(portraits.len(), 7);

    // One archive: every portrait once, byte for byte, under the limit.
    press(&app, &user, ZIP);
    wait_for(
        &app.telegram,
        &user,
        "the ZIP",
        |e| zip_documents(e).len() == 1,
        LONG,
    )
    .await;
    let sent = zip_documents(&app.telegram.sandbox().history(user.id));
    let document = &sent[0];
    let info = document.document.as_ref().unwrap();
    assert_eq!(info.file_name.as_deref(), Some("portraits.zip"));
    assert_eq!(
        document.caption.as_deref(),
        Some("📦 7 портретов в полном размере")
    );
    let (size, files) = open_zip(&app, document).await;
    assert!(size <= app.config.gallery.zip_part_max_bytes);
    let names: Vec<&String> = files.keys().collect();
    let expected: Vec<String> = (1..=7).map(|i| format!("portrait-{i:02}.png")).collect();
    assert_eq!(names, expected.iter().collect::<Vec<_>>());
    for (i, bytes) in portraits.iter().enumerate() {
        assert!(files[&expected[i]] == *bytes, "{} differs", expected[i]);
    }
    assert_eq!(
        zip_dir_left(&app).await,
        Vec::<String>::new(),
        "the temporary archive is removed"
    );

    // A part limit of about two portraits: several parts, each a valid ZIP
    // under the limit, together holding every portrait exactly once.
    let largest = portraits.iter().map(Vec::len).max().unwrap() as u64;
    let limit = (largest * 5 / 2).max(65_536);
    app.config.gallery.zip_part_max_bytes = limit;
    app.restart().await;
    press(&app, &user, ZIP);
    let total = portraits.iter().map(Vec::len).sum::<usize>() as u64;
    let min_parts = total.div_ceil(limit) as usize;
    assert!(
        min_parts >= 2,
        "the test needs a split ({total} bytes, limit {limit})"
    );
    wait_for(
        &app.telegram,
        &user,
        "the parts",
        |e| {
            let docs = zip_documents(e);
            docs.len() > min_parts
                && docs
                    .last()
                    .and_then(|d| d.caption.as_deref())
                    .is_some_and(|c| {
                        let parts = docs.len() - 1;
                        c.starts_with(&format!("📦 Часть {parts} из {parts}"))
                    })
        },
        LONG,
    )
    .await;
    let parts = zip_documents(&app.telegram.sandbox().history(user.id))[1..].to_vec();
    let count = parts.len();
    let mut seen = BTreeMap::new();
    for (k, part) in parts.iter().enumerate() {
        let info = part.document.as_ref().unwrap();
        assert_eq!(
            info.file_name.as_deref(),
            Some(format!("portraits-part{}.zip", k + 1).as_str())
        );
        let caption = part.caption.as_deref().unwrap();
        assert!(
            caption.starts_with(&format!("📦 Часть {} из {count}", k + 1)),
            "{caption}"
        );
        let (size, files) = open_zip(&app, part).await;
        assert!(
            size <= limit,
            "part {} is {size} bytes, over {limit}",
            k + 1
        );
        for (name, bytes) in files {
            assert!(
                seen.insert(name.clone(), bytes).is_none(),
                "{name} in two parts"
            );
        }
    }
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), expected);
    for (i, bytes) in portraits.iter().enumerate() {
        assert!(seen[&expected[i]] == *bytes, "{} differs", expected[i]);
    }
    assert_eq!(zip_dir_left(&app).await, Vec::<String>::new());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_in_flight_at_a_crash_is_rebuilt_and_sent_after_the_restart() {
    let mut app = TestApp::start().await;
    let user = UserSpec::new(4102, "Яна").with_language("ru");
    ready_set(&app, &user, "yana").await;
    app.stop().await;

    // What a killed process leaves: the request's part claimed ("sending")
    // and a half-written archive on disk.
    let db = Db::open(&app.config.database.path, 1).unwrap();
    let row_id = db
        .run_blocking(|c| {
            let part = Outgoing::ZipRequest { avatar_id: 1 };
            outbox::enqueue(
                c,
                4102,
                &part,
                "zip:1:crashed",
                Delivery::Essential,
                db::now_ms(),
            )?;
            let claimed = queue::claim_due(c, db::now_ms(), 120_000, 8)?;
            Ok(claimed[0].id)
        })
        .unwrap();
    drop(db);
    std::fs::create_dir_all(&app.config.gallery.zip_dir).unwrap();
    let leftover = pinglass::worker::zip::work_path(&app.config.gallery.zip_dir, row_id);
    std::fs::write(&leftover, b"PK\x03\x04 half an archive").unwrap();

    app.restart().await;
    wait_for(
        &app.telegram,
        &user,
        "the ZIP after the restart",
        |e| zip_documents(e).len() == 1,
        LONG,
    )
    .await;
    let sent = zip_documents(&app.telegram.sandbox().history(user.id));
    let (_, files) = open_zip(&app, &sent[0]).await;
    assert_eq!(files.len(), 7);
    // Sent once, and nothing left on disk.
    app.settle().await;
    assert_eq!(
        zip_documents(&app.telegram.sandbox().history(user.id)).len(),
        1
    );
    assert_eq!(zip_dir_left(&app).await, Vec::<String>::new());
    app.shutdown().await;
}

#[test]
fn share_tokens_are_long_url_safe_distinct_and_parse_as_gallery_links() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let token = new_share_token();
        assert_eq!(token.len(), 24, "144 bits in 24 characters of 64");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            StartPayload::parse(&format!("g_{token}")),
            StartPayload::Gallery(token.clone())
        );
        assert!(seen.insert(token));
    }
}

#[test]
fn one_live_link_per_set_and_a_new_one_after_revoking() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("db.sqlite3"), 1).unwrap();
    db.run_blocking(|c| {
        let user = db::users::SeenUser {
            id: 7,
            username: None,
            first_name: "Ева",
            language: "ru",
        };
        db::users::touch(c, &user, "evacode1", 1)?;
        let avatar = db::avatars::create_draft(c, 7, 1)?;
        let first = galleries::live_or_create(c, avatar.id, &new_share_token(), 2)?;
        let again = galleries::live_or_create(c, avatar.id, &new_share_token(), 3)?;
        assert_eq!(first, again, "the same live link");
        assert!(galleries::revoke(c, avatar.id, 4)?);
        assert!(
            !galleries::revoke(c, avatar.id, 5)?,
            "nothing left to revoke"
        );
        assert!(
            galleries::by_token(c, &first.token)?
                .unwrap()
                .revoked_at
                .is_some()
        );
        let fresh = galleries::live_or_create(c, avatar.id, &new_share_token(), 6)?;
        assert_ne!(fresh.token, first.token);
        // The index refuses a second live link even past the function.
        let second = c.execute(
            "INSERT INTO shared_galleries (avatar_id, token, created_at) VALUES (?1, ?2, 7)",
            rusqlite::params![avatar.id, new_share_token()],
        );
        assert!(second.is_err());
        Ok(())
    })
    .unwrap();
}

/// The process's peak resident memory so far, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_near_the_upload_limit_is_built_entry_by_entry() {
    use pinglass::chat::outbox::ZipEntry;
    use pinglass::store::{LocalStore, ObjectStore};
    use rand::RngCore;

    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::Local(LocalStore::new(dir.path().join("objects"), None));
    // 23 portraits of 2 MiB of noise (incompressible, like PNG/JPEG): 46 MiB.
    let mut entries = Vec::new();
    let mut costs = Vec::new();
    for i in 1..=23 {
        let mut bytes = vec![0u8; 2 * 1024 * 1024];
        rand::rng().fill_bytes(&mut bytes);
        let key = format!("avatars/1/portraits/job1-{i:02}-v1.png");
        store.put(&key, bytes.into(), "image/png").await.unwrap();
        let name = format!("portrait-{i:02}.png");
        costs.push(pinglass::worker::zip::entry_cost(2 * 1024 * 1024, &name));
        entries.push(ZipEntry {
            portrait_id: i,
            object_key: key,
            name,
        });
    }
    let limit = 49_000_000;
    let plan = pinglass::worker::zip::plan_parts(&costs, limit).unwrap();
    assert_eq!(plan.len(), 1, "46 MiB fits one part under 49 MB");

    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    let path = dir.path().join("tmp").join("queue-1.zip");
    let size = pinglass::worker::zip::build(&store, &entries, &path, db::now_ms())
        .await
        .unwrap();
    let took = started.elapsed();
    let after = peak_rss_kib();
    assert_eq!(size, std::fs::metadata(&path).unwrap().len());
    assert!(size <= limit && size > 46 * 1024 * 1024, "{size}");
    let archive = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(archive.len(), 23);
    // A measurement, not an assertion: the peak is the whole process's.
    eprintln!(
        "built a {size}-byte ZIP of 23 entries in {took:?}; peak RSS {:?} KiB -> {:?} KiB",
        before, after
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portrait_missing_from_the_store_is_explained_at_once_not_retried() {
    let app = TestApp::start().await;
    let user = UserSpec::new(4103, "Ника").with_language("ru");
    ready_set(&app, &user, "nika").await;
    let first_key = app
        .app()
        .db
        .run(|c| portraits::for_avatar(c, 1))
        .await
        .unwrap()[0]
        .object_key
        .clone();
    app.app().services.store.delete(&first_key).await.unwrap();

    press(&app, &user, ZIP);
    let started = std::time::Instant::now();
    wait_for(
        &app.telegram,
        &user,
        "the apology",
        |e| crate::support::bot_text_contains(e, "Не получилось собрать архив"),
        LONG,
    )
    .await;
    // A permanent fault is not retried with back-off (8 attempts would take minutes).
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(zip_documents(&app.telegram.sandbox().history(user.id)).is_empty());
    let failed = app
        .app()
        .db
        .run(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM message_queue WHERE kind = 'document' AND status = 'failed'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(failed, 1);
    app.shutdown().await;
}

/// A share link cannot be used to queue albums without limit: one viewer
/// opens one set at most `share_opens_per_viewer_per_day` times in 24 h,
/// and everyone together `share_opens_per_set_per_day` (issue 15); past
/// either the viewer is told why, and nothing is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_link_opens_a_limited_number_of_times_a_day() {
    let app = TestApp::start_with(|c| {
        c.gallery.share_opens_per_viewer_per_day = 2;
        c.gallery.share_opens_per_set_per_day = 3;
    })
    .await;
    let owner = UserSpec::new(5801, "Вера").with_language("ru");
    ready_set(&app, &owner, "vera-share").await;
    let db = app.app().db.clone();
    let token = db
        .run_blocking(|c| {
            let avatar: i64 =
                c.query_row("SELECT id FROM avatars WHERE user_id = 5801", [], |r| {
                    r.get(0)
                })?;
            galleries::live_or_create(c, avatar, &new_share_token(), 1).map(|g| g.token)
        })
        .unwrap();
    let sandbox = app.telegram.sandbox().clone();
    let invites = |user: &UserSpec| {
        sandbox
            .bot_messages(user.id)
            .iter()
            .filter(|m| {
                m.text
                    .as_deref()
                    .is_some_and(|t| t.starts_with("Хотите такие же"))
            })
            .count()
    };
    let open = |user: UserSpec| {
        let (sandbox, token, app) = (sandbox.clone(), token.clone(), &app);
        async move {
            sandbox
                .send_text(&user, &format!("/start g_{token}"))
                .unwrap();
            crate::support::handled(&app.telegram, &user).await;
            app.settle().await;
        }
    };
    let (oleg, nina) = (
        UserSpec::new(5802, "Олег").with_language("ru"),
        UserSpec::new(5803, "Нина").with_language("ru"),
    );
    for _ in 0..3 {
        open(oleg.clone()).await;
    }
    assert_eq!(invites(&oleg), 2, "the third opening is refused");
    assert_eq!(portraits_received(&sandbox.history(oleg.id)).len(), 14);
    assert!(crate::support::bot_text_contains(
        &sandbox.history(oleg.id),
        "Вы уже открывали этот набор сегодня"
    ));
    // The set's own limit: one more opening by anyone, then none.
    open(nina.clone()).await;
    open(nina.clone()).await;
    assert_eq!(invites(&nina), 1);
    assert!(crate::support::bot_text_contains(
        &sandbox.history(nina.id),
        "Этот набор сегодня открывали очень много раз"
    ));
    // A day later the link works again.
    app.advance_clock(std::time::Duration::from_secs(25 * 3600));
    open(oleg.clone()).await;
    assert_eq!(invites(&oleg), 3);
    app.shutdown().await;
}
