//! `corrflow train`: fit an MLP to a task, report accuracy, write the model file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::init::{with_init, InitRecord};
use crate::config::defaults;
use crate::config::estimate::work::training_warning;
use crate::config::provenance::{records, TASK_KEY};
use crate::config::{Naming, RunConfig, Task};
use crate::cumtrain::{
    fit, floor_note, gaussian_model_loss, CheckSettings, ClassStatistics, FirstStep,
    GaussianModelLoss, Objective,
};
use crate::data::{class_counts, Dataset};
use crate::error::{Error, Result};
use crate::io::check_output_file;
use crate::net::train::{EpochStats, StepPhases, TrainConfig};
use crate::net::unlearned::{unlearned_warning, Origin, Unlearned};
use crate::net::{model_io, Precision};
use crate::timing::duration::{human_seconds, LONG_RUN_SECONDS};
use crate::timing::{TimingSummary, Timings};

/// A numerical failure of the cumulant objective names what the user can change. Its closures
/// take each class's propagated moments, whose products overflow f64 past (1.8e308)^(1/2)
/// (the closure's own message): on data beyond (1.8e308)^(1/4) = 1.2e77
/// ([`super::naming_data_scale`]) the data and `--scale` are named; otherwise the data's
/// largest |x|, `--gain` and the activation (quad:α squares the pre-activations). Before adv30
/// `train --objective cumulants` of data ×10¹⁵⁰ said "… expected smaller pre-activations
/// (rescale the model's weights or the inputs)" (no model, no file named), and of
/// `--activation quad:1e300` only "stage z1 (layer 1), class 0: covariance (0, 0) = inf,
/// produced by the closure", naming neither the flag nor the data.
fn naming_cumulant_overflow<R>(
    result: Result<R>,
    train: &Dataset,
    description: &str,
    activation: &str,
) -> Result<R> {
    result.or_else(|e| {
        let largest = train.x.norm_max();
        let on = (description, crate::config::On::Train);
        match super::naming_data_scale(Err(e), on, largest, Precision::F64) {
            Err(Error::Numeric(msg)) => Err(Error::Numeric(format!(
                "{description}: the cumulant objective (--objective cumulants) failed: {msg}; the \
                 training set's values reach {:.1e}: the data's scale (--scale, the data \
                 files), the initial weights (--gain) or the activation (--activation \
                 {activation}: quad:α squares the pre-activations) put the class moments beyond \
                 what f64 holds",
                largest
            ))),
            other => other,
        }
    })
}

/// The warning after a cumulant training's first step when the run, at that step's time,
/// would take longer than [`LONG_RUN_SECONDS`] (as the sample objective's estimate before it
/// starts, `training_warning`); None below. adv48a: `--order 4 --hidden 784` on MNIST ran
/// ~1 s a step, 79 steps an epoch, without a word until its first epoch ended.
fn cumulant_time_warning(first: FirstStep, epochs: usize) -> Option<String> {
    let seconds = first.projected_seconds();
    (seconds > LONG_RUN_SECONDS).then(|| {
        format!(
            "warning: cumulant training's first step took {} s; its {} steps ({} of {}) may \
             take ~{}; --epochs sets the epochs (--batch the steps per epoch, \
             ⌈n_train/batch⌉; --order, --hidden and the training set's size the work of each)",
            match first.seconds {
                s if s >= 0.01 => format!("{s:.2}"),
                s => format!("{s:.1e}"),
            },
            first.steps,
            counted(epochs, "epoch"),
            counted(first.steps / epochs.max(1), "full-batch step"),
            human_seconds(seconds)
        )
    })
}

/// `n noun`, the noun plural (an appended "s") unless n is 1: "1 epoch", "16 epochs".
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The record of a training run: the `--json` output, displayed as the human summary.
#[derive(Serialize)]
pub struct TrainReport {
    pub task: String,
    pub widths: Vec<usize>,
    pub activation: String,
    pub objective: Objective,
    pub config: ReportedConfig,
    pub n_train: usize,
    pub n_test: usize,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub final_loss: f64,
    /// Classes below the network's class count with no training sample (a stray label, or a
    /// gap in the labels): their outputs only learn to stay low. Absent from the JSON when
    /// every class has a sample.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub absent_classes: Vec<usize>,
    /// The class count is the largest label + 1 (`--n-classes` not given, task data): the
    /// absent classes get a warning naming the flag.
    #[serde(skip)]
    classes_inferred: bool,
    /// A training that ended ≥ 10× a constant output's loss for a reason a setting names
    /// (`net::unlearned`: the cause, the losses, the settings), also warned of on stderr;
    /// absent from the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlearned: Option<Unlearned>,
    /// Cumulant objective: the trained network's loss on the Gaussian class model N(μ_c, Σ_c)
    /// of the training set, by Monte Carlo: what the objective should have reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gaussian_model_loss: Option<GaussianModelLoss>,
    pub wall_seconds: f64,
    /// With `--timings`: every stage's time and flops and the run's share of the GEMM rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<TimingSummary>,
    #[serde(serialize_with = "crate::report::path_text::lossy")]
    pub model: PathBuf,
    /// `--init`: the model file training started from (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<InitRecord>,
    pub epochs: Vec<EpochStats>,
    /// Seconds of each epoch, for `--timings`.
    #[serde(skip)]
    epoch_seconds: Vec<f64>,
    /// Flops of one sample-objective epoch (6 per weight and sample).
    #[serde(skip)]
    epoch_flops: f64,
}

/// The training configuration as `--json` reports it: `seed` is the seed the user gave
/// (`--seed`, which seeds the initialisation), `shuffle_seed` the one derived from it for the
/// per-epoch shuffles.
#[derive(Serialize)]
pub struct ReportedConfig {
    pub seed: u64,
    #[serde(flatten)]
    pub train: TrainConfig,
    /// The sampled check of the cumulant objective (absent for the samples objective).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closure_check: Option<CheckSettings>,
}

/// Trains the network `config` describes, writes it to `out` with its metadata, and returns
/// the record. `on_epoch` sees every epoch (progress display); stages are timed into `timings`.
pub fn train_model(
    config: &RunConfig,
    out: &Path,
    timings: &Timings,
    mut on_epoch: impl FnMut(&EpochStats),
) -> Result<TrainReport> {
    let start = Instant::now();
    let objective = config.train.objective;
    // `--init`: read before anything else, its architecture fills in and checks the
    // configuration's (`super::init`).
    let (init, configured) = with_init(config, Naming::Flags)?;
    let config = configured.as_ref();
    check_output_file(out)?;
    config.data.check_not_an_input(out)?;
    // The model records the data's paths (`provenance::records`).
    config.data.check_text_paths()?;
    config.data.check_applies_to(config.data.task())?;
    config.check_training_memory()?;
    if objective == Objective::Cumulants {
        // Refused before the data load: a bound's mean rule with the bound off, λ, the order.
        config.train.check().validate()?;
    }
    let loaded = timings.time("data load", 0.0, || config.load_data())?;
    let split = &loaded.split;
    let (mut net, cfg) = config.network(split.train.dim(), split.train.n_classes)?;
    // `--init`'s network as read, kept for the `unlearned` warning's start L₀.
    let (init, init_net) = match init {
        Some(init) => {
            let (file_net, record) = init.start(&net, &loaded.description)?;
            net = file_net;
            (Some(record), Some(net.clone()))
        }
        None => (None, None),
    };
    let absent_classes = absent_training_classes(&split.train)?;
    // The training's time, said before it starts (adv36: `--epochs 1000000`, about an hour,
    // ran without a word). The cumulant objective's full-batch steps are not counted so.
    if objective == Objective::Samples {
        let threads = rayon::current_num_threads();
        let (n, widths) = (split.train.len(), net.widths());
        if let Some(w) = training_warning(
            (&widths, &net.activation),
            n,
            (cfg.batch, cfg.epochs),
            threads,
        ) {
            timings.note(&w);
        }
    }
    let weights: usize = net.layers.iter().map(|l| l.fan_in() * l.fan_out()).sum();
    // GFLOP/s of sample training (forward + backward ≈ 6 flops per weight and sample); the
    // cumulant objective's cost is not a GEMM count, so it is timed without a rate.
    let epoch_flops = (6 * weights * split.train.len()) as f64;
    let mut epoch_seconds = Vec::new();
    let mut epoch_start = Instant::now();
    let each_epoch = |e: &EpochStats| {
        epoch_seconds.push(epoch_start.elapsed().as_secs_f64());
        on_epoch(e);
        epoch_start = Instant::now();
    };
    let (stage, flops) = match objective {
        Objective::Samples => ("training", epoch_flops * cfg.epochs as f64),
        Objective::Cumulants => ("training (cumulants)", 0.0),
    };
    let check = config.train.check();
    let activation = net.activation.to_string();
    let history = timings.time(stage, flops, || {
        super::train_checked(&split.train, &loaded.description, cfg.precision, || {
            fit(
                &mut net,
                &split.train,
                &cfg,
                objective,
                &check,
                each_epoch,
                |first| {
                    if let Some(w) = cumulant_time_warning(first, cfg.epochs) {
                        timings.note(&w);
                    }
                },
            )
        })
    });
    let history = match objective {
        Objective::Samples => history?,
        Objective::Cumulants => {
            naming_cumulant_overflow(history, &split.train, &loaded.description, &activation)?
        }
    };
    if let Some(note) = floor_note(&history) {
        timings.note(&note);
    }
    // A network that ended far worse than a constant output, for a reason a setting names, is
    // said so (`net::unlearned`), on stderr and in the JSON.
    // Its causes are read against the seeded start (`--gain`, `--lr` from there), or against
    // `--init`'s model as read (`--lr`, or the model far from these targets).
    let origin = match &init_net {
        Some(model) => Origin::Model(model),
        None => Origin::Seeded(config.net.start(net.activation.at(0))),
    };
    let unlearned = unlearned_warning(&history, &net, &split.train, origin, &cfg);
    if let Some(u) = &unlearned {
        timings.note(&u.to_string());
    }
    let gaussian_model_loss = match objective {
        Objective::Samples => None,
        Objective::Cumulants => Some(timings.time("Gaussian-model loss", 0.0, || {
            let stats = ClassStatistics::measure(&split.train)?;
            gaussian_model_loss(&net, &stats, defaults::GAUSSIAN_LOSS_DRAWS, config.net.seed)
        })?),
    };
    let eval_flops = (2 * weights * (split.train.len() + split.test.len())) as f64;
    let (train_accuracy, test_accuracy) = timings.time("evaluation", eval_flops, || {
        (net.accuracy(&split.train), net.accuracy(&split.test))
    });
    let mut meta = vec![
        (TASK_KEY, loaded.description.clone()),
        ("objective", objective.to_string()),
        ("loss", cfg.loss.to_string()),
        ("optimizer", cfg.optimizer.to_string()),
        ("epochs", cfg.epochs.to_string()),
        ("seed", config.net.seed.to_string()),
        ("precision", cfg.precision.to_string()),
        ("test_accuracy", format!("{test_accuracy}")),
    ];
    if objective == Objective::Cumulants {
        meta.push(("closure_check", check.weight.to_string()));
        meta.push(("check_samples", check.samples.to_string()));
        // The closure's order and, at 3|4, its corrected layers and bound, under --json's
        // names: without them an order-4 model with a clipped bound read as a Gaussian one
        // (adv72).
        meta.push(("order", check.order.to_string()));
        for (key, value) in [
            ("corrected_layers", check.layers.map(|l| l.to_string())),
            ("correction_bound", check.bound.map(|b| b.to_string())),
            (
                "correction_bound_mean",
                check.bound_mean.map(|m| m.to_string()),
            ),
            (
                "correction_bound_rule",
                check.bound_rule.map(|r| r.to_string()),
            ),
            (
                "correction_bound_reference",
                check.bound_reference.map(|r| r.to_string()),
            ),
        ] {
            meta.extend(value.map(|v| (key, v)));
        }
    }
    if let Some(init) = &init {
        meta.extend(init.metadata());
    }
    meta.extend(records(&loaded));
    model_io::save(&net, out, &meta)?;
    Ok(TrainReport {
        task: loaded.description,
        widths: net.widths(),
        activation: net.activation.to_string(),
        objective,
        n_train: split.train.len(),
        n_test: split.test.len(),
        train_accuracy,
        test_accuracy,
        final_loss: history.last().map_or(f64::NAN, |e| e.loss),
        absent_classes,
        classes_inferred: classes_inferred(config),
        unlearned,
        gaussian_model_loss,
        wall_seconds: start.elapsed().as_secs_f64(),
        timings: None,
        model: out.to_path_buf(),
        init,
        config: ReportedConfig {
            seed: config.net.seed,
            train: cfg,
            closure_check: (objective == Objective::Cumulants).then_some(check),
        },
        epochs: history,
        epoch_seconds,
        epoch_flops,
    })
}

impl TrainReport {
    /// The warning for its classes with no training sample (`absent_classes_warning`, shared
    /// with `analyze`).
    pub fn absent_classes_warning(&self) -> Option<String> {
        let k = self.widths.last().copied().unwrap_or(0);
        absent_classes_warning(&self.absent_classes, k, self.classes_inferred)
    }

    /// `training epoch  min … s  median … s  (E epochs, f64, … GFLOP/s at the median)`: the
    /// per-epoch figure of `--timings` for the samples objective (the first epoch includes
    /// buffer allocation and thread start-up, so the median is the steady state), and below it
    /// `training step phases` with each phase's median seconds per epoch ([`StepPhases`]).
    pub fn epoch_line(&self) -> Option<String> {
        (self.objective == Objective::Samples).then(|| {
            let line = epoch_line(
                &self.epoch_seconds,
                self.epoch_flops,
                self.config.train.precision,
            );
            let phases: Vec<StepPhases> = self.epochs.iter().filter_map(|e| e.phases).collect();
            if phases.is_empty() {
                return line;
            }
            let medians = StepPhases::NAMES.iter().enumerate().map(|(k, name)| {
                let seconds: Vec<f64> = phases.iter().map(|p| p.seconds()[k]).collect();
                format!("{name} {:.4}", min_median(&seconds).1)
            });
            format!(
                "{line}\ntraining step phases  (median s per epoch)  {}",
                medians.collect::<Vec<_>>().join("  ")
            )
        })
    }
}

/// The classes below the training set's class count with no training sample (a stray label,
/// or a gap in the labels): `train` and `analyze` without `--model` name them.
pub(crate) fn absent_training_classes(train: &Dataset) -> Result<Vec<usize>> {
    Ok(class_counts(&train.labels, train.n_classes)?
        .iter()
        .enumerate()
        .filter_map(|(c, &n)| (n == 0).then_some(c))
        .collect())
}

/// Whether the class count is the largest label + 1 (task data, `--n-classes` not given): only
/// then do absent classes get the warning naming the flag.
pub(crate) fn classes_inferred(config: &RunConfig) -> bool {
    config.data.task() == Task::Data && config.data.n_classes.is_none()
}

/// The warning for the `absent` classes of a network trained for `k` classes, where the count
/// was `inferred` from the labels (twenty-fifth session: labels 0…2 and one stray 7 trained an
/// 8-class network without a word). `None` where every class has a sample or `--n-classes`
/// chose the count (a gap so declared is meant).
pub(crate) fn absent_classes_warning(absent: &[usize], k: usize, inferred: bool) -> Option<String> {
    if absent.is_empty() || !inferred {
        return None;
    }
    Some(format!(
        "warning: the training set has no sample of {} of the {k} classes the network is \
         trained for ({k} = the largest label, {}, + 1: --n-classes not given); their \
         outputs only learn to stay low. If the gap is meant, --n-classes {k} says so (and \
         silences this warning); otherwise look for a stray label {} in --train-y or \
         --test-y",
        class_list(absent),
        k.saturating_sub(1),
        k.saturating_sub(1)
    ))
}

/// "class 3" or "classes 3, 4, 5".
pub(crate) fn class_list(classes: &[usize]) -> String {
    let list: Vec<String> = classes.iter().map(usize::to_string).collect();
    match list.len() {
        1 => format!("class {}", list[0]),
        _ => format!("classes {}", list.join(", ")),
    }
}

/// (min, median) of `values`; NaN for none.
fn min_median(values: &[f64]) -> (f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => (f64::NAN, f64::NAN),
        n if n % 2 == 1 => (sorted[0], sorted[n / 2]),
        n => (sorted[0], 0.5 * (sorted[n / 2 - 1] + sorted[n / 2])),
    }
}

fn epoch_line(seconds: &[f64], epoch_flops: f64, precision: Precision) -> String {
    let (min, median) = min_median(seconds);
    format!(
        "training epoch  min {min:.4} s  median {median:.4} s  ({} epochs, {precision}, {:.1} GFLOP/s at the median)",
        seconds.len(),
        epoch_flops / median * 1e-9
    )
}

/// The human summary.
impl fmt::Display for TrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "task            {}", self.task)?;
        writeln!(f, "network         {:?} {}", self.widths, self.activation)?;
        writeln!(
            f,
            "training        {} objective, {} epochs, batch {}, {} lr {:e}, loss {}",
            self.objective,
            self.config.train.epochs,
            self.config.train.batch,
            self.config.train.optimizer,
            self.config.train.lr,
            self.config.train.loss
        )?;
        writeln!(
            f,
            "samples         {} train, {} test",
            self.n_train, self.n_test
        )?;
        writeln!(f, "train accuracy  {:.4}", self.train_accuracy)?;
        writeln!(f, "test accuracy   {:.4}", self.test_accuracy)?;
        writeln!(f, "final loss      {:.5}", self.final_loss)?;
        if !self.absent_classes.is_empty() {
            writeln!(
                f,
                "absent classes  {} (no training sample)",
                class_list(&self.absent_classes)
            )?;
        }
        if let Some(g) = &self.gaussian_model_loss {
            writeln!(
                f,
                "Gaussian model  {:.5} ± {:.5} (loss on N(μ_c, Σ_c) draws)",
                g.loss, g.stderr
            )?;
        }
        if let Some(init) = &self.init {
            writeln!(
                f,
                "started from    {} ({} bytes, xxh64 {})",
                init.path.display(),
                init.bytes,
                init.xxh64
            )?;
        }
        writeln!(f, "wall time       {:.2} s", self.wall_seconds)?;
        writeln!(f, "model           {}", self.model.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One epoch reads "1 epoch", one step per epoch "1 full-batch step" (old: "(1 epochs of 16
    /// full-batch steps)", adv66); more read plural.
    #[test]
    fn the_cumulant_time_warning_counts_in_the_singular_where_one() {
        let warn = |steps, epochs| {
            cumulant_time_warning(
                FirstStep {
                    seconds: 1.0,
                    steps,
                },
                epochs,
            )
            .unwrap()
        };
        assert!(warn(16, 1).contains("16 steps (1 epoch of 16 full-batch steps)"));
        assert!(warn(16, 16).contains("16 steps (16 epochs of 1 full-batch step)"));
        assert!(warn(32, 2).contains("32 steps (2 epochs of 16 full-batch steps)"));
    }
}
