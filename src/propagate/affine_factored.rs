//! The covariance update by structure (issue #14, item 5): WΣWᵀ without the dense bound.
//!
//! **Constant coordinates.** A coordinate i with Σ_ii ≤ τ = N·ε·max diag Σ (MNIST's constant
//! pixels) is dropped when its row obeys the positive semi-definite bound
//! |Σ_ij| ≤ √(Σ_ii Σ_jj) ≤ √(τ·max diag Σ): with A the r_a kept coordinates,
//! W Σ Wᵀ = W_A Σ_AA W_Aᵀ up to terms of the size of τ (exactly, when Σ_ii = 0). The dense update
//! of the compressed problem costs 2M r_a² + M² r_a instead of 2MN² + M²N (M = N_out, N = N_in).
//!
//! **Factor.** Σ_AA = L Lᵀ by the plain blocked Cholesky factorisation (faer's `llt`, P = I),
//! or, when it meets a non-positive pivot, by the pivoted one (faer's blocked `llt_pivoting`,
//! LAPACK `dpstrf`'s algorithm: Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd
//! ed., §10.3), stopped at the numerical rank r:
//!
//! ```text
//! P Σ_AA Pᵀ = L Lᵀ + R,   L: r_a × r lower trapezoidal,   R ⪰ 0 with max diag R < r_a·ε·max diag
//! W Σ Wᵀ ≈ G Gᵀ,   G = W_A Pᵀ L   (one triangular and one rectangular product; lower triangle
//!                                   of G Gᵀ only, then mirrored)
//! ```
//!
//! costing r_a³/3 for the factorisation (weighted by its measured cost per flop relative to
//! GEMM), 2M r_a r − M r² for G and M² r for G Gᵀ. A factor is accepted only if one probe of
//! the residual is at rounding level: ‖Σz − Pᵀ L Lᵀ P z‖ ≤ 4N²ε·max diag·‖z‖ for a fixed z (for
//! a positive semi-definite Σ the truncated R and the rounding of L Lᵀ are both below
//! N²ε·max diag in norm). An indefinite Σ (a negative eigenvalue above rounding) fails the
//! factorisation or this probe.
//!
//! [`structured_update`] compares the flop counts of the three updates before computing
//! anything but the diagonal test, and returns `None` where the dense update of the whole Σ is
//! predicted cheapest, or no structure is found: the caller then runs it.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt::factor as plain;
use faer::linalg::cholesky::llt_pivoting::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::ReborrowMut;
use faer::{Accum, Col, Mat, MatMut, MatRef, Par};

use crate::linalg::mirror_lower;
use crate::stats::Runs;

/// The cost of the factorisation per flop relative to GEMM, set where the model's break-even
/// matches the measurement: on full-rank Σ the factored update ran at 0.95–1.16× the dense one
/// at N = 1024 (weight 3 predicts 1.0×) and 0.97–1.09× for 784 → 1000 (3.8 predicts 1.0×) on
/// the loaded AMD EPYC with 2 threads (`affine_ratio`, BENCHMARKS.md "Performance II"); the
/// pivoted fallback is slower again, but runs only where the plain factorisation failed.
const FACTOR_FLOP_WEIGHT: f64 = 3.0;

/// Below this many dense flops per class (2MN² + M²N; N = M = 256 gives 5·10⁷) the structured
/// updates are not tried under [`Choice::Cheapest`]: their per-class work (diagonal scan,
/// copies, one GEMM per class instead of the stacked one) outweighed the saved flops at
/// N = 64 and 128 (criterion `affine_structured`: 0.75× the dense update of the same inputs).
const MIN_STRUCTURED_FLOPS: f64 = (1u64 << 25) as f64;

/// Reusable buffers of [`structured_update`]; they grow to the largest layer seen.
#[derive(Debug)]
pub struct FactorWorkspace {
    /// The kept (non-constant) coordinates A, Σ_AA and W_A.
    active: Vec<usize>,
    sigma_a: Mat<f64>,
    w_a: Mat<f64>,
    factor: CholeskyWorkspace,
}

impl FactorWorkspace {
    /// Empty buffers; they are sized on first use.
    pub fn new() -> Self {
        FactorWorkspace {
            active: Vec::new(),
            sigma_a: Mat::new(),
            w_a: Mat::new(),
            factor: CholeskyWorkspace::default(),
        }
    }
}

impl Default for FactorWorkspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for FactorWorkspace {
    /// A fresh, empty workspace: buffers are scratch, never state.
    fn clone(&self) -> Self {
        Self::new()
    }
}

/// Buffers of the factored update.
struct CholeskyWorkspace {
    /// Σ copied, then overwritten by L in its lower trapezoid.
    l: Mat<f64>,
    perm: Vec<usize>,
    perm_inv: Vec<usize>,
    /// faer's scratch for the factorisation, and the dimension it was sized for.
    stack: MemBuffer,
    stack_dim: usize,
    /// W with permuted columns.
    w_perm: Mat<f64>,
    /// G = W_P L (N_out × r) — or W Σ in the compressed dense update — and a transposed copy.
    g: Mat<f64>,
    g_t: Mat<f64>,
    /// Probe z, Σz, Lᵀ P z and L Lᵀ P z of the residual check.
    probe: Col<f64>,
    sigma_z: Col<f64>,
    lt_z: Col<f64>,
    llt_z: Col<f64>,
}

impl Default for CholeskyWorkspace {
    fn default() -> Self {
        CholeskyWorkspace {
            l: Mat::new(),
            perm: Vec::new(),
            perm_inv: Vec::new(),
            stack: MemBuffer::new(StackReq::EMPTY),
            stack_dim: 0,
            w_perm: Mat::new(),
            g: Mat::new(),
            g_t: Mat::new(),
            probe: Col::zeros(0),
            sigma_z: Col::zeros(0),
            lt_z: Col::zeros(0),
            llt_z: Col::zeros(0),
        }
    }
}

impl std::fmt::Debug for CholeskyWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CholeskyWorkspace {{ dim: {} }}", self.l.nrows())
    }
}

/// What [`structured_update`] did for one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structure {
    /// The dense update of the `active` non-constant coordinates.
    Compressed { active: usize },
    /// (WU)(WU)ᵀ through a Cholesky factor of rank `rank` of the `active` coordinates.
    Factored { active: usize, rank: usize },
}

/// How [`structured_update`] chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// By the weighted flop counts.
    Cheapest,
    /// A factor wherever one exists (for measuring the factored path).
    Factor,
}

/// Writes W Σ Wᵀ into `out` (N_out × N_out, full symmetric) through Σ's structure and says
/// which, or returns `None` — `out` untouched — where the dense update of the whole Σ is the
/// choice (predicted cheapest, the update too small to gain, Σ's diagonal not positive and finite, a small diagonal entry
/// with a large row, or, under [`Choice::Factor`], no factor at rounding level). Its kernels run
/// with `par` (`Par::Seq` when the caller updates several classes side by side).
pub fn structured_update(
    w: MatRef<'_, f64>,
    cov: MatRef<'_, f64>,
    mut out: MatMut<'_, f64>,
    ws: &mut FactorWorkspace,
    choice: Choice,
    par: Par,
) -> Option<Structure> {
    let (m, n) = (w.nrows(), w.ncols());
    let dense = dense_flops(m, n);
    if choice == Choice::Cheapest && dense < MIN_STRUCTURED_FLOPS {
        return None;
    }
    let active = compress(w, cov, ws)?;
    let compressed = dense_flops(m, active);
    let factored = factored_flops(m, active, FACTOR_FLOP_WEIGHT);
    let (sigma, w_a) = if active == n {
        (cov, w)
    } else {
        (ws.sigma_a.as_ref(), ws.w_a.as_ref())
    };
    if choice == Choice::Factor || factored < compressed.min(dense) {
        if let Some(rank) = factored_update(w_a, sigma, out.rb_mut(), &mut ws.factor, par) {
            return Some(Structure::Factored { active, rank });
        }
    }
    if choice == Choice::Cheapest && compressed < dense {
        let t = &mut ws.factor.g;
        t.resize_with(m, active, |_, _| 0.0);
        matmul(t.as_mut(), Accum::Replace, w_a, sigma, 1.0, par);
        lower_product(t.as_ref(), w_a, &mut ws.factor.g_t, out, par);
        return Some(Structure::Compressed { active });
    }
    None
}

/// The kept coordinates A = {i : Σ_ii > τ} into `ws.active`, and Σ_AA, W_A into `ws.sigma_a`,
/// `ws.w_a` when A is not all of them; `None` when the diagonal has no positive maximum, is not
/// finite, or a dropped coordinate's row exceeds the positive semi-definite bound. Σ is
/// symmetric, so a dropped coordinate's row is read as its column (contiguous), and Σ_AA is
/// gathered column by column.
fn compress(w: MatRef<'_, f64>, cov: MatRef<'_, f64>, ws: &mut FactorWorkspace) -> Option<usize> {
    let n = cov.nrows();
    let max_diag = (0..n).map(|i| cov[(i, i)]).fold(0.0, f64::max);
    if n == 0 || max_diag <= 0.0 || !(0..n).all(|i| cov[(i, i)].is_finite()) {
        return None;
    }
    let tol = f64::EPSILON * n as f64 * max_diag;
    let bound = (tol * max_diag).sqrt();
    ws.active.clear();
    for i in 0..n {
        let d = cov[(i, i)];
        if d > tol {
            ws.active.push(i);
        } else if d < -tol || max_abs(&column(cov, i)) > bound {
            return None;
        }
    }
    let r = ws.active.len();
    if r < n {
        let active = &ws.active;
        ws.sigma_a.resize_with(r, r, |_, _| 0.0);
        let mut runs = Runs::default();
        runs.set_rows(active.iter().copied());
        for (jj, &j) in active.iter().enumerate() {
            let src = column(cov, j);
            let dst = ws
                .sigma_a
                .col_mut(jj)
                .try_as_col_major_mut()
                .expect("an owned matrix's column is contiguous")
                .as_slice_mut();
            let mut at = 0;
            for &(start, len) in runs.runs() {
                dst[at..at + len].copy_from_slice(&src[start..start + len]);
                at += len;
            }
        }
        ws.w_a.resize_with(w.nrows(), r, |_, _| 0.0);
        for (jj, &j) in active.iter().enumerate() {
            ws.w_a.col_mut(jj).copy_from(w.col(j));
        }
    }
    Some(r)
}

/// max |vᵢ| (0 for an empty slice; NaN entries are skipped, as `abs() > bound` was false for
/// them), on eight running maxima and without an early exit, so that the loop vectorises.
fn max_abs(v: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a = a.max(x.abs());
        }
    }
    let head = acc.iter().fold(0.0, |m: f64, &a| m.max(a));
    tail.iter().fold(head, |m, x| m.max(x.abs()))
}

/// Column j of Σ as a slice, or a copy where Σ's rows are strided.
fn column(cov: MatRef<'_, f64>, j: usize) -> std::borrow::Cow<'_, [f64]> {
    match cov.col(j).try_as_col_major() {
        Some(c) => std::borrow::Cow::Borrowed(c.as_slice()),
        None => std::borrow::Cow::Owned(cov.col(j).iter().copied().collect()),
    }
}

/// 2MN² for W Σ plus M²N for the lower triangle of (WΣ) Wᵀ.
fn dense_flops(m: usize, n: usize) -> f64 {
    let (m, n) = (m as f64, n as f64);
    2.0 * m * n * n + m * m * n
}

/// The full-rank factorisation of an N × N Σ (weighted by its cost per flop relative to GEMM),
/// G = W L (a triangular product) and G Gᵀ.
fn factored_flops(m: usize, n: usize, weight: f64) -> f64 {
    let (m, n) = (m as f64, n as f64);
    weight * n.powi(3) / 3.0 + m * n * n + m * m * n
}

/// The lower triangle of A Bᵀ into `out`, mirrored: Bᵀ is copied column-major into `b_t`
/// first (faer multiplies by a transposed view at ~60 % of its GEMM rate, by a copy at ~90 %).
fn lower_product(
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    b_t: &mut Mat<f64>,
    mut out: MatMut<'_, f64>,
    par: Par,
) {
    b_t.resize_with(b.ncols(), b.nrows(), |_, _| 0.0);
    b_t.copy_from(b.transpose());
    triangular::matmul(
        out.rb_mut(),
        BlockStructure::TriangularLower,
        Accum::Replace,
        a,
        BlockStructure::Rectangular,
        b_t.as_ref(),
        BlockStructure::Rectangular,
        1.0,
        par,
    );
    mirror_lower(out);
}

/// W Σ Wᵀ = G Gᵀ through the Cholesky factor of Σ, into `out`; returns the rank, or `None`
/// — `out` untouched — when Σ has no factor at rounding level.
fn factored_update(
    w: MatRef<'_, f64>,
    cov: MatRef<'_, f64>,
    out: MatMut<'_, f64>,
    ws: &mut CholeskyWorkspace,
    par: Par,
) -> Option<usize> {
    let (m, n) = (w.nrows(), w.ncols());
    let rank = factor(cov, ws, par)?;
    if !residual_is_rounding(cov, rank, ws) {
        return None;
    }
    ws.w_perm.resize_with(m, n, |_, _| 0.0);
    for (i, &p) in ws.perm.iter().enumerate() {
        ws.w_perm.col_mut(i).copy_from(w.col(p));
    }
    ws.g.resize_with(m, rank, |_, _| 0.0);
    let l = ws.l.as_ref().subcols(0, rank);
    triangular::matmul(
        ws.g.as_mut(),
        BlockStructure::Rectangular,
        Accum::Replace,
        ws.w_perm.as_ref().subcols(0, rank),
        BlockStructure::Rectangular,
        l.subrows(0, rank),
        BlockStructure::TriangularLower,
        1.0,
        par,
    );
    if rank < n {
        matmul(
            ws.g.as_mut(),
            Accum::Add,
            ws.w_perm.as_ref().subcols(rank, n - rank),
            l.subrows(rank, n - rank),
            1.0,
            par,
        );
    }
    lower_product(ws.g.as_ref(), ws.g.as_ref(), &mut ws.g_t, out, par);
    Some(rank)
}

/// Cholesky factor of Σ into `ws.l` — plain when every diagonal entry is above the rank
/// tolerance and that succeeds, pivoted otherwise — with the strict upper triangle of its first
/// r columns zeroed, so that L[:, :r] can be used as a plain matrix; returns the numerical rank,
/// `None` on failure.
fn factor(cov: MatRef<'_, f64>, ws: &mut CholeskyWorkspace, par: Par) -> Option<usize> {
    let n = cov.nrows();
    ws.l.resize_with(n, n, |_, _| 0.0);
    ws.perm.resize(n, 0);
    ws.perm_inv.resize(n, 0);
    if ws.stack_dim < n {
        // Sized for the parallel case, which needs at least as much as the sequential one.
        let par = Par::rayon(0);
        ws.stack = MemBuffer::new(
            cholesky_in_place_scratch::<usize, f64>(n, par, Default::default()).or(
                plain::cholesky_in_place_scratch::<f64>(n, par, Default::default()),
            ),
        );
        ws.stack_dim = n;
    }
    let max_diag = (0..n).map(|i| cov[(i, i)]).fold(0.0, f64::max);
    let tol = f64::EPSILON * n as f64 * max_diag;
    let rank = if (0..n).all(|i| cov[(i, i)] >= tol) && plain_factor(cov, ws, par) {
        n
    } else {
        pivoted_factor(cov, ws, par)?
    };
    if rank == 0 {
        return None;
    }
    for j in 1..rank {
        for i in 0..j {
            ws.l[(i, j)] = 0.0;
        }
    }
    Some(rank)
}

/// Σ = L Lᵀ without pivoting (P = I); false when a pivot is not positive.
fn plain_factor(cov: MatRef<'_, f64>, ws: &mut CholeskyWorkspace, par: Par) -> bool {
    ws.l.copy_from(cov);
    for (i, (p, q)) in ws.perm.iter_mut().zip(ws.perm_inv.iter_mut()).enumerate() {
        (*p, *q) = (i, i);
    }
    plain::cholesky_in_place(
        ws.l.as_mut(),
        Default::default(),
        par,
        MemStack::new(&mut ws.stack),
        Default::default(),
    )
    .is_ok()
}

/// P Σ Pᵀ = L Lᵀ + R, stopped at the numerical rank; `None` when the factorisation fails.
fn pivoted_factor(cov: MatRef<'_, f64>, ws: &mut CholeskyWorkspace, par: Par) -> Option<usize> {
    ws.l.copy_from(cov);
    let (info, _) = cholesky_in_place(
        ws.l.as_mut(),
        &mut ws.perm,
        &mut ws.perm_inv,
        par,
        MemStack::new(&mut ws.stack),
        Default::default(),
    )
    .ok()?;
    Some(info.rank)
}

/// ‖Σz − Pᵀ L Lᵀ P z‖ ≤ 4N²ε·max diag Σ·‖z‖ for the fixed probe z_i = frac((i+1)·φ⁻¹) − ½
/// (a low-discrepancy sequence: no structure a covariance would share).
fn residual_is_rounding(cov: MatRef<'_, f64>, rank: usize, ws: &mut CholeskyWorkspace) -> bool {
    let n = cov.nrows();
    const INV_PHI: f64 = 0.618_033_988_749_894_9;
    ws.probe
        .resize_with(n, |i| ((i + 1) as f64 * INV_PHI).fract() - 0.5);
    ws.sigma_z.resize_with(n, |_| 0.0);
    ws.lt_z.resize_with(rank, |_| 0.0);
    ws.llt_z.resize_with(n, |_| 0.0);
    matmul(
        ws.sigma_z.as_mat_mut(),
        Accum::Replace,
        cov,
        ws.probe.as_mat(),
        1.0,
        Par::Seq,
    );
    // Lᵀ (P z): (P z)_i = z_{perm[i]}.
    let l = ws.l.as_ref().subcols(0, rank);
    for k in 0..rank {
        ws.lt_z[k] = (k..n).map(|i| l[(i, k)] * ws.probe[ws.perm[i]]).sum();
    }
    matmul(
        ws.llt_z.as_mat_mut(),
        Accum::Replace,
        l,
        ws.lt_z.as_mat(),
        1.0,
        Par::Seq,
    );
    let max_diag = (0..n).map(|i| cov[(i, i)]).fold(0.0, f64::max);
    let residual: f64 = (0..n)
        .map(|i| (ws.sigma_z[ws.perm[i]] - ws.llt_z[i]).powi(2))
        .sum::<f64>()
        .sqrt();
    let bound = 4.0 * (n * n) as f64 * f64::EPSILON * max_diag * ws.probe.norm_l2();
    residual <= bound
}

#[cfg(test)]
mod tests {
    use super::*;

    /// max |vᵢ| over the eight running maxima and the tail, NaN skipped as `abs() > bound`
    /// skipped it.
    #[test]
    fn max_abs_reads_every_entry_and_skips_nan() {
        for n in [0, 1, 7, 8, 9, 17] {
            for at in 0..n {
                let mut v: Vec<f64> = (0..n).map(|i| (i as f64 * 0.1).sin() * 0.5).collect();
                v[at] = -3.0;
                assert_eq!(max_abs(&v), 3.0, "n = {n}, at {at}");
                v[at] = f64::NAN;
                assert!(max_abs(&v) <= 0.5, "n = {n}, at {at}");
            }
        }
        assert_eq!(max_abs(&[]), 0.0);
    }

    /// A Σ with zero (constant) coordinates between kept runs: the compressed update equals
    /// the dense W Σ Wᵀ to rounding.
    #[test]
    fn compressed_update_matches_the_dense_product() {
        let (n, m) = (40, 6);
        let zero = |i: usize| (10..14).contains(&i) || i == 25 || i >= 37;
        let g = Mat::from_fn(n, n, |i, k| {
            if zero(i) {
                0.0
            } else {
                ((i * 13 + k * 7) % 11) as f64 * 0.1 - 0.5
            }
        });
        let sigma = &g * g.transpose();
        let w = Mat::from_fn(m, n, |i, j| ((i * 5 + j * 3) % 7) as f64 * 0.2 - 0.6);
        let dense = &w * &sigma * w.transpose();
        let mut out = Mat::zeros(m, m);
        let mut ws = FactorWorkspace::default();
        let s = structured_update(
            w.as_ref(),
            sigma.as_ref(),
            out.as_mut(),
            &mut ws,
            Choice::Factor,
            Par::Seq,
        );
        assert!(
            matches!(s, Some(Structure::Factored { active: 32, .. })),
            "{s:?}"
        );
        let scale = dense.norm_max();
        for i in 0..m {
            for j in 0..m {
                assert!(
                    (out[(i, j)] - dense[(i, j)]).abs() <= 1e-12 * scale,
                    "({i}, {j})"
                );
            }
        }
    }
}
