//! Partial derivatives of the bivariate normal cdf Φ₂(x, y; r) in x and y up to total order 4:
//! the closed forms the relu and erf corrections are built from ([`super::edgeworth`]).
//!
//! With q = √(1 − r²), w_y = (y − r x)/q and φ₂ = φ(x)φ(w_y)/q the bivariate normal density,
//! ∂ₓΦ₂ = φ(x)Φ(w_y) (the conditional cdf), and differentiating (∂ₓw_y = −r/q):
//!
//! ```text
//! (1,0) = φ(x)Φ(w_y)
//! (2,0) = −x φ(x)Φ(w_y) − r φ₂
//! (3,0) = (x² − 1) φ(x)Φ(w_y) + (2rx − r² w_y/q) φ₂
//! (4,0) = (3x − x³) φ(x)Φ(w_y) + (r(3 − x²) + r³/q² + (2rx − r² w_y/q)(r w_y/q − x)) φ₂
//! ```
//!
//! and, for a, b ≥ 1, derivatives of φ₂ = (a−1, b−1) Hermite polynomials of R⁻¹(x, y)
//! (McCullagh, *Tensor Methods in Statistics*, §5.2): with Yₓ = (x − r y)/q², Y_y = (y − r x)/q²,
//!
//! ```text
//! (1,1) = φ₂,   (2,1) = −Yₓ φ₂,   (1,2) = −Y_y φ₂,
//! (3,1) = (Yₓ² − 1/q²) φ₂,   (2,2) = (YₓY_y + r/q²) φ₂,   (1,3) = (Y_y² − 1/q²) φ₂.
//! ```
//!
//! The (0, b) entries are the (b, 0) forms with x and y exchanged. Undefined at |r| = 1. The
//! caller gives q² = 1 − r²: where r is a ratio that rounds near ±1 (erf's r = 2Σᵢⱼdᵢdⱼ → 1 as
//! Σ grows), (1 − r)(1 + r) from the rounded r errs by ~ε/(1 − r) of itself, and the partials,
//! ∝ q^{−(a+b−1)}, with it (`erf::one_minus_r2` forms it from Σ). Likewise y − rx near the
//! diagonal (x ≈ y, r → 1), whose cancellation leaves ε·|x|/(1 − r) of error in w_y: it is
//! formed as (y − x) + x(1 − r) with 1 − r = q²/(1 + r) (`minus_r_times`; r < 0: (y + x) −
//! x(1 + r), 1 + r = q²/(1 − r)), so the two units of one variable (x = y, r = r₀ of erf) give
//! w_y = x(1 − r)/q to rounding.

use crate::special::{normal_cdf, normal_pdf};

/// `T[a][b]` = ∂ᵃₓ∂ᵇ_y Φ₂(x, y; r) for 1 ≤ a + b ≤ 4 (`T[0][0]` is left 0), |r| < 1,
/// `one_minus_r2` = 1 − r² > 0.
pub fn phi2_partials(x: f64, y: f64, r: f64, one_minus_r2: f64) -> [[f64; 5]; 5] {
    let q2 = one_minus_r2;
    let q = q2.sqrt();
    let (px, py) = (normal_pdf(x), normal_pdf(y));
    let (vy, vx) = (minus_r_times(y, x, r, q2), minus_r_times(x, y, r, q2));
    let (wy, wx) = (vy / q, vx / q);
    let dens = px * normal_pdf(wy) / q;
    let mut t = [[0.0; 5]; 5];
    let single = |x: f64, px: f64, w: f64| {
        let cw = normal_cdf(w);
        let a = 2.0 * r * x - r * r * w / q;
        [
            px * cw,
            -x * px * cw - r * dens,
            (x * x - 1.0) * px * cw + a * dens,
            (3.0 * x - x * x * x) * px * cw
                + (r * (3.0 - x * x) + r * r * r / q2 + a * (r * w / q - x)) * dens,
        ]
    };
    let sx = single(x, px, wy);
    let sy = single(y, py, wx);
    for k in 0..4 {
        t[k + 1][0] = sx[k];
        t[0][k + 1] = sy[k];
    }
    let (yx, yy) = (vx / q2, vy / q2);
    t[1][1] = dens;
    t[2][1] = -yx * dens;
    t[1][2] = -yy * dens;
    t[3][1] = (yx * yx - 1.0 / q2) * dens;
    t[2][2] = (yx * yy + r / q2) * dens;
    t[1][3] = (yy * yy - 1.0 / q2) * dens;
    t
}

/// y − r·x without the cancellation of y ≈ rx where |r| → 1 (module docs): (y − x) + x(1 − r)
/// with 1 − r = q²/(1 + r) for r ≥ 0, (y + x) − x(1 + r) with 1 + r = q²/(1 − r) for r < 0,
/// q² = 1 − r² as the caller formed it.
pub(super) fn minus_r_times(y: f64, x: f64, r: f64, q2: f64) -> f64 {
    if r >= 0.0 {
        (y - x) + x * (q2 / (1.0 + r))
    } else {
        (y + x) - x * (q2 / (1.0 - r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::special::bvn_cdf;

    /// Every entry against central differences of the entry one order below (and the first
    /// order against differences of Φ₂ itself), at several (x, y, r).
    #[test]
    fn partials_match_finite_differences() {
        let h = 1e-4;
        for (x, y, r) in [
            (0.3, -0.7, 0.4),
            (-1.2, 0.5, -0.8),
            (1.5, 1.1, 0.95),
            (0.0, 0.0, 0.0),
        ] {
            let p = |x: f64, y: f64| phi2_partials(x, y, r, (1.0 - r) * (1.0 + r));
            let t = p(x, y);
            let dx = |a: usize, b: usize| {
                if a + b == 0 {
                    (bvn_cdf(x + h, y, r) - bvn_cdf(x - h, y, r)) / (2.0 * h)
                } else {
                    (p(x + h, y)[a][b] - p(x - h, y)[a][b]) / (2.0 * h)
                }
            };
            let dy = |a: usize, b: usize| {
                if a + b == 0 {
                    (bvn_cdf(x, y + h, r) - bvn_cdf(x, y - h, r)) / (2.0 * h)
                } else {
                    (p(x, y + h)[a][b] - p(x, y - h)[a][b]) / (2.0 * h)
                }
            };
            let orders = (1..=4usize).flat_map(|k| (0..=k).map(move |a| (a, k - a)));
            for (a, b) in orders {
                let fd = if a > 0 { dx(a - 1, b) } else { dy(a, b - 1) };
                let tol = 1e-6 * (1.0 + fd.abs());
                assert!(
                    (t[a][b] - fd).abs() < tol,
                    "({x}, {y}, {r}) [{a}][{b}]: {} vs {fd}",
                    t[a][b]
                );
            }
        }
    }
}
