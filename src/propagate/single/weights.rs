//! One pass over a layer's f64 weights W (N × fan-in) for the f32 engine, doing the three things
//! it needs of them at once:
//!
//! - W rounded to f32, the operand of the layer's f32 GEMM;
//! - every class's mean μ'ᵢ = Σⱼ wᵢⱼ μⱼ + bᵢ (in f64, j ascending);
//! - every class's scale sᵢ = Σⱼ w²ᵢⱼ σ²ⱼ (j ascending, by fused multiply-adds), for the check
//!   that no affine term is subnormal in f32 (`engine::prepare_layer` states why).
//!
//! Each of these reads all of W; apart (W rounded, the check, and one matrix-vector product per
//! class) a 1024-wide layer of C classes read its 8 MB of f64 weights C + 2 times, a bound on
//! memory bandwidth beside a GEMM of half the bytes per entry (thirty-third session, BENCHMARKS.md
//! "f32 over its line on model 207"). Here W is read once, rows split among the threads in
//! blocks of [`ROWS`] whose sums for every class stay in L1 while the columns stream past.

use faer::reborrow::ReborrowMut;
use faer::{ColRef, MatMut, MatRef};
use pulp::{Simd, WithSimd};
use rayon::prelude::*;

/// Rows of W per task: their sums for ten classes (2 × 64 × 10 f64) stay in L1.
const ROWS: usize = 64;

/// Classes per pass of [`RowSums`]: its 2 × 4 accumulators stay in registers.
const CLASSES: usize = 4;

/// The per-class inputs of a layer, column j's values for every class side by side:
/// `mean[j·S + c]` = μⱼ and `variance[j·S + c]` = σ²ⱼ of class c, with the stride S the class
/// count rounded up to a multiple of [`CLASSES`] (the padding's entries are 0).
pub(super) struct Inputs {
    pub classes: usize,
    stride: usize,
    mean: Vec<f64>,
    variance: Vec<f64>,
}

impl Inputs {
    /// Gathers μⱼ = `mean(c, j)` and σ²ⱼ = `variance(c, j)` of `classes` classes over `fan_in`
    /// inputs.
    pub fn gather(
        classes: usize,
        fan_in: usize,
        mean: impl Fn(usize, usize) -> f64,
        variance: impl Fn(usize, usize) -> f64,
    ) -> Self {
        let stride = classes.next_multiple_of(CLASSES);
        let pairs = || (0..fan_in).flat_map(|j| (0..stride).map(move |c| (c, j)));
        let or_zero =
            |f: &dyn Fn(usize, usize) -> f64, (c, j)| if c < classes { f(c, j) } else { 0.0 };
        Inputs {
            classes,
            stride,
            mean: pairs().map(|p| or_zero(&mean, p)).collect(),
            variance: pairs().map(|p| or_zero(&variance, p)).collect(),
        }
    }
}

/// For W = `w` and bias `b`: W rounded to f32 into `w32` (N × fan-in), class c's mean
/// Σⱼ wᵢⱼ μⱼ + bᵢ into column c of `means` (N × C), and the first (class, unit, sᵢ) in (class,
/// unit) order whose scale sᵢ = Σⱼ w²ᵢⱼ σ²ⱼ is positive but below `floor`, if any.
pub(super) fn weights_pass(
    w: MatRef<'_, f64>,
    b: ColRef<'_, f64>,
    inputs: &Inputs,
    floor: f64,
    w32: MatMut<'_, f32>,
    means: MatMut<'_, f64>,
) -> Option<(usize, usize, f64)> {
    let (n, classes) = (w.nrows(), inputs.classes);
    assert!(
        w32.nrows() == n && w32.ncols() == w.ncols() && means.nrows() == n,
        "weights_pass: buffers of W's shape"
    );
    assert_eq!(
        means.ncols(),
        classes,
        "weights_pass: one mean column per class"
    );
    w32.par_row_chunks_mut(ROWS)
        .zip(means.par_row_chunks_mut(ROWS))
        .enumerate()
        .filter_map(|(t, (w32, means))| {
            let lo = t * ROWS;
            let rows = w.subrows(lo, w32.nrows());
            block(rows, b.subrows(lo, rows.nrows()), inputs, floor, w32, means)
                .map(|(c, r, s)| (c, lo + r, s))
        })
        .min_by_key(|&(c, i, _)| (c, i))
}

/// [`weights_pass`] of one block of rows (unit r of the block is its row r).
fn block(
    w: MatRef<'_, f64>,
    b: ColRef<'_, f64>,
    inputs: &Inputs,
    floor: f64,
    mut w32: MatMut<'_, f32>,
    mut means: MatMut<'_, f64>,
) -> Option<(usize, usize, f64)> {
    let rows = w.nrows();
    for j in 0..w.ncols() {
        let out = w32.rb_mut().col_mut(j);
        let out = out
            .try_as_col_major_mut()
            .expect("column-major f32 weights");
        for (o, &x) in out.as_slice_mut().iter_mut().zip(column(w, j)) {
            *o = x as f32;
        }
    }
    // scale[c·rows + r], sum[c·rows + r]: class c's sums of row r (padding classes included).
    let mut scale = vec![0.0; inputs.stride * rows];
    let mut sum = vec![0.0; inputs.stride * rows];
    let arch = pulp::Arch::new();
    for first in (0..inputs.stride).step_by(CLASSES) {
        let at = first * rows..(first + CLASSES) * rows;
        arch.dispatch(RowSums {
            w,
            inputs,
            first,
            scale: &mut scale[at.clone()],
            sum: &mut sum[at],
        });
    }
    for (c, m) in sum.chunks_exact(rows).take(inputs.classes).enumerate() {
        for (r, &m) in m.iter().enumerate() {
            means[(r, c)] = m + b[r];
        }
    }
    scale
        .chunks_exact(rows)
        .take(inputs.classes)
        .enumerate()
        .find_map(|(c, sums)| {
            sums.iter()
                .position(|&s| s > 0.0 && s < floor)
                .map(|r| (c, r, sums[r]))
        })
}

/// Column j of the column-major `w`, as a slice.
fn column<'a>(w: MatRef<'a, f64>, j: usize) -> &'a [f64] {
    w.col(j)
        .try_as_col_major()
        .expect("column-major weights")
        .as_slice()
}

/// The sums of classes `first`..`first` + [`CLASSES`] for every row of `w`, one vector of rows
/// at a time: sᵢ += w²ᵢⱼ σ²ⱼ and mᵢ += wᵢⱼ μⱼ for j ascending, by fused multiply-adds into
/// accumulators held in registers (a loop over the rows per column, its sums in memory, ran at
/// the rate of its loads and stores: two to three times longer than reading W, thirty-third
/// session). Writes `scale[k·rows + r]` and `sum[k·rows + r]` for class `first` + k.
struct RowSums<'a> {
    w: MatRef<'a, f64>,
    inputs: &'a Inputs,
    first: usize,
    scale: &'a mut [f64],
    sum: &'a mut [f64],
}

impl WithSimd for RowSums<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let RowSums {
            w,
            inputs,
            first,
            scale,
            sum,
        } = self;
        let (rows, stride) = (w.nrows(), inputs.stride);
        let zero = simd.splat_f64s(0.0);
        for r0 in (0..rows).step_by(S::F64_LANES) {
            let r1 = (r0 + S::F64_LANES).min(rows);
            let mut s = [zero; CLASSES];
            let mut m = [zero; CLASSES];
            for j in 0..w.ncols() {
                let x = simd.partial_load_f64s(&column(w, j)[r0..r1]);
                let q = simd.mul_f64s(x, x);
                let at = j * stride + first;
                let var = &inputs.variance[at..at + CLASSES];
                let mu = &inputs.mean[at..at + CLASSES];
                for k in 0..CLASSES {
                    s[k] = simd.mul_add_f64s(q, simd.splat_f64s(var[k]), s[k]);
                    m[k] = simd.mul_add_f64s(x, simd.splat_f64s(mu[k]), m[k]);
                }
            }
            for k in 0..CLASSES {
                simd.partial_store_f64s(&mut scale[k * rows + r0..k * rows + r1], s[k]);
                simd.partial_store_f64s(&mut sum[k * rows + r0..k * rows + r1], m[k]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::{Col, Mat};

    /// 150 units (two whole blocks of rows and a partial one, whose last vector of rows is
    /// partial too), 40 inputs, five classes (two passes of [`CLASSES`], the second padded): W
    /// rounded is `narrow`'s bit for bit, each mean is Wμ + b to f64 rounding (a sum in another
    /// order, ≤ 1e-13 relative to Σ|wᵢⱼμⱼ| + |bᵢ|), and a unit in the last block whose scale
    /// is below the floor for class 2 only is named with its sum (the sum of the same
    /// products in the same order). (Checked to fail with the bias
    /// of the block's first row added to every row, and with the block's offset left out of the
    /// unit named.)
    #[test]
    fn one_pass_gives_the_rounded_weights_the_means_and_the_first_small_scale() {
        let (n, fan_in, classes) = (150, 40, 5);
        let w = Mat::from_fn(n, fan_in, |i, j| match i {
            141 => 1e-21,
            _ => ((i * 13 + j * 7) as f64 * 0.31).sin() * (1.0 + j as f64 / 9.0),
        });
        let b = Col::from_fn(n, |i| (i as f64 * 0.7).cos());
        let mean = |c: usize, j: usize| (c as f64 + 1.0) * ((j * 5) as f64 * 0.13).sin();
        let variance = |c: usize, j: usize| if c == 2 { 1.0 } else { 1e6 + j as f64 };
        let inputs = Inputs::gather(classes, fan_in, mean, variance);
        let mut w32 = Mat::<f32>::zeros(n, fan_in);
        let mut means = Mat::<f64>::zeros(n, classes);
        let floor = f64::from(f32::MIN_POSITIVE);
        let first = weights_pass(
            w.as_ref(),
            b.as_ref(),
            &inputs,
            floor,
            w32.as_mut(),
            means.as_mut(),
        );
        let mut want32 = Mat::<f32>::zeros(n, fan_in);
        crate::linalg::narrow(&w, want32.as_mut());
        assert_eq!(w32, want32);
        for c in 0..classes {
            for i in 0..n {
                let terms = (0..fan_in).map(|j| w[(i, j)] * mean(c, j));
                let want = terms.clone().sum::<f64>() + b[i];
                let size = terms.map(f64::abs).sum::<f64>() + b[i].abs();
                let err = (means[(i, c)] - want).abs();
                assert!(err <= 1e-13 * size, "class {c}, unit {i}: {err:e}");
            }
        }
        let s: f64 = (0..fan_in).map(|j| w[(141, j)] * w[(141, j)]).sum();
        assert!(s > 0.0 && s < floor, "the case: {s:e}");
        assert_eq!(first, Some((2, 141, s)));
    }
}
