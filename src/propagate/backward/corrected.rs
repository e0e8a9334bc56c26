//! The VJP of the κ₃/κ₄-corrected closure ([`crate::propagate::closures::edgeworth`]) for any φ
//! whose Gaussian derivative expectations to total order 6 are known ([`HighDerivativeTerms`]):
//! the reverse pass of the cumulant objective at `--order 3|4` (issue #16 item 6).
//!
//! The forward closure returns m̃ = m_G + Δm and C̃ = C_G + Δ, where per unit at level ≥ 3
//! (κ = κᵢᵢᵢ, κ' = κᵢᵢᵢᵢ at level 4, else 0; Φₖ = E_G[φ⁽ᵏ⁾(hᵢ)], Sₖ = E_G[(φ²)⁽ᵏ⁾(hᵢ)])
//!
//! ```text
//! Δmᵢ = κΦ₃/6 + κ'Φ₄/24,   Δᵢᵢ = κS₃/6 + κ'S₄/24 − (m̃ᵢ² − m_G,ᵢ²),
//! ```
//!
//! per corrected pair (i > j, the forward's orientation) Δᵢⱼ = eᵢⱼ − (m̃ᵢm̃ⱼ − m_G,ᵢm_G,ⱼ) with
//! eᵢⱼ = Σ c_ab D_ab over a + b = 3 (4) (c₃₀ = κᵢᵢᵢ/6, c₂₁ = κᵢᵢⱼ/2, c₁₂ = κᵢⱼⱼ/2, c₀₃ = κⱼⱼⱼ/6;
//! c₄₀ = κᵢᵢᵢᵢ/24, c₃₁ = κᵢᵢᵢⱼ/6, c₂₂ = κᵢᵢⱼⱼ/4, c₁₃ = κᵢⱼⱼⱼ/6, c₀₄ = κⱼⱼⱼⱼ/24 where both
//! units are at level 4), Δ = 0 for a pair that fell back within the bound, and a clamped pair
//! is C̃ᵢⱼ = ±√(C̃ᵢᵢC̃ⱼⱼ). The levels and fallbacks are the forward's own decisions
//! (`edgeworth::Plan`, fed with the forward closure's terms and
//! Gaussian result), held fixed: they are piecewise constant in the input.
//!
//! **Reverse pass.** With Ḡ symmetrised, a clamped pair's adjoint moves to the diagonal
//! (Ḡᵢᵢ += ḠᵢⱼC̃ᵢⱼ/C̃ᵢᵢ, Ḡⱼⱼ += ḠᵢⱼC̃ᵢⱼ/C̃ⱼⱼ, Ḡᵢⱼ := 0: the exact derivative of the clamp),
//! and an unresolved pair's (C̃ᵢⱼ = C_G,ᵢⱼ ± ½(Δᵢᵢ + Δⱼⱼ), ±: the sign of C_G,ᵢⱼ;
//! `edgeworth`'s "Near-collinear pairs") stays on C_G,ᵢⱼ and adds ±Ḡᵢⱼ to the adjoints of Δᵢᵢ
//! and Δⱼⱼ (beside Ḡᵢᵢ, Ḡⱼⱼ, which also reach C_G,ᵢᵢ),
//! after which the Gaussian part (m_G, C_G) takes the Gaussian closure's own VJP and the
//! corrections are differentiated by Stein's lemma and Price's theorem for Gaussian expectations
//! (∂D_ab/∂μᵢ = D_{a+1,b}, ∂D_ab/∂Σᵢⱼ = D_{a+1,b+1}, ∂D_ab/∂Σᵢᵢ = ½D_{a+2,b}; the same for Φₖ
//! and Sₖ with k + 1, ½(k + 2)). The products move into mean adjoints (the effective-mean trick
//! of [`super::stein`]), with B(i) = {i} ∪ {j: (i, j) corrected}:
//!
//! ```text
//! adjoint of Δmᵢ:    ḡᵢ − 2 Σ_{j∈B(i)} Ḡᵢⱼ m̃ⱼ,      adjoint of m_G,ᵢ (extra):  −2 Σ_{j∈B(i)} Ḡᵢⱼ Δmⱼ
//! ```
//!
//! and each corrected pair's eᵢⱼ (in C̃ᵢⱼ and C̃ⱼᵢ) gets 2Ḡᵢⱼ. The κ slices' adjoints are the
//! coefficients' partials: ∂L/∂κ₃\[i,i,j\] = 2Ḡᵢⱼ D₂₁/2, ∂L/∂κ₃\[i,i,i\] = (ĝ-weighted Φ₃ +
//! ḠᵢᵢS₃)/6 + Σⱼ 2Ḡᵢⱼ D₃₀/6, and so on for κ₄ (see `corrected_vjp`).
//!
//! **Scales.** The terms come standardised (`high_terms`' module docs: T_ab = σᵢᵃσⱼᵇD_ab, σ = s
//! for the relu and leaky relu, 1 for erf), and every product is formed in those units: a
//! shifted sum Σ c_ab D_{a+p,b+q} is (Σ ĉ_ab T_{a+p,b+q})/σᵢᵖσⱼ^q with the standardised
//! coefficients ĉ_ab = c_ab/σᵢᵃσⱼᵇ (κᵢᵢⱼ/σᵢ²σⱼ and so on, of order 1), and a unit's
//! κΦ₄ = κ̂Φ̂₄/σ (κ̂ = κ/σ³, Φ̂ₖ = σᵏΦₖ). The natural-unit D_ab of a kinked φ, ∝ s^{2−a−b},
//! overflow at a + b = 6 once s ≲ 10⁻⁷⁷ (relu and leaky relu training at `--order 3|4` on data
//! ×10⁻¹⁰⁰ was refused as "too large", scale67), while every quantity formed here is of the
//! order of its own result.

use faer::Mat;
use rayon::prelude::*;

use super::{check_dims, Adjoint, ClosureVjp};
use crate::error::{Error, Result};
use crate::linalg::symmetrize;
use crate::propagate::closures::edgeworth::{
    closure_units, corrected_from_gaussian, DerivativeTerms, Fallbacks, PairOutcome, Plan,
};
use crate::propagate::closures::high_terms::{unscale, HighDerivativeTerms, HighPairTerms};
use crate::propagate::closures::{Closure, Corrections};
use crate::stats::Moments;

/// ∂L/∂ of the κ slices of the closure's input, entry by entry as `Moments` stores them.
#[derive(Clone, Debug)]
pub struct SliceAdjoint {
    /// ∂L/∂κ₃\[i,i,j\] at (i, j) (`Moments::k3_iij`).
    pub k3_iij: Mat<f64>,
    /// ∂L/∂κ₄\[i,i,j,j\] at (i, j) (`Moments::k4_iijj`); None at order 3.
    pub k4_iijj: Option<Mat<f64>>,
    /// ∂L/∂κ₄\[i,i,i,j\] at (i, j) (`Moments::k4_iiij`); None at order 3, and for closures
    /// that do not read it.
    pub k4_iiij: Option<Mat<f64>>,
}

/// The closure the corrections were added to: its own forward terms (for the decisions), its
/// terms to order 6, and the VJP of its Gaussian closure.
pub(crate) struct CorrectedParts<'a> {
    pub(crate) decide: &'a dyn DerivativeTerms,
    pub(crate) high: &'a dyn HighDerivativeTerms,
    pub(crate) gaussian: &'a dyn ClosureVjp,
    /// The closure's name, for errors.
    pub(crate) who: &'a str,
}

/// One tried pair i > j: how it came out, its value, and its order-6 terms if corrected.
struct PairRecord {
    j: usize,
    outcome: PairOutcome,
    value: f64,
    terms: Option<Box<HighPairTerms>>,
}

/// A Gaussian closure's VJP whose κ₃/κ₄-corrected closure takes the generic reverse pass
/// [`corrected_vjp`]: what differs between closures is only the forward closure, its name and
/// the two term tables built from the input's means and standard deviations (the forward's own,
/// for the decisions, and those to order 6). [`CorrectedVjp::corrected`] is the one reverse pass
/// of them all (relu, erf, leaky relu).
pub(crate) trait CorrectedVjp: ClosureVjp + Sized {
    /// The forward closure the corrections were added to.
    type Forward: Closure;
    /// Its forward terms, for the decisions.
    type Decide<'a>: DerivativeTerms;
    /// Its terms to order 6.
    type High<'a>: HighDerivativeTerms;

    /// The forward closure.
    fn forward(&self) -> Self::Forward;

    /// The closure's name, for errors.
    fn who(&self) -> &'static str;

    /// The two term tables for `input`, whose units have means `mu` and standard deviations `s`
    /// (as [`closure_units`] gives them).
    fn terms<'a>(
        &self,
        input: &'a Moments,
        mu: Vec<f64>,
        s: Vec<f64>,
    ) -> (Self::Decide<'a>, Self::High<'a>);

    /// The forward closure at `order` (3 or 4) of `input` into `out`, and its Gaussian closure
    /// (at [`Corrections::None`]) into `gauss`, in one pass: the Gaussian closure is formed once
    /// and the corrections are added to a copy of it ([`corrected_from_gaussian`]), so `out` is
    /// bit for bit the forward closure's `apply_counted` at `order`, and `gauss` its result at
    /// [`Corrections::None`].
    fn forward_with_gaussian(
        &self,
        input: &Moments,
        order: Corrections,
        out: &mut Moments,
        gauss: &mut Moments,
    ) -> Result<Fallbacks> {
        let who = self.who();
        self.forward()
            .apply_counted(input, Corrections::None, gauss)?;
        let (mu, s) = closure_units(input, who)?;
        // The order-6 table is built alongside (O(n), no pair is evaluated) and dropped.
        let (decide, _) = self.terms(input, mu, s);
        corrected_from_gaussian(input, order, gauss, out, (who, &decide))
    }

    /// The VJP of the κ₃/κ₄-corrected closure at `order` (input μ, Σ and the κ slices it
    /// reads), given `gauss`, the Gaussian closure's result at `input` (as
    /// [`CorrectedVjp::forward_with_gaussian`] hands it out): it and the term tables, passed
    /// to [`corrected_vjp`] with this Gaussian VJP.
    fn corrected(
        &self,
        input: &Moments,
        order: Corrections,
        gauss: &Moments,
        adjoint: &Adjoint,
    ) -> Result<(Adjoint, SliceAdjoint)> {
        let who = self.who();
        let (mu, s) = closure_units(input, who)?;
        let (decide, high) = self.terms(input, mu, s);
        let parts = CorrectedParts {
            decide: &decide,
            high: &high,
            gaussian: self,
            who,
        };
        corrected_vjp(&parts, input, order, gauss, adjoint)
    }
}

/// The input adjoint (∂L/∂μ, ∂L/∂Σ) and the κ slices' adjoint of the corrected closure at
/// `input` (μ, Σ and the κ slices `order` reads), for the output adjoint `adjoint`; `gauss` is
/// the Gaussian closure's result at `input` (module docs).
pub(crate) fn corrected_vjp(
    parts: &CorrectedParts<'_>,
    input: &Moments,
    order: Corrections,
    gauss: &Moments,
    adjoint: &Adjoint,
) -> Result<(Adjoint, SliceAdjoint)> {
    let n = check_dims(input, gauss, adjoint)?;
    let plan = Plan::of(input, (order, parts.who), gauss, parts.decide)?;
    let columns: Vec<Result<Vec<PairRecord>>> = (0..n)
        .into_par_iter()
        .map(|i| {
            (0..i)
                .filter(|&j| plan.tried(i, j))
                .map(|j| {
                    let rho = plan.rho(&input.cov, i, j);
                    let c = gauss.cov[(j, i)];
                    let (value, outcome) = plan.entry(i, j, c, parts.decide.pair(i, j, rho));
                    let terms = match outcome {
                        // One variable: the pair's terms where they exist (erf), else (a kinked
                        // φ at ρ = 1) the entry varᵢ = √(varᵢvarⱼ) as a clamped pair's.
                        PairOutcome::Same => parts.high.pair(i, j, rho).map(Box::new),
                        PairOutcome::Corrected => {
                            Some(Box::new(parts.high.pair(i, j, rho).ok_or_else(|| {
                                Error::Unsupported(format!(
                                    "{} closure's reverse pass: pair ({i}, {j}) at ρ = {rho} \
                                     has forward terms but none to order 6",
                                    parts.who
                                ))
                            })?))
                        }
                        _ => None,
                    };
                    Ok(PairRecord {
                        j,
                        outcome,
                        value,
                        terms,
                    })
                })
                .collect()
        })
        .collect();
    let columns = columns.into_iter().collect::<Result<Vec<_>>>()?;
    // Ḡ symmetrised; clamped pairs' adjoints moved onto the diagonal.
    let mut g = adjoint.cov.clone();
    symmetrize(g.as_mut());
    let mut diag = vec![0.0; n];
    // An unresolved pair's adjoint onto the units' variance corrections (module docs).
    let mut unresolved = vec![0.0; n];
    for (i, col) in columns.iter().enumerate() {
        let clamped = |r: &&PairRecord| {
            r.outcome == PairOutcome::Clamped || r.outcome == PairOutcome::Same && r.terms.is_none()
        };
        for r in col.iter().filter(clamped) {
            let (j, w) = (r.j, g[(i, r.j)] * r.value);
            diag[i] += w / plan.var[i];
            diag[j] += w / plan.var[j];
            g[(i, j)] = 0.0;
            g[(j, i)] = 0.0;
        }
        for r in col.iter().filter(|r| r.outcome == PairOutcome::Unresolved) {
            let w = if gauss.cov[(r.j, i)] >= 0.0 {
                g[(i, r.j)]
            } else {
                -g[(i, r.j)]
            };
            unresolved[i] += w;
            unresolved[r.j] += w;
        }
    }
    for (i, d) in diag.iter().enumerate() {
        g[(i, i)] += d;
    }
    let mut out = parts.gaussian.vjp(
        input,
        gauss,
        &Adjoint {
            mean: adjoint.mean.clone(),
            cov: g.clone(),
        },
    )?;
    let k4 = plan.slices.k4;
    let mut slices = SliceAdjoint {
        k3_iij: Mat::zeros(n, n),
        k4_iijj: k4.map(|_| Mat::zeros(n, n)),
        k4_iiij: k4.map(|_| Mat::zeros(n, n)),
    };
    let m_tilde: Vec<f64> = (0..n).map(|i| plan.mean_g[i] + plan.dm[i]).collect();
    // Σ_{j∈B(i)} Ḡᵢⱼm̃ⱼ and Σ_{j∈B(i)} ḠᵢⱼΔmⱼ.
    // Ḡᵢᵢ plus the unresolved pairs' adjoint, on the units' variance corrections.
    let on_var: Vec<f64> = (0..n).map(|i| g[(i, i)] + unresolved[i]).collect();
    let mut cross_m: Vec<f64> = (0..n).map(|i| on_var[i] * m_tilde[i]).collect();
    let mut cross_dm: Vec<f64> = (0..n).map(|i| on_var[i] * plan.dm[i]).collect();
    for (i, col) in columns.iter().enumerate() {
        for r in col.iter() {
            let Some(d) = &r.terms else { continue };
            let j = r.j;
            let w = 2.0 * g[(i, j)];
            cross_m[i] += g[(i, j)] * m_tilde[j];
            cross_m[j] += g[(i, j)] * m_tilde[i];
            cross_dm[i] += g[(i, j)] * plan.dm[j];
            cross_dm[j] += g[(i, j)] * plan.dm[i];
            let (si, sj) = (parts.high.scale(i), parts.high.scale(j));
            // Standardised coefficients ĉ_ab and entries D_ab from the tables (module docs).
            let coef: Vec<(usize, usize, f64)> = pair_coefficients(&plan, i, j)
                .into_iter()
                .map(|(a, b, c)| (a, b, unscale(unscale(c, si, a), sj, b)))
                .collect();
            let shifted = |da: usize, db: usize| -> f64 {
                let t: f64 = coef.iter().map(|&(a, b, c)| c * d[a + da][b + db]).sum();
                unscale(unscale(t, si, da), sj, db)
            };
            let nat = |a: usize, b: usize| unscale(unscale(d[a][b], si, a), sj, b);
            out.mean[i] += w * shifted(1, 0);
            out.mean[j] += w * shifted(0, 1);
            let off = g[(i, j)] * shifted(1, 1);
            out.cov[(i, j)] += off;
            out.cov[(j, i)] += off;
            out.cov[(i, i)] += 0.5 * w * shifted(2, 0);
            out.cov[(j, j)] += 0.5 * w * shifted(0, 2);
            let t = &mut slices.k3_iij;
            t[(i, i)] += w * nat(3, 0) / 6.0;
            t[(i, j)] += w * nat(2, 1) / 2.0;
            t[(j, i)] += w * nat(1, 2) / 2.0;
            t[(j, j)] += w * nat(0, 3) / 6.0;
            if let (Some(k), Some(u), 4, 4) = (
                slices.k4_iijj.as_mut(),
                slices.k4_iiij.as_mut(),
                plan.level[i],
                plan.level[j],
            ) {
                k[(i, i)] += w * nat(4, 0) / 24.0;
                u[(i, j)] += w * nat(3, 1) / 6.0;
                k[(i, j)] += w * nat(2, 2) / 4.0;
                u[(j, i)] += w * nat(1, 3) / 6.0;
                k[(j, j)] += w * nat(0, 4) / 24.0;
            }
        }
    }
    for i in (0..n).filter(|&i| plan.level[i] > 2) {
        let (t, sigma) = (parts.high.unit(i), parts.high.scale(i));
        // κ̂ = κ/σ³, κ̂' = κ'/σ⁴ against the standardised Φ̂ₖ = σᵏΦₖ (module docs, "Scales").
        let k3 = unscale(plan.slices.k3[(i, i)], sigma, 3);
        let k4 = match (k4, plan.level[i]) {
            (Some((k, _)), 4) => unscale(k[(i, i)], sigma, 4),
            _ => 0.0,
        };
        // ∂/∂μ and ∂/∂Σᵢᵢ of κΦ₃/6 + κ'Φ₄/24 (and of the same in S).
        let d_mu = |f: &[f64; 7]| unscale(k3 / 6.0 * f[4] + k4 / 24.0 * f[5], sigma, 1);
        let d_var = |f: &[f64; 7]| unscale(0.5 * (k3 / 6.0 * f[5] + k4 / 24.0 * f[6]), sigma, 2);
        let nat = |f: &[f64; 7], k: usize| unscale(f[k], sigma, k);
        let a_dm = adjoint.mean[i] - 2.0 * cross_m[i];
        let a_mg = -2.0 * cross_dm[i];
        let a_sq = on_var[i];
        out.mean[i] += a_dm * d_mu(&t.phi) + a_mg * nat(&t.phi, 1) + a_sq * d_mu(&t.sq);
        out.cov[(i, i)] += a_dm * d_var(&t.phi) + a_mg * 0.5 * nat(&t.phi, 2) + a_sq * d_var(&t.sq);
        slices.k3_iij[(i, i)] += (a_dm * nat(&t.phi, 3) + a_sq * nat(&t.sq, 3)) / 6.0;
        if let (Some(k), 4) = (slices.k4_iijj.as_mut(), plan.level[i]) {
            k[(i, i)] += (a_dm * nat(&t.phi, 4) + a_sq * nat(&t.sq, 4)) / 24.0;
        }
    }
    Ok((out, slices))
}

/// The (a, b, c_ab) of pair i > j's correction eᵢⱼ = Σ c_ab D_ab (module docs), as
/// [`Plan::entry`] reads the κ slices.
fn pair_coefficients(plan: &Plan<'_>, i: usize, j: usize) -> Vec<(usize, usize, f64)> {
    let t = plan.slices.k3;
    let mut c = vec![
        (3, 0, t[(i, i)] / 6.0),
        (2, 1, t[(i, j)] / 2.0),
        (1, 2, t[(j, i)] / 2.0),
        (0, 3, t[(j, j)] / 6.0),
    ];
    if let (Some((k, u)), 4, 4) = (plan.slices.k4, plan.level[i], plan.level[j]) {
        c.extend([
            (4, 0, k[(i, i)] / 24.0),
            (3, 1, u[(i, j)] / 6.0),
            (2, 2, k[(i, j)] / 4.0),
            (1, 3, u[(j, i)] / 6.0),
            (0, 4, k[(j, j)] / 24.0),
        ]);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::backward::{ErfVjp, LeakyReluVjp, ReluVjp};
    use crate::propagate::closures::edgeworth::closure_units;
    use crate::propagate::closures::relu_terms::{LeakyTerms, ReluTerms};
    use crate::propagate::closures::{Closure, LeakyReluClosure, ReluClosure};
    use faer::Col;

    const N: usize = 5;

    /// The forward terms of a closure from its input and the units' (μ, s).
    type Terms<'a> =
        dyn for<'m> Fn(&'m Moments, Vec<f64>, Vec<f64>) -> Box<dyn DerivativeTerms + 'm> + 'a;
    /// A corrected VJP (input, order, output adjoint).
    type Vjp<'a> = dyn Fn(&Moments, Corrections, &Adjoint) -> Result<(Adjoint, SliceAdjoint)> + 'a;

    /// A corrected closure under test: the forward closure, its name, its forward terms (as the
    /// forward builds them) and its corrected VJP.
    struct Subject<'a> {
        closure: &'a dyn Closure,
        who: &'a str,
        terms: &'a Terms<'a>,
        vjp: &'a Vjp<'a>,
    }

    /// Five units (relu's decisions; the leaky relu's at slopes 0.1 and 0.3 are the same): at order 4, units 0, 1 and 4 at level 4 (S, K inside the Gram–Charlier
    /// region), unit 2 at level 3 (K < 0), unit 3 at level 2 (S = 1.5, beyond any Gram–Charlier
    /// density); pairs (4, 1) and (4, 0) fall back (κ₃\[4,4,j\] far too large), (4, 1) within
    /// the bound, (4, 0) clamped (ρ = 0.97, the corrected variances shrunk by negative skewness).
    fn input() -> Moments {
        let mu = [0.3, -0.4, 0.5, 0.1, 0.2];
        let s = [1.0, 0.8, 1.2, 0.9, 1.1];
        let r = |i: usize, j: usize| match (i.min(j), i.max(j)) {
            _ if i == j => 1.0,
            (0, 4) => 0.97,
            (a, b) => 0.1 + 0.07 * (a + 2 * b) as f64 % 0.5 - 0.2,
        };
        let cov = Mat::from_fn(N, N, |i, j| s[i] * s[j] * r(i, j));
        let mut x = Moments::gaussian(Col::from_fn(N, |i| mu[i]), cov);
        let skew = [-0.5, -0.4, 0.2, 1.5, -0.6];
        let kurt = [1.5, 1.5, -0.3, 0.5, 2.0];
        let off = |i: usize, j: usize, scale: f64| scale * ((i * 7 + j * 3) % 5) as f64 / 5.0;
        let mut t = Mat::from_fn(N, N, |i, j| off(i, j, 0.08) - 0.03);
        let mut k = Mat::from_fn(N, N, |i, j| off(j, i, 0.1) - 0.02);
        let u = Mat::from_fn(N, N, |i, j| off(i + 1, j, 0.12) - 0.05);
        for i in 0..N {
            t[(i, i)] = skew[i] * s[i].powi(3);
            k[(i, i)] = kurt[i] * s[i].powi(4);
        }
        t[(4, 1)] = 5.0;
        t[(4, 0)] = 5.0;
        x.set_slices((Some(t), Some(k), Some(u)), 1.0);
        x
    }

    /// `vjp`'s corrected reverse pass with the Gaussian closure formed from its forward closure.
    fn recomputed<V: CorrectedVjp>(
        vjp: &V,
        x: &Moments,
        order: Corrections,
        adjoint: &Adjoint,
    ) -> Result<(Adjoint, SliceAdjoint)> {
        let gauss = vjp.forward().apply(x, Corrections::None)?;
        vjp.corrected(x, order, &gauss, adjoint)
    }

    /// [`CorrectedVjp::forward_with_gaussian`] hands out the forward closure's own results, bit
    /// for bit, for relu, the leaky relu (slope 0.1) and erf on [`input`] at orders 3 and 4:
    /// `out` and the fallbacks as its `apply_counted` at the order, `gauss` as at
    /// [`Corrections::None`]. Fails with the corrections added to the output buffer as it was
    /// rather than to a copy of the Gaussian closure (`corrected_from_gaussian`).
    #[test]
    fn forward_with_gaussian_is_the_forward_closure_bit_for_bit() {
        fn check<V: CorrectedVjp>(vjp: &V) {
            let x = input();
            let bits = |m: &Moments| -> Vec<u64> {
                let mean = (0..N).map(|i| m.mean[i].to_bits());
                mean.chain((0..N * N).map(|k| m.cov[(k % N, k / N)].to_bits()))
                    .collect()
            };
            let buffer = || Moments::gaussian(Col::zeros(N), Mat::zeros(N, N));
            let want_gauss = vjp.forward().apply(&x, Corrections::None).unwrap();
            for order in [Corrections::K3, Corrections::K3K4] {
                let mut want = buffer();
                let want_fallbacks = vjp.forward().apply_counted(&x, order, &mut want).unwrap();
                let (mut out, mut gauss) = (buffer(), buffer());
                let fallbacks = vjp
                    .forward_with_gaussian(&x, order, &mut out, &mut gauss)
                    .unwrap();
                let who = format!("{} at order {}", vjp.who(), order.order());
                // The forward closure's class-level projection (`edgeworth`, "Not a
                // covariance") is not taken here: where it projected, only the means agree.
                if want_fallbacks.projected == 1 {
                    assert_eq!(bits(&out)[..N], bits(&want)[..N], "{who}: projected");
                } else {
                    assert_eq!(bits(&out), bits(&want), "{who}: corrected");
                }
                assert_eq!(bits(&gauss), bits(&want_gauss), "{who}: Gaussian");
                let untested = Fallbacks {
                    projected: 0,
                    classes_tried: 0,
                    ..want_fallbacks
                };
                assert_eq!(fallbacks, untested, "{who}: fallbacks");
                assert_ne!(bits(&out), bits(&gauss), "{who}: no correction");
            }
        }
        check(&ReluVjp);
        check(&LeakyReluVjp::new(0.1));
        check(&ErfVjp);
    }

    /// An unresolved pair (`edgeworth`'s "Near-collinear pairs": units 0 and 1 of
    /// `near_collinear(10⁷, 10⁻⁶)`, C_G,₁₀ > 0) has C̃₁₀ = C_G,₁₀ + ½(Δ₀₀ + Δ₁₁), linear in
    /// quantities whose reverse passes the tests above check against differences: its reverse
    /// pass at Ḡ₁₀ = Ḡ₀₁ = ½ equals the Gaussian closure's there plus half of (the corrected
    /// minus the Gaussian closure's) at Ḡ₀₀ = 1 and at Ḡ₁₁ = 1, for μ̄, Σ̄ and the κ slices'
    /// adjoints, at orders 3 and 4, to 10⁻¹² of the terms' sizes. Fails without the unresolved
    /// pairs' adjoint on Δᵢᵢ (`corrected_vjp`).
    #[test]
    fn an_unresolved_pair_is_differentiated_as_its_entry() {
        use crate::propagate::closures::edgeworth::tests::near_collinear;
        let x = near_collinear(1e7, 1e-6);
        let gauss = ErfVjp.forward().apply(&x, Corrections::None).unwrap();
        assert!(gauss.cov[(1, 0)] > 0.0);
        let at = |cells: &[(usize, usize, f64)]| Adjoint {
            mean: Col::zeros(3),
            cov: Mat::from_fn(3, 3, |i, j| {
                let hit = cells.iter().find(|c| (c.0, c.1) == (i, j));
                hit.map_or(0.0, |c| c.2)
            }),
        };
        let (pair, d0, d1) = (
            at(&[(1, 0, 0.5), (0, 1, 0.5)]),
            at(&[(0, 0, 1.0)]),
            at(&[(1, 1, 1.0)]),
        );
        for order in [Corrections::K3, Corrections::K3K4] {
            let (mu, s) = closure_units(&x, "erf").unwrap();
            let (decide, _) = ErfVjp.terms(&x, mu, s);
            let plan = Plan::of(&x, (order, "erf"), &gauss, &decide).unwrap();
            let rho = plan.rho(&x.cov, 1, 0);
            let outcome = plan
                .entry(1, 0, gauss.cov[(1, 0)], decide.pair(1, 0, rho))
                .1;
            assert_eq!(outcome, PairOutcome::Unresolved, "order {}", order.order());
            let corrected = |a: &Adjoint| ErfVjp.corrected(&x, order, &gauss, a).unwrap();
            let plain = |a: &Adjoint| ErfVjp.vjp(&x, &gauss, a).unwrap();
            let (got, got_k) = corrected(&pair);
            let (c0, k0) = corrected(&d0);
            let (c1, k1) = corrected(&d1);
            let (g, g0, g1) = (plain(&pair), plain(&d0), plain(&d1));
            let check = |what: &str, got: f64, parts: [f64; 5]| {
                let want = parts[0] + 0.5 * ((parts[1] - parts[2]) + (parts[3] - parts[4]));
                let size: f64 = parts.iter().map(|p| p.abs()).sum();
                assert!(
                    (got - want).abs() <= 1e-12 * size,
                    "order {} {what}: {got:e} vs {want:e}",
                    order.order()
                );
            };
            for i in 0..3 {
                let m = |a: &Adjoint| a.mean[i];
                check(
                    &format!("μ̄{i}"),
                    got.mean[i],
                    [m(&g), m(&c0), m(&g0), m(&c1), m(&g1)],
                );
                for j in 0..3 {
                    let c = |a: &Adjoint| a.cov[(i, j)];
                    let parts = [c(&g), c(&c0), c(&g0), c(&c1), c(&g1)];
                    check(&format!("Σ̄{i}{j}"), got.cov[(i, j)], parts);
                    let k = |s: &SliceAdjoint| s.k3_iij[(i, j)];
                    let parts = [0.0, k(&k0), 0.0, k(&k1), 0.0];
                    check(&format!("κ̄₃[{i}{i}{j}]"), k(&got_k), parts);
                }
            }
        }
    }

    /// The output adjoint: a fixed symmetric Ḡ and ḡ.
    fn adjoint() -> Adjoint {
        Adjoint {
            mean: Col::from_fn(N, |i| 0.3 - 0.2 * i as f64),
            cov: Mat::from_fn(N, N, |i, j| {
                0.5 + 0.1 * (i + j) as f64 - 0.05 * (i * j) as f64
            }),
        }
    }

    /// L = ḡ·m̃ + Σᵢⱼ ḠᵢⱼC̃ᵢⱼ of the corrected closure as the cumulant objective forms it
    /// ([`corrected_from_gaussian`]: no class-level projection, which the forward closure may
    /// take), and the sum of the magnitudes of its terms (the scale of its rounding).
    fn loss(subject: &Subject<'_>, x: &Moments, order: Corrections) -> (f64, f64) {
        let gauss = subject.closure.apply(x, Corrections::None).unwrap();
        let (mu, s) = closure_units(x, subject.who).unwrap();
        let decide = (subject.terms)(x, mu, s);
        let mut out = gauss.clone();
        corrected_from_gaussian(x, order, &gauss, &mut out, (subject.who, &*decide)).unwrap();
        let a = adjoint();
        let terms = (0..N)
            .map(|i| a.mean[i] * out.mean[i])
            .chain((0..N * N).map(|k| a.cov[(k % N, k / N)] * out.cov[(k % N, k / N)]));
        terms.fold((0.0, 0.0), |(l, s), t| (l + t, s + t.abs()))
    }

    /// The forward's decisions at the test input: (levels, pair outcomes).
    fn decisions(
        subject: &Subject<'_>,
        x: &Moments,
        order: Corrections,
    ) -> (Vec<u8>, Vec<PairOutcome>) {
        let gauss = subject.closure.apply(x, Corrections::None).unwrap();
        let (mu, s) = closure_units(x, subject.who).unwrap();
        let terms = (subject.terms)(x, mu, s);
        let plan = Plan::of(x, (order, subject.who), &gauss, terms.as_ref()).unwrap();
        let outcomes = (0..N)
            .flat_map(|i| (0..i).map(move |j| (i, j)))
            .filter(|&(i, j)| plan.tried(i, j))
            .map(|(i, j)| {
                let d = terms.pair(i, j, plan.rho(&x.cov, i, j));
                plan.entry(i, j, gauss.cov[(j, i)], d).1
            })
            .collect();
        (plan.level.clone(), outcomes)
    }

    /// Every input of the corrected relu closure at orders 3 and 4 ([`check_against_differences`]).
    /// Fails with the clamped pair's adjoint left off the diagonal, the m_G adjoint −2ΣḠᵢⱼΔmⱼ
    /// dropped, or κ₄\[i,i,i,j\]'s adjoint written at (j, i).
    #[test]
    fn corrected_vjp_matches_central_differences() {
        check_against_differences(&Subject {
            closure: &ReluClosure,
            who: "relu",
            terms: &|_, mu, s| Box::new(ReluTerms { mu, s }),
            vjp: &|x, order, adj| recomputed(&ReluVjp, x, order, adj),
        });
    }

    /// The same for the leaky relu at slopes 0.1 and 0.3 (its forward terms [`LeakyTerms`],
    /// its terms to order 6 `closures::leaky_relu_high`, [`LeakyReluVjp`]), on the same input:
    /// the same levels and pair outcomes. Fails with the leaky relu's E[φ'] of order 1 taken as
    /// the relu's (1 − α)Φ(a) (the α·E[ℓ'] = α term of `LeakyReluHighTerms::unit` dropped).
    #[test]
    fn corrected_leaky_relu_vjp_matches_central_differences() {
        for slope in [0.1, 0.3] {
            let closure = LeakyReluClosure::new(slope);
            check_against_differences(&Subject {
                closure: &closure,
                who: "leaky relu",
                terms: &|x, mu, s| {
                    Box::new(LeakyTerms {
                        relu: ReluTerms { mu, s },
                        slope,
                        cov: x.cov.as_ref(),
                    })
                },
                vjp: &|x, order, adj| recomputed(&LeakyReluVjp::new(slope), x, order, adj),
            });
        }
    }

    /// Positive homogeneity at tiny scales (scale67): relu and the leaky relu (slope 0.1) have
    /// φ(th) = tφ(h) for t > 0, so the corrected closure at the input scaled by t (μ → tμ,
    /// Σ → t²Σ, κ₃ → t³κ₃, κ₄ → t⁴κ₄) has m̃ → tm̃, C̃ → t²C̃, and for the output adjoint
    /// (ḡ, Ḡ/t) its input adjoints are t^{1−p} times those at t = 1 (p = 1, 2, 3, 4 for μ, Σ,
    /// κ₃, κ₄: L keeps its value and x̄ₚ = ∂L/∂(tᵖxₚ)). At t = 2⁻³³² ≈ 1.1·10⁻¹⁰⁰ (order 3; κ₄
    /// would underflow) and t = 2⁻²³² ≈ 1.4·10⁻⁷⁰ (order 4), powers of 2, the standardised
    /// quantities (μ/s, ρ, κ/s³) are the same bits as at t = 1; to 10⁻¹² of each output's largest
    /// entry. The levels and pair outcomes are not asserted: they depend on μ/s, ρ and κ/s³ only,
    /// which are the same bits. Fails with the relu's unit table formed through natural units
    /// (s^{1−k}R⁽ᵏ⁾·sᵏ: E_G[relu⁽⁶⁾] ∝ s⁻⁵ overflows, μ̄₀ NaN), and with the forward's clamp
    /// bound formed as √(vᵢvⱼ) (`Plan::entry`: the product underflows, every corrected pair's
    /// C̃ᵢⱼ became 0).
    #[test]
    fn corrected_vjp_is_homogeneous_at_tiny_scales() {
        let leaky = LeakyReluClosure::new(0.1);
        let subjects: [(&dyn Closure, &Vjp<'_>); 2] = [
            (&ReluClosure, &|x, order, adj| {
                recomputed(&ReluVjp, x, order, adj)
            }),
            (&leaky, &|x, order, adj| {
                recomputed(&LeakyReluVjp::new(0.1), x, order, adj)
            }),
        ];
        let scaled = |x: &Moments, t: f64| {
            let mut m = x.clone();
            m.mean = Col::from_fn(N, |i| t * x.mean[i]);
            m.cov = Mat::from_fn(N, N, |i, j| t * t * x.cov[(i, j)]);
            let times =
                |k: Option<&Mat<f64>>, f: f64| k.map(|k| Mat::from_fn(N, N, |i, j| f * k[(i, j)]));
            let slices = (
                times(x.k3_iij(), t * t * t),
                times(x.k4_iijj(), (t * t) * (t * t)),
                times(x.k4_iiij(), (t * t) * (t * t)),
            );
            m.set_slices(slices, x.slice_unit());
            m
        };
        let close = |what: &str, got: &[f64], want: &[f64]| {
            let top = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            for (k, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-12 * top,
                    "{what}[{k}]: {g:e} (rescaled) vs {w:e} at t = 1"
                );
            }
        };
        let flat = |m: &Mat<f64>, f: f64| -> Vec<f64> {
            (0..N * N).map(|k| f * m[(k % N, k / N)]).collect()
        };
        for (closure, vjp) in subjects {
            for (order, t) in [
                (Corrections::K3, 2f64.powi(-332)),
                (Corrections::K3K4, 2f64.powi(-232)),
            ] {
                let name = format!("{} order {}", closure.name(), order.order());
                let (x, a) = (input(), adjoint());
                let xt = scaled(&x, t);
                let at = Adjoint {
                    mean: a.mean.clone(),
                    cov: Mat::from_fn(N, N, |i, j| a.cov[(i, j)] / t),
                };
                let (f1, ft) = (closure.apply(&x, order), closure.apply(&xt, order));
                let (f1, ft) = (f1.unwrap(), ft.unwrap());
                let mean: Vec<f64> = ft.mean.iter().map(|v| v / t).collect();
                close(
                    &format!("{name} m̃"),
                    &mean,
                    &f1.mean.iter().copied().collect::<Vec<_>>(),
                );
                close(
                    &format!("{name} C̃"),
                    &flat(&ft.cov, 1.0 / (t * t)),
                    &flat(&f1.cov, 1.0),
                );
                let (g1, k1) = vjp(&x, order, &a).unwrap();
                let (gt, kt) = vjp(&xt, order, &at).unwrap();
                let mean: Vec<f64> = gt.mean.iter().copied().collect();
                close(
                    &format!("{name} μ̄"),
                    &mean,
                    &g1.mean.iter().copied().collect::<Vec<_>>(),
                );
                close(&format!("{name} Σ̄"), &flat(&gt.cov, t), &flat(&g1.cov, 1.0));
                close(
                    &format!("{name} κ̄₃"),
                    &flat(&kt.k3_iij, t * t),
                    &flat(&k1.k3_iij, 1.0),
                );
                let pairs = [(&kt.k4_iijj, &k1.k4_iijj), (&kt.k4_iiij, &k1.k4_iiij)];
                for (kt, k1) in pairs {
                    if let (Some(kt), Some(k1)) = (kt, k1) {
                        close(&format!("{name} κ̄₄"), &flat(kt, t * t * t), &flat(k1, 1.0));
                    }
                }
            }
        }
    }

    /// Every input of `subject`'s corrected closure at orders 3 and 4 — μᵢ, Σᵢᵢ, the tied
    /// Σᵢⱼ = Σⱼᵢ, every entry of κ₃\[i,i,j\], κ₄\[i,i,j,j\], κ₄\[i,i,i,j\] — against central
    /// differences (f(x + h) − f(x − h))/2h of L, h = 10⁻⁵, on an input with units at levels 2,
    /// 3, 4 and a fallen-back and a clamped pair (asserted). The difference's error is at most
    /// h²/6·|f'''| + 2δ/2h; |f'''| is estimated by the 4-point difference at H = 10⁻³ (no
    /// decision changes within ±2H: asserted) and counted twice, δ ≤ 64ε·Σ|terms of L|.
    fn check_against_differences(subject: &Subject<'_>) {
        let (h, big_h) = (1e-5, 1e-3);
        for order in [Corrections::K3, Corrections::K3K4] {
            let x = input();
            let (levels, outcomes) = decisions(subject, &x, order);
            let want: &[u8] = if order == Corrections::K3K4 {
                &[4, 4, 3, 2, 4]
            } else {
                &[3, 3, 3, 2, 3]
            };
            assert_eq!(levels, want, "order {}", order.order());
            assert!(outcomes.contains(&PairOutcome::Gaussian), "{outcomes:?}");
            assert!(outcomes.contains(&PairOutcome::Clamped), "{outcomes:?}");
            assert!(outcomes.contains(&PairOutcome::Corrected), "{outcomes:?}");
            let (adj, kappa) = (subject.vjp)(&x, order, &adjoint()).unwrap();
            // (what, perturbation of the input, exact derivative).
            type Perturb = Box<dyn Fn(&mut Moments, f64)>;
            let mut cases: Vec<(String, Perturb, f64)> = Vec::new();
            for i in 0..N {
                cases.push((
                    format!("μ{i}"),
                    Box::new(move |m, d| m.mean[i] += d),
                    adj.mean[i],
                ));
                for j in 0..=i {
                    let exact = if i == j {
                        adj.cov[(i, i)]
                    } else {
                        adj.cov[(i, j)] + adj.cov[(j, i)]
                    };
                    let bump: Perturb = Box::new(move |m, d| {
                        m.cov[(i, j)] += d;
                        if i != j {
                            m.cov[(j, i)] += d;
                        }
                    });
                    cases.push((format!("Σ{i}{j}"), bump, exact));
                }
                for j in 0..N {
                    let t: Perturb = Box::new(move |m, d| {
                        m.natural_slices_mut().k3_iij.as_mut().unwrap()[(i, j)] += d
                    });
                    cases.push((format!("κ₃[{i}{i}{j}]"), t, kappa.k3_iij[(i, j)]));
                    if let (Some(k), Some(u)) = (&kappa.k4_iijj, &kappa.k4_iiij) {
                        let kb: Perturb = Box::new(move |m, d| {
                            m.natural_slices_mut().k4_iijj.as_mut().unwrap()[(i, j)] += d
                        });
                        cases.push((format!("κ₄[{i}{i}{j}{j}]"), kb, k[(i, j)]));
                        let ub: Perturb = Box::new(move |m, d| {
                            m.natural_slices_mut().k4_iiij.as_mut().unwrap()[(i, j)] += d
                        });
                        cases.push((format!("κ₄[{i}{i}{i}{j}]"), ub, u[(i, j)]));
                    }
                }
            }
            let mut worst: f64 = 0.0;
            for (what, bump, exact) in &cases {
                let at = |d: f64| {
                    let mut m = x.clone();
                    bump(&mut m, d);
                    let now = decisions(subject, &m, order);
                    assert_eq!(now, (levels.clone(), outcomes.clone()), "{}", subject.who);
                    loss(subject, &m, order)
                };
                let fd = (at(h).0 - at(-h).0) / (2.0 * h);
                let third = (at(2.0 * big_h).0 - 2.0 * at(big_h).0 + 2.0 * at(-big_h).0
                    - at(-2.0 * big_h).0)
                    / (2.0 * big_h.powi(3));
                let scale = at(0.0).1;
                let tol = 2.0 * third.abs() * h * h / 6.0 + 64.0 * f64::EPSILON * scale / h;
                assert!(
                    (fd - exact).abs() <= tol,
                    "{} order {} {what}: {exact} vs {fd} (tol {tol:e})",
                    subject.closure.name(),
                    order.order()
                );
                worst = worst.max((fd - exact).abs() / tol);
            }
            println!(
                "{} order {}: {} inputs, worst |error|/tol {worst:.3}",
                subject.closure.name(),
                order.order(),
                cases.len()
            );
        }
    }
}
