//! Whether every entry of a slice is finite, on SIMD lanes: the scans that keep NaN and ∞ out of
//! the propagation (`propagate::engine`'s stage check, the closures' input check), which the
//! baseline x86-64 code generation ran two lanes wide (SSE2, with 64-bit compares emulated).

use pulp::{Simd, WithSimd};

use super::dispatch;

/// Independent accumulators per lane block, so that the additions do not wait on each other.
const CHAINS: usize = 4;

/// A kernel struct `$name(&[$t])` whose `with_simd` is true exactly when every entry is finite:
/// Σ 0·x over the slice in `$t` lanes, with [`CHAINS`] independent accumulators. 0·x is ±0 for
/// every finite x (the largest included) and NaN for ±∞ or NaN (IEEE 754), and a sum with a NaN
/// term is NaN, so the sum is 0 exactly when every entry is finite. One body for f64 and f32,
/// which pulp's `Simd` spells with different method names.
macro_rules! finite_kernel {
    ($name:ident, $t:ty, $as_simd:ident, $splat:ident, $mul_add:ident, $add:ident, $reduce:ident) => {
        struct $name<'a>(&'a [$t]);

        impl WithSimd for $name<'_> {
            type Output = bool;

            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) -> bool {
                let (head, tail) = S::$as_simd(self.0);
                let zero = simd.$splat(0.0);
                let mut acc = [zero; CHAINS];
                let mut blocks = head.chunks_exact(CHAINS);
                for block in &mut blocks {
                    for (a, &x) in acc.iter_mut().zip(block) {
                        *a = simd.$mul_add(zero, x, *a);
                    }
                }
                for &x in blocks.remainder() {
                    acc[0] = simd.$mul_add(zero, x, acc[0]);
                }
                let sum = acc.iter().fold(zero, |s, &a| simd.$add(s, a));
                simd.$reduce(sum) == 0.0 && tail.iter().all(|x| x.is_finite())
            }
        }
    };
}

finite_kernel!(
    AllFinite,
    f64,
    as_simd_f64s,
    splat_f64s,
    mul_add_f64s,
    add_f64s,
    reduce_sum_f64s
);
finite_kernel!(
    AllFinite32,
    f32,
    as_simd_f32s,
    splat_f32s,
    mul_add_f32s,
    add_f32s,
    reduce_sum_f32s
);

/// Whether every entry of `xs` is finite (not NaN, not ±∞), on the process's SIMD lanes
/// ([`dispatch`]).
pub fn all_finite(xs: &[f64]) -> bool {
    dispatch(AllFinite(xs))
}

/// [`all_finite`] on the lanes of a `Simd` token already dispatched: for a kernel that scans
/// what it has just written while it is in cache (`stats::moments`'s covariance).
#[inline(always)]
pub fn all_finite_on<S: Simd>(simd: S, xs: &[f64]) -> bool {
    AllFinite(xs).with_simd(simd)
}

/// [`all_finite`] for f32 entries (the f32 stages' covariances), on f32 lanes.
pub fn all_finite_f32(xs: &[f32]) -> bool {
    dispatch(AllFinite32(xs))
}

/// Whether column j of `m` is finite: a contiguous column by [`all_finite`] on the SIMD lanes
/// (the element-wise scan through faer's strided iterator took ~1 % of an `analyze` run's CPU
/// on MNIST's eleven 784² factors), a strided one entry by entry. The covariance checks of the
/// factorisations, the low-rank factor and the class information.
pub fn column_finite(m: faer::MatRef<'_, f64>, j: usize) -> bool {
    let col = m.col(j);
    match col.try_as_col_major() {
        Some(c) => all_finite(c.as_slice()),
        None => col.iter().all(|v| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Isa;

    /// Every instruction set, every length up to a few lane blocks past the accumulators, with one non-finite value at
    /// each position in turn, and extreme finite values (which 0·x keeps at ±0).
    #[test]
    fn finds_each_non_finite_entry_at_every_position() {
        let finite = [
            0.0,
            -0.0,
            1.0,
            -3.5,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        let finite32 = [
            0.0,
            -0.0,
            1.0,
            -3.5,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-45,
        ];
        for isa in [Isa::Best, Isa::Avx2, Isa::Scalar] {
            for len in 0..80 {
                let xs: Vec<f64> = (0..len).map(|k| finite[k % finite.len()]).collect();
                let xs32: Vec<f32> = (0..len).map(|k| finite32[k % finite32.len()]).collect();
                assert!(isa.run(AllFinite(&xs)), "{isa:?}, length {len}: all finite");
                assert!(
                    isa.run(AllFinite32(&xs32)),
                    "{isa:?}, length {len}: f32 all finite"
                );
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    for at in 0..len {
                        let mut ys = xs.clone();
                        ys[at] = bad;
                        assert!(
                            !isa.run(AllFinite(&ys)),
                            "{isa:?}, length {len}: {bad} at {at}"
                        );
                        let mut ys32 = xs32.clone();
                        ys32[at] = bad as f32;
                        assert!(
                            !isa.run(AllFinite32(&ys32)),
                            "{isa:?}, length {len}: f32 {bad} at {at}"
                        );
                    }
                }
            }
        }
    }
}
