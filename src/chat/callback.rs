//! Typed inline-button data. Everything that arrives from a button is parsed
//! here; anything else (forged, stale, garbage) is `None` and gets a polite
//! answer without changing anything.

use crate::i18n::Lang;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    SetLanguage(Lang),
    /// "I have paid": check this payment now.
    CheckPayment(i64),
    /// Show the packages for this avatar (again).
    Packages(i64),
    /// Send a ready set of portraits again (`/gallery`).
    ShowGallery(i64),
    /// The Generate button under the upload counter.
    Generate(i64),
    /// A package chosen for an avatar, by the tier's configured id (not its
    /// position: reordering `bot.toml` never makes an old button bill another tier).
    Tier {
        avatar_id: i64,
        tier: String,
    },
    /// "Redo a portrait" of a ready set: show its portraits to pick from.
    Redo(i64),
    /// Redo this portrait (a new take of its style).
    RedoPortrait(i64),
    /// `/referral`: ask for the whole referral balance to be paid out.
    RequestPayout,
    /// Reminders on again after /stop.
    ResumeReminders,
    /// Gallery: send every portrait of this set as a ZIP.
    ZipGallery(i64),
    /// Gallery: show (creating on the first press) this set's share link.
    ShareGallery(i64),
    /// Gallery: revoke this set's share link.
    RevokeShare(i64),
    /// Under a shared set: make one's own portraits (the usual onboarding).
    StartOwn,
    /// Admin: yes, refund this payment in full (`/refund`).
    AdminRefund(i64),
    /// Admin: yes, cancel this unpaid payment (`/cancel`).
    AdminCancel(i64),
    /// Admin: no, leave this payment as it is.
    AdminKeep(i64),
    /// Admin: this referral payout request was paid out (`/payouts`).
    AdminPayoutPaid(i64),
    /// Admin: this referral payout request is rejected (the balance comes back).
    AdminPayoutReject(i64),
    /// `/delete_my_data`: yes, delete everything of this user. Carries whose
    /// data and when the question was asked (application clock, ms), so a
    /// press of another user's or an old question changes nothing.
    DeleteData {
        user_id: i64,
        issued_ms: i64,
    },
    /// `/delete_my_data`: no, keep it (this user's question).
    KeepData(i64),
}

impl Callback {
    pub fn encode(&self) -> String {
        match self {
            Callback::SetLanguage(lang) => format!("lang:{}", lang.code()),
            Callback::CheckPayment(id) => format!("paid:{id}"),
            Callback::Packages(id) => format!("pkgs:{id}"),
            Callback::Generate(id) => format!("gen:{id}"),
            Callback::ShowGallery(id) => format!("gal:{id}"),
            Callback::Tier { avatar_id, tier } => format!("tier:{avatar_id}:{tier}"),
            Callback::Redo(id) => format!("rdo:{id}"),
            Callback::RedoPortrait(id) => format!("rdp:{id}"),
            Callback::RequestPayout => "payout:all".to_owned(),
            Callback::ResumeReminders => "remind:on".to_owned(),
            Callback::ZipGallery(id) => format!("zip:{id}"),
            Callback::ShareGallery(id) => format!("share:{id}"),
            Callback::RevokeShare(id) => format!("unshare:{id}"),
            Callback::StartOwn => "own:new".to_owned(),
            Callback::AdminRefund(id) => format!("arf:{id}"),
            Callback::AdminCancel(id) => format!("acn:{id}"),
            Callback::AdminKeep(id) => format!("akp:{id}"),
            Callback::AdminPayoutPaid(id) => format!("apo:{id}"),
            Callback::AdminPayoutReject(id) => format!("apr:{id}"),
            Callback::DeleteData { user_id, issued_ms } => format!("deldata:{user_id}:{issued_ms}"),
            Callback::KeepData(user_id) => format!("keepdata:{user_id}"),
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
            "gal" => parse_id(rest).map(Callback::ShowGallery),
            "rdo" => parse_id(rest).map(Callback::Redo),
            "rdp" => parse_id(rest).map(Callback::RedoPortrait),
            "remind" => (rest == "on").then_some(Callback::ResumeReminders),
            "arf" => parse_id(rest).map(Callback::AdminRefund),
            "acn" => parse_id(rest).map(Callback::AdminCancel),
            "akp" => parse_id(rest).map(Callback::AdminKeep),
            "apo" => parse_id(rest).map(Callback::AdminPayoutPaid),
            "apr" => parse_id(rest).map(Callback::AdminPayoutReject),
            "tier" => {
                let (avatar, tier) = rest.split_once(':')?;
                // Tier ids are 1–16 of a-z, 0-9, _ (checked in the configuration).
                let tier_ok = !tier.is_empty()
                    && tier.len() <= 16
                    && tier
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !tier_ok {
                    return None;
                }
                Some(Callback::Tier {
                    avatar_id: parse_id(avatar)?,
                    tier: tier.to_owned(),
                })
            }
            "payout" => (rest == "all").then_some(Callback::RequestPayout),
            "zip" => parse_id(rest).map(Callback::ZipGallery),
            "share" => parse_id(rest).map(Callback::ShareGallery),
            "unshare" => parse_id(rest).map(Callback::RevokeShare),
            "own" if rest == "new" => Some(Callback::StartOwn),
            "deldata" => {
                let (user, issued) = rest.split_once(':')?;
                Some(Callback::DeleteData {
                    user_id: parse_id(user)?,
                    issued_ms: parse_id(issued)?,
                })
            }
            "keepdata" => parse_id(rest).map(Callback::KeepData),
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
