//! Orders 3/4 carried through every layer from measured start tensors (issue #16 item 2), the
//! path behind `propagate`/`analyze --order 3|4 --carry depth`.
//!
//! For start layer l (< L): h^{l+1} = W z^l + b is an affine function of the measured samples,
//! so its full κ₃ (κ₄) is measured exactly from the projected samples of each class
//! ([`super::tensors`]), and at order 3 the κ₄ classes its dense carry reads (κ₄\[i,i,j,j\],
//! κ₄\[i,i,i,j\], κ₄\[i,i,j,k\]: `measure_third`; left at zero, the rule's diagrams that
//! balance them acted alone, EXPERIMENTS.md "MNIST order 3, ninth session"); from there
//! [`Propagator::run_carried`] applies the closure, its
//! chaos rule and the exact affine map of the tensors to every later layer
//! ([`crate::propagate::higher`]). Classes run one at a time, so the memory is that of one
//! class's tensors ([`tensor_bytes`]`(N, order, 1)` at the widest layer after l, plus the
//! measurement's P × P sum at order 4, P = N(N+1)/2).
//!
//! With the pilot (`--pilot on`, the default) each class is also run from the start measured
//! on one half of the held-out set and checked against the other half's outputs ([`HeldOut`],
//! `pilot_class`); where its carried output is significantly worse there (the start half's
//! noise counted by a jackknife where the draws' alone put z above the limit, unless every
//! jackknife replicate is worse on its own), or where the check cannot judge the reported
//! carry (its own carry stopped at an earlier layer), the reported output is the Gaussian
//! closure's ([`Judgement`]). The check follows the reported run's path: its breakdown limits
//! apply only from the layer where the reported run stopped ([`Carry::with_rules_from`]).

use std::time::Instant;

use clap::ValueEnum;
use faer::Mat;
use serde::{Deserialize, Serialize};

use super::held_out::{Check, HeldOut, PILOT_MIN_SAMPLES};
use super::tensors::{
    first_pre_samples, measure_tensors, sample_slices, start_samples, tensor_flops, third_flops,
};
use crate::data::Labelled;
use crate::error::{Error, Result};
use crate::linalg::columns;
use crate::net::{Activation, Mlp};
use crate::propagate::closures::Closure;
use crate::propagate::closures::{ClosureMethod, Corrections};
use crate::propagate::higher::carry::GaussianUnits;
use crate::propagate::higher::output_guard::guard_output_directions;
use crate::propagate::higher::pilot::{
    held_out_check, replicates_worse, PilotVerdict, JACKKNIFE_GROUPS, PILOT_Z,
};
use crate::propagate::higher::sampled::measure_third;
use crate::propagate::higher::subset::{Slices, SubsetCarry};
use crate::propagate::higher::tensor::{check_memory, tensor_bytes, DEFAULT_TENSOR_BYTES};
use crate::propagate::higher::triple4::Unpaired4;
use crate::propagate::higher::{Carry, Fallback, Tensors};
use crate::propagate::{ClosurePair, IndefiniteCarried, OutputRule, Predicted, Propagator};
use crate::stats::{MomentAccumulator, Moments};
use crate::timing::Timings;

/// Where `--order 3|4` applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CarryMode {
    /// At the first nonlinearity after the start layer only, from its measured κ slices.
    #[default]
    First,
    /// Through every later layer: full κ tensors measured at the first pre-activation,
    /// carried by the exact affine map and the closure's chaos rule.
    Depth,
}

impl CarryMode {
    /// The note of a run at `order` (3 or 4) carried this way from layer `from` of `net` whose
    /// first nonlinearity after it is linear (a mixed network such as `linear,quad:0.5`): φ(h)
    /// = h maps every cumulant exactly, so under `First` the corrections there change nothing
    /// and every later layer is closed Gaussian: the result is order 2's (adv58: z² of a
    /// [2, 3, 3, 3] `linear,quad:0.5` model read cov_rel_err 0.495 at orders 2, 3 and 4 alike
    /// without a word; `Depth` carries κ₃/κ₄ on to the quadratic and is exact there). `None`
    /// otherwise.
    pub fn linear_first_note(self, order: Corrections, from: usize, net: &Mlp) -> Option<String> {
        let linear = from < net.depth() && net.activation.at(from) == Activation::Linear;
        (order != Corrections::None && self == CarryMode::First && linear).then(|| {
            format!(
                "the first nonlinearity after layer {from} is linear, which maps every cumulant \
                 exactly: order {}'s corrections there change nothing and the later layers are \
                 closed Gaussian, so the result is order 2's (--carry depth carries κ₃/κ₄ on)",
                order.order()
            )
        })
    }
}

/// `--pilot`: whether a run carried through depth from data is checked against the outputs of
/// held-out samples ([`HeldOut`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PilotMode {
    /// Check each class's carried output against the held-out split's outputs and replace it
    /// by the Gaussian closure's where it is significantly worse.
    On,
    /// Keep every carried output unchecked.
    Off,
    /// Generated tasks: test each class's reported carried output against fresh samples of
    /// the task's generator (never seen by the network or the report) and replace it by the
    /// Gaussian closure's where it is significantly worse ([`HeldOut::fresh`]).
    Fresh,
}

/// `--carry`, `--kappa-units` and `--pilot`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CarrySettings {
    pub mode: CarryMode,
    /// Units the subset approximation keeps per layer (None: the full tensors where they fit,
    /// else [`DEFAULT_KAPPA_UNITS`]).
    pub kappa_units: Option<usize>,
    /// `--pilot` as given (None: for `--carry depth`, fresh on the generated tasks, on
    /// elsewhere: [`pilot_fresh`](Self::pilot_fresh)).
    pub pilot: Option<PilotMode>,
}

/// Fresh samples `--pilot fresh` draws per sample of the reported set ([`HeldOut::fresh`]):
/// the check's standard error falls as 1/√(draws), and the higher-order quad network's
/// reported class 1 at order 4 (KL 0.03–0.06 worse than the Gaussian closure's on fresh
/// samples) reaches z 4.8 with 4 × its 5000 test samples, 2.6 with 1 × (EXPERIMENTS.md, "The
/// pilot's check against the report, thirty-first session (nw31)").
pub const FRESH_PER_REPORTED: usize = 4;

impl CarrySettings {
    /// Whether a carried run from data is checked by the pilot: on by default under `--carry
    /// depth`, off with `--pilot off`; `--pilot` with `--carry first`, where nothing is
    /// carried to check, is an error naming both flags; so is `--kappa-units` with `--carry
    /// first`, which carries nothing (it ran without a word, the units ignored: adv35).
    pub fn pilot_on(&self) -> Result<bool> {
        if let (CarryMode::First, Some(r)) = (self.mode, self.kappa_units) {
            return Err(Error::Unsupported(format!(
                "--kappa-units {r} chooses the units carried through every layer: it needs \
                 --carry depth (with --carry first nothing is carried)"
            )));
        }
        match (self.mode, self.pilot) {
            (CarryMode::First, Some(p)) => Err(Error::Unsupported(format!(
                "--pilot {} checks a run carried through every layer: it needs --carry depth \
                 (with --carry first there is no carried output to check)",
                match p {
                    PilotMode::On => "on",
                    PilotMode::Off => "off",
                    PilotMode::Fresh => "fresh",
                }
            ))),
            (CarryMode::First, None) => Ok(false),
            (CarryMode::Depth, p) => Ok(p != Some(PilotMode::Off)),
        }
    }

    /// Whether the pilot tests the reported output against fresh samples of a generated task
    /// (`--pilot fresh` with `--carry depth`), the check without `--pilot` on the generated
    /// tasks (`generated`: xor or higher-order; the check on halves, `--pilot on`, elsewhere): on
    /// 18 networks of the two tasks it kept no carry worse than the Gaussian closure (the
    /// check on halves kept 9 of 21) and abandoned 2 of 22 better (one class at orders 3 and
    /// 4; the check on halves 3), in a third of the time (EXPERIMENTS.md, "`--pilot fresh` on
    /// more networks, thirty-second session (fresh32)"). [`pilot_on`](Self::pilot_on)'s errors.
    pub fn pilot_fresh(&self, generated: bool) -> Result<bool> {
        Ok(self.pilot_on()?
            && match self.pilot {
                Some(p) => p == PilotMode::Fresh,
                None => generated,
            })
    }
}

/// What the pilot decided for a class ([`ClassPilot`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// The carried output is kept: the check's carried output is not significantly worse
    /// than the Gaussian closure's (or the two tie).
    Kept,
    /// Replaced by the Gaussian closure's run: significantly worse.
    Worse,
    /// Replaced by the Gaussian closure's run: the check's carry is not a test of the
    /// reported one (it stopped carrying at an earlier layer).
    CannotJudge,
    /// Kept unchecked: too few held-out samples.
    NotRun,
}

/// A class's pilot check ([`HeldOut`], [`held_out_check`]): the held-out set, the number of
/// its samples of the class in the start half (`start_samples`), its verdict (`samples`: the
/// draws half's outputs of the class; `worse`: significantly worse), what was decided
/// (`judgement`, JSON `verdict`) and why, or why it did not run.
#[derive(Clone, Debug, Serialize)]
pub struct ClassPilot {
    pub held_out: String,
    /// Which check was made: the carry from one half of the held-out set against the other
    /// half (`halves`), or the reported output against fresh samples (`reported_output`).
    pub check: Check,
    pub start_samples: usize,
    /// kept / worse / cannot_judge / not_run: whether the reported output is the carried run's
    /// (kept, not_run) or the Gaussian closure's (worse, cannot_judge).
    #[serde(rename = "verdict")]
    pub judgement: Judgement,
    /// Why, in words.
    pub why: String,
    /// Groups of the start half's jackknife whose variance entered the z values (0: not
    /// measured: the z values count the draws' noise alone, and were not above the limit, or
    /// the check could not judge; [`held_out_check`]).
    pub jackknife_groups: usize,
    /// Where the jackknife ran: how many of its replicates are worse on their own, \[mean,
    /// covariance, KL\] ([`replicates_worse`]); all of them on a statistic the draws alone
    /// find worse make the class worse whatever the jackknife's z.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicates_worse: Option<[usize; 3]>,
    #[serde(flatten)]
    pub verdict: Option<PilotVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
}

impl ClassPilot {
    /// A check of `held_out` from a start of `start_samples`, before its verdict (`not_run`
    /// until one is set).
    fn pending(held_out: &HeldOut, start_samples: usize) -> Self {
        ClassPilot {
            held_out: held_out.set.clone(),
            check: held_out.check(),
            start_samples,
            judgement: Judgement::NotRun,
            why: String::new(),
            jackknife_groups: 0,
            replicates_worse: None,
            verdict: None,
            not_run: None,
        }
    }
}

/// One class's carry: how far it went and where it fell back.
#[derive(Clone, Debug, Serialize)]
pub struct ClassCarry {
    pub class: usize,
    /// The last stage whose cumulants were carried: "y", or "z{k}" when the expansion broke
    /// down at hidden layer k + 1 and the Gaussian closure took over.
    pub carried_to: String,
    /// Hidden layer from which the Gaussian closure alone was used, and why.
    pub fallback: Option<(usize, String)>,
    /// (hidden layer, units) whose corrected variance broke down and kept the Gaussian moments.
    pub gaussian_units: Vec<(usize, usize)>,
    /// Directions of the carried output whose variance fell below 10 % of the Gaussian
    /// closure's and took the Gaussian's ([`guard_output_directions`]; 0 where none did, the
    /// carry stopped before y, or the pilot replaced the output).
    pub guarded_directions: usize,
    /// Hidden layer from which the carry stopped and the Gaussian closure alone ran to y, and
    /// why: the carried run failed there (a covariance its corrections left indefinite;
    /// [`Propagator::run_carried_or_cut`]); absent where the carry ran to y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gaussian_from: Option<(usize, String)>,
    /// The pilot's check of this class's output (absent with `--pilot off` or without held-out
    /// samples).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pilot: Option<ClassPilot>,
    /// Where the carried output covariance was indefinite beyond rounding (the expansion broke
    /// down): how negative, and from which hidden layer the output reported is the Gaussian
    /// closure's instead ([`Propagator::run_carried_or_cut`]); absent where it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indefinite_output: Option<IndefiniteOutputFallback>,
}

/// A class whose carried output covariance Σ had an eigenvalue below −`ROUNDING_LEVEL`·tr Σ
/// (no Gaussian has it) and the fallback that replaced it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IndefiniteOutputFallback {
    /// The most negative eigenvalue of the carried Σ.
    pub most_negative_eigenvalue: f64,
    /// tr Σ of the carried Σ.
    pub trace: f64,
    /// The hidden layer from which the output reported is the Gaussian closure's: the first
    /// after the start layer = the Gaussian closure's run from the start; a later one = the
    /// carry up to the z before it, whose covariances are positive semidefinite.
    pub gaussian_from_layer: usize,
}

/// What the carried run did, for the text and JSON reports.
#[derive(Clone, Debug, Serialize)]
pub struct CarryReport {
    pub order: usize,
    pub from_layer: usize,
    /// Units kept per layer by the subset approximation; null = the full tensors.
    pub kappa_units: Option<usize>,
    /// The stage whose tensors were measured: "h{l+1}".
    pub measured_at: String,
    pub classes: Vec<ClassCarry>,
    /// Bytes of one class's carried tensors at the widest stage (classes run one at a time).
    pub tensor_bytes: u64,
    /// Seconds measuring the start tensors and carrying them (all classes).
    pub measure_seconds: f64,
    pub carry_seconds: f64,
}

impl CarryReport {
    /// One line per class that did not carry to y, or one line saying all did.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "carried     order {} from {} (measured, {}; {:.2} GiB per class) through every \
             later layer: {:.2} s measuring, {:.2} s carrying",
            self.order,
            self.measured_at,
            self.kappa_units.map_or_else(
                || "full tensors".to_string(),
                |r| format!("κ on the leading {r} units per layer")
            ),
            self.tensor_bytes as f64 / (1u64 << 30) as f64,
            self.measure_seconds,
            self.carry_seconds
        )];
        let to_y = self.classes.iter().filter(|c| c.fallback.is_none()).count();
        out.push(format!(
            "            {to_y} of {} classes carried to y",
            self.classes.len()
        ));
        for c in &self.classes {
            if let Some((layer, reason)) = &c.fallback {
                out.push(format!(
                    "            class {}: carried to {}, Gaussian from hidden layer {layer}: \
                     {reason}",
                    c.class, c.carried_to
                ));
            }
            if let Some((layer, reason)) = c
                .gaussian_from
                .as_ref()
                .filter(|g| Some(*g) != c.fallback.as_ref())
            {
                out.push(format!(
                    "            class {}: carry stopped, Gaussian closure alone from hidden \
                     layer {layer} to y: {reason}",
                    c.class
                ));
            }
        }
        let pilots: Vec<String> =
            self.classes
                .iter()
                .filter_map(|c| c.pilot.as_ref().map(|p| (c.class, p)))
                .map(|(class, p)| match (&p.verdict, &p.not_run) {
                    (Some(v), _) => format!(
                    "class {class} {} (z mean {:.1}, cov {:.1}, KL {:.1}; start {}, {} draws{})",
                    match (p.judgement, v.mean_z == 0.0 && v.cov_z == 0.0 && v.kl_z == 0.0) {
                        (Judgement::Worse, _) => "abandoned",
                        (Judgement::CannotJudge, _) => "cannot judge, abandoned",
                        // Both outputs equal to rounding (e.g. the carry already fell back).
                        (_, true) => "tie",
                        _ => "kept",
                    },
                    v.mean_z,
                    v.cov_z,
                    v.kl_z,
                    p.start_samples,
                    v.samples,
                    v.draws_only_z.map_or_else(String::new, |[m, c, k]| format!(
                        "; with the start's jackknife, draws alone {m:.1} / {c:.1} / {k:.1}{}",
                        p.replicates_worse
                            .map_or_else(String::new, |[rm, rc, rk]| format!(
                                ", worse alone in {rm} / {rc} / {rk} of {} replicates",
                                p.jackknife_groups
                            ))
                    ))
                ),
                    (None, why) => format!(
                        "class {class} not run ({})",
                        why.as_deref().unwrap_or("no held-out samples")
                    ),
                })
                .collect();
        if let Some(p) = self.classes.iter().find_map(|c| c.pilot.as_ref()) {
            out.push(match p.check {
                Check::Halves => format!(
                    "            pilot on two halves of the held-out {} (limit z {PILOT_Z}): {}",
                    p.held_out,
                    pilots.join(", ")
                ),
                Check::ReportedOutput => format!(
                    "            pilot of the reported outputs against {} (limit z {PILOT_Z}): {}",
                    p.held_out,
                    pilots.join(", ")
                ),
            });
        }
        let units: usize = self
            .classes
            .iter()
            .flat_map(|c| &c.gaussian_units)
            .map(|g| g.1)
            .sum();
        if units > 0 {
            out.push(format!(
                "            {units} unit-layers (over classes) kept the Gaussian moments \
                 (corrected variance below 10 % of the Gaussian)"
            ));
        }
        let guarded: Vec<String> = self
            .classes
            .iter()
            .filter(|c| c.guarded_directions > 0)
            .map(|c| format!("class {} ({})", c.class, c.guarded_directions))
            .collect();
        if !guarded.is_empty() {
            out.push(format!(
                "            output directions whose carried variance fell below 10 % of the \
                 Gaussian closure's kept the Gaussian's: {}",
                guarded.join(", ")
            ));
        }
        out
    }
}

/// The last carried stage when the Gaussian closure took over at hidden layer `layer`.
fn carried_to(layer: usize, from: usize) -> String {
    if layer <= from + 1 {
        "none".to_string()
    } else {
        format!("z{}", layer - 1)
    }
}

/// What a class's carry starts from at h^{l+1}: the full tensors, or (with `units`) every
/// unit's slices and the samples for the kept units' tensors.
enum Start {
    /// The tensors, and at order 3 the κ₄ classes its dense carry reads (κ₄\[i,i,j,j\],
    /// κ₄\[i,i,i,j\], κ₄\[i,i,j,k\]).
    Full(Tensors, Option<Unpaired4>),
    Subset(Slices, Mat<f64>),
}

/// Measures class samples `h` (N × n) for [`Start`].
fn measure_start(h: &Mat<f64>, order: usize, units: Option<usize>) -> Result<Start> {
    match units {
        None if order == 3 => {
            let (tensors, unpaired) = measure_third(h.as_ref())?;
            Ok(Start::Full(tensors, Some(unpaired)))
        }
        None => Ok(Start::Full(measure_tensors(h.as_ref(), order)?, None)),
        Some(_) => {
            let slices = sample_slices(h.as_ref(), order)?;
            Ok(Start::Subset(slices, h.clone()))
        }
    }
}

/// Flops of [`measure_start`] for the samples `h`: the full tensors' products
/// ([`third_flops`], [`tensor_flops`]); the subset carry's slices (`units` Some) are not
/// counted.
fn start_flops(h: &Mat<f64>, order: usize, units: Option<usize>) -> f64 {
    match units {
        None if order == 3 => third_flops(h.nrows(), h.ncols()),
        None => tensor_flops(h.nrows(), h.ncols(), order),
        Some(_) => 0.0,
    }
}

/// Units kept per layer by the subset carry when the full tensors do not fit and no
/// `--kappa-units` is given, per order (3, 4): see EXPERIMENTS.md "Orders 3/4 through depth
/// from the CLI" for the error and time against r.
pub const DEFAULT_KAPPA_UNITS: [usize; 2] = [128, 32];

/// The pilot of one class (`class`, measured start `start` of layer `from`): the carried run
/// ([`carry_class`]) and the Gaussian closure's run (the order-2 run of `propagate`,
/// [`Propagator::run_closure`] on the same engine, in f64) from the start measured on the
/// held-out start half (moments `half` of layer `from`, its z^{from} samples `z` and
/// h^{from+1} samples `h`), and [`held_out_check`] of both outputs against the draws half's
/// outputs ([`HeldOut`]). Returns the check and, where the reported output is to be replaced,
/// the Gaussian closure's run from the reported `start` that replaces it:
/// - **cannot judge** where the check's carry stopped (fell back or was cut) at an earlier
///   hidden layer than the reported run's (`reported_end`; None: carried to y), or failed (a
///   stage not finite, among others): its carried output is then not the reported carry's,
///   whatever the z values say. The check and its jackknife replicates follow the reported
///   run's path (their breakdown limits apply from `reported_end` on,
///   [`Carry::with_rules_from`]), so only what no limit decides (a covariance left
///   indefinite, a negative variance) stops them earlier;
/// - **worse** where a z exceeds [`PILOT_Z`] with the start half's noise counted: the z values
///   from the draws' noise alone are computed first, and only where they exceed the limit is
///   the start half's delete-a-group jackknife run ([`JACKKNIFE_GROUPS`] more carried and
///   Gaussian runs; adding a variance can only lower |z|, so the decision is the same as
///   running it everywhere); and worse too where every replicate is worse on its own on a
///   statistic the draws alone find worse ([`replicates_worse`]), whatever the jackknife's z;
/// - otherwise **kept**. A class with fewer than 2 samples in either half is not checked
///   (kept, with the reason).
fn pilot_class(
    engine: &mut Propagator,
    net: &Mlp,
    (from, start, class): (usize, &Moments, usize),
    (held_out, half, z, h): HalfStart<'_>,
    (order, units): (usize, Option<usize>),
    (reported_end, output_cut): (Option<&Fallback>, Option<usize>),
    method: ClosureMethod,
) -> Result<(ClassPilot, Option<Vec<Predicted>>)> {
    let draws = held_out.draws.get(class).map_or(0, |y| y.ncols());
    let start_samples = h.map_or(0, |h| h.ncols());
    let mut report = ClassPilot::pending(held_out, start_samples);
    let (Some(half), Some(h)) = (half.filter(|_| start_samples >= 2 && draws >= 2), h) else {
        let why = format!(
            "{} held-out samples of class {class} in the {}; the pilot needs at least \
             {PILOT_MIN_SAMPLES} (2 to measure its start, 2 draws)",
            held_out
                .start_half()
                .and_then(|s| s.counts.get(class).copied())
                .unwrap_or(start_samples + draws),
            held_out.set
        );
        report.why = format!("not checked, the carried output kept: {why}");
        report.not_run = Some(why);
        return Ok((report, None));
    };
    let quiet = Timings::disabled();
    let gaussian = |engine: &mut Propagator, start: &Moments| -> Result<Vec<Predicted>> {
        gaussian_run(engine, net, (from, start), method, &quiet)
    };
    // The check follows the reported run's path: no breakdown limit stops it before the
    // reported run stopped (`Carry::with_rules_from`).
    let rules_from = reported_end.map_or(usize::MAX, |r| r.layer);
    let carry = (order, units, rules_from, OutputRule::Follow(output_cut));
    let replaced = "the class's output is the Gaussian closure's from the start layer";
    // Pushed along the reported path, the check's carry may fail where its own limits would
    // have stopped it (the engine refuses a stage that is not finite, among others): no test
    // of the reported carry then.
    let check = carry_class(engine, net, (from, half, h), carry, method, &quiet)
        .and_then(|run| Ok((one_output(&run.stages)?, run)));
    let (output, mut check) = match check {
        Ok(c) => c,
        Err(e) => {
            report.judgement = Judgement::CannotJudge;
            report.why = format!(
                "the pilot cannot judge the carried output: its carry from the held-out start \
                 half along the reported run's path failed ({e}); {replaced}"
            );
            report.verdict = Some(PilotVerdict::tie(draws));
            return Ok((report, Some(gaussian(engine, start)?)));
        }
    };
    let closed = [match check.gaussian_output.take() {
        Some(g) => g,
        None => one_output(&gaussian(engine, half)?)?,
    }];
    let check_end = carry_end(&check);
    let carried = [output];
    let y = held_out.draws[class].as_ref();
    let mut verdict = held_out_check(&carried, &closed, &[y], &[])?;
    let stopped_earlier = match (check_end, reported_end) {
        (Some(c), Some(r)) => c.layer < r.layer,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if let (true, Some(c)) = (stopped_earlier, check_end) {
        let reason = c.reason.strip_prefix("class 0: ").unwrap_or(&c.reason);
        report.judgement = Judgement::CannotJudge;
        report.why = format!(
            "the pilot cannot judge the carried output: its carry from the held-out start half \
             stopped at hidden layer {} ({reason}), the reported one {}, so the check's \
             carried output is not a test of the reported one; {replaced}",
            c.layer,
            reported_end.map_or_else(
                || "carried to y".to_string(),
                |r| format!("at hidden layer {}", r.layer)
            ),
        );
    } else if verdict.worse {
        let reps = jackknife(engine, net, (from, z, h), carry, method, &gaussian)?;
        let path = carry_path(&check);
        let (unstable, groups) = (reps.iter().filter(|r| r.2 != path).count(), reps.len());
        // The statistics the draws alone find worse that every replicate finds worse on its
        // own too (`replicates_worse`): worse whatever the jackknife's z.
        let mut unanimous = Vec::new();
        if !reps.is_empty() && unstable == 0 {
            report.jackknife_groups = reps.len();
            let reps: Vec<(Moments, Moments)> = reps.into_iter().map(|(k, g, _)| (k, g)).collect();
            let alone = replicates_worse(y, &reps)?;
            let draws_only = [verdict.mean_z, verdict.cov_z, verdict.kl_z];
            verdict = held_out_check(&carried, &closed, &[y], std::slice::from_ref(&reps))?;
            unanimous = (0..3)
                .filter(|&s| draws_only[s] > PILOT_Z && alone[s] == groups)
                .collect();
            report.replicates_worse = Some(alone);
            verdict.worse |= !unanimous.is_empty();
        }
        let draws = format!(
            "{} draws of the {}'s held-out half, its other half the start{}",
            verdict.samples,
            held_out.set,
            match (report.jackknife_groups, unstable) {
                (0, 0) => String::new(),
                (0, _) => format!(
                    "; the draws' noise alone: {unstable} of {groups} jackknife replicates of \
                     the start half stopped carrying at another layer, so its noise was not \
                     measured"
                ),
                (g, _) => format!(", z counting its {g}-group jackknife"),
            }
        );
        if let (true, Some([m, c, k])) = (verdict.worse, verdict.draws_only_z) {
            report.judgement = Judgement::Worse;
            report.why = if unanimous.is_empty() {
                verdict.abandon_reason(&draws, replaced)
            } else {
                format!(
                    "the Monte Carlo pilot ({draws}) finds the carried output's {} further from \
                     them than the Gaussian closure's on the draws' noise alone (mean z = \
                     {m:.1}, covariance z = {c:.1}, KL z = {k:.1}; limit {PILOT_Z}), and so \
                     does each of the {groups} jackknife replicates on its own, every one \
                     leaving out another tenth of the start: the start carries no part of the \
                     difference; the jackknife's z (mean {:.1}, covariance {:.1}, KL {:.1}) is \
                     below the limit because the carry moves with the start more than a smooth \
                     statistic would, which is no reason to keep it; {replaced}",
                    unanimous
                        .iter()
                        .map(|&s| ["mean", "covariance", "KL"][s])
                        .collect::<Vec<_>>()
                        .join(" and "),
                    verdict.mean_z,
                    verdict.cov_z,
                    verdict.kl_z
                )
            };
        } else if verdict.worse {
            report.judgement = Judgement::Worse;
            report.why = verdict.abandon_reason(&draws, replaced);
        } else {
            report.judgement = Judgement::Kept;
            report.why = format!(
                "not significantly worse than the Gaussian closure's output once the start \
                 half's noise is counted ({draws}; z mean {:.1}, covariance {:.1}, KL {:.1}, \
                 limit {PILOT_Z}; the draws' noise alone gave {}){}",
                verdict.mean_z,
                verdict.cov_z,
                verdict.kl_z,
                verdict
                    .draws_only_z
                    .map_or_else(String::new, |[m, c, k]| format!("{m:.1} / {c:.1} / {k:.1}")),
                verdict.sees()
            );
        }
    } else {
        report.judgement = Judgement::Kept;
        report.why = if verdict.mean_z == 0.0 && verdict.cov_z == 0.0 && verdict.kl_z == 0.0 {
            "the check's carried and Gaussian outputs tie (equal to rounding)".to_string()
        } else {
            format!(
                "not significantly worse than the Gaussian closure's output (limit z \
                 {PILOT_Z}){}",
                verdict.sees()
            )
        };
    }
    report.verdict = Some(verdict);
    let replaced = match report.judgement {
        Judgement::Worse | Judgement::CannotJudge => Some(gaussian(engine, start)?),
        Judgement::Kept | Judgement::NotRun => None,
    };
    Ok((report, replaced))
}

/// The pilot of one class against fresh samples ([`HeldOut::fresh`], [`Check::ReportedOutput`]):
/// [`held_out_check`] of the reported carried output `carried` (its stages as reported: guarded,
/// cut or fallen back) and the Gaussian closure's output from the same reported `start` (`n`
/// samples) against the fresh samples' outputs of `class`, the draws' noise alone (the
/// reported output is fixed: no start noise enters the question whether *it* is worse).
/// The Gaussian closure's output is `gaussian_output` where the output guard computed it from
/// the same start (the carry reached y), else run here. Returns the check and, where the
/// carried output is significantly worse ([`PILOT_Z`]), the Gaussian closure's stages that
/// replace it. A class with fewer than 2 fresh samples is kept unchecked, said.
fn reported_class(
    engine: &mut Propagator,
    net: &Mlp,
    (from, start, class, n): (usize, &Moments, usize, usize),
    (carried, gaussian_output): (&[Predicted], Option<Moments>),
    held_out: &HeldOut,
    method: ClosureMethod,
) -> Result<(ClassPilot, Option<Vec<Predicted>>)> {
    let y = held_out.draws.get(class).filter(|y| y.ncols() >= 2);
    let mut report = ClassPilot::pending(held_out, n);
    let Some(y) = y else {
        let why = format!(
            "{} fresh samples of class {class}; the check needs at least 2",
            held_out.draws.get(class).map_or(0, |y| y.ncols())
        );
        report.why = format!("not checked, the carried output kept: {why}");
        report.not_run = Some(why);
        return Ok((report, None));
    };
    let run = |engine: &mut Propagator| {
        gaussian_run(engine, net, (from, start), method, &Timings::disabled())
    };
    let mut gaussian = None;
    let closed = match gaussian_output {
        Some(g) => g,
        None => one_output(gaussian.insert(run(engine)?))?,
    };
    let verdict = held_out_check(&[one_output(carried)?], &[closed], &[y.as_ref()], &[])?;
    let draws = format!(
        "the reported output against {} outputs of {}",
        verdict.samples, held_out.set
    );
    report.judgement = match verdict.worse {
        true => Judgement::Worse,
        false => Judgement::Kept,
    };
    report.why = match verdict.worse {
        true => verdict.abandon_reason(
            &draws,
            "the class's output is the Gaussian closure's from the start layer",
        ),
        false if verdict.mean_z == 0.0 && verdict.cov_z == 0.0 && verdict.kl_z == 0.0 => {
            "the reported carried and Gaussian outputs tie (equal to rounding)".to_string()
        }
        false => format!(
            "not significantly worse than the Gaussian closure's output ({draws}; z mean {:.1}, \
             covariance {:.1}, KL {:.1}, limit {PILOT_Z}){}",
            verdict.mean_z,
            verdict.cov_z,
            verdict.kl_z,
            verdict.sees()
        ),
    };
    report.verdict = Some(verdict);
    let replaced = match (verdict.worse, gaussian) {
        (false, _) => None,
        (true, Some(g)) => Some(g),
        (true, None) => Some(run(engine)?),
    };
    Ok((report, replaced))
}

/// The Gaussian closure's stages of one class from `start` (layer `from`), no corrections: the
/// pilot's comparison and the output guard's reference.
fn gaussian_run(
    engine: &mut Propagator,
    net: &Mlp,
    (from, start): (usize, &Moments),
    method: ClosureMethod,
    timings: &Timings,
) -> Result<Vec<Predicted>> {
    let pairs = ClosurePair::for_layers(net, method, true)?;
    let closures: Vec<&dyn Closure> = pairs.iter().map(|p| p.closure.as_ref()).collect();
    let one = std::slice::from_ref(start);
    Ok(engine
        .run_closure(net, from, one, None, &closures, Corrections::None, timings)?
        .to_vec())
}

/// The output moments of a one-class run's `stages`.
fn one_output(stages: &[Predicted]) -> Result<Moments> {
    let y = stages
        .last()
        .ok_or_else(|| Error::Shape("pilot: a run without stages".into()))?;
    Ok(y.f64_moments()?[0].clone())
}

/// The held-out set, and of its start half for one class: the moments of the start layer, its
/// z^{from} samples and h^{from+1} samples ([`pilot_class`]).
type HalfStart<'a> = (
    &'a HeldOut,
    Option<&'a Moments>,
    Option<&'a Mat<f64>>,
    Option<&'a Mat<f64>>,
);

/// Where a class's carry stopped: the earlier of its fallback (the expansion broke down) and
/// its cut (a failed run made again with the Gaussian closure from there); None: carried to y.
fn carry_end(run: &ClassRun) -> Option<&Fallback> {
    earliest(run.fallback.as_ref(), run.cut.as_ref())
}

/// One jackknife replicate: its carried and Gaussian outputs and its carry's path
/// ([`carry_path`]).
type JackknifeRun = (Moments, Moments, Option<usize>);

/// The earlier of a fallback and a cut (None where neither happened).
fn earliest<'a>(a: Option<&'a Fallback>, b: Option<&'a Fallback>) -> Option<&'a Fallback> {
    [a, b].into_iter().flatten().min_by_key(|f| f.layer)
}

/// The start half's delete-a-group jackknife ([`held_out_check`]): for each of G =
/// min([`JACKKNIFE_GROUPS`], n) contiguous groups of the class's n start samples (z^{from}
/// columns `z`, h^{from+1} columns `h`, the same samples in the same order), the carried and
/// the Gaussian closure's outputs from the other samples (their moments measured as the
/// start's are, their tensors as [`carry_class`] measures them; `carry`: the order, units and
/// first layer of the breakdown limits, as the check's). Empty where a replicate would keep
/// fewer than 2 samples, `z` is absent, or a replicate's carry fails.
fn jackknife(
    engine: &mut Propagator,
    net: &Mlp,
    (from, z, h): (usize, Option<&Mat<f64>>, &Mat<f64>),
    carry: (usize, Option<usize>, usize, OutputRule),
    method: ClosureMethod,
    gaussian: &dyn Fn(&mut Propagator, &Moments) -> Result<Vec<Predicted>>,
) -> Result<Vec<JackknifeRun>> {
    let n = h.ncols();
    let groups = JACKKNIFE_GROUPS.min(n);
    let Some(z) = z.filter(|z| z.ncols() == n && groups >= 2 && n - n.div_ceil(groups) >= 2) else {
        return Ok(Vec::new());
    };
    let quiet = Timings::disabled();
    (0..groups)
        .map(|g| {
            let keep: Vec<usize> = (0..n).filter(|&k| k * groups / n != g).collect();
            let (zg, hg) = (columns(z.as_ref(), &keep), columns(h.as_ref(), &keep));
            let moments = MomentAccumulator::of_one_class(zg.as_ref(), false)?;
            // A replicate whose carry fails (pushed along the reported path) measures no
            // noise: no jackknife, the draws-only verdict stands.
            let Ok(mut run) =
                carry_class(engine, net, (from, &moments, &hg), carry, method, &quiet)
            else {
                return Ok(None);
            };
            let carried = one_output(&run.stages)?;
            let closed = match run.gaussian_output.take() {
                Some(g) => g,
                None => one_output(&gaussian(engine, &moments)?)?,
            };
            Ok(Some((carried, closed, carry_path(&run))))
        })
        .collect::<Result<Option<Vec<_>>>>()
        .map(Option::unwrap_or_default)
}

/// A carry's discrete decision: the hidden layer where it stopped (None: carried to y). The
/// jackknife's variance describes a smooth statistic; a replicate that stops elsewhere than
/// the check makes its spread a measure of that jump, not of the start's noise. (Which units
/// kept the Gaussian moments is left out: on MNIST it changed in most replicates, a unit's
/// variance crossing the 10 % floor, with the outputs close.)
fn carry_path(run: &ClassRun) -> Option<usize> {
    carry_end(run).map(|f| f.layer)
}

/// One class's carried run: its stages h^{from+1} … y, where it fell back to the Gaussian
/// closure, the unit-layers that kept the Gaussian moments, and where a failed run was made
/// again cut.
struct ClassRun {
    stages: Vec<Predicted>,
    fallback: Option<Fallback>,
    gaussian: Vec<GaussianUnits>,
    cut: Option<Fallback>,
    /// The carried output's indefiniteness where the run was cut for it
    /// ([`Propagator::indefinite_carried`]).
    indefinite: Option<IndefiniteCarried>,
    /// Directions of the output that kept the Gaussian closure's variance
    /// ([`guard_output_directions`]).
    guarded_directions: usize,
    /// The Gaussian closure's output from the same start, where the guard computed it (the
    /// carry reached y): the pilot's comparison takes it rather than running it again.
    gaussian_output: Option<Moments>,
    /// Seconds measuring the start tensors.
    measure_seconds: f64,
}

/// The carried run of one class from `moments` (layer `from`) and the start tensors measured
/// from its h^{from+1} samples `h` ([`measure_start`]): the full tensors (`units` None) or
/// the subset carry; the same for the reported run and the pilot's start half. The breakdown
/// rules that test a statistic against a limit stop it only from hidden layer `rules_from`
/// on (0 for the reported run; the pilot's check follows the reported run's path,
/// [`Carry::with_rules_from`]).
fn carry_class(
    engine: &mut Propagator,
    net: &Mlp,
    (from, moments, h): (usize, &Moments, &Mat<f64>),
    (order, units, rules_from, rule): (usize, Option<usize>, usize, OutputRule),
    method: ClosureMethod,
    timings: &Timings,
) -> Result<ClassRun> {
    let one = std::slice::from_ref(moments);
    let t = Instant::now();
    let flops = start_flops(h, order, units);
    let tensors = timings.time("kappa measure", flops, || measure_start(h, order, units))?;
    let measure_seconds = t.elapsed().as_secs_f64();
    // The carry is made again (its tensors measured again) only where a run that failed
    // is made again cut (`run_carried_or_cut`, `run_hooked_or_cut`).
    let mut measured = Some(tensors);
    let mut start_tensors = || match measured.take() {
        Some(t) => Ok(t),
        None => measure_start(h, order, units),
    };
    let carry = match units {
        None => {
            let mut make = || {
                let Start::Full(tensors, paired) = start_tensors()? else {
                    unreachable!("measure_start measures full tensors without units")
                };
                let carry =
                    Carry::from_first_pre(order, vec![tensors])?.with_rules_from(rules_from);
                match paired {
                    Some(u) => carry.with_first_unpaired(vec![u]),
                    None => Ok(carry),
                }
            };
            let carry =
                engine.run_carried_or_cut(net, from, one, (&mut make, rule), method, timings)?;
            (
                carry.cut_at().cloned(),
                carry.fallback().cloned(),
                carry.gaussian_units().to_vec(),
            )
        }
        Some(r) => {
            let mut make = || {
                let Start::Subset(slices, samples) = start_tensors()? else {
                    unreachable!("measure_start keeps the samples with units")
                };
                Ok(
                    SubsetCarry::from_first_pre(order, r, vec![(slices, samples)])?
                        .with_rules_from(rules_from),
                )
            };
            let carry =
                engine.run_hooked_or_cut(net, from, one, (&mut make, rule), method, timings)?;
            (
                carry.cut_at().cloned(),
                carry.fallback().cloned(),
                carry.gaussian_units().to_vec(),
            )
        }
    };
    let (cut, fallback, gaussian) = carry;
    let mut stages = engine.stages().to_vec();
    // A carry that reached y: its output's collapsed directions keep the Gaussian closure's
    // variance (`output_guard`). A cut or fallen-back output is a Gaussian closure's already.
    let mut guarded_directions = 0;
    let mut gaussian_output = None;
    if cut.is_none() && fallback.is_none() {
        let closed = one_output(&gaussian_run(
            engine,
            net,
            (from, moments),
            method,
            timings,
        )?)?;
        let gaussian_output = gaussian_output.insert(closed);
        let y = stages
            .last_mut()
            .ok_or_else(|| Error::Shape("a carried run without stages".into()))?;
        let mut output = one_output(std::slice::from_ref(y))?;
        if let Some((cov, k)) =
            guard_output_directions(output.cov.as_ref(), gaussian_output.cov.as_ref())
        {
            output.cov = cov;
            *y = Predicted::from_classes(y.stage, vec![output]);
            guarded_directions = k;
        }
    }
    Ok(ClassRun {
        stages,
        fallback,
        gaussian,
        cut,
        guarded_directions,
        gaussian_output,
        indefinite: engine.indefinite_carried().first().copied(),
        measure_seconds,
    })
}

/// The carry to run from `from` at `order`: `None` = the full tensors (when every width after
/// `from` fits [`DEFAULT_TENSOR_BYTES`] for one class and no subset is `requested`), or the
/// number of units the subset carry keeps ([`SubsetCarry`], a `requested` count above the widest
/// layer after `from` lowered to it); with the bytes of one class's carried state at the widest
/// stage.
pub fn kappa_units(
    net: &Mlp,
    from: usize,
    order: usize,
    requested: Option<usize>,
) -> Result<(Option<usize>, u64)> {
    carried_units(&net.widths(), from, order, requested)
}

/// [`kappa_units`] of a network of `widths` (input to output), from its widths alone: the
/// memory estimate (`config::estimate`) sizes the carry with it before any model is built.
pub fn carried_units(
    widths: &[usize],
    from: usize,
    order: usize,
    requested: Option<usize>,
) -> Result<(Option<usize>, u64)> {
    let widths = widths.get(from + 1..).unwrap_or_default();
    let widest = widths.iter().copied().max().unwrap_or(0) as u64;
    let slices = 3 * 8 * widest * widest;
    let units = match requested {
        Some(r) => Some(r),
        None => {
            let fits = widths.iter().enumerate().all(|(k, &n)| {
                check_memory(n, order, 1, from + 1 + k, DEFAULT_TENSOR_BYTES).is_ok()
            });
            (!fits).then_some(DEFAULT_KAPPA_UNITS[order - 3])
        }
    };
    match units {
        None => Ok((None, tensor_bytes(widest as usize, order, 1))),
        Some(r) => {
            // Keeping at least every unit of the widest layer keeps every unit of each layer
            // (the subset takes min(r, N) per layer): the same carry, sized and reported as r = N.
            let r = r.min(widest as usize);
            check_memory(r, order, 1, from + 1, DEFAULT_TENSOR_BYTES).map_err(|e| match e {
                // The cure is this flag's own: fewer units (the message said only "--order
                // {order - 1} or a narrower network", adv45).
                Error::Unsupported(msg) => Error::Unsupported(format!(
                    "--kappa-units {r} (the units carried per layer): {msg}; or --kappa-units {} \
                     (the most units that fit)",
                    (1..r)
                        .rev()
                        .find(|&m| tensor_bytes(m, order, 1) <= DEFAULT_TENSOR_BYTES)
                        .unwrap_or(1)
                )),
                e => e,
            })?;
            Ok((Some(r), tensor_bytes(r, order, 1) + slices))
        }
    }
}

/// Propagates `start` (the measured moments of layer `from`, entry k of class `classes[k]`)
/// to the output carrying `order` (3 or 4) through every layer, one class at a time; the
/// start tensors are measured at h^{from+1} from `data` (see the module docs). Returns the
/// stages h^{from+1} … y as [`Propagator::run`] does, and the report. `from` must be below
/// the last hidden layer's index + 1 (from L the map to y is exact: nothing to carry). With
/// `held_out` each class's carried output is checked by the pilot (`pilot_class`) and
/// replaced by the Gaussian closure's run where it is significantly worse.
#[allow(clippy::too_many_arguments)]
pub fn propagate_carried<'a>(
    engine: &mut Propagator,
    net: &Mlp,
    data: impl Into<Labelled<'a>>,
    from: usize,
    (start, classes): (&[Moments], &[usize]),
    (order, requested): (usize, Option<usize>),
    held_out: Option<&HeldOut>,
    method: ClosureMethod,
    batch: usize,
    timings: &Timings,
) -> Result<(Vec<Predicted>, CarryReport)> {
    if from >= net.depth() {
        return Err(Error::Unsupported(format!(
            "--carry depth from layer {from}: there is no nonlinearity after it (the network \
             has {} hidden layers; from the last one the map to y is exact)",
            net.depth()
        )));
    }
    if start.len() != classes.len() {
        return Err(Error::Shape(format!(
            "{} start moments for {} classes",
            start.len(),
            classes.len()
        )));
    }
    let data = data.into();
    let (units, bytes) = kappa_units(net, from, order, requested)?;
    let t0 = Instant::now();
    let samples = timings.time("forward pass", 0.0, || {
        first_pre_samples(net, data, from, batch)
    })?;
    // The pilot's start half: its h^{from+1} and z^{from} samples and moments of layer `from`.
    let halves = match held_out.and_then(HeldOut::start_half) {
        Some(half) => Some((
            timings.time("pilot", 0.0, || {
                first_pre_samples(net, &half.start, from, batch)
            })?,
            timings.time("pilot", 0.0, || {
                start_samples(net, &half.start, from, batch)
            })?,
            |class| half.moments(from, class),
        )),
        None => None,
    };
    let mut measure_seconds = t0.elapsed().as_secs_f64();
    let mut carry_seconds = 0.0;
    let mut stages: Vec<Predicted> = Vec::new();
    let mut report = Vec::with_capacity(classes.len());
    for (moments, &class) in start.iter().zip(classes) {
        let h: &Mat<f64> = samples.get(class).ok_or_else(|| {
            Error::Shape(format!(
                "class {class} is not among the data's {} classes",
                samples.len()
            ))
        })?;
        let t = Instant::now();
        let ClassRun {
            stages: mut run,
            mut fallback,
            mut gaussian,
            mut cut,
            indefinite,
            mut guarded_directions,
            gaussian_output,
            measure_seconds: measured,
        } = carry_class(
            engine,
            net,
            (from, moments, h),
            (order, units, 0, OutputRule::Cut),
            method,
            timings,
        )?;
        measure_seconds += measured;
        let checked = match (held_out, &halves) {
            (Some(held), None) if held.check() == Check::ReportedOutput => {
                let n = h.ncols();
                Some(timings.time("pilot", 0.0, || {
                    reported_class(
                        engine,
                        net,
                        (from, moments, class, n),
                        (&run, gaussian_output),
                        held,
                        method,
                    )
                })?)
            }
            (Some(held), Some((half_pre, half_z, half_moments))) => {
                let reported_end = earliest(fallback.as_ref(), cut.as_ref()).cloned();
                // Cut for an indefinite output: the check follows it to the same layer.
                let output_cut = indefinite.and(cut.as_ref()).map(|c| c.layer);
                Some(timings.time("pilot", 0.0, || {
                    pilot_class(
                        engine,
                        net,
                        (from, moments, class),
                        (
                            held,
                            half_moments(class),
                            half_z.get(class),
                            half_pre.get(class),
                        ),
                        (order, units),
                        (reported_end.as_ref(), output_cut),
                        method,
                    )
                })?)
            }
            _ => None,
        };
        let pilot = checked.map(|(pilot, gauss)| {
            if let Some(g) = gauss {
                // The class's output is the Gaussian closure's run from the start layer:
                // no carried layer, unit or cut of the discarded run is reported.
                run = g;
                fallback = Some(Fallback {
                    layer: from + 1,
                    reason: pilot.why.clone(),
                });
                gaussian.clear();
                cut = None;
                guarded_directions = 0;
            }
            pilot
        });
        if stages.is_empty() {
            stages = run
                .iter()
                .map(|p| Predicted::from_classes(p.stage, Vec::with_capacity(classes.len())))
                .collect();
        }
        // The hooked run is f64 (`run_inner`): its stages append as they are.
        for (all, one) in stages.iter_mut().zip(run) {
            all.append(one)?;
        }
        carry_seconds += t.elapsed().as_secs_f64();
        let indefinite_output = indefinite.map(|i| IndefiniteOutputFallback {
            most_negative_eigenvalue: i.most_negative_eigenvalue,
            trace: i.trace,
            gaussian_from_layer: earliest(fallback.as_ref(), cut.as_ref())
                .map_or(from + 1, |f| f.layer),
        });
        report.push(ClassCarry {
            class,
            carried_to: fallback
                .as_ref()
                .map_or_else(|| "y".to_string(), |f| carried_to(f.layer, from)),
            // The carry ran this class alone: its reason names it "class 0".
            fallback: fallback.map(|f| {
                let reason = f.reason.strip_prefix("class 0: ").unwrap_or(&f.reason);
                (f.layer, reason.to_string())
            }),
            gaussian_units: gaussian.iter().map(|g| (g.layer, g.units)).collect(),
            guarded_directions,
            gaussian_from: cut.map(|f| {
                let reason = f.reason.strip_prefix("class 0: ").unwrap_or(&f.reason);
                (f.layer, reason.to_string())
            }),
            pilot,
            indefinite_output,
        });
    }
    Ok((
        stages,
        CarryReport {
            order,
            from_layer: from,
            kappa_units: units,
            measured_at: format!("h{}", from + 1),
            classes: report,
            tensor_bytes: bytes,
            measure_seconds,
            carry_seconds,
        },
    ))
}
