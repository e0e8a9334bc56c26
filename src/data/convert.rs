//! Converting pixel bytes to f64 in [0, 1] with a pulp SIMD kernel.
//!
//! pulp's portable `Simd` trait has no integer→float conversion, so the kernel uses the exact
//! "magic number" trick: for a byte b, the f64 with bit pattern `0x4330_0000_0000_0000 | b` is
//! 2⁵² + b exactly, and subtracting 2⁵² gives b exactly. Dividing by 255 is correctly rounded in
//! IEEE arithmetic, so every lane equals the scalar `b as f64 / 255.0` bit for bit.

use pulp::{Simd, WithSimd};

/// Bits of 2⁵² as an f64.
const TWO_52_BITS: u64 = 0x4330_0000_0000_0000;
/// The scale of a pixel byte.
const MAX_PIXEL: f64 = 255.0;

/// Scalar reference: `dst[i] = src[i] / 255`.
pub fn u8_to_unit_scalar(src: &[u8], dst: &mut [f64]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f64::from(s) / MAX_PIXEL;
    }
}

/// `dst[i] = src[i] / 255` for all i, SIMD on the process's instruction set (`simd::dispatch`).
/// Bit-identical to [`u8_to_unit_scalar`]. The slices must have equal length; only the common
/// prefix is written otherwise.
pub fn u8_to_unit(src: &[u8], dst: &mut [f64]) {
    let n = src.len().min(dst.len());
    crate::simd::dispatch(ToUnit {
        src: &src[..n],
        dst: &mut dst[..n],
    });
}

/// The kernel of [`u8_to_unit`].
struct ToUnit<'a> {
    src: &'a [u8],
    dst: &'a mut [f64],
}

impl WithSimd for ToUnit<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let (head, tail) = S::as_mut_simd_f64s(self.dst);
        let lanes = S::F64_LANES;
        let (src_head, src_tail) = self.src.split_at(head.len() * lanes);
        let two_52 = simd.splat_f64s(f64::from_bits(TWO_52_BITS));
        let scale = simd.splat_f64s(MAX_PIXEL);
        for (d, s) in head.iter_mut().zip(src_head.chunks_exact(lanes)) {
            let mut bits = simd.splat_u64s(TWO_52_BITS);
            let lane_bits: &mut [u64] = bytemuck::cast_slice_mut(core::slice::from_mut(&mut bits));
            for (l, &b) in lane_bits.iter_mut().zip(s) {
                *l |= u64::from(b);
            }
            let exact: S::f64s = bytemuck::cast(bits);
            *d = simd.div_f64s(simd.sub_f64s(exact, two_52), scale);
        }
        u8_to_unit_scalar(src_tail, tail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value, at every offset modulo the lane count, with lengths that leave tails.
    #[test]
    fn simd_matches_scalar_bit_exactly() {
        for len in [0usize, 1, 7, 8, 9, 255, 256, 784, 1001] {
            let src: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let mut a = vec![f64::NAN; len];
            let mut b = vec![f64::NAN; len];
            u8_to_unit(&src, &mut a);
            u8_to_unit_scalar(&src, &mut b);
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.to_bits(), y.to_bits(), "len {len}");
            }
        }
        let all: Vec<u8> = (0..=255).collect();
        let mut a = vec![0.0; 256];
        u8_to_unit(&all, &mut a);
        assert_eq!(a[0], 0.0);
        assert_eq!(a[255], 1.0);
        for (b, x) in all.iter().zip(&a) {
            assert_eq!(x.to_bits(), (f64::from(*b) / 255.0).to_bits());
        }
    }
}
