//! Photo intake: turns the bytes a user sent into an accepted reference photo
//! or a typed [`Rejection`].
//!
//! The format is decided by the content (magic bytes), never by the file name
//! or the MIME type the client declared. JPEG, PNG and WebP are decoded by the
//! `image` crate; HEIC/HEIF (iPhone photos sent as files) by libheif (through
//! `libheif-rs`, built from the sources bundled in `libheif-sys`, decoding
//! HEVC with the system's libde265) when the `heic` feature is on, and
//! refused with [`Rejection::HeifUnsupported`] (send it as a photo, which
//! Telegram converts to JPEG) when it is off. Dimensions are read from the header
//! and checked against [`IntakeRules::max_pixels`] before a single pixel is
//! decoded, so a decompression bomb costs a few bytes of parsing. The stored
//! photo is upright (EXIF orientation applied; for HEIF the `irot`/`imir`
//! boxes, which the standard makes authoritative over EXIF), RGB, at most
//! [`IntakeRules::max_output_side_px`] on its long side, and re-encoded as a
//! JPEG that carries no metadata at all (no EXIF, so no GPS position, no XMP,
//! no ICC profile).
//!
//! Everything here is synchronous and CPU-bound: async callers run
//! [`inspect_upload`] inside `tokio::task::spawn_blocking`.

use std::io::Cursor;

#[cfg(feature = "heic")]
use image::ImageBuffer;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};
#[cfg(feature = "heic")]
use libheif_rs::{
    ColorSpace, DecodingOptions, HeifContext, HeifError, HeifErrorSubCode, LibHeif, RgbChroma,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::quality::{self, QualityRejection, QualityReport, QualityRules};

/// JPEG quality of the normalized photo.
pub const OUTPUT_JPEG_QUALITY: u8 = 90;

/// Worst-case bytes per decoded pixel (RGBA with 16 bits per channel), used
/// to size the decoder's allocation limit from [`IntakeRules::max_pixels`].
const MAX_BYTES_PER_DECODED_PIXEL: u64 = 8;

/// What an upload must satisfy to become a reference photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeRules {
    /// Largest file accepted, in bytes, checked before anything is parsed.
    pub max_file_bytes: u64,
    /// Smallest accepted short side of the upright photo, in pixels.
    pub min_side_px: u32,
    /// Largest accepted width × height, read from the header before decoding:
    /// the guard against decompression bombs and the bound on memory use.
    pub max_pixels: u64,
    /// Long side of the stored photo; larger photos are downscaled to it.
    pub max_output_side_px: u32,
}

impl Default for IntakeRules {
    /// Production defaults: 20 MB (the Bot API's download limit), a 512 px
    /// short side, 40 megapixels, and 2048 px stored.
    fn default() -> Self {
        IntakeRules {
            max_file_bytes: 20 * 1024 * 1024,
            min_side_px: 512,
            max_pixels: 40_000_000,
            max_output_side_px: 2048,
        }
    }
}

impl IntakeRules {
    /// Checks a size announced before download (Telegram's `file_size`), so a
    /// file that is too large is refused without fetching it.
    pub fn check_declared_size(&self, size_bytes: u64) -> Result<(), Rejection> {
        if size_bytes == 0 {
            return Err(Rejection::Empty);
        }
        if size_bytes > self.max_file_bytes {
            return Err(Rejection::TooLarge {
                size_bytes,
                max_bytes: self.max_file_bytes,
            });
        }
        Ok(())
    }
}

/// An image format that intake decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
    /// HEIF, in practice HEIC (HEVC-coded, as iPhones write it).
    Heif,
}

impl ImageKind {
    /// A stable lowercase name, for logs and database columns.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpeg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
            ImageKind::Heif => "heif",
        }
    }

    /// The `image` crate's format, for the kinds that crate decodes.
    fn image_format(self) -> Option<ImageFormat> {
        match self {
            ImageKind::Jpeg => Some(ImageFormat::Jpeg),
            ImageKind::Png => Some(ImageFormat::Png),
            ImageKind::Webp => Some(ImageFormat::WebP),
            ImageKind::Heif => None,
        }
    }
}

/// A recognised kind of file that intake does not accept as a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherKind {
    Gif,
    Bmp,
    /// TIFF, and the camera raw formats built on it (CR2, NEF, DNG, …).
    Tiff,
    Avif,
    JpegXl,
    Jpeg2000,
    Ico,
    Psd,
    Svg,
    Pdf,
    /// ZIP and the formats built on it (DOCX, XLSX, APK, …).
    Zip,
    Gzip,
    Rar,
    SevenZip,
    /// MP4, MOV, 3GP, WebM, MKV, AVI.
    Video,
    /// MP3, OGG, WAV, FLAC.
    Audio,
    /// ELF or Windows executables.
    Executable,
    /// Plain text (UTF-8 without control characters).
    Text,
}

impl OtherKind {
    /// A stable lowercase name, for logs and for the bot to mention.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OtherKind::Gif => "gif",
            OtherKind::Bmp => "bmp",
            OtherKind::Tiff => "tiff",
            OtherKind::Avif => "avif",
            OtherKind::JpegXl => "jpeg_xl",
            OtherKind::Jpeg2000 => "jpeg_2000",
            OtherKind::Ico => "ico",
            OtherKind::Psd => "psd",
            OtherKind::Svg => "svg",
            OtherKind::Pdf => "pdf",
            OtherKind::Zip => "zip",
            OtherKind::Gzip => "gzip",
            OtherKind::Rar => "rar",
            OtherKind::SevenZip => "7z",
            OtherKind::Video => "video",
            OtherKind::Audio => "audio",
            OtherKind::Executable => "executable",
            OtherKind::Text => "text",
        }
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectedKind {
    /// A format intake decodes.
    Image(ImageKind),
    /// Something recognisable that is not an accepted photo.
    Other(OtherKind),
    /// Nothing recognisable.
    Unknown,
}

/// Why an upload was not accepted.
///
/// The bot maps [`Rejection::code`] to a locale key; the `Display` text is for
/// logs only and is never shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the file is empty")]
    Empty,
    #[error("the file has {size_bytes} bytes, more than the {max_bytes} accepted")]
    TooLarge { size_bytes: u64, max_bytes: u64 },
    #[error(
        "the file is not a JPEG, PNG, WebP or HEIC image (detected: {})",
        detected.map_or("unknown content", OtherKind::as_str)
    )]
    NotAnImage { detected: Option<OtherKind> },
    #[error("the image claims {width}x{height} pixels, more than the {max_pixels} accepted")]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("the image data is corrupt or truncated: {reason}")]
    Undecodable { reason: String },
    /// A HEIC/HEIF file, in a build without the `heic` feature.
    #[error("HEIC/HEIF decoding is not built in (the `heic` feature is off)")]
    HeifUnsupported,
    #[error("the upright image is {width}x{height}, its short side is below {min} pixels")]
    TooSmall { width: u32, height: u32, min: u32 },
    /// Re-encoding the decoded photo failed; not the user's fault.
    #[error("re-encoding the photo as JPEG failed: {reason}")]
    ReencodeFailed { reason: String },
    /// A readable photo that the face-quality gate refused
    /// ([`inspect_upload_gated`] only).
    #[error("face-quality gate: {0}")]
    Quality(QualityRejection),
}

impl Rejection {
    /// A stable machine-readable code, e.g. `"too_small"`, for locale keys,
    /// metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Empty => "empty",
            Rejection::TooLarge { .. } => "too_large",
            Rejection::NotAnImage { .. } => "not_an_image",
            Rejection::TooManyPixels { .. } => "too_many_pixels",
            Rejection::Undecodable { .. } => "undecodable",
            Rejection::HeifUnsupported => "heif_unsupported",
            Rejection::TooSmall { .. } => "too_small",
            Rejection::ReencodeFailed { .. } => "reencode_failed",
            Rejection::Quality(quality) => quality.code(),
        }
    }
}

/// An upload that passed intake, normalized for storage and for Kie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedPhoto {
    /// Upright RGB JPEG, long side at most `max_output_side_px`, quality
    /// [`OUTPUT_JPEG_QUALITY`], without any metadata segment.
    pub jpeg: Vec<u8>,
    /// Width of `jpeg` in pixels.
    pub width: u32,
    /// Height of `jpeg` in pixels.
    pub height: u32,
    /// Lowercase hex SHA-256 of the bytes the user sent (not of `jpeg`), for
    /// spotting the same file sent twice.
    pub sha256_hex: String,
    /// The format the user sent.
    pub source_format: ImageKind,
}

/// Inspects one upload and either accepts it as a normalized reference photo
/// or says why not.
///
/// `declared_mime` and `file_name` are what the client claimed; they are only
/// logged, never trusted: the content alone decides. Synchronous and
/// CPU-bound; memory use is bounded by `rules.max_pixels`.
pub fn inspect_upload(
    bytes: &[u8],
    declared_mime: Option<&str>,
    file_name: Option<&str>,
    rules: &IntakeRules,
) -> Result<AcceptedPhoto, Rejection> {
    inspect_logged(bytes, declared_mime, file_name, rules, None).map(|(photo, _)| photo)
}

/// [`inspect_upload`] plus the face-quality gate ([`quality::assess`]) on
/// the upright photo, in the same step: a photo the gate refuses is never
/// re-encoded. An accepted photo comes with what the gate measured (its
/// hash, for the near-identical warning).
pub fn inspect_upload_gated(
    bytes: &[u8],
    declared_mime: Option<&str>,
    file_name: Option<&str>,
    rules: &IntakeRules,
    gate: &QualityRules,
) -> Result<(AcceptedPhoto, QualityReport), Rejection> {
    inspect_logged(bytes, declared_mime, file_name, rules, Some(gate))
        .map(|(photo, report)| (photo, report.expect("the gate ran")))
}

fn inspect_logged(
    bytes: &[u8],
    declared_mime: Option<&str>,
    file_name: Option<&str>,
    rules: &IntakeRules,
    gate: Option<&QualityRules>,
) -> Result<(AcceptedPhoto, Option<QualityReport>), Rejection> {
    let result = inspect_checked(bytes, rules, gate);
    match &result {
        Ok((photo, report)) => tracing::debug!(
            sha256 = %photo.sha256_hex,
            source_format = photo.source_format.as_str(),
            width = photo.width,
            height = photo.height,
            ?report,
            ?declared_mime,
            ?file_name,
            "upload accepted"
        ),
        Err(rejection) => tracing::info!(
            code = rejection.code(),
            size_bytes = bytes.len(),
            ?declared_mime,
            ?file_name,
            "upload rejected: {rejection}"
        ),
    }
    result
}

fn inspect_checked(
    bytes: &[u8],
    rules: &IntakeRules,
    gate: Option<&QualityRules>,
) -> Result<(AcceptedPhoto, Option<QualityReport>), Rejection> {
    rules.check_declared_size(bytes.len() as u64)?;
    let kind = match detect_kind(bytes) {
        DetectedKind::Image(kind) => kind,
        DetectedKind::Other(other) => {
            return Err(Rejection::NotAnImage {
                detected: Some(other),
            });
        }
        DetectedKind::Unknown => return Err(Rejection::NotAnImage { detected: None }),
    };
    if kind == ImageKind::Jpeg && !jpeg_reaches_end_of_image(bytes) {
        // zune-jpeg (behind `image`) decodes a cut-off JPEG without error and
        // fills the missing part with grey; such a photo must not pass.
        return Err(Rejection::Undecodable {
            reason: "the JPEG ends before its end-of-image marker".to_owned(),
        });
    }

    let upright = decode_upright(bytes, kind, rules)?;
    let (upright_width, upright_height) = (upright.width(), upright.height());
    let rgb = flatten_to_rgb(upright);
    let output = DynamicImage::ImageRgb8(downscale_to_fit(rgb, rules.max_output_side_px));
    // Upright (EXIF or irot applied), before any byte is encoded.
    let report = gate
        .map(|gate| quality::assess(&output, gate).map_err(Rejection::Quality))
        .transpose()?;
    let output = output.into_rgb8();

    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, OUTPUT_JPEG_QUALITY)
        .encode_image(&output)
        .map_err(|error| Rejection::ReencodeFailed {
            reason: error.to_string(),
        })?;
    tracing::trace!(
        upright_width,
        upright_height,
        output_bytes = jpeg.len(),
        "photo normalized"
    );

    Ok((
        AcceptedPhoto {
            jpeg,
            width: output.width(),
            height: output.height(),
            sha256_hex: hex::encode(Sha256::digest(bytes)),
            source_format: kind,
        },
        report,
    ))
}

/// Reads the header, checks size limits, decodes, and applies the EXIF
/// orientation.
fn decode_upright(
    bytes: &[u8],
    kind: ImageKind,
    rules: &IntakeRules,
) -> Result<DynamicImage, Rejection> {
    let Some(format) = kind.image_format() else {
        return decode_heif_upright(bytes, rules);
    };
    let mut limits = Limits::default();
    limits.max_alloc = Some(rules.max_pixels.saturating_mul(MAX_BYTES_PER_DECODED_PIXEL));

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits.clone());
    // Only the header is parsed here (the JPEG decoder copies the input,
    // which is bounded by max_file_bytes).
    let mut decoder = reader.into_decoder().map_err(header_error)?;

    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Rejection::Undecodable {
            reason: format!("the header claims {width}x{height} pixels"),
        });
    }
    let too_many_pixels = Rejection::TooManyPixels {
        width,
        height,
        max_pixels: rules.max_pixels,
    };
    if u64::from(width) * u64::from(height) > rules.max_pixels {
        return Err(too_many_pixels);
    }
    // Same reservation as `ImageReader::decode`, which `into_decoder` skips.
    limits
        .reserve(decoder.total_bytes())
        .map_err(|_| too_many_pixels.clone())?;

    // Unreadable EXIF must not sink an otherwise good photo.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let (upright_width, upright_height) = if swaps_sides(orientation) {
        (height, width)
    } else {
        (width, height)
    };
    check_min_side(upright_width, upright_height, rules)?;

    let mut image = DynamicImage::from_decoder(decoder).map_err(|error| match error {
        ImageError::Limits(_) => too_many_pixels.clone(),
        other => Rejection::Undecodable {
            reason: other.to_string(),
        },
    })?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Decodes the primary image of a HEIF file upright.
///
/// libheif reads only the boxes here; the size it reports for the primary
/// image is the displayed one (after `irot`, `imir` and `clap`), and it is
/// checked before any pixel is decoded. libheif's own security limits are set
/// to the same bounds, and libheif holds the codec to the declared size: a
/// file whose HEVC configuration (`hvcC`) claims a larger picture than its
/// header is refused before the codec allocates for it, and a decoded picture
/// of another size is refused after. EXIF
/// orientation inside a HEIF file is ignored, as the standard requires (an
/// iPhone writes both `irot` and a matching EXIF tag; applying both would
/// turn the photo twice).
#[cfg(feature = "heic")]
fn decode_heif_upright(bytes: &[u8], rules: &IntakeRules) -> Result<DynamicImage, Rejection> {
    /// libheif's registrations, made once and kept for the process.
    static LIB_HEIF: std::sync::LazyLock<LibHeif> = std::sync::LazyLock::new(LibHeif::new);
    let lib_heif = &*LIB_HEIF;

    let mut context = HeifContext::new().map_err(heif_error)?;
    let mut limits = context.security_limits();
    limits.set_max_image_size_pixels(rules.max_pixels);
    // Room for the coded planes (up to 16 bits a sample), the RGBA output and
    // the tiles of a grid image, all bounded by `max_pixels`.
    limits.set_max_total_memory(
        rules
            .max_pixels
            .saturating_mul(2 * MAX_BYTES_PER_DECODED_PIXEL),
    );
    context.set_security_limits(&limits).map_err(heif_error)?;
    context.read_bytes(bytes).map_err(heif_error)?;
    let handle = context.primary_image_handle().map_err(heif_error)?;

    let (width, height) = (handle.width(), handle.height());
    if width == 0 || height == 0 {
        return Err(Rejection::Undecodable {
            reason: format!("the HEIF header claims {width}x{height} pixels"),
        });
    }
    if u64::from(width) * u64::from(height) > rules.max_pixels {
        return Err(Rejection::TooManyPixels {
            width,
            height,
            max_pixels: rules.max_pixels,
        });
    }
    check_min_side(width, height, rules)?;

    let has_alpha = handle.has_alpha_channel();
    let chroma = if has_alpha {
        RgbChroma::Rgba
    } else {
        RgbChroma::Rgb
    };
    let mut options = DecodingOptions::new().ok_or_else(|| Rejection::Undecodable {
        reason: "libheif could not allocate decoding options".to_owned(),
    })?;
    options.set_convert_hdr_to_8bit(true);
    let decoded = lib_heif
        .decode(&handle, ColorSpace::Rgb(chroma), Some(options))
        .map_err(|error| match error.sub_code {
            HeifErrorSubCode::SecurityLimitExceeded => Rejection::TooManyPixels {
                width,
                height,
                max_pixels: rules.max_pixels,
            },
            _ => heif_error(error),
        })?;

    let planes = decoded.planes();
    let plane = planes.interleaved.ok_or_else(|| Rejection::Undecodable {
        reason: "libheif returned no interleaved RGB plane".to_owned(),
    })?;
    if (plane.width, plane.height) != (width, height) {
        return Err(Rejection::Undecodable {
            reason: format!(
                "the HEIF header says {width}x{height}, the decoded image is {}x{}",
                plane.width, plane.height
            ),
        });
    }
    let channels: usize = if has_alpha { 4 } else { 3 };
    let row_bytes = width as usize * channels;
    let mut pixels = Vec::with_capacity(row_bytes * height as usize);
    for row in plane.data.chunks(plane.stride).take(height as usize) {
        let row = row.get(..row_bytes).ok_or_else(|| Rejection::Undecodable {
            reason: "libheif returned a plane shorter than its width".to_owned(),
        })?;
        pixels.extend_from_slice(row);
    }
    let image = if has_alpha {
        ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageRgba8)
    } else {
        ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or_else(|| Rejection::Undecodable {
        reason: "libheif returned fewer rows than its height".to_owned(),
    })
}

/// Without the `heic` feature a HEIF file is refused before anything is
/// parsed; the user is asked to send it as a photo (Telegram converts those).
#[cfg(not(feature = "heic"))]
fn decode_heif_upright(_bytes: &[u8], _rules: &IntakeRules) -> Result<DynamicImage, Rejection> {
    Err(Rejection::HeifUnsupported)
}

#[cfg(feature = "heic")]
fn heif_error(error: HeifError) -> Rejection {
    Rejection::Undecodable {
        reason: format!("libheif: {error}"),
    }
}

fn check_min_side(width: u32, height: u32, rules: &IntakeRules) -> Result<(), Rejection> {
    if width.min(height) < rules.min_side_px {
        return Err(Rejection::TooSmall {
            width,
            height,
            min: rules.min_side_px,
        });
    }
    Ok(())
}

fn header_error(error: ImageError) -> Rejection {
    Rejection::Undecodable {
        reason: format!("unreadable header: {error}"),
    }
}

fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Converts to 8-bit RGB, compositing any transparency over white (a
/// transparent PNG would otherwise turn black where it is see-through).
fn flatten_to_rgb(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [red, green, blue, alpha] = rgba.get_pixel(x, y).0;
        let over_white = |channel: u8| -> u8 {
            let alpha = u32::from(alpha);
            let blended = (u32::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255;
            // `blended` is at most 255 by construction.
            u8::try_from(blended).unwrap_or(u8::MAX)
        };
        image::Rgb([over_white(red), over_white(green), over_white(blue)])
    })
}

/// Downscales so the long side is at most `max_side`, keeping the aspect ratio.
fn downscale_to_fit(image: RgbImage, max_side: u32) -> RgbImage {
    let (width, height) = image.dimensions();
    let long_side = width.max(height);
    let max_side = max_side.max(1);
    if long_side <= max_side {
        return image;
    }
    let scale = |side: u32| -> u32 {
        let scaled = (u64::from(side) * u64::from(max_side) + u64::from(long_side) / 2)
            / u64::from(long_side);
        u32::try_from(scaled).unwrap_or(max_side).clamp(1, max_side)
    };
    image::imageops::resize(&image, scale(width), scale(height), FilterType::CatmullRom)
}

/// Tells what a file is from its first bytes.
pub fn detect_kind(bytes: &[u8]) -> DetectedKind {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| {
        bytes
            .get(offset..offset + magic.len())
            .is_some_and(|slice| slice == magic)
    };

    if starts(&[0xFF, 0xD8, 0xFF]) {
        return DetectedKind::Image(ImageKind::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return DetectedKind::Image(ImageKind::Png);
    }
    if starts(b"RIFF") {
        if at(8, b"WEBP") {
            return DetectedKind::Image(ImageKind::Webp);
        }
        if at(8, b"AVI ") {
            return DetectedKind::Other(OtherKind::Video);
        }
        if at(8, b"WAVE") {
            return DetectedKind::Other(OtherKind::Audio);
        }
    }
    if at(4, b"ftyp") {
        return detect_iso_media(bytes);
    }
    if at(4, b"moov") || at(4, b"mdat") || at(4, b"wide") {
        return DetectedKind::Other(OtherKind::Video);
    }

    let other = if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(OtherKind::Gif)
    } else if starts(b"BM") && bytes.len() >= 26 && at(6, &[0, 0, 0, 0]) {
        Some(OtherKind::Bmp)
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some(OtherKind::Tiff)
    } else if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        Some(OtherKind::JpegXl)
    } else if starts(b"\0\0\0\x0cjP  \r\n\x87\n") || starts(&[0xFF, 0x4F, 0xFF, 0x51]) {
        Some(OtherKind::Jpeg2000)
    } else if starts(&[0, 0, 1, 0]) {
        Some(OtherKind::Ico)
    } else if starts(b"8BPS") {
        Some(OtherKind::Psd)
    } else if starts(b"%PDF-") {
        Some(OtherKind::Pdf)
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        Some(OtherKind::Zip)
    } else if starts(&[0x1F, 0x8B]) {
        Some(OtherKind::Gzip)
    } else if starts(b"Rar!\x1a\x07") {
        Some(OtherKind::Rar)
    } else if starts(b"7z\xBC\xAF\x27\x1C") {
        Some(OtherKind::SevenZip)
    } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some(OtherKind::Video)
    } else if starts(b"ID3") || starts(b"OggS") || starts(b"fLaC") {
        Some(OtherKind::Audio)
    } else if starts(b"\x7fELF") || starts(b"MZ") {
        Some(OtherKind::Executable)
    } else {
        detect_text(bytes)
    };
    other.map_or(DetectedKind::Unknown, DetectedKind::Other)
}

/// Classifies an ISO base media file (it has an `ftyp` box at offset 4) by
/// its major and compatible brands: HEIF, AVIF, or a video.
fn detect_iso_media(bytes: &[u8]) -> DetectedKind {
    const HEIF_BRANDS: [&[u8]; 10] = [
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1",
    ];
    const AVIF_BRANDS: [&[u8]; 2] = [b"avif", b"avis"];

    let declared_box_size = bytes
        .get(0..4)
        .and_then(|size| size.try_into().ok())
        .map_or(0, |size: [u8; 4]| u32::from_be_bytes(size) as usize);
    // Major brand at 8..12, minor version at 12..16, compatible brands after.
    let box_end = declared_box_size.clamp(12, 256).min(bytes.len());
    let major = bytes.get(8..12);
    let compatible: Vec<&[u8]> = bytes
        .get(16..box_end)
        .unwrap_or_default()
        .chunks_exact(4)
        .collect();
    let brand_in = |set: &[&[u8]], brand: &[u8]| set.contains(&brand);

    match major {
        Some(brand) if brand_in(&AVIF_BRANDS, brand) => DetectedKind::Other(OtherKind::Avif),
        Some(brand) if brand_in(&HEIF_BRANDS[..8], brand) => DetectedKind::Image(ImageKind::Heif),
        Some(brand) if brand_in(&HEIF_BRANDS, brand) => {
            // `mif1`/`msf1` is the generic HEIF brand used by AVIF too.
            if compatible.iter().any(|brand| brand_in(&AVIF_BRANDS, brand)) {
                DetectedKind::Other(OtherKind::Avif)
            } else {
                DetectedKind::Image(ImageKind::Heif)
            }
        }
        _ => DetectedKind::Other(OtherKind::Video),
    }
}

/// Recognises text (UTF-8 without control characters other than whitespace)
/// in the first kilobyte, and SVG among it.
fn detect_text(bytes: &[u8]) -> Option<OtherKind> {
    let head = &bytes[..bytes.len().min(1024)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // The kilobyte may end inside a multi-byte character.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let printable = text
        .chars()
        .all(|character| !character.is_control() || matches!(character, '\n' | '\r' | '\t'));
    if text.is_empty() || !printable {
        return None;
    }
    let lowercase = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_lowercase();
    if lowercase.starts_with("<svg")
        || (lowercase.starts_with("<?xml") && lowercase.contains("<svg"))
    {
        Some(OtherKind::Svg)
    } else {
        Some(OtherKind::Text)
    }
}

/// Walks a JPEG's marker segments and entropy-coded scans and says whether
/// the end-of-image marker is reached before the data runs out.
///
/// Stray bytes between segments are skipped (as libjpeg does), so only a
/// missing end is caught, not every harmless oddity.
fn jpeg_reaches_end_of_image(bytes: &[u8]) -> bool {
    const END_OF_IMAGE: u8 = 0xD9;
    const START_OF_SCAN: u8 = 0xDA;
    let is_restart = |marker: u8| (0xD0..=0xD7).contains(&marker);

    let length = bytes.len();
    let mut position = 2; // After the start-of-image marker.
    loop {
        // Find the next marker: 0xFF, any fill 0xFF bytes, then the code.
        while position < length && bytes[position] != 0xFF {
            position += 1;
        }
        while position < length && bytes[position] == 0xFF {
            position += 1;
        }
        let Some(&marker) = bytes.get(position) else {
            return false;
        };
        position += 1;
        if marker == END_OF_IMAGE {
            return true;
        }
        if marker == 0x00 || marker == 0x01 || is_restart(marker) {
            continue; // Standalone markers without a length.
        }
        let Some(segment_length) = bytes
            .get(position..position + 2)
            .map(|pair| usize::from(u16::from_be_bytes([pair[0], pair[1]])))
        else {
            return false;
        };
        if segment_length < 2 || position + segment_length > length {
            return false;
        }
        position += segment_length;
        if marker == START_OF_SCAN {
            // Skip entropy-coded data: 0xFF is followed by 0x00 (a stuffed
            // byte) or a restart marker inside it; anything else ends it.
            loop {
                match bytes.get(position..position + 2) {
                    None => return false,
                    Some([0xFF, next]) if *next == 0x00 || is_restart(*next) => position += 2,
                    Some([0xFF, _]) => break,
                    Some(_) => position += 1,
                }
            }
        }
    }
}
