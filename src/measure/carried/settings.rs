//! `--carry`, `--kappa-units` and `--pilot`: where orders 3/4 apply (the first nonlinearity, or
//! every later layer), how many units the subset carry keeps, and whether the pilot checks a
//! carried run against held-out or fresh samples.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::net::{Activation, Mlp};
use crate::propagate::closures::Corrections;
use crate::propagate::higher::pilot::JudgedBy;

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
/// held-out samples ([`HeldOut`](crate::measure::held_out::HeldOut)).
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
    /// Gaussian closure's where it is significantly worse ([`HeldOut::fresh`](crate::measure::held_out::HeldOut::fresh)).
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
    /// `--pilot-statistics` as given (None: all three, [`judged`](Self::judged)).
    pub pilot_statistics: Option<JudgedBy>,
}

/// Fresh samples `--pilot fresh` draws per sample of the reported set ([`HeldOut::fresh`](crate::measure::held_out::HeldOut::fresh)):
/// the check's standard error falls as 1/√(draws), and the higher-order quad network's
/// reported class 1 at order 4 (KL 0.03–0.06 worse than the Gaussian closure's on fresh
/// samples) reaches z 4.8 with 4 × its 5000 test samples, 2.6 with 1 × (EXPERIMENTS.md, "The
/// pilot's check against the report, thirty-first session (nw31)").
pub const FRESH_PER_REPORTED: usize = 4;

impl CarrySettings {
    /// Whether a carried run from data is checked by the pilot: on by default under `--carry
    /// depth`, off with `--pilot off`; `--pilot` with `--carry first`, where nothing is
    /// carried to check, is an error naming both flags; so is `--kappa-units` with `--carry
    /// first`, which carries nothing (it ran without a word, the units ignored: adv35), and
    /// `--pilot-statistics` with `--carry first` or `--pilot off`, where nothing is judged.
    pub fn pilot_on(&self) -> Result<bool> {
        if let (CarryMode::First, Some(r)) = (self.mode, self.kappa_units) {
            return Err(Error::Unsupported(format!(
                "--kappa-units {r} chooses the units carried through every layer: it needs \
                 --carry depth (with --carry first nothing is carried)"
            )));
        }
        // Nothing to judge: `--pilot off` named first where both flags leave nothing.
        let unjudged = match (self.pilot, self.mode) {
            (Some(PilotMode::Off), _) => Some("with --pilot off nothing is checked"),
            (_, CarryMode::First) => Some(
                "it needs --carry depth (with --carry first there is no carried output to check)",
            ),
            _ => None,
        };
        if let (Some(j), Some(why)) = (self.pilot_statistics, unjudged) {
            return Err(Error::Unsupported(format!(
                "--pilot-statistics {} chooses what the pilot judges by: {why}",
                j.flag_value()
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

    /// The statistics the pilot judges by: `--pilot-statistics`, else mean, covariance and KL.
    pub fn judged(&self) -> JudgedBy {
        self.pilot_statistics.unwrap_or_default()
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

/// Units kept per layer by the subset carry when the full tensors do not fit and no
/// `--kappa-units` is given, per order (3, 4): see EXPERIMENTS.md "Orders 3/4 through depth
/// from the CLI" for the error and time against r.
pub const DEFAULT_KAPPA_UNITS: [usize; 2] = [128, 32];
