//! Tests of the media area, by topic: photo intake (`intake`:
//! `inspect_upload`, one table of uploads and what must become of each),
//! HEIC photos (`heic`: their intake, and an iPhone photo sent as a file in
//! the chat), the style catalogue and the spreading of reference photos
//! over a job's tasks (`styles`). This module builds the images they share.
//!
//! Every image is generated here with the `image` crate; the malformed ones
//! (EXIF segments, a PNG bomb) are assembled byte by byte. The HEIC photos
//! are small files of our own under `tests/fixtures/` (see the README there:
//! the same quadrant pictures, encoded with x265 through libheif).

mod heic;
mod intake;
mod styles;

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
