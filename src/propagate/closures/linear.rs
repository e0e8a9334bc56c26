//! φ(h) = h: the identity closure (DESIGN.md §3, "Linear").

use super::input::{reset_output, units};
use super::{Closure, Corrections, Fallbacks};
use crate::error::Result;
use crate::stats::Moments;

/// m = μ, C = Σ. Exact for any input distribution, so κ₃/κ₄ corrections (which do not enter)
/// are accepted and change nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinearClosure;

impl Closure for LinearClosure {
    fn positively_homogeneous(&self) -> bool {
        true
    }

    fn name(&self) -> String {
        "linear (identity, exact)".into()
    }

    /// Copies μ and Σ into `out`.
    fn apply_counted(
        &self,
        input: &Moments,
        _: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks> {
        units(input, "linear")?;
        reset_output(out, input.dim());
        out.mean.copy_from(&input.mean);
        out.cov.copy_from(&input.cov);
        Ok(Fallbacks::default())
    }
}
