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
//! Cost: κ₃ and κ₄ are symmetric, so they are contracted over the P = r(r+1)/2 distinct
//! products z_p = u_a u_b (p = (a, b), a ≤ b), not the r² ordered ones. Q_a = Σ_p m_p κ₃\[a, p\] z_p
//! (m_p = 1 for a = b, 2 otherwise). κ₄·u⁴ is summed over the C(r+3, 4) distinct monomials
//! u_a u_b u_c u_d, a ≤ b ≤ c ≤ d, each written once as z_(a,b) z_(c,d) with its multiplicity
//! 4!/∏(repeats!):
//!
//! ```text
//! κ₄·u⁴ = Σ_q z_q Y_q,   Y_q = Σ_{p = (a, b): b ≤ c} mult(a, b, c, d) κ₄[a, b, c, d] z_p,   q = (c, d),
//! ```
//!
//! a staircase matrix with 715 of its 55 × 55 entries nonzero at r = 10, where the quadratic
//! form over all pairs multiplies all 3 025. With the pairs ordered by their larger index, the
//! p of a column q = (c, d) are the first (c+1)(c+2)/2 pairs, so the columns with c below a split
//! s take the products of the first s(s+1)/2 pairs only: two GEMMs, the split chosen to
//! minimise their multiply-adds (`split_cost`; at r = 10: 15 × 40 and 55 × 26, 2 030
//! multiply-adds per draw where one 55 × 65 product and the 10 × 10 form took 3 675). The
//! quadratic and linear terms uᵀ(G − M)u/4 + 18 v·Q/72 are linear in the z_p: one more column
//! of the second GEMM. [`pair_flops`] counts the work per draw.

use std::sync::Mutex;

use faer::{Mat, MatRef};
use pulp::{Simd, WithSimd};

use super::cumulants::{gemm, WhitenedCumulants};
use crate::simd::dispatch;

/// The precomputed contractions of κ₃ and κ₄, over the distinct index pairs a ≤ b.
pub struct EdgeworthWeight {
    r: usize,
    /// The pairs (a, b), a ≤ b, ordered by b, then a: the columns of the pair products.
    pairs: Vec<(usize, usize)>,
    /// s(s+1)/2 for the split s: the pairs whose larger index is below s.
    lead: usize,
    /// lead × (columns q = (c, d) with c < s): κ₄'s staircase coefficients / 24 (module docs).
    k4_lead: Mat<f64>,
    /// The pair of each column of `k4_lead`.
    lead_cols: Vec<usize>,
    /// P × (r + 1 + the columns q with c ≥ s): m_p κ₃\[a, p\] (column a), the linear term
    /// m_p ((G − M)/4)\[p\] + (18/72) Σ_a m_p κ₃\[a, p\] v_a, then κ₄'s staircase / 24.
    k34: Mat<f64>,
    /// The pair of each κ₄ column of `k34` (after its first r + 1).
    rest_cols: Vec<usize>,
    v: Vec<f64>,
    /// 1 + 3s/24 + (−9|v|² − 6‖κ₃‖²)/72: the even part's constant.
    constant: f64,
    scratch: Mutex<Scratch>,
}

/// Multiply-adds per draw of the two GEMMs of [`EdgeworthWeight::pair`] at rank r with the
/// split s: (s(s+1)/2) × n_s for the n_s = Σ_{c<s} (r − c) columns below the split, and
/// P × (r + 1 + P − n_s) for Q, the linear term and the other κ₄ columns.
fn split_cost(r: usize, s: usize) -> usize {
    let p = r * (r + 1) / 2;
    let below: usize = (0..s).map(|c| r - c).sum();
    s * (s + 1) / 2 * below + p * (r + 1 + p - below)
}

/// The split s ∈ 0…r with the fewest multiply-adds ([`split_cost`]), the smallest on a tie.
fn best_split(r: usize) -> usize {
    (0..=r).min_by_key(|&s| split_cost(r, s)).unwrap_or(0)
}

/// Flops of [`EdgeworthWeight::pair`] per draw (one draw gives w(u) and w(−u)), with
/// P = r(r+1)/2: the pair products (P), the two GEMMs (2 × `split_cost`, the staircase's
/// zeros inside each block included: they are multiplied), the three r-dot products A = u·Q,
/// v·u, |Q|² (6r), κ₄'s sum Σ_q z_q Y_q (2P) and 16 scalar operations.
pub fn pair_flops(r: usize) -> f64 {
    let p = (r * (r + 1) / 2) as f64;
    p + 2.0 * split_cost(r, best_split(r)) as f64 + 6.0 * r as f64 + 2.0 * p + 16.0
}

/// 4!/∏(repeats!) for a ≤ b ≤ c ≤ d: the ordered index tuples of one monomial u_a u_b u_c u_d.
fn multiplicity(idx: [usize; 4]) -> f64 {
    let mut denom = 1.0;
    let mut run = 1.0;
    for w in idx.windows(2) {
        if w[0] == w[1] {
            run += 1.0;
            denom *= run;
        } else {
            run = 1.0;
        }
    }
    24.0 / denom
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
        let split = best_split(r);
        let lead = split * (split + 1) / 2;
        // κ₄'s staircase: row p = (a, b), column q = (cc, d), nonzero where b ≤ cc.
        let staircase = |p: usize, q: usize| {
            let ((a, b), (cc, d)) = (pairs[p], pairs[q]);
            if b <= cc {
                multiplicity([a, b, cc, d]) * k4(a, b, cc, d) / 24.0
            } else {
                0.0
            }
        };
        let (lead_cols, rest_cols): (Vec<usize>, Vec<usize>) =
            (0..np).partition(|&q| pairs[q].0 < split);
        let k3m = |q: usize, a: usize| mult(pairs[q]) * k3(a, pairs[q].0, pairs[q].1);
        let linear = |q: usize| {
            let (a, b) = pairs[q];
            let h = 0.25 * (g[(a, b)] - m[(a, b)]);
            let vq: f64 = (0..r).map(|e| k3m(q, e) * v[e]).sum();
            mult(pairs[q]) * h + 18.0 / 72.0 * vq
        };
        EdgeworthWeight {
            r,
            lead,
            k4_lead: Mat::from_fn(lead, lead_cols.len(), |p, j| staircase(p, lead_cols[j])),
            k34: Mat::from_fn(np, r + 1 + rest_cols.len(), |p, col| match col {
                col if col < r => k3m(p, col),
                col if col == r => linear(p),
                col => staircase(p, rest_cols[col - r - 1]),
            }),
            lead_cols,
            rest_cols,
            constant: 1.0 + 3.0 * s / 24.0 + (-9.0 * v2 - 6.0 * k3_sq) / 72.0,
            pairs,
            v,
            scratch: Mutex::new(Scratch::new(0, r, 0, 0)),
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
            *w = Scratch::new(b, self.r, self.k4_lead.ncols(), self.k34.ncols());
        }
        let blocks = plus.chunks_mut(ROWS).zip(minus.chunks_mut(ROWS));
        for (k, (p, m)) in blocks.enumerate() {
            self.rows(w, z.subrows(k * ROWS, p.len()), p, m);
        }
    }

    /// [`EdgeworthWeight::pair`] on the rows of `z` (at most the scratch's), all at once: the
    /// pair products, then the two GEMMs of the module documentation (κ₄'s staircase below the
    /// split; Q, the linear term and the rest of the staircase), then the per-row dot products
    /// and the weights in one pass ([`Contract`]).
    fn rows(&self, w: &mut Scratch, z: MatRef<'_, f64>, plus: &mut [f64], minus: &mut [f64]) {
        let b = z.nrows();
        let Scratch { u, z2, ya, yb } = w;
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
            dispatch(Product(x, y, &mut z2.col_as_slice_mut(c)[..b]));
        }
        let z2b = z2.as_ref().subrows(0, b);
        let lead = z2b.subcols(0, self.lead);
        gemm(
            ya.as_mut().subrows_mut(0, b),
            lead,
            self.k4_lead.as_ref(),
            1.0,
        );
        gemm(yb.as_mut().subrows_mut(0, b), z2b, self.k34.as_ref(), 1.0);
        // Per row: A = u·Q, v·u, |Q|² and κ₄·u⁴/24 = Σ_q z_q Y_q, then w(±u).
        let u: Vec<&[f64]> = (0..self.r).map(|a| &u_col(a)[..b]).collect();
        let q: Vec<&[f64]> = (0..self.r).map(|a| &yb.col_as_slice(a)[..b]).collect();
        let lead_cols = self
            .lead_cols
            .iter()
            .enumerate()
            .map(|(j, &q)| (&z2.col_as_slice(q)[..b], &ya.col_as_slice(j)[..b]));
        let rest = self.rest_cols.iter().enumerate();
        let rest_cols = rest.map(|(j, &q)| {
            (
                &z2.col_as_slice(q)[..b],
                &yb.col_as_slice(self.r + 1 + j)[..b],
            )
        });
        let quartic: Vec<(&[f64], &[f64])> = lead_cols.chain(rest_cols).collect();
        dispatch(Contract {
            u: &u,
            q: &q,
            v: &self.v,
            quartic: &quartic,
            linear: &yb.col_as_slice(self.r)[..b],
            constant: self.constant,
            plus,
            minus,
        });
    }
}

/// The per-row contractions after the two GEMMs of [`EdgeworthWeight::pair`], fused into one
/// pass over the rows: A = Σ_a u_a Q_a, v·u = Σ_a v_a u_a, |Q|² = Σ_a Q_a² (a in order) and
/// κ₄·u⁴/24 = Σ_q z_q Y_q (the staircase's columns in order: below the split, then the rest),
/// each summed from 0 as `acc += x·y`, then w(±u) from them. [`CONTRACT_ROWS`] rows at a time
/// hold their sums in fixed-size arrays (registers once the compiler vectorises the lane loops)
/// while the columns are read, instead of one pass over a b-row sum per column; each row's
/// operations and their order are those of a column-by-column pass, so the numbers are the same
/// bit for bit. The rows after the last full block go one by one, by the same operations.
struct Contract<'a> {
    u: &'a [&'a [f64]],
    q: &'a [&'a [f64]],
    v: &'a [f64],
    quartic: &'a [(&'a [f64], &'a [f64])],
    linear: &'a [f64],
    constant: f64,
    plus: &'a mut [f64],
    minus: &'a mut [f64],
}

/// Rows per block of [`Contract`]: four 8-lane vectors per sum, so that the 10–55 additions
/// into each sum run as four independent chains.
const CONTRACT_ROWS: usize = 32;

impl Contract<'_> {
    /// w(u) and w(−u) of one row from its sums (module docs: κ₃·H₃ = A − 3v·u, the even part).
    #[inline(always)]
    fn weights(&self, [a, vu, q2, b4]: [f64; 4], lin: f64) -> (f64, f64) {
        let h3 = a - 3.0 * vu;
        let e = self.constant + b4 + lin + (a * a - 6.0 * vu * a - 9.0 * q2 + 9.0 * vu * vu) / 72.0;
        (e + h3 / 6.0, e - h3 / 6.0)
    }

    /// The four sums of rows `at..at + N`.
    #[inline(always)]
    fn sums<const N: usize>(&self, at: usize) -> [[f64; N]; 4] {
        let (mut a, mut vu, mut q2, mut b4) = ([0.0; N], [0.0; N], [0.0; N], [0.0; N]);
        let block = |x: &[f64]| -> [f64; N] { x[at..at + N].try_into().expect("a block of rows") };
        for ((u, q), &va) in self.u.iter().zip(self.q).zip(self.v) {
            let (u, q) = (block(u), block(q));
            for l in 0..N {
                a[l] += u[l] * q[l];
                vu[l] += va * u[l];
                q2[l] += q[l] * q[l];
            }
        }
        for &(z, y) in self.quartic {
            let (z, y) = (block(z), block(y));
            for l in 0..N {
                b4[l] += z[l] * y[l];
            }
        }
        [a, vu, q2, b4]
    }
}

impl WithSimd for Contract<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let b = self.plus.len();
        let full = b / CONTRACT_ROWS * CONTRACT_ROWS;
        for at in (0..full).step_by(CONTRACT_ROWS) {
            let [a, vu, q2, b4] = self.sums::<CONTRACT_ROWS>(at);
            for l in 0..CONTRACT_ROWS {
                let (p, m) = self.weights([a[l], vu[l], q2[l], b4[l]], self.linear[at + l]);
                self.plus[at + l] = p;
                self.minus[at + l] = m;
            }
        }
        for at in full..b {
            let [[a], [vu], [q2], [b4]] = self.sums::<1>(at);
            let (p, m) = self.weights([a, vu, q2, b4], self.linear[at]);
            self.plus[at] = p;
            self.minus[at] = m;
        }
    }
}

/// Rows per block of [`EdgeworthWeight::pair`]: the b × P pair products and the two GEMMs'
/// outputs (P = 55 at r = 10: 225 + 164 + 106 KB at 512 rows) stay in the 1 MB L2 cache
/// between the GEMMs that write them and the passes that read them (a whole 4096-row chunk of
/// draws: 1.8 + 2.1 MB).
const ROWS: usize = 512;

/// out = x·y over a batch's rows, as a plain loop inside `with_simd` so that the compiler
/// vectorises it for the instruction set pulp dispatches to.
struct Product<'a>(&'a [f64], &'a [f64], &'a mut [f64]);

impl WithSimd for Product<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Product(x, y, out) = self;
        for ((o, a), b) in out.iter_mut().zip(x).zip(y) {
            *o = a * b;
        }
    }
}

/// Work matrices of [`EdgeworthWeight::pair`], kept between batches: the draws u (b × r), their
/// pair products (b × P) and the two GEMMs' outputs.
struct Scratch {
    u: Mat<f64>,
    z2: Mat<f64>,
    ya: Mat<f64>,
    yb: Mat<f64>,
}

impl Scratch {
    fn new(b: usize, r: usize, lead_cols: usize, k34_cols: usize) -> Self {
        Scratch {
            u: Mat::zeros(b, r),
            z2: Mat::zeros(b, r * (r + 1) / 2),
            ya: Mat::zeros(b, lead_cols),
            yb: Mat::zeros(b, k34_cols),
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
    /// points, for whitened cumulants of skewed samples (symmetric tensors by construction), at
    /// ranks 1 (one GEMM: no split) to 7 (split s = 3: κ₄'s staircase in both GEMMs), on rows
    /// of a full block of the fused contractions and on rows after it.
    #[test]
    fn contractions_match_the_hermite_definition() {
        for r in [1, 2, 3, 5, 7] {
            contractions_match_at_rank(r);
        }
    }

    fn contractions_match_at_rank(r: usize) {
        let mut rng = StdRng::seed_from_u64(2 + r as u64);
        let y = skewed(r, 2000, &mut rng);
        let c = WhitenedCumulants::of_samples(y.as_ref()).unwrap();
        assert_eq!(c.rank(), r);
        let w = EdgeworthWeight::new(&c);
        assert_eq!(w.lead_cols.is_empty(), r == 1, "rank {r}: the split");
        let k3 = |a: usize, b: usize, d: usize| c.k3[(a, b + r * d)];
        let k4 = |a: usize, b: usize, d: usize, e: usize| c.k4[(a + r * b, d + r * e)];
        // A block of `CONTRACT_ROWS` rows and rows after it, one by one.
        let b = CONTRACT_ROWS + 5;
        let z = Mat::from_fn(b, r, |_, _| 2.0 * rng.random::<f64>() - 1.0);
        let (mut plus, mut minus) = (vec![0.0; b], vec![0.0; b]);
        w.pair(z.as_ref(), &mut plus, &mut minus);
        let tuples = |k: u32| {
            (0..r.pow(k)).map(move |t| (0..k).map(|p| t / r.pow(p) % r).collect::<Vec<_>>())
        };
        for j in 0..b {
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
                "rank {r}: {} vs {want}",
                plus[j]
            );
            assert!((minus[j] - want_minus).abs() < 1e-12 * scale);
        }
    }

    /// The multiplicity of a monomial is the number of distinct orderings of its indices,
    /// counted here by listing all 4! permutations.
    #[test]
    fn multiplicity_counts_the_orderings() {
        let perms = |i: [usize; 4]| {
            let mut seen: Vec<[usize; 4]> = Vec::new();
            for t in 0..256 {
                let pos = [t % 4, t / 4 % 4, t / 16 % 4, t / 64];
                let distinct = (0..4).all(|x| (0..x).all(|y| pos[x] != pos[y]));
                let ordered = pos.map(|k| i[k]);
                if distinct && !seen.contains(&ordered) {
                    seen.push(ordered);
                }
            }
            seen.len() as f64
        };
        for i in [
            [0, 1, 2, 3],
            [0, 0, 1, 2],
            [0, 0, 1, 1],
            [0, 0, 0, 1],
            [2, 2, 2, 2],
            [0, 1, 1, 1],
        ] {
            assert_eq!(multiplicity(i), perms(i), "{i:?}");
        }
    }
}
