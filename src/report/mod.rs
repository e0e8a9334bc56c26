//! Output: the analysis report (Markdown, JSON, plots), written with [`crate::io`].
//!
//! - [`render`] turns a plot into PNG bytes or an SVG string, with an embedded font;
//! - [`plots`] draws the analysis plots;
//! - [`table`] is the table model behind the text and Markdown outputs, [`tables`] the tables
//!   of `analyze` and `propagate` built on it;
//! - [`markdown`] writes the text of report.md; [`number`] formats numbers for text; [`json`]
//!   every JSON output, refusing non-finite numbers; [`path_text`] file paths in JSON;
//! - [`analysis_report`] renders every file of a report folder in memory, [`write_files`]
//!   writes them.

pub mod beyond;
pub mod beyond_plots;
pub mod json;
pub mod markdown;
pub mod number;
pub mod path_text;
pub mod plots;
pub mod render;
pub mod table;
pub mod tables;

use std::path::Path;

use crate::analysis::{Analysis, Heatmap};
use crate::error::Result;
use crate::io::{check_output_dir, write_dir_atomically};

/// Size of every PNG/SVG plot in pixels.
const PLOT_SIZE: (u32, u32) = (900, 600);
/// Size of the heatmap plot (two panels side by side).
const HEATMAP_SIZE: (u32, u32) = (1200, 640);
/// Size of the confusion-matrix plot (one panel per matrix, side by side).
const CONFUSION_SIZE: (u32, u32) = (1900, 420);
/// Size of the error-budget waterfall (three panels).
const BUDGET_SIZE: (u32, u32) = (1500, 520);

/// Every file of an analysis report as (file name, content): report.md, report.json (`json`,
/// the serialised run) and each plot as .png and .svg. Nothing is written here, so a failure
/// while rendering leaves no partial report.
pub fn analysis_report(
    header: &[(&str, String)],
    analysis: &Analysis,
    heatmap: &Heatmap,
    json: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    let acc = plots::AccuracyPlot(analysis);
    let info = plots::InformationPlot(analysis);
    let heat = plots::HeatmapPlot(heatmap);
    let confusion = beyond_plots::ConfusionPlot(analysis);
    let budget = beyond_plots::BudgetPlot(analysis);
    let contents = [
        markdown::markdown(header, analysis, heatmap).into_bytes(),
        json.as_bytes().to_vec(),
        render::png(&acc, PLOT_SIZE)?,
        render::svg(&acc, PLOT_SIZE)?.into_bytes(),
        render::png(&info, PLOT_SIZE)?,
        render::svg(&info, PLOT_SIZE)?.into_bytes(),
        render::png(&heat, HEATMAP_SIZE)?,
        render::svg(&heat, HEATMAP_SIZE)?.into_bytes(),
        render::png(&confusion, CONFUSION_SIZE)?,
        render::svg(&confusion, CONFUSION_SIZE)?.into_bytes(),
        render::png(&budget, BUDGET_SIZE)?,
        render::svg(&budget, BUDGET_SIZE)?.into_bytes(),
    ];
    let files = REPORT_FILES
        .iter()
        .map(|n| n.to_string())
        .zip(contents)
        .collect();
    Ok(files)
}

/// Writes the report folder `dir` as one set ([`write_dir_atomically`]).
pub fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    write_dir_atomically(dir, files)
}

/// The files of a report folder, in the order [`analysis_report`] renders them.
pub const REPORT_FILES: [&str; 12] = [
    "report.md",
    "report.json",
    "accuracy.png",
    "accuracy.svg",
    "information.png",
    "information.svg",
    "heatmap.png",
    "heatmap.svg",
    "confusion.png",
    "confusion.svg",
    "budget.png",
    "budget.svg",
];

/// Checks before the analysis runs that `dir` can take a report ([`check_output_dir`]).
pub fn check_report_dir(dir: &Path) -> Result<()> {
    let own: Vec<String> = REPORT_FILES.iter().map(|s| s.to_string()).collect();
    check_output_dir(dir, &own)
}
