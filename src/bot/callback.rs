//! Typed inline-button data. Everything that arrives from a button is parsed
//! here; anything else (forged, stale, garbage) is `None` and gets a polite
//! answer without changing anything.

use crate::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    SetLanguage(Lang),
    /// "I have paid": check this payment now.
    CheckPayment(i64),
    /// Show the packages for this avatar (again).
    Packages(i64),
    /// The Generate button under the upload counter.
    Generate(i64),
    /// A package chosen for an avatar (index into the configured tiers).
    Tier {
        avatar_id: i64,
        tier: u8,
    },
}

impl Callback {
    pub fn encode(self) -> String {
        match self {
            Callback::SetLanguage(lang) => format!("lang:{}", lang.code()),
            Callback::CheckPayment(id) => format!("paid:{id}"),
            Callback::Packages(id) => format!("pkgs:{id}"),
            Callback::Generate(id) => format!("gen:{id}"),
            Callback::Tier { avatar_id, tier } => format!("tier:{avatar_id}:{tier}"),
        }
    }

    pub fn parse(data: &str) -> Option<Callback> {
        if data.len() > 64 {
            return None;
        }
        let (kind, rest) = data.split_once(':')?;
        match kind {
            "lang" => Lang::parse(rest).map(Callback::SetLanguage),
            "paid" => parse_id(rest).map(Callback::CheckPayment),
            "pkgs" => parse_id(rest).map(Callback::Packages),
            "gen" => parse_id(rest).map(Callback::Generate),
            "tier" => {
                let (avatar, tier) = rest.split_once(':')?;
                let tier_ok =
                    !tier.is_empty() && tier.len() <= 3 && tier.bytes().all(|b| b.is_ascii_digit());
                let tier: u8 = if tier_ok {
                    tier.parse().ok()?
                } else {
                    return None;
                };
                Some(Callback::Tier {
                    avatar_id: parse_id(avatar)?,
                    tier,
                })
            }
            _ => None,
        }
    }
}

/// A positive database id written by us: digits only, no sign, no spaces.
fn parse_id(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&id| id > 0)
}
