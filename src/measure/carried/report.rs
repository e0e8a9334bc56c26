//! What a carried run did, for the text and JSON reports: per class how far it carried, where
//! it fell back, the pilot's verdict ([`ClassPilot`], [`Judgement`]) and the run's summary
//! lines ([`CarryReport::lines`]).

use serde::Serialize;

use crate::measure::held_out::{Check, HeldOut};
use crate::propagate::higher::pilot::{JudgedBy, PilotVerdict, PILOT_Z};

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

/// A class's pilot check ([`HeldOut`], [`held_out_check`](crate::propagate::higher::pilot::held_out_check)): the held-out set, the number of
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
    /// the check could not judge; [`held_out_check`](crate::propagate::higher::pilot::held_out_check)).
    pub jackknife_groups: usize,
    /// Where the jackknife ran: how many of its replicates are worse on their own, \[mean,
    /// covariance, KL\] ([`replicates_worse`](crate::propagate::higher::pilot::replicates_worse)); all of them on a statistic the draws alone
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
    pub(super) fn pending(held_out: &HeldOut, start_samples: usize) -> Self {
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
    /// closure's and took the Gaussian's ([`guard_output_directions`](crate::propagate::higher::output_guard::guard_output_directions); 0 where none did, the
    /// carry stopped before y, or the pilot replaced the output).
    pub guarded_directions: usize,
    /// Hidden layer from which the carry stopped and the Gaussian closure alone ran to y, and
    /// why: the carried run failed there (a covariance its corrections left indefinite;
    /// [`Propagator::run_carried_or_cut`](crate::propagate::Propagator::run_carried_or_cut)); absent where the carry ran to y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gaussian_from: Option<(usize, String)>,
    /// The pilot's check of this class's output (absent with `--pilot off` or without held-out
    /// samples).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pilot: Option<ClassPilot>,
    /// Where the carried output covariance was indefinite beyond rounding (the expansion broke
    /// down): how negative, and from which hidden layer the output reported is the Gaussian
    /// closure's instead ([`Propagator::run_carried_or_cut`](crate::propagate::Propagator::run_carried_or_cut)); absent where it was not.
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
        // The statistics that decided (`--pilot-statistics`): said where not all three.
        let judged = match self
            .classes
            .iter()
            .find_map(|c| c.pilot.as_ref()?.verdict.map(|v| v.judged_by))
        {
            Some(j) if j != JudgedBy::ALL => format!(", judged by the {} only", j.names()),
            _ => String::new(),
        };
        if let Some(p) = self.classes.iter().find_map(|c| c.pilot.as_ref()) {
            out.push(match p.check {
                Check::Halves => format!(
                    "            pilot on two halves of the held-out {} (limit z \
                     {PILOT_Z}{judged}): {}",
                    p.held_out,
                    pilots.join(", ")
                ),
                Check::ReportedOutput => format!(
                    "            pilot of the reported outputs against {} (limit z \
                     {PILOT_Z}{judged}): {}",
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
pub(super) fn carried_to(layer: usize, from: usize) -> String {
    if layer <= from + 1 {
        "none".to_string()
    } else {
        format!("z{}", layer - 1)
    }
}
