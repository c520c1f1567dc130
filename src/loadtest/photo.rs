//! The photos the simulated users send (and the tests, through
//! `harness::chat::photo_jpeg`): one public-domain head over a background,
//! varied by name, so that they pass the face-quality gate and do not look
//! alike.

/// The head the generated photos are made of: a crop of scikit-image's
/// `astronaut` (NASA, public domain; `tests/fixtures/faces/README.md`).
static HEAD_JPEG: &[u8] = include_bytes!("../../data/harness-face.jpg");

/// A deterministic photo of one person that the face-quality gate
/// accepts: the same head over a background, `name` picking the
/// background's colours and direction, the head's size, place, mirroring
/// and tint. Different names give different bytes (and photos that do
/// not look alike); the same name the same bytes.
pub fn photo_jpeg(name: &str, width: u32, height: u32) -> Vec<u8> {
    let seed = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    // splitmix64: a few well-mixed numbers from the name's hash.
    let mut state = u64::from(seed);
    let mut unit = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    };
    let (r0, g0, b0) = (
        (seed & 0xff) as u8,
        ((seed >> 8) & 0xff) as u8,
        ((seed >> 16) & 0xff) as u8,
    );
    let direction = (unit() * 4.0) as u32;
    let (w, h) = (width.max(1) as usize, height.max(1) as usize);
    // The background: a gradient between the name's colours, in one of
    // four directions (a plain loop: this runs unoptimised in tests).
    let mut pixels = Vec::with_capacity(w * h * 3);
    let span = (w + h) as f32;
    for y in 0..h {
        for x in 0..w {
            let t = match direction {
                0 => (x + y) as f32 / span,
                1 => x as f32 / w as f32,
                2 => y as f32 / h as f32,
                _ => 1.0 - x as f32 / w as f32,
            };
            pixels.push((f32::from(r0) * (1.0 - t)) as u8);
            pixels.push((f32::from(g0) * t) as u8);
            pixels.push(b0.wrapping_add((t * 60.0) as u8));
        }
    }

    // The head, tinted, maybe mirrored, scaled with its soft-edged mask
    // (the `DynamicImage` methods run optimised even in tests).
    let tint = [0.9 + 0.2 * unit(), 0.9 + 0.2 * unit(), 0.9 + 0.2 * unit()];
    let mirror = unit() < 0.5;
    let short = w.min(h) as f32;
    let head_height = (short * (0.55 + 0.25 * unit())).max(2.0) as u32;
    let mut head = head_with_mask().clone();
    for pixel in head.pixels_mut() {
        for (channel, gain) in pixel.0.iter_mut().zip(tint) {
            *channel = (f32::from(*channel) * gain).min(255.0) as u8;
        }
    }
    let mut head = image::DynamicImage::ImageRgba8(head);
    if mirror {
        head = head.fliph();
    }
    let head_width =
        (u64::from(head_height) * u64::from(head.width()) / u64::from(head.height())).max(2) as u32;
    let head = head
        .resize_exact(
            head_width,
            head_height,
            image::imageops::FilterType::Triangle,
        )
        .into_rgba8();
    let (hw, hh) = (head.width() as usize, head.height() as usize);
    let left = ((w.saturating_sub(hw)) as f32 * unit()) as usize;
    let top = ((h.saturating_sub(hh)) as f32 * (0.2 + 0.6 * unit())) as usize;
    let raw = head.as_raw();
    for y in 0..hh.min(h - top) {
        for x in 0..hw.min(w - left) {
            let source = &raw[(y * hw + x) * 4..(y * hw + x) * 4 + 4];
            let alpha = u32::from(source[3]);
            if alpha == 0 {
                continue;
            }
            let target = ((top + y) * w + left + x) * 3;
            for c in 0..3 {
                let under = u32::from(pixels[target + c]);
                pixels[target + c] =
                    ((u32::from(source[c]) * alpha + under * (255 - alpha)) / 255) as u8;
            }
        }
    }
    let image = image::RgbImage::from_raw(width.max(1), height.max(1), pixels)
        .expect("the buffer is width × height × 3");
    let mut out = Vec::new();
    // Encoding an in-memory RGB image into a Vec cannot fail.
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&image);
    out
}

/// The shipped head with an alpha mask: opaque inside an ellipse, fading
/// out towards the crop's edges (so no hard rectangle shows).
fn head_with_mask() -> &'static image::RgbaImage {
    static HEAD: std::sync::OnceLock<image::RgbaImage> = std::sync::OnceLock::new();
    HEAD.get_or_init(|| {
        let head = image::load_from_memory(HEAD_JPEG)
            .expect("the shipped head decodes")
            .into_rgb8();
        let (hw, hh) = (head.width() as f32, head.height() as f32);
        image::RgbaImage::from_fn(head.width(), head.height(), |x, y| {
            let (dx, dy) = (x as f32 / hw * 2.0 - 1.0, y as f32 / hh * 2.0 - 1.0);
            let distance = (dx * dx + dy * dy).sqrt();
            let alpha = ((1.0 - distance) / 0.15).clamp(0.0, 1.0);
            let [r, g, b] = head.get_pixel(x, y).0;
            image::Rgba([r, g, b, (alpha * 255.0) as u8])
        })
    })
}
