//! Funnel events: who reached which stage when. Each stage is recorded once
//! per user and avatar, so replays and restarts never double-count.

use rusqlite::{Connection, params};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Onboarding,
    Upload,
    Payment,
    Generation,
    Delivered,
}

impl Stage {
    pub(crate) const ALL: [Stage; 5] = [
        Stage::Onboarding,
        Stage::Upload,
        Stage::Payment,
        Stage::Generation,
        Stage::Delivered,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Onboarding => "onboarding",
            Stage::Upload => "upload",
            Stage::Payment => "payment",
            Stage::Generation => "generation",
            Stage::Delivered => "delivered",
        }
    }
}

/// Records that `user_id` reached `stage` (for `avatar_id`, or 0 when the stage
/// is not about an avatar). Returns whether this was the first time.
///
/// Every event carries the user's A/B assignments (`experiment=variant`,
/// comma-separated, by experiment name), read here so that no caller can
/// forget them; `variant` overrides that label when given.
pub fn record(
    conn: &Connection,
    user_id: i64,
    stage: Stage,
    avatar_id: i64,
    variant: Option<&str>,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO funnel_events (user_id, stage, avatar_id, variant, at)
         VALUES (?1, ?2, ?3, COALESCE(?4, (
             SELECT group_concat(experiment || '=' || variant, ',')
             FROM (SELECT experiment, variant FROM ab_assignments
                   WHERE user_id = ?1 ORDER BY experiment))), ?5)
         ON CONFLICT (user_id, stage, avatar_id) DO NOTHING",
        params![user_id, stage.as_str(), avatar_id, variant, now],
    )? == 1)
}

/// Users per stage and A/B variant of `experiment` since `since` (ms):
/// (variant, stage, users), for the conversion of each variant.
pub fn users_per_stage_by_variant(
    conn: &Connection,
    experiment: &str,
    since: i64,
) -> rusqlite::Result<Vec<(String, Stage, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT a.variant, COUNT(DISTINCT e.user_id)
         FROM funnel_events e JOIN ab_assignments a
              ON a.user_id = e.user_id AND a.experiment = ?1
         WHERE e.stage = ?2 AND e.at >= ?3
         GROUP BY a.variant ORDER BY a.variant",
    )?;
    let mut out = Vec::new();
    for stage in Stage::ALL {
        let rows = stmt.query_map(params![experiment, stage.as_str(), since], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (variant, users) = row?;
            out.push((variant, stage, users));
        }
    }
    Ok(out)
}
