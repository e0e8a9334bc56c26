//! How independent per-class work shares the thread pool.

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

#[cfg(test)]
mod tests {
    use super::*;

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
