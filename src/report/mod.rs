//! Output: the analysis report (Markdown, JSON, plots), written with [`crate::io`].
//!
//! - [`render`] turns a plot into PNG bytes or an SVG string, with an embedded font;
//! - [`plots`] draws the analysis plots;
//! - [`table`] is the table model behind the text and Markdown outputs, [`tables`] the tables
//!   of `analyze` and `propagate` built on it;
//! - [`markdown`] writes the text of report.md; [`number`] formats numbers for text;
//! - [`analysis_report`] renders every file of a report folder in memory, [`write_files`]
//!   writes them.

pub mod markdown;
pub mod number;
pub mod plots;
pub mod render;
pub mod table;
pub mod tables;

use std::path::Path;

use crate::analysis::{Analysis, Heatmap};
use crate::error::{Error, Result};
use crate::io::write_atomically;

/// Size of every PNG/SVG plot in pixels.
const PLOT_SIZE: (u32, u32) = (900, 600);
/// Size of the heatmap plot (two panels side by side).
const HEATMAP_SIZE: (u32, u32) = (1200, 640);

/// Every file of an analysis report as (file name, content): report.md, report.json (`json`,
/// the serialised run) and each plot as .png and .svg. Nothing is written here, so a failure
/// while rendering leaves no partial report.
pub fn analysis_report(
    header: &[(&str, String)],
    analysis: &Analysis,
    heatmap: &Heatmap,
    json: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = vec![
        (
            "report.md".to_string(),
            markdown::markdown(header, analysis, heatmap).into_bytes(),
        ),
        ("report.json".to_string(), json.as_bytes().to_vec()),
    ];
    let acc = plots::AccuracyPlot(analysis);
    let info = plots::InformationPlot(analysis);
    let heat = plots::HeatmapPlot(heatmap);
    files.push(("accuracy.png".into(), render::png(&acc, PLOT_SIZE)?));
    files.push((
        "accuracy.svg".into(),
        render::svg(&acc, PLOT_SIZE)?.into_bytes(),
    ));
    files.push(("information.png".into(), render::png(&info, PLOT_SIZE)?));
    files.push((
        "information.svg".into(),
        render::svg(&info, PLOT_SIZE)?.into_bytes(),
    ));
    files.push(("heatmap.png".into(), render::png(&heat, HEATMAP_SIZE)?));
    files.push((
        "heatmap.svg".into(),
        render::svg(&heat, HEATMAP_SIZE)?.into_bytes(),
    ));
    Ok(files)
}

/// Creates `dir` if needed and writes every file into it atomically.
pub fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, bytes) in files {
        write_atomically(&dir.join(name), bytes)?;
    }
    Ok(())
}
