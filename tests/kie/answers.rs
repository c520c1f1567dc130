//! What the client makes of Kie's answers: recordInfo shapes read
//! defensively (null too), every createTask fault classified, timeouts,
//! refused connections and the CDN's 403 transient, the API key never shown,
//! 402 for credits, 429 over the create limit.

use super::*;

// ---------------------------------------------------------------- answer shapes

#[tokio::test]
async fn record_info_shapes_are_read_defensively() {
    struct Case {
        name: &'static str,
        data: Value,
        state: TaskState,
        urls: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "unknown state is still running",
            data: json!({"taskId": "t1", "state": "paused", "resultJson": ""}),
            state: TaskState::Unknown("paused".to_owned()),
            urls: &[],
        },
        Case {
            name: "resultJson as a string holding JSON",
            data: json!({"taskId": "t1", "state": "success",
                         "resultJson": "{\"resultUrls\":[\"https://cdn.example/a.png\",\"https://cdn.example/b.png\"]}"}),
            state: TaskState::Success,
            urls: &["https://cdn.example/a.png", "https://cdn.example/b.png"],
        },
        Case {
            name: "resultJson as an object",
            data: json!({"taskId": "t1", "state": "success",
                         "resultJson": {"resultUrls": ["https://cdn.example/a.png"]}}),
            state: TaskState::Success,
            urls: &["https://cdn.example/a.png"],
        },
        Case {
            name: "resultJson garbage",
            data: json!({"taskId": "t1", "state": "success", "resultJson": "{not json"}),
            state: TaskState::Success,
            urls: &[],
        },
        Case {
            name: "resultJson missing, failCode a number",
            data: json!({"taskId": "t1", "state": "fail", "failCode": 500, "failMsg": null}),
            state: TaskState::Fail,
            urls: &[],
        },
    ];
    for case in cases {
        let base = replaying(
            200,
            json!({"code": 200, "msg": "success", "data": case.data}),
        )
        .await;
        let client = client_for(base, API_KEY, Duration::from_secs(5), default_user_agent());
        let record = client
            .record_info("t1")
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
        assert_eq!(record.state, case.state, "{}", case.name);
        assert_eq!(
            record.state.is_final(),
            matches!(case.state, TaskState::Success | TaskState::Fail),
            "{}",
            case.name
        );
        let urls: Vec<&str> = record.result_urls.iter().map(Url::as_str).collect();
        assert_eq!(urls, case.urls, "{}", case.name);
    }

    // `message` instead of `msg`.
    let base = replaying(200, json!({"code": 455, "message": "under maintenance"})).await;
    let client = client_for(base, API_KEY, Duration::from_secs(5), default_user_agent());
    match client.credit().await {
        Err(KieError::Api { code: 455, msg, .. }) => assert_eq!(msg, "under maintenance"),
        other => panic!("expected code 455, got {other:?}"),
    }
    // A proxy's HTML page with HTTP 502 is a transient error, not a decode failure.
    let router = Router::new().fallback(any(|| async {
        (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>")
    }));
    let client = client_for(
        serve(router).await,
        API_KEY,
        Duration::from_secs(5),
        default_user_agent(),
    );
    let error = client.record_info("t1").await.expect_err("502");
    assert!(
        matches!(
            error,
            KieError::Api {
                code: 502,
                http_status: 502,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Transient);
    // Fractional credits.
    let base = replaying(200, json!({"code": 200, "msg": "success", "data": 12.5})).await;
    let client = client_for(base, API_KEY, Duration::from_secs(5), default_user_agent());
    assert_eq!(client.credit().await.expect("credit"), 12.5);
}

#[tokio::test]
async fn record_info_null_is_a_pending_record_not_an_error() {
    let setup = setup().await;
    setup
        .standin
        .script(Fault::Task(TaskFault::HiddenForPolls(2)), 1);
    let task_id = setup.create("portrait", &["person.png"]).await;
    for _ in 0..2 {
        let record = setup
            .client
            .record_info(&task_id)
            .await
            .expect("null is not an error");
        assert_eq!(record.state, TaskState::NotYetVisible);
        assert!(!record.state.is_final());
        assert_eq!(record.task_id, task_id);
    }
    let record = setup.until_final(&task_id).await;
    assert_eq!(record.state, TaskState::Success);
    // A task id Kie does not know gets the same answer.
    let record = setup
        .client
        .record_info("0123456789abcdef0123456789abcdef")
        .await
        .expect("unknown id");
    assert_eq!(record.state, TaskState::NotYetVisible);
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn every_create_fault_is_classified() {
    let setup = setup().await;
    let cases = [
        (CreateFault::BadKey401, 401, 200, ErrorClass::Permanent),
        (CreateFault::NoCredits402, 402, 200, ErrorClass::Permanent),
        (
            CreateFault::FeatureDisabled505,
            505,
            200,
            ErrorClass::Permanent,
        ),
        (
            CreateFault::RateLimitedInBody429,
            429,
            200,
            ErrorClass::RateLimited,
        ),
        (
            CreateFault::RateLimitedHttp429,
            429,
            429,
            ErrorClass::RateLimited,
        ),
        (CreateFault::Maintenance455, 455, 200, ErrorClass::Transient),
        (CreateFault::ServerError500, 500, 200, ErrorClass::Transient),
    ];
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);
    for (fault, code, http_status, class) in cases {
        setup.standin.script(Fault::Create(fault), 1);
        assert_api_error(
            setup.client.create_task(&request).await,
            code,
            http_status,
            class,
        );
    }
    assert_eq!(setup.standin.created_count(), 0);
    // The faults were used up: the next create works.
    setup
        .client
        .create_task(&request)
        .await
        .expect("createTask after the faults");

    // A wrong key: HTTP 200 with code 401, permanent.
    let wrong_key = client_for(
        setup.standin.base_url(),
        "wrong-key",
        Duration::from_secs(5),
        default_user_agent(),
    );
    assert_api_error(
        wrong_key.create_task(&request).await,
        401,
        200,
        ErrorClass::Permanent,
    );
    assert!(matches!(
        wrong_key.credit().await,
        Err(KieError::Api { code: 401, .. })
    ));

    // A request Kie rejects (unknown model, too many references, too long a
    // prompt): 422, permanent.
    let unknown_model = setup.task("acme/unknown-model", "portrait", &["person.png"]);
    assert_api_error(
        setup.client.create_task(&unknown_model).await,
        422,
        200,
        ErrorClass::Permanent,
    );
    assert_eq!(max_references(MODEL_NANO_BANANA_PRO), Some(8));
    let nine = setup.task(MODEL_NANO_BANANA_PRO, "portrait", &["person.png"; 9]);
    assert_api_error(
        setup.client.create_task(&nine).await,
        422,
        200,
        ErrorClass::Permanent,
    );
    let mut long_prompt = setup.task(MODEL_SEEDREAM_EDIT, &"x".repeat(3001), &["person.png"]);
    assert_api_error(
        setup.client.create_task(&long_prompt).await,
        422,
        200,
        ErrorClass::Permanent,
    );
    long_prompt.prompt.truncate(3000);
    setup
        .client
        .create_task(&long_prompt)
        .await
        .expect("3000 characters is allowed");
}

#[tokio::test]
async fn a_timeout_a_refused_connection_and_the_cdn_403_are_transient() {
    let setup = setup().await;
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);

    setup.standin.script(
        Fault::Create(CreateFault::SlowAnswer(Duration::from_millis(1500))),
        1,
    );
    let impatient = client_for(
        setup.standin.base_url(),
        API_KEY,
        Duration::from_millis(150),
        default_user_agent(),
    );
    let started = Instant::now();
    let error = impatient.create_task(&request).await.expect_err("timeout");
    assert!(matches!(error, KieError::Timeout), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Transient);
    assert!(started.elapsed() < Duration::from_secs(1));

    let no_user_agent = client_for(
        setup.standin.base_url(),
        API_KEY,
        Duration::from_secs(5),
        String::new(),
    );
    assert_api_error(
        no_user_agent.create_task(&request).await,
        403,
        403,
        ErrorClass::Transient,
    );
    let error = no_user_agent.record_info("any").await.expect_err("403");
    assert_eq!(error.class(), ErrorClass::Transient);

    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let nowhere = client_for(
        Url::parse(&format!("http://127.0.0.1:{closed_port}")).expect("url"),
        API_KEY,
        Duration::from_secs(5),
        default_user_agent(),
    );
    let error = nowhere.credit().await.expect_err("connection refused");
    assert!(matches!(error, KieError::Network(_)), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn the_api_key_never_shows_in_debug_or_errors() {
    let setup = setup().await;
    assert!(!format!("{:?}", setup.client).contains(API_KEY));
    let wrong_key = client_for(
        setup.standin.base_url(),
        "secret-wrong-key",
        Duration::from_secs(5),
        default_user_agent(),
    );
    let error = wrong_key.credit().await.expect_err("401");
    assert!(!format!("{error} {error:?}").contains("secret-wrong-key"));
}

#[tokio::test]
async fn credits_running_out_answers_402() {
    let setup = setup_with(SetupOptions {
        initial_credits: 2.0 * CREDITS_PER_TASK,
        ..SetupOptions::default()
    })
    .await;
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);
    setup.client.create_task(&request).await.expect("first");
    setup.client.create_task(&request).await.expect("second");
    let result = setup.client.create_task(&request).await;
    match &result {
        Err(KieError::Api { msg, .. }) => assert!(msg.contains("insufficient"), "{msg}"),
        other => panic!("expected 402, got {other:?}"),
    }
    assert_api_error(result, 402, 200, ErrorClass::Permanent);
    assert_eq!(setup.client.credit().await.expect("credit"), 0.0);
    assert_eq!(setup.standin.created_count(), 2);
}

#[tokio::test]
async fn creates_over_the_limit_per_10_seconds_get_http_429_and_are_dropped() {
    let setup = setup_with(SetupOptions {
        create_limit_per_10s: 3,
        ..SetupOptions::default()
    })
    .await;
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);
    for _ in 0..3 {
        setup
            .client
            .create_task(&request)
            .await
            .expect("within the limit");
    }
    assert_api_error(
        setup.client.create_task(&request).await,
        429,
        429,
        ErrorClass::RateLimited,
    );
    assert_eq!(setup.standin.created_count(), 3);
    setup.standin.advance_clock(Duration::from_secs(10));
    setup
        .client
        .create_task(&request)
        .await
        .expect("the window has slid");
    assert_eq!(setup.standin.created_count(), 4);
}
