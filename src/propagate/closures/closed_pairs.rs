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
/// trapezoidal rule (`split_pair::trapezoid`: t = 20/M ≲ 1.4 for tanh). clo50 measured 20
/// (split rule 162 → 73 µs a pair at M = 12 … 32, mixture 55 → 217 µs); spl52/spl53 made the
/// split rule 15–29 µs a pair at every M ≥ 8 (Intel Xeon model 207, one thread, loaded;
/// `pair_cost_against_m`, BENCHMARKS grid54), the mixture's M² Φ₂ as much at M ≈ 16–18 for
/// units of s ≤ 8 and at M ≈ 10–12 for s ≥ 20. The XOR tanh 500×3 net's closure CPU against
/// this count (3.5 s at 20, 3.4 at 18, 3.2 at 16 and 14, 3.4 at 12, 3.7 at 10, 4.4 at 8) is
/// lowest at 14–16: 14.
const LOGISTIC_SPLIT_NODES: usize = 14;
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
    use crate::propagate::closures::quadrature;

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

    /// A unit and the variance of its activation (`quadrature::Unit::with_variance`).
    type UnitWithVariance = (quadrature::Unit, f64);

    /// The pair both tests below take at scale s and node count M: unit i at (0.3s, s) and
    /// unit j at (−0.18s, 0.9s) (`quadrature::Unit::with_variance`, with their variances), and
    /// the ρ > 0 at which the mixture's rule for unit j's deviation needs M nodes,
    /// √(1 − (40/((M − ½)·f·sⱼ))²) with f = 2 for tanh, 1 for sigmoid; `None` where no ρ < 1 does.
    fn pair_at(
        act: Activation,
        s: f64,
        m: usize,
    ) -> Option<(UnitWithVariance, UnitWithVariance, f64)> {
        let (ui, var_i) = quadrature::Unit::with_variance(act, 0.3 * s, s);
        let (uj, var_j) = quadrature::Unit::with_variance(act, -0.18 * s, 0.9 * s);
        let f = if act == Activation::Tanh { 2.0 } else { 1.0 };
        let sd = 40.0 / (m as f64 - 0.5) / (f * uj.s);
        (sd < 1.0).then(|| ((ui, var_i), (uj, var_j), (1.0 - sd * sd).sqrt()))
    }

    /// Both rules on each side of [`LOGISTIC_SPLIT_NODES`] (grid54 moved it from 20 to 14: the
    /// split rule now serves M = 15 … 20, t up to 20/14 for tanh) against the 2-D quadrature
    /// (`quadrature::pair_cov_fallback`), tanh and sigmoid, s = 3 … 40 (the partner at 0.9 s,
    /// means 0.3 s and −0.18 s), ρ of both signs chosen so that M = 13 … 20: the pairs
    /// `pair` takes (M ≤ 14) within the mixture's 10⁻¹⁰ of √(VarᵢVarⱼ)
    /// (`logistic_mixture::tests::pair_cov_matches_the_2d_rule`), those it leaves (M > 14) by
    /// the split rule within its 10⁻¹² (`split_pair` tests).
    #[test]
    fn both_rules_hold_their_bounds_at_the_split_count() {
        use crate::propagate::closures::quadrature::pair_cov_fallback;
        let (mut mixed, mut split) = (0usize, 0usize);
        let (mut worst_mix, mut worst_split) = (0.0f64, 0.0f64);
        for act in [Activation::Tanh, Activation::Sigmoid] {
            for s in [3.0, 8.0, 20.0, 40.0] {
                for m in [13, 14, 15, 16, 20] {
                    let Some(((ui, var_i), (uj, var_j), r)) = pair_at(act, s, m) else {
                        continue;
                    };
                    let closed = ClosedPairs::for_layer(act, &[ui.s, uj.s], 0.95, false);
                    for rho in [r, -r] {
                        assert_eq!(
                            logistic_mixture::nodes(act, ui.s, uj.s, rho),
                            Some(m),
                            "{act} s {s} ρ {rho}"
                        );
                        let want = pair_cov_fallback(act, ui, uj, rho).0;
                        let norm = (var_i * var_j).sqrt();
                        match closed.pair((ui.mu, ui.s), (uj.mu, uj.s), rho) {
                            Some(got) => {
                                let err = (got - want).abs() / norm;
                                assert!(m <= LOGISTIC_SPLIT_NODES, "{act} M {m} taken");
                                assert!(err <= 1e-10, "{act} s {s} ρ {rho} M {m}: {err:.1e}");
                                worst_mix = worst_mix.max(err);
                                mixed += 1;
                            }
                            None => {
                                assert!(m > LOGISTIC_SPLIT_NODES, "{act} M {m} left");
                                let got = split_pair::pair_cov(act, ui, uj, rho).unwrap().0;
                                let err = (got - want).abs() / norm;
                                assert!(err <= 1e-12, "{act} s {s} ρ {rho} M {m}: {err:.1e}");
                                worst_split = worst_split.max(err);
                                split += 1;
                            }
                        }
                    }
                }
            }
        }
        println!(
            "mixture {mixed} pairs max {worst_mix:.1e}, split rule {split} pairs max {worst_split:.1e}"
        );
        assert!(
            mixed >= 16 && split >= 24,
            "{mixed} mixture, {split} split pairs"
        );
    }

    /// The cost per pair of both rules against the mixture's node count M (grid54; prints, asserts
    /// nothing on time): tanh and sigmoid, unit i at (0.3s, s), unit j at (−0.2·0.9s, 0.9s), ρ
    /// chosen so that [`logistic_mixture::nodes`] gives M. Median over 5 rounds of the mean of
    /// 200 calls. `cargo test --release --lib pair_cost_against_m -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing: prints the per-pair cost of both rules, asserts nothing"]
    fn pair_cost_against_m() {
        use crate::propagate::closures::mixing_rule;
        use crate::special::bvn_cov;
        use std::hint::black_box;
        use std::time::Instant;
        let time = |f: &dyn Fn() -> f64| {
            let mut rounds: Vec<f64> = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    for _ in 0..200 {
                        black_box(f());
                    }
                    start.elapsed().as_secs_f64() / 200.0 * 1e6
                })
                .collect();
            rounds.sort_by(f64::total_cmp);
            rounds[2]
        };
        for act in [Activation::Tanh, Activation::Sigmoid] {
            for s in [3.0, 8.0, 20.0, 40.0] {
                for m in [6, 8, 10, 12, 14, 16, 18, 20] {
                    let Some(((ui, _), (uj, _), rho)) =
                        pair_at(act, s, m).filter(|&((ui, _), (uj, _), rho)| {
                            logistic_mixture::nodes(act, ui.s, uj.s, rho) == Some(m)
                        })
                    else {
                        continue;
                    };
                    let f = if act == Activation::Tanh { 2.0 } else { 1.0 };
                    let mix = time(&|| {
                        logistic_mixture::pair_cov(act, (ui.mu, ui.s), (uj.mu, uj.s), rho, (m, m))
                    });
                    let split = time(&|| split_pair::pair_cov(act, ui, uj, rho).unwrap().0);
                    // The same M² node terms by the scalar `bvn_cov` (the lanes' reference).
                    let (v, w) = mixing_rule::rule(m);
                    let (s1, s2) = (f * ui.s, f * uj.s);
                    let scalar = time(&|| {
                        let mut sum = 0.0;
                        for (&vk, &wk) in v.iter().zip(w) {
                            let sk = (vk + s1 * s1).sqrt();
                            for (&vl, &wl) in v.iter().zip(w) {
                                let sl = (vl + s2 * s2).sqrt();
                                let r = rho * s1 * s2 / (sk * sl);
                                sum += wk * wl * bvn_cov(f * ui.mu / sk, f * uj.mu / sl, r);
                            }
                        }
                        sum
                    });
                    println!(
                        "{act} s {s} ρ {rho:.6} M {m}: mixture {mix:.1} µs (scalar Φ₂ {scalar:.1}), split {split:.1} µs"
                    );
                }
            }
        }
    }
}
