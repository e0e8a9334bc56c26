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
//! The (0, b) entries are the (b, 0) forms with x and y exchanged. Undefined at |r| = 1.

use crate::special::{normal_cdf, normal_pdf};

/// `T[a][b]` = ∂ᵃₓ∂ᵇ_y Φ₂(x, y; r) for 1 ≤ a + b ≤ 4 (`T[0][0]` is left 0), |r| < 1.
pub fn phi2_partials(x: f64, y: f64, r: f64) -> [[f64; 5]; 5] {
    let q2 = (1.0 - r) * (1.0 + r);
    let q = q2.sqrt();
    let (px, py) = (normal_pdf(x), normal_pdf(y));
    let wy = (y - r * x) / q;
    let wx = (x - r * y) / q;
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
    let (yx, yy) = ((x - r * y) / q2, (y - r * x) / q2);
    t[1][1] = dens;
    t[2][1] = -yx * dens;
    t[1][2] = -yy * dens;
    t[3][1] = (yx * yx - 1.0 / q2) * dens;
    t[2][2] = (yx * yy + r / q2) * dens;
    t[1][3] = (yy * yy - 1.0 / q2) * dens;
    t
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
            let t = phi2_partials(x, y, r);
            let dx = |a: usize, b: usize| {
                if a + b == 0 {
                    (bvn_cdf(x + h, y, r) - bvn_cdf(x - h, y, r)) / (2.0 * h)
                } else {
                    (phi2_partials(x + h, y, r)[a][b] - phi2_partials(x - h, y, r)[a][b])
                        / (2.0 * h)
                }
            };
            let dy = |a: usize, b: usize| {
                if a + b == 0 {
                    (bvn_cdf(x, y + h, r) - bvn_cdf(x, y - h, r)) / (2.0 * h)
                } else {
                    (phi2_partials(x, y + h, r)[a][b] - phi2_partials(x, y - h, r)[a][b])
                        / (2.0 * h)
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
