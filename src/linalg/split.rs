//! How independent per-class work shares the thread pool.

use faer::Par;

/// Splits `items` independent tasks (classes) over the current rayon pool: returns the number of
/// groups to run side by side and the `Par` each group's kernels take. With at least as many
/// items as threads, one group per thread, each kernel on its own thread (`Par::Seq`: faer's
/// Cholesky and triangular products split poorly across many threads at N ≈ 1000, whole
/// classes side by side do not); with fewer, one group per item, each kernel parallel itself
/// (nested in the pool, so idle threads help).
pub fn class_split(items: usize) -> (usize, Par) {
    let threads = rayon::current_num_threads();
    if items >= threads {
        (threads, Par::Seq)
    } else {
        (items.max(1), Par::rayon(0))
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
                    let (groups, par) = class_split(items);
                    assert!(groups >= 1 && groups <= threads && groups <= items.max(1));
                    assert_eq!(matches!(par, Par::Seq), items >= threads);
                }
            });
        }
    }
}
