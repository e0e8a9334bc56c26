//! Partial derivatives ∂ₓᵃ∂_yᵇΦ₂(x, y; r) of the bivariate normal cdf for every a + b ≤
//! [`HIGH_ORDER`], by two recurrences instead of hand-expanded forms (cf. [`super::phi2_partials`],
//! total order ≤ 4): the terms of erf's reverse pass through the κ₃/κ₄-corrected closure
//! ([`super::high_terms`]).
//!
//! With q = √(1 − r²), w_y = (y − rx)/q, w_x = (x − ry)/q and φ₂ = φ(x)φ(w_y)/q the density:
//!
//! **a, b ≥ 1.** ∂ₓᵃ∂_yᵇΦ₂ = ∂ₓ^{a−1}∂_y^{b−1}φ₂ = (−1)^{a+b}H_{a−1,b−1}φ₂, with the bivariate
//! Hermite polynomials of Y = R⁻¹(x, y) = ((x − ry)/q², (y − rx)/q²) and G = R⁻¹
//! (g_xx = g_yy = 1/q², g_xy = −r/q²), by the recurrence (McCullagh, *Tensor Methods in
//! Statistics*, 1987, §5.2: H_{i∪k} = Y_k H_i − Σ_{j∈i} g_kj H_{i∖j})
//!
//! ```text
//! H₀₀ = 1,   H_{m+1,n} = Yₓ H_{mn} − m g_xx H_{m−1,n} − n g_xy H_{m,n−1},
//!            H_{0,n+1} = Y_y H_{0n} − n g_yy H_{0,n−1}.
//! ```
//!
//! **b = 0.** ∂ₓΦ₂ = φ(x)Φ(w_y) (the conditional cdf) with ∂ₓw_y = −r/q, so by Leibniz
//!
//! ```text
//! ∂ₓᵃΦ₂ = Σ_{m<a} C(a−1, m) φ⁽ᵐ⁾(x) (−r/q)^{a−1−m} Φ⁽ᵃ⁻¹⁻ᵐ⁾(w_y),   φ⁽ᵐ⁾ = (−1)ᵐHeₘφ, Φ⁽ᵏ⁾ = φ⁽ᵏ⁻¹⁾;
//! ```
//!
//! a = 0 is the same with x and y exchanged. y − rx and x − ry are formed without their
//! cancellation at x ≈ y, r → 1, as [`super::phi2_partials`] forms them. **The diagonal** u ↦ Φ₂(u, u; r) has
//! d/du Φ₂(u, u; r) = 2φ(u)Φ(αu), α = √((1 − r)/(1 + r)) = q/(1 + r) ≤ 1 for r ≥ 0, so its
//! k-th derivative is 2 × the same Leibniz sum with slope α, free of the 1/q powers whose
//! cancellation the sum Σ C(k, a)∂ₓᵃ∂_y^{k−a}Φ₂ would suffer as r → 1.

use super::high_terms::HIGH_ORDER;
use super::phi2_partials::minus_r_times;
use crate::special::{bvn_cov_complement, normal_cdf, normal_pdf};

/// `T[a][b]` = ∂ₓᵃ∂_yᵇΦ₂ for a + b ≤ [`HIGH_ORDER`] (entries with a + b > 6 are 0).
pub type Phi2High = [[f64; HIGH_ORDER + 1]; HIGH_ORDER + 1];

/// φ⁽ᵐ⁾(x) = (−1)ᵐHeₘ(x)φ(x), m = 0..=[`HIGH_ORDER`], by He_{m+1} = xHeₘ − mHe_{m−1}.
pub fn pdf_derivs(x: f64) -> [f64; HIGH_ORDER + 1] {
    let p = normal_pdf(x);
    let mut out = [0.0; HIGH_ORDER + 1];
    if p == 0.0 {
        // |x| > 38.6: |Heₘ(x)|φ(x) < 10⁻³⁰⁰ wherever φ(x) underflows, so 0 is the value; the
        // product would be ∞·0 = NaN once Heₘ(x) overflows (|x| ≳ 10⁵¹ at m = 6: the units
        // linear to f64 range of cumulant training on data ×10⁻¹⁰⁰, whose biases moved by ~lr
        // ≫ |W¹x|; scale67).
        return out;
    }
    let (mut he_prev, mut he) = (0.0, 1.0);
    for (m, o) in out.iter_mut().enumerate() {
        *o = if m % 2 == 0 { he * p } else { -he * p };
        (he_prev, he) = (he, x * he - m as f64 * he_prev);
    }
    out
}

/// Φ⁽ᵏ⁾(x), k = 0..=[`HIGH_ORDER`]: Φ itself, then φ⁽ᵏ⁻¹⁾.
pub fn cdf_derivs(x: f64) -> [f64; HIGH_ORDER + 1] {
    let p = pdf_derivs(x);
    let mut out = [0.0; HIGH_ORDER + 1];
    out[0] = normal_cdf(x);
    out[1..].copy_from_slice(&p[..HIGH_ORDER]);
    out
}

/// C(n, m) for n ≤ [`HIGH_ORDER`].
pub(super) fn binomial(n: usize, m: usize) -> f64 {
    (0..m).fold(1.0, |acc, k| acc * (n - k) as f64 / (k + 1) as f64)
}

/// dⁿ/dxⁿ [φ(x)Φ(βx + γ)] for n = 0..[`HIGH_ORDER`], given w = βx + γ: the Leibniz sum
/// Σₘ C(n, m) φ⁽ᵐ⁾(x) β^{n−m} Φ⁽ⁿ⁻ᵐ⁾(w).
fn pdf_times_cdf(x: f64, beta: f64, w: f64) -> [f64; HIGH_ORDER] {
    let (p, c) = (pdf_derivs(x), cdf_derivs(w));
    let mut out = [0.0; HIGH_ORDER];
    for (n, o) in out.iter_mut().enumerate() {
        *o = (0..=n)
            .map(|m| binomial(n, m) * p[m] * beta.powi((n - m) as i32) * c[n - m])
            .sum();
    }
    out
}

/// ∂ₓᵃ∂_yᵇΦ₂(x, y; r) for a + b ≤ [`HIGH_ORDER`] (module docs), `T[0][0]` = Φ₂ itself.
/// `one_minus_r2` = 1 − r² > 0, from the caller where r is a ratio that rounds near ±1.
pub fn phi2_high(x: f64, y: f64, r: f64, one_minus_r2: f64) -> Phi2High {
    let q2 = one_minus_r2;
    let q = q2.sqrt();
    // y − rx and x − ry without their cancellation at x ≈ y, r → 1 (`minus_r_times`).
    let (vy, vx) = (minus_r_times(y, x, r, q2), minus_r_times(x, y, r, q2));
    let (wy, wx) = (vy / q, vx / q);
    let dens = normal_pdf(x) * normal_pdf(wy) / q;
    let mut t = [[0.0; HIGH_ORDER + 1]; HIGH_ORDER + 1];
    t[0][0] = bvn_cov_complement(x, y, r, q2) + normal_cdf(x) * normal_cdf(y);
    let (sx, sy) = (pdf_times_cdf(x, -r / q, wy), pdf_times_cdf(y, -r / q, wx));
    for n in 0..HIGH_ORDER {
        t[n + 1][0] = sx[n];
        t[0][n + 1] = sy[n];
    }
    // H[m][n] for m + n ≤ HIGH_ORDER − 2.
    const H: usize = HIGH_ORDER - 1;
    let (yx, yy) = (vx / q2, vy / q2);
    let (gd, go) = (1.0 / q2, -r / q2);
    let mut h = [[0.0; H]; H];
    h[0][0] = 1.0;
    for n in 0..H - 1 {
        let below = if n > 0 { h[0][n - 1] } else { 0.0 };
        h[0][n + 1] = yy * h[0][n] - n as f64 * gd * below;
    }
    for m in 0..H - 1 {
        for n in 0..H - 1 - m {
            let left = if m > 0 { h[m - 1][n] } else { 0.0 };
            let below = if n > 0 { h[m][n - 1] } else { 0.0 };
            h[m + 1][n] = yx * h[m][n] - m as f64 * gd * left - n as f64 * go * below;
        }
    }
    for m in 0..H {
        for n in 0..H - m {
            let sign = if (m + n) % 2 == 0 { 1.0 } else { -1.0 };
            t[m + 1][n + 1] = sign * h[m][n] * dens;
        }
    }
    t
}

/// dᵏ/duᵏ Φ₂(u, u; r) for k = 0..=[`HIGH_ORDER`] (k = 0: Φ₂ itself), 0 ≤ r < 1, with
/// `one_minus_r2` = 1 − r² (module docs, "the diagonal").
pub fn phi2_diagonal(u: f64, r: f64, one_minus_r2: f64) -> [f64; HIGH_ORDER + 1] {
    let alpha = one_minus_r2.sqrt() / (1.0 + r);
    let s = pdf_times_cdf(u, alpha, alpha * u);
    let mut out = [0.0; HIGH_ORDER + 1];
    let pu = normal_cdf(u);
    out[0] = bvn_cov_complement(u, u, r, one_minus_r2) + pu * pu;
    for k in 1..=HIGH_ORDER {
        out[k] = 2.0 * s[k - 1];
    }
    out
}

/// The trapezoid rule with step `step` on [−12, 12] for the standard normal weight (wₖ = hφ(zₖ)):
/// for an integrand whose narrowest Gaussian factor has width w (times a polynomial of degree
/// d) its aliasing error is ~(2πw/h)ᵈe^{−2π²w²/h²} (the Fourier transform at 2π/h; Trefethen &
/// Weideman, SIAM Rev. 56, 385, 2014), e^{−12²/2} the truncation: a reference for the smooth,
/// narrow integrands of the tests, where the project's 256-point Gauss–Hermite rule, with node
/// spacing ≈ π/√(2M) = 0.14 near 0, does not resolve widths ≲ 0.2.
#[cfg(test)]
pub(super) fn normal_trapezoid(step: f64) -> (Vec<f64>, Vec<f64>) {
    let n = (12.0 / step).round() as i64;
    let z: Vec<f64> = (-n..=n).map(|k| k as f64 * step).collect();
    let w = z.iter().map(|&z| step * normal_pdf(z)).collect();
    (z, w)
}

#[cfg(test)]
mod tests {
    use super::super::phi2_partials::phi2_partials;
    use super::*;

    /// (a, b) with 1 ≤ a + b ≤ `max`.
    fn orders(max: usize) -> impl Iterator<Item = (usize, usize)> {
        (1..=max).flat_map(|k| (0..=k).map(move |a| (a, k - a)))
    }

    fn high(x: f64, y: f64, r: f64) -> Phi2High {
        phi2_high(x, y, r, (1.0 - r) * (1.0 + r))
    }

    const POINTS: [(f64, f64, f64); 6] = [
        (0.3, -0.7, 0.4),
        (-1.2, 0.5, -0.8),
        (1.5, 1.1, 0.95),
        (0.0, 0.0, 0.0),
        (2.5, -3.0, -0.3),
        (-0.4, -0.9, 0.6),
    ];

    /// Total order ≤ 4 equals the hand-expanded [`phi2_partials`] to rounding (1e-14 of the
    /// largest entry of the same order, the hand forms' own rounding being a few ε of it).
    /// Where φ(x) underflows (|x| ≥ 40: 38.6 and beyond) every φ⁽ᵐ⁾(x) is 0 and Φ(x) is 0 or 1,
    /// up to |x| = 10³⁰⁸; at |x| = 38 (φ subnormal, 10⁻³¹⁴) the Hermite products are finite.
    /// Fails without the p = 0 branch of [`pdf_derivs`]: at |x| = 10⁶⁰, He₆(x) = ∞ and ∞·0 = NaN
    /// (the units of cumulant training on data ×10⁻¹⁰⁰ sit at |μ/s| ~ 10⁹⁷).
    #[test]
    fn derivatives_vanish_where_the_density_underflows() {
        for x in [40.0, 1e10, 1e60, 1e97, 1e200, 1e308] {
            for (x, cdf) in [(x, 1.0), (-x, 0.0)] {
                assert_eq!(pdf_derivs(x), [0.0; HIGH_ORDER + 1], "{x:e}");
                let c = cdf_derivs(x);
                assert_eq!(c[0], cdf, "{x:e}");
                assert!(c[1..].iter().all(|&v| v == 0.0), "{x:e}");
            }
        }
        for x in [38.0, -38.0] {
            assert!(pdf_derivs(x).iter().all(|v| v.is_finite()), "{x}");
        }
    }

    /// The partials of one variable twice (x = y = u, r = r₀ of erf's pair: 2Σ/(1 + 2Σ), with
    /// 1 − r₀² = (1 + 4Σ)/(1 + 2Σ)² from Σ) summed along the diagonal, Σₐ C(k, a)∂ₓᵃ∂_y^{k−a}Φ₂
    /// = dᵏ/duᵏ Φ₂(u, u; r₀), against [`phi2_diagonal`] (which takes the diagonal's Leibniz
    /// sum with slope α, free of the 1/q powers), k = 1..=6, Σ = 1 to 10¹², u = ±0.3, 1.7. The
    /// sum cancels terms ~q^{1−k} larger than itself: the tolerance is 16ε of Σₐ C(k, a)|T_a|,
    /// its rounding. Fails with w_y = (y − rx)/q formed as it reads, whose cancellation at
    /// x = y, r → 1 leaves ε|x|/q in w_y (erf73 found it in `phi2_partials`; from Σ = 10⁴).
    #[test]
    fn one_variable_twice_sums_to_the_diagonal() {
        for var in [1.0f64, 1e4, 1e8, 1e12] {
            let r = 2.0 * var / (1.0 + 2.0 * var);
            let q2 = (1.0 + 4.0 * var) / ((1.0 + 2.0 * var) * (1.0 + 2.0 * var));
            for u in [0.3, -0.3, 1.7] {
                let (t, diag) = (phi2_high(u, u, r, q2), phi2_diagonal(u, r, q2));
                for k in 1..=HIGH_ORDER {
                    let terms = (0..=k).map(|a| binomial(k, a) * t[a][k - a]);
                    let sum: f64 = terms.clone().sum();
                    let size: f64 = terms.map(f64::abs).sum();
                    assert!(
                        (sum - diag[k]).abs() <= 16.0 * f64::EPSILON * size,
                        "Σ = {var:e}, u = {u}, k = {k}: {sum:e} vs {:e} (terms {size:e})",
                        diag[k]
                    );
                }
            }
        }
    }

    #[test]
    fn low_orders_equal_the_hand_written_partials() {
        for (x, y, r) in POINTS {
            let (t, old) = (high(x, y, r), phi2_partials(x, y, r, (1.0 - r) * (1.0 + r)));
            for k in 1..=4 {
                let scale = (0..=k).map(|a| old[a][k - a].abs()).fold(0.0, f64::max);
                for a in 0..=k {
                    let b = k - a;
                    let err = (t[a][b] - old[a][b]).abs();
                    assert!(
                        err <= 1e-14 * scale,
                        "({x}, {y}, {r}) [{a}][{b}]: {} vs {}",
                        t[a][b],
                        old[a][b]
                    );
                }
            }
        }
    }

    /// Every entry of order n ≥ 1 against the central difference, step h, of the entry of
    /// order n − 1 below it (in x where a > 0, else y). The difference's truncation error is
    /// h²g'''/6 + O(h⁴), estimated from the same difference at 2h (D(2h) − D(h) = h²g''/2·…,
    /// i.e. err(h) ≈ |D(2h) − D(h)|/3); the tolerance is twice that plus the rounding of the
    /// difference quotient, 4ε·max|g|/h.
    #[test]
    fn entries_match_finite_differences_of_the_order_below() {
        let h = 1e-3;
        for (x, y, r) in POINTS {
            let t = high(x, y, r);
            for (a, b) in orders(HIGH_ORDER) {
                let (da, db) = if a > 0 { (1.0, 0.0) } else { (0.0, 1.0) };
                let (pa, pb) = if a > 0 { (a - 1, b) } else { (a, b - 1) };
                let g = |s: f64| high(x + s * da, y + s * db, r)[pa][pb];
                let diff = |s: f64| (g(s) - g(-s)) / (2.0 * s);
                let (d1, d2) = (diff(h), diff(2.0 * h));
                let gmax = [g(h), g(-h), g(2.0 * h), g(-2.0 * h)]
                    .iter()
                    .fold(0.0f64, |m, v| m.max(v.abs()));
                let tol = 2.0 * (d2 - d1).abs() / 3.0 + 4.0 * f64::EPSILON * gmax / h;
                assert!(
                    (t[a][b] - d1).abs() <= tol,
                    "({x}, {y}, {r}) [{a}][{b}]: {} vs {d1} (tol {tol:e})",
                    t[a][b]
                );
            }
        }
    }

    /// ∂ₓᵃ∂_yᵇΦ₂ by quadrature of the mixture Φ₂(x, y; r) = E_Z[Φ((x − σZ)/τ)Φ((y − sσZ)/τ)]
    /// (X = σZ + τE₁, Y = sσZ + τE₂, σ² = |r|, τ² = 1 − |r|, s = sign r), differentiated under
    /// the expectation: E_Z[τ^{−a−b}Φ⁽ᵃ⁾((x − σZ)/τ)Φ⁽ᵇ⁾((y − sσZ)/τ)], an entire integrand
    /// whose Gaussian factor has width ≥ τ/(σ√2) = 0.16 (r = 0.95), times a polynomial of degree
    /// ≤ 4: by [`normal_trapezoid`] with steps 0.1 and 0.05, whose aliasing errors are
    /// ~10⁻¹⁶ and ~10⁻⁷⁵ of Σwₖ|fₖ|. Tolerance: twice the difference of the two plus 1e-13 of
    /// Σwₖ|fₖ| (rounding of the sum and of the 1/q^{a+b−1} cancellations of the closed form).
    #[test]
    fn entries_match_the_mixture_quadrature() {
        let rules = [normal_trapezoid(0.1), normal_trapezoid(0.05)];
        for r in [-0.9, 0.0, 0.6, 0.95] {
            for (x, y) in [(0.3, -0.5), (-1.1, 0.8), (1.7, 1.4)] {
                let t = high(x, y, r);
                let (sigma, tau) = (r.abs().sqrt(), (1.0 - r.abs()).sqrt());
                let s = r.signum();
                let quad = |fine: bool, a: usize, b: usize| {
                    let (z, w) = &rules[usize::from(fine)];
                    let scale = tau.powi(-((a + b) as i32));
                    z.iter().zip(w).fold((0.0, 0.0), |(sum, abs), (&z, &w)| {
                        let f = scale
                            * cdf_derivs((x - sigma * z) / tau)[a]
                            * cdf_derivs((y - s * sigma * z) / tau)[b];
                        (sum + w * f, abs + w * f.abs())
                    })
                };
                for (a, b) in orders(HIGH_ORDER).chain([(0, 0)]) {
                    let (q1, _) = quad(false, a, b);
                    let (q2, abs) = quad(true, a, b);
                    let tol = 2.0 * (q1 - q2).abs() + 1e-13 * abs;
                    assert!(
                        (t[a][b] - q2).abs() <= tol,
                        "({x}, {y}, {r}) [{a}][{b}]: {} vs {q2} (tol {tol:e})",
                        t[a][b]
                    );
                }
            }
        }
    }

    /// The diagonal derivatives equal the binomial sums Σₐ C(k, a)∂ₓᵃ∂_y^{k−a}Φ₂ at (u, u) to
    /// 1e-13 of the sum of the magnitudes of its terms (moderate r, where the sum is accurate).
    #[test]
    fn diagonal_equals_the_binomial_sum_of_partials() {
        for (u, r) in [(0.4, 0.3), (-1.3, 0.7), (2.2, 0.05), (0.0, 0.85)] {
            let q2 = (1.0 - r) * (1.0 + r);
            let (d, t) = (phi2_diagonal(u, r, q2), phi2_high(u, u, r, q2));
            for (k, &dk) in d.iter().enumerate() {
                let terms = (0..=k).map(|a| binomial(k, a) * t[a][k - a]);
                let (sum, abs) = terms.fold((0.0, 0.0), |(s, m), v| (s + v, m + v.abs()));
                assert!(
                    (dk - sum).abs() <= 1e-13 * abs.max(f64::MIN_POSITIVE),
                    "({u}, {r}) k = {k}: {dk} vs {sum}"
                );
            }
        }
    }
}
