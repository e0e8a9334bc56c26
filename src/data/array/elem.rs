//! Element types of array files (IDX, NumPy, safetensors) and their conversion to f64 features
//! and integer labels.

use std::fmt;

/// A numeric element type: integers of 1–8 bytes, signed or not, and IEEE floats.
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
            Elem::U16 | Elem::I16 => 2,
            Elem::U32 | Elem::I32 | Elem::F32 => 4,
            Elem::U64 | Elem::I64 | Elem::F64 => 8,
        }
    }

    /// True for the integer types.
    pub fn is_integer(self) -> bool {
        !matches!(self, Elem::F32 | Elem::F64)
    }

    /// The element at the start of `b` (at least [`size`](Self::size) bytes) as f64: exact for
    /// every integer up to 2⁵³ in magnitude and for both float types, rounded to nearest beyond.
    pub fn to_f64(self, b: &[u8], endian: Endian) -> f64 {
        match self {
            Elem::U8 => f64::from(b[0]),
            Elem::I8 => f64::from(b[0] as i8),
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
            Elem::F32 | Elem::F64 => return None,
        })
    }
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
}
