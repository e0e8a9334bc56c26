//! The per-layer error budget (issue #16 item 3). E(l) is the error at the output of the theory
//! started from layer l's measured statistics: the relative Frobenius error of the output
//! covariance, the KL divergence KL(N_emp ‖ N_prop) and the accuracy error A_l − A_network (each
//! a class mean or prior-weighted sum, [`super::start_layers`]). Starting one layer earlier adds
//! one more closure, so
//!
//! ```text
//! step(l+1) = E(l) − E(l+1),   l = 0 … L−1   (what layer l+1's closure loses)
//! E(0) = Σ_{l<L} step(l+1) + E(L)            (telescoping, exact by construction)
//! ```
//!
//! and E(L) is what remains with no closure at all (the affine map to y is exact): rounding for
//! the covariance and KL, the output's non-Gaussianity for the accuracy. Shares are step / E(0)
//! and sum to 1 with E(L)'s share; none is given where E(0)'s component cannot be told from 0
//! ([`OrderBudget::withheld`] says why, once per component):
//! - the covariance error and the KL are deterministic functions of the measured statistics:
//!   their only noise is rounding, and a total at the rounding level ([`ROUNDING_LEVEL`]: a
//!   quadratic network's closures are exact, and its totals of ~10⁻¹⁴ would otherwise be split
//!   into "shares" of rounding that change with every change of summation order) has none;
//! - the accuracy error A_0 − A_network holds A_0's Monte Carlo noise (s_MC, the draws'
//!   [`StartLayerOutcome::accuracy_stderr`]) and the network accuracy's sampling noise as an
//!   estimate of the network's accuracy (s_net, binomial √(A(1−A)/n) on the n samples): with
//!   s = √(s_MC² + s_net²), a total with |E(0)| ≤ [`SHARE_Z`]·s is not distinguishable from 0 at
//!   the 95 % level, and step / E(0) would be a ratio of noise (adv59: an erf net's total of
//!   −0.0008 beside s_net = 0.009 split into −357 %, 92 %, 365 %; on another test set its sign
//!   could as well be the other). Above it the share's relative error from the total alone is
//!   below 1/[`SHARE_Z`]. s counts the two as independent: the theory's plug-in statistics come
//!   from the same samples as A_network and move with it, so s can overstate the difference's
//!   noise, never understate it (a share is withheld too often rather than shown as noise).
//!   The absolute steps are kept either way.
//!
//! The steps are not independent effects — a closure's loss is measured with the later closures
//! in place — and a step can be negative (a later error cancelling an earlier one). One budget
//! per closure order: `order` 2 is the Gaussian closure; a run with a higher order adds a budget
//! with the same layout.

use serde::Serialize;

use super::start_layers::StartLayerOutcome;
use crate::error::{Error, Result};
use crate::stats::ROUNDING_LEVEL;

/// E(l) of one start layer, or one step of the budget.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct BudgetErrors {
    pub cov_rel_err: f64,
    /// Null when a class's KL is undefined at one of the layers involved.
    pub kl: Option<f64>,
    pub accuracy_err: f64,
}

/// One step of the waterfall.
#[derive(Clone, Debug, Serialize)]
pub struct BudgetStep {
    /// The closure's hidden layer l+1; null for the last step, E(L).
    pub layer: Option<usize>,
    pub label: String,
    pub errors: BudgetErrors,
    /// errors / E(0), component by component; null where E(0)'s component cannot be told from
    /// 0 (the module docs; [`OrderBudget::withheld`] gives the reason).
    pub shares: BudgetShares,
}

/// Number of standard errors within which a total counts as 0 for its shares: 2, the two-sided
/// 95 % level of a normal estimate (1.96, rounded up).
pub const SHARE_Z: f64 = 2.0;

/// Why a component's shares are null, for each component whose shares are (`None`: given).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct WithheldShares {
    pub cov_rel_err: Option<String>,
    pub kl: Option<String>,
    pub accuracy_err: Option<String>,
}

/// The shares of one step.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct BudgetShares {
    pub cov_rel_err: Option<f64>,
    pub kl: Option<f64>,
    pub accuracy_err: Option<f64>,
}

/// The budget of one closure order.
#[derive(Clone, Debug, Serialize)]
pub struct OrderBudget {
    /// 2 = Gaussian closure; 3, 4 with the corrections of that order.
    pub order: usize,
    /// E(l) for l = 0 … L.
    pub by_start_layer: Vec<BudgetErrors>,
    /// E(0), the total the steps add up to.
    pub total: BudgetErrors,
    /// The standard error of E(0)'s accuracy error: √(s_MC² + s_net²), A_0's Monte Carlo
    /// error (0 where A_0 is exact) and the network accuracy's binomial one (module docs).
    pub total_accuracy_stderr: f64,
    /// Why the shares of a component are null (every step's), per component; null where given.
    pub withheld: WithheldShares,
    /// step(1) … step(L), then E(L).
    pub steps: Vec<BudgetStep>,
}

/// The budget of closure order `order` from the outcomes of start layers 0 … L (in order) and
/// the network's accuracy on the data with its standard error, `(A_network, s_net)`.
pub fn error_budget(
    order: usize,
    outcomes: &[StartLayerOutcome],
    (network_accuracy, network_stderr): (f64, f64),
) -> Result<OrderBudget> {
    if outcomes.is_empty() || outcomes.iter().enumerate().any(|(l, o)| o.start_layer != l) {
        return Err(Error::Shape(
            "error budget: needs the outcomes of start layers 0, 1, … L in order".into(),
        ));
    }
    let by_start_layer: Vec<BudgetErrors> = outcomes
        .iter()
        .map(|o| BudgetErrors {
            cov_rel_err: o.cov_rel_err,
            kl: o.kl,
            accuracy_err: o.accuracy - network_accuracy,
        })
        .collect();
    let total = by_start_layer[0];
    let total_accuracy_stderr = outcomes[0].accuracy_stderr.hypot(network_stderr);
    let withheld = WithheldShares {
        cov_rel_err: rounding_total(Some(total.cov_rel_err)),
        kl: rounding_total(total.kl),
        accuracy_err: rounding_total(Some(total.accuracy_err)).or_else(|| {
            let (t, s) = (total.accuracy_err, total_accuracy_stderr);
            (t.abs() <= SHARE_Z * s).then(|| {
                format!(
                    "the total {t:+.4} is within {SHARE_Z} standard errors ({SHARE_Z} × \
                     {s:.2e}: the theory's Monte Carlo and the network accuracy's binomial \
                     error) of 0: a share of it would be a ratio of noise"
                )
            })
        }),
    };
    // A step of exactly 0 has the share +0: 0/t is −0 for a negative total, which printed
    // "−0.0 %" beside a step of "+0.0000" (adv59).
    let share = |x: Option<f64>, t: f64, withheld: &Option<String>| match x {
        Some(x) if withheld.is_none() => Some(if x == 0.0 { 0.0 } else { x / t }),
        _ => None,
    };
    let step = |layer: Option<usize>, label: String, e: BudgetErrors| BudgetStep {
        layer,
        label,
        errors: e,
        shares: BudgetShares {
            cov_rel_err: share(
                Some(e.cov_rel_err),
                total.cov_rel_err,
                &withheld.cov_rel_err,
            ),
            kl: share(e.kl, total.kl.unwrap_or(0.0), &withheld.kl),
            accuracy_err: share(
                Some(e.accuracy_err),
                total.accuracy_err,
                &withheld.accuracy_err,
            ),
        },
    };
    let mut steps: Vec<BudgetStep> = by_start_layer
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let e = BudgetErrors {
                cov_rel_err: w[0].cov_rel_err - w[1].cov_rel_err,
                kl: w[0].kl.zip(w[1].kl).map(|(a, b)| a - b),
                accuracy_err: w[0].accuracy_err - w[1].accuracy_err,
            };
            step(Some(l + 1), format!("closure of layer {}", l + 1), e)
        })
        .collect();
    let last = by_start_layer[by_start_layer.len() - 1];
    steps.push(step(
        None,
        "y from the last layer (no closure)".into(),
        last,
    ));
    Ok(OrderBudget {
        order,
        by_start_layer,
        total,
        total_accuracy_stderr,
        withheld,
        steps,
    })
}

/// Why a total `t` has no shares as far as rounding goes: it is undefined (`None`) or at most
/// [`ROUNDING_LEVEL`] in magnitude; `None` where it is beyond both.
fn rounding_total(t: Option<f64>) -> Option<String> {
    match t {
        None => Some("the total is undefined".into()),
        Some(0.0) => Some("the total is 0".into()),
        Some(t) if t.abs() <= ROUNDING_LEVEL => Some(format!(
            "the total {t:.1e} is at the rounding level (|E(0)| ≤ {ROUNDING_LEVEL:e})"
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::confusion::ConfusionMatrix;

    fn outcome(l: usize, cov: f64, kl: f64, acc: f64) -> StartLayerOutcome {
        StartLayerOutcome {
            start_layer: l,
            start_stage: format!("z{l}"),
            confusion: ConfusionMatrix {
                source: String::new(),
                rows: Vec::new(),
            },
            accuracy: acc,
            accuracy_stderr: 0.0,
            cov_rel_err: cov,
            kl: Some(kl),
            indefinite_classes: Vec::new(),
        }
    }

    /// Steps are the differences of consecutive start layers and, with E(L), add up to E(0);
    /// the shares add up to 1.
    #[test]
    fn steps_telescope_to_the_total() {
        let o = [
            outcome(0, 0.5, 2.0, 0.90),
            outcome(1, 0.2, 0.5, 0.97),
            outcome(2, 1e-15, 1e-12, 0.98),
        ];
        let b = error_budget(2, &o, (0.94, 0.0)).unwrap();
        assert_eq!(b.steps.len(), 3);
        assert_eq!(b.steps[0].errors.cov_rel_err, 0.5 - 0.2);
        assert_eq!(b.steps[1].errors.kl, Some(0.5 - 1e-12));
        assert_eq!(b.steps[2].errors.accuracy_err, 0.98 - 0.94);
        let sum = |f: &dyn Fn(&BudgetStep) -> f64| b.steps.iter().map(f).sum::<f64>();
        assert!((sum(&|s| s.errors.cov_rel_err) - b.total.cov_rel_err).abs() < 1e-15);
        assert!((sum(&|s| s.errors.accuracy_err) - (0.90 - 0.94)).abs() < 1e-15);
        assert!((sum(&|s| s.shares.kl.unwrap()) - 1.0).abs() < 1e-12);
        assert!((sum(&|s| s.shares.accuracy_err.unwrap()) - 1.0).abs() < 1e-12);
        assert!(error_budget(2, &o[1..], (0.94, 0.0)).is_err());
    }

    /// A step of exactly 0 under a negative total has the share +0, not −0 (JSON `-0.0`,
    /// report "-0.0 %").
    #[test]
    fn a_zero_step_has_a_positive_zero_share() {
        let o = [outcome(0, 0.5, 2.0, 0.90), outcome(1, 0.2, 0.5, 0.90)];
        let b = error_budget(2, &o, (0.94, 0.0)).unwrap();
        assert_eq!(b.steps[0].errors.accuracy_err, 0.0);
        let s = b.steps[0].shares.accuracy_err.unwrap();
        assert!(s == 0.0 && s.is_sign_positive(), "{s}");
    }

    /// A total at the rounding level (a quadratic network's exact closures: covariance and KL
    /// errors of ~10⁻¹⁴) gets no shares, while the accuracy's total beside it does; a total just
    /// above the level still gets them.
    #[test]
    fn no_share_of_a_total_at_the_rounding_level() {
        let o = [
            outcome(0, 1.27e-14, 4.4e-16, 0.90),
            outcome(1, 3.95e-15, -4.4e-16, 0.93),
        ];
        let b = error_budget(4, &o, (0.94, 0.0)).unwrap();
        for s in &b.steps {
            assert_eq!(s.shares.cov_rel_err, None);
            assert_eq!(s.shares.kl, None);
            assert!(s.shares.accuracy_err.is_some());
        }
        let o = [
            outcome(0, 2.0 * ROUNDING_LEVEL, -2.0 * ROUNDING_LEVEL, 0.90),
            outcome(1, ROUNDING_LEVEL, 0.0, 0.93),
        ];
        let b = error_budget(4, &o, (0.94, 0.0)).unwrap();
        assert_eq!(b.steps[0].shares.cov_rel_err, Some(0.5));
        assert_eq!(b.steps[0].shares.kl, Some(1.0));
        assert_eq!(b.withheld.cov_rel_err, None);
    }

    /// An accuracy total within [`SHARE_Z`] standard errors of 0 gets no shares, with the
    /// reason, while its steps keep their values (adv59's erf net: a total of −0.0008 with steps
    /// −0.0128 … split into −357 % …); the standard error holds the theory's Monte Carlo error
    /// and the network accuracy's, each alone enough; the same total with smaller errors gets
    /// its shares. The covariance and KL shares beside it are untouched.
    #[test]
    fn no_accuracy_share_of_a_total_within_its_standard_error() {
        let budget = |se: f64, se_net: f64| {
            let mut o = [
                outcome(0, 0.5, 2.0, 0.9392),
                outcome(1, 0.2, 0.5, 0.9520),
                outcome(2, 0.1, 0.2, 0.9363),
            ];
            o[0].accuracy_stderr = se;
            error_budget(2, &o, (0.94, se_net)).unwrap()
        };
        assert!(budget(0.0, 0.009).withheld.accuracy_err.is_some());
        assert!((budget(0.0003, 0.0004).total_accuracy_stderr - 0.0005).abs() < 1e-15);
        let b = budget(0.0004, 0.0);
        assert!((b.total.accuracy_err + 0.0008).abs() < 1e-12);
        assert_eq!(b.total_accuracy_stderr, 0.0004);
        let reason = b.withheld.accuracy_err.as_deref().unwrap();
        assert!(
            reason.contains("-0.0008") && reason.contains("standard errors"),
            "{reason}"
        );
        assert!((b.steps[0].errors.accuracy_err + 0.0128).abs() < 1e-12);
        for s in &b.steps {
            assert_eq!(s.shares.accuracy_err, None);
            assert!(s.shares.cov_rel_err.is_some() && s.shares.kl.is_some());
        }
        let b = budget(0.00039, 0.0);
        assert_eq!(b.withheld.accuracy_err, None);
        assert!((b.steps[0].shares.accuracy_err.unwrap() - 16.0).abs() < 1e-9);
    }
}
