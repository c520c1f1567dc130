//! A ready set's action buttons, under its albums at delivery and under
//! `/gallery`: ZIP, share link, redo a portrait.

use super::callback::Callback;
use super::outbox::Button;
use crate::i18n::{Lang, tr};

/// The action buttons of one ready set, one per row. Every gallery action is
/// added here (and parsed in `chat::callback`).
pub(crate) fn action_buttons(lang: Lang, avatar_id: i64) -> Vec<Vec<Button>> {
    let button = |key: &str, data: Callback| Button::Callback {
        text: tr(lang, key),
        data: data.encode(),
    };
    vec![
        vec![button(
            "gallery-button-zip",
            Callback::ZipGallery(avatar_id),
        )],
        vec![button(
            "gallery-button-share",
            Callback::ShareGallery(avatar_id),
        )],
        vec![button("redo-button", Callback::Redo(avatar_id))],
    ]
}
