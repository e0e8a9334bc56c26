//! [`bvn_cov`] = Φ₂(a, b; r) − Φ(a)Φ(b) on SIMD lanes for a row of arguments, both of its
//! branches: Genz's Gauss–Legendre sum of Plackett's integral for |r| < 0.925
//! ([`plackett_lanes`]) and, for 0.925 ≤ |r| < 1, Genz's expansion around |r| = 1 with its
//! 20-point correction ([`genz_near_one`], the same formula as the scalar `bvn_upper` after
//! `bvn_cov`'s reflection into the lower tail). Lanes whose arguments the lane forms do not
//! serve (a Plackett spread above 4, where `bvn_cov` splits the range into panels; |r| = 1;
//! infinite arguments) take the scalar [`bvn_cov`].

use pulp::Simd;

use super::bvn::{plackett_lanes, MAX_LANES};
use crate::simd::{exp, load, norm_cdf, store};
use crate::special::bvn::{genz_rule, MAX_SPREAD, NEAR_ONE, W20, X20};
use crate::special::bvn_cov;

const TWO_PI: f64 = 2.0 * std::f64::consts::PI;

/// `bvn_cov(a, b[l], r[l])` for each l into `out[l]` (`b`, `r`, `out` of one length, at most
/// `S::F64_LANES`): one lane evaluation of each branch the row needs, selected per lane, where
/// every lane is served by a lane form; the scalar `bvn_cov` otherwise.
#[inline(always)]
pub(crate) fn bvn_cov_row<S: Simd>(simd: S, a: f64, b: &[f64], r: &[f64], out: &mut [f64]) {
    let n = b.len();
    let (mut near, mut far, mut served) = (false, false, a.is_finite());
    let mut far_max = 0.0f64;
    for (&bl, &rl) in b.iter().zip(r) {
        let abs_r = rl.abs();
        served &= bl.is_finite() && abs_r < 1.0;
        if abs_r >= NEAR_ONE {
            near = true;
        } else {
            far = true;
            far_max = far_max.max(abs_r);
            served &= ((a * bl).abs() + 0.5 * (a * a + bl * bl)) * abs_r <= MAX_SPREAD;
        }
    }
    if !served {
        for ((o, &bl), &rl) in out.iter_mut().zip(b).zip(r) {
            *o = bvn_cov(a, bl, rl);
        }
        return;
    }
    let (av, bv, rv) = (simd.splat_f64s(a), load(simd, b), load(simd, r));
    // Plain branches, not `bool::then` closures: a closure can be compiled out of line without
    // the SIMD target features, every lane operation then a call (grid54: in the lib test
    // binary `_mm512_fmadd_pd` ran as a function, the grid 5–10× slower than the scalar sum).
    let near_v = if near {
        Some(genz_near_one(simd, av, bv, rv))
    } else {
        None
    };
    let far_v = if far {
        let hk = simd.mul_f64s(av, bv);
        let hs = simd.mul_f64s(
            simd.splat_f64s(0.5),
            simd.mul_add_f64s(av, av, simd.mul_f64s(bv, bv)),
        );
        Some(plackett_lanes(simd, hk, hs, rv, genz_rule(far_max)))
    } else {
        None
    };
    let cov = match (near_v, far_v) {
        (Some(x), Some(y)) => simd.select_f64s(
            simd.greater_than_or_equal_f64s(simd.abs_f64s(rv), simd.splat_f64s(NEAR_ONE)),
            x,
            y,
        ),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => return,
    };
    let mut res = [0.0; MAX_LANES];
    store(simd, &mut res[..n], cov);
    out.copy_from_slice(&res[..n]);
}

/// Φ₂(a, b; r) − Φ(a)Φ(b) for 0.925 ≤ |r| < 1 and finite a, b, lane by lane, as `bvn_cov`:
/// with (a, b) ordered, each positive argument's sign flipped (flipping the sign of r and of
/// the result), h = |min|, k = |max|, it is ±(P(X > h, Y > k; r') − Φ(−h)Φ(−k)), the upper
/// probability by Genz's BVND near |r'| = 1 (Genz 2004, Statistics and Computing 14, 251–260):
/// with k' = k sgn r', a² = 1 − r'², b² = (h − k')², c = (4 − hk')/8, d = (12 − hk')/16,
/// S = a·e^{−(b²/a² + hk')/2}(1 − c(b² − a²)(1 − db²/5)/3 + cda⁴/5) −
/// e^{−hk'/2}√(2π)Φ(−b/a)·b(1 − cb²(1 − db²/5)/3) (the second term where hk' > −160) +
/// Σ (a/2)wᵢ e^{−(b²/x² + hk')/2}(e^{−hk'x²/(2(1+√(1−x²))²)}/√(1−x²) − 1 − cx²(1 + dx²))
/// over the 20-point rule in x ∈ (0, a) (terms whose exponent is ≤ −100 dropped), and
/// P = Φ(−max(h, k')) − S/2π for r' > 0, S/2π for r' < 0 (k' ≤ 0 ≤ h there), clamped to
/// \[0, 1\].
#[inline(always)]
fn genz_near_one<S: Simd>(simd: S, a: S::f64s, b: S::f64s, r: S::f64s) -> S::f64s {
    let zero = simd.splat_f64s(0.0);
    let one = simd.splat_f64s(1.0);
    let half = simd.splat_f64s(0.5);
    // The reflection: each positive argument flips the sign of r' and of the result.
    let flip_a = simd.greater_than_f64s(a, zero);
    let flip_b = simd.greater_than_f64s(b, zero);
    let sign_a = simd.select_f64s(flip_a, simd.neg_f64s(one), one);
    let sign = simd.select_f64s(flip_b, simd.neg_f64s(sign_a), sign_a);
    let r = simd.mul_f64s(r, sign);
    let h = simd.abs_f64s(simd.min_f64s(a, b));
    let k = simd.abs_f64s(simd.max_f64s(a, b));
    let positive = simd.greater_than_f64s(r, zero);
    let k_eff = simd.select_f64s(positive, k, simd.neg_f64s(k));
    let hk = simd.mul_f64s(h, k_eff);
    let as_ = simd.mul_f64s(simd.sub_f64s(one, r), simd.add_f64s(one, r));
    let aa = simd.sqrt_f64s(as_);
    let diff = simd.sub_f64s(h, k_eff);
    let bs = simd.mul_f64s(diff, diff);
    let c = simd.mul_f64s(
        simd.sub_f64s(simd.splat_f64s(4.0), hk),
        simd.splat_f64s(0.125),
    );
    let d = simd.mul_f64s(
        simd.sub_f64s(simd.splat_f64s(12.0), hk),
        simd.splat_f64s(0.0625),
    );
    let fifth = simd.splat_f64s(0.2);
    let third = simd.splat_f64s(1.0 / 3.0);
    // 1 − d·b²/5.
    let dbs = simd.negate_mul_add_f64s(simd.mul_f64s(d, bs), fifth, one);
    // a·e^{−(b²/a² + hk)/2}·(1 − c(b² − a²)(1 − db²/5)/3 + c·d·a⁴/5).
    let bs_as = simd.div_f64s(bs, as_);
    let lead_arg = simd.mul_f64s(simd.neg_f64s(half), simd.add_f64s(bs_as, hk));
    let lead_exp = exp(simd, lead_arg);
    let poly = simd.add_f64s(
        simd.sub_f64s(
            one,
            simd.mul_f64s(
                simd.mul_f64s(simd.mul_f64s(c, simd.sub_f64s(bs, as_)), dbs),
                third,
            ),
        ),
        simd.mul_f64s(
            simd.mul_f64s(simd.mul_f64s(c, d), simd.mul_f64s(as_, as_)),
            fifth,
        ),
    );
    let mut bvn = simd.mul_f64s(simd.mul_f64s(aa, lead_exp), poly);
    // − e^{−hk/2}√(2π)Φ(−b/a)·b·(1 − c·b²(1 − db²/5)/3) where hk > −160.
    let bb = simd.sqrt_f64s(bs);
    let tail = simd.mul_f64s(
        simd.mul_f64s(
            exp(simd, simd.mul_f64s(simd.neg_f64s(half), hk)),
            simd.splat_f64s(TWO_PI.sqrt()),
        ),
        simd.mul_f64s(
            simd.mul_f64s(norm_cdf(simd, simd.neg_f64s(simd.div_f64s(bb, aa))), bb),
            simd.sub_f64s(
                one,
                simd.mul_f64s(simd.mul_f64s(simd.mul_f64s(c, bs), dbs), third),
            ),
        ),
    );
    let keep = simd.greater_than_f64s(hk, simd.splat_f64s(-160.0));
    bvn = simd.sub_f64s(bvn, simd.select_f64s(keep, tail, zero));
    // Every node's exponent is at most the lead's, −(b²/a² + hk)/2 (x < a): where that is below
    // −101 in every lane no term is live (the margin covers the nodes' own rounding of b²/x²).
    let mut dead = [0.0; MAX_LANES];
    store(simd, &mut dead[..S::F64_LANES], lead_arg);
    if dead[..S::F64_LANES]
        .iter()
        .any(|&e| e >= -101.0 || e.is_nan())
    {
        bvn = simd.add_f64s(bvn, genz_correction(simd, aa, bs_as, hk, (c, d)));
    }
    bvn = simd.mul_f64s(bvn, simd.splat_f64s(-1.0 / TWO_PI));
    let upper_pos = simd.add_f64s(bvn, norm_cdf(simd, simd.neg_f64s(simd.max_f64s(h, k_eff))));
    let upper = simd.select_f64s(positive, upper_pos, simd.neg_f64s(bvn));
    let upper = simd.min_f64s(simd.max_f64s(upper, zero), one);
    let product = simd.mul_f64s(
        norm_cdf(simd, simd.neg_f64s(h)),
        norm_cdf(simd, simd.neg_f64s(k)),
    );
    simd.mul_f64s(sign, simd.sub_f64s(upper, product))
}

/// Genz's 20-point correction of [`genz_near_one`], Σ (a/2)wᵢ e^{−(b²/x² + hk)/2}·
/// (e^{−hk·x²/(2(1 + ρₓ)²)}/ρₓ − 1 − cx²(1 + dx²)) over x = (a/2)(1 ± xᵢ), ρₓ = √(1 − x²), terms
/// whose exponent is ≤ −100 dropped, from a (`aa`), b²/a² (`bs_as`), hk and (c, d). One
/// division a node where there were three (the grid's lanes spent most of their time in them,
/// BENCHMARKS perf58): b²/x² = (b²/a²)·(2/(1 ± xᵢ))² (x² = a²(1 ± xᵢ)²/4), and with
/// D = 1/(ρₓ(1 + ρₓ)²), 1/(1 + ρₓ)² = ρₓD and 1/ρₓ = (1 + ρₓ)²D. Each factor carries a few ulp
/// more than the three quotients did, so each term a few ulp of itself more: within the lanes'
/// few ulp of 1 absolute (`rows_match_the_scalar_bvn_cov`).
#[inline(always)]
fn genz_correction<S: Simd>(
    simd: S,
    aa: S::f64s,
    bs_as: S::f64s,
    hk: S::f64s,
    (c, d): (S::f64s, S::f64s),
) -> S::f64s {
    let (zero, one, half) = (
        simd.splat_f64s(0.0),
        simd.splat_f64s(1.0),
        simd.splat_f64s(0.5),
    );
    let a2 = simd.mul_f64s(aa, half);
    let neg_half_hk = simd.mul_f64s(simd.neg_f64s(half), hk);
    let mut sum = zero;
    for (&xi, &wi) in X20.iter().zip(&W20) {
        for t in [1.0 - xi, 1.0 + xi] {
            let x = simd.mul_f64s(a2, simd.splat_f64s(t));
            let xs = simd.mul_f64s(x, x);
            let rs = simd.sqrt_f64s(simd.sub_f64s(one, xs));
            // −(b²/x² + hk)/2 = (b²/a²)·(−2/t²) − hk/2.
            let asr = simd.mul_add_f64s(bs_as, simd.splat_f64s(-2.0 / (t * t)), neg_half_hk);
            let sp = simd.mul_add_f64s(simd.mul_f64s(c, xs), simd.mul_add_f64s(d, xs, one), one);
            let onep = simd.add_f64s(one, rs);
            let onep2 = simd.mul_f64s(onep, onep);
            let inv = simd.div_f64s(one, simd.mul_f64s(rs, onep2));
            // −hk·x²/(2(1 + ρₓ)²) and e^{…}/ρₓ.
            let ep_arg = simd.mul_f64s(simd.mul_f64s(neg_half_hk, xs), simd.mul_f64s(rs, inv));
            let ep = simd.mul_f64s(exp(simd, ep_arg), simd.mul_f64s(onep2, inv));
            let term = simd.mul_f64s(
                simd.mul_f64s(a2, simd.splat_f64s(wi)),
                simd.mul_f64s(exp(simd, asr), simd.sub_f64s(ep, sp)),
            );
            let live = simd.greater_than_f64s(asr, simd.splat_f64s(-100.0));
            sum = simd.add_f64s(sum, simd.select_f64s(live, term, zero));
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::super::input::Isa;
    use super::*;
    use pulp::WithSimd;

    /// A row of lanes through [`bvn_cov_row`].
    struct Row<'a> {
        a: f64,
        b: &'a [f64],
        r: &'a [f64],
    }

    impl WithSimd for Row<'_> {
        type Output = Vec<f64>;
        fn with_simd<S: Simd>(self, simd: S) -> Vec<f64> {
            let mut out = Vec::with_capacity(self.b.len());
            for (b, r) in self.b.chunks(S::F64_LANES).zip(self.r.chunks(S::F64_LANES)) {
                let mut o = [0.0; MAX_LANES];
                bvn_cov_row(simd, self.a, b, r, &mut o[..b.len()]);
                out.extend_from_slice(&o[..b.len()]);
            }
            out
        }
    }

    /// The lane rows against the scalar `bvn_cov` at a ∈ [−6, 6], b on a grid of 25 values in
    /// [−7, 7] and |r| from 0 to 1 − 10⁻¹², both signs, rows mixing both branches: within
    /// 4·10⁻¹⁶ absolute plus 10⁻¹² of |Φ₂ − ΦΦ| (the lane exp, erfc, sin and asin are within a
    /// few ulp of libm's; Genz's sums have terms of order 1, so the absolute error is a few
    /// ulp of 1 — measured below). Served lanes and scalar ones are both counted.
    #[test]
    fn rows_match_the_scalar_bvn_cov() {
        let bs: Vec<f64> = (0..25).map(|i| -7.0 + 14.0 * i as f64 / 24.0).collect();
        let mut rhos = vec![0.0, 0.1, 0.5, 0.8, 0.92, 0.925, 0.95, 0.99, 0.999];
        rhos.extend((4..=12).map(|e| 1.0 - 10f64.powi(-e)));
        let mut worst = 0.0f64;
        for a in [-6.0, -2.5, -0.7, 0.0, 0.3, 1.9, 4.4, 6.0] {
            for sign in [1.0, -1.0] {
                for (start, _) in rhos.iter().enumerate() {
                    // Rows of varying r (each b paired with a rotating correlation).
                    let r: Vec<f64> = (0..bs.len())
                        .map(|i| sign * rhos[(start + i) % rhos.len()])
                        .collect();
                    let got = Isa::Dispatch.run(pulp::Arch::new(), Row { a, b: &bs, r: &r });
                    for ((&g, &b), &rr) in got.iter().zip(&bs).zip(&r) {
                        let want = bvn_cov(a, b, rr);
                        let err = (g - want).abs();
                        worst = worst.max(err);
                        assert!(
                            err <= 4e-16 + 1e-12 * want.abs(),
                            "a {a} b {b} r {rr}: {g:e} vs {want:e} ({err:.1e})"
                        );
                    }
                }
            }
        }
        println!("max |Δ| {worst:.1e}");
    }
}
