//! `pinglass loadtest --flood N`: while the users go through the funnel,
//! one more user sends N messages at once (texts, then a set's worth of
//! photos), as a forwarded chat or a script does. Newcomers press /start
//! before and during the flood; their wait for the onboarding is what the
//! flood adds to another chat's answer (issue 15: at most 1 s).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::invariants::{Invariant, invariant};
use super::user::{Outcome, World};
use crate::telegram::standin::{ChatEntry, UserSpec, bot_text_contains};

/// Newcomers timed before the flood, and again during it.
const PROBES: usize = 10;
/// Between two newcomers' /start.
const PROBE_GAP: Duration = Duration::from_millis(200);
/// The flooder's first id; the newcomers follow it.
const FLOODER: i64 = 7_900_000;

/// What the flood scenario measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FloodFigures {
    /// Messages the flooder sent at once (texts and photos).
    pub messages: u64,
    pub(crate) photos: u64,
    /// The flooder's answers from the bot, all of them, and the notices.
    pub(crate) answers: u64,
    pub(crate) notices: u64,
    /// Photos the counter showed at the end.
    pub(crate) photos_counted: Option<u64>,
    /// Newcomers' wait for the onboarding, seconds: before the flood.
    pub(crate) calm_median_secs: f64,
    pub(crate) calm_max_secs: f64,
    /// … and while it was being worked through.
    pub(crate) flood_median_secs: f64,
    pub flood_max_secs: f64,
    /// The worst flood wait above the calm median: what the flood added.
    pub added_delay_secs: f64,
    /// Newcomers never answered within the step timeout.
    pub(crate) unanswered: u64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// `PROBES` newcomers, `PROBE_GAP` apart, each timed from their /start to
/// the onboarding's packages; their outcomes join the run's.
async fn probe_newcomers(
    world: &World,
    first_id: i64,
    outcomes: &mut Vec<Outcome>,
) -> (Vec<f64>, u64) {
    let mut waits = tokio::task::JoinSet::new();
    for i in 0..PROBES {
        let user = UserSpec::new(first_id + i as i64, format!("Новичок {i}")).with_language("ru");
        let sandbox = world.telegram.sandbox().clone();
        let timeout = world.step_timeout;
        let sent = Instant::now();
        let posted = sandbox.send_text(&user, "/start").is_ok();
        waits.spawn(async move {
            let answered = posted
                && sandbox
                    .wait_for(user.id, |e| bot_text_contains(e, "Пакеты"), timeout)
                    .await
                    .is_ok();
            (user.id, answered.then(|| sent.elapsed().as_secs_f64()))
        });
        tokio::time::sleep(PROBE_GAP).await;
    }
    let (mut secs, mut unanswered) = (Vec::new(), 0);
    while let Some(Ok((user_id, wait))) = waits.join_next().await {
        outcomes.push(Outcome {
            user_id,
            updates: 1,
            ..Outcome::default()
        });
        match wait {
            Some(wait) => secs.push(wait),
            None => unanswered += 1,
        }
    }
    (secs, unanswered)
}

/// The photo count of the flooder's newest counter.
fn counted(entries: &[ChatEntry]) -> Option<u64> {
    entries.iter().rev().find_map(|e| {
        let text = e.text_or_caption()?.strip_prefix("Принято: ")?;
        text.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    })
}

/// Waits `after`, times newcomers, floods, times newcomers again, and
/// waits until the flooder's chat is answered.
pub(crate) async fn run(
    world: &World,
    messages: u32,
    after: Duration,
    outcomes: &mut Vec<Outcome>,
) -> anyhow::Result<FloodFigures> {
    tokio::time::sleep(after).await;
    let sandbox = world.telegram.sandbox();
    let flooder = UserSpec::new(FLOODER, "Флудер").with_language("ru");
    sandbox.send_text(&flooder, "/start")?;
    sandbox
        .wait_for(
            flooder.id,
            |e| bot_text_contains(e, "Пакеты"),
            world.step_timeout,
        )
        .await
        .map_err(|_| anyhow::anyhow!("the flooder never saw the onboarding"))?;
    let (mut calm, calm_unanswered) = probe_newcomers(world, FLOODER + 1, outcomes).await;
    let before = sandbox.history(flooder.id).len();
    let photos = (messages as usize / 7).min(world.photos.len());
    let texts = messages as usize - photos;
    for i in 0..texts {
        sandbox.send_text(&flooder, &format!("сообщение {i}"))?;
    }
    let probes = probe_newcomers(world, FLOODER + 1 + PROBES as i64, outcomes);
    let flood_photos = async {
        for bytes in world.photos.iter().take(photos) {
            sandbox.send_photo(&flooder, bytes.clone(), None).await?;
        }
        anyhow::Ok(())
    };
    let ((mut during, flood_unanswered), sent) = tokio::join!(probes, flood_photos);
    sent?;
    // The flooder's backlog is worked through when a press behind it is
    // answered: one chat's updates are handled in order, and a button
    // that does not exist is answered with a toast only.
    let query = sandbox.press_button_raw(&flooder, 0, "loadtest:flood-handled")?;
    sandbox
        .wait_for_callback_answer(&query, world.delivery_timeout)
        .await
        .map_err(|_| anyhow::anyhow!("the flooder's backlog was never worked through"))?;
    let answers: Vec<ChatEntry> = sandbox.history(flooder.id)[before..]
        .iter()
        .filter(|e| e.is_from_bot() && !e.deleted)
        .cloned()
        .collect();
    let notices = answers
        .iter()
        .filter(|e| {
            e.text_or_caption()
                .is_some_and(|t| t.starts_with("Слишком много сообщений сразу"))
        })
        .count();
    outcomes.push(Outcome {
        user_id: flooder.id,
        // /start, the flood, the press behind it.
        updates: 2 + messages as u64,
        photos: photos as u64,
        ..Outcome::default()
    });
    let (calm_max, flood_max) = (
        calm.iter().copied().fold(0.0, f64::max),
        during.iter().copied().fold(0.0, f64::max),
    );
    let calm_median = median(&mut calm);
    Ok(FloodFigures {
        messages: u64::from(messages),
        photos: photos as u64,
        answers: answers.len() as u64,
        notices: notices as u64,
        photos_counted: counted(&answers),
        calm_median_secs: calm_median,
        calm_max_secs: calm_max,
        flood_median_secs: median(&mut during),
        flood_max_secs: flood_max,
        added_delay_secs: (flood_max - calm_median).max(0.0),
        unanswered: calm_unanswered + flood_unanswered,
    })
}

impl FloodFigures {
    /// What must hold: one notice, every newcomer answered, the photos
    /// counted up to the set's maximum (the pool's photos are distinct).
    /// The 1 s target is a figure of the summary, not an invariant.
    pub(crate) fn invariant(&self, max_photos: u64) -> Invariant {
        let mut problems = Vec::new();
        if self.notices != 1 {
            problems.push(format!("{} flood notices, not one", self.notices));
        }
        if self.unanswered > 0 {
            problems.push(format!("{} newcomers never answered", self.unanswered));
        }
        let expected = self.photos.min(max_photos);
        if self.photos > 0 && self.photos_counted != Some(expected) {
            problems.push(format!(
                "the counter shows {:?} photos, not {expected}",
                self.photos_counted
            ));
        }
        invariant(
            "a flood in one chat: one notice, the others answered, photos counted",
            problems,
        )
    }
}
