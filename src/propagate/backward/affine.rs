//! VJP of the exact affine map μ' = Wμ + b, Σ' = WΣWᵀ (DESIGN.md §2).
//!
//! With the adjoint (ḡ, Ḡ) of (μ', Σ') in the convention of [`super`]
//! (dL = ḡᵀdμ' + tr(Ḡᵀ dΣ')), dΣ' = dW ΣWᵀ + WΣ dWᵀ + W dΣ Wᵀ gives
//!
//! ```text
//! ∂L/∂W = (Ḡ + Ḡᵀ) W Σ + ḡ μᵀ,   ∂L/∂b = ḡ,   ∂L/∂μ = Wᵀḡ,   ∂L/∂Σ = Wᵀ Ḡ W
//! ```

use faer::{Col, Mat, MatRef};

use super::Adjoint;
use crate::error::{Error, Result};
use crate::linalg::gemm;
use crate::net::Layer;
use crate::stats::Moments;

/// Adds ∂L/∂W and ∂L/∂b of the map h = Wx + b, whose input had moments `input`, into `grad`;
/// returns the input's adjoint when `need_input` (skip it for the first layer, where it is a
/// d × d product nobody uses).
pub fn affine_vjp(
    w: MatRef<'_, f64>,
    input: &Moments,
    adjoint: &Adjoint,
    grad: &mut Layer,
    need_input: bool,
) -> Result<Option<Adjoint>> {
    let (n_out, n_in) = (w.nrows(), w.ncols());
    let fits = input.dim() == n_in
        && adjoint.dim() == n_out
        && adjoint.cov.nrows() == n_out
        && adjoint.cov.ncols() == n_out
        && grad.w.nrows() == n_out
        && grad.w.ncols() == n_in
        && grad.b.nrows() == n_out;
    if !fits {
        return Err(Error::Shape(format!(
            "affine VJP: W is {n_out}×{n_in}, input dimension {}, adjoint dimension {}, \
             gradient {}×{}",
            input.dim(),
            adjoint.dim(),
            grad.w.nrows(),
            grad.w.ncols()
        )));
    }
    let g_sym = Mat::from_fn(n_out, n_out, |i, j| {
        adjoint.cov[(i, j)] + adjoint.cov[(j, i)]
    });
    let mut w_sigma = Mat::zeros(n_out, n_in);
    gemm(w_sigma.as_mut(), false, w, input.cov.as_ref(), 1.0);
    gemm(grad.w.as_mut(), true, g_sym.as_ref(), w_sigma.as_ref(), 1.0);
    for j in 0..n_in {
        let mu_j = input.mean[j];
        for i in 0..n_out {
            grad.w[(i, j)] += adjoint.mean[i] * mu_j;
        }
    }
    for i in 0..n_out {
        grad.b[i] += adjoint.mean[i];
    }
    if !need_input {
        return Ok(None);
    }
    let mean = Col::from_fn(n_in, |j| {
        (0..n_out).map(|i| w[(i, j)] * adjoint.mean[i]).sum()
    });
    let mut g_w = Mat::zeros(n_out, n_in);
    gemm(g_w.as_mut(), false, adjoint.cov.as_ref(), w, 1.0);
    let mut cov = Mat::zeros(n_in, n_in);
    gemm(cov.as_mut(), false, w.transpose(), g_w.as_ref(), 1.0);
    for j in 0..n_in {
        for i in j + 1..n_in {
            let v = 0.5 * (cov[(i, j)] + cov[(j, i)]);
            cov[(i, j)] = v;
            cov[(j, i)] = v;
        }
    }
    Ok(Some(Adjoint { mean, cov }))
}
