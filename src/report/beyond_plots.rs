//! The plots of issue #16: confusion matrices as heatmaps (measured beside predicted) and the
//! per-layer error budget as a waterfall.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::render::{Plot, FONT};
use crate::analysis::budget::BudgetErrors;
use crate::analysis::confusion::ConfusionMatrix;
use crate::analysis::Analysis;

/// The measured confusion matrix beside the theory's from each start layer (and the Edgeworth
/// model of y), colour log₁₀ P from −4 (white) to 0 (dark).
pub struct ConfusionPlot<'a>(pub &'a Analysis);

/// The error budget as a waterfall per measure (covariance error, KL, accuracy error): each step
/// a bar from the running sum to the next, the total E(0) last; one colour per closure order.
pub struct BudgetPlot<'a>(pub &'a Analysis);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Lowest log₁₀ P drawn (lighter cells are white).
const LOG_FLOOR: f64 = -4.0;

/// White (P ≤ 10⁻⁴) to dark blue (P = 1) on a log scale.
fn shade(p: f64) -> RGBColor {
    let t = ((p.max(1e-300).log10() - LOG_FLOOR) / -LOG_FLOOR).clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
}

impl Plot for ConfusionPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let a = self.0;
        root.fill(&WHITE).map_err(err)?;
        let mut panels: Vec<(&ConfusionMatrix, String)> =
            vec![(&a.measured_confusion, "network (measured)".into())];
        panels.extend(
            a.start_layers
                .iter()
                .map(|o| (&o.confusion, format!("Gaussian from {}", o.start_stage))),
        );
        if let Some(t) = &a.output_tails {
            panels.push((&t.edgeworth_confusion, "y, Edgeworth".into()));
            panels.push((&t.student_t_confusion, "y, Student t".into()));
        }
        let root = root
            .titled(
                "P(argmax y = k | class c), colour log₁₀ P from −4 (white) to 0",
                (FONT, 20),
            )
            .map_err(err)?;
        let areas = root.split_evenly((1, panels.len()));
        let k = a.measured_confusion.rows.first().map_or(1, |r| r.p.len());
        for (area, (m, name)) in areas.iter().zip(&panels) {
            let mut chart = ChartBuilder::on(area)
                .caption(name.as_str(), (FONT, 15))
                .margin(8)
                .x_label_area_size(35)
                .y_label_area_size(35)
                .build_cartesian_2d(0f64..k as f64, k as f64..0f64)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("predicted k")
                .y_desc("class c")
                .x_labels(k.min(10))
                .y_labels(k.min(10))
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style((FONT, 12))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(m.rows.iter().flat_map(|r| {
                    r.p.iter().enumerate().map(move |(j, &p)| {
                        let (x, y) = (j as f64, r.class as f64);
                        Rectangle::new([(x, y), (x + 1.0, y + 1.0)], shade(p).filled())
                    })
                }))
                .map_err(err)?;
        }
        Ok(())
    }
}

/// One measure of the budget, read from a step's errors.
type Measure = fn(&BudgetErrors) -> f64;

/// Colours of the closure orders 2, 3, 4 (then repeating).
const ORDER_COLOURS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
];

impl Plot for BudgetPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let budgets = &self.0.error_budget;
        root.fill(&WHITE).map_err(err)?;
        let root = root
            .titled(
                "Error budget: what each layer's closure adds at the output (waterfall)",
                (FONT, 20),
            )
            .map_err(err)?;
        let measures: [(&str, Measure); 3] = [
            ("covariance rel. error", |e| e.cov_rel_err),
            ("KL(emp ‖ prop)", |e| e.kl.unwrap_or(0.0)),
            ("accuracy − network", |e| e.accuracy_err),
        ];
        let areas = root.split_evenly((1, measures.len()));
        let n_steps = budgets.first().map_or(0, |b| b.steps.len());
        let labels: Vec<String> = budgets.first().map_or(Vec::new(), |b| {
            b.steps
                .iter()
                .map(|s| s.layer.map_or("y".into(), |l| format!("layer {l}")))
                .chain(["total".to_string()])
                .collect()
        });
        let n_orders = budgets.len().max(1) as f64;
        for (area, (name, get)) in areas.iter().zip(measures) {
            // The running sums and the total give the value range.
            let mut lo = 0.0f64;
            let mut hi = 0.0f64;
            for b in budgets {
                let mut run = 0.0;
                for s in &b.steps {
                    run += get(&s.errors);
                    lo = lo.min(run);
                    hi = hi.max(run);
                }
            }
            let pad = 0.08 * (hi - lo).max(1e-12);
            let mut chart = ChartBuilder::on(area)
                .caption(name, (FONT, 15))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(-0.5f64..n_steps as f64 + 0.5, lo - pad..hi + pad)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n_steps + 2)
                .x_label_formatter(&|x| {
                    let r = x.round();
                    if (x - r).abs() < 1e-9 && r >= 0.0 {
                        labels.get(r as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .label_style((FONT, 12))
                .draw()
                .map_err(err)?;
            for (o, b) in budgets.iter().enumerate() {
                let colour = ORDER_COLOURS[o % ORDER_COLOURS.len()];
                let width = 0.7 / n_orders;
                let x0 = |i: usize| i as f64 - 0.35 + o as f64 * width;
                let mut run = 0.0;
                let mut bars = Vec::new();
                for (i, s) in b.steps.iter().enumerate() {
                    let next = run + get(&s.errors);
                    bars.push(Rectangle::new(
                        [(x0(i), run), (x0(i) + width, next)],
                        colour.filled(),
                    ));
                    run = next;
                }
                bars.push(Rectangle::new(
                    [(x0(n_steps), 0.0), (x0(n_steps) + width, run)],
                    colour.mix(0.5).filled(),
                ));
                chart
                    .draw_series(bars)
                    .map_err(err)?
                    .label(format!("order {}", b.order))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((FONT, 12))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}
