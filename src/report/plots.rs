//! The three plots of `corrflow analyze --report`: accuracy vs start layer, mean vs covariance
//! information per stage, and a covariance heatmap (measured beside propagated).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::render::{Plot, FONT};
use crate::analysis::information::StageInformation;
use crate::analysis::{Analysis, Heatmap};

/// Accuracy vs start layer: the network's measured accuracy (line), the Gaussian theory from
/// each start layer (points with ±2 stderr bars) and the surrogate accuracies (points at their
/// own x positions, right of the layers).
pub struct AccuracyPlot<'a>(pub &'a Analysis);

/// Mean term and covariance term of the Bhattacharyya distance per stage, averaged over pairs.
pub struct InformationPlot<'a>(pub &'a Analysis);

/// Measured and propagated covariance of one stage side by side, one shared colour scale.
pub struct HeatmapPlot<'a>(pub &'a Heatmap);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Plot for AccuracyPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let a = self.0;
        root.fill(&WHITE).map_err(err)?;
        let depth = a.theory_accuracy.len().saturating_sub(1);
        let x_sur = depth as f64 + 1.0;
        let s = &a.surrogate_accuracy;
        let lows = a
            .theory_accuracy
            .iter()
            .map(|t| t.accuracy - 2.0 * t.stderr)
            .chain([s.order1.accuracy, s.order2.accuracy, a.network_accuracy])
            .chain(a.theory_accuracy_k3k4.as_ref().map(|t| t.accuracy));
        let y_min = (lows.fold(1.0f64, f64::min) - 0.05).clamp(0.0, 0.95);
        let mut chart = ChartBuilder::on(root)
            .caption("Accuracy: network vs Gaussian theory", (FONT, 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..x_sur + 1.5, y_min..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("start layer l of the theory (surrogates right)")
            .y_desc("accuracy")
            .x_labels(depth + 4)
            .x_label_formatter(&|x| label_x(*x, depth))
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        let net = a.network_accuracy;
        chart
            .draw_series(LineSeries::new(
                [(-0.5, net), (x_sur + 1.5, net)],
                BLUE.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("network {net:.4}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(a.theory_accuracy.iter().map(|t| {
                let x = t.start_layer as f64;
                let e = 2.0 * t.stderr;
                ErrorBar::new_vertical(x, t.accuracy - e, t.accuracy, t.accuracy + e, RED, 10)
            }))
            .map_err(err)?;
        chart
            .draw_series(
                a.theory_accuracy
                    .iter()
                    .map(|t| Circle::new((t.start_layer as f64, t.accuracy), 5, RED.filled())),
            )
            .map_err(err)?
            .label("theory from layer l (±2 se)")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, RED.filled()));
        if let Some(t) = &a.theory_accuracy_k3k4 {
            chart
                .draw_series([Cross::new((0.0, t.accuracy), 7, MAGENTA.stroke_width(2))])
                .map_err(err)?
                .label("theory from x with κ₃/κ₄ of h1")
                .legend(|(x, y)| Cross::new((x + 10, y), 6, MAGENTA.stroke_width(2)));
        }
        chart
            .draw_series(
                [(x_sur, s.order1.accuracy), (x_sur + 1.0, s.order2.accuracy)]
                    .into_iter()
                    .map(|p| TriangleMarker::new(p, 7, GREEN.filled())),
            )
            .map_err(err)?
            .label("surrogates: order 1, order 2")
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 7, GREEN.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)
    }
}

/// Tick label of the accuracy plot's x axis: layers 0…L, then the two surrogates.
fn label_x(x: f64, depth: usize) -> String {
    let r = x.round();
    if (x - r).abs() > 1e-9 || r < 0.0 {
        return String::new();
    }
    let i = r as usize;
    match i.cmp(&(depth + 1)) {
        std::cmp::Ordering::Less => format!("{i}"),
        std::cmp::Ordering::Equal => "order 1".into(),
        std::cmp::Ordering::Greater if i == depth + 2 => "order 2".into(),
        _ => String::new(),
    }
}

impl Plot for InformationPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let info = &self.0.information;
        root.fill(&WHITE).map_err(err)?;
        let top = info
            .iter()
            .flat_map(|s| [s.mean_term, s.cov_term])
            .fold(0.0f64, f64::max)
            .max(1e-12)
            * 1.1;
        let n = info.len();
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Class information: Bhattacharyya mean vs covariance term",
                (FONT, 22),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0.0..top)
            .map_err(err)?;
        let names: Vec<String> = info.iter().map(|s| s.stage.clone()).collect();
        chart
            .configure_mesh()
            .x_desc("stage")
            .y_desc("distance (mean over class pairs)")
            .x_labels(n + 1)
            .x_label_formatter(&|x| {
                let r = x.round();
                if (x - r).abs() < 1e-9 && r >= 0.0 {
                    names.get(r as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        for (color, name, get) in [
            (
                BLUE,
                "mean term ⅛ΔμᵀΣ̄⁻¹Δμ",
                (|s| s.mean_term) as fn(&StageInformation) -> f64,
            ),
            (RED, "covariance term", |s| s.cov_term),
        ] {
            let points: Vec<(f64, f64)> = info
                .iter()
                .enumerate()
                .map(|(i, s)| (i as f64, get(s)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 4, color.filled())),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)
    }
}

impl Plot for HeatmapPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let h = self.0;
        root.fill(&WHITE).map_err(err)?;
        let vmax = [&h.empirical, &h.propagated]
            .iter()
            .flat_map(|m| (0..m.ncols()).flat_map(move |j| m.col(j).iter().map(|v| v.abs())))
            .fold(0.0f64, f64::max)
            .max(f64::MIN_POSITIVE);
        let title = format!(
            "Covariance of {} (class {}), colour scale ±{vmax:.3}; relative error {:.3}",
            h.stage, h.class, h.rel_err
        );
        let root = root.titled(&title, (FONT, 20)).map_err(err)?;
        let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
        for (area, m, name) in [
            (left, &h.empirical, "measured"),
            (right, &h.propagated, "propagated from the input"),
        ] {
            let n = m.nrows();
            let mut chart = ChartBuilder::on(&area)
                .caption(name, (FONT, 16))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(45)
                .build_cartesian_2d(0f64..n as f64, n as f64..0f64)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("unit j")
                .y_desc("unit i")
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style((FONT, 13))
                .draw()
                .map_err(err)?;
            // Wide layers are drawn in b×b blocks (block means) so that a plot holds at most
            // MAX_CELLS² rectangles; the axes keep unit indices.
            let b = n.div_ceil(MAX_CELLS).max(1);
            let blocks = n.div_ceil(b);
            let cell = |bi: usize, bj: usize| {
                let (ri, rj) = (bi * b..((bi + 1) * b).min(n), bj * b..((bj + 1) * b).min(n));
                let count = (ri.len() * rj.len()) as f64;
                ri.flat_map(|i| rj.clone().map(move |j| m[(i, j)]))
                    .sum::<f64>()
                    / count
            };
            chart
                .draw_series((0..blocks).flat_map(|bi| {
                    (0..blocks).map(move |bj| {
                        let (x0, y0) = ((bj * b) as f64, (bi * b) as f64);
                        let (x1, y1) = (((bj + 1) * b).min(n) as f64, ((bi + 1) * b).min(n) as f64);
                        Rectangle::new(
                            [(x0, y0), (x1, y1)],
                            diverging(cell(bi, bj) / vmax).filled(),
                        )
                    })
                }))
                .map_err(err)?;
        }
        Ok(())
    }
}

/// Largest number of heatmap cells per axis.
const MAX_CELLS: usize = 128;

/// Blue (−1) – white (0) – red (+1).
fn diverging(t: f64) -> RGBColor {
    let t = t.clamp(-1.0, 1.0);
    let fade = |v: f64| (255.0 * (1.0 - v)).round() as u8;
    if t >= 0.0 {
        RGBColor(255, fade(t), fade(t))
    } else {
        RGBColor(fade(-t), fade(-t), 255)
    }
}
