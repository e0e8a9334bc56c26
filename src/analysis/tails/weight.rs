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

//!
//! Cost: κ₃ and κ₄ are symmetric, so they are contracted over the P = r(r+1)/2 distinct products
//! u_b u_c (b ≤ c, each off-diagonal pair counted twice through its multiplicity), not the r²
//! ordered ones ([`EdgeworthWeight::pair`]); [`pair_flops`] counts the work per draw.

use std::sync::Mutex;

use faer::{Mat, MatRef};
use pulp::{Simd, WithSimd};

use super::cumulants::{gemm, WhitenedCumulants};
use crate::simd::dispatch;

/// The precomputed contractions of κ₃ and κ₄, over the distinct index pairs b ≤ c.
pub struct EdgeworthWeight {
    r: usize,
    /// The pairs (b, c), b ≤ c, in the order of the rows of the pair products.
    pairs: Vec<(usize, usize)>,
    /// P × (r + P): first r columns m_q κ₃\[a, b_q, c_q\] (column a; m_q = 1 for b = c, 2
    /// otherwise: Q = pair products × these), then m_p m_q κ₄\[b_p, c_p, b_q, c_q\] (κ₄·u⁴ =
    /// the pair products' quadratic form): both contractions of the pair products in one
    /// product.
    k34: Mat<f64>,
    v: Vec<f64>,
    /// (G − M)/4: the quadratic terms −6uᵀMu/24 + 18uᵀGu/72 of the even part, in one form.
    h: Mat<f64>,
    /// 1 + 3s/24 + (−9|v|² − 6‖κ₃‖²)/72: the even part's constant.
    constant: f64,
    scratch: Mutex<Scratch>,
}

/// Flops of [`EdgeworthWeight::pair`] per draw (one draw gives w(u) and w(−u)), with
/// P = r(r+1)/2: the pair products (P), Q = κ₃·(u_b u_c) (2rP), κ₄'s quadratic form (2P² + 2P),
/// the quadratic form (G − M)/4 (2r² + 2r), the four r-dot products A = u·Q, v·u, v·Q, |Q|²
/// (8r) and 16 scalar operations.
pub fn pair_flops(r: usize) -> f64 {
    let (r, p) = (r as f64, (r * (r + 1) / 2) as f64);
    p + 2.0 * r * p + 2.0 * p * p + 2.0 * p + 2.0 * r * r + 2.0 * r + 8.0 * r + 16.0
}

impl EdgeworthWeight {
    pub fn new(c: &WhitenedCumulants) -> Self {
        let r = c.rank();
        let k3 = |a: usize, b: usize, cc: usize| c.k3[(a, b + r * cc)];
        let k4 = |a: usize, b: usize, cc: usize, d: usize| c.k4[(a + r * b, cc + r * d)];
        let pairs: Vec<(usize, usize)> = (0..r)
            .flat_map(|cc| (0..=cc).map(move |b| (b, cc)))
            .collect();
        let mult = |(b, cc): (usize, usize)| if b == cc { 1.0 } else { 2.0 };
        let v: Vec<f64> = (0..r).map(|a| (0..r).map(|b| k3(a, b, b)).sum()).collect();
        let m = Mat::from_fn(r, r, |a, b| (0..r).map(|cc| k4(a, b, cc, cc)).sum::<f64>());
        let g = Mat::from_fn(r, r, |cc, f| {
            (0..r)
                .flat_map(|a| (0..r).map(move |b| (a, b)))
                .map(|(a, b)| k3(a, b, cc) * k3(a, b, f))
                .sum::<f64>()
        });
        let s: f64 = (0..r).map(|a| m[(a, a)]).sum();
        let v2: f64 = v.iter().map(|x| x * x).sum();
        let k3_sq: f64 = (0..r * r).map(|p| c.k3.col(p).squared_norm_l2()).sum();
        let np = pairs.len();
        EdgeworthWeight {
            r,
            k34: Mat::from_fn(np, r + np, |q, col| {
                if col < r {
                    let (b, cc) = pairs[q];
                    mult(pairs[q]) * k3(col, b, cc)
                } else {
                    let ((a, b), (cc, d)) = (pairs[col - r], pairs[q]);
                    mult(pairs[col - r]) * mult(pairs[q]) * k4(a, b, cc, d)
                }
            }),
            h: Mat::from_fn(r, r, |a, b| 0.25 * (g[(a, b)] - m[(a, b)])),
            constant: 1.0 + 3.0 * s / 24.0 + (-9.0 * v2 - 6.0 * k3_sq) / 72.0,
            pairs,
            v,
            scratch: Mutex::new(Scratch::new(0, r, np)),
        }
    }

    /// w(u) into `plus` and w(−u) into `minus` for each row u of `z` (b × r), `ROWS` (512)
    /// rows at a time. Each row's weight depends on that row alone, so the blocks give the
    /// numbers one pass over all rows would.
    pub fn pair(&self, z: MatRef<'_, f64>, plus: &mut [f64], minus: &mut [f64]) {
        let mut guard = self
            .scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let w = &mut *guard;
        let b = z.nrows().min(ROWS);
        if w.u.nrows() < b {
            *w = Scratch::new(b, self.r, self.pairs.len());
        }
        let blocks = plus.chunks_mut(ROWS).zip(minus.chunks_mut(ROWS));
        for (k, (p, m)) in blocks.enumerate() {
            self.rows(w, z.subrows(k * ROWS, p.len()), p, m);
        }
    }

    /// [`EdgeworthWeight::pair`] on the rows of `z` (at most the scratch's), all at once: the
    /// pair products, then Q and κ₄'s form in one GEMM of the b × P pair products and
    /// (G − M)/4·u in one of the b × r draws, then the dot products of the module documentation
    /// column by column across rows.
    fn rows(&self, w: &mut Scratch, z: MatRef<'_, f64>, plus: &mut [f64], minus: &mut [f64]) {
        let b = z.nrows();
        let Scratch { u, z2, qk, hz } = w;
        // The draws' columns are read as slices: the draws themselves when their columns are
        // contiguous (the Monte Carlo chunks always are), else a copy in the scratch.
        let ub = if z.row_stride() == 1 {
            z
        } else {
            u.as_mut().subrows_mut(0, b).copy_from(z);
            u.as_ref().subrows(0, b)
        };
        let u_col = |a: usize| {
            ub.col(a)
                .try_as_col_major()
                .expect("the draws' columns are contiguous")
                .as_slice()
        };
        for (c, &(a, e)) in self.pairs.iter().enumerate() {
            let (x, y) = (u_col(a), u_col(e));
            dispatch(Rows::Product(x, y, &mut z2.col_as_slice_mut(c)[..b]));
        }
        let z2b = z2.as_ref().subrows(0, b);
        gemm(qk.as_mut().subrows_mut(0, b), z2b, self.k34.as_ref(), 1.0);
        gemm(hz.as_mut().subrows_mut(0, b), ub, self.h.transpose(), 1.0);
        // Per row: A = u·Q, v·u, v·Q, |Q|², u·(G − M)u/4 and κ₄·u⁴ = z2·(κ₄ z2).
        let mut sums: [Vec<f64>; 6] = std::array::from_fn(|_| vec![0.0; b]);
        let [big_a, vu, vq, q2, uhu, b4] = &mut sums;
        for (a, &va) in self.v.iter().enumerate() {
            let (ua, qa) = (u_col(a), &qk.col_as_slice(a)[..b]);
            let ha = &hz.col_as_slice(a)[..b];
            dispatch(Rows::AddProduct(ua, qa, big_a));
            dispatch(Rows::AddScaled(va, ua, vu));
            dispatch(Rows::AddScaled(va, qa, vq));
            dispatch(Rows::AddProduct(qa, qa, q2));
            dispatch(Rows::AddProduct(ua, ha, uhu));
        }
        for c in 0..self.pairs.len() {
            let (zc, kc) = (&z2.col_as_slice(c)[..b], &qk.col_as_slice(self.r + c)[..b]);
            dispatch(Rows::AddProduct(zc, kc, b4));
        }
        let rows = big_a.iter().zip(vu.iter()).zip(vq.iter().zip(q2.iter()));
        let rows = rows.zip(uhu.iter().zip(b4.iter()));
        for ((((&a, &vu), (&vq, &q2)), (&uhu, &b4)), (p, m)) in
            rows.zip(plus.iter_mut().zip(minus.iter_mut()))
        {
            let h3 = a - 3.0 * vu;
            let e = self.constant
                + b4 / 24.0
                + uhu
                + (a * a - 6.0 * vu * a - 9.0 * q2 + 9.0 * vu * vu + 18.0 * vq) / 72.0;
            *p = e + h3 / 6.0;
            *m = e - h3 / 6.0;
        }
    }
}

/// Rows per block of [`EdgeworthWeight::pair`]: the b × P pair products and their b × (r + P)
/// contractions (P = 55 at r = 10: 225 + 266 KB at 512 rows) stay in the 1 MB L2 cache between
/// the GEMM that writes them and the passes that read them (a whole 4096-row chunk of draws:
/// 1.8 + 2.1 MB).
const ROWS: usize = 512;

/// Elementwise operations over a batch's rows, as plain loops inside `with_simd` so that the
/// compiler vectorises them for the instruction set pulp dispatches to.
enum Rows<'a> {
    /// out = x·y.
    Product(&'a [f64], &'a [f64], &'a mut [f64]),
    /// acc += x·y.
    AddProduct(&'a [f64], &'a [f64], &'a mut [f64]),
    /// acc += a·x.
    AddScaled(f64, &'a [f64], &'a mut [f64]),
}

impl WithSimd for Rows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        match self {
            Rows::Product(x, y, out) => {
                for ((o, a), b) in out.iter_mut().zip(x).zip(y) {
                    *o = a * b;
                }
            }
            Rows::AddProduct(x, y, acc) => {
                for ((o, a), b) in acc.iter_mut().zip(x).zip(y) {
                    *o += a * b;
                }
            }
            Rows::AddScaled(a, x, acc) => {
                for (o, b) in acc.iter_mut().zip(x) {
                    *o += a * b;
                }
            }
        }
    }
}

/// Work matrices of [`EdgeworthWeight::pair`], kept between batches: the draws u (b × r), their
/// pair products (b × P), Q beside κ₄·z2 (b × (r + P)) and (G − M)/4·u (b × r).
struct Scratch {
    u: Mat<f64>,
    z2: Mat<f64>,
    qk: Mat<f64>,
    hz: Mat<f64>,
}

impl Scratch {
    fn new(b: usize, r: usize, np: usize) -> Self {
        Scratch {
            u: Mat::zeros(b, r),
            z2: Mat::zeros(b, np),
            qk: Mat::zeros(b, r + np),
            hz: Mat::zeros(b, r),
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

    /// n samples of r skewed coordinates: exponential draws scaled 1, 2, … plus a uniform.
    fn skewed(r: usize, n: usize, rng: &mut StdRng) -> Mat<f64> {
        Mat::from_fn(r, n, |i, _| {
            let e: f64 = -(1.0 - rng.random::<f64>()).ln();
            e * (1.0 + i as f64) + rng.random::<f64>()
        })
    }

    /// The weight reads contiguous draws in place (no copy since ana23) and copies strided
    /// ones: both give the same numbers bit for bit, over more rows than one block.
    #[test]
    fn strided_and_contiguous_draws_give_the_same_weights() {
        let mut rng = StdRng::seed_from_u64(5);
        let y = skewed(4, 3000, &mut rng);
        let r = y.nrows();
        let w = EdgeworthWeight::new(&WhitenedCumulants::of_samples(y.as_ref()).unwrap());
        let b = ROWS + 77;
        let zt = Mat::from_fn(r, b, |_, _| 2.0 * rng.random::<f64>() - 1.0);
        let z = zt.transpose().to_owned();
        let (mut p1, mut m1) = (vec![0.0; b], vec![0.0; b]);
        let (mut p2, mut m2) = (vec![0.0; b], vec![0.0; b]);
        w.pair(z.as_ref(), &mut p1, &mut m1);
        w.pair(zt.transpose(), &mut p2, &mut m2);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p1), bits(&p2));
        assert_eq!(bits(&m1), bits(&m2));
        assert!(p1.iter().zip(&m1).any(|(p, m)| p != m));
    }

    /// The fast contractions equal the definition summed over every index tuple, at random
    /// points, for whitened cumulants of a skewed 3-D sample (symmetric tensors by construction).
    #[test]
    fn contractions_match_the_hermite_definition() {
        let r = 3;
        let mut rng = StdRng::seed_from_u64(2);
        let y = skewed(r, 2000, &mut rng);
        let c = WhitenedCumulants::of_samples(y.as_ref()).unwrap();
        let w = EdgeworthWeight::new(&c);
        let k3 = |a: usize, b: usize, d: usize| c.k3[(a, b + r * d)];
        let k4 = |a: usize, b: usize, d: usize, e: usize| c.k4[(a + r * b, d + r * e)];
        let z = Mat::from_fn(5, r, |_, _| 2.0 * rng.random::<f64>() - 1.0);
        let (mut plus, mut minus) = (vec![0.0; 5], vec![0.0; 5]);
        w.pair(z.as_ref(), &mut plus, &mut minus);
        let tuples = |k: u32| {
            (0..r.pow(k)).map(move |t| (0..k).map(|p| t / r.pow(p) % r).collect::<Vec<_>>())
        };
        for j in 0..5 {
            let u: Vec<f64> = z.row(j).iter().copied().collect();
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
