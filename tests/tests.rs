//! The one integration-test binary. Each `mod` is one area of the product.

mod bot_input;
mod config;
mod db;
mod kie;
mod locales;
mod media;
mod store;
mod tbank;
mod telegram_standin;
