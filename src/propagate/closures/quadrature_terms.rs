//! The κ₃/κ₄ corrections of any φ by quadrature of the expanded density: the reference for the
//! closed forms and the series, and the series' fallback ([`super::edgeworth`]).
//!
//! Instead of differentiating f = φ(hᵢ)φ(hⱼ), the Gram–Charlier density
//! p_G(1 + (1/6)κ_{abc}H_{abc} + (1/24)κ_{abcd}H_{abcd}) is integrated against f, term by term:
//! with standardised xₖ = (hₖ − μₖ)/sₖ of correlation matrix R, y = R⁻¹x, g = R⁻¹, the
//! multivariate Hermite polynomials (McCullagh, *Tensor Methods in Statistics*, §5.2)
//!
//! ```text
//! H_abc  = y_a y_b y_c − (y_a g_bc + y_b g_ac + y_c g_ab),
//! H_abcd = y_a y_b y_c y_d − Σ₆ y_a y_b g_cd + Σ₃ g_ab g_cd,
//! D_ab   = E_G[f · H_{i…i j…j}] / (sᵢᵃ sⱼᵇ)   (a indices i, b indices j),
//! ```
//!
//! by the same composite Gauss–Legendre rules as [`super::quadrature`], in the Cholesky
//! coordinates xᵢ = z₁, xⱼ = ρz₁ + qz₂ (so yᵢ = z₁ − ρz₂/q, yⱼ = z₂/q), split at the kinks of φ.
//! One unit: E_G[g⁽ᵏ⁾(h)] = E[g(μ + sz)Heₖ(z)]/sᵏ for g = φ and φ².
//!
//! Above scale 8 the rules are [`super::quadrature`]'s windowed ones (`rule_for`, `PairPlan`):
//! panels of unit scale in z outside φ's feature window and narrow ones only inside it, so the
//! node count is bounded whatever the scale (a saturating unit at s = 10⁶ took 6·10⁸ nodes per
//! unit with panels 0.5/s wide everywhere: `--order 3` on such a network did not finish). Outside
//! the window the integrand is the Gaussian weight times a polynomial of degree ≤ 6 (φ or φ² of
//! degree ≤ 2 times an H of degree ≤ 4), whose 32nd derivative is larger than the degree-1 case
//! of [`super::quadrature`]'s `SPLIT_PANEL` bound (5·10⁻²⁸) by at most ~32³: still below 10⁻²².
//! At scales ≤ 8 the rules are unchanged.
//!
//! A pair with a unit deep in a linear regime of φ (|μ| − c ≥ 9s: biases ±30) takes no 2-D rule
//! at all: its terms are one 1-D rule over the other unit ([`super::regime_terms`]), where the
//! 2-D rule's range ±(9 + |μ|/s) cost 4–9·10⁶ evaluations a pair (gelu74).

use super::derivatives;
use super::edgeworth::{DerivativeTerms, PairStep, PairTerms, UnitTerms, ORDERS};
use super::quadrature::{feature_half_width, half_range, kink, rule_for, PairPlan, SPLIT_ABOVE};
use super::regime_terms;
use super::rules::for_each_normal_node;
use std::sync::OnceLock;

use crate::net::Activation;

/// Below this q² = 1 − ρ² the Hermite weights (∝ q⁻⁴) cancel too much: the pair is refused.
const MIN_Q2: f64 = 1e-6;

/// Integrand evaluations the pairs of one closure application may need from the 2-D quadrature
/// (the series' fallback, or every pair of the quadrature closure): above it the corrections
/// are refused before any pair is integrated ([`super::edgeworth`], "Work"; each pair's count
/// from [`DerivativeTerms::pair_step`]). ~10⁸ evaluations take ~25 s of one thread here (~250 ns
/// each with [`hermites`]). adv34: `--order 3 --carry first` of the XOR nets (tanh, one epoch),
/// whose pairs mostly miss the series' convergence test (~10⁶ evaluations a pair), took 7.6 s
/// of CPU at width 9, 38 s at 17 and past 212 s at 40 (2.5, 13.7 and 160 s with
/// [`hermites`]); the time grows with the N² pairs, so width 1,001 would have taken ~30 h.
pub(crate) const PAIR_NODE_BUDGET: usize = 150_000_000;

/// Quadrature terms of `act` for an input with means `mu` and standard deviations `s`.
pub(crate) struct QuadratureTerms {
    pub act: Activation,
    pub mu: Vec<f64>,
    pub s: Vec<f64>,
}

/// H for the index list `idx` (0 = i, 1 = j) of length 3 or 4 (module docs), term by term:
/// the reference [`hermites`] is checked against.
#[cfg(test)]
fn hermite(idx: &[usize], y: [f64; 2], g: [[f64; 2]; 2]) -> f64 {
    let prod: f64 = idx.iter().map(|&a| y[a]).product();
    let k = idx.len();
    let mut pairs = 0.0;
    for p in 0..k {
        for r in p + 1..k {
            let rest: f64 = (0..k)
                .filter(|&t| t != p && t != r)
                .map(|t| y[idx[t]])
                .product();
            pairs += g[idx[p]][idx[r]] * rest;
        }
    }
    let mut doubles = 0.0;
    if k == 4 {
        let gg = |a: usize, b: usize, c: usize, d: usize| g[idx[a]][idx[b]] * g[idx[c]][idx[d]];
        doubles = gg(0, 1, 2, 3) + gg(0, 2, 1, 3) + gg(0, 3, 1, 2);
    }
    prod - pairs + doubles
}

/// H_{i^a j^b} for every (a, b) of [`ORDERS`], in that order, by counting the index pairs and
/// pairings of the module docs' sums by kind: with a indices i and b indices j,
///
/// ```text
/// Σ y…y g (one pair contracted) = C(a,2)·g_ii·yᵢᵃ⁻²yⱼᵇ + ab·g_ij·yᵢᵃ⁻¹yⱼᵇ⁻¹ + C(b,2)·g_jj·yᵢᵃyⱼᵇ⁻²,
/// Σ₃ g g (a + b = 4)          = 3g_ii², 3g_ii·g_ij, g_ii·g_jj + 2g_ij², 3g_ij·g_jj, 3g_jj²
/// ```
///
/// for (a, b) = (4, 0) … (0, 4). One call per quadrature node instead of nine walks over index
/// lists (the walks were 75 % of `--order 3 --carry first`'s time on the XOR nets, adv34).
fn hermites(y: [f64; 2], g: [[f64; 2]; 2]) -> [f64; 9] {
    let mut pi = [1.0; 5];
    let mut pj = [1.0; 5];
    for k in 1..5 {
        pi[k] = pi[k - 1] * y[0];
        pj[k] = pj[k - 1] * y[1];
    }
    let (gii, gij, gjj) = (g[0][0], g[0][1], g[1][1]);
    // yᵢᵏyⱼˡ, 0 for a negative power (a term whose pair does not exist).
    let p = |k: usize, l: usize, less_k: usize, less_l: usize| match (
        k.checked_sub(less_k),
        l.checked_sub(less_l),
    ) {
        (Some(k), Some(l)) => pi[k] * pj[l],
        _ => 0.0,
    };
    let choose2 = |n: usize| (n * n.saturating_sub(1) / 2) as f64;
    ORDERS.map(|(a, b)| {
        let pairs = choose2(a) * gii * p(a, b, 2, 0)
            + (a * b) as f64 * gij * p(a, b, 1, 1)
            + choose2(b) * gjj * p(a, b, 0, 2);
        let doubles = match (a, b) {
            (4, 0) => 3.0 * gii * gii,
            (3, 1) => 3.0 * gii * gij,
            (2, 2) => gii * gjj + 2.0 * gij * gij,
            (1, 3) => 3.0 * gij * gjj,
            (0, 4) => 3.0 * gjj * gjj,
            _ => 0.0,
        };
        pi[a] * pj[b] - pairs + doubles
    })
}

/// Largest derivative order the delta method reads: a + b ≤ 4 plus the remainder's 4.
const TAYLOR_ORDERS: usize = 9;

/// φ⁽ⁿ⁾ as polynomials in φ (coefficients, lowest first), n < [`TAYLOR_ORDERS`], for the φ whose
/// derivative is a polynomial of φ and |φ| ≤ 1: tanh (φ' = 1 − φ²) and the logistic sigmoid
/// (φ' = φ − φ²); None for the others. P₀ = φ, Pₙ₊₁ = Pₙ'(φ)·φ'.
fn derivative_polys(act: Activation) -> Option<Vec<Vec<f64>>> {
    let prime: &[f64] = match act {
        Activation::Tanh => &[1.0, 0.0, -1.0],
        Activation::Sigmoid => &[0.0, 1.0, -1.0],
        _ => return None,
    };
    Some(derivatives::derivative_polys(prime, TAYLOR_ORDERS))
}

/// The delta method (a Taylor expansion in the standard deviations) for units whose σ is so
/// small that the quadrature of E[f·H]/σᵃ⁺ᵇ loses every digit to rounding: with x, y standard
/// normals of correlation ρ and F(u, v) = φ⁽ᵃ⁾(μᵢ + u)φ⁽ᵇ⁾(μⱼ + v),
///
/// ```text
/// D_ab = E[F(sᵢx, sⱼy)] = F + ½(sᵢ²F_uu + 2ρsᵢsⱼF_uv + sⱼ²F_vv) + R,
/// |R| ≤ Σ_{k+l=4} sᵢᵏsⱼˡ/(k!l!) · Mₐ₊ₖ(i)M_{b+l}(j) · √((2k−1)!!(2l−1)!!),
/// ```
///
/// (the odd orders vanish, E[xᵏyˡ] = 0 for k + l odd; R is the order-4 Lagrange remainder,
/// Mₙ ≥ max|φ⁽ⁿ⁾| and E|xᵏyˡ| by Cauchy–Schwarz). One unit is the case sⱼ = 0 with g = φ or φ².
/// The expansion is taken where R is below the quadrature's rounding floor ε/(sᵢᵃsⱼᵇ) (every
/// node's φ carries ε|φ| ≤ ε, divided by σᵃ⁺ᵇ): there it is the more accurate of the two, at a
/// cost independent of σ.
///
/// φ⁽ⁿ⁾: tanh and sigmoid as polynomials Pₙ(φ), Mₙ = max |Pₙ| over φ's range ([`max_abs`]);
/// gelu, erf, SiLU and softplus in closed form ([`derivatives::closed_form`]), Mₙ from
/// [`derivatives::closed_bounds`]. gelu, SiLU and softplus are unbounded: M₀ is local,
/// M₀(μ, s) = |φ(μ)| + M₁s, since |φ(μ + ξsx)| ≤ |φ(μ)| + M₁s|x| and M₀ enters R only in the
/// terms k = 0 (l = 0), where E[|y|⁴(|φ(μᵢ)| + M₁sᵢ|x|)] ≤ 3|φ(μᵢ)| + M₁sᵢ√105 ≤ √105·M₀ — the
/// factor √((2k−1)!!(2l−1)!!) = √105 of those terms (one unit: E|x|⁵ ≈ 6.4 ≤ √105 likewise).
pub(crate) struct Taylor {
    act: Activation,
    /// φ⁽ⁿ⁾ = Pₙ(φ) (tanh, sigmoid); None: [`derivatives::closed_form`].
    polys: Option<Vec<Vec<f64>>>,
    /// Mₙ ≥ max|φ⁽ⁿ⁾| (M₀ infinite where φ is unbounded: [`Taylor::m`] is local there).
    bound: Vec<f64>,
}

/// An upper bound on max |p(t)| over t in `range` (φ's range): the largest |p| on a grid of
/// 2¹⁶ + 1 points plus half the grid step times max|p'| ≤ Σ k|cₖ|·max(|lo|, |hi|)ᵏ⁻¹.
fn max_abs(p: &[f64], (lo, hi): (f64, f64)) -> f64 {
    let n = 1 << 16;
    let step = (hi - lo) / n as f64;
    let grid = (0..=n)
        .map(|k| derivatives::poly(p, lo + step * k as f64).abs())
        .fold(0.0, f64::max);
    let r = f64::max(lo.abs(), hi.abs());
    let slope: f64 = (1..p.len())
        .map(|k| k as f64 * p[k].abs() * r.powi(k as i32 - 1))
        .sum();
    grid + 0.5 * step * slope
}

/// (2k − 1)!! with (−1)!! = 1: E[x²ᵏ] of a standard normal.
fn double_factorial(k: usize) -> f64 {
    (1..=k).map(|t| (2 * t - 1) as f64).product()
}

fn factorial(k: usize) -> f64 {
    (1..=k).map(|t| t as f64).product()
}

/// A unit's mean and standard deviation.
type Unit = (f64, f64);

impl Taylor {
    /// The expansion of `act`, built once per process (None for the piecewise-linear φ and the
    /// quadratic, whose closures need no expansion).
    pub(crate) fn new(act: Activation) -> Option<&'static Self> {
        static TANH: OnceLock<Taylor> = OnceLock::new();
        static SIGMOID: OnceLock<Taylor> = OnceLock::new();
        static GELU: OnceLock<Taylor> = OnceLock::new();
        static ERF: OnceLock<Taylor> = OnceLock::new();
        static SILU: OnceLock<Taylor> = OnceLock::new();
        static SOFTPLUS: OnceLock<Taylor> = OnceLock::new();
        let (cell, range) = match act {
            Activation::Tanh => (&TANH, Some((-1.0, 1.0))),
            Activation::Sigmoid => (&SIGMOID, Some((0.0, 1.0))),
            Activation::Gelu => (&GELU, None),
            Activation::Erf => (&ERF, None),
            Activation::Silu => (&SILU, None),
            Activation::Softplus => (&SOFTPLUS, None),
            _ => return None,
        };
        Some(cell.get_or_init(|| match range {
            Some(range) => {
                let polys = derivative_polys(act).expect("tanh and sigmoid have them");
                let bound = polys.iter().map(|p| max_abs(p, range)).collect();
                Taylor {
                    act,
                    polys: Some(polys),
                    bound,
                }
            }
            None => Taylor {
                act,
                polys: None,
                bound: derivatives::closed_bounds(act).expect("a closed form"),
            },
        }))
    }

    /// φ⁽ⁿ⁾(x), n = 0 … 8.
    pub(super) fn derivs(&self, x: f64) -> [f64; TAYLOR_ORDERS] {
        match &self.polys {
            Some(polys) => {
                let t = self.act.eval(x);
                std::array::from_fn(|n| derivatives::poly(&polys[n], t))
            }
            None => {
                let d = derivatives::closed_form(self.act, x).expect("a closed form");
                std::array::from_fn(|n| d[n])
            }
        }
    }

    /// Mₙ for a unit (μ, s): the global bound, but M₀ = |φ(μ)| + M₁s where φ is unbounded
    /// (the type's docs).
    fn m(&self, n: usize, (mu, s): Unit) -> f64 {
        if n == 0 && self.bound[0].is_infinite() {
            self.act.eval(mu).abs() + self.bound[1] * s
        } else {
            self.bound[n]
        }
    }

    /// The remainder bound R for orders (a, b) at (sᵢ, sⱼ) with Mₙ of unit i given by `mi`,
    /// of unit j by `mj`.
    fn remainder(
        mi: impl Fn(usize) -> f64,
        mj: impl Fn(usize) -> f64,
        (a, b): (usize, usize),
        (si, sj): (f64, f64),
    ) -> f64 {
        (0..=4)
            .map(|k| {
                let l = 4 - k;
                si.powi(k as i32) * sj.powi(l as i32) / (factorial(k) * factorial(l))
                    * mi(a + k)
                    * mj(b + l)
                    * (double_factorial(k) * double_factorial(l)).sqrt()
            })
            .sum()
    }

    /// R of the pair expansion for orders (a, b) (the type's docs).
    fn pair_remainder(&self, ab: (usize, usize), ui: Unit, uj: Unit) -> f64 {
        Self::remainder(|n| self.m(n, ui), |n| self.m(n, uj), ab, (ui.1, uj.1))
    }

    /// Whether the expansion's remainder for orders (a, b) is below the quadrature's rounding
    /// floor ε/(sᵢᵃsⱼᵇ).
    fn settled(&self, (a, b): (usize, usize), ui: Unit, uj: Unit) -> bool {
        let r = self.pair_remainder((a, b), ui, uj);
        r * ui.1.powi(a as i32) * uj.1.powi(b as i32) <= f64::EPSILON
    }

    /// Pair terms of units (μᵢ, sᵢ), (μⱼ, sⱼ) at correlation ρ where every order is settled;
    /// None elsewhere.
    pub(crate) fn pair(&self, ui: Unit, uj: Unit, rho: f64) -> Option<PairTerms> {
        ORDERS
            .iter()
            .all(|&ab| self.settled(ab, ui, uj))
            .then(|| self.expand_pair(ui, uj, rho))
    }

    /// The expansion D_ab without its remainder, whatever the σ (the type's docs).
    fn expand_pair(&self, (mi, si): Unit, (mj, sj): Unit, rho: f64) -> PairTerms {
        let (di, dj) = (self.derivs(mi), self.derivs(mj));
        let mut d = [[0.0; 5]; 5];
        for (a, b) in ORDERS {
            let (fi, fj) = (di[a], dj[b]);
            d[a][b] = fi * fj
                + 0.5
                    * (si * si * di[a + 2] * fj
                        + 2.0 * rho * si * sj * di[a + 1] * dj[b + 1]
                        + sj * sj * fi * dj[b + 2]);
        }
        d
    }

    /// g⁽ⁿ⁾ for g = φ² (Leibniz) from φ's derivatives `d`.
    fn sq(d: &[f64; TAYLOR_ORDERS], n: usize) -> f64 {
        (0..=n).map(|m| binomial(n, m) * d[m] * d[n - m]).sum()
    }

    /// A bound on |(φ²)⁽ⁿ⁾| near the unit `u` (Leibniz on the Mₙ).
    fn sq_bound(&self, n: usize, u: Unit) -> f64 {
        (0..=n)
            .map(|m| binomial(n, m) * self.m(m, u) * self.m(n - m, u))
            .sum()
    }

    /// R of one unit's φ and φ² terms of order k (sⱼ = 0: the second unit's factor is 1, taken
    /// as max(1, the bound), which keeps tanh's and sigmoid's switch where it was).
    fn unit_remainder(&self, k: usize, u: Unit) -> f64 {
        let g = |n: usize| self.sq_bound(n, u).max(self.m(n, u));
        Self::remainder(g, |n| g(n).max(1.0), (k, 0), (u.1, 0.0))
    }

    /// One unit's terms (μ, s) where the expansion is settled for φ and φ²; None elsewhere.
    pub(crate) fn unit(&self, mu: f64, s: f64) -> Option<UnitTerms> {
        let ok = [3, 4]
            .iter()
            .all(|&k| self.unit_remainder(k, (mu, s)) * s.powi(k as i32) <= f64::EPSILON);
        if !ok {
            return None;
        }
        let d = self.derivs(mu);
        let e = |g: &dyn Fn(usize) -> f64, k: usize| g(k) + 0.5 * s * s * g(k + 2);
        let phi = |n: usize| d[n];
        let sq = |n: usize| Self::sq(&d, n);
        Some(UnitTerms {
            phi: [e(&phi, 3), e(&phi, 4)],
            sq: [e(&sq, 3), e(&sq, 4)],
        })
    }
}

fn binomial(n: usize, k: usize) -> f64 {
    factorial(n) / (factorial(k) * factorial(n - k))
}

/// Heₖ(z), k = 3, 4.
fn he34(z: f64) -> [f64; 2] {
    let z2 = z * z;
    [z2 * z - 3.0 * z, z2 * z2 - 6.0 * z2 + 3.0]
}

impl DerivativeTerms for QuadratureTerms {
    fn unit(&self, i: usize) -> UnitTerms {
        if let Some(t) = self.taylor_unit(i) {
            return t;
        }
        self.unit_split(i, SPLIT_ABOVE).0
    }

    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms> {
        if let Some(d) = self
            .taylor_pair(i, j, rho)
            .or_else(|| self.regime_pair(i, j, rho))
        {
            return Some(d);
        }
        self.pair_split(i, j, rho, SPLIT_ABOVE).map(|(d, _)| d)
    }

    fn pair_step(&self, i: usize, j: usize, rho: f64) -> PairStep {
        if let Some(d) = self
            .taylor_pair(i, j, rho)
            .or_else(|| self.regime_pair(i, j, rho))
        {
            return PairStep::Terms(Some(d));
        }
        match self.pair_rule(i, j, rho, SPLIT_ABOVE) {
            Some(plan) => PairStep::Quadrature(plan.count(|base| plan.inner_rule(base).nodes())),
            None => PairStep::Terms(None),
        }
    }
}

impl QuadratureTerms {
    /// The terms of `act` for units of means `mu` and standard deviations `s`, none spent.
    pub(crate) fn new(act: Activation, mu: Vec<f64>, s: Vec<f64>) -> Self {
        QuadratureTerms { act, mu, s }
    }

    /// Unit i's terms by the delta method ([`Taylor`]) where it is settled; None elsewhere.
    pub(crate) fn taylor_unit(&self, i: usize) -> Option<UnitTerms> {
        Taylor::new(self.act)?.unit(self.mu[i], self.s[i])
    }

    /// Pair (i, j)'s terms by the delta method ([`Taylor`]) where it is settled; None elsewhere.
    pub(crate) fn taylor_pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms> {
        Taylor::new(self.act)?.pair((self.mu[i], self.s[i]), (self.mu[j], self.s[j]), rho)
    }

    /// Pair (i, j)'s terms by 1-D rules where one unit lies deep in a linear regime of φ
    /// ([`regime_terms`]: ~10⁴ nodes instead of the 2-D rule's ~10⁶–10⁷); None elsewhere.
    fn regime_pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms> {
        let (ui, uj) = ((self.mu[i], self.s[i]), (self.mu[j], self.s[j]));
        regime_terms::regime_pair(self.act, ui, uj, rho).map(|(d, _)| d)
    }

    /// [`DerivativeTerms::unit`] with the windows of `rule_for` above scale `split_above`
    /// (∞: the single-width rule), and the number of nodes of its rule (its cost).
    fn unit_split(&self, i: usize, split_above: f64) -> (UnitTerms, usize) {
        let (mu, s, act) = (self.mu[i], self.s[i], self.act);
        let brk = kink(act).map(|k| (k - mu) / s);
        let (w, window) = rule_for(feature_half_width(act), mu, s, split_above);
        let mut acc = [0.0; 4];
        let mut nodes = 0;
        for_each_normal_node(
            brk.as_slice(),
            w,
            window.as_slice(),
            half_range(mu / s),
            |z, w| {
                nodes += 1;
                let f = act.eval(mu + s * z);
                let h = he34(z);
                acc[0] += w * f * h[0];
                acc[1] += w * f * h[1];
                acc[2] += w * f * f * h[0];
                acc[3] += w * f * f * h[1];
            },
        );
        let (s3, s4) = (s * s * s, s * s * s * s);
        let terms = UnitTerms {
            phi: [acc[0] / s3, acc[1] / s4],
            sq: [acc[2] / s3, acc[3] / s4],
        };
        (terms, nodes)
    }

    /// The 2-D rule of pair (i, j) at ρ (module docs) with the windows above scale
    /// `split_above`; None where q² = 1 − ρ² < [`MIN_Q2`] (the pair is refused).
    fn pair_rule(&self, i: usize, j: usize, rho: f64, split_above: f64) -> Option<PairPlan> {
        let q2 = (1.0 - rho) * (1.0 + rho);
        let (ui, uj) = ((self.mu[i], self.s[i]), (self.mu[j], self.s[j]));
        (q2 >= MIN_Q2).then(|| PairPlan::new(self.act, ui, uj, rho, split_above))
    }

    /// [`DerivativeTerms::pair`] with the windows of [`PairPlan`] above scale
    /// `split_above` (∞: the single-width rules), and the number of inner nodes (its cost).
    fn pair_split(
        &self,
        i: usize,
        j: usize,
        rho: f64,
        split_above: f64,
    ) -> Option<(PairTerms, usize)> {
        let rule = self.pair_rule(i, j, rho, split_above)?;
        let (act, q) = (self.act, rule.q);
        let (mi, si, sj) = (self.mu[i], self.s[i], self.s[j]);
        let q2 = q * q;
        let g = [[1.0 / q2, -rho / q2], [-rho / q2, 1.0 / q2]];
        let mut acc = [0.0; ORDERS.len()];
        let mut nodes = 0;
        for_each_normal_node(
            &rule.outer,
            rule.outer_w,
            &rule.windows,
            rule.range,
            |z1, w1| {
                let fi = act.eval(mi + si * z1);
                if fi == 0.0 {
                    return;
                }
                let base = rule.base(z1);
                let inner = rule.inner_rule(base);
                for_each_normal_node(
                    inner.brk.as_slice(),
                    inner.width,
                    inner.window.as_slice(),
                    inner.range,
                    |z2, w2| {
                        nodes += 1;
                        let f = fi * act.eval(base + rule.sq * z2) * w1 * w2;
                        let y = [z1 - rho * z2 / q, z2 / q];
                        for (a, h) in acc.iter_mut().zip(hermites(y, g)) {
                            *a += f * h;
                        }
                    },
                );
            },
        );
        let mut d = [[0.0; 5]; 5];
        for (v, (a, b)) in acc.iter().zip(ORDERS) {
            d[a][b] = v / (si.powi(a as i32) * sj.powi(b as i32));
        }
        Some((d, nodes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saturating tanh unit (μ = 0, s = 10⁶) takes the windowed rule: at most
    /// 16(L + c + 4) nodes (L panels of width 2 over ±L, c of width 2/s in the window |h| ≤ c,
    /// a few split at the edges) instead of the single-width rule's 16·4Ls ≈ 6·10⁸; and its
    /// terms are the sign function's to the window's error: E[tanh(sz)He₃(z)] → E[sign(z)He₃(z)]
    /// = −2φ(0), off by ≤ 2·3φ(0)∫₀^∞(1 − tanh su)u du = 6φ(0)(π²/24)/s² < 1/s², and
    /// E[tanh(sz)He₄(z)] → 0, off by ≤ 2·3φ(0)∫₀^∞(1 − tanh su)du = 6φ(0)ln2/s < 1.7/s.
    #[test]
    fn saturating_units_take_the_windowed_rule() {
        let s = 1e6;
        let terms = QuadratureTerms::new(Activation::Tanh, vec![0.0], vec![s]);
        let (t, nodes) = terms.unit_split(0, SPLIT_ABOVE);
        let bound = 16.0 * (half_range(0.0) + feature_half_width(Activation::Tanh) + 4.0);
        assert!((nodes as f64) <= bound, "{nodes} nodes > {bound}");
        let phi0 = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        let he3 = t.phi[0] * s.powi(3);
        assert!(
            (he3 + 2.0 * phi0).abs() < 1.0 / (s * s) + 1e-13,
            "E[φ He₃] = {he3}"
        );
        let he4 = t.phi[1] * s.powi(4);
        assert!(he4.abs() < 1.7 / s + 1e-13, "E[φ He₄] = {he4}");
    }

    /// Just above the split (scales 9–10, where the single-width rule is still affordable) the
    /// windowed unit and pair terms equal the single-width rule's (`split_above` = ∞, the rule
    /// before the windows) with fewer nodes: units at s = 9.5 and 9 (tanh, GELU, relu); pairs
    /// (9.5, 2) at ρ = 0.6 (the outer rule's own window and g's, sⱼ|ρ| > 1; tanh, relu) and
    /// (1, 9) at ρ = 0.3 (the inner rule's window, sⱼq > 8; tanh) — the single-width rule
    /// costs ~10⁷ nodes a pair here. Both rules' errors are ≤ 10⁻¹⁷ of the
    /// integrand's scale (`SPLIT_PANEL`'s bound, module docs); the tolerance 1e-10 of the
    /// largest term leaves room for the rounding of sums of ~10⁷ nodes.
    #[test]
    fn windowed_terms_equal_the_single_width_rule() {
        // The windowed terms `new` against the single-width `old`, and their node counts.
        let agree = |new: &[f64], old: &[f64], (n_new, n_old): (usize, usize), what: &str| {
            let scale = old.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            for (x, y) in new.iter().zip(old) {
                assert!((x - y).abs() <= 1e-10 * scale, "{what}: {x} vs {y}");
            }
            assert!(n_new < n_old, "{what}: {n_new} nodes, single width {n_old}");
        };
        for act in [Activation::Tanh, Activation::Gelu, Activation::Relu] {
            let terms =
                QuadratureTerms::new(act, vec![3.0, -5.0, 2.0, 0.5], vec![9.5, 2.0, 9.0, 1.0]);
            for i in [0, 2] {
                let (new, n_new) = terms.unit_split(i, SPLIT_ABOVE);
                let (old, n_old) = terms.unit_split(i, f64::INFINITY);
                let (a, b) = ([new.phi, new.sq].concat(), [old.phi, old.sq].concat());
                agree(&a, &b, (n_new, n_old), &format!("{act:?} unit {i}"));
            }
            let pairs: &[(usize, usize, f64)] = match act {
                Activation::Tanh => &[(0, 1, 0.6), (3, 2, 0.3)],
                Activation::Relu => &[(0, 1, 0.6)],
                _ => &[],
            };
            for &(i, j, rho) in pairs {
                let (new, n_new) = terms.pair_split(i, j, rho, SPLIT_ABOVE).unwrap();
                let (old, n_old) = terms.pair_split(i, j, rho, f64::INFINITY).unwrap();
                let (a, b) = (new.concat(), old.concat());
                agree(&a, &b, (n_new, n_old), &format!("{act:?} ρ {rho}"));
            }
        }
    }

    /// The delta method against the quadrature of the expanded density at σ = 0.05, where the
    /// quadrature is accurate (its rounding, ε·√(nodes)·E|H|/σᵃ⁺ᵇ ≲ 10⁻⁶, is far below the
    /// expansion's remainder bound R): |Taylor − quadrature| ≤ R + 10⁻⁶ for every order, on
    /// tanh, sigmoid, gelu, erf, SiLU and softplus at two means and ρ = ±0.5; the s² terms
    /// matter (the leading term alone is off by more than R for some order). Units likewise.
    /// At σ = 10⁻⁵ (the collapsed 30-layer networks) the expansion is settled and taken; at
    /// σ = 0.05 it is not. A wrong derivative of order 3 … 6 (the orders D_ab reads) moves
    /// some term by far more than R.
    #[test]
    fn delta_method_agrees_with_the_quadrature_within_its_remainder() {
        let s = 0.05;
        let (mi, mj) = (0.3, -1.2);
        for act in [
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Gelu,
            Activation::Erf,
            Activation::Silu,
            Activation::Softplus,
        ] {
            let t = Taylor::new(act).unwrap();
            let terms = QuadratureTerms::new(act, vec![mi, mj], vec![s, s]);
            let (di, dj) = (t.derivs(mi), t.derivs(mj));
            for rho in [0.5, -0.5] {
                let quad = terms.pair_split(0, 1, rho, SPLIT_ABOVE).unwrap().0;
                let taylor = t.expand_pair((mi, s), (mj, s), rho);
                let mut leading_off = false;
                for (a, b) in ORDERS {
                    let r = t.pair_remainder((a, b), (mi, s), (mj, s));
                    let diff = (taylor[a][b] - quad[a][b]).abs();
                    assert!(
                        diff <= r + 1e-6,
                        "{act:?} ρ {rho} ({a}, {b}): {diff:e} > {r:e}"
                    );
                    leading_off |= (di[a] * dj[b] - quad[a][b]).abs() > r + 1e-6;
                }
                assert!(leading_off, "{act:?} ρ {rho}: the s² terms are not tested");
                assert!(t.pair((mi, s), (mj, s), rho).is_none());
                assert!(t.pair((mi, 1e-5), (mj, 1e-5), rho).is_some());
            }
            for i in 0..2 {
                let quad = terms.unit_split(i, SPLIT_ABOVE).0;
                let mu = terms.mu[i];
                let d = t.derivs(mu);
                let taylor = [3, 4].map(|k| {
                    (
                        d[k] + 0.5 * s * s * d[k + 2],
                        Taylor::sq(&d, k) + 0.5 * s * s * Taylor::sq(&d, k + 2),
                        t.unit_remainder(k, (mu, s)),
                    )
                });
                for (k, (phi, sq, r)) in taylor.iter().enumerate() {
                    assert!((phi - quad.phi[k]).abs() <= r + 1e-6, "{act:?} unit {i} φ");
                    assert!((sq - quad.sq[k]).abs() <= r + 1e-6, "{act:?} unit {i} φ²");
                }
                assert!(t.unit(mu, 1e-5).is_some() && t.unit(mu, s).is_none());
            }
        }
    }

    /// A pair's predicted cost is its rule's evaluations: within 10 % of the count the
    /// integration makes (tanh, s = 1 and 3, ρ = ±0.6, 0.95); no quadrature where the delta
    /// method settles the pair (s = 10⁻⁵: its terms) or q² is below the floor (ρ = 1: none).
    #[test]
    fn pair_costs_count_the_rules_evaluations() {
        for s in [1.0, 3.0] {
            let terms = QuadratureTerms::new(Activation::Tanh, vec![0.3, -0.2], vec![s, 1.5]);
            for rho in [-0.6, 0.6, 0.95] {
                let (_, nodes) = terms.pair_split(0, 1, rho, SPLIT_ABOVE).unwrap();
                let PairStep::Quadrature(cost) = terms.pair_step(0, 1, rho) else {
                    panic!("s {s} ρ {rho}: no quadrature");
                };
                let off = (cost as f64 / nodes as f64 - 1.0).abs();
                assert!(
                    off <= 0.1,
                    "s {s} ρ {rho}: cost {cost}, {nodes} evaluations"
                );
            }
            assert!(matches!(terms.pair_step(0, 1, 1.0), PairStep::Terms(None)));
        }
        let settled = QuadratureTerms::new(Activation::Tanh, vec![0.3, -0.2], vec![1e-5, 1e-5]);
        assert!(matches!(
            settled.pair_step(0, 1, 0.5),
            PairStep::Terms(Some(_))
        ));
    }

    /// A unit deep in a linear regime of φ (|μ| − c ≥ 9s, `regime_terms`) makes a pair's
    /// terms one 1-D rule over the other unit: against the 2-D quadrature of the expanded
    /// density within 10⁻¹⁰ of the largest term or of 1 (the tolerance of the windowed rules
    /// above: the 2-D sums of ~10⁶–10⁷ nodes round there; the absolute floor for a unit on
    /// GELU's or softplus' zero side, where every term is below 10⁻⁴⁰: the mass the quadrature
    /// finds within ~10 standard deviations of the window, which the 1-D rule leaves out as
    /// Φ(−9) bounds), on GELU, SiLU and softplus (linear limit h) and
    /// tanh and erf (constant limits), the regime unit first (i) or second (j), and both in it.
    /// Cost, counted: the pair needs no 2-D quadrature (`pair_step` gives its terms) and the 1-D
    /// rule has at most 16·(32·39 + 4) nodes, where the 2-D rule took over 10⁶ (adv73's GELU
    /// network with biases ±30: 6.7 CPU s for one 5-unit layer). The last case is that network's
    /// pair (2, 0) of class 0.
    #[test]
    fn units_deep_in_a_linear_regime_take_one_dimensional_rules() {
        let cases = [
            (Activation::Gelu, (18.5, 1.0), (0.5, 1.5), 0.6),
            (Activation::Gelu, (0.3, 1.2), (-20.0, 1.1), -0.7),
            (Activation::Gelu, (18.5, 1.0), (-20.0, 1.1), 0.5),
            (Activation::Silu, (55.0, 1.0), (-0.4, 1.3), 0.5),
            (Activation::Softplus, (-0.2, 1.0), (-50.0, 0.9), 0.8),
            (Activation::Tanh, (31.0, 1.0), (0.2, 0.9), 0.4),
            (Activation::Erf, (-16.0, 1.0), (0.7, 1.1), -0.3),
            (Activation::Gelu, (7.90, 1.96), (29.97, 1.05), 0.627),
        ];
        for (act, (mi, si), (mj, sj), rho) in cases {
            let terms = QuadratureTerms::new(act, vec![mi, mj], vec![si, sj]);
            let (quad, quad_nodes) = terms.pair_split(0, 1, rho, SPLIT_ABOVE).unwrap();
            let PairStep::Terms(Some(got)) = terms.pair_step(0, 1, rho) else {
                panic!("{act:?} ({mi}, {si}) ({mj}, {sj}): a 2-D quadrature");
            };
            let scale = quad.iter().flatten().fold(1.0_f64, |m, v| m.max(v.abs()));
            for (a, b) in ORDERS {
                assert!(
                    (got[a][b] - quad[a][b]).abs() <= 1e-10 * scale,
                    "{act:?} ({mi}, {si}) ({mj}, {sj}) ρ {rho} ({a}, {b}): {} vs {}",
                    got[a][b],
                    quad[a][b]
                );
            }
            let (_, nodes) = regime_terms::regime_pair(act, (mi, si), (mj, sj), rho).unwrap();
            assert!(
                nodes <= 16 * (32 * 39 + 4) && quad_nodes > 1_000_000,
                "{act:?}: {nodes} nodes, the 2-D rule {quad_nodes}"
            );
        }
    }

    /// The counted form [`hermites`] equals the term-by-term sums of [`hermite`] at every
    /// (a, b), on points and correlations that make every term count (ρ ≠ 0, y of both signs);
    /// a wrong count of pairs or pairings moves some entry by ≥ |g|·|y|² ≈ 0.1.
    #[test]
    fn counted_hermite_polynomials_equal_the_sums() {
        for rho in [-0.93, -0.4, 0.3, 0.8] {
            let q2: f64 = 1.0 - rho * rho;
            let g = [[1.0 / q2, -rho / q2], [-rho / q2, 1.0 / q2]];
            for y in [[0.7, -1.3], [-2.1, 0.4], [1.5, 2.5]] {
                let fast = hermites(y, g);
                for (k, (a, b)) in ORDERS.into_iter().enumerate() {
                    let mut idx = vec![0; a];
                    idx.extend(std::iter::repeat_n(1, b));
                    let want = hermite(&idx, y, g);
                    assert!(
                        (fast[k] - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "ρ {rho} y {y:?} ({a}, {b}): {} vs {want}",
                        fast[k]
                    );
                }
            }
        }
    }

    /// At ρ = 0 the bivariate polynomials factor into the univariate ones: H_{i^a j^b} =
    /// Heₐ(xᵢ)He_b(xⱼ).
    #[test]
    fn hermite_polynomials_factor_at_zero_correlation() {
        let g = [[1.0, 0.0], [0.0, 1.0]];
        let he = |n: usize, x: f64| match n {
            0 => 1.0,
            1 => x,
            2 => x * x - 1.0,
            3 => x * x * x - 3.0 * x,
            _ => x.powi(4) - 6.0 * x * x + 3.0,
        };
        let (x, y) = (0.7, -1.3);
        for (a, b) in ORDERS {
            let mut idx = vec![0; a];
            idx.extend(std::iter::repeat_n(1, b));
            let got = hermite(&idx, [x, y], g);
            let want = he(a, x) * he(b, y);
            assert!((got - want).abs() < 1e-12, "({a}, {b}): {got} vs {want}");
        }
    }
}
