//! Rendering a plot to PNG bytes and to an SVG string in memory (files are written atomically
//! by the caller). Text uses DejaVu Sans, embedded in the binary, so no system fonts are needed.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::{Error, Result};

/// The font family every plot's text uses.
pub const FONT: &str = "sans-serif";

/// A plot that can be drawn on any plotters backend.
pub trait Plot {
    /// Draws the plot on `root`; errors are plotters' messages.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String>;
}

/// Registers the embedded font once per process.
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu Sans font does not parse".to_string())
        })
        .clone()
        .map_err(|e| Error::Numeric(format!("plot font: {e}")))
}

/// The plot as an RGB PNG of `size` pixels.
pub fn png(plot: &impl Plot, size: (u32, u32)) -> Result<Vec<u8>> {
    ensure_font()?;
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        plot.draw(&root).map_err(plot_error)?;
        root.present().map_err(|e| plot_error(e.to_string()))?;
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, size.0, size.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| plot_error(e.to_string()))?;
    writer
        .write_image_data(&rgb)
        .map_err(|e| plot_error(e.to_string()))?;
    writer.finish().map_err(|e| plot_error(e.to_string()))?;
    Ok(bytes)
}

/// The plot as an SVG document of `size` pixels.
pub fn svg(plot: &impl Plot, size: (u32, u32)) -> Result<String> {
    ensure_font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        plot.draw(&root).map_err(plot_error)?;
        root.present().map_err(|e| plot_error(e.to_string()))?;
    }
    Ok(text)
}

fn plot_error(msg: String) -> Error {
    Error::Numeric(format!("drawing a plot: {msg}"))
}
