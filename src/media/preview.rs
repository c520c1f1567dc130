//! The free preview: a portrait made smaller and visibly watermarked, so it
//! shows the quality but is not the product. Pure and synchronous (run it in
//! `spawn_blocking`).

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

/// The watermark's words, drawn with the 5×7 glyphs below.
const MARK: &str = "PINGLASS PREVIEW";

/// 5×7 glyphs of the letters the watermark uses (bit 4 is the left column).
fn glyph(c: char) -> [u8; 7] {
    match c {
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'N' => [0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        _ => [0; 7],
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("the portrait could not be decoded: {0}")]
    Decode(image::ImageError),
    #[error("the preview could not be encoded: {0}")]
    Encode(image::ImageError),
}

/// Blends `color` over the pixel at (x, y) with `alpha` (0..=1), if inside.
fn blend(img: &mut RgbImage, x: i64, y: i64, color: [u8; 3], alpha: f32) {
    if x < 0 || y < 0 || x >= i64::from(img.width()) || y >= i64::from(img.height()) {
        return;
    }
    let pixel = img.get_pixel_mut(x as u32, y as u32);
    for (channel, target) in pixel.0.iter_mut().zip(color) {
        *channel = (f32::from(*channel) * (1.0 - alpha) + f32::from(target) * alpha).round() as u8;
    }
}

/// Draws `text` with its top-left corner at (x, y), each glyph pixel a
/// `scale`×`scale` square, a dark shadow under light letters.
fn draw_text(img: &mut RgbImage, text: &str, x: i64, y: i64, scale: i64) {
    for (dx, dy, color, alpha) in [
        (scale / 3 + 1, scale / 3 + 1, [0u8, 0, 0], 0.35f32),
        (0, 0, [255u8, 255, 255], 0.6f32),
    ] {
        for (i, c) in text.chars().enumerate() {
            let left = x + (i as i64) * 6 * scale;
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) == 0 {
                        continue;
                    }
                    for py in 0..scale {
                        for px in 0..scale {
                            blend(
                                img,
                                left + col * scale + px + dx,
                                y + row as i64 * scale + py + dy,
                                color,
                                alpha,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Width in pixels of `text` drawn at `scale`.
fn text_width(text: &str, scale: i64) -> i64 {
    (text.chars().count() as i64 * 6 - 1) * scale
}

/// The preview of a portrait: at most `long_side` pixels on its long side,
/// faint diagonal bands over the whole picture and "PINGLASS PREVIEW" across
/// its middle and near its bottom, as a JPEG.
pub fn make_preview(portrait: &[u8], long_side: u32) -> Result<Vec<u8>, PreviewError> {
    let full = image::load_from_memory(portrait).map_err(PreviewError::Decode)?;
    let small = if full.width().max(full.height()) > long_side {
        full.resize(long_side, long_side, FilterType::Triangle)
    } else {
        full
    };
    let mut img = small.to_rgb8();
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    // Diagonal bands: cropping the words away still leaves the mark.
    let period = (w.max(h) / 6).max(24);
    for y in 0..h {
        for x in 0..w {
            if (x + y) % period < period / 8 {
                blend(&mut img, x, y, [255, 255, 255], 0.18);
            }
        }
    }
    let scale = (w / text_width(MARK, 1) * 8 / 10).max(1);
    let tw = text_width(MARK, scale);
    draw_text(&mut img, MARK, (w - tw) / 2, (h - 7 * scale) / 2, scale);
    let small_scale = (scale / 2).max(1);
    let sw = text_width(MARK, small_scale);
    draw_text(
        &mut img,
        MARK,
        (w - sw) / 2,
        h - 7 * small_scale - h / 12,
        small_scale,
    );
    let mut out = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, ImageFormat::Jpeg)
        .map_err(PreviewError::Encode)?;
    Ok(out.into_inner())
}

/// The colour at (x, y) of an image, for tests.
pub fn pixel_at(jpeg: &[u8], x: u32, y: u32) -> Option<[u8; 3]> {
    let img = image::load_from_memory(jpeg).ok()?.to_rgb8();
    img.get_pixel_checked(x, y).map(|p: &Rgb<u8>| p.0)
}
