//! The request signature T-Bank calls `Token`.
//!
//! The rule (shared by the client, which signs, and the stand-in, which
//! checks): take the top-level scalar fields of the request, leave out nested
//! objects and arrays (`DATA`, `Receipt`, `Shops`) and `Token` itself, add
//! `Password`, sort by key, concatenate the values with no separator, and
//! hash the UTF-8 string with SHA-256 into lowercase hex.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Computes the `Token` of a request whose top-level fields are `fields`.
///
/// Strings are taken as they are, numbers as written (integers as plain
/// integers), booleans as `true`/`false`. Nulls, nested objects, arrays and
/// an existing `Token` field are skipped.
pub fn token(fields: &Map<String, Value>, password: &str) -> String {
    let mut pairs: Vec<(&str, String)> = fields
        .iter()
        .filter(|(key, _)| key.as_str() != "Token")
        .filter_map(|(key, value)| scalar_text(value).map(|text| (key.as_str(), text)))
        .collect();
    pairs.push(("Password", password.to_owned()));
    pairs.sort_by(|a, b| a.0.cmp(b.0));

    let mut hasher = Sha256::new();
    for (_, text) in &pairs {
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The text a scalar JSON value contributes to the token; `None` for values
/// the rule leaves out.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}
