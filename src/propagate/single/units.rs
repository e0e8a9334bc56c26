//! Checks on an f32 closure input and its per-unit quantities (the f32 twin of
//! `closures::input::units`).

use faer::{Col, Mat};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Mean μᵢ (f64) and standard deviation sᵢ = √Σᵢᵢ (from the f32 diagonal, in f64) per unit.
pub struct Units32 {
    pub mu: Vec<f64>,
    pub s: Vec<f64>,
}

/// A negative diagonal within this many f32 ulps of (μᵢ² + max Σₖₖ) is rounding and counts as 0
/// (the f64 closures allow 64 f64 ulps, `stats::moments::settled_variance`).
const ROUNDING_ULPS: f64 = 64.0;

/// Validates (μ, Σ) — finite entries, Σᵢᵢ ≥ 0 up to f32 rounding — and returns μ and s.
pub fn units32(mean: &Col<f64>, cov: &Mat<f32>, who: &str) -> Result<Units32> {
    let n = mean.nrows();
    if let Some(i) = (0..n).find(|&i| !mean[i].is_finite()) {
        return Err(Error::Numeric(format!(
            "{who} closure (f32): mean[{i}] = {}",
            mean[i]
        )));
    }
    finite32(cov, who)?;
    let scale = (0..n)
        .map(|i| f64::from(cov[(i, i)]).abs())
        .fold(0.0, f64::max);
    let mu: Vec<f64> = (0..n).map(|i| mean[i]).collect();
    let mut s = Vec::with_capacity(n);
    for (i, &m) in mu.iter().enumerate() {
        let d = f64::from(cov[(i, i)]);
        let floor = -ROUNDING_ULPS * f64::from(f32::EPSILON) * (m * m + scale);
        if d < floor {
            return Err(Error::Numeric(format!(
                "{who} closure (f32): negative variance cov[({i}, {i})] = {d:e} (mean {m:e}), \
                 beyond f32 rounding (floor {floor:e})"
            )));
        }
        s.push(d.max(0.0).sqrt());
    }
    Ok(Units32 { mu, s })
}

/// Checks that every entry of the f32 covariance `cov` is finite; the error names `who`'s
/// closure, the entry, and f32's range as the likely cause. Also the check of a closure without
/// f32 lanes on the widened f32 stage (`super::engine`): its f64 error named the closure alone
/// ("Hermite series closure: cov[(0, 0)] = inf"), not the f32 overflow that --precision f64
/// avoids (twenty-first session).
pub fn finite32(cov: &Mat<f32>, who: &str) -> Result<()> {
    // Columns in parallel, each a branch-free scan of the exponent bits (all ones: ±∞ or NaN);
    // the entry is located only on failure.
    let finite = |j: usize| {
        let bits = cov.col_as_slice(j).iter();
        bits.fold(0u32, |acc, v| {
            acc | u32::from((v.to_bits() >> 23) & 0xff == 0xff)
        }) == 0
    };
    if let Some(j) = (0..cov.ncols())
        .into_par_iter()
        .with_min_len(16)
        .find_first(|&j| !finite(j))
    {
        let i = cov.col_as_slice(j).iter().position(|v| !v.is_finite());
        let i = i.expect("the scan found a non-finite entry in this column");
        return Err(Error::Numeric(format!(
            "{who} closure (f32): cov[({i}, {j})] = {}; f32 overflows above 3.4e38, \
             use --precision f64",
            cov[(i, j)]
        )));
    }
    Ok(())
}
