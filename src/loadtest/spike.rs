//! `pinglass loadtest --spike N`: a paying user's set while N newcomers
//! press /start at the moment they pay (issue 15). First a payer alone (the
//! calm time: payment confirmed → last album), then a second payer with the
//! N newcomers arriving as their payment link appears; the ratio of the two
//! times is what the newcomers cost a paying user. Goal: ≤ 1.2 at 1,000.

use std::time::Duration;

use serde::Serialize;

use super::user::{Fate, Outcome, Plan, World};
use crate::db::{self, Db};
use crate::telegram::standin::UserSpec;

/// The two payers' ids; the newcomers follow.
const CALM_PAYER: i64 = 7_800_000;
const SPIKE_PAYER: i64 = CALM_PAYER + 1;

/// What the spike scenario measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SpikeFigures {
    pub newcomers: u64,
    /// Payment confirmed → last album, seconds: the payer alone …
    pub calm_secs: Option<f64>,
    /// … and the payer among the newcomers.
    pub spike_secs: Option<f64>,
    pub ratio: Option<f64>,
}

fn payer(id: i64, package: usize) -> Plan {
    Plan {
        user: UserSpec::new(id, format!("Покупатель {id}")).with_language("ru"),
        arrives_after: Duration::ZERO,
        batches: vec![5],
        pauses: vec![],
        package,
        fate: Fate::Pay,
    }
}

/// The payer's confirmed → last album, from the bot's database.
async fn paid_secs(db: &Db, user_id: i64) -> anyhow::Result<Option<f64>> {
    let jobs = db.run(|c| db::loadtest::paid_jobs(c)).await?;
    Ok(jobs.iter().find(|j| j.user_id == user_id).and_then(|j| {
        let (confirmed, delivered) = (j.confirmed_at?, j.last_album_sent_at?);
        Some((delivered - confirmed) as f64 / 1000.0)
    }))
}

/// The calm payer, then the spike payer with `newcomers` arriving at their
/// payment; every simulated user's outcome joins `outcomes`.
pub(crate) async fn run(
    world: std::sync::Arc<World>,
    db_path: std::path::PathBuf,
    newcomers: u32,
    package: usize,
    outcomes: &mut Vec<Outcome>,
) -> anyhow::Result<SpikeFigures> {
    let calm = super::user::funnel(world.clone(), payer(CALM_PAYER, package)).await;
    if let Some(error) = &calm.error {
        anyhow::bail!("the calm payer: {error}");
    }
    outcomes.push(calm);
    let spike_payer = payer(SPIKE_PAYER, package);
    let watched = spike_payer.user.id;
    let paying = tokio::spawn(super::user::funnel(world.clone(), spike_payer));
    // The newcomers press /start the moment the payer's link appears (the
    // payer pays at once).
    let sandbox = world.telegram.sandbox().clone();
    sandbox
        .wait_for(
            watched,
            |e| super::user::checkout_payment_id(e).is_some(),
            world.step_timeout * 3,
        )
        .await
        .map_err(|_| anyhow::anyhow!("the spike payer never saw a payment link"))?;
    for i in 0..newcomers {
        let id = SPIKE_PAYER + 1 + i64::from(i);
        let user = UserSpec::new(id, format!("Новичок {i}")).with_language("ru");
        sandbox.send_text(&user, "/start")?;
        outcomes.push(Outcome {
            user_id: id,
            updates: 1,
            ..Outcome::default()
        });
    }
    let spiked = paying.await?;
    if let Some(error) = &spiked.error {
        anyhow::bail!("the spike payer: {error}");
    }
    outcomes.push(spiked);
    let db = Db::open(&db_path, 1)?;
    let (calm_secs, spike_secs) = (
        paid_secs(&db, CALM_PAYER).await?,
        paid_secs(&db, SPIKE_PAYER).await?,
    );
    Ok(SpikeFigures {
        newcomers: u64::from(newcomers),
        calm_secs,
        spike_secs,
        ratio: calm_secs
            .zip(spike_secs)
            .map(|(calm, spike)| spike / calm.max(1e-9)),
    })
}
