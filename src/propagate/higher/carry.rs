//! Carrying κ₃ (order 3) or κ₃ and κ₄ (order 4) through every layer: the state the engine's
//! hook ([`crate::propagate::Propagator::run_carried`]) updates.
//!
//! Per hidden layer l and class: the start layer's (or z^{l−1}'s) tensors are mapped exactly to
//! h^l ([`super::affine`]); their slices are attached to h^l's moments; after the Gaussian
//! closure, the chaos rule ([`super::closure`]) adds Δm and ΔC to z^l's mean and covariance
//! and writes z^l's tensors. At the read-out the tensors are mapped to y and y's slices
//! attached (its tails).
//!
//! **Breakdown.** The expansion is linear in κ₃/κ₄ and trusted only while h is near Gaussian.
//! When a pre-activation unit's standardised skewness |κ₃\[aaa\]|/σ³ exceeds [`MAX_SKEW`] or its
//! excess kurtosis |κ₄\[aaaa\]|/σ⁴ exceeds [`MAX_KURTOSIS`], the carry stops: that layer and every
//! later one use the Gaussian closure alone, and [`Carry::fallback`] says where and why. A unit
//! whose corrected variance would fall below [`MIN_VARIANCE_SHARE`] of the Gaussian one keeps
//! the Gaussian closure's mean, variance and covariances ([`Carry::gaussian_units`] counts them).

use super::affine::{affine_tensor, tensor_affine_flops, TensorAffineWorkspace};
use super::chaos::UnitChaos;
use super::closure::{standardised, ChaosRule, Increments, Input};
use super::slices::attach;
use super::tensor::{check_memory, SymTensor, DEFAULT_TENSOR_BYTES};
use crate::error::{Error, Result};
use crate::net::{Activation, Layer, Mlp};
use crate::stats::Moments;
use crate::timing::Timings;

/// Largest standardised skewness of a pre-activation unit the expansion is trusted at.
pub const MAX_SKEW: f64 = 3.0;
/// Largest |excess kurtosis| of a pre-activation unit the expansion is trusted at.
pub const MAX_KURTOSIS: f64 = 8.0;
/// A corrected variance below this share of the Gaussian closure's is a breakdown.
pub const MIN_VARIANCE_SHARE: f64 = 0.1;

/// κ₃ (and at order 4 κ₄) of one class at one stage.
#[derive(Clone, Debug)]
pub struct Tensors {
    pub k3: SymTensor,
    pub k4: Option<SymTensor>,
}

impl Tensors {
    /// Zero tensors over `n` units: a Gaussian stage (e.g. the input x ~ N(μ, Σ)).
    pub fn gaussian(n: usize, order: usize) -> Self {
        Tensors {
            k3: SymTensor::zeros(n, 3),
            k4: (order >= 4).then(|| SymTensor::zeros(n, 4)),
        }
    }

    fn dim(&self) -> usize {
        self.k3.dim()
    }
}

/// Where and why the carry stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Fallback {
    /// Hidden layer from which the Gaussian closure alone was used.
    pub layer: usize,
    pub reason: String,
}

/// The carried tensors and the rule (see the module docs).
#[derive(Clone, Debug)]
pub struct Carry {
    rule: ChaosRule,
    limit: u64,
    current: Vec<Tensors>,
    pre: Vec<Tensors>,
    ws: TensorAffineWorkspace,
    fallback: Option<Fallback>,
    gaussian_units: Vec<GaussianUnits>,
    /// The tensors in `pre` are the measured ones of h^{from+1}: the first [`Carry::enter`]
    /// attaches them instead of mapping `current` ([`Carry::from_first_pre`]).
    first_measured: bool,
}

/// Units whose corrections were dropped at one layer (see [`MIN_VARIANCE_SHARE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GaussianUnits {
    pub layer: usize,
    pub class: usize,
    pub units: usize,
}

/// Drops Δm and the row and column of ΔC of every unit whose corrected variance would fall
/// below [`MIN_VARIANCE_SHARE`] of the Gaussian closure's (the expansion's breakdown for that
/// unit: a relu unit far in its off tail under strong skew); returns how many units were kept.
pub(super) fn guard_units(inc: &mut Increments, gauss: &Moments) -> usize {
    let n = inc.mean.len();
    let bad: Vec<usize> = (0..n)
        .filter(|&i| {
            let g = gauss.cov[(i, i)];
            g > 0.0 && g + inc.cov[(i, i)] < MIN_VARIANCE_SHARE * g
        })
        .collect();
    for &i in &bad {
        inc.mean[i] = 0.0;
        for j in 0..n {
            inc.cov[(i, j)] = 0.0;
            inc.cov[(j, i)] = 0.0;
        }
    }
    n - bad.len()
}

impl Carry {
    /// A carry of `order` (3 or 4) from the start layer's tensors, one per class.
    pub fn new(order: usize, start: Vec<Tensors>) -> Result<Self> {
        if !(order == 3 || order == 4) {
            return Err(Error::Unsupported(format!(
                "carried cumulants need --order 3 or 4, got {order}"
            )));
        }
        if let Some(t) = start.iter().find(|t| t.k4.is_some() != (order >= 4)) {
            return Err(Error::Shape(format!(
                "order {order} start tensors {} a κ₄ tensor (over {} units)",
                if t.k4.is_some() { "carry" } else { "lack" },
                t.dim()
            )));
        }
        Ok(Carry {
            rule: ChaosRule::new(order),
            limit: DEFAULT_TENSOR_BYTES,
            pre: start.clone(),
            current: start,
            ws: TensorAffineWorkspace::default(),
            fallback: None,
            gaussian_units: Vec::new(),
            first_measured: false,
        })
    }

    /// A carry of `order` from the measured tensors of the first pre-activation h^{from+1}, one
    /// per class (e.g. [`super::sampled::measure_tensors`]): the affine map into
    /// h^{from+1} is exact, so measuring them there equals mapping the start layer's tensors,
    /// which are never formed (the input's N⁴ would not fit for MNIST).
    pub fn from_first_pre(order: usize, first_pre: Vec<Tensors>) -> Result<Self> {
        let mut carry = Self::new(order, Vec::new())?;
        if let Some(t) = first_pre.iter().find(|t| t.k4.is_some() != (order >= 4)) {
            return Err(Error::Shape(format!(
                "order {order} tensors of h^(l+1) over {} units {} a κ₄ tensor",
                t.dim(),
                if t.k4.is_some() { "carry" } else { "lack" },
            )));
        }
        carry.pre = first_pre;
        carry.current = carry
            .pre
            .iter()
            .map(|_| Tensors::gaussian(0, order))
            .collect();
        carry.first_measured = true;
        Ok(carry)
    }

    /// Sets the memory limit of the carried tensors in bytes (default 16 GiB).
    pub fn with_limit(mut self, bytes: u64) -> Self {
        self.limit = bytes;
        self
    }

    /// The carried order.
    pub fn order(&self) -> usize {
        self.rule.order()
    }

    /// Where the expansion broke down and the Gaussian closure took over, if it did.
    pub fn fallback(&self) -> Option<&Fallback> {
        self.fallback.as_ref()
    }

    /// Per layer and class, how many units kept the Gaussian closure's moments because their
    /// corrected variance broke down (their tensors are still carried).
    pub fn gaussian_units(&self) -> &[GaussianUnits] {
        &self.gaussian_units
    }

    /// The tensors of the last stage carried (z^L, or y after the read-out), per class; `None`
    /// after a fallback.
    pub fn last(&self) -> Option<&[Tensors]> {
        self.fallback.is_none().then_some(self.current.as_slice())
    }

    /// Checks the start tensors against the start layer and every width against the memory
    /// limit before anything runs.
    pub(crate) fn check(&self, net: &Mlp, from: usize, classes: usize) -> Result<()> {
        let (tensors, at) = if self.first_measured {
            (&self.pre, from + 1)
        } else {
            (&self.current, from)
        };
        if tensors.len() != classes {
            return Err(Error::Shape(format!(
                "start tensors for {} classes, propagating {classes}",
                tensors.len()
            )));
        }
        if self.first_measured && from >= net.depth() {
            return Err(Error::Shape(format!(
                "tensors of h{} given, but layer {from} is the last hidden layer",
                from + 1
            )));
        }
        let width = net.widths()[at];
        if let Some(t) = tensors.iter().find(|t| t.dim() != width) {
            return Err(Error::Shape(format!(
                "start tensors over {} units, stage {at} has width {width}",
                t.dim()
            )));
        }
        for (l, &n) in net.widths().iter().enumerate().skip(at) {
            check_memory(n, self.order(), classes, l, self.limit)?;
        }
        Ok(())
    }

    /// Maps the tensors through hidden layer `l`'s affine map into h^l and attaches the slices
    /// to `pre`; checks the breakdown criteria on h^l.
    pub(crate) fn enter(
        &mut self,
        l: usize,
        layer: &Layer,
        pre: &mut [Moments],
        timings: &Timings,
    ) -> Result<()> {
        if self.fallback.is_some() {
            return Ok(());
        }
        if self.first_measured {
            self.first_measured = false;
            for (o, t) in pre.iter_mut().zip(&self.pre) {
                attach(o, &t.k3, t.k4.as_ref());
            }
        } else {
            self.map(layer, pre, timings)?;
        }
        for (c, (h, t)) in pre.iter().zip(&self.pre).enumerate() {
            let (skew, kurt) = standardised(h, &t.k3, t.k4.as_ref());
            if skew > MAX_SKEW || kurt > MAX_KURTOSIS {
                self.stop(
                    l,
                    format!(
                        "class {c}: h{l} has a unit with |skewness| {skew:.3} (limit {MAX_SKEW}) \
                         or |excess kurtosis| {kurt:.3} (limit {MAX_KURTOSIS})"
                    ),
                    pre,
                );
                return Ok(());
            }
        }
        Ok(())
    }

    /// Adds the rule's Δm, ΔC to z^l's moments (the Gaussian closure's output in `post`) and
    /// writes z^l's tensors; attaches z^l's slices.
    pub(crate) fn leave(
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
        let order = self.order();
        let mut updates = Vec::with_capacity(pre.len());
        for (c, (h, t)) in pre.iter().zip(&self.pre).enumerate() {
            let units: Vec<UnitChaos> = (0..h.dim())
                .map(|i| UnitChaos::new(act, h.mean[i], h.cov[(i, i)].max(0.0).sqrt()))
                .collect();
            let input = Input {
                cov: &h.cov,
                k3: &t.k3,
                k4: t.k4.as_ref(),
                units: &units,
            };
            let mut inc = timings.time("kappa closure", 0.0, || self.rule.increments(&input));
            let kept = guard_units(&mut inc, &post[c]);
            if kept < h.dim() {
                self.gaussian_units.push(GaussianUnits {
                    layer: l,
                    class: c,
                    units: h.dim() - kept,
                });
            }
            let mut next = Tensors::gaussian(0, order);
            timings.time("kappa closure", 0.0, || {
                self.rule.tensors(&input, &mut next.k3, next.k4.as_mut())
            });
            updates.push((inc, next));
        }
        for ((z, (inc, next)), cur) in post.iter_mut().zip(updates).zip(&mut self.current) {
            for (i, d) in inc.mean.iter().enumerate() {
                z.mean[i] += d;
            }
            z.cov += &inc.cov;
            attach(z, &next.k3, next.k4.as_ref());
            *cur = next;
        }
        Ok(())
    }

    /// Maps the tensors of z^L through the read-out into y and attaches y's slices.
    pub(crate) fn readout(
        &mut self,
        layer: &Layer,
        y: &mut [Moments],
        timings: &Timings,
    ) -> Result<()> {
        if self.fallback.is_some() {
            return Ok(());
        }
        self.map(layer, y, timings)?;
        std::mem::swap(&mut self.current, &mut self.pre);
        Ok(())
    }

    /// `pre[c]` = W·current[c] per class, slices attached to `out`.
    fn map(&mut self, layer: &Layer, out: &mut [Moments], timings: &Timings) -> Result<()> {
        let (m, n) = (layer.fan_out(), layer.fan_in());
        for ((cur, pre), o) in self.current.iter().zip(&mut self.pre).zip(out.iter_mut()) {
            if pre.k3.dim() != m {
                *pre = Tensors::gaussian(m, self.rule.order());
            }
            let flops = tensor_affine_flops(m, n, 3);
            timings.time("kappa affine", flops, || {
                affine_tensor(layer.w.as_ref(), &cur.k3, &mut pre.k3, &mut self.ws)
            })?;
            if let (Some(c4), Some(p4)) = (&cur.k4, &mut pre.k4) {
                let flops = tensor_affine_flops(m, n, 4);
                timings.time("kappa affine", flops, || {
                    affine_tensor(layer.w.as_ref(), c4, p4, &mut self.ws)
                })?;
            }
            if !pre.k3.is_finite() || pre.k4.as_ref().is_some_and(|t| !t.is_finite()) {
                return Err(Error::Numeric(format!(
                    "the affine map of the carried κ tensors into width {m} overflowed"
                )));
            }
            attach(o, &pre.k3, pre.k4.as_ref());
        }
        Ok(())
    }

    /// Records the breakdown and removes the slices already attached to `pre`.
    fn stop(&mut self, layer: usize, reason: String, pre: &mut [Moments]) {
        for m in pre {
            m.k3_iij = None;
            m.k4_iijj = None;
        }
        self.fallback = Some(Fallback { layer, reason });
    }
}
