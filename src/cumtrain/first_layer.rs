//! The κ₃/κ₄ corrections of the cumulant objective at the first layer (`train --objective
//! cumulants --order 3|4`, issue #16 item 6).
//!
//! The first closure gets the κ slices of its pre-activation h¹ = W¹x + b¹ that the forward
//! `--carry first` path uses for the quadratic closure, measured **per step** from each class's
//! training samples: with X̃_c the class's centred samples (d × n_c, fixed), D = W¹X̃_c
//! (N × n_c; b¹ drops out of centred cumulants) and E = D∘D,
//!
//! ```text
//! S = D Dᵀ / n_c                                  (= W¹Σ_c W¹ᵀ; order 4 only, where K reads it)
//! T = E Dᵀ / n_c,      Tᵢⱼ = κ₃[i,i,j] = E[δᵢ²δⱼ]                      (order 3 and 4)
//! K = E Eᵀ / n_c − diag(S) diag(S)ᵀ − 2 S∘S,  Kᵢⱼ = κ₄[i,i,j,j]          (order 4)
//! U = F Dᵀ / n_c − 3 diag(S) S,  F = D∘D∘D,  Uᵢⱼ = κ₄[i,i,i,j]             (order 4)
//! ```
//!
//! (population normalisation, as [`super::ClassStatistics`]). For φ(h) = h + αh² the closure
//! ([`crate::propagate::closures::QuadraticClosure`]) needs exactly μ, Σ, κ₃\[i,i,j\],
//! κ₃\[i,j,j\] = Tⱼᵢ and κ₄\[i,i,j,j\], so at order 4 the first layer's z¹ mean and covariance
//! are the sample mean and covariance of φ(h¹) over the class's samples, exactly (order 3 puts
//! the Gaussian 2Σᵢⱼ² in place of κ₄\[i,i,j,j\] + 2Σᵢⱼ²). At a deeper corrected layer
//! (`--corrected-layers all`) the same slices are measured with W^l for W¹ and the layer's
//! centred input samples Ã^{l−1} (the class's samples forwarded through the network) for X̃_c
//! ([`super::objective`]).
//!
//! The relu's corrected closure also reads U (the quadratic's does not).
//!
//! **Unit.** The slices are formed of D/ℓ and hold T/ℓ³, K/ℓ⁴, U/ℓ⁴ (S/ℓ²), with ℓ the length
//! `stats::moments` chooses for a class's higher sums from its deviations, here D's: 1 where
//! max|D| ≥ 2⁻⁶⁴ (every network on data of ordinary scale: the slices keep their bits), else
//! max|D| rounded down to a power of two, so that dividing by it is exact. On data ×10⁻¹⁵⁰ the
//! natural κ₄ ~ 10⁻⁶⁰⁰ underflows (order 4 trained as order 3, order 3 below ~10⁻¹⁰³ as order
//! 2, silently); in units of ℓ the slices are O(1) and [`Slices::attach`] passes ℓ on as the
//! moments' slice unit, which the corrected closures and their reverse pass read
//! ([`super::first_closure::FirstClosure::forward`] and `backward`, as
//! `Closure::apply_counted_in_slice_units` in `propagate`). The
//! reverse pass here returns D's adjoint in natural units: D̄ = D̄_ℓ/ℓ, S̄ = S̄_ℓ/ℓ².
//!
//! The reverse pass ([`Slices::backward`]) takes ∂L/∂T, ∂L/∂K and ∂L/∂U (from
//! [`crate::propagate::backward::QuadraticVjp::kappa_terms`] or the generic corrected VJP,
//! [`super::first_closure`]) back to W¹ through the GEMMs: Ē = T̄D/n + (K̄ + K̄ᵀ)E/n,
//! F̄ = ŪD/n, D̄ = T̄ᵀE/n + ŪᵀF/n + 2D∘Ē + 3D∘D∘F̄, ∂L/∂W¹ += D̄X̃ᵀ; K's and U's dependence on
//! S goes into Σ's adjoint (Σ̄ᵢⱼ −= 4KᵢⱼSᵢⱼ… see the method), which the affine map's VJP takes
//! to W¹ as it does for the Gaussian part.

use faer::{Mat, MatRef};

use super::skew_cap::SkewCap;
use crate::data::Dataset;
use crate::linalg::gemm;
use crate::propagate::backward::SliceAdjoint;
use crate::stats::moments::slice_unit;
use crate::stats::Moments;

/// Each class's training samples, centred on the class mean: X̃_c (d × n_c).
#[derive(Clone, Debug)]
pub struct ClassSamples {
    pub centred: Vec<Mat<f64>>,
}

impl ClassSamples {
    /// The columns of `data` of each class c, minus `means[c]` (d each). Classes without a
    /// sample get a d × 0 matrix ([`super::ClassStatistics::measure`] refuses those first).
    pub fn gather(data: &Dataset, means: &[&[f64]]) -> Self {
        let d = data.dim();
        let mut centred: Vec<Mat<f64>> = (0..data.n_classes)
            .map(|c| {
                let n_c = data.labels.iter().filter(|&&l| l as usize == c).count();
                Mat::zeros(d, n_c)
            })
            .collect();
        let mut next = vec![0usize; data.n_classes];
        for (k, &label) in data.labels.iter().enumerate() {
            let c = label as usize;
            let col = next[c];
            next[c] += 1;
            for i in 0..d {
                centred[c][(i, col)] = data.x[(i, k)] - means[c][i];
            }
        }
        ClassSamples { centred }
    }
}

/// Where [`Slices::backward`] sends S's adjoint (K and U read S = DDᵀ/n, at order 4).
pub enum SRoute<'a> {
    /// Into the adjoint of the pre-activation's propagated covariance Σ (N × N), which the
    /// affine map's VJP carries to W: right at the first layer, where S = W¹Σ_cW¹ᵀ exactly.
    Covariance(&'a mut Mat<f64>),
    /// Through D: D̄ += (S̄ + S̄ᵀ)D/n. Right at every layer; at a deeper layer the only one, as
    /// there the propagated Σ is the closures' and not the samples' covariance S.
    Samples,
}

/// The κ slices of h¹ of one class in their unit ℓ (module docs), with D, D/ℓ and E kept for
/// the reverse pass.
pub struct Slices {
    /// D in natural units (the layer's centred pre-activations, which the samples' forward
    /// pass reads).
    d: Mat<f64>,
    /// D/ℓ where ℓ ≠ 1; None at ℓ = 1 (every network on data of ordinary scale).
    d_unit: Option<Mat<f64>>,
    /// ℓ: the slices below hold κ₃/ℓ³ and κ₄/ℓ⁴.
    unit: f64,
    /// E = (D/ℓ)∘(D/ℓ).
    e: Mat<f64>,
    /// S/ℓ² at order 4 (K and its adjoint read it); None at order 3, where nothing does.
    s: Option<Mat<f64>>,
    /// T\[(i, j)\] = κ₃\[i,i,j\] (/ℓ³).
    pub k3_iij: Mat<f64>,
    /// K\[(i, j)\] = κ₄\[i,i,j,j\] (/ℓ⁴) at order 4; zeros at order 3 (the closure does not read
    /// it).
    pub k4_iijj: Mat<f64>,
    /// U\[(i, j)\] = κ₄\[i,i,i,j\] (/ℓ⁴) at order 4; None at order 3.
    pub k4_iiij: Option<Mat<f64>>,
    /// The skewness cap applied to T ([`Slices::cap_skewness`]); None where none was asked.
    cap: Option<SkewCap>,
}

impl Slices {
    /// The slices of h¹ = W¹x + b¹ for first-layer weights `w` (N × d) and a class's centred
    /// samples `centred` (d × n, n ≥ 1): T always, K and U at order 4 (`order4`), in the unit ℓ
    /// that D's largest |entry| gives (module docs).
    pub fn measure(w: MatRef<'_, f64>, centred: MatRef<'_, f64>, order4: bool) -> Self {
        let (big_n, n) = (w.nrows(), centred.ncols());
        let inv_n = 1.0 / n as f64;
        let mut d_natural = Mat::zeros(big_n, n);
        gemm(d_natural.as_mut(), false, w, centred, 1.0);
        let unit = slice_unit(d_natural.as_ref());
        // D/ℓ: exact, ℓ being a power of two.
        let d_unit = (unit != 1.0).then(|| &d_natural * faer::Scale(1.0 / unit));
        let d = d_unit.as_ref().unwrap_or(&d_natural);
        let e = Mat::from_fn(big_n, n, |i, k| d[(i, k)] * d[(i, k)]);
        let mut k3_iij = Mat::zeros(big_n, big_n);
        gemm(k3_iij.as_mut(), false, e.as_ref(), d.transpose(), inv_n);
        let mut k4_iijj = Mat::zeros(big_n, big_n);
        let s = order4.then(|| {
            let mut s = Mat::zeros(big_n, big_n);
            gemm(s.as_mut(), false, d.as_ref(), d.transpose(), inv_n);
            s
        });
        let mut k4_iiij = None;
        if let Some(s) = &s {
            gemm(k4_iijj.as_mut(), false, e.as_ref(), e.transpose(), inv_n);
            let f = Mat::from_fn(big_n, n, |i, k| e[(i, k)] * d[(i, k)]);
            let mut u = Mat::zeros(big_n, big_n);
            gemm(u.as_mut(), false, f.as_ref(), d.transpose(), inv_n);
            for j in 0..big_n {
                for i in 0..big_n {
                    k4_iijj[(i, j)] -= s[(i, i)] * s[(j, j)] + 2.0 * s[(i, j)] * s[(i, j)];
                    u[(i, j)] -= 3.0 * s[(i, i)] * s[(i, j)];
                }
            }
            k4_iiij = Some(u);
        }
        Slices {
            d: d_natural,
            d_unit,
            unit,
            e,
            s,
            k3_iij,
            k4_iijj,
            k4_iiij,
            cap: None,
        }
    }

    /// D = WX̃ (N × n): the layer's pre-activations over the class's samples, centred (natural
    /// units).
    pub fn centred(&self) -> MatRef<'_, f64> {
        self.d.as_ref()
    }

    /// The length ℓ the slices are stored in (module docs): 1 unless max|D| < 2⁻⁶⁴.
    pub fn unit(&self) -> f64 {
        self.unit
    }

    /// D/ℓ, what the slices are formed of.
    fn d_in_unit(&self) -> &Mat<f64> {
        self.d_unit.as_ref().unwrap_or(&self.d)
    }

    /// Caps each unit's standardised skewness at [`super::skew_cap::SKEW_CAP`] by scaling its
    /// row of T ([`super::skew_cap`]; for the Gram–Charlier corrected closures, whose expansion
    /// has no density beyond it), and returns how many units it scaled.
    pub fn cap_skewness(&mut self) -> usize {
        let cap = SkewCap::apply(&mut self.k3_iij, &self.e);
        let count = cap.count();
        self.cap = Some(cap);
        count
    }

    /// Sets the κ fields of `h` (h¹'s propagated moments) to these slices, and its slice unit
    /// to theirs, ℓ: what the corrected first closure and its reverse pass read.
    pub fn attach(&self, h: &mut Moments) {
        h.set_slices(
            (
                Some(self.k3_iij.clone()),
                Some(self.k4_iijj.clone()),
                self.k4_iiij.clone(),
            ),
            self.unit,
        );
    }

    /// The slices as the κ fields of a [`Moments`] (mean and covariance zero: the engine reads
    /// only the κ fields of the measured first pre-activation it is given, `attach_kappa`).
    pub fn moments(&self) -> Moments {
        let n = self.k3_iij.nrows();
        let mut m = Moments::gaussian(faer::Col::zeros(n), Mat::zeros(n, n));
        self.attach(&mut m);
        m
    }

    /// Adds what the slices' adjoint `adj` contributes to ∂L/∂W (`w_grad`, N × d) and, with
    /// [`SRoute::Covariance`], to Σ's adjoint (N × N), for the class whose centred samples (or
    /// centred inputs of the layer) `centred` these slices were measured from, and returns D̄
    /// (N × n; ∂L/∂W += D̄X̃ᵀ is what was added), which a deeper layer's caller takes on to the
    /// layers below through X̃ = its centred input samples. K = Q − diag(S)diag(S)ᵀ − 2S∘S moves with Sᵢⱼ by −4SᵢⱼK̄ᵢⱼ and
    /// with Sᵢᵢ by −Σⱼ(K̄ᵢⱼ + K̄ⱼᵢ)Sⱼⱼ; U = FDᵀ/n − 3diag(S)S with Sᵢⱼ by −3SᵢᵢŪᵢⱼ and with
    /// Sᵢᵢ by −3ΣⱼŪᵢⱼSᵢⱼ (symmetrised, S being symmetric): those go into Σ's adjoint, whose Σ = S
    /// is the affine map's (its VJP carries them to W¹); with [`SRoute::Samples`] they go
    /// through D instead (the same gradient at the first layer, to rounding). `adj` is that of
    /// the slices as stored (in ℓ); what is added and returned is in natural units: the
    /// formulas above give the adjoints of D/ℓ and S/ℓ², which are ℓ and ℓ² times D̄ and S̄.
    pub fn backward(
        &self,
        centred: MatRef<'_, f64>,
        adj: &SliceAdjoint,
        mut route: SRoute<'_>,
        w_grad: faer::MatMut<'_, f64>,
    ) -> Mat<f64> {
        let (big_n, n) = (self.d.nrows(), self.d.ncols());
        let inv_n = 1.0 / n as f64;
        let d = self.d_in_unit();
        // S̄ = S̄_ℓ/ℓ² (exact; two scalings, so that 0 stays 0 where 1/ℓ² would overflow).
        let inv_l = 1.0 / self.unit;
        // S̄ (each entry of S = DDᵀ/n an independent argument) where it goes through D.
        let mut s_samples = match route {
            SRoute::Covariance(_) => None,
            SRoute::Samples => self.s.as_ref().map(|_| Mat::<f64>::zeros(big_n, big_n)),
        };
        let mut add_s = |i: usize, j: usize, v: f64| match (&mut route, &mut s_samples) {
            (SRoute::Covariance(cov), _) => cov[(i, j)] += v * inv_l * inv_l,
            (SRoute::Samples, Some(sb)) => sb[(i, j)] += v,
            (SRoute::Samples, None) => {}
        };
        // Through the skewness cap, where one was applied: T̄ of the measured T, and v̄.
        let capped = self.cap.as_ref().map(|cap| {
            let mut t_bar = adj.k3_iij.clone();
            let v_bar = cap.backward(&self.k3_iij, &mut t_bar);
            (t_bar, v_bar)
        });
        let t_bar = capped.as_ref().map_or(&adj.k3_iij, |(t, _)| t);
        let mut e_bar = Mat::zeros(big_n, n);
        gemm(e_bar.as_mut(), false, t_bar.as_ref(), d.as_ref(), inv_n);
        if let Some((_, v_bar)) = &capped {
            for k in 0..n {
                for (i, vb) in v_bar.iter().enumerate() {
                    e_bar[(i, k)] += vb * inv_n;
                }
            }
        }
        let mut d_bar = Mat::zeros(big_n, n);
        gemm(
            d_bar.as_mut(),
            false,
            t_bar.transpose(),
            self.e.as_ref(),
            inv_n,
        );
        // K̄ exists at order 4 only, where S was measured.
        if let (Some(k_bar), Some(s)) = (&adj.k4_iijj, &self.s) {
            let sym = Mat::from_fn(big_n, big_n, |i, j| k_bar[(i, j)] + k_bar[(j, i)]);
            gemm(e_bar.as_mut(), true, sym.as_ref(), self.e.as_ref(), inv_n);
            for j in 0..big_n {
                for i in 0..big_n {
                    add_s(i, j, -(4.0 * s[(i, j)] * k_bar[(i, j)]));
                }
            }
            for i in 0..big_n {
                let diag: f64 = (0..big_n).map(|j| sym[(i, j)] * s[(j, j)]).sum();
                add_s(i, i, -diag);
            }
        }
        // Ū exists at order 4 only, where S was measured.
        let mut f_bar = None;
        if let (Some(u_bar), Some(s)) = (&adj.k4_iiij, &self.s) {
            let mut fb = Mat::zeros(big_n, n);
            gemm(fb.as_mut(), false, u_bar.as_ref(), d.as_ref(), inv_n);
            let f = Mat::from_fn(big_n, n, |i, k| self.e[(i, k)] * d[(i, k)]);
            gemm(d_bar.as_mut(), true, u_bar.transpose(), f.as_ref(), inv_n);
            let mut s_bar = Mat::from_fn(big_n, big_n, |i, j| -3.0 * s[(i, i)] * u_bar[(i, j)]);
            for i in 0..big_n {
                s_bar[(i, i)] -= 3.0 * (0..big_n).map(|j| u_bar[(i, j)] * s[(i, j)]).sum::<f64>();
            }
            for j in 0..big_n {
                for i in 0..big_n {
                    add_s(i, j, 0.5 * (s_bar[(i, j)] + s_bar[(j, i)]));
                }
            }
            f_bar = Some(fb);
        }
        for k in 0..n {
            for i in 0..big_n {
                let mut g = 2.0 * d[(i, k)] * e_bar[(i, k)];
                if let Some(fb) = &f_bar {
                    g += 3.0 * self.e[(i, k)] * fb[(i, k)];
                }
                d_bar[(i, k)] += g;
            }
        }
        if let Some(sb) = &s_samples {
            // S = DDᵀ/n: D̄ += (S̄ + S̄ᵀ)D/n.
            let sym = Mat::from_fn(big_n, big_n, |i, j| sb[(i, j)] + sb[(j, i)]);
            gemm(d_bar.as_mut(), true, sym.as_ref(), d.as_ref(), inv_n);
        }
        if self.unit != 1.0 {
            // D̄ = D̄_ℓ/ℓ (exact).
            d_bar = &d_bar * faer::Scale(1.0 / self.unit);
        }
        gemm(w_grad, true, d_bar.as_ref(), centred.transpose(), 1.0);
        d_bar
    }
}
