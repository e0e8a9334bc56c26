//! Hermite coefficients of wide units (s > 1) by a Gauss–Hermite rule in Fourier space, whose
//! cost does not grow with s (issue #14, item 3; used by [`super::hermite_coef`]).
//!
//! With φ(x) = (1/2π)∫ φ̂(k) e^{ikx} dk and E\[e^{iksz} Heₙ(z)\] = (iks)ⁿ e^{−k²s²/2} (the
//! generating function of Heₙ), the normalised coefficient of h = μ + s z is
//!
//!   cₙ = E\[φ(μ + s z) hₙ(z)\] = (1/(√(2π) s)) · E_u\[φ̂(u/s) e^{iau} iⁿ uⁿ/√n!\],
//!
//! u = ks ~ N(0, 1), a = μ/s. In z, φ(μ + s z) varies on the scale 1/s and its Hermite series
//! needs ever more nodes and terms as s grows; in u the smooth factor φ̂(u/s) varies on the
//! scale s (it is analytic in the strip |Im u| < 2s for tanh, s·π for the others), so one
//! 256-point Gauss–Hermite rule serves every s > 1. Constant and linear parts of φ (δ and δ′
//! at k = 0) only reach c₀ and c₁, which the caller takes from a 1-D rule in z; for n ≥ 2 the
//! regular parts below suffice (Fourier transforms: sech² ↦ πk/sinh(πk/2), e^{−x²} ↦
//! √π e^{−k²/4}, x·f ↦ i f̂′; Erdélyi et al., Tables of Integral Transforms I, 1954, §1.9,
//! §2.9):
//! - tanh: φ̂ = −iπ/sinh(πk/2); sigmoid ½ + ½ tanh(x/2): −iπ/sinh(πk); erf: −2i e^{−k²/4}/k;
//! - softplus (φ′ = sigmoid): −π/(k sinh πk); SiLU x·σ(x): −π² cosh(πk)/sinh²(πk);
//!   GELU x·Φ(x): −e^{−k²/2}(1 + 1/k²).
//!
//! The rule's nodes are symmetric and φ̂(−k) is the conjugate of φ̂(k), so with G = φ̂ e^{iau}
//! over the positive nodes only: cₙ = (2/(√(2π) s)) Σ_{u>0} w pₙ(u) · {(−1)^{n/2} Re G, n
//! even; (−1)^{(n+1)/2} Im G, n odd}, pₙ = uⁿ/√n! by pₙ = pₙ₋₁·u/√n. Only G depends on the
//! unit: the coefficients of many units are one matrix product ([`fill`]).

use std::f64::consts::PI;
use std::ops::Range;
use std::sync::OnceLock;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use super::gauss_hermite;
use super::input::Isa;
use crate::net::Activation;
use crate::simd::{clear_upper, exp, load, sin_cos, sinh_cosh, store};

/// Whether φ has a Fourier transform here (the six transcendental smooth activations).
pub(crate) fn supports(act: Activation) -> bool {
    matches!(
        act,
        Activation::Tanh
            | Activation::Sigmoid
            | Activation::Erf
            | Activation::Softplus
            | Activation::Silu
            | Activation::Gelu
    )
}

/// e^{−c·k²} lane by lane. A function, not a closure inside [`transform`]: as a closure called
/// from two arms it was not inlined, and GELU's transform took 10× the others' (5.3 against
/// 0.5 ms for 1024 units).
#[inline(always)]
fn gauss<S: Simd>(simd: S, c: f64, k: S::f64s) -> S::f64s {
    exp(
        simd,
        simd.mul_f64s(simd.splat_f64s(-c), simd.mul_f64s(k, k)),
    )
}

/// Re and Im of φ̂(k) (regular part, see the module docs) for k > 0, lane by lane
/// (sinh and cosh by [`sinh_cosh`]); (0, 0) for φ without a transform.
#[inline(always)]
fn transform<S: Simd>(simd: S, act: Activation, k: S::f64s) -> (S::f64s, S::f64s) {
    let zero = simd.splat_f64s(0.0);
    let pi = simd.splat_f64s(PI);
    let sinh = |x: S::f64s| sinh_cosh(simd, x).0;
    let over = |num: f64, den: S::f64s| simd.div_f64s(simd.splat_f64s(num), den);
    match act {
        Activation::Tanh => (
            zero,
            over(-PI, sinh(simd.mul_f64s(k, simd.splat_f64s(0.5 * PI)))),
        ),
        Activation::Sigmoid => (zero, over(-PI, sinh(simd.mul_f64s(k, pi)))),
        Activation::Erf => (
            zero,
            simd.div_f64s(
                simd.mul_f64s(gauss(simd, 0.25, k), simd.splat_f64s(-2.0)),
                k,
            ),
        ),
        Activation::Softplus => (
            over(-PI, simd.mul_f64s(k, sinh(simd.mul_f64s(k, pi)))),
            zero,
        ),
        Activation::Silu => {
            let (sh, ch) = sinh_cosh(simd, simd.mul_f64s(k, pi));
            let den = simd.mul_f64s(sh, sh);
            (
                simd.div_f64s(simd.mul_f64s(ch, simd.splat_f64s(-PI * PI)), den),
                zero,
            )
        }
        Activation::Gelu => {
            let inv2 = simd.div_f64s(simd.splat_f64s(1.0), simd.mul_f64s(k, k));
            let f = simd.add_f64s(simd.splat_f64s(1.0), inv2);
            (simd.mul_f64s(simd.neg_f64s(gauss(simd, 0.5, k)), f), zero)
        }
        _ => (zero, zero),
    }
}

/// Fills `c[j]` with c_f, c_{f+1}, … (`c[j][k]` = c_{k+f}, every slice of one length, f =
/// `from` = 0 or 2) of the units h = μⱼ + sⱼ z by the Fourier rule (module docs), for all units
/// at once: with the M = 128 positive nodes uₘ and weights wₘ of the 256-point rule, cₙ(j) =
/// (2/(√(2π)sⱼ))·Σₘ Pₙₘ Gₘⱼ, where Pₙₘ = ±wₘpₙ(uₘ) (the sign of the module docs) does not depend
/// on the unit and Gₘⱼ = Re or Im of φ̂(uₘ/sⱼ)e^{iaⱼuₘ} (even or odd n) does: per task of
/// [`UNIT_CHUNK`] units (one parallel pass, sequential GEMMs inside: the GEMMs had run with
/// `Par::rayon` between parallel passes for G and the scatter, at two threads no faster than at
/// one, clo22), G of its units on SIMD lanes over the nodes, then per parity and per band of
/// [`BAND`] rows of P one GEMM over the band's nodes only ([`NodeWeights::bands`]: |Pₙₘ| peaks
/// at uₘ ≈ √n and falls like e^{−(uₘ − √n)²}, so each row's weight lies in a window of nodes;
/// at K = 190, a wide layer's table, the bands hold 49 % of P's entries and G is needed at 96
/// of the 128 nodes, issue #14 item 3). The nodes left out change cₙ by at most (2/(√(2π)s))·[`DROPPED`]·Σₘ|Pₙₘ|·maxₘ|Gₘⱼ|.
/// For s > 1 and |μ|/s ≤ 3 (where `hermite_coef` takes it): checked against the composite
/// rule in z to 10⁻¹³ of |m| + √Var up to n = 256 (`fourier_rule_matches_the_composite_rule`).
/// c₀ and c₁ (f = 0) are right only for φ without a linear part ([`squared_moments`]: c₀ is
/// then the mean less φ's constant part).
pub(crate) fn fill(act: Activation, mu: &[f64], s: &[f64], from: usize, c: &mut [&mut [f64]]) {
    let count = c.first().map_or(0, |c| c.len());
    if count == 0 {
        return;
    }
    let (z, _) = gauss_hermite::rule(true);
    let u = &z[z.len() / 2..];
    // Rows of P: n = f, f + 2, … (even) and n = f + 1, f + 3, … (odd), of tables from n = 0.
    let (first, ne, no) = (from / 2, count.div_ceil(2), count / 2);
    static CACHED: OnceLock<NodeWeights> = OnceLock::new();
    let built;
    let weights = if from + count <= CACHED_ORDERS {
        CACHED.get_or_init(|| NodeWeights::new(CACHED_ORDERS))
    } else {
        built = NodeWeights::new(from + count);
        &built
    };
    let (even_rows, odd_rows) = (first..first + ne, first..first + no);
    // G at the nodes some band of the rows reads: uₘ, m < `used`.
    let used = weights
        .nodes(&weights.even_bands, even_rows.clone())
        .max(weights.nodes(&weights.odd_bands, odd_rows.clone()));
    let u = &u[..used];
    // One task per [`UNIT_CHUNK`] units: G of its units, the banded products (sequential
    // GEMMs) and the scatter into their vectors, then the GEMM's AVX upper state cleared for
    // the scalar code that follows on the worker (`simd::clear_upper`).
    c.par_chunks_mut(UNIT_CHUNK)
        .enumerate()
        .for_each(|(t, cs)| {
            let j0 = t * UNIT_CHUNK;
            let units = cs.len();
            let (mu, s) = (&mu[j0..j0 + units], &s[j0..j0 + units]);
            let (mut g_even, mut g_odd) = (vec![0.0; used * units], vec![0.0; used * units]);
            if used > 0 {
                for (j, (even, odd)) in g_even
                    .chunks_mut(used)
                    .zip(g_odd.chunks_mut(used))
                    .enumerate()
                {
                    g_column(act, mu[j], s[j], u, even, odd);
                }
            }
            let product = |odd: bool, g: &[f64]| {
                let (p, bands, rows) = if odd {
                    (weights.p_odd.as_ref(), &weights.odd_bands, odd_rows.clone())
                } else {
                    (
                        weights.p_even.as_ref(),
                        &weights.even_bands,
                        even_rows.clone(),
                    )
                };
                band_product(
                    p,
                    bands,
                    rows,
                    MatRef::from_column_major_slice(g, used, units),
                )
            };
            let (even, odd) = (product(false, &g_even), product(true, &g_odd));
            for (j, cj) in cs.iter_mut().enumerate() {
                let scale = 2.0 / ((2.0 * PI).sqrt() * s[j]);
                let (even, odd) = (even.col_as_slice(j), odd.col_as_slice(j));
                for (k, ck) in cj.iter_mut().enumerate() {
                    let part = if k % 2 == 0 { even } else { odd };
                    *ck = scale * part[k / 2];
                }
            }
            clear_upper();
        });
}

/// Units per task of [`fill`]: 16 tasks for a layer of 1024 units. Fixed, so that the products'
/// shapes and with them the coefficients' bits do not depend on the thread count.
const UNIT_CHUNK: usize = 64;

/// Rows `rows` of P·G over each band's nodes (sequential GEMMs).
fn band_product(
    p: MatRef<f64>,
    bands: &[(usize, usize)],
    rows: Range<usize>,
    g: MatRef<f64>,
) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(rows.len(), g.ncols());
    for (b, &(lo, hi)) in bands.iter().enumerate() {
        let (r0, r1) = ((b * BAND).max(rows.start), ((b + 1) * BAND).min(rows.end));
        if r0 >= r1 || lo >= hi {
            continue;
        }
        matmul(
            out.as_mut().subrows_mut(r0 - rows.start, r1 - r0),
            Accum::Replace,
            p.submatrix(r0, lo, r1 - r0, hi - lo),
            g.subrows(lo, hi - lo),
            1.0,
            Par::Seq,
        );
    }
    out
}

/// Orders c₀..c_{CACHED_ORDERS − 1} whose node weights P ([`NodeWeights`]) are built once per
/// process and shared by every later [`fill`] (rows of a shorter K are the leading rows of the
/// same table): building them took 0.2–0.4 ms, serial, twice per series closure at K = 256.
/// The adaptive series of `hermite` takes at most K = 256 on wide units.
const CACHED_ORDERS: usize = 257;

/// Rows of P per band of [`fill`]'s products: one node window per 16 rows (32 orders) keeps
/// 49 % of P's entries at K = 190; narrower bands keep a little less in smaller products.
const BAND: usize = 16;

/// The share of Σₘ|Pₙₘ| a row's node window may leave out ([`NodeWeights::bands`]), half on
/// each side: 10⁻¹⁷, a tenth of ε·Σₘ|Pₙₘ|, the scale of the sum's own rounding, so that the
/// dropped part is below it (`banded_fill_matches_the_whole_sum`: within 1 % of the bound
/// with both) and the rule keeps its 10⁻¹³ of |m| + √Var
/// (`fourier_rule_matches_the_composite_rule`).
const DROPPED: f64 = 1e-17;

/// P of [`fill`] in two halves and each half's node windows per band of [`BAND`] rows.
struct NodeWeights {
    /// Rows n = 0, 2, … (even) and n = 1, 3, … (odd), columns the M = 128 positive nodes uₘ of
    /// the 256-point rule, entries ±wₘ·pₙ(uₘ), pₙ = uⁿ/√n! by p₀ = 1, pₙ = pₙ₋₁·u/√n (the sign
    /// of the module docs).
    p_even: Mat<f64>,
    p_odd: Mat<f64>,
    /// [`Self::bands`] of `p_even` and `p_odd`.
    even_bands: Vec<(usize, usize)>,
    odd_bands: Vec<(usize, usize)>,
}

impl NodeWeights {
    /// P for c₀..c_{orders−1} and its bands.
    fn new(orders: usize) -> Self {
        let (p_even, p_odd) = node_weights(orders);
        let (even_bands, odd_bands) = (Self::bands(p_even.as_ref()), Self::bands(p_odd.as_ref()));
        NodeWeights {
            p_even,
            p_odd,
            even_bands,
            odd_bands,
        }
    }

    /// Per band of [`BAND`] rows of `p`, the nodes lo..hi that [`fill`] sums over: for every row
    /// of the band, Σ_{m<lo}|Pₙₘ| and Σ_{m≥hi}|Pₙₘ| are each at most ½·[`DROPPED`]·Σₘ|Pₙₘ| (each
    /// row's own window, the band's the union of its rows'). The sum over the window differs
    /// from the whole sum by at most [`DROPPED`]·Σₘ|Pₙₘ|·max|Gₘⱼ|.
    fn bands(p: MatRef<f64>) -> Vec<(usize, usize)> {
        let m = p.ncols();
        (0..p.nrows().div_ceil(BAND))
            .map(|b| {
                let rows = b * BAND..((b + 1) * BAND).min(p.nrows());
                rows.map(|r| {
                    let row: Vec<f64> = (0..m).map(|k| p[(r, k)].abs()).collect();
                    let cut = 0.5 * DROPPED * row.iter().sum::<f64>();
                    let (mut lo, mut low) = (0, 0.0);
                    while lo < m && low + row[lo] <= cut {
                        low += row[lo];
                        lo += 1;
                    }
                    let (mut hi, mut high) = (m, 0.0);
                    while hi > lo && high + row[hi - 1] <= cut {
                        high += row[hi - 1];
                        hi -= 1;
                    }
                    (lo, hi)
                })
                .fold((m, 0), |(a, b), (lo, hi)| (a.min(lo), b.max(hi)))
            })
            .collect()
    }

    /// The nodes the bands of `rows` read: 0..the largest window end (0 for no rows).
    fn nodes(&self, bands: &[(usize, usize)], rows: Range<usize>) -> usize {
        bands
            .iter()
            .enumerate()
            .filter(|(b, _)| b * BAND < rows.end && (b + 1) * BAND > rows.start)
            .map(|(_, &(_, hi))| hi)
            .max()
            .unwrap_or(0)
    }
}

/// The two halves of P in [`fill`] for c₀..c_{orders−1}: rows n = 0, 2, … (even) and
/// n = 1, 3, … (odd), columns the M = 128 positive nodes uₘ of the 256-point rule, entries
/// ±wₘ·pₙ(uₘ), pₙ = uⁿ/√n! by p₀ = 1, pₙ = pₙ₋₁·u/√n (the sign of the module docs).
fn node_weights(orders: usize) -> (Mat<f64>, Mat<f64>) {
    let (z, w) = gauss_hermite::rule(true);
    let half = z.len() / 2;
    let (u, w) = (&z[half..], &w[half..]);
    let m = u.len();
    let mut p_even = Mat::<f64>::zeros(orders.div_ceil(2), m);
    let mut p_odd = Mat::<f64>::zeros(orders / 2, m);
    for (col, (&um, &wm)) in u.iter().zip(w).enumerate() {
        let mut p = 1.0;
        for n in 0..orders {
            if n > 0 {
                p *= um / (n as f64).sqrt();
            }
            // (−1)^{n/2} for even n, (−1)^{(n+1)/2} for odd n: + for n ≡ 0, 3 (mod 4).
            let sign = if n % 4 == 0 || n % 4 == 3 { 1.0 } else { -1.0 };
            if n % 2 == 0 {
                p_even[(n / 2, col)] = sign * wm * p;
            } else {
                p_odd[(n / 2, col)] = sign * wm * p;
            }
        }
    }
    (p_even, p_odd)
}

/// (c₀, c₁, s) ↦ (mean, variance) of [`squared_moments`].
pub(crate) type FromFirstTwo = fn(f64, f64, f64) -> (f64, f64);

/// Mean and variance of φ(μ + s z) from the rule's c₀ and c₁ (`fill` from n = 0), for φ whose
/// square is affine in φ and φ′, so that no second rule is needed (issue #14, item 3):
/// tanh² = 1 − tanh′ and σ² = σ − σ′, with E\[φ′(h)\] = c₁/s (Stein: E\[φ(μ + s z) z\] =
/// s·E\[φ′(μ + s z)\]), give Var tanh(h) = (1 − m)(1 + m) − c₁/s with m = c₀, and
/// Var σ(h) = (½ − c₀)(½ + c₀) − c₁/s with m = ½ + c₀ (½: σ's constant part, the δ at k = 0
/// that the regular transform leaves out). `None` for the other φ; the variance is floored at 0.
pub(crate) fn squared_moments(act: Activation) -> Option<FromFirstTwo> {
    match act {
        Activation::Tanh => Some(|c0, c1, s| (c0, ((1.0 - c0) * (1.0 + c0) - c1 / s).max(0.0))),
        Activation::Sigmoid => {
            Some(|c0, c1, s| (0.5 + c0, ((0.5 - c0) * (0.5 + c0) - c1 / s).max(0.0)))
        }
        _ => None,
    }
}

/// Column j of G ([`fill`]) at the nodes `u`: [`FourierLanes`] of the unit μ + s z.
fn g_column(act: Activation, mu: f64, s: f64, u: &[f64], even: &mut [f64], odd: &mut [f64]) {
    Isa::Dispatch.run(
        pulp::Arch::new(),
        FourierLanes {
            act,
            inv_s: 1.0 / s,
            a: mu / s,
            u,
            even,
            odd,
        },
    )
}

/// Column j of G (see [`fill`]): `even`ₘ = Re and `odd`ₘ = Im of φ̂(uₘ/s)e^{iauₘ}, the nodes
/// in SIMD lanes (sin and cos by [`sin_cos`]).
struct FourierLanes<'a> {
    act: Activation,
    inv_s: f64,
    a: f64,
    u: &'a [f64],
    even: &'a mut [f64],
    odd: &'a mut [f64],
}

impl WithSimd for FourierLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let lanes = S::F64_LANES;
        let (inv_s, a) = (simd.splat_f64s(self.inv_s), simd.splat_f64s(self.a));
        for ((u, even), odd) in self
            .u
            .chunks(lanes)
            .zip(self.even.chunks_mut(lanes))
            .zip(self.odd.chunks_mut(lanes))
        {
            let u = load(simd, u);
            let (re, im) = transform(simd, self.act, simd.mul_f64s(u, inv_s));
            let (sin, cos) = sin_cos(simd, simd.mul_f64s(a, u));
            // (re + i·im)(cos + i·sin)
            store(
                simd,
                even,
                simd.negate_mul_add_f64s(im, sin, simd.mul_f64s(re, cos)),
            );
            store(
                simd,
                odd,
                simd.mul_add_f64s(im, cos, simd.mul_f64s(re, sin)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of P leaves at most [`DROPPED`] of Σₘ|Pₙₘ| outside its band's nodes, and the
    /// bands are narrow: at K = 190 (a wide layer's table, ×1024 of `closure_ratio … strong`)
    /// they hold at most half of P's entries and G is read at fewer than 100 of the 128 nodes.
    /// Fails with one band of every node (`bands` returning (0, 128)).
    #[test]
    fn bands_drop_little_and_skip_half_of_p() {
        let w = NodeWeights::new(CACHED_ORDERS);
        for (p, bands) in [(&w.p_even, &w.even_bands), (&w.p_odd, &w.odd_bands)] {
            for r in 0..p.nrows() {
                let (lo, hi) = bands[r / BAND];
                let all: f64 = (0..p.ncols()).map(|m| p[(r, m)].abs()).sum();
                let out: f64 = (0..lo).chain(hi..p.ncols()).map(|m| p[(r, m)].abs()).sum();
                assert!(out <= DROPPED * all, "row {r}: {out:e} of {all:e}");
            }
        }
        let k: usize = 190;
        let (ne, no) = (k.div_ceil(2), k / 2);
        let held: usize = [(&w.even_bands, ne), (&w.odd_bands, no)]
            .iter()
            .flat_map(|&(bands, rows)| {
                bands.iter().enumerate().map(move |(b, &(lo, hi))| {
                    let r = (b * BAND).min(rows)..((b + 1) * BAND).min(rows);
                    r.len() * (hi - lo)
                })
            })
            .sum();
        let share = held as f64 / (k * 128) as f64;
        let nodes = w
            .nodes(&w.even_bands, 0..ne)
            .max(w.nodes(&w.odd_bands, 0..no));
        assert!(share <= 0.5 && nodes < 100, "share {share}, {nodes} nodes");
    }

    /// [`fill`] (the bands' products) against the whole sum over the 128 nodes, term by term in
    /// order, for the six activations with a transform, from c₀ and from c₂, K = 190 and 256
    /// (past the cached table), s from 1.05 to 10⁴ and |μ|/s ≤ 3: within the dropped part's
    /// bound [`DROPPED`]·Σₘ|Pₙₘ|·max|Gₘⱼ| plus the two sums' rounding, 2·128ε·Σₘ|PₙₘGₘⱼ|, both
    /// times 2/(√(2π)s).
    #[test]
    fn banded_fill_matches_the_whole_sum() {
        let (z, _) = gauss_hermite::rule(true);
        let u = &z[z.len() / 2..];
        let acts = [
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Erf,
            Activation::Softplus,
            Activation::Silu,
            Activation::Gelu,
        ];
        // 150 units: two whole tasks of `UNIT_CHUNK` and a partial one.
        let units: Vec<(f64, f64)> = [1.05, 3.0, 40.0, 1024.0, 1e4]
            .iter()
            .flat_map(|&s| (0..30).map(move |k| (s * (-3.0 + 0.2 * k as f64), s)))
            .collect();
        assert!(units.len() > 2 * UNIT_CHUNK && !units.len().is_multiple_of(UNIT_CHUNK));
        let (mu, s): (Vec<f64>, Vec<f64>) = units.iter().copied().unzip();
        let mut worst: f64 = 0.0;
        for act in acts {
            for (from, count) in [(0, 191), (2, 189), (2, 255)] {
                let mut c = vec![vec![0.0; count]; units.len()];
                let mut rows: Vec<&mut [f64]> = c.iter_mut().map(Vec::as_mut_slice).collect();
                fill(act, &mu, &s, from, &mut rows);
                let (p_even, p_odd) = node_weights(from + count);
                for (j, cj) in c.iter().enumerate() {
                    let (mut even, mut odd) = (vec![0.0; u.len()], vec![0.0; u.len()]);
                    g_column(act, mu[j], s[j], u, &mut even, &mut odd);
                    let scale = 2.0 / ((2.0 * PI).sqrt() * s[j]);
                    for (k, &got) in cj.iter().enumerate() {
                        let n = from + k;
                        let (p, g) = if n % 2 == 0 {
                            (&p_even, &even)
                        } else {
                            (&p_odd, &odd)
                        };
                        let row = |m: usize| p[(n / 2, m)];
                        let want = scale * (0..u.len()).map(|m| row(m) * g[m]).sum::<f64>();
                        let size: f64 = (0..u.len()).map(|m| (row(m) * g[m]).abs()).sum();
                        let mass: f64 = (0..u.len()).map(|m| row(m).abs()).sum();
                        let top = g.iter().fold(0.0, |a: f64, b| a.max(b.abs()));
                        let bound =
                            scale * (DROPPED * mass * top + 2.0 * 128.0 * f64::EPSILON * size);
                        let err = (got - want).abs();
                        assert!(
                            err <= bound,
                            "{act} μ {} s {} c{n}: {got:e} vs {want:e} (bound {bound:e})",
                            mu[j],
                            s[j]
                        );
                        worst = worst.max(err / bound);
                    }
                }
            }
        }
        println!("banded vs whole sum: worst {worst:.3} of the bound");
    }

    /// After [`fill`] every worker of the pool that ran its GEMMs has the AVX upper state
    /// cleared (`simd::upper_in_use`), so that the scalar libm calls that follow on it do not
    /// pay the transition (28× on this project's Intel Xeon). Fails without the task's
    /// `clear_upper` (faer's micro-kernels return with the state in use). Skipped where the CPU
    /// cannot report the state.
    #[test]
    fn fill_leaves_the_workers_upper_state_clear() {
        use crate::simd::upper_in_use;
        if upper_in_use().is_none() {
            println!("XINUSE not readable on this CPU: skipped");
            return;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let units = 8 * UNIT_CHUNK;
        let s: Vec<f64> = (0..units).map(|j| 2.0 + j as f64 / 16.0).collect();
        let mu: Vec<f64> = s.iter().map(|&sd| 0.5 * sd).collect();
        let mut c = vec![vec![0.0; 189]; units];
        let mut rows: Vec<&mut [f64]> = c.iter_mut().map(Vec::as_mut_slice).collect();
        pool.install(|| fill(Activation::Tanh, &mu, &s, 2, &mut rows));
        let states = pool.broadcast(|_| upper_in_use());
        assert!(
            states.iter().all(|&st| st == Some(false)),
            "upper state per worker after fill: {states:?}"
        );
    }
}
