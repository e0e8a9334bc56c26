//! Parsing and validating the IDX header: `[0, 0, type, ndims]`, then `ndims` big-endian u32
//! dimensions, then the elements in row-major order, big-endian.

use std::path::Path;

use crate::data::array::{size_fault, Elem};
use crate::{Error, Result};

/// Element type code of unsigned bytes (what [`encode`] writes).
pub const TYPE_U8: u8 = 0x08;

/// The validated header of an IDX file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Element type (big-endian in the file).
    pub elem: Elem,
    /// Dimensions, outermost first (for images: count, rows, columns).
    pub dims: Vec<usize>,
    /// Byte offset of the first element: 4 + 4·ndims.
    pub data_offset: usize,
}

/// The element type of an IDX type code (the IDX format's six: 0x08 u8, 0x09 i8, 0x0B i16,
/// 0x0C i32, 0x0D f32, 0x0E f64).
fn elem_of(code: u8) -> Option<Elem> {
    Some(match code {
        0x08 => Elem::U8,
        0x09 => Elem::I8,
        0x0B => Elem::I16,
        0x0C => Elem::I32,
        0x0D => Elem::F32,
        0x0E => Elem::F64,
        _ => return None,
    })
}

/// The IDX type code of `elem`, `None` for types IDX has no code for.
pub fn code_of(elem: Elem) -> Option<u8> {
    (0..=u8::MAX).find(|&c| elem_of(c) == Some(elem))
}

/// Parses the header of `bytes` (the whole file content) and checks that the data length equals
/// the product of the dimensions exactly. `path` is only used in error messages.
///
/// Errors (all [`Error::Format`] naming `path`): those of [`parse_dims`], and a data section
/// shorter (truncated) or longer (trailing bytes) than the header declares.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Header> {
    let h = parse_dims(path, bytes)?;
    check_len(path, &h, (bytes.len() - h.data_offset) as u64, "file has")?;
    Ok(h)
}

/// Parses the header at the start of `head` (which may hold only the header, or less) without
/// looking at the data.
///
/// Errors (all [`Error::Format`] naming `path`): fewer bytes than the header needs, a magic
/// number whose first two bytes are not zero, an element type code other than the six of the
/// format (the code found is named), zero dimensions, and a byte count that overflows.
pub fn parse_dims(path: &Path, head: &[u8]) -> Result<Header> {
    if head.len() < 4 {
        return Err(Error::format(
            path,
            format!(
                "IDX file too short: {} bytes, expected at least the 4-byte magic number",
                head.len()
            ),
        ));
    }
    if head[0] != 0 || head[1] != 0 {
        return Err(Error::format(
            path,
            format!(
                "not an IDX file: magic number starts with {:#04x} {:#04x}, expected 0x00 0x00",
                head[0], head[1]
            ),
        ));
    }
    let type_code = head[2];
    let elem = elem_of(type_code).ok_or_else(|| {
        Error::format(
            path,
            format!(
                "unknown IDX element type {type_code:#04x}; expected 0x08 (u8), 0x09 (i8), 0x0b (i16), 0x0c (i32), 0x0d (f32) or 0x0e (f64)"
            ),
        )
    })?;
    let ndims = usize::from(head[3]);
    if ndims == 0 {
        return Err(Error::format(path, "IDX header declares 0 dimensions"));
    }
    let data_offset = header_len(ndims);
    if head.len() < data_offset {
        return Err(Error::format(
            path,
            format!(
                "IDX header truncated: {ndims} dimensions need {data_offset} header bytes, file has {}",
                head.len()
            ),
        ));
    }
    let dims: Vec<usize> = head[4..data_offset]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let h = Header {
        elem,
        dims,
        data_offset,
    };
    if h.data_len().is_none() {
        return Err(Error::format(
            path,
            format!("IDX dimensions {:?} overflow the address space", h.dims),
        ));
    }
    Ok(h)
}

/// Bytes of a header with `ndims` dimensions: 4 + 4·ndims.
pub fn header_len(ndims: usize) -> usize {
    4 + 4 * ndims
}

impl Header {
    /// Data bytes the header declares (product of the dimensions times the element size),
    /// `None` when it overflows.
    pub fn data_len(&self) -> Option<usize> {
        self.dims
            .iter()
            .try_fold(self.elem.size(), |acc, &d| acc.checked_mul(d))
    }
}

/// Checks that `actual` data bytes are what the header `h` declares; `has` words the error
/// ("file has", "the gzip stream inflates to").
pub fn check_len(path: &Path, h: &Header, actual: u64, has: &str) -> Result<()> {
    let expected = h.data_len().unwrap_or(usize::MAX) as u64;
    if actual != expected {
        let what = size_fault(actual, expected);
        return Err(Error::format(
            path,
            format!(
                "IDX data {what}: dimensions {} need {expected} data bytes after the {}-byte header, {has} {actual}",
                dims_string(&h.dims),
                h.data_offset
            ),
        ));
    }
    Ok(())
}

/// Dimensions written as `a×b×c`.
pub fn dims_string(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// The header bytes of an unsigned-byte IDX file with `dims`. Fails when there are more than
/// 255 dimensions or a dimension exceeds u32.
pub fn encode(dims: &[usize]) -> Option<Vec<u8>> {
    let ndims = u8::try_from(dims.len()).ok()?;
    let mut out = vec![0, 0, TYPE_U8, ndims];
    for &d in dims {
        out.extend_from_slice(&u32::try_from(d).ok()?.to_be_bytes());
    }
    Some(out)
}
