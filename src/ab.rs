//! A/B tests of the call to action: which variant of each experiment a user
//! sees. The choice is deterministic (a hash of the experiment's name and the
//! user's id, spread by weight) and stored at the user's first update, so it
//! survives restarts and later changes of the weights.

use sha2::{Digest, Sha256};

use crate::config::{Config, Experiment};

/// The variant of `experiment` for `user_id` by weight (None if every weight is 0).
pub fn pick(experiment: &Experiment, user_id: i64) -> Option<&str> {
    let total: u64 = experiment
        .variants
        .iter()
        .map(|v| u64::from(v.weight))
        .sum();
    if total == 0 {
        return None;
    }
    let digest = Sha256::digest(format!("{}:{user_id}", experiment.name).as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let mut point = u64::from_be_bytes(head) % total;
    for variant in &experiment.variants {
        let weight = u64::from(variant.weight);
        if point < weight {
            return Some(&variant.name);
        }
        point -= weight;
    }
    None
}

/// The assignments a new user gets: (experiment, variant) for every experiment.
pub(crate) fn picks(config: &Config, user_id: i64) -> Vec<(String, String)> {
    config
        .experiments
        .iter()
        .filter_map(|e| pick(e, user_id).map(|v| (e.name.clone(), v.to_owned())))
        .collect()
}

/// A user's stored assignments, as read from the database: (experiment, variant).
pub(crate) type Assignments = Vec<(String, String)>;

/// The configured variant a user is in, for each experiment they are assigned to.
fn variants<'a>(
    config: &'a Config,
    assigned: &'a Assignments,
) -> impl Iterator<Item = &'a crate::config::Variant> + 'a {
    assigned.iter().filter_map(|(experiment, variant)| {
        config
            .experiments
            .iter()
            .find(|e| &e.name == experiment)?
            .variants
            .iter()
            .find(|v| &v.name == variant)
    })
}

/// The locale key of the call-to-action button this user sees.
pub(crate) fn cta_key<'a>(config: &'a Config, assigned: &'a Assignments) -> &'a str {
    variants(config, assigned)
        .find_map(|v| v.cta.as_deref())
        .unwrap_or("upload-button-generate")
}

/// Whether this user gets the free preview (a variant's switch wins over `[preview]`).
pub(crate) fn preview_enabled(config: &Config, assigned: &Assignments) -> bool {
    variants(config, assigned)
        .find_map(|v| v.preview)
        .unwrap_or(config.preview.enabled)
}
