//! How long a paid job takes from the payment to its last album, with the Kie
//! stand-in at real-world latency (Kie's nano-banana-edit: 100–160 s a task,
//! about 136 s on average) and Telegram's real sending limits.
//!
//! ```text
//! cargo run --release --locked --example job_latency            # 136 s a task
//! cargo run --release --locked --example job_latency -- 20      # 20 s a task (quick look)
//! ```
//!
//! Three users pay at the same moment for 7, 15 and 23 portraits. For each
//! job it prints: payment → last album received; the slowest task as the bot
//! saw it (createTask → result stored); and the ratio of the first to one
//! Kie task's latency, the ideal when every task of a job runs in parallel.

use std::time::{Duration, Instant};

use pinglass::harness::{self, Harness, HarnessOptions, chat};
use pinglass::telegram::standin::{RateLimits, UserSpec};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let latency_secs: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(136.0);
    let dir = tempfile::tempdir()?;
    let mut config = harness::local_config(dir.path())?;
    // Telegram's real limits, on both sides.
    config.telegram.messages_per_sec_chat = 1;
    config.telegram.messages_per_sec_overall = 30;
    let options = HarnessOptions {
        kie_latency: Duration::from_secs_f64(latency_secs),
        telegram_limits: RateLimits::default(),
        ..HarnessOptions::default()
    };
    let h = Harness::start(dir.path(), config, options).await?;
    println!(
        "Kie stand-in latency: {latency_secs} s a task; Telegram limits: 1 msg/s a chat, 30 msg/s overall"
    );

    let jobs = [
        (
            UserSpec::new(8001, "Семь").with_language("ru"),
            "seven",
            "Starter · 7 портретов · 499 ₽",
            7usize,
        ),
        (
            UserSpec::new(8002, "Пятнадцать").with_language("ru"),
            "fifteen",
            "Standard · 15 портретов · 999 ₽",
            15,
        ),
        (
            UserSpec::new(8003, "Двадцать три").with_language("ru"),
            "twentythree",
            "Premium · 23 портрета · 1499 ₽",
            23,
        ),
    ];
    let mut payment_ids = Vec::new();
    for (user, prefix, tier, _) in &jobs {
        payment_ids.push(chat::up_to_payment_link(&h.telegram, user, prefix, tier).await?);
    }
    let paid_at = Instant::now();
    for id in &payment_ids {
        h.tbank.pay(id)?;
    }
    let timeout = Duration::from_secs_f64(latency_secs * 4.0 + 300.0);
    let waits = jobs.iter().map(|(user, _, _, n)| {
        let telegram = h.telegram.clone();
        let user = user.clone();
        let n = *n;
        async move {
            chat::wait_for(
                &telegram,
                &user,
                "all portraits",
                move |e| chat::portraits_received(e).len() >= n,
                timeout,
            )
            .await
            .map(|_| paid_at.elapsed())
        }
    });
    let done = futures::future::join_all(waits).await;

    // The slowest Kie task of each job, from our own records (submitted → finished).
    let slowest: Vec<(i64, i64, i64)> = h.app().db.run_blocking(|c| {
        let mut stmt = c.prepare(
            "SELECT j.total, MAX(t.finished_at - t.submitted_at), MAX(t.attempts)
             FROM generation_jobs j JOIN generation_tasks t ON t.job_id = j.id
             GROUP BY j.id ORDER BY j.total",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect()
    })?;
    println!();
    println!(
        "{:>9} | {:>23} | {:>27} | {:>14} | {:>8}",
        "portraits",
        "payment → last album, s",
        "slowest task, created → stored, s",
        "ratio to ideal",
        "attempts"
    );
    for ((_, _, _, n), result) in jobs.iter().zip(done) {
        let elapsed = result?.as_secs_f64();
        let (slow_ms, attempts) = slowest
            .iter()
            .find(|(total, ..)| *total as usize == *n)
            .map(|(_, ms, a)| (*ms as f64, *a))
            .unwrap_or((f64::NAN, 0));
        let slow = slow_ms / 1000.0;
        println!(
            "{n:>9} | {elapsed:>23.1} | {slow:>33.1} | {:>14.2} | {attempts:>8}",
            elapsed / latency_secs
        );
    }
    let counters = h.telegram.sandbox().counters();
    println!();
    println!("Telegram 429 answers met: {}", counters.too_many_requests);
    h.shutdown().await;
    Ok(())
}
