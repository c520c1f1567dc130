//! Media: what happens to pictures between Telegram and Kie.
//!
//! - [`intake`]: checks and normalizes an uploaded photo
//!   ([`inspect_upload`]), pure and synchronous (run it in `spawn_blocking`).
//! - [`quality`]: the face-quality gate (one face, big enough, sharp, not
//!   far too dark or bright) and the photo hash behind the near-identical
//!   warning; [`inspect_upload_gated`] runs it inside intake.
//! - [`styles`]: the shipped style catalogue (`data/styles.toml`) with its
//!   moderation-safe prompt variants, and [`spread_references`], which shares
//!   an avatar's photos among a job's tasks when the model takes fewer
//!   references than the avatar has.
//!
//! Nothing here does I/O or holds user-facing text: rejections carry stable
//! codes that the bot maps to locale keys.

pub(crate) mod intake;
pub mod preview;
pub mod quality;
pub(crate) mod styles;

pub use intake::{
    AcceptedPhoto, DetectedKind, ImageKind, IntakeRules, OUTPUT_JPEG_QUALITY, OtherKind, Rejection,
    detect_kind, inspect_upload, inspect_upload_gated,
};
pub use quality::{QualityRejection, QualityReport, QualityRules};
pub use styles::{Style, catalogue, prompt_for, spread_references, style_by_id};
