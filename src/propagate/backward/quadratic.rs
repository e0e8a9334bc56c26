//! VJP of the quadratic closure φ(h) = h + αh² (Gaussian input), by differentiating the closed
//! form of [`crate::propagate::closures::QuadraticClosure`] exactly.

use faer::{Col, Mat};

use super::{check_dims, Adjoint, ClosureVjp};
use crate::error::Result;
use crate::stats::Moments;

/// With gᵢ = 1 + 2αμᵢ, the closure is mᵢ = μᵢ + α(μᵢ² + Σᵢᵢ) and Cᵢⱼ = gᵢgⱼΣᵢⱼ + 2α²Σᵢⱼ² for
/// all i, j (the diagonal included: Var φ = g²s² + 2α²s⁴). Hence
///
/// ```text
/// ∂L/∂Σᵢⱼ = Ḡᵢⱼ (gᵢgⱼ + 4α²Σᵢⱼ) + δᵢⱼ α ḡᵢ
/// ∂L/∂μᵢ  = ḡᵢ gᵢ + 4α Σⱼ Ḡᵢⱼ gⱼ Σᵢⱼ            (Ḡ symmetric; Cᵢⱼ and Cⱼᵢ both move with μᵢ)
/// ```
///
/// in agreement with Price's theorem (Pᵢⱼ = E[φ'ᵢφ'ⱼ] = gᵢgⱼ + 4α²Σᵢⱼ). The κ₃/κ₄ corrections
/// of the forward closure are not differentiated: training uses the Gaussian closure.
#[derive(Clone, Copy, Debug)]
pub struct QuadraticVjp {
    alpha: f64,
}

impl QuadraticVjp {
    /// The VJP for φ(h) = h + αh².
    pub fn new(alpha: f64) -> Self {
        QuadraticVjp { alpha }
    }
}

impl ClosureVjp for QuadraticVjp {
    fn vjp(&self, input: &Moments, output: &Moments, adjoint: &Adjoint) -> Result<Adjoint> {
        let n = check_dims(input, output, adjoint)?;
        let alpha = self.alpha;
        let sig = &input.cov;
        let gc = &adjoint.cov;
        let g: Vec<f64> = (0..n).map(|i| 1.0 + 2.0 * alpha * input.mean[i]).collect();
        let cov = Mat::from_fn(n, n, |i, j| {
            let diag = if i == j { alpha * adjoint.mean[i] } else { 0.0 };
            gc[(i, j)] * (g[i] * g[j] + 4.0 * alpha * alpha * sig[(i, j)]) + diag
        });
        let mean = Col::from_fn(n, |i| {
            let cross: f64 = (0..n).map(|j| gc[(i, j)] * g[j] * sig[(i, j)]).sum();
            adjoint.mean[i] * g[i] + 4.0 * alpha * cross
        });
        Ok(Adjoint { mean, cov })
    }
}
