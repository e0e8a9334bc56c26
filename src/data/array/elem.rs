//! Element types of array files (IDX, NumPy, safetensors) and their conversion to f64 features
//! and integer labels.

use std::fmt;

/// A numeric element type: integers of 1–8 bytes, signed or not, IEEE floats of 2, 4 and 8
/// bytes, and bfloat16 (safetensors' `BF16`: the upper half of an f32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F16,
    BF16,
    F32,
    F64,
}

/// Byte order of the elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Elem {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Elem::U8 | Elem::I8 => 1,
            Elem::U16 | Elem::I16 | Elem::F16 | Elem::BF16 => 2,
            Elem::U32 | Elem::I32 | Elem::F32 => 4,
            Elem::U64 | Elem::I64 | Elem::F64 => 8,
        }
    }

    /// True for the integer types.
    pub fn is_integer(self) -> bool {
        !matches!(self, Elem::F16 | Elem::BF16 | Elem::F32 | Elem::F64)
    }

    /// The element at the start of `b` (at least [`size`](Self::size) bytes) as f64: exact for
    /// every integer up to 2⁵³ in magnitude and for every float type, rounded to nearest beyond.
    pub fn to_f64(self, b: &[u8], endian: Endian) -> f64 {
        match self {
            Elem::U8 => f64::from(b[0]),
            Elem::I8 => f64::from(b[0] as i8),
            Elem::F16 => f16_to_f64(read_u64(b, 2, endian) as u16),
            Elem::BF16 => bf16_to_f64(read_u64(b, 2, endian) as u16),
            Elem::F32 => f64::from(f32::from_bits(read_u64(b, 4, endian) as u32)),
            Elem::F64 => f64::from_bits(read_u64(b, 8, endian)),
            _ => self.to_i128(b, endian).map_or(f64::NAN, |v| v as f64),
        }
    }

    /// The element at the start of `b` as an integer; `None` for the float types.
    pub fn to_i128(self, b: &[u8], endian: Endian) -> Option<i128> {
        let u = read_u64(b, self.size(), endian);
        Some(match self {
            Elem::U8 | Elem::U16 | Elem::U32 | Elem::U64 => i128::from(u),
            Elem::I8 => i128::from(u as u8 as i8),
            Elem::I16 => i128::from(u as u16 as i16),
            Elem::I32 => i128::from(u as u32 as i32),
            Elem::I64 => i128::from(u as i64),
            Elem::F16 | Elem::BF16 | Elem::F32 | Elem::F64 => return None,
        })
    }
}

/// The IEEE 754 binary16 number of bits `h` as f64, exactly (every binary16 value is an f64):
/// sign s, exponent e (5 bits, bias 15) and fraction f (10 bits) give (−1)ˢ·2^(e−15)·(1 + f/2¹⁰)
/// for 0 < e < 31, (−1)ˢ·2⁻¹⁴·f/2¹⁰ for e = 0 (zero and subnormals), ±∞ for e = 31, f = 0, and
/// NaN for e = 31, f ≠ 0.
pub fn f16_to_f64(h: u16) -> f64 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let e = i32::from((h >> 10) & 0x1f);
    let f = f64::from(h & 0x3ff);
    sign * match e {
        0 => f * 2f64.powi(-24),
        31 if f == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + f / 1024.0) * 2f64.powi(e - 15),
    }
}

/// The bfloat16 number of bits `h` (the upper 16 bits of an IEEE binary32) as f64, exactly.
pub fn bf16_to_f64(h: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(h) << 16))
}

/// The unsigned integer of the first `size` bytes of `b` in byte order `endian`.
fn read_u64(b: &[u8], size: usize, endian: Endian) -> u64 {
    let fold = |acc: u64, &x: &u8| (acc << 8) | u64::from(x);
    match endian {
        Endian::Big => b[..size].iter().fold(0, fold),
        Endian::Little => b[..size].iter().rev().fold(0, fold),
    }
}

impl fmt::Display for Elem {
    /// NumPy's names: `uint8`, `int16`, `float32`, ….
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Elem::U8 => "uint8",
            Elem::I8 => "int8",
            Elem::U16 => "uint16",
            Elem::I16 => "int16",
            Elem::U32 => "uint32",
            Elem::I32 => "int32",
            Elem::U64 => "uint64",
            Elem::I64 => "int64",
            Elem::F16 => "float16",
            Elem::BF16 => "bfloat16",
            Elem::F32 => "float32",
            Elem::F64 => "float64",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_byte_orders_and_signs_decode() {
        assert_eq!(Elem::I16.to_i128(&[0xff, 0xfe], Endian::Big), Some(-2));
        assert_eq!(Elem::I16.to_i128(&[0xfe, 0xff], Endian::Little), Some(-2));
        assert_eq!(
            Elem::U16.to_i128(&[0xfe, 0xff], Endian::Little),
            Some(65534)
        );
        assert_eq!(Elem::F64.to_i128(&[0; 8], Endian::Little), None);
        let x = 0.1307f32;
        assert_eq!(
            Elem::F32.to_f64(&x.to_be_bytes(), Endian::Big),
            f64::from(x)
        );
        assert_eq!(
            Elem::F64.to_f64(&(-3.5f64).to_le_bytes(), Endian::Little),
            -3.5
        );
        assert_eq!(
            Elem::I64.to_f64(&(-7i64).to_le_bytes(), Endian::Little),
            -7.0
        );
    }

    /// binary16 decodes exactly: every one of its 65 536 bit patterns against the value its
    /// fields define (computed apart, from the integer significand), both byte orders, and the
    /// landmarks (largest 65504, smallest normal 2⁻¹⁴, smallest subnormal 2⁻²⁴, ±0, ±∞, NaN).
    #[test]
    fn binary16_decodes_exactly() {
        for h in 0..=u16::MAX {
            let (s, e, f) = (h >> 15, (h >> 10) & 0x1f, u64::from(h & 0x3ff));
            let got = f16_to_f64(h);
            if e == 31 {
                assert!(
                    if f == 0 {
                        got.is_infinite()
                    } else {
                        got.is_nan()
                    },
                    "{h:#x}"
                );
                continue;
            }
            // Significand as an integer times a power of two: m·2^(k), m < 2¹¹.
            let (m, k) = if e == 0 {
                (f, -24)
            } else {
                (f | 1 << 10, i32::from(e) - 25)
            };
            let want = m as f64 * 2f64.powi(k);
            assert_eq!(got, if s == 1 { -want } else { want }, "{h:#x}");
            assert_eq!(
                Elem::F16.to_f64(&h.to_be_bytes(), Endian::Big).to_bits(),
                got.to_bits()
            );
            assert_eq!(
                Elem::F16.to_f64(&h.to_le_bytes(), Endian::Little).to_bits(),
                got.to_bits()
            );
        }
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0400), 2f64.powi(-14));
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x8000).to_bits(), (-0.0f64).to_bits());
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
    }

    /// bfloat16 is f32's upper half: 1.0 = 0x3f80, −2.5 = 0xc020, the largest 0x7f7f, a NaN.
    #[test]
    fn bfloat16_decodes_as_the_upper_half_of_f32() {
        assert_eq!(
            Elem::BF16.to_f64(&0x3f80u16.to_le_bytes(), Endian::Little),
            1.0
        );
        assert_eq!(
            Elem::BF16.to_f64(&0xc020u16.to_le_bytes(), Endian::Little),
            -2.5
        );
        assert_eq!(bf16_to_f64(0x7f7f), f64::from(f32::from_bits(0x7f7f_0000)));
        assert!(bf16_to_f64(0x7fc0).is_nan());
        assert_eq!(bf16_to_f64(0x0001), f64::from(f32::from_bits(0x0001_0000)));
    }
}
