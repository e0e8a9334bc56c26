//! Hermite coefficients of wide units (s > 1) by a Gauss–Hermite rule in Fourier space, whose
//! cost does not grow with s (issue #14, item 3; used by [`super::hermite_coef`]).
//!
//! With φ(x) = (1/2π)∫ φ̂(k) e^{ikx} dk and E\[e^{iksz} Heₙ(z)\] = (iks)ⁿ e^{−k²s²/2} (the
//! generating function of Heₙ), the normalised coefficient of h = μ + s z is
//!
//!   cₙ = E\[φ(μ + s z) hₙ(z)\] = (1/(√(2π) s)) · E_u\[φ̂(u/s) e^{iau} iⁿ uⁿ/√n!\],
//!
//! u = ks ~ N(0, 1), a = μ/s. In z, φ(μ + s z) varies on the scale 1/s and its Hermite series
//! needs ever more nodes and terms as s grows; in u the smooth factor φ̂(u/s) varies on the
//! scale s (it is analytic in the strip |Im u| < 2s for tanh, s·π for the others), so one
//! 256-point Gauss–Hermite rule serves every s > 1. Constant and linear parts of φ (δ and δ′
//! at k = 0) only reach c₀ and c₁, which the caller takes from a 1-D rule in z; for n ≥ 2 the
//! regular parts below suffice (Fourier transforms: sech² ↦ πk/sinh(πk/2), e^{−x²} ↦
//! √π e^{−k²/4}, x·f ↦ i f̂′; Erdélyi et al., Tables of Integral Transforms I, 1954, §1.9,
//! §2.9):
//! - tanh: φ̂ = −iπ/sinh(πk/2); sigmoid ½ + ½ tanh(x/2): −iπ/sinh(πk); erf: −2i e^{−k²/4}/k;
//! - softplus (φ′ = sigmoid): −π/(k sinh πk); SiLU x·σ(x): −π² cosh(πk)/sinh²(πk);
//!   GELU x·Φ(x): −e^{−k²/2}(1 + 1/k²).
//!
//! The rule's nodes are symmetric and φ̂(−k) is the conjugate of φ̂(k), so with G = φ̂ e^{iau}
//! over the positive nodes only: cₙ = (2/(√(2π) s)) Σ_{u>0} w pₙ(u) · {(−1)^{n/2} Re G, n
//! even; (−1)^{(n+1)/2} Im G, n odd}, pₙ = uⁿ/√n! by pₙ = pₙ₋₁·u/√n.

use std::f64::consts::PI;

use pulp::{Simd, WithSimd};

use super::gauss_hermite;
use super::input::Isa;
use crate::net::Activation;
use crate::simd::load;

/// Whether φ has a Fourier transform here (the six transcendental smooth activations).
pub(crate) fn supports(act: Activation) -> bool {
    matches!(
        act,
        Activation::Tanh
            | Activation::Sigmoid
            | Activation::Erf
            | Activation::Softplus
            | Activation::Silu
            | Activation::Gelu
    )
}

/// Re and Im of φ̂(k) (regular part, see the module docs) for k ≠ 0.
fn transform(act: Activation, k: f64) -> (f64, f64) {
    match act {
        Activation::Tanh => (0.0, -PI / (0.5 * PI * k).sinh()),
        Activation::Sigmoid => (0.0, -PI / (PI * k).sinh()),
        Activation::Erf => (0.0, -2.0 * (-0.25 * k * k).exp() / k),
        Activation::Softplus => (-PI / (k * (PI * k).sinh()), 0.0),
        Activation::Silu => {
            let sh = (PI * k).sinh();
            (-PI * PI * (PI * k).cosh() / (sh * sh), 0.0)
        }
        Activation::Gelu => (-(-0.5 * k * k).exp() * (1.0 + 1.0 / (k * k)), 0.0),
        _ => (0.0, 0.0),
    }
}

/// Fills `c` with c₂, c₃, … (`c[k]` = c_{k+2}) of h = μ + s z by the Fourier rule (module docs).
/// For s > 1 and |μ|/s ≤ 6 (where `hermite_coef` takes it): checked against the composite rule
/// in z to 10⁻¹³ of |m| + √Var up to n = 256 (`fourier_rule_matches_the_composite_rule`).
pub(crate) fn fill(act: Activation, mu: f64, s: f64, c: &mut [f64]) {
    if c.is_empty() {
        return;
    }
    let (z, w) = gauss_hermite::rule(true);
    let half = z.len() / 2;
    let a = mu / s;
    let mut u = Vec::with_capacity(half);
    let mut even = Vec::with_capacity(half);
    let mut odd = Vec::with_capacity(half);
    for (&uk, &wk) in z[half..].iter().zip(&w[half..]) {
        let (re, im) = transform(act, uk / s);
        let (sin, cos) = (a * uk).sin_cos();
        u.push(uk);
        even.push(wk * (re * cos - im * sin));
        odd.push(wk * (re * sin + im * cos));
    }
    Isa::Dispatch.run(
        pulp::Arch::new(),
        FourierLanes {
            u: &u,
            even: &even,
            odd: &odd,
            c,
        },
    );
    let scale = 2.0 / ((2.0 * PI).sqrt() * s);
    for (k, ck) in c.iter_mut().enumerate() {
        let n = k + 2;
        // (−1)^{n/2} for even n, (−1)^{(n+1)/2} for odd n: + for n ≡ 0, 3 (mod 4).
        let sign = if n % 4 == 0 || n % 4 == 3 { 1.0 } else { -1.0 };
        *ck *= sign * scale;
    }
}

/// `c[k]` = Σ_m fₘ pₙ(uₘ), n = k + 2, fₘ = `even`ₘ for even n and `odd`ₘ for odd n, with
/// pₙ = pₙ₋₁·u/√n (p₁ = u), the nodes in SIMD lanes and one accumulator vector per order.
struct FourierLanes<'a> {
    u: &'a [f64],
    even: &'a [f64],
    odd: &'a [f64],
    c: &'a mut [f64],
}

impl WithSimd for FourierLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let k = self.c.len();
        let inv: Vec<f64> = (0..k).map(|j| 1.0 / ((j + 2) as f64).sqrt()).collect();
        let mut acc = vec![simd.splat_f64s(0.0); k];
        let lanes = S::F64_LANES;
        for start in (0..self.u.len()).step_by(lanes) {
            let end = (start + lanes).min(self.u.len());
            let u = load(simd, &self.u[start..end]);
            let fe = load(simd, &self.even[start..end]);
            let fo = load(simd, &self.odd[start..end]);
            let mut p = u;
            for (j, a) in acc.iter_mut().enumerate() {
                p = simd.mul_f64s(p, simd.mul_f64s(u, simd.splat_f64s(inv[j])));
                let f = if j % 2 == 0 { fe } else { fo };
                *a = simd.mul_add_f64s(f, p, *a);
            }
        }
        for (c, v) in self.c.iter_mut().zip(acc) {
            *c = simd.reduce_sum_f64s(v);
        }
    }
}
