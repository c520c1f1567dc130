//! Sending limits: past the per-chat limit a 429 with retry_after and
//! nothing sent; a paced bot stays under it.

use super::*;

#[tokio::test]
async fn sending_past_the_per_chat_limit_gives_retry_after_and_sends_nothing() {
    let setup = setup().await;
    let sandbox = setup.standin.sandbox();
    let user = alice();
    sandbox.send_text(&user, "/start").expect("user starts");
    for index in 0..3 {
        setup
            .bot
            .send_message(ChatId(user.id), format!("сообщение {index}"))
            .await
            .expect("within the burst");
    }
    let refused = setup.bot.send_message(ChatId(user.id), "лишнее").await;
    match refused {
        Err(RequestError::RetryAfter(seconds)) => assert!(seconds.seconds() >= 1),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    let counters = sandbox.counters();
    assert_eq!(counters.too_many_requests, 1);
    assert_eq!(counters.messages_sent(user.id), 3);
    assert_eq!(sandbox.bot_messages(user.id).len(), 3);
}

#[tokio::test]
async fn a_paced_bot_keeps_ten_messages_to_one_chat_under_the_limit() {
    // Faster limits keep the test short. The bot's pacing (`chat::paced`) is set just under
    // them (4 a second against 5), as a bot should be, so that network jitter cannot cause a 429.
    let limits = RateLimits {
        per_chat_per_sec: 5.0,
        per_chat_burst: 5,
        global_per_sec: 30.0,
        global_burst: 30,
        enabled: true,
    };
    let setup = setup_with_limits(limits).await;
    let sandbox = setup.standin.sandbox();
    let blasted = UserSpec::new(3003, "Вера");
    let throttled = alice();
    sandbox.send_text(&blasted, "/start").expect("user starts");
    sandbox
        .send_text(&throttled, "/start")
        .expect("user starts");

    // Without pacing, ten messages at once overrun the chat's limit.
    let blast = (0..10).map(|index| {
        setup
            .bot
            .send_message(ChatId(blasted.id), format!("{index}"))
            .into_future()
    });
    let blast_results = futures::future::join_all(blast).await;
    assert!(
        blast_results
            .iter()
            .any(|result| matches!(result, Err(RequestError::RetryAfter(_))))
    );
    let refused_before = sandbox.counters().too_many_requests;
    assert!(refused_before > 0);

    let bot = pinglass::chat::paced::Paced::new(
        setup.bot.clone(),
        setup.bot.clone(),
        pinglass::chat::paced::Limiter::new(4, 30),
    );
    let sends = (0..10).map(|index| {
        bot.send_message(ChatId(throttled.id), format!("{index}"))
            .into_future()
    });
    let results = futures::future::join_all(sends).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        sandbox.counters().too_many_requests,
        refused_before,
        "the paced bot caused no 429"
    );
    assert_eq!(sandbox.counters().messages_sent(throttled.id), 10);
}
