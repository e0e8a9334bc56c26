//! Arrays of samples from the files researchers have: NumPy `.npy`, safetensors tensors and IDX
//! files of any element type and number of dimensions, each memory-mapped and validated before
//! any element is read.
//!
//! An array of shape (N, d₁, …, dₖ) is N samples of d₁·…·dₖ values each, flattened in C order
//! (as NumPy's `x.reshape(N, -1)`), whatever the file's own order. Formats are recognised by
//! the name (`.npy`, `.safetensors`, `.gz` for gzip IDX) or, without one of those endings, by the
//! leading bytes (NumPy's magic, else IDX). `.npz` archives are not read: save each array with
//! `np.save` instead.

pub mod elem;
pub mod header;
mod npy;
mod tensor;

pub use tensor::refused as safetensors_refused;

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::io::mapped::Mapped;

pub use elem::{Elem, Endian};
/// The first bytes of every NumPy `.npy` file.
pub use npy::MAGIC as NPY_MAGIC;

use super::idx::{default_cache_dir, IdxFile};
use crate::io::{map_regular, open_regular, MemoryLimit};
use crate::{Error, Result};

/// Memory order of the elements of a multi-dimensional array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Row-major: the last index varies fastest.
    C,
    /// Column-major (NumPy's `fortran_order`): the first index varies fastest.
    Fortran,
}

/// An open, validated array: a memory map, where its elements lie in it, and their layout.
#[derive(Debug)]
pub struct ArrayFile {
    path: PathBuf,
    map: Mapped,
    data: Range<usize>,
    dims: Vec<usize>,
    elem: Elem,
    endian: Endian,
    /// Fortran order: element offset (in elements, sample 0) of each C-order feature index.
    fortran: Option<Vec<usize>>,
}

/// How to open an array file: the tensor name for safetensors files, the gzip cache folder and
/// the memory limit for IDX files.
#[derive(Clone, Debug)]
pub struct OpenOptions<'a> {
    pub tensor: &'a str,
    pub cache_dir: Option<&'a Path>,
    pub limit: MemoryLimit,
}

impl ArrayFile {
    /// An array over `map[data]` (whose length the caller has checked to be ∏ dims · size).
    pub(crate) fn new(
        path: PathBuf,
        map: Mapped,
        data: Range<usize>,
        dims: Vec<usize>,
        (elem, endian): (Elem, Endian),
        order: Order,
    ) -> Self {
        // A Fortran-order array of fewer than two dimensions lies as a C-order one (and
        // `fortran_offsets` needs a first dimension: a 0-d Fortran-order `.npy` panicked, adv62).
        let fortran = (order == Order::Fortran && dims.len() > 1).then(|| fortran_offsets(&dims));
        ArrayFile {
            path,
            map,
            data,
            dims,
            elem,
            endian,
            fortran,
        }
    }

    /// Opens `path` as the format its name or leading bytes say (see the module documentation).
    ///
    /// Errors name `path`: not a regular file, an unknown format, a header that does not parse,
    /// a data section shorter or longer than the header declares, an element type corrflow
    /// cannot read, a missing safetensors tensor (the names present are listed), no dimension.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let array = Self::open_any_rank(path, opts)?;
        if array.dims.is_empty() {
            return Err(Error::format(
                path,
                "a 0-dimensional array: expected samples along the first dimension, shape (N, …)",
            ));
        }
        Ok(array)
    }

    /// As [`open`](Self::open), a 0-dimensional array (one value) included: for a file that
    /// holds one vector, not samples ([`crate::data::preprocess::read_vector`]).
    pub fn open_any_rank(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let array = match ext {
            "gz" => IdxFile::open_limited(path, &cache_dir(opts), opts.limit)?.into_array(),
            "npz" => {
                return Err(Error::format(
                    path,
                    "NumPy .npz archives are not read: save each array with np.save as .npy",
                ))
            }
            "safetensors" => tensor::open(path, opts.tensor)?,
            "npy" => npy::open(path)?,
            _ => {
                let map = map_file(path)?;
                if map.starts_with(npy::MAGIC) {
                    npy::open(path)?
                } else if map.len() >= 4 && map[0] == 0 && map[1] == 0 {
                    IdxFile::open_limited(path, &cache_dir(opts), opts.limit)?.into_array()
                } else {
                    return Err(Error::format(
                        path,
                        "unknown array format: expected a NumPy .npy file, a .safetensors file or an IDX file (raw or .gz)",
                    ));
                }
            }
        };
        Ok(array)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shape, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The element type.
    pub fn elem(&self) -> Elem {
        self.elem
    }

    /// Number of samples N (the first dimension).
    pub fn len(&self) -> usize {
        self.dims[0]
    }

    /// True when the array holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per sample d₁·…·dₖ (1 for a one-dimensional array).
    pub fn row_len(&self) -> usize {
        self.dims[1..].iter().product()
    }

    /// The bytes of all elements, in the file's order.
    fn bytes(&self) -> &[u8] {
        &self.map[self.data.clone()]
    }

    /// Element offset of value `j` (C order) of sample `i`.
    fn offset(&self, i: usize, j: usize) -> usize {
        match &self.fortran {
            Some(f) => i + f[j],
            None => i * self.row_len() + j,
        }
    }

    /// The bytes of sample `i` when they are contiguous (C order), `None` otherwise or when `i`
    /// is out of range.
    pub fn row_bytes(&self, i: usize) -> Option<&[u8]> {
        let s = self.elem.size() * self.row_len();
        (self.fortran.is_none() && i < self.len()).then(|| &self.bytes()[i * s..(i + 1) * s])
    }

    /// Writes sample `i` as f64 into `dst` (length [`row_len`](Self::row_len)); `i` must be
    /// below [`len`](Self::len).
    pub fn row_f64(&self, i: usize, dst: &mut [f64]) {
        let (size, bytes) = (self.elem.size(), self.bytes());
        for (j, d) in dst.iter_mut().enumerate() {
            let k = self.offset(i, j) * size;
            *d = self.elem.to_f64(&bytes[k..k + size], self.endian);
        }
    }

    /// Every element as f64 in the file's order, which is C order for an array with at most
    /// one dimension longer than 1 (a vector, whatever its `fortran_order`), the only arrays
    /// [`crate::data::preprocess::read_vector`] reads.
    pub fn values_f64(&self) -> Vec<f64> {
        let size = self.elem.size();
        self.bytes()
            .chunks_exact(size)
            .map(|b| self.elem.to_f64(b, self.endian))
            .collect()
    }

    /// Value `j` of sample `i` as an integer; `None` for float arrays.
    pub fn int_at(&self, i: usize, j: usize) -> Option<i128> {
        let size = self.elem.size();
        let k = self.offset(i, j) * size;
        self.elem.to_i128(&self.bytes()[k..k + size], self.endian)
    }
}

/// The cache folder of `opts`, else [`default_cache_dir`].
fn cache_dir(opts: &OpenOptions) -> PathBuf {
    opts.cache_dir
        .map_or_else(default_cache_dir, Path::to_path_buf)
}

/// `path` (a regular file, else refused at once) mapped read-only; an empty file is an error.
pub(crate) fn map_file(path: &Path) -> Result<Mapped> {
    let file = open_regular(path)?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(Error::format(path, "empty file: expected an array file"));
    }
    map_regular(path, &file)
}

/// Checks that a data section of `actual` bytes holds exactly ∏ `dims` elements of `elem`.
pub(crate) fn check_data_len(path: &Path, dims: &[usize], elem: Elem, actual: usize) -> Result<()> {
    let expected = dims
        .iter()
        .try_fold(elem.size(), |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            Error::format(path, format!("shape {dims:?} overflows the address space"))
        })?;
    if actual != expected {
        return Err(Error::format(
            path,
            format!(
                "data {}: shape {dims:?} of {elem} needs {expected} bytes, the file has {actual}",
                size_fault(actual as u64, expected as u64)
            ),
        ));
    }
    Ok(())
}

/// "truncated" when `actual` < `expected` bytes, "trailing bytes" otherwise: the word of a
/// data section whose length disagrees with its header.
pub(crate) fn size_fault(actual: u64, expected: u64) -> &'static str {
    if actual < expected {
        "truncated"
    } else {
        "trailing bytes"
    }
}

/// For a Fortran-order array of shape (N, d₁, …, dₖ): the element offset of sample 0's value at
/// each C-order index of (d₁, …, dₖ), i.e. N·(r₁ + d₁·(r₂ + d₂·(…))).
fn fortran_offsets(dims: &[usize]) -> Vec<usize> {
    let rest = &dims[1..];
    let n: usize = rest.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; rest.len()];
    for _ in 0..n {
        let mut off = 0;
        for (k, &r) in idx.iter().enumerate().rev() {
            off = off * rest[k] + r;
        }
        out.push(dims[0] * off);
        for k in (0..rest.len()).rev() {
            idx[k] += 1;
            if idx[k] < rest[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fortran_offsets;

    #[test]
    fn fortran_offsets_follow_numpy() {
        // Shape (2, 2, 3) in Fortran order: element (i, a, b) sits at i + 2·(a + 2·b).
        let f = fortran_offsets(&[2, 2, 3]);
        let want: Vec<usize> = (0..2)
            .flat_map(|a| (0..3).map(move |b| 2 * (a + 2 * b)))
            .collect();
        assert_eq!(f, want);
    }
}
