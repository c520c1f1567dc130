//! A faithful in-process stand-in for T-Bank Internet Acquiring v2.
//!
//! It serves `POST /v2/Init|GetState|Cancel|CheckOrder` with T-Bank's JSON
//! shapes and codes, checks the terminal key and the token, and moves
//! payments through T-Bank's states. `Init` answers a `PaymentURL` to the
//! stand-in's own payment form, `GET /checkout/{payment_id}`, whose Pay and
//! Decline buttons settle the payment.
//!
//! Tests drive it through [`Handle`]: pay or decline without a browser,
//! move its clock past a `RedirectDueDate` and, with the `testkit` feature,
//! script faults ([`Fault`]: a [`CallFault`] — timeouts, HTTP 5xx,
//! `Success: false` with any code — on one method) for the next N calls or
//! at a rate, and keep payments stuck on the form.

mod checkout;
mod ledger;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use url::Url;

use super::token::token;
use super::types::{PaymentStatus, TbankMethod};
use crate::faults::Script;
use crate::standins::{BindError, Bound, Server};
use ledger::{ApiError, FormButton, Ledger, Payment};

/// How to start the stand-in (`tbank::standin::start`).
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The only terminal the stand-in knows.
    pub terminal_key: String,
    /// That terminal's password, used to check tokens.
    pub password: String,
    /// The base of the `PaymentURL`s it hands out, when buyers reach it
    /// through another address; `None` uses the listening address.
    pub public_base: Option<Url>,
    /// Faults played at a rate on Init, GetState and Cancel, after the
    /// scripted ones (`FaultPlan::none()` for none).
    pub faults: crate::faults::FaultPlan,
}

/// Errors of the stand-in's own API (not T-Bank answers).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the T-Bank stand-in {0}")]
    Bind(#[from] BindError),
    #[error("T-Bank stand-in: no payment {0}")]
    UnknownPayment(String),
}

/// What a call plays instead of (or around) its normal answer.
#[derive(Debug, Clone, PartialEq)]
pub enum CallFault {
    /// Hold the request for `hold` (longer than the client's timeout), then
    /// answer HTTP 504. With `processed: true` the call takes effect first,
    /// so only the answer is lost — the case `CheckOrder` exists for.
    Timeout { hold: Duration, processed: bool },
    /// Answer this HTTP status (500, 502, 503, …) with an HTML error page.
    HttpStatus(u16),
    /// Answer HTTP 200 with `Success: false` and this code and message.
    ErrorCode { code: String, message: String },
    /// The buyer pays on the form (one-stage: `CONFIRMED`) the moment before
    /// this call is processed, which is then answered normally: the race of
    /// a last-second payment with a cancellation.
    BuyerPaysFirst,
}

impl CallFault {
    /// T-Bank's internal error, code 9999.
    pub fn internal_error() -> CallFault {
        CallFault::error_code("9999", "Внутренняя ошибка системы")
    }

    /// `Success: false` with any code.
    pub fn error_code(code: &str, message: &str) -> CallFault {
        CallFault::ErrorCode {
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    /// A request that is never answered in time and never takes effect.
    pub fn timeout(hold: Duration) -> CallFault {
        CallFault::Timeout {
            hold,
            processed: false,
        }
    }
}

/// A fault a test scripts on the stand-in (`Handle::script`): a call of
/// `method` plays `play`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub(crate) method: TbankMethod,
    pub(crate) play: CallFault,
}

impl Fault {
    pub fn on(method: TbankMethod, play: CallFault) -> Fault {
        Fault { method, play }
    }
}

struct Shared {
    terminal_key: String,
    password: String,
    /// Ends with `/`; `PaymentURL`s are `{public_base}checkout/{id}`.
    public_base: Url,
    ledger: Mutex<Ledger>,
    /// The faults a test scripted (`Handle::script`).
    script: Script<Fault>,
    rates: crate::faults::TbankFaultRates,
    dice: crate::faults::FaultDice,
    shutdown: watch::Receiver<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Verifies the terminal and the token, then runs the method.
    fn answer(&self, method: TbankMethod, body: &[u8]) -> (StatusCode, Value) {
        let fields: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(fields)) => fields,
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    error_body(&ApiError {
                        code: "2",
                        message: "Неверные параметры",
                        details: "Тело запроса должно быть JSON-объектом".to_owned(),
                    }),
                );
            }
        };
        (StatusCode::OK, self.answer_fields(method, &fields))
    }

    fn answer_fields(&self, method: TbankMethod, fields: &Map<String, Value>) -> Value {
        let Some(terminal_key) = fields.get("TerminalKey").and_then(Value::as_str) else {
            return error_body(&ApiError {
                code: "2",
                message: "Не переданы обязательные параметры",
                details: "Не передан параметр TerminalKey".to_owned(),
            });
        };
        if terminal_key != self.terminal_key {
            tracing::warn!(method = method.name(), "T-Bank stand-in: unknown terminal");
            return error_body(&ApiError {
                code: "501",
                message: "Терминал не найден",
                details: "Проверьте TerminalKey".to_owned(),
            });
        }
        let expected = token(fields, &self.password);
        if fields.get("Token").and_then(Value::as_str) != Some(expected.as_str()) {
            tracing::warn!(method = method.name(), "T-Bank stand-in: wrong token");
            return error_body(&ApiError {
                code: "204",
                message: "Неверный токен",
                details: "Проверьте пару TerminalKey и пароль терминала".to_owned(),
            });
        }
        let mut ledger = lock(&self.ledger);
        let result = match method {
            TbankMethod::Init => ledger.init(fields, &self.terminal_key, &self.public_base),
            TbankMethod::GetState => ledger.get_state(fields, &self.terminal_key),
            TbankMethod::Cancel => ledger.cancel(fields, &self.terminal_key),
            TbankMethod::CheckOrder => ledger.check_order(fields, &self.terminal_key),
        };
        match result {
            Ok(answer) => Value::Object(answer),
            Err(error) => {
                tracing::info!(method = method.name(), code = error.code, details = %error.details, "T-Bank stand-in: refused");
                error_body(&error)
            }
        }
    }

    /// A button of the payment form on payment `payment_id` (as the buyer
    /// or the bank would press it): the status afterwards.
    fn press(&self, payment_id: &str, button: FormButton) -> Result<PaymentStatus, Error> {
        let id = parse_id(payment_id)?;
        lock(&self.ledger)
            .press(id, button)
            .ok_or_else(|| Error::UnknownPayment(payment_id.to_owned()))
    }

    /// Waits `hold`, or less if the stand-in shuts down.
    async fn hold(&self, hold: Duration) {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(hold) => {}
            _ = shutdown.wait_for(|stopping| *stopping) => {}
        }
    }
}

fn error_body(error: &ApiError) -> Value {
    json!({
        "Success": false,
        "ErrorCode": error.code,
        "Message": error.message,
        "Details": error.details,
    })
}

/// Binds, starts serving in a background task, and returns the handle
/// that controls it.
pub async fn start(options: Options) -> Result<Handle, Error> {
    let bound = Bound::bind(options.bind).await?;
    let base_url = bound.base_url.clone();
    let mut public_base = options.public_base.unwrap_or_else(|| base_url.clone());
    if !public_base.path().ends_with('/') {
        let path = format!("{}/", public_base.path());
        public_base.set_path(&path);
    }
    let stop = watch::Sender::new(false);
    let shared = Arc::new(Shared {
        terminal_key: options.terminal_key,
        password: options.password,
        public_base,
        ledger: Mutex::new(Ledger::new()),
        script: Script::default(),
        dice: options.faults.dice("tbank"),
        rates: options.faults.tbank.clone(),
        shutdown: stop.subscribe(),
    });
    let router = Router::new()
        .route("/v2/{method}", post(api))
        .route("/checkout/{payment_id}", get(checkout_page))
        .route("/checkout/{payment_id}/{button}", post(checkout_button))
        .with_state(Arc::clone(&shared));
    let server = bound.serve_until(router, "T-Bank", stop);
    Ok(Handle {
        shared,
        base_url,
        server,
    })
}

/// Controls a running stand-in. Dropping it stops the server.
pub struct Handle {
    shared: Arc<Shared>,
    base_url: Url,
    server: Server,
}

impl Handle {
    /// The URL to give the client as its `base_url` (ends with `/`).
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// Stops the server and waits for it (at most 5 s); held (timeout)
    /// requests end at once.
    pub async fn shutdown(&self) {
        self.server.shutdown(Duration::from_secs(5)).await;
    }

    /// Pays a payment as the buyer would on the form. Returns the status
    /// afterwards: `CONFIRMED` normally, unchanged if the payment is stuck
    /// or no longer payable (expired, declined, cancelled).
    pub fn pay(&self, payment_id: &str) -> Result<PaymentStatus, Error> {
        self.shared.press(payment_id, FormButton::Pay)
    }

    /// Pays a payment through SBP, as the buyer would from a bank app:
    /// `CONFIRMED`, and its refunds behave as SBP's do (see `ledger`).
    pub fn pay_sbp(&self, payment_id: &str) -> Result<PaymentStatus, Error> {
        self.shared.press(payment_id, FormButton::PaySbp)
    }

    /// Declines a payment as the bank would: `REJECTED`, unless stuck or no
    /// longer payable.
    pub fn decline(&self, payment_id: &str) -> Result<PaymentStatus, Error> {
        self.shared.press(payment_id, FormButton::Decline)
    }

    /// The buyer fails the 3-D Secure check: `AUTH_FAIL`, unless stuck or
    /// no longer payable.
    pub fn fail_three_ds(&self, payment_id: &str) -> Result<PaymentStatus, Error> {
        self.shared.press(payment_id, FormButton::FailThreeDs)
    }

    /// The buyer runs out of tries on the form: `ATTEMPTS_EXPIRED`, unless
    /// stuck or no longer payable.
    pub fn exhaust_attempts(&self, payment_id: &str) -> Result<PaymentStatus, Error> {
        self.shared.press(payment_id, FormButton::ExhaustAttempts)
    }

    /// The payments of one order, oldest first.
    pub fn payments_of_order(&self, order_id: &str) -> Vec<StandinPayment> {
        lock(&self.shared.ledger)
            .payments_of_order(order_id)
            .iter()
            .map(StandinPayment::from)
            .collect()
    }
}

/// The scripted faults and the peeks into state: for tests only.
#[cfg(feature = "testkit")]
impl Handle {
    /// The next `times` calls of `fault.method` play `fault.play`.
    pub fn script(&self, fault: Fault, times: u32) {
        self.shared.script.push(fault, times);
    }

    /// Every call of `fault.method` plays `fault.play` with `probability`
    /// (0.0–1.0) when nothing scripted is left for it; setting the same
    /// fault again replaces its rate, 0 removes it.
    pub fn script_rate(&self, fault: Fault, probability: f64) {
        self.shared
            .script
            .set_rate(fault, probability, |a, b| a == b);
    }

    /// Removes every scripted fault, rate and stuck payment.
    pub fn clear_script(&self) {
        self.shared.script.clear();
        lock(&self.shared.ledger).unstick_all();
    }

    /// How many scripted faults of `method` are still to come.
    pub fn scripted_left(&self, method: TbankMethod) -> usize {
        self.shared.script.queued(|fault| fault.method == method)
    }

    /// Pay (and Decline) on this payment do nothing: it stays `FORM_SHOWED`.
    pub fn stick_in_form_showed(&self, payment_id: &str) -> Result<(), Error> {
        let id = parse_id(payment_id)?;
        lock(&self.shared.ledger).stick(id);
        Ok(())
    }

    /// The status of a payment by the stand-in's clock.
    pub fn status(&self, payment_id: &str) -> Option<PaymentStatus> {
        let id = parse_id(payment_id).ok()?;
        lock(&self.shared.ledger)
            .payment(id)
            .map(|payment| payment.status.clone())
    }

    /// Everything the stand-in knows about a payment.
    pub fn payment(&self, payment_id: &str) -> Option<StandinPayment> {
        let id = parse_id(payment_id).ok()?;
        lock(&self.shared.ledger)
            .payment(id)
            .map(|payment| StandinPayment::from(&*payment))
    }

    /// The stand-in's clock (real time plus every `advance_clock`).
    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.shared.ledger).now()
    }

    /// Moves the stand-in's clock forward, e.g. past a `RedirectDueDate`.
    pub fn advance_clock(&self, by: Duration) {
        let by = chrono::TimeDelta::from_std(by).unwrap_or(chrono::TimeDelta::MAX);
        lock(&self.shared.ledger).advance_clock(by);
    }

    /// Answer every `PaymentId` as a JSON number instead of a string (T-Bank
    /// does both).
    pub fn answer_payment_ids_as_numbers(&self, as_numbers: bool) {
        lock(&self.shared.ledger).payment_ids_as_numbers = as_numbers;
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("tbank::standin::Handle")
            .field("base_url", &self.base_url.as_str())
            .field("public_base", &self.shared.public_base.as_str())
            .finish_non_exhaustive()
    }
}

/// A payment as the stand-in keeps it, for assertions and the sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct StandinPayment {
    pub(crate) payment_id: String,
    pub(crate) order_id: String,
    pub(crate) status: PaymentStatus,
    pub description: String,
    /// The amount of the `Init`, in kopecks.
    pub(crate) original_amount: i64,
    /// What is left after refunds and reversals, in kopecks.
    pub amount: i64,
    /// The amount each successful `Cancel` returned, in order.
    pub cancellations: Vec<i64>,
    /// The receipt total each successful `Cancel` carried (`None`: none).
    pub cancellation_receipts: Vec<Option<i64>>,
    pub redirect_due_date: DateTime<Utc>,
    /// `Receipt.Items[].Name` the `Init` carried.
    pub receipt_items: Vec<String>,
}

impl From<&Payment> for StandinPayment {
    fn from(payment: &Payment) -> StandinPayment {
        StandinPayment {
            payment_id: payment.id.to_string(),
            order_id: payment.order_id.clone(),
            status: payment.status.clone(),
            description: payment.description.clone(),
            original_amount: payment.original_amount,
            amount: payment.amount,
            cancellations: payment.cancellations.clone(),
            cancellation_receipts: payment.cancellation_receipts.clone(),
            redirect_due_date: payment.redirect_due_date,
            receipt_items: payment.receipt_items.clone(),
        }
    }
}

fn parse_id(payment_id: &str) -> Result<u64, Error> {
    payment_id
        .parse::<u64>()
        .map_err(|_| Error::UnknownPayment(payment_id.to_owned()))
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Path(method_name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(method) = TbankMethod::from_name(&method_name) else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    let fault = shared
        .script
        .take_or_roll(|fault| fault.method == method)
        .map(|fault| fault.play)
        .or_else(|| rated_fault(&shared, method));
    match fault {
        None => json_response(shared.answer(method, &body)),
        Some(CallFault::HttpStatus(status)) => {
            tracing::info!(
                method = method.name(),
                status,
                "T-Bank stand-in: scripted HTTP error"
            );
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (
                status,
                Html(format!(
                    "<html><body><h1>{status}</h1></body></html>",
                    status = status.as_u16()
                )),
            )
                .into_response()
        }
        Some(CallFault::ErrorCode { code, message }) => {
            tracing::info!(method = method.name(), code = %code, "T-Bank stand-in: scripted error code");
            json_response((
                StatusCode::OK,
                json!({
                    "Success": false,
                    "ErrorCode": code,
                    "Message": message,
                    "Details": "",
                }),
            ))
        }
        Some(CallFault::BuyerPaysFirst) => {
            let named = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|fields| match &fields["PaymentId"] {
                    serde_json::Value::String(id) => Some(id.clone()),
                    serde_json::Value::Number(id) => Some(id.to_string()),
                    _ => None,
                });
            if let Some(payment_id) = named {
                let paid = shared.press(&payment_id, FormButton::Pay);
                tracing::info!(
                    method = method.name(),
                    payment_id,
                    ?paid,
                    "T-Bank stand-in: the buyer paid first"
                );
            }
            json_response(shared.answer(method, &body))
        }
        Some(CallFault::Timeout { hold, processed }) => {
            tracing::info!(
                method = method.name(),
                processed,
                "T-Bank stand-in: scripted timeout"
            );
            if processed {
                let _lost = shared.answer(method, &body);
            }
            shared.hold(hold).await;
            (StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout").into_response()
        }
    }
}

/// The fault plan's faults of Init, GetState and Cancel.
fn rated_fault(shared: &Shared, method: TbankMethod) -> Option<CallFault> {
    if method == TbankMethod::CheckOrder {
        return None;
    }
    let (rates, dice) = (&shared.rates, &shared.dice);
    let name = method.name();
    if dice.roll(rates.timeout) {
        let processed = dice.coin();
        dice.record(&format!(
            "tbank.{name}.timeout{}",
            if processed { "_processed" } else { "" }
        ));
        return Some(CallFault::Timeout {
            hold: rates.timeout_hold,
            processed,
        });
    }
    if dice.roll(rates.error) {
        dice.record(&format!("tbank.{name}.error"));
        return Some(if dice.coin() {
            CallFault::internal_error()
        } else {
            CallFault::error_code("3", "Внутренняя ошибка")
        });
    }
    if dice.roll(rates.http_5xx) {
        dice.record(&format!("tbank.{name}.http_503"));
        return Some(CallFault::HttpStatus(503));
    }
    None
}

fn json_response((status, body): (StatusCode, Value)) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

async fn checkout_page(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
) -> Response {
    let shown = parse_id(&payment_id)
        .ok()
        .and_then(|id| lock(&shared.ledger).show_form(id));
    match shown {
        Some(payment) => Html(checkout::render_page(&payment)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(checkout::render_not_found(&payment_id)),
        )
            .into_response(),
    }
}

async fn checkout_button(
    State(shared): State<Arc<Shared>>,
    Path((payment_id, button)): Path<(String, String)>,
) -> Response {
    match FormButton::from_path(&button) {
        Some(button) => after_button(shared.press(&payment_id, button), &payment_id),
        None => (
            StatusCode::NOT_FOUND,
            Html(checkout::render_not_found(&payment_id)),
        )
            .into_response(),
    }
}

/// After a button: back to the form (303), which now shows the result.
fn after_button(pressed: Result<PaymentStatus, Error>, payment_id: &str) -> Response {
    if pressed.is_err() {
        return (
            StatusCode::NOT_FOUND,
            Html(checkout::render_not_found(payment_id)),
        )
            .into_response();
    }
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("../{payment_id}"))],
    )
        .into_response()
}
