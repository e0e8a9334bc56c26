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
//! `pilot_class`); where its carried output is significantly worse there, the reported
//! output is the Gaussian closure's.

use std::time::Instant;

use clap::ValueEnum;
use faer::Mat;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::layers::{layer_stats, Higher, LayerStats};
use super::tensors::{class_outputs, first_pre_samples, measure_tensors, sample_slices};
use crate::data::{class_counts, Dataset, Labelled};
use crate::error::{Error, Result};
use crate::net::{Mlp, Stage};
use crate::propagate::closures::Closure;
use crate::propagate::closures::{ClosureMethod, Corrections};
use crate::propagate::higher::carry::GaussianUnits;
use crate::propagate::higher::pilot::{held_out_check, PilotVerdict, PILOT_Z};
use crate::propagate::higher::sampled::measure_third;
use crate::propagate::higher::subset::{Slices, SubsetCarry};
use crate::propagate::higher::tensor::{check_memory, tensor_bytes, DEFAULT_TENSOR_BYTES};
use crate::propagate::higher::triple4::Unpaired4;
use crate::propagate::higher::{Carry, Fallback, Tensors};
use crate::propagate::{ClosurePair, Predicted, Propagator};
use crate::stats::Moments;
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
}

/// `--carry`, `--kappa-units` and `--pilot`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CarrySettings {
    pub mode: CarryMode,
    /// Units the subset approximation keeps per layer (None: the full tensors where they fit,
    /// else [`DEFAULT_KAPPA_UNITS`]).
    pub kappa_units: Option<usize>,
    /// `--pilot` as given (None: on for `--carry depth`, where held-out samples are given).
    pub pilot: Option<PilotMode>,
}

impl CarrySettings {
    /// Whether a carried run from data is checked by the pilot: on by default under `--carry
    /// depth`, off with `--pilot off`; `--pilot` with `--carry first`, where nothing is
    /// carried to check, is an error naming both flags.
    pub fn pilot_on(&self) -> Result<bool> {
        match (self.mode, self.pilot) {
            (CarryMode::First, Some(p)) => Err(Error::Unsupported(format!(
                "--pilot {} checks a run carried through every layer: it needs --carry depth \
                 (with --carry first there is no carried output to check)",
                if p == PilotMode::On { "on" } else { "off" }
            ))),
            (CarryMode::First, None) => Ok(false),
            (CarryMode::Depth, p) => Ok(p != Some(PilotMode::Off)),
        }
    }
}

/// The pilot's held-out samples for a data start (`--carry depth` from measured moments): a
/// set of the same distribution that the reported run never reads (the other split; `set`
/// names it), split per class into two halves by a fixed shuffle (`class_halves`: the
/// *start* half and the *draws* half; deterministic). The check runs the
/// theory from the start half's measured start (moments at layer `from` and the carry's
/// tensors, measured as the reported run measures them on its own set) and compares it with
/// the draws half's outputs: predictions and draws then come from one distribution and are
/// independent of each other, which [`held_out_check`]'s statistics and standard errors
/// assume. (Checking the predictions from the reported set's start against the other set's
/// outputs measured the shift between the sets instead: on MNIST the network's training
/// outputs differ from its test outputs, and the check abandoned classes whose carried
/// output was the better one on the test set; EXPERIMENTS.md, "The check on halves of the
/// held-out set".)
#[derive(Clone, Debug)]
pub struct HeldOut {
    /// "training set" or "test set".
    pub set: String,
    /// The start half, its samples owned (in data order).
    start: Dataset,
    /// Every stage's moments of the start half (no κ slices: the carry measures its tensors
    /// from the samples, [`first_pre_samples`]).
    start_stats: LayerStats,
    /// The draws half's outputs y per class (`draws[c]`: K × its count of class c).
    pub draws: Vec<Mat<f64>>,
    /// The held-out set's samples of each class (both halves).
    counts: Vec<usize>,
}

impl HeldOut {
    /// Splits `data` (the held-out `set`) into its halves, measures the start half's moments
    /// at every stage and pushes the draws half through `net`, in batches of `batch`.
    pub fn measure<'a>(
        net: &Mlp,
        data: impl Into<Labelled<'a>>,
        set: &str,
        batch: usize,
        timings: &Timings,
    ) -> Result<Self> {
        let data = data.into();
        timings.time("pilot", 0.0, || {
            let halves = class_halves(data.labels, data.n_classes)?;
            let counts: Vec<usize> = halves.iter().map(Vec::len).collect();
            // The start half's sample indices, in data order: none of a class of 1 or 2 samples,
            // whose start half of one sample has no covariance and failed the measurement of
            // every class (adv24: such a held-out class refused the run, "class 2 has 1
            // sample", where --pilot off ran); the pilot does not check it
            // ([`PILOT_MIN_SAMPLES`]), and classes of 3 keep their start half of 2 as before.
            let mut seen = vec![0usize; data.n_classes];
            let picked: Vec<usize> = (0..data.len())
                .filter(|&j| {
                    let c = data.labels[j] as usize;
                    seen[c] += 1;
                    halves[c][seen[c] - 1] && counts[c] >= 3
                })
                .collect();
            let mut x = Mat::zeros(data.dim(), picked.len());
            data.gather(picked.iter().copied(), x.as_mut());
            let start = Dataset {
                x,
                labels: picked.iter().map(|&j| data.labels[j]).collect(),
                n_classes: data.n_classes,
            };
            let start_stats = layer_stats(net, &start, Higher::None, batch)?;
            // Every output, then each class's columns outside the start half (columns are in
            // data order).
            let outputs = class_outputs(net, data, batch)?;
            let draws = outputs
                .iter()
                .zip(&halves)
                .map(|(y, start)| {
                    let rest: Vec<usize> = (0..y.ncols()).filter(|&k| !start[k]).collect();
                    Mat::from_fn(y.nrows(), rest.len(), |i, k| y[(i, rest[k])])
                })
                .collect();
            Ok(HeldOut {
                set: set.to_string(),
                start,
                start_stats,
                draws,
                counts,
            })
        })
    }

    /// The start half's moments of layer `from` for `class` (None where the half has no
    /// sample of it).
    fn start_moments(&self, from: usize, class: usize) -> Option<&Moments> {
        // The stage a run from layer `from` starts at: the input, or hidden layer `from`'s z.
        let stage = if from == 0 {
            Stage::Input
        } else {
            Stage::Post(from)
        };
        let m = self.start_stats.get(stage)?;
        let k = m.classes.iter().position(|&c| c == class)?;
        m.per_class.get(k)
    }
}

/// The fewest held-out samples of a class the pilot checks: 2 in the start half (a covariance)
/// and 2 draws.
const PILOT_MIN_SAMPLES: usize = 4;

/// Seed of the pilot's split of the held-out set into halves ([`class_halves`]).
const HALVES_SEED: u64 = 0x5eed_1a1f;

/// Which of each class's samples (in data order) fall into the start half: `true` for
/// ⌈n_c/2⌉ of them, chosen by a shuffle seeded with [`HALVES_SEED`] + c (deterministic). Not
/// the alternate samples: a generated set can cycle through its components in data order
/// (`--task xor` takes blob j mod 4, so alternate samples of a class alternate between its two
/// blobs, and each half would hold one blob).
fn class_halves(labels: &[u32], n_classes: usize) -> Result<Vec<Vec<bool>>> {
    Ok(class_counts(labels, n_classes)?
        .iter()
        .enumerate()
        .map(|(c, &n)| {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut StdRng::seed_from_u64(
                HALVES_SEED.wrapping_add(c as u64),
            ));
            let mut start = vec![false; n];
            for &k in &order[..n.div_ceil(2)] {
                start[k] = true;
            }
            start
        })
        .collect())
}

/// A class's pilot check ([`HeldOut`], [`held_out_check`]): the held-out set, the number of
/// its samples of the class in the start half (`start_samples`), its verdict (`samples`: the
/// draws half's outputs of the class; `worse`: the carried output was replaced by the Gaussian
/// closure's), or why it did not run.
#[derive(Clone, Debug, Serialize)]
pub struct ClassPilot {
    pub held_out: String,
    pub start_samples: usize,
    #[serde(flatten)]
    pub verdict: Option<PilotVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
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
    /// Hidden layer from which the carry stopped and the Gaussian closure alone ran to y, and
    /// why: the carried run failed there (a covariance its corrections left indefinite;
    /// [`Propagator::run_carried_or_cut`]); absent where the carry ran to y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gaussian_from: Option<(usize, String)>,
    /// The pilot's check of this class's output (absent with `--pilot off` or without held-out
    /// samples).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pilot: Option<ClassPilot>,
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
        let pilots: Vec<String> = self
            .classes
            .iter()
            .filter_map(|c| c.pilot.as_ref().map(|p| (c.class, p)))
            .map(|(class, p)| match (&p.verdict, &p.not_run) {
                (Some(v), _) => format!(
                    "class {class} {} (z mean {:.1}, cov {:.1}; start {}, {} draws)",
                    match (v.worse, v.mean_z == 0.0 && v.cov_z == 0.0) {
                        (true, _) => "abandoned",
                        // Both outputs equal to rounding (e.g. the carry already fell back).
                        (false, true) => "tie",
                        (false, false) => "kept",
                    },
                    v.mean_z,
                    v.cov_z,
                    p.start_samples,
                    v.samples
                ),
                (None, why) => format!(
                    "class {class} not run ({})",
                    why.as_deref().unwrap_or("no held-out samples")
                ),
            })
            .collect();
        if let Some(p) = self.classes.iter().find_map(|c| c.pilot.as_ref()) {
            out.push(format!(
                "            pilot on two halves of the held-out {} (limit z {PILOT_Z}): {}",
                p.held_out,
                pilots.join(", ")
            ));
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

/// Units kept per layer by the subset carry when the full tensors do not fit and no
/// `--kappa-units` is given, per order (3, 4): see EXPERIMENTS.md "Orders 3/4 through depth
/// from the CLI" for the error and time against r.
pub const DEFAULT_KAPPA_UNITS: [usize; 2] = [128, 32];

/// The pilot of one class (`class`, measured start `start` of layer `from`): the carried run
/// ([`carry_class`]) and the Gaussian closure's run (the order-2 run of `propagate`,
/// [`Propagator::run_closure`] on the same engine, in f64) from the start measured on the
/// held-out start half (moments `half` of layer `from`, h^{from+1} samples `h`), and
/// [`held_out_check`] of both outputs against the draws half's outputs ([`HeldOut`]). Returns
/// the check and, where the carried output is worse, the Gaussian closure's run from the
/// reported `start` that replaces it. A class with fewer than 2 samples in either half is not
/// checked (kept, with the reason).
fn pilot_class(
    engine: &mut Propagator,
    net: &Mlp,
    (from, start, class): (usize, &Moments, usize),
    (held_out, half, h): (&HeldOut, Option<&Moments>, Option<&Mat<f64>>),
    (order, units): (usize, Option<usize>),
    method: ClosureMethod,
) -> Result<(ClassPilot, Option<Vec<Predicted>>)> {
    let draws = held_out.draws.get(class).map_or(0, |y| y.ncols());
    let start_samples = h.map_or(0, |h| h.ncols());
    let mut report = ClassPilot {
        held_out: held_out.set.clone(),
        start_samples,
        verdict: None,
        not_run: None,
    };
    let (Some(half), Some(h)) = (half.filter(|_| start_samples >= 2 && draws >= 2), h) else {
        report.not_run = Some(format!(
            "{} held-out samples of class {class} in the {}; the pilot needs at least \
             {PILOT_MIN_SAMPLES} (2 to measure its start, 2 draws)",
            held_out
                .counts
                .get(class)
                .copied()
                .unwrap_or(start_samples + draws),
            held_out.set
        ));
        return Ok((report, None));
    };
    let quiet = Timings::disabled();
    let gaussian = |engine: &mut Propagator, start: &Moments| -> Result<Vec<Predicted>> {
        let pairs = ClosurePair::for_layers(net, method, true)?;
        let closures: Vec<&dyn Closure> = pairs.iter().map(|p| p.closure.as_ref()).collect();
        let one = std::slice::from_ref(start);
        Ok(engine
            .run_closure(net, from, one, None, &closures, Corrections::None, &quiet)?
            .to_vec())
    };
    let output = |stages: &[Predicted]| -> Result<Vec<Moments>> {
        let y = stages
            .last()
            .ok_or_else(|| Error::Shape("pilot: a run without stages".into()))?;
        Ok(y.f64_moments()?.to_vec())
    };
    let carried = carry_class(engine, net, (from, half, h), (order, units), method, &quiet)?;
    let carried = output(&carried.stages)?;
    let closed = output(&gaussian(engine, half)?)?;
    let y = held_out.draws[class].as_ref();
    let verdict = held_out_check(&carried, &closed, &[y])?;
    report.verdict = Some(verdict);
    let replaced = if verdict.worse {
        Some(gaussian(engine, start)?)
    } else {
        None
    };
    Ok((report, replaced))
}

/// One class's carried run: its stages h^{from+1} … y, where it fell back to the Gaussian
/// closure, the unit-layers that kept the Gaussian moments, and where a failed run was made
/// again cut.
struct ClassRun {
    stages: Vec<Predicted>,
    fallback: Option<Fallback>,
    gaussian: Vec<GaussianUnits>,
    cut: Option<Fallback>,
    /// Seconds measuring the start tensors.
    measure_seconds: f64,
}

/// The carried run of one class from `moments` (layer `from`) and the start tensors measured
/// from its h^{from+1} samples `h` ([`measure_start`]): the full tensors (`units` None) or
/// the subset carry; the same for the reported run and the pilot's start half.
fn carry_class(
    engine: &mut Propagator,
    net: &Mlp,
    (from, moments, h): (usize, &Moments, &Mat<f64>),
    (order, units): (usize, Option<usize>),
    method: ClosureMethod,
    timings: &Timings,
) -> Result<ClassRun> {
    let one = std::slice::from_ref(moments);
    let t = Instant::now();
    let tensors = timings.time("kappa measure", 0.0, || measure_start(h, order, units))?;
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
                let carry = Carry::from_first_pre(order, vec![tensors])?;
                match paired {
                    Some(u) => carry.with_first_unpaired(vec![u]),
                    None => Ok(carry),
                }
            };
            let carry = engine.run_carried_or_cut(net, from, one, &mut make, method, timings)?;
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
                SubsetCarry::from_first_pre(order, r, vec![(slices, samples)])
            };
            let carry = engine.run_hooked_or_cut(net, from, one, &mut make, method, timings)?;
            (
                carry.cut_at().cloned(),
                carry.fallback().cloned(),
                carry.gaussian_units().to_vec(),
            )
        }
    };
    let (cut, fallback, gaussian) = carry;
    Ok(ClassRun {
        stages: engine.stages().to_vec(),
        fallback,
        gaussian,
        cut,
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
    let widths = &net.widths()[from + 1..];
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
                Error::Unsupported(msg) => Error::Unsupported(format!(
                    "--kappa-units {r} (the units carried per layer): {msg}"
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
    // The pilot's start half: its h^{from+1} samples and moments of layer `from`.
    let halves = match held_out {
        Some(held) => Some((
            timings.time("pilot", 0.0, || {
                first_pre_samples(net, &held.start, from, batch)
            })?,
            |class| held.start_moments(from, class),
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
            measure_seconds: measured,
        } = carry_class(
            engine,
            net,
            (from, moments, h),
            (order, units),
            method,
            timings,
        )?;
        measure_seconds += measured;
        let pilot = match (held_out, &halves) {
            (Some(held), Some((half_pre, half_moments))) => {
                let (pilot, gauss) = timings.time("pilot", 0.0, || {
                    pilot_class(
                        engine,
                        net,
                        (from, moments, class),
                        (held, half_moments(class), half_pre.get(class)),
                        (order, units),
                        method,
                    )
                })?;
                if let Some(g) = gauss {
                    // The class's output is the Gaussian closure's run from the start layer:
                    // no carried layer, unit or cut of the discarded run is reported.
                    run = g;
                    let reason = pilot.verdict.as_ref().map(|v| {
                        v.abandon_reason(
                            &format!(
                                "{} draws of the {}'s held-out half, its other half the start",
                                v.samples, held.set
                            ),
                            "the class's output is the Gaussian closure's from the start layer",
                        )
                    });
                    fallback = reason.map(|reason| Fallback {
                        layer: from + 1,
                        reason,
                    });
                    gaussian.clear();
                    cut = None;
                }
                Some(pilot)
            }
            _ => None,
        };
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
            gaussian_from: cut.map(|f| {
                let reason = f.reason.strip_prefix("class 0: ").unwrap_or(&f.reason);
                (f.layer, reason.to_string())
            }),
            pilot,
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

#[cfg(test)]
mod tests {
    use super::class_halves;

    /// Each class's samples split into ⌈n_c/2⌉ start samples and the rest, the same split on
    /// every call, and not the alternate samples (XOR's classes cycle through two blobs in data
    /// order); a label beyond the classes is an error naming it.
    #[test]
    fn halves_are_a_fixed_shuffle_of_each_class() {
        let labels: Vec<u32> = (0..400).map(|j| [0, 1, 0, 1][j % 4]).chain([2]).collect();
        let halves = class_halves(&labels, 3).unwrap();
        assert_eq!(halves, class_halves(&labels, 3).unwrap());
        let count = |h: &[bool]| h.iter().filter(|&&b| b).count();
        assert_eq!(
            halves.iter().map(|h| h.len()).collect::<Vec<_>>(),
            [200, 200, 1]
        );
        assert_eq!(
            halves.iter().map(|h| count(h)).collect::<Vec<_>>(),
            [100, 100, 1]
        );
        // Class 0's samples alternate between two blobs: each half takes both.
        let even_in_start = halves[0].iter().step_by(2).filter(|&&b| b).count();
        assert!((25..=75).contains(&even_in_start), "{even_in_start}");
        let err = class_halves(&[0, 3], 3).unwrap_err();
        assert!(err.to_string().contains("label 3"), "{err}");
    }
}
