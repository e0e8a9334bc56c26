//! The chaos coefficients of [`super::chaos`] for a piecewise-linear φ — relu, leaky relu
//! (slope c) and linear (c = 1): φ(h) = c·h + (1 − c)·h₊ — in closed form.
//!
//! φ is positively homogeneous, φ(μ + s z) = s·ψ(z) with ψ(z) = φ(a + z), a = μ/s, so
//! m = s·E ψ and B_{p,j}(μ, s) = s^{p−j}·b_{p,j}(a), b the coefficients at unit spread (no
//! difference φ(μ + s z) − m formed at any s; s^{p−j} by repeated multiplication or division,
//! so a coefficient beyond f64's range is ±∞ and one below it 0, as rounding gives them).
//! Written on the half-line that holds less mass, y = σz (σ = −1 for a ≥ 0, +1 for a < 0;
//! τ = |a| ≥ 0 the kink's distance from the mean in y):
//!
//! ```text
//! ψ = α a + A y + β (y − τ)₊,   A = ασ,  β = 1 − c,  (α, σ) = (1, −1) for a ≥ 0, (c, +1) for a < 0
//! J_k(τ) = E[(y − τ)₊^k] = ϕ(τ) G_k(τ),   G_k = ∫₀^∞ u^k e^{−τu − u²/2} du,
//! G_k = (k−1) G_{k−2} − τ G_{k−1},  G_0 = Φ̄(τ)/ϕ(τ),  G_1 = 1 − τ G_0
//! m = α a + β J_1,   ψ − m = A y + D + β (y − τ)₊,   D = −β J_1,   P = A τ + D
//! ```
//!
//! (integration by parts; Abramowitz & Stegun 26.2.41 and §19.14 for the recurrence of the
//! normal's repeated integrals Hh). With He_j(z) = σ^j He_j(y) and E over y < τ written as the
//! full line's expectation less the tail's,
//!
//! ```text
//! j!·b_{p,j} σ^j = E[(A y + D)^p He_j(y)] + E_{y>τ}[(P + (A+β)u)^p − (P + A u)^p) He_j(τ + u)]
//!   E[(A y + D)^p He_j] = p!/(p−j)! A^j Σ_{k even} C(p−j, k) A^k (k−1)!! D^{p−j−k}   (j ≤ p; 0 else)
//!   tail = Σ_{k=1}^{p} C(p,k) P^{p−k} ((A+β)^k − A^k) Σ_{i=0}^{j} C(j,i) He_{j−i}(τ) J_{k+i}
//! ```
//!
//! (Stein's identity E[g He_j] = E[g⁽ʲ⁾] on the full line; He_j(τ + u) = Σ_i C(j,i)
//! He_{j−i}(τ) u^i, He_n′ = n He_{n−1}). For p = 1 Stein's identity with ψ″ = β δ(z − t),
//! t = −a, E[δ⁽ⁿ⁾(z − t)] = He_n(t)ϕ(t), gives b_{1,1} = c + β Φ(a) and
//! b_{1,j} = β ϕ(a) He_{j−2}(t)/j! (j ≥ 2) directly.
//!
//! No term cancels against another of the result's size: the full-line sum has terms of one
//! sign (only even k), and the tail's terms are products of the positive J_k with
//! He_{j−i}(τ) ≍ τ^{j−i}, each of the size of its sum for τ beyond He's largest root (2.86);
//! nearer the mean all terms are O(1) like the coefficients' units. J_k is computed to
//! relative precision: for τ < 1 by the recurrence upwards from Φ̄ (libm's erfc) and ϕ (its
//! relative error grows by at most τ²/(k−1) a step: measured ≤ 6·10⁻¹⁵ at τ = 1, k ≤ 9), for
//! τ ≥ 1 by the ratios G_k/G_{k−1} = k/(τ + G_{k+1}/G_k) downwards from k = N (Miller's
//! backward recurrence, the minimal solution), started at the ratio's large-k limit
//! (√(τ² + 4k) − τ)/2, N = 40 + 250/τ^{3/2} (measured against mpmath: relative error
//! ≤ 5·10⁻¹⁶ for k ≤ 9 at τ = 1 … 12), and G_0 = 1/(τ + G_1/G_0).
//!
//! Beyond the kink's reach, τ > [`RANGE`] (the range the quadrature had, which dropped them
//! too), the kink's terms are dropped and the unit is linear (J = 0): each is below
//! ϕ(12)·12⁵ ≈ 10⁻²⁶ at unit spread, i.e. 10⁻²⁶·s^{p−j} (a relu unit there is 0 to that
//! accuracy); then also s^{p−j} stays in range at every s (`chaos_range` refuses the spreads
//! at which it would not, within the reach).

use super::chaos::{Chaos, UnitChaos, MAX_DEGREE, MAX_POWER, RANGE};

/// Highest tail moment J_k used: k + i ≤ p + j.
const MOMENTS: usize = MAX_POWER + MAX_DEGREE;

/// The coefficients of φ(h) = c·h + (1 − c)·h₊ at h ~ N(μ, s²), s > 0 (module docs).
pub fn piecewise_linear(c: f64, mu: f64, s: f64) -> UnitChaos {
    let a = mu / s;
    let beta = 1.0 - c;
    let (alpha, sigma) = if a >= 0.0 { (1.0, -1.0) } else { (c, 1.0) };
    let tau = a.abs();
    let big_a = alpha * sigma;
    // The kink's tail moments J_k and ϕ(τ); zero beyond the kink's reach (module docs).
    let near = beta != 0.0 && tau <= RANGE;
    let (j_mom, pdf, he_tau) = if near {
        let (j_mom, pdf) = tail_moments(tau);
        (j_mom, pdf, hermite(tau))
    } else {
        ([0.0; MOMENTS + 1], 0.0, [0.0; MAX_DEGREE + 1])
    };
    let d = -beta * j_mom[1];
    // P = Aτ + D, 0 where the kink's terms are dropped (τ may be ∞ there).
    let p_shift = if near { big_a * tau + d } else { 0.0 };
    let mut b: Chaos = [[0.0; MAX_DEGREE + 1]; MAX_POWER + 1];
    // p = 1: Stein's identity (module docs); Φ(a) = 1 − J_0 for a ≥ 0, J_0 for a < 0.
    b[1][1] = c + beta * if a >= 0.0 { 1.0 - j_mom[0] } else { j_mom[0] };
    let mut fact = 1.0;
    for j in 2..=MAX_DEGREE {
        fact *= j as f64;
        // He_{j−2}(t) at t = στ.
        let sign = if sigma < 0.0 && j % 2 == 1 { -1.0 } else { 1.0 };
        b[1][j] = beta * pdf * sign * he_tau[j - 2] / fact;
    }
    // T_{k,j} = Σ_i C(j,i) He_{j−i}(τ) J_{k+i}, k = 1..p.
    let mut t = [[0.0; MAX_DEGREE + 1]; MAX_POWER + 1];
    for (k, row) in t.iter_mut().enumerate().skip(1) {
        for (j, out) in row.iter_mut().enumerate() {
            *out = (0..=j)
                .map(|i| BINOM[j][i] * he_tau[j - i] * j_mom[k + i])
                .sum();
        }
    }
    // (A + β)^k − A^k and the full line's E[(A y + D)^n], n ≤ p.
    let mut jump = [0.0; MAX_POWER + 1];
    let (mut up, mut down) = (1.0, 1.0);
    for x in jump.iter_mut().skip(1) {
        up *= big_a + beta;
        down *= big_a;
        *x = up - down;
    }
    let full = gaussian_powers(big_a, d);
    for p in 2..=MAX_POWER {
        let mut fact = 1.0;
        let mut a_power = 1.0;
        for j in 0..=MAX_DEGREE {
            if j > 0 {
                fact *= j as f64;
                a_power *= big_a;
            }
            let bulk = if j <= p {
                FALLING[p][j] * a_power * full[p - j]
            } else {
                0.0
            };
            let mut tail = 0.0;
            let mut p_power = 1.0;
            for k in (1..=p).rev() {
                tail += BINOM[p][k] * p_power * jump[k] * t[k][j];
                p_power *= p_shift;
            }
            let sign = if sigma < 0.0 && j % 2 == 1 { -1.0 } else { 1.0 };
            b[p][j] = sign * (bulk + tail) / fact;
        }
    }
    // Back to spread s: B_{p,j} = s^{p−j} b_{p,j}, m = α μ + s β J_1.
    for (p, row) in b.iter_mut().enumerate().skip(1) {
        for (j, x) in row.iter_mut().enumerate() {
            for _ in j..p {
                *x *= s;
            }
            for _ in p..j {
                *x /= s;
            }
        }
    }
    UnitChaos {
        mean: alpha * mu + s * (beta * j_mom[1]),
        b,
    }
}

/// C(n, k), n ≤ 5.
const BINOM: [[f64; MAX_DEGREE + 1]; MAX_DEGREE + 1] = [
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    [1.0, 2.0, 1.0, 0.0, 0.0, 0.0],
    [1.0, 3.0, 3.0, 1.0, 0.0, 0.0],
    [1.0, 4.0, 6.0, 4.0, 1.0, 0.0],
    [1.0, 5.0, 10.0, 10.0, 5.0, 1.0],
];

/// p!/(p − j)!, p ≤ 4, j ≤ p.
const FALLING: [[f64; MAX_POWER + 1]; MAX_POWER + 1] = [
    [1.0, 0.0, 0.0, 0.0, 0.0],
    [1.0, 1.0, 0.0, 0.0, 0.0],
    [1.0, 2.0, 2.0, 0.0, 0.0],
    [1.0, 3.0, 6.0, 6.0, 0.0],
    [1.0, 4.0, 12.0, 24.0, 24.0],
];

/// He_0(x) … He_5(x) (He_{n+1} = x He_n − n He_{n−1}).
fn hermite(x: f64) -> [f64; MAX_DEGREE + 1] {
    let mut he = [1.0, x, 0.0, 0.0, 0.0, 0.0];
    for n in 1..MAX_DEGREE {
        he[n + 1] = x * he[n] - n as f64 * he[n - 1];
    }
    he
}

/// E[(A y + D)^n] for y ~ N(0, 1), n ≤ 4: Σ_{k even} C(n,k) A^k (k−1)!! D^{n−k} (terms of one
/// sign).
fn gaussian_powers(a: f64, d: f64) -> [f64; MAX_POWER + 1] {
    let (a2, d2) = (a * a, d * d);
    [
        1.0,
        d,
        d2 + a2,
        d * (d2 + 3.0 * a2),
        d2 * d2 + 6.0 * a2 * d2 + 3.0 * a2 * a2,
    ]
}

/// J_0(τ) … J_9(τ) = E[(y − τ)₊^k] and ϕ(τ), τ ≥ 0 (module docs).
fn tail_moments(tau: f64) -> ([f64; MOMENTS + 1], f64) {
    let pdf = (-0.5 * tau * tau).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut j = [0.0; MOMENTS + 1];
    if tau < 1.0 {
        j[0] = 0.5 * libm::erfc(tau * std::f64::consts::FRAC_1_SQRT_2);
        j[1] = pdf - tau * j[0];
        for k in 2..=MOMENTS {
            j[k] = (k - 1) as f64 * j[k - 2] - tau * j[k - 1];
        }
        return (j, pdf);
    }
    let n = 40 + (250.0 / (tau * tau.sqrt())).ceil() as usize;
    let mut ratio = 0.5 * ((tau * tau + 4.0 * (n + 1) as f64).sqrt() - tau);
    let mut ratios = [0.0; MOMENTS + 1];
    for k in (1..=n).rev() {
        ratio = k as f64 / (tau + ratio);
        if k <= MOMENTS {
            ratios[k] = ratio;
        }
    }
    let mut g = 1.0 / (tau + ratios[1]);
    j[0] = pdf * g;
    for k in 1..=MOMENTS {
        g *= ratios[k];
        j[k] = pdf * g;
    }
    (j, pdf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::closures::rules::for_each_normal_node;

    /// The reference at unit spread: the composite 16-point Gauss–Legendre rule split at the
    /// kink z = −a, panels 0.25 over |z| ≤ 40 (polynomial times the normal density on each
    /// side: exact but for rounding; the cut mass 2Φ̄(40) < 10⁻³⁴⁸). Returns m,
    /// E[(ψ − m)^p He_j(z)] and ‖(ψ − m)^p‖₂ = √E[(ψ − m)^{2p}].
    fn reference(c: f64, a: f64) -> (f64, Chaos, [f64; MAX_POWER + 1]) {
        let (mut z, mut w) = (Vec::new(), Vec::new());
        for_each_normal_node(&[-a], 0.25, &[], 40.0, |x, weight| {
            z.push(x);
            w.push(weight);
        });
        let psi = |x: f64| if a + x >= 0.0 { a + x } else { c * (a + x) };
        let m = compensated(z.iter().zip(&w).map(|(&x, w)| w * psi(x)));
        let mut e = [[0.0; MAX_DEGREE + 1]; MAX_POWER + 1];
        let mut norm = [0.0; MAX_POWER + 1];
        for p in 1..=MAX_POWER {
            let power = |x: f64| (psi(x) - m).powi(p as i32);
            norm[p] = compensated(z.iter().zip(&w).map(|(&x, w)| w * power(x) * power(x))).sqrt();
            for (j, out) in e[p].iter_mut().enumerate() {
                *out = compensated(z.iter().zip(&w).map(|(&x, w)| w * power(x) * hermite(x)[j]));
            }
        }
        (m, e, norm)
    }

    /// Neumaier's compensated sum (error ≈ ε·|sum| + n ε²·Σ|terms|).
    fn compensated(terms: impl Iterator<Item = f64>) -> f64 {
        let (mut sum, mut carry) = (0.0f64, 0.0);
        for x in terms {
            let t = sum + x;
            carry += if sum.abs() >= x.abs() {
                (sum - t) + x
            } else {
                (x - t) + sum
            };
            sum = t;
        }
        sum + carry
    }

    /// j! for j ≤ 5.
    const FACTS: [f64; MAX_DEGREE + 1] = [1.0, 1.0, 2.0, 6.0, 24.0, 120.0];

    /// The means a = μ/s of the grid: every 1/16 over |a| ≤ 12, the kink's neighbourhood, the
    /// reach's edge and beyond it to |a| = 40 (further out the reference's ψ − m cancels;
    /// `far_from_the_kink_the_unit_is_linear` checks |a| up to ∞).
    fn means() -> Vec<f64> {
        let mut a: Vec<f64> = (-192..=192).map(|i| i as f64 / 16.0).collect();
        for x in [
            1e-300,
            1e-12,
            1e-3,
            0.999,
            1.0 + 1e-9,
            12.0 - 1e-9,
            12.0 + 1e-9,
            13.0,
            20.0,
        ] {
            a.extend([x, -x]);
        }
        a.extend([40.0, -40.0]);
        a
    }

    /// Largest error of a coefficient in units u_{p,j} = ‖(φ − m)^p‖/(s^j √j!) (Parseval's
    /// bound on |B_{p,j}|; `chaos_reference`): the reference's rounding is ≤ ε·u by
    /// Cauchy–Schwarz per term, ≈ √n ε u over its n ≈ 5000 nodes (~10⁻¹⁴); the closed form's
    /// ~30 roundings of terms of at most a few u (module docs) add ~10⁻¹⁴; TOL leaves a factor
    /// ~5 over both. Beyond the kink's reach the dropped kink terms (< 10⁻²⁶ at unit spread)
    /// are judged against the linear piece's scale, u at least 1/√j!.
    const TOL: f64 = 1e-13;

    /// [`piecewise_linear`] against the split quadrature over the grid of [`means`], for relu,
    /// leaky relu (slopes 0.1, −0.5, 3) and linear, at spreads 10⁻³⁸ … 10³⁸ (the coefficients
    /// at spread s scaled back by s^{j−p}: homogeneity): every B_{p,j} within [`TOL`] u_{p,j},
    /// the mean within 10⁻¹⁴(|m| + 1)·s (the reference's weights sum to 1 within ~10⁻¹⁵,
    /// off by 1.2·10⁻¹⁵ of |m| at leaky slope −0.5, a = −11.6).
    /// Fails with the upward recurrence for J_k at every τ (`tau < 1.0` made `tau < 13.0`:
    /// J_9 wrong by 170 % at τ = 12) and with the tail's sign flipped.
    #[test]
    fn closed_form_matches_the_split_quadrature() {
        let (mut worst, mut at) = (0.0f64, String::new());
        for c in [0.0, 0.1, -0.5, 3.0, 1.0] {
            for a in means() {
                let (m, e, norm) = reference(c, a);
                for s in [1.0, 1e-38, 3.7e-7, 2.5, 1e38] {
                    let got = piecewise_linear(c, a * s, s);
                    let dm = (got.mean / s - m).abs();
                    assert!(
                        dm <= 1e-14 * (m.abs() + 1.0),
                        "c {c} a {a} s {s}: mean {dm:e}"
                    );
                    for p in 1..=MAX_POWER {
                        for j in 0..=MAX_DEGREE {
                            let mut b = got.b[p][j];
                            for _ in j..p {
                                b /= s;
                            }
                            for _ in p..j {
                                b *= s;
                            }
                            let want = if p == 1 && j == 0 { 0.0 } else { e[p][j] };
                            let mut unit = norm[p] / FACTS[j].sqrt();
                            if a.abs() > RANGE {
                                unit = unit.max(1.0 / FACTS[j].sqrt());
                            }
                            let err = (b * FACTS[j] - want).abs() / (unit * FACTS[j]);
                            let err = if err.is_nan() { f64::INFINITY } else { err };
                            if err > worst {
                                worst = err;
                                at = format!("c {c} a {a} s {s} B[{p}][{j}] {b:e} vs {want:e}");
                            }
                        }
                    }
                }
            }
        }
        println!("worst {worst:.2e} at {at}");
        assert!(worst <= TOL, "worst {worst:.2e} at {at}");
    }

    /// The tail moments J_k(τ), k ≤ 9, to relative precision against the quadrature on the
    /// tail: each within 10⁻¹⁴ of it (the closed form within 6.2·10⁻¹⁵ of mpmath below the
    /// switch at τ = 1, 5·10⁻¹⁶ above, module docs; the reference's rounding ~10⁻¹⁵) on both
    /// sides of the switch. Fails with the upward recurrence everywhere (relative error 2·10⁻¹²
    /// at τ = 2).
    #[test]
    fn tail_moments_keep_relative_precision() {
        for tau in [0.0, 0.3, 0.999, 1.0, 1.3, 2.0, 2.9, 4.0, 6.5, 9.0, 12.0] {
            let (got, pdf) = tail_moments(tau);
            let want_pdf = (-0.5 * tau * tau).exp() / (2.0 * std::f64::consts::PI).sqrt();
            assert!((pdf - want_pdf).abs() <= 1e-16 * want_pdf);
            let mut want = [0.0; MOMENTS + 1];
            for_each_normal_node(&[tau], 0.125, &[], 40.0, |x, w| {
                if x > tau {
                    for (k, o) in want.iter_mut().enumerate() {
                        *o += w * (x - tau).powi(k as i32);
                    }
                }
            });
            for k in 0..=MOMENTS {
                let rel = (got[k] - want[k]).abs() / want[k];
                assert!(
                    rel <= 1e-14,
                    "τ {tau} J_{k}: {:e} vs {:e} ({rel:.1e})",
                    got[k],
                    want[k]
                );
            }
        }
    }

    /// Far beyond the kink and at spreads outside f64's comfortable range the unit is exactly
    /// linear, with no NaN: relu at μ = ±1, s = 10⁻³⁰⁰ (μ/s = ±10³⁰⁰) is the identity or 0,
    /// and at μ = 1, s = 5·10⁻³²⁴ (μ/s = ∞) the identity.
    #[test]
    fn far_from_the_kink_the_unit_is_linear() {
        for (mu, s) in [
            (1.0, 1e-300),
            (1.0, 5e-324),
            (-1.0, 1e-300),
            (-1e300, 1e290),
        ] {
            let got = piecewise_linear(0.0, mu, s);
            let alive = mu > 0.0;
            assert_eq!(got.mean, if alive { mu } else { 0.0 }, "{mu} {s}");
            for (p, row) in got.b.iter().enumerate().skip(1) {
                for (j, &b) in row.iter().enumerate() {
                    let want = match (p, j) {
                        (1, 1) if alive => 1.0,
                        (2, 0) if alive => s * s,
                        (2, 2) if alive => 1.0,
                        (3, 1) if alive => 3.0 * s * s,
                        (3, 3) if alive => 1.0,
                        (4, 0) if alive => 3.0 * s.powi(4),
                        (4, 2) if alive => 6.0 * s * s,
                        (4, 4) if alive => 1.0,
                        _ => 0.0,
                    };
                    assert!(
                        (b - want).abs() <= 1e-15 * want.abs(),
                        "{mu} {s} B[{p}][{j}] {b:e} vs {want:e}"
                    );
                }
            }
        }
    }
}
