//! The wide-layer approximation of the carried cumulants (issue #16 item 2): κ₃/κ₄ of each
//! post-activation z^l restricted to a leading subset S_l of r units, every other entry set
//! to 0, and everything else of the full carry ([`super::carry`]) kept.
//!
//! **Representation.** The tensors of a pre-activation h^l are held factored,
//! κ_h = core ×₁ F ×₂ F ×₃ F (×₄ F), F = W^l\[:, S_{l−1}\] (N × r) and core = κ_z^{l−1}\[S_{l−1}\]
//! (r³, r⁴): the exact affine map of the restricted tensor, never materialised at width N.
//! At the first pre-activation h^{l+1} after the start layer the tensors come from the samples
//! (the N×N slices of every unit, and the full tensors of the r kept units: both exact).
//!
//! **What the closure reads.** Δm and ΔC of z (every unit and pair) need only entries of κ_h
//! with at most two distinct indices: κ₃\[a,a,b\] = Σ F_ai F_aj F_bk core\[ijk\], i.e.
//! (K C₃) Fᵀ with K the N × r² rows F_a ⊗ F_a and C₃ the r² × r unfolding of the core
//! (N r³ + N² r flops); κ₄\[a,a,b,b\] = K C₄ Kᵀ and κ₄\[a,a,a,b\] = ((K C₄) ⊙ K)·Fᵀ-type
//! contractions (N r⁴ + N² r² flops). Each pair's increment is the chaos rule
//! ([`super::closure::ChaosRule`]) on a two-unit input holding those entries, which is exactly
//! what the rule reads for that pair from the full tensors.
//!
//! **The subset.** At the next affine map W (hidden or read-out) the r units of z^l with the
//! largest σ(z_a)·‖W\[:, a\]‖ (the scale of their contribution to the next pre-activation)
//! are kept; the rule on those r units gives κ_z\[S\] exactly as the full rule would (its
//! entries among S read only h's entries among S). Work per layer and class: the rule on
//! r³/6 (r⁴/24) entries instead of N³/6 (N⁴/24), N²/2 two-unit increments, and memory N²
//! plus r⁴ instead of N⁴. With r = N the result is the full carry's, to rounding
//! (test `subset_with_every_unit_is_the_full_carry`); the error against the full tensors as
//! a function of r is in EXPERIMENTS.md ("Orders 3/4 through depth from the CLI").
//!
//! **Breakdown.** As the full carry's ([`super::carry`] module docs), with no Gram–Charlier
//! region by default ([`SubsetCarry::with_breakdown`]): where a unit's variance increment
//! exceeds [`MAX_VARIANCE_INCREMENT`] times its Gaussian variance (the series diverging) the
//! carry stops at that layer, every class Gaussian from there on (from
//! [`SubsetCarry::with_rules_from`]'s layer on). Unlike the full carry it does not resume
//! at a later layer and has no beyond-the-power-counting rule; the held-out pilot
//! (`measure::carried`) checks what it reports.
//!
//! Why units and not an eigen-subspace of Σ: the chaos rule is per unit (φ acts on each
//! coordinate), so on a unit subset it stays exact on every kept entry, while a rotated
//! subspace would need the rule's diagrams as factored tensor contractions.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

use super::affine::{affine_tensor, TensorAffineWorkspace};
use super::carry::{
    guard_units, outside_region, variance_increment, Fallback, GaussianUnits, Tensors,
    MAX_VARIANCE_INCREMENT,
};
use super::chaos::UnitChaos;
use super::chaos_range::layer_units;
use super::closure::{standardised_diagonal, ChaosRule, Input};
use super::hook::CarryHook;
use super::paired::Kappa4;
use super::sampled::measure_tensors;
use super::tensor::SymTensor;
use crate::error::{Error, Result};
use crate::linalg::columns;
use crate::net::{Activation, Layer, Mlp};
use crate::stats::Moments;
use crate::timing::Timings;

/// The N × N slices of a pre-activation's κ tensors that the two-unit increments read:
/// κ₃\[a,a,b\], κ₄\[a,a,b,b\], κ₄\[a,a,a,b\] (κ₄ slices zero at order 3).
#[derive(Clone, Debug)]
pub struct Slices {
    pub k3_iij: Mat<f64>,
    pub k4_iijj: Mat<f64>,
    pub k4_iiij: Mat<f64>,
}

/// How a pre-activation's κ tensors are known.
#[derive(Clone, Debug)]
enum PreTensors {
    /// Measured at the first pre-activation: the slices of every unit and the samples
    /// (N × n, one class) for the full tensors of the kept units.
    Measured { slices: Slices, samples: Mat<f64> },
    /// core ×F on every index (module docs).
    Factored { factor: Mat<f64>, core: Tensors },
}

/// h^l of one class, kept between [`CarryHook::leave`] and the next map, where the subset
/// is chosen and the rule evaluated on it.
#[derive(Clone, Debug)]
struct Pending {
    cov: Mat<f64>,
    units: Vec<UnitChaos>,
    tensors: PreTensors,
    /// Corrected standard deviations of z^l's units.
    z_sd: Vec<f64>,
}

/// κ₃/κ₄ carried on a leading subset of r units per layer (module docs).
#[derive(Clone, Debug)]
pub struct SubsetCarry {
    rule: &'static ChaosRule,
    rank: usize,
    /// Per class: the current pre-activation's tensors (before `leave`) …
    pre: Vec<Option<PreTensors>>,
    /// … its slices (set by `enter`) …
    slices: Vec<Option<Slices>>,
    /// … or, after `leave`, the post-activation's pending state.
    pending: Vec<Option<Pending>>,
    ws: TensorAffineWorkspace,
    fallback: Option<Fallback>,
    /// The first hidden layer not carried ([`CarryHook::set_cut`]).
    cut: Option<Fallback>,
    /// Breakdown limits on h's standardised skewness and |excess kurtosis|.
    limits: (f64, f64),
    /// The first hidden layer at which the breakdown limits may stop the carry
    /// ([`SubsetCarry::with_rules_from`]).
    rules_from: usize,
    gaussian_units: Vec<GaussianUnits>,
}

impl SubsetCarry {
    /// A carry of `order` (3 or 4) keeping `rank` units per layer, from the first
    /// pre-activation h^{from+1} measured per class: its slices (every unit) and its samples
    /// (N × n_c) for the kept units' full tensors.
    pub fn from_first_pre(
        order: usize,
        rank: usize,
        first_pre: Vec<(Slices, Mat<f64>)>,
    ) -> Result<Self> {
        if !(order == 3 || order == 4) {
            return Err(Error::Unsupported(format!(
                "carried cumulants need --order 3 or 4, got {order}"
            )));
        }
        if rank == 0 {
            return Err(Error::Unsupported(
                "the κ subset needs at least 1 unit (--kappa-units)".into(),
            ));
        }
        let pre = first_pre
            .into_iter()
            .map(|(slices, samples)| Some(PreTensors::Measured { slices, samples }))
            .collect::<Vec<_>>();
        Ok(SubsetCarry {
            rule: ChaosRule::shared(order),
            rank,
            pending: vec![None; pre.len()],
            slices: vec![None; pre.len()],
            pre,
            ws: TensorAffineWorkspace::default(),
            fallback: None,
            cut: None,
            limits: (f64::INFINITY, f64::INFINITY),
            rules_from: 0,
            gaussian_units: Vec::new(),
        })
    }

    /// Sets the breakdown limits on a pre-activation unit's standardised skewness and |excess
    /// kurtosis| (default none, as [`super::carry::Carry::with_breakdown`]'s since the fourth
    /// session; [`super::carry::MAX_SKEW`], [`super::carry::MAX_KURTOSIS`] are the
    /// Gram–Charlier region's edges), but the subset carry still stops at the first breakdown.
    /// Until the twenty-ninth session the subset carry kept the region as its default: on the
    /// 784-1000-1000-10 relu MNIST network 7 of 10 classes then fell back at h¹ (one unit of
    /// 1000 with |skewness| 1.08–1.93) and order 3's output covariance error from x was 0.850
    /// against the Gaussian's 0.953; without it, and with the divergence rule (module docs),
    /// 6 classes are carried to y and 4 up to z¹, the held-out pilot keeps each (its carried
    /// output significantly closer than the Gaussian closure's) and the error is 0.415
    /// (EXPERIMENTS.md, "The subset carry without the Gram–Charlier region").
    pub fn with_breakdown(mut self, max_skew: f64, max_kurtosis: f64) -> Self {
        self.limits = (max_skew, max_kurtosis);
        self
    }

    /// Lets the breakdown limits stop the carry only from hidden layer `layer` on (as
    /// [`super::carry::Carry::with_rules_from`]: the pilot's check follows the reported run's
    /// path).
    pub fn with_rules_from(mut self, layer: usize) -> Self {
        self.rules_from = layer;
        self
    }

    /// Units kept per layer.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Where the expansion broke down and the Gaussian closure took over, if it did (the cut,
    /// once reached, where nothing broke down before it).
    pub fn fallback(&self) -> Option<&Fallback> {
        self.fallback.as_ref()
    }

    /// The first hidden layer not carried ([`CarryHook::set_cut`]).
    pub fn cut_at(&self) -> Option<&Fallback> {
        self.cut.as_ref()
    }

    /// Records the cut as the fallback once the carry has reached it (layer `l` is the next
    /// hidden layer the engine runs), unless the carry stopped before.
    fn reach_cut(&mut self, l: usize) {
        if self.fallback.is_none() {
            self.fallback = self.cut.clone().filter(|f| f.layer == l);
        }
    }

    /// Per layer and class, the units whose corrected variance broke down.
    pub fn gaussian_units(&self) -> &[GaussianUnits] {
        &self.gaussian_units
    }

    fn order(&self) -> usize {
        self.rule.order()
    }

    /// Chooses the kept units of each class's pending z by `layer`'s weights, evaluates the
    /// rule on them and maps the restricted tensors into the next pre-activation (factored).
    fn advance(&mut self, layer: &Layer, timings: &Timings) -> Result<()> {
        let order = self.order();
        for (pre, pending) in self.pre.iter_mut().zip(&mut self.pending) {
            let p = pending.take().ok_or_else(|| {
                Error::Shape("the κ subset carry was advanced twice without a closure".into())
            })?;
            let n = p.units.len();
            let norms: Vec<f64> = (0..n).map(|a| layer.w.col(a).norm_l2()).collect();
            let mut keep: Vec<usize> = (0..n).collect();
            keep.sort_by(|&a, &b| {
                (p.z_sd[b] * norms[b])
                    .total_cmp(&(p.z_sd[a] * norms[a]))
                    .then(a.cmp(&b))
            });
            keep.truncate(self.rank.min(n));
            keep.sort_unstable();
            let h_sub = timings.time("kappa affine", 0.0, || {
                restricted(&p.tensors, &keep, order, &mut self.ws)
            })?;
            let cov = Mat::from_fn(keep.len(), keep.len(), |i, j| p.cov[(keep[i], keep[j])]);
            let units: Vec<UnitChaos> = keep.iter().map(|&a| p.units[a]).collect();
            let input = Input {
                cov: &cov,
                k3: &h_sub.k3,
                k4: h_sub.k4.as_ref().map(|t| t as &dyn Kappa4),
                units: &units,
            };
            let mut core = Tensors::gaussian(0, order);
            timings.time("kappa closure", 0.0, || {
                self.rule.tensors(&input, &mut core.k3, core.k4.as_mut())
            });
            let factor = columns(layer.w.as_ref(), &keep);
            *pre = Some(PreTensors::Factored { factor, core });
        }
        Ok(())
    }

    /// Records the breakdown and removes the slices already attached to `pre`.
    fn stop(&mut self, layer: usize, reason: String, pre: &mut [Moments]) {
        for m in pre {
            m.clear_slices();
        }
        self.fallback = Some(Fallback { layer, reason });
    }
}

/// The full tensors of the units `keep` of a pre-activation (exact for its representation).
fn restricted(
    t: &PreTensors,
    keep: &[usize],
    order: usize,
    ws: &mut TensorAffineWorkspace,
) -> Result<Tensors> {
    match t {
        PreTensors::Measured { samples, .. } => {
            let rows = Mat::from_fn(keep.len(), samples.ncols(), |i, s| samples[(keep[i], s)]);
            measure_tensors(rows.as_ref(), order)
        }
        PreTensors::Factored { factor, core } => {
            let f = Mat::from_fn(keep.len(), factor.ncols(), |i, k| factor[(keep[i], k)]);
            let mut k3 = SymTensor::zeros(0, 3);
            affine_tensor(f.as_ref(), &core.k3, &mut k3, ws)?;
            let k4 = match &core.k4 {
                Some(c4) => {
                    let mut k4 = SymTensor::zeros(0, 4);
                    affine_tensor(f.as_ref(), c4, &mut k4, ws)?;
                    Some(k4)
                }
                None => None,
            };
            Ok(Tensors { k3, k4 })
        }
    }
}

/// The slices of a factored pre-activation (module docs): K = rows F_a ⊗ F_a (N × r²),
/// κ₃\[a,a,b\] = (K C₃)Fᵀ, κ₄\[a,a,b,b\] = (K C₄)Kᵀ, κ₄\[a,a,a,b\] = Σ_l (Σ_k (K C₄)\[a,(k,l)\] F_ak) F_bl.
fn factored_slices(factor: MatRef<'_, f64>, core: &Tensors) -> Slices {
    let (n, r) = (factor.nrows(), factor.ncols());
    let k = Mat::from_fn(n, r * r, |a, ij| factor[(a, ij % r)] * factor[(a, ij / r)]);
    let c3 = MatRef::from_column_major_slice(core.k3.data(), r * r, r);
    let mut kc3 = Mat::<f64>::zeros(n, r);
    matmul(
        kc3.as_mut(),
        Accum::Replace,
        k.as_ref(),
        c3,
        1.0,
        Par::rayon(0),
    );
    let mut k3_iij = Mat::<f64>::zeros(n, n);
    matmul(
        k3_iij.as_mut(),
        Accum::Replace,
        kc3.as_ref(),
        factor.transpose(),
        1.0,
        Par::rayon(0),
    );
    let (k4_iijj, k4_iiij) = match &core.k4 {
        None => (Mat::zeros(n, n), Mat::zeros(n, n)),
        Some(c4) => {
            let c4 = MatRef::from_column_major_slice(c4.data(), r * r, r * r);
            let mut kc4 = Mat::<f64>::zeros(n, r * r);
            matmul(
                kc4.as_mut(),
                Accum::Replace,
                k.as_ref(),
                c4,
                1.0,
                Par::rayon(0),
            );
            let mut iijj = Mat::<f64>::zeros(n, n);
            matmul(
                iijj.as_mut(),
                Accum::Replace,
                kc4.as_ref(),
                k.transpose(),
                1.0,
                Par::rayon(0),
            );
            // v_a[l] = Σ_k (K C₄)[a, k + r·l] F_ak: κ₄[a,a,a,b] = v_a · F_b.
            let v = Mat::from_fn(n, r, |a, l| {
                (0..r)
                    .map(|kk| kc4[(a, kk + r * l)] * factor[(a, kk)])
                    .sum::<f64>()
            });
            let mut iiij = Mat::<f64>::zeros(n, n);
            matmul(
                iiij.as_mut(),
                Accum::Replace,
                v.as_ref(),
                factor.transpose(),
                1.0,
                Par::rayon(0),
            );
            (iijj, iiij)
        }
    };
    Slices {
        k3_iij,
        k4_iijj,
        k4_iiij,
    }
}

/// The κ tensors over the units (a, b) (one unit when a = b) from the slices.
fn pair_tensors(s: &Slices, a: usize, b: usize, order: usize) -> Tensors {
    let idx = [a, b];
    let m = if a == b { 1 } else { 2 };
    let mut k3 = SymTensor::zeros(m, 3);
    let mut k4 = (order >= 4).then(|| SymTensor::zeros(m, 4));
    for (flat, v) in k3.data_mut().iter_mut().enumerate() {
        let t = [flat % m, flat / m % m, flat / (m * m)];
        let ones = t.iter().filter(|&&x| x == 1).count();
        // κ₃ over (a, b) by how many indices are b: aaa, aab, abb, bbb.
        *v = match ones {
            0 => s.k3_iij[(idx[0], idx[0])],
            1 => s.k3_iij[(idx[0], idx[1])],
            2 => s.k3_iij[(idx[1], idx[0])],
            _ => s.k3_iij[(idx[1], idx[1])],
        };
    }
    if let Some(k4) = k4.as_mut() {
        for (flat, v) in k4.data_mut().iter_mut().enumerate() {
            let t = [
                flat % m,
                flat / m % m,
                flat / (m * m) % m,
                flat / (m * m * m),
            ];
            let ones = t.iter().filter(|&&x| x == 1).count();
            *v = match ones {
                0 => s.k4_iijj[(idx[0], idx[0])],
                1 => s.k4_iiij[(idx[0], idx[1])],
                2 => s.k4_iijj[(idx[0], idx[1])],
                3 => s.k4_iiij[(idx[1], idx[0])],
                _ => s.k4_iijj[(idx[1], idx[1])],
            };
        }
    }
    Tensors { k3, k4 }
}

/// Δm and ΔC of every unit and pair from the two-unit rule (module docs).
fn increments(
    rule: &ChaosRule,
    cov: &Mat<f64>,
    units: &[UnitChaos],
    s: &Slices,
) -> (Vec<f64>, Mat<f64>) {
    let n = units.len();
    let order = rule.order();
    let rows: Vec<(f64, Vec<f64>)> = (0..n)
        .into_par_iter()
        .map(|a| {
            let one = |b: usize| {
                let t = pair_tensors(s, a, b, order);
                let (m, us) = if a == b {
                    (Mat::from_fn(1, 1, |_, _| cov[(a, a)]), vec![units[a]])
                } else {
                    (
                        Mat::from_fn(2, 2, |i, j| cov[([a, b][i], [a, b][j])]),
                        vec![units[a], units[b]],
                    )
                };
                let input = Input {
                    cov: &m,
                    k3: &t.k3,
                    k4: t.k4.as_ref().map(|t| t as &dyn Kappa4),
                    units: &us,
                };
                rule.increments(&input)
            };
            let diag = one(a);
            let mut row = vec![0.0; n];
            row[a] = diag.cov[(0, 0)];
            for (b, v) in row.iter_mut().enumerate().skip(a + 1) {
                *v = one(b).cov[(0, 1)];
            }
            (diag.mean[0], row)
        })
        .collect();
    let mean = rows.iter().map(|r| r.0).collect();
    let cov = Mat::from_fn(n, n, |i, j| {
        let (a, b) = if i <= j { (i, j) } else { (j, i) };
        rows[a].1[b]
    });
    (mean, cov)
}

/// Largest standardised |skewness| and |excess kurtosis| of the units of h from its slices
/// (their diagonals are κ₃\[aaa\] and κ₄\[aaaa\]).
fn standardised(h: &Moments, s: &Slices) -> (f64, f64) {
    standardised_diagonal(h, |a| s.k3_iij[(a, a)], |a| s.k4_iijj[(a, a)])
}

fn slices_of(t: &PreTensors) -> Slices {
    match t {
        PreTensors::Measured { slices, .. } => slices.clone(),
        PreTensors::Factored { factor, core } => factored_slices(factor.as_ref(), core),
    }
}

impl CarryHook for SubsetCarry {
    fn check(&mut self, net: &Mlp, from: usize, classes: usize) -> Result<()> {
        if self.pre.len() != classes {
            return Err(Error::Shape(format!(
                "start tensors for {} classes, propagating {classes}",
                self.pre.len()
            )));
        }
        if from >= net.depth() {
            return Err(Error::Shape(format!(
                "tensors of h{} given, but layer {from} is the last hidden layer",
                from + 1
            )));
        }
        super::tensor::check_memory(
            self.rank,
            self.order(),
            1,
            from + 1,
            super::tensor::DEFAULT_TENSOR_BYTES,
        )?;
        self.reach_cut(from + 1);
        Ok(())
    }

    fn enter(
        &mut self,
        l: usize,
        layer: &Layer,
        pre: &mut [Moments],
        timings: &Timings,
    ) -> Result<()> {
        if self.fallback.is_some() {
            return Ok(());
        }
        if self.pending.iter().any(Option::is_some) {
            self.advance(layer, timings)?;
        }
        for (c, ((h, t), slot)) in pre
            .iter_mut()
            .zip(&self.pre)
            .zip(&mut self.slices)
            .enumerate()
        {
            let t = t.as_ref().ok_or_else(|| {
                Error::Shape(format!("no carried κ tensors for h{l} of class {c}"))
            })?;
            let s = timings.time("kappa affine", 0.0, || slices_of(t));
            let (skew, kurt) = standardised(h, &s);
            *h.natural_slices_mut().k3_iij = Some(s.k3_iij.clone());
            *h.natural_slices_mut().k4_iijj = Some(s.k4_iijj.clone());
            *slot = Some(s);
            let limits = outside_region(c, l, (skew, kurt), self.limits);
            if let Some(reason) = limits.filter(|_| l >= self.rules_from) {
                self.stop(l, reason, pre);
                return Ok(());
            }
        }
        Ok(())
    }

    fn leave(
        &mut self,
        l: usize,
        act: Activation,
        pre: &mut [Moments],
        post: &mut [Moments],
        timings: &Timings,
    ) -> Result<()> {
        if self.fallback.is_some() {
            return Ok(());
        }
        // Every class's increments first: where one diverges (a unit's variance increment
        // above MAX_VARIANCE_INCREMENT times its Gaussian variance, the full carry's rule) the
        // carry stops at this layer with no class's z changed, as a stop in `enter` leaves
        // them.
        let mut computed = Vec::with_capacity(pre.len());
        for (c, (h, z)) in pre.iter().zip(post.iter()).enumerate() {
            let s = self.slices[c].as_ref().ok_or_else(|| {
                Error::Shape(format!("no carried κ slices for h{l} of class {c}"))
            })?;
            let units = layer_units(act, h, (l, c))?;
            let (dm, dc) = timings.time("kappa closure", 0.0, || {
                increments(self.rule, &h.cov, &units, s)
            });
            let inc = super::closure::Increments { mean: dm, cov: dc };
            let growth = variance_increment(&inc, z);
            if l >= self.rules_from && growth > MAX_VARIANCE_INCREMENT {
                let reason = format!(
                    "class {c}: a unit of z{l} has a variance increment {growth:.3e} times its \
                     Gaussian variance (limit {MAX_VARIANCE_INCREMENT}): the series diverges"
                );
                self.stop(l, reason, pre);
                return Ok(());
            }
            computed.push((units, inc));
        }
        // The increments read the slices; this layer is done with them.
        self.slices.iter_mut().for_each(|s| *s = None);
        let state = self.pre.iter_mut().zip(&mut self.pending);
        for (c, (((h, z), (units, mut inc)), (t, pending))) in pre
            .iter()
            .zip(post.iter_mut())
            .zip(computed)
            .zip(state)
            .enumerate()
        {
            let t = t.take().ok_or_else(|| {
                Error::Shape(format!("no carried κ tensors for h{l} of class {c}"))
            })?;
            let kept = guard_units(&mut inc, z);
            if kept < h.dim() {
                self.gaussian_units.push(GaussianUnits {
                    layer: l,
                    class: c,
                    units: h.dim() - kept,
                });
            }
            for (i, d) in inc.mean.iter().enumerate() {
                z.mean[i] += d;
            }
            z.cov += &inc.cov;
            let z_sd = (0..z.dim())
                .map(|a| z.cov[(a, a)].max(0.0).sqrt())
                .collect();
            *pending = Some(Pending {
                cov: h.cov.clone(),
                units,
                tensors: t,
                z_sd,
            });
        }
        self.reach_cut(l + 1);
        Ok(())
    }

    fn cut(&self) -> Option<usize> {
        self.cut.as_ref().map(|f| f.layer)
    }

    fn set_cut(&mut self, k: usize, reason: String) {
        self.cut = Some(Fallback { layer: k, reason });
    }

    fn readout(&mut self, layer: &Layer, y: &mut [Moments], timings: &Timings) -> Result<()> {
        if self.fallback.is_some() {
            return Ok(());
        }
        self.advance(layer, timings)?;
        for (m, t) in y.iter_mut().zip(&self.pre) {
            if let Some(t) = t {
                let s = slices_of(t);
                *m.natural_slices_mut().k3_iij = Some(s.k3_iij);
                *m.natural_slices_mut().k4_iijj = Some(s.k4_iijj);
            }
        }
        Ok(())
    }
}
