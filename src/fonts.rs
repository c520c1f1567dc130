//! The one font embedded in the binary: DejaVu Sans (`data/fonts/`, its
//! Bitstream Vera licence beside it). The admin charts and the preview's
//! watermark draw their text with it through `plotters` (its `ab_glyph`
//! text), so nothing drawn depends on the fonts of the host.

use std::sync::Once;

use plotters::style::{FontStyle, register_font};

const DEJAVU_SANS: &[u8] = include_bytes!("../data/fonts/DejaVuSans.ttf");
/// The family DejaVu Sans is registered under; also plotters' default name.
const SANS: &str = "sans-serif";

/// The family name of DejaVu Sans for plotters' fonts (`(sans(), 20).into_font()`),
/// registered on the first call.
pub(crate) fn sans() -> &'static str {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        if register_font(SANS, FontStyle::Normal, DEJAVU_SANS).is_err() {
            tracing::error!("the embedded font DejaVu Sans could not be read");
        }
    });
    SANS
}
