//! What an admin asks the side task for: `/credits` (the Kie balance, asked
//! of Kie by the side task) and `/retry` (a set's failed portraits made again).

use super::{Reply, when};
use crate::bot::handlers::HandlerResult;
use crate::chat::credits::{CREDITS_MILLI, CREDITS_REQUEST, format_credits};
use crate::db::{jobs, service_state};
use crate::i18n::{Arg, tr, tr_args};

pub(super) async fn credits(r: Reply<'_>, admin: i64) -> HandlerResult {
    let Reply { lang, ctx, now, .. } = r;
    // The side task asks Kie (handlers never do) and answers through the queue.
    let known = ctx
        .db
        .run(move |c| {
            service_state::set_i64(c, CREDITS_REQUEST, admin, now)?;
            let value = service_state::get_i64(c, CREDITS_MILLI)?;
            let at: Option<i64> = service_state::updated_at(c, CREDITS_MILLI)?;
            Ok(value.zip(at))
        })
        .await?;
    ctx.wake.notify_one();
    let text = match known {
        Some((milli, at)) => tr_args(
            lang,
            "admin-credits-known",
            &[
                ("credits", Arg::Str(&format_credits(milli as f64 / 1000.0))),
                ("at", Arg::Str(&when(at))),
            ],
        ),
        None => tr(lang, "admin-credits-unknown"),
    };
    r.say(text).await
}

/// `/retry <job>`: the failed tasks of a finished paid set are queued again;
/// the side task makes them and sends what comes (no money moves).
pub(super) async fn retry(r: Reply<'_>, job_id: i64) -> HandlerResult {
    let Reply { lang, ctx, now, .. } = r;
    let outcome = ctx
        .db
        .run(move |c| {
            let tx = c.transaction()?;
            let Some(job) = jobs::get(&tx, job_id)? else {
                return Ok(None);
            };
            // The reference photos are gone (retention, /delete_my_data):
            // nothing can be made again from them.
            if crate::db::privacy::photos_expired(&tx, job.avatar_id)?
                || crate::db::privacy::avatar_deleted(&tx, job.avatar_id)?
            {
                return Ok(Some((job, Err(true))));
            }
            // What the set's payment has already returned (done or under
            // way): a retry then makes portraits whose share was refunded.
            let refunded = match job.payment_id {
                Some(payment_id) => {
                    crate::db::payments::get(&tx, payment_id)?.map_or(0, |p| p.refunded_kopecks)
                        + crate::db::refunds::pending_kopecks(&tx, payment_id)?
                }
                None => 0,
            };
            // Err(false): not a finished paid set with failed portraits.
            let queued = jobs::requeue_failed(&tx, job_id, now)?
                .map(|(_, tasks)| (tasks, refunded))
                .ok_or(false);
            tx.commit()?;
            Ok(Some((job, queued)))
        })
        .await?;
    let text = match outcome {
        None => tr_args(lang, "admin-job-not-found", &[("id", Arg::Num(job_id))]),
        Some((_, Err(true))) => tr_args(lang, "admin-retry-no-photos", &[("id", Arg::Num(job_id))]),
        Some((_, Ok((tasks, refunded)))) => {
            ctx.wake.notify_one();
            let mut text = tr_args(
                lang,
                "admin-retry-started",
                &[
                    ("id", Arg::Num(job_id)),
                    ("tasks", Arg::Num(i64::from(tasks))),
                ],
            );
            if refunded > 0 {
                text.push('\n');
                text.push_str(&tr_args(
                    lang,
                    "admin-retry-refunded",
                    &[("amount", Arg::Str(&crate::i18n::rub(lang, refunded)))],
                ));
            }
            text
        }
        Some((job, Err(false))) => tr_args(
            lang,
            "admin-retry-impossible",
            &[
                ("id", Arg::Num(job_id)),
                ("kind", Arg::Str(job.kind.as_str())),
                ("status", Arg::Str(job.status.as_str())),
                ("failed", Arg::Num(i64::from(job.failed))),
            ],
        ),
    };
    r.say(text).await
}
