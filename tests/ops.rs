//! Operations: the metrics endpoint and `/healthz`, admin alerts (each
//! incident once, repeats summarised), and what Sentry may receive.
//!
//! The metrics recorder is process-wide and the tests run in one process, so
//! counters are compared before and after (other tests may move them too:
//! deltas are checked as "at least"); the SQLite gauges are set from the
//! scraped application's own database at scrape time, so they are exact.

use std::net::SocketAddr;
use std::time::Duration;

use pinglass::chat::outbox::{self, Delivery, Outgoing};
use pinglass::kie::standin::{Fault, TaskFault};
use pinglass::telegram::standin::{ChatEntry, UserSpec};
use pinglass::worker::monitor;

use crate::support::{
    LONG, TestApp, bot_text_contains, buy, portraits_received, up_to_payment_link, wait_for,
};

const ADMIN: i64 = 900_000_001;

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("the endpoint answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// The sum of the samples of metric `name` carrying every one of `labels`.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let metric_name = series.split('{').next()?;
            (metric_name == name
                && labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

fn bot_texts_containing(entries: &[ChatEntry], needle: &str) -> usize {
    entries
        .iter()
        .filter(|e| e.is_from_bot() && e.text.as_deref().is_some_and(|t| t.contains(needle)))
        .count()
}

async fn admin_started(app: &TestApp) -> UserSpec {
    // The admin has talked to the bot (a bot cannot write first).
    let admin = UserSpec::new(ADMIN, "Admin").with_language("ru");
    app.telegram.sandbox().send_text(&admin, "/start").unwrap();
    wait_for(
        &app.telegram,
        &admin,
        "the admin's onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
    admin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funnel_moves_the_metrics_and_healthz_names_a_stopped_side_task() {
    let mut app = TestApp::start_with(|c| {
        c.telemetry.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let addr = app
        .app()
        .metrics_addr()
        .expect("the endpoint is configured");

    let (status, health) = get(addr, "/healthz").await;
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"]["ok"], true);

    let (status, before) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        metric(&before, "pinglass_payments", &[("status", "confirmed")]),
        0.0
    );

    let user = UserSpec::new(5101, "Вера").with_language("ru");
    let payment = up_to_payment_link(
        &app.telegram,
        &user,
        "vera",
        "Starter · 7 портретов · 499 ₽",
    )
    .await;
    app.tbank.pay(&payment).unwrap();
    wait_for(
        &app.telegram,
        &user,
        "all 7 portraits",
        |e| portraits_received(e).len() == 7,
        LONG,
    )
    .await;
    app.settle().await;

    let (_, after) = get(addr, "/metrics").await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        metric(&after, name, labels) - metric(&before, name, labels)
    };
    // Counters (process-wide): at least this funnel's share.
    assert!(
        delta("pinglass_updates_total", &[("outcome", "handled")]) >= 5.0,
        "{after}"
    );
    assert!(
        delta("pinglass_handler_seconds_count", &[]) >= 5.0,
        "{after}"
    );
    assert!(
        delta(
            "pinglass_external_calls_total",
            &[
                ("service", "kie"),
                ("method", "createTask"),
                ("outcome", "ok")
            ]
        ) >= 7.0
    );
    assert!(
        delta(
            "pinglass_external_calls_total",
            &[("service", "kie"), ("method", "recordInfo")]
        ) >= 7.0
    );
    assert!(
        delta(
            "pinglass_external_calls_total",
            &[("service", "tbank"), ("method", "Init"), ("outcome", "ok")]
        ) >= 1.0
    );
    assert!(
        delta(
            "pinglass_external_calls_total",
            &[("service", "tbank"), ("method", "GetState")]
        ) >= 1.0
    );
    assert!(
        delta(
            "pinglass_external_call_seconds_count",
            &[("service", "kie")]
        ) >= 14.0
    );
    // Gauges (this application's database): exact.
    assert_eq!(
        delta("pinglass_payments", &[("status", "confirmed")]),
        1.0,
        "{after}"
    );
    assert_eq!(
        metric(&after, "pinglass_payments", &[("status", "open")]),
        0.0
    );
    assert_eq!(delta("pinglass_tasks", &[("state", "succeeded")]), 7.0);
    assert_eq!(metric(&after, "pinglass_jobs", &[("status", "done")]), 1.0);
    assert!(delta("pinglass_queue_messages", &[("status", "sent")]) >= 3.0);
    assert_eq!(
        metric(&after, "pinglass_queue_depth", &[]),
        0.0,
        "everything was sent"
    );
    assert!(
        after.contains("# TYPE pinglass_handler_seconds histogram"),
        "{after}"
    );
    // The update latency as a summary, the quantiles `pinglass loadtest` reads.
    assert!(
        after.contains("# TYPE pinglass_update_latency_seconds summary"),
        "{after}"
    );
    for q in ["0.5", "0.95", "0.99", "1"] {
        assert!(
            metric(
                &after,
                "pinglass_update_latency_seconds",
                &[("quantile", q)]
            ) > 0.0,
            "quantile {q}: {after}"
        );
    }

    app.app_mut().stop_side_task().await;
    let (status, health) = get(addr, "/healthz").await;
    assert_eq!(status, 503, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["failing"], serde_json::json!(["side_task"]));
    assert_eq!(health["side_task"]["ok"], false);
    assert_eq!(health["poller"]["ok"], true);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_that_come_short_alert_once_and_are_summarised_while_they_go_on() {
    let app = TestApp::start_with(|c| {
        c.kie.max_attempts = 1;
        c.alerts.check_secs = 1;
        c.alerts.summary_every_mins = 60;
    })
    .await;
    let sandbox = app.telegram.sandbox().clone();
    let admin = admin_started(&app).await;

    // (user, whether one of the seven portraits fails for good)
    let buyers = [
        (5201, "vika", true),
        (5202, "dina", false),
        (5203, "gleb", true),
        (5204, "ilya", true),
    ];
    for (i, (id, name, fails)) in buyers.into_iter().enumerate() {
        if fails {
            app.kie.script(Fault::Task(TaskFault::FailModeration), 1);
        }
        let user = UserSpec::new(id, name).with_language("ru");
        buy(
            &app.telegram,
            &app.tbank,
            &user,
            name,
            "Starter · 7 портретов · 499 ₽",
        )
        .await;
        let expected = if fails { 6 } else { 7 };
        wait_for(
            &app.telegram,
            &user,
            "the portraits",
            |e| portraits_received(e).len() == expected,
            LONG,
        )
        .await;
        // The job's end and the alert it raised or not: all sent by now.
        app.settle().await;
        let alerts = bot_texts_containing(&sandbox.history(ADMIN), "не добрала портретов");
        match i {
            // The first shortfall alerts.
            0 => {
                wait_for(
                    &app.telegram,
                    &admin,
                    "the alert",
                    |e| bot_text_contains(e, "не добрала портретов"),
                    LONG,
                )
                .await;
                assert!(bot_text_contains(&sandbox.history(ADMIN), "сделано 6 из 7"));
            }
            // A job that delivers everything ends the incident, quietly.
            1 => assert_eq!(alerts, 1),
            // So the next shortfall is a new incident: alerted again.
            2 => {
                wait_for(
                    &app.telegram,
                    &admin,
                    "the second alert",
                    |e| bot_texts_containing(e, "не добрала портретов") == 2,
                    LONG,
                )
                .await;
            }
            // While it goes on, a repeat only counts.
            _ => assert_eq!(alerts, 2, "a repeat of an open incident is not sent again"),
        }
    }
    // Later checks (each `check_secs`) send nothing more while it goes on.
    for _ in 0..3 {
        app.advance_clock(Duration::from_secs(2));
        app.settle().await;
    }
    let history = sandbox.history(ADMIN);
    assert_eq!(bot_texts_containing(&history, "не добрала портретов"), 2);
    assert_eq!(bot_texts_containing(&history, "Всё ещё происходит"), 0);
    let (count, resolved): (i64, Option<i64>) = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row(
                "SELECT count, resolved_at FROM alerts WHERE incident_key = 'jobs_failing'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .unwrap();
    assert_eq!((count, resolved), (2, None));

    // An hour later the incident is still open: one summary, not more.
    app.advance_clock(Duration::from_secs(61 * 60));
    wait_for(
        &app.telegram,
        &admin,
        "the summary",
        |e| bot_text_contains(e, "Всё ещё происходит: 2 раза"),
        LONG,
    )
    .await;
    // The checks of the next half hour send no second summary.
    for _ in 0..3 {
        app.advance_clock(Duration::from_secs(10 * 60));
        app.settle().await;
    }
    assert_eq!(
        bot_texts_containing(&sandbox.history(ADMIN), "Всё ещё происходит"),
        1
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_handlers_raise_one_error_rate_alert() {
    let app = TestApp::start_with(|c| {
        c.alerts.check_secs = 1;
        c.alerts.errors_per_min = 3;
    })
    .await;
    let sandbox = app.telegram.sandbox().clone();
    let admin = admin_started(&app).await;
    let user = UserSpec::new(5301, "Оля").with_language("ru");
    sandbox.send_text(&user, "/start").unwrap();
    wait_for(
        &app.telegram,
        &user,
        "the onboarding",
        |e| bot_text_contains(e, "Пакеты"),
        LONG,
    )
    .await;
    // The object store breaks: its directory becomes a file; every photo fails.
    let objects = app.config.storage.local_dir.clone();
    std::fs::remove_dir_all(&objects).unwrap();
    std::fs::write(&objects, b"not a directory").unwrap();
    for i in 0..4 {
        sandbox
            .send_photo(
                &user,
                crate::support::photo_jpeg(&format!("olya-{i}"), 800, 1000),
                None,
            )
            .await
            .unwrap();
    }
    wait_for(
        &app.telegram,
        &admin,
        "the alert",
        |e| bot_text_contains(e, "Ошибок больше предела"),
        LONG,
    )
    .await;
    // The photos are all handled, and the checks after the alert (each
    // `check_secs`) raise no second one.
    crate::support::handled(&app.telegram, &user).await;
    for _ in 0..3 {
        app.advance_clock(Duration::from_secs(2));
        app.settle().await;
    }
    assert_eq!(
        bot_texts_containing(&sandbox.history(ADMIN), "Ошибок больше предела"),
        1
    );
    app.shutdown().await;
}

fn queued_alerts(app: &TestApp, pattern: &'static str) -> i64 {
    app.app()
        .db
        .run_blocking(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM message_queue WHERE chat_id = ?1 AND dedup_key LIKE ?2",
                rusqlite::params![ADMIN, pattern],
                |r| r.get(0),
            )
        })
        .unwrap()
}

/// The monitor step against a side task that stands still: it is called
/// directly at chosen times, and what it queued for the admin is read from
/// the queue (nothing drains it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_raises_each_incident_once_and_summarises_repeats() {
    let mut app = TestApp::start_with(|c| {
        c.alerts.check_secs = 1;
        c.alerts.behind_secs = 60;
        c.alerts.delivery_failures_per_hour = 2;
        c.alerts.errors_per_min = 3;
        c.alerts.summary_every_mins = 10;
    })
    .await;
    app.app_mut().stop_side_task().await;
    let ctx = app.app().worker_ctx.clone();
    // (The side task checked once before it stopped: start past that.)
    let t0 = ctx.clock.now_ms() + 5_000;
    app.app()
        .db
        .run_blocking(move |c| {
            // A message due five minutes ago that nobody sends.
            outbox::enqueue(
                c,
                777,
                &Outgoing::text("late"),
                "test:late",
                Delivery::Essential,
                t0 - 300_000,
            )?;
            // Two messages given up within the hour.
            for i in 0..2 {
                let key = format!("test:failed:{i}");
                outbox::enqueue(
                    c,
                    778,
                    &Outgoing::text("lost"),
                    &key,
                    Delivery::Essential,
                    t0,
                )?;
                c.execute(
                    "UPDATE message_queue SET status = 'sending' WHERE dedup_key = ?1",
                    [&key],
                )?;
                let id: i64 = c.query_row(
                    "SELECT id FROM message_queue WHERE dedup_key = ?1",
                    [&key],
                    |r| r.get(0),
                )?;
                pinglass::db::queue::mark_failed(
                    c,
                    id,
                    "Bad Request: chat not found",
                    t0 - 60_000,
                )?;
            }
            Ok(())
        })
        .unwrap();

    monitor::step(&ctx, t0).await.unwrap();
    assert_eq!(queued_alerts(&app, "alert:delivery_failures:%"), 1);
    assert_eq!(
        queued_alerts(&app, "alert:side_task_behind:%"),
        0,
        "behind needs two checks in a row"
    );

    for _ in 0..5 {
        ctx.ops.error();
    }
    monitor::step(&ctx, t0 + 2_000).await.unwrap();
    assert_eq!(queued_alerts(&app, "alert:side_task_behind:%"), 1);
    assert_eq!(queued_alerts(&app, "alert:error_rate:%"), 1);

    // Everything goes on: counted, not sent again.
    for _ in 0..5 {
        ctx.ops.error();
    }
    monitor::step(&ctx, t0 + 4_000).await.unwrap();
    // Checked less than check_secs later: nothing happens.
    monitor::step(&ctx, t0 + 4_500).await.unwrap();
    assert_eq!(queued_alerts(&app, "alert:delivery_failures:%"), 1);
    assert_eq!(queued_alerts(&app, "alert:side_task_behind:%"), 1);
    assert_eq!(queued_alerts(&app, "alert:error_rate:%"), 1);
    assert_eq!(queued_alerts(&app, "alert:%:summary:%"), 0);

    // Ten minutes on, with errors still coming: one summary per incident.
    for _ in 0..40 {
        ctx.ops.error();
    }
    let later = t0 + 11 * 60_000;
    monitor::step(&ctx, later).await.unwrap();
    assert_eq!(queued_alerts(&app, "alert:%:summary:%"), 3);
    let summary: String = app
        .app()
        .db
        .run_blocking(|c| {
            c.query_row(
                "SELECT payload FROM message_queue WHERE dedup_key LIKE 'alert:side_task_behind:summary:%'",
                [],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert!(
        summary.contains("Всё ещё происходит: 3 раза с"),
        "{summary}"
    );
    for _ in 0..40 {
        ctx.ops.error();
    }
    monitor::step(&ctx, later + 60_000).await.unwrap();
    assert_eq!(
        queued_alerts(&app, "alert:%:summary:%"),
        3,
        "not again within summary_every_mins"
    );

    // The late message is sent, the errors stop: both incidents end; a new
    // error storm is a new incident with a new alert.
    app.app()
        .db
        .run_blocking(|c| {
            c.execute(
                "UPDATE message_queue SET status = 'sent' WHERE chat_id = ?1",
                [ADMIN],
            )
            .and(c.execute(
                "UPDATE message_queue SET status = 'sent' WHERE dedup_key = 'test:late'",
                [],
            ))
        })
        .unwrap();
    monitor::step(&ctx, later + 120_000).await.unwrap();
    let open: Vec<String> = app
        .app()
        .db
        .run_blocking(|c| {
            let mut stmt =
                c.prepare("SELECT incident_key FROM alerts WHERE resolved_at IS NULL ORDER BY 1")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })
        .unwrap();
    assert_eq!(
        open,
        vec!["delivery_failures".to_owned()],
        "failures within the hour still count"
    );
    for _ in 0..5 {
        ctx.ops.error();
    }
    monitor::step(&ctx, later + 122_000).await.unwrap();
    assert_eq!(
        queued_alerts(&app, "alert:error_rate:%"),
        2 + 1,
        "a new storm alerts again (plus the summary)"
    );
    app.shutdown().await;
}

#[test]
fn sentry_events_carry_the_user_id_but_no_token_password_or_photo() {
    use sentry::protocol::{Breadcrumb, Event, Exception, Value};
    let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
    let mut event = Event {
        message: Some(format!(
            "sendPhoto failed: error sending request for url (https://api.telegram.org/bot{token}/sendPhoto)"
        )),
        ..Default::default()
    };
    event.exception.values.push(Exception {
        ty: "TbankError".into(),
        value: Some(r#"Cancel refused: {"TerminalKey":"1700000DEMO","Password":"hunter2-tbank","Amount":49900}"#.into()),
        ..Default::default()
    });
    event.extra.insert("user_id".into(), Value::from(5101));
    event
        .extra
        .insert("Password".into(), Value::from("hunter2-tbank"));
    event
        .extra
        .insert("photo".into(), Value::from("/9j/4AAQSkZJRgABAQ"));
    event
        .extra
        .insert("file_id".into(), Value::from("AgACAgIAAxkBAAIB"));
    event
        .extra
        .insert("receipt_contact".into(), Value::from("vera@example.ru"));
    event.breadcrumbs.values.push(Breadcrumb {
        message: Some(format!(
            "GET https://api.telegram.org/file/bot{token}/photos/file_1.jpg"
        )),
        ..Default::default()
    });
    event.user = Some(sentry::User {
        email: Some("vera@example.ru".into()),
        ..Default::default()
    });

    let scrubbed = pinglass::telemetry::scrub_event(event).expect("the event is kept");
    let json = serde_json::to_string(&scrubbed).unwrap();
    for secret in [
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "hunter2-tbank",
        "/9j/4AAQ",
        "AgACAgIAAxkBAAIB",
        "vera@example.ru",
    ] {
        assert!(!json.contains(secret), "{secret} leaked: {json}");
    }
    assert_eq!(scrubbed.user.and_then(|u| u.id).as_deref(), Some("5101"));
    // What is not secret stays readable.
    assert!(json.contains("sendPhoto failed"), "{json}");
    assert!(json.contains("/sendPhoto"), "{json}");
    assert!(json.contains("49900"), "{json}");

    let crumb = pinglass::telemetry::scrub_breadcrumb(Breadcrumb {
        message: Some(format!("Password={token}&x=1 {token}")),
        ..Default::default()
    })
    .unwrap();
    assert!(!crumb.message.unwrap().contains("AAHdq"));
    // Russian text around a secret is cut at character boundaries.
    assert_eq!(
        pinglass::telemetry::scrub_text("пароль password: секрет, ещё"),
        "пароль password: [redacted], ещё"
    );
}

#[test]
fn alert_thresholds_and_the_sentry_dsn_are_validated_by_name() {
    use pinglass::config::{Config, Secrets};
    let shipped = Config::shipped_toml();
    let config = Config::from_toml_str(shipped, Secrets::default()).unwrap();
    assert_eq!(config.alerts.check_secs, 60);
    assert!(
        config.telemetry.metrics_listen.is_none(),
        "metrics are off unless asked for"
    );

    let zero = shipped.replace("errors_per_min = 10", "errors_per_min = 0");
    let error = Config::from_toml_str(&zero, Secrets::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("alerts.errors_per_min"), "{error}");

    let with_dsn = |dsn: &str| {
        Config::from_toml_str(
            shipped,
            Secrets::from_lookup(|k| (k == "SENTRY_DSN").then(|| dsn.to_owned())),
        )
    };
    let error = with_dsn("not a dsn").unwrap_err().to_string();
    assert!(error.contains("SENTRY_DSN"), "{error}");
    assert!(
        !error.contains("not a dsn"),
        "the secret is not repeated: {error}"
    );
    assert!(with_dsn("https://public@sentry.example.com/42").is_ok());
}
