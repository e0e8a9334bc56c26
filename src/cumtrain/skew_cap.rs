//! A continuous cap on the first layer's unit skewness in the κ-corrected cumulant objective
//! (`--order 3|4` with relu, leaky relu or erf; issue #16 item 6).
//!
//! The Gram–Charlier corrected closure ([`crate::propagate::closures::edgeworth`]) drops a unit
//! whose standardised skewness Sᵢ = κ₃\[i,i,i\]/sᵢ³ no Gram–Charlier density reaches
//! (|Sᵢ| ≳ 1.049, Jondeau & Rockinger 2001) back to the Gaussian closure, with every pair it is
//! in. As a forward rule that is honest; as part of a training objective it is a jump: the
//! corrections lower the loss as the first layer turns its units towards the data's skewed
//! directions, and a step that carries a unit past the bound raises L_C at once by what its
//! corrections had bought. Measured on the higher-order task (erf, order 3, λ = 1; EXPERIMENTS.md
//! "The one-sided guard and the skewness cap in cumulant training"): the share of units dropped
//! grew 2 % → 48 % over six epochs and the run collapsed at the seventh (L_C 0.36 → 0.48,
//! training accuracy 0.79 → 0.62), with 73 % dropped by the twelfth; with the cap the same runs
//! end at 0.846–0.857 test accuracy.
//!
//! The cap scales each unit's row of T = κ₃\[i,i,j\] (all j, so κ₃\[i,i,i\] and κ₃\[i,i,j\]
//! together) by
//!
//! ```text
//! cᵢ = min(1, S_cap / |Sᵢ|),   Sᵢ = Tᵢᵢ / vᵢ^{3/2},   vᵢ = (1/n) Σ_k Dᵢₖ²   (= Σᵢᵢ of h¹)
//! ```
//!
//! with S_cap = [`SKEW_CAP`] inside the reach, so that no unit leaves it: a unit more skewed
//! than any Gram–Charlier density is given the most skewed one (of its sign) instead of none.
//! The map is continuous (cᵢ = 1 up to the cap) and piecewise smooth; the corrections of a
//! capped unit no longer grow with its skewness, so the objective stops rewarding skewness the
//! expansion cannot represent. κ₃\[i,j,j\] = T\[j,i\] is scaled by cⱼ (its unit j's row). The κ₄
//! slices of order 4 are left as they are: a unit whose (S, K) leaves the region of positive
//! densities still drops to order 3 (a smaller jump), now with its capped skewness.
//!
//! Reverse pass (T' the capped slice, T̄' its adjoint): for an uncapped row T̄ᵢⱼ = T̄'ᵢⱼ; for a
//! capped one T'ᵢⱼ = S_cap·vᵢ^{3/2}·Tᵢⱼ/|Tᵢᵢ|, so
//!
//! ```text
//! T̄ᵢⱼ = cᵢ T̄'ᵢⱼ − δᵢⱼ (Σ_m T̄'ᵢₘ T'ᵢₘ) / Tᵢᵢ,     v̄ᵢ = (3 / 2vᵢ) Σ_m T̄'ᵢₘ T'ᵢₘ,
//! ```
//!
//! and v̄ᵢ reaches Dᵢₖ² = Eᵢₖ as Ēᵢₖ += v̄ᵢ/n ([`super::first_layer::Slices::backward`]).

use faer::Mat;

/// The largest standardised skewness |κ₃/s³| the cap lets a unit keep: inside the ≈ 1.049 that
/// some Gram–Charlier density 1 + S·He₃/6 + K·He₄/24 ≥ 0 reaches (checked against
/// `closures::edgeworth::gram_charlier_reachable` in the tests), so that a capped unit stays
/// corrected.
pub const SKEW_CAP: f64 = 1.0;

/// The rows of T the cap scaled: (unit, cᵢ, Tᵢᵢ before, vᵢ).
#[derive(Clone, Debug, Default)]
pub struct SkewCap {
    capped: Vec<(usize, f64, f64, f64)>,
}

impl SkewCap {
    /// Caps `t` (T = κ₃\[i,i,j\], N × N) in place, with `e` = D∘D (N × n) for the variances
    /// vᵢ (module docs).
    pub fn apply(t: &mut Mat<f64>, e: &Mat<f64>) -> Self {
        let n = e.ncols().max(1) as f64;
        let mut capped = Vec::new();
        for i in 0..t.nrows() {
            let v = e.row(i).iter().sum::<f64>() / n;
            let tii = t[(i, i)];
            if v.is_nan() || v <= 0.0 || tii == 0.0 {
                continue;
            }
            let skew = tii / v.powf(1.5);
            if skew.abs() <= SKEW_CAP {
                continue;
            }
            let c = SKEW_CAP / skew.abs();
            for j in 0..t.ncols() {
                t[(i, j)] *= c;
            }
            capped.push((i, c, tii, v));
        }
        SkewCap { capped }
    }

    /// How many units the cap scaled.
    pub fn count(&self) -> usize {
        self.capped.len()
    }

    /// The adjoint of the uncapped T from that of the capped one, `t_bar` (in place), with
    /// `t` the capped T; returns v̄ (N; zero for uncapped units), the adjoint of the variances
    /// vᵢ the cap read (module docs).
    pub fn backward(&self, t: &Mat<f64>, t_bar: &mut Mat<f64>) -> Vec<f64> {
        let mut v_bar = vec![0.0; t.nrows()];
        for &(i, c, tii, v) in &self.capped {
            let inner: f64 = (0..t.ncols()).map(|m| t_bar[(i, m)] * t[(i, m)]).sum();
            for j in 0..t.ncols() {
                t_bar[(i, j)] *= c;
            }
            t_bar[(i, i)] -= inner / tii;
            v_bar[i] = 1.5 * inner / v;
        }
        v_bar
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::closures::edgeworth::gram_charlier_reachable;

    #[test]
    fn the_cap_is_within_the_gram_charlier_reach() {
        assert!(gram_charlier_reachable(SKEW_CAP, None));
        assert!(gram_charlier_reachable(-SKEW_CAP, None));
        assert!(!gram_charlier_reachable(1.1, None));
    }

    /// T and E of 3 units over 5 samples, unit 0 strongly skewed, unit 2 skewed the other way.
    fn example() -> (Mat<f64>, Mat<f64>) {
        let d = Mat::from_fn(3, 5, |i, k| {
            let x = [3.0, -0.5, -0.7, -0.9, -0.9][k];
            match i {
                0 => x,
                1 => [0.3, -0.2, 0.1, -0.4, 0.2][k],
                _ => -x + 0.1 * k as f64,
            }
        });
        let e = Mat::from_fn(3, 5, |i, k| d[(i, k)] * d[(i, k)]);
        let t = Mat::from_fn(3, 3, |i, j| {
            (0..5).map(|k| e[(i, k)] * d[(j, k)]).sum::<f64>() / 5.0
        });
        (t, e)
    }

    /// Capped units end at |S| = S_cap exactly; the others are untouched.
    #[test]
    fn capped_units_end_at_the_cap() {
        let (t0, e) = example();
        let mut t = t0.clone();
        let cap = SkewCap::apply(&mut t, &e);
        assert_eq!(cap.count(), 2);
        for i in 0..3 {
            let v: f64 = e.row(i).iter().sum::<f64>() / 5.0;
            let skew = t[(i, i)] / v.powf(1.5);
            let before = t0[(i, i)] / v.powf(1.5);
            if before.abs() > SKEW_CAP {
                assert!((skew.abs() - SKEW_CAP).abs() < 1e-14, "unit {i}: {skew}");
                assert_eq!(skew.signum(), before.signum());
            } else {
                assert_eq!(
                    t.row(i).iter().collect::<Vec<_>>(),
                    t0.row(i).iter().collect::<Vec<_>>()
                );
            }
        }
    }

    /// The reverse pass against central differences of ⟨G, T'(T, E)⟩ in T and in E (through
    /// vᵢ), for a fixed G; fails with the −δᵢⱼ term or v̄ dropped.
    #[test]
    fn backward_matches_central_differences() {
        let (t0, e0) = example();
        let g = Mat::from_fn(3, 3, |i, j| 0.3 + 0.7 * i as f64 - 0.4 * j as f64);
        let f = |t: &Mat<f64>, e: &Mat<f64>| {
            let mut t = t.clone();
            SkewCap::apply(&mut t, e);
            (0..3)
                .flat_map(|i| (0..3).map(move |j| (i, j)))
                .map(|(i, j)| g[(i, j)] * t[(i, j)])
                .sum::<f64>()
        };
        let mut t = t0.clone();
        let cap = SkewCap::apply(&mut t, &e0);
        let mut t_bar = g.clone();
        let v_bar = cap.backward(&t, &mut t_bar);
        let h = 1e-6;
        for i in 0..3 {
            for j in 0..3 {
                let (mut p, mut m) = (t0.clone(), t0.clone());
                p[(i, j)] += h;
                m[(i, j)] -= h;
                let fd = (f(&p, &e0) - f(&m, &e0)) / (2.0 * h);
                assert!(
                    (fd - t_bar[(i, j)]).abs() < 1e-7,
                    "T[{i},{j}]: {} vs {fd}",
                    t_bar[(i, j)]
                );
            }
            // vᵢ = mean of row i of E: moving every entry of the row by h moves vᵢ by h.
            let (mut p, mut m) = (e0.clone(), e0.clone());
            for k in 0..5 {
                p[(i, k)] += h;
                m[(i, k)] -= h;
            }
            let fd = (f(&t0, &p) - f(&t0, &m)) / (2.0 * h);
            assert!((fd - v_bar[i]).abs() < 1e-7, "v[{i}]: {} vs {fd}", v_bar[i]);
        }
    }
}
