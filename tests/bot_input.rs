//! Typed parsing of what users send: /start payloads and inline-button data.
//! Anything forged or malformed becomes "nothing" and changes nothing.

use pinglass::bot::commands::StartPayload;
use pinglass::bot::purchase::{normalize_phone, valid_email};
use pinglass::chat::callback::Callback;
use pinglass::i18n::Lang;

#[test]
fn start_payloads() {
    let cases: &[(&str, StartPayload)] = &[
        ("", StartPayload::None),
        ("ref_abcd2345", StartPayload::Referral("abcd2345".into())),
        ("ref_", StartPayload::None),
        ("ref_a", StartPayload::None),
        (
            "g_0123456789abcdefghijklmn",
            StartPayload::Gallery("0123456789abcdefghijklmn".into()),
        ),
        ("g_short", StartPayload::None),
        ("ref_x'; DROP TABLE users;--", StartPayload::None),
        ("ref_абвгд", StartPayload::None),
        (&"a".repeat(65), StartPayload::None),
        (&format!("ref_{}", "a".repeat(61)), StartPayload::None),
        ("hello", StartPayload::None),
        (
            "  ref_abcd2345  ",
            StartPayload::Referral("abcd2345".into()),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(&StartPayload::parse(input), expected, "payload {input:?}");
    }
}

#[test]
fn callback_data_round_trips_and_garbage_is_refused() {
    let valid = [
        Callback::SetLanguage(Lang::En),
        Callback::CheckPayment(42),
        Callback::Packages(7),
        Callback::Generate(9_000_000_000),
        Callback::Tier {
            avatar_id: 3,
            tier: "starter".into(),
        },
        Callback::Tier {
            avatar_id: 3,
            tier: "premium_2".into(),
        },
        Callback::RequestPayout,
        Callback::ResumeReminders,
        Callback::ZipGallery(5),
        Callback::ShareGallery(9_000_000_000),
        Callback::RevokeShare(5),
        Callback::StartOwn,
        Callback::DeleteData {
            user_id: 9_000_000_000,
            issued_ms: 1_800_000_000_000,
        },
        Callback::KeepData(9_000_000_000),
    ];
    for callback in valid {
        let data = callback.encode();
        assert!(data.len() <= 64, "{data} is longer than Telegram allows");
        assert_eq!(Callback::parse(&data), Some(callback.clone()), "{data}");
    }
    let garbage = [
        "",
        ":",
        "lang:",
        "lang:de",
        "paid:",
        "paid:-1",
        "paid:0",
        "paid:+5",
        "paid: 5",
        "paid:5x",
        "paid:99999999999999999999",
        "tier:3",
        "tier:3:",
        "tier:3:Premium",
        "tier:3:a b",
        "tier:3:ab;drop",
        "tier:3:a_very_long_tier_id_x",
        "tier:3:-1",
        "tier::1",
        "gen:1:2",
        "remind:",
        "remind:off",
        "remind:on:1",
        "zip:",
        "zip:-3",
        "share:0",
        "unshare:1:2",
        "own:",
        "own:1",
        "unknown:1",
        "PAID:1",
        "paid:١",
        &"paid:1".repeat(20),
        "payout:",
        "payout:1",
        "payout:all:1",
        "deldata:",
        "deldata:1",
        "deldata:1:",
        "deldata::5",
        "deldata:1:-5",
        "deldata:1:2:3",
        "deldata:0:5",
        "keepdata:",
        "keepdata:0",
        "keepdata:1:2",
    ];
    for data in garbage {
        assert_eq!(Callback::parse(data), None, "{data:?} must be refused");
    }
}

#[test]
fn receipt_contacts() {
    for good in ["anna@example.ru", "a.b+c@mail.co.uk", " Anna@Example.RU "] {
        assert!(valid_email(good), "{good}");
    }
    for bad in [
        "",
        "anna",
        "anna@",
        "@example.ru",
        "anna@example",
        "an na@example.ru",
        "a@b@c.ru",
        "a@.ru",
        "a@b..ru",
    ] {
        assert!(!valid_email(bad), "{bad}");
    }
    assert_eq!(
        normalize_phone("+7 (912) 345-67-89").as_deref(),
        Some("+79123456789")
    );
    assert_eq!(
        normalize_phone("79123456789").as_deref(),
        Some("+79123456789")
    );
    assert_eq!(normalize_phone("12345"), None);
}
