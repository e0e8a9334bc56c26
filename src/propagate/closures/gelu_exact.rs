//! GELU's Gaussian moments in closed form (issue #14, item 3): gelu(x) = xΦ(x) is x times the
//! probability that an independent standard normal U stays below x, so every Gaussian
//! expectation of GELU is a moment of a Gaussian vector over an orthant, at any scale, with no
//! series and no quadrature.
//!
//! For h = (X, Y) ~ N((μ₁, μ₂), \[\[s₁², c\], \[c, s₂²\]\]) and U, V ~ N(0, 1) independent of h,
//! gelu(X)gelu(Y) has the expectation E\[XY·1{A ≥ 0, B ≥ 0}\] with A = X − U, B = Y − V
//! (σ_A² = 1 + s₁², σ_B² = 1 + s₂², Cov(A, B) = c). Gaussian integration by parts (Stein's
//! lemma, E\[(Wₖ − EWₖ)f(W)\] = Σₗ Cov(Wₖ, Wₗ)E\[∂ₗf(W)\], applied twice) reduces it to
//! Φ₂(α, β; r) = P(A ≥ 0, B ≥ 0) and one-dimensional terms, with α = μ₁/σ_A, β = μ₂/σ_B,
//! r = c/(σ_Aσ_B) (< 1 even at ρ = 1, since σ_A > s₁). Checked against the 2-D quadrature
//! reference and Monte Carlo in the tests.

use pulp::{Simd, WithSimd};

use super::bvn::{plackett_lanes, MAX_LANES};
use super::input::Isa;
use crate::simd::{load, norm_cdf, norm_pdf, store};
use crate::special::bvn::genz_rule;
use crate::special::{bvn_cov_complement, normal_cdf, normal_pdf};

/// Mean, variance and first normalised Hermite coefficient of gelu(h), h = μ + s z, s > 0:
/// m = μΦ(α) + s²φ(α)/σ (Stein: E\[X·1{A ≥ 0}\] = μP(A ≥ 0) + Cov(X, A)·p_A(0)),
/// Var = [`pair_cov`] of the unit with itself at ρ = 1, and
/// c₁ = E\[gelu(h)z\] = s·E\[gelu′(h)\] = s(Φ(α) + μφ(α)/σ³) (E\[Φ(X)\] = Φ(α),
/// E\[Xφ(X)\] = μφ(α)/σ³), with σ = √(1 + s²), α = μ/σ.
pub(crate) fn unit_moments(mu: f64, s: f64) -> (f64, f64, f64) {
    let (mean, c1) = unit_mean_c1(mu, s);
    (mean, pair_cov(mu, s, mu, s, 1.0).max(0.0), c1)
}

/// The mean and c₁ of [`unit_moments`].
pub(crate) fn unit_mean_c1(mu: f64, s: f64) -> (f64, f64) {
    let sigma = (1.0 + s * s).sqrt();
    let alpha = mu / sigma;
    mean_c1(mu, s, sigma, normal_cdf(alpha), normal_pdf(alpha))
}

/// [`unit_mean_c1`] from σ = √(1 + s²), Φ(α) and φ(α), α = μ/σ.
fn mean_c1(mu: f64, s: f64, sigma: f64, cdf: f64, pdf: f64) -> (f64, f64) {
    let mean = mu * cdf + s * s * pdf / sigma;
    let c1 = s * (cdf + mu * pdf / (sigma * sigma * sigma));
    (mean, c1)
}

/// Mean, variance and c₁ of one unit ([`unit_moments`]) with φ(α), α = μ/√(1 + s²) (the
/// recurrence's φ(t) in `gelu_coef`, t = α).
#[derive(Clone, Copy, Default)]
pub(crate) struct UnitMoments {
    pub mean: f64,
    pub var: f64,
    pub c1: f64,
    pub pdf: f64,
}

/// [`UnitMoments`] of at most [`MAX_LANES`] units (μᵢ, sᵢ > 0), in entries 0..`mu.len()`,
/// without the heap: the formulas of [`unit_mean_c1`] and of [`pair_cov`] of each unit with
/// itself at ρ = 1, the variances' Φ₂ − ΦΦ as in [`pair_covs`] ([`plackett_extras`]: the units'
/// on-lane pairs share one Genz rule, chosen by their largest r), and Φ, φ at α and at the self
/// pair's α_B (= β_A, as α = β) once per unit, on SIMD lanes ([`NormalLanes`]: `simd::norm_cdf`
/// and `simd::norm_pdf`, within a few ulp of the scalar `normal_cdf` and `normal_pdf`), shared
/// by the mean, c₁ and the variance.
pub(crate) fn group_moments(mu: &[f64], s: &[f64]) -> [UnitMoments; MAX_LANES] {
    let n = mu.len().min(s.len()).min(MAX_LANES);
    let mut out = [UnitMoments::default(); MAX_LANES];
    if n == 0 {
        return out;
    }
    let pairs: [Pair; MAX_LANES] = std::array::from_fn(|k| {
        let k = k.min(n - 1);
        Pair::new(mu[k], s[k], mu[k], s[k], 1.0)
    });
    let (mut lanes, mut extra) = ([0; MAX_LANES], [0.0; MAX_LANES]);
    let arch = pulp::Arch::new();
    plackett_extras(&pairs[..n], &mut lanes, &mut extra[..n], arch);
    // α in entries 0..n, α_B in n..2n.
    let mut x = [0.0; 2 * MAX_LANES];
    for (k, p) in pairs[..n].iter().enumerate() {
        (x[k], x[n + k]) = (p.alpha, p.alpha_b());
    }
    let (mut cdf, mut pdf) = ([0.0; 2 * MAX_LANES], [0.0; 2 * MAX_LANES]);
    Isa::Dispatch.run(
        arch,
        NormalLanes {
            x: &x[..2 * n],
            cdf: &mut cdf[..2 * n],
            pdf: &mut pdf[..2 * n],
        },
    );
    for (k, p) in pairs[..n].iter().enumerate() {
        let (ca, pa) = (cdf[k], pdf[k]);
        let (mean, c1) = mean_c1(mu[k], s[k], (1.0 + p.v1).sqrt(), ca, pa);
        let normals = Normals::of_self((ca, pa), (cdf[n + k], pdf[n + k]));
        out[k] = UnitMoments {
            mean,
            var: p.cov(extra[k], &normals).max(0.0),
            c1,
            pdf: pa,
        };
    }
    out
}

/// Φ(x) and φ(x) of each `x` on SIMD lanes (`simd::norm_cdf`, `simd::norm_pdf`).
struct NormalLanes<'a> {
    x: &'a [f64],
    cdf: &'a mut [f64],
    pdf: &'a mut [f64],
}

impl WithSimd for NormalLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let w = S::F64_LANES;
        for ((x, cdf), pdf) in self
            .x
            .chunks(w)
            .zip(self.cdf.chunks_mut(w))
            .zip(self.pdf.chunks_mut(w))
        {
            let v = load(simd, x);
            store(simd, cdf, norm_cdf(simd, v));
            store(simd, pdf, norm_pdf(simd, v));
        }
    }
}

/// Cov(gelu(X), gelu(Y)) for X ~ N(μ₁, s₁²), Y ~ N(μ₂, s₂²) with correlation ρ (s₁, s₂ > 0;
/// 0 otherwise), the module's orthant form. With P = Φ₂(α, β; r), α_B = (α − rβ)/q,
/// β_A = (β − rα)/q, q = √(1 − r²):
/// - E\[δ(A)1{B ≥ 0}\] = φ(α)Φ(β_A)/σ_A, E\[1{A ≥ 0}δ(B)\] = φ(β)Φ(α_B)/σ_B;
/// - E\[Y·δ(A)1{B ≥ 0}\] = φ(α)/σ_A·(m_B Φ(β_A) + v φ(β_A)/(σ_B q)), m_B = μ₂ − cμ₁/σ_A²,
///   v = Cov(Y, B | A = 0) = s₂²(1 + s₁²(1 − ρ²))/σ_A²;
/// - E\[Y·1{A ≥ 0}δ(B)\] = φ(β)/σ_B³·(μ₂Φ(α_B) + c φ(α_B)/(σ_A q));
/// - E\[Y·1_O\] = μ₂P + c E\[δ(A)1{B≥0}\] + s₂² E\[1{A≥0}δ(B)\];
/// - E\[XY·1_O\] = μ₁E\[Y·1_O\] + cP + s₁²E\[Y·δ(A)1{B≥0}\] + cE\[Y·1{A≥0}δ(B)\].
///
/// The covariance subtracts m₁m₂ = μ₁μ₂Φ(α)Φ(β) + μ₁Φ(α)g₂ + g₁m₂ (gₖ = sₖ²φ/σ) with the
/// first product taken out of P exactly: P − Φ(α)Φ(β) is `bvn_cov` (Plackett's integral),
/// so the largest cancellation (|μ₁μ₂| ≫ |c|) does not happen. 1 − r² is formed as
/// (1 + s₁² + s₂² + s₁²s₂²(1 − ρ²))/(σ_A²σ_B²), without the difference of nearly equal terms.
pub(crate) fn pair_cov(mu1: f64, s1: f64, mu2: f64, s2: f64, rho: f64) -> f64 {
    if s1 <= 0.0 || s2 <= 0.0 {
        return 0.0;
    }
    let pair = Pair::new(mu1, s1, mu2, s2, rho);
    pair.cov(pair.bvn_cov(), &pair.normals())
}

/// [`pair_cov`] of unit i (μᵢ, sᵢ > 0) with the units `js` (means `mu`, deviations `s`, all
/// positive) at correlations `rho`, into `out[j]`: the same formula, its Φ₂ − ΦΦ on SIMD
/// lanes ([`plackett_lanes`], Genz's Gauss–Legendre rule) where `bvn_cov` is that single rule
/// (`Pair::on_lanes`), the others by the scalar `bvn_cov`. One scalar `bvn_cov` costs ~0.6 µs (20 nodes, each an exp
/// and a sin); eight lanes share the nodes.
pub(crate) fn pair_covs(
    (mu_i, s_i): (f64, f64),
    (mu, s): (&[f64], &[f64]),
    js: &[usize],
    rho: &[f64],
    out: &mut [f64],
) {
    let pairs: Vec<Pair> = js
        .iter()
        .zip(rho)
        .map(|(&j, &r)| Pair::new(mu_i, s_i, mu[j], s[j], r))
        .collect();
    for (&j, cov) in js.iter().zip(covs(&pairs)) {
        out[j] = cov;
    }
}

/// The covariance of each pair ([`Pair::cov`]), Φ₂ − ΦΦ on lanes where [`Pair::on_lanes`], else
/// by the scalar `bvn_cov`.
fn covs(pairs: &[Pair]) -> Vec<f64> {
    let (mut lanes, mut extra) = (vec![0; pairs.len()], vec![0.0; pairs.len()]);
    plackett_extras(pairs, &mut lanes, &mut extra, pulp::Arch::new());
    pairs
        .iter()
        .zip(extra)
        .map(|(p, e)| p.cov(e, &p.normals()))
        .collect()
}

/// Φ₂(α, β; r) − Φ(α)Φ(β) of each pair into `extra` (as long as `pairs`): eight (the lane
/// count) at a time on SIMD lanes ([`PlackettBatch`]) where [`Pair::on_lanes`], else by the
/// scalar `bvn_cov`. `lanes` is scratch for the on-lane indices, at least `pairs.len()` long (a
/// vector in [`covs`], an array in [`group_moments`], which stays off the heap).
fn plackett_extras(pairs: &[Pair], lanes: &mut [usize], extra: &mut [f64], arch: pulp::Arch) {
    let mut on = 0;
    for (k, p) in pairs.iter().enumerate() {
        if p.on_lanes() {
            lanes[on] = k;
            on += 1;
        } else {
            extra[k] = p.bvn_cov();
        }
    }
    Isa::Dispatch.run(
        arch,
        PlackettBatch {
            pairs,
            lanes: &lanes[..on],
            extra,
        },
    );
}

/// The per-pair quantities of [`pair_cov`]'s formula.
struct Pair {
    mu1: f64,
    mu2: f64,
    /// s₁², s₂².
    v1: f64,
    v2: f64,
    /// c = ρs₁s₂.
    c: f64,
    /// 1 − ρ².
    one_minus_rho2: f64,
    alpha: f64,
    beta: f64,
    r: f64,
    /// q = √(1 − r²).
    q: f64,
}

impl Pair {
    fn new(mu1: f64, s1: f64, mu2: f64, s2: f64, rho: f64) -> Self {
        let rho = rho.clamp(-1.0, 1.0);
        let (v1, v2) = (s1 * s1, s2 * s2);
        let (va, vb) = (1.0 + v1, 1.0 + v2);
        let one_minus_rho2 = (1.0 - rho) * (1.0 + rho);
        Pair {
            mu1,
            mu2,
            v1,
            v2,
            c: rho * s1 * s2,
            one_minus_rho2,
            alpha: mu1 / va.sqrt(),
            beta: mu2 / vb.sqrt(),
            r: rho * s1 * s2 / (va * vb).sqrt(),
            q: ((1.0 + v1 + v2 + v1 * v2 * one_minus_rho2) / (va * vb)).sqrt(),
        }
    }

    /// Φ₂(α, β; r) − Φ(α)Φ(β) by `bvn_cov_complement` with 1 − r² = q², formed from the
    /// variances: r = ρs₁s₂/√((1 + s₁²)(1 + s₂²)) rounds near 1 on wide units, and 1 − r² taken
    /// from it lost ~ε·s of the variance (s = 10⁶, μ/s = −4: 4·10⁻⁹ relative; adv57).
    fn bvn_cov(&self) -> f64 {
        bvn_cov_complement(self.alpha, self.beta, self.r, self.q * self.q)
    }

    /// Whether `bvn_cov`(α, β; r) is Genz's single Gauss–Legendre sum, which
    /// [`plackett_lanes`] computes: |r| < 0.925 and Plackett spread (|αβ| + (α² + β²)/2)|r| ≤ 4
    /// (as in the erf closure).
    fn on_lanes(&self) -> bool {
        let (a, b) = (self.alpha, self.beta);
        let spread = ((a * b).abs() + 0.5 * (a * a + b * b)) * self.r.abs();
        self.r.abs() < 0.925 && spread <= 4.0
    }

    /// α_B = (α − rβ)/q ([`Self::conditional`]).
    fn alpha_b(&self) -> f64 {
        self.conditional(self.alpha, self.beta)
    }

    /// (x − ry)/q with x − ry = (x − y) + (1 − r)y and 1 − r = q²/(1 + r) where r > 0: r rounds
    /// near 1 on wide units, and 1 − r taken from it lost ~ε·s of the variance (at a unit with
    /// itself, x = y, the whole numerator; s = 10⁷, μ/s = −6: 2·10⁻⁶ relative; adv57).
    fn conditional(&self, x: f64, y: f64) -> f64 {
        let (r, q) = (self.r, self.q);
        let numerator = if r > 0.0 {
            (x - y) + q * q / (1.0 + r) * y
        } else {
            x - r * y
        };
        numerator / q
    }

    /// Φ and φ at α, β, α_B = (α − rβ)/q and β_A = (β − rα)/q.
    fn normals(&self) -> Normals {
        let (alpha, beta) = (self.alpha, self.beta);
        let (alpha_b, beta_a) = (self.alpha_b(), self.conditional(beta, alpha));
        Normals {
            ca: normal_cdf(alpha),
            pa: normal_pdf(alpha),
            cb: normal_cdf(beta),
            pb: normal_pdf(beta),
            c_ba: normal_cdf(beta_a),
            p_ba: normal_pdf(beta_a),
            c_ab: normal_cdf(alpha_b),
            p_ab: normal_pdf(alpha_b),
        }
    }

    /// The covariance from `extra` = Φ₂(α, β; r) − Φ(α)Φ(β) and the pair's [`Self::normals`].
    fn cov(&self, extra: f64, normals: &Normals) -> f64 {
        let (mu1, mu2, v1, v2, c) = (self.mu1, self.mu2, self.v1, self.v2, self.c);
        let q = self.q;
        let (va, vb) = (1.0 + v1, 1.0 + v2);
        let (sa, sb) = (va.sqrt(), vb.sqrt());
        let Normals {
            ca,
            pa,
            cb,
            pb,
            c_ba,
            p_ba,
            c_ab,
            p_ab,
        } = *normals;
        let p = ca * cb + extra;
        let d_a = pa / sa * c_ba;
        let d_b = pb / sb * c_ab;
        let m_b = mu2 - c * mu1 / va;
        let v = v2 * (1.0 + v1 * self.one_minus_rho2) / va;
        let y_a = pa / sa * (m_b * c_ba + v * p_ba / (sb * q));
        let y_b = pb / (sb * vb) * (mu2 * c_ab + c * p_ab / (sa * q));
        // E[XY·1_O] without its term μ₁μ₂Φ(α)Φ(β), which m₁m₂ holds too.
        let joint = mu1 * (mu2 * extra + c * d_a + v2 * d_b) + c * p + v1 * y_a + c * y_b;
        let (g1, g2) = (v1 * pa / sa, v2 * pb / sb);
        let m2 = mu2 * cb + g2;
        joint - (mu1 * ca * g2 + g1 * m2)
    }
}

/// Φ and φ at the four arguments of [`Pair::cov`].
#[derive(Clone, Copy)]
struct Normals {
    ca: f64,
    pa: f64,
    cb: f64,
    pb: f64,
    c_ba: f64,
    p_ba: f64,
    c_ab: f64,
    p_ab: f64,
}

impl Normals {
    /// [`Pair::normals`] of a unit with itself (α = β, so β_A = α_B), from Φ and φ at α and
    /// at α_B.
    fn of_self((ca, pa): (f64, f64), (c_ab, p_ab): (f64, f64)) -> Self {
        Normals {
            ca,
            pa,
            cb: ca,
            pb: pa,
            c_ba: c_ab,
            p_ba: p_ab,
            c_ab,
            p_ab,
        }
    }
}

/// Φ₂(α, β; r) − Φ(α)Φ(β) of the pairs `lanes` by [`plackett_lanes`], eight (the lane count)
/// at a time, into `extra`.
struct PlackettBatch<'a> {
    pairs: &'a [Pair],
    lanes: &'a [usize],
    extra: &'a mut [f64],
}

impl WithSimd for PlackettBatch<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        for group in self.lanes.chunks(S::F64_LANES) {
            let n = group.len();
            let (mut hk, mut hs, mut r) = ([0.0; MAX_LANES], [0.0; MAX_LANES], [0.0; MAX_LANES]);
            for (b, &k) in group.iter().enumerate() {
                let p = &self.pairs[k];
                hk[b] = p.alpha * p.beta;
                hs[b] = 0.5 * (p.alpha * p.alpha + p.beta * p.beta);
                r[b] = p.r;
            }
            let max_r = r[..n].iter().fold(0.0f64, |m, r| m.max(r.abs()));
            let c = plackett_lanes(
                simd,
                load(simd, &hk[..n]),
                load(simd, &hs[..n]),
                load(simd, &r[..n]),
                genz_rule(max_r),
            );
            let mut res = [0.0; MAX_LANES];
            store(simd, &mut res[..n], c);
            for (&k, v) in group.iter().zip(res) {
                self.extra[k] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::propagate::closures::gauss_hermite;
    use crate::propagate::closures::quadrature::{moments_1d, pair_cov as pair_quadrature, Unit};
    use crate::propagate::closures::wide_moments::moments_wide;

    /// Units narrow to wide (s = 0.3 … 40), means from deep in the flat tail to the linear
    /// side.
    const UNITS: [(f64, f64); 7] = [
        (0.2, 0.3),
        (-0.5, 0.6),
        (1.0, 2.0),
        (-3.0, 1.5),
        (2.0, 8.0),
        (-10.0, 4.8),
        (5.0, 40.0),
    ];

    /// Mean and variance against the 1-D reference rule (`quadrature::moments_1d`, ≲ 10⁻¹⁴ of
    /// |m| + √Var), c₁ against a quadrature of E\[gelu(h)z\]: within 10⁻¹³ of the output's
    /// scale |m| + √Var.
    #[test]
    fn unit_moments_match_the_1d_rule() {
        let act = Activation::Gelu;
        for (mu, s) in UNITS {
            let (m, var, c1) = unit_moments(mu, s);
            let (mq, vq) = moments_1d(act, mu, s);
            let scale = mq.abs() + vq.sqrt();
            assert!(
                (m - mq).abs() <= 1e-13 * scale,
                "μ = {mu}, s = {s}: m {m} vs {mq}"
            );
            assert!(
                (var.sqrt() - vq.sqrt()).abs() <= 1e-13 * scale,
                "μ = {mu}, s = {s}: Var {var} vs {vq}"
            );
            // c₁ = E[(gelu(h) − m)z] by the crate's rule for wide units (`moments_wide`, s ≥ 1)
            // or a 256-point Gauss–Hermite rule in z (narrow units).
            let c1_rule = if s >= 1.0 {
                moments_wide(act, mu, s).2
            } else {
                let (z, w) = gauss_hermite::rule(true);
                z.iter()
                    .zip(w)
                    .map(|(&z, &w)| w * act.eval(mu + s * z) * z)
                    .sum()
            };
            assert!(
                (c1 - c1_rule).abs() <= 1e-13 * scale,
                "μ = {mu}, s = {s}: c₁ {c1} vs {c1_rule}"
            );
            assert!(
                c1 * c1 <= var * (1.0 + 1e-12),
                "μ = {mu}, s = {s}: c₁² > Var"
            );
        }
    }

    /// [`group_moments`] (Φ and φ on SIMD lanes, the units' variances side by side) against
    /// [`unit_moments`] (scalar, each unit alone) on groups of 1 to 16 units drawn from
    /// [`UNITS`] and from units whose self pair leaves the lanes (r ≥ 0.925: s ≥ 3.5):
    /// mean, √Var and c₁ within 8ε of the output's scale |m| + √Var (a few ulp of the
    /// lane functions, `simd::norm_cdf`, propagated through sums of terms bounded by that
    /// scale), and φ(α) within 4ε relative. The formula itself is the one of [`pair_cov`]
    /// (checked against the 2-D rule below); this checks the group's own path: each unit's
    /// lane, α_B and the Φ, φ entries it reads.
    #[test]
    fn group_moments_match_unit_moments() {
        let extra = [(0.0, 3.6), (-7.0, 5.0), (1.5, 0.01), (-0.2, 1e-9)];
        let all: Vec<(f64, f64)> = UNITS.iter().chain(&extra).copied().collect();
        for len in 1..=MAX_LANES {
            let group: Vec<(f64, f64)> = (0..len).map(|k| all[(3 * k + len) % all.len()]).collect();
            let (mu, s): (Vec<f64>, Vec<f64>) = group.iter().copied().unzip();
            let got = group_moments(&mu, &s);
            for (k, &(m, sd)) in group.iter().enumerate() {
                let (mean, var, c1) = unit_moments(m, sd);
                let scale = mean.abs() + var.sqrt();
                let g = got[k];
                let close = |a: f64, b: f64| (a - b).abs() <= 8.0 * f64::EPSILON * scale;
                assert!(close(g.mean, mean), "{m} {sd}: mean {} vs {mean}", g.mean);
                assert!(
                    close(g.var.sqrt(), var.sqrt()),
                    "{m} {sd}: Var {} vs {var}",
                    g.var
                );
                assert!(close(g.c1, c1), "{m} {sd}: c₁ {} vs {c1}", g.c1);
                let pdf = normal_pdf(m / (1.0 + sd * sd).sqrt());
                assert!(
                    (g.pdf - pdf).abs() <= 4.0 * f64::EPSILON * pdf,
                    "{m} {sd}: φ"
                );
            }
        }
    }

    /// The pair covariance against the 2-D quadrature reference (`quadrature::pair_cov`), every
    /// pair of [`UNITS`], ρ from −1 to 1: within 10⁻¹² of √(VarᵢVarⱼ) (the reference's own
    /// accuracy class; the fallback threshold of the series closure is 10⁻¹⁰).
    #[test]
    fn pair_cov_matches_the_2d_rule() {
        let act = Activation::Gelu;
        let unit = |(mu, s): (f64, f64)| Unit {
            mu,
            s,
            m: moments_1d(act, mu, s).0,
        };
        for (k, &a) in UNITS.iter().enumerate() {
            for &b in &UNITS[k..] {
                let scale = (moments_1d(act, a.0, a.1).1 * moments_1d(act, b.0, b.1).1).sqrt();
                for rho in [-1.0, -0.7, 0.0, 0.3, 0.8, 0.93, 0.999, 1.0] {
                    let got = pair_cov(a.0, a.1, b.0, b.1, rho);
                    let want = pair_quadrature(act, unit(a), unit(b), rho);
                    assert!(
                        (got - want).abs() <= 1e-12 * scale,
                        "{a:?} {b:?} ρ = {rho}: {got:e} vs {want:e}"
                    );
                }
            }
        }
    }

    /// Monte Carlo check, independent of every rule of the crate: 4·10⁶ draws of (X, Y) at
    /// ρ = 0.9 (a pair the series needs ~250 terms for at s = 8), the sample covariance of
    /// gelu(X), gelu(Y) within 5 standard errors (the standard error estimated from the draws).
    #[test]
    fn pair_cov_matches_monte_carlo() {
        use rand::rngs::StdRng;
        use rand::{RngExt, SeedableRng};
        use rand_distr::StandardNormal;
        let mut rng = StdRng::seed_from_u64(7);
        let (mu1, s1, mu2, s2, rho) = (0.5, 8.0, -2.0, 6.0, 0.9);
        let n = 4_000_000;
        let gelu = |x: f64| Activation::Gelu.eval(x);
        let (mut xs, mut ys) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let (z1, z2): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
            let x = gelu(mu1 + s1 * z1);
            let y = gelu(mu2 + s2 * (rho * z1 + (1.0 - rho * rho).sqrt() * z2));
            xs.push(x);
            ys.push(y);
        }
        let (cov, se) = super::super::input::sample_cov(&xs, &ys);
        let want = pair_cov(mu1, s1, mu2, s2, rho);
        assert!((cov - want).abs() <= 5.0 * se, "{cov} ± {se} vs {want}");
    }

    /// Wide units, where r = ρs₁s₂/√((1 + s₁²)(1 + s₂²)) rounds near 1: variances (by
    /// `unit_moments` and `group_moments`) and a ρ = 1 pair against 40-digit mpmath quadrature
    /// (adv57: `mp.quad` of the centred products over z, split at −μ/s). Before `bvn_cov` took
    /// q² from the caller the variances were off by 4.1e-9 (s = 10⁶, μ/s = −4) and 2.0e-6
    /// (s = 10⁷, μ/s = −6) relative. The bound 1e-11: what remains is the orthant form's own
    /// cancellation in the far tail, s-independent (μ/s = −6: 1.0e-12 at s = 10³, 3.7e-12 at
    /// 10⁷, the terms μ₁²Φ(α) ~ 10³ of the variance), with margin.
    #[test]
    fn wide_units_keep_full_accuracy() {
        let vars = [
            ((-4e6, 1e6), 3090157.048779189),
            ((5e5, 1e6), 553440704453.7976),
            ((-6e7, 1e7), 4844.576743067078),
        ];
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-11 * want;
        for ((mu, s), want) in vars {
            let got = unit_moments(mu, s).1;
            assert!(
                close(got, want),
                "μ {mu}, s {s}: Var {got:e}, want {want:e}"
            );
            let group = group_moments(&[mu], &[s])[0].var;
            assert!(
                close(group, want),
                "μ {mu}, s {s}: lanes' Var {group:e}, want {want:e}"
            );
        }
        let (got, want) = (pair_cov(-4e6, 1e6, -2e6, 7e5, 1.0), 7876214.6804523235);
        assert!(close(got, want), "pair at ρ = 1: {got:e}, want {want:e}");
    }
}
