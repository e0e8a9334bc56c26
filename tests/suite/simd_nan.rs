//! NaN through the lane kernels (adv43): a NaN argument gives NaN, on every instruction set, for
//! every lane function and every φ on lanes. The exponential clamps its argument to [−708, 709]
//! with min/max, and x86's `vminpd`/`vmaxpd` return their second operand when the first is NaN,
//! so a clamp written min(x, 709) turned a NaN into 709 and e^NaN into e^709 (adv41's note).

use corrflow::net::phi_lanes::phi;
use corrflow::net::Activation;
use corrflow::simd::{
    erf, erfc, exp, exp_hi_lo, logistic, logistic_slope, norm_cdf, norm_pdf, silu, silu_slope,
    sinh_cosh, softplus, Isa,
};
use pulp::{Simd, WithSimd};

/// The lane functions' values at a vector of NaN (with ±0 and 1 in the lanes beyond the first,
/// where there are any), named, first lane only.
struct AtNan;

impl WithSimd for AtNan {
    type Output = Vec<(String, f64)>;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        let mut xs = vec![1.0; S::F64_LANES];
        xs[0] = f64::NAN;
        let x = simd.partial_load_f64s(&xs);
        let zero = simd.splat_f64s(0.0);
        let first = |v: S::f64s| {
            let mut out = vec![0.0; S::F64_LANES];
            simd.partial_store_f64s(&mut out, v);
            out[0]
        };
        let (sinh, cosh) = sinh_cosh(simd, x);
        let mut got = vec![
            ("exp".to_string(), first(exp(simd, x))),
            (
                "exp_hi_lo (NaN, 0)".to_string(),
                first(exp_hi_lo(simd, x, zero)),
            ),
            (
                "exp_hi_lo (0, NaN)".to_string(),
                first(exp_hi_lo(simd, zero, x)),
            ),
            ("erf".to_string(), first(erf(simd, x))),
            ("erfc".to_string(), first(erfc(simd, x))),
            ("norm_cdf".to_string(), first(norm_cdf(simd, x))),
            ("norm_pdf".to_string(), first(norm_pdf(simd, x))),
            ("logistic".to_string(), first(logistic(simd, x))),
            ("logistic_slope".to_string(), first(logistic_slope(simd, x))),
            ("silu".to_string(), first(silu(simd, x))),
            ("silu_slope".to_string(), first(silu_slope(simd, x))),
            ("softplus".to_string(), first(softplus(simd, x))),
            ("sinh".to_string(), first(sinh)),
            ("cosh".to_string(), first(cosh)),
        ];
        for act in [
            Activation::Linear,
            Activation::LeakyRelu { slope: 0.1 },
            Activation::Quadratic { alpha: 0.5 },
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Silu,
            Activation::Softplus,
            Activation::Gelu,
            Activation::Erf,
        ] {
            got.push((format!("phi {act}"), first(phi(simd, act, x))));
        }
        got
    }
}

/// Every lane function but `expm1` and every φ on lanes but relu returns NaN for NaN, on AVX-512 (where
/// present), AVX2 and the scalar fallback. Relu's max(h, 0) is 0 at NaN, as the scalar
/// `Activation::eval`'s `f64::max` (IEEE 754 maxNum) is; no NaN reaches φ through the CLI, whose
/// forward pass refuses a non-finite pre-activation before φ (adversarial.sh section 32).
/// `expm1` is defined on [0, 709] only; its one caller, tanh (listed here through φ), never gives
/// it NaN and selects NaN itself. Failed before adv43's fix: exp, exp_hi_lo, norm_pdf, sinh, cosh, logistic and φ of tanh and
/// sigmoid gave e^709, 0 or 1.
#[test]
fn every_lane_kernel_gives_nan_for_nan() {
    let mut wrong = Vec::new();
    for isa in [Isa::Best, Isa::Avx2, Isa::Scalar] {
        for (name, v) in isa.run(AtNan) {
            if !v.is_nan() {
                wrong.push(format!("{isa:?} {name}(NaN) = {v}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
