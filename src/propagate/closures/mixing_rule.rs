//! Gauss rules for the logistic's mixing measure (issue #14, item 3): the standard logistic
//! variable is a scale mixture of normals, L = τU with U ~ N(0, 1) and τ = 2K independent of it,
//! K Kolmogorov-distributed (Andrews & Mallows, J. R. Stat. Soc. B 36, 99, 1974; Stefanski,
//! Stat. Probab. Lett. 11, 69, 1991), so σ(x) = P(L ≤ x) = E_τ\[Φ(x/τ)\]. The rules here are for
//! v = τ²: Σₖ wₖ g(vₖ) ≈ E\[g(v)\], exact for polynomials of degree ≤ 2M − 1.

use std::sync::OnceLock;

use faer::{Mat, Side};

use super::rules::{gauss_legendre, PANEL_POINTS};

/// Largest node count of a rule ([`rule`]).
pub(crate) const MAX_NODES: usize = 32;

/// Upper end of the discretised measure: the density falls as e^{−v/2}, and v^{2M}e^{−v/2}
/// (M ≤ [`MAX_NODES`]) is below 10⁻⁷⁰ of its peak beyond v = 600.
const V_MAX: f64 = 600.0;

/// Where the density switches from its small-v (theta-transformed) series to its large-v one;
/// both need ≤ 12 terms to 10⁻¹⁷ relative there.
const V_SWITCH: f64 = 4.0;

/// Density of v = τ² = 4K²: from P(K ≤ k) = 1 − 2Σ_{m≥1}(−1)^{m−1}e^{−2m²k²},
/// f(v) = Σ_{m≥1} (−1)^{m−1} m² e^{−m²v/2} (used for v ≥ [`V_SWITCH`]); from Jacobi's
/// transform P(K ≤ k) = (√(2π)/k)Σ_{j≥1} e^{−(2j−1)²π²/(8k²)},
/// f(v) = √(2π/v)·Σ_{j≥1} e^{−bⱼ/v}(2bⱼ/v² − 1/v), bⱼ = (2j − 1)²π²/2 (v < V_SWITCH, where
/// the first series alternates with large terms).
pub(crate) fn density(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    if v >= V_SWITCH {
        let mut sum = 0.0;
        for m in 1..=12 {
            let m2 = (m * m) as f64;
            let term = m2 * (-0.5 * m2 * v).exp();
            sum += if m % 2 == 1 { term } else { -term };
        }
        sum
    } else {
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        let mut sum = 0.0;
        for j in 1..=12 {
            let b = ((2 * j - 1) * (2 * j - 1)) as f64 * pi2 / 2.0;
            sum += (-b / v).exp() * (2.0 * b / (v * v) - 1.0 / v);
        }
        (2.0 * std::f64::consts::PI / v).sqrt() * sum
    }
}

/// E\[vᵐ\] = E\[τ^{2m}\] = E\[L^{2m}\]/(2m − 1)!! (E\[U^{2m}\] = (2m − 1)!!) with the logistic's
/// E\[L^{2m}\] = (2^{2m} − 2)π^{2m}|B₂ₘ| and |B₂ₘ| = 2(2m)!ζ(2m)/(2π)^{2m}: E\[vᵐ\] =
/// (2 − 2^{2−2m})ζ(2m)·2ᵐm! ((2m)!/(2m − 1)!! = 2ᵐm!), and 1 at m = 0. For the tests.
#[cfg(test)]
fn exact_moment(m: usize) -> f64 {
    if m == 0 {
        return 1.0;
    }
    let p = 2 * m as i32;
    // ζ(2m) by its series (m ≥ 1; at m = 1 the closed form π²/6).
    let zeta = if m == 1 {
        std::f64::consts::PI * std::f64::consts::PI / 6.0
    } else {
        (1..=200_000)
            .rev()
            .fold(0.0, |acc, k| acc + (k as f64).powi(-p))
    };
    let fact: f64 = (1..=m).map(|k| k as f64).product();
    (2.0 - 2f64.powi(2 - p)) * zeta * 2f64.powi(m as i32) * fact
}

/// The M-point Gauss rule (nodes vₖ ascending, weights wₖ summing to 1) of the mixing measure,
/// 1 ≤ M ≤ [`MAX_NODES`], each computed once: the recurrence coefficients by the discretised
/// Stieltjes procedure (Gautschi, "Orthogonal Polynomials: Computation and Approximation", 2004,
/// §2.2.3) on a composite 16-point Gauss–Legendre discretisation of [`density`] over
/// \[0, [`V_MAX`]\] (panels ¼ wide below 16, 1 wide above: ≈ 10⁴ points, exact to rounding for
/// the polynomials of degree ≤ 2·MAX_NODES times the smooth density), the nodes as the
/// eigenvalues of the Jacobi matrix (Golub–Welsch), the weights as Christoffel numbers
/// 1/Σ_{n<M} pₙ(vₖ)² of the orthonormal polynomials (a sum of positive terms).
pub(crate) fn rule(m: usize) -> &'static (Vec<f64>, Vec<f64>) {
    static RULES: OnceLock<Vec<(Vec<f64>, Vec<f64>)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        let (alpha, beta) = recurrence(MAX_NODES);
        (1..=MAX_NODES)
            .map(|m| gauss_rule(&alpha[..m], &beta[..m]))
            .collect()
    });
    &rules[m.clamp(1, MAX_NODES) - 1]
}

/// The discretised measure: nodes and weights of [`rule`]'s composite rule, normalised to
/// mass 1 (before: 1 to 10⁻¹⁴, tested).
fn discretised() -> (Vec<f64>, Vec<f64>) {
    let (gx, gw) = gauss_legendre(PANEL_POINTS);
    let mut edges = Vec::new();
    let mut v = 0.0;
    while v < V_MAX {
        edges.push(v);
        v += if v < 16.0 { 0.25 } else { 1.0 };
    }
    edges.push(V_MAX);
    let (mut x, mut w) = (Vec::new(), Vec::new());
    for seg in edges.windows(2) {
        let (mid, half) = (0.5 * (seg[0] + seg[1]), 0.5 * (seg[1] - seg[0]));
        for (&t, &g) in gx.iter().zip(&gw) {
            let v = mid + half * t;
            x.push(v);
            w.push(half * g * density(v));
        }
    }
    let mass: f64 = w.iter().sum();
    w.iter_mut().for_each(|w| *w /= mass);
    (x, w)
}

/// αₙ, βₙ (n < `m`) of the monic recurrence pₙ₊₁ = (v − αₙ)pₙ − βₙpₙ₋₁ of the discretised
/// measure (β₀ = its mass, 1), by Stieltjes' procedure on orthonormal vectors.
fn recurrence(m: usize) -> (Vec<f64>, Vec<f64>) {
    let (x, w) = discretised();
    let mass: f64 = 1.0;
    let norm = |p: &[f64]| p.iter().zip(&w).map(|(p, w)| w * p * p).sum::<f64>();
    let (mut alpha, mut beta): (Vec<f64>, Vec<f64>) = (Vec::with_capacity(m), vec![mass]);
    let mut prev = vec![0.0; x.len()];
    let mut cur = vec![1.0 / mass.sqrt(); x.len()];
    for n in 0..m {
        let a: f64 = cur
            .iter()
            .zip(&x)
            .zip(&w)
            .map(|((p, x), w)| w * x * p * p)
            .sum();
        alpha.push(a);
        if n + 1 == m {
            break;
        }
        let b = if n == 0 { 0.0 } else { beta[n].sqrt() };
        let next: Vec<f64> = cur
            .iter()
            .zip(&prev)
            .zip(&x)
            .map(|((p, q), x)| (x - a) * p - b * q)
            .collect();
        let nb = norm(&next);
        beta.push(nb);
        let scale = 1.0 / nb.sqrt();
        prev = cur;
        cur = next.iter().map(|p| p * scale).collect();
    }
    (alpha, beta)
}

/// The Gauss rule of the recurrence (α, β): nodes the eigenvalues of the Jacobi matrix
/// (diagonal α, off-diagonal √β₁..√β_{M−1}), weights 1/Σ_{n<M} pₙ(vₖ)², pₙ orthonormal.
fn gauss_rule(alpha: &[f64], beta: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let m = alpha.len();
    let jacobi = Mat::from_fn(m, m, |i, j| {
        if i == j {
            alpha[i]
        } else if i.abs_diff(j) == 1 {
            beta[i.max(j)].sqrt()
        } else {
            0.0
        }
    });
    let mut v: Vec<f64> = match jacobi.self_adjoint_eigen(Side::Lower) {
        Ok(evd) => evd.S().column_vector().iter().copied().collect(),
        Err(_) => return (Vec::new(), Vec::new()),
    };
    v.sort_by(f64::total_cmp);
    // p₀ = 1 (mass 1); √βₙ₊₁pₙ₊₁ = (v − αₙ)pₙ − √βₙpₙ₋₁.
    let w: Vec<f64> = v
        .iter()
        .map(|&x| {
            let (mut p0, mut p1, mut sum) = (0.0, 1.0, 0.0);
            for n in 0..m {
                sum += p1 * p1;
                if n + 1 < m {
                    let b = if n == 0 { 0.0 } else { beta[n].sqrt() };
                    let p2 = ((x - alpha[n]) * p1 - b * p0) / beta[n + 1].sqrt();
                    (p0, p1) = (p1, p2);
                }
            }
            1.0 / sum
        })
        .collect();
    (v, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The density integrates to 1 with the variance π²/3 of the logistic (E\[v\] = E\[L²\]),
    /// and its two series agree where they switch.
    #[test]
    fn density_is_the_mixing_measure() {
        let (gx, gw) = gauss_legendre(PANEL_POINTS);
        // The raw mass and first moment of the density on the discretisation's panels.
        let (mut mass, mut mean) = (0.0, 0.0);
        let mut v = 0.0;
        while v < V_MAX {
            let width = if v < 16.0 { 0.25 } else { 1.0 };
            for (&t, &g) in gx.iter().zip(&gw) {
                let x = v + 0.5 * width * (1.0 + t);
                mass += 0.5 * width * g * density(x);
                mean += 0.5 * width * g * density(x) * x;
            }
            v += width;
        }
        assert!((mass - 1.0).abs() < 1e-14, "mass {mass}");
        let var = std::f64::consts::PI.powi(2) / 3.0;
        assert!((mean - var).abs() < 1e-13 * var, "E[v] {mean}");
        let small = {
            let v = V_SWITCH;
            let pi2 = std::f64::consts::PI * std::f64::consts::PI;
            (2.0 * std::f64::consts::PI / v).sqrt()
                * (1..=12)
                    .map(|j| {
                        let b = ((2 * j - 1) * (2 * j - 1)) as f64 * pi2 / 2.0;
                        (-b / v).exp() * (2.0 * b / (v * v) - 1.0 / v)
                    })
                    .sum::<f64>()
        };
        assert!((small - density(V_SWITCH)).abs() < 1e-15 * density(V_SWITCH));
    }

    /// Every rule reproduces the exact moments E\[vᵐ\], m < 2M, to 10⁻¹² relative, with
    /// positive weights summing to 1.
    #[test]
    fn rules_reproduce_the_moments() {
        for m in 1..=MAX_NODES {
            let (v, w) = rule(m);
            assert_eq!(v.len(), m);
            assert!(w.iter().all(|&w| w > 0.0) && v[0] > 0.0);
            for p in 0..(2 * m).min(40) {
                let got: f64 = v.iter().zip(w).map(|(v, w)| w * v.powi(p as i32)).sum();
                let want = exact_moment(p);
                assert!(
                    (got - want).abs() <= 1e-12 * want,
                    "M = {m}, E[v^{p}]: {got:e} vs {want:e}"
                );
            }
        }
    }
}
