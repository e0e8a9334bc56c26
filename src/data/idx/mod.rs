//! IDX files of any element type and number of dimensions (unsigned bytes for MNIST), raw or
//! gzip-compressed, read by memory map.
//!
//! A raw file is mapped directly. A `.gz` file is inflated once into a cache file (see
//! [`default_cache_dir`]) which is then mapped. Every header is validated strictly; every failure
//! is an [`Error::Format`] (or [`Error::Io`]) naming the file and what was expected. Only regular
//! files are opened (a FIFO or device is refused at once), and nothing is read beyond what the
//! caller touches: the map is paged in on demand.

mod cache;
mod header;
mod write;

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::io::mapped::Mapped;

use super::array::{ArrayFile, Elem, Endian, Order};
use crate::io::{map_regular, open_regular, MemoryLimit};
use crate::{Error, Result};

pub use cache::{default_cache_dir, CACHE_ENV};
pub use header::dims_string;
pub use write::write_idx_u8;

/// An open, validated IDX file.
#[derive(Debug)]
pub struct IdxFile {
    path: PathBuf,
    elem: Elem,
    dims: Vec<usize>,
    data: Range<usize>,
    map: Mapped,
}

impl IdxFile {
    /// Opens `path` (gzip when its name ends in `.gz`), using [`default_cache_dir`] for inflated
    /// copies of gzip files and the default [`MemoryLimit`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_cache(path, &default_cache_dir())
    }

    /// [`open_limited`](Self::open_limited) with the default [`MemoryLimit`].
    pub fn open_with_cache(path: impl AsRef<Path>, cache_dir: &Path) -> Result<Self> {
        Self::open_limited(path, cache_dir, MemoryLimit::default())
    }

    /// Opens `path`, inflating a `.gz` file into `cache_dir` (see the `cache` module: a gzip file
    /// whose header declares more than `limit` is refused before it is inflated), and validates
    /// its header against its length.
    pub fn open_limited(
        path: impl AsRef<Path>,
        cache_dir: &Path,
        limit: MemoryLimit,
    ) -> Result<Self> {
        let path = path.as_ref();
        if is_gzip_name(path) {
            let c = cache::inflated(path, cache_dir, limit)?;
            return Ok(IdxFile {
                path: path.to_path_buf(),
                elem: c.header.elem,
                dims: c.header.dims,
                data: c.header.data_offset..c.idx_len,
                map: c.map,
            });
        }
        let file = open_regular(path)?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < 4 {
            // Too short for a magic number; also avoids mapping an empty file.
            return Err(Error::format(
                path,
                format!(
                    "IDX file too short: {len} bytes, expected at least the 4-byte magic number"
                ),
            ));
        }
        let map = map_regular(path, &file)?;
        let h = header::parse(path, &map)?;
        Ok(IdxFile {
            path: path.to_path_buf(),
            elem: h.elem,
            dims: h.dims,
            data: h.data_offset..map.len(),
            map,
        })
    }

    /// The file as given by the caller (the `.gz` path for gzip files).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Dimensions from the header, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The element type (big-endian in the file).
    pub fn elem(&self) -> Elem {
        self.elem
    }

    /// The bytes of all elements in row-major order (length = product of
    /// [`dims`](Self::dims) times the element size).
    pub fn data(&self) -> &[u8] {
        &self.map[self.data.clone()]
    }

    /// The file as a big-endian, row-major [`ArrayFile`].
    pub fn into_array(self) -> ArrayFile {
        ArrayFile::new(
            self.path,
            self.map,
            self.data,
            self.dims,
            (self.elem, Endian::Big),
            Order::C,
        )
    }
}

/// Refuses an IDX file of another element type than unsigned bytes for the MNIST reader.
fn require_u8(file: &IdxFile) -> Result<()> {
    if file.elem() == Elem::U8 {
        return Ok(());
    }
    Err(Error::format(
        file.path(),
        format!(
            "IDX element type {} ({:#04x}): task mnist reads unsigned bytes (0x08); read other types with --task data",
            file.elem(),
            header::code_of(file.elem()).unwrap_or(0)
        ),
    ))
}

/// True when the file name ends in `.gz`.
fn is_gzip_name(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// An IDX image file: a stack of `len` images of `rows × cols` bytes.
#[derive(Debug)]
pub struct IdxImages {
    file: IdxFile,
}

impl IdxImages {
    /// Opens an image file (see [`IdxFile::open_with_cache`]) and checks it (see
    /// [`from_file`](Self::from_file)).
    pub fn open(path: impl AsRef<Path>, cache_dir: &Path) -> Result<Self> {
        Self::from_file(IdxFile::open_with_cache(path, cache_dir)?)
    }

    /// Checks that an open IDX file holds unsigned bytes in 3 dimensions and images of at least
    /// one pixel.
    pub fn from_file(file: IdxFile) -> Result<Self> {
        require_u8(&file)?;
        if file.dims().len() != 3 {
            return Err(Error::format(
                file.path(),
                format!(
                    "an image file needs 3 dimensions (count × rows × columns), header has {} ({})",
                    file.dims().len(),
                    dims_string(file.dims())
                ),
            ));
        }
        if file.dims()[1] == 0 || file.dims()[2] == 0 {
            return Err(Error::format(
                file.path(),
                format!(
                    "images of {} pixels: rows and columns must be at least 1",
                    dims_string(&file.dims()[1..])
                ),
            ));
        }
        Ok(IdxImages { file })
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.file.dims()[0]
    }

    /// True when the file holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pixels per image, rows × columns.
    pub fn pixels(&self) -> usize {
        self.file.dims()[1] * self.file.dims()[2]
    }

    /// (rows, columns) of one image.
    pub fn shape(&self) -> (usize, usize) {
        (self.file.dims()[1], self.file.dims()[2])
    }

    /// The file, for reading as an [`ArrayFile`].
    pub fn into_file(self) -> IdxFile {
        self.file
    }

    /// The bytes of image `i` (row-major), or `None` when `i` is out of range.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let p = self.pixels();
        self.file.data().get(i * p..(i + 1) * p)
    }
}

/// An IDX label file: one byte per sample, each checked to be below `n_classes`.
#[derive(Debug)]
pub struct IdxLabels {
    file: IdxFile,
}

impl IdxLabels {
    /// Opens a label file (see [`IdxFile::open_with_cache`]) and checks it (see
    /// [`from_file`](Self::from_file)).
    pub fn open(path: impl AsRef<Path>, cache_dir: &Path, n_classes: usize) -> Result<Self> {
        Self::from_file(IdxFile::open_with_cache(path, cache_dir)?, n_classes)
    }

    /// Checks that an open IDX file holds unsigned bytes in 1 dimension and that every label is
    /// `< n_classes` (naming the first offending index and value).
    pub fn from_file(file: IdxFile, n_classes: usize) -> Result<Self> {
        require_u8(&file)?;
        if file.dims().len() != 1 {
            return Err(Error::format(
                file.path(),
                format!(
                    "a label file needs 1 dimension, header has {} ({})",
                    file.dims().len(),
                    dims_string(file.dims())
                ),
            ));
        }
        if let Some((i, &l)) = file
            .data()
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= n_classes)
        {
            return Err(Error::format(
                file.path(),
                format!(
                    "label {l} at index {i} out of range: expected 0..={} ({n_classes} classes)",
                    n_classes.saturating_sub(1)
                ),
            ));
        }
        Ok(IdxLabels { file })
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The file, for reading as an [`ArrayFile`].
    pub fn into_file(self) -> IdxFile {
        self.file
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        self.file.data()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.file.data().len()
    }

    /// True when the file holds no label.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks that an image file and a label file describe the same number of samples.
pub fn check_pair(images: &IdxImages, labels: &IdxLabels) -> Result<()> {
    if images.len() != labels.len() {
        return Err(Error::format(
            labels.path(),
            format!(
                "count mismatch: {} labels in {} but {} images in {}",
                labels.len(),
                labels.path().display(),
                images.len(),
                images.path().display()
            ),
        ));
    }
    Ok(())
}
