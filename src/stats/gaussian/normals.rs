//! Standard normal draws on SIMD lanes, the random numbers of every Monte Carlo estimate of the
//! analysis (argmax probabilities, output tails, surrogates).
//!
//! Uniform words: eight xoshiro256++ streams side by side (Blackman & Vigna, "Scrambled linear
//! pseudorandom number generators", ACM TOMS 47(4), 2021), lane l's state the words 4l … 4l + 3
//! of the SplitMix64 sequence of the seed (so lane 0 is `Xoshiro256PlusPlus::seed_from_u64`'s
//! stream exactly). Each lane has period 2²⁵⁶ − 1; eight streams started at SplitMix64-spread
//! points of that period do not meet within any run's length.
//!
//! Normals: Box–Muller (Box & Muller, Ann. Math. Statist. 29, 1958), from two words w₁, w₂
//!
//! ```text
//! uᵢ = (⌊wᵢ / 2¹²⌋ + ½)·2⁻⁵² ∈ (0, 1),   ρ = √(−2 ln u₁),   θ = 2π(u₂ − ½) = (π/2)(4u₂ − 2),
//! z₁ = ρ cos θ,   z₂ = ρ sin θ,
//! ```
//!
//! two independent N(0, 1) draws; the largest |z| is √(2·53 ln 2) ≈ 8.57 (a tail probability of
//! 10⁻¹⁷ left out). ln u₁ = e ln 2 + ln m with u₁ = 2ᵉ m, m ∈ [√½, √2), ln m by fdlibm's log
//! kernel ([`crate::simd::log1p_reduced`], below 1 ulp); sin θ and cos θ from the 4u₂ − 2
//! quarter turns (exact) by fdlibm's sin/cos kernels on |r| ≤ π/4 and the quadrant
//! ([`crate::simd::sin_cos_quarter_turns`], ≈ 1 ulp). (Up to the ninth session sin/cos were
//! Taylor polynomials of degree 23/24 on |r| ≤ π/2 and ln m the atanh series to y²³: the same
//! words give the same draws to a few ulp, in 0.7–0.9× the CPU time per draw, bounded by the
//! square root of ρ and the division of the log kernel, which stay.) Every lane operation is
//! exact integer arithmetic or IEEE f64 with fused multiply-adds, so the stream is the same bit
//! for bit on AVX-512, AVX2 and the scalar fallback.
//!
//! Order: a block of [`BLOCK`] normals takes [`STEPS`] words per lane twice (w₁ then w₂, steps
//! t = 0 … 15, lanes l = 0 … 7, pair i = 8t + l); the block is z₁ of pairs 0 … 127, then z₂
//! of pairs 0 … 127. [`NormalStream::fill`] hands the blocks out in order.

use pulp::{Simd, WithSimd};

use crate::simd::{log1p_reduced, sin_cos_quarter_turns, Isa};

/// Parallel xoshiro256++ streams.
pub(super) const LANES: usize = 8;
/// Steps per lane for one half block.
const STEPS: usize = 16;
/// Box–Muller pairs per block.
const PAIRS: usize = LANES * STEPS;
/// Normals per block.
pub const BLOCK: usize = 2 * PAIRS;
/// Bits of 1.0.
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
/// The mantissa field.
const MANTISSA: u64 = (1 << 52) - 1;

/// A stream of standard normal draws (see the module documentation).
#[derive(Clone, Debug)]
pub struct NormalStream {
    /// state\[k\]\[l\]: word k of lane l's xoshiro256++ state.
    state: [[u64; LANES]; 4],
    block: Vec<f64>,
    /// The next unread entry of `block` (`BLOCK`: none left).
    next: usize,
    isa: Isa,
}

impl NormalStream {
    /// The stream of `seed`, computed on this process's instruction set.
    pub fn new(seed: u64) -> Self {
        Self::on(seed, Isa::current())
    }

    /// The stream of `seed` computed on `isa` (the same numbers on every one).
    pub fn on(seed: u64, isa: Isa) -> Self {
        NormalStream {
            state: seeded_lanes(&mut { seed }),
            block: vec![0.0; BLOCK],
            next: BLOCK,
            isa,
        }
    }

    /// Overwrites `out` with the next `out.len()` draws of the stream. A whole block that
    /// starts at a block boundary is computed straight into `out` (the same numbers, without
    /// the copy out of the block buffer).
    pub fn fill(&mut self, mut out: &mut [f64]) {
        while !out.is_empty() {
            if self.next == BLOCK && out.len() >= BLOCK {
                let (head, tail) = out.split_at_mut(BLOCK);
                self.isa.run(Block {
                    state: &mut self.state,
                    out: head,
                });
                out = tail;
                continue;
            }
            if self.next == BLOCK {
                self.isa.run(Block {
                    state: &mut self.state,
                    out: &mut self.block,
                });
                self.next = 0;
            }
            let n = out.len().min(BLOCK - self.next);
            let (head, tail) = out.split_at_mut(n);
            head.copy_from_slice(&self.block[self.next..self.next + n]);
            self.next += n;
            out = tail;
        }
    }
}

/// The lanes' xoshiro256++ states from the next 32 words of the SplitMix64 sequence at `sm`
/// (advanced past them): lane l's state is its words 4l … 4l + 3 (module docs; a seed's
/// [`NormalStream`] takes the sequence's first 32 words).
pub(super) fn seeded_lanes(sm: &mut u64) -> [[u64; LANES]; 4] {
    let mut state = [[0; LANES]; 4];
    for lane in 0..LANES {
        for word in &mut state {
            word[lane] = splitmix64(sm);
        }
    }
    state
}

/// One SplitMix64 output (Steele, Lea & Flood, OOPSLA 2014), advancing `state`.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One xoshiro256++ step of every lane: the outputs into `out`.
#[inline(always)]
pub(super) fn step(s: &mut [[u64; LANES]; 4], out: &mut [u64]) {
    for (l, o) in out.iter_mut().enumerate().take(LANES) {
        *o = s[0][l]
            .wrapping_add(s[3][l])
            .rotate_left(23)
            .wrapping_add(s[0][l]);
        let t = s[1][l] << 17;
        s[2][l] ^= s[0][l];
        s[3][l] ^= s[1][l];
        s[1][l] ^= s[2][l];
        s[0][l] ^= s[3][l];
        s[2][l] ^= t;
        s[3][l] = s[3][l].rotate_left(45);
    }
}

/// (⌊w / 2¹²⌋ + ½)·2⁻⁵² ∈ (0, 1), exactly: 1 + m·2⁻⁵² minus the largest f64 below 1 (Sterbenz).
#[inline(always)]
pub(super) fn unit(w: u64) -> f64 {
    f64::from_bits(ONE_BITS | (w >> 12)) - (1.0 - f64::EPSILON / 2.0)
}

/// The kernel of one block (see the module documentation).
struct Block<'a> {
    state: &'a mut [[u64; LANES]; 4],
    out: &'a mut [f64],
}

impl WithSimd for Block<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let mut words = [0u64; BLOCK];
        for t in 0..STEPS {
            step(self.state, &mut words[t * LANES..(t + 1) * LANES]);
            step(
                self.state,
                &mut words[PAIRS + t * LANES..PAIRS + (t + 1) * LANES],
            );
        }
        // u₁ = 2ᵉ m with m ∈ [√½, √2): e and m − 1 by their bits; θ = (π/2)(4u₂ − 2), exact.
        let (mut e, mut t, mut turns) = ([0.0; PAIRS], [0.0; PAIRS], [0.0; PAIRS]);
        for i in 0..PAIRS {
            let bits = unit(words[i]).to_bits();
            let m = f64::from_bits((bits & MANTISSA) | ONE_BITS);
            let big = m >= std::f64::consts::SQRT_2;
            e[i] = ((bits >> 52) as i64 - 1023 + i64::from(big)) as f64;
            t[i] = if big { 0.5 * m - 1.0 } else { m - 1.0 };
            turns[i] = 4.0 * unit(words[PAIRS + i]) - 2.0;
        }
        let (z1, z2) = self.out.split_at_mut(PAIRS);
        let lanes = S::F64_LANES;
        for i in (0..PAIRS).step_by(lanes) {
            let at = i..i + lanes;
            let ln_u = simd.mul_add_f64s(
                crate::simd::load(simd, &e[at.clone()]),
                simd.splat_f64s(std::f64::consts::LN_2),
                log1p_reduced(simd, crate::simd::load(simd, &t[at.clone()])),
            );
            let rho2 = simd.max_f64s(
                simd.mul_f64s(ln_u, simd.splat_f64s(-2.0)),
                simd.splat_f64s(0.0),
            );
            let rho = simd.sqrt_f64s(rho2);
            let (sin, cos) =
                sin_cos_quarter_turns(simd, crate::simd::load(simd, &turns[at.clone()]));
            crate::simd::store(simd, &mut z1[at.clone()], simd.mul_f64s(rho, cos));
            crate::simd::store(simd, &mut z2[at], simd.mul_f64s(rho, sin));
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::special::normal_cdf;

    /// The lanes' words: lane 0 is rand's xoshiro256++ seeded the same way, word for word.
    #[test]
    fn lane_zero_is_xoshiro256plusplus() {
        let mut s = NormalStream::new(77);
        let mut reference = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(77);
        let mut out = [0u64; LANES];
        for _ in 0..100 {
            step(&mut s.state, &mut out);
            assert_eq!(out[0], reference.next_u64());
        }
    }

    /// Each draw equals Box–Muller computed with std's ln, sqrt and sin/cos from the same
    /// words and the same split of the angle into quarter turns (within 8 ulp of max(1, |z|)), and the stream is the same bit for bit on every
    /// instruction set and however it is split into `fill` calls.
    #[test]
    fn draws_are_box_muller_of_the_words_on_every_isa() {
        let seed = 5;
        let mut reference = NormalStream::on(seed, Isa::Scalar);
        let mut words = [0u64; BLOCK];
        let mut want = vec![0.0; 3 * BLOCK];
        for b in 0..3 {
            for t in 0..STEPS {
                step(&mut reference.state, &mut words[t * LANES..(t + 1) * LANES]);
                let w2 = &mut words[PAIRS + t * LANES..PAIRS + (t + 1) * LANES];
                step(&mut reference.state, w2);
            }
            for i in 0..PAIRS {
                let rho = (-2.0 * unit(words[i]).ln()).sqrt();
                // θ = (π/2)·v, v = 4u₂ = n + f: std's sin/cos of r = (π/2)·f, by quadrant.
                let v = 4.0 * unit(words[PAIRS + i]) - 2.0;
                let n = v.round_ties_even();
                let (s, c) = ((v - n) * std::f64::consts::FRAC_PI_2).sin_cos();
                let (sin, cos) = match (n as i64).rem_euclid(4) {
                    0 => (s, c),
                    1 => (c, -s),
                    2 => (-s, -c),
                    _ => (-c, s),
                };
                want[b * BLOCK + i] = rho * cos;
                want[b * BLOCK + PAIRS + i] = rho * sin;
            }
        }
        let mut first: Option<Vec<f64>> = None;
        for isa in [Isa::Best, Isa::Avx2, Isa::Scalar] {
            let mut s = NormalStream::on(seed, isa);
            let mut got = vec![0.0; 3 * BLOCK];
            let (a, rest) = got.split_at_mut(7);
            s.fill(a);
            let (b, c) = rest.split_at_mut(BLOCK + 3);
            s.fill(b);
            s.fill(c);
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let tol = 8.0 * f64::EPSILON * w.abs().max(1.0);
                assert!((g - w).abs() <= tol, "{isa:?} draw {i}: {g} vs {w}");
            }
            match &first {
                None => first = Some(got),
                Some(f) => assert!(f.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits())),
            }
        }
    }

    /// 4·10⁶ draws: mean, variance, skewness and excess kurtosis within 5 of their standard
    /// errors under N(0, 1) (1/√n, √(2/n), √(6/n), √(24/n)); the Kolmogorov–Smirnov distance to
    /// Φ below 1.95/√n (the 0.1 % critical value); the two halves of each block (cos and sin)
    /// uncorrelated within 5/√n.
    #[test]
    fn the_draws_are_standard_normal() {
        let n = 4_000_000;
        let mut x = vec![0.0; n];
        NormalStream::new(2026).fill(&mut x);
        let nf = n as f64;
        let mean = x.iter().sum::<f64>() / nf;
        let moment = |k: i32| x.iter().map(|v| (v - mean).powi(k)).sum::<f64>() / nf;
        let (m2, m3, m4) = (moment(2), moment(3), moment(4));
        let checks = [
            ("mean", mean, 0.0, 1.0),
            ("variance", m2, 1.0, 2.0),
            ("skewness", m3 / m2.powf(1.5), 0.0, 6.0),
            ("excess kurtosis", m4 / (m2 * m2) - 3.0, 0.0, 24.0),
        ];
        for (name, got, want, var) in checks {
            let se = (var / nf).sqrt();
            assert!(
                (got - want).abs() < 5.0 * se,
                "{name}: {got} vs {want} ± {se}"
            );
        }
        let pairs = x
            .chunks(BLOCK)
            .flat_map(|b| b[..PAIRS].iter().zip(&b[PAIRS..]));
        let cross = pairs.map(|(a, b)| a * b).sum::<f64>() / (nf / 2.0);
        assert!(cross.abs() < 5.0 / (nf / 2.0).sqrt(), "cos·sin {cross}");
        x.sort_by(f64::total_cmp);
        let ks = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let f = normal_cdf(v);
                (f - i as f64 / nf)
                    .abs()
                    .max(((i + 1) as f64 / nf - f).abs())
            })
            .fold(0.0, f64::max);
        assert!(ks < 1.95 / nf.sqrt(), "KS distance {ks}");
    }
}
