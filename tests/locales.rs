//! Locales: every locale has every key, every key the code uses exists, and
//! Russian plurals are right.

use std::collections::BTreeSet;
use std::path::Path;

use pinglass::i18n::{Arg, Lang, rub, tr_args};

fn ftl_keys(lang: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("locales/{lang}/main.ftl"));
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|line| line.starts_with(|c: char| c.is_ascii_lowercase()))
        .filter_map(|line| line.split_once(" =").map(|(key, _)| key.trim().to_owned()))
        .collect()
}

/// Every string literal passed as the key of `tr(lang, "…")` or `tr_args(lang, "…", …)` in src/.
fn keys_used_in_code() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let mut sources = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut sources,
    );
    let mut keys = BTreeSet::new();
    for source in &sources {
        for call in ["tr(", "tr_args("] {
            for (at, _) in source.match_indices(call) {
                let before = source[..at].chars().last().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue; // e.g. `attr(`
                }
                let rest = &source[at + call.len()..];
                // The first argument is the language: an expression up to the first comma.
                let Some((lang_arg, rest)) = rest.split_once(',') else {
                    continue;
                };
                if lang_arg.contains(')') || lang_arg.contains('"') {
                    continue; // the definition `fn tr(lang: Lang, …)` or something else
                }
                let rest = rest.trim_start();
                if let Some(literal) = rest.strip_prefix('"') {
                    let key = &literal[..literal.find('"').unwrap()];
                    keys.insert(key.to_owned());
                }
            }
        }
    }
    for (_, key) in pinglass::bot::commands::MENU {
        keys.insert(key.to_owned());
    }
    keys
}

#[test]
fn every_locale_has_every_key() {
    let ru = ftl_keys("ru");
    let en = ftl_keys("en");
    assert!(ru.len() > 20, "parsed too few keys: {ru:?}");
    let only_ru: Vec<_> = ru.difference(&en).collect();
    let only_en: Vec<_> = en.difference(&ru).collect();
    assert!(
        only_ru.is_empty() && only_en.is_empty(),
        "only in ru: {only_ru:?}; only in en: {only_en:?}"
    );
}

#[test]
fn every_key_used_in_code_exists_in_every_locale() {
    let used = keys_used_in_code();
    assert!(
        used.contains("start-welcome") && used.contains("cmd-help"),
        "scanner broken: {used:?}"
    );
    for lang in Lang::ALL {
        let defined = ftl_keys(lang.code());
        let missing: Vec<_> = used.difference(&defined).collect();
        assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
    }
}

#[test]
fn russian_plurals_are_right() {
    let check = |lang, n: i64, expected: &str| {
        assert_eq!(
            tr_args(lang, "portraits", &[("count", Arg::Num(n))]),
            expected
        );
    };
    check(Lang::Ru, 1, "1 портрет");
    check(Lang::Ru, 2, "2 портрета");
    check(Lang::Ru, 5, "5 портретов");
    check(Lang::Ru, 11, "11 портретов");
    check(Lang::Ru, 21, "21 портрет");
    check(Lang::Ru, 23, "23 портрета");
    check(Lang::En, 1, "1 portrait");
    check(Lang::En, 7, "7 portraits");
    assert_eq!(rub(Lang::Ru, 49900), "499 ₽");
    assert_eq!(rub(Lang::Ru, 59930), "599,30 ₽");
    assert_eq!(rub(Lang::En, 59930), "599.30 ₽");
}

#[test]
fn telegram_language_codes_map_to_our_languages() {
    assert_eq!(Lang::from_telegram(Some("ru"), Lang::En), Lang::Ru);
    assert_eq!(Lang::from_telegram(Some("en-GB"), Lang::Ru), Lang::En);
    assert_eq!(Lang::from_telegram(Some("de"), Lang::Ru), Lang::Ru);
    assert_eq!(Lang::from_telegram(None, Lang::En), Lang::En);
}
