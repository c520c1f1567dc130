//! `Paced`: the bot client's own pacing of sends within Telegram's limits,
//! in place of teloxide's `Throttle` adaptor.
//!
//! `Throttle` (teloxide-core 0.13) releases queued requests from a worker
//! loop that sleeps a fixed 250 ms after every round, so every send waits up
//! to 250 ms even when no limit is near: a handler that answers one message
//! took ~251 ms (benches/hot_paths.rs). `Paced` instead takes a token from
//! two token buckets right before the request — the chat's (`[telegram]
//! messages_per_sec_chat`, a burst of [`CHAT_BURST`]) and the bot's
//! (`messages_per_sec_overall`, a burst of half a second's worth) — and waits
//! only when one is empty, for exactly as long as it takes to refill. The
//! bursts are kept below Telegram's (the stand-in's 3 and 30) because a
//! request reaches Telegram some milliseconds after its token was taken, and
//! requests overtake each other on the way: the margin absorbs that jitter. An album counts as
//! one message per photo, as Telegram counts it. A 429 that still comes back
//! is honoured: the chat is frozen for `retry_after`, the request sent again
//! (up to [`MAX_RETRIES`] times), and the 429 counted in
//! `pinglass_telegram_retry_after_total`. Every other method (edits, callback
//! answers, getUpdates, downloads) is passed through untouched. When the
//! bot's bucket runs short, sends go by [`Priority`]: a paid set's portraits
//! before answers, answers before onboarding and reminders.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use teloxide::net::Download;
use teloxide::requests::{HasPayload, Output, Request, Requester};
use teloxide::types::*;
use teloxide::{Bot, RequestError};
use url::Url;

/// How many messages one chat may receive at once before its rate applies
/// (one below Telegram's, see the module documentation).
pub(crate) const CHAT_BURST: u32 = 2;
/// How many times a request that met a 429 is sent again before the 429 is
/// returned to the caller.
pub(crate) const MAX_RETRIES: u32 = 3;

/// A token bucket; `frozen_until` is set by a 429's `retry_after`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    frozen_until: Option<Instant>,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            at: now,
            frozen_until: None,
        }
    }

    fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
    }

    /// How long until one token is there (zero when it is).
    fn wait(&self, rate: f64, now: Instant) -> Duration {
        let frozen = self
            .frozen_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        let empty = if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / rate)
        };
        frozen.max(empty)
    }
}

/// What a send is for, when the bot's 30 messages a second run short: a
/// send waiting for the bot's bucket goes before every send of a later
/// class (issue 15). Within a chat, order is the chat's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Portraits of paid sets, payment links and payment outcomes.
    Paid = 0,
    /// Answers to what a user did (button presses, messages), admin replies.
    Answer = 1,
    /// Onboarding and reminders.
    Background = 2,
}

impl Priority {
    /// The class of a send made outside any [`with_priority`].
    pub(crate) const DEFAULT: Priority = Priority::Answer;

    /// The queue's column (`message_queue.priority`): 1, 2, 3.
    pub fn rank(self) -> i64 {
        self as i64 + 1
    }

    pub fn from_rank(rank: i64) -> Priority {
        match rank {
            1 => Priority::Paid,
            3 => Priority::Background,
            _ => Priority::Answer,
        }
    }
}

tokio::task_local! {
    static PRIORITY: Priority;
}

/// Runs `work` with its sends in `priority`'s class.
pub async fn with_priority<F: std::future::Future>(priority: Priority, work: F) -> F::Output {
    PRIORITY.scope(priority, work).await
}

fn current_priority() -> Priority {
    PRIORITY.try_with(|p| *p).unwrap_or(Priority::DEFAULT)
}

/// What the limiter holds: the bot's bucket, each chat's, and how many
/// sends of each class wait for the bot's bucket.
#[derive(Debug)]
struct LimiterState {
    global: Bucket,
    chats: HashMap<i64, Bucket>,
    waiting: [u32; 3],
}

/// The two limits every send passes: its chat's and the bot's.
#[derive(Debug)]
pub struct Limiter {
    chat_rate: f64,
    chat_burst: f64,
    global_rate: f64,
    global_burst: f64,
    state: Mutex<LimiterState>,
}

/// One send's place among the waiters of its class, given up when the send
/// takes its tokens or is dropped.
struct Waiter<'a> {
    limiter: &'a Limiter,
    priority: Priority,
    counted: bool,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.counted {
            let mut state = self.limiter.lock();
            let waiting = &mut state.waiting[self.priority as usize];
            *waiting = waiting.saturating_sub(1);
        }
    }
}

impl Limiter {
    pub fn new(per_sec_chat: u32, per_sec_overall: u32) -> Self {
        let now = Instant::now();
        let global_burst = f64::from((per_sec_overall / 2).max(1));
        Self {
            chat_rate: f64::from(per_sec_chat.max(1)),
            chat_burst: f64::from(CHAT_BURST),
            global_rate: f64::from(per_sec_overall.max(1)),
            global_burst,
            state: Mutex::new(LimiterState {
                global: Bucket::full(global_burst, now),
                chats: HashMap::new(),
                waiting: [0; 3],
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `weight` messages for `chat` when both buckets hold a token and
    /// no send of an earlier class waits for the bot's, or says how long to
    /// wait. A send held by the bot's bucket counts among its class's
    /// waiters meanwhile.
    fn try_take(
        &self,
        chat: i64,
        weight: u32,
        waiter: &mut Waiter<'_>,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut state = self.lock();
        let LimiterState {
            global,
            chats,
            waiting,
        } = &mut *state;
        if chats.len() > 4096 {
            // Chats whose bucket refilled completely need no entry.
            let (rate, burst) = (self.chat_rate, self.chat_burst);
            chats.retain(|_, b| {
                b.frozen_until.is_some_and(|u| u > now)
                    || b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        global.refill(self.global_rate, self.global_burst, now);
        let bucket = chats
            .entry(chat)
            .or_insert_with(|| Bucket::full(self.chat_burst, now));
        bucket.refill(self.chat_rate, self.chat_burst, now);
        let class = waiter.priority as usize;
        let ahead = waiting[..class].iter().any(|&n| n > 0);
        let mut count = |counted: bool| {
            if counted != waiter.counted {
                waiter.counted = counted;
                if counted {
                    waiting[class] += 1;
                } else {
                    waiting[class] = waiting[class].saturating_sub(1);
                }
            }
        };
        let chat_wait = bucket.wait(self.chat_rate, now);
        if chat_wait > Duration::ZERO {
            // Held by its own chat: the bot's bucket is not what it waits for.
            count(false);
            return Err(chat_wait);
        }
        let global_wait = global.wait(self.global_rate, now);
        if global_wait > Duration::ZERO || ahead {
            count(true);
            // Behind an earlier class: look again once the next token is in.
            let token = Duration::from_secs_f64(1.0 / self.global_rate);
            return Err(if ahead {
                global_wait.max(token)
            } else {
                global_wait
            });
        }
        count(false);
        bucket.frozen_until = None;
        bucket.tokens -= f64::from(weight);
        global.tokens -= f64::from(weight);
        Ok(())
    }

    /// Waits until `weight` messages may go to `chat`, and takes them; sends
    /// of an earlier class waiting for the bot's bucket go first.
    pub(crate) async fn acquire(&self, chat: i64, weight: u32, priority: Priority) {
        let mut waiter = Waiter {
            limiter: self,
            priority,
            counted: false,
        };
        loop {
            match self.try_take(chat, weight, &mut waiter, Instant::now()) {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Telegram said "retry after": nothing more to this chat until then.
    pub(crate) fn freeze(&self, chat: i64, after: Duration) {
        let now = Instant::now();
        let mut state = self.lock();
        let bucket = state
            .chats
            .entry(chat)
            .or_insert_with(|| Bucket::full(self.chat_burst, now));
        bucket.frozen_until = Some(now + after);
    }
}

/// The key of a send's chat in the limiter.
trait ChatKey {
    fn chat_key(&self) -> i64;
}

impl ChatKey for Recipient {
    fn chat_key(&self) -> i64 {
        match self {
            Recipient::Id(id) => id.0,
            Recipient::ChannelUsername(name) => {
                // A stable key for a channel named by its username.
                name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                }) as i64
            }
        }
    }
}

impl ChatKey for ChatId {
    fn chat_key(&self) -> i64 {
        self.0
    }
}

/// The bot client with sends paced (see the module documentation).
#[derive(Clone, Debug)]
pub struct Paced {
    /// Everything but the sends (getUpdates: its timeout fits the long poll).
    inner: Bot,
    /// The sends, whose HTTP client allows `[telegram] send_timeout_secs`.
    sender: Bot,
    limiter: Arc<Limiter>,
}

impl Paced {
    /// `sender` is the same bot with the HTTP client for sends.
    pub fn new(inner: Bot, sender: Bot, limiter: Limiter) -> Self {
        Self {
            inner,
            sender,
            limiter: Arc::new(limiter),
        }
    }

    pub(crate) fn inner(&self) -> &Bot {
        &self.inner
    }
}

/// A send request that waits for its tokens and retries after a 429.
#[must_use = "Requests are lazy and do nothing unless sent"]
#[derive(Clone)]
pub struct PacedRequest<R: HasPayload> {
    request: Arc<R>,
    /// The chat and how many messages the request sends.
    key: fn(&R::Payload) -> (i64, u32),
    limiter: Arc<Limiter>,
}

impl<R: HasPayload + Clone> HasPayload for PacedRequest<R> {
    type Payload = R::Payload;

    fn payload_mut(&mut self) -> &mut Self::Payload {
        Arc::make_mut(&mut self.request).payload_mut()
    }

    fn payload_ref(&self) -> &Self::Payload {
        self.request.payload_ref()
    }
}

async fn send_paced<R>(
    request: Arc<R>,
    (chat, weight): (i64, u32),
    limiter: Arc<Limiter>,
    priority: Priority,
) -> Result<Output<R>, RequestError>
where
    R: Request<Err = RequestError> + Send + Sync + 'static,
    Output<R>: Send,
{
    let mut retries = 0;
    loop {
        limiter.acquire(chat, weight, priority).await;
        match request.send_ref().await {
            Err(RequestError::RetryAfter(after)) if retries < MAX_RETRIES => {
                retries += 1;
                crate::ops::metrics::telegram_retry_after();
                tracing::warn!(
                    chat_id = chat,
                    retry_after_secs = after.seconds(),
                    "Telegram asked to retry later; waiting"
                );
                limiter.freeze(chat, after.duration());
            }
            result => return result,
        }
    }
}

impl<R> Request for PacedRequest<R>
where
    R: Request<Err = RequestError> + Clone + Send + Sync + 'static,
    Output<R>: Send,
{
    type Err = RequestError;
    type Send = BoxFuture<'static, Result<Output<R>, RequestError>>;
    type SendRef = BoxFuture<'static, Result<Output<R>, RequestError>>;

    fn send(self) -> Self::Send {
        let key = (self.key)(self.request.payload_ref());
        Box::pin(send_paced(
            self.request,
            key,
            self.limiter,
            current_priority(),
        ))
    }

    fn send_ref(&self) -> Self::SendRef {
        let key = (self.key)(self.request.payload_ref());
        Box::pin(send_paced(
            self.request.clone(),
            key,
            self.limiter.clone(),
            current_priority(),
        ))
    }
}

impl<R> IntoFuture for PacedRequest<R>
where
    R: Request<Err = RequestError> + Clone + Send + Sync + 'static,
    Output<R>: Send,
{
    type Output = Result<Output<R>, RequestError>;
    type IntoFuture = BoxFuture<'static, Result<Output<R>, RequestError>>;

    fn into_future(self) -> Self::IntoFuture {
        self.send()
    }
}

include!("paced_forward.rs");

/// A paced send: one message (an album: one per photo) to the payload's chat.
macro_rules! paced {
    (send_media_group $this:ident ($($arg:ident : $T:ty),*)) => {
        PacedRequest {
            request: Arc::new($this.sender.send_media_group($($arg),*)),
            key: |p| (p.chat_id.chat_key(), u32::try_from(p.media.len()).unwrap_or(u32::MAX).max(1)),
            limiter: $this.limiter.clone(),
        }
    };
    ($m:ident $this:ident ($($arg:ident : $T:ty),*)) => {
        PacedRequest {
            request: Arc::new($this.sender.$m($($arg),*)),
            key: |p| (p.chat_id.chat_key(), 1),
            limiter: $this.limiter.clone(),
        }
    };
}

macro_rules! paced_ty {
    ($T:ident) => {
        PacedRequest<<Bot as Requester>::$T>
    };
}

macro_rules! through {
    ($m:ident $this:ident ($($arg:ident : $T:ty),*)) => {
        $this.inner().$m($($arg),*)
    };
}

macro_rules! through_ty {
    ($T:ident) => {
        <Bot as Requester>::$T
    };
}

impl Requester for Paced {
    type Err = RequestError;

    paced_forward! {
        send_message,
        forward_message,
        forward_messages,
        copy_message,
        copy_messages,
        send_photo,
        send_audio,
        send_document,
        send_video,
        send_animation,
        send_voice,
        send_video_note,
        send_paid_media,
        send_media_group,
        send_location,
        send_venue,
        send_contact,
        send_poll,
        send_checklist,
        send_dice,
        send_sticker,
        send_invoice,
        send_game
        => paced, paced_ty
    }

    paced_forward! {
        get_me,
        log_out,
        close,
        get_updates,
        set_webhook,
        delete_webhook,
        get_webhook_info,
        edit_message_live_location,
        edit_message_live_location_inline,
        stop_message_live_location,
        stop_message_live_location_inline,
        edit_message_checklist,
        send_chat_action,
        set_message_reaction,
        get_user_profile_photos,
        set_user_emoji_status,
        get_file,
        kick_chat_member,
        ban_chat_member,
        unban_chat_member,
        restrict_chat_member,
        promote_chat_member,
        set_chat_administrator_custom_title,
        ban_chat_sender_chat,
        unban_chat_sender_chat,
        set_chat_permissions,
        export_chat_invite_link,
        create_chat_invite_link,
        edit_chat_invite_link,
        create_chat_subscription_invite_link,
        edit_chat_subscription_invite_link,
        revoke_chat_invite_link,
        set_chat_photo,
        delete_chat_photo,
        set_chat_title,
        set_chat_description,
        pin_chat_message,
        unpin_chat_message,
        unpin_all_chat_messages,
        leave_chat,
        get_chat,
        get_chat_administrators,
        get_chat_members_count,
        get_chat_member_count,
        get_chat_member,
        set_chat_sticker_set,
        delete_chat_sticker_set,
        get_forum_topic_icon_stickers,
        create_forum_topic,
        edit_forum_topic,
        close_forum_topic,
        reopen_forum_topic,
        delete_forum_topic,
        unpin_all_forum_topic_messages,
        edit_general_forum_topic,
        close_general_forum_topic,
        reopen_general_forum_topic,
        hide_general_forum_topic,
        unhide_general_forum_topic,
        unpin_all_general_forum_topic_messages,
        answer_callback_query,
        get_user_chat_boosts,
        set_my_commands,
        get_business_connection,
        get_my_commands,
        set_my_name,
        get_my_name,
        set_my_description,
        get_my_description,
        set_my_short_description,
        get_my_short_description,
        set_chat_menu_button,
        get_chat_menu_button,
        set_my_default_administrator_rights,
        get_my_default_administrator_rights,
        delete_my_commands,
        answer_inline_query,
        answer_web_app_query,
        save_prepared_inline_message,
        edit_message_text,
        edit_message_text_inline,
        edit_message_caption,
        edit_message_caption_inline,
        edit_message_media,
        edit_message_media_inline,
        edit_message_reply_markup,
        edit_message_reply_markup_inline,
        stop_poll,
        delete_message,
        delete_messages,
        get_sticker_set,
        get_custom_emoji_stickers,
        upload_sticker_file,
        create_new_sticker_set,
        add_sticker_to_set,
        set_sticker_position_in_set,
        delete_sticker_from_set,
        replace_sticker_in_set,
        set_sticker_set_thumbnail,
        set_custom_emoji_sticker_set_thumbnail,
        set_sticker_set_title,
        delete_sticker_set,
        set_sticker_emoji_list,
        set_sticker_keywords,
        set_sticker_mask_position,
        get_available_gifts,
        send_gift,
        send_gift_chat,
        gift_premium_subscription,
        verify_user,
        verify_chat,
        remove_user_verification,
        remove_chat_verification,
        read_business_message,
        delete_business_messages,
        set_business_account_name,
        set_business_account_username,
        set_business_account_bio,
        set_business_account_profile_photo,
        remove_business_account_profile_photo,
        set_business_account_gift_settings,
        get_business_account_star_balance,
        transfer_business_account_stars,
        get_business_account_gifts,
        convert_gift_to_stars,
        upgrade_gift,
        transfer_gift,
        post_story,
        edit_story,
        delete_story,
        answer_shipping_query,
        create_invoice_link,
        answer_pre_checkout_query,
        get_my_star_balance,
        get_star_transactions,
        refund_star_payment,
        edit_user_star_subscription,
        set_passport_data_errors,
        set_game_score,
        set_game_score_inline,
        approve_chat_join_request,
        decline_chat_join_request,
        get_game_high_scores
        => through, through_ty
    }
}

impl Download for Paced {
    type Err<'dst> = <Bot as Download>::Err<'dst>;
    type Fut<'dst> = <Bot as Download>::Fut<'dst>;

    fn download_file<'dst>(
        &self,
        path: &str,
        destination: &'dst mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    ) -> Self::Fut<'dst> {
        self.inner.download_file(path, destination)
    }

    type StreamErr = <Bot as Download>::StreamErr;
    type Stream = <Bot as Download>::Stream;

    fn download_file_stream(&self, path: &str) -> Self::Stream {
        self.inner.download_file_stream(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One try of a send of the default class that gives up its place after.
    fn take(limiter: &Limiter, chat: i64, weight: u32, now: Instant) -> Result<(), Duration> {
        take_as(limiter, chat, weight, Priority::DEFAULT, now)
    }

    fn take_as(
        limiter: &Limiter,
        chat: i64,
        weight: u32,
        priority: Priority,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut waiter = Waiter {
            limiter,
            priority,
            counted: false,
        };
        limiter.try_take(chat, weight, &mut waiter, now)
    }

    #[test]
    fn a_chat_gets_its_burst_then_one_a_second() {
        let limiter = Limiter::new(1, 30);
        let now = Instant::now();
        for _ in 0..CHAT_BURST {
            assert_eq!(take(&limiter, 1, 1, now), Ok(()));
        }
        let wait = take(&limiter, 1, 1, now).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Another chat is not held up.
        assert_eq!(take(&limiter, 2, 1, now), Ok(()));
        assert_eq!(take(&limiter, 1, 1, now + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn the_bot_sends_at_most_its_overall_rate() {
        let limiter = Limiter::new(1, 30);
        let now = Instant::now();
        for chat in 0..15 {
            assert_eq!(take(&limiter, chat, 1, now), Ok(()));
        }
        let wait = take(&limiter, 100, 1, now).unwrap_err();
        assert!(wait <= Duration::from_millis(34), "{wait:?}");
        assert_eq!(
            take(&limiter, 100, 1, now + Duration::from_millis(34)),
            Ok(())
        );
    }

    #[test]
    fn an_album_counts_every_photo_and_a_429_freezes_the_chat() {
        let limiter = Limiter::new(1, 30);
        let now = Instant::now();
        assert_eq!(take(&limiter, 1, 10, now), Ok(()));
        // 10 taken from a burst of 2: 9 s until the chat has a token again.
        let wait = take(&limiter, 1, 1, now).unwrap_err();
        assert!(wait >= Duration::from_secs(8), "{wait:?}");
        limiter.freeze(2, Duration::from_secs(5));
        let wait = take(&limiter, 2, 1, Instant::now()).unwrap_err();
        assert!(wait > Duration::from_secs(4), "{wait:?}");
    }

    #[test]
    fn a_paid_send_waiting_for_the_bots_bucket_goes_before_the_others() {
        let limiter = Limiter::new(1, 30);
        let now = Instant::now();
        // The bot's burst (15) is spent by 15 newcomers.
        for chat in 0..15 {
            assert_eq!(
                take_as(&limiter, chat, 1, Priority::Background, now),
                Ok(())
            );
        }
        // A paid album waits for the bot's bucket, and keeps its place.
        let mut paid = Waiter {
            limiter: &limiter,
            priority: Priority::Paid,
            counted: false,
        };
        assert!(limiter.try_take(500, 7, &mut paid, now).is_err());
        // A token later, an onboarding message still yields to it …
        let later = now + Duration::from_millis(40);
        let wait = take_as(&limiter, 100, 1, Priority::Background, later).unwrap_err();
        assert!(wait >= Duration::from_millis(30), "{wait:?}");
        assert!(take_as(&limiter, 101, 1, Priority::Answer, later).is_err());
        // … the album takes it …
        assert_eq!(limiter.try_take(500, 7, &mut paid, later), Ok(()));
        drop(paid);
        // … and with nobody of an earlier class waiting, the rest go on.
        let refilled = later + Duration::from_millis(300);
        assert_eq!(
            take_as(&limiter, 100, 1, Priority::Background, refilled),
            Ok(())
        );
    }

    #[test]
    fn a_send_held_by_its_own_chat_does_not_hold_the_others() {
        let limiter = Limiter::new(1, 30);
        let now = Instant::now();
        // A paid chat just got an album: its next send waits for the chat.
        assert_eq!(take_as(&limiter, 1, 10, Priority::Paid, now), Ok(()));
        assert!(take_as(&limiter, 1, 1, Priority::Paid, now).is_err());
        // That wait is the chat's own: others of any class go on.
        assert_eq!(take_as(&limiter, 2, 1, Priority::Background, now), Ok(()));
    }

    #[test]
    fn a_waiter_dropped_gives_up_its_place() {
        let limiter = Limiter::new(1, 30);
        let now = Instant::now();
        for chat in 0..15 {
            assert_eq!(take(&limiter, chat, 1, now), Ok(()));
        }
        {
            let mut paid = Waiter {
                limiter: &limiter,
                priority: Priority::Paid,
                counted: false,
            };
            assert!(limiter.try_take(500, 1, &mut paid, now).is_err());
        }
        let refilled = now + Duration::from_millis(100);
        assert_eq!(
            take_as(&limiter, 100, 1, Priority::Background, refilled),
            Ok(())
        );
    }
}
