//! For every start layer l = 0 … L: the output predicted from layer l's measured statistics,
//! its accuracy and confusion matrix (one propagation and one Monte Carlo pass,
//! [`super::accuracy::theory_from`]), and its errors against the measured output — what the
//! theory accuracy, the error budget ([`super::budget`]) and the confusion report are built from.

use std::time::Instant;

use faer::Mat;
use serde::Serialize;

use super::accuracy::{
    corrected_label, output_of, propagate_from, theory_from, theory_of, theory_of_output,
    theory_seed, AccuracyOptions, LayerTheory, TheoryAccuracy,
};
use super::compare::{class_means, compare_stages};
use super::confusion::ConfusionMatrix;
use crate::data::Labelled;
use crate::error::{Error, Result};
use crate::measure::{propagate_carried, CarryReport, HeldOut, LayerStats};
use crate::net::{Mlp, Stage};
use crate::propagate::closures::{Corrections, Fallbacks};
use crate::propagate::Predicted;
use crate::stats::gaussian::ArgmaxDistribution;
use crate::stats::{indefinite_beyond_rounding, Moments};
use crate::timing::duration::{human_seconds, LONG_RUN_SECONDS};
use crate::timing::Timings;

/// The theory from one start layer, at the output.
#[derive(Clone, Debug, Serialize)]
pub struct StartLayerOutcome {
    pub start_layer: usize,
    pub start_stage: String,
    /// Rows P_{y~N(μ_c,Σ_c)}(argmax y = k), on the draws of the accuracy prediction.
    pub confusion: ConfusionMatrix,
    /// Σ_c p(c) P(argmax y = c | c): A_l of [`super::accuracy::theory_accuracy`], the same number.
    pub accuracy: f64,
    pub accuracy_stderr: f64,
    /// Class mean of ‖Σ_prop − Σ_emp‖_F / ‖Σ_emp‖_F at the output.
    pub cov_rel_err: f64,
    /// Class mean of KL(N_emp ‖ N_prop) at the output; null when a class has none.
    pub kl: Option<f64>,
    /// The classes whose propagated output covariance is not positive semidefinite beyond
    /// rounding ([`IndefiniteOutput`]); empty for a Gaussian closure, whose covariances are.
    pub indefinite_classes: Vec<IndefiniteOutput>,
}

/// A class whose propagated output covariance Σ has an eigenvalue below −`ROUNDING_LEVEL`·tr Σ:
/// no Gaussian has it (a truncated expansion's covariance need not be one). A carried theory
/// (`--carry depth`) falls back for that class ([`crate::propagate::OutputRule::Cut`]): its
/// output is then the Gaussian closure's from hidden layer `fallback.gaussian_from_layer` on,
/// and Σ here is the carried one it replaced. Any other theory keeps Σ: its accuracy draws
/// from Σ with the negative eigenvalues set to 0 ([`crate::stats::gaussian::GaussianSampler`]; with 2 outputs it
/// reads the variance of their difference, from that clipped Σ where the variance is negative:
/// [`crate::stats::gaussian::prob_argmax`]), and its KL does not exist unless the KL's
/// ridge covers the negative eigenvalues.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndefiniteOutput {
    pub class: usize,
    /// The most negative eigenvalue of Σ.
    pub most_negative_eigenvalue: f64,
    /// tr Σ, the sum of its eigenvalues, for scale.
    pub trace: f64,
    /// What replaced Σ in the theory; absent where Σ was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<OutputFallback>,
    /// With 2 outputs and Σ kept: uᵀΣu, u = e₀ − e₁, the variance of the outputs' difference,
    /// all the accuracy reads of Σ; where it is negative the accuracy reads it from Σ with its
    /// negative eigenvalue set to 0 ([`crate::stats::gaussian::prob_argmax`]). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difference_variance: Option<f64>,
}

/// The output a carried theory reports for a class whose carried output was indefinite.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutputFallback {
    /// The hidden layer from which the output is the Gaussian closure's (the first after the
    /// start layer: the Gaussian closure's run from the start).
    pub gaussian_from_layer: usize,
    /// The same in words: "the Gaussian closure's output from x", "the carry to z1 and the
    /// Gaussian closure from h2 on".
    pub fell_back_to: String,
}

impl OutputFallback {
    /// The fallback of a theory from layer `from` whose output is the Gaussian closure's from
    /// hidden layer `k` on.
    pub fn new(from: usize, k: usize) -> Self {
        let fell_back_to = if k <= from + 1 {
            format!("the Gaussian closure's output from {}", Stage::start(from))
        } else {
            format!(
                "the carry to z{} and the Gaussian closure from h{k} on",
                k - 1
            )
        };
        OutputFallback {
            gaussian_from_layer: k,
            fell_back_to,
        }
    }
}

/// The indefinite outputs of a carried theory from layer `from`: the classes its carry cut for
/// an indefinite output (`report`, with their fallback), then those of its final output
/// (`found`) not already listed, in class order.
fn carried_indefinite(
    report: &CarryReport,
    from: usize,
    found: Vec<IndefiniteOutput>,
) -> Vec<IndefiniteOutput> {
    let mut all: Vec<IndefiniteOutput> = report
        .classes
        .iter()
        .filter_map(|c| {
            c.indefinite_output.map(|i| IndefiniteOutput {
                class: c.class,
                most_negative_eigenvalue: i.most_negative_eigenvalue,
                trace: i.trace,
                fallback: Some(OutputFallback::new(from, i.gaussian_from_layer)),
                difference_variance: None,
            })
        })
        .collect();
    let listed: Vec<usize> = all.iter().map(|i| i.class).collect();
    all.extend(found.into_iter().filter(|i| !listed.contains(&i.class)));
    all.sort_by_key(|i| i.class);
    all
}

/// One start layer's theory: the accuracy row, the outcome, and the units and pairs where the
/// corrections (if any) fell back to the Gaussian closure.
#[derive(Clone, Debug)]
pub struct StartLayerRun {
    pub theory: TheoryAccuracy,
    pub outcome: StartLayerOutcome,
    pub fallbacks: Fallbacks,
    /// The first class's propagated covariance at the stage asked for (from l = 0 only).
    pub kept_cov: Option<Mat<f64>>,
}

/// The theory from every start layer l = 0 … L of `net` from its measured statistics `stats`,
/// closed with `opts.method` in `opts.engine`'s engine. With `corrections` (order 3 or 4) each
/// start layer's first nonlinearity h^{l+1} is corrected with its measured κ slices (`stats`
/// must hold them for every pre-activation, `Higher::Pre`) and labelled [`corrected_label`];
/// without, each is labelled by its start stage. Every start layer draws on the one seed
/// [`theory_seed`] (common random numbers).
/// With `keep`, the run from l = 0 also keeps the first class's propagated covariance at that
/// stage (the heatmap's, without a propagation of its own). With `defer`, every start layer is
/// propagated and compared but its Monte Carlo is left to [`PendingStart::finish`] (returned
/// instead of the runs), so that rows drawn elsewhere on its seed can be used.
pub fn start_layer_outcomes(
    net: &Mlp,
    stats: &LayerStats,
    opts: AccuracyOptions,
    corrections: Corrections,
    (keep, defer): (Option<Stage>, bool),
    timings: &Timings,
) -> Result<(Vec<StartLayerRun>, Vec<PendingStart>)> {
    let mut engine = opts.engine.engine();
    let (mut runs, mut pending) = (Vec::new(), Vec::new());
    let seed = theory_seed(opts.seed, net.depth());
    for l in 0..=net.depth() {
        let label = (corrections != Corrections::None && l < net.depth())
            .then(|| corrected_label(l, corrections));
        let began = Instant::now();
        let predicted = propagate_from(
            &mut engine,
            net,
            stats,
            l,
            (opts.method, corrections),
            timings,
        )?;
        if l == 0 && corrections == Corrections::None {
            let first = began.elapsed().as_secs_f64();
            if let Some(note) = remaining_propagations_note(first, net.depth()) {
                timings.note(&note);
            }
        }
        let kept_cov = match keep {
            Some(stage) if l == 0 => Some(first_class_cov(predicted, stage)?),
            _ => None,
        };
        let errors = output_errors(net, stats, predicted)?;
        if defer {
            pending.push(PendingStart {
                start_layer: l,
                output: output_of(predicted)?.to_vec(),
                seed,
                label,
                errors,
                kept_cov,
                fallbacks: engine.fallbacks(),
            });
            continue;
        }
        let t = theory_of(stats, l, predicted, opts, seed, timings)?;
        let mut run = run_of(l, t, errors, label);
        run.fallbacks = engine.fallbacks();
        run.kept_cov = kept_cov;
        runs.push(run);
    }
    Ok((runs, pending))
}

/// The note after the theory from x (`first` seconds for its L + 1 layer maps, L = `depth`)
/// when the theory from the other start layers, at that time per map, would take longer than
/// [`LONG_RUN_SECONDS`]: start layer l propagates L + 1 − l maps, the L others L(L + 1)/2 in
/// all, ~`first`·L/2. The estimate before the work counts a closure at 2 µs a unit
/// (`config::estimate::work::propagation_flops`); a closure's real cost depends on its input's
/// correlations, which no estimate before the run sees: `analyze` of a tanh network of 20 × 500
/// units trained one epoch on XOR (most unit pairs strongly correlated, their closure ~10⁴ times
/// the series' cost) ran over 41 min of CPU without a word (clo51). None at depth 0 or below the
/// threshold.
fn remaining_propagations_note(first: f64, depth: usize) -> Option<String> {
    let maps = depth * (depth + 1) / 2;
    let seconds = first * depth as f64 / 2.0;
    (seconds > LONG_RUN_SECONDS).then(|| {
        format!(
            "note: the theory from x propagated its {} layer maps in {}; the theory from the \
             other {depth} start layers ({maps} layer maps) may take ~{} more at that rate \
             (measured: the estimate before the work cannot see the closures' cost on \
             strongly correlated units); `corrflow propagate` runs the theory from x alone",
            depth + 1,
            human_seconds(first),
            human_seconds(seconds)
        )
    })
}

/// A start layer's run before its Monte Carlo ([`start_layer_outcomes`] with `defer`).
#[derive(Clone, Debug)]
pub struct PendingStart {
    /// l: the layer the theory starts from.
    pub start_layer: usize,
    /// The predicted output Gaussian of each class present.
    pub output: Vec<Moments>,
    /// The seed of its Monte Carlo: class c's rows are drawn on mix_seed(`seed`, c).
    pub seed: u64,
    label: Option<String>,
    errors: OutputErrors,
    /// The first class's propagated covariance at the stage `keep` asked for (l = 0 only).
    pub kept_cov: Option<Mat<f64>>,
    fallbacks: Fallbacks,
}

impl PendingStart {
    /// The run, with the rows `known[i]` (class i of `output`) that are `Some` taken as drawn
    /// (by the same Monte Carlo on the same seed) and the others drawn here.
    pub fn finish(
        self,
        stats: &LayerStats,
        opts: AccuracyOptions,
        known: &[Option<ArgmaxDistribution>],
        timings: &Timings,
    ) -> Result<StartLayerRun> {
        let l = self.start_layer;
        let t = theory_of_output(stats, l, &self.output, opts, (self.seed, known), timings)?;
        let mut run = run_of(l, t, self.errors, self.label);
        run.fallbacks = self.fallbacks;
        run.kept_cov = self.kept_cov;
        Ok(run)
    }
}

/// The first class's propagated covariance at `stage` (widened to f64 if stored in f32).
fn first_class_cov(predicted: &[Predicted], stage: Stage) -> Result<Mat<f64>> {
    predicted
        .iter()
        .find(|p| p.stage == stage && p.classes() > 0)
        .map(|p| p.cov(0).into_owned())
        .ok_or_else(|| Error::Shape(format!("no propagated statistics for {stage}")))
}

/// The class means of the propagated output's errors against the measured one: the relative
/// Frobenius error of the covariance and the KL divergence (null when a class has none).
#[derive(Clone, Debug)]
struct OutputErrors {
    cov_rel_err: f64,
    kl: Option<f64>,
    indefinite: Vec<IndefiniteOutput>,
}

/// [`OutputErrors`] of the propagated stages `predicted` (the output last).
fn output_errors(net: &Mlp, stats: &LayerStats, predicted: &[Predicted]) -> Result<OutputErrors> {
    let output = predicted
        .last()
        .ok_or_else(|| Error::Shape("propagation did not reach the output".into()))?;
    let rows = compare_stages(std::slice::from_ref(output), stats, net.depth())?;
    let mean = class_means(&rows)
        .pop()
        .ok_or_else(|| Error::Shape("no class to compare at the output".into()))?;
    let indefinite = rows
        .iter()
        .enumerate()
        .map(|(k, r)| indefinite_output(output, k, r.class))
        .filter_map(Result::transpose)
        .collect::<Result<_>>()?;
    Ok(OutputErrors {
        cov_rel_err: mean.cov_rel_err,
        kl: rows
            .iter()
            .map(|r| r.kl)
            .sum::<Option<f64>>()
            .map(|s| s / rows.len() as f64),
        indefinite,
    })
}

/// Class `class` (entry `k` of the propagated `output`) as an [`IndefiniteOutput`] when its
/// covariance has an eigenvalue below −`ROUNDING_LEVEL`·tr Σ (the eigendecomposition the
/// theory accuracy's draws use: K × K, K the number of outputs), else `None`.
fn indefinite_output(
    output: &Predicted,
    k: usize,
    class: usize,
) -> Result<Option<IndefiniteOutput>> {
    let what = format!("the output covariance of class {class}");
    let cov = output.cov(k);
    let found = indefinite_beyond_rounding((*cov).as_ref(), &what)?;
    let difference_variance =
        (cov.nrows() == 2).then(|| cov[(0, 0)] + cov[(1, 1)] - 2.0 * cov[(0, 1)]);
    Ok(found.map(|(lowest, trace)| IndefiniteOutput {
        class,
        most_negative_eigenvalue: lowest,
        trace,
        fallback: None,
        difference_variance,
    }))
}

/// The run of start layer `l` from its theory `t` and output errors, labelled `label` when it
/// is not the plain start stage.
fn run_of(l: usize, t: LayerTheory, errors: OutputErrors, label: Option<String>) -> StartLayerRun {
    let mut theory = t.accuracy;
    if let Some(label) = label {
        theory.start_stage = label;
    }
    let mut confusion = t.confusion;
    confusion.source.clone_from(&theory.start_stage);
    let outcome = StartLayerOutcome {
        start_layer: l,
        start_stage: theory.start_stage.clone(),
        accuracy: theory.accuracy,
        accuracy_stderr: theory.stderr,
        confusion,
        cov_rel_err: errors.cov_rel_err,
        kl: errors.kl,
        indefinite_classes: errors.indefinite,
    };
    StartLayerRun {
        theory,
        outcome,
        fallbacks: Fallbacks::default(),
        kept_cov: None,
    }
}

/// [`start_layer_outcomes`] with `order` (3 or 4) carried through every layer after each start
/// layer l < L from the κ tensors measured at h^{l+1} on `data` ([`propagate_carried`], classes
/// one at a time, `batch` samples per forward pass); from l = L the map to y is exact and the
/// plain theory is used; with held-out outputs (`held_out`) each carried output is checked by the pilot
/// ([`propagate_carried`]). Labels "x (κ₃ carried from h1)" …; seed [`theory_seed`]. Returns
/// the runs and, per carried start layer, what the carry did.
pub fn carried_start_layer_outcomes(
    net: &Mlp,
    (data, held_out): (Labelled<'_>, Option<&HeldOut>),
    stats: &LayerStats,
    opts: AccuracyOptions,
    (order, kappa_units): (Corrections, Option<usize>),
    batch: usize,
    timings: &Timings,
) -> Result<(Vec<StartLayerRun>, Vec<CarryReport>)> {
    let mut engine = opts.engine.engine();
    let mut reports = Vec::new();
    let mut runs = Vec::new();
    let seed = theory_seed(opts.seed, net.depth());
    for l in 0..=net.depth() {
        if l == net.depth() {
            let (t, predicted) = theory_from(
                &mut engine,
                net,
                stats,
                l,
                Corrections::None,
                opts,
                seed,
                timings,
            )?;
            let errors = output_errors(net, stats, predicted)?;
            runs.push(run_of(l, t, errors, None));
            continue;
        }
        let start = stats.get(Stage::start(l)).ok_or_else(|| {
            Error::Shape(format!("no measured statistics for {}", Stage::start(l)))
        })?;
        let (predicted, report) = propagate_carried(
            &mut engine,
            net,
            data,
            l,
            (&start.per_class, &start.classes),
            (usize::from(order.order()), kappa_units),
            held_out,
            opts.method,
            batch,
            timings,
        )?;
        let t = theory_of(stats, l, &predicted, opts, seed, timings)?;
        let kappa = if order == Corrections::K3 {
            "κ₃"
        } else {
            "κ₃/κ₄"
        };
        let label = format!("{} ({kappa} carried from h{})", Stage::start(l), l + 1);
        let mut errors = output_errors(net, stats, &predicted)?;
        errors.indefinite = carried_indefinite(&report, l, errors.indefinite);
        runs.push(run_of(l, t, errors, Some(label)));
        reports.push(report);
    }
    Ok((runs, reports))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Col;

    /// The other start layers run L(L + 1)/2 of the first's L + 1 maps: ~first·L/2 more. Depth
    /// 20 at 2 s: 210 maps, ~20 s, noted with both counts; depth 1 at 2 s (1 s) and depth 0
    /// are below the threshold.
    #[test]
    fn the_other_start_layers_are_projected_from_the_first() {
        let note = remaining_propagations_note(2.0, 20).expect("20 s is past the threshold");
        assert!(note.contains("its 21 layer maps in 2 s"), "{note}");
        assert!(
            note.contains("(210 layer maps) may take ~20 s more"),
            "{note}"
        );
        let note = remaining_propagations_note(30.0, 20).expect("past the threshold");
        assert!(note.contains("~5.0 min more"), "{note}");
        assert_eq!(remaining_propagations_note(2.0, 1), None);
        assert_eq!(remaining_propagations_note(1e6, 0), None);
    }

    /// An output stage of three classes: Σ positive definite, Σ with one eigenvalue of −ε·tr Σ
    /// (rounding: not flagged) and Σ = diag(2, 1, −0.5) rotated (flagged with −0.5, trace 2.5).
    #[test]
    fn only_an_output_covariance_negative_beyond_rounding_is_indefinite() {
        let rotate = |d: [f64; 3]| {
            // Q = I − 2vvᵀ/vᵀv with v = (1, 2, 2): orthogonal, so QDQᵀ has the eigenvalues d.
            let v = [1.0, 2.0, 2.0];
            let q = Mat::from_fn(3, 3, |i, j| {
                f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j] / 9.0
            });
            let d = Mat::from_fn(3, 3, |i, j| if i == j { d[i] } else { 0.0 });
            &q * &d * q.transpose()
        };
        let class = |cov: Mat<f64>| Moments::gaussian(Col::zeros(3), cov);
        let output = Predicted::from_classes(
            Stage::Output,
            vec![
                class(rotate([2.0, 1.0, 0.5])),
                class(rotate([2.0, 1.0, -1e-14])),
                class(rotate([2.0, 1.0, -0.5])),
            ],
        );
        assert_eq!(indefinite_output(&output, 0, 4).unwrap(), None);
        assert_eq!(indefinite_output(&output, 1, 5).unwrap(), None);
        let flagged = indefinite_output(&output, 2, 6).unwrap().unwrap();
        assert_eq!(flagged.class, 6);
        assert!(
            (flagged.most_negative_eigenvalue + 0.5).abs() < 1e-12,
            "{flagged:?}"
        );
        assert!((flagged.trace - 2.5).abs() < 1e-12, "{flagged:?}");
    }
}
