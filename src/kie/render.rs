//! The stand-in's "generation": a 3:4 portrait cut from the first reference
//! photo, colour-graded by a hash of the prompt, in a coloured frame. It is
//! recognisably the user's photo and visibly different for every prompt.
//!
//! This is CPU work: call it from `tokio::task::spawn_blocking`.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use sha2::{Digest, Sha256};

/// The tallest portrait rendered, in pixels (smaller photos are not upscaled).
pub(crate) const MAX_PORTRAIT_HEIGHT: u32 = 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RenderError {
    #[error("no reference photo to render from")]
    NoReference,
    #[error("reference photo {index} is not a readable image: {reason}")]
    UnreadableReference { index: usize, reason: String },
    #[error("encoding the portrait failed: {0}")]
    Encode(String),
}

/// The colour grade a prompt gets: derived from the SHA-256 of the prompt,
/// so the same prompt always gives the same picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Grade {
    /// The tint colour, fully saturated.
    pub(crate) tint: [f32; 3],
    /// How much of the tint is mixed in, 0.15–0.4.
    pub(crate) tint_strength: f32,
    /// 0.85–1.3.
    pub(crate) contrast: f32,
    /// 0.5–1.3.
    pub(crate) saturation: f32,
    /// −20–+20 levels.
    pub(crate) brightness: f32,
    /// The frame colour.
    pub(crate) frame: [u8; 3],
}

impl Grade {
    pub(crate) fn for_prompt(prompt: &str) -> Self {
        let digest = Sha256::digest(prompt.as_bytes());
        let unit = |index: usize| f32::from(digest[index]) / 255.0;
        let hue = unit(0) * 360.0;
        let tint = hue_to_rgb(hue);
        let frame_rgb = hue_to_rgb((hue + 180.0) % 360.0);
        let frame = [
            (frame_rgb[0] * 200.0) as u8,
            (frame_rgb[1] * 200.0) as u8,
            (frame_rgb[2] * 200.0) as u8,
        ];
        Self {
            tint,
            tint_strength: 0.15 + unit(1) * 0.25,
            contrast: 0.85 + unit(2) * 0.45,
            saturation: 0.5 + unit(3) * 0.8,
            brightness: -20.0 + unit(4) * 40.0,
            frame,
        }
    }
}

/// A fully saturated colour of the given hue (degrees), channels 0–1.
fn hue_to_rgb(hue: f32) -> [f32; 3] {
    let sector = (hue / 60.0) % 6.0;
    let rising = sector.fract();
    let falling = 1.0 - rising;
    match sector as u32 {
        0 => [1.0, rising, 0.0],
        1 => [falling, 1.0, 0.0],
        2 => [0.0, 1.0, rising],
        3 => [0.0, falling, 1.0],
        4 => [rising, 0.0, 1.0],
        _ => [1.0, 0.0, falling],
    }
}

/// The 3:4 crop of a photo: full width or full height, centred across and
/// biased to the upper part (where a face usually is) along the height.
/// Returns `(x, y, width, height)`.
pub fn portrait_crop(width: u32, height: u32) -> (u32, u32, u32, u32) {
    // width / height = 3 / 4
    if u64::from(width) * 4 > u64::from(height) * 3 {
        let crop_width = (u64::from(height) * 3 / 4).max(1) as u32;
        ((width - crop_width) / 2, 0, crop_width, height)
    } else {
        let crop_height = (u64::from(width) * 4 / 3).max(1) as u32;
        let crop_height = crop_height.min(height);
        (0, (height - crop_height) / 4, width, crop_height)
    }
}

/// Renders the portrait of a task from its reference photos (encoded
/// JPEG/PNG/WebP bytes) and returns it as PNG bytes. The first reference is
/// the one shown.
pub(crate) fn render_portrait_png(
    references: &[Vec<u8>],
    prompt: &str,
) -> Result<Vec<u8>, RenderError> {
    let first = references.first().ok_or(RenderError::NoReference)?;
    let photo =
        image::load_from_memory(first).map_err(|error| RenderError::UnreadableReference {
            index: 0,
            reason: error.to_string(),
        })?;
    let portrait = render_portrait(&photo, &Grade::for_prompt(prompt));
    let mut png = Vec::new();
    portrait
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|error| RenderError::Encode(error.to_string()))?;
    Ok(png)
}

/// Crops, grades, vignettes and frames one photo.
pub(crate) fn render_portrait(photo: &DynamicImage, grade: &Grade) -> RgbImage {
    let (x, y, crop_width, crop_height) = portrait_crop(photo.width(), photo.height());
    let cropped = photo.crop_imm(x, y, crop_width, crop_height);
    let out_height = crop_height.clamp(4, MAX_PORTRAIT_HEIGHT);
    let out_width = (out_height * 3 / 4).max(3);
    let mut canvas = cropped
        .resize_exact(out_width, out_height, FilterType::Triangle)
        .to_rgb8();

    let center_x = out_width as f32 / 2.0;
    let center_y = out_height as f32 / 2.0;
    let max_distance = (center_x * center_x + center_y * center_y).sqrt();
    let frame_width = (out_width / 40).max(2);
    let inner_line = (frame_width / 3).max(1);

    for (px, py, pixel) in canvas.enumerate_pixels_mut() {
        let in_frame = px < frame_width
            || py < frame_width
            || px >= out_width.saturating_sub(frame_width)
            || py >= out_height.saturating_sub(frame_width);
        if in_frame {
            *pixel = Rgb(grade.frame);
            continue;
        }
        let in_inner_line = px < frame_width + inner_line
            || py < frame_width + inner_line
            || px >= out_width.saturating_sub(frame_width + inner_line)
            || py >= out_height.saturating_sub(frame_width + inner_line);
        if in_inner_line {
            *pixel = Rgb([240, 236, 228]);
            continue;
        }
        let dx = px as f32 - center_x;
        let dy = py as f32 - center_y;
        let vignette = 1.0 - 0.18 * ((dx * dx + dy * dy).sqrt() / max_distance).powi(2);
        *pixel = Rgb(grade_pixel(pixel.0, grade, vignette));
    }
    canvas
}

/// Saturation, tint, contrast, brightness and vignette of one pixel.
fn grade_pixel(rgb: [u8; 3], grade: &Grade, vignette: f32) -> [u8; 3] {
    let channels = rgb.map(f32::from);
    let luma = 0.299 * channels[0] + 0.587 * channels[1] + 0.114 * channels[2];
    let mut out = [0u8; 3];
    for (index, value) in channels.iter().enumerate() {
        let saturated = luma + (value - luma) * grade.saturation;
        // The tint follows the pixel's brightness, so shapes stay readable.
        let tinted = saturated * (1.0 - grade.tint_strength)
            + grade.tint[index] * luma * 1.2 * grade.tint_strength;
        let contrasted = (tinted - 128.0) * grade.contrast + 128.0 + grade.brightness;
        out[index] = (contrasted * vignette).clamp(0.0, 255.0) as u8;
    }
    out
}
