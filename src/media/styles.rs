//! The style catalogue (`data/styles.toml`, compiled into the binary) and the
//! spreading of reference photos over a job's tasks.
//!
//! Each style has a main prompt and one or two safer rewordings ("variants")
//! for when Kie's content moderation refuses the main one. Attempt 0 of a
//! task uses the main prompt, attempt 1 the first variant, and so on, until
//! [`prompt_for`] returns `None` and the task fails for good.

use std::collections::HashSet;
use std::sync::OnceLock;

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

/// The shipped catalogue, checked by the tests in `tests/media/styles.rs`.
const STYLES_TOML: &str = include_str!("../../data/styles.toml");

/// One portrait style.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Style {
    /// Stable slug, e.g. `"studio-business-headshot"`; safe to store.
    pub id: String,
    /// Short name shown to Russian-speaking users.
    pub name_ru: String,
    /// Short name shown to English-speaking users.
    pub name_en: String,
    /// The main prompt for the image-edit model (English).
    pub prompt: String,
    /// Safer rewordings of the same style, tried in order after a moderation
    /// refusal.
    #[serde(default)]
    pub variants: Vec<String>,
}

impl Style {
    /// The prompt for a given attempt: 0 is the main prompt, 1.. the variants.
    pub(crate) fn prompt_variant(&self, variant: usize) -> Option<&str> {
        match variant {
            0 => Some(&self.prompt),
            n => self.variants.get(n - 1).map(String::as_str),
        }
    }

    /// How many distinct prompts this style has (main prompt plus variants).
    pub fn prompt_count(&self) -> usize {
        1 + self.variants.len()
    }
}

#[derive(Deserialize)]
struct CatalogueFile {
    styles: Vec<Style>,
}

/// Every style, in catalogue order. Parsed once, on first use.
///
/// # Panics
///
/// Panics if the shipped `data/styles.toml` is malformed (missing fields,
/// duplicate ids, an empty catalogue): it is compiled in, so that is a build
/// defect that the tests catch, never something input can cause.
pub fn catalogue() -> &'static [Style] {
    static CATALOGUE: OnceLock<Vec<Style>> = OnceLock::new();
    CATALOGUE.get_or_init(|| match parse_catalogue(STYLES_TOML) {
        Ok(styles) => styles,
        Err(problem) => panic!("the shipped data/styles.toml is invalid: {problem}"),
    })
}

fn parse_catalogue(text: &str) -> Result<Vec<Style>, String> {
    let file: CatalogueFile = Figment::from(Toml::string(text))
        .extract()
        .map_err(|error| error.to_string())?;
    if file.styles.is_empty() {
        return Err("no styles".to_owned());
    }
    let mut ids = HashSet::new();
    for style in &file.styles {
        if !ids.insert(style.id.as_str()) {
            return Err(format!("duplicate style id {:?}", style.id));
        }
        if style.prompt.trim().is_empty() || style.variants.iter().any(|v| v.trim().is_empty()) {
            return Err(format!("style {:?} has an empty prompt", style.id));
        }
    }
    Ok(file.styles)
}

/// The style with this id, if the catalogue has it.
pub fn style_by_id(id: &str) -> Option<&'static Style> {
    catalogue().iter().find(|style| style.id == id)
}

/// The prompt of the style at `style_index` for attempt `variant` (0 is the
/// main prompt, 1.. the safer variants).
///
/// Returns `None` when the index is past the catalogue or the style has no
/// more variants, so a caller retrying after moderation refusals knows when
/// to give up instead of sending the same refused prompt again.
pub fn prompt_for(style_index: usize, variant: usize) -> Option<&'static str> {
    catalogue().get(style_index)?.prompt_variant(variant)
}

/// Spreads an avatar's reference photos over the tasks of one job.
///
/// Each task gets `min(max_per_task, photo_keys.len())` photos. Task `t`
/// takes consecutive photos (wrapping around) starting at
/// `t * per_task % photo_count`, so the tasks fill the photo list cyclically:
/// every photo is used by some task whenever
/// `tasks * max_per_task >= photo_keys.len()`, and the number of tasks using
/// any two photos differs by at most one. With no more photos than
/// `max_per_task` every task gets all of them. The result depends only on the
/// arguments.
///
/// One task can never carry more than `max_per_task` photos (the model's
/// reference limit, 10 for nano-banana-edit): a single task over 15 photos
/// gets the first 10, and the other 5 are unused by that job.
///
/// Returns `tasks` lists; they are empty when there are no photos or
/// `max_per_task` is 0.
pub fn spread_references(
    photo_keys: &[String],
    tasks: usize,
    max_per_task: usize,
) -> Vec<Vec<String>> {
    let photo_count = photo_keys.len();
    let per_task = max_per_task.min(photo_count);
    (0..tasks)
        .map(|task| {
            if per_task == 0 {
                return Vec::new();
            }
            let start = task * per_task % photo_count;
            (0..per_task)
                .map(|slot| photo_keys[(start + slot) % photo_count].clone())
                .collect()
        })
        .collect()
}
