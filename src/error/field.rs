//! The fields of a run configuration, as library errors name them ([`crate::Error::Config`]).
//! The command line maps each to its flag (`cli/flags.rs`), a sweep to its grid key
//! (`sweep/keys.rs`), so the user reads the name they wrote. Part of [`crate::error`],
//! so every layer can name the field at fault.

use std::fmt;

/// One setting of a run. Its [`path`](Field::path) is the section and name in the
/// configuration (`train.epochs`), the name library users see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    // data
    Task,
    NTrain,
    NTest,
    DataSeed,
    Dim,
    Sigma,
    Rotate,
    Skewed,
    GammaShape,
    MnistDir,
    TrainImages,
    TrainLabels,
    TestImages,
    TestLabels,
    TestSplit,
    TrainLimit,
    Center,
    TrainX,
    TrainY,
    TestX,
    TestY,
    XTensor,
    YTensor,
    NClasses,
    Scale,
    Standardize,
    NormalizeMean,
    NormalizeStd,
    // network
    Hidden,
    Activation,
    Gain,
    Seed,
    Init,
    // training
    Loss,
    Optimizer,
    Objective,
    Epochs,
    Batch,
    Lr,
    Momentum,
    Precision,
    ClosureCheck,
    CheckSamples,
    Order,
    CorrectedLayers,
    CorrectionBound,
    CorrectionBoundMean,
    CorrectionBoundRule,
    CorrectionBoundReference,
    // analysis and propagation
    FromLayer,
    KappaUnits,
    StatsBatch,
    McSamples,
    SurrogateSamples,
    Ridge,
    HeatmapLayer,
    Affine,
    // running
    Threads,
    Jobs,
    Shard,
    MaxMemory,
}

impl Field {
    /// Every field, for tables that must cover them all.
    pub const ALL: [Field; 61] = [
        Field::Task,
        Field::NTrain,
        Field::NTest,
        Field::DataSeed,
        Field::Dim,
        Field::Sigma,
        Field::Rotate,
        Field::Skewed,
        Field::GammaShape,
        Field::MnistDir,
        Field::TrainImages,
        Field::TrainLabels,
        Field::TestImages,
        Field::TestLabels,
        Field::TestSplit,
        Field::TrainLimit,
        Field::Center,
        Field::TrainX,
        Field::TrainY,
        Field::TestX,
        Field::TestY,
        Field::XTensor,
        Field::YTensor,
        Field::NClasses,
        Field::Scale,
        Field::Standardize,
        Field::NormalizeMean,
        Field::NormalizeStd,
        Field::Hidden,
        Field::Activation,
        Field::Gain,
        Field::Seed,
        Field::Init,
        Field::Loss,
        Field::Optimizer,
        Field::Objective,
        Field::Epochs,
        Field::Batch,
        Field::Lr,
        Field::Momentum,
        Field::Precision,
        Field::ClosureCheck,
        Field::CheckSamples,
        Field::Order,
        Field::CorrectedLayers,
        Field::CorrectionBound,
        Field::CorrectionBoundMean,
        Field::CorrectionBoundRule,
        Field::CorrectionBoundReference,
        Field::FromLayer,
        Field::KappaUnits,
        Field::StatsBatch,
        Field::McSamples,
        Field::SurrogateSamples,
        Field::Ridge,
        Field::HeatmapLayer,
        Field::Affine,
        Field::Threads,
        Field::Jobs,
        Field::Shard,
        Field::MaxMemory,
    ];

    /// `section.name`, e.g. `train.epochs`.
    pub fn path(self) -> &'static str {
        match self {
            Field::Task => "data.task",
            Field::NTrain => "data.n_train",
            Field::NTest => "data.n_test",
            Field::DataSeed => "data.data_seed",
            Field::Dim => "data.dim",
            Field::Sigma => "data.sigma",
            Field::Rotate => "data.rotate",
            Field::Skewed => "data.skewed",
            Field::GammaShape => "data.gamma_shape",
            Field::MnistDir => "data.mnist_dir",
            Field::TrainImages => "data.train_images",
            Field::TrainLabels => "data.train_labels",
            Field::TestImages => "data.test_images",
            Field::TestLabels => "data.test_labels",
            Field::TestSplit => "data.test_split",
            Field::TrainLimit => "data.train_limit",
            Field::Center => "data.center",
            Field::TrainX => "data.train_x",
            Field::TrainY => "data.train_y",
            Field::TestX => "data.test_x",
            Field::TestY => "data.test_y",
            Field::XTensor => "data.x_tensor",
            Field::YTensor => "data.y_tensor",
            Field::NClasses => "data.n_classes",
            Field::Scale => "data.scale",
            Field::Standardize => "data.standardize",
            Field::NormalizeMean => "data.normalize_mean",
            Field::NormalizeStd => "data.normalize_std",
            Field::Hidden => "net.hidden",
            Field::Activation => "net.activation",
            Field::Gain => "net.gain",
            Field::Seed => "net.seed",
            Field::Init => "net.init",
            Field::Loss => "train.loss",
            Field::Optimizer => "train.optimizer",
            Field::Objective => "train.objective",
            Field::Epochs => "train.epochs",
            Field::Batch => "train.batch",
            Field::Lr => "train.lr",
            Field::Momentum => "train.momentum",
            Field::Precision => "train.precision",
            Field::ClosureCheck => "train.closure_check",
            Field::CheckSamples => "train.check_samples",
            Field::Order => "train.order",
            Field::CorrectedLayers => "train.corrected_layers",
            Field::CorrectionBound => "train.correction_bound",
            Field::CorrectionBoundMean => "train.correction_bound_mean",
            Field::CorrectionBoundRule => "train.correction_bound_rule",
            Field::CorrectionBoundReference => "train.correction_bound_reference",
            Field::FromLayer => "analysis.from_layer",
            Field::KappaUnits => "analysis.kappa_units",
            Field::StatsBatch => "analysis.stats_batch",
            Field::McSamples => "analysis.mc_samples",
            Field::SurrogateSamples => "analysis.surrogate_samples",
            Field::Ridge => "analysis.ridge",
            Field::HeatmapLayer => "analysis.heatmap_layer",
            Field::Affine => "analysis.affine",
            Field::Threads => "run.threads",
            Field::Jobs => "run.jobs",
            Field::Shard => "run.shard",
            Field::MaxMemory => "run.max_memory",
        }
    }

    /// The name without its section (`epochs`): the grid key where a grid has one.
    pub fn name(self) -> &'static str {
        let path = self.path();
        path.split_once('.').map_or(path, |(_, name)| name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// Parses `text` as one of `T`'s values (any case), as clap does for the flag; an error names
/// `field` and lists the values.
pub fn parse_value<T: clap::ValueEnum>(text: &str, field: Field) -> crate::Result<T> {
    T::from_str(text.trim(), true).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect();
        crate::Error::config(
            field,
            format!("'{text}' is not one of {}", names.join(", ")),
        )
    })
}

/// Writes a value enum's name (`mse`, `f64`): the spelling its flag accepts.
pub fn value_name<T: clap::ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string())
}
