//! The cumulant objective (DESIGN.md §6): the MSE loss to one-hot class targets as a function of
//! each class's input mean and covariance, propagated through the network, and its gradient.
//!
//! For class c with input moments (μ_c, Σ_c) and weight p(c), the output moments (μ_y, Σ_y) come
//! from the exact affine maps and the Gaussian closure of φ ([`crate::propagate`]), and
//!
//! ```text
//! L = Σ_c p(c) (‖μ_y,c − t_c‖² + tr Σ_y,c)
//! ```
//!
//! which is E[‖y − t‖²] over the class mixture when y is exactly Gaussian (the sample MSE of
//! [`crate::net::train`] has the same convention: no ½). The gradient is reverse mode through the
//! layers ([`crate::propagate::backward`]): at the output ∂L/∂μ_y = 2p(c)(μ_y − t_c),
//! ∂L/∂Σ_y = p(c) I; then the affine VJP and the closure VJP alternate down to the first layer.
//! κ₃/κ₄ corrections are not used: the objective sees the data only through μ_c and Σ_c.

use faer::{Col, Mat};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::net::{Activation, Layer, Mlp};
use crate::propagate::affine::{affine_moments, AffineWorkspace};
use crate::propagate::backward::{affine_vjp, vjp_for, Adjoint, ClosureVjp};
use crate::propagate::closures::{
    closure_for, Closure, ClosureMethod, Corrections, HermiteClosure,
};
use crate::stats::{MomentAccumulator, Moments};

/// Columns per batch when measuring the class statistics.
const MEASURE_BATCH: usize = 8192;

/// Each class's input moments and weight p(c) = n_c / n.
#[derive(Clone, Debug)]
pub struct ClassStatistics {
    pub per_class: Vec<Moments>,
    pub weights: Vec<f64>,
}

impl ClassStatistics {
    /// Measures mean and covariance (population, ÷ n_c) of every class of `data` with a
    /// [`MomentAccumulator`]. Errors if a class has fewer than 2 samples.
    pub fn measure(data: &Dataset) -> Result<Self> {
        let mut acc = MomentAccumulator::new(data.dim(), data.n_classes, false)?;
        let n = data.len();
        let mut start = 0;
        while start < n {
            let b = MEASURE_BATCH.min(n - start);
            acc.push(
                data.x.as_ref().subcols(start, b),
                &data.labels[start..start + b],
            )?;
            start += b;
        }
        let m = acc.finish()?;
        let total: u64 = m.counts.iter().sum();
        let weights = m.counts.iter().map(|&c| c as f64 / total as f64).collect();
        Ok(ClassStatistics {
            per_class: m.per_class,
            weights,
        })
    }
}

/// The forward closure of the network's φ and its VJP: the exact closed forms for linear,
/// quadratic, relu and erf; for the other (smooth) φ the pure Hermite series with
/// [`crate::propagate::closures::hermite::DEFAULT_ORDER`] terms and no 2-D quadrature fallback
/// near |ρ| = 1 (its truncation error there is at most |ρ|^{K+1}√(RᵢRⱼ), RᵢRⱼ the Parseval
/// remainders, and the fallback would make every step with many correlated units ~10³× slower).
/// The VJP differentiates exactly this series.
pub struct CumulantObjective {
    closure: Box<dyn Closure>,
    vjp: Box<dyn ClosureVjp>,
}

/// One class's forward pass: the input of every layer (x, z¹, …, z^L) and every pre-activation
/// (h¹, …, h^L).
struct ClassTrace {
    inputs: Vec<Moments>,
    pres: Vec<Moments>,
    output: Moments,
}

impl CumulantObjective {
    /// The objective for `net`'s activation (closures as in the type's docs).
    pub fn new(net: &Mlp) -> Result<Self> {
        let act = net.activation;
        let closure: Box<dyn Closure> = match act {
            Activation::Linear
            | Activation::Quadratic { .. }
            | Activation::Relu
            | Activation::Erf => closure_for(act, ClosureMethod::Auto)?,
            _ => Box::new(HermiteClosure::new(act)?.with_tolerance(f64::INFINITY)),
        };
        Ok(CumulantObjective {
            closure,
            vjp: vjp_for(act, ClosureMethod::Auto)?,
        })
    }

    /// L (see the module docs).
    pub fn loss(&self, net: &Mlp, stats: &ClassStatistics) -> Result<f64> {
        check(net, stats)?;
        let mut ws = AffineWorkspace::new();
        let mut total = 0.0;
        for (c, (x, &p)) in stats.per_class.iter().zip(&stats.weights).enumerate() {
            let trace = self.forward(net, x, &mut ws)?;
            total += p * class_loss(&trace.output, c);
        }
        Ok(total)
    }

    /// L, with ∂L/∂W and ∂L/∂b of every layer written into `grads` (shaped like `net.layers`).
    pub fn loss_and_grad(
        &self,
        net: &Mlp,
        stats: &ClassStatistics,
        grads: &mut [Layer],
    ) -> Result<f64> {
        check(net, stats)?;
        if grads.len() != net.layers.len() {
            return Err(Error::Shape(format!(
                "{} gradient slots for {} layers",
                grads.len(),
                net.layers.len()
            )));
        }
        for g in grads.iter_mut() {
            g.w.fill(0.0);
            g.b.fill(0.0);
        }
        let mut ws = AffineWorkspace::new();
        let mut total = 0.0;
        for (c, (x, &p)) in stats.per_class.iter().zip(&stats.weights).enumerate() {
            let trace = self.forward(net, x, &mut ws)?;
            let y = &trace.output;
            total += p * class_loss(y, c);
            let n_out = y.dim();
            let mut adj = Adjoint {
                mean: Col::from_fn(n_out, |i| 2.0 * p * (y.mean[i] - target(i, c))),
                cov: Mat::from_fn(n_out, n_out, |i, j| if i == j { p } else { 0.0 }),
            };
            for l in (0..net.layers.len()).rev() {
                let below = affine_vjp(
                    net.layers[l].w.as_ref(),
                    &trace.inputs[l],
                    &adj,
                    &mut grads[l],
                    l > 0,
                )?;
                if let Some(z_adj) = below {
                    adj = self.vjp.vjp(&trace.pres[l - 1], &trace.inputs[l], &z_adj)?;
                }
            }
        }
        Ok(total)
    }

    fn forward(&self, net: &Mlp, x: &Moments, ws: &mut AffineWorkspace) -> Result<ClassTrace> {
        let depth = net.depth();
        let mut inputs = Vec::with_capacity(depth + 1);
        let mut pres = Vec::with_capacity(depth);
        inputs.push(Moments::gaussian(x.mean.clone(), x.cov.clone()));
        for layer in &net.layers[..depth] {
            let pre = affine(layer, inputs.last().expect("input pushed"), ws)?;
            inputs.push(self.closure.apply(&pre, Corrections::None)?);
            pres.push(pre);
        }
        let readout = net.layers.last().expect("validated network has a read-out");
        let output = affine(readout, inputs.last().expect("input pushed"), ws)?;
        Ok(ClassTrace {
            inputs,
            pres,
            output,
        })
    }
}

/// One-hot target t_c.
#[inline]
fn target(i: usize, c: usize) -> f64 {
    if i == c {
        1.0
    } else {
        0.0
    }
}

/// ‖μ_y − t_c‖² + tr Σ_y.
fn class_loss(y: &Moments, c: usize) -> f64 {
    (0..y.dim())
        .map(|i| {
            let d = y.mean[i] - target(i, c);
            d * d + y.cov[(i, i)]
        })
        .sum()
}

fn affine(layer: &Layer, input: &Moments, ws: &mut AffineWorkspace) -> Result<Moments> {
    let n = layer.fan_out();
    let mut out = [Moments::gaussian(Col::zeros(n), Mat::zeros(n, n))];
    affine_moments(
        layer.w.as_ref(),
        layer.b.as_ref(),
        std::slice::from_ref(input),
        &mut out,
        ws,
    )?;
    let [out] = out;
    Ok(out)
}

fn check(net: &Mlp, stats: &ClassStatistics) -> Result<()> {
    net.validate()?;
    if stats.per_class.len() != net.output_dim() || stats.weights.len() != stats.per_class.len() {
        return Err(Error::Shape(format!(
            "statistics of {} classes ({} weights) for a network with {} outputs",
            stats.per_class.len(),
            stats.weights.len(),
            net.output_dim()
        )));
    }
    if let Some(bad) = stats.per_class.iter().find(|m| m.dim() != net.input_dim()) {
        return Err(Error::Shape(format!(
            "class statistics of dimension {} for a network with {} inputs",
            bad.dim(),
            net.input_dim()
        )));
    }
    Ok(())
}
