//! The bot client's pacing (`chat::paced`, in place of teloxide's Throttle):
//! replies go out at once when no limit is near, sends stay within the
//! stand-in's real limits, and a 429 that still comes is waited out.

use std::time::{Duration, Instant};

use pinglass::chat::{TgBot, build_bot};
use pinglass::telegram::standin::{Handle, Options, RateLimits, UserSpec};
use teloxide::prelude::*;
use teloxide::types::{InputFile, InputMedia, InputMediaPhoto};

const TOKEN: &str = "777:pacing-token";

async fn setup(limits: RateLimits, chat: u32, overall: u32) -> (tempfile::TempDir, Handle, TgBot) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(TOKEN, "PinGlassPacingBot", dir.path().join("telegram"));
    options.limits = limits;
    let standin = pinglass::telegram::standin::start(options).await.unwrap();
    let mut telegram = pinglass::harness::local_config(dir.path())
        .unwrap()
        .telegram;
    telegram.messages_per_sec_chat = chat;
    telegram.messages_per_sec_overall = overall;
    let bot = build_bot(TOKEN, standin.base_url(), &telegram).unwrap();
    (dir, standin, bot)
}

fn users(standin: &Handle, from: i64, n: i64) -> Vec<UserSpec> {
    (from..from + n)
        .map(|id| {
            let user = UserSpec::new(id, "Ира");
            standin.sandbox().send_text(&user, "/start").unwrap();
            user
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_goes_out_at_once_when_no_limit_is_near() {
    let (_dir, standin, bot) = setup(RateLimits::default(), 1, 30).await;
    let users = users(&standin, 9100, 10);
    // One reply after another, as a handler answering users one by one: with
    // teloxide's Throttle each waited for its worker's 250 ms round.
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for user in &users {
        let sent = Instant::now();
        bot.send_message(ChatId(user.id), "ok").await.unwrap();
        slowest = slowest.max(sent.elapsed());
    }
    let paced = started.elapsed();
    eprintln!("10 sequential replies to 10 chats: Paced {paced:?} (slowest {slowest:?})");
    assert!(
        slowest < Duration::from_millis(150),
        "a reply waited {slowest:?} with no limit near"
    );
    assert_eq!(standin.sandbox().counters().too_many_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_stay_within_the_real_limits_and_lose_nothing() {
    let (_dir, standin, bot) = setup(RateLimits::default(), 1, 30).await;
    let users = users(&standin, 9200, 45);
    // 45 chats at once: 15 go in the bot's burst, the rest at 30 a second.
    let started = Instant::now();
    let sends = users
        .iter()
        .map(|u| bot.send_message(ChatId(u.id), "hello").into_future());
    let results = futures::future::join_all(sends).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "45 messages cannot go in {:?} at 30 a second",
        started.elapsed()
    );
    // An album of 5 uses up one chat's burst and more: the next message to
    // that chat waits until its bucket holds a message again (4 s).
    let photo = pinglass::harness::chat::photo_jpeg("pacing", 64, 64);
    let media: Vec<InputMedia> = (0..5)
        .map(|i| {
            InputMedia::Photo(InputMediaPhoto::new(
                InputFile::memory(photo.clone()).file_name(format!("{i}.jpg")),
            ))
        })
        .collect();
    let chat = ChatId(users[0].id);
    // Real time is the scenario: the overall bucket refills after the 45
    // sends, so the wait measured next is the chat's own.
    tokio::time::sleep(Duration::from_secs(1)).await;
    bot.send_media_group(chat, media).await.unwrap();
    let after_album = Instant::now();
    bot.send_message(chat, "after the album").await.unwrap();
    assert!(
        after_album.elapsed() >= Duration::from_millis(2500),
        "the message after an album of 5 waited only {:?}",
        after_album.elapsed()
    );
    let counters = standin.sandbox().counters();
    assert_eq!(counters.too_many_requests, 0, "no 429: {counters:?}");
    assert_eq!(counters.messages_sent(users[0].id), 1 + 5 + 1);
    let total: u64 = counters.messages_sent_per_chat.values().sum();
    assert_eq!(total, 45 + 5 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_the_message_still_arrives() {
    // Telegram stricter than the bot believes: one message a second, no burst.
    let strict = RateLimits {
        per_chat_per_sec: 1.0,
        per_chat_burst: 1,
        global_per_sec: 30.0,
        global_burst: 30,
        enabled: true,
    };
    let (_dir, standin, bot) = setup(strict, 5, 30).await;
    let user = &users(&standin, 9300, 1)[0];
    let sends = (0..3).map(|i| {
        bot.send_message(ChatId(user.id), format!("{i}"))
            .into_future()
    });
    let results = futures::future::join_all(sends).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let counters = standin.sandbox().counters();
    assert!(
        counters.too_many_requests >= 1,
        "the stand-in refused some: {counters:?}"
    );
    assert_eq!(
        counters.messages_sent(user.id),
        3,
        "every message arrived once"
    );
}
