//! The standard bivariate normal cdf Φ₂(a, b; ρ) and its covariance form Φ₂ − ΦΦ.
//!
//! Φ₂ follows Genz's BVND (A. Genz, "Numerical computation of rectangular bivariate and
//! trivariate normal and t probabilities", Statistics and Computing 14, 251–260 (2004)):
//! Drezner–Wesolowsky's integral over asin ρ with 6/12/20-point Gauss–Legendre for |ρ| < 0.925,
//! and for |ρ| ≥ 0.925 the expansion around |ρ| = 1 plus a 20-point correction. Absolute error
//! ≲ 10⁻¹⁵ for all a, b and ρ ∈ [−1, 1].

use std::f64::consts::PI;

use super::normal::normal_cdf;

const TWO_PI: f64 = 2.0 * PI;

/// |ρ| from which [`bvn_cov`] and `bvn_upper` take Genz's expansion around |ρ| = 1 (below it,
/// the Drezner–Wesolowsky sum).
pub const NEAR_ONE: f64 = 0.925;

/// Largest Plackett spread (|hk| + (h² + k²)/2)|ρ| at which `plackett_term_fine` is one
/// Gauss–Legendre sum (above it, panels).
pub const MAX_SPREAD: f64 = 4.0;

/// Positive Gauss–Legendre nodes and weights (n = 6, 12, 20), as tabulated in Genz's BVND.
const X6: [f64; 3] = [0.9324695142031522, 0.6612093864662647, 0.238619186083197];
const W6: [f64; 3] = [0.1713244923791705, 0.3607615730481384, 0.4679139345726904];
const X12: [f64; 6] = [
    0.9815606342467191,
    0.904117256370475,
    0.769902674194305,
    0.5873179542866171,
    0.3678314989981802,
    0.1252334085114692,
];
const W12: [f64; 6] = [
    0.04717533638651177,
    0.1069393259953183,
    0.1600783285433464,
    0.2031674267230659,
    0.2334925365383547,
    0.2491470458134029,
];
/// Positive Gauss–Legendre nodes and weights, n = 20 (Genz's BVND table); also the lane
/// forms' (`propagate::closures::bvn_cov_lanes`).
pub const X20: [f64; 10] = [
    0.9931285991850949,
    0.9639719272779138,
    0.912234428251326,
    0.8391169718222188,
    0.7463319064601508,
    0.636053680726515,
    0.5108670019508271,
    0.3737060887154196,
    0.2277858511416451,
    0.07652652113349733,
];
pub const W20: [f64; 10] = [
    0.01761400713915212,
    0.04060142980038694,
    0.06267204833410906,
    0.08327674157670475,
    0.1019301198172404,
    0.1181945319615184,
    0.1316886384491766,
    0.1420961093183821,
    0.1491729864726037,
    0.1527533871307259,
];

/// |x| beyond which [`bvn_cdf`] takes an argument as ±∞: Φ(−40) ≈ 3.7·10⁻³⁵⁰ is below f64's
/// smallest subnormal, so Φ₂(a, b; ρ) ≤ Φ(a) is 0 for a < −40 and
/// 0 ≤ Φ(b) − Φ₂(a, b; ρ) = P(X > a, Y ≤ b) ≤ Φ(−a) is 0 for a > 40, to f64.
pub const CDF_LIMIT_BEYOND: f64 = 40.0;

/// Φ₂(a, b; ρ) = P(X ≤ a, Y ≤ b) for standard normals with correlation ρ (clamped to [−1, 1]).
/// Infinite limits are allowed; NaN propagates. Beyond |a| or |b| = [`CDF_LIMIT_BEYOND`] the
/// limits Φ₂ → 0 (a or b → −∞), → Φ(b) (a → +∞), → Φ(a) (b → +∞), exact to f64: Genz's
/// formulas form hk = ab and (h − k)², which overflow to ∞ beyond |a|, |b| ~ 10⁷⁷ (10¹⁵⁴ for one
/// of them) and gave NaN (∞·0, ∞ − ∞; vjp66, scale67).
pub fn bvn_cdf(a: f64, b: f64, rho: f64) -> f64 {
    if a.is_nan() || b.is_nan() || rho.is_nan() {
        return f64::NAN;
    }
    let r = rho.clamp(-1.0, 1.0);
    if a < -CDF_LIMIT_BEYOND || b < -CDF_LIMIT_BEYOND {
        return 0.0;
    }
    if a > CDF_LIMIT_BEYOND {
        return normal_cdf(b);
    }
    if b > CDF_LIMIT_BEYOND {
        return normal_cdf(a);
    }
    // Canonical argument order makes Φ₂ exactly symmetric in (a, b).
    bvn_upper(-a.min(b), -a.max(b), r, (1.0 - r) * (1.0 + r))
}

/// Φ₂(a, b; ρ) − Φ(a)Φ(b) = ∫₀^ρ φ₂(a, b; t) dt (Plackett's identity), i.e. the covariance of
/// the indicators 1[X ≤ a] and 1[Y ≤ b], computed without the cancellation of the difference:
/// for |ρ| < 0.925 it is BVND's own Drezner–Wesolowsky sum; otherwise both arguments are first
/// reflected into the lower tail (flipping a sign of X or Y flips ρ and the covariance), where
/// Φ₂ and ΦΦ are small numbers with full relative accuracy.
pub fn bvn_cov(a: f64, b: f64, rho: f64) -> f64 {
    let r = rho.clamp(-1.0, 1.0);
    bvn_cov_complement(a, b, rho, (1.0 - r) * (1.0 + r))
}

/// [`bvn_cov`] with 1 − ρ² given by the caller, for a ρ formed as a ratio that rounds near 1:
/// near |ρ| = 1, Φ₂ − ΦΦ depends on ρ through √(1 − ρ²) (its derivative φ₂ grows as
/// 1/√(1 − ρ²)), so one rounding of ρ, 1.1·10⁻¹⁶, moves it by ~ε/√(1 − ρ²). The closures'
/// smoothed correlations r = Σᵢⱼ/√((c + Σᵢᵢ)(c + Σⱼⱼ)) (erf c = 1/2, GELU c = 1) have
/// 1 − r² ≈ 2c/Σ at a unit with itself: formed from r it lost ~ε·s of the variance (erf at
/// s = 10⁶, μ/s = −4: 1.1·10⁻¹⁰ relative; adv57), formed from the Σ's it keeps full accuracy.
/// `one_minus_rho2` is clamped to [0, 1]; ρ still gives the sign and the regime.
pub fn bvn_cov_complement(a: f64, b: f64, rho: f64, one_minus_rho2: f64) -> f64 {
    let r = rho.clamp(-1.0, 1.0);
    let one_minus_rho2 = one_minus_rho2.clamp(0.0, 1.0);
    if !(a.is_finite() && b.is_finite()) {
        return if a.is_nan() || b.is_nan() || rho.is_nan() {
            f64::NAN
        } else {
            0.0
        };
    }
    let (a, b) = (a.min(b), a.max(b));
    if r.abs() < NEAR_ONE {
        return plackett_term_fine(a, b, r);
    }
    let (mut sign, mut rr) = (1.0, r);
    if a > 0.0 {
        sign = -sign;
        rr = -rr;
    }
    if b > 0.0 {
        sign = -sign;
        rr = -rr;
    }
    let (a, b) = (-a.abs(), -b.abs());
    sign * (bvn_upper(-a, -b, rr, one_minus_rho2) - normal_cdf(a) * normal_cdf(b))
}

/// [`plackett_term`] to full relative accuracy for large |h|, |k|: the exponent of the
/// integrand varies by up to E = (|hk| + (h² + k²)/2)|ρ| over the range, so the range is split
/// into ⌈E/16⌉ panels of 20-point Gauss–Legendre when E > 4 (Genz's rule otherwise).
fn plackett_term_fine(h: f64, k: f64, r: f64) -> f64 {
    let spread = ((h * k).abs() + 0.5 * (h * h + k * k)) * r.abs();
    if spread <= MAX_SPREAD {
        return plackett_term(h, k, r);
    }
    let panels = (spread / 16.0).ceil().min(1e4) as usize;
    let top = r.asin();
    let width = top / panels as f64;
    let (hk, hs) = (h * k, 0.5 * (h * h + k * k));
    let mut sum = 0.0;
    for p in 0..panels {
        let mid = (p as f64 + 0.5) * width;
        for (&xi, &wi) in X20.iter().zip(&W20) {
            for t in [mid - 0.5 * width * xi, mid + 0.5 * width * xi] {
                let sn = t.sin();
                sum += wi * ((sn * hk - hs) / (1.0 - sn * sn)).exp();
            }
        }
    }
    sum * 0.5 * width / TWO_PI
}

/// ∫₀^ρ φ₂(h, k; t) dt for |ρ| < 0.925, with t = sin θ:
/// (1/2π) ∫₀^{asin ρ} exp((hk sin θ − (h² + k²)/2)/cos²θ) dθ by Gauss–Legendre (Genz 2004).
fn plackett_term(h: f64, k: f64, r: f64) -> f64 {
    if r == 0.0 {
        return 0.0;
    }
    let (x, w): (&[f64], &[f64]) = if r.abs() < 0.3 {
        (&X6, &W6)
    } else if r.abs() < 0.75 {
        (&X12, &W12)
    } else {
        (&X20, &W20)
    };
    let hk = h * k;
    let hs = 0.5 * (h * h + k * k);
    let asr = 0.5 * r.asin();
    let mut sum = 0.0;
    for (&xi, &wi) in x.iter().zip(w) {
        for t in [1.0 - xi, 1.0 + xi] {
            let sn = (asr * t).sin();
            sum += wi * ((sn * hk - hs) / (1.0 - sn * sn)).exp();
        }
    }
    sum * asr / TWO_PI
}

/// P(X > h, Y > k; r): Genz's BVND (BVNU in his MATLAB code), r ∈ [−1, 1], with `as_` =
/// 1 − r² (its only use of |r| near 1; see [`bvn_cov_complement`]); `as_` = 0 is |r| = 1.
fn bvn_upper(h: f64, k: f64, r: f64, as_: f64) -> f64 {
    if r.abs() < NEAR_ONE {
        return (plackett_term(h, k, r) + normal_cdf(-h) * normal_cdf(-k)).clamp(0.0, 1.0);
    }
    let (k, hk) = if r < 0.0 { (-k, -h * k) } else { (k, h * k) };
    let mut bvn = 0.0;
    if as_ > 0.0 {
        let a = as_.sqrt();
        let bs = (h - k) * (h - k);
        let c = (4.0 - hk) / 8.0;
        let d = (12.0 - hk) / 16.0;
        bvn = a
            * (-(bs / as_ + hk) / 2.0).exp()
            * (1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0 + c * d * as_ * as_ / 5.0);
        if hk > -160.0 {
            let b = bs.sqrt();
            bvn -= (-hk / 2.0).exp()
                * TWO_PI.sqrt()
                * normal_cdf(-b / a)
                * b
                * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0);
        }
        let a = a / 2.0;
        for (&xi, &wi) in X20.iter().zip(&W20) {
            for t in [1.0 - xi, 1.0 + xi] {
                let xs = (a * t) * (a * t);
                let rs = (1.0 - xs).sqrt();
                let asr = -(bs / xs + hk) / 2.0;
                if asr > -100.0 {
                    let sp = 1.0 + c * xs * (1.0 + d * xs);
                    let ep = (-hk * xs / (2.0 * (1.0 + rs) * (1.0 + rs))).exp() / rs;
                    bvn += a * wi * asr.exp() * (ep - sp);
                }
            }
        }
        bvn = -bvn / TWO_PI;
    }
    if r > 0.0 {
        bvn += normal_cdf(-h.max(k));
    } else {
        bvn = -bvn;
        if k > h {
            bvn += if h < 0.0 {
                normal_cdf(k) - normal_cdf(h)
            } else {
                normal_cdf(-h) - normal_cdf(-k)
            };
        }
    }
    bvn.clamp(0.0, 1.0)
}

/// Genz's Gauss–Legendre rule for `plackett_term` at correlation |ρ| < 0.925: 6 points below
/// 0.3, 12 below 0.75, else 20. On SIMD lanes the rule of the largest |ρ| among the lanes
/// serves them all (more nodes on the same smooth integrand is never less accurate).
pub fn genz_rule(abs_rho: f64) -> (&'static [f64], &'static [f64]) {
    if abs_rho < 0.3 {
        (&X6, &W6)
    } else if abs_rho < 0.75 {
        (&X12, &W12)
    } else {
        (&X20, &W20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Huge finite arguments (|a|, |b| ∈ {10¹⁰, 10⁷⁷, 10²⁰⁰, 10³⁰⁸}, and ±∞) give the limits
    /// Φ₂ → 0 (a or b → −∞), → Φ(b) (a → +∞), → Φ(a) (b → +∞), exactly, for ρ ∈ {−0.99, 0,
    /// 0.5, 0.999} and the other argument −1.3, 0, 0.7 or as huge; and just inside the cut
    /// (|a| = 39.99) Genz's formulas agree with the limit to 10⁻¹⁶ absolute. Fails without the
    /// [`CDF_LIMIT_BEYOND`] branch: NaN at 10²⁰⁰ (hk = ab = ∞ in the Drezner–Wesolowsky
    /// exponent, ∞ − ∞) and at 10⁷⁷, ρ = −0.99 and 0.999 (∞·0 in the expansion near |ρ| = 1).
    #[test]
    fn huge_arguments_take_the_limits() {
        let rhos = [-0.99, 0.0, 0.5, 0.999];
        for big in [1e10, 1e77, 1e200, 1e308, f64::INFINITY] {
            for rho in rhos {
                for other in [-1.3, 0.0, 0.7] {
                    let cases = [
                        (-big, other, 0.0),
                        (big, other, normal_cdf(other)),
                        (other, -big, 0.0),
                        (other, big, normal_cdf(other)),
                    ];
                    for (a, b, want) in cases {
                        let got = bvn_cdf(a, b, rho);
                        assert_eq!(got, want, "Φ₂({a:e}, {b:e}; {rho})");
                    }
                }
                for (sa, sb, want) in [(1.0, 1.0, 1.0), (-1.0, 1.0, 0.0), (1.0, -1.0, 0.0)] {
                    let got = bvn_cdf(sa * big, sb * big, rho);
                    assert_eq!(got, want, "Φ₂({:e}, {:e}; {rho})", sa * big, sb * big);
                }
                assert_eq!(bvn_cdf(-big, -big, rho), 0.0);
            }
        }
        for rho in rhos {
            for other in [-1.3, 0.0, 0.7] {
                let inside = bvn_cdf(CDF_LIMIT_BEYOND - 0.01, other, rho);
                assert!((inside - normal_cdf(other)).abs() <= 1e-16, "{rho} {other}");
                let inside = bvn_cdf(0.01 - CDF_LIMIT_BEYOND, other, rho);
                assert!(inside.abs() <= 1e-16, "{rho} {other}: {inside:e}");
            }
        }
    }
}
