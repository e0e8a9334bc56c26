//! A work matrix kept per thread between calls: the d × d copies that in-place factorisations
//! overwrite (the class and pair Cholesky factors of the class information, the pivoted
//! Cholesky of the surrogates), which would otherwise each be a fresh allocation of d² values,
//! zeroed and page-faulted in (4.9 MB, 1 200 pages, at d = 784) only to be overwritten.

use std::cell::RefCell;

use faer::Mat;

thread_local! {
    /// The largest work matrix this thread has handed back.
    static WORK: RefCell<Mat<f64>> = const { RefCell::new(Mat::new()) };
}

/// Runs `f` on a `rows` × `cols` work matrix whose values are unspecified (`f` must write
/// every entry it reads), reusing this thread's kept matrix when it has exactly that shape, and
/// keeps the larger of the two afterwards. The kept matrix is taken out while `f` runs, so a
/// nested call on the same thread (a rayon task stolen inside `f`) gets a fresh one rather
/// than a borrow of the same buffer.
pub fn with_work<R>(rows: usize, cols: usize, f: impl FnOnce(&mut Mat<f64>) -> R) -> R {
    let kept = WORK.with(|w| std::mem::replace(&mut *w.borrow_mut(), Mat::new()));
    let (mut work, spare) = if (kept.nrows(), kept.ncols()) == (rows, cols) {
        (kept, None)
    } else {
        (Mat::zeros(rows, cols), Some(kept))
    };
    let out = f(&mut work);
    let back = match spare {
        Some(s) if s.nrows() * s.ncols() > rows * cols => s,
        _ => work,
    };
    WORK.with(|w| {
        let mut slot = w.borrow_mut();
        if back.nrows() * back.ncols() >= slot.nrows() * slot.ncols() {
            *slot = back;
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The second call with the same shape gets the first call's buffer back (its values
    /// still there), a smaller shape does not displace it, and a nested call gets its own.
    #[test]
    fn a_same_shaped_call_reuses_the_buffer_and_nesting_gets_its_own() {
        std::thread::spawn(|| {
            let first = with_work(5, 4, |m| {
                m[(4, 3)] = 7.0;
                m.as_ptr() as usize
            });
            with_work(2, 2, |m| assert_eq!((m.nrows(), m.ncols()), (2, 2)));
            let (second, seen, inner) = with_work(5, 4, |m| {
                let inner = with_work(5, 4, |n| n.as_ptr() as usize);
                (m.as_ptr() as usize, m[(4, 3)], inner)
            });
            assert_eq!((second, seen), (first, 7.0));
            assert_ne!(inner, first);
        })
        .join()
        .unwrap();
    }
}
