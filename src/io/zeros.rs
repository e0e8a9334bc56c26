//! A zero matrix whose pages are first touched by every thread.
//!
//! `Mat::zeros` writes its zeros on the calling thread, so that thread alone takes the page
//! faults of a fresh allocation (about one per 4 KiB page; 15 000 for MNIST's 784 × 10 000 test
//! set, ~9 % of `analyze`'s CPU on this project's machines). Here the columns are zeroed in
//! parallel chunks, so the faults are shared among rayon's threads. The block is taken from the
//! allocator unzeroed ([`super::unzeroed`]): [`super::PaddingZeroing`] would otherwise
//! zero it first on the calling thread, with every fault, and the parallel pass would write
//! each page a second time (forty-first session: 5.8 % of `analyze`'s CPU samples under
//! `par_zeros`, 4.8 of them inside the allocator). Each task faults its chunk's pages in with
//! one call ([`populate`]) before it writes them, instead of one fault per page: `analyze` of
//! the 784-100-100-10 network on MNIST, whose ten 784 × 784 class sums are fresh pages, spent
//! 2.8 ms (5 %) less in its forward pass and statistics (forty-sixth session). The padding rows
//! below each column are zeroed here as well, as the allocator would have (faer's GEMM reads
//! them).

use faer::Mat;

/// A float whose all-zero bit pattern is its 0.0 (IEEE 754 binary32 and binary64), so that
/// [`par_zeros`] may write zero bytes.
pub trait ZeroBits: Copy + Send + Sync + 'static {
    /// 0.0, whose bits are all zero.
    const ZERO: Self;
}

impl ZeroBits for f64 {
    const ZERO: Self = 0.0;
}
impl ZeroBits for f32 {
    const ZERO: Self = 0.0;
}
use rayon::prelude::*;

/// Columns zeroed per task: 64 columns of 784 values are 400 KB, a hundred pages, populated by
/// one call.
const COLUMNS_PER_TASK: usize = 64;

/// A `rows` × `cols` matrix of zeros (as `Mat::zeros`), its columns written in parallel,
/// padding rows included: every byte of the block is written once, by the pool's threads, each
/// task's pages faulted in first by one `MADV_POPULATE_WRITE`.
pub fn par_zeros<T: ZeroBits>(rows: usize, cols: usize) -> Mat<T> {
    // SAFETY: the writer writes nothing.
    unsafe { fresh::<T, PARALLEL>(rows, cols, Start::Zeros, |_, _| {}) }
}

/// [`par_zeros`] with each column then handed to `column(j, values)` (its `rows` values, zero)
/// in the task that zeroed it, while it is in cache: for a matrix mostly of zeros whose other
/// entries are scattered into it column by column (the surrogates' low-rank factors: 784 × ~550,
/// ~3.4 MB, zeroed by the pool and then scattered into on one thread took a second pass over
/// the block, eleven per `analyze`).
pub fn par_zeros_then<T: ZeroBits>(
    rows: usize,
    cols: usize,
    column: impl Fn(usize, &mut [T]) + Sync,
) -> Mat<T> {
    // SAFETY: column j's `rows` values from `col` are zeros already (`Start::Zeros`), lent to
    // `column` alone, which may overwrite them and nothing else.
    unsafe {
        fresh::<T, PARALLEL>(rows, cols, Start::Zeros, |j, col: *mut T| {
            column(j, std::slice::from_raw_parts_mut(col, rows))
        })
    }
}

/// A copy of `src` (as `Mat::clone`), its columns copied in parallel chunks as [`par_zeros`]
/// zeroes them, padding rows zeroed: the pool's threads take the fresh block's page faults
/// together, where `clone` takes them one by one on the calling thread (training's snapshot
/// of the weights before its first epoch, `net::stalled`: 14 MB for 784-1000-1000-10).
pub fn par_clone<T: ZeroBits>(src: &Mat<T>) -> Mat<T> {
    copy_columns::<T, PARALLEL>(src.as_ref())
}

/// Shapes `m` as `rows` × `cols` for a caller that then overwrites every entry (the values it
/// holds in between are unspecified: zeros or earlier ones). In place where its block already
/// holds that shape (the rows within its column stride, the columns within its present ones:
/// nothing allocated, the pages already there), else as a fresh [`par_zeros`]: faer's
/// `resize_with` would grow the block by a copy and zero it on the calling thread alone, with
/// every page fault of the fresh block (`propagate` of a 784-1000-1000-10 relu network on
/// MNIST: 113 000 of its 244 000 faults, in the affine map's and the closures' outputs, taken
/// one by one on one thread; forty-sixth session). Blocks under 256 KiB are reshaped by
/// `resize_with` as before: their few pages are not worth the pool's tasks.
pub fn resize_for_overwrite<T: ZeroBits>(m: &mut Mat<T>, rows: usize, cols: usize) {
    if m.nrows() == rows && m.ncols() == cols {
        return;
    }
    let in_place = rows <= m.col_stride().max(0) as usize && cols <= m.ncols();
    let small = rows
        .saturating_mul(cols)
        .saturating_mul(std::mem::size_of::<T>())
        < PARALLEL_BYTES;
    if in_place || small {
        m.resize_with(rows, cols, |_, _| T::ZERO);
    } else {
        *m = par_zeros(rows, cols);
    }
}

/// A `rows` × `cols` matrix with entry (i, j) = `f(i, j)` (as `Mat::from_fn`), each byte of its
/// block written once, on the calling thread (the block taken unzeroed, its padding rows
/// zeroed here). `Mat::from_fn` has the allocator zero the whole block first and then writes
/// every entry a second time; in the factored order 3's carry, whose n × n and n × R products
/// are allocated per layer, that zeroing was 9 % of the CPU samples at relu n = 64, L = 8
/// (BENCHMARKS.md, sixty-first session, perf61). `f` runs outside the unzeroed scope: what it
/// allocates is zeroed as usual.
pub fn filled<T: ZeroBits>(
    rows: usize,
    cols: usize,
    f: impl Fn(usize, usize) -> T + Sync,
) -> Mat<T> {
    // SAFETY: each call writes the `rows` values of column j from `col`.
    unsafe {
        fresh::<T, SERIAL>(rows, cols, Start::Unwritten, |j, col: *mut T| {
            for i in 0..rows {
                col.add(i).write(f(i, j));
            }
        })
    }
}

/// A `rows` × `cols` matrix of zeros (as `Mat::zeros`), its block written once by one
/// `write_bytes` (padding rows included) instead of zeroed by the allocator and then written
/// entry by entry.
pub fn zeroed<T: ZeroBits>(rows: usize, cols: usize) -> Mat<T> {
    // SAFETY: the writer writes nothing.
    unsafe { fresh::<T, SERIAL>(rows, cols, Start::Zeros, |_, _| {}) }
}

/// A copy of `x` (as `to_owned`), each byte written once (as [`filled`]): a column that is
/// contiguous in `x` is copied as a slice.
pub fn copied<T: ZeroBits>(x: faer::MatRef<'_, T>) -> Mat<T> {
    if x.row_stride() != 1 {
        return filled(x.nrows(), x.ncols(), |i, j| x[(i, j)]);
    }
    copy_columns::<T, SERIAL>(x)
}

/// A copy of `x`, whose columns are contiguous (row stride 1), by [`fresh`] in the pool's
/// tasks or not (`IN_POOL`).
fn copy_columns<T: ZeroBits, const IN_POOL: bool>(x: faer::MatRef<'_, T>) -> Mat<T> {
    debug_assert_eq!(x.row_stride(), 1);
    let rows = x.nrows();
    // SAFETY: column j of `x` holds `rows` contiguous values (row stride 1: an owned matrix's
    // always, `copied` checks it), read only, and each call copies them to `col`.
    unsafe {
        fresh::<T, IN_POOL>(rows, x.ncols(), Start::Unwritten, |j, col: *mut T| {
            std::ptr::copy_nonoverlapping(x.col(j).as_ptr(), col, rows)
        })
    }
}

/// [`fresh`]'s columns written as one task of every column on the calling thread, its pages
/// faulted in by its writes (the small per-layer products of `propagate`'s higher orders).
const SERIAL: bool = false;

/// [`fresh`]'s columns written in tasks of [`COLUMNS_PER_TASK`] columns on rayon's pool, each
/// task's pages faulted in first by one [`populate`]: the block's page faults shared by the
/// pool's threads.
const PARALLEL: bool = true;

/// What [`fresh`] writes into a column before its writer does.
#[derive(Clone, Copy)]
enum Start {
    /// Zeros: a task's columns, padding rows included, by one `write_bytes`; the writer may
    /// then overwrite some of a column's values.
    Zeros,
    /// Nothing: the writer writes each of the column's values, and its padding rows are then
    /// zeroed.
    Unwritten,
}

/// A fresh `rows` × `cols` block taken from the allocator unzeroed ([`super::unzeroed`]), each
/// of its bytes written once: column j's values by `write(j, col)` after [`Start`], and its
/// padding rows zeroed here, as [`super::PaddingZeroing`] would have (faer's GEMM reads them),
/// in one task ([`SERIAL`]) or in parallel ([`PARALLEL`]). `IN_POOL` is a constant of the
/// instance, so that a serial one holds no pool code: through it `write` would escape, and
/// what `write` reads be reloaded after each of its stores (a serial flag at run time cost
/// `fac3_loop` 6 % more instructions). If `write` panics, the block is freed still 0 × 0 (in
/// parallel, once the other tasks have returned or panicked too) and the panic goes on: no
/// matrix with unwritten entries is ever returned.
///
/// # Safety
/// `write(j, col)` must write (`Start::Unwritten`) or may overwrite (`Start::Zeros`) the `rows`
/// values of column j from `col`, and nothing else.
unsafe fn fresh<T: ZeroBits, const IN_POOL: bool>(
    rows: usize,
    cols: usize,
    start: Start,
    write: impl Fn(usize, *mut T) + Sync,
) -> Mat<T> {
    let mut m = super::unzeroed(|| Mat::<T>::with_capacity(rows, cols));
    // An owned matrix's column stride is its row capacity (rows rounded up to whole cache
    // lines), whatever its dimensions; a fresh one's block holds `cols` such columns.
    let stride = m.col_stride().max(0) as usize;
    let base = Shared(m.as_ptr_mut());
    // Writes columns first … first + count − 1 (≤ cols): count·stride values from
    // first·stride, inside the block, the values of each column and then its padding rows.
    let task = |first: usize, count: usize| {
        // SAFETY: the task's columns lie inside the block reserved above (rows ≤ stride), and
        // no other task writes them; `write` keeps to column j's `rows` values (the caller's
        // promise), after which the padding rows are zeroed (all-zero bits are T's 0.0,
        // `ZeroBits`) unless the chunk's write of zeros covered them.
        unsafe {
            let chunk = base.get().add(first * stride);
            if IN_POOL {
                populate(chunk.cast(), count * stride * std::mem::size_of::<T>());
            }
            if let Start::Zeros = start {
                std::ptr::write_bytes(chunk, 0, count * stride);
            }
            for k in 0..count {
                let col = chunk.add(k * stride);
                write(first + k, col);
                if let Start::Unwritten = start {
                    std::ptr::write_bytes(col.add(rows), 0, stride - rows);
                }
            }
        }
    };
    if IN_POOL {
        (0..cols.div_ceil(COLUMNS_PER_TASK))
            .into_par_iter()
            .for_each(|t| {
                let first = t * COLUMNS_PER_TASK;
                task(first, (cols - first).min(COLUMNS_PER_TASK))
            })
    } else {
        task(0, cols)
    }
    // SAFETY: rows ≤ row capacity and cols ≤ column capacity (reserved above), and every entry
    // now in bounds was written just above.
    unsafe { m.set_dims(rows, cols) };
    m
}

/// The block size from which [`resize_for_overwrite`] zeroes a fresh block in parallel: 64
/// pages.
const PARALLEL_BYTES: usize = 256 << 10;

/// The least whole pages a task of [`par_zeros`] populates in one call: below it the call costs
/// about what the faults it saves do.
const POPULATE_PAGES: usize = 16;

/// Faults in the whole pages of `len` bytes from `ptr` in one call (Linux ≥ 5.14's
/// `MADV_POPULATE_WRITE`), where first touches would take a fault each: 100 MB of fresh pages
/// took 21.7 instead of 30.4 ms here (forty-sixth session). A hint: pages already there are
/// left as they are, and a kernel without it refuses it harmlessly.
///
/// # Safety
/// `ptr … ptr + len` lies inside one allocation of this process.
unsafe fn populate(ptr: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize + len) / PAGE * PAGE;
        if end >= start + POPULATE_PAGES * PAGE {
            // SAFETY: the range lies inside the caller's allocation, and populating it only
            // faults in pages that a write there would fault in anyway.
            unsafe {
                libc::madvise(
                    start as *mut libc::c_void,
                    end - start,
                    libc::MADV_POPULATE_WRITE,
                )
            };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

/// The matrix pointer shared by the tasks of [`fresh`] (through a method, so that closures
/// capture the wrapper, not the raw pointer).
struct Shared<T>(*mut T);

impl<T> Shared<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: the tasks of `fresh` write disjoint columns.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapes the empty ones, single entries, odd and wide ones, and more columns than a
    /// task's [`COLUMNS_PER_TASK`].
    const SHAPES: [(usize, usize); 7] = [
        (0, 0),
        (0, 5),
        (5, 0),
        (1, 1),
        (7, 3),
        (784, 300),
        (13, 1000),
    ];

    /// Every shape, the empty ones included, is all zeros with the dimensions asked for, and
    /// a column's slice covers exactly its rows.
    #[test]
    fn par_zeros_is_zeros() {
        for (r, c) in SHAPES {
            let m = par_zeros::<f64>(r, c);
            assert_eq!((m.nrows(), m.ncols()), (r, c));
            assert!((0..c).all(|j| m.col_as_slice(j).len() == r));
            assert!((0..c).all(|j| m.col_as_slice(j).iter().all(|v| v.to_bits() == 0)));
            let m = par_zeros::<f32>(r, c);
            assert_eq!((m.nrows(), m.ncols()), (r, c));
            assert!((0..c).all(|j| m.col_as_slice(j).iter().all(|v| v.to_bits() == 0)));
        }
    }

    /// Every shape, the empty ones included, holds what each column's call wrote over its
    /// zeros, and zeros elsewhere, padding rows included.
    #[test]
    fn par_zeros_then_fills_over_zeros() {
        for (r, c) in SHAPES {
            let m = par_zeros_then::<f64>(r, c, |j, col| {
                assert!(col.iter().all(|v| v.to_bits() == 0));
                if let Some(v) = col.get_mut(j % r.max(1)) {
                    *v = j as f64 + 0.5;
                }
            });
            assert_eq!((m.nrows(), m.ncols()), (r, c));
            for j in 0..c {
                let col = m.col_as_slice(j);
                assert_eq!(col.len(), r);
                for (i, v) in col.iter().enumerate() {
                    let want = if i == j % r.max(1) {
                        j as f64 + 0.5
                    } else {
                        0.0
                    };
                    assert_eq!(v.to_bits(), want.to_bits(), "({i}, {j}) of {r} × {c}");
                }
            }
            let stride = m.col_stride() as usize;
            // SAFETY: an owned block of `c` columns of `stride` values.
            let all = unsafe { std::slice::from_raw_parts(m.as_ptr(), stride * c) };
            for j in 0..c {
                assert!(all[j * stride + r..(j + 1) * stride]
                    .iter()
                    .all(|v| *v == 0.0));
            }
        }
    }

    /// The padding rows of `m` (below each column, up to its stride) as one slice per column.
    fn padding<T: ZeroBits>(m: &Mat<T>) -> Vec<&[T]> {
        let (r, stride) = (m.nrows(), m.col_stride() as usize);
        // SAFETY: an owned block of `ncols` columns of `stride` values.
        let all = unsafe { std::slice::from_raw_parts(m.as_ptr(), stride * m.ncols()) };
        (0..m.ncols())
            .map(|j| &all[j * stride + r..(j + 1) * stride])
            .collect()
    }

    /// [`filled`], [`zeroed`] and [`copied`] equal `Mat::from_fn`, `Mat::zeros` and
    /// `to_owned` bit for bit (signed zeros, NaN payloads, subnormals), a strided view's copy
    /// included, with zero padding rows on memory the heap recycles full of a subnormal (the
    /// test binary's allocator hands blocks out as they are, as `PaddingZeroing` does inside
    /// `unzeroed`; a larger block freed first, so that the aligned request is carved out of it).
    #[test]
    fn filled_zeroed_and_copied_write_values_and_zero_padding() {
        let specials = [-0.0, f64::from_bits(0x7ff8_dead_beef_0001), 5e-324, -1.5];
        let value = |i: usize, j: usize| match (i * 31 + j * 7) % 9 {
            k if k < 4 => specials[k],
            k => (i as f64 + 0.5) * (j as f64 - k as f64),
        };
        let same = |a: &Mat<f64>, b: &Mat<f64>| {
            (a.nrows(), a.ncols()) == (b.nrows(), b.ncols())
                && (0..a.ncols()).all(|j| {
                    (a.col_as_slice(j).iter().zip(b.col_as_slice(j)))
                        .all(|(x, y)| x.to_bits() == y.to_bits())
                })
        };
        let zero_padding = |m: &Mat<f64>| {
            padding(m)
                .iter()
                .all(|p| p.iter().all(|v| v.to_bits() == 0))
        };
        for (r, c) in SHAPES.into_iter().chain([(13, 100), (64, 9)]) {
            let want = Mat::<f64>::from_fn(r, c, value);
            let junk = vec![f64::from_bits(8); 2 * r.next_multiple_of(8) * c + 1024];
            drop(std::hint::black_box(junk));
            let got = filled(r, c, value);
            assert!(same(&got, &want), "filled {r} × {c}");
            assert!(zero_padding(&got), "filled's padding {r} × {c}");
            let junk = vec![f64::from_bits(8); 2 * r.next_multiple_of(8) * c + 1024];
            drop(std::hint::black_box(junk));
            let z = zeroed::<f64>(r, c);
            assert!(same(&z, &Mat::zeros(r, c)), "zeroed {r} × {c}");
            assert!(zero_padding(&z), "zeroed's padding {r} × {c}");
            let junk = vec![f64::from_bits(8); 2 * r.next_multiple_of(8) * c + 1024];
            drop(std::hint::black_box(junk));
            let got = copied(want.as_ref());
            assert!(same(&got, &want), "copied {r} × {c}");
            assert!(zero_padding(&got), "copied's padding {r} × {c}");
            let t = copied(want.transpose());
            assert!(
                same(&t, &want.transpose().to_owned()),
                "copied transpose {r} × {c}"
            );
            assert!(zero_padding(&t), "copied transpose's padding {r} × {c}");
            let f = filled::<f32>(r, c, |i, j| i as f32 - 2.0 * j as f32);
            assert!((0..c).all(|j| f.col_as_slice(j)
                == Mat::<f32>::from_fn(r, c, |i, j| i as f32 - 2.0 * j as f32).col_as_slice(j)));
        }
    }

    /// Every shape, the empty ones included, is copied bit for bit (signed zeros, NaN
    /// payloads, subnormals), as `clone` copies it.
    #[test]
    fn par_clone_is_clone() {
        for (r, c) in SHAPES {
            let specials = [-0.0, f64::from_bits(0x7ff8_dead_beef_0001), 5e-324, -1.5];
            let src = Mat::<f64>::from_fn(r, c, |i, j| match (i * 31 + j * 7) % 9 {
                k if k < 4 => specials[k],
                k => (i as f64 + 0.5) * (j as f64 - k as f64),
            });
            let m = par_clone(&src);
            assert_eq!((m.nrows(), m.ncols()), (r, c));
            assert!((0..c).all(|j| m.col_as_slice(j).len() == r));
            assert!((0..c).all(|j| m
                .col_as_slice(j)
                .iter()
                .zip(src.col_as_slice(j))
                .all(|(a, b)| a.to_bits() == b.to_bits())));
            let src = Mat::<f32>::from_fn(r, c, |i, j| (i as f32) - 2.0 * j as f32);
            let m = par_clone(&src);
            assert!((0..c).all(|j| m.col_as_slice(j) == src.col_as_slice(j)));
        }
    }

    /// A block that holds the shape is reshaped in place (the same allocation, nothing zeroed
    /// that need not be); one that does not is replaced by zeros of the shape, padding rows
    /// included; the shape asked for is the one held afterwards.
    #[test]
    fn resize_for_overwrite_keeps_a_block_that_holds_the_shape() {
        let mut m = Mat::<f64>::from_fn(300, 200, |i, j| (i + 301 * j) as f64 + 1.0);
        let block = m.as_ptr();
        resize_for_overwrite(&mut m, 120, 70);
        assert_eq!((m.nrows(), m.ncols()), (120, 70));
        assert_eq!(m.as_ptr(), block, "a shrink in place");
        assert_eq!(m[(119, 69)], (119 + 301 * 69) as f64 + 1.0);
        resize_for_overwrite(&mut m, 300, 70);
        assert_eq!((m.nrows(), m.ncols()), (300, 70));
        assert_eq!(
            m.as_ptr(),
            block,
            "rows within the stride, columns within the present ones"
        );
        resize_for_overwrite(&mut m, 450, 200);
        assert_eq!((m.nrows(), m.ncols()), (450, 200));
        let stride = m.col_stride() as usize;
        // SAFETY: a fresh block of 200 columns of `stride` values.
        let all = unsafe { std::slice::from_raw_parts(m.as_ptr(), stride * 200) };
        assert!(
            all.iter().all(|v| v.to_bits() == 0),
            "a grown block is zeros"
        );
        let mut e = Mat::<f32>::new();
        resize_for_overwrite(&mut e, 3, 4);
        assert_eq!((e.nrows(), e.ncols()), (3, 4));
        assert!((0..4).all(|j| e.col_as_slice(j).iter().all(|&v| v == 0.0)));
        resize_for_overwrite(&mut e, 0, 0);
        assert_eq!((e.nrows(), e.ncols()), (0, 0));
    }

    /// The padding rows below each column (up to the column stride, which faer's GEMM reads)
    /// are zero for each of the six writers, on memory the heap recycles full of garbage: the
    /// test binary's allocator is the system's, which, like `PaddingZeroing` inside `unzeroed`,
    /// hands blocks out as they are. A larger block filled with a subnormal is freed before each
    /// call, so that the aligned request is carved out of it (an exact-size freed block would
    /// not serve an aligned one); shapes under and over a task's [`COLUMNS_PER_TASK`] columns.
    #[test]
    fn every_writer_zeroes_the_padding_rows_of_recycled_memory() {
        for (r, c) in [(13_usize, 100_usize), (3, 7), (100, 50), (1, 200)] {
            let stride = r.next_multiple_of(8);
            let src = Mat::<f64>::from_fn(r, c, |i, j| (i + r * j) as f64 + 1.0);
            let writers: [(&str, &dyn Fn() -> Mat<f64>); 6] = [
                ("par_zeros", &|| par_zeros(r, c)),
                ("par_zeros_then", &|| {
                    par_zeros_then(r, c, |j, col| col[j % r] = 1.0)
                }),
                ("par_clone", &|| par_clone(&src)),
                ("filled", &|| filled(r, c, |i, j| src[(i, j)])),
                ("zeroed", &|| zeroed(r, c)),
                ("copied", &|| copied(src.as_ref())),
            ];
            for (name, write) in writers {
                let junk = vec![f64::from_bits(8); 2 * stride * c + 1024];
                drop(std::hint::black_box(junk));
                let m = write();
                assert_eq!(m.col_stride() as usize, stride, "{name}: padding rows");
                assert!(
                    padding(&m)
                        .iter()
                        .all(|p| p.iter().all(|v| v.to_bits() == 0)),
                    "a padding row of {name} {r} × {c} was not zeroed"
                );
            }
        }
    }
}
