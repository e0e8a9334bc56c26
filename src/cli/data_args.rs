//! Data flags shared by every subcommand: which task, and where its samples come from.

use std::path::PathBuf;

use clap::Args;

use corrflow::config::{DataConfig, Task};
use corrflow::data::Scale;

#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// Task: xor (generated), higher-order (generated), mnist (IDX files), data (your own
    /// files: --train-x …) [default: the model's own task with --model, else xor].
    #[arg(long, value_enum)]
    pub task: Option<Task>,
    /// Generated tasks: training samples [default: xor 4000, higher-order 10000].
    #[arg(long, value_name = "N", help_heading = "Generated tasks")]
    pub n_train: Option<usize>,
    /// Generated tasks: test samples [default: as --n-train].
    #[arg(long, value_name = "N", help_heading = "Generated tasks")]
    pub n_test: Option<usize>,
    /// Generated tasks: seed of the data (independent of the network's --seed) [default: 0].
    #[arg(long, value_name = "S", help_heading = "Generated tasks")]
    pub data_seed: Option<u64>,
    /// Input dimension d (xor: the 2-D task embedded in d dimensions) [default: xor 2, higher-order 10].
    #[arg(long, value_name = "D", help_heading = "Generated tasks")]
    pub dim: Option<usize>,
    /// XOR: noise standard deviation σ of each blob [default: 0.3].
    #[arg(long, value_name = "σ", help_heading = "Generated tasks")]
    pub sigma: Option<f64>,
    /// XOR: apply a random rotation (seeded by --data-seed) to the d-dimensional inputs.
    #[arg(long, help_heading = "Generated tasks")]
    pub rotate: bool,
    /// Higher-order task: number of skewed directions [default: 3].
    #[arg(long, value_name = "M", help_heading = "Generated tasks")]
    pub skewed: Option<usize>,
    /// Higher-order task: Gamma shape k of the skewed variable (skewness 2/√k) [default: 1].
    #[arg(long, value_name = "K", help_heading = "Generated tasks")]
    pub gamma_shape: Option<f64>,

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

    /// Task data: training features, shape (N, …): .npy, .safetensors or IDX (raw or .gz).
    #[arg(long, value_name = "FILE", help_heading = "Your own data")]
    pub train_x: Option<PathBuf>,
    /// Task data: training labels, integers 0..K, shape (N,) or (N, 1).
    #[arg(long, value_name = "FILE", help_heading = "Your own data")]
    pub train_y: Option<PathBuf>,
    /// Task data: test features (without them, --test-split carves the test set out of the
    /// training files).
    #[arg(long, value_name = "FILE", help_heading = "Your own data")]
    pub test_x: Option<PathBuf>,
    /// Task data: test labels.
    #[arg(long, value_name = "FILE", help_heading = "Your own data")]
    pub test_y: Option<PathBuf>,
    /// Task data: name of the features tensor in .safetensors files [default: x].
    #[arg(long, value_name = "NAME", help_heading = "Your own data")]
    pub x_tensor: Option<String>,
    /// Task data: name of the labels tensor in .safetensors files [default: y].
    #[arg(long, value_name = "NAME", help_heading = "Your own data")]
    pub y_tensor: Option<String>,
    /// Task data: number of classes K [default: the model's outputs, else the largest label + 1].
    #[arg(long, value_name = "K", help_heading = "Your own data")]
    pub n_classes: Option<usize>,

    /// Files: samples FROM..TO of the test file (or, without one, of the training file) form
    /// the test set; the rest of that file joins training. E.g. 5000:10000.
    #[arg(long, value_name = "FROM:TO", help_heading = "Files (mnist, data)")]
    pub test_split: Option<String>,
    /// Files: keep at most N training samples, spread evenly over the file.
    #[arg(long, value_name = "N", help_heading = "Files (mnist, data)")]
    pub train_limit: Option<usize>,

    /// Divide every value by S: auto (255 for uint8 data, so bytes become [0, 1]; none for
    /// every other type), none, byte (= 255) or a number [default: the model's, else auto].
    #[arg(
        long,
        value_name = "S",
        value_parser = super::flags::library_value::<Scale>,
        help_heading = "Preprocessing (recorded in the model)"
    )]
    pub scale: Option<Scale>,
    /// Subtract the training set's per-feature mean [default: the model's, else off].
    #[arg(
        long,
        overrides_with = "no_center",
        help_heading = "Preprocessing (recorded in the model)"
    )]
    pub center: bool,
    /// Do not centre, even if the model was trained centred (a warning says so).
    #[arg(
        long,
        overrides_with = "center",
        help_heading = "Preprocessing (recorded in the model)"
    )]
    pub no_center: bool,
    /// Centre and divide by the training set's per-feature standard deviation [default: the
    /// model's, else off].
    #[arg(
        long,
        overrides_with = "no_standardize",
        help_heading = "Preprocessing (recorded in the model)"
    )]
    pub standardize: bool,
    /// Do not standardise, even if the model was trained so (a warning says so).
    #[arg(
        long,
        overrides_with = "standardize",
        help_heading = "Preprocessing (recorded in the model)"
    )]
    pub no_standardize: bool,
    /// Normaliser x ← (x − mean)/std after scaling: a number, a comma list (one per feature)
    /// or a file of a vector (.npy of shape (d,), or text), e.g. 0.1307 [default: the model's,
    /// else none].
    #[arg(
        long,
        value_name = "MEAN",
        requires = "normalize_std",
        help_heading = "Preprocessing (recorded in the model)"
    )]
    pub normalize_mean: Option<String>,
    /// Normaliser std (as --normalize-mean), e.g. 0.3081.
    #[arg(
        long,
        value_name = "STD",
        requires = "normalize_mean",
        help_heading = "Preprocessing (recorded in the model)"
    )]
    pub normalize_std: Option<String>,
}

/// `Some(true)` for `--flag`, `Some(false)` for `--no-flag`, `None` for neither.
fn switch(on: bool, off: bool) -> Option<bool> {
    (on || off).then_some(on)
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
            train_x: a.train_x,
            train_y: a.train_y,
            test_x: a.test_x,
            test_y: a.test_y,
            x_tensor: a.x_tensor,
            y_tensor: a.y_tensor,
            n_classes: a.n_classes,
            test_split: a.test_split,
            train_limit: a.train_limit,
            scale: a.scale,
            center: switch(a.center, a.no_center),
            standardize: switch(a.standardize, a.no_standardize),
            normalize_mean: a.normalize_mean,
            normalize_std: a.normalize_std,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use corrflow::config::defaults;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        data: DataArgs,
    }

    /// The generator settings are unset unless given (so that a task which does not read them
    /// can refuse them by name), and their help states the defaults the generators apply
    /// (`DataConfig::load`): the text is written out, so it is checked against the constants.
    #[test]
    fn generator_flags_are_unset_unless_given_and_their_help_states_the_defaults() {
        let data = |args: &[&str]| {
            DataConfig::from(
                Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
                    .unwrap()
                    .data,
            )
        };
        let unset = data(&[]);
        assert_eq!(
            (
                unset.data_seed,
                unset.sigma,
                unset.skewed,
                unset.gamma_shape
            ),
            (None, None, None, None)
        );
        let given = data(&[
            "--data-seed",
            "0",
            "--sigma",
            "0.3",
            "--skewed",
            "3",
            "--gamma-shape",
            "1",
        ]);
        assert_eq!(
            (
                given.data_seed,
                given.sigma,
                given.skewed,
                given.gamma_shape
            ),
            (Some(0), Some(0.3), Some(3), Some(1.0))
        );
        let command = Cli::command();
        for (id, default) in [
            ("data_seed", defaults::DATA_SEED.to_string()),
            ("sigma", defaults::SIGMA.to_string()),
            ("skewed", defaults::SKEWED.to_string()),
            ("gamma_shape", defaults::GAMMA_SHAPE.to_string()),
        ] {
            let arg = command.get_arguments().find(|a| a.get_id() == id).unwrap();
            let help = arg.get_help().unwrap().to_string();
            assert!(
                help.ends_with(&format!("[default: {default}]")),
                "{id}: {help}"
            );
        }
    }
}
