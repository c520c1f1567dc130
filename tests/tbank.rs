//! Tests of the tbank area: the token rule, and the real client against the
//! running stand-in (states, cancellation, receipts, scripted faults).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use pinglass::tbank::standin::{CallFault, Fault, Handle, Options};
use pinglass::tbank::{
    InitRequest, InitResponse, PaymentStatus, Receipt, ReceiptItem, TbankClient, TbankError,
    TbankMethod, TbankSettings, format_redirect_due_date, token,
};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

const TERMINAL_KEY: &str = "PinGlassTestDEMO";
const PASSWORD: &str = "stand-in-password";

async fn start_standin() -> Handle {
    pinglass::tbank::standin::start(Options {
        bind: "127.0.0.1:0".parse().expect("loopback address"),
        terminal_key: TERMINAL_KEY.to_owned(),
        password: PASSWORD.to_owned(),
        public_base: None,
        faults: pinglass::faults::FaultPlan::none(),
    })
    .await
    .expect("stand-in starts")
}

fn client_with(standin: &Handle, password: &str, timeout: Duration) -> TbankClient {
    TbankClient::new(TbankSettings {
        base_url: standin.base_url(),
        terminal_key: SecretString::from(TERMINAL_KEY),
        password: SecretString::from(password.to_owned()),
        timeout,
    })
    .expect("client builds")
}

fn client(standin: &Handle) -> TbankClient {
    client_with(standin, PASSWORD, Duration::from_secs(5))
}

fn receipt(amount: i64) -> Receipt {
    Receipt {
        email: Some("buyer@example.com".to_owned()),
        phone: None,
        taxation: "usn_income".to_owned(),
        ffd_version: None,
        items: vec![ReceiptItem {
            name: "Пакет портретов Starter".to_owned(),
            price: amount,
            quantity: 1.0,
            amount,
            tax: "none".to_owned(),
            payment_method: "full_payment".to_owned(),
            payment_object: "service".to_owned(),
            measurement_unit: None,
        }],
    }
}

fn init_request(standin: &Handle, order_id: &str, amount: i64) -> InitRequest {
    InitRequest {
        amount_kopecks: amount,
        order_id: order_id.to_owned(),
        description: "PinGlass: 7 AI-портретов".to_owned(),
        customer_key: Some("tg-100500".to_owned()),
        language: Some("ru".to_owned()),
        redirect_due_date: standin.now() + TimeDelta::hours(24),
        receipt: receipt(amount),
        data: BTreeMap::new(),
    }
}

async fn init(standin: &Handle, order_id: &str, amount: i64) -> InitResponse {
    client(standin)
        .init(&init_request(standin, order_id, amount))
        .await
        .expect("Init succeeds")
}

/// Sends a signed raw request, for cases the client refuses to send.
async fn raw_call(standin: &Handle, method: &str, fields: Value) -> Value {
    let Value::Object(mut fields) = fields else {
        panic!("raw_call takes a JSON object");
    };
    fields.insert("TerminalKey".into(), TERMINAL_KEY.into());
    let signature = token(&fields, PASSWORD);
    fields.insert("Token".into(), signature.into());
    let url = standin
        .base_url()
        .join(&format!("v2/{method}"))
        .expect("url");
    reqwest::Client::new()
        .post(url)
        .json(&fields)
        .send()
        .await
        .expect("stand-in answers")
        .json()
        .await
        .expect("JSON answer")
}

fn raw_init_fields(order_id: &str, amount: i64, receipt: Value) -> Value {
    json!({
        "Amount": amount,
        "OrderId": order_id,
        "Description": "raw",
        "PayType": "O",
        "DATA": {"OperationInitiatorType": "0"},
        "Receipt": receipt,
    })
}

fn raw_receipt(amount: i64) -> Value {
    json!({
        "Email": "buyer@example.com",
        "Taxation": "usn_income",
        "Items": [{
            "Name": "Пакет", "Price": amount, "Quantity": 1, "Amount": amount,
            "Tax": "none", "PaymentMethod": "full_prepayment", "PaymentObject": "service"
        }]
    })
}

fn assert_api_code(result: Result<impl std::fmt::Debug, TbankError>, code: &str) -> TbankError {
    match result {
        Err(error @ TbankError::Api { .. }) if error.code() == Some(code) => error,
        other => panic!("expected T-Bank error {code}, got {other:?}"),
    }
}

fn string_map(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

#[test]
fn token_matches_first_documented_vector() {
    let fields = string_map(&[
        ("TerminalKey", json!("MerchantTerminalKey")),
        ("Amount", json!(19200)),
        ("OrderId", json!("21090")),
        ("Description", json!("Подарочная карта на 1000 рублей")),
    ]);
    assert_eq!(
        token(&fields, "usaf8fw8fsw21g"),
        "0024a00af7c350a3a67ca168ce06502aa72772456662e38696d48b56ee9c97d9"
    );
}

#[test]
fn token_matches_second_documented_vector_and_ignores_nested_fields_and_token() {
    let mut fields = string_map(&[
        ("Description", json!("test")),
        ("Amount", json!(100000)),
        ("TerminalKey", json!("TinkoffBankTest")),
        ("OrderId", json!("TokenExample")),
    ]);
    let expected = "597c160c8c348fb14c63c820c54b712468923a74fd111ac6b0ecda01fb5f4716";
    assert_eq!(token(&fields, "123456"), expected);

    fields.insert(
        "DATA".into(),
        json!({"Phone": "+71234567890", "OperationInitiatorType": "0"}),
    );
    fields.insert("Receipt".into(), json!({"Items": [{"Amount": 1}]}));
    fields.insert("Token".into(), json!("previous-token"));
    assert_eq!(token(&fields, "123456"), expected);

    fields.insert("Recurrent".into(), json!(true));
    assert_ne!(
        token(&fields, "123456"),
        expected,
        "a top-level bool is signed"
    );
}

#[test]
fn payment_status_parses_documented_and_unknown_spellings() {
    for status in PaymentStatus::DOCUMENTED {
        let text = serde_json::to_string(&status).expect("serialize");
        let back: PaymentStatus = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, status);
        assert!(!matches!(back, PaymentStatus::Unknown(_)));
    }
    for odd in ["FORMSHOWED", "COMPLETED", "UNKNOWN", "confirmed"] {
        let parsed: PaymentStatus = serde_json::from_str(&format!("\"{odd}\"")).expect("parse");
        assert_eq!(parsed, PaymentStatus::Unknown(odd.to_owned()));
        assert!(!parsed.is_final(), "{odd} must not count as final");
        assert!(!parsed.is_paid());
        assert_eq!(parsed.as_str(), odd);
    }
    let finals: Vec<&str> = PaymentStatus::DOCUMENTED
        .iter()
        .filter(|status| status.is_final())
        .map(PaymentStatus::as_str)
        .collect();
    assert_eq!(
        finals,
        [
            "CONFIRMED",
            "REVERSED",
            "REFUNDED",
            "CANCELED",
            "DEADLINE_EXPIRED",
            "ATTEMPTS_EXPIRED",
            "REJECTED",
            "AUTH_FAIL"
        ]
    );
    // Every status of T-Bank's status model is known by its name.
    let known: Vec<&str> = PaymentStatus::DOCUMENTED
        .iter()
        .map(PaymentStatus::as_str)
        .collect();
    for name in [
        "NEW",
        "FORM_SHOWED",
        "AUTHORIZING",
        "3DS_CHECKING",
        "3DS_CHECKED",
        "AUTHORIZED",
        "CONFIRMING",
        "CONFIRMED",
        "REVERSING",
        "PARTIAL_REVERSED",
        "REVERSED",
        "REFUNDING",
        "ASYNC_REFUNDING",
        "PARTIAL_REFUNDED",
        "REFUNDED",
        "CANCELED",
        "DEADLINE_EXPIRED",
        "ATTEMPTS_EXPIRED",
        "REJECTED",
        "AUTH_FAIL",
    ] {
        assert!(known.contains(&name), "{name} is not in the status model");
    }
    assert!(PaymentStatus::Confirmed.is_paid());
    assert!(!PaymentStatus::Authorized.is_paid());
}

#[test]
fn redirect_due_date_is_written_in_moscow_time() {
    let due: DateTime<Utc> = "2030-01-31T21:30:05Z".parse().expect("date");
    assert_eq!(format_redirect_due_date(due), "2030-02-01T00:30:05+03:00");
}

#[test]
fn receipt_serializes_with_tbank_field_names() {
    let value = serde_json::to_value(receipt(49900)).expect("serialize");
    assert_eq!(
        value,
        json!({
            "Email": "buyer@example.com",
            "Taxation": "usn_income",
            "Items": [{
                "Name": "Пакет портретов Starter", "Price": 49900, "Quantity": 1.0,
                "Amount": 49900, "Tax": "none", "PaymentMethod": "full_payment",
                "PaymentObject": "service"
            }]
        })
    );
    // FFD 1.2: the version on the receipt, the unit on each item.
    let mut ffd_12 = receipt(49900);
    ffd_12.ffd_version = Some("1.2".to_owned());
    ffd_12.items[0].measurement_unit = Some("шт".to_owned());
    let value = serde_json::to_value(ffd_12).expect("serialize");
    assert_eq!(value["FfdVersion"], json!("1.2"));
    assert_eq!(value["Items"][0]["MeasurementUnit"], json!("шт"));
}

#[tokio::test]
async fn wrong_password_is_a_wrong_token_error_that_is_not_transient() {
    let standin = start_standin().await;
    let wrong = client_with(&standin, "not-the-password", Duration::from_secs(5));
    let error = assert_api_code(
        wrong
            .init(&init_request(&standin, "order-wrong-pw", 49900))
            .await,
        "204",
    );
    assert!(error.is_wrong_token());
    assert!(!error.is_transient());
    let text = error.to_string();
    assert!(!text.contains("not-the-password") && !text.contains(PASSWORD));
    assert!(standin.payments_of_order("order-wrong-pw").is_empty());
}

#[tokio::test]
async fn unknown_terminal_is_refused_with_501() {
    let standin = start_standin().await;
    let stranger = TbankClient::new(TbankSettings {
        base_url: standin.base_url(),
        terminal_key: SecretString::from("SomeOtherDEMO"),
        password: SecretString::from(PASSWORD),
        timeout: Duration::from_secs(5),
    })
    .expect("client builds");
    let error = assert_api_code(stranger.get_state("4000000001").await, "501");
    let TbankError::Api { message, .. } = &error else {
        unreachable!()
    };
    assert_eq!(message, "Терминал не найден");
}

#[tokio::test]
async fn checkout_page_then_pay_confirms_the_payment() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let created = init(&standin, "order-pay", 49900).await;
    assert_eq!(created.status, PaymentStatus::New);
    assert_eq!(created.amount_kopecks, 49900);
    assert_eq!(created.order_id, "order-pay");
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.status, PaymentStatus::New);

    let browser = reqwest::Client::new();
    let page = browser
        .get(created.payment_url.clone())
        .send()
        .await
        .expect("checkout page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("PinGlass: 7 AI-портретов"), "{html}");
    assert!(html.contains("499,00"), "{html}");
    assert!(
        html.contains("Оплатить") && html.contains("Отклонить"),
        "{html}"
    );
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.status, PaymentStatus::FormShowed);

    let pay_url = created
        .payment_url
        .join(&format!("{}/pay", created.payment_id))
        .expect("pay url");
    let result = browser.post(pay_url).send().await.expect("pay button");
    assert_eq!(result.status(), 200);
    let html = result.text().await.expect("html");
    assert!(html.contains("Оплата прошла успешно"), "{html}");
    assert!(!html.contains("Оплатить"), "{html}");

    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.status, PaymentStatus::Confirmed);
    assert!(state.status.is_paid() && state.status.is_final());
    assert_eq!(state.amount_kopecks, 49900);
    assert_eq!(state.order_id, "order-pay");
    assert_eq!(state.payment_id, created.payment_id);
}

#[tokio::test]
async fn decline_button_rejects_the_payment() {
    let standin = start_standin().await;
    let created = init(&standin, "order-decline", 49900).await;
    let decline_url = created
        .payment_url
        .join(&format!("{}/decline", created.payment_id))
        .expect("decline url");
    let html = reqwest::Client::new()
        .post(decline_url)
        .send()
        .await
        .expect("decline button")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Банк отклонил платёж"), "{html}");
    let state = client(&standin)
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.status, PaymentStatus::Rejected);
    assert!(state.status.is_final() && !state.status.is_paid());
    assert_eq!(
        standin.pay(&created.payment_id).expect("known"),
        PaymentStatus::Rejected
    );
}

#[tokio::test]
async fn unpaid_payment_expires_after_its_redirect_due_date() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let mut request = init_request(&standin, "order-deadline", 49900);
    request.redirect_due_date = standin.now() + TimeDelta::minutes(10);
    let created = tbank.init(&request).await.expect("Init");
    standin.advance_clock(Duration::from_secs(9 * 60));
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.status, PaymentStatus::New);

    standin.advance_clock(Duration::from_secs(2 * 60));
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.status, PaymentStatus::DeadlineExpired);
    assert!(state.status.is_final());
    assert_eq!(
        standin.pay(&created.payment_id).expect("known"),
        PaymentStatus::DeadlineExpired,
        "an expired payment cannot be paid"
    );
    let error = assert_api_code(
        tbank
            .cancel(&created.payment_id, None, None, "cancel-expired")
            .await,
        "4",
    );
    assert!(!error.is_transient());
}

#[tokio::test]
async fn cancel_of_a_new_payment_cancels_it_in_full() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let created = init(&standin, "order-cancel-new", 49900).await;
    let cancelled = tbank
        .cancel(&created.payment_id, Some(100), None, "cancel-new-1")
        .await
        .expect("Cancel");
    assert_eq!(cancelled.status, PaymentStatus::Canceled);
    assert_eq!(cancelled.original_amount, 49900);
    assert_eq!(cancelled.new_amount, 0, "an Amount is ignored in NEW");
    assert_eq!(cancelled.payment_id, created.payment_id);
    assert_eq!(
        standin.pay(&created.payment_id).expect("known"),
        PaymentStatus::Canceled
    );

    let error = assert_api_code(
        tbank
            .cancel(&created.payment_id, None, None, "cancel-new-2")
            .await,
        "100",
    );
    assert!(!error.is_transient());
}

#[tokio::test]
async fn confirmed_payment_is_refunded_in_full() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let created = init(&standin, "order-refund-full", 49900).await;
    assert_eq!(
        standin.pay(&created.payment_id).expect("known"),
        PaymentStatus::Confirmed
    );
    let refunded = tbank
        .cancel(
            &created.payment_id,
            None,
            Some(&receipt(49900)),
            "refund-full",
        )
        .await
        .expect("Cancel");
    assert_eq!(refunded.status, PaymentStatus::Refunded);
    assert_eq!((refunded.original_amount, refunded.new_amount), (49900, 0));
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.status, PaymentStatus::Refunded);
}

#[tokio::test]
async fn partial_refunds_then_the_rest_and_over_amount_is_refused() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let created = init(&standin, "order-refund-parts", 100000).await;
    standin.pay(&created.payment_id).expect("known");
    let id = created.payment_id.as_str();

    let first = tbank
        .cancel(id, Some(30000), Some(&receipt(30000)), "refund-part-1")
        .await
        .expect("first partial refund");
    assert_eq!(first.status, PaymentStatus::PartialRefunded);
    assert_eq!((first.original_amount, first.new_amount), (100000, 70000));
    assert!(!first.status.is_final());

    let second = tbank
        .cancel(id, Some(20000), None, "refund-part-2")
        .await
        .expect("second partial refund");
    assert_eq!(second.status, PaymentStatus::PartialRefunded);
    assert_eq!((second.original_amount, second.new_amount), (70000, 50000));

    let error = assert_api_code(
        tbank.cancel(id, Some(50001), None, "refund-too-much").await,
        "330",
    );
    assert!(!error.is_transient());
    assert_eq!(standin.payment(id).expect("known").amount, 50000);

    let rest = tbank
        .cancel(id, None, None, "refund-rest")
        .await
        .expect("rest");
    assert_eq!(rest.status, PaymentStatus::Refunded);
    assert_eq!((rest.original_amount, rest.new_amount), (50000, 0));
    assert_eq!(
        standin.payment(id).expect("known").cancellations,
        [30000, 20000, 50000]
    );
    assert_api_code(
        tbank.cancel(id, Some(1), None, "refund-after-all").await,
        "100",
    );
}

#[tokio::test]
async fn repeated_cancel_with_one_external_request_id_moves_money_once() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let created = init(&standin, "order-idempotent", 100000).await;
    standin.pay(&created.payment_id).expect("known");
    let first = tbank
        .cancel(&created.payment_id, Some(40000), None, "refund-once")
        .await
        .expect("first Cancel");
    let again = tbank
        .cancel(&created.payment_id, Some(40000), None, "refund-once")
        .await
        .expect("repeated Cancel");
    assert_eq!(first, again);
    assert_eq!((again.original_amount, again.new_amount), (100000, 60000));
    let payment = standin.payment(&created.payment_id).expect("known");
    assert_eq!(payment.amount, 60000);
    assert_eq!(payment.cancellations, [40000]);

    let other = tbank
        .cancel(&created.payment_id, Some(40000), None, "refund-twice")
        .await
        .expect("a new ExternalRequestId is a new refund");
    assert_eq!(other.new_amount, 20000);
}

/// T-Bank's spec: `ExternalRequestId` does not work for SBP operations — a
/// Cancel repeated after a lost answer refunds again; an SBP refund answers
/// `ASYNC_REFUNDING`, and GetState shows where it ended.
#[tokio::test]
async fn an_sbp_refund_repeated_with_one_external_request_id_moves_money_twice() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let created = init(&standin, "order-sbp", 100000).await;
    assert_eq!(
        standin.pay_sbp(&created.payment_id).expect("known"),
        PaymentStatus::Confirmed
    );
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.params.get("Route").map(String::as_str), Some("SBP"));
    let first = tbank
        .cancel(&created.payment_id, Some(40000), None, "refund-once")
        .await
        .expect("first Cancel");
    assert_eq!(first.status, PaymentStatus::AsyncRefunding);
    assert_eq!((first.original_amount, first.new_amount), (100000, 60000));
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(
        (state.status, state.amount_kopecks),
        (PaymentStatus::PartialRefunded, 60000)
    );
    let again = tbank
        .cancel(&created.payment_id, Some(40000), None, "refund-once")
        .await
        .expect("repeated Cancel");
    assert_eq!(
        again.new_amount, 20000,
        "SBP: the repeat is a second refund"
    );
    let payment = standin.payment(&created.payment_id).expect("known");
    assert_eq!(payment.cancellations, [40000, 40000]);
}

#[tokio::test]
async fn two_stage_payment_is_reversed_in_parts() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let mut fields = raw_init_fields("order-two-stage", 50000, raw_receipt(50000));
    fields["PayType"] = json!("T");
    let answer = raw_call(&standin, "Init", fields).await;
    assert_eq!(answer["Success"], json!(true), "{answer}");
    let id = answer["PaymentId"]
        .as_str()
        .expect("PaymentId string")
        .to_owned();
    assert_eq!(standin.pay(&id).expect("known"), PaymentStatus::Authorized);

    let part = tbank
        .cancel(&id, Some(10000), None, "reverse-1")
        .await
        .expect("Cancel");
    assert_eq!(part.status, PaymentStatus::PartialReversed);
    assert_eq!(part.new_amount, 40000);
    let rest = tbank
        .cancel(&id, None, None, "reverse-2")
        .await
        .expect("Cancel");
    assert_eq!(rest.status, PaymentStatus::Reversed);
    assert!(rest.status.is_final());
}

#[tokio::test]
async fn check_order_lists_every_payment_of_the_order() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let declined = init(&standin, "order-check", 49900).await;
    standin.decline(&declined.payment_id).expect("known");
    let paid = init(&standin, "order-check", 49900).await;
    standin.pay(&paid.payment_id).expect("known");
    let _other = init(&standin, "order-check-other", 49900).await;

    let payments = tbank.check_order("order-check").await.expect("CheckOrder");
    assert_eq!(payments.len(), 2);
    assert_eq!(payments[0].payment_id, declined.payment_id);
    assert_eq!(payments[0].status, PaymentStatus::Rejected);
    assert!(!payments[0].success);
    assert_ne!(payments[0].error_code, "0");
    assert_eq!(payments[1].payment_id, paid.payment_id);
    assert_eq!(payments[1].status, PaymentStatus::Confirmed);
    assert!(payments[1].success);
    assert_eq!(payments[1].error_code, "0");
    assert_eq!(payments[1].amount_kopecks, 49900);
    assert!(payments[1].rrn.is_some());

    let raw = raw_call(&standin, "CheckOrder", json!({"OrderId": "order-check"})).await;
    assert_eq!(raw["Payments"][1]["Success"], json!("true"));
    assert_eq!(raw["Payments"][1]["ErrorCode"], json!(0));

    assert_api_code(tbank.check_order("order-never-seen").await, "335");
}

#[tokio::test]
async fn second_payment_of_a_paid_order_is_refused_with_623() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let unpaid = init(&standin, "order-623", 49900).await;
    let retry = init(&standin, "order-623", 49900).await;
    assert_ne!(
        unpaid.payment_id, retry.payment_id,
        "an unpaid order may get a new payment"
    );
    standin.pay(&retry.payment_id).expect("known");

    let error = assert_api_code(
        tbank
            .init(&init_request(&standin, "order-623", 49900))
            .await,
        "623",
    );
    assert!(!error.is_transient());
    assert_eq!(standin.payments_of_order("order-623").len(), 2);
}

#[tokio::test]
async fn standin_validates_init_like_tbank() {
    let standin = start_standin().await;
    let now = standin.now();
    let in_moscow = |due: DateTime<Utc>| format_redirect_due_date(due);
    let cases: Vec<(&str, Value)> = vec![
        ("308", raw_init_fields("raw-308", 50000, raw_receipt(49900))),
        ("329", {
            let mut receipt = raw_receipt(50000);
            receipt.as_object_mut().expect("object").remove("Email");
            raw_init_fields("raw-329", 50000, receipt)
        }),
        ("309", {
            let mut receipt = raw_receipt(50000);
            receipt["Items"] = json!([]);
            raw_init_fields("raw-309", 50000, receipt)
        }),
        ("2", {
            let mut fields = raw_init_fields("raw-2", 50000, raw_receipt(50000));
            fields.as_object_mut().expect("object").remove("Amount");
            fields
        }),
        ("2", {
            let mut fields = raw_init_fields("raw-2b", 50000, raw_receipt(50000));
            fields.as_object_mut().expect("object").remove("OrderId");
            fields
        }),
        ("12", {
            let mut fields = raw_init_fields("raw-12a", 50000, raw_receipt(50000));
            fields["RedirectDueDate"] = json!("2030-01-01 10:00:00");
            fields
        }),
        ("12", {
            let mut fields = raw_init_fields("raw-12b", 50000, raw_receipt(50000));
            fields["RedirectDueDate"] = json!(in_moscow(now + TimeDelta::seconds(20)));
            fields
        }),
        ("12", {
            let mut fields = raw_init_fields("raw-12c", 50000, raw_receipt(50000));
            fields["RedirectDueDate"] = json!(in_moscow(now + TimeDelta::days(91)));
            fields
        }),
    ];
    for (code, fields) in cases {
        let answer = raw_call(&standin, "Init", fields.clone()).await;
        assert_eq!(answer["Success"], json!(false), "{fields} → {answer}");
        assert_eq!(answer["ErrorCode"], json!(code), "{fields} → {answer}");
        assert!(answer["Message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    let mut good = raw_init_fields("raw-ok", 50000, raw_receipt(50000));
    good["RedirectDueDate"] = json!(in_moscow(now + TimeDelta::hours(48)));
    let answer = raw_call(&standin, "Init", good).await;
    assert_eq!(answer["Success"], json!(true), "{answer}");
    assert_eq!(answer["ErrorCode"], json!("0"));
    assert_eq!(answer["Status"], json!("NEW"));
    let id = answer["PaymentId"].as_str().expect("PaymentId");
    let payment = standin.payment(id).expect("created");
    assert_eq!(
        payment.redirect_due_date.timestamp(),
        (now + TimeDelta::hours(48)).timestamp()
    );

    let unknown = raw_call(&standin, "GetState", json!({"PaymentId": "999"})).await;
    assert_eq!(unknown["ErrorCode"], json!("255"), "{unknown}");
}

#[tokio::test]
async fn client_refuses_invalid_init_without_calling_tbank() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let mut cases = Vec::new();

    let mut mismatch = init_request(&standin, "local-308", 49900);
    mismatch.amount_kopecks = 50000;
    cases.push(mismatch);
    let mut no_contact = init_request(&standin, "local-329", 49900);
    no_contact.receipt.email = None;
    no_contact.receipt.phone = Some("  ".to_owned());
    cases.push(no_contact);
    let mut long_description = init_request(&standin, "local-desc", 49900);
    long_description.description = "я".repeat(141);
    cases.push(long_description);
    cases.push(init_request(&standin, &"7".repeat(37), 49900));
    let mut no_items = init_request(&standin, "local-items", 49900);
    no_items.receipt.items.clear();
    cases.push(no_items);
    let mut long_email = init_request(&standin, "local-email", 49900);
    long_email.receipt.email = Some(format!("{}@example.ru", "a".repeat(54)));
    cases.push(long_email);
    let mut ffd_12_without_unit = init_request(&standin, "local-ffd", 49900);
    ffd_12_without_unit.receipt.ffd_version = Some("1.2".to_owned());
    cases.push(ffd_12_without_unit);

    for request in &cases {
        let result = tbank.init(request).await;
        assert!(
            matches!(result, Err(TbankError::InvalidRequest(_))),
            "{}: {result:?}",
            request.order_id
        );
        assert!(standin.payments_of_order(&request.order_id).is_empty());
    }

    let mut exactly_at_limits = init_request(&standin, &"7".repeat(36), 49900);
    exactly_at_limits.description = "я".repeat(140);
    exactly_at_limits.receipt.email = Some(format!("{}@example.ru", "a".repeat(53)));
    tbank
        .init(&exactly_at_limits)
        .await
        .expect("limits are inclusive");
    let mut ffd_12 = init_request(&standin, "ffd-12", 49900);
    ffd_12.receipt.ffd_version = Some("1.2".to_owned());
    ffd_12.receipt.items[0].measurement_unit = Some("шт".to_owned());
    tbank.init(&ffd_12).await.expect("FFD 1.2 with its unit");
}

/// The stand-in refuses what T-Bank refuses at Init: a receipt e-mail over
/// 64 characters, FFD 1.2 without a MeasurementUnit.
#[tokio::test]
async fn standin_refuses_a_long_receipt_email_and_ffd_12_without_a_unit() {
    let standin = start_standin().await;
    let mut long = raw_receipt(49900);
    long["Email"] = json!(format!("{}@example.ru", "a".repeat(54)));
    let answer = raw_call(&standin, "Init", raw_init_fields("raw-email", 49900, long)).await;
    assert_eq!(answer["Success"], json!(false), "{answer}");
    assert!(
        answer["Details"].as_str().unwrap_or("").contains("Email"),
        "{answer}"
    );
    let mut ffd = raw_receipt(49900);
    ffd["FfdVersion"] = json!("1.2");
    let answer = raw_call(
        &standin,
        "Init",
        raw_init_fields("raw-ffd", 49900, ffd.clone()),
    )
    .await;
    assert_eq!(answer["Success"], json!(false), "{answer}");
    assert!(
        answer["Details"]
            .as_str()
            .unwrap_or("")
            .contains("MeasurementUnit"),
        "{answer}"
    );
    ffd["Items"][0]["MeasurementUnit"] = json!("шт");
    let answer = raw_call(&standin, "Init", raw_init_fields("raw-ffd-ok", 49900, ffd)).await;
    assert_eq!(answer["Success"], json!(true), "{answer}");
}

#[tokio::test]
async fn scripted_timeout_is_a_transient_timeout() {
    let standin = start_standin().await;
    let tbank = client_with(&standin, PASSWORD, Duration::from_millis(300));
    standin.script(
        Fault::on(
            TbankMethod::GetState,
            CallFault::timeout(Duration::from_secs(10)),
        ),
        1,
    );
    let created = init(&standin, "order-timeout", 49900).await;
    let error = tbank
        .get_state(&created.payment_id)
        .await
        .expect_err("held past the timeout");
    assert!(matches!(error, TbankError::Timeout), "{error:?}");
    assert!(error.is_transient());
    assert_eq!(standin.scripted_left(TbankMethod::GetState), 0);
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("next call passes");
    assert_eq!(state.status, PaymentStatus::New);
}

#[tokio::test]
async fn init_that_timed_out_after_taking_effect_is_found_by_check_order() {
    let standin = start_standin().await;
    let tbank = client_with(&standin, PASSWORD, Duration::from_millis(300));
    standin.script(
        Fault::on(
            TbankMethod::Init,
            CallFault::Timeout {
                hold: Duration::from_secs(10),
                processed: true,
            },
        ),
        1,
    );
    let error = tbank
        .init(&init_request(&standin, "order-lost-answer", 49900))
        .await
        .expect_err("answer lost");
    assert!(matches!(error, TbankError::Timeout), "{error:?}");
    let payments = tbank
        .check_order("order-lost-answer")
        .await
        .expect("CheckOrder");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentStatus::New);
}

#[tokio::test]
async fn scripted_http_and_code_faults_are_classified() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let created = init(&standin, "order-faults", 49900).await;
    let faults = &standin;
    faults.script(
        Fault::on(TbankMethod::GetState, CallFault::HttpStatus(500)),
        1,
    );
    faults.script(
        Fault::on(TbankMethod::GetState, CallFault::HttpStatus(503)),
        1,
    );
    faults.script(
        Fault::on(TbankMethod::GetState, CallFault::internal_error()),
        1,
    );
    faults.script(
        Fault::on(
            TbankMethod::GetState,
            CallFault::error_code("3", "Внутренняя ошибка"),
        ),
        1,
    );
    faults.script(
        Fault::on(
            TbankMethod::GetState,
            CallFault::error_code("204", "Неверный токен"),
        ),
        1,
    );
    faults.script(
        Fault::on(
            TbankMethod::GetState,
            CallFault::error_code("255", "Платеж не найден"),
        ),
        1,
    );

    let expectations: [(&str, bool); 6] = [
        ("http 500", true),
        ("http 503", true),
        ("9999", true),
        ("3", true),
        ("204", false),
        ("255", false),
    ];
    for (label, transient) in expectations {
        let error = tbank.get_state(&created.payment_id).await.expect_err(label);
        assert_eq!(error.is_transient(), transient, "{label}: {error:?}");
        match label {
            "http 500" => assert!(matches!(error, TbankError::Http { status: 500 })),
            "http 503" => assert!(matches!(error, TbankError::Http { status: 503 })),
            code => {
                assert_eq!(error.code(), Some(code));
                assert_eq!(error.is_wrong_token(), code == "204");
            }
        }
    }
    tbank
        .get_state(&created.payment_id)
        .await
        .expect("faults used up");
}

#[tokio::test]
async fn fault_rates_apply_per_method() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let created = init(&standin, "order-rates", 49900).await;
    standin.script_rate(
        Fault::on(TbankMethod::GetState, CallFault::HttpStatus(503)),
        1.0,
    );
    for _ in 0..3 {
        let error = tbank
            .get_state(&created.payment_id)
            .await
            .expect_err("rate 1");
        assert!(matches!(error, TbankError::Http { status: 503 }));
    }
    tbank
        .check_order("order-rates")
        .await
        .expect("other methods unaffected");
    standin.script_rate(
        Fault::on(TbankMethod::GetState, CallFault::HttpStatus(503)),
        0.0,
    );
    tbank.get_state(&created.payment_id).await.expect("rate 0");
}

#[tokio::test]
async fn stuck_payment_stays_on_the_form() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    let created = init(&standin, "order-stuck", 49900).await;
    standin
        .stick_in_form_showed(&created.payment_id)
        .expect("known");
    let html = reqwest::Client::new()
        .post(
            created
                .payment_url
                .join(&format!("{}/pay", created.payment_id))
                .expect("url"),
        )
        .send()
        .await
        .expect("pay button")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("Оплатить"),
        "the form is still payable: {html}"
    );
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.status, PaymentStatus::FormShowed);
    assert_eq!(
        standin.decline(&created.payment_id).expect("known"),
        PaymentStatus::FormShowed
    );

    standin.clear_script();
    assert_eq!(
        standin.pay(&created.payment_id).expect("known"),
        PaymentStatus::Confirmed
    );
}

#[tokio::test]
async fn payment_id_sent_as_a_number_is_accepted() {
    let standin = start_standin().await;
    let tbank = client(&standin);
    standin.answer_payment_ids_as_numbers(true);
    let created = init(&standin, "order-numeric-id", 49900).await;
    let raw = raw_call(
        &standin,
        "GetState",
        json!({"PaymentId": created.payment_id.parse::<u64>().expect("digits")}),
    )
    .await;
    assert!(raw["PaymentId"].is_u64(), "{raw}");

    standin.pay(&created.payment_id).expect("known");
    let state = tbank
        .get_state(&created.payment_id)
        .await
        .expect("GetState");
    assert_eq!(state.payment_id, created.payment_id);
    assert_eq!(state.status, PaymentStatus::Confirmed);
    let payments = tbank
        .check_order("order-numeric-id")
        .await
        .expect("CheckOrder");
    assert_eq!(payments[0].payment_id, created.payment_id);
    let refund = tbank
        .cancel(&created.payment_id, None, None, "numeric-refund")
        .await
        .expect("Cancel");
    assert_eq!(refund.payment_id, created.payment_id);
}

#[tokio::test]
async fn payment_url_uses_the_public_base_and_shutdown_stops_serving() {
    let standin = pinglass::tbank::standin::start(Options {
        bind: "127.0.0.1:0".parse().expect("loopback address"),
        terminal_key: TERMINAL_KEY.to_owned(),
        password: PASSWORD.to_owned(),
        public_base: Some("https://pay.example.test/tbank".parse().expect("url")),
        faults: pinglass::faults::FaultPlan::none(),
    })
    .await
    .expect("starts");
    let created = init(&standin, "order-public", 49900).await;
    assert_eq!(
        created.payment_url.as_str(),
        format!(
            "https://pay.example.test/tbank/checkout/{}",
            created.payment_id
        )
    );
    let tbank = client_with(&standin, PASSWORD, Duration::from_secs(2));
    standin.shutdown().await;
    let error = tbank
        .get_state(&created.payment_id)
        .await
        .expect_err("stopped");
    assert!(matches!(error, TbankError::Network(_)), "{error:?}");
    assert!(error.is_transient());
}
