//! Kie AI Market API: the client the worker uses to create image tasks, poll
//! them and read credits, and beside it the local stand-in that answers with
//! the real shapes and the real errors.
//!
//! - `types`: the task request (shaped per model), the task record and state,
//!   the errors and how to react to them ([`ErrorClass`], [`TaskFailure`]).
//! - `client`: [`KieClient`], one `reqwest::Client` with Bearer auth.
//! - `standin`: [`standin::start`], an in-process axum server (`standin::Options`, `standin::Handle`).
//! - `render`: the stand-in's portrait, derived from the reference photos.
//!
//! The facts these follow are in `brief/apis/kie.md`.

mod client;
pub mod render;
pub mod standin;
mod types;

pub use client::{KieClient, KieSettings, default_user_agent};
pub use types::{
    CreateTask, ErrorClass, KieError, MODEL_NANO_BANANA_2, MODEL_NANO_BANANA_EDIT,
    MODEL_NANO_BANANA_PRO, MODEL_SEEDREAM_EDIT, ResultDownloadError, TaskFailure, TaskRecord,
    TaskState, max_prompt_chars, max_references,
};
