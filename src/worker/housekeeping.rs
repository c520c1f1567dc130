//! Bounded growth: once an hour the rows the bot no longer needs are
//! deleted (`db::housekeeping`: sent queue rows, untouched dialogues, old
//! funnel events), a batch at a time; a full batch is followed by the next
//! at once. The time of the next run is kept in `service_state`.

use super::WorkerCtx;
use crate::db::{housekeeping, service_state};

const EVERY_MS: i64 = 3_600_000;
const NEXT_KEY: &str = "housekeeping.next_at";
const BATCH: u32 = 1_000;

pub(crate) async fn step(ctx: &WorkerCtx, now: i64) -> anyhow::Result<usize> {
    let messages_before = now - ctx.config.privacy.messages_ms();
    let events_before = now - ctx.config.privacy.events_ms();
    let pruned = ctx
        .db
        .run(move |c| {
            if service_state::get_i64(c, NEXT_KEY)?.is_some_and(|next| next > now) {
                return Ok(housekeeping::Pruned::default());
            }
            let pruned = housekeeping::prune(c, messages_before, events_before, BATCH)?;
            let full = [pruned.messages, pruned.dialogues, pruned.events]
                .iter()
                .any(|&n| n >= BATCH as usize);
            let next = if full { now } else { now + EVERY_MS };
            service_state::set_i64(c, NEXT_KEY, next, now)?;
            Ok(pruned)
        })
        .await?;
    if pruned.total() > 0 {
        tracing::info!(
            messages = pruned.messages,
            dialogues = pruned.dialogues,
            events = pruned.events,
            "old rows pruned"
        );
    }
    Ok(pruned.total())
}
