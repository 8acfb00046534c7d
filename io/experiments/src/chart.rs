//! The backtest chart (`backtest --chart`): the chosen metric over replay
//! time per variant (complete horizons), and below it the overall figure of
//! each variant as a bar with its bootstrap 95% interval.
//!
//! Text is drawn with DejaVu Sans Mono, bundled in `assets/` (Bitstream Vera
//! licence, in `assets/DejaVuSansMono.LICENSE`): the chart needs no system
//! font, fontconfig or network.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::backtest::summary::{Metric, Summary, TimeFigures};
use crate::error::ExperimentError;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");
const FAMILY: &str = "sans-serif";

fn font_once() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bundled file is a valid TrueType font: this cannot fail.
        let _ = register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

fn value(f: &TimeFigures, m: Metric) -> Option<f64> {
    match m {
        Metric::Ndcg => f.ndcg,
        Metric::HitRate => f.hit_rate,
    }
}

/// Draws the chart of `summary` into the PNG `path`.
pub fn draw(summary: &Summary, path: &Path) -> Result<(), ExperimentError> {
    font_once();
    let fail = |e: &dyn std::fmt::Display| ExperimentError::Output {
        path: path.display().to_string(),
        message: format!("cannot draw the chart: {e}"),
    };
    draw_inner(summary, path).map_err(|e| fail(&e))
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_inner(s: &Summary, path: &Path) -> DrawResult {
    let m = s.metric;
    let root = BitMapBackend::new(path, (1000, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(450);
    let times: Vec<(usize, &crate::backtest::summary::TimeSummary)> = s
        .times
        .iter()
        .enumerate()
        .filter(|(_, t)| t.complete)
        .collect();
    let values = times
        .iter()
        .flat_map(|(_, t)| t.variants.iter().filter_map(|f| value(f, m)));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.1).max(0.01);
    let last = s.times.len().saturating_sub(1).max(1) as f64;
    let label_of = |x: &f64| {
        let k = x.round().max(0.0) as usize;
        s.times.get(k).map_or(String::new(), |t| {
            t.as_of.get(..10).unwrap_or("").to_string()
        })
    };
    let mut chart = ChartBuilder::on(&upper)
        .caption(
            format!(
                "{}@{} over replay time (next {} after each)",
                m.label(),
                s.top,
                crate::explain::duration_words(s.horizon_s * 1_000_000_000)
            ),
            (FAMILY, 22),
        )
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..last, (lo - pad).max(0.0)..(hi + pad).min(1.0))?;
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&label_of)
        .y_desc(m.label())
        .label_style((FAMILY, 13))
        .draw()?;
    for (v, variant) in s.variants.iter().enumerate() {
        let color = Palette99::pick(v).to_rgba();
        let points: Vec<(f64, f64)> = times
            .iter()
            .filter_map(|(k, t)| value(&t.variants[v], m).map(|y| (*k as f64, y)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(variant.variant.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 14))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()?;

    let overall = |v: &crate::backtest::summary::VariantSummary| match m {
        Metric::Ndcg => (v.ndcg, v.ndcg_interval),
        Metric::HitRate => (v.hit_rate, v.hit_rate_interval),
    };
    let top = s
        .variants
        .iter()
        .map(|v| {
            let (x, i) = overall(v);
            x.max(i.high)
        })
        .filter(|x| x.is_finite())
        .fold(0.0f64, f64::max);
    let n = s.variants.len().max(1) as f64;
    let verdict = match &s.winner {
        Some(w) => format!("overall {}: {w} wins", m.label()),
        None => format!("overall {}: no winner", m.label()),
    };
    let mut bars = ChartBuilder::on(&lower)
        .caption(verdict, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(10)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..n, 0f64..(top * 1.15).max(0.01))?;
    bars.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(m.label())
        .label_style((FAMILY, 13))
        .draw()?;
    for (v, variant) in s.variants.iter().enumerate() {
        let color = Palette99::pick(v).to_rgba();
        let (x, i) = overall(variant);
        if !x.is_finite() {
            continue;
        }
        let left = v as f64 + 0.2;
        let (mid, right) = (v as f64 + 0.5, v as f64 + 0.8);
        bars.draw_series(std::iter::once(Rectangle::new(
            [(left, 0.0), (right, x)],
            color.mix(0.6).filled(),
        )))?;
        if i.low.is_finite() && i.high.is_finite() {
            let ink = BLACK.stroke_width(2);
            bars.draw_series([
                PathElement::new(vec![(mid, i.low), (mid, i.high)], ink),
                PathElement::new(vec![(mid - 0.08, i.low), (mid + 0.08, i.low)], ink),
                PathElement::new(vec![(mid - 0.08, i.high), (mid + 0.08, i.high)], ink),
            ])?;
        }
        bars.draw_series(std::iter::once(Text::new(
            format!("{} {:.4}", variant.variant, x),
            (left, (top * 1.12).max(0.008)),
            (FAMILY, 15),
        )))?;
    }
    root.present()?;
    Ok(())
}
