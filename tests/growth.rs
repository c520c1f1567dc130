//! What brings users back and lets the business learn: the A/B assignment
//! (deterministic, by weight, stored once, carried by every funnel event),
//! the free preview's image, the free redo quota, one preview per user.

use pinglass::config::{Config, Experiment, Variant};
use pinglass::db::{self, avatars, events, jobs};
use pinglass::telegram::standin::UserSpec;

use crate::support::{LONG, TestApp, bot_text_contains, photo_jpeg, photo_png, wait_for};

fn experiment(weights: &[u32]) -> Experiment {
    Experiment {
        name: "cta".into(),
        variants: weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| Variant {
                name: format!("v{i}"),
                weight,
                cta: None,
                preview: None,
            })
            .collect(),
    }
}

#[test]
fn variants_are_picked_deterministically_by_weight() {
    let even = experiment(&[50, 50]);
    let mut first = 0;
    for id in 0..10_000i64 {
        let pick = pinglass::ab::pick(&even, id).unwrap();
        assert_eq!(
            pinglass::ab::pick(&even, id),
            Some(pick),
            "same user, same variant"
        );
        if pick == "v0" {
            first += 1;
        }
    }
    assert!(
        (4_500..=5_500).contains(&first),
        "50/50 split gave {first} of 10000 to the first variant"
    );
    let skewed = experiment(&[90, 10]);
    let first = (0..10_000i64)
        .filter(|&id| pinglass::ab::pick(&skewed, id) == Some("v0"))
        .count();
    assert!((8_700..=9_300).contains(&first), "90/10 split gave {first}");
    let closed = experiment(&[0, 100]);
    assert!((0..1_000i64).all(|id| pinglass::ab::pick(&closed, id) == Some("v1")));
}

use crate::support::{open_db as open, seed_user as user};

#[test]
fn an_assignment_is_stored_once_and_never_changes() {
    let (_dir, db) = open();
    db.run_blocking(|c| {
        user(c, 7);
        let first = db::ab::ensure(c, 7, &[("cta".into(), "a".into())], 1)?;
        assert_eq!(first, vec![("cta".to_owned(), "a".to_owned())]);
        // New weights would pick another variant: the stored one stays.
        let again = db::ab::ensure(c, 7, &[("cta".into(), "b".into())], 2)?;
        assert_eq!(again, first);
        // A new experiment is added beside it.
        let both = db::ab::ensure(
            c,
            7,
            &[("cta".into(), "b".into()), ("price".into(), "low".into())],
            3,
        )?;
        assert_eq!(
            both,
            vec![
                ("cta".to_owned(), "a".to_owned()),
                ("price".to_owned(), "low".to_owned())
            ]
        );
        // Every funnel event carries the assignments.
        events::record(c, 7, events::Stage::Onboarding, 0, None, 10)?;
        let label: Option<String> = c.query_row(
            "SELECT variant FROM funnel_events WHERE user_id = 7",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(label.as_deref(), Some("cta=a,price=low"));
        Ok(())
    })
    .unwrap();
}

#[test]
fn one_free_preview_per_user_and_the_redo_quota_follows_the_package() {
    let (_dir, db) = open();
    db.run_blocking(|c| {
        user(c, 8);
        let a = avatars::create_draft(c, 8, 1)?;
        let b = avatars::create_draft(c, 8, 2)?;
        let task = jobs::NewTask {
            prompt_index: 0,
            reference_keys: vec!["k".into()],
        };
        assert!(matches!(
            jobs::create_preview(c, a.id, 8, &task, 3)?,
            jobs::FreeJob::Created(_)
        ));
        assert_eq!(
            jobs::create_preview(c, b.id, 8, &task, 4)?,
            jobs::FreeJob::PreviewUsed
        );
        Ok(())
    })
    .unwrap();
    let config = Config::from_toml_str(Config::shipped_toml(), Default::default()).unwrap();
    let quota = |n| config.regenerate.quota(n);
    assert_eq!((quota(7), quota(15), quota(23), quota(3)), (1, 3, 4, 1));
}

#[test]
fn the_preview_is_smaller_and_visibly_marked() {
    let portrait = photo_png("portrait", 1200, 1600);
    let preview = pinglass::media::preview::make_preview(&portrait, 640).unwrap();
    let image = image::load_from_memory(&preview).unwrap();
    // For a person to look at: target/test-output/preview.png.
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-output");
    let _ = std::fs::create_dir_all(&out);
    let _ = image.save(out.join("preview.png"));
    assert_eq!((image.width(), image.height()), (480, 640));
    assert_eq!(
        image::guess_format(&preview).unwrap(),
        image::ImageFormat::Jpeg
    );
    // Against a plain resize, the mark changes a visible share of the picture.
    let plain = image::load_from_memory(&portrait)
        .unwrap()
        .resize(640, 640, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let marked = image.to_rgb8();
    let changed = plain
        .pixels()
        .zip(marked.pixels())
        .filter(|(a, b)| {
            a.0.iter()
                .zip(b.0.iter())
                .map(|(x, y)| (i32::from(*x) - i32::from(*y)).abs())
                .sum::<i32>()
                > 60
        })
        .count();
    let share = changed as f64 / f64::from(marked.width() * marked.height());
    assert!(
        (0.05..0.6).contains(&share),
        "the watermark changed {:.1} % of the pixels",
        share * 100.0
    );
    assert!(pinglass::media::preview::make_preview(b"not an image", 640).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funnel_events_carry_the_variant_and_conversion_is_counted_per_variant() {
    let app = TestApp::start_with(|config| {
        let shipped = Config::from_toml_str(Config::shipped_toml(), Default::default()).unwrap();
        config.experiments = shipped.experiments;
    })
    .await;
    let sandbox = app.telegram.sandbox().clone();
    // 3001 lands in "see-yourself", 3002 in "generate" (see dialogues/ab-call-to-action.chat).
    for (id, label) in [
        (3001, "👀 Посмотреть, что получится"),
        (3002, "✨ Создать портреты"),
    ] {
        let user = UserSpec::new(id, "Тест").with_language("ru");
        sandbox.send_text(&user, "/start").unwrap();
        wait_for(
            &app.telegram,
            &user,
            "onboarding",
            |e| bot_text_contains(e, "Пакеты"),
            LONG,
        )
        .await;
        let photos = (0..5)
            .map(|i| photo_jpeg(&format!("{id}-{i}"), 800, 1000))
            .collect();
        sandbox.send_album(&user, photos, None).await.unwrap();
        wait_for(
            &app.telegram,
            &user,
            "the counter with the variant's button",
            |e| {
                e.iter()
                    .any(|m| m.inline_buttons().any(|b| b.text == label))
            },
            LONG,
        )
        .await;
    }
    let (labels, per_variant) = app
        .app()
        .db
        .run_blocking(|c| {
            let mut stmt = c.prepare(
                "SELECT user_id, stage, variant FROM funnel_events ORDER BY user_id, stage",
            )?;
            let labels: Vec<(i64, String, Option<String>)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            Ok((labels, events::users_per_stage_by_variant(c, "cta", 0)?))
        })
        .unwrap();
    assert_eq!(
        labels,
        vec![
            (3001, "onboarding".into(), Some("cta=see-yourself".into())),
            (3001, "upload".into(), Some("cta=see-yourself".into())),
            (3002, "onboarding".into(), Some("cta=generate".into())),
            (3002, "upload".into(), Some("cta=generate".into())),
        ]
    );
    assert_eq!(
        per_variant,
        vec![
            ("generate".into(), events::Stage::Onboarding, 1),
            ("see-yourself".into(), events::Stage::Onboarding, 1),
            ("generate".into(), events::Stage::Upload, 1),
            ("see-yourself".into(), events::Stage::Upload, 1),
        ]
    );
    app.shutdown().await;
}
