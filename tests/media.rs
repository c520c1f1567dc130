//! Tests of the media area: photo intake (`inspect_upload`), the style
//! catalogue (`data/styles.toml`) and the spreading of reference photos over
//! a job's tasks.
//!
//! Every image is generated here with the `image` crate; the malformed ones
//! (EXIF segments, a PNG bomb) are assembled byte by byte. The HEIC photos
//! are small files of our own under `tests/fixtures/` (see the README there:
//! the same quadrant pictures, encoded with x265 through libheif). One test
//! at the end sends an iPhone-style HEIC as a file in the chat and checks
//! what was stored.

use std::collections::HashSet;
use std::io::Cursor;
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegDecoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use pinglass::media::{
    AcceptedPhoto, ImageKind, IntakeRules, OtherKind, Rejection, catalogue, inspect_upload,
    prompt_for, spread_references, style_by_id,
};

// ---------------------------------------------------------------------------
// Image builders.
// ---------------------------------------------------------------------------

const RED: [u8; 3] = [220, 30, 30];
const BLUE: [u8; 3] = [30, 40, 220];
const GREEN: [u8; 3] = [30, 200, 40];
const WHITE: [u8; 3] = [250, 250, 250];

/// Rules used by most tests: small limits so that test images stay small.
fn rules() -> IntakeRules {
    IntakeRules {
        max_file_bytes: 4 * 1024 * 1024,
        min_side_px: 512,
        max_pixels: 40_000_000,
        max_output_side_px: 1024,
    }
}

/// An image whose four quadrants are red (top left), blue (top right), green
/// (bottom left) and white (bottom right), so any rotation or flip shows.
fn quadrants(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let left = x < width / 2;
        let top = y < height / 2;
        Rgb(match (top, left) {
            (true, true) => RED,
            (true, false) => BLUE,
            (false, true) => GREEN,
            (false, false) => WHITE,
        })
    })
}

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, format)
        .expect("encoding a test image");
    bytes.into_inner()
}

pub(crate) fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encode(
        DynamicImage::ImageRgb8(quadrants(width, height)),
        ImageFormat::Jpeg,
    )
}

fn png(width: u32, height: u32) -> Vec<u8> {
    encode(
        DynamicImage::ImageRgb8(quadrants(width, height)),
        ImageFormat::Png,
    )
}

/// The quadrant picture, 600x800, as an upright HEIC (HEVC, 8-bit 4:2:0).
const HEIC_600X800: &[u8] = include_bytes!("fixtures/quadrants-600x800.heic");
/// The same picture stored sideways (800x600 coded) with an `irot` box that
/// turns it upright, plus an EXIF orientation 6 saying the same, as iPhones
/// write it.
const HEIC_IROT_600X800: &[u8] = include_bytes!("fixtures/quadrants-irot-600x800.heic");
/// The quadrant picture, 300x400: below the minimum side.
#[cfg(feature = "heic")]
const HEIC_300X400: &[u8] = include_bytes!("fixtures/quadrants-300x400.heic");

/// Rewrites the size in a HEIC's only `ispe` box (the primary image's
/// declared size) so the header lies about it.
#[cfg(feature = "heic")]
fn heic_claiming(heic: &[u8], width: u32, height: u32) -> Vec<u8> {
    let boxes: Vec<usize> = heic
        .windows(4)
        .enumerate()
        .filter(|(_, window)| *window == b"ispe")
        .map(|(at, _)| at)
        .collect();
    assert_eq!(boxes.len(), 1, "the fixture has one ispe box");
    let mut out = heic.to_vec();
    // Type (4), version and flags (4), width (4), height (4).
    out[boxes[0] + 8..boxes[0] + 12].copy_from_slice(&width.to_be_bytes());
    out[boxes[0] + 12..boxes[0] + 16].copy_from_slice(&height.to_be_bytes());
    out
}

fn webp(width: u32, height: u32) -> Vec<u8> {
    encode(
        DynamicImage::ImageRgb8(quadrants(width, height)),
        ImageFormat::WebP,
    )
}

/// Inserts an APP1 segment holding `payload` right after the JPEG's SOI
/// marker, where cameras put their EXIF.
pub(crate) fn with_app1(jpeg: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "not a JPEG");
    let length = u16::try_from(payload.len() + 2).expect("APP1 payload too long");
    let mut out = Vec::with_capacity(jpeg.len() + payload.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A minimal big-endian EXIF block: IFD0 with an Orientation entry and,
/// optionally, a GPS IFD holding a latitude reference and a GPSMapDatum
/// string (the marker a test looks for in the output).
pub(crate) fn exif(orientation: u16, gps_marker: Option<&str>) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a");
    tiff.extend_from_slice(&8u32.to_be_bytes());

    let entry_count: u16 = if gps_marker.is_some() { 2 } else { 1 };
    tiff.extend_from_slice(&entry_count.to_be_bytes());
    // 0x0112 Orientation, SHORT, 1 value, stored inline (padded to 4 bytes).
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    let gps_ifd_offset = 8 + 2 + 12 * u32::from(entry_count) + 4;
    if gps_marker.is_some() {
        // 0x8825 GPSInfo IFD pointer, LONG.
        tiff.extend_from_slice(&0x8825u16.to_be_bytes());
        tiff.extend_from_slice(&4u16.to_be_bytes());
        tiff.extend_from_slice(&1u32.to_be_bytes());
        tiff.extend_from_slice(&gps_ifd_offset.to_be_bytes());
    }
    tiff.extend_from_slice(&0u32.to_be_bytes()); // No next IFD.

    if let Some(marker) = gps_marker {
        assert_eq!(tiff.len() as u32, gps_ifd_offset);
        let datum = format!("{marker}\0");
        let datum_offset = gps_ifd_offset + 2 + 12 * 2 + 4;
        tiff.extend_from_slice(&2u16.to_be_bytes());
        // 0x0001 GPSLatitudeRef, ASCII "N\0", inline.
        tiff.extend_from_slice(&0x0001u16.to_be_bytes());
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&2u32.to_be_bytes());
        tiff.extend_from_slice(b"N\0\0\0");
        // 0x0012 GPSMapDatum, ASCII, stored after the IFD.
        tiff.extend_from_slice(&0x0012u16.to_be_bytes());
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&(datum.len() as u32).to_be_bytes());
        tiff.extend_from_slice(&datum_offset.to_be_bytes());
        tiff.extend_from_slice(&0u32.to_be_bytes());
        tiff.extend_from_slice(datum.as_bytes());
    }

    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    payload
}

/// A valid one-pixel GIF89a (the `image` build here has no GIF encoder).
fn gif_1x1() -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[1, 0, 1, 0, 0x80, 0, 0]); // Screen 1x1, 2-colour table.
    gif.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0, 0, 0]);
    gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // Image descriptor.
    gif.extend_from_slice(&[2, 2, 0x44, 0x01, 0, 0x3B]); // LZW data, trailer.
    gif
}

/// A valid 24-bit BMP (the `image` build here has no BMP encoder).
fn bmp(width: u32, height: u32) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let pixels = row * height;
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&(54 + pixels).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&[0; 24]);
    out.resize(out.len() + pixels as usize, 0x80);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut checked = kind.to_vec();
    checked.extend_from_slice(data);
    out.extend_from_slice(&checked);
    out.extend_from_slice(&crc32(&checked).to_be_bytes());
}

/// A well-formed PNG (correct CRCs) whose IHDR claims `width`×`height` RGB
/// pixels, followed by a tiny IDAT: a decompression bomb's header.
pub(crate) fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no interlace.
    png_chunk(&mut out, b"IHDR", &ihdr);
    // A zlib stream with one empty stored block.
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Rewrites the dimensions in a JPEG's first SOF0 segment (baseline frame
/// header) so the header lies about the size.
fn jpeg_claiming(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out
        .windows(2)
        .position(|pair| pair == [0xFF, 0xC0])
        .expect("a baseline JPEG has an SOF0 marker");
    // Marker (2), length (2), precision (1), height (2), width (2).
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// The colour among the four quadrant colours closest to the pixel at
/// (`x`, `y`), named for readable failures.
fn quadrant_colour_at(photo: &RgbImage, x: u32, y: u32) -> &'static str {
    let pixel = photo.get_pixel(x, y).0;
    let distance = |colour: [u8; 3]| -> u32 {
        (0..3)
            .map(|i| u32::from(pixel[i].abs_diff(colour[i])).pow(2))
            .sum()
    };
    [
        (RED, "red"),
        (BLUE, "blue"),
        (GREEN, "green"),
        (WHITE, "white"),
    ]
    .into_iter()
    .min_by_key(|(colour, _)| distance(*colour))
    .map(|(_, name)| name)
    .unwrap_or("none")
}

/// The colours at the centres of the four quadrants of a photo:
/// top left, top right, bottom left, bottom right.
fn quadrant_layout(photo: &RgbImage) -> [&'static str; 4] {
    let (width, height) = photo.dimensions();
    let (left, right) = (width / 4, width * 3 / 4);
    let (top, bottom) = (height / 4, height * 3 / 4);
    [
        quadrant_colour_at(photo, left, top),
        quadrant_colour_at(photo, right, top),
        quadrant_colour_at(photo, left, bottom),
        quadrant_colour_at(photo, right, bottom),
    ]
}

fn decode_output(photo: &AcceptedPhoto) -> RgbImage {
    image::load_from_memory_with_format(&photo.jpeg, ImageFormat::Jpeg)
        .expect("the accepted photo is a valid JPEG")
        .into_rgb8()
}

// ---------------------------------------------------------------------------
// Intake: one table of uploads and what must become of each.
// ---------------------------------------------------------------------------

#[derive(Debug)]
enum Expected {
    Accepted {
        kind: ImageKind,
        width: u32,
        height: u32,
    },
    Rejected(Rejection),
    /// For rejections whose details (decoder messages) are not stable.
    RejectedWithCode(&'static str),
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    declared_mime: Option<&'static str>,
    file_name: Option<&'static str>,
    rules: IntakeRules,
    expected: Expected,
}

fn case(name: &'static str, bytes: Vec<u8>, expected: Expected) -> Case {
    Case {
        name,
        bytes,
        declared_mime: None,
        file_name: None,
        rules: rules(),
        expected,
    }
}

fn accepted(kind: ImageKind, width: u32, height: u32) -> Expected {
    Expected::Accepted {
        kind,
        width,
        height,
    }
}

/// Runs one case and returns a description of the mismatch, if any.
fn check(case: &Case) -> Option<String> {
    let got = inspect_upload(&case.bytes, case.declared_mime, case.file_name, &case.rules);
    let summary = match &got {
        Ok(photo) => format!(
            "accepted {:?} {}x{}",
            photo.source_format, photo.width, photo.height
        ),
        Err(rejection) => format!("rejected {rejection:?}"),
    };
    let matches = match (&case.expected, &got) {
        (
            Expected::Accepted {
                kind,
                width,
                height,
            },
            Ok(photo),
        ) => {
            let decoded = decode_output(photo);
            photo.source_format == *kind
                && (photo.width, photo.height) == (*width, *height)
                && decoded.dimensions() == (*width, *height)
                && photo.jpeg.starts_with(&[0xFF, 0xD8, 0xFF])
        }
        (Expected::Rejected(expected), Err(rejection)) => expected == rejection,
        (Expected::RejectedWithCode(code), Err(rejection)) => *code == rejection.code(),
        _ => false,
    };
    (!matches).then(|| {
        format!(
            "case {:?}:\n  expected {:?}\n  got      {summary}",
            case.name, case.expected
        )
    })
}

fn check_all(cases: &[Case]) {
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn intake_accepts_jpeg_png_and_webp_with_their_dimensions() {
    let mut transparent = RgbaImage::from_pixel(600, 700, Rgba([0, 0, 0, 0]));
    transparent.put_pixel(10, 10, Rgba([255, 0, 0, 255]));
    check_all(&[
        case(
            "jpeg landscape",
            jpeg(800, 600),
            accepted(ImageKind::Jpeg, 800, 600),
        ),
        case(
            "png portrait",
            png(600, 800),
            accepted(ImageKind::Png, 600, 800),
        ),
        case("webp", webp(700, 600), accepted(ImageKind::Webp, 700, 600)),
        case(
            "jpeg exactly the minimum side",
            jpeg(512, 512),
            accepted(ImageKind::Jpeg, 512, 512),
        ),
        case(
            "grayscale png",
            encode(
                DynamicImage::ImageLuma8(image::GrayImage::from_pixel(520, 530, image::Luma([90]))),
                ImageFormat::Png,
            ),
            accepted(ImageKind::Png, 520, 530),
        ),
        case(
            "transparent png",
            encode(DynamicImage::ImageRgba8(transparent), ImageFormat::Png),
            accepted(ImageKind::Png, 600, 700),
        ),
        case(
            "large png is downscaled so its long side fits",
            png(1600, 1200),
            accepted(ImageKind::Png, 1024, 768),
        ),
        case(
            "tall jpeg is downscaled by its height",
            jpeg(600, 1300),
            accepted(ImageKind::Jpeg, 473, 1024),
        ),
    ]);
}

#[test]
fn intake_judges_by_content_not_by_name_or_declared_type() {
    let named = |name: &'static str,
                 bytes: Vec<u8>,
                 mime: Option<&'static str>,
                 file_name: Option<&'static str>,
                 expected: Expected| Case {
        declared_mime: mime,
        file_name,
        ..case(name, bytes, expected)
    };
    check_all(&[
        named(
            "path traversal name on a real jpeg",
            jpeg(640, 640),
            Some("image/jpeg"),
            Some("../../etc/passwd.jpg"),
            accepted(ImageKind::Jpeg, 640, 640),
        ),
        named(
            "png sent as image/jpeg named .jpg",
            png(600, 600),
            Some("image/jpeg"),
            Some("photo.jpg"),
            accepted(ImageKind::Png, 600, 600),
        ),
        named(
            "jpeg with no extension and an octet-stream type",
            jpeg(600, 600),
            Some("application/octet-stream"),
            Some("IMG_0001"),
            accepted(ImageKind::Jpeg, 600, 600),
        ),
        named(
            "text declared as image/jpeg",
            b"Hello, this is not a photo.\nJust some text.\n".to_vec(),
            Some("image/jpeg"),
            Some("selfie.jpg"),
            Expected::Rejected(Rejection::NotAnImage {
                detected: Some(OtherKind::Text),
            }),
        ),
    ]);
}

#[test]
fn intake_rejects_what_is_not_a_usable_photo() {
    let full_jpeg = jpeg(800, 600);
    let truncated_jpeg = full_jpeg[..full_jpeg.len() * 2 / 3].to_vec();
    let full_png = png(800, 600);
    let truncated_png = full_png[..full_png.len() / 2].to_vec();
    let full_webp = webp(800, 600);
    let truncated_webp = full_webp[..full_webp.len() / 2].to_vec();
    // Complete (it still ends with its end-of-image marker) but its frame
    // header declares zero colour components.
    let mut corrupt_jpeg = full_jpeg.clone();
    let sof = corrupt_jpeg
        .windows(2)
        .position(|pair| pair == [0xFF, 0xC0])
        .expect("a baseline JPEG has an SOF0 marker");
    corrupt_jpeg[sof + 9] = 0;

    // Deterministic pseudo-random bytes (xorshift).
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    let not_an_image = |kind| Expected::Rejected(Rejection::NotAnImage { detected: kind });

    check_all(&[
        case(
            "zero bytes",
            Vec::new(),
            Expected::Rejected(Rejection::Empty),
        ),
        case(
            "larger than max_file_bytes",
            vec![0xFF; 4 * 1024 * 1024 + 1],
            Expected::Rejected(Rejection::TooLarge {
                size_bytes: 4 * 1024 * 1024 + 1,
                max_bytes: 4 * 1024 * 1024,
            }),
        ),
        case(
            "too small: 300x400",
            jpeg(300, 400),
            Expected::Rejected(Rejection::TooSmall {
                width: 300,
                height: 400,
                min: 512,
            }),
        ),
        case(
            "too small on one side only",
            png(1000, 500),
            Expected::Rejected(Rejection::TooSmall {
                width: 1000,
                height: 500,
                min: 512,
            }),
        ),
        case(
            "truncated jpeg",
            truncated_jpeg,
            Expected::RejectedWithCode("undecodable"),
        ),
        case(
            "corrupt jpeg",
            corrupt_jpeg,
            Expected::RejectedWithCode("undecodable"),
        ),
        case(
            "truncated png",
            truncated_png,
            Expected::RejectedWithCode("undecodable"),
        ),
        case(
            "truncated webp",
            truncated_webp,
            Expected::RejectedWithCode("undecodable"),
        ),
        case(
            "jpeg signature only",
            vec![0xFF, 0xD8, 0xFF, 0xE0],
            Expected::RejectedWithCode("undecodable"),
        ),
        case("random bytes", random, not_an_image(None)),
        case("gif", gif_1x1(), not_an_image(Some(OtherKind::Gif))),
        case(
            "pdf header",
            b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec(),
            not_an_image(Some(OtherKind::Pdf)),
        ),
        case("bmp", bmp(600, 600), not_an_image(Some(OtherKind::Bmp))),
        case(
            "tiff",
            b"II*\0\x08\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
            not_an_image(Some(OtherKind::Tiff)),
        ),
        case(
            "zip",
            b"PK\x03\x04\x14\0\0\0\x08\0photo.jpg".to_vec(),
            not_an_image(Some(OtherKind::Zip)),
        ),
        case(
            "mp4 video",
            b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41\0\0\0\x08free".to_vec(),
            not_an_image(Some(OtherKind::Video)),
        ),
        case(
            "quicktime video",
            b"\0\0\0\x14ftypqt  \0\0\x02\0qt  \0\0\0\x08wide".to_vec(),
            not_an_image(Some(OtherKind::Video)),
        ),
        case(
            "avif",
            b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf\0\0\0\0".to_vec(),
            not_an_image(Some(OtherKind::Avif)),
        ),
        case(
            "svg",
            b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
            not_an_image(Some(OtherKind::Svg)),
        ),
    ]);
}

#[test]
fn intake_rejects_decompression_bombs_from_the_header_without_decoding() {
    let bomb_rules = IntakeRules {
        max_pixels: 40_000_000,
        ..rules()
    };
    let started = Instant::now();
    check_all(&[
        Case {
            rules: bomb_rules,
            ..case(
                "png claiming 50000x50000",
                png_claiming(50_000, 50_000),
                Expected::Rejected(Rejection::TooManyPixels {
                    width: 50_000,
                    height: 50_000,
                    max_pixels: 40_000_000,
                }),
            )
        },
        Case {
            rules: bomb_rules,
            ..case(
                "jpeg claiming 65000x65000",
                jpeg_claiming(&jpeg(600, 600), 65_000, 65_000),
                Expected::Rejected(Rejection::TooManyPixels {
                    width: 65_000,
                    height: 65_000,
                    max_pixels: 40_000_000,
                }),
            )
        },
        Case {
            rules: IntakeRules {
                max_pixels: 600 * 600 - 1,
                ..rules()
            },
            ..case(
                "a real image one pixel over max_pixels",
                png(600, 600),
                Expected::Rejected(Rejection::TooManyPixels {
                    width: 600,
                    height: 600,
                    max_pixels: 600 * 600 - 1,
                }),
            )
        },
    ]);
    // Decoding 2.5 gigapixels would take minutes (or abort on allocation);
    // reading headers takes microseconds even in a debug build.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bomb rejection took {:?}",
        started.elapsed()
    );
}

#[test]
fn intake_a_bomb_within_max_pixels_is_still_caught_when_its_data_is_missing() {
    // 6000x6000 is under the limit, so the decoder runs, and finds no data
    // (or, for the HEIC, a coded image of another size).
    check_all(&[case(
        "png claiming 6000x6000 with an empty IDAT",
        png_claiming(6000, 6000),
        Expected::RejectedWithCode("undecodable"),
    )]);
}

#[cfg(feature = "heic")]
#[test]
fn intake_rejects_broken_heic() {
    check_all(&[
        case(
            "heic header followed by garbage",
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\x01\x00meta".to_vec(),
            Expected::RejectedWithCode("undecodable"),
        ),
        case(
            "generic heif header followed by zeros",
            [b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic".as_slice(), &[0; 512]].concat(),
            Expected::RejectedWithCode("undecodable"),
        ),
        case(
            "heic cut off in its image data",
            HEIC_600X800[..HEIC_600X800.len() * 2 / 3].to_vec(),
            Expected::RejectedWithCode("undecodable"),
        ),
        case(
            "heic cut off in its header",
            HEIC_600X800[..200].to_vec(),
            Expected::RejectedWithCode("undecodable"),
        ),
        case(
            "heic too small",
            HEIC_300X400.to_vec(),
            Expected::Rejected(Rejection::TooSmall {
                width: 300,
                height: 400,
                min: 512,
            }),
        ),
    ]);
}

#[cfg(feature = "heic")]
#[test]
fn intake_rejects_heic_bombs_from_the_header_without_decoding() {
    let bomb_rules = IntakeRules {
        max_pixels: 40_000_000,
        ..rules()
    };
    check_all(&[
        Case {
            rules: bomb_rules,
            ..case(
                "heic claiming 60000x60000",
                heic_claiming(HEIC_600X800, 60_000, 60_000),
                Expected::Rejected(Rejection::TooManyPixels {
                    width: 60_000,
                    height: 60_000,
                    max_pixels: 40_000_000,
                }),
            )
        },
        Case {
            rules: IntakeRules {
                max_pixels: 600 * 800 - 1,
                ..rules()
            },
            ..case(
                "a real heic one pixel over max_pixels",
                HEIC_600X800.to_vec(),
                Expected::Rejected(Rejection::TooManyPixels {
                    width: 600,
                    height: 800,
                    max_pixels: 600 * 800 - 1,
                }),
            )
        },
        case(
            "heic claiming 6000x6000 holding a 600x800 image",
            heic_claiming(HEIC_600X800, 6000, 6000),
            Expected::RejectedWithCode("undecodable"),
        ),
    ]);
}

#[cfg(not(feature = "heic"))]
#[test]
fn intake_without_the_heic_feature_refuses_heic_before_parsing_it() {
    for (what, bytes) in [
        ("iPhone heic", HEIC_600X800.to_vec()),
        ("sideways heic", HEIC_IROT_600X800.to_vec()),
        (
            "heic header followed by garbage",
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\x01\x00meta".to_vec(),
        ),
    ] {
        assert_eq!(
            inspect_upload(&bytes, Some("image/heic"), Some("IMG_0001.HEIC"), &rules()),
            Err(Rejection::HeifUnsupported),
            "{what}"
        );
    }
}

#[cfg(feature = "heic")]
#[test]
fn intake_a_heic_whose_coded_image_is_larger_than_its_header_is_refused_before_decoding() {
    // The header says 100x100 (within every limit here); the HEVC stream's
    // own header says 600x800. libheif checks the stream's size against the
    // declared one before the codec allocates anything.
    let lenient = IntakeRules {
        min_side_px: 1,
        max_pixels: 100_000,
        ..rules()
    };
    let bytes = heic_claiming(HEIC_600X800, 100, 100);
    assert_eq!(
        inspect_upload(&bytes, Some("image/heic"), Some("lying.heic"), &lenient),
        Err(Rejection::TooManyPixels {
            width: 100,
            height: 100,
            max_pixels: 100_000,
        })
    );
}

#[cfg(feature = "heic")]
#[test]
fn intake_converts_heic_to_an_upright_jpeg() {
    // Each row: fixture, the size it must come out at, and its quadrants
    // (top left, top right, bottom left, bottom right).
    let table: [(&str, &[u8]); 2] = [
        ("upright heic", HEIC_600X800),
        (
            "heic stored sideways with irot (and EXIF 6)",
            HEIC_IROT_600X800,
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes) in table {
        let photo = match inspect_upload(bytes, Some("image/heic"), Some("IMG_0001.HEIC"), &rules())
        {
            Ok(photo) => photo,
            Err(rejection) => {
                failures.push(format!("{name}: rejected {rejection:?}"));
                continue;
            }
        };
        let decoded = decode_output(&photo);
        let layout = quadrant_layout(&decoded);
        if photo.source_format != ImageKind::Heif
            || (photo.width, photo.height) != (600, 800)
            || decoded.dimensions() != (600, 800)
            || layout != ["red", "blue", "green", "white"]
        {
            failures.push(format!(
                "{name}: expected heif 600x800 [red, blue, green, white], got {:?} {}x{} {layout:?}",
                photo.source_format, photo.width, photo.height
            ));
        }
        // A plain JPEG without metadata, hashed over the HEIC bytes.
        let mut output = JpegDecoder::new(Cursor::new(&photo.jpeg)).expect("output decodes");
        assert_eq!(
            output.exif_metadata().expect("exif readable"),
            None,
            "{name}"
        );
        use sha2::Digest;
        assert_eq!(photo.sha256_hex, hex::encode(sha2::Sha256::digest(bytes)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[cfg(feature = "heic")]
#[test]
fn intake_downscales_a_heic_and_checks_its_minimum_side_upright() {
    let small_output = IntakeRules {
        max_output_side_px: 400,
        ..rules()
    };
    check_all(&[
        Case {
            rules: small_output,
            ..case(
                "heic downscaled to fit 400",
                HEIC_IROT_600X800.to_vec(),
                accepted(ImageKind::Heif, 300, 400),
            )
        },
        Case {
            // 600 wide upright (800 wide as coded): the short side is 600.
            rules: IntakeRules {
                min_side_px: 601,
                ..rules()
            },
            ..case(
                "sideways heic judged by its upright short side",
                HEIC_IROT_600X800.to_vec(),
                Expected::Rejected(Rejection::TooSmall {
                    width: 600,
                    height: 800,
                    min: 601,
                }),
            )
        },
    ]);
}

#[test]
fn intake_applies_exif_orientation_so_the_photo_is_upright() {
    // The stored image is 800x600 with red, blue / green, white quadrants.
    // Each row: EXIF orientation, upright size, upright quadrant layout
    // (top left, top right, bottom left, bottom right).
    let table: [(u16, (u32, u32), [&str; 4]); 5] = [
        (1, (800, 600), ["red", "blue", "green", "white"]),
        (3, (800, 600), ["white", "green", "blue", "red"]),
        (6, (600, 800), ["green", "red", "white", "blue"]),
        (8, (600, 800), ["blue", "white", "red", "green"]),
        (2, (800, 600), ["blue", "red", "white", "green"]),
    ];
    let plain = jpeg(800, 600);
    let mut failures = Vec::new();
    for (orientation, size, layout) in table {
        let bytes = with_app1(&plain, &exif(orientation, None));
        let photo = match inspect_upload(&bytes, Some("image/jpeg"), None, &rules()) {
            Ok(photo) => photo,
            Err(rejection) => {
                failures.push(format!("orientation {orientation}: rejected {rejection:?}"));
                continue;
            }
        };
        let decoded = decode_output(&photo);
        let got_layout = quadrant_layout(&decoded);
        if (photo.width, photo.height) != size
            || decoded.dimensions() != size
            || got_layout != layout
        {
            failures.push(format!(
                "orientation {orientation}: expected {size:?} {layout:?}, got {:?} {got_layout:?}",
                (photo.width, photo.height)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn intake_checks_the_minimum_side_after_orientation() {
    // Stored 1000x500 but displayed 500x1000: too small either way, and the
    // rejection reports the upright size.
    let bytes = with_app1(&jpeg(1000, 500), &exif(6, None));
    assert_eq!(
        inspect_upload(&bytes, None, None, &rules()),
        Err(Rejection::TooSmall {
            width: 500,
            height: 1000,
            min: 512,
        })
    );
}

#[test]
fn intake_strips_exif_including_gps_from_the_stored_photo() {
    let marker = "PINGLASS-GPS-MARKER-55.7558N-37.6173E";
    let original = with_app1(&jpeg(800, 600), &exif(1, Some(marker)));
    let contains = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    };
    // The input really carries the GPS data, readable by a decoder.
    assert!(contains(&original, marker.as_bytes()));
    let mut input_decoder = JpegDecoder::new(Cursor::new(&original)).expect("input decodes");
    let input_exif = input_decoder.exif_metadata().expect("input exif readable");
    assert!(input_exif.is_some_and(|exif| contains(&exif, marker.as_bytes())));

    let photo = inspect_upload(&original, None, None, &rules()).expect("accepted");
    assert!(!contains(&photo.jpeg, marker.as_bytes()), "GPS marker kept");
    assert!(!contains(&photo.jpeg, b"Exif\0\0"), "EXIF header kept");
    assert!(!contains(&photo.jpeg, b"MM\0\x2a"), "TIFF block kept");
    let mut output_decoder = JpegDecoder::new(Cursor::new(&photo.jpeg)).expect("output decodes");
    assert_eq!(output_decoder.exif_metadata().expect("exif readable"), None);
    assert_eq!(output_decoder.icc_profile().expect("icc readable"), None);
    assert_eq!(output_decoder.xmp_metadata().expect("xmp readable"), None);
}

#[test]
fn intake_hashes_the_original_bytes_for_duplicate_detection() {
    let first = jpeg(700, 700);
    let same_again = first.clone();
    let other = jpeg(700, 701);
    let hash = |bytes: &[u8]| {
        inspect_upload(bytes, None, None, &rules())
            .expect("accepted")
            .sha256_hex
    };
    let first_hash = hash(&first);
    assert_eq!(first_hash, hash(&same_again));
    assert_ne!(first_hash, hash(&other));
    // Of the original bytes, not of the re-encoded JPEG.
    use sha2::Digest;
    assert_eq!(first_hash, hex::encode(sha2::Sha256::digest(&first)));
    assert_eq!(first_hash.len(), 64);
    assert!(
        first_hash
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
}

#[test]
fn intake_declared_size_check_refuses_before_download() {
    let rules = rules();
    assert_eq!(rules.check_declared_size(1), Ok(()));
    assert_eq!(rules.check_declared_size(rules.max_file_bytes), Ok(()));
    assert_eq!(rules.check_declared_size(0), Err(Rejection::Empty));
    assert_eq!(
        rules.check_declared_size(rules.max_file_bytes + 1),
        Err(Rejection::TooLarge {
            size_bytes: rules.max_file_bytes + 1,
            max_bytes: rules.max_file_bytes,
        })
    );
}

#[test]
fn intake_rejection_codes_are_stable_and_distinct() {
    let all = [
        (Rejection::Empty, "empty"),
        (
            Rejection::TooLarge {
                size_bytes: 2,
                max_bytes: 1,
            },
            "too_large",
        ),
        (Rejection::NotAnImage { detected: None }, "not_an_image"),
        (
            Rejection::TooManyPixels {
                width: 1,
                height: 1,
                max_pixels: 0,
            },
            "too_many_pixels",
        ),
        (
            Rejection::Undecodable {
                reason: String::new(),
            },
            "undecodable",
        ),
        (
            Rejection::TooSmall {
                width: 1,
                height: 1,
                min: 2,
            },
            "too_small",
        ),
        (
            Rejection::ReencodeFailed {
                reason: String::new(),
            },
            "reencode_failed",
        ),
    ];
    let codes: HashSet<&str> = all.iter().map(|(rejection, _)| rejection.code()).collect();
    assert_eq!(codes.len(), all.len());
    for (rejection, code) in &all {
        assert_eq!(rejection.code(), *code);
    }
}

// ---------------------------------------------------------------------------
// Style catalogue.
// ---------------------------------------------------------------------------

fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Checks one prompt against the catalogue's rules; returns what is wrong.
fn prompt_problems(style_id: &str, label: &str, prompt: &str, min_words: usize) -> Vec<String> {
    let lowercase = prompt.to_lowercase();
    let words = word_count(prompt);
    let mut problems = Vec::new();
    if !(min_words..=120).contains(&words) {
        problems.push(format!(
            "{style_id} {label}: {words} words, want {min_words}..=120"
        ));
    }
    for required in [
        "identity",
        "skin tone",
        "proportions",
        "reference photos",
        "only one person",
        "no text",
        "watermark",
    ] {
        if !lowercase.contains(required) {
            problems.push(format!("{style_id} {label}: does not mention {required:?}"));
        }
    }
    if !prompt.is_ascii() {
        // Plain ASCII except for accented loan words in names is fine for the
        // model, but prompts should not carry stray Cyrillic or smart quotes.
        let non_ascii: String = prompt.chars().filter(|c| !c.is_ascii()).collect();
        if non_ascii.chars().any(|c| !"éè".contains(c)) {
            problems.push(format!(
                "{style_id} {label}: non-ASCII characters {non_ascii:?}"
            ));
        }
    }
    problems
}

#[test]
fn styles_catalogue_has_at_least_24_distinct_well_formed_styles() {
    let styles = catalogue();
    assert!(styles.len() >= 24, "only {} styles", styles.len());

    let mut problems = Vec::new();
    let mut ids = HashSet::new();
    let mut names_ru = HashSet::new();
    let mut names_en = HashSet::new();
    let mut prompts = HashSet::new();
    for style in styles {
        if !ids.insert(style.id.as_str()) {
            problems.push(format!("duplicate id {}", style.id));
        }
        if !names_ru.insert(style.name_ru.as_str()) {
            problems.push(format!("duplicate Russian name {}", style.name_ru));
        }
        if !names_en.insert(style.name_en.as_str()) {
            problems.push(format!("duplicate English name {}", style.name_en));
        }
        let slug_ok = !style.id.is_empty()
            && style
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !slug_ok {
            problems.push(format!("id {:?} is not a lowercase slug", style.id));
        }
        for (language, name) in [("ru", &style.name_ru), ("en", &style.name_en)] {
            if name.trim().is_empty() || name.chars().count() > 32 {
                problems.push(format!(
                    "{} name_{language} {name:?} is empty or too long",
                    style.id
                ));
            }
        }
        if !style
            .name_ru
            .chars()
            .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'))
        {
            problems.push(format!(
                "{} name_ru {:?} has no Cyrillic",
                style.id, style.name_ru
            ));
        }
        problems.extend(prompt_problems(&style.id, "prompt", &style.prompt, 40));
        if !(1..=2).contains(&style.variants.len()) {
            problems.push(format!(
                "{} has {} variants, want 1 or 2",
                style.id,
                style.variants.len()
            ));
        }
        for (index, variant) in style.variants.iter().enumerate() {
            problems.extend(prompt_problems(
                &style.id,
                &format!("variant {index}"),
                variant,
                30,
            ));
            if variant == &style.prompt {
                problems.push(format!("{} variant {index} repeats the prompt", style.id));
            }
        }
        for prompt in std::iter::once(&style.prompt).chain(&style.variants) {
            if !prompts.insert(prompt.as_str()) {
                problems.push(format!(
                    "{}: a prompt is used twice in the catalogue",
                    style.id
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "catalogue problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn styles_catalogue_covers_the_requested_styles() {
    for id in [
        "studio-business-headshot",
        "golden-hour-street",
        "film-noir",
        "renaissance-oil",
        "cyberpunk-neon",
        "paris-cafe",
        "mountain-explorer",
        "roaring-twenties",
        "anime-illustration",
        "watercolor",
        "magazine-cover",
        "astronaut",
        "medieval-knight",
        "beach-sunset",
        "winter-forest",
        "jazz-club",
        "minimalist-black-white",
        "soviet-film-photo",
        "fantasy-elf",
        "hero-suit",
        "vintage-polaroid",
        "cozy-library",
        "tennis-court",
    ] {
        assert!(style_by_id(id).is_some(), "style {id} is missing");
    }
    assert!(style_by_id("no-such-style").is_none());
}

#[test]
fn styles_prompt_for_walks_the_variants_then_stops() {
    let styles = catalogue();
    for (index, style) in styles.iter().enumerate() {
        assert_eq!(prompt_for(index, 0), Some(style.prompt.as_str()));
        for (variant_index, variant) in style.variants.iter().enumerate() {
            assert_eq!(prompt_for(index, variant_index + 1), Some(variant.as_str()));
        }
        assert_eq!(
            prompt_for(index, style.prompt_count()),
            None,
            "{}",
            style.id
        );
    }
    assert_eq!(prompt_for(styles.len(), 0), None);
}

// ---------------------------------------------------------------------------
// Spreading reference photos over a job's tasks.
// ---------------------------------------------------------------------------

fn photo_keys(count: usize) -> Vec<String> {
    (0..count)
        .map(|index| format!("avatars/7/refs/{index:02}.jpg"))
        .collect()
}

/// How often each photo is used over all tasks, in photo order.
fn usage_counts(photos: &[String], spread: &[Vec<String>]) -> Vec<usize> {
    photos
        .iter()
        .map(|photo| {
            spread
                .iter()
                .flatten()
                .filter(|used| *used == photo)
                .count()
        })
        .collect()
}

#[test]
fn spread_references_covers_every_photo_and_balances_use() {
    // (photos, tasks, max per task, photos per task)
    let table = [
        (15, 7, 10, 10),
        (15, 23, 10, 10),
        (15, 2, 8, 8),
        (14, 15, 14, 14),
        (11, 3, 10, 10),
        (10, 7, 10, 10),
        (5, 7, 10, 5),
        (6, 1, 10, 6),
    ];
    for (photo_count, tasks, max_per_task, per_task) in table {
        let photos = photo_keys(photo_count);
        let spread = spread_references(&photos, tasks, max_per_task);
        let label = format!("{photo_count} photos, {tasks} tasks, max {max_per_task}");

        assert_eq!(spread.len(), tasks, "{label}: task count");
        for (task, refs) in spread.iter().enumerate() {
            assert_eq!(refs.len(), per_task, "{label}: task {task} size");
            let distinct: HashSet<&String> = refs.iter().collect();
            assert_eq!(
                distinct.len(),
                refs.len(),
                "{label}: task {task} repeats a photo"
            );
        }
        let counts = usage_counts(&photos, &spread);
        assert!(
            counts.iter().all(|&count| count > 0),
            "{label}: unused photo in {counts:?}"
        );
        let (least, most) = (counts.iter().min(), counts.iter().max());
        assert!(
            most.zip(least)
                .is_some_and(|(most, least)| most - least <= 1),
            "{label}: unbalanced use {counts:?}"
        );
        assert_eq!(
            spread,
            spread_references(&photos, tasks, max_per_task),
            "{label}: not deterministic"
        );
    }
}

#[test]
fn spread_references_small_and_degenerate_inputs() {
    // Fewer photos than a task takes: every task gets all of them.
    let five = photo_keys(5);
    for refs in spread_references(&five, 7, 10) {
        let mut sorted = refs.clone();
        sorted.sort();
        assert_eq!(sorted, five);
    }
    // One task cannot take more than its maximum: 10 of 15, the first 10.
    let fifteen = photo_keys(15);
    assert_eq!(
        spread_references(&fifteen, 1, 10),
        vec![fifteen[..10].to_vec()]
    );
    // The 15-photo, 7-task example spelled out: task 1 wraps around.
    let spread = spread_references(&fifteen, 7, 10);
    assert_eq!(spread[1][..5], fifteen[10..]);
    assert_eq!(spread[1][5..], fifteen[..5]);
    // Nothing to spread, or nowhere to put it.
    assert_eq!(spread_references(&[], 3, 10), vec![Vec::<String>::new(); 3]);
    assert_eq!(
        spread_references(&fifteen, 2, 0),
        vec![Vec::<String>::new(); 2]
    );
    assert!(spread_references(&fifteen, 0, 10).is_empty());
}

// ---------------------------------------------------------------------------
// In the chat: an iPhone photo sent as a file.
// ---------------------------------------------------------------------------

#[cfg(feature = "heic")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heic_sent_as_a_file_is_stored_as_a_jpeg_and_counted() {
    use crate::support::{LONG, TestApp, bot_text_contains, wait_for};
    use pinglass::telegram::standin::UserSpec;

    const IPHONE_HEIC: &[u8] = include_bytes!("fixtures/IMG_0001.heic");
    let app = TestApp::start().await;
    let user = UserSpec::new(3101, "Ира").with_language("ru");
    start_and_send_the_iphone_heic(&app, &user).await;
    wait_for(
        &app.telegram,
        &user,
        "the counter",
        |e| bot_text_contains(e, "Принято: 1 фото"),
        LONG,
    )
    .await;

    let rows: Vec<(String, String, i64, i64, i64)> = app
        .app()
        .db
        .run_blocking(|c| {
            let mut statement = c.prepare(
                "SELECT sha256, object_key, width, height, size_bytes FROM reference_photos",
            )?;
            let rows = statement
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap();
    assert_eq!(rows.len(), 1, "one reference photo: {rows:?}");
    let (sha256, object_key, width, height, size_bytes) = &rows[0];
    use sha2::Digest;
    assert_eq!(*sha256, hex::encode(sha2::Sha256::digest(IPHONE_HEIC)));
    assert_eq!((*width, *height), (800, 1000));
    assert_eq!(
        *size_bytes,
        IPHONE_HEIC.len() as i64,
        "the size the user sent"
    );

    // What the store holds, and what Kie will be given, is a JPEG of that size.
    let stored = app.app().services.store.get(object_key).await.unwrap();
    assert_eq!(
        image::guess_format(&stored).unwrap(),
        ImageFormat::Jpeg,
        "stored as {object_key}"
    );
    let decoded = image::load_from_memory_with_format(&stored, ImageFormat::Jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (800, 1000));
    app.shutdown().await;
}

#[cfg(not(feature = "heic"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_heic_feature_a_heic_file_is_refused_with_send_it_as_a_photo() {
    use crate::support::{LONG, TestApp, bot_text_contains, wait_for};
    use pinglass::telegram::standin::UserSpec;

    let app = TestApp::start().await;
    for (id, lang, expected) in [
        (3102, "ru", "Отправьте этот снимок как фото, а не как файл"),
        (
            3103,
            "en",
            "Please send this picture as a photo, not as a file",
        ),
    ] {
        let user = UserSpec::new(id, "Ира").with_language(lang);
        start_and_send_the_iphone_heic(&app, &user).await;
        wait_for(
            &app.telegram,
            &user,
            "the refusal",
            |e| bot_text_contains(e, expected),
            LONG,
        )
        .await;
    }
    let photos: i64 = app
        .app()
        .db
        .run_blocking(|c| c.query_row("SELECT COUNT(*) FROM reference_photos", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(photos, 0, "a refused HEIC is neither stored nor counted");
    app.shutdown().await;
}

/// `/start`, then the iPhone-style HEIC of the fixtures sent as a file.
async fn start_and_send_the_iphone_heic(
    app: &crate::support::TestApp,
    user: &pinglass::telegram::standin::UserSpec,
) {
    use crate::support::{LONG, bot_text_contains, wait_for};
    use pinglass::telegram::standin::FileUpload;

    const IPHONE_HEIC: &[u8] = include_bytes!("fixtures/IMG_0001.heic");
    let sandbox = app.telegram.sandbox();
    sandbox.send_text(user, "/start").unwrap();
    wait_for(
        &app.telegram,
        user,
        "the onboarding",
        |e| bot_text_contains(e, "PinGlass"),
        LONG,
    )
    .await;
    sandbox
        .send_document(
            user,
            FileUpload::new(IPHONE_HEIC.to_vec(), "IMG_0001.HEIC"),
            None,
        )
        .await
        .unwrap();
}
