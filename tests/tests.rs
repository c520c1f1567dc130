//! The one integration-test binary. Each `mod` is one area of the product;
//! `support` builds the real application against the stand-ins.

mod admin;
mod bot_input;
mod browser;
mod child;
mod config;
mod crash;
mod db;
mod faults;
mod funnel;
mod gallery;
mod growth;
mod hostile;
mod invariants;
mod kie;
mod locales;
mod media;
mod ops;
mod referral;
mod reminders;
mod s3_standin;
mod soak;
mod store;
mod support;
mod tbank;
mod telegram_standin;
mod transcripts;
