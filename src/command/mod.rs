//! The library half of each subcommand: from a [`RunConfig`](crate::config::RunConfig) to a
//! report that serialises to the `--json` output and displays as the human one. The command
//! line only parses flags into the configuration and prints what these return.
//!
//! - [`train`]: fit an MLP, write the model file.
//! - [`propagate`]: one start layer's prediction against the measured statistics.
//! - [`analyze`]: the full analysis, optionally as a report folder.

pub mod analyze;
pub mod propagate;
pub mod train;

use std::path::Path;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::net::train::check_fits;
use crate::net::Mlp;

/// Checks that `net` (`what`: its file, or a description) takes `data`'s inputs; the error
/// names both sides.
fn check_network_fits(net: &Mlp, data: &Dataset, what: &str, description: &str) -> Result<()> {
    check_fits(net, data).map_err(|e| Error::Shape(format!("{what} vs {description}: {e}")))
}

/// Prefixes a numerical error of the work on the model at `model` with its path, so that a
/// model whose values overflow is named.
fn naming_model<T>(model: &Path, result: Result<T>) -> Result<T> {
    result.map_err(|e| match e {
        Error::Numeric(msg) => Error::Numeric(format!("{}: {msg}", model.display())),
        other => other,
    })
}

/// A model path for messages.
fn shown(path: &Path) -> String {
    path.display().to_string()
}
