//! Benchmarks of the hot paths (divan), each against a real SQLite file in a
//! temporary directory opened with `Db::open` (the shipped pragmas, WAL):
//!
//! * `dialogue`: the dialogue state stored and loaded through
//!   `SqliteStorage` (teloxide's `Storage`), among 10,000 chats;
//! * `handler_tree`: one text message from a known user in the `Uploading`
//!   state dispatched through the real `handlers::schema()` (user load, A/B
//!   assignments, dialogue load, the handler, its `sendMessage` answer over
//!   loopback to the in-process Telegram stand-in);
//! * `queue`: `claim_due` of a batch from 10,000 pending messages, and
//!   `mark_sent` of one claimed message;
//! * `referral`: `credit_for_payment` for a fresh confirmed-size payment of a
//!   referred user, in its own transaction (commit included);
//! * `face_gate`: the face-quality gate (`media::quality::assess`) on a
//!   typical upload, a 1280×960 photo of one person already decoded, and the
//!   whole intake of the same photo as JPEG bytes (`inspect_upload_gated`:
//!   decode, gate, re-encode) beside intake without the gate.
//!
//! Run: `cargo bench --locked --bench hot_paths` (figures in BENCHMARKS.md).

use std::ops::ControlFlow;
use std::sync::Arc;

use divan::Bencher;
use pinglass::bot::BotCtx;
use pinglass::bot::state::State;
use pinglass::bot::storage::SqliteStorage;
use pinglass::chat::{TgBot, Wake};
use pinglass::clock::Clock;
use pinglass::db::payments::{self, CreatePayment, NewPayment, Payment};
use pinglass::db::{self, Db, avatars, dialogues, queue, referrals, users};
use pinglass::store::ObjectStore;
use pinglass::store::local::LocalStore;
use pinglass::telegram::standin::{Handle, Options, RateLimits, UserSpec};
use teloxide::dispatching::dialogue::Storage;
use teloxide::dptree;
use teloxide::prelude::{Requester, RequesterExt};
use teloxide::types::{ChatId, Me, Update};
use tempfile::TempDir;
use tokio::runtime::Runtime;

fn main() {
    divan::main();
}

/// The application's runtime shape: multi-threaded (2 workers, the machine's
/// cores), database work on the blocking pool via `Db::run`.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A migrated database file in a fresh temporary directory.
fn temp_db() -> (TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(&dir.path().join("pinglass.sqlite3"), 4).expect("open db");
    (dir, db)
}

fn seen(id: i64, name: &str) -> users::SeenUser<'_> {
    users::SeenUser {
        id,
        username: None,
        first_name: name,
        language: "ru",
    }
}

/// A user row with a unique referral code.
fn add_user(c: &rusqlite::Connection, id: i64) -> rusqlite::Result<users::User> {
    Ok(users::touch(c, &seen(id, "Анна"), &format!("code{id}"), db::now_ms())?.0)
}

const CHATS: i64 = 10_000;

/// 10,000 chats with a stored state, so lookups go through a real index.
fn seed_dialogues(db: &Db) {
    db.run_blocking(|c| {
        let tx = c.transaction()?;
        for chat in 1..=CHATS {
            let state = State::Uploading {
                avatar_id: chat,
                counter_message_id: Some(100),
                buried: false,
            };
            let json = serde_json::to_string(&state).expect("state json");
            dialogues::put(&tx, chat, &json, db::now_ms())?;
        }
        tx.commit()
    })
    .expect("seed dialogues");
}

mod dialogue {
    use super::*;

    fn state() -> State {
        State::Uploading {
            avatar_id: 4_321,
            counter_message_id: Some(987_654),
            buried: true,
        }
    }

    /// `update_dialogue`: serialize + one upsert (the dispatcher does it on
    /// every state change).
    #[divan::bench]
    fn store(bencher: Bencher) {
        let rt = runtime();
        let (_dir, db) = temp_db();
        seed_dialogues(&db);
        let storage = SqliteStorage::new(db, Arc::new(Clock::system()));
        bencher.bench_local(|| {
            rt.block_on(storage.clone().update_dialogue(ChatId(CHATS / 2), state()))
                .expect("store")
        });
    }

    /// `get_dialogue`: one indexed read + deserialize (every private update).
    #[divan::bench]
    fn load(bencher: Bencher) {
        let rt = runtime();
        let (_dir, db) = temp_db();
        seed_dialogues(&db);
        let storage = SqliteStorage::new(db, Arc::new(Clock::system()));
        rt.block_on(storage.clone().update_dialogue(ChatId(CHATS / 2), state()))
            .expect("store");
        bencher.bench_local(|| {
            let got = rt
                .block_on(storage.clone().get_dialogue(ChatId(CHATS / 2)))
                .expect("load");
            assert_eq!(got, Some(state()));
        });
    }
}

mod handler_tree {
    use super::*;

    const TOKEN: &str = "4242:bench-token";
    const USER: i64 = 4_200_042;

    struct World {
        _dir: TempDir,
        standin: Handle,
        bot: TgBot,
        me: Me,
        ctx: Arc<BotCtx>,
        storage: Arc<SqliteStorage>,
        update: Update,
    }

    async fn world() -> anyhow::Result<World> {
        let dir = tempfile::tempdir()?;
        let config = pinglass::harness::local_config(dir.path())?;
        let mut options = Options::new(TOKEN, "PinGlassBenchBot", dir.path().join("telegram"));
        options.limits = RateLimits::disabled();
        let standin = pinglass::telegram::standin::start(options).await?;
        let user = UserSpec::new(USER, "Анна").with_language("ru");
        standin.sandbox().register_user(&user);
        // The user opened the chat (otherwise the bot may not write first).
        standin.sandbox().send_text(&user, "/start")?;
        // The bot as `build_bot` makes it (CacheMe over Paced), with every
        // limit out of reach: pacing is not what is measured.
        let plain = teloxide::Bot::new(TOKEN).set_api_url(standin.base_url());
        let bot: TgBot = pinglass::chat::paced::Paced::new(
            plain.clone(),
            plain,
            pinglass::chat::paced::Limiter::new(1_000_000, 1_000_000),
        )
        .cache_me();
        let me = bot.get_me().await?;

        let db = Db::open(&config.database.path, config.database.pool_size)?;
        seed_dialogues(&db);
        let avatar = db.run_blocking(|c| {
            add_user(c, USER)?;
            avatars::create_draft(c, USER, db::now_ms())
        })?;
        let clock = Arc::new(Clock::system());
        let storage = SqliteStorage::new(db.clone(), clock.clone());
        storage
            .clone()
            .update_dialogue(
                ChatId(USER),
                State::Uploading {
                    avatar_id: avatar.id,
                    counter_message_id: Some(2),
                    buried: false,
                },
            )
            .await?;
        let store = ObjectStore::Local(LocalStore::new(config.storage.local_dir.clone(), None));
        let ctx = Arc::new(BotCtx {
            config: Arc::new(config),
            db,
            store,
            wake: Arc::new(Wake::default()),
            clock,
            ops: Arc::new(pinglass::ops::Ops::default()),
        });
        // (From text: teloxide's `Update` does not deserialize from a `Value`.)
        let update: Update = serde_json::from_str(&serde_json::json!({
            "update_id": 1,
            "message": {
                "message_id": 3,
                "date": 1_764_460_800,
                "chat": {"id": USER, "type": "private", "first_name": "Анна"},
                "from": {"id": USER, "is_bot": false, "first_name": "Анна", "language_code": "ru"},
                "text": "а когда будут фото?"
            }
        })
        .to_string())?;
        Ok(World {
            _dir: dir,
            standin,
            bot,
            me,
            ctx,
            storage,
            update,
        })
    }

    /// One update through the whole tree, as the dispatcher runs it (the
    /// dependencies it inserts: bot, me, update, plus ours).
    ///
    /// (Each dispatch after the first took ~250 ms while the bot used
    /// teloxide's Throttle, whose worker sleeps 250 ms a round; `Paced`
    /// replaced it — see BENCHMARKS.md.)
    #[divan::bench(sample_count = 100, sample_size = 1)]
    fn text_while_uploading(bencher: Bencher) {
        let rt = runtime();
        let world = rt.block_on(world()).expect("bench world");
        let handler = pinglass::bot::handlers::schema();
        let before = world
            .ctx
            .db
            .run_blocking(|c| dialogues::get(c, USER))
            .expect("state");
        let dispatched = std::cell::Cell::new(0usize);
        bencher.bench_local(|| {
            dispatched.set(dispatched.get() + 1);
            let deps = dptree::deps![
                world.bot.clone(),
                world.me.clone(),
                world.ctx.clone(),
                world.storage.clone(),
                world.update.clone()
            ];
            match rt.block_on(handler.dispatch(deps)) {
                ControlFlow::Break(Ok(())) => {}
                ControlFlow::Break(Err(error)) => panic!("handler failed: {error:#}"),
                ControlFlow::Continue(_) => panic!("the update was not handled"),
            }
        });
        // A stray text changes nothing: the state is as it was.
        let after = world
            .ctx
            .db
            .run_blocking(|c| dialogues::get(c, USER))
            .expect("state");
        assert_eq!(before, after);
        // And each dispatch answered the user (the stand-in got the message).
        let answers = world.standin.sandbox().bot_messages(USER);
        assert_eq!(answers.len(), dispatched.get(), "one answer per update");
    }
}

mod queue_claim {
    use super::*;

    const PENDING: i64 = 10_000;
    const LEASE_MS: i64 = 60_000;

    fn seeded() -> (TempDir, Db) {
        let (dir, db) = temp_db();
        db.run_blocking(|c| {
            let tx = c.transaction()?;
            let now = db::now_ms();
            for i in 0..PENDING {
                let payload = format!(r#"{{"text":"Готово: портрет {i}"}}"#);
                queue::enqueue(
                    &tx,
                    1_000 + i % 500,
                    queue::MessageKind::Text,
                    &payload,
                    &format!("bench:{i}"),
                    (true, 2),
                    now - 1_000,
                )?;
            }
            tx.commit()
        })
        .expect("seed queue");
        (dir, db)
    }

    /// `claim_due` of a batch of `limit` from 10,000 due rows (immediate
    /// transaction, select, one update per row, commit). The claimed rows are
    /// put back (untimed) before the next iteration, so every claim sees
    /// 10,000 due rows.
    #[divan::bench(args = [1, 20])]
    fn claim_due(bencher: Bencher, limit: u32) {
        let (_dir, db) = seeded();
        bencher
            .with_inputs(|| {
                db.run_blocking(|c| queue::resume_in_flight(c, db::now_ms() - 1_000))
                    .expect("reset");
            })
            .bench_local_values(|()| {
                let claimed = db
                    .run_blocking(|c| queue::claim_due(c, db::now_ms(), LEASE_MS, limit))
                    .expect("claim");
                assert_eq!(claimed.len(), limit as usize);
            });
    }

    /// `mark_sent` of one claimed message (claimed untimed beforehand); at
    /// most 1,000 of the 10,000 rows are used.
    #[divan::bench(sample_count = 100, sample_size = 10)]
    fn mark_sent(bencher: Bencher) {
        let (_dir, db) = seeded();
        bencher
            .with_inputs(|| {
                db.run_blocking(|c| queue::claim_due(c, db::now_ms(), LEASE_MS, 1))
                    .expect("claim")
                    .remove(0)
                    .id
            })
            .bench_local_values(|id| {
                let sent = db
                    .run_blocking(|c| queue::mark_sent(c, id, "[501]", "[]", db::now_ms()))
                    .expect("mark sent");
                assert!(sent);
            });
    }
}

mod referral {
    use super::*;

    const REFERRER: i64 = 5_000_001;
    const REFERRED: i64 = 5_000_002;

    /// A new payment of the referred user (a fresh avatar each: one open
    /// payment per avatar), as the confirmation step sees it.
    fn new_payment(db: &Db, n: u64) -> Payment {
        db.run_blocking(|c| {
            let avatar = avatars::create_draft(c, REFERRED, db::now_ms())?;
            let order = format!("bench-order-{n}");
            let created = payments::create(
                c,
                &NewPayment {
                    order_id: &order,
                    user_id: REFERRED,
                    avatar_id: avatar.id,
                    tier_id: "standard",
                    amount_kopecks: 149_000,
                    portraits: 50,
                    discount_kopecks: 0,
                    receipt_contact: "anna@example.com",
                },
                db::now_ms(),
            )?;
            Ok(match created {
                CreatePayment::Created(p) | CreatePayment::AlreadyOpen(p) => p,
            })
        })
        .expect("payment")
    }

    /// `credit_for_payment` (referrer lookup, insert once, read back) in its
    /// own transaction, commit included.
    #[divan::bench(sample_count = 100, sample_size = 10)]
    fn credit_for_payment(bencher: Bencher) {
        let (_dir, db) = temp_db();
        db.run_blocking(|c| {
            add_user(c, REFERRER)?;
            add_user(c, REFERRED)?;
            assert!(users::attribute_referrer(c, REFERRED, REFERRER)?);
            Ok(())
        })
        .expect("seed users");
        let mut n = 0u64;
        bencher
            .with_inputs(|| {
                n += 1;
                new_payment(&db, n)
            })
            .bench_local_values(|payment| {
                let earning = db
                    .run_blocking(|c| {
                        let tx = c.transaction()?;
                        let earning =
                            referrals::credit_for_payment(&tx, &payment, 10, db::now_ms())?;
                        tx.commit()?;
                        Ok(earning)
                    })
                    .expect("credit")
                    .expect("an earning");
                assert_eq!(earning.amount_kopecks, 14_900);
            });
    }
}

mod face_gate {
    use divan::Bencher;
    use image::DynamicImage;
    use pinglass::media::{self, IntakeRules, QualityRules, quality};

    /// A typical upload: 1280×960, one person (the harness's generated photo,
    /// the face about a quarter of the short side), as the user's JPEG.
    fn upload_jpeg() -> Vec<u8> {
        pinglass::harness::chat::photo_jpeg("bench", 1280, 960)
    }

    #[divan::bench(sample_count = 30, sample_size = 1)]
    fn gate_decoded_1280x960(bencher: Bencher) {
        let photo: DynamicImage = image::load_from_memory(&upload_jpeg()).expect("decodes");
        let rules = QualityRules::default();
        quality::assess(&photo, &rules).expect("the photo passes the gate");
        bencher.bench_local(|| quality::assess(divan::black_box(&photo), &rules));
    }

    #[divan::bench(sample_count = 30, sample_size = 1)]
    fn intake_with_gate_1280x960_jpeg(bencher: Bencher) {
        let jpeg = upload_jpeg();
        let (intake, gate) = (IntakeRules::default(), QualityRules::default());
        bencher.bench_local(|| {
            media::inspect_upload_gated(divan::black_box(&jpeg), None, None, &intake, &gate)
                .expect("accepted")
        });
    }

    #[divan::bench(sample_count = 30, sample_size = 1)]
    fn intake_without_gate_1280x960_jpeg(bencher: Bencher) {
        let jpeg = upload_jpeg();
        let intake = IntakeRules::default();
        bencher.bench_local(|| {
            media::inspect_upload(divan::black_box(&jpeg), None, None, &intake).expect("accepted")
        });
    }
}

mod likeness {
    use divan::Bencher;
    use image::RgbImage;
    use pinglass::media::likeness::{self, FaceRect};

    fn fixture(name: &str) -> RgbImage {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/likeness")
            .join(name);
        image::open(path).expect("the likeness fixture").to_rgb8()
    }

    /// The face ResNet on one aligned 150×150 chip (issue 17: at most 30 ms
    /// a face on one core).
    #[divan::bench(sample_count = 30, sample_size = 1)]
    fn descriptor_of_a_chip(bencher: Bencher) {
        let chip = fixture("chip.png");
        likeness::describe_chip(&chip);
        bencher.bench_local(|| likeness::describe_chip(divan::black_box(&chip)));
    }

    /// A face's box to its descriptor: landmarks, chip, network.
    #[divan::bench(sample_count = 30, sample_size = 1)]
    fn descriptor_of_a_face(bencher: Bencher) {
        let photo = fixture("face.png");
        // dlib's box of this face (tests/fixtures/likeness/reference.json).
        let rect = FaceRect {
            left: 66.0,
            top: 56.0,
            right: 155.0,
            bottom: 146.0,
        };
        likeness::describe(&photo, rect);
        bencher.bench_local(|| likeness::describe(divan::black_box(&photo), rect));
    }
}
