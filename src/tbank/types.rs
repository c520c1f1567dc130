//! Typed values of the T-Bank Internet Acquiring v2 API: payment statuses,
//! 54-FZ receipts, and the requests and answers of the methods we use.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

/// The API methods the client calls and the stand-in serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TbankMethod {
    Init,
    GetState,
    Cancel,
    CheckOrder,
}

impl TbankMethod {
    /// All methods, in a fixed order.
    pub(crate) const ALL: [TbankMethod; 4] = [
        TbankMethod::Init,
        TbankMethod::GetState,
        TbankMethod::Cancel,
        TbankMethod::CheckOrder,
    ];

    /// The method's name as it appears in the path `/v2/<name>`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TbankMethod::Init => "Init",
            TbankMethod::GetState => "GetState",
            TbankMethod::Cancel => "Cancel",
            TbankMethod::CheckOrder => "CheckOrder",
        }
    }

    /// The method whose path name is `name` (case-sensitive, like T-Bank).
    pub(crate) fn from_name(name: &str) -> Option<TbankMethod> {
        TbankMethod::ALL
            .into_iter()
            .find(|method| method.name() == name)
    }
}

impl fmt::Display for TbankMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The status of a T-Bank payment.
///
/// Spellings T-Bank does not document (`UNKNOWN`, `COMPLETED`, `FORMSHOWED`
/// and so on) are kept as [`PaymentStatus::Unknown`], which is never final.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    New,
    FormShowed,
    Authorizing,
    ThreeDsChecking,
    ThreeDsChecked,
    PayChecking,
    Authorized,
    Confirming,
    Confirmed,
    Reversing,
    PartialReversed,
    Reversed,
    Refunding,
    /// A refund of an SBP (or QR) payment in progress.
    AsyncRefunding,
    PartialRefunded,
    Refunded,
    Canceled,
    DeadlineExpired,
    /// Too many tries on the form: the payment can no longer be paid.
    AttemptsExpired,
    Rejected,
    AuthFail,
    Unknown(String),
}

impl PaymentStatus {
    /// Every documented status (without `Unknown`).
    pub const DOCUMENTED: [PaymentStatus; 21] = [
        PaymentStatus::New,
        PaymentStatus::FormShowed,
        PaymentStatus::Authorizing,
        PaymentStatus::ThreeDsChecking,
        PaymentStatus::ThreeDsChecked,
        PaymentStatus::PayChecking,
        PaymentStatus::Authorized,
        PaymentStatus::Confirming,
        PaymentStatus::Confirmed,
        PaymentStatus::Reversing,
        PaymentStatus::PartialReversed,
        PaymentStatus::Reversed,
        PaymentStatus::Refunding,
        PaymentStatus::AsyncRefunding,
        PaymentStatus::PartialRefunded,
        PaymentStatus::Refunded,
        PaymentStatus::Canceled,
        PaymentStatus::DeadlineExpired,
        PaymentStatus::AttemptsExpired,
        PaymentStatus::Rejected,
        PaymentStatus::AuthFail,
    ];

    /// The status as T-Bank spells it.
    pub fn as_str(&self) -> &str {
        match self {
            PaymentStatus::New => "NEW",
            PaymentStatus::FormShowed => "FORM_SHOWED",
            PaymentStatus::Authorizing => "AUTHORIZING",
            PaymentStatus::ThreeDsChecking => "3DS_CHECKING",
            PaymentStatus::ThreeDsChecked => "3DS_CHECKED",
            PaymentStatus::PayChecking => "PAY_CHECKING",
            PaymentStatus::Authorized => "AUTHORIZED",
            PaymentStatus::Confirming => "CONFIRMING",
            PaymentStatus::Confirmed => "CONFIRMED",
            PaymentStatus::Reversing => "REVERSING",
            PaymentStatus::PartialReversed => "PARTIAL_REVERSED",
            PaymentStatus::Reversed => "REVERSED",
            PaymentStatus::Refunding => "REFUNDING",
            PaymentStatus::AsyncRefunding => "ASYNC_REFUNDING",
            PaymentStatus::PartialRefunded => "PARTIAL_REFUNDED",
            PaymentStatus::Refunded => "REFUNDED",
            PaymentStatus::Canceled => "CANCELED",
            PaymentStatus::DeadlineExpired => "DEADLINE_EXPIRED",
            PaymentStatus::AttemptsExpired => "ATTEMPTS_EXPIRED",
            PaymentStatus::Rejected => "REJECTED",
            PaymentStatus::AuthFail => "AUTH_FAIL",
            PaymentStatus::Unknown(text) => text,
        }
    }

    /// Parses T-Bank's spelling; anything undocumented becomes `Unknown`.
    pub(crate) fn parse(text: &str) -> PaymentStatus {
        PaymentStatus::DOCUMENTED
            .into_iter()
            .find(|status| status.as_str() == text)
            .unwrap_or_else(|| PaymentStatus::Unknown(text.to_owned()))
    }

    /// Whether the payment will not change any more by itself.
    ///
    /// `CONFIRMED` counts as final although a refund can still follow.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            PaymentStatus::Confirmed
                | PaymentStatus::Rejected
                | PaymentStatus::AuthFail
                | PaymentStatus::Canceled
                | PaymentStatus::DeadlineExpired
                | PaymentStatus::AttemptsExpired
                | PaymentStatus::Reversed
                | PaymentStatus::Refunded
        )
    }

    /// Whether the money has been taken (`CONFIRMED`).
    pub fn is_paid(&self) -> bool {
        matches!(self, PaymentStatus::Confirmed)
    }

    /// What this status means for a payment the bot still holds open
    /// (nobody confirmed it yet): every status of T-Bank's model, each
    /// final or in flight.
    pub(crate) fn for_open_payment(&self) -> OpenOutcome {
        use PaymentStatus as S;
        match self {
            S::New
            | S::FormShowed
            | S::Authorizing
            | S::ThreeDsChecking
            | S::ThreeDsChecked
            | S::PayChecking
            | S::Authorized
            | S::Confirming
            // Money on its way back: the end (in full, or in part) decides.
            | S::Reversing
            | S::Refunding
            | S::AsyncRefunding
            | S::Unknown(_) => OpenOutcome::Waiting,
            S::Confirmed => OpenOutcome::Paid,
            S::PartialReversed | S::PartialRefunded => OpenOutcome::PaidPartlyReturned,
            S::Reversed | S::Refunded | S::Canceled => OpenOutcome::Canceled,
            S::DeadlineExpired => OpenOutcome::Expired,
            S::AttemptsExpired => OpenOutcome::AttemptsExpired,
            S::Rejected => OpenOutcome::Rejected,
            S::AuthFail => OpenOutcome::AuthFailed,
        }
    }

    /// Whether money taken was returned in full (`REFUNDED`, `REVERSED`):
    /// what a Cancel answers when the buyer paid just before it.
    pub(crate) fn returned_in_full(&self) -> bool {
        matches!(self, PaymentStatus::Refunded | PaymentStatus::Reversed)
    }

    /// Whether the buyer has paid or is paying, or money has moved: a
    /// cancellation meant for an unpaid payment must not be sent (Cancel
    /// of a paid payment is a refund).
    pub(crate) fn money_moving(&self) -> bool {
        use PaymentStatus as S;
        matches!(
            self,
            S::Authorizing
                | S::ThreeDsChecking
                | S::ThreeDsChecked
                | S::PayChecking
                | S::Authorized
                | S::Confirming
                | S::Confirmed
                | S::Reversing
                | S::PartialReversed
                | S::Refunding
                | S::AsyncRefunding
                | S::PartialRefunded
        )
    }
}

/// [`PaymentStatus::for_open_payment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenOutcome {
    /// Not final yet: ask again later.
    Waiting,
    /// Paid.
    Paid,
    /// Paid, and part of it returned at the bank, outside the bot: the set
    /// is owed, and the admins must look.
    PaidPartlyReturned,
    /// Ended without money: cancelled, or returned in full.
    Canceled,
    /// Not paid before its deadline.
    Expired,
    /// Too many tries on the form.
    AttemptsExpired,
    /// The bank declined.
    Rejected,
    /// The 3-D Secure check (or the authorisation) failed.
    AuthFailed,
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PaymentStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PaymentStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(PaymentStatus::parse(&text))
    }
}

/// A 54-FZ receipt (FFD 1.05) sent with `Init` and, for refunds, `Cancel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Receipt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Taxation system: `osn`, `usn_income`, `usn_income_outcome`, `esn`, `patent`.
    pub taxation: String,
    /// The register's format: `1.05` (T-Bank's default) or `1.2`, which
    /// needs `MeasurementUnit` on every item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffd_version: Option<String>,
    pub items: Vec<ReceiptItem>,
}

impl Receipt {
    /// The sum of the items' amounts, in kopecks.
    pub(crate) fn total_kopecks(&self) -> i64 {
        self.items.iter().map(|item| item.amount).sum()
    }

    /// Whether the receipt names an e-mail or a phone to send it to.
    pub(crate) fn has_contact(&self) -> bool {
        let filled =
            |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
        filled(&self.email) || filled(&self.phone)
    }
}

/// One line of a receipt. Money is in kopecks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptItem {
    /// At most 128 characters.
    pub name: String,
    pub price: i64,
    /// Up to three decimals; 1 for our packages.
    pub quantity: f64,
    /// Price × Quantity.
    pub amount: i64,
    /// VAT: `none`, `vat0`, `vat5`, `vat7`, `vat10`, `vat20`, …
    pub tax: String,
    /// `full_prepayment`, `full_payment`, …
    pub payment_method: String,
    /// `service`, `commodity`, …
    pub payment_object: String,
    /// FFD 1.2 only: the unit of the quantity (`шт`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_unit: Option<String>,
}

/// What `Init` needs to create a one-stage payment.
#[derive(Debug, Clone)]
pub struct InitRequest {
    pub amount_kopecks: i64,
    /// Our order id, at most 36 characters.
    pub order_id: String,
    /// Shown on the payment form; at most 140 characters.
    pub description: String,
    pub customer_key: Option<String>,
    /// Language of the payment form: `ru` or `en`.
    pub language: Option<String>,
    /// When the payment link expires; sent in Moscow time (`+03:00`).
    pub redirect_due_date: DateTime<Utc>,
    pub receipt: Receipt,
    /// The `DATA` pairs; the client adds `OperationInitiatorType = "0"`.
    pub data: BTreeMap<String, String>,
}

/// The answer to `Init`.
#[derive(Debug, Clone, PartialEq)]
pub struct InitResponse {
    pub payment_id: String,
    pub order_id: String,
    pub amount_kopecks: i64,
    pub status: PaymentStatus,
    /// The payment form to send the buyer to.
    pub payment_url: Url,
}

/// The answer to `GetState`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateResponse {
    pub payment_id: String,
    pub order_id: String,
    pub status: PaymentStatus,
    pub amount_kopecks: i64,
    /// The `Params` list (`Route`, `Source`, …) as key → value.
    pub params: BTreeMap<String, String>,
}

/// The answer to `Cancel`.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelResponse {
    pub payment_id: String,
    pub(crate) order_id: String,
    pub status: PaymentStatus,
    /// The amount before this cancellation, in kopecks.
    pub original_amount: i64,
    /// The amount left after it, in kopecks.
    pub new_amount: i64,
}

/// One payment of an order, as `CheckOrder` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderPayment {
    pub payment_id: String,
    pub amount_kopecks: i64,
    pub status: PaymentStatus,
    /// T-Bank's per-payment `Success` (sent as the string `"true"`).
    pub success: bool,
    /// T-Bank's per-payment `ErrorCode` (sent as a number), as text.
    pub error_code: String,
    pub(crate) message: Option<String>,
    pub rrn: Option<String>,
}

/// A value T-Bank sends sometimes as a string and sometimes as a number
/// (`PaymentId`, `ErrorCode`); kept as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LooseText(pub String);

impl<'de> Deserialize<'de> for LooseText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(text) => Ok(LooseText(text)),
            serde_json::Value::Number(number) => Ok(LooseText(number.to_string())),
            other => Err(de::Error::custom(format!(
                "expected a string or a number, got {other}"
            ))),
        }
    }
}

/// A flag T-Bank sends sometimes as a bool and sometimes as `"true"`/`"false"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LooseBool(pub bool);

impl<'de> Deserialize<'de> for LooseBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Bool(flag) => Ok(LooseBool(flag)),
            serde_json::Value::String(text) if text.eq_ignore_ascii_case("true") => {
                Ok(LooseBool(true))
            }
            serde_json::Value::String(text) if text.eq_ignore_ascii_case("false") => {
                Ok(LooseBool(false))
            }
            other => Err(de::Error::custom(format!(
                "expected true or false, got {other}"
            ))),
        }
    }
}
