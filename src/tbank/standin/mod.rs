//! A faithful in-process stand-in for T-Bank Internet Acquiring v2.
//!
//! It serves `POST /v2/Init|GetState|Cancel|CheckOrder` with T-Bank's JSON
//! shapes and codes, checks the terminal key and the token, and moves
//! payments through T-Bank's states. `Init` answers a `PaymentURL` to the
//! stand-in's own payment form, `GET /checkout/{payment_id}`, whose Pay and
//! Decline buttons settle the payment.
//!
//! Tests drive it through [`StandinHandle`]: pay or decline without a
//! browser, move its clock past a `RedirectDueDate`, and script faults
//! ([`Faults`]) — timeouts, HTTP 5xx, `Success: false` with any code, and
//! payments stuck on the form — either for the next N calls of a method or
//! at a rate.

mod checkout;
mod ledger;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use super::token::token;
use super::types::{PaymentStatus, TbankMethod};
use ledger::{ApiError, Ledger, Payment};

/// How to start the stand-in.
#[derive(Debug, Clone)]
pub struct StandinOptions {
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
pub enum StandinError {
    #[error("T-Bank stand-in cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("T-Bank stand-in: no payment {0}")]
    UnknownPayment(String),
}

/// A fault the stand-in plays instead of (or around) a normal answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Hold the request for `hold` (longer than the client's timeout), then
    /// answer HTTP 504. With `processed: true` the call takes effect first,
    /// so only the answer is lost — the case `CheckOrder` exists for.
    Timeout { hold: Duration, processed: bool },
    /// Answer this HTTP status (500, 502, 503, …) with an HTML error page.
    HttpStatus(u16),
    /// Answer HTTP 200 with `Success: false` and this code and message.
    ErrorCode { code: String, message: String },
}

impl Fault {
    /// T-Bank's internal error, code 9999.
    pub fn internal_error() -> Fault {
        Fault::error_code("9999", "Внутренняя ошибка системы")
    }

    /// `Success: false` with any code.
    pub fn error_code(code: &str, message: &str) -> Fault {
        Fault::ErrorCode {
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    /// A request that is never answered in time and never takes effect.
    pub fn timeout(hold: Duration) -> Fault {
        Fault::Timeout {
            hold,
            processed: false,
        }
    }
}

#[derive(Debug, Default)]
struct FaultPlan {
    scripted: HashMap<TbankMethod, VecDeque<Fault>>,
    rates: HashMap<TbankMethod, Vec<(Fault, f64)>>,
}

impl FaultPlan {
    fn take(&mut self, method: TbankMethod) -> Option<Fault> {
        if let Some(fault) = self.scripted.get_mut(&method).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        let rates = self.rates.get(&method)?;
        rates
            .iter()
            .find(|(_, probability)| rand::random::<f64>() < *probability)
            .map(|(fault, _)| fault.clone())
    }
}

struct Shared {
    terminal_key: String,
    password: String,
    /// Ends with `/`; `PaymentURL`s are `{public_base}checkout/{id}`.
    public_base: Url,
    ledger: Mutex<Ledger>,
    faults: Mutex<FaultPlan>,
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

/// The stand-in server.
pub struct TbankStandin;

impl TbankStandin {
    /// Binds, starts serving in a background task, and returns the handle
    /// that controls it.
    pub async fn start(options: StandinOptions) -> Result<StandinHandle, StandinError> {
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .map_err(|source| StandinError::Bind {
                addr: options.bind,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| StandinError::Bind {
            addr: options.bind,
            source,
        })?;
        let base_url =
            Url::parse(&format!("http://{local}/")).map_err(|error| StandinError::Bind {
                addr: local,
                source: std::io::Error::other(error),
            })?;
        let mut public_base = options.public_base.unwrap_or_else(|| base_url.clone());
        if !public_base.path().ends_with('/') {
            let path = format!("{}/", public_base.path());
            public_base.set_path(&path);
        }
        let (shutdown_sender, shutdown_receiver) = watch::channel(false);
        let shared = Arc::new(Shared {
            terminal_key: options.terminal_key,
            password: options.password,
            public_base,
            ledger: Mutex::new(Ledger::new()),
            faults: Mutex::new(FaultPlan::default()),
            dice: options.faults.dice("tbank"),
            rates: options.faults.tbank.clone(),
            shutdown: shutdown_receiver.clone(),
        });
        let router = Router::new()
            .route("/v2/{method}", post(api))
            .route("/checkout/{payment_id}", get(checkout_page))
            .route("/checkout/{payment_id}/pay", post(checkout_pay))
            .route("/checkout/{payment_id}/decline", post(checkout_decline))
            .with_state(Arc::clone(&shared));
        let mut stop = shutdown_receiver;
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stopping| *stopping).await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "T-Bank stand-in stopped with an error");
            }
        });
        tracing::info!(%base_url, "T-Bank stand-in listening");
        Ok(StandinHandle {
            shared,
            base_url,
            shutdown: shutdown_sender,
            task: Some(task),
        })
    }
}

/// Controls a running stand-in. Dropping it stops the server.
pub struct StandinHandle {
    shared: Arc<Shared>,
    base_url: Url,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl StandinHandle {
    /// The URL to give the client as its `base_url` (ends with `/`).
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// The base of the `PaymentURL`s handed out (ends with `/`).
    pub fn public_base(&self) -> Url {
        self.shared.public_base.clone()
    }

    /// Stops the server and waits for it; held (timeout) requests end at once.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Pays a payment as the buyer would on the form. Returns the status
    /// afterwards: `CONFIRMED` normally, unchanged if the payment is stuck
    /// or no longer payable (expired, declined, cancelled).
    pub fn pay(&self, payment_id: &str) -> Result<PaymentStatus, StandinError> {
        let id = parse_id(payment_id)?;
        lock(&self.shared.ledger)
            .pay(id)
            .ok_or_else(|| StandinError::UnknownPayment(payment_id.to_owned()))
    }

    /// Declines a payment as the bank would: `REJECTED`, unless stuck or no
    /// longer payable.
    pub fn decline(&self, payment_id: &str) -> Result<PaymentStatus, StandinError> {
        let id = parse_id(payment_id)?;
        lock(&self.shared.ledger)
            .decline(id)
            .ok_or_else(|| StandinError::UnknownPayment(payment_id.to_owned()))
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

    /// The payments of one order, oldest first.
    pub fn payments_of_order(&self, order_id: &str) -> Vec<StandinPayment> {
        lock(&self.shared.ledger)
            .payments_of_order(order_id)
            .iter()
            .map(StandinPayment::from)
            .collect()
    }

    /// The stand-in's clock (real time plus every `advance_clock`).
    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.shared.ledger).now()
    }

    /// Moves the stand-in's clock forward, e.g. past a `RedirectDueDate`.
    pub fn advance_clock(&self, by: Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        lock(&self.shared.ledger).advance_clock(by);
    }

    /// Answer every `PaymentId` as a JSON number instead of a string (T-Bank
    /// does both).
    pub fn answer_payment_ids_as_numbers(&self, as_numbers: bool) {
        lock(&self.shared.ledger).payment_ids_as_numbers = as_numbers;
    }

    /// Scripts faults.
    pub fn faults(&self) -> Faults {
        Faults {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl std::fmt::Debug for StandinHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandinHandle")
            .field("base_url", &self.base_url.as_str())
            .field("public_base", &self.shared.public_base.as_str())
            .finish_non_exhaustive()
    }
}

impl Drop for StandinHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// A payment as the stand-in keeps it, for assertions and the sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct StandinPayment {
    pub payment_id: String,
    pub order_id: String,
    pub status: PaymentStatus,
    pub description: String,
    /// The amount of the `Init`, in kopecks.
    pub original_amount: i64,
    /// What is left after refunds and reversals, in kopecks.
    pub amount: i64,
    /// The amount each successful `Cancel` returned, in order.
    pub cancellations: Vec<i64>,
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
            redirect_due_date: payment.redirect_due_date,
            receipt_items: payment.receipt_items.clone(),
        }
    }
}

/// Scripts the stand-in's faults. Scripted faults come first, in order;
/// when none is left for a method, its rates are rolled.
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").finish_non_exhaustive()
    }
}

impl Faults {
    /// The next `times` calls of `method` play `fault`.
    pub fn script(&self, method: TbankMethod, fault: Fault, times: usize) {
        let mut plan = lock(&self.shared.faults);
        let queue = plan.scripted.entry(method).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// How many scripted faults of `method` are still to come.
    pub fn pending(&self, method: TbankMethod) -> usize {
        lock(&self.shared.faults)
            .scripted
            .get(&method)
            .map_or(0, VecDeque::len)
    }

    /// Every call of `method` plays `fault` with `probability` (0.0–1.0);
    /// setting the same fault again replaces its rate, 0 removes it.
    pub fn set_rate(&self, method: TbankMethod, fault: Fault, probability: f64) {
        let probability = if probability.is_finite() {
            probability.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mut plan = lock(&self.shared.faults);
        let rates = plan.rates.entry(method).or_default();
        rates.retain(|(existing, _)| *existing != fault);
        if probability > 0.0 {
            rates.push((fault, probability));
        }
    }

    /// Pay (and Decline) on this payment do nothing: it stays `FORM_SHOWED`.
    pub fn stick_in_form_showed(&self, payment_id: &str) -> Result<(), StandinError> {
        let id = parse_id(payment_id)?;
        lock(&self.shared.ledger).stick(id);
        Ok(())
    }

    /// Every payment, present and future, stays `FORM_SHOWED` when paid.
    pub fn stick_all_in_form_showed(&self, stuck: bool) {
        lock(&self.shared.ledger).stick_all = stuck;
    }

    /// Removes every scripted fault, rate and stuck payment.
    pub fn clear(&self) {
        *lock(&self.shared.faults) = FaultPlan::default();
        lock(&self.shared.ledger).unstick_all();
    }
}

fn parse_id(payment_id: &str) -> Result<u64, StandinError> {
    payment_id
        .parse::<u64>()
        .map_err(|_| StandinError::UnknownPayment(payment_id.to_owned()))
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Path(method_name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(method) = TbankMethod::from_name(&method_name) else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    let fault = lock(&shared.faults)
        .take(method)
        .or_else(|| rated_fault(&shared, method));
    match fault {
        None => json_response(shared.answer(method, &body)),
        Some(Fault::HttpStatus(status)) => {
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
        Some(Fault::ErrorCode { code, message }) => {
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
        Some(Fault::Timeout { hold, processed }) => {
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
fn rated_fault(shared: &Shared, method: TbankMethod) -> Option<Fault> {
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
        return Some(Fault::Timeout {
            hold: rates.timeout_hold,
            processed,
        });
    }
    if dice.roll(rates.error) {
        dice.record(&format!("tbank.{name}.error"));
        return Some(if dice.coin() {
            Fault::internal_error()
        } else {
            Fault::error_code("3", "Внутренняя ошибка")
        });
    }
    if dice.roll(rates.http_5xx) {
        dice.record(&format!("tbank.{name}.http_503"));
        return Some(Fault::HttpStatus(503));
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

async fn checkout_pay(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
) -> Response {
    let paid = parse_id(&payment_id)
        .ok()
        .and_then(|id| lock(&shared.ledger).pay(id));
    after_button(paid.is_some(), &payment_id)
}

async fn checkout_decline(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
) -> Response {
    let declined = parse_id(&payment_id)
        .ok()
        .and_then(|id| lock(&shared.ledger).decline(id));
    after_button(declined.is_some(), &payment_id)
}

/// After a button: back to the form (303), which now shows the result.
fn after_button(found: bool, payment_id: &str) -> Response {
    if !found {
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
