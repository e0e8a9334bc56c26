//! One run configuration for every entry point: the command line converts its flags into a
//! [`RunConfig`], a sweep deserialises each grid point into one (serde, the grid keys are the
//! field names). Every default is in [`defaults`]; errors name a [`Field`], which the command
//! line maps to its flag and the sweep to its grid key.
//!
//! - [`data`]: the task and where its samples come from.
//! - [`network`]: the architecture and its training.
//! - [`analysis`]: what `propagate` and `analyze` measure.

/// Most worker threads `--threads` may ask for (also the most CPUs `sweep submit` asks a task
/// for, whose sweep runs with `--threads` of that count).
pub const MAX_THREADS: usize = 1024;

pub mod analysis;
pub mod data;
pub mod defaults;
pub mod estimate;
pub mod network;
pub mod provenance;
pub mod task;

use serde::Deserialize;

pub use crate::error::Field;
pub use analysis::{AnalysisConfig, On};
pub use data::{DataConfig, Loaded};
pub use network::{CumulantSettings, Naming, NetConfig, TrainSettings};
pub use task::Task;

use crate::cumtrain::Objective;
use crate::data::split::Sets;
use crate::error::{Error, Result};
use crate::io::MemoryLimit;
use crate::measure::Higher;
use crate::net::train::TrainConfig;
use crate::net::{Mlp, Precision};
use crate::propagate::affine::AffineStrategy;
use crate::propagate::closures::Corrections;

/// Everything one run needs: data, network, training, analysis. A flat key space, so a grid
/// point's table deserialises into it directly.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct RunConfig {
    #[serde(flatten)]
    pub data: DataConfig,
    #[serde(flatten)]
    pub net: NetConfig,
    #[serde(flatten)]
    pub train: TrainSettings,
    #[serde(flatten)]
    pub analysis: AnalysisConfig,
    /// What the run may allocate: its plan is checked against it before anything is read or
    /// allocated, and the readers check files' claimed sizes against it.
    #[serde(skip)]
    pub max_memory: MemoryLimit,
}

impl RunConfig {
    /// The propagation engine's settings: the run's `precision` (shared with training: one key
    /// for the float type of the whole run) and `affine`.
    pub fn engine(&self) -> crate::propagate::EngineSettings {
        self.analysis
            .engine(self.train.precision.unwrap_or_default())
    }

    /// Training epochs: the set value or the task's default.
    pub fn epochs(&self) -> usize {
        self.train
            .epochs
            .unwrap_or(defaults::task_defaults(self.data.task()).epochs)
    }

    /// Checks the run's estimated peak memory against [`max_memory`](Self::max_memory) before
    /// anything is allocated; `widths` are a model file's (with its path), `None` for the
    /// network this run trains. The error names the setting that makes the run large (the
    /// model file where its widths do).
    pub fn check_memory(&self, widths: Option<(Vec<usize>, &std::path::Path)>) -> Result<()> {
        self.check_memory_measuring(widths, Higher::None)
    }

    /// [`check_memory`](Self::check_memory) for a run that also measures the κ slices `higher`
    /// names (`analyze`: [`Higher::for_analysis`]).
    pub fn check_memory_measuring(
        &self,
        widths: Option<(Vec<usize>, &std::path::Path)>,
        higher: Higher,
    ) -> Result<()> {
        self.data.check_n_classes()?;
        self.check_affine()?;
        let shape = estimate::Shape::of(self);
        let shape = match widths {
            Some((w, model)) => shape.with_widths(w, model),
            None => shape,
        };
        estimate::check_memory(&shape.measuring(higher), self.max_memory)
    }

    /// Refuses the factored affine update (`--affine factored`) where every propagation runs
    /// on f32 lanes (`--precision f32` at `--order 2`): that path updates its covariances
    /// densely, so the update asked for was not made, without a word (adv47). Dense and auto
    /// (the default) are what it does.
    pub fn check_affine(&self) -> Result<()> {
        let f32 = self.train.precision == Some(Precision::F32);
        if f32
            && self.analysis.affine == AffineStrategy::Factored
            && self.analysis.order == Corrections::None
        {
            return Err(Error::config(
                Field::Affine,
                "factored updates f64 covariances; in f32 precision at cumulant order 2 every \
                 covariance is propagated in f32 and updated densely: expected dense or auto, \
                 f64 precision, or order 3 or 4",
            ));
        }
        Ok(())
    }

    /// The κ slices `analyze` measures for `net` (a model file's), or for the network this
    /// configuration trains (`None`): [`Higher::for_analysis`].
    pub fn analysis_higher(&self, net: Option<&Mlp>) -> Higher {
        let activation = match net {
            Some(net) => net.activation.uniform(),
            None => Some(
                self.net
                    .activation
                    .unwrap_or(defaults::task_defaults(self.data.task()).activation),
            ),
        };
        Higher::for_analysis(activation, self.analysis.order, self.analysis.carry.mode)
    }

    /// [`check_memory`](Self::check_memory) for `train`: with the samples objective no class
    /// statistics are measured ([`estimate::Shape::training_only`]); the cumulant objective
    /// measures and propagates them like `analyze`.
    pub fn check_training_memory(&self) -> Result<()> {
        if self.train.objective == Objective::Cumulants {
            return self.check_memory(None);
        }
        self.data.check_n_classes()?;
        estimate::check_memory(&estimate::Shape::of(self).training_only(), self.max_memory)
    }

    /// Generates or reads the task's samples within [`max_memory`](Self::max_memory).
    pub fn load_data(&self) -> Result<Loaded> {
        self.data.load_limited(self.max_memory)
    }

    /// [`load_data`](Self::load_data) for a command that reads only the set `on`
    /// ([`DataConfig::load_sets_limited`]: under `--on test` the files' training set is not
    /// assembled unless the preprocessing needs it), a test set of pixel bytes kept as bytes
    /// ([`Sets::TestPixels`]): its commands read it only through
    /// [`crate::data::Split::test_labelled`]. With `held_out` both sets are assembled: the
    /// other set is the pilot's held-out samples (`--carry depth`, [`crate::measure::CarrySettings::pilot_on`]).
    pub fn load_data_on(&self, on: On, held_out: bool) -> Result<Loaded> {
        let sets = match on {
            On::Test if !held_out => Sets::TestPixels,
            On::Test | On::Train => Sets::Both,
        };
        self.data.load_sets_limited(self.max_memory, sets)
    }

    /// Reads the model file at `path` within [`max_memory`](Self::max_memory).
    pub fn load_model(&self, path: &std::path::Path) -> Result<Mlp> {
        crate::net::model_io::load_limited(path, self.max_memory)
    }

    /// The untrained network and its training settings for `d_in` inputs and `n_classes`
    /// outputs, unset values from the task's defaults.
    pub fn network(&self, d_in: usize, n_classes: usize) -> Result<(Mlp, TrainConfig)> {
        if self.train.objective == Objective::Cumulants
            && self.train.precision.is_some_and(|p| p != Precision::F64)
        {
            return Err(Error::config(
                Field::Precision,
                "f32 applies to the samples objective; the cumulant objective trains in f64",
            ));
        }
        network::build(&self.net, &self.train, self.data.task(), d_in, n_classes)
    }
}
