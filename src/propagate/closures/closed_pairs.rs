//! Pair covariances in closed form for the Hermite series closure (issue #14, item 3): GELU's
//! orthant form (`gelu_exact`) and the logistic family's scale mixture (`logistic_mixture`:
//! tanh, sigmoid, SiLU, softplus). The series takes them for its strongest pairs (|ρ| above a
//! cap, so that its term count stays bounded at every scale) and for the pairs its truncation
//! bound does not settle, instead of the 2-D quadrature.

use super::gelu_exact;
use super::logistic_mixture;
use super::split_pair;
use crate::net::Activation;

/// The largest |ρ| the series serves where a closed form takes the stronger pairs: at wide
/// pre-activations the series needs up to ln(tol)/ln|ρ| terms (219 at 0.9, tol 10⁻¹⁰). GELU:
/// measured in the ninth session (`closure_ratio 1024 1 5 strong 8`: 0.9 leaves 53 of 523 776
/// pairs to the closed form, K = 136 instead of 215; 0.8 and 0.7 slower).
pub(crate) const GELU_SERIES_RHO: f64 = 0.9;
/// The same cap for the logistic family (tanh, sigmoid, SiLU, softplus), whose closed form
/// costs M² node terms a pair (M from `logistic_mixture::nodes`).
const LOGISTIC_SERIES_RHO: f64 = 0.9;
/// Largest node count per unit at which the mixture takes a pair of tanh or sigmoid units; a
/// pair that needs more goes to `split_pair::pair_cov`, whose conditional mean there is the
/// trapezoidal rule (`split_pair::trapezoid`: t = 20/M ≲ 1 for tanh). Measured (clo50, Intel
/// Xeon, one thread, s = 8 and 3, ρ 0.97–0.996): M = 12, 17, 20, 25, 32 cost 55, 68, 94, 157,
/// 217 µs a pair by the mixture (M² Φ₂) and 162, 128, 97, 88, 73 µs by the split rule (51 184
/// to 26 972 evaluations of φ): equal at M = 20, and the split rule's work falls as ρ → 1 while
/// the mixture's grows as M².
const LOGISTIC_SPLIT_NODES: usize = 20;
/// Largest node count per unit at which the logistic cap is taken for a layer: at the layer's
/// largest |ρ| and its low deviations (the 5th percentile of sᵢ), the mixture's M² node terms
/// (each a Φ₂ − ΦΦ) must stay far below the series terms it saves.
const LOGISTIC_CAP_NODES: usize = 16;

/// The closed form of one activation's pairs in one layer, and the cap above which the series
/// leaves its pairs to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClosedPairs {
    act: Activation,
    cap: f64,
}

impl ClosedPairs {
    /// The closed pairs of `act` for a layer with deviations `s` and largest |ρ| `rho_max`: GELU
    /// caps the series at [`GELU_SERIES_RHO`]; the logistic family at [`LOGISTIC_SERIES_RHO`]
    /// where the mixture serves the layer's strong pairs with at most [`LOGISTIC_CAP_NODES`]
    /// nodes (wide layers; narrow ones settle in few terms); others (and `fixed`, the series
    /// `HermiteVjp` differentiates) have no cap (1).
    pub(crate) fn for_layer(act: Activation, s: &[f64], rho_max: f64, fixed: bool) -> Self {
        let cap = if fixed {
            1.0
        } else if act == Activation::Gelu {
            GELU_SERIES_RHO
        } else if logistic_mixture::supports(act) && rho_max > LOGISTIC_SERIES_RHO {
            let low = low_deviation(s);
            match logistic_mixture::nodes(act, low, low, rho_max) {
                Some(m) if m <= LOGISTIC_CAP_NODES => LOGISTIC_SERIES_RHO,
                _ => 1.0,
            }
        } else {
            1.0
        };
        ClosedPairs { act, cap }
    }

    /// The largest |ρ| the series serves (1: all).
    pub(crate) fn cap(&self) -> f64 {
        self.cap
    }

    /// Cov(φ(hᵢ), φ(hⱼ)) in closed form, or `None` where there is none (other activations; the
    /// mixture beyond its node count, `logistic_mixture::nodes`, and for tanh and sigmoid beyond
    /// [`LOGISTIC_SPLIT_NODES`], where the split rule is cheaper).
    pub(crate) fn pair(
        &self,
        (mu1, s1): (f64, f64),
        (mu2, s2): (f64, f64),
        rho: f64,
    ) -> Option<f64> {
        if self.act == Activation::Gelu {
            return Some(gelu_exact::pair_cov(mu1, s1, mu2, s2, rho));
        }
        if !logistic_mixture::supports(self.act) || s1 <= 0.0 || s2 <= 0.0 {
            return None;
        }
        let m = logistic_mixture::nodes(self.act, s1, s2, rho)?;
        if m > LOGISTIC_SPLIT_NODES && split_pair::trapezoid_serves(self.act) {
            return None;
        }
        Some(logistic_mixture::pair_cov(
            self.act,
            (mu1, s1),
            (mu2, s2),
            rho,
            (m, m),
        ))
    }

    /// [`Self::pair`] of unit i with the units `js` at correlations `rho`, into `out[j]`, and
    /// `fallback(j, ρ)` where there is no closed form. GELU's batch runs its Φ₂ on SIMD lanes
    /// (`gelu_exact::pair_covs`).
    pub(crate) fn pairs(
        &self,
        unit_i: (f64, f64),
        (mu, s): (&[f64], &[f64]),
        (js, rho): (&[usize], &[f64]),
        out: &mut [f64],
        fallback: impl Fn(usize, f64) -> f64,
    ) {
        if self.act == Activation::Gelu {
            gelu_exact::pair_covs(unit_i, (mu, s), js, rho, out);
            return;
        }
        for (&j, &r) in js.iter().zip(rho) {
            out[j] = self
                .pair(unit_i, (mu[j], s[j]), r)
                .unwrap_or_else(|| fallback(j, r));
        }
    }
}

/// The 5th percentile of the positive deviations (0 if none).
fn low_deviation(s: &[f64]) -> f64 {
    let mut pos: Vec<f64> = s.iter().copied().filter(|&x| x > 0.0).collect();
    if pos.is_empty() {
        return 0.0;
    }
    let k = pos.len() / 20;
    *pos.select_nth_unstable_by(k, f64::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mixture's work per pair of tanh and sigmoid is at most LOGISTIC_SPLIT_NODES² node
    /// terms at every |ρ| (0.9 … 1 − 10⁻¹², s = 8 and 7.2): a pair that needs more nodes goes to
    /// the split rule (`pair` gives `None`, the series' fallback). SiLU (no trapezoidal
    /// conditional) keeps the mixture up to `MAX_NODES`.
    #[test]
    fn the_mixture_takes_no_pair_beyond_its_split_count() {
        let (unit_i, unit_j) = ((2.0, 8.0), (-1.0, 7.2));
        let mut routed = 0;
        for act in [Activation::Tanh, Activation::Sigmoid, Activation::Silu] {
            let closed = ClosedPairs::for_layer(act, &[8.0, 7.2], 0.95, false);
            for k in 0..=400 {
                let rho = 1.0 - 0.1 * 10f64.powf(-11.0 * k as f64 / 400.0);
                let Some(m) = logistic_mixture::nodes(act, unit_i.1, unit_j.1, rho) else {
                    continue;
                };
                let taken = closed.pair(unit_i, unit_j, rho).is_some();
                if act == Activation::Silu {
                    assert!(taken, "SiLU ρ = {rho}, M = {m}");
                } else {
                    assert_eq!(taken, m <= LOGISTIC_SPLIT_NODES, "{act} ρ = {rho}, M = {m}");
                    routed += usize::from(!taken);
                }
            }
        }
        assert!(routed > 0, "no pair between the split count and MAX_NODES");
    }
}
