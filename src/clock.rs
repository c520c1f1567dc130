//! The application's clock: the system time plus an offset that only tests
//! and measurements move (to see what happens "a day later" without waiting).
//! The side task reads time from here; so may handlers, through `BotCtx`.

use std::sync::atomic::{AtomicI64, Ordering};
#[cfg(feature = "testkit")]
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// The real time: what `pinglass run` uses.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Milliseconds since the Unix epoch, moved by the offset.
    pub fn now_ms(&self) -> i64 {
        crate::db::now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Sets this clock to `now_ms` (tests and transcripts that report on a
    /// fixed business: `@seed business`), forwards or backwards.
    pub fn set_now(&self, now_ms: i64) {
        self.offset_ms
            .store(now_ms - crate::db::now_ms(), Ordering::Relaxed);
    }

    /// Moves this clock forward (tests: "a day passes").
    #[cfg(feature = "testkit")]
    pub(crate) fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}
