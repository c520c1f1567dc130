//! HEIC photos (iPhones): converted to an upright JPEG, broken files and
//! bombs refused before decoding, and — without the `heic` feature —
//! refused before parsing; in the chat, an iPhone-style HEIC sent as a file
//! is stored as a JPEG (or refused with "send it as a photo").

use super::*;

/// The quadrant picture, 600x800, as an upright HEIC (HEVC, 8-bit 4:2:0).
const HEIC_600X800: &[u8] = include_bytes!("../fixtures/quadrants-600x800.heic");
/// The same picture stored sideways (800x600 coded) with an `irot` box that
/// turns it upright, plus an EXIF orientation 6 saying the same, as iPhones
/// write it.
const HEIC_IROT_600X800: &[u8] = include_bytes!("../fixtures/quadrants-irot-600x800.heic");
/// The quadrant picture, 300x400: below the minimum side.
#[cfg(feature = "heic")]
const HEIC_300X400: &[u8] = include_bytes!("../fixtures/quadrants-300x400.heic");

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

// ---------------------------------------------------------------------------
// In the chat: an iPhone photo sent as a file.
// ---------------------------------------------------------------------------

#[cfg(feature = "heic")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heic_sent_as_a_file_is_stored_as_a_jpeg_and_counted() {
    use crate::support::{LONG, TestApp, bot_text_contains, wait_for};
    use pinglass::telegram::standin::UserSpec;

    const IPHONE_HEIC: &[u8] = include_bytes!("../fixtures/IMG_0001.heic");
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

    const IPHONE_HEIC: &[u8] = include_bytes!("../fixtures/IMG_0001.heic");
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
