//! Sending limits, modelled as token buckets: one per chat and one for the whole bot.
//!
//! A send is allowed when both buckets hold at least one token; it then takes one token per
//! message from each (an album of N takes N), which may leave a bucket in debt, so after a
//! big album the chat is silent for a while — as on real Telegram.

use std::{collections::HashMap, time::Instant};

use serde::{Deserialize, Serialize};

/// The sending limits of the stand-in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimits {
    /// Messages per second one chat refills with (Telegram: about 1).
    pub per_chat_per_sec: f64,
    /// How many messages one chat may receive at once before the rate applies.
    pub per_chat_burst: u32,
    /// Messages per second for the whole bot (Telegram: about 30).
    pub global_per_sec: f64,
    /// How many messages the bot may send at once overall.
    pub global_burst: u32,
    /// When false, nothing is limited.
    pub enabled: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_chat_per_sec: 1.0,
            per_chat_burst: 3,
            global_per_sec: 30.0,
            global_burst: 30,
            enabled: true,
        }
    }
}

impl RateLimits {
    /// No limits at all.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct TokenBucket {
    tokens: f64,
    updated_at: Instant,
}

impl TokenBucket {
    fn full(burst: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(burst.max(1)),
            updated_at: now,
        }
    }

    fn refill(&mut self, rate_per_sec: f64, burst: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate_per_sec).min(f64::from(burst.max(1)));
        self.updated_at = now;
    }

    /// Whole seconds until the bucket holds one token again (at least 1).
    fn seconds_until_one_token(&self, rate_per_sec: f64) -> u64 {
        if rate_per_sec <= 0.0 {
            return 3600;
        }
        let missing = (1.0 - self.tokens).max(0.0);
        let seconds = (missing / rate_per_sec).ceil();
        // The value is positive and small; the cast cannot truncate meaningfully.
        (seconds as u64).max(1)
    }
}

/// The limiter state kept inside the stand-in's world.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: RateLimits,
    global: TokenBucket,
    per_chat: HashMap<i64, TokenBucket>,
}

impl RateLimiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        let now = Instant::now();
        Self {
            limits,
            global: TokenBucket::full(limits.global_burst, now),
            per_chat: HashMap::new(),
        }
    }

    /// Replaces the limits and refills every bucket.
    #[cfg(feature = "testkit")]
    pub(crate) fn set_limits(&mut self, limits: RateLimits) {
        *self = Self::new(limits);
    }

    /// Takes `messages` tokens for `chat_id`, or says how many seconds to wait.
    pub(crate) fn try_send(
        &mut self,
        chat_id: i64,
        messages: u32,
        now: Instant,
    ) -> Result<(), u64> {
        if !self.limits.enabled {
            return Ok(());
        }
        let limits = self.limits;
        self.global
            .refill(limits.global_per_sec, limits.global_burst, now);
        let chat = self
            .per_chat
            .entry(chat_id)
            .or_insert_with(|| TokenBucket::full(limits.per_chat_burst, now));
        chat.refill(limits.per_chat_per_sec, limits.per_chat_burst, now);

        let chat_wait =
            (chat.tokens < 1.0).then(|| chat.seconds_until_one_token(limits.per_chat_per_sec));
        let global_wait = (self.global.tokens < 1.0)
            .then(|| self.global.seconds_until_one_token(limits.global_per_sec));
        match (chat_wait, global_wait) {
            (None, None) => {
                chat.tokens -= f64::from(messages);
                self.global.tokens -= f64::from(messages);
                Ok(())
            }
            (chat_wait, global_wait) => Err(chat_wait.unwrap_or(0).max(global_wait.unwrap_or(0))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_chat_gets_its_burst_then_waits_and_refills() {
        let mut limiter = RateLimiter::new(RateLimits::default());
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.try_send(1, 1, start), Ok(()));
        }
        assert_eq!(limiter.try_send(1, 1, start), Err(1));
        // Another chat is not affected.
        assert_eq!(limiter.try_send(2, 1, start), Ok(()));
        assert_eq!(
            limiter.try_send(1, 1, start + Duration::from_millis(1000)),
            Ok(())
        );
    }

    #[test]
    fn an_album_takes_one_token_per_item_and_leaves_debt() {
        let mut limiter = RateLimiter::new(RateLimits::default());
        let start = Instant::now();
        assert_eq!(limiter.try_send(1, 10, start), Ok(()));
        // Three tokens minus ten leaves -7: eight seconds until one token.
        assert_eq!(limiter.try_send(1, 1, start), Err(8));
    }

    #[test]
    fn the_global_bucket_limits_across_chats() {
        let limits = RateLimits {
            global_burst: 2,
            global_per_sec: 1.0,
            ..RateLimits::default()
        };
        let mut limiter = RateLimiter::new(limits);
        let start = Instant::now();
        assert_eq!(limiter.try_send(1, 1, start), Ok(()));
        assert_eq!(limiter.try_send(2, 1, start), Ok(()));
        assert_eq!(limiter.try_send(3, 1, start), Err(1));
    }
}
