//! The Edgeworth weight w(u) = f(u)/φ(u) of a density with whitened cumulants κ₃, κ₄
//! (McCullagh, *Tensor Methods in Statistics*, 1987, §5.2; Kolassa, *Series Approximation
//! Methods in Statistics*, §6):
//!
//! ```text
//! w(u) = 1 + (1/6) κ₃[abc] H_abc(u) + (1/24) κ₄[abcd] H_abcd(u) + (1/72) κ₃[abc] κ₃[def] H_abcdef(u),
//! ```
//!
//! summed over repeated indices, with H the multivariate Hermite polynomials of N(0, I)
//! (H_abc = u_a u_b u_c − δ_ab u_c − δ_ac u_b − δ_bc u_a, …). The contractions, with
//! Q_a = κ₃\[abc\] u_b u_c, A = u_a Q_a, v_a = κ₃\[abb\], M_ab = κ₄\[abcc\], s = M_aa,
//! G_cf = κ₃\[abc\] κ₃\[abf\]:
//!
//! ```text
//! κ₃·H₃ = A − 3 v·u
//! κ₄·H₄ = κ₄[abcd] u_a u_b u_c u_d − 6 uᵀMu + 3 s
//! κ₃κ₃·H₆ = A² − 6 (v·u) A − 9 |Q|² + 9 (v·u)² + 18 v·Q + 18 uᵀGu − 9 |v|² − 6 ‖κ₃‖²
//! ```
//!
//! (the 15 single, 45 double and 15 triple contractions of H₆ grouped by whether a pair joins
//! indices of one κ₃ or of both). Only the κ₃ term is odd, so w(−u) = w(u) − (1/3) κ₃·H₃(u).
//! E_φ\[w\] = 1 and E_φ[w u_a u_b u_c] = κ₃\[abc\], E_φ[w · 4th-order cumulant] = κ₄ exactly: the
//! density φ·w has the given cumulants to 4th order, but it is negative where w < 0 (strong skew
//! or heavy tails), which the weight summary reports.

use faer::{Mat, MatRef};

use super::cumulants::{gemm, outer_columns, WhitenedCumulants};

/// The precomputed contractions of κ₃ and κ₄.
pub struct EdgeworthWeight {
    r: usize,
    k3: Mat<f64>,
    k4: Mat<f64>,
    v: Vec<f64>,
    m: Mat<f64>,
    g: Mat<f64>,
    /// 3 s (the constant of κ₄·H₄).
    c4: f64,
    /// −9|v|² − 6‖κ₃‖² (the constant of κ₃κ₃·H₆).
    c6: f64,
}

impl EdgeworthWeight {
    pub fn new(c: &WhitenedCumulants) -> Self {
        let r = c.rank();
        let k3 = |a: usize, b: usize, cc: usize| c.k3[(a, b + r * cc)];
        let v: Vec<f64> = (0..r).map(|a| (0..r).map(|b| k3(a, b, b)).sum()).collect();
        let m = Mat::from_fn(r, r, |a, b| {
            (0..r).map(|cc| c.k4[(a + r * b, cc + r * cc)]).sum()
        });
        let g = Mat::from_fn(r, r, |cc, f| {
            (0..r)
                .flat_map(|a| (0..r).map(move |b| (a, b)))
                .map(|(a, b)| k3(a, b, cc) * k3(a, b, f))
                .sum()
        });
        let s: f64 = (0..r).map(|a| m[(a, a)]).sum();
        let v2: f64 = v.iter().map(|x| x * x).sum();
        let k3_sq: f64 = (0..r * r).map(|p| c.k3.col(p).squared_norm_l2()).sum();
        EdgeworthWeight {
            r,
            k3: c.k3.clone(),
            k4: c.k4.clone(),
            v,
            m,
            g,
            c4: 3.0 * s,
            c6: -9.0 * v2 - 6.0 * k3_sq,
        }
    }

    /// w(u) into `plus` and w(−u) into `minus` for each column u of `z` (r × b).
    pub fn pair(&self, z: MatRef<'_, f64>, plus: &mut [f64], minus: &mut [f64]) {
        let (r, b) = (self.r, z.ncols());
        let z2 = outer_columns(z);
        let mut q = Mat::zeros(r, b);
        gemm(q.as_mut(), self.k3.as_ref(), z2.as_ref(), 1.0);
        let mut kz = Mat::zeros(r * r, b);
        gemm(kz.as_mut(), self.k4.as_ref(), z2.as_ref(), 1.0);
        for j in 0..b {
            let (u, qj) = (z.col(j), q.col(j));
            let dot = |x: &dyn Fn(usize) -> f64, y: &dyn Fn(usize) -> f64| {
                (0..r).map(|a| x(a) * y(a)).sum::<f64>()
            };
            let quad = |m: &Mat<f64>| {
                (0..r)
                    .map(|a| u[a] * (0..r).map(|bb| m[(a, bb)] * u[bb]).sum::<f64>())
                    .sum::<f64>()
            };
            let big_a = dot(&|a| u[a], &|a| qj[a]);
            let vu = dot(&|a| self.v[a], &|a| u[a]);
            let vq = dot(&|a| self.v[a], &|a| qj[a]);
            let q2 = qj.squared_norm_l2();
            let b4 = (0..r * r).map(|p| z2[(p, j)] * kz[(p, j)]).sum::<f64>();
            let h3 = big_a - 3.0 * vu;
            let h4 = b4 - 6.0 * quad(&self.m) + self.c4;
            let h6 = big_a * big_a - 6.0 * vu * big_a - 9.0 * q2
                + 9.0 * vu * vu
                + 18.0 * vq
                + 18.0 * quad(&self.g)
                + self.c6;
            let even = 1.0 + h4 / 24.0 + h6 / 72.0;
            plus[j] = even + h3 / 6.0;
            minus[j] = even - h3 / 6.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    /// H_{idx}(u) by its definition: the sum over partial matchings of the indices, each pair a
    /// δ with sign −1, each unmatched index a factor u (recursion on the first index).
    fn hermite(idx: &[usize], u: &[f64]) -> f64 {
        let Some((&first, rest)) = idx.split_first() else {
            return 1.0;
        };
        let mut h = u[first] * hermite(rest, u);
        for j in 0..rest.len() {
            if rest[j] == first {
                let others: Vec<usize> = rest[..j].iter().chain(&rest[j + 1..]).copied().collect();
                h -= hermite(&others, u);
            }
        }
        h
    }

    /// The fast contractions equal the definition summed over every index tuple, at random
    /// points, for whitened cumulants of a skewed 3-D sample (symmetric tensors by construction).
    #[test]
    fn contractions_match_the_hermite_definition() {
        let (r, n) = (3, 2000);
        let mut rng = StdRng::seed_from_u64(2);
        let y = Mat::from_fn(r, n, |i, _| {
            let e: f64 = -(1.0 - rng.random::<f64>()).ln();
            e * (1.0 + i as f64) + rng.random::<f64>()
        });
        let c = WhitenedCumulants::of_samples(y.as_ref()).unwrap();
        let w = EdgeworthWeight::new(&c);
        let k3 = |a: usize, b: usize, d: usize| c.k3[(a, b + r * d)];
        let k4 = |a: usize, b: usize, d: usize, e: usize| c.k4[(a + r * b, d + r * e)];
        let z = Mat::from_fn(r, 5, |_, _| 2.0 * rng.random::<f64>() - 1.0);
        let (mut plus, mut minus) = (vec![0.0; 5], vec![0.0; 5]);
        w.pair(z.as_ref(), &mut plus, &mut minus);
        let tuples = |k: u32| {
            (0..r.pow(k)).map(move |t| (0..k).map(|p| t / r.pow(p) % r).collect::<Vec<_>>())
        };
        for j in 0..5 {
            let u: Vec<f64> = z.col(j).iter().copied().collect();
            let t3: f64 = tuples(3)
                .map(|i| k3(i[0], i[1], i[2]) * hermite(&i, &u))
                .sum();
            let t4: f64 = tuples(4)
                .map(|i| k4(i[0], i[1], i[2], i[3]) * hermite(&i, &u))
                .sum();
            let t6: f64 = tuples(6)
                .map(|i| k3(i[0], i[1], i[2]) * k3(i[3], i[4], i[5]) * hermite(&i, &u))
                .sum();
            let want = 1.0 + t3 / 6.0 + t4 / 24.0 + t6 / 72.0;
            let want_minus = 1.0 - t3 / 6.0 + t4 / 24.0 + t6 / 72.0;
            let scale = 1.0 + t3.abs() + t4.abs() + t6.abs();
            assert!(
                (plus[j] - want).abs() < 1e-12 * scale,
                "{} vs {want}",
                plus[j]
            );
            assert!((minus[j] - want_minus).abs() < 1e-12 * scale);
        }
    }
}
