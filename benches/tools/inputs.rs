//! Deterministic inputs shared by the criterion benches and the peer example, so both measure
//! the same kind of layer.

use corrflow::net::Activation;
use corrflow::propagate::closures::ClosureMethod;
use corrflow::stats::Moments;
use faer::linalg::matmul::matmul;
use faer::{Accum, Col, Mat, Par};

/// Deterministic uniform numbers in [−1, 1) (SplitMix64), so every run benchmarks the same data.
pub struct Uniform(pub u64);

impl Uniform {
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        2.0 * ((z >> 11) as f64 / (1u64 << 53) as f64) - 1.0
    }

    /// An m × n matrix of `scale`·U(−1, 1) entries, column by column.
    pub fn mat(&mut self, m: usize, n: usize, scale: f64) -> Mat<f64> {
        Mat::from_fn(m, n, |_, _| scale * self.next())
    }
}

/// Moments of a typical hidden layer drawn from `u`: Σ = BBᵀ/8 + D with B of rank 8 (so
/// correlations spread over (−1, 1), exercising every branch of Φ₂) and D ∈ [0.05, 0.45] a
/// diagonal; μ = 0.6·U(−1, 1). Correlations: 85 % of pairs |ρ| < 0.3, 1.3 % ≥ 0.5.
pub fn layer_moments(u: &mut Uniform, n: usize) -> Moments {
    factor_moments(u, n, [0.05, 0.45], |u, _| 0.6 * u.next())
}

/// Moments shaped like a trained MNIST hidden layer (pre-activation statistics of the digit
/// "1" at the first hidden layer of a 784-1024-1024-10 relu net, `corrflow train --task mnist
/// --hidden 1024,1024 --epochs 3`): Σ = BBᵀ/8 + D with B of rank 8 and D ∈ [0.005, 0.05], so
/// that |ρ| < 0.3 / 0.3–0.5 / 0.5–0.75 / 0.75–0.925 for 62 / 25 / 12 / 1 % of pairs (MNIST:
/// 55 / 28 / 16 / 1.2 %) and only a third of the 8-lane vectors have all |ρ| < 0.5 (MNIST:
/// 34 %); standardised means a = μ/s = −1.2 + 1.7·U(−1, 1) (MNIST: median −1.2, most units
/// below their kink).
pub fn strong_layer_moments(u: &mut Uniform, n: usize) -> Moments {
    factor_moments(u, n, [0.005, 0.05], |u, s| s * (-1.2 + 1.7 * u.next()))
}

/// Σ = BBᵀ/8 + D, B of rank 8 with U(−1, 1) entries, D ~ U(`diag`); μᵢ = `mean`(u, sᵢ).
fn factor_moments(
    u: &mut Uniform,
    n: usize,
    diag: [f64; 2],
    mut mean: impl FnMut(&mut Uniform, f64) -> f64,
) -> Moments {
    let b = u.mat(n, 8, 1.0);
    let mut cov = Mat::zeros(n, n);
    matmul(
        cov.as_mut(),
        Accum::Replace,
        b.as_ref(),
        b.transpose(),
        0.125,
        Par::Seq,
    );
    let half = 0.5 * (diag[1] - diag[0]);
    for i in 0..n {
        cov[(i, i)] += diag[0] + half * (u.next() + 1.0);
    }
    let s: Vec<f64> = (0..n).map(|i| cov[(i, i)].sqrt()).collect();
    let mean = Col::from_fn(n, |i| mean(u, s[i]));
    Moments::gaussian(mean, cov)
}

/// The closures every benchmark tool times: name, activation and closure method.
pub fn closure_cases() -> [(&'static str, Activation, ClosureMethod); 4] {
    [
        ("relu", Activation::Relu, ClosureMethod::Auto),
        ("erf", Activation::Erf, ClosureMethod::Auto),
        (
            "quadratic",
            Activation::Quadratic { alpha: 0.5 },
            ClosureMethod::Auto,
        ),
        ("hermite_tanh", Activation::Tanh, ClosureMethod::Hermite),
    ]
}

/// The smooth activations whose closure is the Hermite series (`--closure auto`), timed on
/// MNIST-shaped inputs by the criterion groups `closure_<name>_strong` and, beside
/// `hermite_tanh` of [`closure_cases`], by `closure_ratio`.
pub fn smooth_cases() -> [(&'static str, Activation); 5] {
    [
        ("tanh", Activation::Tanh),
        ("sigmoid", Activation::Sigmoid),
        ("gelu", Activation::Gelu),
        ("silu", Activation::Silu),
        ("softplus", Activation::Softplus),
    ]
}
