//! Likeness: is the face in a picture the same person as in the user's
//! reference photos? (Issue 17; this is its model runtime.)
//!
//! The models are dlib's, by Davis King, as shipped in the PyPI package
//! `face_recognition_models` 0.3.0 (CC0 1.0; `data/models/README.md`),
//! compiled into the binary and evaluated from dlib's own files, parsed
//! once per process:
//!
//! - [`landmarks`]: the 5-point landmark cascade
//!   (`shape_predictor_5_face_landmarks.dat`) places the eye corners and
//!   the bottom of the nose inside a face's box;
//! - [`align`]: the 150×150 chip dlib's `get_face_chip(shape, 150, 0.25)`
//!   makes from them;
//! - [`net`]: the face-recognition ResNet
//!   (`dlib_face_recognition_resnet_model_v1.dat`): a 128-dimensional
//!   descriptor; the same person typically lies within 0.6 (Euclidean).
//!
//! `tests/likeness.rs` checks the runtime against dlib's own numbers
//! (`tests/fixtures/likeness/`). Synchronous and CPU-bound (about 20 ms a
//! face in release): callers run it inside `spawn_blocking`.

mod align;
mod dlib;
mod landmarks;
mod net;

use std::sync::OnceLock;

use image::RgbImage;

pub use landmarks::{FaceRect, POINTS, Point};
pub use net::{CHIP_SIDE, DESCRIPTOR_LEN};

/// dlib's face-recognition ResNet, shipped with the project.
static NET_BYTES: &[u8] =
    include_bytes!("../../../data/models/dlib_face_recognition_resnet_model_v1.dat");
/// dlib's 5-point landmark model, shipped with the project.
static LANDMARK_BYTES: &[u8] =
    include_bytes!("../../../data/models/shape_predictor_5_face_landmarks.dat");

/// A face descriptor.
pub type Descriptor = [f32; DESCRIPTOR_LEN];

fn net() -> &'static net::FaceNet {
    static NET: OnceLock<net::FaceNet> = OnceLock::new();
    // The bytes are compiled in: a failure is a broken build, not input.
    NET.get_or_init(|| net::FaceNet::from_dlib(NET_BYTES).expect("the shipped face ResNet parses"))
}

fn landmarker() -> &'static landmarks::Landmarker {
    static MODEL: OnceLock<landmarks::Landmarker> = OnceLock::new();
    MODEL.get_or_init(|| {
        landmarks::Landmarker::from_dlib(LANDMARK_BYTES).expect("the shipped landmark model parses")
    })
}

/// The five landmarks of the face in `rect` (dlib's order: outer and inner
/// corner of the eye on the picture's right, outer and inner corner of the
/// other, the bottom of the nose).
pub fn landmarks(photo: &RgbImage, rect: FaceRect) -> [Point; POINTS] {
    // dlib reads a colour pixel's intensity as (r + g + b) / 3.
    let grey: Vec<u8> = photo
        .pixels()
        .map(|p| ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3) as u8)
        .collect();
    landmarker().locate(&grey, photo.width() as usize, photo.height() as usize, rect)
}

/// The aligned 150×150 chip of the face with these landmarks.
pub fn face_chip(photo: &RgbImage, points: &[Point; POINTS]) -> RgbImage {
    let side = CHIP_SIDE as u32;
    RgbImage::from_raw(side, side, align::face_chip(photo, points)).expect("a chip is 150×150 RGB")
}

/// The descriptor of an aligned 150×150 chip.
pub fn describe_chip(chip: &RgbImage) -> Descriptor {
    assert_eq!(
        chip.dimensions(),
        (CHIP_SIDE as u32, CHIP_SIDE as u32),
        "a 150×150 chip"
    );
    net().describe(chip.as_raw())
}

/// The descriptor of the face in `rect`: landmarks, chip, network.
pub fn describe(photo: &RgbImage, rect: FaceRect) -> Descriptor {
    describe_chip(&face_chip(photo, &landmarks(photo, rect)))
}

/// Euclidean distance between two descriptors (dlib's measure).
pub fn distance(a: &Descriptor, b: &Descriptor) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}
