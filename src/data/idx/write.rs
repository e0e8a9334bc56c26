//! Writing IDX files of unsigned bytes (raw, or gzip when the name ends in `.gz`).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::header;
use crate::{Error, Result};

/// Writes `data` (row-major, length = product of `dims`) as an IDX file of unsigned bytes to
/// `path`, gzip-compressed when the name ends in `.gz`. The file is written to a temporary name
/// beside `path` and renamed into place.
///
/// Errors: [`Error::Shape`] when `data.len()` ≠ ∏ dims, or when there are more than 255
/// dimensions or a dimension beyond u32; [`Error::Io`] on write failures.
pub fn write_idx_u8(path: impl AsRef<Path>, dims: &[usize], data: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if expected != Some(data.len()) {
        return Err(Error::Shape(format!(
            "IDX data for {}: dimensions {} but {} bytes",
            path.display(),
            header::dims_string(dims),
            data.len()
        )));
    }
    let head = header::encode(dims).ok_or_else(|| {
        Error::Shape(format!(
            "IDX dimensions {} for {}: at most 255 dimensions, each below 2³²",
            header::dims_string(dims),
            path.display()
        ))
    })?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = write_to(&tmp, &head, data, super::is_gzip_name(path))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes header and data to `tmp`, compressed or not.
fn write_to(tmp: &Path, head: &[u8], data: &[u8], gzip: bool) -> Result<()> {
    let io = |e| Error::io(tmp, e);
    let file = BufWriter::new(File::create(tmp).map_err(io)?);
    let file = if gzip {
        let mut enc = GzEncoder::new(file, Compression::default());
        enc.write_all(head).map_err(io)?;
        enc.write_all(data).map_err(io)?;
        enc.finish().map_err(io)?
    } else {
        let mut file = file;
        file.write_all(head).map_err(io)?;
        file.write_all(data).map_err(io)?;
        file
    };
    file.into_inner()
        .map_err(|e| Error::io(tmp, e.into_error()))?
        .sync_all()
        .map_err(io)
}
