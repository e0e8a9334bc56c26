//! VJP of the quadratic closure φ(h) = h + αh² (Gaussian input), by differentiating the closed
//! form of [`crate::propagate::closures::QuadraticClosure`] exactly.

use faer::{Col, Mat};

use super::{check_dims, Adjoint, ClosureVjp, SliceAdjoint};
use crate::error::{Error, Result};
use crate::stats::Moments;

/// With gᵢ = 1 + 2αμᵢ, the closure is mᵢ = μᵢ + α(μᵢ² + Σᵢᵢ) and Cᵢⱼ = gᵢgⱼΣᵢⱼ + 2α²Σᵢⱼ² for
/// all i, j (the diagonal included: Var φ = g²s² + 2α²s⁴). Hence
///
/// ```text
/// ∂L/∂Σᵢⱼ = Ḡᵢⱼ (gᵢgⱼ + 4α²Σᵢⱼ) + δᵢⱼ α ḡᵢ
/// ∂L/∂μᵢ  = ḡᵢ gᵢ + 4α Σⱼ Ḡᵢⱼ gⱼ Σᵢⱼ            (Ḡ symmetric; Cᵢⱼ and Cⱼᵢ both move with μᵢ)
/// ```
///
/// in agreement with Price's theorem (Pᵢⱼ = E[φ'ᵢφ'ⱼ] = gᵢgⱼ + 4α²Σᵢⱼ). The κ₃/κ₄ terms of the
/// forward closure are differentiated by [`QuadraticVjp::kappa_terms`], which the corrected
/// first layer of the cumulant objective adds (`cumtrain::first_layer`).
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

/// What the κ terms of the corrected quadratic closure add to the reverse pass
/// ([`QuadraticVjp::kappa_terms`]).
#[derive(Clone, Debug)]
pub struct KappaAdjoint {
    /// Added to ∂L/∂μ: 4α² Σⱼ Ḡᵢⱼ κ₃\[i,j,j\] (the κ₃ terms move with gᵢ = 1 + 2αμᵢ).
    pub mean: Col<f64>,
    /// ∂L/∂T, T\[(i, j)\] = κ₃\[i,i,j\] (`Moments::k3_iij`): 2α gⱼ Ḡᵢⱼ; ∂L/∂K,
    /// K\[(i, j)\] = κ₄\[i,i,j,j\] (`Moments::k4_iijj`): α² Ḡᵢⱼ, None at order 3; κ₄\[i,i,i,j\]
    /// is not read (None).
    pub slices: SliceAdjoint,
}

impl QuadraticVjp {
    /// The adjoint of the κ terms of the corrected closure
    /// Cᵢⱼ = … + αgᵢκ₃\[i,j,j\] + αgⱼκ₃\[i,i,j\] + α²κ₄\[i,i,j,j\]
    /// ([`crate::propagate::closures::QuadraticClosure`]) for the output adjoint `adjoint`
    /// (Ḡ symmetric), at `input`'s mean and the κ₃ slice `k3_iij` (T\[(i, j)\] = κ₃\[i,i,j\]);
    /// `order4` adds κ₄'s. With T = κ₃\[i,i,j\]
    /// as a matrix, Cᵢⱼ holds αgⱼTᵢⱼ + αgᵢTⱼᵢ, and Cⱼᵢ the same: Tᵢⱼ moves Cᵢⱼ and Cⱼᵢ by αgⱼ
    /// each, hence ∂L/∂Tᵢⱼ = 2αgⱼḠᵢⱼ; gᵢ moves both by αTⱼᵢ, hence the mean's 4α²ΣⱼḠᵢⱼTⱼᵢ.
    /// The Gaussian part ([`ClosureVjp::vjp`]) is unchanged by the corrections.
    pub fn kappa_terms(
        &self,
        input: &Moments,
        k3_iij: &Mat<f64>,
        adjoint: &Adjoint,
        order4: bool,
    ) -> Result<KappaAdjoint> {
        let n = input.dim();
        let t = k3_iij;
        let square = |m: &Mat<f64>| m.nrows() == n && m.ncols() == n;
        if !(square(t) && square(&adjoint.cov) && adjoint.dim() == n) {
            return Err(Error::Shape(format!(
                "quadratic κ VJP: input of dimension {n} needs an {n}×{n} κ₃ slice and adjoint"
            )));
        }
        let alpha = self.alpha;
        let gc = &adjoint.cov;
        let g: Vec<f64> = (0..n).map(|i| 1.0 + 2.0 * alpha * input.mean[i]).collect();
        let mean = Col::from_fn(n, |i| {
            let cross: f64 = (0..n).map(|j| gc[(i, j)] * t[(j, i)]).sum();
            4.0 * alpha * alpha * cross
        });
        let k3_iij = Mat::from_fn(n, n, |i, j| 2.0 * alpha * g[j] * gc[(i, j)]);
        let k4_iijj = order4.then(|| Mat::from_fn(n, n, |i, j| alpha * alpha * gc[(i, j)]));
        Ok(KappaAdjoint {
            mean,
            slices: SliceAdjoint {
                k3_iij,
                k4_iijj,
                k4_iiij: None,
            },
        })
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
