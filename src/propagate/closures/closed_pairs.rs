//! Pair covariances in closed form for the Hermite series closure (issue #14, item 3): GELU's
//! orthant form (`gelu_exact`) and the logistic family's scale mixture (`logistic_mixture`:
//! tanh, sigmoid, SiLU, softplus). The series takes them for its strongest pairs (|ρ| above a
//! cap, so that its term count stays bounded at every scale) and for the pairs its truncation
//! bound does not settle, instead of the 2-D quadrature.

use super::gelu_exact;
use super::logistic_mixture;
use crate::net::Activation;

/// The largest |ρ| the series serves where a closed form takes the stronger pairs: at wide
/// pre-activations the series needs up to ln(tol)/ln|ρ| terms (219 at 0.9, tol 10⁻¹⁰). GELU:
/// measured in the ninth session (`closure_ratio 1024 1 5 strong 8`: 0.9 leaves 53 of 523 776
/// pairs to the closed form, K = 136 instead of 215; 0.8 and 0.7 slower).
pub(crate) const GELU_SERIES_RHO: f64 = 0.9;
/// The same cap for the logistic family (tanh, sigmoid, SiLU, softplus), whose closed form
/// costs M² node terms a pair (M from `logistic_mixture::nodes`).
const LOGISTIC_SERIES_RHO: f64 = 0.9;
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
    /// mixture beyond its node count, `logistic_mixture::nodes`).
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
