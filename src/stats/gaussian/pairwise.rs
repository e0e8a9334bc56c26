//! The Bhattacharyya split of every pair of a set of Gaussians — the classes at one stage
//! (DESIGN.md §4.4) — with one ridge for the whole set.
//!
//! For classes c = 1 … K with covariances Σ_c the ridge is λ = ε · mean_c(tr Σ_c / N), added to
//! every Σ_c when any class, or the average Σ̄ = (Σ_a + Σ_b)/2 of any pair, has a failed plain
//! Cholesky factor or a pivot Lᵢᵢ² < λ (the rule of [`factor`](super::factor), applied to the
//! whole stage). Every pair then compares the same regularised Gaussians N(μ_c, Σ_c + λI), and
//! each class is factored once: K + K(K−1)/2 factorizations instead of 3 per pair, each on the
//! rows its matrices do not hold at zero (`support`: constant coordinates cost no O(N³) work).

use faer::{ColRef, MatRef, Par};
use rayon::prelude::*;

use super::divergence::Bhattacharyya;
use super::factor::{check_ridge, log_det, mean_variance, needs_ridge, unridged, variance_below};
use super::support::{finite_null_rows, lower_cholesky_on, mahalanobis_sq_on, support};
use crate::error::{Error, Result};
use crate::linalg::{class_split, with_work};
use crate::stats::Runs;
use crate::timing::flops;

/// The split of every pair (a, b), a < b, in the order (0,1), (0,2), …, (K−2,K−1), and the ridge
/// λ added to every covariance (0 when none was needed; then `pairs[k].jitter` is 0 too).
#[derive(Clone, Debug, PartialEq)]
pub struct PairwiseSplit {
    pub pairs: Vec<(usize, usize, Bhattacharyya)>,
    pub jitter: f64,
    /// Flops of the factors and solves that gave `pairs` (the plain attempt, when dropped for
    /// the ridge, not counted): per factor of m rows (its support) m³/3, per pair also 2m².
    pub flops: f64,
}

/// The Bhattacharyya split of every pair of `classes` (mean, covariance), see the module docs;
/// `ridge` is the relative ridge ε (0: never added, a singular covariance is an error).
pub fn pairwise_bhattacharyya(
    classes: &[(ColRef<'_, f64>, MatRef<'_, f64>)],
    ridge: f64,
) -> Result<PairwiseSplit> {
    let null = check(classes, ridge)?;
    let covs: Vec<MatRef<'_, f64>> = classes.iter().map(|&(_, s)| s).collect();
    let mean_var = mean_variance(&covs);
    let lambda = ridge * mean_var;
    let pivots_pass = |l: MatRef<'_, f64>| !needs_ridge(Some(l), ridge, lambda);
    // A class variance below λ rejects its plain factor anyway: straight to the ridge.
    if !variance_below(&covs, lambda) {
        if let Some(split) = split_all(classes, &null, 0.0, &pivots_pass) {
            return Ok(split);
        }
    }
    if lambda <= 0.0 {
        return Err(unridged("a class covariance", ridge, mean_var));
    }
    split_all(classes, &null, lambda, &|_| true).ok_or_else(|| {
        Error::Numeric(format!(
            "a class covariance is not positive definite even with the ridge λ = {lambda:e} \
             (= {ridge:e} × mean variance) added to its diagonal; raise the ridge (--ridge)"
        ))
    })
}

/// Every pair's split with λ added to every covariance (and reported as its jitter), with the
/// flops of its factors and solves, or `None` as soon as a Cholesky factor fails or is not
/// `accept`ed (classes and pairs in parallel; `null`: each class's null rows, from [`check`]). Each factor is formed in its thread's work
/// matrix ([`with_work`]) on the support of its matrix — the rows not identically zero in
/// every class it averages ([`support`](super::support): exact, the rest of the factor is
/// √λ I) — and only its diagonal and lower triangle are read (log det, pivots, the
/// Mahalanobis solve), so no factor is kept or zeroed above its diagonal. Without a ridge a
/// zero row is a zero pivot: the factor fails there.
fn split_all(
    classes: &[(ColRef<'_, f64>, MatRef<'_, f64>)],
    null: &[Vec<bool>],
    lambda: f64,
    accept: &(dyn Fn(MatRef<'_, f64>) -> bool + Sync),
) -> Option<PairwiseSplit> {
    // Classes, then pairs, side by side: each factorisation sequential once the tasks fill the
    // pool (nested parallel factorisations of 45 pairs slowed 16 threads below 8).
    let n = classes.first().map_or(0, |c| c.1.nrows());
    if lambda <= 0.0 && null.iter().flatten().any(|&z| z) {
        return None;
    }
    let (_, class_par) = class_split(classes.len());
    // Per class: ln det of the support's factor and the support's size.
    let classes_factored: Vec<(f64, usize)> = classes
        .par_iter()
        .zip(null)
        .map(|(&(_, s), z)| {
            let support = support(n, |i| z[i]);
            factored(n, &[(1.0, s)], &support, (lambda, class_par), accept, |l| {
                (log_det(l), l.nrows())
            })
        })
        .collect::<Option<_>>()?;
    let k = classes.len();
    let pairs: Vec<(usize, usize)> = (0..k)
        .flat_map(|a| (a + 1..k).map(move |b| (a, b)))
        .collect();
    let (_, par) = class_split(pairs.len());
    let split: Vec<((usize, usize, Bhattacharyya), usize)> = pairs
        .into_par_iter()
        .map(|(a, b)| {
            let support = support(n, |i| null[a][i] && null[b][i]);
            let ((ma, sa), (mb, sb)) = (classes[a], classes[b]);
            let parts = [(0.5, sa), (0.5, sb)];
            factored(n, &parts, &support, (lambda, par), accept, |lbar| {
                let m = lbar.nrows();
                let ((da, rows_a), (db, rows_b)) = (classes_factored[a], classes_factored[b]);
                // ln det Σ̄ − ½(ln det Σ_a + ln det Σ_b) with each ln det = ln det of its
                // support + (zero rows) · ln λ: the ln λ terms taken together, exactly.
                let (za, zb) = (n - rows_a, n - rows_b);
                let zeros = ((n - m) as f64 - 0.5 * (za + zb) as f64) * lambda.ln();
                let zeros = if za + zb > 0 { zeros } else { 0.0 };
                let d = Bhattacharyya {
                    mean_term: 0.125 * mahalanobis_sq_on(lbar, (ma, mb), &support, lambda, par),
                    cov_term: 0.5 * (log_det(lbar) - 0.5 * (da + db) + zeros),
                    jitter: lambda,
                };
                ((a, b, d), m)
            })
        })
        .collect::<Option<_>>()?;
    // Per factor of m rows: the Cholesky flops; per pair also the average and the solve (m²).
    let flops = classes_factored
        .iter()
        .map(|&(_, m)| flops::cholesky(m))
        .chain(
            split
                .iter()
                .map(|&(_, m)| flops::cholesky(m) + 2.0 * (m * m) as f64),
        )
        .sum();
    Some(PairwiseSplit {
        pairs: split.into_iter().map(|(p, _)| p).collect(),
        jitter: lambda,
        flops,
    })
}

/// `then` of the lower Cholesky factor of (Σₖ wₖ Cₖ)\[S, S\] + λI on `support` S (formed in
/// this thread's work matrix, [`with_work`], on `par`), or `None` when it fails or is not
/// `accept`ed.
fn factored<R>(
    n: usize,
    parts: &[(f64, MatRef<'_, f64>)],
    support: &Runs,
    (lambda, par): (f64, Par),
    accept: &(dyn Fn(MatRef<'_, f64>) -> bool + Sync),
    then: impl FnOnce(MatRef<'_, f64>) -> R,
) -> Option<R> {
    with_work(n, n, |l| {
        if !lower_cholesky_on(l.as_mut(), parts, support, lambda, par) {
            return None;
        }
        let m = support.len();
        let l = l.as_ref().submatrix(0, 0, m, m);
        accept(l).then(|| then(l))
    })
}

/// Refuses a class whose mean or covariance has another dimension than class 0's, or a
/// non-finite entry (naming the first such class), else returns each class's null rows
/// ([`finite_null_rows`]: the same pass over its covariance; classes in parallel).
fn check(classes: &[(ColRef<'_, f64>, MatRef<'_, f64>)], ridge: f64) -> Result<Vec<Vec<bool>>> {
    check_ridge(ridge)?;
    let Some(&(m0, _)) = classes.first() else {
        return Err(Error::Shape("pairwise Bhattacharyya of no classes".into()));
    };
    let n = m0.nrows();
    let checked: Vec<Result<Vec<bool>>> = classes
        .par_iter()
        .enumerate()
        .map(|(c, (m, s))| {
            if m.nrows() != n || s.nrows() != n || s.ncols() != n {
                return Err(Error::Shape(format!(
                    "class {c} has a mean of length {} and a {}×{} covariance, class 0 has \
                     dimension {n}",
                    m.nrows(),
                    s.nrows(),
                    s.ncols()
                )));
            }
            // Column by column, on SIMD lanes where the columns are contiguous (a class's
            // covariance).
            let null = m
                .iter()
                .all(|v| v.is_finite())
                .then(|| finite_null_rows(*s));
            null.flatten().ok_or_else(|| {
                Error::Numeric(format!(
                    "class {c} has non-finite entries in its mean or covariance"
                ))
            })
        })
        .collect();
    checked.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};

    use super::*;

    /// A non-finite entry anywhere in a class covariance is refused naming the class, in its
    /// strict upper triangle (which no factor reads) and lower triangle alike, in a column-major
    /// covariance (scanned on SIMD lanes) and in a transposed, strided view of it (entry by
    /// entry); finite classes pass.
    #[test]
    fn a_non_finite_covariance_entry_is_refused() {
        let n = 9;
        let spd = |i: usize, j: usize| if i == j { 2.0 } else { 0.0 };
        let mean = Col::<f64>::zeros(n);
        let good = Mat::from_fn(n, n, spd);
        let ok = [
            (mean.as_ref(), good.as_ref()),
            (mean.as_ref(), good.as_ref()),
        ];
        assert!(check(&ok, 1e-6).is_ok());
        for bad in [f64::NAN, f64::INFINITY] {
            for (i, j) in [(0, 8), (8, 0), (4, 4), (7, 3)] {
                let cov = Mat::from_fn(n, n, |a, b| if (a, b) == (i, j) { bad } else { spd(a, b) });
                for view in [cov.as_ref(), cov.transpose()] {
                    let classes = [(mean.as_ref(), good.as_ref()), (mean.as_ref(), view)];
                    let e = check(&classes, 1e-6).unwrap_err().to_string();
                    assert!(
                        e.contains("class 1 has non-finite"),
                        "({i}, {j}) {bad}: {e}"
                    );
                }
            }
        }
    }
}
