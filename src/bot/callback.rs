//! Typed inline-button data. Everything that arrives from a button is parsed
//! here; anything else (forged, stale, garbage) is `None` and gets a polite
//! answer without changing anything.

use crate::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    SetLanguage(Lang),
}

impl Callback {
    pub fn encode(self) -> String {
        match self {
            Callback::SetLanguage(lang) => format!("lang:{}", lang.code()),
        }
    }

    pub fn parse(data: &str) -> Option<Callback> {
        if data.len() > 64 {
            return None;
        }
        let (kind, rest) = data.split_once(':')?;
        match kind {
            "lang" => Lang::parse(rest).map(Callback::SetLanguage),
            _ => None,
        }
    }
}
