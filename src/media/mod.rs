//! Media: what happens to pictures between Telegram and Kie.
//!
//! - [`intake`]: checks and normalizes an uploaded photo
//!   ([`inspect_upload`]), pure and synchronous (run it in `spawn_blocking`).
//! - [`quality`]: the face-quality gate (one face, big enough, sharp, not
//!   far too dark or bright) and the photo hash behind the near-identical
//!   warning; [`inspect_upload_gated`] runs it inside intake.
//! - [`styles`]: the shipped style catalogue (`data/styles.toml`) with its
//!   moderation-safe prompt variants, and [`spread_references`], which shares
//!   an avatar's photos among a job's tasks when the model takes fewer
//!   references than the avatar has.
//!
//! Nothing here does I/O or holds user-facing text: rejections carry stable
//! codes that the bot maps to locale keys.

pub(crate) mod intake;
pub mod likeness;
pub mod preview;
pub mod quality;
pub(crate) mod styles;

pub use intake::{
    AcceptedPhoto, DetectedKind, ImageKind, IntakeRules, OUTPUT_JPEG_QUALITY, OtherKind, Rejection,
    detect_kind, inspect_upload, inspect_upload_gated,
};
pub use quality::{QualityRejection, QualityReport, QualityRules};
pub use styles::{Style, catalogue, prompt_for, spread_references, style_by_id};

/// A portrait as Telegram takes it: `bytes` must decode as an image
/// (`Err` says why not); when they are over `max_bytes` (Telegram's 10 MB
/// for a photo), a JPEG of the image that fits is returned — quality 90,
/// then the sides shrunk by a fifth at a time; `None`: the bytes fit as
/// they are.
pub(crate) fn fit_for_telegram(bytes: &[u8], max_bytes: usize) -> Result<Option<Vec<u8>>, String> {
    use image::codecs::jpeg::JpegEncoder;
    use image::imageops::FilterType;
    let decoded = image::load_from_memory(bytes).map_err(|error| error.to_string())?;
    if bytes.len() <= max_bytes {
        return Ok(None);
    }
    let rgb = decoded.to_rgb8();
    let (width, height) = rgb.dimensions();
    let mut scale = 1.0_f64;
    loop {
        let resized;
        let image = if scale < 1.0 {
            let side = |n: u32| ((f64::from(n) * scale).round() as u32).max(1);
            resized =
                image::imageops::resize(&rgb, side(width), side(height), FilterType::CatmullRom);
            &resized
        } else {
            &rgb
        };
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(image)
            .map_err(|error| error.to_string())?;
        if jpeg.len() <= max_bytes || scale < 0.1 {
            return Ok(Some(jpeg));
        }
        scale *= 0.8;
    }
}

#[cfg(test)]
mod tests {
    use super::fit_for_telegram;

    fn png(width: u32, height: u32, noise: bool) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            if noise {
                let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).wrapping_mul(97);
                image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
            } else {
                image::Rgb([200, 180, 160])
            }
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_small_portrait_is_kept_a_big_one_is_re_encoded_to_fit_and_garbage_is_refused() {
        let small = png(64, 64, false);
        assert_eq!(fit_for_telegram(&small, 10_000).unwrap(), None);
        let big = png(600, 600, true);
        assert!(big.len() > 200_000, "{}", big.len());
        let fitted = fit_for_telegram(&big, 200_000)
            .unwrap()
            .expect("re-encoded");
        assert!(fitted.len() <= 200_000, "{}", fitted.len());
        assert_eq!(
            image::guess_format(&fitted).unwrap(),
            image::ImageFormat::Jpeg
        );
        assert!(fit_for_telegram(b"<html>Service Unavailable</html>", 10_000).is_err());
    }
}
