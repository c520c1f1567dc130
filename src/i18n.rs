//! Every user-facing string is a key in `locales/<lang>/main.ftl` (Fluent),
//! Russian first, English second. Plurals follow each language's CLDR rules.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid, static_loader};
use serde::{Deserialize, Serialize};

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "ru",
        // Telegram shows Unicode isolation marks as garbage: turn them off.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static RU: LanguageIdentifier = langid!("ru");
static EN: LanguageIdentifier = langid!("en");

/// The languages the bot speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Ru, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    pub(crate) fn parse(code: &str) -> Option<Lang> {
        match code {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language for a Telegram `language_code` ("ru", "en-GB", …), or
    /// `default` when it is neither Russian nor English.
    pub fn from_telegram(code: Option<&str>, default: Lang) -> Lang {
        let primary = code
            .and_then(|c| c.split(['-', '_']).next())
            .map(str::to_ascii_lowercase);
        match primary.as_deref() {
            Some("ru") => Lang::Ru,
            Some("en") => Lang::En,
            _ => default,
        }
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::Ru => &RU,
            Lang::En => &EN,
        }
    }
}

/// An argument of a localized message.
pub enum Arg<'a> {
    Str(&'a str),
    Num(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Arg<'a> {
        Arg::Str(s)
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Arg<'a> {
        Arg::Str(s)
    }
}
impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Arg::Num(n)
    }
}
impl From<u32> for Arg<'_> {
    fn from(n: u32) -> Self {
        Arg::Num(n.into())
    }
}
impl From<usize> for Arg<'_> {
    fn from(n: usize) -> Self {
        Arg::Num(n as i64)
    }
}

/// The message `key` in `lang`.
pub(crate) fn tr(lang: Lang, key: &str) -> String {
    LOCALES.lookup(lang.id(), key)
}

/// Whether `key` is a message of `lang` (configuration names locale keys).
pub(crate) fn has_key(lang: Lang, key: &str) -> bool {
    LOCALES.try_lookup(lang.id(), key).is_some()
}

/// The message `key` in `lang` with arguments.
pub fn tr_args(lang: Lang, key: &str, args: &[(&str, Arg<'_>)]) -> String {
    let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Arg::Str(s) => FluentValue::from(s.to_string()),
                Arg::Num(n) => FluentValue::from(*n),
            };
            (Cow::Owned(name.to_string()), value)
        })
        .collect();
    LOCALES.lookup_with_args(lang.id(), key, &map)
}

/// Formats kopecks as roubles for people: 49900 → "499", 49950 → "499,50" / "499.50".
pub fn rub(lang: Lang, kopecks: i64) -> String {
    let (r, k) = (kopecks / 100, (kopecks % 100).abs());
    let sep = if lang == Lang::Ru { ',' } else { '.' };
    let amount = if k == 0 {
        r.to_string()
    } else {
        format!("{r}{sep}{k:02}")
    };
    tr_args(lang, "price-rub", &[("rub", Arg::Str(&amount))])
}
