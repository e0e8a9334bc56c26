//! Plots of a sweep's summary, as SVG and PNG, drawn through [`crate::report::render`] (which
//! embeds the font).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::record::Record;
use super::summary::{depth, gap_curves, information_points, width, Curve};
use crate::error::{Error, Result};
use crate::io::output::parent_of;
use crate::io::{not_a_folder, write_dir_atomically};
use crate::report::render::{self, Plot, FONT};

const SIZE: (u32, u32) = (1100, 450);

/// One panel: a title, axis labels, named series, and whether to join points by lines.
struct Panel<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    series: &'a [(String, Curve)],
    lines: bool,
}

/// Writes `gap_vs_width`, `gap_vs_depth` and `information`, each as `.svg` and `.png`, as the
/// folder `dir`: all six rendered first, then written as one set ([`write_dir_atomically`]: a
/// full disk or a kill leaves the folder as it was, never some new plots beside old ones). Its
/// parent is created if missing; `dir` is refused if it is something other than a folder, or a
/// folder holding other files. Returns the paths of the SVG files.
pub fn write_plots(records: &[Record], dir: &Path) -> Result<Vec<PathBuf>> {
    if let Some(meta) = std::fs::metadata(dir).ok().filter(|m| !m.is_dir()) {
        return Err(not_a_folder(
            dir,
            &meta.file_type(),
            "the plots are written into a folder",
        ));
    }
    let parent = parent_of(dir);
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let mut files = Vec::new();
    let mut written = Vec::new();
    let log_width = |r: &Record| width(r).log2();
    for (name, x_label, x) in [
        (
            "gap_vs_width.svg",
            "log2 of the widest hidden layer",
            &log_width as &dyn Fn(&Record) -> f64,
        ),
        ("gap_vs_depth.svg", "hidden layers", &depth),
    ] {
        let c = gap_curves(records, x);
        let path = dir.join(name);
        two_panels(
            &mut files,
            &path,
            [
                Panel {
                    title: "theory from input (l=0) − network",
                    x_label,
                    y_label: "accuracy gap",
                    series: &c.from_input,
                    lines: true,
                },
                Panel {
                    title: "theory from layer 1 − network",
                    x_label,
                    y_label: "accuracy gap",
                    series: &c.from_layer1,
                    lines: true,
                },
            ],
        )?;
        written.push(path);
    }
    let [input, output] = information_points(records);
    let path = dir.join("information.svg");
    two_panels(
        &mut files,
        &path,
        [
            Panel {
                title: "class information at the input",
                x_label: "Bhattacharyya mean term",
                y_label: "covariance term",
                series: &input,
                lines: false,
            },
            Panel {
                title: "class information at the output",
                x_label: "Bhattacharyya mean term",
                y_label: "covariance term",
                series: &output,
                lines: false,
            },
        ],
    )?;
    written.push(path);
    write_dir_atomically(dir, &files)?;
    Ok(written)
}

/// Two panels side by side, rendered into `files` as (name, bytes): `path`'s file name (SVG)
/// and the same name with `.png`.
fn two_panels(
    files: &mut Vec<(String, Vec<u8>)>,
    path: &Path,
    panels: [Panel<'_>; 2],
) -> Result<()> {
    let plot = TwoPanels(panels);
    let svg = render::svg(&plot, SIZE).map_err(|e| Error::format(path, e.to_string()))?;
    let png = render::png(&plot, SIZE).map_err(|e| Error::format(path, e.to_string()))?;
    let name = |p: &Path| {
        p.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    };
    files.push((name(path), svg.into_bytes()));
    files.push((name(&path.with_extension("png")), png));
    Ok(())
}

struct TwoPanels<'a>([Panel<'a>; 2]);

impl Plot for TwoPanels<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        for (area, panel) in root.split_evenly((1, 2)).iter().zip(&self.0) {
            draw_panel(area, panel).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

type DrawResult<T, DB> =
    std::result::Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel<'_>,
) -> DrawResult<(), DB> {
    let all: Vec<(f64, f64)> = p
        .series
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .collect();
    let (x0, x1) = padded(all.iter().map(|q| q.0));
    let (y0, y1) = padded(all.iter().map(|q| q.1));
    let mut chart = ChartBuilder::on(area)
        .caption(p.title, (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .label_style((FONT, 12))
        .x_desc(p.x_label)
        .y_desc(p.y_label)
        .draw()?;
    for (i, (name, curve)) in p.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if p.lines {
            chart.draw_series(LineSeries::new(
                curve.iter().copied(),
                color.stroke_width(2),
            ))?;
        }
        chart
            .draw_series(curve.iter().map(|&q| Circle::new(q, 4, color.filled())))?
            .label(name.as_str())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
    }
    if !p.series.is_empty() {
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

/// The range of `values` widened by 5 % on each side (±1 around a single value; 0..1 if none).
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let pad = if lo.abs() > 1e-12 {
            0.1 * lo.abs()
        } else {
            1.0
        };
        return (lo - pad, hi + pad);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}
