//! χ²_ν draws from the lane streams of [`NormalStream`], for the scale mixtures of the analysis
//! (the Student t model of the output's tails).
//!
//! χ²_ν = 2·Γ(ν/2, 1), and Γ(a, 1) for a ≥ 1 by Marsaglia & Tsang's squeeze-and-reject method
//! (Marsaglia & Tsang, "A simple method for generating gamma variables", ACM TOMS 26(3), 2000):
//! with d = a − ⅓ and c = 1/√(9d), a candidate from a normal x and a uniform u is
//!
//! ```text
//! v = (1 + c x)³,   rejected when 1 + c x ≤ 0,
//! accepted when u < 1 − 0.0331 x⁴   (the squeeze: no logarithm),
//!          or when ln u < x²/2 + d(1 − v + ln v),
//! ```
//!
//! and an accepted candidate's d·v is the Γ(a, 1) draw (for a ≥ 1 over 95 % are accepted, nearly
//! all by the squeeze). The normals are [`NormalStream`]`::new(seed)` (Box–Muller on SIMD lanes);
//! the uniforms u = (⌊w/2¹²⌋ + ½)·2⁻⁵² come from eight more xoshiro256++ lanes seeded by the
//! next 32 words of the same SplitMix64 sequence. Candidates are made [`CANDIDATES`] at a time
//! (v and the squeeze in one vectorised pass) and taken in order, so a seed gives the same draws
//! on every instruction set and however many draws are asked for at once.

use super::normals::{seeded_lanes, step, unit, NormalStream, LANES};
use crate::error::{Error, Result};

/// Candidates per block: 32 steps of the eight uniform lanes.
const CANDIDATES: usize = 256;
/// Marsaglia & Tsang's squeeze constant.
const SQUEEZE: f64 = 0.0331;

/// Overwrites `out` with independent χ²_ν draws seeded by `seed` (module docs). ν ≥ 2
/// (Γ shape ν/2 ≥ 1, where the method holds); an error otherwise or when ν is not finite.
pub fn fill_chi_square(dof: f64, seed: u64, out: &mut [f64]) -> Result<()> {
    if !(dof.is_finite() && dof >= 2.0) {
        return Err(Error::Numeric(format!(
            "χ² draws: ν = {dof} must be finite and at least 2"
        )));
    }
    let d = dof / 2.0 - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    let mut normals = NormalStream::new(seed);
    let mut uniform = {
        let mut sm = seed;
        seeded_lanes(&mut sm);
        seeded_lanes(&mut sm)
    };
    let (mut x, mut words) = ([0.0; CANDIDATES], [0u64; CANDIDATES]);
    let (mut v, mut u, mut squeezed) = ([0.0; CANDIDATES], [0.0; CANDIDATES], [false; CANDIDATES]);
    let mut filled = 0;
    while filled < out.len() {
        normals.fill(&mut x);
        for w in words.chunks_exact_mut(LANES) {
            step(&mut uniform, w);
        }
        crate::simd::dispatch(Candidates {
            c,
            x: &x,
            words: &words,
            v: &mut v,
            u: &mut u,
            squeezed: &mut squeezed,
        });
        for i in 0..CANDIDATES {
            if filled == out.len() {
                break;
            }
            let accept = v[i] > 0.0
                && (squeezed[i] || u[i].ln() < 0.5 * x[i] * x[i] + d * (1.0 - v[i] + v[i].ln()));
            if accept {
                out[filled] = 2.0 * d * v[i];
                filled += 1;
            }
        }
    }
    Ok(())
}

/// The vectorised pass over a block of candidates: v = (1 + c x)³ (0 where 1 + c x ≤ 0, which
/// rejects), u from its word, and whether the squeeze accepts. Plain loops inside `with_simd`,
/// vectorised for the instruction set pulp dispatches to; each value is the scalar formula's.
struct Candidates<'a> {
    c: f64,
    x: &'a [f64; CANDIDATES],
    words: &'a [u64; CANDIDATES],
    v: &'a mut [f64; CANDIDATES],
    u: &'a mut [f64; CANDIDATES],
    squeezed: &'a mut [bool; CANDIDATES],
}

impl pulp::WithSimd for Candidates<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for i in 0..CANDIDATES {
            let x = self.x[i];
            let t = self.c.mul_add(x, 1.0);
            let v = if t > 0.0 { t * t * t } else { 0.0 };
            let u = unit(self.words[i]);
            let x2 = x * x;
            self.v[i] = v;
            self.u[i] = u;
            self.squeezed[i] = u < (-SQUEEZE * x2).mul_add(x2, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P(a, x) = γ(a, x)/Γ(a), the regularised lower incomplete gamma function, by its series
    /// x^a e^{−x}/Γ(a+1) · Σₖ xᵏ/((a+1)…(a+k)) (Abramowitz & Stegun 6.5.29), summed until the
    /// terms fall below 10⁻¹⁷ of the sum.
    fn gamma_p(a: f64, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        let (mut term, mut sum, mut k) = (1.0, 1.0, 1.0);
        while term > 1e-17 * sum {
            term *= x / (a + k);
            sum += term;
            k += 1.0;
        }
        (a * x.ln() - x - libm::lgamma(a + 1.0)).exp() * sum
    }

    /// E(X − ν)ᵏ of X ~ χ²_ν, from the raw moments E Xʲ = ν(ν+2)…(ν+2j−2) by the binomial
    /// expansion.
    fn central_moment(nu: f64, k: i32) -> f64 {
        let raw = |j: i32| (0..j).map(|i| nu + 2.0 * f64::from(i)).product::<f64>();
        let binom = |j: i32| (0..j).fold(1.0, |b, i| b * f64::from(k - i) / f64::from(i + 1));
        (0..=k).map(|j| binom(j) * raw(j) * (-nu).powi(k - j)).sum()
    }

    /// 10⁶ draws for ν = 2, 4.7 and 30: the sample mean and the sample moments about the true
    /// mean, m̂ₖ = (1/n)Σ(x − ν)ᵏ for k = 2, 3, 4, each within 5 standard errors of its
    /// expectation μₖ (its exact standard error √((μ₂ₖ − μₖ²)/n), μ₁ = 0); the
    /// Kolmogorov–Smirnov distance to the χ²_ν CDF P(ν/2, x/2) below 1.95/√n (the 0.1 % critical
    /// value).
    #[test]
    fn draws_are_chi_square() {
        let n = 1_000_000;
        for nu in [2.0, 4.7, 30.0] {
            let mut x = vec![0.0; n];
            fill_chi_square(nu, 17, &mut x).unwrap();
            let nf = n as f64;
            for k in 1..=4 {
                let got = x.iter().map(|v| (v - nu).powi(k)).sum::<f64>() / nf;
                let want = if k == 1 { 0.0 } else { central_moment(nu, k) };
                let se = ((central_moment(nu, 2 * k) - want * want) / nf).sqrt();
                assert!(
                    (got - want).abs() < 5.0 * se,
                    "ν = {nu}, moment {k}: {got} vs {want} ± {se}"
                );
            }
            x.sort_by(f64::total_cmp);
            let ks = x
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let f = gamma_p(nu / 2.0, v / 2.0);
                    (f - i as f64 / nf)
                        .abs()
                        .max(((i + 1) as f64 / nf - f).abs())
                })
                .fold(0.0, f64::max);
            assert!(ks < 1.95 / nf.sqrt(), "ν = {nu}: KS distance {ks}");
        }
    }

    /// The draws do not depend on how many are asked for at once: a prefix is the same bit for
    /// bit, and a different seed gives different draws.
    #[test]
    fn a_seed_gives_one_sequence() {
        let mut long = vec![0.0; 1000];
        let mut short = vec![0.0; 300];
        fill_chi_square(6.0, 3, &mut long).unwrap();
        fill_chi_square(6.0, 3, &mut short).unwrap();
        assert!(short
            .iter()
            .zip(&long)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        let mut other = vec![0.0; 300];
        fill_chi_square(6.0, 4, &mut other).unwrap();
        assert!(other.iter().zip(&short).all(|(a, b)| a != b));
    }

    /// ν below 2, NaN or infinite is an error, not a draw.
    #[test]
    fn bad_dof_is_an_error() {
        for nu in [1.5, f64::NAN, f64::INFINITY, -3.0] {
            assert!(fill_chi_square(nu, 1, &mut [0.0; 4]).is_err(), "ν = {nu}");
        }
    }
}
