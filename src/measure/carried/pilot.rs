//! The pilot's check of one class's carried output (`--pilot on|fresh`): the carry from one
//! half of the held-out set against the other half's outputs with the start half's jackknife
//! ([`pilot_class`]), or the reported output against fresh samples of a generated task
//! ([`reported_class`]); where the carried output is significantly worse, or the check cannot
//! judge it, the Gaussian closure's run replaces it.

use faer::Mat;

use crate::error::Result;
use crate::linalg::columns;
use crate::measure::held_out::{HeldOut, PILOT_MIN_SAMPLES};
use crate::net::Mlp;
use crate::propagate::closures::ClosureMethod;
use crate::propagate::higher::pilot::{
    held_out_check, replicates_worse, PilotVerdict, JACKKNIFE_GROUPS, PILOT_Z,
};
use crate::propagate::higher::Fallback;
use crate::propagate::{OutputRule, Predicted, Propagator};
use crate::stats::{MomentAccumulator, Moments};
use crate::timing::Timings;

use super::{carry_class, carry_end, carry_path, gaussian_run, one_output, ClassPilot, Judgement};

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
pub(super) fn pilot_class(
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
            report.verdict = Some(PilotVerdict::tie(draws, held_out.judged));
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
    let judged = held_out.judged;
    let mut verdict = held_out_check(&carried, &closed, &[y], &[], judged)?;
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
            let reps = std::slice::from_ref(&reps);
            verdict = held_out_check(&carried, &closed, &[y], reps, judged)?;
            unanimous = (0..3)
                .filter(|&s| judged.judges(s) && draws_only[s] > PILOT_Z && alone[s] == groups)
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
                     statistic would, which is no reason to keep it{}; {replaced}",
                    unanimous
                        .iter()
                        .map(|&s| ["mean", "covariance", "KL"][s])
                        .collect::<Vec<_>>()
                        .join(" and "),
                    verdict.mean_z,
                    verdict.cov_z,
                    verdict.kl_z,
                    judged.clause()
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
                 limit {PILOT_Z}; the draws' noise alone gave {}){}{}",
                verdict.mean_z,
                verdict.cov_z,
                verdict.kl_z,
                verdict
                    .draws_only_z
                    .map_or_else(String::new, |[m, c, k]| format!("{m:.1} / {c:.1} / {k:.1}")),
                verdict.sees(),
                judged.clause()
            );
        }
    } else {
        report.judgement = Judgement::Kept;
        report.why = if verdict.mean_z == 0.0 && verdict.cov_z == 0.0 && verdict.kl_z == 0.0 {
            "the check's carried and Gaussian outputs tie (equal to rounding)".to_string()
        } else {
            format!(
                "not significantly worse than the Gaussian closure's output (limit z \
                 {PILOT_Z}){}{}",
                verdict.sees(),
                judged.clause()
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
pub(super) fn reported_class(
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
    let carried = [one_output(carried)?];
    let verdict = held_out_check(&carried, &[closed], &[y.as_ref()], &[], held_out.judged)?;
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
             covariance {:.1}, KL {:.1}, limit {PILOT_Z}){}{}",
            verdict.mean_z,
            verdict.cov_z,
            verdict.kl_z,
            verdict.sees(),
            verdict.judged_by.clause()
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

/// The held-out set, and of its start half for one class: the moments of the start layer, its
/// z^{from} samples and h^{from+1} samples ([`pilot_class`]).
pub(super) type HalfStart<'a> = (
    &'a HeldOut,
    Option<&'a Moments>,
    Option<&'a Mat<f64>>,
    Option<&'a Mat<f64>>,
);

/// One jackknife replicate: its carried and Gaussian outputs and its carry's path
/// ([`carry_path`]).
type JackknifeRun = (Moments, Moments, Option<usize>);

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
