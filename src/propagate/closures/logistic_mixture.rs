//! Gaussian moments of the logistic family in closed form per mixing node (issue #14, item 3).
//!
//! The logistic L = τU (U ~ N(0, 1), v = τ² from [`mixing_rule`]) gives, for h Gaussian and
//! L independent of it:
//! - sigmoid: σ(h) = P(L ≤ h) = E_τ\[Φ(h/τ)\];
//! - tanh(h) = 2σ(2h) − 1;
//! - SiLU: h·σ(h) = E_τ\[h·1{h − τU ≥ 0}\] = E_τ\[τ·gelu(h/τ)\] (gelu(u) = uΦ(u));
//! - softplus = ∫σ: log(1 + eʰ) = E\[(h − L)⁺\] = E_τ\[relu(h − τU)\].
//!
//! Each mixing node pair (vₖ, vₗ) — independent L, L′ for the two units — is a closed form on
//! Gaussian variables: for (hᵢ, hⱼ) with means μ, deviations s and covariance c = ρsᵢsⱼ,
//! Aᵢ = hᵢ − τₖUᵢ ~ N(μᵢ, Sᵢ²), Sᵢ² = vₖ + sᵢ², Cov(Aᵢ, Aⱼ) = c, so
//! Cov(σ(hᵢ), σ(hⱼ)) = Σₖₗ wₖwₗ\[Φ₂(aᵢ, aⱼ; r) − Φ(aᵢ)Φ(aⱼ)\], aᵢ = μᵢ/Sᵢ, r = c/(SᵢSⱼ) (the
//! product of the means is Σₖₗ wₖwₗΦ(aᵢ)Φ(aⱼ) by independence, so the whole sum is over
//! covariance forms, `bvn_cov`, with no cancellation); SiLU's node term is τₖτₗ times GELU's
//! pair covariance at (μ/τ, s/τ) (`gelu_exact::pair_cov`), softplus' the covariance of
//! relu(Aᵢ), relu(Aⱼ) ([`relu_cov`]). r < 1 even at ρ = 1 (Sᵢ > sᵢ).

use pulp::{Simd, WithSimd};

use super::bvn::MAX_LANES;
use super::bvn_cov_lanes::bvn_cov_row;
use super::gelu_exact;
use super::input::Isa;
use super::mixing_rule::{rule, MAX_NODES};
use crate::net::Activation;
use crate::special::{bvn_cov, normal_cdf, normal_pdf};

/// Whether `act` is of the logistic family this module serves.
pub(crate) fn supports(act: Activation) -> bool {
    matches!(
        act,
        Activation::Tanh | Activation::Sigmoid | Activation::Silu | Activation::Softplus
    )
}

/// The constant of [`nodes`]: M = ⌈NODE_SCALE/√d⌉.
const NODE_SCALE: f64 = 40.0;
/// Smallest deviation (of the logistic unit, tanh's doubled) [`nodes`] serves: below, the
/// rule's convergence slows (10⁻¹⁰ at 32 nodes and s ≈ 1.2), and the series settles such
/// units in few terms.
const MIN_SCALE: f64 = 2.0;
/// Fewest nodes [`nodes`] gives.
const MIN_NODES: usize = 3;

/// Nodes per unit of the mixing rule for a pair (the same for both units), or `None` where more
/// than [`MAX_NODES`] would be needed or s < [`MIN_SCALE`]: M = max(3, ⌈40/√d⌉),
/// d = (1 − ρ²)·s², s the smaller deviation of the two logistic units (tanh's doubled). The node term of a pair is analytic in
/// (vₖ, vₗ) but where r = ±1, (vₖ + sᵢ²)(vₗ + sⱼ²) = ρ²sᵢ²sⱼ², at a distance ~(1 − ρ²)s² from
/// the measure's support (and where Sᵢ² = 0, at distance s²): the Gauss rule's error falls
/// geometrically in M√d. The constant is from the measured convergence against the 2-D
/// quadrature (M√d ≈ 29 reached 10⁻¹² of √(VarᵢVarⱼ) at d from 0.8 to 124, s ≥ 3) with margin,
/// and the bound is tested on a grid of s, ρ and μ/s (`pair_cov_matches_the_2d_rule`).
pub(crate) fn nodes(act: Activation, s1: f64, s2: f64, rho: f64) -> Option<usize> {
    let factor = if act == Activation::Tanh { 2.0 } else { 1.0 };
    let s = factor * s1.min(s2);
    let d = (1.0 - rho) * (1.0 + rho) * s * s;
    let m = (NODE_SCALE / d.sqrt()).ceil();
    (s >= MIN_SCALE && m <= MAX_NODES as f64).then(|| (m as usize).max(MIN_NODES))
}

/// The logistic-family unit of `act` at (μ, s): tanh(h) = 2σ(2h) − 1 is the sigmoid of the
/// doubled unit, scaled by 2 (returned as the factor of its deviation from the mean).
fn logistic_unit(act: Activation, mu: f64, s: f64) -> (f64, f64, f64) {
    if act == Activation::Tanh {
        (2.0 * mu, 2.0 * s, 2.0)
    } else {
        (mu, s, 1.0)
    }
}

/// E\[φ(h)\], h ~ N(μ, s²), by the `nodes`-point mixing rule: sigmoid Σ wₖΦ(μ/Sₖ); tanh
/// 2·(sigmoid at (2μ, 2s)) − 1; SiLU Σ wₖτₖ·m_gelu(μ/τₖ, s/τₖ) = Σ wₖ(μΦ(aₖ) + s²φ(aₖ)/Sₖ);
/// softplus Σ wₖ(μΦ(aₖ) + Sₖφ(aₖ)) (E\[A⁺\]), aₖ = μ/Sₖ, Sₖ² = vₖ + s². The closure takes
/// its means from the series' coefficients; this checks the rule on one unit in the tests.
#[cfg(test)]
fn mean(act: Activation, mu: f64, s: f64, nodes: usize) -> f64 {
    let (mu, s, scale) = logistic_unit(act, mu, s);
    let (v, w) = rule(nodes);
    let sum: f64 = v
        .iter()
        .zip(w)
        .map(|(&v, &w)| {
            let big_s = (v + s * s).sqrt();
            let a = mu / big_s;
            w * match act {
                Activation::Silu => mu * normal_cdf(a) + s * s * normal_pdf(a) / big_s,
                Activation::Softplus => mu * normal_cdf(a) + big_s * normal_pdf(a),
                _ => normal_cdf(a),
            }
        })
        .sum();
    if act == Activation::Tanh {
        scale * sum - 1.0
    } else {
        sum
    }
}

/// Cov(φ(hᵢ), φ(hⱼ)) for hᵢ ~ N(μᵢ, sᵢ²), hⱼ ~ N(μⱼ, sⱼ²) with correlation ρ (sᵢ, sⱼ > 0), by
/// the `nodes`-point mixing rule of each unit (`nodes` = (Mᵢ, Mⱼ)): Mᵢ·Mⱼ node terms (the
/// module's docs).
pub(crate) fn pair_cov(
    act: Activation,
    (mu1, s1): (f64, f64),
    (mu2, s2): (f64, f64),
    rho: f64,
    nodes: (usize, usize),
) -> f64 {
    if s1 <= 0.0 || s2 <= 0.0 {
        return 0.0;
    }
    let rho = rho.clamp(-1.0, 1.0);
    let (mu1, s1, f1) = logistic_unit(act, mu1, s1);
    let (mu2, s2, f2) = logistic_unit(act, mu2, s2);
    let c = rho * s1 * s2;
    let (v1, w1) = rule(nodes.0);
    let (v2, w2) = rule(nodes.1);
    if matches!(act, Activation::Tanh | Activation::Sigmoid) {
        return f1 * f2 * indicator_grid((mu1, s1, v1, w1), (mu2, s2, v2, w2), c);
    }
    let mut sum = 0.0;
    for (&vk, &wk) in v1.iter().zip(w1) {
        let sk = (vk + s1 * s1).sqrt();
        let mut inner = 0.0;
        for (&vl, &wl) in v2.iter().zip(w2) {
            let sl = (vl + s2 * s2).sqrt();
            inner += wl
                * match act {
                    Activation::Silu => {
                        let (tk, tl) = (vk.sqrt(), vl.sqrt());
                        tk * tl * gelu_exact::pair_cov(mu1 / tk, s1 / tk, mu2 / tl, s2 / tl, rho)
                    }
                    _ => relu_cov((mu1, sk), (mu2, sl), c),
                };
        }
        sum += wk * inner;
    }
    f1 * f2 * sum
}

/// The sigmoid's node sum Σₖ wₖ Σₗ wₗ\[Φ₂(aₖ, bₗ; rₖₗ) − Φ(aₖ)Φ(bₗ)\] of units (μ, s) with
/// mixing rules (v, w), aₖ = μ₁/Sₖ, bₗ = μ₂/Sₗ, rₖₗ = c/(SₖSₗ), Sₖ² = vₖ + s₁²: each row k's
/// inner sum over l on SIMD lanes (`bvn_cov_lanes::bvn_cov_row`, a lane count of nodes at a
/// time), summed in the order of the scalar loop.
fn indicator_grid(
    (mu1, s1, v1, w1): (f64, f64, &[f64], &[f64]),
    (mu2, s2, v2, w2): (f64, f64, &[f64], &[f64]),
    c: f64,
) -> f64 {
    // On the stack (M ≤ MAX_NODES): four vectors a pair were ~1 % of a deep tanh network's
    // closure (perf58).
    let scale = |mu: f64, s: f64, v: &[f64]| {
        let (mut a, mut sa) = ([0.0; MAX_NODES], [0.0; MAX_NODES]);
        for ((ak, sk), &vk) in a.iter_mut().zip(&mut sa).zip(v) {
            *sk = (vk + s * s).sqrt();
            *ak = mu / *sk;
        }
        (a, sa)
    };
    let (a, sa) = scale(mu1, s1, v1);
    let (b, sb) = scale(mu2, s2, v2);
    let (m1, m2) = (v1.len(), v2.len());
    Isa::Dispatch.run(
        pulp::Arch::new(),
        IndicatorGrid {
            rows: (&a[..m1], &sa[..m1], w1),
            cols: (&b[..m2], &sb[..m2], w2),
            c,
        },
    )
}

/// The kernel of [`indicator_grid`]: (arguments, S, weights) of the rows and of the columns.
struct IndicatorGrid<'a> {
    rows: (&'a [f64], &'a [f64], &'a [f64]),
    cols: (&'a [f64], &'a [f64], &'a [f64]),
    c: f64,
}

impl WithSimd for IndicatorGrid<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        let ((a, sa, wa), (b, sb, wb)) = (self.rows, self.cols);
        let mut sum = 0.0;
        for ((&ak, &sk), &wk) in a.iter().zip(sa).zip(wa) {
            let mut inner = 0.0;
            for ((bg, sg), wg) in b
                .chunks(S::F64_LANES)
                .zip(sb.chunks(S::F64_LANES))
                .zip(wb.chunks(S::F64_LANES))
            {
                let n = bg.len();
                let mut r = [0.0; MAX_LANES];
                for (rl, &sl) in r.iter_mut().zip(sg) {
                    *rl = self.c / (sk * sl);
                }
                let mut cov = [0.0; MAX_LANES];
                bvn_cov_row(simd, ak, bg, &r[..n], &mut cov[..n]);
                for (&wl, &cl) in wg.iter().zip(&cov[..n]) {
                    inner += wl * cl;
                }
            }
            sum += wk * inner;
        }
        sum
    }
}

/// Cov(A⁺, B⁺) for A ~ N(μ₁, S₁²), B ~ N(μ₂, S₂²), Cov(A, B) = c, |c| < S₁S₂: with a = μ₁/S₁,
/// b = μ₂/S₂, r = c/(S₁S₂), q = √(1 − r²), x_a = (a − rb)/q, x_b = (b − ra)/q and
/// D = Φ₂(a, b; r) − Φ(a)Φ(b) (`bvn_cov`), E\[A⁺B⁺\]/(S₁S₂) = (ab + r)Φ₂ + aφ(b)Φ(x_a) +
/// bφ(a)Φ(x_b) + qφ(b)φ(x_a) (`relu::relu_cross`) and E\[A⁺\] = S₁(aΦ(a) + φ(a)), so
/// Cov/(S₁S₂) = (ab + r)D + rΦ(a)Φ(b) + aφ(b)(Φ(x_a) − Φ(a)) + bφ(a)(Φ(x_b) − Φ(b)) +
/// qφ(b)φ(x_a) − φ(a)φ(b), the product ab·Φ(a)Φ(b) of both sides taken out exactly.
fn relu_cov((mu1, s1): (f64, f64), (mu2, s2): (f64, f64), c: f64) -> f64 {
    let (a, b) = (mu1 / s1, mu2 / s2);
    let r = c / (s1 * s2);
    let q = ((1.0 - r) * (1.0 + r)).sqrt();
    let (xa, xb) = ((a - r * b) / q, (b - r * a) / q);
    let (ca, cb, pa, pb) = (normal_cdf(a), normal_cdf(b), normal_pdf(a), normal_pdf(b));
    let d = bvn_cov(a, b, r);
    s1 * s2
        * ((a * b + r) * d
            + r * ca * cb
            + a * pb * (normal_cdf(xa) - ca)
            + b * pa * (normal_cdf(xb) - cb)
            + q * pb * normal_pdf(xa)
            - pa * pb)
}

#[cfg(test)]
mod tests {
    use super::super::input::sample_cov;
    use super::*;
    use crate::propagate::closures::quadrature::{moments_1d, pair_cov as pair_quadrature, Unit};

    const ACTS: [Activation; 4] = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Silu,
        Activation::Softplus,
    ];

    /// The unit mean E_τ\[Φ(μ/√(τ² + s²))\] (and tanh's, SiLU's, softplus') by the 32-node rule
    /// against the 1-D reference rule (`quadrature::moments_1d`) at s = 0.5 … 64, |μ|/s ≤ 3:
    /// within 2·10⁻⁷ of |m| + √Var at s = 0.5 (measured 1.0·10⁻⁷), 5·10⁻¹¹ at s = 1.5
    /// (1.5·10⁻¹¹) and 10⁻¹⁴ from s = 4 (3·10⁻¹⁵): the rule converges fast in s, slowly for
    /// narrow units, which the series serves.
    #[test]
    fn mean_matches_the_1d_rule() {
        for act in ACTS {
            for (s, tol) in [
                (0.5, 2e-7),
                (1.5, 5e-11),
                (4.0, 1e-14),
                (16.0, 1e-14),
                (64.0, 1e-14),
            ] {
                for a in [0.0, 1.5, -3.0] {
                    let (m, var) = moments_1d(act, a * s, s);
                    let got = mean(act, a * s, s, MAX_NODES);
                    let err = (got - m).abs() / (m.abs() + var.sqrt());
                    assert!(
                        err <= tol,
                        "{act} s = {s}, μ/s = {a}: {got} vs {m} ({err:.1e})"
                    );
                }
            }
        }
    }

    /// The pair covariance with the node count of [`nodes`] against the 2-D quadrature reference
    /// (`quadrature::pair_cov`) for the four activations, s from 0.3 to 64 (the partner at 0.7 s
    /// and 0.3 of the mean), |μ|/s up to 3, ρ up to 0.99: within 10⁻¹⁰ of √(VarᵢVarⱼ) wherever
    /// [`nodes`] serves the pair (measured max 9.9·10⁻¹²), and [`nodes`] declines
    /// only where M would exceed [`MAX_NODES`] (s ≲ 1 with |ρ| near 1).
    #[test]
    fn pair_cov_matches_the_2d_rule() {
        let (mut worst, mut served, mut declined) = (0.0f64, 0, 0);
        for act in ACTS {
            for s in [0.3, 1.0, 3.0, 5.0, 8.0, 16.0, 32.0, 64.0] {
                for a in [0.0, 1.5, -3.0] {
                    for rho in [0.3, 0.75, 0.9, 0.99, -0.95] {
                        let (mu1, s1, mu2, s2) = (a * s, s, 0.3 * a * s, 0.7 * s);
                        let Some(m) = nodes(act, s1, s2, rho) else {
                            declined += 1;
                            let f = if act == Activation::Tanh { 2.0 } else { 1.0 };
                            let d = (1.0 - rho * rho) * (f * s2).powi(2);
                            assert!(f * s2 < MIN_SCALE || d < 1.57, "{act} s {s} ρ {rho}");
                            continue;
                        };
                        let (m1, v1) = moments_1d(act, mu1, s1);
                        let (m2, v2) = moments_1d(act, mu2, s2);
                        let want = pair_quadrature(
                            act,
                            Unit {
                                mu: mu1,
                                s: s1,
                                m: m1,
                            },
                            Unit {
                                mu: mu2,
                                s: s2,
                                m: m2,
                            },
                            rho,
                        );
                        let got = pair_cov(act, (mu1, s1), (mu2, s2), rho, (m, m));
                        let err = (got - want).abs() / (v1 * v2).sqrt();
                        worst = worst.max(err);
                        served += 1;
                        assert!(
                            err <= 1e-10,
                            "{act} s = {s}, μ/s = {a}, ρ = {rho}, M = {m}: {got:e} vs {want:e} ({err:.1e})"
                        );
                    }
                }
            }
        }
        println!("served {served}, declined {declined}, max |ΔC|/√(VarᵢVarⱼ) {worst:.1e}");
        assert!(served >= 280, "{served} pairs served");
    }

    /// The node grid on lanes ([`indicator_grid`], through [`pair_cov`]) against the scalar
    /// sum f₁f₂Σₖₗ wₖwₗ·`bvn_cov`(aₖ, bₗ; rₖₗ) for tanh and sigmoid at s = 3 … 40 (the partner
    /// at 0.9 s), μ/s ∈ {0, 0.4, −1.2, 2.5}, ρ from 0.3 to 1 − 10⁻¹⁰ of both signs and every
    /// node count 3 … 32: within 2·10⁻¹⁵ absolute (each lane Φ₂ − ΦΦ is within a few ulp of 1
    /// of the scalar one, `bvn_cov_lanes` tests; the weights sum to 1 per unit and f₁f₂ ≤ 4).
    #[test]
    fn the_lane_grid_matches_the_scalar_node_sum() {
        let mut worst = 0.0f64;
        for act in [Activation::Tanh, Activation::Sigmoid] {
            for s in [3.0, 8.0, 40.0] {
                for a in [0.0, 0.4, -1.2, 2.5] {
                    for rho in [0.3, 0.9, 0.99, 0.9999, 1.0 - 1e-10, -0.95, -0.999999] {
                        for m in [3, 7, 12, 20, 32] {
                            let (u1, u2) = ((a * s, s), (-0.5 * a * s, 0.9 * s));
                            let got = pair_cov(act, u1, u2, rho, (m, m));
                            let (mu1, s1, f1) = logistic_unit(act, u1.0, u1.1);
                            let (mu2, s2, f2) = logistic_unit(act, u2.0, u2.1);
                            let (v, w) = rule(m);
                            let mut want = 0.0;
                            for (&vk, &wk) in v.iter().zip(w) {
                                let sk = (vk + s1 * s1).sqrt();
                                let mut inner = 0.0;
                                for (&vl, &wl) in v.iter().zip(w) {
                                    let sl = (vl + s2 * s2).sqrt();
                                    let r = rho * s1 * s2 / (sk * sl);
                                    inner += wl * bvn_cov(mu1 / sk, mu2 / sl, r);
                                }
                                want += wk * inner;
                            }
                            want *= f1 * f2;
                            let err = (got - want).abs();
                            worst = worst.max(err);
                            assert!(
                                err <= 2e-15,
                                "{act} s {s} μ/s {a} ρ {rho} M {m}: {got:e} vs {want:e} ({err:.1e})"
                            );
                        }
                    }
                }
            }
        }
        println!("max |Δ| {worst:.1e}");
    }

    /// Monte Carlo, independent of every rule of the crate: 4·10⁶ draws of (hᵢ, hⱼ) at ρ = 0.9,
    /// s = 6 and 4 (pairs the series needs ~220 terms for), the sample covariance of sigmoid,
    /// SiLU and softplus within 5 standard errors (estimated from the draws) of the mixture.
    #[test]
    fn pair_cov_matches_monte_carlo() {
        use rand::rngs::StdRng;
        use rand::{RngExt, SeedableRng};
        use rand_distr::StandardNormal;
        let (mu1, s1, mu2, s2, rho) = (1.0, 6.0, -2.0, 4.0, 0.9);
        let n = 4_000_000;
        let mut rng = StdRng::seed_from_u64(11);
        let draws: Vec<(f64, f64)> = (0..n)
            .map(|_| {
                let (z1, z2): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
                (
                    mu1 + s1 * z1,
                    mu2 + s2 * (rho * z1 + (1.0 - rho * rho).sqrt() * z2),
                )
            })
            .collect();
        for act in [Activation::Sigmoid, Activation::Silu, Activation::Softplus] {
            let (xs, ys): (Vec<f64>, Vec<f64>) = draws
                .iter()
                .map(|&(x, y)| (act.eval(x), act.eval(y)))
                .unzip();
            let (cov, se) = sample_cov(&xs, &ys);
            let m = nodes(act, s1, s2, rho).expect("served");
            let want = pair_cov(act, (mu1, s1), (mu2, s2), rho, (m, m));
            assert!(
                (cov - want).abs() <= 5.0 * se,
                "{act}: {cov} ± {se} vs {want}"
            );
        }
    }
}
