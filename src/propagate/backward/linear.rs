//! VJP of the identity closure m = μ, C = Σ: the adjoint passes through unchanged.

use super::{check_dims, Adjoint, ClosureVjp};
use crate::error::Result;
use crate::stats::Moments;

/// ∂L/∂μ = ḡ_m, ∂L/∂Σ = Ḡ_C.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinearVjp;

impl ClosureVjp for LinearVjp {
    fn vjp(&self, input: &Moments, output: &Moments, adjoint: &Adjoint) -> Result<Adjoint> {
        check_dims(input, output, adjoint)?;
        Ok(adjoint.clone())
    }
}
