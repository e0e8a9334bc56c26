//! `corrflow analyze`: accuracy of the Gaussian description from every start layer, surrogate
//! inputs by correlation order, class information per stage and the quadratic closure's
//! transfer between orders (DESIGN.md §4), as a report that serialises to `--json`, displays as
//! the text tables and writes a report folder.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::train::{absent_classes_warning, absent_training_classes, class_list, classes_inferred};
use super::{
    check_network_fits, model_and_data, naming_data_below_biases, naming_data_scale, naming_model,
    shown,
};
use crate::analysis::{analyze_held_out, Analysis, Heatmap};
use crate::config::defaults::{mc_samples_problem, surrogate_samples_problem};
use crate::config::estimate::work::{
    monte_carlo_warning, propagation_warning, surrogate_warning, training_warning,
};
use crate::config::provenance::{records, Mismatch, TASK_KEY};
use crate::config::{DataConfig, Field, On, RunConfig};
use crate::data::{Labelled, Split};
use crate::error::{Error, Result};
use crate::io::check_folder_spares;
use crate::measure::CarryReport;
use crate::net::train::{train, EpochStats, TrainConfig};
use crate::net::unlearned::{unlearned_warning, Origin, Unlearned};
use crate::net::{model_io, Mlp, Stage};
use crate::propagate::closures::Corrections;
use crate::propagate::ClosurePair;
use crate::report::json::to_json;
use crate::report::{analysis_report, beyond, check_report_dir, number, tables, write_files};
use crate::timing::{TimingSummary, Timings};

/// How the network was obtained when no model file was given.
#[derive(Serialize)]
pub struct Trained {
    pub epochs: usize,
    pub n_train: usize,
    pub train_accuracy: f64,
    /// Classes below the class count with no training sample, as `train` reports them
    /// (absent from the JSON when every class has one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub absent_classes: Vec<usize>,
    /// The class count was inferred from the labels: the absent classes get the warning.
    #[serde(skip)]
    classes_inferred: bool,
    /// A training far worse than a constant output, as `train` reports it (`net::unlearned`;
    /// absent from the JSON otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlearned: Option<Unlearned>,
}

/// The `--json` output of `analyze`.
#[derive(Serialize)]
pub struct AnalyzeReport {
    #[serde(serialize_with = "crate::report::path_text::lossy_opt")]
    pub model: Option<PathBuf>,
    pub trained: Option<Trained>,
    pub task: String,
    pub on: On,
    pub closure: String,
    pub heatmap_layer: usize,
    #[serde(flatten)]
    pub analysis: Analysis,
    pub wall_seconds: f64,
    /// With `--timings`: every stage's time and flops and the run's share of the GEMM rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<TimingSummary>,
    /// The heatmap's matrices, for the report folder.
    #[serde(skip)]
    pub heatmap: Heatmap,
    /// Data settings the user chose differently from the model's (warnings on stderr).
    #[serde(skip)]
    pub mismatches: Vec<Mismatch>,
}

/// Analyses the model at `model`, or without one a network trained on the task's training set
/// as `config` describes (`on_epoch` sees its epochs), written to `keep` when given (as
/// `corrflow train --out` writes it, with the task, seed, data source and preprocessing in its
/// metadata; an error with `model`, which is already a file). `report`: the report folder that will be written; it and
/// `keep` are checked before the work starts.
pub fn analyze_run(
    config: &RunConfig,
    model: Option<&Path>,
    keep: Option<&Path>,
    report: Option<&Path>,
    timings: &Timings,
    on_epoch: impl FnMut(&EpochStats),
) -> Result<AnalyzeReport> {
    let start = Instant::now();
    let a = &config.analysis;
    if let Some(msg) = mc_samples_problem(a.mc_samples) {
        return Err(Error::config(Field::McSamples, msg));
    }
    if let Some(msg) = a.surrogate_samples.and_then(surrogate_samples_problem) {
        return Err(Error::config(Field::SurrogateSamples, msg));
    }
    if let Some(dir) = report {
        check_report_dir(dir)?;
        // The model read or written and the data files the flags name must not lie in the
        // folder the report replaces; the files a model's records name are checked once read.
        let mut spared = config.data.input_files();
        spared.extend(model.map(|m| (m.to_path_buf(), "the model (--model)")));
        spared.extend(keep.map(|o| (o.to_path_buf(), "the model file to write (--out)")));
        check_folder_spares(dir, spared.iter().map(|(p, what)| (p.as_path(), *what)))?;
    }
    if let Some(out) = keep {
        if model.is_some() {
            return Err(Error::Unsupported(
                "keeping the trained network (--out) needs a run without --model: a loaded \
                 model is already a file"
                    .into(),
            ));
        }
        crate::io::check_output_file(out)?;
        config.data.check_not_an_input(out)?;
        if let Some(dir) = report {
            let same = |a: &Path, b: &Path| {
                std::path::absolute(a)
                    .ok()
                    .is_some_and(|a| std::path::absolute(b).ok() == Some(a))
            };
            if same(out, dir) {
                // Else the model was written there after the training and the report then
                // refused the file it found (adv22: `--report R --out R`).
                return Err(Error::Unsupported(format!(
                    "--out and --report name the same path {}: the model file and the report \
                     folder need two paths",
                    out.display()
                )));
            }
        }
        // The model records the data's paths (`provenance::records`).
        config.data.check_text_paths()?;
    }
    let (net, trained, loaded, mismatches, trained_on, (largest, fresh)) = match model {
        Some(path) => {
            let m = model_and_data(config, path, timings, true, report)?;
            check_two_classes(&m.loaded.split, &m.loaded.description, (a.on, &config.data))?;
            let classes = a.on.pick(&m.loaded.split).n_classes;
            warn_long_runs(timings, (&m.net, classes, a.draws()), None);
            let extra = (m.largest, m.fresh);
            (m.net, None, m.loaded, m.mismatches, m.trained_on, extra)
        }
        None => {
            config.data.check_applies_to(config.data.task())?;
            config.check_memory_measuring(None, config.analysis_higher(None))?;
            let loaded = timings.time("data load", 0.0, || config.load_data())?;
            check_two_classes(&loaded.split, &loaded.description, (a.on, &config.data))?;
            let largest = super::check_classes(&loaded.split, &loaded.description, a.on)?;
            let train_set = &loaded.split.train;
            let (net, cfg) = config.network(train_set.dim(), train_set.n_classes)?;
            let classes = a.on.pick(&loaded.split).n_classes;
            let training = (train_set.len(), &cfg);
            warn_long_runs(timings, (&net, classes, a.draws()), Some(training));
            let (net, trained) = timings.time("training", 0.0, || {
                train_network(
                    config,
                    (net, cfg),
                    &loaded.split,
                    (&loaded.description, timings),
                    on_epoch,
                )
            })?;
            let fresh = timings.time("data load", 0.0, || super::fresh(config, &loaded))?;
            (net, trained, loaded, Vec::new(), None, (largest, fresh))
        }
    };
    if let Some(out) = keep {
        let mut meta = vec![
            (TASK_KEY, loaded.description.clone()),
            ("seed", config.net.seed.to_string()),
        ];
        meta.extend(records(&loaded));
        model_io::save(&net, out, &meta)?;
    }
    // The analysis reads the samples only in batches (`measure`): a test set of pixel bytes
    // is converted batch by batch.
    let data = match a.on {
        On::Test => loaded.split.test_labelled(),
        On::Train => Labelled::from(&loaded.split.train),
    };
    let what = model.map_or("the trained network".to_string(), shown);
    check_network_fits(
        &net,
        data,
        &what,
        &loaded.description,
        trained_on.as_deref(),
    )?;
    let closure = ClosurePair::describe(&ClosurePair::for_layers(&net, a.closure, true)?);
    if let Some(w) = order_without_hidden_layer(&net, a.order, &what) {
        timings.note(&w);
    }
    // The pilot's held-out samples: the other set (`--carry depth`, `measure::HeldOut`).
    let held_out = super::propagate::held_out(&loaded.split, a.on, fresh.as_ref());
    let precision = config.train.precision.unwrap_or_default();
    let analysed = analyze_held_out(
        &net,
        data,
        Some(held_out),
        a.options(config.net.seed, precision),
        timings,
    );
    // A numerical failure of data beyond the squares' range names the data, not the model.
    let analysed = naming_data_scale(analysed, (&loaded.description, a.on), largest, precision);
    // …and of data lost in the rounding of the first layer's biases, the data's scale.
    let analysed = naming_data_below_biases(
        analysed,
        (&loaded.description, a.on),
        largest,
        (&net, precision),
    );
    let (analysis, heatmap) = match model {
        Some(path) => naming_model(path, analysed)?,
        None => analysed?,
    };
    Ok(AnalyzeReport {
        model: model.map(Path::to_path_buf),
        trained,
        task: loaded.description,
        on: a.on,
        closure,
        heatmap_layer: a.heatmap_layer,
        analysis,
        wall_seconds: start.elapsed().as_secs_f64(),
        timings: None,
        heatmap,
        mismatches,
    })
}

/// The warning for `--order 3|4` on a network without a hidden layer (adv60: the order was
/// dropped to 2 without a word): there is no closure to correct, the affine map carries the
/// mean and covariance exactly, and order 2 is what the analysis reports.
fn order_without_hidden_layer(net: &Mlp, order: Corrections, what: &str) -> Option<String> {
    (net.depth() == 0 && order != Corrections::None).then(|| {
        format!(
            "warning: --order {}: {what} has no hidden layer ({:?}), so no closure to correct \
             (the map from x to y is affine: its mean and covariance are exact at order 2): order 2 is \
             reported",
            order.order(),
            net.widths()
        )
    })
}

/// The time the training (`training`: the training set's size and settings, without
/// `--model`), the theory from every start layer (quadratic in the depth), the surrogates'
/// draws (`--surrogate-samples`) and the Monte Carlo (`net`'s outputs for the analysed set's `classes`, with
/// `mc_samples` draws from each start layer) may take, when past
/// [`LONG_RUN_SECONDS`](crate::timing::duration::LONG_RUN_SECONDS), said through `timings`'
/// notes once, before the work (adv35: 150 classes at the default draws took 75 s of CPU
/// without a word; adv36's warning was printed on stderr by this library function, after the
/// training, into the progress lines).
fn warn_long_runs(
    timings: &Timings,
    (net, classes, (mc_samples, surrogates)): (&Mlp, usize, (usize, Option<usize>)),
    training: Option<(usize, &TrainConfig)>,
) {
    let threads = rayon::current_num_threads();
    let widths = net.widths();
    if let Some((n_train, cfg)) = training {
        if let Some(w) = training_warning(
            (&widths, &net.activation),
            n_train,
            (cfg.batch, cfg.epochs),
            threads,
        ) {
            timings.note(&w);
        }
    }
    let (outputs, start_layers) = (net.output_dim(), net.depth() + 1);
    if let Some(w) = propagation_warning((&widths, &net.activation), classes, threads) {
        timings.note(&w);
    }
    if let Some(w) = monte_carlo_warning(classes, outputs, mc_samples, start_layers, threads) {
        timings.note(&w);
    }
    let surrogates = surrogates.and_then(|s| surrogate_warning(&widths, classes, s, threads));
    if let Some(w) = surrogates {
        timings.note(&w);
    }
}

/// Trains `net` with `cfg` (the network `config` describes) on the training set; a network
/// that ended far worse than a constant output is noted in `timings` and kept in [`Trained`]
/// (`net::unlearned`).
fn train_network(
    config: &RunConfig,
    (mut net, cfg): (Mlp, TrainConfig),
    split: &Split,
    (description, timings): (&str, &Timings),
    on_epoch: impl FnMut(&EpochStats),
) -> Result<(Mlp, Option<Trained>)> {
    let history = super::train_checked(&split.train, description, cfg.precision, || {
        train(&mut net, &split.train, &cfg, on_epoch)
    })?;
    let start = config.net.start(net.activation.at(0));
    let unlearned = unlearned_warning(&history, &net, &split.train, Origin::Seeded(start), &cfg);
    if let Some(u) = &unlearned {
        timings.note(&u.to_string());
    }
    let trained = Trained {
        epochs: cfg.epochs,
        n_train: split.train.len(),
        train_accuracy: net.accuracy(&split.train),
        absent_classes: absent_training_classes(&split.train)?,
        classes_inferred: classes_inferred(config),
        unlearned,
    };
    Ok((net, Some(trained)))
}

impl AnalyzeReport {
    /// Without `--model`: `train`'s warning for the trained network's classes with no training
    /// sample (`command::train`'s `absent_classes_warning`, one function for both).
    pub fn absent_classes_warning(&self) -> Option<String> {
        let t = self.trained.as_ref()?;
        let k = self.analysis.widths.last().copied().unwrap_or(0);
        absent_classes_warning(&t.absent_classes, k, t.classes_inferred)
    }

    /// "classes 3, 4 absent (no training sample)" for the network this run trained, the line of
    /// the text and of report.md's header; `None` with `--model` or every class present.
    fn absent_training(&self) -> Option<String> {
        let t = self
            .trained
            .as_ref()
            .filter(|t| !t.absent_classes.is_empty())?;
        Some(format!(
            "{} absent (no training sample)",
            class_list(&t.absent_classes)
        ))
    }

    /// Writes report.md, report.json and the plots into `dir`; `command` is the command line
    /// recorded in the report's header.
    pub fn write_folder(&self, dir: &Path, command: String, timings: &Timings) -> Result<()> {
        let json = to_json(self, "report.json")?;
        let mut header = vec![(
            "model",
            self.model
                .as_ref()
                .map_or("trained by this run".into(), |p| p.display().to_string()),
        )];
        if let Some(absent) = self.absent_training() {
            header.push(("training", absent));
        }
        // A network that learned nothing usable, as stderr and report.json say (adv52: the
        // report's text was silent on it).
        if let Some(u) = self.trained.as_ref().and_then(|t| t.unlearned.as_ref()) {
            let text = u.to_string();
            let text = text.strip_prefix("warning: ").unwrap_or(&text).to_string();
            header.push(("unlearned", text));
        }
        header.extend([
            ("data", self.task.clone()),
            ("analysed set", self.on.name().to_string()),
            ("closure", self.closure.clone()),
            ("command", command),
        ]);
        timings.time("report", 0.0, || {
            let files = analysis_report(&header, &self.analysis, &self.heatmap, &json)?;
            write_files(dir, &files)
        })
    }
}

/// The text tables.
impl fmt::Display for AnalyzeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.analysis;
        match &self.model {
            Some(p) => writeln!(
                f,
                "model       {} {:?} {}",
                p.display(),
                a.widths,
                a.activation
            )?,
            None => writeln!(
                f,
                "model       trained here {:?} {}",
                a.widths, a.activation
            )?,
        }
        if let Some(absent) = self.absent_training() {
            writeln!(f, "training    {absent}")?;
        }
        writeln!(
            f,
            "data        {} ({} set, {} samples)",
            self.task,
            self.on.name(),
            a.n_samples
        )?;
        if !a.absent_classes.is_empty() {
            writeln!(
                f,
                "classes     {:?} have no sample in the {} set: left out of the per-class results",
                a.absent_classes,
                self.on.name()
            )?;
        }
        writeln!(f, "closure     {}", self.closure)?;
        writeln!(f)?;
        writeln!(
            f,
            "network accuracy {:.4} ± {}",
            a.network_accuracy,
            number::stderr(a.network_accuracy_stderr)
        )?;
        let mut theory = tables::theory(a);
        match &a.theory_accuracy_k3k4 {
            Some(t) if a.carried.is_empty() => theory.row_with_note(
                vec![
                    "0".into(),
                    "x+κ".into(),
                    format!("{:.4}", t.accuracy),
                    format!("{:.4}", t.stderr),
                    format!("{:+.4}", t.accuracy - a.network_accuracy),
                ],
                format!("(order {} at h1, the first nonlinearity)", a.order),
            ),
            _ => {}
        }
        for (o, r) in a.carried_start_layers.iter().zip(&a.carried) {
            theory.row_with_note(
                vec![
                    o.start_layer.to_string(),
                    format!("{}+κ", Stage::start(o.start_layer)),
                    format!("{:.4}", o.accuracy),
                    format!("{:.4}", o.accuracy_stderr),
                    format!("{:+.4}", o.accuracy - a.network_accuracy),
                ],
                format!(
                    "(order {} carried from {}; per class below)",
                    r.order, r.measured_at
                ),
            );
        }
        write!(f, "{}", theory.text(None))?;
        if let Some(note) = &a.theory_accuracy_k3k4_note {
            writeln!(f, "note: {note}")?;
        }
        if let Some(fallbacks) = a.fallbacks.as_ref().filter(|_| a.carried.is_empty()) {
            writeln!(f, "{}", super::propagate::fallback_line(fallbacks))?;
        }
        for line in a.carried.iter().flat_map(CarryReport::lines) {
            writeln!(f, "{line}")?;
        }
        for warning in beyond::indefinite_warnings(a) {
            writeln!(f, "warning     {warning}")?;
        }
        writeln!(f)?;
        write!(f, "{}", tables::surrogates(a).text(None))?;
        writeln!(f)?;
        // x, h and z of each hidden layer, y: those where every class is constant have no
        // split and are left out (`class_information`), which the table says.
        let stages = 2 * a.widths.len().saturating_sub(2) + 2;
        let left_out = match stages.saturating_sub(a.information.len()) {
            0 => String::new(),
            n => format!("; {n} of {stages} stages left out: every class constant there"),
        };
        let note = format!(
            "(Bhattacharyya, mean over class pairs, ridge {:e}{left_out})",
            a.information_ridge
        );
        write!(f, "{}", tables::information(a).text(Some(&note)))?;
        if let Some(transfer) = &a.transfer {
            writeln!(f)?;
            let note = "(quadratic closure, shares of term norms)";
            write!(f, "{}", tables::transfer_shares(transfer).text(Some(note)))?;
        }
        writeln!(f)?;
        let note = "(what each closure adds at the output; sums to the error from x)";
        write!(f, "{}", beyond::budget_text(a).text(Some(note)))?;
        for n in beyond::budget_notes(a) {
            writeln!(f, "note          {n}")?;
        }
        if let Some(t) = &a.output_tails {
            writeln!(
                f,
                "output tails  Gaussian {:.4} ± {}, Edgeworth {:.4} ± {}, Student t {:.4} ± {} \
                 (y's own cumulants)",
                t.gaussian_accuracy,
                number::stderr(t.gaussian_stderr),
                t.edgeworth_accuracy,
                number::stderr(t.edgeworth_stderr),
                t.student_t_accuracy,
                number::stderr(t.student_t_stderr)
            )?;
            if let Some(warning) = beyond::edgeworth_warning(t) {
                writeln!(f, "warning       {warning}")?;
            }
        }
        writeln!(f)?;
        writeln!(f, "depth       {} hidden layers", a.widths.len() - 2)?;
        writeln!(f, "wall time   {:.2} s", self.wall_seconds)
    }
}

/// Refuses an analysed set whose samples all carry one label, before any training, naming the
/// data and the setting that chose its labels ([`DataConfig::labels_field`]: adv35's one-class
/// test file named `--test-split`, which had not been given): the analysis compares the
/// classes' distributions (their information, confusions and error budget), and reached "class
/// information needs at least 2 classes" without saying which data.
fn check_two_classes(
    split: &Split,
    description: &str,
    (on, data): (On, &DataConfig),
) -> Result<()> {
    let labels = &on.pick(split).labels;
    match labels.split_first() {
        Some((&first, rest)) if rest.iter().all(|&l| l == first) => Err(Error::config(
            data.labels_field(on == On::Test),
            format!(
                "{description}: all {} samples of the {} set have label {first}; analyze \
                 compares the classes' distributions and needs samples of at least 2 classes",
                labels.len(),
                on.name()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::net::Activation;
    use crate::timing::StageObserver;

    /// `--order 3|4` on a network without a hidden layer is warned about (it was dropped to
    /// order 2 without a word, adv60); with a hidden layer, or at order 2, nothing is said.
    #[test]
    fn an_order_without_a_hidden_layer_is_warned_about() {
        let flat = Mlp::init(&[3, 3], Activation::Tanh, 1.0, 1).unwrap();
        let deep = Mlp::init(&[3, 4, 3], Activation::Tanh, 1.0, 1).unwrap();
        let w = order_without_hidden_layer(&flat, Corrections::K3K4, "m.safetensors").unwrap();
        assert!(
            w.starts_with("warning: --order 4: m.safetensors has no hidden layer ([3, 3])"),
            "{w}"
        );
        assert!(order_without_hidden_layer(&flat, Corrections::K3, "m").is_some());
        assert_eq!(
            order_without_hidden_layer(&flat, Corrections::None, "m"),
            None
        );
        assert_eq!(
            order_without_hidden_layer(&deep, Corrections::K3K4, "m"),
            None
        );
    }

    /// Every stage start and note, in order.
    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<String>>);

    impl StageObserver for Arc<Seen> {
        fn enter(&self, stage: &'static str) {
            self.0.lock().unwrap().push(format!("stage {stage}"));
        }
        fn note(&self, line: &str) {
            self.0.lock().unwrap().push(line.to_string());
        }
    }

    /// adv36's Monte Carlo warning was printed by this library code with `eprintln!`, after the
    /// training, into the command line's progress lines; the training's time had no warning.
    /// Both now go through the run's notes, once each, the training's first: a [4, 16, 150]
    /// net of 150 classes at 200 000 draws (1.35·10¹² flops, 2.3 min on 1 thread), trained for
    /// 10⁶ epochs of 4 000 samples; at 2 000 draws and 10 epochs nothing is said.
    /// `--surrogate-samples` at 10⁷ per class (XOR [2, 64, 64, 2]: 34.6 s at one thread) is
    /// said before the work, naming the flag; the data's own counts (None) and 10⁴ are not
    /// (adv48b: it ran without a word).
    #[test]
    fn many_surrogate_draws_are_said_before_the_work() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut config = RunConfig::default();
        config.net.hidden = Some(vec![64, 64]);
        let (net, _) = config.network(2, 2).unwrap();
        let notes = |surrogates: Option<usize>| {
            let seen = Arc::new(Seen::default());
            let timings = Timings::disabled().observed_by(Box::new(seen.clone()));
            pool.install(|| warn_long_runs(&timings, (&net, 2, (1000, surrogates)), None));
            let lines = seen.0.lock().unwrap().clone();
            lines
        };
        let lines = notes(Some(10_000_000));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("surrogate accuracy") && lines[0].contains("--surrogate-samples"),
            "{lines:?}"
        );
        assert!(notes(Some(10_000)).is_empty());
        assert!(notes(None).is_empty());
    }

    #[test]
    fn long_runs_are_said_through_the_notes_once() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let notes = |draws: usize, epochs: usize| {
            let seen = Arc::new(Seen::default());
            let timings = Timings::disabled().observed_by(Box::new(seen.clone()));
            let mut config = RunConfig::default();
            config.net.hidden = Some(vec![16]);
            let (net, mut cfg) = config.network(4, 150).unwrap();
            assert_eq!(net.widths(), [4, 16, 150]);
            cfg.epochs = epochs;
            pool.install(|| {
                warn_long_runs(&timings, (&net, 150, (draws, None)), Some((4000, &cfg)))
            });
            let lines = seen.0.lock().unwrap().clone();
            lines
        };
        let lines = notes(200_000, 1_000_000);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("warning: training [4, 16, 150] for 1000000 epochs")
                && lines[0].contains("--epochs"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains("150 classes × 200000 draws")
                && lines[1].contains("2.3 min")
                && lines[1].contains("--mc-samples"),
            "{lines:?}"
        );
        assert!(notes(2_000, 10).is_empty());
    }
}
