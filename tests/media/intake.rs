//! Photo intake (`inspect_upload`): what is accepted with which
//! dimensions, what is refused and why, bombs refused from the header,
//! EXIF orientation applied and stripped. HEIC files are `heic.rs`'s.

use super::*;

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
