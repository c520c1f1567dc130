//! Alerts to the admins: each incident is sent once through the message
//! queue; repeats are only counted until the incident is resolved, and an
//! incident that keeps repeating is summarised ("still happening: N times
//! since …") at most every `[alerts] summary_every_mins` by [`summarise`].
//!
//! Every alert is an [`Alert`]: what happened and its numbers, rendered from
//! the locales in each admin's language when it is queued. The incident row
//! keeps the alert as JSON, so its summary is rendered the same way.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::db::alerts;
use crate::i18n::{Arg, Lang, rub, tr, tr_args};

/// What an alert says. Amounts are kopecks; texts that come from outside
/// (an error, a bank status) are passed on as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "alert", rename_all = "snake_case")]
pub(crate) enum Alert {
    /// Queued messages given up within the last hour, at or above the limit.
    DeliveryFailures { failed: i64, limit: u32 },
    /// The oldest due item of `queue` (as `db::ops::oldest_due` names it)
    /// has waited `minutes`, past the limit.
    Behind {
        queue: String,
        minutes: i64,
        limit_secs: u64,
    },
    /// Errors of handlers and steps per minute, at or above the limit.
    ErrorRate {
        count: u64,
        per_min: f64,
        limit: u32,
    },
    /// A refund T-Bank has not confirmed after many attempts (still asked).
    RefundSlow {
        refund: i64,
        payment: i64,
        kopecks: i64,
        attempts: i64,
        error: String,
    },
    /// A refund T-Bank refused: to be made by hand.
    RefundRefused {
        refund: i64,
        payment: i64,
        kopecks: i64,
        error: String,
    },
    /// Kie refuses the account: task creation is paused.
    KieRefused { error: String },
    /// A paid job made fewer portraits than it should (`made` may be 0).
    JobShort {
        job: i64,
        user: i64,
        made: i64,
        total: i64,
        refund_kopecks: i64,
    },
    /// T-Bank Init refused or kept failing: the payment ended without money.
    InitFailed {
        payment: i64,
        order: String,
        error: String,
    },
    /// A queued portrait message given up.
    DeliveryFailed {
        message: String,
        chat: i64,
        attempts: i64,
        error: String,
    },
    /// A payment open for `hours`, to be cancelled at `cancel_hours`.
    StuckPayment {
        payment: i64,
        user: i64,
        tier: String,
        kopecks: i64,
        hours: i64,
        bank_status: String,
        cancel_hours: i64,
    },
    /// T-Bank refused to cancel an unpaid payment.
    CancelRefused {
        payment: i64,
        order: String,
        error: String,
    },
    /// A payment made at another T-Bank terminal (or a stand-in) came due.
    OtherTerminal { payment: i64, order: String },
    /// The bank's status of a payment disagrees with ours.
    BankMismatch {
        payment: i64,
        order: String,
        ours: String,
        /// What the bot recorded as refunded.
        refunded: i64,
        bank: String,
        /// What the bank holds of the payment.
        held: i64,
    },
}

impl Alert {
    /// The incident kind of the alert table and the metrics.
    fn kind(&self) -> &'static str {
        match self {
            Alert::DeliveryFailures { .. } | Alert::DeliveryFailed { .. } => "delivery",
            Alert::Behind { .. } => "side_task",
            Alert::ErrorRate { .. } => "errors",
            Alert::RefundSlow { .. } | Alert::RefundRefused { .. } => "refund",
            Alert::KieRefused { .. } => "kie",
            Alert::JobShort { .. } => "job",
            Alert::InitFailed { .. } => "tbank",
            Alert::StuckPayment { .. } => "stuck_payment",
            Alert::CancelRefused { .. } => "cancel",
            Alert::BankMismatch { .. } => "bank_mismatch",
            Alert::OtherTerminal { .. } => "other_terminal",
        }
    }

    /// The alert in `lang`, without the warning sign.
    pub(crate) fn render(&self, lang: Lang) -> String {
        match self {
            Alert::DeliveryFailures { failed, limit } => tr_args(
                lang,
                "alert-delivery-failures",
                &[("failed", (*failed).into()), ("limit", (*limit).into())],
            ),
            Alert::Behind {
                queue,
                minutes,
                limit_secs,
            } => tr_args(
                lang,
                "alert-behind",
                &[
                    ("queue", Arg::Str(&queue_name(lang, queue))),
                    ("minutes", (*minutes).into()),
                    ("limit", Arg::Num(*limit_secs as i64)),
                ],
            ),
            Alert::ErrorRate {
                count,
                per_min,
                limit,
            } => tr_args(
                lang,
                "alert-error-rate",
                &[
                    ("count", Arg::Num(*count as i64)),
                    ("rate", Arg::Str(&decimal(lang, *per_min))),
                    ("limit", (*limit).into()),
                ],
            ),
            Alert::RefundSlow {
                refund,
                payment,
                kopecks,
                attempts,
                error,
            } => tr_args(
                lang,
                "alert-refund-slow",
                &[
                    ("refund", (*refund).into()),
                    ("payment", (*payment).into()),
                    ("amount", Arg::Str(&rub(lang, *kopecks))),
                    ("attempts", (*attempts).into()),
                    ("error", Arg::Str(error)),
                ],
            ),
            Alert::RefundRefused {
                refund,
                payment,
                kopecks,
                error,
            } => tr_args(
                lang,
                "alert-refund-refused",
                &[
                    ("refund", (*refund).into()),
                    ("payment", (*payment).into()),
                    ("amount", Arg::Str(&rub(lang, *kopecks))),
                    ("error", Arg::Str(error)),
                ],
            ),
            Alert::KieRefused { error } => {
                tr_args(lang, "alert-kie-refused", &[("error", Arg::Str(error))])
            }
            Alert::JobShort {
                job,
                user,
                made,
                total,
                refund_kopecks,
            } => tr_args(
                lang,
                if *made == 0 {
                    "alert-job-failed"
                } else {
                    "alert-job-short"
                },
                &[
                    ("job", (*job).into()),
                    ("user", (*user).into()),
                    ("made", (*made).into()),
                    ("total", (*total).into()),
                    ("amount", Arg::Str(&rub(lang, *refund_kopecks))),
                ],
            ),
            Alert::InitFailed {
                payment,
                order,
                error,
            } => tr_args(
                lang,
                "alert-init-failed",
                &[
                    ("payment", (*payment).into()),
                    ("order", Arg::Str(order)),
                    ("error", Arg::Str(error)),
                ],
            ),
            Alert::DeliveryFailed {
                message,
                chat,
                attempts,
                error,
            } => tr_args(
                lang,
                "alert-delivery-failed",
                &[
                    ("message", Arg::Str(message)),
                    ("chat", (*chat).into()),
                    ("attempts", (*attempts).into()),
                    ("error", Arg::Str(error)),
                ],
            ),
            Alert::StuckPayment {
                payment,
                user,
                tier,
                kopecks,
                hours,
                bank_status,
                cancel_hours,
            } => tr_args(
                lang,
                "alert-stuck-payment",
                &[
                    ("payment", (*payment).into()),
                    ("user", (*user).into()),
                    ("tier", Arg::Str(tier)),
                    ("amount", Arg::Str(&rub(lang, *kopecks))),
                    ("hours", (*hours).into()),
                    ("status", Arg::Str(bank_status)),
                    ("cancel_hours", (*cancel_hours).into()),
                ],
            ),
            Alert::CancelRefused {
                payment,
                order,
                error,
            } => tr_args(
                lang,
                "alert-cancel-refused",
                &[
                    ("payment", (*payment).into()),
                    ("order", Arg::Str(order)),
                    ("error", Arg::Str(error)),
                ],
            ),
            Alert::OtherTerminal { payment, order } => tr_args(
                lang,
                "alert-other-terminal",
                &[("payment", (*payment).into()), ("order", Arg::Str(order))],
            ),
            Alert::BankMismatch {
                payment,
                order,
                ours,
                refunded,
                bank,
                held,
            } => tr_args(
                lang,
                "alert-bank-mismatch",
                &[
                    ("payment", (*payment).into()),
                    ("order", Arg::Str(order)),
                    ("ours", Arg::Str(ours)),
                    ("refunded", Arg::Str(&rub(lang, *refunded))),
                    ("bank", Arg::Str(bank)),
                    ("held", Arg::Str(&rub(lang, *held))),
                ],
            ),
        }
    }

    /// How the incident row keeps it.
    fn stored(&self) -> String {
        serde_json::to_string(self).expect("an alert is plain data")
    }
}

/// What is overdue, in `lang`: the names `db::ops::oldest_due` gives.
fn queue_name(lang: Lang, queue: &str) -> String {
    let key = match queue {
        "payment check" => "alert-queue-payment-check",
        "generation task" => "alert-queue-generation-task",
        "queued message" => "alert-queue-message",
        "refund" => "alert-queue-refund",
        other => return other.to_owned(),
    };
    tr(lang, key)
}

/// One decimal, with the language's decimal separator.
fn decimal(lang: Lang, value: f64) -> String {
    let text = format!("{value:.1}");
    match lang {
        Lang::Ru => text.replace('.', ","),
        Lang::En => text,
    }
}

/// The text of an incident's message in `lang`: its alert rendered, or, for
/// an incident raised before alerts were localized, the text it kept.
fn incident_text(stored: &str, lang: Lang) -> String {
    match serde_json::from_str::<Alert>(stored) {
        Ok(alert) => alert.render(lang),
        Err(_) => stored.to_owned(),
    }
}

/// Raises incident `key` and, when it is new, queues `alert` to every admin,
/// each in their language.
pub(crate) fn raise(
    conn: &Connection,
    admin_ids: &[i64],
    key: &str,
    alert: &Alert,
    now: i64,
) -> rusqlite::Result<bool> {
    let kind = alert.kind();
    let fresh = alerts::raise(conn, key, kind, &alert.stored(), now)?;
    if fresh {
        tracing::warn!(
            incident = key,
            kind,
            message = alert.render(Lang::En),
            "admin alert"
        );
        for &admin in admin_ids {
            super::tell(
                conn,
                admin,
                &format!("alert:{key}:{now}:{admin}"),
                now,
                |lang| tr_args(lang, "alert", &[("message", Arg::Str(&alert.render(lang)))]),
            )?;
        }
        alerts::mark_sent(conn, key, now)?;
        crate::ops::metrics::alert_sent(kind, false);
    }
    Ok(fresh)
}

pub(crate) fn resolve(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<bool> {
    alerts::resolve(conn, key, now)
}

/// Queues a summary of every open incident that repeated since the admins
/// last heard of it, `every_ms` ago or longer, to each admin in their
/// language. Returns how many were summarised.
pub(crate) fn summarise(
    conn: &Connection,
    admin_ids: &[i64],
    every_ms: i64,
    now: i64,
) -> rusqlite::Result<usize> {
    let due = alerts::due_for_summary(conn, now - every_ms)?;
    for incident in &due {
        let since = chrono::DateTime::from_timestamp_millis(incident.first_at)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        for &admin in admin_ids {
            let dedup = format!("alert:{}:summary:{now}:{admin}", incident.key);
            super::tell(conn, admin, &dedup, now, |lang| {
                tr_args(
                    lang,
                    "alert-summary",
                    &[
                        ("count", incident.count.into()),
                        ("since", Arg::Str(&since)),
                        ("message", Arg::Str(&incident_text(&incident.message, lang))),
                    ],
                )
            })?;
        }
        alerts::mark_sent(conn, &incident.key, now)?;
        crate::ops::metrics::alert_sent(&incident.kind, true);
        tracing::warn!(incident = %incident.key, count = incident.count, "admin alert summary");
    }
    Ok(due.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_is_kept_and_read_back_whole() {
        let alert = Alert::ErrorRate {
            count: 7,
            per_min: 3.5,
            limit: 2,
        };
        assert_eq!(
            serde_json::from_str::<Alert>(&alert.stored()).unwrap(),
            alert
        );
        assert_eq!(
            incident_text(&alert.stored(), Lang::En),
            alert.render(Lang::En)
        );
        // An incident raised before alerts were localized keeps its text.
        assert_eq!(incident_text("Old text.", Lang::Ru), "Old text.");
    }

    #[test]
    fn numbers_follow_the_admins_language() {
        assert_eq!(decimal(Lang::Ru, 2.26), "2,3");
        assert_eq!(decimal(Lang::En, 3.0), "3.0");
        assert_eq!(
            queue_name(Lang::En, "refund"),
            tr(Lang::En, "alert-queue-refund")
        );
        assert_eq!(queue_name(Lang::Ru, "something new"), "something new");
    }
}
