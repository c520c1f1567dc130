//! See ARCHITECTURE.md.

pub mod standin;
