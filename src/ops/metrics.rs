//! Prometheus metrics through the `metrics` facade.
//!
//! One process-wide recorder (`metrics-exporter-prometheus`, without its own
//! HTTP listener: axum serves the rendered text) is installed lazily by
//! [`install`], the first time an application starts with
//! `[telemetry] metrics_listen` set. A global recorder can be installed only
//! once per process, and tests run many applications in one process: they
//! all record into the same recorder, so tests compare counters before and
//! after (deltas), never absolute values. The gauges read from SQLite (rows
//! by state) are set at scrape time from the scraped application's database,
//! under one lock, so a scrape shows its own application's numbers.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::ops::Snapshot;

/// Seconds: from a fast SQLite handler to a slow Kie call.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The quantiles of `pinglass_update_latency_seconds` (1.0 is the maximum).
pub(crate) const UPDATE_QUANTILES: [f64; 4] = [0.5, 0.95, 0.99, 1.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns its handle; `None`
/// when another recorder was installed first (then nothing can be served).
pub(crate) fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("pinglass_handler_seconds".into()),
                    &LATENCY_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("pinglass_external_call_seconds".into()),
                        &LATENCY_BUCKETS,
                    )
                })
                // Everything else recorded as a histogram (the update latency)
                // renders as a summary: these quantiles over the last hour
                // (three 20-minute buckets), for `pinglass loadtest`.
                .and_then(|b| b.set_quantiles(&UPDATE_QUANTILES))
                .and_then(|b| b.set_bucket_duration(Duration::from_secs(20 * 60)))
                .expect("the latency buckets and quantiles are not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    Some(handle)
                }
                Err(error) => {
                    tracing::error!(%error, "another metrics recorder is installed; metrics are off");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "pinglass_updates_total",
        "Telegram updates, by outcome (handled, error, ignored, absorbed: a flooding chat's)"
    );
    describe_histogram!(
        "pinglass_backup_seconds",
        metrics::Unit::Seconds,
        "Time to snapshot the database and upload it to the object store"
    );
    describe_gauge!(
        "pinglass_backup_bytes",
        metrics::Unit::Bytes,
        "Size of the last database backup"
    );
    describe_counter!(
        "pinglass_flood_dropped_total",
        "Updates of flooding chats absorbed before the handler tree"
    );
    describe_histogram!(
        "pinglass_handler_seconds",
        metrics::Unit::Seconds,
        "Time to handle one update"
    );
    describe_histogram!(
        "pinglass_update_latency_seconds",
        metrics::Unit::Seconds,
        "Time to handle one update, every outcome: a summary with quantiles"
    );
    describe_counter!(
        "pinglass_side_task_errors_total",
        "Side-task steps that failed, by step"
    );
    describe_counter!(
        "pinglass_external_calls_total",
        "Calls to Kie and T-Bank, by service, method and outcome"
    );
    describe_histogram!(
        "pinglass_external_call_seconds",
        metrics::Unit::Seconds,
        "Latency of calls to Kie and T-Bank"
    );
    describe_counter!(
        "pinglass_telegram_retry_after_total",
        "Telegram 429 answers (RetryAfter) while sending"
    );
    describe_counter!(
        "pinglass_telegram_uncertain_sends_total",
        "Queued sends Telegram did not answer (they may have arrived; sent again)"
    );
    describe_counter!(
        "pinglass_alerts_total",
        "Admin alert messages queued, by kind and whether new or a summary"
    );
    describe_gauge!("pinglass_payments", "Payments by status");
    describe_gauge!("pinglass_jobs", "Generation jobs by status");
    describe_gauge!("pinglass_tasks", "Generation tasks by state");
    describe_gauge!(
        "pinglass_queue_messages",
        "Queued Telegram messages by status"
    );
    describe_gauge!(
        "pinglass_queue_depth",
        "Telegram messages waiting to be sent (pending or in flight)"
    );
}

/// One update went through the handler tree.
pub(crate) fn update_handled(outcome: &'static str, took: Duration) {
    counter!("pinglass_updates_total", "outcome" => outcome).increment(1);
    histogram!("pinglass_handler_seconds", "outcome" => outcome).record(took.as_secs_f64());
    histogram!("pinglass_update_latency_seconds").record(took.as_secs_f64());
}

/// A database backup was written.
pub(crate) fn backup_written(bytes: u64, took: Duration) {
    histogram!("pinglass_backup_seconds").record(took.as_secs_f64());
    metrics::gauge!("pinglass_backup_bytes").set(bytes as f64);
}

/// Updates of a flooding chat absorbed before the handler tree (those
/// absorbed in it count as `pinglass_updates_total{outcome="absorbed"}`).
pub(crate) fn flood_dropped(count: u64) {
    counter!("pinglass_flood_dropped_total").increment(count);
}

pub(crate) fn side_task_error(step: &str) {
    counter!("pinglass_side_task_errors_total", "step" => step.to_owned()).increment(1);
}

/// One call to an outside service (`kie`, `tbank`) ended.
pub(crate) fn external_call(service: &'static str, method: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    counter!("pinglass_external_calls_total", "service" => service, "method" => method, "outcome" => outcome)
        .increment(1);
    histogram!("pinglass_external_call_seconds", "service" => service, "method" => method)
        .record(took.as_secs_f64());
}

pub(crate) fn telegram_retry_after() {
    counter!("pinglass_telegram_retry_after_total").increment(1);
}

pub(crate) fn telegram_uncertain_send() {
    counter!("pinglass_telegram_uncertain_sends_total").increment(1);
}

pub(crate) fn alert_sent(kind: &str, summary: bool) {
    let what = if summary { "summary" } else { "new" };
    counter!("pinglass_alerts_total", "kind" => kind.to_owned(), "message" => what).increment(1);
}

/// Every state a row can be in, so a gauge drops to 0 when its last row leaves.
const PAYMENT_STATUSES: [&str; 9] = [
    "new",
    "open",
    "confirmed",
    "rejected",
    "canceled",
    "expired",
    "failed",
    "refunded",
    "partially_refunded",
];
const JOB_STATUSES: [&str; 5] = ["running", "delivering", "done", "partial", "failed"];
const TASK_STATES: [&str; 6] = [
    "queued",
    "creating",
    "running",
    "downloading",
    "succeeded",
    "failed",
];
const QUEUE_STATUSES: [&str; 4] = ["pending", "sending", "sent", "failed"];

fn set_by_label(
    name: &'static str,
    label: &'static str,
    all: &[&'static str],
    rows: &[(String, i64)],
) {
    for state in all {
        let n = rows.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
        gauge!(name, label => *state).set(n as f64);
    }
}

static RENDER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Sets the SQLite gauges from `snapshot` and renders everything, as one step.
pub(crate) fn render(handle: &PrometheusHandle, snapshot: &Snapshot) -> String {
    let _one_at_a_time = RENDER.lock().unwrap_or_else(|e| e.into_inner());
    set_by_label(
        "pinglass_payments",
        "status",
        &PAYMENT_STATUSES,
        &snapshot.payments,
    );
    set_by_label("pinglass_jobs", "status", &JOB_STATUSES, &snapshot.jobs);
    set_by_label("pinglass_tasks", "state", &TASK_STATES, &snapshot.tasks);
    set_by_label(
        "pinglass_queue_messages",
        "status",
        &QUEUE_STATUSES,
        &snapshot.queue,
    );
    let depth: i64 = snapshot
        .queue
        .iter()
        .filter(|(s, _)| s == "pending" || s == "sending")
        .map(|(_, n)| n)
        .sum();
    gauge!("pinglass_queue_depth").set(depth as f64);
    handle.render()
}
