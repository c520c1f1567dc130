//! The package screen: its text, one button per tier with the price after
//! the user's referral balance, and the policy lines under it — shown by the
//! handlers and queued by the side task after the free preview.

use super::callback::Callback;
use crate::config::Config;
use crate::db::referrals;
use crate::i18n::{Arg, Lang, rub, tr, tr_args};

/// The package screen as text and one (label, callback data) per tier, with
/// prices after the referral `balance`: for the chat and for messages the
/// side task queues (after the preview).
pub(crate) fn packages_content(
    config: &Config,
    lang: Lang,
    avatar_id: i64,
    balance: i64,
) -> (String, Vec<(String, String)>) {
    let mut lines = vec![tr(lang, "packages-title")];
    if balance > 0 {
        lines.insert(
            0,
            tr_args(
                lang,
                "packages-discount",
                &[("balance", Arg::Str(&rub(lang, balance)))],
            ),
        );
    }
    let mut rows = Vec::new();
    for tier in &config.tiers {
        let portraits = tr_args(lang, "portraits", &[("count", tier.portraits.into())]);
        let discount = referrals::discount_for(balance, tier.price_kopecks);
        let pay = tier.price_kopecks - discount;
        let per_portrait = rub(lang, pay / i64::from(tier.portraits));
        let price = if discount > 0 {
            tr_args(
                lang,
                "packages-price-discounted",
                &[
                    ("price", Arg::Str(&rub(lang, pay))),
                    ("full", Arg::Str(&rub(lang, tier.price_kopecks))),
                ],
            )
        } else {
            rub(lang, pay)
        };
        lines.push(tr_args(
            lang,
            "packages-line",
            &[
                ("name", Arg::Str(&tier.name)),
                ("portraits", Arg::Str(&portraits)),
                ("styles", tier.portraits.into()),
                ("price", Arg::Str(&price)),
                ("per_portrait", Arg::Str(&per_portrait)),
            ],
        ));
        rows.push((
            tr_args(
                lang,
                "packages-button",
                &[
                    ("name", Arg::Str(&tier.name)),
                    ("portraits", Arg::Str(&portraits)),
                    ("price", Arg::Str(&rub(lang, pay))),
                ],
            ),
            Callback::Tier {
                avatar_id,
                tier: tier.id.clone(),
            }
            .encode(),
        ));
    }
    // What happens if portraits fail, and the free redos (issue 8).
    lines.push(String::new());
    lines.push(policy_lines(config, lang));
    (lines.join("\n"), rows)
}

/// The free redos of each package, e.g. "Starter — 1, Standard — 3, Premium — 4".
pub(crate) fn redo_quotas(config: &Config) -> String {
    config
        .tiers
        .iter()
        .map(|t| format!("{} — {}", t.name, config.regenerate.quota(t.portraits)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one or two lines under the packages: refunds and free redos.
pub(crate) fn policy_lines(config: &Config, lang: Lang) -> String {
    tr_args(
        lang,
        "packages-policy",
        &[("quotas", Arg::Str(&redo_quotas(config)))],
    )
}
