//! The crash-and-fault soak: the real binary against stand-ins playing
//! `FaultPlan::realistic()` (Kie 5xx, 429 bursts, moderation failures,
//! recordInfo null, slow downloads; Telegram 429 storms and 5xx; T-Bank
//! timeouts and errors; S3 500/503 from an s3s-fs store behind a fault
//! layer), users going through the whole funnel at once (some decline, some
//! walk away), and the bot SIGKILLed at random moments at least
//! `PINGLASS_SOAK_KILLS` times (10) and started again. At the end every
//! invariant of `invariants::check` holds: 0 lost, 0 doubled (beyond the one
//! message a kill may catch in flight), 0 double-charged, nothing pending.
//!
//! Short by default (5 users); longer with PINGLASS_SOAK_USERS,
//! PINGLASS_SOAK_KILLS, PINGLASS_SOAK_SECS (keep killing at least this
//! long) and PINGLASS_SOAK_SEED (repeat a run's dice). `--nocapture` shows
//! the summary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pinglass::db::Db;
use pinglass::faults::FaultPlan;
use rand::{Rng, SeedableRng};

use crate::child::Harness;
use crate::invariants::{self, Outcome};
use crate::s3_standin;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_faults_and_sigkills_loses_and_doubles_nothing() {
    let users_count: usize = env_or("PINGLASS_SOAK_USERS", 5);
    let kills_wanted: usize = env_or("PINGLASS_SOAK_KILLS", 10);
    let min_secs: u64 = env_or("PINGLASS_SOAK_SECS", 0);
    let seed: u64 = env_or("PINGLASS_SOAK_SEED", rand::random());
    eprintln!(
        "soak: {users_count} users, ≥ {kills_wanted} kills, ≥ {min_secs} s, seed {seed} \
         (repeat with PINGLASS_SOAK_SEED={seed})"
    );
    let mut plan = FaultPlan::realistic().with_seed(seed);
    // Held past the bot's T-Bank timeout below (2 s), not the real 20 s.
    plan.tbank.timeout_hold = Duration::from_secs(3);
    // A short soak makes only about a dozen T-Bank calls: at the realistic
    // 11 % one run in ten met none (a CI run did). Raised to about 30 %.
    plan.tbank.error = 0.15;
    plan.tbank.http_5xx = 0.10;
    let tally = plan.tally().clone();

    let mut h = Harness::with_faults(Duration::from_millis(1000), plan.clone()).await;
    let s3 = s3_standin::start(&h.dir.path().join("s3"), &plan).await;
    for (key, value) in [
        ("PINGLASS_TBANK__REQUEST_TIMEOUT_SECS", "2".to_owned()),
        ("PINGLASS_STORAGE__BACKEND", "s3".to_owned()),
        ("PINGLASS_STORAGE__S3_ENDPOINT", s3.endpoint.to_string()),
        ("PINGLASS_STORAGE__S3_BUCKET", s3_standin::BUCKET.to_owned()),
        ("S3_ACCESS_KEY_ID", s3_standin::ACCESS_KEY.to_owned()),
        ("S3_SECRET_ACCESS_KEY", s3_standin::SECRET_KEY.to_owned()),
    ] {
        h.env.push((key.to_owned(), value));
    }
    let h = h;
    // Every 5th user declines at the bank, every 4th walks away unpaid.
    let users = invariants::users(9001, users_count, 5, 4);
    h.start_bot();

    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let db = Db::open(&h.db_path(), 1).unwrap();
    let funnel_done = AtomicBool::new(false);
    let funnel = async {
        invariants::buy_all(&h.telegram, &h.tbank, &users).await;
        funnel_done.store(true, Ordering::SeqCst);
    };
    // Half the kills while users talk to the bot, the rest (and at least
    // three) while payments are confirmed, portraits made and delivered.
    let killer = async {
        let (mut in_funnel, mut after) = (0usize, 0usize);
        loop {
            // The scenario: the real binary runs a random while before each kill.
            tokio::time::sleep(Duration::from_millis(rng.random_range(1000..3500))).await;
            let done = funnel_done.load(Ordering::SeqCst);
            if !done && in_funnel >= kills_wanted / 2 {
                continue;
            }
            if in_funnel + after >= kills_wanted
                && after >= 3
                && started.elapsed() >= Duration::from_secs(min_secs)
            {
                break;
            }
            h.kill_bot();
            h.start_bot();
            if done {
                after += 1;
            } else {
                in_funnel += 1;
            }
        }
        (in_funnel, after)
    };
    let ((), (in_funnel, after)) = tokio::join!(funnel, killer);
    let kills = in_funnel + after;
    let storm = started.elapsed();

    invariants::wait_settled(&db, &users, Duration::from_secs(240)).await;
    let settled_after = started.elapsed();
    h.kill_bot();
    // Frozen now and still settled: nothing was left that the bot would
    // still have sent (a wrongly repeated message is in the chats already).
    assert!(
        invariants::settled(&db, &users),
        "the bot took on new work after the run settled"
    );
    let delivered = invariants::check(&db, &h.telegram, &h.tbank, &users, kills).await;

    let met = tally.snapshot();
    let by_service = |prefix: &str| tally.total(prefix);
    eprintln!(
        "soak: {} users ({} paid, {} declined, {} abandoned), {kills} SIGKILLs in {storm:.0?} \
         ({in_funnel} while users chatted, {after} during confirmation, generation and delivery), \
         {} starts; settled {settled_after:.0?} after the start",
        users.len(),
        delivered.paid,
        users
            .iter()
            .filter(|(_, o)| *o == Outcome::Declined)
            .count(),
        users
            .iter()
            .filter(|(_, o)| *o == Outcome::Abandoned)
            .count(),
        h.starts.load(Ordering::SeqCst),
    );
    eprintln!(
        "soak: faults met — Kie {}, Telegram {}, T-Bank {}, S3 {}: {met:?}",
        by_service("kie."),
        by_service("telegram."),
        by_service("tbank."),
        by_service("s3."),
    );
    eprintln!(
        "soak: {} portraits delivered once each, {} given up and refunded ({} refunds), \
         {} message(s) re-sent inside the kill window, 0 double charges, nothing pending",
        delivered.portraits, delivered.failed, delivered.refunds, delivered.resent
    );
    assert!(kills >= kills_wanted);
    for service in ["kie.", "telegram.", "tbank.", "s3."] {
        assert!(
            by_service(service) > 0,
            "no {service} fault was met: {met:?}"
        );
    }
}
