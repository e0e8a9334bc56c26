//! The relu closure with its N² pair terms on f32 lanes (16 per AVX-512 vector).
//!
//! Price's theorem gives ∂E[hᵢ⁺hⱼ⁺]/∂ρ = sᵢsⱼΦ₂(aᵢ, aⱼ; ρ) and ∂Φ₂/∂ρ = φ₂, so with
//! Φ₂(a, b; 0) = Φ(a)Φ(b), integrating twice from ρ = 0 (where the covariance is 0) and
//! substituting t = sin θ:
//!
//! ```text
//! Cᵢⱼ/(sᵢsⱼ) = ρΦ(a)Φ(b) + ∫₀^ρ (ρ − t) φ₂(a, b; t) dt
//!            = ρΦ(a)Φ(b) + (1/2π) ∫₀^{asin ρ} (ρ − sin θ) exp(−(a² + b² − 2ab sin θ)/(2cos²θ)) dθ
//! ```
//!
//! (a = μᵢ/sᵢ, b = μⱼ/sⱼ; the same exchange of integrals as the f64 closure's tail variance,
//! `closures::relu`). Unlike the closed form sᵢsⱼ·relu_cross − mᵢmⱼ it subtracts nothing, so
//! f32 keeps its relative precision. The exponent is formed without cancellation as
//! ((a ∓ b)²/2 + |ab|(1 ∓ sin θ))/cos²θ = (a ∓ b)²/(2cos²θ) + |ab|/(1 ± sin θ) (upper signs for
//! ab ≥ 0), both terms ≥ 0. The θ integral
//! is smooth for |ρ| < 0.925 (the integrand's nearest singularity, cos θ = 0, stays ≥ 0.39 from
//! the range) and takes [`rule_for`]'s Gauss–Legendre rule; pairs with |ρ| ≥ 0.925 take the f64
//! scalar `relu_cross`, as in the f64 closure, or where a unit is beyond |a| = 38 (deterministic
//! to f64 range) its limit sᵢsⱼρΦ(aᵢ)Φ(aⱼ). Means and variances are the f64 `relu_moments`.

use std::f32::consts::PI;
use std::sync::OnceLock;

use faer::{Col, Mat};
use pulp::{Simd, WithSimd};

use super::math::{asin, exp_nonpositive, sin_small};
use super::units::Units32;
use crate::error::Result;
use crate::linalg::fill_symmetric;
use crate::propagate::closures::relu::{relu_cross, relu_moments};
use crate::special::normal_cdf;

/// |ρ| from which the pair takes the f64 scalar closed form (Genz's switch, as in f64).
const SCALAR_FROM: f32 = 0.925;
/// Largest standardised mean the lanes see: beyond it a unit is deterministic to f64 range
/// (`closures::relu`), and e^(−38²/2) is far below f32's range anyway.
const A_MAX: f64 = 38.0;
/// Gauss–Legendre node counts by the largest |ρ| of a vector: (upper |ρ|, nodes). Measured on
/// the test grid (`rules_reach_f32_precision`): with these the worst error, 8.1e-8·sᵢsⱼ, is
/// the inputs' own f32 rounding (the same with 4/6/8/12 nodes); with 2/3/4/6 it grows to 2.4e-7.
const RULES: [(f32, usize); 4] = [(0.3, 3), (0.6, 4), (0.8, 6), (SCALAR_FROM, 8)];

/// Nodes and weights on [0, 1] of the rule for the largest |ρ| among a vector's lanes.
fn rule_for(max_abs_rho: f32) -> &'static (Vec<f32>, Vec<f32>) {
    static TABLE: OnceLock<Vec<(Vec<f32>, Vec<f32>)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        RULES
            .iter()
            .map(|&(_, n)| {
                let (x, w) = crate::propagate::closures::rules::gauss_legendre(n);
                (
                    x.iter().map(|x| (0.5 * (x + 1.0)) as f32).collect(),
                    w.iter().map(|w| (0.5 * w) as f32).collect(),
                )
            })
            .collect()
    });
    let k = RULES
        .iter()
        .position(|&(upper, _)| max_abs_rho < upper)
        .unwrap_or(RULES.len() - 1);
    &table[k]
}

/// The relu closure of (μ, Σ) with Σ in f32: the post-activation mean (f64) into `mean` and its
/// covariance (f32) into `cov` (resized). Rows of deterministic units (s = 0) are zero.
pub fn relu_f32(
    u: &Units32,
    mean: &mut Col<f64>,
    cov: &mut Mat<f32>,
    sigma: &Mat<f32>,
) -> Result<()> {
    let n = u.mu.len();
    mean.resize_with(n, |_| 0.0);
    crate::io::resize_for_overwrite(cov, n, n);
    let mut var = vec![0.0f32; n];
    for i in 0..n {
        let (m, v) = relu_moments(u.mu[i], u.s[i]);
        mean[i] = m;
        var[i] = v as f32;
    }
    let a: Vec<f64> = (0..n)
        .map(|i| {
            if u.s[i] > 0.0 {
                (u.mu[i] / u.s[i]).clamp(-A_MAX, A_MAX)
            } else {
                0.0
            }
        })
        .collect();
    // Units whose |μ|/s passes the clamp: deterministic to f64 range (`closures::relu`).
    let beyond = |k: usize| (u.mu[k] / u.s[k]).abs() > A_MAX;
    let lanes = Lanes32 {
        s: u.s.iter().map(|&s| s as f32).collect(),
        a: a.iter().map(|&a| a as f32).collect(),
        cdf: a.iter().map(|&a| normal_cdf(a) as f32).collect(),
    };
    let mean: &Col<f64> = mean;
    let arch = pulp::Arch::new();
    fill_symmetric(cov, |i, col| {
        if u.s[i] > 0.0 {
            let sig = &sigma.col_as_slice(i)[..=i];
            let far = arch.dispatch(Column32 {
                l: &lanes,
                out: col,
                sig,
                i,
            });
            // Only columns with a pair at |ρ| ≥ 0.925 are scanned for them (on trained MNIST
            // layers 2–3 pairs in a million: most columns have none).
            let scan = if far { &mut col[..i] } else { &mut [][..] };
            for (j, c) in scan.iter_mut().enumerate() {
                let rho = lanes.rho(sig[j], i, j);
                if rho.abs() >= SCALAR_FROM && u.s[j] > 0.0 {
                    let sij = u.s[i] * u.s[j];
                    *c = if beyond(i) || beyond(j) {
                        // relu(hₖ) = hₖ·1[on] to f64 range for a unit beyond ±38: by Stein's
                        // lemma Cᵢⱼ = sᵢsⱼρ·Φ(aᵢ)Φ(aⱼ), as in the f64 closure. The closed form
                        // below would pair the clamped a with the unclamped means (adv35: a
                        // 150-class net's z¹ error 7 686 where f64 gives 0.0018).
                        (sij * f64::from(rho) * normal_cdf(a[i]) * normal_cdf(a[j])) as f32
                    } else {
                        (sij * relu_cross(a[i], a[j], f64::from(rho)) - mean[i] * mean[j]) as f32
                    };
                }
            }
        } else {
            col.fill(0.0);
        }
        col[i] = var[i];
    })
}

/// Per-unit f32 inputs of the lanes: sᵢ, aᵢ (clamped to ±38) and Φ(aᵢ).
struct Lanes32 {
    s: Vec<f32>,
    a: Vec<f32>,
    cdf: Vec<f32>,
}

impl Lanes32 {
    /// ρ = Σᵢⱼ/(sᵢsⱼ) clamped to [−1, 1], 0 for a deterministic unit (as the lanes form it).
    fn rho(&self, sigma_ij: f32, i: usize, j: usize) -> f32 {
        let d = self.s[i] * self.s[j];
        if d > 0.0 {
            (sigma_ij / d).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    }
}

/// Column i's entries j ≤ i by the θ integral (module docs); lanes with |ρ| ≥ 0.925 get 0 here
/// and are overwritten by the caller, to which the kernel returns whether there are any.
/// Requires sᵢ > 0.
struct Column32<'a> {
    l: &'a Lanes32,
    out: &'a mut [f32],
    sig: &'a [f32],
    i: usize,
}

impl WithSimd for Column32<'_> {
    type Output = bool;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> bool {
        let Column32 { l, out, sig, i } = self;
        let (zero, one) = (simd.splat_f32s(0.0), simd.splat_f32s(1.0));
        let (si, ai) = (simd.splat_f32s(l.s[i]), simd.splat_f32s(l.a[i]));
        let cdf_i = simd.splat_f32s(l.cdf[i]);
        let tiny = simd.splat_f32s(f32::MIN_POSITIVE);
        let mut largest = zero;
        let mut j = 0;
        while j < out.len() {
            let end = (j + S::F32_LANES).min(out.len());
            let sj = simd.partial_load_f32s(&l.s[j..end]);
            let aj = simd.partial_load_f32s(&l.a[j..end]);
            let cdf_j = simd.partial_load_f32s(&l.cdf[j..end]);
            let sisj = simd.mul_f32s(si, sj);
            let rho = simd.div_f32s(
                simd.partial_load_f32s(&sig[j..end]),
                simd.max_f32s(sisj, tiny),
            );
            let rho = simd.min_f32s(simd.max_f32s(rho, simd.neg_f32s(one)), one);
            largest = simd.max_f32s(largest, simd.abs_f32s(rho));
            let near = simd.less_than_f32s(simd.abs_f32s(rho), simd.splat_f32s(SCALAR_FROM));
            let r = simd.select_f32s(near, rho, zero);
            let (nodes, weights) = rule_for(simd.reduce_max_f32s(simd.abs_f32s(r)));
            let theta_max = asin(simd, r);
            let ab = simd.mul_f32s(ai, aj);
            let same = simd.greater_than_or_equal_f32s(ab, zero);
            // (a ∓ b)²/2 and ±1: upper signs where ab ≥ 0. With 1/(1 ± sin θ) =
            // (1 ∓ sin θ)/cos²θ the exponent is ((a ∓ b)²/2 + |ab|(1 ∓ sin θ))/cos²θ: one
            // division, both terms ≥ 0 and 1 ∓ sin θ exact.
            let d = simd.select_f32s(same, simd.sub_f32s(ai, aj), simd.add_f32s(ai, aj));
            let d2 = simd.mul_f32s(simd.splat_f32s(0.5), simd.mul_f32s(d, d));
            let sign = simd.select_f32s(same, one, simd.neg_f32s(one));
            let abs_ab = simd.abs_f32s(ab);
            let mut sum = zero;
            for (&x, &w) in nodes.iter().zip(weights) {
                let st = sin_small(simd, simd.mul_f32s(theta_max, simd.splat_f32s(x)));
                let cos2 = simd.mul_f32s(simd.sub_f32s(one, st), simd.add_f32s(one, st));
                let rest = simd.negate_mul_add_f32s(sign, st, one);
                let expo = simd.div_f32s(simd.mul_add_f32s(abs_ab, rest, d2), cos2);
                let e = exp_nonpositive(simd, simd.neg_f32s(expo));
                sum = simd.mul_add_f32s(
                    simd.mul_f32s(simd.splat_f32s(w), simd.sub_f32s(r, st)),
                    e,
                    sum,
                );
            }
            let integral = simd.mul_f32s(simd.mul_f32s(theta_max, simd.splat_f32s(0.5 / PI)), sum);
            let base = simd.mul_f32s(r, simd.mul_f32s(cdf_i, cdf_j));
            let c = simd.mul_f32s(sisj, simd.add_f32s(base, integral));
            simd.partial_store_f32s(&mut out[j..end], c);
            j = end;
        }
        simd.reduce_max_f32s(largest) >= SCALAR_FROM
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of a grid of standardised means and correlations below 0.925 against the f64
    /// closed form relu_cross(a, b, ρ) − m(a)m(b) (s = 1): within 8·2⁻²⁴ absolute, i.e. a few
    /// f32 roundings of values ≤ 1 (the inputs themselves are rounded to f32 first).
    #[test]
    fn rules_reach_f32_precision() {
        let means = [-4.0, -2.5, -1.0, -0.3, 0.0, 0.4, 1.2, 3.0];
        let rhos: Vec<f64> = (-18..=18).map(|k| k as f64 * 0.05).collect();
        let n = 2;
        let mut worst = 0.0f64;
        for &a in &means {
            for &b in &means {
                for &rho in &rhos {
                    let rho = rho.clamp(-0.92, 0.92);
                    let u = Units32 {
                        mu: vec![a, b],
                        s: vec![1.0, 1.0],
                    };
                    let sigma = Mat::from_fn(n, n, |i, j| if i == j { 1.0 } else { rho as f32 });
                    let (mut m, mut c) = (Col::zeros(0), Mat::zeros(0, 0));
                    relu_f32(&u, &mut m, &mut c, &sigma).unwrap();
                    let r = f64::from(rho as f32);
                    let want =
                        relu_cross(a, b, r) - relu_moments(a, 1.0).0 * relu_moments(b, 1.0).0;
                    let err = (f64::from(c[(1, 0)]) - want).abs();
                    worst = worst.max(err);
                    assert!(
                        err <= 8.0 * f64::from(f32::EPSILON) / 2.0,
                        "a = {a}, b = {b}, ρ = {rho}: {} vs {want}",
                        c[(1, 0)]
                    );
                }
            }
        }
        eprintln!("worst absolute error {worst:e}");
    }

    /// Pairs at |ρ| ≥ 0.925 with a unit beyond |a| = 38 (class means far from the origin, tiny
    /// spreads) take the limit sᵢsⱼρΦ(aᵢ)Φ(aⱼ) of the f64 closure: within 8·2⁻²⁴·sᵢsⱼ of it
    /// (a few f32 roundings), for units on (a = 40, 10³, 10⁵), off (−10³) and regular (0.5, −1).
    /// Fails with the clamped a paired with the unclamped means (adv35: errors ~a²·2⁻²⁴·s²).
    #[test]
    fn pairs_beyond_the_clamp_take_the_limit() {
        let a = [40.0, 1e3, 1e5, -1e3, 0.5, -1.0];
        let n = a.len();
        let s: Vec<f64> = (0..n).map(|k| 1e-2 * (1.0 + k as f64)).collect();
        let rho = |i: usize, j: usize| {
            if i == j {
                1.0
            } else {
                0.93 + 0.01 * ((i + j) % 5) as f64
            }
        };
        let sigma = Mat::from_fn(n, n, |i, j| (rho(i, j) * s[i] * s[j]) as f32);
        let u = Units32 {
            mu: (0..n).map(|k| a[k] * s[k]).collect(),
            s: s.clone(),
        };
        let (mut m, mut c) = (Col::zeros(0), Mat::zeros(0, 0));
        relu_f32(&u, &mut m, &mut c, &sigma).unwrap();
        for i in 0..n {
            for j in 0..i {
                if a[i].abs() <= A_MAX && a[j].abs() <= A_MAX {
                    continue;
                }
                let r = f64::from(sigma[(i, j)]) / (s[i] * s[j]);
                let slope = |k: usize| normal_cdf(a[k].clamp(-A_MAX, A_MAX));
                let want = s[i] * s[j] * r * slope(i) * slope(j);
                let err = (f64::from(c[(i, j)]) - want).abs();
                assert!(
                    err <= 8.0 * f64::from(f32::EPSILON) / 2.0 * s[i] * s[j],
                    "a = {}, {}: {} vs {want}",
                    a[i],
                    a[j],
                    c[(i, j)]
                );
            }
        }
    }
}
