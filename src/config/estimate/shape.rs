//! A run's problem as the estimates need it ([`Shape`]): the input dimension, the classes, the
//! sample counts, the network's widths and what the run measures, from its configuration and the
//! defaults of [`crate::config::defaults`] (a task's data file gives its header, no data is
//! read); and the two sums both estimates take of it, the parameters P = Σₗ (Nₗ₋₁ + 1)·Nₗ
//! (`params`) and ΣN² over the stages (`Shape::square_sum`).

use std::path::{Path, PathBuf};

use crate::config::defaults::task_defaults;
use crate::config::{DataConfig, On, RunConfig, Task};
use crate::cumtrain::Objective;
use crate::data::array::{ArrayFile, OpenOptions};
use crate::data::arrays::X_TENSOR;
use crate::error::Field;
use crate::io::MemoryLimit;
use crate::measure::carried::FRESH_PER_REPORTED;
use crate::measure::{CarryMode, Higher};
use crate::net::Activation;

/// Task data's (d, training samples) from the header of its training features (no data is
/// read); (0, 0) when the file cannot be opened, which the run itself then reports.
fn data_shape(data: &DataConfig) -> (usize, usize) {
    let opts = OpenOptions {
        tensor: data.x_tensor.as_deref().unwrap_or(X_TENSOR),
        cache_dir: None,
        limit: MemoryLimit::default(),
    };
    data.train_x
        .as_deref()
        .and_then(|p| ArrayFile::open(p, &opts).ok())
        .map_or((0, 0), |a| {
            (
                a.row_len(),
                data.train_limit.unwrap_or(a.len()).min(a.len()),
            )
        })
}

/// Shape of a run's problem as the estimates need it.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub d_in: usize,
    pub n_classes: usize,
    pub n_train: usize,
    pub n_test: usize,
    pub widths: Vec<usize>,
    /// The model file whose metadata gave `widths` ([`Shape::with_widths`]); `None` where the
    /// run's own settings (`--hidden`, the task's default) set them. The memory error names
    /// what set the widths: the file, or `--hidden`.
    pub widths_from: Option<PathBuf>,
    /// The hidden layers' activation (the training's cost per unit,
    /// [`unit_flops`](super::work::unit_flops)).
    pub activation: Activation,
    pub epochs: usize,
    pub batch: usize,
    /// Surrogate samples per class (`None`: the data's own class counts).
    pub surrogate_samples: Option<usize>,
    /// Monte Carlo draws per class of the output tails (`--mc-samples`).
    pub mc_samples: usize,
    /// Draws per class of the cumulant objective's sampled check; 0 without one.
    pub check_samples: usize,
    /// Copies of the parameters the run holds: 4 for the samples objective (and for a run
    /// that trains nothing), 6 for the cumulant objective ([the memory model](super::memory)).
    /// Before adv49b every run counted 4: the cumulant objective's two whole gradients were left
    /// out.
    pub parameter_sets: usize,
    /// Widths of the hidden layers whose pre-activations' κ slices the run measures
    /// ([`Shape::measuring`]); empty for order 2.
    pub kappa_widths: Vec<usize>,
    /// Worker threads of the run: the comparison holds one (stage, class) pair's temporaries
    /// per thread. [`Shape::of`] takes the current rayon pool's (the CLI's
    /// `--threads`, a sweep point's share of them).
    pub threads: usize,
    /// Fresh samples of `--pilot fresh` ([`FRESH_PER_REPORTED`] × the reported set's size, a
    /// generated task's; 0 without them) and the setting that sizes them (`n_test`, or
    /// `n_train` with `--on train`).
    pub fresh_samples: (usize, Field),
    /// `--order 3|4 --carry depth`: the order, the first start layer (`--from-layer`) and
    /// `--kappa-units` as given; `None` without a carry through depth.
    pub carried: Option<(usize, usize, Option<usize>)>,
    /// The settings that size the training data, the test data and the input dimension, for
    /// the error to name: `n_train`, `n_test`, `dim` for generated tasks; the training limit
    /// and the files for tasks read from files (MNIST, task data).
    pub data_fields: [Field; 3],
    /// Whether the run measures the classes' statistics and propagates them (every command but
    /// `train` with the samples objective, [`Shape::training_only`]).
    pub statistics: bool,
    /// Whether the run draws the output tails (`AnalysisConfig::output_tails`): their Student
    /// t scales count only then.
    pub output_tails: bool,
    /// Whether the run draws the surrogates (`AnalysisConfig::surrogates`): their draws and
    /// forward-pass blocks count only then.
    pub surrogates: bool,
}

impl Shape {
    /// The shape the defaults of [`crate::config::defaults`] give `config` (MNIST: the full
    /// files or `train_limit` training samples).
    pub fn of(config: &RunConfig) -> Shape {
        let data = &config.data;
        let task = data.task();
        let d = task_defaults(task);
        let generated = matches!(task, Task::Xor | Task::HigherOrder);
        let (d_in, n_train) = match task {
            Task::Mnist => (d.dim, data.train_limit.unwrap_or(d.n_train)),
            Task::Data => data_shape(data),
            _ => (data.dim.unwrap_or(d.dim), data.n_train.unwrap_or(d.n_train)),
        };
        let n_test = d.n_test.unwrap_or(data.n_test.unwrap_or(n_train));
        let n_classes = match task {
            Task::Data => data.n_classes.unwrap_or(2),
            _ => d.n_classes,
        };
        let mut widths = vec![d_in];
        widths.extend(
            config
                .net
                .hidden
                .clone()
                .unwrap_or_else(|| d.hidden.to_vec()),
        );
        widths.push(n_classes);
        let data_fields = match task {
            Task::Mnist => [Field::TrainLimit, Field::TestImages, Field::TrainImages],
            Task::Data => [Field::TrainLimit, Field::TestX, Field::TrainX],
            _ => [Field::NTrain, Field::NTest, Field::Dim],
        };
        Shape {
            d_in,
            n_classes,
            n_train,
            n_test,
            widths,
            widths_from: None,
            activation: config.net.activation.unwrap_or(d.activation),
            epochs: config.epochs(),
            batch: config.train.batch,
            surrogate_samples: config.analysis.surrogate_samples,
            mc_samples: config.analysis.mc_samples,
            check_samples: match config.train.objective {
                Objective::Cumulants if config.train.closure_check > 0.0 => {
                    config.train.check_samples
                }
                _ => 0,
            },
            parameter_sets: match config.train.objective {
                Objective::Samples => 4,
                Objective::Cumulants => 6,
            },
            kappa_widths: Vec::new(),
            threads: rayon::current_num_threads(),
            fresh_samples: match config.analysis.carry.pilot_fresh(generated) {
                Ok(true) if generated => match config.analysis.on {
                    On::Test => (FRESH_PER_REPORTED.saturating_mul(n_test), Field::NTest),
                    On::Train => (FRESH_PER_REPORTED.saturating_mul(n_train), Field::NTrain),
                },
                _ => (0, Field::NTest),
            },
            carried: match (config.analysis.order.order(), config.analysis.carry.mode) {
                (order @ (3 | 4), CarryMode::Depth) => Some((
                    usize::from(order),
                    config.analysis.from_layer,
                    config.analysis.carry.kappa_units,
                )),
                _ => None,
            },
            data_fields,
            statistics: true,
            output_tails: config.analysis.output_tails,
            surrogates: config.analysis.surrogates,
        }
    }

    /// The same run without statistics: `train` with the samples objective allocates the data,
    /// the parameters, the batch's activations and the history, never a class covariance, so
    /// its input dimension is not held to the 3·C·d² words of the statistics (40 samples of 10⁵
    /// features were refused as needing 447 GiB, adv22).
    pub fn training_only(mut self) -> Shape {
        self.statistics = false;
        self
    }

    /// The same run measuring the κ slices `higher` names (`analyze`'s choice,
    /// `measure::Higher::for_analysis`) of its network's hidden layers.
    pub fn measuring(mut self, higher: Higher) -> Shape {
        self.kappa_widths = higher.slice_widths(&self.widths);
        self
    }

    /// The same run with the widths of the network in the model file `model`.
    pub fn with_widths(mut self, widths: Vec<usize>, model: &Path) -> Shape {
        self.widths = widths;
        self.widths_from = Some(model.to_path_buf());
        self
    }

    /// ΣN² over the stages: the input, pre and post of every hidden layer, the output.
    pub(super) fn square_sum(&self) -> f64 {
        let sq = |n: usize| (n as f64).powi(2);
        match self.widths.as_slice() {
            [first, hidden @ .., last] => {
                sq(*first) + hidden.iter().map(|&n| 2.0 * sq(n)).sum::<f64>() + sq(*last)
            }
            [only] => sq(*only),
            [] => 0.0,
        }
    }

    /// Weights and biases P.
    pub(super) fn params(&self) -> f64 {
        params(&self.widths)
    }
}

/// Weights and biases P of a network of `widths`.
pub(super) fn params(widths: &[usize]) -> f64 {
    widths
        .windows(2)
        .map(|w| w[0] as f64 * w[1] as f64 + w[1] as f64)
        .sum()
}
