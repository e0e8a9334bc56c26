//! The library half of each subcommand: from a [`RunConfig`] to a
//! report that serialises to the `--json` output and displays as the human one. The command
//! line only parses flags into the configuration and prints what these return.
//!
//! - [`train`]: fit an MLP, write the model file.
//! - [`propagate`]: one start layer's prediction against the measured statistics.
//! - [`analyze`]: the full analysis, optionally as a report folder.

pub mod analyze;
pub mod propagate;
pub mod train;

use std::collections::HashMap;
use std::path::Path;

use crate::config::provenance::{for_model, from_record, Mismatch, TASK_KEY};
use crate::config::{DataConfig, Loaded, On, RunConfig};
use crate::data::{Labelled, Split};
use crate::error::{Error, Result};
use crate::net::train::check_fits;
use crate::net::{model_io, Mlp};
use crate::timing::Timings;

/// Checks that `net` (`what`: its file, or a description) takes `data`'s inputs; the error
/// names both sides, and the task the model was trained on when it is not the one used.
fn check_network_fits(
    net: &Mlp,
    data: Labelled<'_>,
    what: &str,
    description: &str,
    trained_on: Option<&str>,
) -> Result<()> {
    check_fits(net, data).map_err(|e| {
        let hint = match trained_on {
            Some(t) if !description.starts_with(t.split([' ', ':']).next().unwrap_or(t)) => {
                let task = t.split([' ', ':']).next().unwrap_or(t);
                format!(
                    "; the model expects {} inputs and was trained on task {task} ({t}): pass --task {task} or omit --task",
                    net.input_dim()
                )
            }
            _ => String::new(),
        };
        Error::Shape(format!("{what} vs {description}: {e}{hint}"))
    })
}

/// A model file with the data it is analysed on: the network, the data configuration completed
/// from the model's records ([`crate::config::provenance`]), the settings the user chose
/// differently from the model's, the loaded data (the training set left unassembled under
/// `--on test`: [`RunConfig::load_data_on`]) and the model's own description of its task.
struct ModelData {
    net: Mlp,
    mismatches: Vec<Mismatch>,
    loaded: Loaded,
    trained_on: Option<String>,
}

/// Loads the model at `path` and the data `config` describes, completed from the model's records;
/// a test set of pixel bytes stays bytes ([`RunConfig::load_data_on`]).
fn model_and_data(config: &RunConfig, path: &Path, timings: &Timings) -> Result<ModelData> {
    let (net, meta) = timings.time("data load", 0.0, || {
        Ok::<_, Error>((config.load_model(path)?, model_io::metadata(path)?))
    })?;
    if net.output_dim() < 2 {
        // Else task data takes the outputs as its class count and blames --n-classes.
        return Err(Error::format(
            path,
            format!(
                "has {} output: corrflow analyses classifiers, one output per class, at least 2",
                net.output_dim()
            ),
        ));
    }
    let (data, mismatches) = data_for(&config.data, &meta, &net, path)?;
    config.data.check_applies_to(data.task())?;
    let user = &config.data;
    let config = RunConfig {
        data,
        ..config.clone()
    };
    // A setting the model's records supplied (not the user's flags) that cannot be used is
    // the model file's error: a flag the user never gave would be blamed.
    let recorded = |e: Error| match e {
        Error::Config { field, msg } => match from_record(user, &config.data, field) {
            Some(record) => Error::format(
                path,
                format!("its record {record} sets {}: {msg}", field.name()),
            ),
            None => Error::Config { field, msg },
        },
        e => e,
    };
    config.check_memory(Some(net.widths())).map_err(recorded)?;
    let loaded = timings
        .time("data load", 0.0, || config.load_data_on(config.analysis.on))
        .map_err(recorded)?;
    check_class_sizes(&loaded.split, &loaded.description, config.analysis.on)?;
    Ok(ModelData {
        net,
        mismatches,
        loaded,
        trained_on: meta.get(TASK_KEY).cloned(),
    })
}

/// Refuses an analysed set (`on`) in which some class has exactly one sample, naming the data
/// (`description`), the set and the class: a class's covariance (divisor n − 1) needs two
/// samples. The statistics refused it later as "numerical error: MODEL: class 2 has 1 sample;
/// …", naming the model file instead of the data (twentieth session); a sweep's point checks
/// its test set with it too (twenty-first session).
pub(crate) fn check_class_sizes(split: &Split, description: &str, on: On) -> Result<()> {
    let set = on.pick(split);
    let mut counts = vec![0usize; set.n_classes];
    for &label in &set.labels {
        if let Some(n) = counts.get_mut(label as usize) {
            *n += 1;
        }
    }
    match counts.iter().position(|&n| n == 1) {
        Some(c) => Err(Error::Unsupported(format!(
            "{description}: class {c} has 1 sample in the {} set; the class statistics need at \
             least 2 samples of every class present",
            on.name()
        ))),
        None => Ok(()),
    }
}

/// [`for_model`] for `net`, read from `path`.
fn data_for(
    user: &DataConfig,
    meta: &HashMap<String, String>,
    net: &Mlp,
    path: &Path,
) -> Result<(DataConfig, Vec<Mismatch>)> {
    for_model(user, meta, net.output_dim(), path)
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
