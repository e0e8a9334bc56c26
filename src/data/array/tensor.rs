//! A data set tensor in a safetensors file (little-endian, row-major; the header is validated by
//! the `safetensors` crate before any tensor is touched).

use std::path::Path;

use safetensors::tensor::Dtype;
use safetensors::SafeTensors;

use super::header::{header_defect, repeated_key};
use super::{map_file, ArrayFile, Elem, Endian, Order};
use crate::{Error, Result};

/// The message for a safetensors file `bytes` that the crate refused with `e`: the defect
/// [`header_defect`] finds, else the crate's message.
pub fn refused(bytes: &[u8], e: &dyn std::fmt::Display) -> String {
    match header_defect(bytes) {
        Some(defect) => format!("not a safetensors file: {defect}"),
        None => format!("not a safetensors file ({e})"),
    }
}

/// Opens tensor `name` of the safetensors file `path`.
pub fn open(path: &Path, name: &str) -> Result<ArrayFile> {
    let map = map_file(path)?;
    let bad = |msg: String| Error::format(path, msg);
    let tensors = SafeTensors::deserialize(&map).map_err(|e| bad(refused(&map, &e)))?;
    if let Some(defect) = repeated_key(&map) {
        return Err(bad(format!("not a safetensors file: {defect}")));
    }
    let view = tensors.tensor(name).map_err(|_| {
        let mut names = tensors.names();
        names.sort();
        bad(format!(
            "no tensor '{name}' (the file holds {}); name it with --x-tensor/--y-tensor",
            crate::error::excerpt(&format!("{names:?}"))
        ))
    })?;
    let elem = match view.dtype() {
        Dtype::U8 => Elem::U8,
        Dtype::I8 => Elem::I8,
        Dtype::U16 => Elem::U16,
        Dtype::I16 => Elem::I16,
        Dtype::U32 => Elem::U32,
        Dtype::I32 => Elem::I32,
        Dtype::U64 => Elem::U64,
        Dtype::I64 => Elem::I64,
        Dtype::F16 => Elem::F16,
        Dtype::BF16 => Elem::BF16,
        Dtype::F32 => Elem::F32,
        Dtype::F64 => Elem::F64,
        other => {
            return Err(bad(format!(
                "tensor '{name}' has dtype {other:?}; expected U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32 or F64"
            )))
        }
    };
    let dims = view.shape().to_vec();
    // The crate checked that the view lies inside the map; its place is its pointer offset.
    let start = view.data().as_ptr() as usize - map.as_ptr() as usize;
    let range = start..start + view.data().len();
    drop(tensors);
    Ok(ArrayFile::new(
        path.to_path_buf(),
        map,
        range,
        dims,
        (elem, Endian::Little),
        Order::C,
    ))
}
