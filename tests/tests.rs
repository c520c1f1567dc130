//! The one integration-test binary. Each `mod` is one area of the product;
//! `support` builds the real application against the stand-ins.

mod admin;
mod bot_input;
mod browser;
mod config;
mod crash;
mod db;
mod funnel;
mod gallery;
mod growth;
mod hostile;
mod kie;
mod locales;
mod media;
mod ops;
mod referral;
mod reminders;
mod store;
mod support;
mod tbank;
mod telegram_standin;
mod transcripts;
mod faults;
mod invariants;
mod s3_standin;
mod child;
mod soak;
