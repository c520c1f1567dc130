//! A task's life on the stand-in through the real client: the phases up
//! to a portrait of the reference, failures (classified and refunded), a
//! task that never finishes, result downloads slow, broken or expired, the
//! fault rates, latency and shutdown tests drive; each model's input shape.

use super::*;

// ---------------------------------------------------------------- lifecycle

#[tokio::test]
async fn a_task_walks_waiting_queuing_generating_success_and_yields_a_portrait_of_the_reference() {
    let setup = setup_with(SetupOptions {
        latency: Duration::from_secs(30),
        ..SetupOptions::default()
    })
    .await;
    let credits_before = setup.client.credit().await.expect("credit");
    let task_id = setup
        .create("a portrait in a sunny park", &["person.png"])
        .await;
    assert_eq!(task_id.len(), 32);
    assert!(task_id.chars().all(|c| c.is_ascii_hexdigit()), "{task_id}");

    let mut states = Vec::new();
    for _ in 0..3 {
        let record = setup
            .client
            .record_info(&task_id)
            .await
            .expect("recordInfo");
        assert!(!record.state.is_final());
        assert!(record.result_urls.is_empty());
        states.push(record.state);
        setup.standin.advance_clock(Duration::from_secs(10));
    }
    assert_eq!(
        states,
        [
            TaskState::Waiting,
            TaskState::Queuing,
            TaskState::Generating
        ]
    );
    let record = setup.until_final(&task_id).await;
    assert_eq!(record.state, TaskState::Success);
    assert_eq!(record.task_id, task_id);
    assert!(
        record.cost_time_ms.is_some_and(|ms| ms >= 30_000),
        "{record:?}"
    );
    assert_eq!(record.result_urls.len(), 1);
    assert_eq!(
        setup.client.credit().await.expect("credit"),
        credits_before - CREDITS_PER_TASK
    );

    let url = record.first_result_url().expect("result url");
    let png = setup
        .client
        .download_result(url, RESULT_LIMIT)
        .await
        .expect("download");
    assert_eq!(image::guess_format(&png).expect("format"), ImageFormat::Png);
    let portrait = image::load_from_memory(&png).expect("decode").to_rgb8();
    let (width, height) = portrait.dimensions();
    assert_eq!(
        width * 4,
        height * 3,
        "portrait is 3:4, got {width}x{height}"
    );

    // Recognisably the user's photo: its light and dark areas are where the
    // reference has them, and not where an upside-down photo has them.
    let reference = reference_person();
    let upside_down = image::imageops::flip_vertical(&reference);
    let to_reference = correlation(&luma_grid(&portrait), &luma_grid(&reference));
    let to_upside_down = correlation(&luma_grid(&portrait), &luma_grid(&upside_down));
    assert!(
        to_reference > 0.85 && to_reference - to_upside_down > 0.5,
        "luma correlation to the reference {to_reference:.3}, to it upside down {to_upside_down:.3}"
    );
    // But it is not the photo itself: it has been graded and framed.
    assert!(mean_abs_difference(&portrait, &reference) > 5.0);
}

#[tokio::test]
async fn different_prompts_give_visibly_different_portraits_and_the_same_prompt_the_same() {
    let setup = setup().await;
    let beach = setup
        .portrait("on a beach at sunset", &["person.jpg"])
        .await;
    let office = setup
        .portrait("business portrait in an office", &["person.jpg"])
        .await;
    let beach_again = setup
        .portrait("on a beach at sunset", &["person.jpg"])
        .await;
    let difference = mean_abs_difference(&beach, &office);
    assert!(
        difference > 10.0,
        "mean difference {difference:.1} per channel"
    );
    assert_eq!(mean_abs_difference(&beach, &beach_again), 0.0);
    // The first reference is the one shown.
    let other_first = setup
        .portrait("on a beach at sunset", &["upside-down.png", "person.png"])
        .await;
    let reference = reference_person();
    assert!(
        correlation(&luma_grid(&other_first), &luma_grid(&reference)) < 0.3,
        "the portrait follows the first reference"
    );
}

#[tokio::test]
async fn a_task_whose_references_cannot_be_fetched_fails_transiently_and_is_refunded() {
    let setup = setup().await;
    let credits_before = setup.standin.credits();
    for photos in [
        &["person.png", "missing.png"][..],
        &["not-an-image.png"][..],
    ] {
        let task_id = setup.create("portrait", photos).await;
        let record = setup.until_final(&task_id).await;
        assert_eq!(record.state, TaskState::Fail, "{photos:?}");
        assert_eq!(record.fail_code, "500");
        assert_eq!(record.failure_class(), TaskFailure::Transient);
        assert!(record.result_urls.is_empty());
    }
    assert_eq!(setup.standin.credits(), credits_before);
    assert_eq!(setup.standin.task_counts().fail, 2);
}

// ---------------------------------------------------------------- task failures

#[tokio::test]
async fn failed_tasks_are_classified_and_refunded() {
    let setup = setup().await;
    let credits_before = setup.standin.credits();
    let faults = &setup.standin;

    faults.script(Fault::Task(TaskFault::FailModeration), 1);
    let task_id = setup.create("portrait", &["person.png"]).await;
    let record = setup.until_final(&task_id).await;
    assert_eq!(record.state, TaskState::Fail);
    assert_eq!(
        (record.fail_code.as_str(), record.fail_msg.as_str()),
        ("422", "Invalid prompt: prompt contains prohibited content")
    );
    assert_eq!(record.failure_class(), TaskFailure::Moderation);

    faults.script(Fault::Task(TaskFault::FailTransient), 1);
    let task_id = setup.create("portrait", &["person.png"]).await;
    let record = setup.until_final(&task_id).await;
    assert_eq!(record.fail_code, "500");
    assert_eq!(record.failure_class(), TaskFailure::Transient);
    assert_eq!(
        setup.standin.credits(),
        credits_before,
        "failed tasks cost nothing"
    );

    // Prompt-targeted moderation hits only the next matching prompt.
    faults.script(Fault::ModeratePromptContaining("swimsuit".into()), 1);
    let mut outcomes = Vec::new();
    for prompt in ["office portrait", "beach, swimsuit", "beach, swimsuit"] {
        let task_id = setup.create(prompt, &["person.png"]).await;
        let record = setup.until_final(&task_id).await;
        outcomes.push((record.state.clone(), record.failure_class()));
    }
    assert_eq!(outcomes[0].0, TaskState::Success);
    assert_eq!(outcomes[1], (TaskState::Fail, TaskFailure::Moderation));
    assert_eq!(outcomes[2].0, TaskState::Success);
}

#[tokio::test]
async fn a_task_that_never_finishes_stays_running() {
    let setup = setup().await;
    setup.standin.script(Fault::Task(TaskFault::NeverFinish), 1);
    let task_id = setup.create("portrait", &["person.png"]).await;
    // Its portrait is made like any other's (the file written): only the
    // fault keeps the task from finishing.
    let portrait = setup.dir.path().join("kie").join(format!("{task_id}.png"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !portrait.exists() {
        assert!(Instant::now() < deadline, "the portrait was never made");
        // Polls for the file; returns as soon as it is written.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Hours later, again and again: still generating.
    for _ in 0..3 {
        setup.standin.advance_clock(Duration::from_secs(3600));
        let record = setup
            .client
            .record_info(&task_id)
            .await
            .expect("recordInfo");
        assert_eq!(record.state, TaskState::Generating);
        assert!(!record.state.is_final());
    }
    assert_eq!(setup.standin.task_counts().generating, 1);
}

#[tokio::test]
async fn result_downloads_can_be_slow_broken_or_expired() {
    let setup = setup().await;
    let faults = &setup.standin;
    let mut urls = Vec::new();
    for fault in [
        TaskFault::SlowResult(Duration::from_millis(300)),
        TaskFault::BrokenResult,
        TaskFault::ExpiredResult,
    ] {
        faults.script(Fault::Task(fault), 1);
        let task_id = setup.create("portrait", &["person.png"]).await;
        let record = setup.until_final(&task_id).await;
        assert_eq!(record.state, TaskState::Success);
        urls.push(record.first_result_url().expect("url").clone());
    }
    let started = Instant::now();
    let png = setup
        .client
        .download_result(&urls[0], RESULT_LIMIT)
        .await
        .expect("slow download");
    assert!(started.elapsed() >= Duration::from_millis(300));
    image::load_from_memory(&png).expect("image");
    match setup.client.download_result(&urls[1], RESULT_LIMIT).await {
        Err(ResultDownloadError::Failed(error)) => {
            assert_eq!(error.class(), ErrorClass::Transient, "{error}")
        }
        other => panic!("expected a transient failure, got {other:?}"),
    }
    assert!(matches!(
        setup.client.download_result(&urls[2], RESULT_LIMIT).await,
        Err(ResultDownloadError::Gone { http_status: 404 })
    ));
    assert!(matches!(
        setup.client.download_result(&urls[0], 100).await,
        Err(ResultDownloadError::TooLarge { limit_bytes: 100 })
    ));
    // A client of the real Kie (https) fetches https result URLs only: the
    // stand-in's plain-http one is refused without a request.
    let https = client_for(
        "https://api.kie.ai".parse().unwrap(),
        "key",
        Duration::from_secs(5),
        pinglass::kie::default_user_agent(),
    );
    assert!(matches!(
        https.download_result(&urls[0], RESULT_LIMIT).await,
        Err(ResultDownloadError::Insecure { .. })
    ));
}

/// The results and records Kie's documents allow for, beyond the happy
/// path: a body that is no image (served as image/png), a 4K PNG over 10 MB,
/// and a task whose recordInfo answers 404 (an error, not "not visible yet").
#[tokio::test]
async fn a_garbage_result_a_huge_result_and_a_lost_record() {
    let setup = setup().await;
    let faults = &setup.standin;
    let setup = &setup;
    let result_with = |fault| async move {
        faults.script(Fault::Task(fault), 1);
        let task_id = setup.create("portrait", &["person.png"]).await;
        let record = setup.until_final(&task_id).await;
        let url = record.first_result_url().expect("url").clone();
        setup
            .client
            .download_result(&url, RESULT_LIMIT)
            .await
            .expect("answered")
    };
    let body = result_with(TaskFault::GarbageResult).await;
    assert!(image::load_from_memory(&body).is_err());
    let png = result_with(TaskFault::HugeResult).await;
    assert!(png.len() > 10 * 1024 * 1024, "{}", png.len());
    image::load_from_memory(&png).expect("an image");

    faults.script(Fault::Task(TaskFault::LostRecord), 1);
    let task_id = setup.create("portrait", &["person.png"]).await;
    let error = setup.client.record_info(&task_id).await.expect_err("404");
    assert_eq!(error.class(), ErrorClass::Permanent, "{error}");
}

#[tokio::test]
async fn fault_rates_latency_and_shutdown_can_be_driven_from_tests() {
    let setup = setup().await;
    let faults = &setup.standin;
    let request = setup.task(MODEL_NANO_BANANA_EDIT, "portrait", &["person.png"]);

    faults.script_rate(Fault::Create(CreateFault::ServerError500), 1.0);
    for _ in 0..3 {
        assert_api_error(
            setup.client.create_task(&request).await,
            500,
            200,
            ErrorClass::Transient,
        );
    }
    faults.script_rate(Fault::Create(CreateFault::ServerError500), 0.0);
    faults.script_rate(Fault::Task(TaskFault::FailTransient), 1.0);
    for _ in 0..2 {
        let task_id = setup
            .client
            .create_task(&request)
            .await
            .expect("createTask");
        assert_eq!(setup.until_final(&task_id).await.state, TaskState::Fail);
    }
    faults.clear_script();
    setup.standin.set_latency(Duration::from_secs(60));
    let task_id = setup
        .client
        .create_task(&request)
        .await
        .expect("createTask");
    assert_eq!(
        setup
            .client
            .record_info(&task_id)
            .await
            .expect("poll")
            .state,
        TaskState::Waiting
    );
    assert_eq!(setup.standin.task_state(&task_id), Some(TaskState::Waiting));
    assert_eq!(setup.standin.task_counts().waiting, 1);

    let base_url = setup.standin.base_url();
    setup.standin.shutdown().await;
    let client = client_for(
        base_url,
        API_KEY,
        Duration::from_secs(2),
        default_user_agent(),
    );
    let error = client.credit().await.expect_err("the stand-in is stopped");
    assert_eq!(error.class(), ErrorClass::Transient, "{error}");
}

// ---------------------------------------------------------------- models

#[tokio::test]
async fn each_model_gets_its_own_input_shape() {
    let setup = setup().await;
    let references = ["person.png", "person.jpg"];
    let urls: Vec<String> = references
        .iter()
        .map(|name| setup.photos.url(name).to_string())
        .collect();
    let cases = [
        (
            MODEL_NANO_BANANA_EDIT,
            json!({"prompt": "p", "image_urls": urls, "output_format": "jpeg", "image_size": "3:4"}),
        ),
        (
            MODEL_NANO_BANANA_PRO,
            json!({"prompt": "p", "image_input": urls, "aspect_ratio": "3:4", "resolution": "1K", "output_format": "jpg"}),
        ),
        (
            MODEL_NANO_BANANA_2,
            json!({"prompt": "p", "image_input": urls, "aspect_ratio": "3:4", "resolution": "1K", "output_format": "jpg"}),
        ),
        (
            MODEL_SEEDREAM_EDIT,
            json!({"prompt": "p", "image_urls": urls, "aspect_ratio": "3:4", "quality": "high"}),
        ),
    ];
    for (model, expected_input) in cases {
        let mut request = setup.task(model, "p", &references);
        request.output_format = "jpeg".to_owned();
        let task_id = setup
            .client
            .create_task(&request)
            .await
            .unwrap_or_else(|error| panic!("{model}: {error}"));
        let received = setup.standin.create_requests().pop().expect("received");
        assert_eq!(
            received,
            json!({"model": model, "input": expected_input}),
            "{model}"
        );
        let record = setup.until_final(&task_id).await;
        assert_eq!(record.state, TaskState::Success, "{model}");
    }
    // An unknown model gets the nano-banana-edit shape.
    let request = setup.task("acme/new-model", "p", &references);
    let _refused = setup.client.create_task(&request).await;
    let received = setup.standin.create_requests().pop().expect("received");
    assert_eq!(received["model"], "acme/new-model");
    assert_eq!(received["input"]["image_urls"], json!(urls));
    assert_eq!(received["input"]["image_size"], "3:4");
    assert_eq!(received["input"]["output_format"], "png");
}

#[test]
fn the_portrait_crop_is_three_by_four_inside_the_photo() {
    use pinglass::kie::render::portrait_crop;
    for (width, height) in [
        (400, 300),
        (300, 400),
        (300, 900),
        (1000, 1000),
        (1, 1),
        (3, 4),
        (4000, 3),
    ] {
        let (x, y, crop_width, crop_height) = portrait_crop(width, height);
        assert!(
            x + crop_width <= width && y + crop_height <= height,
            "{width}x{height}"
        );
        assert!(crop_width >= 1 && crop_height >= 1, "{width}x{height}");
        if crop_width > 10 && crop_height > 10 {
            let ratio = crop_width as f32 / crop_height as f32;
            assert!(
                (ratio - 0.75).abs() < 0.02,
                "{width}x{height}: {crop_width}x{crop_height}"
            );
        }
    }
}
