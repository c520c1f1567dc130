//! The face-quality gate (`media::quality`) on the shipped test images in
//! `tests/fixtures/faces/` (sources and licences in its README): each image
//! gets the verdict it was made for, through the same intake the bot uses
//! (`inspect_upload_gated`, EXIF orientation applied first). Also: the
//! near-identical check, the harness's generated photos passing the gate,
//! and the generator that derives the test images from the sources.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};
use pinglass::media::quality::{self, QualityRules};
use pinglass::media::{IntakeRules, QualityRejection, Rejection, inspect_upload_gated};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faces")
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The harness's photo `name` (one face, upright `width`×`height`) stored
/// on its side (turned 90° anticlockwise), without EXIF: add orientation 6
/// to make it upright again.
pub(crate) fn sideways(name: &str, width: u32, height: u32) -> Vec<u8> {
    let upright = pinglass::harness::chat::photo_jpeg(name, width, height);
    let sideways = image::load_from_memory(&upright).unwrap().rotate270();
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 85)
        .encode_image(&sideways)
        .unwrap();
    bytes
}

fn rules() -> QualityRules {
    pinglass::config::Config::from_toml_str(
        pinglass::config::Config::shipped_toml(),
        Default::default(),
    )
    .unwrap()
    .quality
}

fn gate(name: &str) -> Result<quality::QualityReport, Rejection> {
    inspect_upload_gated(
        &fixture(name),
        None,
        Some(name),
        &IntakeRules::default(),
        &rules(),
    )
    .map(|(_, report)| report)
}

/// Every shipped image and the verdict it was made for (`None`: accepted).
const EXPECTED: &[(&str, Option<&str>)] = &[
    ("astronaut.jpg", None),
    ("rotated-exif6.jpg", None),
    ("burst-1.jpg", None),
    ("burst-2.jpg", None),
    ("burst-3.jpg", None),
    ("burst-4.jpg", None),
    ("burst-5.jpg", None),
    ("cat.jpg", Some("no_face")),
    ("coffee.jpg", Some("no_face")),
    ("group-solvay.jpg", Some("several_faces")),
    ("two-faces.jpg", Some("several_faces")),
    ("small-face.jpg", Some("face_too_small")),
    ("blurred.jpg", Some("blurred")),
    ("dark.jpg", Some("too_dark")),
    ("bright.jpg", Some("too_bright")),
];

#[test]
fn each_test_image_gets_its_verdict() {
    let mut wrong = Vec::new();
    for (name, expected) in EXPECTED {
        let bytes = fixture(name);
        let photo = image::load_from_memory(&bytes).unwrap();
        let (report, _) = quality::measure(&photo, &rules());
        let got = gate(name).map_err(|r| r.code()).err();
        println!("{name:22} expected {expected:?}, got {got:?}: {report:?}");
        if got != *expected {
            wrong.push(format!(
                "{name}: expected {expected:?}, got {got:?} ({report:?})"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_rejections_carry_what_was_measured() {
    match gate("small-face.jpg") {
        Err(Rejection::Quality(QualityRejection::FaceTooSmall {
            share_percent,
            min_percent,
        })) => {
            assert_eq!(min_percent, 10);
            assert!((3..10).contains(&share_percent), "{share_percent}");
        }
        other => panic!("{other:?}"),
    }
    match gate("two-faces.jpg") {
        Err(Rejection::Quality(QualityRejection::SeveralFaces { faces })) => assert_eq!(faces, 2),
        other => panic!("{other:?}"),
    }
    let sharp = gate("astronaut.jpg").unwrap();
    let Err(Rejection::Quality(QualityRejection::Blurred { sharpness, min })) = gate("blurred.jpg")
    else {
        panic!("blurred.jpg passed");
    };
    assert!(
        sharpness < min && min <= sharp.sharpness,
        "{sharpness} {min} {sharp:?}"
    );
}

#[test]
fn exif_orientation_is_applied_before_the_face_is_looked_for() {
    // The stored pixels lie on their side; only EXIF says so. Without the
    // orientation applied the frontal detector sees no face.
    let bytes = fixture("rotated-exif6.jpg");
    let sideways = image::load_from_memory(&bytes).unwrap();
    assert!(sideways.width() > 0);
    assert_eq!(
        quality::assess(&sideways, &rules()).err(),
        Some(QualityRejection::NoFace),
        "the raw pixels should show the face sideways"
    );
    let report = gate("rotated-exif6.jpg").expect("upright, the face is found");
    assert_eq!(report.faces, 1);
}

#[cfg(feature = "heic")]
#[test]
fn the_iphone_heic_fixture_shows_one_face() {
    let heic =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/IMG_0001.heic"))
            .unwrap();
    let (_, report) =
        inspect_upload_gated(&heic, None, None, &IntakeRules::default(), &rules()).unwrap();
    assert_eq!(report.faces, 1);
}

#[test]
fn with_the_gate_off_every_readable_photo_passes_and_is_still_hashed() {
    let off = QualityRules {
        enabled: false,
        ..rules()
    };
    let a = inspect_upload_gated(
        &fixture("cat.jpg"),
        None,
        None,
        &IntakeRules::default(),
        &off,
    );
    let (_, report) = a.expect("no gate, no rejection");
    assert_eq!(report.faces, 0);
    let (b, _) = quality::measure(
        &image::load_from_memory(&fixture("cat.jpg")).unwrap(),
        &rules(),
    );
    assert_eq!(report.hash, b.hash);
}

#[test]
fn a_burst_of_the_same_shot_is_nearly_identical_and_varied_photos_are_not() {
    let max = rules().similar_max_distance;
    let hash = |name: &str| gate(name).map(|r| r.hash).unwrap();
    let burst: Vec<u64> = (1..=5).map(|i| hash(&format!("burst-{i}.jpg"))).collect();
    assert!(quality::all_nearly_identical(&burst, max), "{burst:x?}");
    // One different photo among them breaks "all the same".
    let mut mixed = burst[..4].to_vec();
    mixed.push(hash("rotated-exif6.jpg"));
    mixed.push(
        quality::assess(
            &image::load_from_memory(&pinglass::harness::chat::photo_jpeg("x", 800, 1000)).unwrap(),
            &rules(),
        )
        .unwrap()
        .hash,
    );
    assert!(!quality::all_nearly_identical(&mixed, max));
    assert!(
        !quality::all_nearly_identical(&burst[..1], max),
        "one photo is no pattern"
    );
}

/// The tests' generated photos (`harness::chat::photo_jpeg`) are what the
/// whole suite uploads: each must pass the gate, and a user's five of them
/// must not look alike (or every flow would show the warning).
#[test]
fn the_harness_photos_pass_the_gate_and_differ() {
    let rules = rules();
    // The suite's usual 800×1000, and other shapes some tests send.
    for (name, w, h) in [
        ("wide", 1000, 800),
        ("square", 600, 600),
        ("big", 3000, 4000),
    ] {
        let jpeg = pinglass::harness::chat::photo_jpeg(name, w, h);
        inspect_upload_gated(&jpeg, None, None, &IntakeRules::default(), &rules)
            .unwrap_or_else(|e| panic!("{name} {w}x{h}: {e}"));
    }
    for prefix in ["k", "olya", "u1001"] {
        let mut hashes = Vec::new();
        for i in 1..=8 {
            let name = format!("{prefix}-{i}");
            let jpeg = pinglass::harness::chat::photo_jpeg(&name, 800, 1000);
            let result = inspect_upload_gated(&jpeg, None, None, &IntakeRules::default(), &rules);
            let (_, report) = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            hashes.push(report.hash);
        }
        for five in hashes.windows(5) {
            assert!(
                !quality::all_nearly_identical(five, rules.similar_max_distance),
                "{prefix}: {five:x?}"
            );
        }
    }
    assert_eq!(
        pinglass::harness::chat::photo_jpeg("a", 800, 1000),
        pinglass::harness::chat::photo_jpeg("a", 800, 1000)
    );
    assert_ne!(
        pinglass::harness::chat::photo_jpeg("a", 800, 1000),
        pinglass::harness::chat::photo_jpeg("b", 800, 1000)
    );
}

/// Not a benchmark (that is `benches/hot_paths.rs`, in release): prints
/// what the gate costs in this build (the detector is compiled optimised
/// even here, see Cargo.toml), the fastest and the median of 15 runs, on the
/// bench's photo: 1280×960, one face.
#[test]
fn gate_time_per_photo_is_printed() {
    let rules = rules();
    let jpeg = pinglass::harness::chat::photo_jpeg("bench", 1280, 960);
    let photo = image::load_from_memory(&jpeg).unwrap();
    let time = |f: &dyn Fn()| {
        let mut runs: Vec<_> = (0..15)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect();
        runs.sort();
        (runs[0], runs[runs.len() / 2])
    };
    let gate = time(&|| {
        quality::assess(&photo, &rules).expect("accepted");
    });
    let with = time(&|| {
        inspect_upload_gated(&jpeg, None, None, &IntakeRules::default(), &rules).expect("accepted");
    });
    let without = time(&|| {
        pinglass::media::inspect_upload(&jpeg, None, None, &IntakeRules::default())
            .expect("accepted");
    });
    println!(
        "debug build, (fastest, median) of 15: gate on the decoded photo {gate:?}; \
         intake with the gate {with:?}, without {without:?}"
    );
}

// ---------------------------------------------------------------------------
// The generator of the derived images.

fn write_jpeg(name: &str, image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .unwrap();
    std::fs::write(dir().join(name), &bytes).unwrap();
    bytes
}

fn load(name: &str) -> RgbImage {
    image::load_from_memory(&fixture(name)).unwrap().to_rgb8()
}

fn map(image: &RgbImage, f: impl Fn(u8) -> u8) -> RgbImage {
    let mut out = image.clone();
    for pixel in out.pixels_mut() {
        pixel.0 = pixel.0.map(&f);
    }
    out
}

/// A plain wall: a soft vertical gradient.
fn wall(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |_, y| {
        let t = y as f32 / height as f32;
        Rgb([
            (150.0 + 40.0 * t) as u8,
            (160.0 + 30.0 * t) as u8,
            (175.0 + 10.0 * t) as u8,
        ])
    })
}

/// Writes the derived test images from the sources in the same folder:
/// `cargo test --locked --test tests faces::generate -- --ignored`.
/// With `PINGLASS_FACES_ORIGINALS=DIR` (holding scikit-image's
/// `astronaut.png`, `chelsea.png`, `coffee.png` and rustface's `test.png`)
/// it first re-makes the sources from the originals.
#[test]
#[ignore = "writes tests/fixtures/faces/; run by hand"]
fn generate() {
    if let Ok(originals) = std::env::var("PINGLASS_FACES_ORIGINALS") {
        let original = |name: &str| {
            image::open(Path::new(&originals).join(name))
                .unwrap()
                .to_rgb8()
        };
        write_jpeg("astronaut.jpg", &original("astronaut.png"), 92);
        // The cat and the cup are smaller than the bot's 512 px minimum side.
        let cat = original("chelsea.png");
        write_jpeg(
            "cat.jpg",
            &imageops::resize(&cat, 780, 519, FilterType::CatmullRom),
            85,
        );
        let cup = original("coffee.png");
        write_jpeg(
            "coffee.jpg",
            &imageops::resize(&cup, 780, 520, FilterType::CatmullRom),
            85,
        );
        // The left part of the Solvay conference, 1927 (several rows of faces).
        let solvay = original("test.png");
        write_jpeg(
            "group-solvay.jpg",
            &imageops::crop_imm(&solvay, 0, 0, 760, 540).to_image(),
            80,
        );
    }
    let astronaut = load("astronaut.jpg");
    let (w, h) = astronaut.dimensions();
    // The head the harness's generated photos are made of (src/harness.rs).
    let head = imageops::crop_imm(&astronaut, 130, 0, 190, 250).to_image();
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(&head)
        .unwrap();
    std::fs::write(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/harness-face.jpg"),
        bytes,
    )
    .unwrap();

    write_jpeg("blurred.jpg", &imageops::blur(&astronaut, 3.5), 85);
    write_jpeg(
        "dark.jpg",
        &map(&astronaut, |v| (f32::from(v) * 0.12) as u8),
        85,
    );
    write_jpeg(
        "bright.jpg",
        &map(&astronaut, |v| 255 - ((255.0 - f32::from(v)) * 0.12) as u8),
        85,
    );
    // The whole astronaut at 70 % on a 1280×960 wall: her face about 6 % of
    // the short side.
    let mut small = wall(1280, 960);
    let shrunk = imageops::resize(&astronaut, w * 7 / 10, h * 7 / 10, FilterType::CatmullRom);
    imageops::overlay(&mut small, &shrunk, 600, 960 - i64::from(shrunk.height()));
    write_jpeg("small-face.jpg", &small, 85);
    // Two of her side by side.
    let mut two = RgbImage::new(w * 2, h);
    imageops::overlay(&mut two, &astronaut, 0, 0);
    imageops::overlay(
        &mut two,
        &imageops::flip_horizontal(&astronaut),
        i64::from(w),
        0,
    );
    write_jpeg("two-faces.jpg", &two, 85);
    // Stored on its side (turned 90° anticlockwise), with EXIF orientation 6
    // ("turn 90° clockwise to show"), as phones write it.
    let sideways = imageops::rotate270(&astronaut);
    let mut plain = Vec::new();
    JpegEncoder::new_with_quality(&mut plain, 85)
        .encode_image(&sideways)
        .unwrap();
    let with_exif = crate::media::with_app1(&plain, &crate::media::exif(6, None));
    std::fs::write(dir().join("rotated-exif6.jpg"), with_exif).unwrap();
    // A burst: the same shot five times, a few pixels apart, light a touch
    // different (what a phone's burst mode or five quick selfies give).
    let big = imageops::resize(&astronaut, w + 24, h + 24, FilterType::CatmullRom);
    for (i, (dx, dy, gain)) in [
        (0, 0, 1.0),
        (6, 3, 1.03),
        (12, 9, 0.97),
        (3, 12, 1.0),
        (9, 6, 1.05),
    ]
    .into_iter()
    .enumerate()
    {
        let shot = imageops::crop_imm(&big, dx, dy, w, h).to_image();
        let shot = map(&shot, |v| (f32::from(v) * gain).min(255.0) as u8);
        write_jpeg(&format!("burst-{}.jpg", i + 1), &shot, 80);
    }
}
