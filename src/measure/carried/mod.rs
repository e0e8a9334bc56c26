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
//!
//! Files: `settings.rs` the flags (`--carry`, `--kappa-units`, `--pilot`), `report.rs` what the
//! run did (per class and in lines of text), `pilot.rs` the pilot's checks; this one the start
//! tensors, one class's carried run and [`propagate_carried`].

mod pilot;
mod report;
mod settings;

use pilot::{pilot_class, reported_class};
use report::carried_to;
pub use report::{CarryReport, ClassCarry, ClassPilot, IndefiniteOutputFallback, Judgement};
pub use settings::{CarryMode, CarrySettings, PilotMode, DEFAULT_KAPPA_UNITS, FRESH_PER_REPORTED};

use std::time::Instant;

use faer::Mat;

use super::held_out::{Check, HeldOut};
use super::tensors::{
    first_pre_samples, measure_tensors, sample_slices, start_samples, tensor_flops, third_flops,
};
use crate::data::Labelled;
use crate::error::{Error, Result};
use crate::net::Mlp;
use crate::propagate::closures::Closure;
use crate::propagate::closures::{ClosureMethod, Corrections};
use crate::propagate::higher::carry::GaussianUnits;
use crate::propagate::higher::output_guard::guard_output_directions;
use crate::propagate::higher::sampled::measure_third;
use crate::propagate::higher::subset::{Slices, SubsetCarry};
use crate::propagate::higher::tensor::{check_memory, tensor_bytes, DEFAULT_TENSOR_BYTES};
use crate::propagate::higher::triple4::Unpaired4;
use crate::propagate::higher::{Carry, Fallback, Tensors};
use crate::propagate::{ClosurePair, IndefiniteCarried, OutputRule, Predicted, Propagator};
use crate::stats::Moments;
use crate::timing::Timings;

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

/// Where a class's carry stopped: the earlier of its fallback (the expansion broke down) and
/// its cut (a failed run made again with the Gaussian closure from there); None: carried to y.
fn carry_end(run: &ClassRun) -> Option<&Fallback> {
    earliest(run.fallback.as_ref(), run.cut.as_ref())
}

/// The earlier of a fallback and a cut (None where neither happened).
fn earliest<'a>(a: Option<&'a Fallback>, b: Option<&'a Fallback>) -> Option<&'a Fallback> {
    [a, b].into_iter().flatten().min_by_key(|f| f.layer)
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
