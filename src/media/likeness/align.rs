//! The face chip the network reads: 150×150 pixels, the face turned upright
//! and scaled so that its five landmarks sit where dlib's
//! `get_face_chip_details(shape, 150, 0.25)` puts them.
//!
//! dlib places the chip by the least-squares similarity transform from its
//! template points to the landmarks; the chip's pixels are spread over that
//! square, corner pixel to corner pixel. When the face is larger in the
//! photo than in the chip, dlib samples a pyramid level of the photo; here
//! the region under the chip is first scaled down with a triangle filter to
//! about the chip's scale, then sampled bilinearly, as dlib does. Pixels
//! the photo does not cover are black, as in dlib.

use image::RgbImage;
use image::imageops::FilterType;

use super::landmarks::{POINTS, Point};
use super::net::CHIP_SIDE;

/// dlib's 5-point template in the unit square (`get_face_chip_details`):
/// outer and inner corner of the left-of-picture eye... in dlib's order.
const TEMPLATE: [(f64, f64); POINTS] = [
    (0.8595674595992, 0.2134981538014),
    (0.6460604764104, 0.2289674387677),
    (0.1205750620789, 0.2137274526848),
    (0.3340850613712, 0.2290642403242),
    (0.4901123135679, 0.6277975316475),
];

/// The border dlib's face recognition adds around the template.
const PADDING: f64 = 0.25;

/// The similarity transform `p ↦ [[a, −b], [b, a]]·p + t` that best takes
/// `from` onto `to` (least squares).
fn similarity(from: &[(f64, f64); POINTS], to: &[(f64, f64); POINTS]) -> (f64, f64, f64, f64) {
    let n = POINTS as f64;
    let (fx, fy) = from
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (tx, ty) = to
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for (f, t) in from.iter().zip(to) {
        let (ux, uy, vx, vy) = (f.0 - fx, f.1 - fy, t.0 - tx, t.1 - ty);
        dot += ux * vx + uy * vy;
        cross += ux * vy - uy * vx;
        norm += ux * ux + uy * uy;
    }
    let (a, b) = if norm > 0.0 {
        (dot / norm, cross / norm)
    } else {
        (1.0, 0.0)
    };
    (a, b, tx - (a * fx - b * fy), ty - (b * fx + a * fy))
}

/// The 150×150 RGB chip (row-major, 3 bytes a pixel) of the face whose
/// landmarks are `points`.
pub(crate) fn face_chip(photo: &RgbImage, points: &[Point; POINTS]) -> Vec<u8> {
    let side = CHIP_SIDE as f64;
    let template = TEMPLATE.map(|(x, y)| {
        (
            (PADDING + x) / (2.0 * PADDING + 1.0) * side,
            (PADDING + y) / (2.0 * PADDING + 1.0) * side,
        )
    });
    let landmarks = points.map(|p| (f64::from(p.x), f64::from(p.y)));
    let (a, b, tx, ty) = similarity(&template, &landmarks);
    let scale = a.hypot(b);
    // dlib's chip: a square of side·scale − 1 (`centered_drect`) centred
    // where the template's centre goes, its corner pixels on its corners.
    let center = (
        a * side / 2.0 - b * side / 2.0 + tx,
        b * side / 2.0 + a * side / 2.0 + ty,
    );
    let stretch = (side * scale - 1.0).max(0.0) / (side - 1.0) / scale;
    let (ca, cb) = (a * stretch, b * stretch);
    let half = (side - 1.0) / 2.0;
    let to_photo = |c: f64, r: f64| {
        let (u, v) = (c - half, r - half);
        (center.0 + ca * u - cb * v, center.1 + cb * u + ca * v)
    };

    // The region of the photo under the chip, one pixel of margin.
    let corners = [
        to_photo(0.0, 0.0),
        to_photo(side - 1.0, 0.0),
        to_photo(0.0, side - 1.0),
        to_photo(side - 1.0, side - 1.0),
    ];
    let (width, height) = (f64::from(photo.width()), f64::from(photo.height()));
    let x0 = corners
        .iter()
        .map(|p| p.0)
        .fold(f64::INFINITY, f64::min)
        .floor()
        .max(0.0)
        - 0.0;
    let y0 = corners
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .floor()
        .max(0.0);
    let x1 = corners
        .iter()
        .map(|p| p.0)
        .fold(f64::NEG_INFINITY, f64::max)
        .ceil()
        .min(width - 1.0);
    let y1 = corners
        .iter()
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max)
        .ceil()
        .min(height - 1.0);
    let mut chip = vec![0u8; CHIP_SIDE * CHIP_SIDE * 3];
    if x1 <= x0 || y1 <= y0 {
        return chip;
    }
    let region = image::imageops::crop_imm(
        photo,
        x0 as u32,
        y0 as u32,
        (x1 - x0) as u32 + 1,
        (y1 - y0) as u32 + 1,
    )
    .to_image();
    // Where the face is more than twice as large in the photo as in the
    // chip, halve the region until it is not (dlib's pyramid levels), so
    // that bilinear sampling does not alias.
    let mut down = 1.0;
    while scale / down > 2.0 {
        down *= 2.0;
    }
    let (source, sx, sy) = if down > 1.0 {
        let w = ((f64::from(region.width()) / down).round() as u32).max(2);
        let h = ((f64::from(region.height()) / down).round() as u32).max(2);
        let small = image::imageops::resize(&region, w, h, FilterType::Triangle);
        let sx = f64::from(w) / f64::from(region.width());
        let sy = f64::from(h) / f64::from(region.height());
        (small, sx, sy)
    } else {
        (region, 1.0, 1.0)
    };
    let (sw, sh) = (source.width() as usize, source.height() as usize);
    let raw = source.as_raw();
    for r in 0..CHIP_SIDE {
        for c in 0..CHIP_SIDE {
            let (px, py) = to_photo(c as f64, r as f64);
            // Pixel centres of the scaled copy sit at (i + 0.5) / s − 0.5.
            let x = (px - x0 + 0.5) * sx - 0.5;
            let y = (py - y0 + 0.5) * sy - 0.5;
            let (left, top) = (x.floor(), y.floor());
            if left < 0.0 || top < 0.0 || left + 1.0 >= sw as f64 || top + 1.0 >= sh as f64 {
                continue;
            }
            let (fx, fy) = (x - left, y - top);
            let (left, top) = (left as usize, top as usize);
            let at = |xx: usize, yy: usize, k: usize| f64::from(raw[(yy * sw + xx) * 3 + k]);
            for k in 0..3 {
                let value = (1.0 - fy)
                    * ((1.0 - fx) * at(left, top, k) + fx * at(left + 1, top, k))
                    + fy * ((1.0 - fx) * at(left, top + 1, k) + fx * at(left + 1, top + 1, k));
                chip[(r * CHIP_SIDE + c) * 3 + k] = value.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    chip
}
