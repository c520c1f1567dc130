//! The face-quality gate: is an upright photo a usable reference for
//! portraits of one person?
//!
//! Faces are found by SeetaFace's frontal detector (the `rustface` crate;
//! the model, `data/models/seeta_fd_frontal_v1.0.bin`, BSD-2-Clause, is
//! compiled into the binary, parsed once per process, and nothing is read or
//! downloaded at run time). Detection runs on a grey copy just large enough
//! to see a face of `min_face_share_percent` (see [`measure`]), which keeps
//! a photo to a few tens of milliseconds whatever its size. The verdict, in
//! this order:
//!
//! 1. no face: [`QualityRejection::TooDark`] / [`QualityRejection::TooBright`]
//!    when the whole picture is far too dark or bright (the likely reason no
//!    face was seen), [`QualityRejection::NoFace`] otherwise;
//! 2. another face at least half the size of the largest one: a group photo;
//! 3. the largest face narrower than `min_face_share_percent` of the short side;
//! 4. the face's mean brightness outside `min_brightness..=max_brightness`;
//! 5. the face, scaled to [`SHARPNESS_SIDE_PX`] square, with a variance of
//!    the Laplacian below `min_sharpness`: badly blurred.
//!
//! Every photo also gets a 64-bit average hash ([`average_hash`]) of the whole
//! picture: photos whose hashes are a few bits apart look nearly the same
//! (same pose, same background); see [`all_nearly_identical`].
//!
//! Synchronous like the rest of `media`: callers run it inside
//! `spawn_blocking` (intake does, in the same step as decoding). The face
//! detection itself runs on a few dedicated threads ([`detector_jobs`]).

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage};
use rustface::{Detector, ImageData, Model};
use serde::Deserialize;

/// SeetaFace's frontal face model, shipped with the project.
static MODEL_BYTES: &[u8] = include_bytes!("../../data/models/seeta_fd_frontal_v1.0.bin");

/// Side of the square the face is scaled to before its sharpness is
/// measured, so the measure does not depend on the photo's resolution.
pub(crate) const SHARPNESS_SIDE_PX: u32 = 128;

/// A second face counts (group photo) when it is at least this share of the
/// largest face's width; smaller ones are people far behind.
const SECOND_FACE_MIN_RATIO: f32 = 0.5;

/// The smallest face rustface 0.1.7 finds is its 40 px window at the
/// image's own scale (its pyramid only scales down), so the size of the grey
/// copy decides the smallest face found, and the cost: detection time grows
/// with the copy's area.
const DETECTOR_WINDOW_PX: u32 = 40;

/// Short side of the copy of the second pass (photos without a face at the
/// first): faces down to 5 % of the short side, to tell "too small" from
/// "no face".
const FINE_SHORT_SIDE_PX: u32 = 800;

/// Each level of the detector's pyramid is this much smaller than the last.
const PYRAMID_SCALE: f32 = 0.8;

/// The `[quality]` section of bot.toml: the gate's thresholds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityRules {
    /// Whether photos are checked at all (the hash is computed either way).
    pub enabled: bool,
    /// The detector's score threshold (SeetaFace: higher finds fewer faces).
    pub face_score_min: f64,
    /// The face's width must be at least this share of the photo's short side.
    pub min_face_share_percent: u32,
    /// Variance of the Laplacian of the face (scaled to 128 px) below this: blurred.
    pub min_sharpness: f64,
    /// Mean brightness (0–255) of the face below this: far too dark.
    pub min_brightness: u8,
    /// Mean brightness (0–255) of the face above this: far too bright.
    pub max_brightness: u8,
    /// Photos whose hashes differ in at most this many of 64 bits look nearly the same.
    pub similar_max_distance: u32,
}

impl Default for QualityRules {
    /// The shipped thresholds (bot.toml says the same).
    fn default() -> Self {
        QualityRules {
            enabled: true,
            face_score_min: 2.0,
            min_face_share_percent: 10,
            min_sharpness: 60.0,
            min_brightness: 45,
            max_brightness: 225,
            similar_max_distance: 10,
        }
    }
}

/// Why a photo is not a usable reference. Integers only, so a
/// [`crate::media::Rejection`] stays comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QualityRejection {
    #[error("no face found")]
    NoFace,
    #[error("{faces} faces found (a group photo)")]
    SeveralFaces { faces: u32 },
    #[error("the face is {share_percent}% of the short side, below {min_percent}%")]
    FaceTooSmall {
        share_percent: u32,
        min_percent: u32,
    },
    #[error("the face is blurred (sharpness {sharpness}, below {min})")]
    Blurred { sharpness: u32, min: u32 },
    #[error("far too dark (brightness {brightness} of 255)")]
    TooDark { brightness: u8 },
    #[error("far too bright (brightness {brightness} of 255)")]
    TooBright { brightness: u8 },
}

impl QualityRejection {
    /// A stable code, e.g. `"no_face"`, for logs and metrics.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            QualityRejection::NoFace => "no_face",
            QualityRejection::SeveralFaces { .. } => "several_faces",
            QualityRejection::FaceTooSmall { .. } => "face_too_small",
            QualityRejection::Blurred { .. } => "blurred",
            QualityRejection::TooDark { .. } => "too_dark",
            QualityRejection::TooBright { .. } => "too_bright",
        }
    }
}

/// A face the detector found, in pixels of the measured image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FaceBox {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

/// What the gate measured on one photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualityReport {
    /// Faces that count (see [`SECOND_FACE_MIN_RATIO`]); 0 when the gate is off.
    pub faces: u32,
    /// The largest face, in the photo's pixels.
    pub(crate) face: Option<FaceBox>,
    /// Its width as a share of the short side, percent.
    pub(crate) face_share_percent: u32,
    /// Mean brightness 0–255 of the face (of the whole photo without one).
    pub(crate) brightness: u8,
    /// Variance of the Laplacian of the face at 128 px, rounded.
    pub sharpness: u32,
    /// Average hash of the whole photo ([`average_hash`]).
    pub hash: u64,
}

/// The parsed model, shared by every thread's detector.
fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        // The bytes are compiled in: a failure is a broken build, not input.
        rustface::read_model(MODEL_BYTES).expect("the shipped SeetaFace model parses")
    })
}

/// One detection for the detector threads: the image, the score threshold,
/// and where to answer.
type DetectJob = (GrayImage, f64, mpsc::SyncSender<Vec<FaceBox>>);

/// The detector threads, one detector each, started on first use.
///
/// rustface's detector is not `Send`, so it lives on the thread that built
/// it, with its own copy of the model's buffers (a few MB). Kept per
/// blocking-pool thread, detectors multiplied with the pool under load (3,000
/// users each sending a photo: 256 MB). A fixed few threads — as many as
/// photos are taken in at once (`bot::upload`'s intake turns, one per core) —
/// keep that memory flat.
fn detector_jobs() -> &'static Mutex<mpsc::Sender<DetectJob>> {
    static JOBS: OnceLock<Mutex<mpsc::Sender<DetectJob>>> = OnceLock::new();
    JOBS.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<DetectJob>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = std::thread::available_parallelism()
            .map_or(2, usize::from)
            .max(2);
        for i in 0..threads {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("pinglass-face-{i}"))
                .spawn(move || {
                    let mut detector = new_detector();
                    loop {
                        // The lock is held only while waiting for a job.
                        let job = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((gray, score_min, answer)) = job else {
                            return;
                        };
                        let _ = answer.send(run_detector(detector.as_mut(), &gray, score_min));
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start a face detector thread");
            }
        }
        Mutex::new(sender)
    })
}

fn new_detector() -> Box<dyn Detector> {
    let mut detector = rustface::create_detector_with_model(model().clone());
    detector.set_pyramid_scale_factor(PYRAMID_SCALE);
    detector.set_slide_window_step(4, 4);
    detector
}

/// Finds faces in a grey image; boxes in its pixels, scores over the threshold.
fn detect(gray: &GrayImage, score_min: f64) -> Vec<FaceBox> {
    if gray.width() < DETECTOR_WINDOW_PX || gray.height() < DETECTOR_WINDOW_PX {
        return Vec::new();
    }
    let (answer, answered) = mpsc::sync_channel(1);
    let sent = detector_jobs()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((gray.clone(), score_min, answer));
    match sent.ok().and_then(|()| answered.recv().ok()) {
        Some(faces) => faces,
        // No detector thread is left (none started, or one panicked on this
        // image): detect here, with a detector of this call's own.
        None => run_detector(new_detector().as_mut(), gray, score_min),
    }
}

fn run_detector(detector: &mut dyn Detector, gray: &GrayImage, score_min: f64) -> Vec<FaceBox> {
    detector.set_score_thresh(score_min);
    let data = ImageData::new(gray.as_raw(), gray.width(), gray.height());
    detector
        .detect(&data)
        .into_iter()
        .filter_map(|face| {
            let b = face.bbox();
            // Boxes may reach over the edges: clip them to the image.
            let x0 = b.x().max(0) as u32;
            let y0 = b.y().max(0) as u32;
            let x1 = (b.x() + b.width() as i32).clamp(0, gray.width() as i32) as u32;
            let y1 = (b.y() + b.height() as i32).clamp(0, gray.height() as i32) as u32;
            (x1 > x0 && y1 > y0).then_some(FaceBox {
                x: x0,
                y: y0,
                width: x1 - x0,
                height: y1 - y0,
            })
        })
        .collect()
}

/// Mean of a grey region.
fn mean_luma(gray: &GrayImage, region: FaceBox) -> u8 {
    let width = gray.width() as usize;
    let raw = gray.as_raw();
    let (x0, x1) = (region.x as usize, (region.x + region.width) as usize);
    let sum: u64 = (region.y..region.y + region.height)
        .map(|y| {
            let row = y as usize * width;
            raw[row + x0..row + x1]
                .iter()
                .map(|&v| u64::from(v))
                .sum::<u64>()
        })
        .sum();
    let count = u64::from(region.width) * u64::from(region.height);
    u8::try_from(sum / count.max(1)).unwrap_or(u8::MAX)
}

/// Variance of the 4-neighbour Laplacian over the interior of a grey image.
pub(crate) fn laplacian_variance(gray: &GrayImage) -> f64 {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let raw = gray.as_raw();
    let (mut sum, mut sum_sq) = (0i64, 0i64);
    for y in 1..h - 1 {
        let (up, row, down) = (
            &raw[(y - 1) * w..y * w],
            &raw[y * w..(y + 1) * w],
            &raw[(y + 1) * w..(y + 2) * w],
        );
        for x in 1..w - 1 {
            let l = i64::from(row[x - 1])
                + i64::from(row[x + 1])
                + i64::from(up[x])
                + i64::from(down[x])
                - 4 * i64::from(row[x]);
            sum += l;
            sum_sq += l * l;
        }
    }
    let n = ((w - 2) * (h - 2)) as f64;
    let mean = sum as f64 / n;
    sum_sq as f64 / n - mean * mean
}

/// A 64-bit average hash: the picture as 8×8 grey cells (box averages),
/// one bit per cell (is it brighter than the mean of all cells?). Robust to
/// small shifts and changes of light, so photos of the same pose in front of
/// the same background land a few bits apart, and different photos
/// (another background, angle, framing) far more (tests/faces.rs shows both).
pub(crate) fn average_hash(gray: &GrayImage) -> u64 {
    let cells = DynamicImage::ImageLuma8(gray.clone())
        .thumbnail_exact(8, 8)
        .into_luma8();
    let mean = cells.as_raw().iter().map(|&v| u32::from(v)).sum::<u32>() / 64;
    cells.as_raw().iter().fold(0u64, |hash, &v| {
        (hash << 1) | u64::from(u32::from(v) > mean)
    })
}

/// Bits in which two hashes differ.
pub(crate) fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Whether at least two photos were hashed and every pair is within
/// `max_distance` bits: all the photos look nearly the same.
pub fn all_nearly_identical(hashes: &[u64], max_distance: u32) -> bool {
    hashes.len() >= 2
        && hashes.iter().enumerate().all(|(i, &a)| {
            hashes[i + 1..]
                .iter()
                .all(|&b| distance(a, b) <= max_distance)
        })
}

/// A grey copy whose short side is at most `short_side` px. (The
/// `DynamicImage` methods do the pixel work: they are compiled with the
/// `image` crate's optimisation even in debug builds.)
fn grey_copy(image: &DynamicImage, short_side: u32) -> GrayImage {
    let (w, h) = (image.width(), image.height());
    let short = w.min(h).max(1);
    if short <= short_side {
        return image.to_luma8();
    }
    let scale = |side: u32| {
        u32::try_from((u64::from(side) * u64::from(short_side)).div_ceil(u64::from(short)))
            .unwrap_or(short_side)
            .max(1)
    };
    image.thumbnail_exact(scale(w), scale(h)).into_luma8()
}

/// The faces that count, largest first: boxes centred inside a larger one
/// (the same face found twice) are dropped, then faces narrower than
/// [`SECOND_FACE_MIN_RATIO`] of the largest (people far behind).
fn distinct_faces(mut faces: Vec<FaceBox>) -> Vec<FaceBox> {
    faces.sort_by_key(|f| std::cmp::Reverse(f.width));
    let mut kept: Vec<FaceBox> = Vec::new();
    for face in faces {
        let (cx, cy) = (face.x + face.width / 2, face.y + face.height / 2);
        let inside =
            |k: &FaceBox| (k.x..k.x + k.width).contains(&cx) && (k.y..k.y + k.height).contains(&cy);
        if !kept.iter().any(inside) {
            kept.push(face);
        }
    }
    if let Some(largest) = kept.first().map(|f| f.width as f32) {
        kept.retain(|f| f.width as f32 >= largest * SECOND_FACE_MIN_RATIO);
    }
    kept
}

/// Measures an upright photo and gives its verdict (with the gate off, only
/// the hash and the brightness are measured and every photo passes).
pub fn assess(
    image: &DynamicImage,
    rules: &QualityRules,
) -> Result<QualityReport, QualityRejection> {
    let (report, rejection) = measure(image, rules);
    match rejection {
        None => Ok(report),
        Some(rejection) => Err(rejection),
    }
}

/// What [`assess`] measures, with its verdict beside it (`None`: accepted):
/// the tests and the tuning print both.
///
/// The first pass looks at a copy just large enough for the detector's
/// 40 px window to be `min_face_share_percent` of the short side (400 px
/// at 10 %): every face the gate can accept is found, in a few tens of
/// milliseconds. Only a photo without a face there (already refused) is
/// looked at again, finer, to tell a face too small from no face.
pub fn measure(
    image: &DynamicImage,
    rules: &QualityRules,
) -> (QualityReport, Option<QualityRejection>) {
    let coarse_side = DETECTOR_WINDOW_PX * 100 / rules.min_face_share_percent.clamp(5, 100);
    let mut gray = grey_copy(image, coarse_side);
    let whole = FaceBox {
        x: 0,
        y: 0,
        width: gray.width(),
        height: gray.height(),
    };
    let mut report = QualityReport {
        faces: 0,
        face: None,
        face_share_percent: 0,
        brightness: mean_luma(&gray, whole),
        sharpness: 0,
        hash: average_hash(&gray),
    };
    if !rules.enabled {
        return (report, None);
    }

    let mut faces = distinct_faces(detect(&gray, rules.face_score_min));
    let exposure = if report.brightness < rules.min_brightness {
        Some(QualityRejection::TooDark {
            brightness: report.brightness,
        })
    } else if report.brightness > rules.max_brightness {
        Some(QualityRejection::TooBright {
            brightness: report.brightness,
        })
    } else {
        None
    };
    if faces.is_empty()
        && exposure.is_none()
        && gray.width().min(gray.height()) < image.width().min(image.height())
    {
        gray = grey_copy(image, FINE_SHORT_SIDE_PX);
        faces = distinct_faces(detect(&gray, rules.face_score_min));
    }
    let Some(&largest) = faces.first() else {
        return (report, Some(exposure.unwrap_or(QualityRejection::NoFace)));
    };
    let short_side = gray.width().min(gray.height()).max(1);
    report.faces = faces.len() as u32;
    report.face_share_percent = largest.width * 100 / short_side;
    report.brightness = mean_luma(&gray, largest);
    // The face in the photo's own pixels, scaled to a fixed square.
    let (sx, sy) = (
        f64::from(image.width()) / f64::from(gray.width()),
        f64::from(image.height()) / f64::from(gray.height()),
    );
    let scaled = |v: u32, s: f64, limit: u32| ((f64::from(v) * s).round() as u32).min(limit);
    let x = scaled(largest.x, sx, image.width() - 1);
    let y = scaled(largest.y, sy, image.height() - 1);
    let face = FaceBox {
        x,
        y,
        width: scaled(largest.width, sx, image.width() - x).max(1),
        height: scaled(largest.height, sy, image.height() - y).max(1),
    };
    report.face = Some(face);
    let normalised = image
        .crop_imm(face.x, face.y, face.width, face.height)
        .resize_exact(SHARPNESS_SIDE_PX, SHARPNESS_SIDE_PX, FilterType::Triangle)
        .into_luma8();
    let sharpness = laplacian_variance(&normalised);
    report.sharpness = sharpness.round().min(f64::from(u32::MAX)) as u32;

    let rejection = if report.faces > 1 {
        Some(QualityRejection::SeveralFaces {
            faces: report.faces,
        })
    } else if report.face_share_percent < rules.min_face_share_percent {
        Some(QualityRejection::FaceTooSmall {
            share_percent: report.face_share_percent,
            min_percent: rules.min_face_share_percent,
        })
    } else if report.brightness < rules.min_brightness {
        Some(QualityRejection::TooDark {
            brightness: report.brightness,
        })
    } else if report.brightness > rules.max_brightness {
        Some(QualityRejection::TooBright {
            brightness: report.brightness,
        })
    } else if sharpness < rules.min_sharpness {
        Some(QualityRejection::Blurred {
            sharpness: report.sharpness,
            min: rules.min_sharpness.round() as u32,
        })
    } else {
        None
    };
    (report, rejection)
}
