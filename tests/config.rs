//! Configuration: the shipped bot.toml loads, bad values are rejected with the
//! field's name, unknown fields are refused, secrets never print.

use pinglass::config::{Config, Secrets};

fn shipped_with(replace: &str, with: &str) -> String {
    let text = Config::shipped_toml();
    assert!(
        text.contains(replace),
        "bot.toml no longer contains {replace:?}"
    );
    text.replacen(replace, with, 1)
}

fn check_rejected(text: &str, expected_in_message: &[&str]) {
    let err =
        Config::from_toml_str(text, Secrets::default()).expect_err("config should be rejected");
    let message = err.to_string();
    for part in expected_in_message {
        assert!(
            message.contains(part),
            "error {message:?} does not mention {part:?}"
        );
    }
}

#[test]
fn shipped_config_loads_with_the_documented_tiers() {
    let config = Config::from_toml_str(Config::shipped_toml(), Secrets::default()).unwrap();
    let tiers: Vec<_> = config
        .tiers
        .iter()
        .map(|t| (t.id.as_str(), t.price_kopecks, t.portraits))
        .collect();
    assert_eq!(
        tiers,
        [
            ("starter", 49900, 7),
            ("standard", 99900, 15),
            ("premium", 149900, 23)
        ]
    );
    assert_eq!(config.upload.min_photos, 5);
    assert_eq!(config.upload.max_photos, 15);
    assert_eq!(config.kie.max_references, 10);
    assert_eq!(config.privacy.retention_days, 30);
}

#[test]
fn bad_values_name_the_field_and_the_reason() {
    check_rejected(
        &shipped_with("min_photos = 5", "min_photos = 50"),
        &["upload.min_photos", "max_photos"],
    );
    check_rejected(
        &shipped_with("price_kopecks = 49900", "price_kopecks = 5"),
        &["tiers[0].price_kopecks", "minimum"],
    );
    check_rejected(
        &shipped_with("id = \"standard\"", "id = \"starter\""),
        &["tiers[1].id", "twice"],
    );
    check_rejected(
        &shipped_with("create_per_10s = 18", "create_per_10s = 25"),
        &["kie.create_per_10s"],
    );
    check_rejected(
        &shipped_with("taxation = \"usn_income\"", "taxation = \"flat\""),
        &["tbank.taxation"],
    );
    check_rejected(
        &shipped_with("default_language = \"ru\"", "default_language = \"de\""),
        &["bot.default_language"],
    );
    check_rejected(
        &shipped_with("backend = \"local\"", "backend = \"s3\""),
        &["storage.backend", "S3_ACCESS_KEY_ID"],
    );
    // A wrong type names the key too (figment's message).
    check_rejected(
        &shipped_with("pool_size = 8", "pool_size = \"eight\""),
        &["pool_size"],
    );
    check_rejected(
        &shipped_with("retention_days = 30", "retention_days = 0"),
        &["privacy.retention_days", "1..=3650"],
    );
}

#[test]
fn the_quality_gate_section_loads_and_is_checked() {
    let config = Config::from_toml_str(Config::shipped_toml(), Secrets::default()).unwrap();
    assert_eq!(config.quality, pinglass::media::QualityRules::default());
    check_rejected(
        &shipped_with("min_brightness = 45", "min_brightness = 240"),
        &["quality.min_brightness", "max_brightness"],
    );
    check_rejected(
        &shipped_with("min_face_share_percent = 10", "min_face_share_percent = 1"),
        &["quality.min_face_share_percent"],
    );
    check_rejected(
        &shipped_with("[quality]\n", "[quality]\nthreshold = 3\n"),
        &["threshold"],
    );
}

#[test]
fn unknown_fields_are_refused() {
    check_rejected(
        &shipped_with("[bot]\n", "[bot]\nadmin_id = 5\n"),
        &["admin_id"],
    );
    check_rejected(
        &shipped_with("[kie]\n", "[kie]\napi_key = \"x\"\n"),
        &["api_key"],
    );
    check_rejected(
        &shipped_with("[privacy]\n", "[privacy]\nretention_hours = 5\n"),
        &["retention_hours"],
    );
}

#[test]
fn secrets_come_from_the_environment_and_never_print() {
    let secrets = Secrets::from_lookup(|name| match name {
        "TELEGRAM_BOT_TOKEN" => Some("123:very-secret-token".into()),
        "TBANK_PASSWORD" => Some("hunter2-password".into()),
        "KIE_API_KEY" => Some("   ".into()),
        _ => None,
    });
    assert!(secrets.telegram_token.is_some());
    assert!(
        secrets.kie_api_key.is_none(),
        "a blank value counts as unset"
    );
    // A real token with stand-ins: only for a staging bot that names them.
    let staging = shipped_with("standins = []", "standins = [\"kie\", \"tbank\"]");
    let config = Config::from_toml_str(&staging, secrets).unwrap();
    let printed = format!("{config:?}");
    assert!(!printed.contains("very-secret-token"), "{printed}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("telegram_token: \"***\""), "{printed}");
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's own error type
fn environment_overrides_a_field_of_the_file() {
    // figment::Jail isolates the environment and the working directory of this test.
    figment::Jail::expect_with(|jail| {
        jail.create_file("bot.toml", Config::shipped_toml())?;
        jail.set_env("PINGLASS_KIE__MODEL", "seedream/4.5-edit");
        jail.set_env("PINGLASS_UPLOAD__MIN_PHOTOS", "6");
        let config = Config::load(std::path::Path::new("bot.toml")).map_err(|e| e.to_string())?;
        assert_eq!(config.kie.model, "seedream/4.5-edit");
        assert_eq!(config.upload.min_photos, 6);
        jail.set_env("PINGLASS_UPLOAD__MIN_PHOTOS", "zero");
        let err = Config::load(std::path::Path::new("bot.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.to_lowercase().contains("upload.min_photos"), "{err}");
        Ok(())
    });
}

#[test]
fn each_kind_of_rule_gives_its_own_reason() {
    let message = |text: &str| {
        Config::from_toml_str(text, Secrets::default())
            .expect_err("config should be rejected")
            .to_string()
    };
    // A count that must be at least 1.
    assert_eq!(
        message(&shipped_with("check_secs = 60", "check_secs = 0")),
        "configuration: `alerts.check_secs` must be at least 1"
    );
    // A value from a list: the list is the reason.
    assert_eq!(
        message(&shipped_with("tax = \"none\"", "tax = \"vat99\"")),
        "configuration: `tbank.tax` must be one of none, vat0, vat5, vat7, vat10, vat20, vat105, vat110"
    );
    // An item of a list, named by its index, the reason naming the value.
    assert_eq!(
        message(&shipped_with("id = \"standard\"", "id = \"starter\"")),
        "configuration: `tiers[1].id` \"starter\" is used twice"
    );
    // An item of a list inside a list.
    assert_eq!(
        message(&shipped_with(
            "name = \"see-yourself\"",
            "name = \"generate\""
        )),
        "configuration: `experiments[0].variants[1].name` must be 1–24 of a-z, 0-9, _, - and unique in its experiment"
    );
    assert_eq!(
        message(&shipped_with(
            "cta = \"ab-cta-see-yourself\"",
            "cta = \"no-such-key\""
        )),
        "configuration: `experiments[0].variants[1].cta` \"no-such-key\" is not a key of every locale"
    );
    // The reason comes from the filter's parser.
    let filter = message(&shipped_with(
        "filter = \"info\"",
        "filter = \"pinglass=loud\"",
    ));
    assert!(
        filter.starts_with("configuration: `telemetry.filter` ") && filter.len() > 40,
        "{filter}"
    );
    // Rules are checked in order: the first broken one is named.
    assert_eq!(
        message(&shipped_with("pool_size = 8", "pool_size = 0").replacen(
            "check_secs = 60",
            "check_secs = 0",
            1
        )),
        "configuration: `database.pool_size` must be at least 1"
    );
}

#[test]
fn outside_the_sandbox_every_service_is_real_unless_named_for_staging() {
    let secrets = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        Secrets::from_lookup(move |name| names.contains(&name.to_owned()).then(|| "v".into()))
    };
    // No token: the sandbox, whatever else is missing.
    Config::from_toml_str(Config::shipped_toml(), secrets(&["KIE_API_KEY"])).unwrap();
    let err = Config::from_toml_str(Config::shipped_toml(), secrets(&["TELEGRAM_BOT_TOKEN"]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("KIE_API_KEY, TBANK_TERMINAL_KEY, TBANK_PASSWORD are not set"),
        "{err}"
    );
    let all = [
        "TELEGRAM_BOT_TOKEN",
        "KIE_API_KEY",
        "TBANK_TERMINAL_KEY",
        "TBANK_PASSWORD",
    ];
    Config::from_toml_str(Config::shipped_toml(), secrets(&all)).unwrap();
    let kie_named = shipped_with("standins = []", "standins = [\"kie\"]");
    Config::from_toml_str(&kie_named, secrets(&[all[0], all[2], all[3]])).unwrap();
    let err = Config::from_toml_str(&kie_named, secrets(&[all[0], all[2]]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("TBANK_PASSWORD is not set"), "{err}");
    check_rejected(
        &shipped_with("standins = []", "standins = [\"telegram\"]"),
        &["telegram"],
    );
    check_rejected(
        &shipped_with("host = \"127.0.0.1\"", "host = \"0.0.0.0\""),
        &["sandbox.host", "loopback"],
    );
    check_rejected(
        &shipped_with(
            "# metrics_listen = \"127.0.0.1:9464\"",
            "metrics_listen = \"10.0.0.5:9464\"",
        ),
        &["telemetry.metrics_listen", "metrics_public"],
    );
    Config::from_toml_str(
        &shipped_with(
            "# metrics_listen = \"127.0.0.1:9464\"",
            "metrics_listen = \"10.0.0.5:9464\"",
        )
        .replace("metrics_public = false", "metrics_public = true"),
        Secrets::default(),
    )
    .unwrap();
}
