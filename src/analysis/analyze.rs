//! The whole analysis of one trained network on one data set (DESIGN.md §4.2–4.5): measured
//! accuracy, the accuracy predicted from every start layer, surrogate accuracy by correlation
//! order, the class information per stage, and the quadratic closure's transfer between orders.

use faer::Mat;
use serde::Serialize;

use super::accuracy::{corrected_order, has_kappa, mix_seed, AccuracyOptions, TheoryAccuracy};
use super::budget::{error_budget, OrderBudget};
use super::confusion::{largest_confusions, measured_confusion, ConfusionMatrix};
use super::information::{class_information, information_flops, StageInformation};
use super::outputs::ClassOutputs;
use super::start_layers::{
    carried_start_layer_outcomes, start_layer_outcomes, IndefiniteOutput, PendingStart,
    StartLayerOutcome,
};
use super::surrogate::{binomial_stderr, surrogate_accuracy, SurrogateAccuracy};
use super::tails::{output_tails, output_tails_flops, OutputTails, StartGaussians};
use super::transfer::{quadratic_transfer, LayerTransfer};
use crate::data::Labelled;
use crate::error::{Error, Field, Result};
use crate::measure::{
    layer_stats_and_outputs, CarryMode, CarryReport, CarrySettings, Check, HeldOut, Higher,
    STATS_BATCH,
};
use crate::net::Mlp;
use crate::net::Stage;
use crate::propagate::closures::{ClosureMethod, Corrections, Fallbacks};
use crate::propagate::EngineSettings;
use crate::stats::gaussian::{relative_frobenius, MAX_RIDGE, RIDGE_RANGE};
use crate::timing::Timings;

/// Settings of [`analyze`].
#[derive(Clone, Copy, Debug)]
pub struct AnalysisOptions {
    pub method: ClosureMethod,
    /// Monte Carlo draws per class for the predicted accuracy (≥ 3 outputs).
    pub mc_samples: usize,
    /// Surrogate draws per class (`None`: as many as the data has).
    pub surrogate_samples: Option<usize>,
    /// Relative ridge of the Bhattacharyya split.
    pub ridge: f64,
    /// Layer whose covariance is drawn as a heatmap: 1 … L for zˡ, L+1 for the output y.
    pub heatmap_layer: usize,
    /// Expansion order of the corrected theory from every start layer (`--order`: the row
    /// "x+κ" and the budget of that order; quadratic networks are corrected at order 4 even at
    /// order 2, where their closure is exact).
    pub order: Corrections,
    /// `--carry`: `order` at each start layer's first nonlinearity only, or carried through
    /// every later layer from the κ tensors measured at h^{l+1}
    /// ([`super::start_layers::carried_start_layer_outcomes`]).
    pub carry: CarrySettings,
    /// Seed of every random draw (Monte Carlo, surrogates).
    pub seed: u64,
    /// How the propagations compute (`--precision`, `--affine`).
    pub engine: EngineSettings,
}

/// A theory whose propagated output covariance is not positive semidefinite for `classes`.
#[derive(Clone, Debug, Serialize)]
pub struct IndefiniteStart {
    /// The theory's label, as in the theory accuracy table ("x (κ₃ carried from h1)", "z1", …).
    pub start_stage: String,
    pub classes: Vec<IndefiniteOutput>,
    /// Whether the theory's KL exists all the same (its ridge covers the negative eigenvalues).
    pub kl_exists: bool,
}

/// Everything `corrflow analyze` reports, as serialised to JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub n_samples: usize,
    /// Samples per class 0 … K−1 (0 for a class absent from the data).
    pub class_counts: Vec<u64>,
    /// Classes without samples in the analysed set: left out of every per-class result.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub absent_classes: Vec<usize>,
    pub widths: Vec<usize>,
    pub activation: String,
    /// The network's accuracy on the data.
    pub network_accuracy: f64,
    /// Binomial standard error of `network_accuracy`.
    pub network_accuracy_stderr: f64,
    /// Indexed by start layer l = 0 … L.
    pub theory_accuracy: Vec<TheoryAccuracy>,
    /// Theory from the input with the measured κ₃/κ₄ of h¹ at `order` (quadratic networks at
    /// order 4 when `order` is 2; else null at order 2).
    pub theory_accuracy_k3k4: Option<TheoryAccuracy>,
    /// The order of `theory_accuracy_k3k4`'s corrections (2 when there are none).
    pub order: u8,
    /// Units and pairs (over all classes) where those corrections broke down and stayed Gaussian.
    pub fallbacks: Option<Fallbacks>,
    /// Under `--carry depth`: per carried start layer, the order carried to which stage per
    /// class and every fallback.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub carried: Vec<CarryReport>,
    /// Under `--carry depth`: the carried theory from each start layer l = 0 … L at the output
    /// (l = L: the plain theory, the map to y being exact).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub carried_start_layers: Vec<StartLayerOutcome>,
    pub surrogate_accuracy: SurrogateAccuracy,
    /// One entry per stage: x, h1, z1, …, y; a stage where every class is constant has no
    /// split and no entry.
    pub information: Vec<StageInformation>,
    pub information_ridge: f64,
    /// Per hidden layer; null unless the activation is quadratic.
    pub transfer: Option<Vec<LayerTransfer>>,
    pub mc_samples: usize,
    pub seed: u64,
    /// The network's confusion matrix on the data.
    pub measured_confusion: ConfusionMatrix,
    /// The Gaussian theory from each start layer l = 0 … L at the output: its confusion matrix
    /// and its errors against the measured output.
    pub start_layers: Vec<StartLayerOutcome>,
    /// The off-diagonal cells (class, predicted as) largest in any of the confusion matrices
    /// that report.md shows ([`Analysis::confusion_matrices`]): the measured one, the Gaussian
    /// theory's from every start layer and, where they ran, the output tails' Edgeworth and
    /// Student t models (issue #16 item 4: the largest off-diagonal errors, measured or
    /// predicted).
    pub largest_confusions: Vec<[usize; 2]>,
    /// Every theory (Gaussian or corrected, from any start layer) whose propagated output
    /// covariance is not positive semidefinite for some class ([`IndefiniteOutput`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indefinite_outputs: Vec<IndefiniteStart>,
    /// The per-layer error budget, one per closure order run: order 2 (the Gaussian closure),
    /// then `order` when it is 3 or 4 (each start layer's first nonlinearity corrected with
    /// its measured κ slices).
    pub error_budget: Vec<OrderBudget>,
    /// Accuracy from the output's own cumulants to 4th order; null when a class has fewer
    /// than 2 samples or outputs that do not vary, or the network has more than
    /// `MAX_TAIL_OUTPUTS` outputs (`output_tails_note` says which).
    pub output_tails: Option<OutputTails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tails_note: Option<String>,
    /// Why `theory_accuracy_k3k4` is order 2's where it is ([`CarryMode::linear_first_note`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory_accuracy_k3k4_note: Option<String>,
}

/// The order carried through depth under `--carry depth` (None under `--carry first`); at
/// order 2 there is nothing to carry and the request is refused.
fn carried_order(carry: CarryMode, order: Corrections) -> Result<Option<Corrections>> {
    match (carry, order) {
        (CarryMode::First, _) => Ok(None),
        (CarryMode::Depth, Corrections::None) => Err(Error::Unsupported(
            "--carry depth carries κ₃/κ₄ through the layers: it needs --order 3 or 4, got 2".into(),
        )),
        (CarryMode::Depth, o) => Ok(Some(o)),
    }
}

impl Analysis {
    /// The confusion matrices report.md shows, in its columns' order: the measured one, the
    /// Gaussian theory's from every start layer, then the Edgeworth and Student t models of y
    /// where they ran. The corrected theories' (order 3/4, `--carry`) are not among them: their
    /// accuracy and budget are reported, their matrices are not.
    pub fn confusion_matrices(&self) -> Vec<&ConfusionMatrix> {
        shown_confusions(
            &self.measured_confusion,
            &self.start_layers,
            self.output_tails.as_ref(),
        )
    }
}

/// [`Analysis::confusion_matrices`] from its parts (before the analysis is assembled).
fn shown_confusions<'a>(
    measured: &'a ConfusionMatrix,
    start_layers: &'a [StartLayerOutcome],
    tails: Option<&'a OutputTails>,
) -> Vec<&'a ConfusionMatrix> {
    let mut matrices = vec![measured];
    matrices.extend(start_layers.iter().map(|o| &o.confusion));
    matrices.extend(
        tails
            .into_iter()
            .flat_map(|t| [&t.edgeworth_confusion, &t.student_t_confusion]),
    );
    matrices
}

/// The stage under which the surrogates, the class information and the output tails (with
/// start layer L's Monte Carlo rows where they share its draws) are recorded: they run side by
/// side ([`analyze`]).
pub const CLASS_ANALYSES: &str = "surrogates + information + tails";

/// Number of off-diagonal confusions listed.
const LARGEST_CONFUSIONS: usize = 6;

/// Most outputs for which the output-tails models run: the Edgeworth weight holds κ₄ as a
/// K² × K² matrix per class (32 outputs: 8 MB per class) and costs K⁴ per draw.
pub const MAX_TAIL_OUTPUTS: usize = 32;

/// Class 0's covariance at one stage, measured and propagated from the input.
#[derive(Clone, Debug)]
pub struct Heatmap {
    pub stage: Stage,
    pub class: usize,
    pub empirical: Mat<f64>,
    pub propagated: Mat<f64>,
    /// ‖propagated − empirical‖_F / ‖empirical‖_F.
    pub rel_err: f64,
}

/// Runs the analysis of `net` on `data`, recording its stages in `timings` ("forward pass +
/// statistics", "statistics", "affine", "closure", "Monte Carlo argmax", [`CLASS_ANALYSES`],
/// "transfer").
///
/// ```
/// use corrflow::analysis::{analyze, AnalysisOptions};
/// use corrflow::data::Dataset;
/// use corrflow::measure::CarrySettings;
/// use corrflow::net::{Activation, Mlp};
/// use corrflow::propagate::closures::{ClosureMethod, Corrections};
/// use corrflow::propagate::EngineSettings;
/// use corrflow::timing::Timings;
/// use faer::Mat;
///
/// // 200 samples of two classes in 2 dimensions (your features, one sample per column).
/// let data = Dataset {
///     x: Mat::from_fn(2, 200, |i, k| ((k * 7 + i * 3) % 11) as f64 / 11.0 + (k % 2) as f64),
///     labels: (0..200).map(|k| (k % 2) as u32).collect(),
///     n_classes: 2,
/// };
/// let net = Mlp::init(&[2, 8, 2], Activation::Tanh, 1.0, 3)?;
/// let options = AnalysisOptions {
///     method: ClosureMethod::Auto,
///     mc_samples: 1000,
///     surrogate_samples: None,
///     ridge: 1e-9,
///     heatmap_layer: 1,
///     order: Corrections::None,
///     carry: CarrySettings::default(),
///     seed: 1,
///     engine: EngineSettings::default(),
/// };
/// let (analysis, _heatmap) = analyze(&net, &data, options, &Timings::disabled())?;
/// // The theory from the input (l = 0) and from z¹ (l = 1).
/// assert_eq!(analysis.theory_accuracy.len(), 2);
/// assert!((0.0..=1.0).contains(&analysis.network_accuracy));
/// # Ok::<(), corrflow::Error>(())
/// ```
pub fn analyze<'a>(
    net: &Mlp,
    data: impl Into<Labelled<'a>>,
    opts: AnalysisOptions,
    timings: &Timings,
) -> Result<(Analysis, Heatmap)> {
    analyze_held_out(net, data.into(), None, opts, timings)
}

/// [`analyze`] with held-out samples of the same distribution (`held_out`: the samples, the
/// set's name, e.g. the other split, and the check they make, [`Check`]): under `--carry depth` and the pilot on
/// ([`crate::measure::CarrySettings::pilot_on`]) each start layer's carried output is checked
/// against their outputs per class and replaced by the Gaussian closure's where it is
/// significantly worse ([`crate::measure::HeldOut`]). Without them nothing is checked.
pub fn analyze_held_out(
    net: &Mlp,
    data: Labelled<'_>,
    held_out: Option<(Labelled<'_>, &str, Check)>,
    opts: AnalysisOptions,
    timings: &Timings,
) -> Result<(Analysis, Heatmap)> {
    let depth = net.depth();
    if !(1..=depth + 1).contains(&opts.heatmap_layer) {
        return Err(Error::config(
            Field::HeatmapLayer,
            format!(
                "{} is not a layer with a propagated covariance: use 1…{} (zˡ) or {} (the output)",
                opts.heatmap_layer,
                depth,
                depth + 1
            ),
        ));
    }
    if !(0.0..=MAX_RIDGE).contains(&opts.ridge) {
        return Err(Error::config(Field::Ridge, RIDGE_RANGE));
    }
    let carried = carried_order(opts.carry.mode, opts.order)?;
    let pilot = opts.carry.pilot_on()?;
    // carried_order refused --carry depth at order 2, so no carry here is --carry first.
    let higher = Higher::for_analysis(net.activation.uniform(), opts.order, opts.carry.mode);
    let (stats, outputs) = layer_stats_and_outputs(net, data, higher, STATS_BATCH, timings)?;
    let outputs = ClassOutputs::from_labels(outputs);
    let a = outputs.accuracy();
    let input = stats
        .get(Stage::Input)
        .ok_or_else(|| Error::Shape("no measured statistics for the input".into()))?;
    let acc_opts = AccuracyOptions {
        method: opts.method,
        mc_samples: opts.mc_samples,
        seed: opts.seed,
        engine: opts.engine,
    };
    let heatmap_stage = if opts.heatmap_layer > depth {
        Stage::Output
    } else {
        Stage::Post(opts.heatmap_layer)
    };
    // The start layers' Monte Carlo waits for the output tails, which draw every start layer's
    // rows on the common seed beside their own models where they can (`output_tails`).
    let (_, pending) = start_layer_outcomes(
        net,
        &stats,
        acc_opts,
        Corrections::None,
        (Some(heatmap_stage), true),
        timings,
    )?;
    // The theory corrected at order 3/4 at the first nonlinearity after each start layer: the
    // row "x+κ" (from l = 0) and the error budget of that order.
    let (corrected_order, corrected, carried) = match carried {
        Some(o) => {
            let held_out = match held_out.filter(|_| pilot) {
                Some(h) => {
                    Some(HeldOut::of(net, h, STATS_BATCH, timings)?.judged_by(opts.carry.judged()))
                }
                None => None,
            };
            let (runs, reports) = carried_start_layer_outcomes(
                net,
                (data, held_out.as_ref()),
                &stats,
                acc_opts,
                (o, opts.carry.kappa_units),
                STATS_BATCH,
                timings,
            )?;
            (Some(o), runs, reports)
        }
        None => {
            let o = corrected_order(net, opts.order).filter(|_| has_kappa(&stats, 1));
            let runs = match o {
                Some(o) => {
                    start_layer_outcomes(net, &stats, acc_opts, o, (None, false), timings)?.0
                }
                None => Vec::new(),
            };
            (o, runs, Vec::new())
        }
    };
    let order = corrected_order.map_or(2, |o| o.order());
    let (theory_k3k4, fallbacks) = corrected
        .first()
        .map(|r| (r.theory.clone(), r.fallbacks))
        .unzip();
    let theory_accuracy_k3k4_note = corrected_order
        .filter(|_| theory_k3k4.is_some() && carried.is_empty())
        .and_then(|o| CarryMode::First.linear_first_note(o, 0, net));
    // The carried runs report their fallbacks in `carried`, not as unit and pair counts.
    let fallbacks = fallbacks.filter(|_| carried.is_empty());
    let few = outputs.per_class.iter().position(|y| y.ncols() < 2);
    let tails_note = match few {
        _ if net.output_dim() > MAX_TAIL_OUTPUTS => Some(format!(
            "{} outputs: the Edgeworth model holds K⁴ numbers per class, computed only up to \
             {MAX_TAIL_OUTPUTS} outputs",
            net.output_dim()
        )),
        Some(i) => Some(format!(
            "class {} has fewer than 2 samples: no output cumulants",
            outputs.classes[i]
        )),
        None => None,
    };
    // The surrogates, the class information and the output tails read only the measured
    // statistics, outputs and data (the tails also the start layers' output Gaussians): side by
    // side, recorded once as one stage with the flops of all three (errors reported in this
    // order, as when they ran one after another).
    // The tails first: their tasks (one class's Monte Carlo each, ~14 ms of CPU for MNIST)
    // are the stage's largest, and started last they left one thread idle at its end while
    // the other finished one; the information's and the surrogates' smaller tasks fill in.
    let (tails, (information, surrogate)) = timings.time(CLASS_ANALYSES, 0.0, || {
        rayon::join(
            || {
                tails_note.is_none().then(|| {
                    let start = start_gaussians(&pending, &outputs.classes, &input.classes);
                    output_tails(&outputs, opts.mc_samples, opts.seed, start.as_deref())
                })
            },
            || {
                rayon::join(
                    || class_information(&stats, depth, opts.ridge),
                    || surrogate_accuracy(net, (data, a), input, opts.surrogate_samples, opts.seed),
                )
            },
        )
    });
    let surrogate = surrogate?;
    let information = information?;
    let (tails, start_rows, tails_note) = match tails {
        None => (None, Vec::new(), tails_note),
        Some(Ok((t, rows))) => (Some(t), rows, None),
        Some(Err(Error::Numeric(msg))) => (None, Vec::new(), Some(msg)),
        Some(Err(e)) => return Err(e),
    };
    let mut runs = pending
        .into_iter()
        .enumerate()
        .map(|(l, p)| {
            let known = start_rows.get(l).map_or(&[][..], Vec::as_slice);
            p.finish(&stats, acc_opts, known, timings)
        })
        .collect::<Result<Vec<_>>>()?;
    let propagated = runs
        .first_mut()
        .and_then(|r| r.kept_cov.take())
        .ok_or_else(|| Error::Shape(format!("no propagated statistics for {heatmap_stage}")))?;
    let heatmap = heatmap(&stats, heatmap_stage, propagated)?;
    let (theory, outcomes): (Vec<_>, Vec<_>) =
        runs.into_iter().map(|r| (r.theory, r.outcome)).unzip();
    let tails_flops = tails
        .as_ref()
        .map_or(0.0, |t| output_tails_flops(&outputs, t));
    timings.add_flops(
        CLASS_ANALYSES,
        surrogate.flops + information_flops(&information) + tails_flops,
    );
    let transfer = timings.time("transfer", 0.0, || quadratic_transfer(net, &stats))?;
    let measured = measured_confusion(&outputs);
    let largest = largest_confusions(
        &shown_confusions(&measured, &outcomes, tails.as_ref()),
        LARGEST_CONFUSIONS,
    );
    let network = (a, binomial_stderr(a, data.len()));
    let mut budget = vec![error_budget(2, &outcomes, network)?];
    let mut carried_start_layers = Vec::new();
    let corrected: Vec<StartLayerOutcome> = corrected.into_iter().map(|r| r.outcome).collect();
    let indefinite_outputs = outcomes
        .iter()
        .chain(&corrected)
        .filter(|o| !o.indefinite_classes.is_empty())
        .map(|o| IndefiniteStart {
            start_stage: o.start_stage.clone(),
            classes: o.indefinite_classes.clone(),
            kl_exists: o.kl.is_some(),
        })
        .collect();
    if !corrected.is_empty() {
        budget.push(error_budget(usize::from(order), &corrected, network)?);
        if !carried.is_empty() {
            carried_start_layers = corrected;
        }
    }
    let mut class_counts = vec![0; net.output_dim()];
    for (&c, &n) in input.classes.iter().zip(&input.counts) {
        class_counts[c] = n;
    }
    let analysis = Analysis {
        n_samples: data.len(),
        absent_classes: (0..class_counts.len())
            .filter(|&c| class_counts[c] == 0)
            .collect(),
        class_counts,
        widths: net.widths(),
        activation: net.activation.to_string(),
        network_accuracy: a,
        network_accuracy_stderr: network.1,
        theory_accuracy: theory,
        theory_accuracy_k3k4: theory_k3k4,
        order,
        fallbacks,
        carried,
        carried_start_layers,
        surrogate_accuracy: surrogate,
        information,
        information_ridge: opts.ridge,
        transfer,
        mc_samples: opts.mc_samples,
        seed: opts.seed,
        measured_confusion: measured,
        start_layers: outcomes,
        indefinite_outputs,
        largest_confusions: largest,
        error_budget: budget,
        output_tails: tails,
        output_tails_note: tails_note,
        theory_accuracy_k3k4_note,
    };
    Ok((analysis, heatmap))
}

/// Every start layer's output Gaussians and their common Monte Carlo seed per class, in the
/// order of the output tails' classes `tail_classes` (`pending`'s are those of the measured
/// input, `classes`); None when the two lists differ (the start layers then draw their own).
fn start_gaussians<'p>(
    pending: &'p [PendingStart],
    tail_classes: &[usize],
    classes: &[usize],
) -> Option<Vec<StartGaussians<'p>>> {
    let seed = pending.last()?.seed;
    let fits = tail_classes == classes
        && pending
            .iter()
            .all(|p| p.output.len() == classes.len() && p.seed == seed);
    fits.then(|| {
        classes
            .iter()
            .enumerate()
            .map(|(i, &c)| StartGaussians {
                layers: pending
                    .iter()
                    .map(|p| (p.output[i].mean.as_ref(), p.output[i].cov.as_ref()))
                    .collect(),
                seed: mix_seed(seed, c as u64),
            })
            .collect()
    })
}

/// Class 0's covariance at `stage`, measured (from `stats`) and `propagated` from the input.
fn heatmap(
    stats: &crate::measure::LayerStats,
    stage: Stage,
    propagated: Mat<f64>,
) -> Result<Heatmap> {
    let emp = stats
        .get(stage)
        .ok_or_else(|| Error::Shape(format!("no measured statistics for {stage}")))?;
    let empirical = emp.per_class[0].cov.clone();
    Ok(Heatmap {
        stage,
        class: emp.classes[0],
        rel_err: relative_frobenius(propagated.as_ref(), empirical.as_ref())?,
        empirical,
        propagated,
    })
}
