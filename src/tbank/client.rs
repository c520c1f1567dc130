//! The HTTP client of T-Bank Internet Acquiring v2.
//!
//! One `reqwest::Client` with a timeout on every call; every request is
//! signed with [`token`]; every answer is checked for `Success` before it is
//! decoded. Neither the password nor the token ever reaches a log line or an
//! error message.

use std::time::Duration;

use chrono::FixedOffset;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use url::Url;

use super::token::token;
use super::types::{
    CancelResponse, InitRequest, InitResponse, LooseBool, LooseText, OrderPayment, PaymentStatus,
    Receipt, StateResponse, TbankMethod,
};

/// Longest `OrderId` T-Bank accepts.
pub(crate) const MAX_ORDER_ID_CHARS: usize = 36;
/// Longest `Description` T-Bank accepts.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 140;
/// Longest receipt item `Name` T-Bank accepts.
pub(crate) const MAX_ITEM_NAME_CHARS: usize = 128;
/// T-Bank refuses a longer `Receipt.Email` at Init.
pub const MAX_RECEIPT_EMAIL_CHARS: usize = 64;
/// Most `DATA` pairs T-Bank accepts.
pub(crate) const MAX_DATA_PAIRS: usize = 20;

/// Moscow time, the offset `RedirectDueDate` is written in.
fn moscow() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600).expect("+03:00 is a valid offset")
}

/// Writes a deadline the way T-Bank wants it: `YYYY-MM-DDTHH:MI:SS+03:00`.
pub fn format_redirect_due_date(due: chrono::DateTime<chrono::Utc>) -> String {
    due.with_timezone(&moscow())
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Everything that can go wrong talking to T-Bank.
#[derive(Debug, thiserror::Error)]
pub enum TbankError {
    /// No answer within the client's timeout.
    #[error("T-Bank did not answer in time")]
    Timeout,
    /// The connection failed before an answer arrived.
    #[error("T-Bank network error: {0}")]
    Network(String),
    /// An HTTP status other than 2xx.
    #[error("T-Bank answered HTTP {status}")]
    Http { status: u16 },
    /// `Success: false` with T-Bank's code, message and details.
    #[error("T-Bank error {code}: {message} ({details})")]
    Api {
        code: String,
        message: String,
        details: String,
    },
    /// An answer that is not the documented JSON.
    #[error("T-Bank answer could not be read: {0}")]
    Decode(String),
    /// The request was refused locally and never sent.
    #[error("invalid T-Bank request: {0}")]
    InvalidRequest(String),
}

impl TbankError {
    /// Whether trying the same call again later may succeed: timeouts,
    /// network failures, HTTP 5xx (and 408/429), and the codes `3`, `99`
    /// and `9999`.
    pub fn is_transient(&self) -> bool {
        match self {
            TbankError::Timeout | TbankError::Network(_) => true,
            TbankError::Http { status } => *status >= 500 || *status == 408 || *status == 429,
            TbankError::Api { code, .. } => matches!(code.as_str(), "3" | "99" | "9999"),
            TbankError::Decode(_) | TbankError::InvalidRequest(_) => false,
        }
    }

    /// Whether T-Bank rejected the signature (codes `204` and `205`): the
    /// terminal key or password is wrong.
    pub fn is_wrong_token(&self) -> bool {
        matches!(self.code(), Some("204" | "205"))
    }

    /// T-Bank's `ErrorCode`, for `Api` errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            TbankError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// How to reach T-Bank.
#[derive(Debug, Clone)]
pub struct TbankSettings {
    /// `https://securepay.tinkoff.ru` in production; the stand-in's URL in tests.
    pub base_url: Url,
    pub terminal_key: SecretString,
    pub password: SecretString,
    /// Timeout of one whole HTTP call.
    pub timeout: Duration,
}

/// A client of T-Bank Internet Acquiring v2.
#[derive(Debug, Clone)]
pub struct TbankClient {
    http: reqwest::Client,
    base_url: Url,
    terminal_key: SecretString,
    password: SecretString,
}

impl TbankClient {
    /// Which bank this client talks to: a fingerprint of the base URL and
    /// the terminal key (the key itself is never stored). A payment is
    /// tagged with it before Init, and only a client with the same tag may
    /// poll, confirm or cancel it — a stand-in never confirms a payment
    /// made at the real bank, nor the real bank one made at a stand-in.
    pub(crate) fn terminal_tag(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.base_url.as_str().as_bytes());
        hasher.update(b"\n");
        hasher.update(self.terminal_key.expose_secret().as_bytes());
        hasher
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Builds the client. Fails on a base URL that is not http(s), a
    /// terminal key T-Bank would not accept, or a zero timeout.
    pub fn new(settings: TbankSettings) -> Result<Self, TbankError> {
        let TbankSettings {
            base_url,
            terminal_key,
            password,
            timeout,
        } = settings;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(TbankError::InvalidRequest(
                "base_url must be an http or https URL".to_owned(),
            ));
        }
        let key_chars = terminal_key.expose_secret().chars().count();
        if key_chars == 0 || key_chars > 20 {
            return Err(TbankError::InvalidRequest(
                "the terminal key must be 1..=20 characters".to_owned(),
            ));
        }
        if timeout.is_zero() {
            return Err(TbankError::InvalidRequest(
                "the timeout must not be zero".to_owned(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("pinglass/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                TbankError::Network(format!(
                    "cannot build the HTTP client: {}",
                    error_chain(&error)
                ))
            })?;
        let mut base_url = base_url;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(TbankClient {
            http,
            base_url,
            terminal_key,
            password,
        })
    }

    /// Creates a one-stage payment (`PayType = O`) and returns its id and
    /// payment form URL. The request is checked locally first: the amount
    /// must equal the receipt's total, the receipt must name an e-mail or a
    /// phone, and the lengths must fit T-Bank's limits.
    #[tracing::instrument(name = "tbank.init", skip_all, fields(order_id = %request.order_id, amount = request.amount_kopecks))]
    pub async fn init(&self, request: &InitRequest) -> Result<InitResponse, TbankError> {
        if let Err(error) = validate_init(request) {
            tracing::warn!(%error, "T-Bank Init refused locally");
            return Err(error);
        }
        let mut data = request.data.clone();
        data.entry("OperationInitiatorType".to_owned())
            .or_insert_with(|| "0".to_owned());

        let mut fields = Map::new();
        fields.insert("Amount".into(), request.amount_kopecks.into());
        fields.insert("OrderId".into(), request.order_id.clone().into());
        fields.insert("Description".into(), request.description.clone().into());
        if let Some(customer_key) = &request.customer_key {
            fields.insert("CustomerKey".into(), customer_key.clone().into());
        }
        fields.insert("PayType".into(), "O".into());
        if let Some(language) = &request.language {
            fields.insert("Language".into(), language.clone().into());
        }
        fields.insert(
            "RedirectDueDate".into(),
            format_redirect_due_date(request.redirect_due_date).into(),
        );
        fields.insert("DATA".into(), to_value(&data)?);
        fields.insert("Receipt".into(), to_value(&request.receipt)?);

        let answer: InitAnswer = self.call(TbankMethod::Init, fields).await?;
        let payment_url = Url::parse(&answer.payment_url)
            .map_err(|error| TbankError::Decode(format!("Init PaymentURL: {error}")))?;
        let response = InitResponse {
            payment_id: answer.payment_id.0,
            order_id: answer.order_id,
            amount_kopecks: answer.amount,
            status: answer.status,
            payment_url,
        };
        tracing::info!(payment_id = %response.payment_id, status = %response.status, "T-Bank payment created");
        Ok(response)
    }

    /// Asks for the current status of a payment.
    #[tracing::instrument(name = "tbank.get_state", skip(self))]
    pub async fn get_state(&self, payment_id: &str) -> Result<StateResponse, TbankError> {
        require_payment_id(payment_id)?;
        let mut fields = Map::new();
        fields.insert("PaymentId".into(), payment_id.into());
        let answer: StateAnswer = self.call(TbankMethod::GetState, fields).await?;
        let response = StateResponse {
            payment_id: answer.payment_id.0,
            order_id: answer.order_id,
            status: answer.status,
            amount_kopecks: answer.amount,
            params: answer
                .params
                .unwrap_or_default()
                .into_iter()
                .map(|param| (param.key, param.value.0))
                .collect(),
        };
        tracing::debug!(order_id = %response.order_id, status = %response.status, "T-Bank payment state");
        Ok(response)
    }

    /// Cancels a payment: a `NEW` one in full, a held or confirmed one in
    /// full (`amount: None`) or in part. `external_request_id` makes the call
    /// idempotent: repeating it with the same id changes the money once.
    #[tracing::instrument(name = "tbank.cancel", skip(self, receipt))]
    pub async fn cancel(
        &self,
        payment_id: &str,
        amount: Option<i64>,
        receipt: Option<&Receipt>,
        external_request_id: &str,
    ) -> Result<CancelResponse, TbankError> {
        require_payment_id(payment_id)?;
        if let Some(amount) = amount
            && amount <= 0
        {
            return Err(TbankError::InvalidRequest(format!(
                "the cancel amount must be positive, got {amount}"
            )));
        }
        if external_request_id.trim().is_empty() {
            return Err(TbankError::InvalidRequest(
                "ExternalRequestId must not be empty".to_owned(),
            ));
        }
        if let Some(receipt) = receipt {
            validate_receipt(receipt)?;
            if let Some(amount) = amount
                && receipt.total_kopecks() != amount
            {
                return Err(TbankError::InvalidRequest(format!(
                    "the refund receipt totals {} kopecks but the amount is {amount}",
                    receipt.total_kopecks()
                )));
            }
        }
        let mut fields = Map::new();
        fields.insert("PaymentId".into(), payment_id.into());
        if let Some(amount) = amount {
            fields.insert("Amount".into(), amount.into());
        }
        if let Some(receipt) = receipt {
            fields.insert("Receipt".into(), to_value(receipt)?);
        }
        fields.insert("ExternalRequestId".into(), external_request_id.into());
        let answer: CancelAnswer = self.call(TbankMethod::Cancel, fields).await?;
        let response = CancelResponse {
            payment_id: answer.payment_id.0,
            order_id: answer.order_id.unwrap_or_default(),
            status: answer.status,
            original_amount: answer.original_amount,
            new_amount: answer.new_amount,
        };
        tracing::info!(
            order_id = %response.order_id,
            status = %response.status,
            original_amount = response.original_amount,
            new_amount = response.new_amount,
            "T-Bank payment cancelled"
        );
        Ok(response)
    }

    /// Lists the payments T-Bank holds for one of our order ids.
    #[tracing::instrument(name = "tbank.check_order", skip(self))]
    pub async fn check_order(&self, order_id: &str) -> Result<Vec<OrderPayment>, TbankError> {
        if order_id.is_empty() || order_id.chars().count() > MAX_ORDER_ID_CHARS {
            return Err(TbankError::InvalidRequest(format!(
                "OrderId must be 1..={MAX_ORDER_ID_CHARS} characters"
            )));
        }
        let mut fields = Map::new();
        fields.insert("OrderId".into(), order_id.into());
        let answer: CheckOrderAnswer = self.call(TbankMethod::CheckOrder, fields).await?;
        let payments: Vec<OrderPayment> = answer
            .payments
            .unwrap_or_default()
            .into_iter()
            .map(|payment| OrderPayment {
                payment_id: payment.payment_id.0,
                amount_kopecks: payment.amount,
                status: payment.status,
                success: payment.success.is_none_or(|flag| flag.0),
                error_code: payment
                    .error_code
                    .map(|code| code.0)
                    .unwrap_or_else(|| "0".to_owned()),
                message: payment.message,
                rrn: payment.rrn.map(|rrn| rrn.0),
            })
            .collect();
        tracing::debug!(payments = payments.len(), "T-Bank order checked");
        Ok(payments)
    }

    /// Signs and sends one call, then checks `Success` and decodes the answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: TbankMethod,
        mut fields: Map<String, Value>,
    ) -> Result<T, TbankError> {
        fields.insert(
            "TerminalKey".into(),
            self.terminal_key.expose_secret().into(),
        );
        let signature = token(&fields, self.password.expose_secret());
        fields.insert("Token".into(), signature.into());

        let url = self
            .base_url
            .join(&format!("v2/{}", method.name()))
            .map_err(|error| TbankError::InvalidRequest(format!("endpoint URL: {error}")))?;
        let started = std::time::Instant::now();
        let result = self.send(method, &url, &fields).await;
        crate::ops::metrics::external_call(
            "tbank",
            method.name(),
            result.is_ok(),
            started.elapsed(),
        );
        if let Err(error) = &result {
            tracing::warn!(method = method.name(), %error, transient = error.is_transient(), "T-Bank call failed");
        }
        result
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: TbankMethod,
        url: &Url,
        fields: &Map<String, Value>,
    ) -> Result<T, TbankError> {
        let response = self
            .http
            .post(url.clone())
            .json(fields)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(TbankError::Http {
                status: status.as_u16(),
            });
        }
        let body = response.bytes().await.map_err(transport_error)?;
        let envelope: Envelope = serde_json::from_slice(&body)
            .map_err(|error| TbankError::Decode(format!("{method} answer: {error}")))?;
        if !envelope.success {
            return Err(TbankError::Api {
                code: envelope
                    .error_code
                    .map(|code| code.0)
                    .unwrap_or_else(|| "unknown".to_owned()),
                message: envelope.message.unwrap_or_default(),
                details: envelope.details.unwrap_or_default(),
            });
        }
        serde_json::from_slice(&body)
            .map_err(|error| TbankError::Decode(format!("{method} answer: {error}")))
    }
}

/// Checks an `Init` request against T-Bank's documented rules.
pub(crate) fn validate_init(request: &InitRequest) -> Result<(), TbankError> {
    let invalid = |reason: String| Err(TbankError::InvalidRequest(reason));
    if request.amount_kopecks <= 0 {
        return invalid(format!(
            "the amount must be positive, got {}",
            request.amount_kopecks
        ));
    }
    let order_chars = request.order_id.chars().count();
    if order_chars == 0 || order_chars > MAX_ORDER_ID_CHARS {
        return invalid(format!(
            "OrderId must be 1..={MAX_ORDER_ID_CHARS} characters, got {order_chars}"
        ));
    }
    let description_chars = request.description.chars().count();
    if description_chars > MAX_DESCRIPTION_CHARS {
        return invalid(format!(
            "Description must be at most {MAX_DESCRIPTION_CHARS} characters, got {description_chars}"
        ));
    }
    if let Some(customer_key) = &request.customer_key
        && (customer_key.is_empty() || customer_key.chars().count() > 36)
    {
        return invalid("CustomerKey must be 1..=36 characters".to_owned());
    }
    if let Some(language) = &request.language
        && !matches!(language.as_str(), "ru" | "en")
    {
        return invalid(format!(
            "Language must be \"ru\" or \"en\", got {language:?}"
        ));
    }
    if request.data.len() + usize::from(!request.data.contains_key("OperationInitiatorType"))
        > MAX_DATA_PAIRS
    {
        return invalid(format!("DATA holds at most {MAX_DATA_PAIRS} pairs"));
    }
    validate_receipt(&request.receipt)?;
    let total = request.receipt.total_kopecks();
    if total != request.amount_kopecks {
        return invalid(format!(
            "the receipt items total {total} kopecks but the amount is {}",
            request.amount_kopecks
        ));
    }
    Ok(())
}

/// Checks a receipt on its own: a contact, at least one item, and items
/// whose amount is price × quantity.
fn validate_receipt(receipt: &Receipt) -> Result<(), TbankError> {
    let invalid = |reason: String| Err(TbankError::InvalidRequest(reason));
    if !receipt.has_contact() {
        return invalid("the receipt needs an Email or a Phone".to_owned());
    }
    if receipt
        .email
        .as_deref()
        .is_some_and(|email| email.chars().count() > MAX_RECEIPT_EMAIL_CHARS)
    {
        return invalid(format!(
            "the receipt's Email is longer than {MAX_RECEIPT_EMAIL_CHARS} characters"
        ));
    }
    let ffd_12 = match receipt.ffd_version.as_deref() {
        None | Some("1.05") => false,
        Some("1.2") => true,
        Some(other) => return invalid(format!("FfdVersion {other:?} is neither 1.05 nor 1.2")),
    };
    if receipt.items.is_empty() {
        return invalid("the receipt has no items".to_owned());
    }
    for (index, item) in receipt.items.iter().enumerate() {
        let name_chars = item.name.chars().count();
        if name_chars == 0 || name_chars > MAX_ITEM_NAME_CHARS {
            return invalid(format!(
                "receipt item {index}: Name must be 1..={MAX_ITEM_NAME_CHARS} characters"
            ));
        }
        if !item.quantity.is_finite() || item.quantity <= 0.0 || item.price < 0 {
            return invalid(format!(
                "receipt item {index}: Price and Quantity must be positive"
            ));
        }
        if ffd_12 && item.measurement_unit.as_deref().is_none_or(str::is_empty) {
            return invalid(format!(
                "receipt item {index}: FFD 1.2 needs a MeasurementUnit"
            ));
        }
        let expected = (item.price as f64 * item.quantity).round();
        if expected != item.amount as f64 {
            return invalid(format!(
                "receipt item {index}: Amount {} is not Price {} × Quantity {}",
                item.amount, item.price, item.quantity
            ));
        }
    }
    Ok(())
}

fn require_payment_id(payment_id: &str) -> Result<(), TbankError> {
    if payment_id.is_empty() || payment_id.len() > 20 {
        return Err(TbankError::InvalidRequest(
            "PaymentId must be 1..=20 characters".to_owned(),
        ));
    }
    Ok(())
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, TbankError> {
    serde_json::to_value(value)
        .map_err(|error| TbankError::InvalidRequest(format!("cannot encode the request: {error}")))
}

fn transport_error(error: reqwest::Error) -> TbankError {
    if error.is_timeout() {
        TbankError::Timeout
    } else {
        TbankError::Network(error_chain(&error))
    }
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The fields every answer has.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    success: bool,
    #[serde(default)]
    error_code: Option<LooseText>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitAnswer {
    payment_id: LooseText,
    order_id: String,
    amount: i64,
    status: PaymentStatus,
    #[serde(rename = "PaymentURL")]
    payment_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StateAnswer {
    payment_id: LooseText,
    order_id: String,
    status: PaymentStatus,
    amount: i64,
    #[serde(default)]
    params: Option<Vec<StateParam>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StateParam {
    key: String,
    value: LooseText,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CancelAnswer {
    payment_id: LooseText,
    #[serde(default)]
    order_id: Option<String>,
    status: PaymentStatus,
    original_amount: i64,
    new_amount: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CheckOrderAnswer {
    #[serde(default)]
    payments: Option<Vec<CheckOrderPayment>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CheckOrderPayment {
    payment_id: LooseText,
    amount: i64,
    status: PaymentStatus,
    #[serde(default)]
    success: Option<LooseBool>,
    #[serde(default)]
    error_code: Option<LooseText>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "RRN")]
    rrn: Option<LooseText>,
}
