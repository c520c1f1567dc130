//! The stand-in's payment form: one small HTML page per payment, in Russian,
//! with Pay (a card, or SBP), Decline, "fail 3-D Secure" and "run out of tries" buttons
//! while the payment can still be paid.

use crate::tbank::types::PaymentStatus;

use super::ledger::Payment;

/// Renders the form of `payment`. Form actions are relative, so the page
/// works behind any public base URL.
pub(super) fn render_page(payment: &Payment) -> String {
    let payable = matches!(
        payment.status,
        PaymentStatus::New | PaymentStatus::FormShowed
    );
    let body = if payable {
        format!(
            r#"<p class="hint">Тестовая оплата: карта не нужна.</p>
<form method="post" action="{id}/pay"><button type="submit" name="action" value="pay">Оплатить {amount}</button></form>
<form method="post" action="{id}/pay-sbp"><button type="submit" name="action" value="pay-sbp">Оплатить через СБП</button></form>
<form method="post" action="{id}/decline"><button type="submit" name="action" value="decline">Отклонить</button></form>
<form method="post" action="{id}/fail-3ds"><button type="submit" name="action" value="fail-3ds">Не пройти 3-D Secure</button></form>
<form method="post" action="{id}/exhaust-attempts"><button type="submit" name="action" value="exhaust-attempts">Исчерпать попытки</button></form>"#,
            id = payment.id,
            amount = format_rubles(payment.original_amount),
        )
    } else {
        format!(
            r#"<p class="result" data-status="{status}">{text}</p>"#,
            status = payment.status.as_str(),
            text = result_text(&payment.status),
        )
    };
    format!(
        r#"<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Оплата заказа {order_id}</title>
<style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}button{{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem 0}}.amount{{font-size:1.6rem;font-weight:bold}}</style>
</head>
<body>
<h1>Оплата заказа</h1>
<p class="description">{description}</p>
<p class="amount">{amount}</p>
<p class="order">Заказ № {order_id}, платёж № {payment_id}</p>
{body}
</body>
</html>
"#,
        order_id = escape_html(&payment.order_id),
        description = escape_html(&payment.description),
        amount = format_rubles(payment.original_amount),
        payment_id = payment.id,
    )
}

/// The page for a payment id the stand-in does not know.
pub(super) fn render_not_found(payment_id: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Платёж не найден</title></head>
<body><h1>Платёж не найден</h1><p>Платёж № {} не найден.</p></body></html>
"#,
        escape_html(payment_id)
    )
}

fn result_text(status: &PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Confirmed => "Оплата прошла успешно. Можно вернуться в Telegram.",
        PaymentStatus::Authorized => "Деньги заблокированы на карте до подтверждения магазином.",
        PaymentStatus::Rejected => "Банк отклонил платёж.",
        PaymentStatus::AuthFail => "Проверка 3-D Secure не пройдена.",
        PaymentStatus::AttemptsExpired => "Попытки оплаты исчерпаны.",
        PaymentStatus::DeadlineExpired => "Срок оплаты истёк.",
        PaymentStatus::Canceled => "Платёж отменён магазином.",
        PaymentStatus::Refunded | PaymentStatus::PartialRefunded => "Деньги возвращены на карту.",
        PaymentStatus::Reversed | PaymentStatus::PartialReversed => "Блокировка средств снята.",
        _ => "Платёж обрабатывается.",
    }
}

/// `49900` → `499,00 ₽`; thousands are separated by a narrow no-break space.
pub(super) fn format_rubles(kopecks: i64) -> String {
    let sign = if kopecks < 0 { "-" } else { "" };
    let kopecks = kopecks.unsigned_abs();
    let rubles = (kopecks / 100).to_string();
    let mut grouped = String::new();
    for (index, digit) in rubles.chars().enumerate() {
        if index > 0 && (rubles.len() - index).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped},{:02}\u{a0}₽", kopecks % 100)
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}
