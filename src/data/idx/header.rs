//! Parsing and validating the IDX header: `[0, 0, type, ndims]`, then `ndims` big-endian u32
//! dimensions, then the elements in row-major order.

use std::path::Path;

use crate::{Error, Result};

/// Element type code of unsigned bytes, the only one corrflow reads.
pub const TYPE_U8: u8 = 0x08;

/// The validated header of an IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Dimensions, outermost first (for images: count, rows, columns).
    pub dims: Vec<usize>,
    /// Byte offset of the first element: 4 + 4·ndims.
    pub data_offset: usize,
}

/// Human name of an IDX element type code, for error messages.
fn type_name(code: u8) -> &'static str {
    match code {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "i16",
        0x0C => "i32",
        0x0D => "f32",
        0x0E => "f64",
        _ => "unknown",
    }
}

/// Parses the header of `bytes` (the whole file content) and checks that the data length equals
/// the product of the dimensions exactly. `path` is only used in error messages.
///
/// Errors (all [`Error::Format`] naming `path`): a file shorter than its header, a magic number
/// whose first two bytes are not zero, an element type other than 0x08 (the code found is named),
/// zero dimensions, a product of dimensions that overflows, and a data section shorter
/// (truncated) or longer (trailing bytes) than the header declares.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 4 {
        return Err(Error::format(
            path,
            format!(
                "IDX file too short: {} bytes, expected at least the 4-byte magic number",
                bytes.len()
            ),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::format(
            path,
            format!(
                "not an IDX file: magic number starts with {:#04x} {:#04x}, expected 0x00 0x00",
                bytes[0], bytes[1]
            ),
        ));
    }
    let type_code = bytes[2];
    if type_code != TYPE_U8 {
        return Err(Error::format(
            path,
            format!(
                "unsupported IDX element type {type_code:#04x} ({}); only 0x08 (unsigned byte) is supported",
                type_name(type_code)
            ),
        ));
    }
    let ndims = usize::from(bytes[3]);
    if ndims == 0 {
        return Err(Error::format(path, "IDX header declares 0 dimensions"));
    }
    let data_offset = 4 + 4 * ndims;
    if bytes.len() < data_offset {
        return Err(Error::format(
            path,
            format!(
                "IDX header truncated: {ndims} dimensions need {data_offset} header bytes, file has {}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = bytes[4..data_offset]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            Error::format(
                path,
                format!("IDX dimensions {dims:?} overflow the address space"),
            )
        })?;
    let actual = bytes.len() - data_offset;
    if actual != expected {
        let what = if actual < expected {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(Error::format(
            path,
            format!(
                "IDX data {what}: dimensions {} need {expected} data bytes after the {data_offset}-byte header, file has {actual}",
                dims_string(&dims)
            ),
        ));
    }
    Ok(Header { dims, data_offset })
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
