//! φ⁽ⁿ⁾(x), n = 0 … 12, in closed form for the smooth activations whose derivative is not a
//! polynomial of φ (gelu, erf, SiLU, softplus), and bounds Mₙ ≥ sup|φ⁽ⁿ⁾|, for the delta method
//! of [`super::quadrature_terms::Taylor`] (which reads orders ≤ 8; order 9 serves M₈'s bound,
//! orders 10–12 the tests' finite differences).
//!
//! With ϕ the standard normal density, Heₙ the probabilists' Hermite polynomials
//! (He₀ = 1, He₁ = x, Heₙ₊₁ = xHeₙ − nHeₙ₋₁) and σ the logistic function:
//!
//! ```text
//! gelu = xΦ(x):   φ' = Φ(x) + xϕ(x),  φ⁽ⁿ⁾ = (−1)ⁿ ϕ(x)(Heₙ₋₂(x) − Heₙ(x))   (n ≥ 2),
//! erf:            φ⁽ⁿ⁾ = (2/√π)(−√2)ⁿ⁻¹ Heₙ₋₁(√2x) e^{−x²}                  (n ≥ 1),
//! SiLU = xσ(x):   φ⁽ⁿ⁾ = xσ⁽ⁿ⁾(x) + nσ⁽ⁿ⁻¹⁾(x)                            (n ≥ 1),
//! softplus:       φ⁽ⁿ⁾ = σ⁽ⁿ⁻¹⁾(x)                                         (n ≥ 1),
//! ```
//!
//! (gelu: φ⁽ⁿ⁾ = xΦ⁽ⁿ⁾ + nΦ⁽ⁿ⁻¹⁾, Φ⁽ᵏ⁾ = (−1)ᵏ⁻¹Heₖ₋₁ϕ, and xHeₙ₋₁ = Heₙ + (n − 1)Heₙ₋₂;
//! erf: e^{−x²} = √(2π)ϕ(√2x)), and σ⁽ⁿ⁾ = Pₙ(σ) with P₀ = t, Pₙ₊₁ = Pₙ'(t)(t − t²). Every form
//! keeps its relative accuracy at large |x|: ϕ and e^{−x²} underflow to 0 with their polynomial
//! factors, and σ⁽ⁿ⁾ (n ≥ 1) is evaluated at −|x| (σ⁽ⁿ⁾(x) = (−1)ⁿ⁺¹σ⁽ⁿ⁾(−x), σ − ½ being odd),
//! where σ = e^{−|x|}/(1 + e^{−|x|}) has no cancellation. φ itself is [`Activation::eval`].

use std::f64::consts::{FRAC_2_SQRT_PI, SQRT_2};

use crate::net::Activation;
use crate::special::{normal_cdf, normal_pdf};

/// Orders 0 … 12.
pub(crate) const ORDERS_CLOSED: usize = 13;

/// Pₙ (coefficients, lowest first), n < `count`, with φ⁽ⁿ⁾ = Pₙ(φ) for φ' = `prime`(φ):
/// P₀ = t, Pₙ₊₁ = Pₙ'(t)·prime(t).
pub(crate) fn derivative_polys(prime: &[f64], count: usize) -> Vec<Vec<f64>> {
    let mut polys = vec![vec![0.0, 1.0]];
    for n in 1..count {
        let p = &polys[n - 1];
        let dp: Vec<f64> = (1..p.len()).map(|k| k as f64 * p[k]).collect();
        let mut next = vec![0.0; dp.len() + prime.len() - 1];
        for (k, a) in dp.iter().enumerate() {
            for (m, b) in prime.iter().enumerate() {
                next[k + m] += a * b;
            }
        }
        polys.push(next);
    }
    polys
}

/// p(t) by Horner.
pub(crate) fn poly(p: &[f64], t: f64) -> f64 {
    p.iter().rev().fold(0.0, |acc, c| acc * t + c)
}

/// The logistic function's polynomials Pₙ, n < [`ORDERS_CLOSED`].
fn logistic_polys() -> &'static [Vec<f64>] {
    static POLYS: std::sync::OnceLock<Vec<Vec<f64>>> = std::sync::OnceLock::new();
    POLYS.get_or_init(|| derivative_polys(&[0.0, 1.0, -1.0], ORDERS_CLOSED))
}

/// He₀(x) … He₁₂(x).
fn hermite(x: f64) -> [f64; ORDERS_CLOSED] {
    let mut he = [0.0; ORDERS_CLOSED];
    he[0] = 1.0;
    he[1] = x;
    for n in 1..ORDERS_CLOSED - 1 {
        he[n + 1] = x * he[n] - n as f64 * he[n - 1];
    }
    he
}

/// σ⁽ⁿ⁾(x), n = 0 … 12 (module docs: orders ≥ 1 from −|x|).
fn logistic_derivs(x: f64) -> [f64; ORDERS_CLOSED] {
    let e = (-x.abs()).exp();
    let t = e / (1.0 + e);
    let polys = logistic_polys();
    let mut d = [0.0; ORDERS_CLOSED];
    d[0] = if x > 0.0 { 1.0 / (1.0 + e) } else { t };
    for (n, p) in polys.iter().enumerate().skip(1) {
        let v = poly(p, t);
        // σ⁽ⁿ⁾(x) = (−1)ⁿ⁺¹σ⁽ⁿ⁾(−x): the sign flips for even n when x > 0.
        d[n] = if x > 0.0 && n % 2 == 0 { -v } else { v };
    }
    d
}

/// φ⁽ⁿ⁾(x), n = 0 … 12, of gelu, erf, SiLU and softplus (module docs); None for the others.
pub(crate) fn closed_form(act: Activation, x: f64) -> Option<[f64; ORDERS_CLOSED]> {
    let mut d = [0.0; ORDERS_CLOSED];
    d[0] = act.eval(x);
    match act {
        Activation::Gelu => {
            let (he, pdf) = (hermite(x), normal_pdf(x));
            d[1] = normal_cdf(x) + x * pdf;
            for n in 2..ORDERS_CLOSED {
                let sign = if n % 2 == 0 { 1.0 } else { -1.0 };
                d[n] = sign * pdf * (he[n - 2] - he[n]);
            }
        }
        Activation::Erf => {
            let (he, g) = (hermite(SQRT_2 * x), FRAC_2_SQRT_PI * (-x * x).exp());
            let mut scale = g;
            for n in 1..ORDERS_CLOSED {
                d[n] = scale * he[n - 1];
                scale *= -SQRT_2;
            }
        }
        Activation::Silu => {
            let s = logistic_derivs(x);
            for n in 1..ORDERS_CLOSED {
                d[n] = x * s[n] + n as f64 * s[n - 1];
            }
        }
        Activation::Softplus => {
            let s = logistic_derivs(x);
            d[1..].copy_from_slice(&s[..ORDERS_CLOSED - 1]);
        }
        _ => return None,
    }
    Some(d)
}

/// Half-width of the grid on which [`closed_bounds`] looks for the maxima.
const GRID_HALF_WIDTH: f64 = 40.0;

/// Mₙ ≥ sup|φ⁽ⁿ⁾| for n = 1 … 11 of a [`closed_form`] φ (M₀ is infinite for the unbounded
/// gelu, SiLU and softplus, 1 for erf): with gₙ the largest |φ⁽ⁿ⁾| on a grid of 2¹⁶ + 1 points
/// over ±40 (step h ≈ 1.2·10⁻³), Mₙ = gₙ + h·gₙ₊₁. By the mean value theorem sup|φ⁽ⁿ⁾| ≤ gₙ +
/// (h/2)(gₙ₊₁ + (h/2)Mₙ₊₂), so Mₙ holds while Mₙ₊₂ ≤ 2gₙ₊₁/h ≈ 1600gₙ₊₁ (the ratios here are
/// below 10: test `bounds_cover_a_finer_grid`). Beyond ±40 the orders ≥ 2 are below 10⁻¹⁴
/// (ϕ, e^{−x²} and |x|e^{−|x|} tails) and φ' tends monotonically to 0 or 1, both inside the
/// grid's range.
pub(crate) fn closed_bounds(act: Activation) -> Option<Vec<f64>> {
    let n = 1 << 16;
    let step = 2.0 * GRID_HALF_WIDTH / n as f64;
    let mut grid = [0.0_f64; ORDERS_CLOSED];
    for k in 0..=n {
        let d = closed_form(act, -GRID_HALF_WIDTH + step * k as f64)?;
        for (g, v) in grid.iter_mut().zip(d) {
            *g = g.max(v.abs());
        }
    }
    let mut bound: Vec<f64> = (0..ORDERS_CLOSED - 1)
        .map(|k| grid[k] + step * grid[k + 1])
        .collect();
    bound[0] = if act == Activation::Erf {
        1.0
    } else {
        f64::INFINITY
    };
    Some(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Orders 1 … 9 are checked from orders 0 … 8.
    const TAYLOR_READS: usize = 9;

    const ACTS: [Activation; 4] = [
        Activation::Gelu,
        Activation::Erf,
        Activation::Silu,
        Activation::Softplus,
    ];

    /// Each φ⁽ⁿ⁺¹⁾ (n = 0 … 8: every order the delta method and M₈'s bound read) against the
    /// central difference of φ⁽ⁿ⁾ with step h = 10⁻³ at points from −30 to 30 (large |x|
    /// included, where a cancelling form would lose its digits): the difference's truncation
    /// error is ≤ h²/6·Mₙ₊₃ (from [`closed_bounds`]), its rounding ≤ 2·64ε·Mₙ/(2h) if each
    /// evaluation is within 64ε·Mₙ (a few dozen roundings of terms ≤ Mₙ; M₀ ≤ |x| + 1 + 1 near
    /// x for the unbounded φ), and φ⁽ⁿ⁺¹⁾'s own ≤ 64εMₙ₊₁. And φ' = `deriv`.
    #[test]
    fn each_derivative_is_the_finite_difference_of_the_one_before() {
        let h = 1e-3;
        for act in ACTS {
            let m = closed_bounds(act).unwrap();
            for k in -300..=300 {
                let x = 0.1 * k as f64 + 0.0137;
                let (lo, mid, hi) = (
                    closed_form(act, x - h).unwrap(),
                    closed_form(act, x).unwrap(),
                    closed_form(act, x + h).unwrap(),
                );
                let scale0 = if m[0].is_finite() {
                    m[0]
                } else {
                    x.abs() + 2.0
                };
                let mn = |n: usize| if n == 0 { scale0 } else { m[n] };
                for n in 0..TAYLOR_READS {
                    let fd = (hi[n] - lo[n]) / (2.0 * h);
                    let tol = h * h / 6.0 * m[n + 3]
                        + 64.0 * f64::EPSILON * mn(n) / h
                        + 64.0 * f64::EPSILON * m[n + 1];
                    assert!(
                        (fd - mid[n + 1]).abs() <= tol,
                        "{act:?} x {x} order {}: {} vs difference {fd} (tol {tol:e})",
                        n + 1,
                        mid[n + 1]
                    );
                }
                let d1 = act.deriv(x);
                assert!(
                    (mid[1] - d1).abs() <= 64.0 * f64::EPSILON * m[1],
                    "{act:?} φ'"
                );
            }
        }
    }

    /// The bounds hold on a 4× finer grid shifted by a third of a step, and Mₙ₊₁ ≤ 10Mₙ
    /// (n ≥ 1), far inside the ratio 1600 [`closed_bounds`] relies on.
    #[test]
    fn bounds_cover_a_finer_grid() {
        for act in ACTS {
            let bound = closed_bounds(act).unwrap();
            let n = 1 << 18;
            let step = 2.0 * GRID_HALF_WIDTH / n as f64;
            for k in 0..n {
                let x = -GRID_HALF_WIDTH + step * (k as f64 + 1.0 / 3.0);
                let d = closed_form(act, x).unwrap();
                for (o, b) in bound.iter().enumerate().skip(1) {
                    assert!(d[o].abs() <= *b, "{act:?} order {o} at {x}: {} > {b}", d[o]);
                }
            }
            for o in 1..bound.len() - 1 {
                assert!(bound[o + 1] <= 10.0 * bound[o], "{act:?} M{} / M{o}", o + 1);
            }
        }
    }
}
