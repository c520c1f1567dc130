//! The stand-in's book of payments: what each API method does to it.
//!
//! Everything here is synchronous and runs under one lock; the HTTP layer
//! (`mod.rs`) verifies the terminal and the token before it calls in. Where
//! T-Bank does not document a code, the choice is written next to it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use url::Url;

use crate::tbank::types::PaymentStatus;

/// An answer with `Success: false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(crate) code: &'static str,
    pub(crate) message: &'static str,
    pub(crate) details: String,
}

impl ApiError {
    fn new(code: &'static str, message: &'static str, details: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message,
            details: details.into(),
        }
    }

    /// A required field is absent (code 2).
    fn missing(field: &str) -> ApiError {
        ApiError::new(
            "2",
            "Не переданы обязательные параметры",
            format!("Не передан параметр {field}"),
        )
    }

    /// A field is present but malformed or too long. T-Bank does not publish
    /// a separate code for this; the stand-in uses code 2 as well.
    fn bad(field: &str, why: &str) -> ApiError {
        ApiError::new(
            "2",
            "Неверные параметры",
            format!("Параметр {field}: {why}"),
        )
    }

    fn payment_not_found(payment_id: &str) -> ApiError {
        ApiError::new(
            "255",
            "Платеж не найден",
            format!("Платеж {payment_id} не найден"),
        )
    }

    fn bad_amount(why: &str) -> ApiError {
        ApiError::new("251", "Неверная сумма", why.to_owned())
    }
}

/// The buttons of the stand-in's payment form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FormButton {
    Pay,
    /// Paid through SBP (a bank app and a QR code): `CONFIRMED`.
    PaySbp,
    Decline,
    /// The buyer fails the 3-D Secure check: `AUTH_FAIL`.
    FailThreeDs,
    /// The buyer runs out of tries on the form: `ATTEMPTS_EXPIRED`.
    ExhaustAttempts,
}

impl FormButton {
    /// The form's path segment of the button (`/checkout/{id}/{path}`).
    pub(super) fn path(self) -> &'static str {
        match self {
            FormButton::Pay => "pay",
            FormButton::PaySbp => "pay-sbp",
            FormButton::Decline => "decline",
            FormButton::FailThreeDs => "fail-3ds",
            FormButton::ExhaustAttempts => "exhaust-attempts",
        }
    }

    pub(super) fn from_path(path: &str) -> Option<FormButton> {
        [
            FormButton::Pay,
            FormButton::PaySbp,
            FormButton::Decline,
            FormButton::FailThreeDs,
            FormButton::ExhaustAttempts,
        ]
        .into_iter()
        .find(|button| button.path() == path)
    }
}

/// One-stage (`O`: the money is taken at once) or two-stage (`T`: held
/// until confirmed; the stand-in has no Confirm, so it stays `AUTHORIZED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PayType {
    OneStage,
    TwoStage,
}

/// One payment as the stand-in keeps it.
#[derive(Debug, Clone)]
pub(super) struct Payment {
    pub id: u64,
    pub(crate) order_id: String,
    pub(crate) original_amount: i64,
    /// What is left after refunds or reversals.
    pub(crate) amount: i64,
    pub(crate) status: PaymentStatus,
    pub(crate) description: String,
    pub(crate) pay_type: PayType,
    pub(crate) redirect_due_date: DateTime<Utc>,
    pub(crate) rrn: Option<String>,
    /// Amounts returned by each successful Cancel, in order.
    pub(crate) cancellations: Vec<i64>,
    /// The receipt total each successful Cancel carried (`None`: no receipt).
    pub(crate) cancellation_receipts: Vec<Option<i64>>,
    /// `Receipt.Items[].Name` of the Init, in order (what the receipt says was sold).
    pub(crate) receipt_items: Vec<String>,
    /// Paid through SBP (the Faster Payments System): `ExternalRequestId`
    /// does not work for its refunds, and a refund answers `ASYNC_REFUNDING`.
    pub(crate) sbp: bool,
}

/// The stand-in's state: payments, its clock, idempotency memory and the
/// payments that are stuck on the form.
#[derive(Debug)]
pub(super) struct Ledger {
    payments: BTreeMap<u64, Payment>,
    next_id: u64,
    clock_offset: TimeDelta,
    /// Cancel answers by (payment, ExternalRequestId), replayed on repeats.
    cancel_answers: HashMap<(u64, String), Map<String, Value>>,
    /// Answer `PaymentId` as a JSON number instead of a string.
    pub(crate) payment_ids_as_numbers: bool,
    stuck: HashSet<u64>,
}

impl Ledger {
    pub(crate) fn new() -> Ledger {
        Ledger {
            payments: BTreeMap::new(),
            next_id: 4_000_000_001,
            clock_offset: TimeDelta::zero(),
            cancel_answers: HashMap::new(),
            payment_ids_as_numbers: false,
            stuck: HashSet::new(),
        }
    }

    /// The stand-in's clock: real time plus whatever tests advanced it by.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    #[cfg(feature = "testkit")]
    pub(crate) fn advance_clock(&mut self, by: TimeDelta) {
        self.clock_offset += by;
    }

    #[cfg(feature = "testkit")]
    pub(crate) fn stick(&mut self, payment_id: u64) {
        self.stuck.insert(payment_id);
    }

    #[cfg(feature = "testkit")]
    pub(crate) fn unstick_all(&mut self) {
        self.stuck.clear();
    }

    fn id_value(&self, id: u64) -> Value {
        if self.payment_ids_as_numbers {
            Value::from(id)
        } else {
            Value::from(id.to_string())
        }
    }

    /// A payment with its status brought up to date with the clock.
    pub(crate) fn payment(&mut self, id: u64) -> Option<&mut Payment> {
        let now = self.now();
        let payment = self.payments.get_mut(&id)?;
        expire_if_due(payment, now);
        Some(payment)
    }

    /// The payment a call names as `id_text`, brought up to date; 255 when
    /// there is none.
    fn found(&mut self, id: u64, id_text: &str) -> Result<&mut Payment, ApiError> {
        self.payment(id)
            .ok_or_else(|| ApiError::payment_not_found(id_text))
    }

    /// The payments of one order, oldest first, brought up to date.
    pub(crate) fn payments_of_order(&mut self, order_id: &str) -> Vec<Payment> {
        let now = self.now();
        self.payments
            .values_mut()
            .filter(|payment| payment.order_id == order_id)
            .map(|payment| {
                expire_if_due(payment, now);
                payment.clone()
            })
            .collect()
    }

    /// The buyer opened the payment form: `NEW` → `FORM_SHOWED`.
    pub(crate) fn show_form(&mut self, id: u64) -> Option<Payment> {
        let payment = self.payment(id)?;
        if payment.status == PaymentStatus::New {
            payment.status = PaymentStatus::FormShowed;
            tracing::info!(payment_id = id, order_id = %payment.order_id, "T-Bank stand-in: form shown");
        }
        Some(payment.clone())
    }

    /// A button of the payment form. Pay: one-stage payments end `CONFIRMED`
    /// (through `AUTHORIZED`), two-stage ones `AUTHORIZED`. Decline (the bank
    /// declined the card): `REJECTED`; a failed 3-D Secure check
    /// `AUTH_FAIL`; too many tries `ATTEMPTS_EXPIRED`. A stuck payment, or
    /// one that is no longer payable, does not change. Returns the status
    /// afterwards.
    pub(crate) fn press(&mut self, id: u64, button: FormButton) -> Option<PaymentStatus> {
        let stuck = self.stuck.contains(&id);
        let payment = self.payment(id)?;
        if payment.status == PaymentStatus::New {
            payment.status = PaymentStatus::FormShowed;
        }
        if payment.status == PaymentStatus::FormShowed && !stuck {
            match button {
                FormButton::PaySbp => {
                    payment.sbp = true;
                    payment.status = PaymentStatus::Confirmed;
                    tracing::info!(payment_id = id, order_id = %payment.order_id, "T-Bank stand-in: paid through SBP");
                }
                FormButton::Pay => {
                    payment.rrn = Some(format!("{:012}", id % 1_000_000_000_000));
                    payment.status = match payment.pay_type {
                        PayType::OneStage => PaymentStatus::Confirmed,
                        PayType::TwoStage => PaymentStatus::Authorized,
                    };
                    tracing::info!(payment_id = id, order_id = %payment.order_id, status = %payment.status, "T-Bank stand-in: paid");
                }
                FormButton::Decline => {
                    payment.status = PaymentStatus::Rejected;
                    tracing::info!(payment_id = id, order_id = %payment.order_id, "T-Bank stand-in: declined");
                }
                FormButton::FailThreeDs => {
                    payment.status = PaymentStatus::AuthFail;
                    tracing::info!(payment_id = id, order_id = %payment.order_id, "T-Bank stand-in: 3-D Secure failed");
                }
                FormButton::ExhaustAttempts => {
                    payment.status = PaymentStatus::AttemptsExpired;
                    tracing::info!(payment_id = id, order_id = %payment.order_id, "T-Bank stand-in: attempts expired");
                }
            }
        }
        Some(payment.status.clone())
    }

    /// `POST /v2/Init`.
    pub(crate) fn init(
        &mut self,
        fields: &Map<String, Value>,
        terminal_key: &str,
        checkout_base: &Url,
    ) -> Result<Map<String, Value>, ApiError> {
        let now = self.now();
        let amount = required_amount(fields, "Amount")?;
        let order_id = required_text(fields, "OrderId")?;
        if order_id.is_empty() || order_id.chars().count() > 36 {
            return Err(ApiError::bad("OrderId", "от 1 до 36 символов"));
        }
        let description = optional_text(fields, "Description")?.unwrap_or_default();
        if description.chars().count() > 140 {
            return Err(ApiError::bad("Description", "не более 140 символов"));
        }
        if let Some(customer_key) = optional_text(fields, "CustomerKey")?
            && (customer_key.is_empty() || customer_key.chars().count() > 36)
        {
            return Err(ApiError::bad("CustomerKey", "от 1 до 36 символов"));
        }
        let pay_type = match optional_text(fields, "PayType")?.as_deref() {
            None | Some("O") => PayType::OneStage,
            Some("T") => PayType::TwoStage,
            Some(_) => return Err(ApiError::bad("PayType", "допустимы O и T")),
        };
        if let Some(language) = optional_text(fields, "Language")?
            && !matches!(language.as_str(), "ru" | "en")
        {
            return Err(ApiError::bad("Language", "допустимы ru и en"));
        }
        let redirect_due_date = match optional_text(fields, "RedirectDueDate")? {
            None => now + TimeDelta::hours(24),
            Some(text) => parse_redirect_due_date(&text, now)?,
        };
        match fields.get("DATA") {
            None => {}
            Some(Value::Object(pairs)) if pairs.len() <= 20 => {}
            Some(Value::Object(_)) => return Err(ApiError::bad("DATA", "не более 20 пар")),
            Some(_) => return Err(ApiError::bad("DATA", "ожидается объект")),
        }
        let receipt = match fields.get("Receipt") {
            None | Some(Value::Null) => {
                return Err(ApiError::new(
                    "309",
                    "Чек не передан",
                    "Терминал работает с онлайн-кассой: передайте Receipt",
                ));
            }
            Some(Value::Object(receipt)) => receipt,
            Some(_) => return Err(ApiError::bad("Receipt", "ожидается объект")),
        };
        let receipt_total = check_receipt(receipt)?;
        let receipt_items: Vec<String> = receipt
            .get("Items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|item| item.get("Name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        if receipt_total != amount {
            return Err(receipt_sum_mismatch(receipt_total, amount));
        }

        let already_paid = self.payments_of_order(&order_id).iter().any(|payment| {
            matches!(
                payment.status,
                PaymentStatus::Confirmed
                    | PaymentStatus::Authorized
                    | PaymentStatus::PartialRefunded
                    | PaymentStatus::PartialReversed
            )
        });
        if already_paid {
            return Err(ApiError::new(
                "623",
                "Заказ уже оплачен",
                format!("По заказу {order_id} уже есть успешный платеж"),
            ));
        }

        let id = self.next_id;
        self.next_id += 1;
        let payment_url = checkout_base
            .join(&format!("checkout/{id}"))
            .map_err(|error| ApiError::new("9999", "Внутренняя ошибка", error.to_string()))?;
        self.payments.insert(
            id,
            Payment {
                id,
                order_id: order_id.clone(),
                original_amount: amount,
                amount,
                status: PaymentStatus::New,
                description,
                pay_type,
                redirect_due_date,
                rrn: None,
                cancellations: Vec::new(),
                cancellation_receipts: Vec::new(),
                sbp: false,
                receipt_items,
            },
        );
        tracing::info!(payment_id = id, order_id = %order_id, amount, "T-Bank stand-in: payment created");
        Ok(object(json!({
            "Success": true,
            "ErrorCode": "0",
            "TerminalKey": terminal_key,
            "Status": PaymentStatus::New.as_str(),
            "PaymentId": self.id_value(id),
            "OrderId": order_id,
            "Amount": amount,
            "PaymentURL": payment_url.as_str(),
        })))
    }

    /// `POST /v2/GetState`. `Amount` is what is left of the payment after
    /// refunds or reversals (the original amount until then).
    pub(crate) fn get_state(
        &mut self,
        fields: &Map<String, Value>,
        terminal_key: &str,
    ) -> Result<Map<String, Value>, ApiError> {
        let (id, id_text) = required_payment_id(fields)?;
        let id_value = self.id_value(id);
        let payment = self.found(id, &id_text)?;
        let params: Vec<Value> = match (&payment.rrn, payment.sbp) {
            (_, true) => vec![
                json!({"Key": "Route", "Value": "SBP"}),
                json!({"Key": "Source", "Value": "sbp"}),
            ],
            (Some(_), false) => vec![
                json!({"Key": "Route", "Value": "ACQ"}),
                json!({"Key": "Source", "Value": "cards"}),
            ],
            (None, false) => Vec::new(),
        };
        Ok(object(json!({
            "Success": true,
            "ErrorCode": "0",
            "Message": "OK",
            "Details": "",
            "TerminalKey": terminal_key,
            "Status": payment.status.as_str(),
            "PaymentId": id_value,
            "OrderId": payment.order_id,
            "Amount": payment.amount,
            "Params": params,
        })))
    }

    /// `POST /v2/Cancel`.
    ///
    /// By state: `NEW`/`FORM_SHOWED` → `CANCELED` in full (an `Amount` is
    /// ignored); `AUTHORIZED` → (`PARTIAL_`)`REVERSED`; `CONFIRMED` →
    /// (`PARTIAL_`)`REFUNDED`, repeatedly until nothing is left. Cancel on a
    /// payment that is already cancelled answers 100; on one that never took
    /// money (`REJECTED`, `DEADLINE_EXPIRED`, `AUTH_FAIL`) 4 — T-Bank does not
    /// document these two cases.
    pub(crate) fn cancel(
        &mut self,
        fields: &Map<String, Value>,
        terminal_key: &str,
    ) -> Result<Map<String, Value>, ApiError> {
        let (id, id_text) = required_payment_id(fields)?;
        let amount = match fields.get("Amount") {
            None | Some(Value::Null) => None,
            Some(_) => Some(required_amount(fields, "Amount")?),
        };
        let external_request_id = optional_text(fields, "ExternalRequestId")?;
        if let Some(external) = &external_request_id
            && external.chars().count() > 256
        {
            return Err(ApiError::bad("ExternalRequestId", "не более 256 символов"));
        }
        let id_value = self.id_value(id);
        let sbp = self.found(id, &id_text)?.sbp;
        // T-Bank: ExternalRequestId does not work for SBP operations — a
        // repeated Cancel of an SBP payment refunds again.
        if let Some(external) = &external_request_id
            && !sbp
            && let Some(answer) = self.cancel_answers.get(&(id, external.clone()))
        {
            tracing::info!(payment_id = id, external_request_id = %external, "T-Bank stand-in: repeated Cancel answered from memory");
            return Ok(answer.clone());
        }
        let payment = self.found(id, &id_text)?;
        let before = payment.amount;
        let status = payment.status.clone();
        let mut receipt_total = None;
        let (next_status, taken) = match status {
            PaymentStatus::New | PaymentStatus::FormShowed => (PaymentStatus::Canceled, before),
            PaymentStatus::Authorized
            | PaymentStatus::PartialReversed
            | PaymentStatus::Confirmed
            | PaymentStatus::PartialRefunded => {
                let taken = amount.unwrap_or(before);
                if taken > before {
                    return Err(ApiError::new(
                        "330",
                        "Сумма отмены больше суммы платежа",
                        format!("Можно вернуть не более {before} коп."),
                    ));
                }
                if let Some(receipt) = fields.get("Receipt").filter(|value| !value.is_null()) {
                    let Value::Object(receipt) = receipt else {
                        return Err(ApiError::bad("Receipt", "ожидается объект"));
                    };
                    let total = check_receipt(receipt)?;
                    if total != taken {
                        return Err(receipt_sum_mismatch(total, taken));
                    }
                    receipt_total = Some(total);
                }
                let held = matches!(
                    status,
                    PaymentStatus::Authorized | PaymentStatus::PartialReversed
                );
                let next = match (held, taken == before) {
                    (true, true) => PaymentStatus::Reversed,
                    (true, false) => PaymentStatus::PartialReversed,
                    (false, true) => PaymentStatus::Refunded,
                    (false, false) => PaymentStatus::PartialRefunded,
                };
                (next, taken)
            }
            PaymentStatus::Canceled | PaymentStatus::Reversed | PaymentStatus::Refunded => {
                return Err(ApiError::new(
                    "100",
                    "Платеж уже отменен",
                    format!("Платеж {id} в статусе {status}"),
                ));
            }
            PaymentStatus::Rejected
            | PaymentStatus::DeadlineExpired
            | PaymentStatus::AttemptsExpired
            | PaymentStatus::AuthFail => {
                return Err(ApiError::new(
                    "4",
                    "Изменение статуса не разрешено",
                    format!("Платеж {id} в статусе {status}"),
                ));
            }
            other => {
                return Err(ApiError::new(
                    "8",
                    "Неверный статус транзакции",
                    format!("Платеж {id} в статусе {other}"),
                ));
            }
        };
        payment.status = next_status.clone();
        payment.amount = before - taken;
        payment.cancellations.push(taken);
        payment.cancellation_receipts.push(receipt_total);
        let after = payment.amount;
        let order_id = payment.order_id.clone();
        tracing::info!(payment_id = id, order_id = %order_id, status = %next_status, taken, left = after, "T-Bank stand-in: cancelled");

        // An SBP refund is asynchronous: the answer says it is under way;
        // GetState shows where it ended.
        let answered = if sbp && taken > 0 && next_status != PaymentStatus::Canceled {
            PaymentStatus::AsyncRefunding
        } else {
            next_status.clone()
        };
        let mut answer = object(json!({
            "Success": true,
            "ErrorCode": "0",
            "TerminalKey": terminal_key,
            "Status": answered.as_str(),
            "PaymentId": id_value,
            "OrderId": order_id,
            "OriginalAmount": before,
            "NewAmount": after,
        }));
        if let Some(external) = external_request_id {
            answer.insert("ExternalRequestId".into(), external.clone().into());
            self.cancel_answers.insert((id, external), answer.clone());
        }
        Ok(answer)
    }

    /// `POST /v2/CheckOrder`.
    pub(crate) fn check_order(
        &mut self,
        fields: &Map<String, Value>,
        terminal_key: &str,
    ) -> Result<Map<String, Value>, ApiError> {
        let order_id = required_text(fields, "OrderId")?;
        let payments = self.payments_of_order(&order_id);
        if payments.is_empty() {
            return Err(ApiError::new(
                "335",
                "Заказ не найден",
                format!("Нет платежей с OrderId {order_id}"),
            ));
        }
        let listed: Vec<Value> = payments
            .iter()
            .map(|payment| {
                let rejected = payment.status == PaymentStatus::Rejected;
                let mut entry = object(json!({
                    "PaymentId": self.id_value(payment.id),
                    "Amount": payment.amount,
                    "Status": payment.status.as_str(),
                    "Success": if rejected { "false" } else { "true" },
                    "ErrorCode": if rejected { 1051 } else { 0 },
                    "Message": if rejected { "Недостаточно средств на карте" } else { "OK" },
                }));
                if let Some(rrn) = &payment.rrn {
                    entry.insert("RRN".into(), rrn.clone().into());
                }
                Value::Object(entry)
            })
            .collect();
        Ok(object(json!({
            "Success": true,
            "ErrorCode": "0",
            "Message": "OK",
            "Details": "",
            "TerminalKey": terminal_key,
            "OrderId": order_id,
            "Payments": listed,
        })))
    }
}

/// An unpaid payment whose `RedirectDueDate` has passed is `DEADLINE_EXPIRED`.
fn expire_if_due(payment: &mut Payment, now: DateTime<Utc>) {
    let unpaid = matches!(
        payment.status,
        PaymentStatus::New | PaymentStatus::FormShowed
    );
    if unpaid && now >= payment.redirect_due_date {
        payment.status = PaymentStatus::DeadlineExpired;
        tracing::info!(payment_id = payment.id, order_id = %payment.order_id, "T-Bank stand-in: deadline expired");
    }
}

/// `RedirectDueDate` must be `YYYY-MM-DDTHH:MI:SS±HH:MM`, at least a minute
/// and at most 90 days ahead (code 12 otherwise).
fn parse_redirect_due_date(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let parsed = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%:z").map_err(|_| {
        ApiError::new(
            "12",
            "Неверный параметр RedirectDueDate",
            format!("Ожидается формат YYYY-MM-DDTHH:MI:SS+03:00, получено {text}"),
        )
    })?;
    let due = parsed.with_timezone(&Utc);
    let ahead = due - now;
    if ahead < TimeDelta::minutes(1) || ahead > TimeDelta::days(90) {
        return Err(ApiError::new(
            "12",
            "Неверный параметр RedirectDueDate",
            "Срок должен быть не ранее чем через минуту и не позднее чем через 90 дней",
        ));
    }
    Ok(due)
}

/// Checks a receipt the way T-Bank does and returns the sum of its items:
/// 309 without items, 329 without Email and Phone, 2 for a missing field.
fn check_receipt(receipt: &Map<String, Value>) -> Result<i64, ApiError> {
    let items = match receipt.get("Items") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            return Err(ApiError::new(
                "309",
                "Пустой чек",
                "Чек не содержит позиций",
            ));
        }
        Some(_) => return Err(ApiError::bad("Receipt.Items", "ожидается массив")),
    };
    let filled = |key: &str| {
        receipt
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|text| !text.trim().is_empty())
    };
    if !filled("Email") && !filled("Phone") {
        return Err(ApiError::new(
            "329",
            "Не указан email или телефон покупателя",
            "Передайте Receipt.Email или Receipt.Phone",
        ));
    }
    if receipt
        .get("Email")
        .and_then(Value::as_str)
        .is_some_and(|email| email.chars().count() > 64)
    {
        return Err(ApiError::bad("Receipt.Email", "не более 64 символов"));
    }
    if !filled("Taxation") {
        return Err(ApiError::missing("Receipt.Taxation"));
    }
    let ffd_12 = match receipt.get("FfdVersion") {
        None | Some(Value::Null) => false,
        Some(Value::String(version)) if version == "1.05" => false,
        Some(Value::String(version)) if version == "1.2" => true,
        Some(_) => return Err(ApiError::bad("Receipt.FfdVersion", "допустимы 1.05 и 1.2")),
    };
    let mut total: i64 = 0;
    for (index, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(ApiError::bad("Receipt.Items", "ожидается объект"));
        };
        let name = item
            .get("Name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::missing(&format!("Receipt.Items[{index}].Name")))?;
        if name.is_empty() || name.chars().count() > 128 {
            return Err(ApiError::bad(
                &format!("Receipt.Items[{index}].Name"),
                "от 1 до 128 символов",
            ));
        }
        for key in ["Price", "Quantity", "Tax"] {
            if item.get(key).is_none_or(Value::is_null) {
                return Err(ApiError::missing(&format!("Receipt.Items[{index}].{key}")));
            }
        }
        if ffd_12
            && !item
                .get("MeasurementUnit")
                .and_then(Value::as_str)
                .is_some_and(|u| !u.is_empty())
        {
            return Err(ApiError::missing(&format!(
                "Receipt.Items[{index}].MeasurementUnit"
            )));
        }
        let amount = required_amount(item, "Amount")
            .map_err(|_| ApiError::missing(&format!("Receipt.Items[{index}].Amount")))?;
        total = total.saturating_add(amount);
    }
    Ok(total)
}

fn receipt_sum_mismatch(receipt_total: i64, amount: i64) -> ApiError {
    ApiError::new(
        "308",
        "Сумма позиций чека не равна сумме платежа",
        format!("Сумма позиций {receipt_total} коп., сумма платежа {amount} коп."),
    )
}

fn required_text(fields: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    optional_text(fields, key)?.ok_or_else(|| ApiError::missing(key))
}

fn optional_text(fields: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => Err(ApiError::bad(key, "ожидается строка")),
    }
}

/// A positive amount in kopecks, sent as an integer (or a string of digits).
fn required_amount(fields: &Map<String, Value>, key: &str) -> Result<i64, ApiError> {
    let amount = match fields.get(key) {
        None | Some(Value::Null) => return Err(ApiError::missing(key)),
        Some(Value::Number(number)) => number.as_i64(),
        Some(Value::String(text)) => text.parse::<i64>().ok(),
        Some(_) => None,
    };
    match amount {
        Some(amount) if amount > 0 => Ok(amount),
        _ => Err(ApiError::bad_amount(&format!(
            "{key} должна быть целым положительным числом копеек"
        ))),
    }
}

/// `PaymentId` as sent (string or number) and as the stand-in's number.
fn required_payment_id(fields: &Map<String, Value>) -> Result<(u64, String), ApiError> {
    let text = required_text(fields, "PaymentId")?;
    let id = text
        .parse::<u64>()
        .map_err(|_| ApiError::payment_not_found(&text))?;
    Ok((id, text))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
