//! Where a run's samples come from: the task and its generator or files, with every unset value
//! taken from [`super::defaults`].

use std::path::PathBuf;

use serde::Deserialize;

use super::defaults::{self, task_defaults};
use super::Task;
use crate::data::{
    HigherOrderConfig, MnistConfig, MnistFiles, MnistSource, Split, TestSplit, XorConfig,
};
use crate::error::{Error, Field, Result};
use crate::io::MemoryLimit;

/// The task and the source of its samples. Field names are the grid keys.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct DataConfig {
    pub task: Task,
    /// Generated tasks: training samples [default: the task's].
    pub n_train: Option<usize>,
    /// Generated tasks: test samples [default: as `n_train`].
    pub n_test: Option<usize>,
    /// Generated tasks: seed of the data.
    pub data_seed: u64,
    /// Generated tasks: input dimension [default: the task's].
    pub dim: Option<usize>,
    /// XOR: noise standard deviation of each blob.
    pub sigma: f64,
    /// XOR: a random rotation of the d-dimensional inputs.
    pub rotate: bool,
    /// Higher-order task: number of skewed directions.
    pub skewed: usize,
    /// Higher-order task: Gamma shape of the skewed variable.
    pub gamma_shape: f64,
    /// MNIST: folder of the IDX files.
    pub mnist_dir: Option<PathBuf>,
    /// MNIST: explicit files (override `mnist_dir`).
    pub train_images: Option<PathBuf>,
    pub train_labels: Option<PathBuf>,
    pub test_images: Option<PathBuf>,
    pub test_labels: Option<PathBuf>,
    /// MNIST: samples FROM:TO form the test set.
    pub test_split: Option<String>,
    /// MNIST: keep at most this many training samples.
    pub train_limit: Option<usize>,
    /// MNIST: subtract the training set's per-pixel mean.
    pub center: bool,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            task: Task::default(),
            n_train: None,
            n_test: None,
            data_seed: defaults::DATA_SEED,
            dim: None,
            sigma: defaults::SIGMA,
            rotate: defaults::XOR_ROTATE,
            skewed: defaults::SKEWED,
            gamma_shape: defaults::GAMMA_SHAPE,
            mnist_dir: None,
            train_images: None,
            train_labels: None,
            test_images: None,
            test_labels: None,
            test_split: None,
            train_limit: None,
            center: false,
        }
    }
}

/// A loaded task: the samples and a one-line description of where they came from.
pub struct Loaded {
    pub split: Split,
    pub description: String,
}

impl DataConfig {
    /// Generates or reads the task's training and test sets; files' claims are checked
    /// against `limit`. Neither set may be empty: the error names the setting that emptied it.
    pub fn load_limited(&self, limit: MemoryLimit) -> Result<Loaded> {
        let loaded = self.load_sets(limit)?;
        let mnist = self.task == Task::Mnist;
        for (set, n, field) in [
            (
                "training",
                loaded.split.train.len(),
                match (mnist, self.train_limit) {
                    (false, _) => Field::NTrain,
                    (true, Some(0)) => Field::TrainLimit,
                    (true, _) => Field::TrainImages,
                },
            ),
            (
                "test",
                loaded.split.test.len(),
                match (mnist, &self.test_split) {
                    (false, _) => Field::NTest,
                    (true, Some(_)) => Field::TestSplit,
                    (true, None) => Field::TestImages,
                },
            ),
        ] {
            if n == 0 {
                return Err(Error::config(
                    field,
                    format!("the {set} set of {} is empty", loaded.description),
                ));
            }
        }
        Ok(loaded)
    }

    fn load_sets(&self, limit: MemoryLimit) -> Result<Loaded> {
        let d = task_defaults(self.task);
        let n_train = self.n_train.unwrap_or(d.n_train);
        let n_test = self.n_test.or(self.n_train).unwrap_or(n_train);
        match self.task {
            Task::Xor => {
                let cfg = XorConfig {
                    sigma: self.sigma,
                    dim: self.dim.unwrap_or(d.dim),
                    rotate: self.rotate,
                    n_train,
                    n_test,
                    seed: self.data_seed,
                };
                let split = cfg.generate()?;
                let description = format!(
                    "xor (σ={}, d={}, rotate={}, seed={})",
                    cfg.sigma, cfg.dim, cfg.rotate, cfg.seed
                );
                Ok(Loaded { split, description })
            }
            Task::HigherOrder => {
                let cfg = HigherOrderConfig {
                    dim: self.dim.unwrap_or(d.dim),
                    n_skewed: self.skewed,
                    shape: self.gamma_shape,
                    rotate: defaults::HIGHER_ORDER_ROTATE,
                    n_train,
                    n_test,
                    seed: self.data_seed,
                };
                let split = cfg.generate()?;
                let description = format!(
                    "higher-order (d={}, skewed directions={}, gamma shape={}, seed={})",
                    cfg.dim, cfg.n_skewed, cfg.shape, cfg.seed
                );
                Ok(Loaded { split, description })
            }
            Task::Mnist => {
                let mnist = self.mnist_config()?.load_limited(limit)?;
                Ok(Loaded {
                    split: mnist.split,
                    description: format!("mnist: {}", mnist.provenance),
                })
            }
        }
    }

    /// The MNIST files and their preprocessing.
    pub fn mnist_config(&self) -> Result<MnistConfig> {
        let source = match (&self.train_images, &self.train_labels) {
            (Some(images), Some(labels)) => MnistSource::Files(MnistFiles {
                train_images: images.clone(),
                train_labels: labels.clone(),
                test_images: self.test_images.clone(),
                test_labels: self.test_labels.clone(),
            }),
            _ => match &self.mnist_dir {
                Some(dir) => MnistSource::Dir(dir.clone()),
                None => {
                    return Err(Error::config(
                        Field::MnistDir,
                        "task mnist needs the folder of the IDX files (or MNIST_DIR in the \
                         environment), or training image and label files",
                    ))
                }
            },
        };
        let test_split = self
            .test_split
            .as_deref()
            .map(str::parse::<TestSplit>)
            .transpose()?;
        Ok(MnistConfig {
            source,
            test_split,
            limit: self.train_limit,
            center: self.center,
            cache_dir: None,
        })
    }
}
