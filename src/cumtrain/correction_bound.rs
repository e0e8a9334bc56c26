//! The bound on a corrected closure's departure from the Gaussian closure in the cumulant
//! objective (`--correction-bound α`, issue #16 item 6).
//!
//! At `--order 3|4` a Gram–Charlier corrected closure (relu, leaky relu, erf) gives z's mean and
//! covariance as the Gaussian closure's plus a correction, μ = μ_G + Δμ and C = C_G + ΔC. Where
//! the expansion (1 + 𝒟_κ)p_G is no density, ΔC can push variance below zero; with the check off
//! (λ = 0) training drove every class-step there and the spectral floor's near-zero variances
//! let the closure objective fall to 10⁻⁵ while the network's training MSE stayed 0.73–0.80
//! (EXPERIMENTS.md, deep67). The objective therefore propagates the correction shrunk towards the
//! Gaussian closure,
//!
//! ```text
//! μ(t) = μ_G + t Δμ,   C(t) = C_G + t ΔC,
//! t = min(1, (1 − α) / max(0, −λ_min)),   λ_min = λ_min(ΔC, B),   B = C_G + εI,
//! ```
//!
//! with λ_min the least generalized eigenvalue of ΔC v = λ B v (of L⁻¹ΔCL⁻ᵀ, B = LLᵀ, without
//! its other eigenvectors: [`super::least_eigenpair`]) and
//! ε = s·tr C_G / n a ridge with the share s of the spectral floor ([`super::spectral_floor`],
//! [`super::spectral_floor::FLOOR_SHARE`] unless the objective is told another; ε = 0 where
//! tr C_G ≤ 0): the largest t ≤ 1 with (1 − α)B + tΔC ⪰ 0, i.e.
//! C(t) ⪰ αC_G − (1 − α)εI. Every direction keeps at least the share α of the Gaussian
//! closure's variance in it (up to the ridge), so no class can be separated by a direction the
//! expansion has emptied. t is continuous (t = 1 exactly where (1 − α)B + ΔC ⪰ 0, and the
//! objective unchanged there), and the mean is shrunk with the same t: (μ(t), C(t)) interpolate
//! the two closures' moments with one weight, rather than pairing one closure's covariance with
//! the other's mean. Where B has no Cholesky factor (C_G = 0: h deterministic)
//! t = 0, the Gaussian closure, the limit of t as B → 0 with ΔC indefinite.
//!
//! Its reverse pass, for the adjoint (m̄, Ḡ) of (μ(t), C(t)), where t < 1:
//!
//! ```text
//! t̄ = m̄·Δμ + ⟨Ḡ, ΔC⟩,   λ̄ = t̄ (1 − α) / λ²                 (t = −(1 − α)/λ)
//! μ̄ = t m̄,        C̄ = t Ḡ + λ̄ vvᵀ
//! μ̄_G = (1 − t) m̄, C̄_G = (1 − t) Ḡ − λ̄ (1 + λ) vvᵀ − λ̄ λ (s/n) vᵀv I
//! ```
//!
//! with v the generalized eigenvector normalised to vᵀBv = 1, from the derivative of a simple
//! generalized eigenvalue dλ = vᵀ(dΔC − λ dB)v (e.g. Magnus & Neudecker, "Matrix Differential
//! Calculus", ch. 8), dΔC = dC − dC_G and dB = dC_G + (s/n) tr(dC_G) I (the last term only where
//! tr C_G > 0). Where t = 1 the adjoint passes to the corrected closure unchanged.
//!
//! **Keeping the mean's correction** (`--correction-bound-mean keep`, [`BoundMean::Keep`];
//! the default `shrink` is the rule above). The bound exists to keep every direction's variance
//! at least αC_G: it is a condition on the covariance alone. The mean's correction cannot empty
//! a direction (it moves the class's centre, not its spread), so `keep` leaves it whole and
//! shrinks the covariance's only:
//!
//! ```text
//! μ = μ_G + Δμ (the corrected closure's mean),   C(t) = C_G + t ΔC,   t as above.
//! ```
//!
//! On MNIST z¹'s corrected covariance is indefinite in most class-steps, so `shrink` acts nearly
//! everywhere and shrinks the mean's κ₃ correction with the covariance's (EXPERIMENTS.md, "The
//! correction bound on MNIST and a third seed"), while the spectral floor (bound off) keeps it
//! whole. What `keep` gives up: (μ, C(t)) no longer interpolates one pair of closure moments —
//! the corrected closure's mean is paired with a covariance between the two closures'. Its
//! reverse pass, where t < 1: t depends on the covariances only and μ on the corrected mean only,
//! so the mean's term leaves t̄ and m̄ goes to the corrected mean whole,
//!
//! ```text
//! t̄ = ⟨Ḡ, ΔC⟩,   λ̄ = t̄ (1 − α) / λ²,   μ̄ = m̄,   μ̄_G = 0,
//! C̄ and C̄_G as above.
//! ```
//!
//! **Clipping only the emptied directions** (`--correction-bound-rule clip`, [`BoundRule::Clip`];
//! the default `scale` is the rule above). Where (1 − α)B + ΔC is not positive semi-definite the
//! scale rule shrinks every direction's correction by one t, though on MNIST only a few
//! generalized eigenvalues of (ΔC, B) lie below −(1 − α). `clip` raises just those to −(1 − α),
//!
//! ```text
//! C = C_G + L f(M) Lᵀ,   M = L⁻¹ΔCL⁻ᵀ,   f(λ) = max(λ, −(1 − α)),
//! ```
//!
//! with the same guarantee C ⪰ αC_G − (1 − α)εI and every other direction's correction whole
//! ([`super::clip_rule`], which also derives its reverse pass to (ΔC̄, B̄)). The mean is as
//! under `scale`: μ(t) = μ_G + tΔμ with the same t (`shrink`), or μ_G + Δμ (`keep`), so `clip`
//! changes the covariance only. Its reverse pass: with (ΔC̄, B̄) from [`super::clip_rule`] and
//! t̄ = m̄·Δμ (0 under `keep`: t then moves nothing), λ̄ = t̄(1 − α)/λ² as above,
//!
//! ```text
//! ΔC̄′ = ΔC̄ + λ̄ vvᵀ,   B̄′ = B̄ − λ̄ λ vvᵀ,
//! C̄ = Ḡ + ΔC̄′,   C̄_G = −ΔC̄′ + B̄′ + (s/n) tr(B̄′) I   (the last term where tr C_G > 0),
//! ```
//!
//! μ̄ and μ̄_G as above. It needs the full eigendecomposition of M only where the Cholesky
//! factor of (1 − α)B + ΔC fails (the early exit both rules share: no eigenvalue below
//! −(1 − α), C = C_c); its least eigenpair then gives t. Where B has no Cholesky factor the
//! clip does what the scale rule does: t = 0, the Gaussian closure (C = C_G).
//!
//! **Bounding against the measured z** (`--correction-bound-reference measured`,
//! [`BoundReference::Measured`]; the default `gauss` is everything above). With the check off
//! (λ = 0) the bound above still let erf's objective separate the classes 5× more than the real
//! network does (L_C / training MSE 0.058 under keep): not through the mean but through the
//! covariance, because C_G, the Gaussian closure of the measured h moments, held only ~1/5 of
//! the REAL z variance in the discriminating direction, so C ⪰ αC_G let the objective keep 0.04
//! of it there (EXPERIMENTS.md, "Real and expanded mean shifts, mu72"). Under `measured` the
//! reference (μ_G, C_G) is replaced everywhere above by the class's measured z moments over the
//! samples the objective forwards for the κ slices anyway, z_s = φ(h_s) (s = 1..n_c),
//!
//! ```text
//! μ_m = (1/n_c) Σ_s z_s,   C_m = (1/n_c) Σ_s (z_s − μ_m)(z_s − μ_m)ᵀ,   B = C_m + εI,
//! ```
//!
//! so C ⪰ αC_m − (1 − α)εI: every direction keeps at least the share α of the variance the
//! network's own z has in it. [`CorrectionBound::apply`] and its reverse pass are the same with
//! (μ_m, C_m) in the reference's slot; the reverse pass's (μ̄_ref, C̄_ref) go to the samples,
//!
//! ```text
//! z̄_s = μ̄_ref / n_c + (2/n_c) sym(C̄_ref)(z_s − μ_m)
//! ```
//!
//! (the centring's own term vanishes, Σ_s (z_s − μ_m) = 0), and on as the samples' adjoint
//! through φ′ to W and b (`CumulantObjective`'s sample sweep); the Gaussian closure's z then
//! gets no adjoint from the bound.

use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use std::fmt;
use std::str::FromStr;

use clap::ValueEnum;
use faer::{Col, Mat, Par, Side};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::clip_rule::Clip;
use super::least_eigenpair::least_eigenpair;
use crate::error::{value_name, Error, Field, Result};
use crate::linalg::symmetrize;
use crate::propagate::backward::Adjoint;
use crate::stats::Moments;

/// `--correction-bound`: off (the corrected closure as it is, floored only) or the share α of
/// the module docs. Written `off` or α, in `--json` too.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BoundSetting {
    Off,
    Share(f64),
}

impl BoundSetting {
    /// α where the bound is on.
    pub fn share(self) -> Option<f64> {
        match self {
            BoundSetting::Off => None,
            BoundSetting::Share(alpha) => Some(alpha),
        }
    }

    /// An error naming `--correction-bound` unless off or 0 ≤ α < 1 (at α = 1 every indefinite
    /// correction would drop to the Gaussian closure at once: t jumps from 1 to 0).
    pub fn validate(self) -> Result<()> {
        match self {
            BoundSetting::Share(alpha) if !(0.0..1.0).contains(&alpha) => Err(Error::config(
                Field::CorrectionBound,
                format!(
                    "{alpha} is not a share α with 0 ≤ α < 1 (the corrected covariance keeps at \
                     least α times the Gaussian closure's in every direction), nor off"
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl FromStr for BoundSetting {
    type Err = Error;

    /// `off`, or α with 0 ≤ α < 1.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(BoundSetting::Off);
        }
        let alpha: f64 = text.parse().map_err(|_| {
            Error::config(
                Field::CorrectionBound,
                format!("'{text}' is neither off nor a share α with 0 ≤ α < 1"),
            )
        })?;
        let setting = BoundSetting::Share(alpha);
        setting.validate()?;
        Ok(setting)
    }
}

impl fmt::Display for BoundSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundSetting::Off => f.write_str("off"),
            BoundSetting::Share(alpha) => write!(f, "{alpha}"),
        }
    }
}

impl Serialize for BoundSetting {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            BoundSetting::Off => s.serialize_str("off"),
            BoundSetting::Share(alpha) => s.serialize_f64(*alpha),
        }
    }
}

impl<'de> Deserialize<'de> for BoundSetting {
    /// `"off"` or α, refused as the flag refuses them.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Word(String),
            Share(f64),
        }
        match Written::deserialize(d)? {
            Written::Word(word) => word.parse().map_err(de::Error::custom),
            Written::Share(alpha) => {
                let setting = BoundSetting::Share(alpha);
                setting.validate().map_err(de::Error::custom)?;
                Ok(setting)
            }
        }
    }
}

/// `--correction-bound-mean`: what the bound does to the mean's correction (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BoundMean {
    /// μ(t) = μ_G + tΔμ, shrunk with the covariance's correction: (μ, C) interpolate the two
    /// closures' moments with one weight.
    #[default]
    Shrink,
    /// μ = μ_G + Δμ, the corrected closure's mean whole; only the covariance's correction shrunk.
    Keep,
}

impl fmt::Display for BoundMean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// `--correction-bound-rule`: how the bound keeps the covariance within it (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BoundRule {
    /// C(t) = C_G + tΔC, every direction's correction shrunk by one t.
    #[default]
    Scale,
    /// C = C_G + L f(M) Lᵀ, only the generalized eigenvalues of (ΔC, B) below −(1 − α) raised
    /// to it ([`super::clip_rule`]).
    Clip,
}

impl fmt::Display for BoundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// `--correction-bound-reference`: the moments the bound keeps the corrected z near (module
/// docs, "Bounding against the measured z").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BoundReference {
    /// (μ_G, C_G), the Gaussian closure's z at the same h.
    #[default]
    Gauss,
    /// (μ_m, C_m), the mean and covariance (÷ n_c) of z = φ(h) over the class's samples forwarded
    /// at the current weights.
    Measured,
}

impl fmt::Display for BoundReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// What the bound did to one class's corrected z (module docs), for the reverse pass.
pub struct CorrectionBound {
    alpha: f64,
    /// Whether the mean's correction is kept whole ([`BoundMean::Keep`]).
    keep_mean: bool,
    /// s of the ridge.
    share: f64,
    t: f64,
    /// λ_min, and v with vᵀBv = 1; v = 0 where t = 0 because B has no Cholesky factor.
    lambda: f64,
    v: Col<f64>,
    d_mean: Col<f64>,
    d_cov: Mat<f64>,
    /// Whether ε moves with tr C_G (tr C_G > 0).
    trace_positive: bool,
    /// Under [`BoundRule::Clip`] with a Cholesky factor of B, M's eigendecomposition.
    clip: Option<Clip>,
}

impl CorrectionBound {
    /// (μ(t), C(t)) of the module docs (μ = μ_G + Δμ whole where `mean` is
    /// [`BoundMean::Keep`]; C = C_G + L f(M) Lᵀ where `rule` is [`BoundRule::Clip`]) from the
    /// Gaussian closure's `gauss` (or the measured z's: [`BoundReference::Measured`]) and the
    /// corrected closure's `corrected` outputs at the same h,
    /// with the share `alpha` ∈ [0, 1) and the ridge share `share` (s), and the bound for the
    /// reverse pass; `None` where t = 1 (the correction within the bound, nothing to undo). A
    /// numerical error where C_G's trace is not finite or the eigendecomposition fails.
    pub fn apply(
        gauss: &Moments,
        corrected: &Moments,
        (alpha, share): (f64, f64),
        (mean, rule): (BoundMean, BoundRule),
    ) -> Result<Option<(Moments, Self)>> {
        let n = gauss.dim();
        let trace: f64 = (0..n).map(|i| gauss.cov[(i, i)]).sum();
        if !trace.is_finite() {
            return Err(Error::Numeric(format!(
                "the correction bound's reference z covariance has trace {trace:e}, expected a \
                 finite number"
            )));
        }
        let eps = share * trace.max(0.0) / n as f64;
        let b = Mat::from_fn(n, n, |i, j| {
            gauss.cov[(i, j)] + if i == j { eps } else { 0.0 }
        });
        let d_cov = Mat::from_fn(n, n, |i, j| corrected.cov[(i, j)] - gauss.cov[(i, j)]);
        let at_one = Mat::from_fn(n, n, |i, j| (1.0 - alpha) * b[(i, j)] + d_cov[(i, j)]);
        if at_one.llt(Side::Lower).is_ok() {
            return Ok(None);
        }
        let d_mean = Col::from_fn(n, |i| corrected.mean[i] - gauss.mean[i]);
        let mut bound = CorrectionBound {
            alpha,
            keep_mean: mean == BoundMean::Keep,
            share,
            t: 0.0,
            lambda: 0.0,
            v: Col::zeros(n),
            d_mean,
            d_cov,
            trace_positive: trace > 0.0,
            clip: None,
        };
        if let Ok(llt) = b.llt(Side::Lower) {
            let l = llt.L();
            // M = L⁻¹ ΔC L⁻ᵀ: X = L⁻¹ΔC, M = L⁻¹Xᵀ (ΔC symmetric).
            let mut x = bound.d_cov.clone();
            solve_lower_triangular_in_place(l, x.as_mut(), Par::Seq);
            let mut m = x.transpose().to_owned();
            solve_lower_triangular_in_place(l, m.as_mut(), Par::Seq);
            symmetrize(m.as_mut());
            let (lambda, u) = match rule {
                BoundRule::Scale => least_eigenpair(m.as_ref())?,
                BoundRule::Clip => {
                    let clip = Clip::new(l, m, alpha)?;
                    let least = clip.least();
                    bound.clip = Some(clip);
                    least
                }
            };
            if lambda >= -(1.0 - alpha) {
                // The Cholesky test above failed by rounding at the boundary: t = 1.
                return Ok(None);
            }
            // v = L⁻ᵀu, so that vᵀBv = uᵀu = 1.
            let mut v = Mat::from_fn(n, 1, |i, _| u[i]);
            solve_upper_triangular_in_place(l.transpose(), v.as_mut(), Par::Seq);
            bound.lambda = lambda;
            bound.t = (1.0 - alpha) / -lambda;
            bound.v = Col::from_fn(n, |i| v[(i, 0)]);
        }
        let t = bound.t;
        let z = Moments::gaussian(
            if bound.keep_mean {
                corrected.mean.clone()
            } else {
                Col::from_fn(n, |i| gauss.mean[i] + t * bound.d_mean[i])
            },
            match &bound.clip {
                Some(clip) => &corrected.cov + clip.addition(),
                None => Mat::from_fn(n, n, |i, j| gauss.cov[(i, j)] + t * bound.d_cov[(i, j)]),
            },
        );
        Ok(Some((z, bound)))
    }

    /// t of the module docs (< 1).
    pub fn t(&self) -> f64 {
        self.t
    }

    /// Under [`BoundRule::Clip`], the generalized eigenvalues raised to −(1 − α); None under
    /// [`BoundRule::Scale`] and where B had no Cholesky factor (the Gaussian closure).
    pub fn clipped(&self) -> Option<usize> {
        self.clip.as_ref().map(Clip::clipped)
    }

    /// The adjoints of the corrected closure's output (μ, C) and of the Gaussian closure's
    /// (μ_G, C_G), from the adjoint `adj` of (μ(t), C(t)) (module docs; with the mean kept,
    /// m̄ goes to μ whole and leaves t̄).
    pub fn vjp(&self, adj: &Adjoint) -> (Adjoint, Adjoint) {
        let n = self.v.nrows();
        let t = self.t;
        // The weights of m̄ in μ̄ and μ̄_G, and of Δμ in t̄.
        let (mean_t, mean_g, mean_in_t) = if self.keep_mean {
            (1.0, 0.0, 0.0)
        } else {
            (t, 1.0 - t, 1.0)
        };
        // Under the clip t moves the mean only.
        let cov_in_t = if self.clip.is_some() { 0.0 } else { 1.0 };
        let t_bar: f64 = (0..n)
            .map(|i| {
                mean_in_t * adj.mean[i] * self.d_mean[i]
                    + cov_in_t
                        * (0..n)
                            .map(|j| adj.cov[(i, j)] * self.d_cov[(i, j)])
                            .sum::<f64>()
            })
            .sum();
        let lambda = self.lambda;
        // v = 0 where t = 0 for want of a Cholesky factor: t does not move there.
        let l_bar = if lambda < 0.0 {
            t_bar * (1.0 - self.alpha) / (lambda * lambda)
        } else {
            0.0
        };
        let vv = |i: usize, j: usize| self.v[i] * self.v[j];
        let (cov_c, cov_g) = match &self.clip {
            Some(clip) => {
                let (d_cov_bar, b_bar) = clip.vjp(adj.cov.as_ref());
                let d_cov_bar = Mat::from_fn(n, n, |i, j| d_cov_bar[(i, j)] + l_bar * vv(i, j));
                let b_bar = Mat::from_fn(n, n, |i, j| b_bar[(i, j)] - l_bar * lambda * vv(i, j));
                let through_trace = if self.trace_positive {
                    self.share / n as f64 * (0..n).map(|i| b_bar[(i, i)]).sum::<f64>()
                } else {
                    0.0
                };
                (
                    &adj.cov + &d_cov_bar,
                    Mat::from_fn(n, n, |i, j| {
                        b_bar[(i, j)] - d_cov_bar[(i, j)] + if i == j { through_trace } else { 0.0 }
                    }),
                )
            }
            None => {
                let through_trace = if self.trace_positive {
                    let norm2: f64 = (0..n).map(|i| self.v[i] * self.v[i]).sum();
                    l_bar * lambda * self.share / n as f64 * norm2
                } else {
                    0.0
                };
                (
                    Mat::from_fn(n, n, |i, j| t * adj.cov[(i, j)] + l_bar * vv(i, j)),
                    Mat::from_fn(n, n, |i, j| {
                        (1.0 - t) * adj.cov[(i, j)]
                            - l_bar * (1.0 + lambda) * vv(i, j)
                            - if i == j { through_trace } else { 0.0 }
                    }),
                )
            }
        };
        let corrected = Adjoint {
            mean: Col::from_fn(n, |i| mean_t * adj.mean[i]),
            cov: cov_c,
        };
        let gauss = Adjoint {
            mean: Col::from_fn(n, |i| mean_g * adj.mean[i]),
            cov: cov_g,
        };
        (corrected, gauss)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A symmetric positive definite C_G and a symmetric ΔC = `scale`·(a fixed indefinite
    /// matrix), as Gaussian and corrected closure outputs.
    fn pair(n: usize, scale: f64) -> (Moments, Moments) {
        let a = Mat::from_fn(n, n, |i, j| ((i * 3 + j * 5) % 7) as f64 * 0.1 - 0.2);
        let mut cg = &a * a.transpose();
        for i in 0..n {
            cg[(i, i)] += 0.3 + 0.1 * i as f64;
        }
        let d = Mat::from_fn(n, n, |i, j| {
            let (p, q) = (i.min(j) as f64, i.max(j) as f64);
            scale * ((p * 1.3 + q * 0.7).sin() - if i == j { 0.4 } else { 0.0 })
        });
        let mean_g = Col::from_fn(n, |i| 0.2 * i as f64 - 0.3);
        let gauss = Moments::gaussian(mean_g.clone(), cg.clone());
        let corrected = Moments::gaussian(
            Col::from_fn(n, |i| mean_g[i] + scale * (0.5 - 0.1 * i as f64)),
            &cg + &d,
        );
        (gauss, corrected)
    }

    /// The least generalized eigenvalue of (A, B) by Cholesky of B.
    pub(in crate::cumtrain) fn least_generalized(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
        let llt = b.llt(Side::Lower).unwrap();
        let mut x = a.clone();
        solve_lower_triangular_in_place(llt.L(), x.as_mut(), Par::Seq);
        let mut m = x.transpose().to_owned();
        solve_lower_triangular_in_place(llt.L(), m.as_mut(), Par::Seq);
        symmetrize(m.as_mut());
        let s = m.self_adjoint_eigenvalues(Side::Lower).unwrap();
        s.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// Shares outside [0, 1) are refused with one sentence that names the range (the message
    /// once carried a run of spaces from a broken line continuation).
    #[test]
    fn shares_outside_the_range_are_refused_in_one_sentence() {
        for text in ["1", "1.5", "-0.1", "NaN", "inf"] {
            let setting: Result<BoundSetting> = text.parse();
            let message = match setting.and_then(|s| s.validate()) {
                Err(e) => e.to_string(),
                Ok(()) => panic!("'{text}' accepted"),
            };
            assert!(message.contains("0 ≤ α < 1"), "'{text}': {message}");
            assert!(!message.contains("  "), "'{text}': {message}");
        }
        for text in ["off", "0", "0.2", "0.999"] {
            let setting: BoundSetting = text.parse().unwrap();
            setting.validate().unwrap();
        }
    }

    /// A small correction is left alone; a large one is shrunk to the bound exactly, with a
    /// ridge share s = 0.05 large enough that ε shows: C(t) − αC_G + (1 − α)εI = (1 − α)B + tΔC
    /// has least generalized eigenvalue 0 relative to B = C_G + εI (to 10⁻¹², rounding of a
    /// 5 × 5 eigenproblem), and the mean moves with the same t. Fails with t = 1/(−λ) (the
    /// share α dropped: least −α) and with the ridge left out of B (least ≈ −(1 − α)ε/var).
    #[test]
    fn shrinks_an_indefinite_correction_to_the_bound() {
        let (alpha, share) = (0.5, 0.05);
        let (g, small) = pair(5, 0.05);
        assert!(CorrectionBound::apply(
            &g,
            &small,
            (alpha, share),
            (BoundMean::Shrink, BoundRule::Scale)
        )
        .unwrap()
        .is_none());
        let (g, big) = pair(5, 3.0);
        let (z, bound) = CorrectionBound::apply(
            &g,
            &big,
            (alpha, share),
            (BoundMean::Shrink, BoundRule::Scale),
        )
        .unwrap()
        .unwrap();
        assert!(bound.t() > 0.0 && bound.t() < 1.0, "t = {}", bound.t());
        let eps = share * (0..5).map(|i| g.cov[(i, i)]).sum::<f64>() / 5.0;
        let ridged = |m: &Mat<f64>, w: f64| {
            Mat::from_fn(5, 5, |i, j| m[(i, j)] + if i == j { w * eps } else { 0.0 })
        };
        let above = Mat::from_fn(5, 5, |i, j| z.cov[(i, j)] - alpha * g.cov[(i, j)]);
        let least = least_generalized(&ridged(&above, 1.0 - alpha), &ridged(&g.cov, 1.0));
        assert!(least.abs() < 1e-12, "least generalized eigenvalue {least}");
        for i in 0..5 {
            let want = g.mean[i] + bound.t() * (big.mean[i] - g.mean[i]);
            assert!((z.mean[i] - want).abs() < 1e-15);
        }
        // Keeping the mean: the corrected closure's mean whole, the covariance and t as shrink's.
        let (kept, kept_bound) = CorrectionBound::apply(
            &g,
            &big,
            (alpha, share),
            (BoundMean::Keep, BoundRule::Scale),
        )
        .unwrap()
        .unwrap();
        assert_eq!(kept_bound.t(), bound.t());
        assert_eq!(kept.cov, z.cov);
        assert_eq!(kept.mean, big.mean);
        // The unbounded correction was below the bound.
        let below = Mat::from_fn(5, 5, |i, j| big.cov[(i, j)] - alpha * g.cov[(i, j)]);
        assert!(least_generalized(&below, &g.cov) < -0.1);
    }

    /// The reverse pass against central differences of L = m̄·μ(t) + ⟨Ḡ, C(t)⟩ in every entry of
    /// μ, μ_G and every tied pair of C and C_G, with the bound active (t < 1) and a ridge share
    /// large enough (0.05) that ε's dependence on tr C_G shows, the mean shrunk and kept. Fails
    /// with the ridge's trace term dropped; with the mean kept, with μ̄ shrunk by t (μ̄ = t m̄) and
    /// with t̄ keeping the mean's term m̄·Δμ.
    #[test]
    fn reverse_pass_matches_central_differences() {
        for mean in [BoundMean::Shrink, BoundMean::Keep] {
            reverse_pass_matches_central_differences_with(mean);
        }
    }

    fn reverse_pass_matches_central_differences_with(mean: BoundMean) {
        let (g, c) = pair(4, 2.0);
        reverse_pass_matches(&g, &c, (0.4, 0.05), (mean, BoundRule::Scale));
    }

    /// The reverse pass against central differences (step 10⁻⁶) at the pair (`g`, `c`) of
    /// Gaussian and corrected closure outputs, where the bound acts (t < 0.9).
    fn reverse_pass_matches(
        g: &Moments,
        c: &Moments,
        (alpha, share): (f64, f64),
        (mean, rule): (BoundMean, BoundRule),
    ) {
        let n = g.dim();
        let m_bar = Col::from_fn(n, |i| 0.7 - 0.3 * i as f64);
        let g_bar = Mat::from_fn(n, n, |i, j| {
            let (a, b) = (i.min(j) as f64, i.max(j) as f64);
            0.4 - 0.1 * a + 0.2 * b - 0.05 * a * b
        });
        let value = |g: &Moments, c: &Moments| {
            let (z, bound) = CorrectionBound::apply(g, c, (alpha, share), (mean, rule))
                .unwrap()
                .unwrap();
            assert!(bound.t() < 0.9);
            (0..n)
                .map(|i| {
                    m_bar[i] * z.mean[i]
                        + (0..n).map(|j| g_bar[(i, j)] * z.cov[(i, j)]).sum::<f64>()
                })
                .sum::<f64>()
        };
        let (_, bound) = CorrectionBound::apply(g, c, (alpha, share), (mean, rule))
            .unwrap()
            .unwrap();
        let (adj_c, adj_g) = bound.vjp(&Adjoint {
            mean: m_bar.clone(),
            cov: g_bar.clone(),
        });
        let h = 1e-6;
        for (which, adj) in [(0, &adj_c), (1, &adj_g)] {
            let moved = |f: &dyn Fn(&mut Moments)| {
                let (mut gg, mut cc) = (g.clone(), c.clone());
                f(if which == 0 { &mut cc } else { &mut gg });
                value(&gg, &cc)
            };
            for i in 0..n {
                let fd = (moved(&|m: &mut Moments| m.mean[i] += h)
                    - moved(&|m: &mut Moments| m.mean[i] -= h))
                    / (2.0 * h);
                assert!(
                    (fd - adj.mean[i]).abs() < 1e-7,
                    "{mean} {rule}: side {which} mean {i}: differences {fd}, reverse pass {}",
                    adj.mean[i]
                );
                for j in 0..=i {
                    let step = |s: f64| {
                        moved(&|m: &mut Moments| {
                            m.cov[(i, j)] += s;
                            if i != j {
                                m.cov[(j, i)] += s;
                            }
                        })
                    };
                    let fd = (step(h) - step(-h)) / (2.0 * h);
                    let want = if i == j {
                        adj.cov[(i, i)]
                    } else {
                        2.0 * adj.cov[(i, j)]
                    };
                    assert!(
                        (fd - want).abs() < 1e-6,
                        "{mean} {rule}: side {which} cov ({i}, {j}): differences {fd}, reverse \
                         pass {want}"
                    );
                }
            }
        }
    }

    /// Gaussian and corrected closure outputs (C_G, C_G + ΔC) on 5 units whose pencil (ΔC, B),
    /// B = C_G + εI with ε = s·tr C_G/5, has the generalized eigenvalues `lambda`:
    /// ΔC = L Q diag(λ) Qᵀ Lᵀ, B = LLᵀ, Q orthogonal from the QR factor of a fixed matrix; the
    /// means as [`pair`]'s.
    fn pencil(lambda: [f64; 5], share: f64) -> (Moments, Moments) {
        let n = 5;
        let (g, _) = pair(n, 1.0);
        let eps = share * (0..n).map(|i| g.cov[(i, i)]).sum::<f64>() / n as f64;
        let b = Mat::from_fn(n, n, |i, j| g.cov[(i, j)] + if i == j { eps } else { 0.0 });
        let l = b.llt(Side::Lower).unwrap().L().to_owned();
        let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 13) as f64 * 0.37).sin() + 0.1);
        let lq = &l * a.qr().compute_Q();
        let d = Mat::from_fn(n, n, |i, j| if i == j { lambda[i] } else { 0.0 });
        let d_cov = &lq * &d * lq.transpose();
        let cov = Mat::from_fn(n, n, |i, j| {
            g.cov[(i, j)] + 0.5 * (d_cov[(i, j)] + d_cov[(j, i)])
        });
        let mean = Col::from_fn(n, |i| g.mean[i] + 0.5 - 0.1 * i as f64);
        (g.clone(), Moments::gaussian(mean, cov))
    }

    /// The pencils of the clip tests at α = 0.4 (the kink at −0.6): one, two and three
    /// eigenvalues clipped (two of them equal), the least always simple (t differentiable), the
    /// others clear of the kink by at least 0.1.
    const CLIPPED: [[f64; 5]; 3] = [
        [-1.5, -0.3, 0.1, 0.5, 1.0],
        [-1.5, -0.9, -0.2, 0.3, 0.8],
        [-1.5, -0.9, -0.9, 0.2, 0.6],
    ];

    /// The clip rule's reverse pass against central differences in every entry of μ, μ_G and
    /// every tied pair of C and C_G, on pencils with 1, 2 and 3 clipped eigenvalues (two of them
    /// equal), the mean shrunk and kept, with a ridge share (0.05) large enough that ε's
    /// dependence on tr C_G shows. Fails with Γ's diagonal set to 0, with the Cholesky factor's
    /// reverse pass dropped (B̄ = 0) and with the mean's term λ̄vvᵀ left out of ΔC̄.
    #[test]
    fn clip_reverse_pass_matches_central_differences() {
        let (alpha, share) = (0.4, 0.05);
        for (k, lambda) in CLIPPED.iter().enumerate() {
            let (g, c) = pencil(*lambda, share);
            let (_, bound) = CorrectionBound::apply(
                &g,
                &c,
                (alpha, share),
                (BoundMean::Shrink, BoundRule::Clip),
            )
            .unwrap()
            .unwrap();
            assert_eq!(bound.clipped(), Some(k + 1));
            for mean in [BoundMean::Shrink, BoundMean::Keep] {
                reverse_pass_matches(&g, &c, (alpha, share), (mean, BoundRule::Clip));
            }
        }
    }

    /// The clip keeps the bound and only the bound: on the pencils of [`CLIPPED`] the least
    /// generalized eigenvalue of (C − C_G, B) is −(1 − α) (to 10⁻¹²: C ⪰ αC_G − (1 − α)εI,
    /// reached), and every generalized eigenvector w of (ΔC, B) with λ > −(1 − α) keeps its
    /// correction, wᵀCw = wᵀC_cw (to 10⁻¹² relative), while a clipped one's variance rises to
    /// wᵀC_Gw − (1 − α)wᵀBw. The mean as scale's (shrunk with the same t, or kept), and where no
    /// eigenvalue is below −(1 − α) nothing is done. Fails with f(λ) = max(λ, −1) (α dropped:
    /// least −1) and with every eigenvalue moved to the kink (h(λ) = −(1 − α) − λ unclipped).
    #[test]
    fn clip_raises_only_the_emptied_directions() {
        let (alpha, share) = (0.4, 0.05);
        let rules = |mean| (mean, BoundRule::Clip);
        for lambda in CLIPPED {
            let (g, c) = pencil(lambda, share);
            let n = g.dim();
            let (z, bound) =
                CorrectionBound::apply(&g, &c, (alpha, share), rules(BoundMean::Shrink))
                    .unwrap()
                    .unwrap();
            let eps = share * (0..n).map(|i| g.cov[(i, i)]).sum::<f64>() / n as f64;
            let b = Mat::from_fn(n, n, |i, j| g.cov[(i, j)] + if i == j { eps } else { 0.0 });
            let above = Mat::from_fn(n, n, |i, j| z.cov[(i, j)] - g.cov[(i, j)]);
            let least = least_generalized(&above, &b);
            assert!(
                (least + (1.0 - alpha)).abs() < 1e-12,
                "{lambda:?}: least generalized eigenvalue {least}"
            );
            // The generalized eigenvectors w = L⁻ᵀQe_a of the pencil's construction.
            let l = b.llt(Side::Lower).unwrap().L().to_owned();
            let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 13) as f64 * 0.37).sin() + 0.1);
            let mut w = a.qr().compute_Q();
            solve_upper_triangular_in_place(l.transpose(), w.as_mut(), Par::Seq);
            let quad = |m: &Mat<f64>, a: usize| -> f64 {
                (0..n)
                    .map(|i| {
                        (0..n)
                            .map(|j| w[(i, a)] * m[(i, j)] * w[(j, a)])
                            .sum::<f64>()
                    })
                    .sum()
            };
            for (a, &l_a) in lambda.iter().enumerate() {
                let (got, corrected) = (quad(&z.cov, a), quad(&c.cov, a));
                let want = if l_a < -(1.0 - alpha) {
                    quad(&g.cov, a) - (1.0 - alpha) * quad(&b, a)
                } else {
                    corrected
                };
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{lambda:?} direction {a}: wᵀCw {got}, expected {want} (corrected {corrected})"
                );
            }
            for i in 0..n {
                let shrunk = g.mean[i] + bound.t() * (c.mean[i] - g.mean[i]);
                assert!((z.mean[i] - shrunk).abs() < 1e-15);
            }
            let (kept, _) = CorrectionBound::apply(&g, &c, (alpha, share), rules(BoundMean::Keep))
                .unwrap()
                .unwrap();
            assert_eq!((&kept.cov, &kept.mean), (&z.cov, &c.mean));
        }
        let (g, c) = pencil([-0.5, -0.3, 0.1, 0.5, 1.0], share);
        assert!(
            CorrectionBound::apply(&g, &c, (alpha, share), rules(BoundMean::Shrink))
                .unwrap()
                .is_none()
        );
    }
}
