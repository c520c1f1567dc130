//! The likeness runtime (`src/media/likeness`) reproduces dlib's own
//! numbers: `tests/fixtures/likeness/reference.json` was written by dlib
//! 20.0.1 with the same model files (`reference.py` there says how).

use std::path::PathBuf;

use image::RgbImage;
use pinglass::media::likeness::{self, FaceRect};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/likeness")
        .join(name)
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).unwrap()).unwrap()
}

fn png(name: &str) -> RgbImage {
    image::open(fixture(name)).unwrap().to_rgb8()
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn distance_to(ours: &likeness::Descriptor, theirs: &[f64]) -> f64 {
    assert_eq!(theirs.len(), ours.len());
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (f64::from(*a) - b).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn dlib_box(reference: &Value) -> FaceRect {
    let b = numbers(&reference["box"]);
    FaceRect {
        left: b[0] as f32,
        top: b[1] as f32,
        right: b[2] as f32,
        bottom: b[3] as f32,
    }
}

#[test]
fn the_network_gives_dlibs_descriptor_of_dlibs_chip() {
    let reference = reference();
    let ours = likeness::describe_chip(&png("chip.png"));
    let theirs = numbers(&reference["chip_descriptor"]);
    let distance = distance_to(&ours, &theirs);
    // float32 sums in another order: a millionth, against 0.6 between people.
    assert!(distance < 1e-4, "distance to dlib's descriptor {distance}");
    let norm = ours.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!(
        (0.2..5.0).contains(&norm),
        "a descriptor, not zeros: norm {norm}"
    );
}

#[test]
fn the_landmarks_are_dlibs_to_the_pixel() {
    let reference = reference();
    let points = likeness::landmarks(&png("face.png"), dlib_box(&reference));
    let theirs = reference["landmarks"].as_array().unwrap();
    assert_eq!(points.len(), theirs.len());
    for (ours, theirs) in points.iter().zip(theirs) {
        // dlib reports whole pixels (rounded to the nearest).
        let (x, y) = (theirs[0].as_f64().unwrap(), theirs[1].as_f64().unwrap());
        assert_eq!(
            (f64::from(ours.x.round()), f64::from(ours.y.round())),
            (x, y)
        );
    }
}

#[test]
fn the_whole_path_lands_next_to_dlibs_descriptor() {
    let reference = reference();
    let photo = png("face.png");
    let points = likeness::landmarks(&photo, dlib_box(&reference));
    let chip = likeness::face_chip(&photo, &points);
    let dlib_chip = png("chip.png");
    let mean_difference = chip
        .as_raw()
        .iter()
        .zip(dlib_chip.as_raw())
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).abs())
        .sum::<f64>()
        / chip.as_raw().len() as f64;
    // dlib's chip of the same face, within a few levels per channel (the
    // two differ most along the photo's edges, which cross the chip).
    assert!(
        mean_difference < 3.0,
        "mean difference from dlib's chip {mean_difference}"
    );
    let distance = distance_to(
        &likeness::describe_chip(&chip),
        &numbers(&reference["descriptor"]),
    );
    // Far inside dlib's 0.6 between one person's photos.
    assert!(distance < 0.03, "distance to dlib's descriptor {distance}");
}

#[test]
fn a_shifted_chip_of_the_same_face_stays_close_and_another_picture_does_not() {
    let photo = png("face.png");
    let reference = reference();
    let same = likeness::describe(&photo, dlib_box(&reference));
    let mirrored = image::imageops::flip_horizontal(&photo);
    let b = dlib_box(&reference);
    let width = photo.width() as f32 - 1.0;
    let mirrored_box = FaceRect {
        left: width - b.right,
        right: width - b.left,
        ..b
    };
    let mirror = likeness::describe(&mirrored, mirrored_box);
    assert!(
        likeness::distance(&same, &mirror) < 0.6,
        "a mirror image is the same person"
    );
    // A chip of grey noise is nobody.
    let noise = RgbImage::from_fn(150, 150, |x, y| {
        let v = ((x * 7919 + y * 104_729) % 251) as u8;
        image::Rgb([v, v.wrapping_mul(3), v.wrapping_mul(7)])
    });
    let nobody = likeness::describe_chip(&noise);
    assert!(
        likeness::distance(&same, &nobody) > 0.6,
        "noise is not the person"
    );
}
