//! Cholesky factors of a group of covariances with one shared, stated ridge.
//!
//! The ridge ε is relative: the jitter added to every diagonal is λ = ε · mean_k(tr Σ_k / N),
//! the average variance of the group times ε. It is added to *all* matrices of the group, and
//! only when one of them needs it: its plain Cholesky fails, or some pivot Lᵢᵢ² falls below λ
//! (a numerically singular direction whose log-determinant would be rounding noise). Using one λ
//! for the whole group keeps pairwise measures consistent: they compare N(μ₁, Σ₁ + λI) with
//! N(μ₂, Σ₂ + λI). With ε = 0 no ridge is ever added and a failed factorization is an error.

use faer::{Mat, MatRef, Par};

use super::support::lower_cholesky_on;
use crate::error::{Error, Result};
use crate::simd::column_finite;
use crate::stats::Runs;

/// The most buffers [`FactorBuffers`] keeps: a KL divergence hands back two, a group of two
/// whose plain factors were dropped for the ridge at most two more.
const KEPT_BUFFERS: usize = 4;

/// Square matrices handed back for reuse by the factorizations (`factor_group_in`): a factor
/// formed in one needs no fresh allocation, whose zeroing is an n × n memset and, for a large
/// matrix, a page fault per 4 KiB (0.18 of the comparison's 2.2 CPU seconds in `propagate`
/// 784-1000-1000-10). Each factor overwrites its buffer's lower triangle and zeroes its upper
/// one, so the factors are the same numbers whatever the buffers held. A caller that computes
/// many factorizations of one size in turn (the comparison's KL per stage and class) keeps one
/// per thread for the run of them; dropping it releases the buffers.
#[derive(Debug, Default)]
pub struct FactorBuffers(Vec<Mat<f64>>);

impl FactorBuffers {
    /// An n × n matrix, of any content: a kept one of that size, else a fresh one (zeroed in
    /// parallel, its pages faulted in a chunk at a time: [`crate::io::par_zeros`]).
    fn take(&mut self, n: usize) -> Mat<f64> {
        match self.0.iter().position(|m| m.nrows() == n && m.ncols() == n) {
            Some(i) => self.0.swap_remove(i),
            None => crate::io::par_zeros(n, n),
        }
    }

    /// Keeps `l` for reuse, up to [`KEPT_BUFFERS`] (the oldest is dropped beyond).
    pub(super) fn give(&mut self, l: Mat<f64>) {
        if l.nrows() == 0 {
            return;
        }
        if self.0.len() == KEPT_BUFFERS {
            self.0.remove(0);
        }
        self.0.push(l);
    }
}

/// Lower Cholesky factors of a group of covariances and the jitter λ that was added (0 if none).
pub(super) struct Factors {
    pub l: Vec<Mat<f64>>,
    pub jitter: f64,
}

/// 2 Σᵢ ln Lᵢᵢ = ln det Σ.
pub(super) fn log_det(l: MatRef<'_, f64>) -> f64 {
    2.0 * (0..l.nrows()).map(|i| l[(i, i)].ln()).sum::<f64>()
}

/// Why a group of covariances has no factors (`factor_group_in`): the error, and which
/// matrices of the group (by position) have no Cholesky factor even with the ridge λ > 0 added
/// (an eigenvalue below −λ: not a covariance). `indefinite` is empty where the failure is
/// another: non-finite entries, a ridge out of range, or λ = 0 (no ridge, or every variance 0),
/// where a failed factor does not tell an indefinite matrix from a singular one. The KL's
/// comparison reads it to mark a prediction that is not a covariance (`analysis::compare`).
#[derive(Debug)]
pub struct Unfactored {
    pub error: Error,
    pub indefinite: Vec<usize>,
}

impl From<Error> for Unfactored {
    fn from(error: Error) -> Self {
        Unfactored {
            error,
            indefinite: Vec::new(),
        }
    }
}

impl From<Unfactored> for Error {
    fn from(u: Unfactored) -> Self {
        u.error
    }
}

/// [`factor_group_in`] with fresh buffers.
pub(super) fn factor_group(
    covs: &[MatRef<'_, f64>],
    names: &[&str],
    ridge: (f64, bool),
    par: Par,
) -> Result<Factors> {
    Ok(factor_group_in(
        covs,
        names,
        ridge,
        par,
        &mut FactorBuffers::default(),
    )?)
}

/// Factors every matrix of `covs` (named `names` in errors), adding the shared ridge if needed;
/// the factorizations run with parallelism `par`, each in a buffer taken from `buffers`, to
/// which the plain factors dropped for the ridge are handed back. Where a matrix has no factor
/// even with the ridge, every matrix of the group is tried with it, and the error
/// ([`Unfactored`]) names the first and lists them all (only on that failure: one more
/// factorization per later matrix, the cost of asking each again).
///
/// The plain factors are tried in order and the first that asks for the ridge ends the attempt:
/// the group then needs the ridge whatever the later ones would give, so their O(N³) plain
/// factors would be thrown away (the same decision as factoring them all first). With
/// `singular` the caller knows that some matrix of the group is singular by construction (of
/// rank below N in exact arithmetic, e.g. a covariance of at most N samples): its plain
/// factor would meet a pivot that is rounding noise, below λ ([`needs_ridge`]), so with λ > 0
/// no plain factor is tried (the plain attempt of such a matrix runs until its first dependent
/// column, nearly the whole O(N³) factorization, only to be dropped).
pub(super) fn factor_group_in(
    covs: &[MatRef<'_, f64>],
    names: &[&str],
    (ridge, singular): (f64, bool),
    par: Par,
    buffers: &mut FactorBuffers,
) -> std::result::Result<Factors, Unfactored> {
    check_ridge(ridge)?;
    for (c, name) in covs.iter().zip(names) {
        // Contiguous columns on SIMD lanes (a 1000² covariance is 10⁶ entries per matrix).
        let finite = (0..c.ncols()).all(|j| column_finite(*c, j));
        if !finite {
            return Err(Error::Numeric(format!("covariance {name} has non-finite entries")).into());
        }
    }
    let mean_var = mean_variance(covs);
    let lambda = ridge * mean_var;
    // A variance below λ, or a matrix known to be singular, already decides for the ridge:
    // no plain factor is tried.
    let mut plain = Vec::with_capacity(covs.len());
    let mut first_failed = None;
    if !(variance_below(covs, lambda) || (singular && lambda > 0.0)) {
        for (k, c) in covs.iter().enumerate() {
            let l = cholesky_in(*c, 0.0, par, buffers);
            if needs_ridge(l.as_ref().map(Mat::as_ref), ridge, lambda) {
                first_failed = l.is_none().then_some(k);
                // A failed factor's buffer is back already; a factor with a pivot below λ is
                // dropped for the ridged one.
                if let Some(l) = l {
                    buffers.give(l);
                }
                break;
            }
            plain.extend(l);
        }
        if plain.len() == covs.len() {
            return Ok(Factors {
                l: plain,
                jitter: 0.0,
            });
        }
    }
    // The plain factors are handed back before the ridged ones are formed (in their buffers).
    for l in plain {
        buffers.give(l);
    }
    if lambda <= 0.0 {
        let bad = names[first_failed.unwrap_or(0)];
        return Err(unridged(&format!("covariance {bad}"), ridge, mean_var).into());
    }
    let mut l = Vec::with_capacity(covs.len());
    let mut indefinite = Vec::new();
    for (k, c) in covs.iter().enumerate() {
        match cholesky_in(*c, lambda, par, buffers) {
            Some(f) => l.push(f),
            None => indefinite.push(k),
        }
    }
    match indefinite.first() {
        None => Ok(Factors { l, jitter: lambda }),
        Some(&k) => {
            for f in l {
                buffers.give(f);
            }
            let name = names[k];
            Err(Unfactored {
                error: Error::Numeric(format!(
                    "covariance {name} is not positive definite even with the ridge \
                     λ = {lambda:e} (= {ridge:e} × mean variance) added to its diagonal; raise \
                     the ridge (--ridge)"
                )),
                indefinite,
            })
        }
    }
}

/// The error when `what` is not positive definite and the ridge λ = ε·(mean variance) cannot
/// make it so, with advice ([`ridge_advice`]) that never contradicts the settings: with ε = 0,
/// pass a ridge > 0; with ε > 0 and mean variance 0, every class of the group is constant —
/// degenerate in every direction — and no relative ridge exists; otherwise raise the ridge.
/// A mean variance ≤ 0 is said as such, not printed: the covariances' diagonals are ≥ 0 up to
/// rounding, so a negative mean is the rounding residue of zero covariances (adv28 printed
/// "mean variance = −1.7e-49" for data of 10⁻²⁰ through biases of 0.1).
pub(super) fn unridged(what: &str, ridge: f64, mean_var: f64) -> Error {
    let mean = if mean_var > 0.0 {
        // 4 significant digits: "7.478465597215772e-1" said no more (adv47).
        format!("mean variance = {mean_var:.3e}")
    } else {
        "no variance above rounding: the mean variance is not positive".to_string()
    };
    Error::Numeric(format!(
        "{what} is not positive definite and no ridge can help (ridge = {ridge:e}, {mean}); {}",
        ridge_advice(ridge, mean_var)
    ))
}

/// The relative ridge ε must lie in [0, [`MAX_RIDGE`]] (NaN and ∞ refused).
pub(super) fn check_ridge(ridge: f64) -> Result<()> {
    if (0.0..=MAX_RIDGE).contains(&ridge) {
        Ok(())
    } else {
        Err(Error::Numeric(format!("ridge {ridge:e}: {RIDGE_RANGE}")))
    }
}

/// The largest relative ridge ε (λ = ε · mean variance). Above it λ swamps the covariances: the
/// split then measures the ridge, and its covariance term, a difference of ln det's that each
/// hold n·ln λ, is rounding (at ε = 10³⁰⁰, 784 × ln λ ≈ 5·10⁵ left −1.3·10⁻¹¹ where the term is
/// ~10⁻³⁰⁰).
pub const MAX_RIDGE: f64 = 1.0;

/// What a relative ridge must be, for errors.
pub const RIDGE_RANGE: &str = "must be a number in [0, 1]: a fraction of the stage's mean \
    variance added to every class's diagonal; above 1 the ridge swamps the covariances and the \
    split measures the ridge";

/// What to do when no ridge λ = ridge · mean variance can make the covariances positive
/// definite: with ridge = 0, pass one; with mean variance 0 (every covariance zero, the stage
/// constant), no relative ridge can help and the stage has no split.
fn ridge_advice(ridge: f64, mean_var: f64) -> &'static str {
    if ridge <= 0.0 {
        "pass a ridge > 0 (--ridge)"
    } else if mean_var <= 0.0 {
        "the group is degenerate: every covariance is zero (the values are constant along every \
         direction), so no relative ridge can help"
    } else {
        "the mean variance is too small for the ridge to register; raise the ridge (--ridge)"
    }
}

/// mean_k(tr Σ_k / N): the average variance of a group of N×N covariances, the scale of λ.
pub fn mean_variance(covs: &[MatRef<'_, f64>]) -> f64 {
    let n = covs.first().map_or(0, |c| c.nrows()).max(1) as f64;
    covs.iter()
        .map(|c| (0..c.nrows()).map(|i| c[(i, i)]).sum::<f64>() / n)
        .sum::<f64>()
        / covs.len().max(1) as f64
}

/// Whether some Σᵢᵢ of the group is below λ (with a margin of 4ε for rounding): then the ridge
/// is needed without trying the plain factors, which would either fail or have a pivot
/// Lᵢᵢ² = Σᵢᵢ − Σₖ Lᵢₖ² ≤ Σᵢᵢ < λ ([`needs_ridge`]) — the same decision, without the O(N³) work.
pub(super) fn variance_below(covs: &[MatRef<'_, f64>], lambda: f64) -> bool {
    let bound = lambda / (1.0 + 4.0 * f64::EPSILON);
    lambda > 0.0
        && covs
            .iter()
            .any(|c| (0..c.nrows()).any(|i| c[(i, i)] < bound))
}

/// Whether a plain factor asks for the ridge: it failed, or (with ε > 0) a pivot Lᵢᵢ² < λ.
pub(super) fn needs_ridge(l: Option<MatRef<'_, f64>>, ridge: f64, lambda: f64) -> bool {
    match l {
        None => true,
        Some(l) => ridge > 0.0 && (0..l.nrows()).any(|i| l[(i, i)] * l[(i, i)] < lambda),
    }
}

/// [`cholesky_in`] with fresh buffers (the tests' reference factor).
#[cfg(test)]
pub(super) fn cholesky_with(c: MatRef<'_, f64>, lambda: f64, par: Par) -> Option<Mat<f64>> {
    cholesky_in(c, lambda, par, &mut FactorBuffers::default())
}

/// Whether Σ + λI has a Cholesky factor (lower triangle of `c` read), factored with
/// parallelism `par` in a fresh buffer: the test of a covariance up to the ridge λ (an
/// eigenvalue at or above −λ passes, up to the factorization's rounding). The corrected
/// closures ask it of each class's corrected covariance (`propagate::closures::edgeworth`).
pub fn factorable_with_ridge(c: MatRef<'_, f64>, lambda: f64, par: Par) -> bool {
    cholesky_in(c, lambda, par, &mut FactorBuffers::default()).is_some()
}

/// L with L Lᵀ = Σ + λI (lower triangle of Σ read), upper part zero; None if not PD. Factors
/// in place in one n × n buffer taken from `buffers` (its lower triangle overwritten, its upper
/// part zeroed: the factorization leaves values there), with the parameters faer's `Llt` uses
/// (the same factor, without its two extra copies), on `par` (`Par::Seq` where the caller
/// already runs one factorization per thread); the buffer is handed back to `buffers` when the
/// matrix is not positive definite.
fn cholesky_in(
    c: MatRef<'_, f64>,
    lambda: f64,
    par: Par,
    buffers: &mut FactorBuffers,
) -> Option<Mat<f64>> {
    let mut l = buffers.take(c.nrows());
    let ok = lower_cholesky_of_sum(&mut l, &[(1.0, c)], lambda, par);
    for j in 1..l.nrows() {
        l.col_as_slice_mut(j)[..j].fill(0.0);
    }
    if ok {
        Some(l)
    } else {
        buffers.give(l);
        None
    }
}

/// Overwrites the lower triangle of `l` (n × n) with the lower Cholesky factor of
/// Σₖ wₖ Cₖ + λI (lower triangles of the Cₖ read), factored in place on `par`; false if the sum
/// is not positive definite. For a caller that reads only the lower triangle (its diagonal, a
/// triangular solve): the upper part is not read, and holds no zeros afterwards (`l` may be a
/// reused work matrix). [`lower_cholesky_on`] with every row in the support.
pub(super) fn lower_cholesky_of_sum(
    l: &mut Mat<f64>,
    parts: &[(f64, MatRef<'_, f64>)],
    lambda: f64,
    par: Par,
) -> bool {
    let mut all = Runs::default();
    all.set_all(l.nrows());
    lower_cholesky_on(l.as_mut(), parts, &all, lambda, par)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lower-only factor reads nothing above the diagonal: in a work matrix whose upper
    /// part is NaN it equals the zeroed factor's lower triangle bit for bit, for a pair
    /// average with a ridge, and it fails where that one fails.
    #[test]
    fn the_lower_factor_ignores_the_upper_part() {
        let n = 7;
        let a = Mat::from_fn(n, n, |i, j| {
            let (i, j) = (i.max(j) as f64, i.min(j) as f64);
            if i == j {
                3.0 + 0.1 * i
            } else {
                0.3 * ((i * 2.0 + j) % 5.0) / 5.0
            }
        });
        let b = Mat::from_fn(
            n,
            n,
            |i, j| if i == j { 1.5 } else { 0.01 * (i + j) as f64 },
        );
        let parts = [(0.5, a.as_ref()), (0.5, b.as_ref())];
        let mut zeroed = Mat::zeros(n, n);
        assert!(lower_cholesky_of_sum(&mut zeroed, &parts, 1e-3, Par::Seq));
        let mut work = Mat::from_fn(n, n, |_, _| f64::NAN);
        assert!(lower_cholesky_of_sum(&mut work, &parts, 1e-3, Par::Seq));
        for j in 0..n {
            for i in j..n {
                assert_eq!(
                    work[(i, j)].to_bits(),
                    zeroed[(i, j)].to_bits(),
                    "({i},{j})"
                );
            }
        }
        let indefinite = Mat::from_fn(2, 2, |i, j| if i == j { [1.0, -1.0][i] } else { 0.0 });
        let mut work = Mat::from_fn(2, 2, |_, _| f64::NAN);
        let one = [(1.0, indefinite.as_ref())];
        assert!(!lower_cholesky_of_sum(&mut work, &one, 0.0, Par::Seq));
    }

    /// A zero variance decides for the ridge before any plain factor is tried: the group gets
    /// the ridged factors, as when the plain factor's pivot had been found below λ.
    #[test]
    fn a_variance_below_the_ridge_goes_straight_to_the_ridged_factors() {
        let a = Mat::from_fn(3, 3, |i, j| match (i, j) {
            (1, 1) => 2.0,
            (2, 2) => 1.0,
            (1, 2) | (2, 1) => 0.5,
            _ => 0.0,
        });
        let b = Mat::<f64>::identity(3, 3);
        let group = [a.as_ref(), b.as_ref()];
        let lambda = 1e-6 * mean_variance(&group);
        assert!(variance_below(&group, lambda) && !variance_below(&group[1..], lambda));
        let f = factor_group(&group, &["a", "b"], (1e-6, false), Par::Seq).unwrap();
        assert_eq!(f.jitter, lambda);
        assert_eq!(f.l[0], cholesky_with(a.as_ref(), lambda, Par::Seq).unwrap());
        assert_eq!(f.l[1], cholesky_with(b.as_ref(), lambda, Par::Seq).unwrap());
        assert!(
            cholesky_with(a.as_ref(), 0.0, Par::Seq).is_none_or(|l| needs_ridge(
                Some(l.as_ref()),
                1e-6,
                lambda
            ))
        );
    }

    /// A plain factor that asks for the ridge ends the plain attempt: the group gets the
    /// ridged factors whether the failing matrix comes first or last, and without a ridge the
    /// error names the matrix that failed.
    #[test]
    fn the_first_plain_factor_that_needs_the_ridge_decides_for_the_group() {
        let singular = Mat::from_fn(3, 3, |i, j| {
            [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]][i][j]
        });
        let spd = Mat::<f64>::identity(3, 3);
        let lambda = 1e-6 * mean_variance(&[singular.as_ref(), spd.as_ref()]);
        for group in [
            [singular.as_ref(), spd.as_ref()],
            [spd.as_ref(), singular.as_ref()],
        ] {
            let f = factor_group(&group, &["a", "b"], (1e-6, false), Par::Seq).unwrap();
            assert_eq!(f.jitter, lambda);
            for (l, c) in f.l.iter().zip(group) {
                assert_eq!(*l, cholesky_with(c, lambda, Par::Seq).unwrap());
            }
        }
        let negative = Mat::from_fn(2, 2, |i, j| if i == j { [1.0, -1.0][i] } else { 0.0 });
        let id = Mat::<f64>::identity(2, 2);
        let err = factor_group(
            &[id.as_ref(), negative.as_ref()],
            &["a", "b"],
            (0.0, false),
            Par::Seq,
        )
        .err()
        .expect("an indefinite matrix without a ridge is an error")
        .to_string();
        assert!(err.contains("covariance b"), "{err}");
    }

    /// The prediction's own failure is told from the pair's by the group's error
    /// ([`Unfactored::indefinite`]), as the KL's comparison reads it: q with an eigenvalue −0.1
    /// (a 2 × 2 "correlation" of 1.1) is listed beside a valid p; a singular but positive
    /// semidefinite q (two equal units) is not, since the ridge λ = 10⁻⁸ × the mean variance
    /// makes it definite (the group factors); an eigenvalue −10⁻⁶ lies below −λ and is; a p
    /// with an eigenvalue −0.1 beside a valid q is listed as p alone, and two such matrices as
    /// both (the ridged factors are all tried). Fails if the ridge is dropped (the singular q
    /// then fails), or if the ridged attempt stops at its first failure (the last case).
    #[test]
    fn an_indefinite_prediction_is_told_from_a_singular_pair() {
        let m = |a: f64| Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { a });
        let valid = m(0.5);
        let on = |p: &Mat<f64>, q: &Mat<f64>| -> Option<Vec<usize>> {
            let covs = [p.as_ref(), q.as_ref()];
            let mut buffers = FactorBuffers::default();
            match factor_group_in(&covs, &["p", "q"], (1e-8, false), Par::Seq, &mut buffers) {
                Ok(_) => None,
                Err(u) => Some(u.indefinite),
            }
        };
        assert_eq!(on(&valid, &m(1.1)), Some(vec![1]));
        assert_eq!(on(&valid, &m(1.0)), None);
        assert_eq!(on(&valid, &m(1.0 + 1e-6)), Some(vec![1]));
        assert_eq!(on(&m(1.1), &valid), Some(vec![0]));
        assert_eq!(on(&valid, &valid), None);
        assert_eq!(on(&m(1.1), &m(-1.2)), Some(vec![0, 1]));
        let err = factor_group(
            &[valid.as_ref(), m(1.1).as_ref()],
            &["p", "q"],
            (1e-8, false),
            Par::Seq,
        );
        assert!(err.is_err_and(|e| e.to_string().contains("covariance q")));
    }
}
