//! The free preview: a portrait made smaller and visibly watermarked, so it
//! shows the quality but is not the product. Pure and synchronous (run it in
//! `spawn_blocking`).

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageFormat, RgbImage};
use plotters::prelude::*;

/// The watermark's words, drawn in DejaVu Sans ([`crate::fonts`]).
const MARK: &str = "PINGLASS PREVIEW";
/// Share of the picture's width the large mark across the middle spans.
const MARK_WIDTH_SHARE: f64 = 0.8;

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("the portrait could not be decoded: {0}")]
    Decode(image::ImageError),
    #[error("the watermark could not be drawn: {0}")]
    Draw(String),
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

fn draw_error(error: impl std::fmt::Debug) -> PreviewError {
    PreviewError::Draw(format!("{error:?}"))
}

/// `text` in DejaVu Sans at `size` pixels as a coverage mask (255: fully
/// inked), cut to the ink's bounding box, so the caller places the letters
/// themselves rather than the font's line box.
fn text_mask(text: &str, size: f64) -> Result<GrayImage, PreviewError> {
    let style = (crate::fonts::sans(), size).into_font().color(&WHITE);
    // Room around the line box: plotters puts glyphs partly above the point given.
    let pad = size.ceil() as u32;
    let (canvas_w, canvas_h, advance) = {
        let mut probe = vec![0u8; 3];
        let root = BitMapBackend::with_buffer(&mut probe, (1, 1)).into_drawing_area();
        let (tw, th) = root.estimate_text_size(text, &style).map_err(draw_error)?;
        (tw + 2 * pad, th + 2 * pad, tw)
    };
    if advance == 0 {
        return Err(PreviewError::Draw(format!("{text:?} has no width")));
    }
    let mut rgb = vec![0u8; (canvas_w * canvas_h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (canvas_w, canvas_h)).into_drawing_area();
        root.draw(&Text::new(text, (pad as i32, pad as i32), &style))
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    // White drawn over black with the glyph's coverage as alpha: red is the coverage.
    let coverage = GrayImage::from_fn(canvas_w, canvas_h, |x, y| {
        image::Luma([rgb[((y * canvas_w + x) * 3) as usize]])
    });
    let inked = coverage.enumerate_pixels().filter(|(_, _, p)| p.0[0] > 0);
    let (mut left, mut top, mut right, mut bottom) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, _) in inked {
        (left, top) = (left.min(x), top.min(y));
        (right, bottom) = (right.max(x), bottom.max(y));
    }
    if left > right {
        return Err(PreviewError::Draw(format!("{text:?} drew nothing")));
    }
    Ok(
        image::imageops::crop_imm(&coverage, left, top, right - left + 1, bottom - top + 1)
            .to_image(),
    )
}

/// The font size at which `text` is `width` pixels wide.
fn size_for_width(text: &str, width: f64) -> Result<f64, PreviewError> {
    const PROBE: f64 = 100.0;
    let probe = text_mask(text, PROBE)?;
    Ok((PROBE * width / f64::from(probe.width())).max(6.0))
}

/// Draws the mask with its top-left corner at (x, y): a dark shadow, then
/// light letters over it.
fn stamp(img: &mut RgbImage, mask: &GrayImage, x: i64, y: i64, shadow: i64) {
    for (dx, dy, color, alpha) in [
        (shadow, shadow, [0u8, 0, 0], 0.35f32),
        (0, 0, [255u8, 255, 255], 0.6f32),
    ] {
        for (mx, my, coverage) in mask.enumerate_pixels() {
            if coverage.0[0] == 0 {
                continue;
            }
            let alpha = alpha * f32::from(coverage.0[0]) / 255.0;
            blend(
                img,
                x + i64::from(mx) + dx,
                y + i64::from(my) + dy,
                color,
                alpha,
            );
        }
    }
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
    // Across the middle, centred.
    let size = size_for_width(MARK, w as f64 * MARK_WIDTH_SHARE)?;
    let large = text_mask(MARK, size)?;
    let (lw, lh) = (i64::from(large.width()), i64::from(large.height()));
    let shadow = (size / 16.0).round().max(1.0) as i64;
    stamp(&mut img, &large, (w - lw) / 2, (h - lh) / 2, shadow);
    // Half as large near the bottom, its letters ending a twelfth above the edge.
    let small_size = size / 2.0;
    let small = text_mask(MARK, small_size)?;
    let (sw, sh) = (i64::from(small.width()), i64::from(small.height()));
    let small_shadow = (small_size / 16.0).round().max(1.0) as i64;
    stamp(
        &mut img,
        &small,
        (w - sw) / 2,
        h - h / 12 - sh,
        small_shadow,
    );
    let mut out = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, ImageFormat::Jpeg)
        .map_err(PreviewError::Encode)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A uniform mid-grey portrait, `w`×`h`, as PNG.
    fn grey_png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(w, h, image::Rgb([100, 100, 100]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// Share of the pixels in the box (x0..x1, y0..y1) at least `by` levels
    /// brighter (all channels summed / 3) than the source's grey 100.
    fn brightened(img: &RgbImage, (x0, y0, x1, y1): (u32, u32, u32, u32), by: i32) -> f64 {
        let mut hits = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let p = img.get_pixel(x, y).0;
                let mean = p.iter().map(|&c| i32::from(c)).sum::<i32>() / 3;
                if mean - 100 >= by {
                    hits += 1;
                }
            }
        }
        f64::from(hits) / f64::from((x1 - x0) * (y1 - y0))
    }

    #[test]
    fn the_words_are_drawn_across_the_middle_and_near_the_bottom() {
        let preview = make_preview(&grey_png(900, 1200), 640).unwrap();
        let img = image::load_from_memory(&preview).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (480, 640));
        // The bands alone brighten grey 100 by 0.18 × 155 ≈ 28 levels: the
        // letters (60 % white) by about 90. Only the letters pass 50.
        let (w, h) = (480, 640);
        let middle = (w / 10, h / 2 - 12, w * 9 / 10, h / 2 + 12);
        let middle_left = (w / 10, h / 2 - 12, w * 3 / 10, h / 2 + 12);
        let middle_right = (w * 7 / 10, h / 2 - 12, w * 9 / 10, h / 2 + 12);
        let bottom = (w / 4, h - h / 12 - 14, w * 3 / 4, h - h / 12);
        let top = (0, 0, w, h / 4);
        let above_middle = (w / 10, h / 2 - 60, w * 9 / 10, h / 2 - 30);
        for (what, area) in [
            ("the middle", middle),
            ("the middle's left", middle_left),
            ("the middle's right", middle_right),
            ("near the bottom", bottom),
        ] {
            let share = brightened(&img, area, 50);
            // Letters, not a filled box: strokes with gaps between them.
            assert!(
                (0.08..0.7).contains(&share),
                "{what}: {:.1} % of the pixels carry the letters",
                share * 100.0
            );
        }
        for (what, area) in [("the top", top), ("above the middle", above_middle)] {
            let share = brightened(&img, area, 50);
            assert!(
                share < 0.005,
                "{what}: {:.1} % of the pixels look like letters",
                share * 100.0
            );
            // The bands are there too.
            assert!(brightened(&img, area, 15) > 0.05, "{what} has no bands");
        }
    }

    #[test]
    fn a_small_picture_keeps_its_size_and_still_gets_the_words() {
        let preview = make_preview(&grey_png(200, 150), 640).unwrap();
        let img = image::load_from_memory(&preview).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (200, 150));
        assert!(brightened(&img, (20, 65, 180, 85), 50) > 0.05);
    }

    #[test]
    fn the_mark_is_cut_to_its_ink() {
        let mask = text_mask(MARK, 40.0).unwrap();
        // DejaVu Sans at 40 px: "PINGLASS PREVIEW" is about 380 px wide and its
        // capitals about 29 px tall (0.73 em).
        assert!((330..430).contains(&mask.width()), "{}", mask.width());
        assert!((26..33).contains(&mask.height()), "{}", mask.height());
        let rows_inked = (0..mask.height())
            .filter(|&y| (0..mask.width()).any(|x| mask.get_pixel(x, y).0[0] > 0))
            .count();
        assert_eq!(rows_inked as u32, mask.height());
        let width = size_for_width(MARK, 300.0).unwrap();
        let scaled = text_mask(MARK, width).unwrap();
        assert!(scaled.width().abs_diff(300) <= 6, "{}", scaled.width());
    }

    #[test]
    fn a_broken_picture_is_refused() {
        assert!(matches!(
            make_preview(b"not an image", 640),
            Err(PreviewError::Decode(_))
        ));
    }
}
