//! What `propagate` and `analyze` measure and how: the analysed set, the closure, the start
//! layer and the sample counts, with defaults from [`super::defaults`].

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use super::defaults;
use crate::analysis::AnalysisOptions;
use crate::data::{Dataset, Split};
use crate::measure::CarrySettings;
use crate::net::Precision;
use crate::propagate::affine::AffineStrategy;
use crate::propagate::closures::{ClosureMethod, Corrections};
use crate::propagate::EngineSettings;

/// Which of the task's sets the statistics are measured on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum On {
    Train,
    #[default]
    Test,
}

impl On {
    /// The chosen set of `split`.
    pub fn pick(self, split: &Split) -> &Dataset {
        match self {
            On::Train => &split.train,
            On::Test => &split.test,
        }
    }

    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            On::Train => "train",
            On::Test => "test",
        }
    }
}

/// Analysis and propagation settings. Field names are the grid keys.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct AnalysisConfig {
    #[serde(skip)]
    pub on: On,
    #[serde(skip)]
    pub closure: ClosureMethod,
    /// `--order`: the corrections at the first nonlinearity after the start layer.
    #[serde(skip)]
    pub order: Corrections,
    /// `--carry`, `--kappa-units`: `--order` 3/4 at the first nonlinearity only, or carried
    /// through depth (full tensors or a leading subset of units).
    #[serde(skip)]
    pub carry: CarrySettings,
    /// `propagate`: start from the measured statistics of this layer.
    pub from_layer: usize,
    /// Samples per forward-pass batch when measuring statistics.
    pub stats_batch: usize,
    /// Monte Carlo draws per class for P(argmax y = c).
    pub mc_samples: usize,
    /// Surrogate samples per class [default: the data's own class counts].
    pub surrogate_samples: Option<usize>,
    /// Whether the run draws the output tails, `mc_samples` per class (`analyze`); a sweep
    /// point and `propagate` draw none, and their memory estimate holds no Student t scales.
    #[serde(skip)]
    pub output_tails: bool,
    /// Whether the run draws the surrogates, `surrogate_samples` per class (`analyze`); a
    /// sweep point and `propagate` draw none, and their memory estimate holds none of their
    /// draws or forward-pass blocks.
    #[serde(skip)]
    pub surrogates: bool,
    /// Relative ridge of the Bhattacharyya split.
    pub ridge: f64,
    /// Layer whose class-0 covariance is drawn as a heatmap.
    pub heatmap_layer: usize,
    /// The update of f64 covariances through an affine layer.
    pub affine: AffineStrategy,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            on: On::default(),
            closure: ClosureMethod::Auto,
            order: Corrections::None,
            carry: CarrySettings::default(),
            from_layer: defaults::FROM_LAYER,
            stats_batch: defaults::STATS_BATCH,
            mc_samples: defaults::MC_SAMPLES,
            surrogate_samples: None,
            output_tails: true,
            surrogates: true,
            ridge: defaults::RIDGE,
            heatmap_layer: defaults::HEATMAP_LAYER,
            affine: defaults::AFFINE,
        }
    }
}

impl AnalysisConfig {
    /// The draws the analysis makes: `mc_samples` per class and start layer, and
    /// `surrogate_samples` per class (None: the data's own counts).
    pub fn draws(&self) -> (usize, Option<usize>) {
        (self.mc_samples, self.surrogate_samples)
    }

    /// The propagation engine's settings, its covariances in `precision` (the run's
    /// `precision`, shared with training).
    pub fn engine(&self, precision: Precision) -> EngineSettings {
        EngineSettings {
            precision,
            affine: self.affine,
        }
    }

    /// The options of [`analyze`](crate::analysis::analyze()), its random draws seeded with
    /// `seed`, its covariances propagated in `precision`.
    pub fn options(&self, seed: u64, precision: Precision) -> AnalysisOptions {
        AnalysisOptions {
            engine: self.engine(precision),
            method: self.closure,
            mc_samples: self.mc_samples,
            surrogate_samples: self.surrogate_samples,
            ridge: self.ridge,
            heatmap_layer: self.heatmap_layer,
            order: self.order,
            carry: self.carry,
            seed,
        }
    }
}
