//! Data flags shared by every subcommand: which task, and where its samples come from.

use std::fmt;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use corrflow::data::{
    HigherOrderConfig, MnistConfig, MnistFiles, MnistSource, Split, TestSplit, XorConfig,
};
use corrflow::{Error, Result};

/// The task a network is trained and analysed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Task {
    /// Four Gaussian blobs; the class sits in the covariance (DESIGN.md §5).
    Xor,
    /// Classes with equal mean and covariance, differing only in κ₃ (DESIGN.md §5).
    HigherOrder,
    /// MNIST digits from IDX files (--mnist-dir or explicit files).
    Mnist,
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            self.to_possible_value()
                .expect("no skipped variants")
                .get_name(),
        )
    }
}

#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// Task: xor (generated), higher-order (generated), mnist (IDX files).
    #[arg(long, value_enum, default_value_t = Task::Xor)]
    pub task: Task,
    /// Generated tasks: training samples [default: xor 4000, higher-order 10000].
    #[arg(long, value_name = "N", help_heading = "Generated tasks")]
    pub n_train: Option<usize>,
    /// Generated tasks: test samples [default: as --n-train].
    #[arg(long, value_name = "N", help_heading = "Generated tasks")]
    pub n_test: Option<usize>,
    /// Generated tasks: seed of the data (independent of the network's --seed).
    #[arg(
        long,
        default_value_t = 0,
        value_name = "S",
        help_heading = "Generated tasks"
    )]
    pub data_seed: u64,
    /// Input dimension d (xor: the 2-D task embedded in d dimensions) [default: xor 2, higher-order 10].
    #[arg(long, value_name = "D", help_heading = "Generated tasks")]
    pub dim: Option<usize>,
    /// XOR: noise standard deviation σ of each blob.
    #[arg(
        long,
        default_value_t = 0.3,
        value_name = "σ",
        help_heading = "Generated tasks"
    )]
    pub sigma: f64,
    /// XOR: apply a random rotation (seeded by --data-seed) to the d-dimensional inputs.
    #[arg(long, help_heading = "Generated tasks")]
    pub rotate: bool,
    /// Higher-order task: number of skewed directions.
    #[arg(
        long,
        default_value_t = 3,
        value_name = "M",
        help_heading = "Generated tasks"
    )]
    pub skewed: usize,
    /// Higher-order task: Gamma shape k of the skewed variable (skewness 2/√k).
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "K",
        help_heading = "Generated tasks"
    )]
    pub gamma_shape: f64,

    /// MNIST folder with train-/train5k- and t10k- IDX files, raw or .gz.
    #[arg(long, env = "MNIST_DIR", value_name = "DIR", help_heading = "MNIST")]
    pub mnist_dir: Option<PathBuf>,
    /// MNIST: explicit training images (IDX, raw or .gz); overrides --mnist-dir.
    #[arg(
        long,
        value_name = "FILE",
        requires = "train_labels",
        help_heading = "MNIST"
    )]
    pub train_images: Option<PathBuf>,
    /// MNIST: explicit training labels.
    #[arg(
        long,
        value_name = "FILE",
        requires = "train_images",
        help_heading = "MNIST"
    )]
    pub train_labels: Option<PathBuf>,
    /// MNIST: explicit test images.
    #[arg(
        long,
        value_name = "FILE",
        requires = "test_labels",
        help_heading = "MNIST"
    )]
    pub test_images: Option<PathBuf>,
    /// MNIST: explicit test labels.
    #[arg(
        long,
        value_name = "FILE",
        requires = "test_images",
        help_heading = "MNIST"
    )]
    pub test_labels: Option<PathBuf>,
    /// MNIST: samples FROM..TO of the test file (or, without one, of the training file) form the
    /// test set; the rest of that file joins training. E.g. 5000:10000.
    #[arg(long, value_name = "FROM:TO", help_heading = "MNIST")]
    pub test_split: Option<String>,
    /// MNIST: keep at most N training samples, spread evenly over the file.
    #[arg(long, value_name = "N", help_heading = "MNIST")]
    pub train_limit: Option<usize>,
    /// MNIST: subtract the training set's per-pixel mean.
    #[arg(long, help_heading = "MNIST")]
    pub center: bool,
}

/// A loaded task: the samples and a one-line description of where they came from.
pub struct Loaded {
    pub split: Split,
    pub description: String,
}

impl DataArgs {
    /// Generates or reads the task's training and test sets.
    pub fn load(&self) -> Result<Loaded> {
        match self.task {
            Task::Xor => {
                let d = XorConfig::default();
                let cfg = XorConfig {
                    sigma: self.sigma,
                    dim: self.dim.unwrap_or(d.dim),
                    rotate: self.rotate,
                    n_train: self.n_train.unwrap_or(d.n_train),
                    n_test: self.n_test.or(self.n_train).unwrap_or(d.n_test),
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
                let d = HigherOrderConfig::default();
                let cfg = HigherOrderConfig {
                    dim: self.dim.unwrap_or(d.dim),
                    n_skewed: self.skewed,
                    shape: self.gamma_shape,
                    rotate: d.rotate,
                    n_train: self.n_train.unwrap_or(d.n_train),
                    n_test: self.n_test.or(self.n_train).unwrap_or(d.n_test),
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
                let cfg = self.mnist_config()?;
                let mnist = cfg.load()?;
                Ok(Loaded {
                    split: mnist.split,
                    description: format!("mnist: {}", mnist.provenance),
                })
            }
        }
    }

    fn mnist_config(&self) -> Result<MnistConfig> {
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
                    return Err(Error::flag(
                        "--mnist-dir",
                        "--task mnist needs --mnist-dir DIR (or MNIST_DIR) or --train-images/--train-labels",
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
