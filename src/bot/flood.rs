//! The flood guard: one chat's flood never mutes the others.
//!
//! teloxide's dispatcher gives every chat a queue of 64 updates and, when
//! one is full, waits for room before it looks at the next update of any
//! chat. Every answer in a chat is paced to Telegram's one message a second
//! there, so 150 messages at once (a forwarded chat, a script) held the
//! dispatch loop — and every other chat's answer — for minutes. The guard
//! sits between long polling and the dispatcher ([`Guarded`]):
//!
//! - At most [`IN_FLIGHT`] updates of one chat are with the dispatcher and
//!   not yet handled; the chat's next ones wait here, in order, and go on
//!   one by one as those finish. The dispatch loop never waits for a chat.
//! - A chat with [`FLOOD_AT`] updates waiting is flooding until its backlog
//!   is worked off and it was quiet for [`FLOOD_QUIET`]. Meanwhile its messages other than photos and image
//!   files are absorbed — not handled, not answered — and it gets one
//!   "slow down" message (at most one per [`WARN_EVERY`]). Photos and files
//!   still go through in order and count up to the set's maximum; their
//!   refusals are not answered one by one ([`FloodGuard::is_flooding`]),
//!   the counter shows where the set stands. Button presses are never
//!   absorbed.
//! - Updates without a chat go straight through.
//!
//! The guard holds updates in memory, as the dispatcher's own queues do:
//! long polling confirms a batch when it asks for the next one, so a crash
//! loses what was received and not handled either way. A stop hands every
//! held update to the dispatcher, which handles them before it ends.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use teloxide::stop::StopToken;
use teloxide::types::{AllowedUpdate, Update, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};

/// Updates of one chat with the dispatcher at most (its queue holds 64).
pub(crate) const IN_FLIGHT: usize = 16;
/// Updates of one chat waiting (with the dispatcher or here) that make a
/// flood. Two full albums (20 photos) and a few words are no flood.
pub(crate) const FLOOD_AT: usize = 40;
/// Updates of one chat held here at most; beyond that even photos are
/// absorbed (no set takes that many).
pub(crate) const HOLD_MAX: usize = 400;
/// One "slow down" per chat within this.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(600);
/// A flood is over once its backlog is worked off and nothing more came
/// for this long (the photos of a forwarded chat trickle in behind its
/// texts).
pub(crate) const FLOOD_QUIET: Duration = Duration::from_secs(3);
/// Chats remembered before the quiet ones are forgotten.
const REMEMBERED: usize = 1024;

/// One chat's share of the guard.
#[derive(Default)]
struct ChatFlow {
    /// Handed to the dispatcher and not yet handled.
    in_flight: usize,
    /// Waiting here, in arrival order.
    held: VecDeque<Update>,
    flooding: bool,
    last_arrival: Option<Instant>,
    warned_at: Option<Instant>,
}

impl ChatFlow {
    fn idle(&self) -> bool {
        self.in_flight == 0 && self.held.is_empty()
    }

    /// Flooding, and not yet quiet again.
    fn flooding_now(&self) -> bool {
        self.flooding
            && !(self.idle()
                && self
                    .last_arrival
                    .is_none_or(|at| at.elapsed() >= FLOOD_QUIET))
    }

    /// Nothing to remember: idle, not flooding, no recent notice.
    fn forgettable(&self) -> bool {
        self.idle()
            && !self.flooding_now()
            && self.warned_at.is_none_or(|at| at.elapsed() >= WARN_EVERY)
    }
}

/// What the guard does when a chat starts flooding: queue the one "slow
/// down" message (private chats only).
pub(crate) type OnFlood = Box<dyn Fn(i64) + Send + Sync>;

/// The per-chat accounting shared by [`Guarded`] (arrivals) and the first
/// link of the handler tree (`done`, `absorbs`).
pub(crate) struct FloodGuard {
    chats: Mutex<HashMap<i64, ChatFlow>>,
    release: tokio::sync::mpsc::UnboundedSender<Update>,
    on_flood: OnFlood,
}

/// The chat an update is counted under: the dispatcher's own key (the
/// update's chat), for every update it hands to a handler.
fn chat_of(update: &Update) -> Option<i64> {
    if matches!(update.kind, UpdateKind::Error(_)) {
        // teloxide logs and drops these without handling them.
        return None;
    }
    update.chat().map(|chat| chat.id.0)
}

/// Whether a flood lets this update through: photos and files (they count
/// towards the set) and button presses.
fn kept_in_flood(update: &Update) -> bool {
    match &update.kind {
        UpdateKind::Message(message) => message.photo().is_some() || message.document().is_some(),
        UpdateKind::CallbackQuery(_) => true,
        _ => false,
    }
}

impl FloodGuard {
    /// The guard and the receiving end of its releases, for [`Guarded`].
    pub(crate) fn new(
        on_flood: OnFlood,
    ) -> (Arc<Self>, tokio::sync::mpsc::UnboundedReceiver<Update>) {
        let (release, released) = tokio::sync::mpsc::unbounded_channel();
        let guard = Arc::new(Self {
            chats: Mutex::new(HashMap::new()),
            release,
            on_flood,
        });
        (guard, released)
    }

    fn chats(&self) -> std::sync::MutexGuard<'_, HashMap<i64, ChatFlow>> {
        // A panic under the lock leaves counts that are still counts.
        self.chats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An update from long polling: handed on now, held, or absorbed.
    fn arrive(&self, update: Update) -> Option<Update> {
        let Some(chat) = chat_of(&update) else {
            return Some(update);
        };
        let mut warn = false;
        let forward = {
            let mut chats = self.chats();
            if chats.len() > REMEMBERED {
                chats.retain(|_, flow| !flow.forgettable());
            }
            let flow = chats.entry(chat).or_default();
            flow.flooding = flow.flooding_now();
            flow.last_arrival = Some(Instant::now());
            if !flow.flooding && flow.in_flight + flow.held.len() + 1 >= FLOOD_AT {
                flow.flooding = true;
                let before = flow.held.len();
                flow.held.retain(kept_in_flood);
                absorbed(before - flow.held.len());
                if flow.warned_at.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    flow.warned_at = Some(Instant::now());
                    warn = true;
                }
                tracing::info!(
                    chat,
                    "a chat is flooding: holding its photos, absorbing the rest"
                );
            }
            if flow.flooding && !kept_in_flood(&update) {
                absorbed(1);
                None
            } else if flow.held.is_empty() && flow.in_flight < IN_FLIGHT {
                flow.in_flight += 1;
                Some(update)
            } else if flow.held.len() < HOLD_MAX {
                flow.held.push_back(update);
                None
            } else {
                absorbed(1);
                None
            }
        };
        if warn && chat > 0 {
            (self.on_flood)(chat);
        }
        forward
    }

    /// An update counted by [`Self::arrive`] was handled: the chat's next
    /// held update goes on.
    pub(crate) fn done(&self, update: &Update) {
        let Some(chat) = chat_of(update) else {
            return;
        };
        let mut chats = self.chats();
        let Some(flow) = chats.get_mut(&chat) else {
            return;
        };
        flow.in_flight = flow.in_flight.saturating_sub(1);
        while flow.in_flight < IN_FLIGHT {
            let Some(next) = flow.held.pop_front() else {
                break;
            };
            if flow.flooding_now() && !kept_in_flood(&next) {
                absorbed(1);
                continue;
            }
            flow.in_flight += 1;
            if self.release.send(next).is_err() {
                // The dispatcher is gone: nothing will be handled any more.
                flow.in_flight -= 1;
            }
        }
        if flow.forgettable() {
            chats.remove(&chat);
        }
    }

    /// Whether the handler tree skips this update: it reached the
    /// dispatcher before its chat began to flood, and is absorbed now
    /// (counted as the outcome "absorbed").
    pub(crate) fn absorbs(&self, update: &Update) -> bool {
        chat_of(update).is_some_and(|chat| self.is_flooding(chat)) && !kept_in_flood(update)
    }

    /// Whether the chat is flooding now (its photos' refusals go
    /// unanswered: the counter says where the set stands).
    pub(crate) fn is_flooding(&self, chat: i64) -> bool {
        self.chats().get(&chat).is_some_and(ChatFlow::flooding_now)
    }

    /// Every held update, to the dispatcher at once (the stop).
    fn release_all(&self) -> Vec<Update> {
        let mut chats = self.chats();
        let mut all = Vec::new();
        for flow in chats.values_mut() {
            flow.in_flight += flow.held.len();
            all.extend(flow.held.drain(..));
        }
        all
    }
}

/// Counts updates absorbed before they reached the handler tree.
fn absorbed(count: usize) {
    if count > 0 {
        crate::ops::metrics::flood_dropped(count as u64);
    }
}

/// Long polling behind the guard: the dispatcher's update listener.
pub(crate) struct Guarded<L> {
    inner: L,
    guard: Arc<FloodGuard>,
    released: tokio::sync::mpsc::UnboundedReceiver<Update>,
}

impl<L> Guarded<L> {
    pub(crate) fn new(
        inner: L,
        guard: Arc<FloodGuard>,
        released: tokio::sync::mpsc::UnboundedReceiver<Update>,
    ) -> Self {
        Self {
            inner,
            guard,
            released,
        }
    }
}

/// The stream of [`Guarded`]: updates released by the guard first, then
/// long polling's, through [`FloodGuard::arrive`]. When polling ends (the
/// stop), every held update follows, then the stream ends.
pub(crate) struct GuardedStream<'a, S> {
    upstream: Option<Pin<Box<S>>>,
    guard: &'a FloodGuard,
    released: &'a mut tokio::sync::mpsc::UnboundedReceiver<Update>,
    flushed: VecDeque<Update>,
}

impl<S, E> Stream for GuardedStream<'_, S>
where
    S: Stream<Item = Result<Update, E>>,
{
    type Item = Result<Update, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(Some(update)) = this.released.poll_recv(cx) {
            return Poll::Ready(Some(Ok(update)));
        }
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(this.flushed.pop_front().map(Ok));
        };
        loop {
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(update))) => {
                    if let Some(update) = this.guard.arrive(update) {
                        return Poll::Ready(Some(Ok(update)));
                    }
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => {
                    this.upstream = None;
                    while let Ok(update) = this.released.try_recv() {
                        this.flushed.push_back(update);
                    }
                    this.flushed.extend(this.guard.release_all());
                    return Poll::Ready(this.flushed.pop_front().map(Ok));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<'a, L> AsUpdateStream<'a> for Guarded<L>
where
    L: UpdateListener + Send + 'a,
    <L as UpdateListener>::Err: Send + 'a,
{
    type StreamErr = <L as UpdateListener>::Err;
    type Stream = GuardedStream<'a, <L as AsUpdateStream<'a>>::Stream>;

    fn as_stream(&'a mut self) -> Self::Stream {
        GuardedStream {
            upstream: Some(Box::pin(self.inner.as_stream())),
            guard: &self.guard,
            released: &mut self.released,
            flushed: VecDeque::new(),
        }
    }
}

impl<L> UpdateListener for Guarded<L>
where
    L: UpdateListener + Send + 'static,
    <L as UpdateListener>::Err: Send + 'static,
{
    type Err = <L as UpdateListener>::Err;

    fn stop_token(&mut self) -> StopToken {
        self.inner.stop_token()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.inner.hint_allowed_updates(hint);
    }
}
