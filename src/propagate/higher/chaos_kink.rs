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
//! relative error grows by at most τ²/(k−1) a step: measured ≤ 6·10⁻¹⁵ at τ = 1, k ≤ 9). For
//! τ ≥ 1 G is the backward recurrence's dominant solution (Miller's algorithm): with
//! x_k = G_k/(k! q) for an unknown q > 0,
//!
//! ```text
//! x_{k−1} = τ x_k + (k+1) x_{k+1}        (k = N … 0; two steps at a time above k = 10,
//!                                          x_{k−2} = (τ² + k) x_k + τ(k+1) x_{k+1})
//! x_N = 1,  x_{N+1} = ρ/(N+1),  ρ = ½(s − τ)(1 − s⁻² + (½ + 5τ/(2s)) s⁻⁴),  s² = τ² + 4(N+1)
//! G_1 = 1 − τ G_0  ⇒  q x_{−1} = 1,  x_{−1} = τ x_0 + x_1:   J_k = ϕ(τ) k! x_k / x_{−1}
//! ```
//!
//! — multiplications and additions of positive terms only (no dependent division; each sum's
//! relative rounding stays that of its terms), one division at the end. ρ is the ratio
//! G_{N+1}/G_N's large-k expansion (the fixed point of r_k = k/(τ + r_{k+1}), ½(s − τ), with
//! its next two corrections; fitted against mpmath: relative error O(s⁻⁶)); the start's error
//! reaches k ≤ 9 damped by the ratio of the recurrence's two solutions, ≈ e^{−2τ(√N − 3)}, so
//! N(τ) = ⌈(10.5/τ + 4.5)²⌉ (225 at τ = 1, 96 at 2, 29 at 12) leaves a truncation error
//! ≤ 8·10⁻²⁰ (mpmath in 40 digits, τ = 1 … 12 every 1/16: the fewest N reaching 2⁻⁶⁰ are 195, 83,
//! 20 there). No rescaling is needed: x_{k−1}/x_k = k/r_k = τ + r_{k+1} with r_k = G_k/G_{k−1}
//! ≤ √k (G log-convex by Cauchy–Schwarz, so r_k² ≤ r_k r_{k+1} = k − τ r_k), hence
//! 1 = x_N ≤ x_k ≤ x_{−1} ≤ Π_{k=1}^{N+1} (τ + √k) ≤ 2⁷⁶² over τ ∈ [1, 12] (test
//! `backward_recurrence_stays_in_range`). Against mpmath (τ = 1 … 12 every 1/256): J_k within
//! 9·10⁻¹⁶ relative for k ≤ 9, ϕ's rounding included.
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
    // x_k = G_k/(k! q), q > 0 unknown: x_{k−1} = τ x_k + (k+1) x_{k+1}, from x_N = 1 and
    // x_{N+1} = ρ/(N+1), ρ the ratio G_{N+1}/G_N's large-k expansion (module docs).
    let n = backward_steps(tau);
    let m = (n + 1) as f64;
    let s2 = tau * tau + 4.0 * m;
    let s = s2.sqrt();
    let inv_s2 = 1.0 / s2;
    let rho = 0.5 * (s - tau) * (1.0 - inv_s2 + (0.5 + 2.5 * tau / s) * inv_s2 * inv_s2);
    let (mut x, mut above) = (1.0, rho / m);
    // Two steps at a time down to k ≤ MOMENTS + 1: x_{k−1} and
    // x_{k−2} = (τ² + k) x_k + τ(k+1) x_{k+1}, both from (x_k, x_{k+1}).
    let tau2 = tau * tau;
    let mut k = n;
    while k > MOMENTS + 1 {
        let kf = k as f64;
        let next = tau * x + (kf + 1.0) * above;
        x = (tau2 + kf) * x + tau * (kf + 1.0) * above;
        above = next;
        k -= 2;
    }
    // One step at a time, keeping x_k for k ≤ MOMENTS, down to x_{−1} = τ x_0 + x_1.
    let mut xs = [0.0; MOMENTS + 1];
    loop {
        if k <= MOMENTS {
            xs[k] = x;
        }
        let next = tau * x + (k + 1) as f64 * above;
        above = x;
        x = next;
        if k == 0 {
            break;
        }
        k -= 1;
    }
    // G_1 = 1 − τ G_0 makes q x_{−1} = 1: J_k = ϕ(τ) k! x_k / x_{−1}.
    let scale = pdf / x;
    for ((out, &xk), fact) in j.iter_mut().zip(&xs).zip(FACTORIAL) {
        *out = fact * xk * scale;
    }
    (j, pdf)
}

/// k! for k ≤ 9 (exact in f64).
const FACTORIAL: [f64; MOMENTS + 1] = [
    1.0, 1.0, 2.0, 6.0, 24.0, 120.0, 720.0, 5040.0, 40320.0, 362880.0,
];

/// The backward recurrence's start N(τ) = ⌈(10.5/τ + 4.5)²⌉ for τ ≥ 1: 225 at τ = 1, 96 at
/// τ = 2, 29 at τ = 12 (module docs: the start's error reaches k ≤ 9 damped below 10⁻¹⁹).
fn backward_steps(tau: f64) -> usize {
    let root = 10.5 / tau + 4.5;
    (root * root).ceil() as usize
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
    /// switch at τ = 1, 9·10⁻¹⁶ above, module docs; the reference's rounding ~10⁻¹⁵) on both
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

    /// τ, then J_0(τ) … J_9(τ) rounded to f64: mpmath 1.3 in 90 digits, G_0 = √(π/2) e^{τ²/2}
    /// erfc(τ/√2) and the recurrence upwards (it loses ≤ 20 of them at τ = 12), times ϕ(τ).
    const MPMATH: [[f64; MOMENTS + 2]; 8] = [
        [
            1.0,
            0.15865525393145705,
            0.0833154705876863,
            0.07533978334377076,
            0.09129115783160184,
            0.1347281921997104,
            0.23043643912669695,
            0.4432045218718551,
            0.9394141128883267,
            2.163017540214659,
            5.352295362891954,
        ],
        [
            1.25,
            0.10564977366685525,
            0.05058686830545283,
            0.042416188285039215,
            0.04815350125460664,
            0.06705668828685935,
            0.1087931446598524,
            0.1992920106094812,
            0.4036438546972629,
            0.8904892558947899,
            2.1160392677096156,
        ],
        [
            1.5,
            0.06680720126885807,
            0.02930679376260463,
            0.022847010624951123,
            0.024343071587782573,
            0.03202642449317951,
            0.049332649611361024,
            0.08613314804885601,
            0.16679617559488213,
            0.3527377729496689,
            0.8052627453345537,
        ],
        [
            2.0,
            0.02275013194817921,
            0.008490702616829637,
            0.005768726714519932,
            0.005443951804619411,
            0.006418276534320974,
            0.008939254149835695,
            0.014212874371933483,
            0.0252097761551472,
            0.04907056829323998,
            0.10353707265469765,
        ],
        [
            3.0,
            0.0013498980316300946,
            0.0003821543170477236,
            0.00020343508048692373,
            0.00015400339263467596,
            0.0001482950635567433,
            0.000171128379868474,
            0.00022809017817829457,
            0.0003424997446759602,
            0.0005691320132201815,
            0.001032601917747137,
        ],
        [
            5.0,
            2.866515718791939e-07,
            5.346165533832815e-08,
            1.9343295187553163e-08,
            1.0206834738890479e-08,
            6.995711868207096e-09,
            5.848779614526437e-09,
            5.734661268403295e-09,
            6.419371345142151e-09,
            8.045772153112307e-09,
            1.1126109995575669e-08,
        ],
        [
            7.0,
            1.279812543885835e-12,
            1.760326011637483e-13,
            4.758433573959682e-14,
            1.897485215031889e-14,
            9.929042166558222e-15,
            6.3961134353680035e-15,
            4.872416785215086e-15,
            4.2697631157024195e-15,
            4.218575686588668e-15,
            4.628075119498678e-15,
        ],
        [
            12.0,
            1.776482112077679e-33,
            1.4605201169845548e-34,
            2.385797169621326e-35,
            5.808363042351818e-36,
            1.8735585804179702e-36,
            7.50749204391631e-37,
            3.5880244939027796e-37,
            1.9886583366645057e-37,
            1.252271417345391e-37,
            8.820096851713534e-38,
        ],
    ];

    /// The backward recurrence's J_k (τ ≥ 1) against mpmath's ([`MPMATH`]) within 2·10⁻¹⁵
    /// relative (measured ≤ 9·10⁻¹⁶ every 1/256 over [1, 12], module docs). Fails with the
    /// start ρ's corrections dropped (ρ = ½(s − τ): 2.4·10⁻¹⁴ at τ = 1), with half the steps
    /// N(τ) (1.7·10⁻¹³ at τ = 12), and with a pair step's coefficient τ(k+1) made τk (10⁻² at
    /// τ = 1).
    #[test]
    fn backward_recurrence_matches_mpmath() {
        for row in MPMATH {
            let tau = row[0];
            let (got, _) = tail_moments(tau);
            for (k, (&g, &want)) in got.iter().zip(&row[1..]).enumerate() {
                let rel = (g - want).abs() / want;
                assert!(rel <= 2e-15, "τ {tau} J_{k}: {g:e} vs {want:e} ({rel:.1e})");
            }
        }
    }

    /// No rescaling is needed in the backward recurrence: its growth x_{−1}/x_N is at most
    /// Π_{k=1}^{N+1} (τ + √k) (module docs), which stays below 2⁸⁰⁰ (measured max 2^761.2, at
    /// τ ≈ 1) for τ ∈ [1, 12] every 1/1024, far from f64's 2¹⁰²⁴. Fails with N(τ)'s 10.5 made
    /// 12 (2^957) or N doubled (2^1721).
    #[test]
    fn backward_recurrence_stays_in_range() {
        let mut worst = 0.0f64;
        for i in 0..=11 * 1024 {
            let tau = 1.0 + i as f64 / 1024.0;
            let n = backward_steps(tau);
            assert!(n > MOMENTS + 1, "τ {tau}: N = {n}");
            let log2: f64 = (1..=n + 1).map(|k| (tau + (k as f64).sqrt()).log2()).sum();
            worst = worst.max(log2);
        }
        assert!(worst <= 800.0, "growth 2^{worst:.1}");
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
