//! The data and preprocessing a model was trained with, recorded in its file and applied again
//! when it is analysed.
//!
//! `train` writes two metadata entries, each a JSON object whose keys are
//! [`DataConfig`] fields (the grid keys):
//! - [`DATA_KEY`] (`corrflow.data`): the task and where its samples came from: `task`, the
//!   generator settings or the files (absolute paths), `test_split`, `train_limit`, …;
//! - [`PREPROCESS_KEY`] (`corrflow.preprocess`): `scale` (the divisor applied, or `"none"`),
//!   `center`, `standardize`, and the normaliser `normalize_mean`/`normalize_std` as comma
//!   lists of the values applied.
//!
//! `propagate` and `analyze` start from them: every field the user left at its default takes
//! the model's value; a field the user set to another value than the model's is used, and
//! reported as a [`Mismatch`] (a warning on stderr). When the user names other sample files than
//! the model's, the model's `test_split` and `train_limit` (which belong to its files) are not
//! taken over. A model without these entries (written
//! before they existed) runs with the defaults, its task read from its `task` description.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::data::{DataConfig, Loaded};
use super::Task;
use crate::error::{excerpt, Error, Field, Result};

/// Model metadata key of the data source record.
pub const DATA_KEY: &str = "corrflow.data";
/// Model metadata key of the preprocessing record.
pub const PREPROCESS_KEY: &str = "corrflow.preprocess";
/// Model metadata key of the one-line data description (every corrflow model has it).
pub const TASK_KEY: &str = "task";

/// A setting the user chose that differs from the model's.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub field: Field,
    /// The value used (the user's), as JSON.
    pub given: String,
    /// The model's, as JSON.
    pub model: String,
}

/// The metadata entries of a model trained on `loaded`.
pub fn records(loaded: &Loaded) -> Vec<(&'static str, String)> {
    let mut source = loaded.source.clone();
    absolute(&mut source);
    vec![
        (DATA_KEY, Value::Object(compact(&source)).to_string()),
        (
            PREPROCESS_KEY,
            Value::Object(preprocessing(compact(&loaded.preprocess))).to_string(),
        ),
    ]
}

/// The preprocessing keys of `record` ([`is_preprocess`]). A preprocessing record written
/// before the fourth adversarial pass also holds the generator settings at their defaults
/// (`sigma`, `data_seed`, `rotate`, …, which a `DataConfig` always has); read whole, they
/// overwrote the data record's own, and a model trained on `--rotate` or `--sigma 0.5` was
/// analysed on the default generator's samples. The normaliser of a model exported by
/// `python/corrflow_torch.py` before that pass, `{"mean": [..], "std": [..]}`, is read as
/// `normalize_mean`/`normalize_std` (comma lists); it was ignored, and such a model analysed on
/// data it was not trained on.
fn preprocessing(record: Map<String, Value>) -> Map<String, Value> {
    record
        .into_iter()
        .filter_map(|(k, v)| match k.as_str() {
            "mean" | "std" => Some((format!("normalize_{k}"), comma_list(v))),
            _ => is_preprocess(&k).then_some((k, v)),
        })
        .collect()
}

/// A JSON list of numbers as the comma list the normaliser fields hold; anything else as it
/// is (the record's reader then names it).
fn comma_list(value: Value) -> Value {
    let numbers = value.as_array().and_then(|items| {
        items
            .iter()
            .map(Value::as_f64)
            .collect::<Option<Vec<f64>>>()
    });
    match numbers {
        Some(v) => Value::String(crate::data::preprocess::write_vector(&v)),
        None => value,
    }
}

/// What analysing the model at `path` with `user`'s settings runs on: `user` completed from
/// the model's metadata `meta` (see the module documentation), and the settings that differ
/// from the model's. `output_dim` (the model's classes) is task data's class count unless set.
/// A record that is not a JSON object of settings of the right types is an error naming the
/// model file, the record and the key.
pub fn for_model(
    user: &DataConfig,
    meta: &HashMap<String, String>,
    output_dim: usize,
    path: &Path,
) -> Result<(DataConfig, Vec<Mismatch>)> {
    // Before `compact`, which cannot write such a path and would drop every setting.
    user.check_text_paths()?;
    let bad = |key: &str, msg: String| Error::format(path, format!("its record {key} {msg}"));
    check_record_names(meta, path)?;
    let mut model = Map::new();
    for key in [DATA_KEY, PREPROCESS_KEY] {
        if let Some(text) = meta.get(key) {
            let record = match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => {
                    check_settings(key, &m, path)?;
                    match key {
                        PREPROCESS_KEY => preprocessing(m),
                        _ => m,
                    }
                }
                // The record's text, a value or a key is echoed as an excerpt: a record of
                // 20 kB was echoed whole, its escapes raw (adv47b; adv45 had cut `format`,
                // `widths` and `activation`).
                Ok(_) => return Err(bad(key, format!("is not a JSON object: {}", excerpt(text)))),
                Err(e) => {
                    return Err(bad(
                        key,
                        format!(
                            "is not valid JSON ({}): {}",
                            excerpt(&e.to_string()),
                            excerpt(text)
                        ),
                    ))
                }
            };
            // Each setting read alone, so that a value of the wrong type names its record and
            // key (serde's message names neither).
            for (name, value) in &record {
                let one = Map::from_iter([(name.clone(), value.clone())]);
                serde_json::from_value::<DataConfig>(Value::Object(one)).map_err(|e| {
                    bad(
                        key,
                        format!(
                            "sets {} = {}, which does not read: {}",
                            excerpt(name),
                            excerpt(&value.to_string()),
                            excerpt(&e.to_string())
                        ),
                    )
                })?;
            }
            model.extend(record);
        }
    }
    if !model.contains_key("task") {
        if let Some(task) = meta.get(TASK_KEY).and_then(|d| legacy_task(d)) {
            model.insert("task".into(), Value::String(task.to_string()));
        }
    }
    let mut given = user.clone();
    absolute(&mut given);
    let defaults = compact(&DataConfig::default());
    let mut merged = compact(&given);
    let other_task = user.task.is_some()
        && model
            .get("task")
            .is_some_and(|t| Some(t) != merged.get("task"));
    // A split or limit is tied to the files it was carved from, a tensor name to the
    // .safetensors files it names in (other files may hold other names, or be .npy/IDX files,
    // which hold one unnamed array and refuse a name: adv46).
    let other = |keys: &[&str]| {
        keys.iter().any(|&k| {
            merged
                .get(k)
                .is_some_and(|v| defaults.get(k) != Some(v) && model.get(k) != Some(v))
        })
    };
    let other_files = other(&FILE_KEYS);
    let (other_x, other_y) = (other(&["train_x", "test_x"]), other(&["train_y", "test_y"]));
    let mut mismatches = Vec::new();
    if !other_task && model.contains_key(TASK_KEY) {
        // Files the model was not trained on at all (not the MNIST folder, which the
        // environment's MNIST_DIR sets for every run).
        for k in FILE_KEYS.into_iter().filter(|&k| k != "mnist_dir") {
            match (merged.get(k), field_named(k)) {
                (Some(v), Some(field)) if !model.contains_key(k) => mismatches.push(Mismatch {
                    field,
                    given: v.to_string(),
                    model: "none".into(),
                }),
                _ => {}
            }
        }
    }
    for (key, value) in model {
        let source_key = !is_preprocess(&key) && key != "task";
        if other_task && source_key {
            continue; // another task's files and generator settings do not apply
        }
        let tied = match key.as_str() {
            "test_split" | "train_limit" => other_files,
            "x_tensor" => other_x,
            "y_tensor" => other_y,
            _ => false,
        };
        if tied {
            continue;
        }
        match merged.get(&key) {
            Some(v) if defaults.get(&key) != Some(v) => {
                if *v != value {
                    if let Some(field) = field_named(&key) {
                        mismatches.push(Mismatch {
                            field,
                            given: v.to_string(),
                            model: value.to_string(),
                        });
                    }
                }
            }
            _ => {
                merged.insert(key, value);
            }
        }
    }
    let mut config: DataConfig = serde_json::from_value(Value::Object(merged))
        .map_err(|e| Error::format(path, format!("its records with the flags do not read: {e}")))?;
    if config.task() == Task::Data && config.n_classes.is_none() {
        config.n_classes = Some(output_dim);
    }
    Ok((config, mismatches))
}

/// The keys naming files or folders of samples.
const FILE_KEYS: [&str; 9] = [
    "mnist_dir",
    "train_images",
    "train_labels",
    "test_images",
    "test_labels",
    "train_x",
    "train_y",
    "test_x",
    "test_y",
];

/// Refuses a metadata key in corrflow's namespace (`corrflow.…`) that is none of its records
/// ([`DATA_KEY`], [`PREPROCESS_KEY`]): a record this version does not know (a typo, or one a
/// later version writes) would otherwise be ignored without a word (adv48b). Keys outside the
/// namespace are the writer's own free-form provenance (`task`, `seed`, a PyTorch export's
/// `metadata=`), read by no setting, and pass.
fn check_record_names(meta: &HashMap<String, String>, path: &Path) -> Result<()> {
    let mut unknown: Vec<&String> = meta
        .keys()
        .filter(|k| k.starts_with("corrflow.") && ![DATA_KEY, PREPROCESS_KEY].contains(&k.as_str()))
        .collect();
    unknown.sort();
    match unknown.first() {
        None => Ok(()),
        Some(key) => Err(Error::format(
            path,
            format!(
                "its metadata holds a record '{}' this version of corrflow does not know \
                 (expected {DATA_KEY} and {PREPROCESS_KEY} only); remove it, or use the \
                 corrflow that wrote the model",
                excerpt(key)
            ),
        )),
    }
}

/// Refuses a key of the record `record` (named `key`) that is no data setting (a grid key of
/// [`DataConfig`]; in the preprocessing record also the PyTorch export's `mean`/`std`): it was
/// ignored without a word, so that a misspelt `sigmma` ran on the default σ (adv48b). The
/// generator settings an old preprocessing record holds are data settings, dropped there as
/// before ([`preprocessing`]).
fn check_settings(key: &str, record: &Map<String, Value>, path: &Path) -> Result<()> {
    let settings = match serde_json::to_value(DataConfig::default()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let legacy = |k: &str| key == PREPROCESS_KEY && matches!(k, "mean" | "std");
    match record
        .keys()
        .find(|k| !settings.contains_key(k.as_str()) && !legacy(k))
    {
        None => Ok(()),
        Some(name) => Err(Error::format(
            path,
            format!(
                "its record {key} sets '{}', which is not a data setting (expected keys such \
                 as task, n_train, sigma, train_x, scale, normalize_mean)",
                excerpt(name)
            ),
        )),
    }
}

/// True for the keys of the preprocessing record.
fn is_preprocess(key: &str) -> bool {
    matches!(
        key,
        "scale" | "center" | "standardize" | "normalize_mean" | "normalize_std"
    )
}

/// The record of a model (`corrflow.data` or `corrflow.preprocess`) that set `field` of
/// `merged` (a run's settings completed by [`for_model`]), or `None` when the value is the
/// user's: the two differ there (the user's paths made absolute, as the merge makes them). An
/// error on such a field is the model file's, not a flag's.
pub fn from_record(user: &DataConfig, merged: &DataConfig, field: Field) -> Option<&'static str> {
    let name = field.name();
    // The user's paths as `for_model` merged them: absolute.
    let mut given = user.clone();
    absolute(&mut given);
    let (user, merged) = (compact(&given), compact(merged));
    (merged.contains_key(name) && user.get(name) != merged.get(name)).then_some(
        if is_preprocess(name) {
            PREPROCESS_KEY
        } else {
            DATA_KEY
        },
    )
}

/// The record and file key of a model that named `file` (or the MNIST folder holding it) in
/// `merged`, where the user's settings did not: an error opening it is the model's record's
/// (adv47b: a model whose `corrflow.data` names a file since deleted said only "x.npy: No such
/// file or directory", naming neither the model nor the record).
pub fn file_from_record(
    user: &DataConfig,
    merged: &DataConfig,
    file: &Path,
) -> Option<(&'static str, Field)> {
    let values = compact(merged);
    FILE_KEYS.into_iter().find_map(|key| {
        let named = values.get(key)?.as_str().map(Path::new)?;
        let field = field_named(key)?;
        let holds = named == file || (key == "mnist_dir" && file.starts_with(named));
        (holds && from_record(user, merged, field).is_some()).then_some((DATA_KEY, field))
    })
}

/// The configuration field whose name (grid key) is `key`.
fn field_named(key: &str) -> Option<Field> {
    Field::ALL.into_iter().find(|f| f.name() == key)
}

/// The task of a model written before the records existed, from its `task` description
/// ("xor (σ=…", "higher-order (…", "mnist: …").
fn legacy_task(description: &str) -> Option<Task> {
    [Task::Xor, Task::HigherOrder, Task::Mnist, Task::Data]
        .into_iter()
        .find(|t| {
            let name = t.to_string();
            description.starts_with(&format!("{name} ("))
                || description.starts_with(&format!("{name}:"))
        })
}

/// `config` as a JSON object without its unset (null) fields.
fn compact(config: &DataConfig) -> Map<String, Value> {
    match serde_json::to_value(config) {
        Ok(Value::Object(m)) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => Map::new(),
    }
}

/// Makes every file and folder path of `config` absolute where it exists, so that a record
/// names the same files from any working directory.
fn absolute(config: &mut DataConfig) {
    for p in [
        &mut config.mnist_dir,
        &mut config.train_images,
        &mut config.train_labels,
        &mut config.test_images,
        &mut config.test_labels,
        &mut config.train_x,
        &mut config.train_y,
        &mut config.test_x,
        &mut config.test_y,
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(abs) = std::fs::canonicalize(Path::new(p)) {
            *p = abs;
        }
    }
}
