//! A short `pinglass loadtest` through the library function: 50 users
//! through the whole funnel against the stand-ins (Telegram's real limits),
//! the real binary as the bot, Kie scaled down to 1–2 s a task. Kie's real
//! creation limit (20 per 10 s, the bot uses 18) stays, so few users pay,
//! each for the smallest package (7 portraits: ~7 jobs, ~50 tasks, ~30 s).
//! Every invariant must hold and the report must add up with what was driven.

use std::path::Path;
use std::time::Duration;

use pinglass::loadtest::{LoadtestOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_users_through_the_funnel_every_invariant_holds() {
    let options = LoadtestOptions {
        users: 50,
        arrival_window: Duration::from_secs(5),
        kie_latency_min: Duration::from_secs(1),
        kie_latency_max: Duration::from_secs(2),
        package: Some(0),
        decline_share: 0.15,
        abandon_share: 0.7,
        photos_min: 5,
        photos_max: 7,
        seed: 7,
        deadline: Duration::from_secs(120),
        config: Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml"),
        bot_exe: Some(env!("CARGO_BIN_EXE_pinglass").into()),
        ..LoadtestOptions::default()
    };
    let report = run(options).await.expect("the load test runs");
    eprintln!("{}", report.summary());
    for invariant in &report.invariants {
        assert!(invariant.ok, "{}: {}", invariant.name, invariant.detail);
    }
    assert!(report.ok);
    let d = &report.driven;
    assert_eq!(d.users, 50);
    assert_eq!(d.user_errors, 0, "{:?}", d.errors);
    assert_eq!(d.reached_payment, 50);
    assert_eq!(d.paid + d.declined + d.abandoned, 50);
    assert!(d.paid >= 3 && d.declined > 0 && d.abandoned > 0, "{d:?}");
    assert_eq!(d.delivered, d.paid);
    // Every update driven was handled, inside the bot.
    assert_eq!(report.bot.updates_handled, d.updates, "{:?}", report.bot);
    assert!(report.bot.updates_per_sec > 0.0);
    let l = &report.bot.latency;
    assert!(
        0.0 < l.p50_ms && l.p50_ms <= l.p95_ms && l.p95_ms <= l.p99_ms && l.p99_ms <= l.max_ms,
        "{l:?}"
    );
    assert!(
        report.bot.peak_rss_mb > 5.0 && report.bot.cpu_secs > 0.0,
        "{:?}",
        report.bot
    );
    assert_eq!(report.bot.starts, 1);
    // One job per paying user, each timed against its Kie tasks.
    assert_eq!(report.jobs.jobs, d.paid);
    for job in &report.jobs.each {
        let ratio = job.ratio.expect("every job was confirmed and delivered");
        assert!(ratio >= 1.0, "a job cannot beat its slowest task: {job:?}");
    }
    // At least one message per update answered and every portrait, within the limit.
    let portraits: i64 = report.jobs.each.iter().map(|j| j.portraits).sum();
    assert!(report.telegram.messages_sent >= portraits as u64 + 50);
    assert!(
        report.telegram.peak_messages_per_sec_10s <= 31.0,
        "{:?}",
        report.telegram
    );
    assert!(report.db_bytes > 0);
}
