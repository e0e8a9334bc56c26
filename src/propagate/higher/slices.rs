//! The N×N slices of the carried tensors that a closure reads from [`Moments`]
//! (`k3_iij[(i, j)]` = κ₃\[i,i,j\], `k4_iijj[(i, j)]` = κ₄\[i,i,j,j\], and κ₄\[i,i,i,j\]).

use faer::Mat;

use super::tensor::SymTensor;
use crate::stats::Moments;

/// κ₃\[i,i,j\] as an N×N matrix.
pub fn k3_iij(k3: &SymTensor) -> Mat<f64> {
    Mat::from_fn(k3.dim(), k3.dim(), |i, j| k3.get(&[i, i, j]))
}

/// κ₄\[i,i,j,j\] as an N×N matrix (symmetric).
pub fn k4_iijj(k4: &SymTensor) -> Mat<f64> {
    Mat::from_fn(k4.dim(), k4.dim(), |i, j| k4.get(&[i, i, j, j]))
}

/// κ₄\[i,i,i,j\] as an N×N matrix.
pub fn k4_iiij(k4: &SymTensor) -> Mat<f64> {
    Mat::from_fn(k4.dim(), k4.dim(), |i, j| k4.get(&[i, i, i, j]))
}

/// Attaches the κ₃\[i,i,j\] and κ₄\[i,i,j,j\] slices to `m` (κ₄ slice 0 when only κ₃ is carried).
pub fn attach(m: &mut Moments, k3: &SymTensor, k4: Option<&SymTensor>) {
    let n = k3.dim();
    *m.natural_slices_mut().k3_iij = Some(k3_iij(k3));
    *m.natural_slices_mut().k4_iijj = Some(k4.map_or_else(|| Mat::zeros(n, n), k4_iijj));
}
