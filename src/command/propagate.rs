//! `corrflow propagate`: predict every layer's per-class mean and covariance from one layer's
//! measured statistics, and hold the prediction against the measured ones.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::{
    check_network_fits, model_and_data, naming_data_scale, naming_model, shown, ModelData,
};
use crate::analysis::{
    class_means, compare_stage_lean, compare_stages, comparison_flops, RoundingCarry,
    StageComparison,
};
use crate::config::provenance::Mismatch;
use crate::config::{AnalysisConfig, Field, On, RunConfig};
use crate::data::{Dataset, Labelled, Split};
use crate::error::{Error, Result};
use crate::io::trim::return_free_pages;
use crate::measure::{
    layer_stats_narrow, layer_stats_timed, propagate_carried, CarryMode, CarryReport, Check,
    HeldOut, Higher, LayerStats,
};
use crate::net::{Mlp, Precision, Stage};
use crate::propagate::closures::{ClosureMethod, Corrections, Fallbacks};
use crate::propagate::ClosurePair;
use crate::propagate::{PropagateOptions, Propagator};
use crate::report::tables;
use crate::timing::{TimingSummary, Timings};

/// The `--json` output of `propagate`, displayed as its tables.
#[derive(Serialize)]
pub struct PropagateReport {
    #[serde(serialize_with = "crate::report::path_text::lossy")]
    pub model: PathBuf,
    pub task: String,
    pub on: On,
    pub n_samples: usize,
    pub widths: Vec<usize>,
    pub activation: String,
    pub from_layer: usize,
    pub closure: String,
    /// The expansion order at the first nonlinearity (2 = Gaussian).
    pub order: u8,
    /// Units and pairs where the corrections broke down and the Gaussian was kept.
    pub fallbacks: Fallbacks,
    /// At order 3 or 4 from the last hidden layer: why the corrections did nothing (only the
    /// affine read-out follows, which maps every cumulant exactly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// With `--carry depth`: the order carried to which stage per class, and every fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carried: Option<CarryReport>,
    pub layers: Vec<StageComparison>,
    pub wall_seconds: f64,
    /// With `--timings`: every stage's time and flops and the run's share of the GEMM rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<TimingSummary>,
    /// Data settings the user chose differently from the model's (warnings on stderr).
    #[serde(skip)]
    pub mismatches: Vec<Mismatch>,
}

/// Measures `config`'s data through the model at `model`, propagates from
/// `config.analysis.from_layer` and compares every later stage. A numerical error names the
/// model.
pub fn propagate(config: &RunConfig, model: &Path, timings: &Timings) -> Result<PropagateReport> {
    naming_model(model, propagate_model(config, model, timings))
}

fn propagate_model(config: &RunConfig, model: &Path, timings: &Timings) -> Result<PropagateReport> {
    let start = Instant::now();
    let a = &config.analysis;
    let ModelData {
        net,
        mismatches,
        loaded,
        trained_on,
        largest,
        fresh,
    } = model_and_data(config, model, timings, false, None)?;
    // Only the split the run measures is loaded; a test set of plain pixels is held as its
    // bytes (7.8 MB for MNIST's 10 000 samples instead of 63 MB of f64), read batch by batch.
    let samples = Samples {
        split: loaded.split,
        on: a.on,
        fresh,
    };
    let n_samples = samples.labelled().len();
    check_network_fits(
        &net,
        samples.labelled(),
        &shown(model),
        &loaded.description,
        trained_on.as_deref(),
    )?;
    check_from_layer(a.from_layer, &net, model)?;
    let closure = ClosurePair::describe(&ClosurePair::for_layers(&net, a.closure, true)?);
    let carried = carried_order(a.carry.mode, a.order, a.from_layer, net.depth())?;
    let higher = match carried {
        Some(_) => Higher::None,
        None => Higher::for_propagation(a.order, a.from_layer, net.depth()),
    };
    let settings = config.engine();
    let mut engine = settings.engine();
    // A numerical failure of data beyond the squares' range names the data, not the model.
    let work = || {
        if settings.precision == Precision::F32 && higher == Higher::None && carried.is_none() {
            // An f32 propagation without κ slices holds every measured stage in f32
            // (`stats::narrow`: accumulated in f64, rounded once finished) and compares each
            // predicted stage as soon as it is ready ([`streamed`]).
            let stats = layer_stats_narrow(&net, samples.labelled(), &[], a.stats_batch, timings)?;
            // Only the statistics read the samples: released before the propagation.
            drop(samples);
            return_free_pages();
            let (from, method) = (a.from_layer, a.closure);
            let layers = streamed(&mut engine, &net, from, stats, method, timings)?;
            Ok((layers, engine.fallbacks(), None))
        } else {
            in_f64(engine, &net, samples, (higher, carried), a, timings)
        }
    };
    let (layers, fallbacks, carried) = naming_data_scale(
        work(),
        (&loaded.description, a.on),
        largest,
        settings.precision,
    )?;
    Ok(PropagateReport {
        model: model.to_path_buf(),
        task: loaded.description,
        on: a.on,
        n_samples,
        widths: net.widths(),
        activation: net.activation.to_string(),
        from_layer: a.from_layer,
        closure,
        order: a.order.order(),
        note: read_out_only(a.order, a.from_layer, net.depth())
            .or_else(|| a.carry.mode.linear_first_note(a.order, a.from_layer, &net)),
        fallbacks,
        carried,
        layers,
        wall_seconds: start.elapsed().as_secs_f64(),
        timings: None,
        mismatches,
    })
}

/// The samples a run measures, owned so that they can be released once measured.
struct Samples {
    split: Split,
    on: On,
    /// `--pilot fresh`: the generated task's fresh samples and their description.
    fresh: Option<(Dataset, String)>,
}

impl Samples {
    /// The measured split as the measurements read it ([`Split::test_labelled`] for the test
    /// set: its pixel bytes when it was assembled compact).
    fn labelled(&self) -> Labelled<'_> {
        match self.on {
            On::Train => Labelled::from(&self.split.train),
            On::Test => self.split.test_labelled(),
        }
    }

    /// The pilot's held-out samples, their name and the check they make: the fresh samples
    /// where there are some, else the other set's halves ([`held_out`]).
    fn held_out(&self) -> (Labelled<'_>, &str, Check) {
        held_out(&self.split, self.on, self.fresh.as_ref())
    }
}

/// The pilot's held-out samples ([`HeldOut`]), their name and the check they make: `fresh`
/// samples of a generated task (`--pilot fresh`: the reported output tested against them), else
/// the set of `split` that is not `on` (its halves).
pub(super) fn held_out<'a>(
    split: &'a Split,
    on: On,
    fresh: Option<&'a (Dataset, String)>,
) -> (Labelled<'a>, &'a str, Check) {
    match (fresh, on) {
        (Some((d, set)), _) => (Labelled::from(d), set, Check::ReportedOutput),
        (None, On::Train) => (split.test_labelled(), "test set", Check::Halves),
        (None, On::Test) => (Labelled::from(&split.train), "training set", Check::Halves),
    }
}

/// `--from-layer` names a stage the network has: the input (0) or a hidden layer.
fn check_from_layer(from: usize, net: &Mlp, model: &Path) -> Result<()> {
    if from > net.depth() {
        return Err(Error::config(
            Field::FromLayer,
            format!(
                "{from} is beyond the last hidden layer ({}) of {}",
                net.depth(),
                model.display()
            ),
        ));
    }
    Ok(())
}

/// The f64 route: every stage's statistics (with the κ slices `higher` asks for), the
/// propagation — carried through depth at order `carried`, or with corrections at the first
/// nonlinearity only — and the comparison of every predicted stage with the measured one.
/// The samples are released as soon as nothing reads them.
fn in_f64(
    mut engine: Propagator,
    net: &Mlp,
    samples: Samples,
    (higher, carried): (Higher, Option<usize>),
    a: &AnalysisConfig,
    timings: &Timings,
) -> Result<(Vec<StageComparison>, Fallbacks, Option<CarryReport>)> {
    let start_stage = Stage::start(a.from_layer);
    let stats = layer_stats_timed(net, samples.labelled(), higher, a.stats_batch, timings)?;
    let measured = |stage| &stats.get(stage).expect("every stage is measured").per_class;
    let start_moments = measured(start_stage);
    let (predicted, fallbacks, carried) = match carried {
        Some(order) => {
            let classes = &stats.get(start_stage).expect("measured").classes;
            let held_out = if a.carry.pilot_on()? {
                Some(
                    HeldOut::of(net, samples.held_out(), a.stats_batch, timings)?
                        .judged_by(a.carry.judged()),
                )
            } else {
                None
            };
            let (predicted, report) = propagate_carried(
                &mut engine,
                net,
                samples.labelled(),
                a.from_layer,
                (start_moments, classes),
                (order, a.carry.kappa_units),
                held_out.as_ref(),
                a.closure,
                a.stats_batch,
                timings,
            )?;
            (predicted, Fallbacks::default(), Some(report))
        }
        None => {
            // Only the statistics read the samples: released before the propagation.
            drop(samples);
            // The measured κ slices of the first pre-activation, where the corrections read them.
            let first_pre = (higher != Higher::None && a.from_layer < net.depth())
                .then(|| measured(Stage::Pre(a.from_layer + 1)))
                .map(Vec::as_slice);
            let options = PropagateOptions {
                method: a.closure,
                corrections: a.order,
            };
            engine.run(
                net,
                a.from_layer,
                start_moments,
                first_pre,
                options,
                timings,
            )?;
            let fallbacks = engine.fallbacks();
            // The engine's buffers are released after the comparison (at the end of this
            // function), not in the middle of the run.
            (engine.take_stages(), fallbacks, None)
        }
    };
    // The start stage is not compared, but its units that vary in each class bound the rank
    // of the next pre-activation's covariance (`compare_stages`): held to the end.
    let layers = timings.time("comparison", 0.0, || {
        compare_stages(&predicted, &stats, net.depth())
    })?;
    timings.add_flops("comparison", comparison_flops(&predicted, &layers));
    Ok((layers, fallbacks, carried))
}

/// Propagates in f32 from layer `from` with `stats` held in f32 ([`layer_stats_narrow`]) and
/// compares each predicted stage with its measured one as soon as the engine hands it over
/// ([`Propagator::run_streamed`]); each compared stage's measured and predicted covariances
/// are released at once, so only the rows of the comparison outlive their stage. The rows are
/// those of [`compare_stages`] over all stages after the run, in the same order.
fn streamed(
    engine: &mut Propagator,
    net: &Mlp,
    from: usize,
    mut stats: LayerStats,
    method: ClosureMethod,
    timings: &Timings,
) -> Result<Vec<StageComparison>> {
    let start_stage = Stage::start(from);
    let start = stats.take_narrow(start_stage).ok_or_else(|| {
        Error::Shape(format!(
            "no f32 statistics of the start stage {start_stage}"
        ))
    })?;
    let depth = net.depth();
    let mut layers = Vec::new();
    let mut carry = RoundingCarry::default();
    engine.run_streamed(net, from, start, method, timings, &mut |p| {
        let one = std::slice::from_ref(p);
        let rows = timings.time("comparison", 0.0, || {
            compare_stage_lean(p, &stats, depth, &mut carry)
        })?;
        timings.add_flops("comparison", comparison_flops(one, &rows));
        // Compared: no later stage or output reads this measured stage.
        stats.take_narrow(p.stage);
        return_free_pages();
        layers.extend(rows);
        Ok(())
    })?;
    Ok(layers)
}

/// The text output: the header, every (stage, class) row, the means over classes.
impl fmt::Display for PropagateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model       {} {:?} {}",
            self.model.display(),
            self.widths,
            self.activation
        )?;
        writeln!(
            f,
            "data        {} ({} set, {} samples)",
            self.task,
            self.on.name(),
            self.n_samples
        )?;
        writeln!(
            f,
            "closure     {} from layer {}, order {}",
            self.closure, self.from_layer, self.order
        )?;
        match &self.carried {
            Some(c) => {
                for line in c.lines() {
                    writeln!(f, "{line}")?;
                }
            }
            None => match &self.note {
                Some(note) => writeln!(f, "note        {note}")?,
                None if self.order > 2 => writeln!(f, "{}", fallback_line(&self.fallbacks))?,
                None => {}
            },
        }
        writeln!(f)?;
        write!(f, "{}", tables::comparisons(&self.layers).text(None))?;
        writeln!(f)?;
        writeln!(f, "mean over classes")?;
        write!(
            f,
            "{}",
            tables::class_means(&class_means(&self.layers)).text(None)
        )?;
        if self
            .layers
            .iter()
            .any(|r| r.degenerate && r.unresolved.is_none())
        {
            writeln!(f, "{}", tables::DEGENERATE_NOTE)?;
        }
        if self.layers.iter().any(|r| r.unresolved.is_some()) {
            writeln!(f, "{}", tables::UNRESOLVED_NOTE)?;
        }
        if self.layers.iter().any(|r| r.indefinite) {
            writeln!(f, "{}", tables::INDEFINITE_NOTE)?;
        }
        writeln!(f)?;
        writeln!(f, "wall time   {:.2} s", self.wall_seconds)
    }
}

/// The order carried through depth (`--carry depth`), or None for the first-nonlinearity
/// corrections (`--carry first`, the default) and for the last hidden layer, from which the map
/// to y is exact; `--carry depth` at order 2 is refused.
pub fn carried_order(
    carry: CarryMode,
    order: Corrections,
    from: usize,
    depth: usize,
) -> Result<Option<usize>> {
    match (carry, order) {
        (CarryMode::First, _) => Ok(None),
        (CarryMode::Depth, Corrections::None) => Err(Error::Unsupported(
            "--carry depth carries κ₃/κ₄ through the layers: it needs --order 3 or 4, got 2".into(),
        )),
        (CarryMode::Depth, _) if from >= depth => Ok(None),
        (CarryMode::Depth, o) => Ok(Some(usize::from(o.order()))),
    }
}

/// The note of a propagation at order 3 or 4 (`order`) from the last hidden layer (`from` =
/// `depth`): there is no nonlinearity after it to correct, only the read-out y = W h + b,
/// which maps the mean and covariance exactly (E y = W E h + b, Cov y = W Cov h Wᵀ), so
/// κ₃/κ₄ change nothing and the result is order 2's. `None` otherwise. The run is not refused:
/// a scan over every start layer at order 3 reaches this layer too.
fn read_out_only(order: Corrections, from: usize, depth: usize) -> Option<String> {
    (order != Corrections::None && from >= depth).then(|| {
        format!(
            "from layer {from}, the last hidden layer, only the affine read-out follows; it \
             maps the mean and covariance exactly, so there is no nonlinearity for order {} \
             to correct and the result is order 2's",
            order.order()
        )
    })
}

/// The text line on the corrections' breakdowns: how many units and pairs (over all classes)
/// were left Gaussian, out of how many were tried; when none was tried (a closure that takes
/// κ₃/κ₄ in closed form, the quadratic, or no unit with a positive variance), that, instead of
/// "0 of 0".
pub fn fallback_line(f: &Fallbacks) -> String {
    if f.units_tried == 0 && f.pairs_tried == 0 {
        return "fallbacks   none: no unit or pair went through the Gram–Charlier expansion (the \
                closure takes κ₃/κ₄ in closed form, or no unit has a positive variance)"
            .into();
    }
    format!(
        "fallbacks   {} of {} units and {} of {} pairs kept Gaussian, {} units at order 3 only \
         (outside the Gram–Charlier positivity region, variance ≤ 0 or |ρ| > 1); {} of {} \
         classes' covariances not positive semidefinite as corrected, their negative eigenvalues \
         raised to {} × the Gaussian closure's variance along them",
        f.units,
        f.units_tried,
        f.pairs,
        f.pairs_tried,
        f.units_order3,
        f.projected,
        f.classes_tried,
        crate::propagate::closures::CONE_FLOOR_SHARE
    )
}
