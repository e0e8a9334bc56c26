//! How work shares the thread pool: independent per-class work side by side, and whole runs
//! on the pool's own threads.

use faer::Par;

/// Splits `items` independent tasks (classes) over the current rayon pool into groups of
/// consecutive items to run side by side: returns the group size (so `items.div_ceil(size)`
/// groups, at most one per thread) and the `Par` each group's kernels take. With at least as
/// many items as threads, one group per thread, each kernel on its own thread (`Par::Seq`:
/// faer's Cholesky and triangular products split poorly across many threads at N ≈ 1000, whole
/// classes side by side do not); with fewer, one item per group, each kernel parallel itself
/// (nested in the pool, so idle threads help).
pub fn class_split(items: usize) -> (usize, Par) {
    let threads = rayon::current_num_threads();
    if items >= threads {
        (items.div_ceil(threads), Par::Seq)
    } else {
        (1, Par::rayon(0))
    }
}

/// Runs `f` on a thread of rayon's pool: directly where the caller is one, otherwise handed to
/// the pool once. Called from any other thread (a program's main thread), every parallel
/// kernel of a run hands its work to the pool and blocks until it is done (rayon's cold path:
/// a mutex, a condition variable and two context switches per call), which on narrow networks
/// is a large share of the run: a Gaussian relu run of ARC's 64-wide, 8-layer network (one
/// thread) took 1.40 ms from the main thread and 0.97 ms on the pool (BENCHMARKS.md "Small
/// runs on the pool, tenth session"). The command-line front end runs each command this way
/// too.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From outside the pool `f` runs on one of its threads; on a pool thread, where it is.
    #[test]
    fn on_pool_runs_on_a_pool_thread() {
        assert_eq!(rayon::current_thread_index(), None);
        let outer = on_pool(rayon::current_thread_index);
        assert!(outer.is_some());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            let here = rayon::current_thread_index();
            assert_eq!(on_pool(rayon::current_thread_index), here);
        });
    }

    #[test]
    fn groups_never_exceed_items_or_threads() {
        for threads in [1, 2, 3, 16] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                for items in 0..20 {
                    let (size, par) = class_split(items);
                    let groups = items.div_ceil(size);
                    assert!(size >= 1 && groups <= threads && groups <= items);
                    assert_eq!(matches!(par, Par::Seq), items >= threads);
                }
            });
        }
    }
}
