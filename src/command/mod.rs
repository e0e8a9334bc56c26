//! The library half of each subcommand: from a [`RunConfig`] to a
//! report that serialises to the `--json` output and displays as the human one. The command
//! line only parses flags into the configuration and prints what these return.
//!
//! - [`train`]: fit an MLP, write the model file.
//! - [`propagate`]: one start layer's prediction against the measured statistics.
//! - [`analyze`]: the full analysis, optionally as a report folder.

pub mod analyze;
pub mod init;
pub mod propagate;
pub mod train;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::provenance::{file_from_record, for_model, from_record, Mismatch, TASK_KEY};
use crate::config::{DataConfig, Loaded, On, RunConfig};
use crate::data::{Dataset, Labelled, Split};
use crate::error::{Error, Field, Result};
use crate::measure::carried::FRESH_PER_REPORTED;
use crate::measure::Higher;
use crate::net::train::check_fits;
use crate::net::Precision;
use crate::net::{model_io, Mlp};
use crate::timing::Timings;

/// Checks that `net` (`what`: its file, or a description) takes `data`'s inputs; the error
/// names both sides, and the task the model was trained on when it is not the one used.
fn check_network_fits(
    net: &Mlp,
    data: Labelled<'_>,
    what: &str,
    description: &str,
    trained_on: Option<&str>,
) -> Result<()> {
    check_fits(net, data).map_err(|e| {
        let hint = match trained_on {
            Some(t) if !description.starts_with(t.split([' ', ':']).next().unwrap_or(t)) => {
                let task = t.split([' ', ':']).next().unwrap_or(t);
                format!(
                    "; the model expects {} inputs and was trained on task {task} ({t}): pass --task {task} or omit --task",
                    net.input_dim()
                )
            }
            _ => String::new(),
        };
        Error::Shape(format!("{what} vs {description}: {e}{hint}"))
    })
}

/// A model file with the data it is analysed on: the network, the data configuration completed
/// from the model's records ([`crate::config::provenance`]), the settings the user chose
/// differently from the model's, the loaded data (the training set left unassembled under
/// `--on test`: [`RunConfig::load_data_on`]) and the model's own description of its task.
struct ModelData {
    net: Mlp,
    mismatches: Vec<Mismatch>,
    loaded: Loaded,
    trained_on: Option<String>,
    /// The analysed set's largest |x| ([`check_classes`]), for [`naming_data_scale`].
    largest: f64,
    /// `--pilot fresh`: the generated task's fresh samples and their description ([`fresh`]).
    fresh: Option<(Dataset, String)>,
}

/// `--pilot fresh`, the default of the generated tasks
/// ([`crate::measure::CarrySettings::pilot_fresh`]): [`FRESH_PER_REPORTED`] ×
/// the analysed set's size of fresh samples of the generated task `config` describes
/// ([`DataConfig::fresh_samples`](crate::config::DataConfig::fresh_samples), an error for
/// files and MNIST); None without it.
fn fresh(config: &RunConfig, loaded: &Loaded) -> Result<Option<(Dataset, String)>> {
    let generated = matches!(
        config.data.task(),
        crate::config::Task::Xor | crate::config::Task::HigherOrder
    );
    if !config.analysis.carry.pilot_fresh(generated)? {
        return Ok(None);
    }
    let n = FRESH_PER_REPORTED * config.analysis.on.pick(&loaded.split).labels.len();
    config.data.fresh_samples(config.max_memory, n).map(Some)
}

/// Loads the model at `path` and the data `config` describes, completed from the model's records;
/// a test set of pixel bytes stays bytes ([`RunConfig::load_data_on`]). `analysis`: the run is
/// `analyze`'s, whose κ slices count in the memory check ([`RunConfig::analysis_higher`]).
/// `report`: the report folder `analyze` will write, which must not hold a file the model's
/// records name ([`crate::io::check_folder_spares`]).
fn model_and_data(
    config: &RunConfig,
    path: &Path,
    timings: &Timings,
    analysis: bool,
    report: Option<&Path>,
) -> Result<ModelData> {
    let (net, meta) = timings.time("data load", 0.0, || {
        Ok::<_, Error>((config.load_model(path)?, model_io::metadata(path)?))
    })?;
    if net.output_dim() < 2 {
        // Else task data takes the outputs as its class count and blames --n-classes.
        return Err(Error::format(
            path,
            format!(
                "has {} output: corrflow analyses classifiers, one output per class, at least 2",
                net.output_dim()
            ),
        ));
    }
    let (data, mismatches) = data_for(&config.data, &meta, &net, path)?;
    config.data.check_applies_to(data.task())?;
    let user = &config.data;
    let config = RunConfig {
        data,
        ..config.clone()
    };
    if let Some(dir) = report {
        // The files only the model's records name must not lie in the report folder either
        // (adv64); checked before they are read.
        let named: Vec<(PathBuf, String)> = (config.data.input_files().into_iter())
            .map(|(p, what)| (p, format!("{what} as the model's records set it")))
            .collect();
        crate::io::check_folder_spares(dir, named.iter().map(|(p, w)| (p.as_path(), w.as_str())))?;
    }
    // A setting the model's records supplied (not the user's flags) that cannot be used is
    // the model file's error: a flag the user never gave would be blamed.
    let recorded = |e: Error| match e {
        Error::Config { field, msg } => match from_record(user, &config.data, field) {
            Some(record) => Error::format(
                path,
                format!("its record {record} sets {}: {msg}", field.name()),
            ),
            None => Error::Config { field, msg },
        },
        Error::Io { path: file, source } => match file_from_record(user, &config.data, &file) {
            Some((record, field)) => Error::format(
                path,
                format!(
                    "its record {record} sets {} = {}, which cannot be read ({source}); give \
                     the data's files or --task",
                    field.name(),
                    crate::error::excerpt(&file.display().to_string())
                ),
            ),
            None => Error::Io { path: file, source },
        },
        e => e,
    };
    // `analyze` measures κ slices besides the covariances where `propagate` does not.
    let higher = match analysis {
        true => config.analysis_higher(Some(&net)),
        false => Higher::None,
    };
    // The model's widths set the network: the estimate names the model file, not `--hidden`.
    config
        .check_memory_measuring(Some((net.widths(), path)), higher)
        .map_err(recorded)?;
    // The pilot of a carried run reads the other set (`measure::HeldOut`).
    let held_out = config.analysis.carry.pilot_on()?;
    let loaded = timings
        .time("data load", 0.0, || {
            config.load_data_on(config.analysis.on, held_out)
        })
        .map_err(recorded)?;
    let largest = check_classes(&loaded.split, &loaded.description, config.analysis.on)?;
    let fresh = timings.time("data load", 0.0, || fresh(&config, &loaded))?;
    Ok(ModelData {
        net,
        mismatches,
        loaded,
        trained_on: meta.get(TASK_KEY).cloned(),
        largest,
        fresh,
    })
}

/// Refuses an analysed set (`on`) in which some class has exactly one sample, naming the data
/// (`description`), the set and the class: a class's covariance (divisor n − 1) needs two
/// samples. The statistics refused it later as "numerical error: MODEL: class 2 has 1 sample;
/// …", naming the model file instead of the data (twentieth session); a sweep's point checks
/// its test set with it too (twenty-first session).
fn check_class_sizes(split: &Split, description: &str, on: On) -> Result<()> {
    let set = on.pick(split);
    let mut counts = vec![0usize; set.n_classes];
    for &label in &set.labels {
        if let Some(n) = counts.get_mut(label as usize) {
            *n += 1;
        }
    }
    match counts.iter().position(|&n| n == 1) {
        Some(c) => Err(Error::Unsupported(format!(
            "{description}: class {c} has 1 sample in the {} set; the class statistics need at \
             least 2 samples of every class present",
            on.name()
        ))),
        None => Ok(()),
    }
}

/// [`check_class_sizes`], then [`check_class_spread`]: the analysed set's classes, before any
/// training or measurement. Returns the set's largest |x| (0 for a set of pixel bytes), read
/// by the same scan, for [`naming_data_scale`].
pub(crate) fn check_classes(split: &Split, description: &str, on: On) -> Result<f64> {
    check_class_sizes(split, description, on)?;
    check_class_spread(on.pick(split), description, on)
}

/// The largest |x| of data whose covariances (entries up to x²) the comparisons can square in
/// f64: (f64::MAX)^(1/4) = 1.2e77.
const SQUARED_COVARIANCE_LIMIT: f64 = 1.157_920_892_373_162e77;

/// A numerical failure of the work on data whose largest |x| (`largest`, of the `on` set
/// described by `description`) is beyond [`SQUARED_COVARIANCE_LIMIT`] is the data's: its
/// covariances hold entries of ~x², whose squares (the comparison's Frobenius norms, the
/// closures' fourth moments) overflow f64 past it. The error then names the data, the largest
/// value, the failure and `--scale`; before, data ×10¹⁵⁰ (which [`check_class_spread`] clears:
/// its variance fits f64) through a model with weights of ~1 was refused as "MODEL: layer 1
/// (pre), class 0: … not finite (… the model's weights or the inputs are too large)", naming
/// the model and no data file (adv28's found-not-fixed). Other failures, failures on data
/// within the limit (a model's huge weights), and the failures of an f32 run (`precision`: its
/// own range, 3.4e38, is named with `--precision f64`) are left as they are.
pub(crate) fn naming_data_scale<T>(
    result: Result<T>,
    (description, on): (&str, On),
    largest: f64,
    precision: Precision,
) -> Result<T> {
    let f64_run = precision == Precision::F64;
    result.map_err(|e| match e {
        Error::Numeric(msg) if f64_run && largest > SQUARED_COVARIANCE_LIMIT => {
            Error::Unsupported(format!(
                "{description}: the {} set holds values up to {largest:.1e}, beyond \
                 (1.8e308)^(1/4) = 1.2e77: its covariances hold entries of ~x², whose squares \
                 overflow f64, and the work on it failed ({msg}); expected values below 1.2e77 \
                 (rescale the data: --scale S divides every value by S)",
                on.name()
            ))
        }
        other => other,
    })
}

/// How many units of rounding of a first-layer bias the data may move its pre-activation by and
/// still be lost in it: `analysis::ROUNDING_SPREAD_ULPS`, the comparisons' rounding level.
const BIAS_ROUNDING_ULPS: f64 = crate::analysis::compare::ROUNDING_SPREAD_ULPS;

/// A numerical failure of `analyze` on data so small against the first layer's biases that no
/// unit of h¹ sees it is the data's: where every unit i has bᵢ ≠ 0, Σⱼ|W¹ᵢⱼ| > 0,
/// 16ε|bᵢ| < 1.2e77 (data of another scale could reach above it within
/// [`SQUARED_COVARIANCE_LIMIT`]) and `largest`·Σⱼ|W¹ᵢⱼ| ≤ 16ε|bᵢ| ([`BIAS_ROUNDING_ULPS`]),
/// each zᵢ = bᵢ + Σⱼ W¹ᵢⱼxⱼ moves by at most
/// 16 rounding units of its bias, so h¹'s class covariances are rounding noise and the
/// surrogate's split at h1 fails. The error then names the data, its largest value, the
/// biases' smallest |bᵢ| and `--scale`; before (data ×10⁻²⁰, adv29's found-not-fixed) it was
/// "MODEL: Bhattacharyya split at h1: … no variance above rounding", naming the model.
/// `largest` = 0 (pixel bytes, not scanned) and failures on data any unit resolves are left as
/// they are, and so are those of an f32 run (`precision`): the f64 run of the same data and
/// model can succeed (data ×10⁻¹⁹ through biases of ~10⁻², or first-layer weights ×10⁻⁴⁰), so
/// the failure is f32's range, which its own message names with `--precision f64` (adv31: it
/// was wrapped in "h1 holds the biases alone … rescale the data").
pub(crate) fn naming_data_below_biases<T>(
    result: Result<T>,
    (description, on): (&str, On),
    largest: f64,
    (net, precision): (&Mlp, Precision),
) -> Result<T> {
    let first = &net.layers[0];
    // Lost, and found by data of some scale: a unit whose weights are all 0 sees no data, and
    // one whose bias's rounding units are beyond 1.2e77 is seen only by data whose squares
    // overflow ([`SQUARED_COVARIANCE_LIMIT`]), so the model is at fault there and its own
    // error stands (adv41: biases of ±1e308 on zero weights were "rescale the data").
    let lost = |i: usize| {
        let b = first.b[i].abs();
        let reach = first.w.row(i).iter().map(|w| w.abs()).sum::<f64>();
        let rounding = BIAS_ROUNDING_ULPS * f64::EPSILON * b;
        b > 0.0 && reach > 0.0 && largest * reach <= rounding && rounding < SQUARED_COVARIANCE_LIMIT
    };
    let below = precision == Precision::F64 && largest > 0.0 && (0..first.b.nrows()).all(lost);
    result.map_err(|e| match e {
        Error::Numeric(msg) if below => {
            let smallest = first.b.iter().fold(f64::INFINITY, |m, b| m.min(b.abs()));
            Error::Unsupported(format!(
                "{description}: the {} set holds values of at most {largest:.1e}: through the \
                 first layer's weights they move each unit of h1 by less than 16 rounding units \
                 of its bias (|b| ≥ {smallest:.1e}), so h1 holds the biases alone and the work \
                 on it failed ({msg}); expected data whose spread reaches above the biases' \
                 rounding (rescale the data: --scale S divides every value by S; S < 1 \
                 enlarges it)",
                on.name()
            ))
        }
        other => other,
    })
}

/// Refuses an analysed set (`on`) in which some class's feature spreads so far that its
/// covariance overflows f64, naming the data (`description`), the set, the class, the feature
/// and the sample farthest from the class mean. The statistics form Σ from the power sum
/// S₂ = Σₖ (xₖ − K)² about a shift K (`stats::moments`); whatever K is, S₂ ≥ Σₖ (xₖ − x̄)² = n·var,
/// so n·var > f64::MAX (a standard deviation above √(f64::MAX / n)) makes S₂ infinite: the
/// refusal is a necessary condition of the statistics, never of data they could measure. Before
/// this check `propagate`/`analyze --model M` said "M: class 1: moments are not finite" for
/// 10²⁰⁰ at one sample of the data (adv21's `big513`), blaming the model (adv22). A set whose
/// largest |x| keeps n·(2·max)² finite (every real data set) is cleared by one scan of its
/// values; pixel bytes (a test set kept as bytes, `test.x` empty) are bounded by construction.
///
/// Also refused, naming the same, a feature whose values differ within a class but whose
/// variance is below f64's normal range (2.2e-308: subnormal or 0), e.g. data of 10⁻³⁰⁰ or
/// 10⁻¹⁶⁰ (adv28: the class covariance underflowed, `propagate` printed KLs of 10⁵ and
/// `cov_rel_err` 1 from rounding noise with exit 0, `analyze` failed at "Bhattacharyya split at
/// h1 … every covariance is zero" naming neither the data nor its scale). Two distinct values
/// a, b of magnitude ≥ T differ by more than 2⁻⁵³·T, so n·var ≥ (a − b)²/2 keeps var normal
/// when every nonzero |x| is at least 2⁵⁴·√(n·2.2e-308) (1.8e-138 for 10⁶ samples): the same
/// scan clears every set whose smallest nonzero |x| is above that. Returns the set's largest |x|.
fn check_class_spread(set: &Dataset, description: &str, on: On) -> Result<f64> {
    let (dim, n) = (set.x.nrows(), set.x.ncols());
    let (largest, smallest) = (0..n)
        .map(|j| {
            set.x
                .col(j)
                .iter()
                .fold((0.0, f64::INFINITY), |(hi, lo): (f64, f64), v| {
                    let a = v.abs();
                    (hi.max(a), if a > 0.0 { lo.min(a) } else { lo })
                })
        })
        .fold((0.0, f64::INFINITY), |(hi, lo): (f64, f64), (h, l)| {
            (hi.max(h), lo.min(l))
        });
    let lowest = 2f64.powi(54) * (n as f64 * f64::MIN_POSITIVE).sqrt();
    if n == 0 || (largest <= (f64::MAX / (4.0 * n as f64)).sqrt() && smallest >= lowest) {
        return Ok(largest);
    }
    let mut members = vec![Vec::new(); set.n_classes];
    for (j, &label) in set.labels.iter().enumerate() {
        if let Some(m) = members.get_mut(label as usize) {
            m.push(j);
        }
    }
    for (c, cols) in members.iter().enumerate() {
        let count = cols.len() as f64;
        for i in 0..dim {
            let values = || cols.iter().map(|&j| (j, set.x[(i, j)]));
            // Scaled by the largest |x| so that no intermediate overflows.
            let scale = values().map(|(_, v)| v.abs()).fold(0.0, f64::max);
            if scale == 0.0 {
                continue;
            }
            let mean = values().map(|(_, v)| v / scale).sum::<f64>() / count;
            let squares: f64 = values().map(|(_, v)| (v / scale - mean).powi(2)).sum();
            let subnormal = squares > 0.0 && squares / count < f64::MIN_POSITIVE / scale / scale;
            if squares <= f64::MAX / scale / scale && !subnormal {
                continue;
            }
            let (far, value) = values()
                .max_by(|a, b| {
                    (a.1 / scale - mean)
                        .abs()
                        .total_cmp(&(b.1 / scale - mean).abs())
                })
                .expect("a class with a nonzero value has samples");
            if subnormal {
                return Err(Error::Unsupported(format!(
                    "{description}: class {c} of the {} set: feature {i} spreads below f64's \
                     normal range: its variance over the class's {} samples is below 2.2e-308 \
                     (standard deviation {:.1e}; sample {far} of the set holds {value:.1e}), so \
                     the class covariance underflows to subnormal numbers or 0 and loses its \
                     digits; expected a standard deviation of at least √(2.2e-308) = 1.5e-154 \
                     (rescale the data: --scale S divides every value by S)",
                    on.name(),
                    cols.len(),
                    scale * (squares / count).sqrt(),
                )));
            }
            return Err(Error::Unsupported(format!(
                "{description}: class {c} of the {} set: feature {i} spreads beyond f64: \
                 Σ(x − mean)² over the class's {} samples exceeds 1.8e308 (standard deviation \
                 {:.1e}; sample {far} of the set holds {value:.1e}), so the class covariance \
                 overflows; expected a standard deviation below √(1.8e308 / {}) = {:.1e}",
                on.name(),
                cols.len(),
                scale * (squares / count).sqrt(),
                cols.len(),
                (f64::MAX / count).sqrt()
            )));
        }
    }
    Ok(largest)
}

/// Runs `training` on the training set `train` (described by `description`) with the checks of
/// the data's scale around it: an f32 training of data holding a value beyond f32's range is
/// refused before it starts (the value turns into ∞ when the batch is rounded to f32: before
/// this check the loss turned NaN and the message blamed --lr); a divergence the training
/// blames on the learning rate is the data's when the data holds a value whose square
/// overflows the float type (|x| above √max: 1.3e154 in f64, 1.8e19 in f32), since Adam's
/// second moment holds the gradient's square ~|x|² and an SGD step moves the next
/// pre-activation by lr·|δ|·|x|² (adv21's `big513`, 10²⁰⁰ at one sample: "invalid value for
/// --lr: training diverged"; adv22). Valid trainings run unchanged: the scan runs before (f32
/// only) and after a failure.
pub(crate) fn train_checked<R>(
    train: &Dataset,
    description: &str,
    precision: Precision,
    training: impl FnOnce() -> Result<R>,
) -> Result<R> {
    let f32 = precision == Precision::F32;
    if f32 {
        if let Some((j, i, v)) = first_value(train, |v| (v as f32).is_infinite()) {
            return Err(Error::Unsupported(format!(
                "{description}: sample {j} of the training set holds {v:.1e} (feature {i}), \
                 beyond f32's range (3.4e38) of --precision f32; expected values of f32's range, \
                 or --precision f64"
            )));
        }
    }
    let (max, name) = if f32 {
        (f64::from(f32::MAX), "f32 (--precision f32)")
    } else {
        (f64::MAX, "f64")
    };
    training().map_err(|e| match e {
        Error::Config {
            field: Field::Lr, ..
        } => match first_value(train, |v| v.abs() > max.sqrt()) {
            Some((j, i, v)) => Error::Unsupported(format!(
                "{description}: training diverged (the loss turned non-finite) because sample \
                 {j} of the training set holds {v:.1e} (feature {i}), whose square overflows \
                 {name}, not because of the learning rate; expected values up to {:.1e} \
                 (rescale the data{})",
                max.sqrt(),
                if f32 { ", or --precision f64" } else { "" }
            )),
            None => e,
        },
        e => e,
    })
}

/// The first value of `set` (sample j, feature i, value) for which `bad` holds.
fn first_value(set: &Dataset, bad: impl Fn(f64) -> bool) -> Option<(usize, usize, f64)> {
    (0..set.x.ncols()).find_map(|j| {
        let col = set.x.col(j);
        (0..col.nrows())
            .find(|&i| bad(col[i]))
            .map(|i| (j, i, col[i]))
    })
}

/// [`for_model`] for `net`, read from `path`.
fn data_for(
    user: &DataConfig,
    meta: &HashMap<String, String>,
    net: &Mlp,
    path: &Path,
) -> Result<(DataConfig, Vec<Mismatch>)> {
    for_model(user, meta, net.output_dim(), path)
}

/// Prefixes a numerical error of the work on the model at `model` with its path, so that a
/// model whose values overflow is named.
fn naming_model<T>(model: &Path, result: Result<T>) -> Result<T> {
    result.map_err(|e| match e {
        Error::Numeric(msg) => Error::Numeric(format!("{}: {msg}", model.display())),
        other => other,
    })
}

/// A model path for messages.
fn shown(path: &Path) -> String {
    path.display().to_string()
}
