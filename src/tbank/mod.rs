//! T-Bank Internet Acquiring v2: the client the bot uses to take payments,
//! and a faithful stand-in of the service for tests and the sandbox.
//!
//! - [`token`]: the request signature (`Token`).
//! - [`types`]: payment statuses, 54-FZ receipts, requests and answers.
//! - [`client`]: [`TbankClient`] with `init`, `get_state`, `cancel`,
//!   `check_order`, and [`TbankError`].
//! - [`standin`]: [`standin::start`], an in-process axum server with
//!   the same paths, shapes and codes, a checkout page, and scripted faults.
//!
//! The bot polls `GetState` instead of taking notifications, by design.

pub(crate) mod client;
pub mod standin;
pub mod token;
pub(crate) mod types;

pub use client::{
    MAX_RECEIPT_EMAIL_CHARS, TbankClient, TbankError, TbankSettings, format_redirect_due_date,
};
pub use token::token;
pub(crate) use types::OpenOutcome;
pub use types::{
    CancelResponse, InitRequest, InitResponse, OrderPayment, PaymentStatus, Receipt, ReceiptItem,
    StateResponse, TbankMethod,
};
