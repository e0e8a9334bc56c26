//! Checks on a closure's input and preparation of its output buffers.

use pulp::WithSimd;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::stats::moments::{settled_variance, ROUNDING_VARIANCE_ULPS};
use crate::stats::Moments;

/// The per-unit quantities every closure needs: means μᵢ and standard deviations sᵢ = √Σᵢᵢ.
pub(crate) struct Units {
    pub mu: Vec<f64>,
    pub s: Vec<f64>,
}

/// Covariances of at most this many entries (N = 128) are scanned for non-finite entries on
/// the calling thread: ~10⁴ entries take a few µs, about what splitting the scan into the
/// pool's tasks costs on one thread.
const SERIAL_SCAN_ENTRIES: usize = 128 * 128;

/// Validates `input` (square N×N covariance, finite entries, Σᵢᵢ ≥ 0 up to rounding — a
/// diagonal in [−64ε·(μᵢ² + max|Σₖₖ|), 0) counts as 0, by [`settled_variance`]) and returns μ
/// and s.
pub(crate) fn units(input: &Moments, who: &str) -> Result<Units> {
    let n = input.dim();
    if input.cov.nrows() != n || input.cov.ncols() != n {
        return Err(Error::Shape(format!(
            "{who} closure: mean has {n} entries but covariance is {}×{}",
            input.cov.nrows(),
            input.cov.ncols()
        )));
    }
    let mu: Vec<f64> = (0..n).map(|i| input.mean[i]).collect();
    if let Some(i) = mu.iter().position(|x| !x.is_finite()) {
        return Err(Error::Numeric(format!(
            "{who} closure: mean[{i}] = {}",
            mu[i]
        )));
    }
    // A scan of each column on SIMD lanes (`simd::all_finite`), the columns in parallel (a
    // serial scan was ~0.6 ms of every closure at N = 1024) but for small matrices, whose scan
    // costs less than the pool's tasks; locate the entry only on failure.
    let column_bad = |j: usize| !crate::simd::all_finite(input.cov.col_as_slice(j));
    let bad = if n * n <= SERIAL_SCAN_ENTRIES {
        (0..n).find(|&j| column_bad(j))
    } else {
        (0..n).into_par_iter().find_first(|&j| column_bad(j))
    };
    if let Some(j) = bad {
        let col = input.cov.col_as_slice(j);
        let i = col.iter().position(|v| !v.is_finite()).unwrap_or(0);
        return Err(Error::Numeric(format!(
            "{who} closure: cov[({i}, {j})] = {}",
            col[i]
        )));
    }
    let scale = (0..n).map(|i| input.cov[(i, i)].abs()).fold(0.0, f64::max);
    let mut s = Vec::with_capacity(n);
    for (i, &m) in mu.iter().enumerate() {
        let d = input.cov[(i, i)];
        let Some(v) = settled_variance(d, m, scale) else {
            return Err(Error::Numeric(format!(
                "{who} closure: negative variance cov[({i}, {i})] = {d:e} (mean {m:e}), beyond \
                 rounding: the floor is −{ROUNDING_VARIANCE_ULPS}ε·(mean² + largest variance \
                 {scale:e})"
            )));
        };
        s.push(v.sqrt());
    }
    Ok(Units { mu, s })
}

/// ρ = Σᵢⱼ/(sᵢsⱼ) clamped to [−1, 1]; 0 when either unit is deterministic (s = 0).
#[inline]
pub(crate) fn correlation(sigma_ij: f64, si: f64, sj: f64) -> f64 {
    if si > 0.0 && sj > 0.0 {
        (sigma_ij / si / sj).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// Resizes `out` to dimension `n` (in place where its allocations hold it, else a covariance
/// block zeroed in parallel: [`crate::io::resize_for_overwrite`]) and clears its κ fields. The
/// closure then overwrites every entry.
pub(crate) fn reset_output(out: &mut Moments, n: usize) {
    out.mean.resize_with(n, |_| 0.0);
    crate::io::resize_for_overwrite(&mut out.cov, n, n);
    out.clear_slices();
}

/// The sample covariance of paired draws and its standard error, estimated from the draws:
/// C = mean of p = (x − x̄)(y − ȳ), s.e. = √((mean of p² − C²)/n). For the Monte Carlo checks.
#[cfg(test)]
pub(crate) fn sample_cov(xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let (mut sxy, mut sxy2) = (0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let p = (x - mx) * (y - my);
        sxy += p;
        sxy2 += p * p;
    }
    let cov = sxy / n;
    (cov, ((sxy2 / n - cov * cov) / n).sqrt())
}

/// Test inputs for the SIMD-vs-scalar checks of the closures: N = 37 units (not a multiple of
/// any lane count) with Σ = BBᵀ/3 + D, B of rank 3, a few exactly deterministic units (zero
/// row and column), means up to ±4s. D ~ `diag`·U(0, 2) (every fifth unit 1e-6): a small `diag`
/// spreads the correlations over all of (−1, 1) with many |ρ| ≥ 0.925 (Gauss–Legendre and
/// scalar paths), a large one keeps them weak (tetrachoric series path).
#[cfg(test)]
pub(crate) fn lane_test_input(diag: f64) -> Moments {
    use faer::{Col, Mat};
    let n = 37;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let b: Vec<[f64; 3]> = (0..n).map(|_| [next(), next(), next()]).collect();
    let diag: Vec<f64> = (0..n)
        .map(|k| {
            if k % 5 == 0 {
                1e-6
            } else {
                diag * (next() + 1.0)
            }
        })
        .collect();
    let dead = |k: usize| k % 11 == 3;
    let cov = Mat::from_fn(n, n, |i, j| {
        if dead(i) || dead(j) {
            return 0.0;
        }
        let v: f64 = (0..3).map(|r| b[i][r] * b[j][r]).sum::<f64>() / 3.0;
        v + if i == j { diag[i] } else { 0.0 }
    });
    let mean = Col::from_fn(n, |i| 4.0 * next() * cov[(i, i)].sqrt() + 0.1 * next());
    Moments::gaussian(mean, cov)
}

/// The instruction set the SIMD lanes of a closure run on: normally the process's setting
/// ([`crate::simd::Isa::current`]: the best one pulp finds at run time unless `CORRFLOW_ISA`
/// names another); the tests also force AVX2 (4 lanes) and scalar (1 lane), which `dispatch`
/// never picks on an AVX-512 machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Dispatch,
    #[cfg(test)]
    Avx2,
    #[cfg(test)]
    Scalar,
}

impl Isa {
    /// Runs `kernel` on this instruction set (`arch`: pulp's best, detected once by the caller;
    /// AVX2 falls back to it where the CPU lacks AVX2).
    #[inline(always)]
    pub(crate) fn run<W: WithSimd>(self, arch: pulp::Arch, kernel: W) -> W::Output {
        use crate::simd::Isa as Set;
        match self {
            Isa::Dispatch => match Set::current() {
                Set::Best => arch.dispatch(kernel),
                set => set.run(kernel),
            },
            #[cfg(test)]
            Isa::Avx2 => Set::Avx2.run(kernel),
            #[cfg(test)]
            Isa::Scalar => Set::Scalar.run(kernel),
        }
    }
}
