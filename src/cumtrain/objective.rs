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
//! At order 2 (the default) the objective sees the data only through μ_c and Σ_c. At order 3/4
//! ([`CumulantObjective::corrected`], quadratic, relu, leaky relu or erf φ) the first closure also takes the κ₃
//! (κ₄) slices of h¹ measured per step from each class's training samples, and the gradient
//! includes their dependence on W¹ ([`super::first_layer`]); deeper closures stay Gaussian.
//! There z¹'s corrected covariance is propagated with its eigenvalues floored at a small share
//! of its mean variance ([`super::spectral_floor`]): the expansion can make it indefinite, which
//! no distribution is and the next closure cannot take. Where it is positive definite the
//! floor does nothing; how often it acted is counted ([`CumulantObjective::take_floors`]).

use std::cell::Cell;

use faer::{Col, Mat};

use super::first_closure::{check_activation, FirstClosure};
use super::first_layer::{ClassSamples, Slices};
use super::spectral_floor::{SpectralFloor, FLOOR_SHARE};
use crate::data::{class_counts, Dataset};
use crate::error::{Error, Field, Result};
use crate::net::train::FloorTally;
use crate::net::{Layer, Mlp};
use crate::propagate::affine::{affine_moments, AffineWorkspace};
use crate::propagate::backward::{affine_vjp, Adjoint};
use crate::propagate::closures::{ClosureMethod, Corrections};
use crate::propagate::{ClosurePair, Predicted, Propagator};
use crate::stats::{MomentAccumulator, Moments};
use crate::timing::Timings;

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
    /// [`MomentAccumulator`]. Errors naming `--objective` (or the grid key `objective`: the
    /// advice names the value, not the flag) if a class has fewer than 2 samples
    /// (one: the accumulator's "class 0 has 1 sample" named neither the flag nor the training
    /// set until adv26).
    pub fn measure(data: &Dataset) -> Result<Self> {
        let counts = class_counts(&data.labels, data.n_classes)?;
        if let Some(c) = counts.iter().position(|&n| n == 1) {
            return Err(Error::config(
                Field::Objective,
                format!(
                    "cumulants: class {c} has 1 training sample, and the objective fits every \
                     class's covariance, which needs at least 2; use the objective samples, or \
                     data with at least 2 samples of every class"
                ),
            ));
        }
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
        if let Some(c) = (0..data.n_classes).find(|c| !m.classes.contains(c)) {
            // Else `check` finds fewer statistics than outputs, a shape error naming nothing.
            return Err(Error::config(
                Field::Objective,
                format!(
                    "cumulants: class {c} has no training samples, and the objective fits every \
                     class's mean and covariance; use the objective samples, or data with every \
                     class"
                ),
            ));
        }
        let total: u64 = m.counts.iter().sum();
        let weights = m.counts.iter().map(|&c| c as f64 / total as f64).collect();
        Ok(ClassStatistics {
            per_class: m.per_class,
            weights,
        })
    }
}

/// The forward closure of each hidden layer's φ and its VJP: the exact closed forms for linear,
/// quadratic, relu, leaky relu and erf; for the other (smooth) φ the pure Hermite series with
/// [`crate::propagate::closures::hermite::DEFAULT_ORDER`] terms and no 2-D quadrature fallback
/// near |ρ| = 1 ([`ClosurePair::without_fallback`]). The VJP differentiates exactly this series.
pub struct CumulantObjective {
    /// Hidden layer l's pair at index l − 1.
    closures: Vec<ClosurePair>,
    /// The corrected first layer at order 3/4.
    first: Option<Corrected>,
    /// The floors applied to z¹'s corrected covariance since the last
    /// [`CumulantObjective::take_floors`].
    floors: Cell<FloorTally>,
    /// The units (per class) whose skewness was capped since the last
    /// [`CumulantObjective::take_capped`] ([`super::skew_cap`]).
    capped: Cell<usize>,
}

/// What the κ corrections of the first closure need (order 3/4, [`super::first_layer`]).
struct Corrected {
    order: Corrections,
    closure: FirstClosure,
    samples: ClassSamples,
    /// s of [`super::spectral_floor`].
    floor_share: f64,
}

/// One class's corrected first layer (order 3/4): h¹ with its κ slices, z¹ as the corrected
/// closure gives it, and where its covariance needed the floor, z¹ floored and the floor.
struct FirstPass {
    h: Moments,
    z: Moments,
    floored: Option<(Moments, SpectralFloor)>,
}

impl FirstPass {
    /// The z¹ the layers above see.
    fn output(&self) -> &Moments {
        self.floored.as_ref().map_or(&self.z, |(z, _)| z)
    }
}

impl CumulantObjective {
    /// The objective for `net`'s activations (closures as in the type's docs).
    pub fn new(net: &Mlp) -> Result<Self> {
        let closures = ClosurePair::for_layers(net, ClosureMethod::Auto, false)?;
        for pair in &closures {
            pair.vjp()?;
        }
        Ok(CumulantObjective {
            closures,
            first: None,
            floors: Cell::new(FloorTally::default()),
            capped: Cell::new(0),
        })
    }

    /// The objective with the first closure at `order` (3 or 4: the κ slices of h¹ from
    /// `data`'s training samples of each class, centred on `stats`' class means; 2: as
    /// [`CumulantObjective::new`]). Errors naming `--order` unless the first hidden layer's φ
    /// is quadratic, relu, leaky relu or erf ([`check_activation`]).
    pub fn corrected(
        net: &Mlp,
        order: Corrections,
        data: &Dataset,
        stats: &ClassStatistics,
    ) -> Result<Self> {
        let mut objective = Self::new(net)?;
        if order == Corrections::None {
            return Ok(objective);
        }
        let closure = check_activation(net, order)?;
        let means: Vec<&[f64]> = stats
            .per_class
            .iter()
            .map(|m| {
                m.mean
                    .as_ref()
                    .try_as_col_major()
                    .expect("a Col is contiguous")
                    .as_slice()
            })
            .collect();
        objective.first = Some(Corrected {
            order,
            closure,
            samples: ClassSamples::gather(data, &means),
            floor_share: FLOOR_SHARE,
        });
        Ok(objective)
    }

    /// The objective with the floor of z¹'s corrected covariance at `share` of its mean
    /// variance instead of [`FLOOR_SHARE`] (s of [`super::spectral_floor`]; no effect at order 2).
    pub fn with_floor_share(mut self, share: f64) -> Self {
        if let Some(first) = &mut self.first {
            first.floor_share = share;
        }
        self
    }

    /// The class-steps (one class's forward pass) whose z¹ covariance was floored since the
    /// last call, and the largest share of its trace the floor added; reset to none.
    pub fn take_floors(&self) -> FloorTally {
        self.floors.take()
    }

    /// Whether the objective caps the first layer's skewness: at order 3/4 with a Gram–Charlier
    /// corrected first closure (not the quadratic's, which is exact).
    pub fn caps_skewness(&self) -> bool {
        self.first
            .as_ref()
            .is_some_and(|f| !matches!(f.closure, FirstClosure::Quadratic(_)))
    }

    /// The units (summed over classes and steps) whose skewness the objective capped since
    /// the last call ([`super::skew_cap`]), and resets the count.
    pub fn take_capped(&self) -> usize {
        self.capped.take()
    }

    /// L (see the module docs).
    pub fn loss(&self, net: &Mlp, stats: &ClassStatistics) -> Result<f64> {
        check(net, stats)?;
        let mut engine = Propagator::new();
        let mut total = 0.0;
        for (c, (x, &p)) in stats.per_class.iter().zip(&stats.weights).enumerate() {
            let slices = self.slices(net, c);
            let (_, stages) = self.forward(net, x, slices.as_ref(), &mut engine)?;
            total += p * class_loss(output(stages)?, c);
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
        let mut engine = Propagator::new();
        let mut total = 0.0;
        for (c, (x, &p)) in stats.per_class.iter().zip(&stats.weights).enumerate() {
            let slices = self.slices(net, c);
            let (first_pass, stages) = self.forward(net, x, slices.as_ref(), &mut engine)?;
            let y = output(stages)?;
            total += p * class_loss(y, c);
            let n_out = y.dim();
            let mut adj = Adjoint {
                mean: Col::from_fn(n_out, |i| 2.0 * p * (y.mean[i] - target(i, c))),
                cov: Mat::from_fn(n_out, n_out, |i, j| if i == j { p } else { 0.0 }),
            };
            // Layer l's input is x (l = 0) or z^l, and the closure below it maps h^l to z^l:
            // stages = [h¹, z¹, …, h^L, z^L, y] at order 2, [h², z², …, y] after the first
            // pass at order 3/4.
            let skip = if first_pass.is_some() { 2 } else { 0 };
            let stage = |k: usize| -> Result<&Moments> { Ok(&stages[k - skip].f64_moments()?[0]) };
            for l in (0..net.layers.len()).rev() {
                let input = match (l, &first_pass) {
                    (0, _) => x,
                    (1, Some(pass)) => pass.output(),
                    _ => stage(2 * l - 1)?,
                };
                let below =
                    affine_vjp(net.layers[l].w.as_ref(), input, &adj, &mut grads[l], l > 0)?;
                if let Some(mut z_adj) = below {
                    if let (1, Some(first), Some(pass), Some(slices)) =
                        (l, &self.first, &first_pass, &slices)
                    {
                        if let Some((_, floor)) = &pass.floored {
                            z_adj.cov = floor.vjp(z_adj.cov.as_ref());
                        }
                        let (a, k) =
                            first
                                .closure
                                .backward(&pass.h, &pass.z, &z_adj, first.order)?;
                        adj = a;
                        let centred = first.samples.centred[c].as_ref();
                        slices.backward(centred, &k, &mut adj.cov, grads[0].w.as_mut());
                    } else {
                        let h = stage(2 * l - 2)?;
                        adj = self.closures[l - 1].vjp()?.vjp(h, input, &z_adj)?;
                    }
                }
            }
        }
        Ok(total)
    }

    /// Class c's κ slices of h¹ at the current W¹ (order 3/4; None at order 2), with the
    /// skewness cap for the Gram–Charlier corrected closures ([`super::skew_cap`]; the
    /// quadratic's corrections are exact at any skewness), counted in `self.capped`.
    fn slices(&self, net: &Mlp, c: usize) -> Option<Slices> {
        self.first.as_ref().map(|first| {
            let mut slices = Slices::measure(
                net.layers[0].w.as_ref(),
                first.samples.centred[c].as_ref(),
                first.order == Corrections::K3K4,
            );
            if self.caps_skewness() {
                self.capped.set(self.capped.get() + slices.cap_skewness());
            }
            slices
        })
    }

    /// One class's forward pass through `engine`, from its input moments `x` (μ and Σ) and, at
    /// order 3/4, the κ slices of h¹ `slices`: at order 2 the stages h¹, z¹, …, h^L, z^L, y of
    /// that class alone; at order 3/4 the corrected first layer ([`FirstPass`], its floor
    /// counted) and the stages h², z², …, y from its z¹.
    fn forward<'e>(
        &self,
        net: &Mlp,
        x: &Moments,
        slices: Option<&Slices>,
        engine: &'e mut Propagator,
    ) -> Result<(Option<FirstPass>, &'e [Predicted])> {
        let closures: Vec<_> = self.closures.iter().map(|p| p.closure.as_ref()).collect();
        let (Some(first), Some(slices)) = (&self.first, slices) else {
            let stages = engine.run_closure(
                net,
                0,
                std::slice::from_ref(x),
                None,
                &closures,
                Corrections::None,
                &Timings::disabled(),
            )?;
            return Ok((None, stages));
        };
        let pass = self.first_pass(net, x, slices, first)?;
        let stages = engine.run_closure(
            net,
            1,
            std::slice::from_ref(pass.output()),
            None,
            &closures,
            Corrections::None,
            &Timings::disabled(),
        )?;
        Ok((Some(pass), stages))
    }

    /// The corrected first layer of one class (order 3/4): h¹ = W¹x + b¹ exactly, with the κ
    /// slices `slices`, z¹ from the corrected closure, and its covariance floored where it is
    /// not positive definite ([`super::spectral_floor`], counted in `self.floors`).
    fn first_pass(
        &self,
        net: &Mlp,
        x: &Moments,
        slices: &Slices,
        first: &Corrected,
    ) -> Result<FirstPass> {
        let layer = &net.layers[0];
        let n = layer.w.nrows();
        let zero = || Moments::gaussian(Col::zeros(n), Mat::zeros(n, n));
        let mut h = [zero()];
        affine_moments(
            layer.w.as_ref(),
            layer.b.as_ref(),
            std::slice::from_ref(x),
            &mut h,
            &mut AffineWorkspace::new(),
        )?;
        let [mut h] = h;
        slices.attach(&mut h);
        let mut z = zero();
        self.closures[0]
            .closure
            .apply_counted(&h, first.order, &mut z)?;
        if let Some(what) = z.first_non_finite() {
            return Err(Error::Numeric(format!(
                "z1 from the corrected closure: {what}"
            )));
        }
        let floored = SpectralFloor::apply(z.cov.as_ref(), first.floor_share)?.map(|(cov, f)| {
            self.floors.set(self.floors.get().plus(FloorTally {
                class_steps: 1,
                indefinite: usize::from(f.indefinite()),
                largest_share: f.added_share(),
            }));
            (Moments::gaussian(z.mean.clone(), cov), f)
        });
        Ok(FirstPass { h, z, floored })
    }
}

/// The predicted output moments y of the single class of a run (an f64 run: `Propagator::new`).
fn output(stages: &[Predicted]) -> Result<&Moments> {
    Ok(&stages
        .last()
        .expect("a run predicts the output")
        .f64_moments()?[0])
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
