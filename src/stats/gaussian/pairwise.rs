//! The Bhattacharyya split of every pair of a set of Gaussians — the classes at one stage
//! (DESIGN.md §4.4) — with one ridge for the whole set.
//!
//! For classes c = 1 … K with covariances Σ_c the ridge is λ = ε · mean_c(tr Σ_c / N), added to
//! every Σ_c when any class, or the average Σ̄ = (Σ_a + Σ_b)/2 of any pair, has a failed plain
//! Cholesky factor or a pivot Lᵢᵢ² < λ (the rule of [`factor`](super::factor), applied to the
//! whole stage). Every pair then compares the same regularised Gaussians N(μ_c, Σ_c + λI), and
//! each class is factored once: K + K(K−1)/2 factorizations instead of 3 per pair.

use faer::{ColRef, Mat, MatRef};
use rayon::prelude::*;

use super::divergence::{mahalanobis_sq_with, Bhattacharyya};
use super::factor::{
    check_ridge, log_det, lower_cholesky_of_sum, mean_variance, needs_ridge, unridged,
    variance_below,
};
use crate::error::{Error, Result};
use crate::linalg::{class_split, with_work};

/// The split of every pair (a, b), a < b, in the order (0,1), (0,2), …, (K−2,K−1), and the ridge
/// λ added to every covariance (0 when none was needed; then `pairs[k].jitter` is 0 too).
#[derive(Clone, Debug, PartialEq)]
pub struct PairwiseSplit {
    pub pairs: Vec<(usize, usize, Bhattacharyya)>,
    pub jitter: f64,
}

/// The Bhattacharyya split of every pair of `classes` (mean, covariance), see the module docs;
/// `ridge` is the relative ridge ε (0: never added, a singular covariance is an error).
pub fn pairwise_bhattacharyya(
    classes: &[(ColRef<'_, f64>, MatRef<'_, f64>)],
    ridge: f64,
) -> Result<PairwiseSplit> {
    check(classes, ridge)?;
    let covs: Vec<MatRef<'_, f64>> = classes.iter().map(|&(_, s)| s).collect();
    let mean_var = mean_variance(&covs);
    let lambda = ridge * mean_var;
    let pivots_pass = |l: &Mat<f64>| !needs_ridge(Some(l), ridge, lambda);
    // A class variance below λ rejects its plain factor anyway: straight to the ridge.
    if !variance_below(&covs, lambda) {
        if let Some(pairs) = split_all(classes, 0.0, &pivots_pass) {
            return Ok(PairwiseSplit { pairs, jitter: 0.0 });
        }
    }
    if lambda <= 0.0 {
        return Err(unridged("a class covariance", ridge, mean_var));
    }
    let pairs = split_all(classes, lambda, &|_| true).ok_or_else(|| {
        Error::Numeric(format!(
            "a class covariance is not positive definite even with the ridge λ = {lambda:e} \
             (= {ridge} × mean variance) added to its diagonal"
        ))
    })?;
    Ok(PairwiseSplit {
        pairs,
        jitter: lambda,
    })
}

/// Every pair's split with λ added to every covariance (and reported as its jitter), or `None`
/// as soon as a Cholesky factor fails or is not `accept`ed (classes and pairs in parallel).
/// Each factor is formed in its thread's work matrix ([`with_work`]) and only its diagonal and
/// lower triangle are read (log det, pivots, the Mahalanobis solve), so no factor is kept or
/// zeroed above its diagonal.
fn split_all(
    classes: &[(ColRef<'_, f64>, MatRef<'_, f64>)],
    lambda: f64,
    accept: &(dyn Fn(&Mat<f64>) -> bool + Sync),
) -> Option<Vec<(usize, usize, Bhattacharyya)>> {
    // Classes, then pairs, side by side: each factorisation sequential once the tasks fill the
    // pool (nested parallel factorisations of 45 pairs slowed 16 threads below 8).
    let n = classes.first().map_or(0, |c| c.1.nrows());
    let (_, class_par) = class_split(classes.len());
    let log_dets: Vec<f64> = classes
        .par_iter()
        .map(|(_, s)| {
            with_work(n, n, |l| {
                (lower_cholesky_of_sum(l, &[(1.0, *s)], lambda, class_par) && accept(l))
                    .then(|| log_det(l))
            })
        })
        .collect::<Option<_>>()?;
    let k = classes.len();
    let pairs: Vec<(usize, usize)> = (0..k)
        .flat_map(|a| (a + 1..k).map(move |b| (a, b)))
        .collect();
    let (_, par) = class_split(pairs.len());
    pairs
        .into_par_iter()
        .map(|(a, b)| {
            with_work(n, n, |lbar| {
                let ((ma, sa), (mb, sb)) = (classes[a], classes[b]);
                let parts = [(0.5, sa), (0.5, sb)];
                if !(lower_cholesky_of_sum(lbar, &parts, lambda, par) && accept(lbar)) {
                    return None;
                }
                let lbar = &*lbar;
                Some((
                    a,
                    b,
                    Bhattacharyya {
                        mean_term: 0.125 * mahalanobis_sq_with(lbar, ma, mb, par),
                        cov_term: 0.5 * (log_det(lbar) - 0.5 * (log_dets[a] + log_dets[b])),
                        jitter: lambda,
                    },
                ))
            })
        })
        .collect()
}

fn check(classes: &[(ColRef<'_, f64>, MatRef<'_, f64>)], ridge: f64) -> Result<()> {
    check_ridge(ridge)?;
    let Some(&(m0, _)) = classes.first() else {
        return Err(Error::Shape("pairwise Bhattacharyya of no classes".into()));
    };
    let n = m0.nrows();
    for (c, (m, s)) in classes.iter().enumerate() {
        if m.nrows() != n || s.nrows() != n || s.ncols() != n {
            return Err(Error::Shape(format!(
                "class {c} has a mean of length {} and a {}×{} covariance, class 0 has \
                 dimension {n}",
                m.nrows(),
                s.nrows(),
                s.ncols()
            )));
        }
        let finite = m.iter().all(|v| v.is_finite())
            && (0..n).all(|j| s.col(j).iter().all(|v| v.is_finite()));
        if !finite {
            return Err(Error::Numeric(format!(
                "class {c} has non-finite entries in its mean or covariance"
            )));
        }
    }
    Ok(())
}
