//! Charts of the admin commands: PNG images drawn with `plotters` into a
//! memory buffer and encoded with `image`. Text uses the DejaVu Sans embedded
//! in the binary ([`crate::fonts`]), so a chart never depends on the fonts of
//! the host.

use plotters::prelude::*;

pub(crate) const WIDTH: u32 = 1200;
pub(crate) const HEIGHT: u32 = 800;

const COLORS: [RGBColor; 6] = [
    RGBColor(52, 101, 164),
    RGBColor(245, 121, 0),
    RGBColor(78, 154, 6),
    RGBColor(117, 80, 123),
    RGBColor(204, 0, 0),
    RGBColor(193, 125, 17),
];

/// A bar chart: one group of bars per x label, one bar per series.
#[derive(Debug, Clone)]
pub(crate) struct Bars {
    pub(crate) title: String,
    /// What each group is (a stage, a day).
    pub(crate) groups: Vec<String>,
    /// (series name, one value per group, one label per group drawn above its bar).
    pub(crate) series: Vec<(String, Vec<f64>, Vec<String>)>,
}

/// Draws `bars` and returns the PNG bytes.
pub(crate) fn bar_chart_png(bars: &Bars) -> anyhow::Result<Vec<u8>> {
    let (w, h) = (WIDTH, HEIGHT);
    let mut buffer = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        draw(&root, bars).map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    let image = image::RgbImage::from_raw(w, h, buffer)
        .ok_or_else(|| anyhow::anyhow!("chart buffer has the wrong size"))?;
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png)?;
    Ok(png.into_inner())
}

fn draw_error<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {error:?}")
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    bars: &Bars,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (w, h) = (WIDTH as i32, HEIGHT as i32);
    let family = crate::fonts::sans();
    let title = (family, 34).into_font().color(&BLACK);
    let label = (family, 20).into_font().color(&BLACK);
    let small = (family, 18).into_font().color(&RGBColor(60, 60, 60));
    root.draw(&Text::new(bars.title.clone(), (30, 20), title))?;

    let (left, right, top, bottom) = (90, w - 30, 110, h - 90);
    let highest = bars
        .series
        .iter()
        .flat_map(|(_, values, _)| values.iter().copied())
        .fold(0.0f64, f64::max);
    // Round steps (1, 2 or 5 × 10^k) and room above the highest bar for its label.
    let step = nice_step(highest.max(1.0) * 1.08);
    let ticks = ((highest.max(1.0) * 1.08) / step).ceil().max(1.0);
    let max = step * ticks;
    let y_of = |v: f64| bottom - ((v / max) * f64::from(bottom - top)) as i32;

    // Grid and y labels.
    for i in 0..=(ticks as i32) {
        let v = step * f64::from(i);
        let y = y_of(v);
        root.draw(&PathElement::new(
            vec![(left, y), (right, y)],
            RGBColor(225, 225, 225),
        ))?;
        root.draw(&Text::new(short_number(v), (10, y - 10), small.clone()))?;
    }
    root.draw(&PathElement::new(
        vec![(left, bottom), (right, bottom)],
        BLACK,
    ))?;

    let groups = bars.groups.len().max(1) as i32;
    let series = bars.series.len().max(1) as i32;
    let group_w = (right - left) / groups;
    let bar_w = (group_w * 8 / 10 / series).max(2);
    for (g, name) in bars.groups.iter().enumerate() {
        let g = g as i32;
        let x0 = left + g * group_w + group_w / 10;
        for (s, (_, values, labels)) in bars.series.iter().enumerate() {
            let value = values.get(g as usize).copied().unwrap_or(0.0);
            let bx = x0 + s as i32 * bar_w;
            let color = COLORS[s % COLORS.len()];
            root.draw(&Rectangle::new(
                [(bx, y_of(value)), (bx + bar_w - 2, bottom)],
                color.filled(),
            ))?;
            if let Some(text) = labels.get(g as usize).filter(|t| !t.is_empty()) {
                root.draw(&Text::new(
                    text.clone(),
                    (bx, y_of(value) - 24),
                    small.clone(),
                ))?;
            }
        }
        root.draw(&Text::new(
            name.clone(),
            (left + g * group_w + 4, bottom + 12),
            label.clone(),
        ))?;
    }

    // Legend, when there is more than one series.
    if bars.series.len() > 1 {
        let mut x = left;
        for (s, (name, _, _)) in bars.series.iter().enumerate() {
            let color = COLORS[s % COLORS.len()];
            root.draw(&Rectangle::new([(x, 70), (x + 22, 92)], color.filled()))?;
            root.draw(&Text::new(name.clone(), (x + 30, 70), label.clone()))?;
            x += 40 + 11 * name.chars().count() as i32;
        }
    }
    Ok(())
}

/// A step of 1, 2 or 5 × 10^k giving about five grid lines up to `max`.
fn nice_step(max: f64) -> f64 {
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let m = raw / magnitude;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    (nice * magnitude).max(1.0)
}

/// 1234 → "1234", 12500 → "12.5k", 2_000_000 → "2M".
fn short_number(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0).replace(".0M", "M")
    } else if v >= 10_000.0 {
        format!("{:.1}k", v / 1000.0).replace(".0k", "k")
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_a_png_of_the_promised_size() {
        let bars = Bars {
            title: "Воронка · Funnel".into(),
            groups: vec!["A".into(), "B".into()],
            series: vec![
                ("x".into(), vec![3.0, 1.0], vec!["3".into(), "1".into()]),
                ("y".into(), vec![2.0, 0.0], vec!["2".into(), "0".into()]),
            ],
        };
        let png = bar_chart_png(&bars).unwrap();
        let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
        assert_eq!((image.width(), image.height()), (WIDTH, HEIGHT));
        // Something was drawn: not a blank white image.
        let rgb = image.to_rgb8();
        assert!(rgb.pixels().any(|p| p.0 != [255, 255, 255]));
    }
}
