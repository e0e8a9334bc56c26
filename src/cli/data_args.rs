//! Data flags shared by every subcommand: which task, and where its samples come from.

use std::path::PathBuf;

use clap::Args;

use corrflow::config::{defaults, DataConfig, Task};

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
    #[arg(long, default_value_t = defaults::DATA_SEED, value_name = "S", help_heading = "Generated tasks")]
    pub data_seed: u64,
    /// Input dimension d (xor: the 2-D task embedded in d dimensions) [default: xor 2, higher-order 10].
    #[arg(long, value_name = "D", help_heading = "Generated tasks")]
    pub dim: Option<usize>,
    /// XOR: noise standard deviation σ of each blob.
    #[arg(long, default_value_t = defaults::SIGMA, value_name = "σ", help_heading = "Generated tasks")]
    pub sigma: f64,
    /// XOR: apply a random rotation (seeded by --data-seed) to the d-dimensional inputs.
    #[arg(long, help_heading = "Generated tasks")]
    pub rotate: bool,
    /// Higher-order task: number of skewed directions.
    #[arg(long, default_value_t = defaults::SKEWED, value_name = "M", help_heading = "Generated tasks")]
    pub skewed: usize,
    /// Higher-order task: Gamma shape k of the skewed variable (skewness 2/√k).
    #[arg(long, default_value_t = defaults::GAMMA_SHAPE, value_name = "K", help_heading = "Generated tasks")]
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

impl From<DataArgs> for DataConfig {
    fn from(a: DataArgs) -> DataConfig {
        DataConfig {
            task: a.task,
            n_train: a.n_train,
            n_test: a.n_test,
            data_seed: a.data_seed,
            dim: a.dim,
            sigma: a.sigma,
            rotate: a.rotate,
            skewed: a.skewed,
            gamma_shape: a.gamma_shape,
            mnist_dir: a.mnist_dir,
            train_images: a.train_images,
            train_labels: a.train_labels,
            test_images: a.test_images,
            test_labels: a.test_labels,
            test_split: a.test_split,
            train_limit: a.train_limit,
            center: a.center,
        }
    }
}
