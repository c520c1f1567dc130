//! The Kie balance an admin asks for with `/credits`: the handler writes the
//! request into `service_state`, the side task asks Kie, answers the admin
//! through the queue and keeps the balance for the next `/credits`.

/// `service_state` name: the admin who asked for the Kie balance (one at a time).
pub(crate) const CREDITS_REQUEST: &str = "kie_credits_requested_by";
/// `service_state` name: the last Kie balance known, in thousandths of a credit.
pub(crate) const CREDITS_MILLI: &str = "kie_credits_milli";

/// Credits with at most two decimals, no trailing zeros.
pub(crate) fn format_credits(credits: f64) -> String {
    let text = format!("{credits:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
