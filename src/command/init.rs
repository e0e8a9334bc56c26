//! `train --init FILE`: the model a training starts from instead of the seeded
//! initialisation. Its file is read as `propagate --model` reads one
//! ([`crate::net::model_io::load_fingerprinted`]: a regular file, its header, shapes and
//! finiteness checked, every error naming the file); its architecture fills in `hidden` and
//! `activation` where they are unset and must agree with them where set, and with the task's
//! inputs and classes. The written model and `--json` record the file's path, length and XXH64.
//! A sweep's grid key `init` is read the same way ([`with_init`]), its errors naming the keys.

use std::borrow::Cow;
use std::collections::hash_map::{Entry, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Field, Naming, RunConfig};
use crate::error::{Error, Result};
use crate::net::model_io::{load_fingerprinted, Fingerprint};
use crate::net::{Activations, Mlp};

/// The model file a training starts from, read.
pub struct InitModel {
    net: Mlp,
    record: InitRecord,
}

/// What a trained model records of the file it started from (`init` of `--json`; the metadata
/// keys `init`, `init_bytes`, `init_xxh64`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InitRecord {
    /// The file's path, absolute.
    #[serde(serialize_with = "crate::report::path_text::lossy")]
    pub path: PathBuf,
    /// Its length in bytes.
    pub bytes: u64,
    /// XXH64 (seed 0) of its bytes, 16 hex digits.
    pub xxh64: String,
}

impl InitRecord {
    /// The metadata entries of the written model.
    pub fn metadata(&self) -> [(&'static str, String); 3] {
        [
            ("init", self.path.to_string_lossy().into_owned()),
            ("init_bytes", self.bytes.to_string()),
            ("init_xxh64", self.xxh64.clone()),
        ]
    }
}

/// `config.net.init` read ([`InitModel::load`]) and its architecture applied
/// ([`InitModel::configure`]), or `config` as it is where it names no file; errors name the
/// settings as `naming` writes them (`--init`, or the grid key `init`).
pub fn with_init(
    config: &RunConfig,
    naming: Naming,
) -> Result<(Option<InitModel>, Cow<'_, RunConfig>)> {
    match &config.net.init {
        Some(path) => {
            let init = InitModel::load(config, path, naming)?;
            let configured = init.configure(config, naming)?;
            Ok((Some(init), Cow::Owned(configured)))
        }
        None => Ok((None, Cow::Borrowed(config))),
    }
}

impl InitModel {
    /// Reads the model at `path` within `config`'s memory limit. A gain (`--gain`, grid key
    /// `gain`), which sets the initial weights the file replaces, is refused.
    pub fn load(config: &RunConfig, path: &Path, naming: Naming) -> Result<InitModel> {
        refuse_gain(config, path, naming)?;
        let (net, Fingerprint { bytes, xxh64 }) = load_fingerprinted(path, config.max_memory)?;
        Ok(InitModel {
            net,
            record: InitRecord {
                path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
                bytes,
                xxh64: format!("{xxh64:016x}"),
            },
        })
    }

    /// `config` with the file's hidden widths and activation where it sets none; a `hidden` or
    /// `activation` set otherwise than the file's is refused naming both.
    pub fn configure(&self, config: &RunConfig, naming: Naming) -> Result<RunConfig> {
        self.architecture().configure(config, naming)
    }

    fn architecture(&self) -> Architecture {
        Architecture {
            widths: self.net.widths(),
            activations: self.net.activation.clone(),
            path: self.record.path.clone(),
        }
    }

    /// The network training starts from in place of `built` (the configuration's, for the
    /// task's data described as `data`): the file's, whose widths must be `built`'s (its
    /// inputs and classes the data's), and the record of the file.
    pub fn start(self, built: &Mlp, data: &str) -> Result<(Mlp, InitRecord)> {
        let (want, have) = (built.widths(), self.net.widths());
        if want != have {
            return Err(Error::config(
                Field::Init,
                format!(
                    "{}: its widths {have:?} take {} inputs to {} outputs; the data ({data}) \
                     has {} inputs and {} classes (widths {want:?})",
                    self.record.path.display(),
                    have[0],
                    have[have.len() - 1],
                    want[0],
                    want[want.len() - 1],
                ),
            ));
        }
        Ok((self.net, self.record))
    }
}

/// A gain (`--gain`, grid key `gain`) sets the seeded initial weights that the file at `path`
/// replaces: refused, naming both.
fn refuse_gain(config: &RunConfig, path: &Path, naming: Naming) -> Result<()> {
    match config.net.gain {
        Some(gain) => Err(Error::config(
            Field::Gain,
            format!(
                "{gain} scales the seeded initial weights, which {} {} replaces: remove one of \
                 the {}s",
                naming.name(Field::Init),
                path.display(),
                naming.noun()
            ),
        )),
        None => Ok(()),
    }
}

/// What [`InitModel::configure`] reads of a file: its widths (inputs to classes), activations
/// and absolute path.
#[derive(Clone, Debug)]
struct Architecture {
    widths: Vec<usize>,
    activations: Activations,
    path: PathBuf,
}

impl Architecture {
    /// `config` with the file's hidden widths and activation where it sets none; a `hidden` or
    /// `activation` set otherwise than the file's is refused naming both.
    fn configure(&self, config: &RunConfig, naming: Naming) -> Result<RunConfig> {
        let hidden = self.widths[1..self.widths.len() - 1].to_vec();
        let path = self.path.display();
        let [init, hidden_name, activation_name] =
            [Field::Init, Field::Hidden, Field::Activation].map(|f| naming.name(f));
        let noun = naming.noun();
        let mut configured = config.clone();
        match &config.net.hidden {
            Some(h) if *h != hidden => {
                return Err(Error::config(
                    Field::Hidden,
                    format!(
                        "{h:?} differs from the hidden widths {hidden:?} of {init} {path}: \
                         remove the {noun} {hidden_name} or give the file's"
                    ),
                ))
            }
            _ => configured.net.hidden = Some(hidden),
        }
        let activations = &self.activations;
        match config.net.activation {
            Some(a) if activations.uniform() != Some(a) => {
                return Err(Error::config(
                    Field::Activation,
                    format!(
                        "{a} differs from the activation {activations} of {init} {path}: \
                         remove the {noun} {activation_name} or give the file's"
                    ),
                ))
            }
            Some(_) => {}
            // The network built from the configuration is replaced by the file's, whose
            // activations (one per layer where they differ) it keeps.
            None => configured.net.activation = Some(activations.at(0)),
        }
        Ok(configured)
    }
}

/// The `init` files a sweep's checks before the run have read whole (tensors checked), by the
/// path the grid gives, with what [`with_init`]'s checks read of each: a file that many points
/// name is read once (a grid of 300 points over one 14 MB model read it 300 times, 2.3 of the
/// dry run's 2.9 CPU s). The checks run with the default memory limit (`max_memory` is a flag
/// of `sweep`, not a grid key), so the path alone keys the file.
#[derive(Default)]
pub struct InitsRead(HashMap<PathBuf, Architecture>);

impl InitsRead {
    /// [`with_init`]'s checks of `config` (a gain beside the file; the file readable, sound and
    /// within the memory limit; its architecture against the keys), the file read only where
    /// its path is new. The model is not kept.
    pub fn check(&mut self, config: &RunConfig, naming: Naming) -> Result<()> {
        let Some(path) = &config.net.init else {
            return Ok(());
        };
        refuse_gain(config, path, naming)?;
        let architecture = match self.0.entry(path.clone()) {
            Entry::Occupied(read) => read.into_mut(),
            Entry::Vacant(new) => new.insert(InitModel::load(config, path, naming)?.architecture()),
        };
        architecture.configure(config, naming).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{model_io, Activation};

    /// A second point naming the same path does not read the file again (here replaced by
    /// bytes that are no model), yet each point's gain and hidden widths are still checked
    /// against it; a fresh check reads the file and refuses it.
    #[test]
    fn a_file_named_by_many_points_is_read_once_and_every_point_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let net = Mlp::init(&[2, 5, 2], Activation::Tanh, 1.0, 1).unwrap();
        model_io::save(&net, &path, &[]).unwrap();
        let mut config = RunConfig::default();
        config.net.init = Some(path.clone());
        let mut inits = InitsRead::default();
        inits.check(&config, Naming::Keys).unwrap();
        std::fs::write(&path, b"not a model").unwrap();
        inits.check(&config, Naming::Keys).unwrap();
        let mut other = config.clone();
        other.net.hidden = Some(vec![4]);
        let err = inits.check(&other, Naming::Keys).unwrap_err().to_string();
        assert!(
            err.contains("[4] differs from the hidden widths [5]"),
            "{err}"
        );
        let mut gained = config.clone();
        gained.net.gain = Some(2.0);
        let err = inits.check(&gained, Naming::Keys).unwrap_err().to_string();
        assert!(err.contains("scales the seeded initial weights"), "{err}");
        let err = InitsRead::default()
            .check(&config, Naming::Keys)
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.safetensors"), "{err}");
    }
}
