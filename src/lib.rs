//! PinGlass: a Telegram bot that turns 5–15 photos of a person into AI portraits.
//!
//! `main.rs` is thin; everything the binary and the tests need lives here.
//! See ARCHITECTURE.md for the code map and the invariants.

pub mod ab;
pub mod admin_charts;
pub mod app;
mod backup;
pub mod bot;
pub mod chat;
pub mod clock;
pub mod config;
pub mod db;
pub mod faults;
mod fonts;
#[cfg(feature = "testkit")]
pub mod harness;
pub mod i18n;
pub mod kie;
pub mod loadtest;
pub mod media;
pub mod ops;
pub mod services;
pub mod standins;
mod startup;
pub mod store;
pub mod tbank;
pub mod telegram;
pub mod telemetry;
pub mod worker;
