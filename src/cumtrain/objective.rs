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
//! At order 2 (the default) the objective sees the data only through μ_c and Σ_c.
//!
//! At order 3/4 ([`CumulantObjective::corrected`]) the closures take κ₃ (κ₄) slices measured
//! per step from each class's training samples ([`super::first_layer`]). Per hidden layer l,
//! for each class (`CumulantObjective::forward`):
//!
//! 1. h^l = W^l z^{l−1} + b^l exactly (z⁰ = x: μ_c, Σ_c);
//! 2. at a corrected layer (the first always — its φ must be quadratic, relu, leaky relu or erf;
//!    a deeper one at [`CorrectedLayers::All`] where its φ is one of those, else it stays
//!    Gaussian) the κ slices of h^l: of W¹X̃_c at l = 1 (the class's centred samples), of
//!    W^l Ã^{l−1} deeper, Ã^{l−1} = φ(H^{l−1}) over the class's samples forwarded through the
//!    network at the current weights (H^{l−1} = W^{l−1}A^{l−2} + b^{l−1}), centred on its own
//!    sample mean (b^l drops out); the mean and covariance of h^l stay the propagated ones;
//! 3. the skewness cap of those slices for the Gram–Charlier closures ([`super::skew_cap`]:
//!    a unit more skewed than any Gram–Charlier density gets the most skewed one of its sign; the
//!    quadratic's closure is exact at any skewness and is not capped);
//! 4. the corrected closure maps h^l to z^l (else the Gaussian closure); a Gram–Charlier closure
//!    forms the Gaussian closure's z^l on the way and hands it out
//!    ([`FirstClosure::forward`]), kept for step 5 and the reverse pass;
//! 5. with a correction bound α (`--correction-bound`, Gram–Charlier closures only), z^l's
//!    correction shrunk towards that Gaussian z^l until its covariance keeps the share
//!    α of the Gaussian one in every direction ([`super::correction_bound`]); under
//!    [`BoundReference::Measured`] towards, and against, the class's measured z instead: the
//!    mean and covariance of φ(H) over its samples forwarded through the layer;
//! 6. z^l's corrected covariance with its eigenvalues floored at a small share of its mean
//!    variance ([`super::spectral_floor`]): the expansion can make it indefinite, which no
//!    distribution is and the next closure cannot take (where it is positive definite the floor
//!    does nothing);
//!
//! then the read-out's affine map to y. Floors, bounds and caps are counted per step over every
//! corrected layer ([`CumulantObjective::take_tally`]).
//!
//! The gradient is exact through the whole chain (`CumulantObjective::backward`): at a
//! corrected layer the closure's VJP (through the floor and the bound, whose Gaussian side goes
//! through the Gaussian closure's VJP, or whose measured side joins the samples' Ā below) also
//! gives the slices' adjoint, which
//! [`super::first_layer::Slices::backward`] takes to W^l and to D̄ (D = W^lÃ^{l−1}); the slices
//! depend on every earlier layer's weights through the forwarded samples, so D̄ goes on as the
//! samples' adjoint Ā^{l−1} = W^lᵀ(D̄ − D̄'s row means), and one backpropagation sweep over the
//! samples (H̄ = Ā ∘ φ'(H), ∂W += H̄Aᵀ, ∂b += H̄'s row sums, Ā below = Wᵀ(H̄ + that layer's
//! centred D̄)) collects every corrected layer's D̄. The slices' dependence on S = DDᵀ/n (K and
//! U read it at order 4) goes into Σ¹'s adjoint at the first layer, where S = W¹Σ_cW¹ᵀ exactly,
//! and through D deeper, where the propagated Σ is not the samples' covariance
//! ([`super::first_layer::SRoute`]).

use std::cell::Cell;
use std::fmt;

use clap::ValueEnum;
use faer::{Col, Mat, MatRef};
use serde::{Deserialize, Serialize};

use super::correction_bound::{BoundMean, BoundReference, BoundRule, CorrectionBound};
use super::first_closure::{check_activation, corrected_closure, FirstClosure};
use super::first_layer::{ClassSamples, SRoute, Slices};
use super::spectral_floor::{SpectralFloor, FLOOR_SHARE};
use crate::data::{class_counts, Dataset};
use crate::error::{value_name, Error, Field, Result};
use crate::linalg::{centre_rows, gemm, symmetrize};
use crate::net::kernels;
use crate::net::train::{BoundTally, ClipTally, FloorTally};
use crate::net::{Layer, Mlp};
use crate::propagate::affine::{affine_moments, AffineWorkspace};
use crate::propagate::backward::{affine_vjp, Adjoint};
use crate::propagate::closures::{ClosureMethod, Corrections};
use crate::propagate::ClosurePair;
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

/// Which hidden layers' closures take measured κ slices at `--order 3|4`
/// (`--corrected-layers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CorrectedLayers {
    /// The first hidden layer's only (deeper closures Gaussian), as the engine's `--order 3|4`;
    /// the default (`config::defaults::CORRECTED_LAYERS` says why).
    #[default]
    First,
    /// Every hidden layer whose φ has a corrected closure.
    All,
}

impl fmt::Display for CorrectedLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// What one training step's corrected layers did, summed over classes and layers since the last
/// [`CumulantObjective::take_tally`]: the floors of corrected z covariances
/// ([`super::spectral_floor`]; a class-step per floored layer), the corrections shrunk by the
/// correction bound ([`super::correction_bound`]; a class-step per bounded layer) and the units
/// whose skewness was capped ([`super::skew_cap`]; per unit, class and layer).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTally {
    pub floored: FloorTally,
    pub bounded: BoundTally,
    pub capped: usize,
}

impl StepTally {
    /// Both tallies together.
    pub fn plus(self, other: StepTally) -> StepTally {
        StepTally {
            floored: self.floored.plus(other.floored),
            bounded: self.bounded.plus(other.bounded),
            capped: self.capped + other.capped,
        }
    }
}

/// The forward closure of each hidden layer's φ and its VJP: the exact closed forms for linear,
/// quadratic, relu, leaky relu and erf; for the other (smooth) φ the pure Hermite series with
/// [`crate::propagate::closures::hermite::DEFAULT_ORDER`] terms and no 2-D quadrature fallback
/// near |ρ| = 1 ([`ClosurePair::without_fallback`]). The VJP differentiates exactly this series.
pub struct CumulantObjective {
    /// Hidden layer l's pair at index l − 1.
    closures: Vec<ClosurePair>,
    /// The corrected layers at order 3/4.
    corrected: Option<Corrected>,
    /// Floors and caps since the last [`CumulantObjective::take_tally`].
    tally: Cell<StepTally>,
}

/// What the κ corrections need (order 3/4, [`super::first_layer`]).
struct Corrected {
    order: Corrections,
    /// Hidden layer l's corrected closure at index l − 1, None where its φ has none.
    closures: Vec<Option<FirstClosure>>,
    /// Whether the layers above the first are corrected.
    layers: CorrectedLayers,
    samples: ClassSamples,
    /// s of [`super::spectral_floor`].
    floor_share: f64,
    /// α of [`super::correction_bound`] for the Gram–Charlier closures; None: no bound.
    bound: Option<f64>,
    /// What the bound does to the mean's correction.
    bound_mean: BoundMean,
    /// How the bound keeps the covariance within it.
    bound_rule: BoundRule,
    /// What the bound keeps z near: the Gaussian closure's or the measured z.
    bound_reference: BoundReference,
}

impl Corrected {
    /// The corrected closure of hidden layer k + 1 (index k), None where it is Gaussian.
    fn at(&self, k: usize) -> Option<FirstClosure> {
        if k > 0 && self.layers == CorrectedLayers::First {
            return None;
        }
        self.closures.get(k).copied().flatten()
    }

    /// Whether hidden layer k + 1 (index k), corrected by `closure`, is bounded against the
    /// measured z ([`BoundReference::Measured`]): a bound on and a Gram–Charlier closure.
    fn bounds_against_samples(&self, closure: FirstClosure) -> bool {
        self.bound.is_some()
            && closure.caps_skewness()
            && self.bound_reference == BoundReference::Measured
    }

    /// The index of the deepest corrected hidden layer.
    fn deepest(&self) -> Option<usize> {
        (0..self.closures.len())
            .rev()
            .find(|&k| self.at(k).is_some())
    }
}

/// One hidden layer of one class's forward pass: h = Wa + b exactly (with its κ slices where
/// the layer is corrected), z as its closure gives it, where the correction bound shrank a
/// corrected z, the bounded z, and where a corrected z's covariance needed the floor, z floored
/// and the floor.
struct LayerPass {
    h: Moments,
    z: Moments,
    /// The Gaussian closure's z at h, where a Gram–Charlier corrected closure formed it on the
    /// way to z ([`FirstClosure::forward`]): the correction bound's reference (under `gauss`)
    /// and the reverse pass's.
    gauss: Option<Moments>,
    bounded: Option<Bounded>,
    floored: Option<(Moments, SpectralFloor)>,
    /// The measured κ slices of h, where the layer is corrected.
    slices: Option<Slices>,
}

/// A corrected z shrunk by the correction bound: the bounded z and the bound (the reference it
/// shrank towards is the Gaussian closure's z, [`LayerPass::gauss`], or under
/// [`BoundReference::Measured`] the layer's samples' [`SampleLayer::moments`]).
struct Bounded {
    z: Moments,
    bound: CorrectionBound,
}

impl LayerPass {
    /// The z the layer above sees.
    fn output(&self) -> &Moments {
        match (&self.floored, &self.bounded) {
            (Some((z, _)), _) | (None, Some(Bounded { z, .. })) => z,
            (None, None) => &self.z,
        }
    }
}

/// One class's forward pass (`CumulantObjective::forward`).
struct ClassPass {
    layers: Vec<LayerPass>,
    y: Moments,
    /// The class's training samples through hidden layer k + 1 (index k) below the deepest
    /// corrected one: H (N × n, the pre-activations), Ã (the activations φ(H) centred on their
    /// sample mean) and that mean.
    samples: Vec<SampleLayer>,
}

struct SampleLayer {
    h: Mat<f64>,
    centred: Mat<f64>,
    mean: Col<f64>,
}

impl SampleLayer {
    /// The measured z: (μ_m, C_m), the activations' mean and covariance (÷ n) over the samples.
    fn moments(&self) -> Moments {
        let n = self.centred.nrows();
        let mut cov = Mat::zeros(n, n);
        let inv = 1.0 / self.centred.ncols() as f64;
        gemm(
            cov.as_mut(),
            false,
            self.centred.as_ref(),
            self.centred.transpose(),
            inv,
        );
        symmetrize(cov.as_mut());
        Moments::gaussian(self.mean.clone(), cov)
    }

    /// The activations' adjoint from the adjoint `adj` of [`SampleLayer::moments`]:
    /// Ā_s = μ̄/n + (2/n) sym(C̄)(a_s − μ_m) ([`super::correction_bound`]).
    fn moments_vjp(&self, adj: &Adjoint) -> Mat<f64> {
        let (units, n) = (self.centred.nrows(), self.centred.ncols());
        let mut sym = adj.cov.clone();
        symmetrize(sym.as_mut());
        let mut a_bar = Mat::from_fn(units, n, |i, _| adj.mean[i] / n as f64);
        gemm(
            a_bar.as_mut(),
            true,
            sym.as_ref(),
            self.centred.as_ref(),
            2.0 / n as f64,
        );
        a_bar
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
            corrected: None,
            tally: Cell::new(StepTally::default()),
        })
    }

    /// The objective with the closures at `order` (3 or 4: the κ slices of each corrected
    /// layer's pre-activation measured from `data`'s training samples of each class, centred on
    /// `stats`' class means at the first layer; 2: as [`CumulantObjective::new`]), at every
    /// hidden layer whose φ has a corrected closure ([`CorrectedLayers::All`]; see
    /// [`CumulantObjective::with_layers`]). Errors naming `--order` unless the first hidden
    /// layer's φ is quadratic, relu, leaky relu or erf ([`check_activation`]).
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
        let mut closures = vec![Some(check_activation(net, order)?)];
        closures.extend((1..net.depth()).map(|k| corrected_closure(net.activation.at(k))));
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
        objective.corrected = Some(Corrected {
            order,
            closures,
            layers: CorrectedLayers::All,
            samples: ClassSamples::gather(data, &means),
            floor_share: FLOOR_SHARE,
            bound: None,
            bound_mean: BoundMean::default(),
            bound_rule: BoundRule::default(),
            bound_reference: BoundReference::default(),
        });
        Ok(objective)
    }

    /// The objective correcting `layers`: the first hidden layer only, or all (the default of
    /// [`CumulantObjective::corrected`]; no effect at order 2).
    pub fn with_layers(mut self, layers: CorrectedLayers) -> Self {
        if let Some(corrected) = &mut self.corrected {
            corrected.layers = layers;
        }
        self
    }

    /// The objective with the floor of corrected z covariances at `share` of their mean
    /// variance, and the correction bound's ridge at that share of the Gaussian one, instead of
    /// [`FLOOR_SHARE`] (s of [`super::spectral_floor`] and [`super::correction_bound`]; no effect
    /// at order 2).
    pub fn with_floor_share(mut self, share: f64) -> Self {
        if let Some(corrected) = &mut self.corrected {
            corrected.floor_share = share;
        }
        self
    }

    /// The objective with the correction bound α ∈ [0, 1) of [`super::correction_bound`] on its
    /// Gram–Charlier corrected closures (None: no bound, the default of
    /// [`CumulantObjective::corrected`]; no effect at order 2 or on the quadratic's closure,
    /// which is exact).
    pub fn with_correction_bound(mut self, alpha: Option<f64>) -> Self {
        if let Some(corrected) = &mut self.corrected {
            corrected.bound = alpha;
        }
        self
    }

    /// The objective whose correction bound shrinks or keeps the mean's correction
    /// ([`BoundMean`]; its default, [`BoundMean::Shrink`], is [`CumulantObjective::corrected`]'s;
    /// no effect without a bound).
    pub fn with_correction_bound_mean(mut self, mean: BoundMean) -> Self {
        if let Some(corrected) = &mut self.corrected {
            corrected.bound_mean = mean;
        }
        self
    }

    /// The objective whose correction bound scales the whole correction or clips only the
    /// emptied directions ([`BoundRule`]; its default, [`BoundRule::Scale`], is
    /// [`CumulantObjective::corrected`]'s; no effect without a bound).
    pub fn with_correction_bound_rule(mut self, rule: BoundRule) -> Self {
        if let Some(corrected) = &mut self.corrected {
            corrected.bound_rule = rule;
        }
        self
    }

    /// The objective whose correction bound keeps z near the Gaussian closure's or the measured
    /// z ([`BoundReference`]; its default, [`BoundReference::Gauss`], is
    /// [`CumulantObjective::corrected`]'s; no effect without a bound).
    pub fn with_correction_bound_reference(mut self, reference: BoundReference) -> Self {
        if let Some(corrected) = &mut self.corrected {
            corrected.bound_reference = reference;
        }
        self
    }

    /// The floors, bounds and caps since the last call ([`StepTally`]); reset to none.
    pub fn take_tally(&self) -> StepTally {
        self.tally.take()
    }

    /// Whether the objective caps skewness: at order 3/4 with a Gram–Charlier corrected
    /// closure (not the quadratic's, which is exact) at some corrected layer.
    pub fn caps_skewness(&self) -> bool {
        self.corrected.as_ref().is_some_and(|c| {
            (0..c.closures.len()).any(|k| c.at(k).is_some_and(|f| f.caps_skewness()))
        })
    }

    /// Whether the objective bounds corrections: a correction bound on, and some corrected
    /// layer's closure Gram–Charlier ([`CumulantObjective::caps_skewness`]).
    pub fn bounds_corrections(&self) -> bool {
        self.caps_skewness() && self.corrected.as_ref().is_some_and(|c| c.bound.is_some())
    }

    /// L (see the module docs).
    pub fn loss(&self, net: &Mlp, stats: &ClassStatistics) -> Result<f64> {
        check(net, stats)?;
        let mut total = 0.0;
        for (c, (x, &p)) in stats.per_class.iter().zip(&stats.weights).enumerate() {
            total += p * class_loss(&self.forward(net, c, x)?.y, c);
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
        let mut total = 0.0;
        for (c, (x, &p)) in stats.per_class.iter().zip(&stats.weights).enumerate() {
            let pass = self.forward(net, c, x)?;
            let y = &pass.y;
            total += p * class_loss(y, c);
            let n_out = y.dim();
            let adj = Adjoint {
                mean: Col::from_fn(n_out, |i| 2.0 * p * (y.mean[i] - target(i, c))),
                cov: Mat::from_fn(n_out, n_out, |i, j| if i == j { p } else { 0.0 }),
            };
            self.backward(net, c, x, &pass, adj, grads)?;
        }
        Ok(total)
    }

    /// Class c's input X̃ of hidden layer k + 1 (index k) over its samples, centred, and the
    /// mean it was centred on: the training samples and μ_c at k = 0, else layer k's Ã.
    fn samples_in<'a>(
        &'a self,
        pass: &'a ClassPass,
        c: usize,
        x: &'a Moments,
        k: usize,
    ) -> (MatRef<'a, f64>, &'a Col<f64>) {
        match k {
            0 => {
                let corrected = self.corrected.as_ref().expect("samples at order 3/4 only");
                (corrected.samples.centred[c].as_ref(), &x.mean)
            }
            _ => (
                pass.samples[k - 1].centred.as_ref(),
                &pass.samples[k - 1].mean,
            ),
        }
    }

    /// One class's forward pass from its input moments `x` (μ_c and Σ_c): per hidden layer
    /// k + 1 the exact affine map, then at a corrected layer the κ slices of h measured from the
    /// class's samples at the current weights, the skewness cap (Gram–Charlier closures), the
    /// corrected closure and the spectral floor of z's covariance (both counted in
    /// `self.tally`), else the Gaussian closure; the samples forwarded through each layer below
    /// the deepest corrected one (their Ã the next layer's measured input); the read-out's
    /// affine map to y.
    fn forward(&self, net: &Mlp, c: usize, x: &Moments) -> Result<ClassPass> {
        let depth = net.depth();
        let deepest = self.corrected.as_ref().and_then(Corrected::deepest);
        let mut pass = ClassPass {
            layers: Vec::with_capacity(depth),
            y: Moments::gaussian(Col::zeros(0), Mat::zeros(0, 0)),
            samples: Vec::new(),
        };
        let mut ws = AffineWorkspace::new();
        for k in 0..depth {
            let layer = &net.layers[k];
            let input = pass.layers.last().map_or(x, LayerPass::output);
            let mut h = affine(layer, input, &mut ws)?;
            finite(&h, "h", k + 1)?;
            let mut z = Moments::gaussian(Col::zeros(h.dim()), Mat::zeros(h.dim(), h.dim()));
            let corrected = self
                .corrected
                .as_ref()
                .and_then(|cor| Some((cor, cor.at(k)?)));
            // The layer's samples go on to a corrected layer above.
            let forwarded = deepest.is_some_and(|d| k < d);
            let (layer_pass, samples) = match corrected {
                Some((cor, closure)) => {
                    let (centred, _) = self.samples_in(&pass, c, x, k);
                    let mut slices =
                        Slices::measure(layer.w.as_ref(), centred, cor.order == Corrections::K3K4);
                    let mut tally = StepTally::default();
                    if closure.caps_skewness() {
                        tally.capped = slices.cap_skewness();
                    }
                    slices.attach(&mut h);
                    let gauss =
                        closure.forward(&*self.closures[k].closure, &h, cor.order, &mut z)?;
                    if let Some(what) = z.first_non_finite() {
                        return Err(Error::Numeric(format!(
                            "z{} from the corrected closure: {what}",
                            k + 1
                        )));
                    }
                    let samples = (forwarded || cor.bounds_against_samples(closure))
                        .then(|| self.forward_samples(net, k, &pass, c, x, Some(&slices)));
                    let bounded = match (cor.bound, &gauss) {
                        (Some(alpha), Some(gauss)) => {
                            let alpha_share = (alpha, cor.floor_share);
                            let rules = (cor.bound_mean, cor.bound_rule);
                            let measured = match (cor.bound_reference, &samples) {
                                (BoundReference::Measured, Some(samples)) => {
                                    Some(samples.moments())
                                }
                                _ => None,
                            };
                            let reference = measured
                                .as_ref()
                                .map_or((gauss, "z (Gaussian)"), |m| (m, "z (measured)"));
                            self.bound(k, (reference, &z), alpha_share, rules, &mut tally)?
                        }
                        _ => None,
                    };
                    let to_floor = bounded.as_ref().map_or(&z, |b| &b.z);
                    let floored = SpectralFloor::apply(to_floor.cov.as_ref(), cor.floor_share)?
                        .map(|(cov, f)| {
                            tally.floored = FloorTally {
                                class_steps: 1,
                                indefinite: usize::from(f.indefinite()),
                                largest_share: f.added_share(),
                            };
                            (Moments::gaussian(to_floor.mean.clone(), cov), f)
                        });
                    self.tally.set(self.tally.get().plus(tally));
                    let layer_pass = LayerPass {
                        h,
                        z,
                        gauss,
                        bounded,
                        floored,
                        slices: Some(slices),
                    };
                    (layer_pass, samples)
                }
                None => {
                    self.closures[k]
                        .closure
                        .apply_counted(&h, Corrections::None, &mut z)?;
                    finite(&z, "z", k + 1)?;
                    let samples =
                        forwarded.then(|| self.forward_samples(net, k, &pass, c, x, None));
                    let layer_pass = LayerPass {
                        h,
                        z,
                        gauss: None,
                        bounded: None,
                        floored: None,
                        slices: None,
                    };
                    (layer_pass, samples)
                }
            };
            // Indices 0..=k: a layer bounded against its samples is at most the deepest.
            pass.samples.extend(samples);
            pass.layers.push(layer_pass);
        }
        let input = pass.layers.last().map_or(x, LayerPass::output);
        pass.y = affine(&net.layers[depth], input, &mut ws)?;
        finite(&pass.y, "y", depth + 1)?;
        Ok(pass)
    }

    /// The correction bound ([`super::correction_bound`], share α and ridge share s, the mean
    /// shrunk or kept, the covariance scaled or clipped) of hidden layer k + 1's corrected `z`,
    /// with `reference` (and its name in errors) the Gaussian closure's z at the same h (the
    /// corrected closure's own, [`FirstClosure::forward`]) or the measured z
    /// ([`SampleLayer::moments`]); None where t = 1. Counted in `tally`, under the clip with
    /// the eigenvalues it clipped (0 where t = 1; every direction where B had no Cholesky
    /// factor and the clip took the Gaussian closure).
    fn bound(
        &self,
        k: usize,
        ((reference, name), z): ((&Moments, &str), &Moments),
        alpha_share: (f64, f64),
        rules: (BoundMean, BoundRule),
        tally: &mut StepTally,
    ) -> Result<Option<Bounded>> {
        finite(reference, name, k + 1)?;
        let bounded =
            CorrectionBound::apply(reference, z, alpha_share, rules)?.map(|(z, bound)| {
                tally.bounded = BoundTally {
                    class_steps: 1,
                    smallest_t: bound.t(),
                    clipped: None,
                };
                Bounded { z, bound }
            });
        if rules.1 == BoundRule::Clip {
            let directions = bounded
                .as_ref()
                .map_or(0, |b| b.bound.clipped().unwrap_or(z.dim()));
            tally.bounded.clipped = Some(ClipTally {
                directions,
                most: directions,
            });
        }
        Ok(bounded)
    }

    /// Class c's samples through hidden layer k + 1 (index k): H = W X̃ + (W m + b) from the
    /// layer's centred input samples X̃ and their mean m (D = W X̃ is the slices' where the layer
    /// is corrected: `slices`), A = φ(H), and Ã = A − its row means.
    fn forward_samples(
        &self,
        net: &Mlp,
        k: usize,
        pass: &ClassPass,
        c: usize,
        x: &Moments,
        slices: Option<&Slices>,
    ) -> SampleLayer {
        let layer = &net.layers[k];
        let (centred, mean) = self.samples_in(pass, c, x, k);
        let mut h = match slices {
            Some(slices) => slices.centred().to_owned(),
            None => {
                let mut d = Mat::zeros(layer.w.nrows(), centred.ncols());
                gemm(d.as_mut(), false, layer.w.as_ref(), centred, 1.0);
                d
            }
        };
        // W m + b, one matrix-vector product.
        let mut offset = layer.b.clone();
        gemm(
            offset.as_mat_mut(),
            true,
            layer.w.as_ref(),
            mean.as_mat(),
            1.0,
        );
        let phi = net.activation.at(k);
        let n = h.ncols();
        let mut a = Mat::zeros(h.nrows(), n);
        let offset = offset
            .try_as_col_major()
            .expect("a Col is contiguous")
            .as_slice();
        for s in 0..n {
            // The network's own forward kernel (SIMD φ, as `net::forward`).
            kernels::bias_activation(phi, h.col_as_slice_mut(s), offset, a.col_as_slice_mut(s));
        }
        let mut mean = Col::zeros(a.nrows());
        centre_rows(a.as_mut(), &mut mean);
        SampleLayer {
            h,
            centred: a,
            mean,
        }
    }

    /// Adds class c's ∂L/∂W and ∂L/∂b to `grads`, from the output adjoint `adj` of its forward
    /// pass `pass`: the affine VJP and the closures' VJPs alternate down the layers; at a
    /// corrected layer the corrected closure's VJP (through the floor) also gives the κ slices'
    /// adjoint, which [`Slices::backward`] takes to W and to D̄ (S̄ into Σ's adjoint at the first
    /// layer, through D deeper: [`SRoute`]); the samples' adjoint Ā of a layer's activations is
    /// its own measured z's adjoint where the bound is against it
    /// ([`SampleLayer::moments_vjp`]) plus, below a corrected layer, Wᵀ(H̄ + D̄ − D̄'s row means)
    /// of the layer above, and
    /// H̄ = Ā ∘ φ'(H) adds H̄ Aᵀ to ∂W and H̄'s row sums to ∂b (A the layer's input samples,
    /// uncentred).
    fn backward(
        &self,
        net: &Mlp,
        c: usize,
        x: &Moments,
        pass: &ClassPass,
        mut adj: Adjoint,
        grads: &mut [Layer],
    ) -> Result<()> {
        let depth = net.depth();
        // Ā of the activations of hidden layer k + 1's samples, from the layers above.
        let mut sample_adj: Option<Mat<f64>> = None;
        for l in (0..=depth).rev() {
            let input = if l == 0 {
                x
            } else {
                pass.layers[l - 1].output()
            };
            let below = affine_vjp(net.layers[l].w.as_ref(), input, &adj, &mut grads[l], l > 0)?;
            let Some(mut z_adj) = below else {
                break;
            };
            let k = l - 1;
            let layer = &pass.layers[k];
            let corrected = self
                .corrected
                .as_ref()
                .and_then(|cor| Some((cor, cor.at(k)?)));
            let mut d_bar = None;
            match (corrected, &layer.slices) {
                (Some((cor, closure)), Some(slices)) => {
                    if let Some((_, floor)) = &layer.floored {
                        z_adj.cov = floor.vjp(z_adj.cov.as_ref());
                    }
                    let mut gauss_adj = None;
                    if let (Some(bounded), Some(gauss_z)) = (&layer.bounded, &layer.gauss) {
                        let (corrected, reference) = bounded.bound.vjp(&z_adj);
                        z_adj = corrected;
                        if cor.bounds_against_samples(closure) {
                            // The measured z's adjoint joins the samples' Ā from above.
                            let a_bar = pass.samples[k].moments_vjp(&reference);
                            sample_adj = Some(match sample_adj.take() {
                                Some(above) => above + a_bar,
                                None => a_bar,
                            });
                        } else {
                            let vjp = self.closures[k].vjp()?;
                            gauss_adj = Some(vjp.vjp(&layer.h, gauss_z, &reference)?);
                        }
                    }
                    let (a, kappa) = closure.backward(
                        &layer.h,
                        (&layer.z, layer.gauss.as_ref()),
                        &z_adj,
                        cor.order,
                    )?;
                    adj = a;
                    if let Some(g) = gauss_adj {
                        adj.mean += &g.mean;
                        adj.cov += &g.cov;
                    }
                    let (centred, _) = self.samples_in(pass, c, x, k);
                    let route = if k == 0 {
                        SRoute::Covariance(&mut adj.cov)
                    } else {
                        SRoute::Samples
                    };
                    d_bar = Some(slices.backward(centred, &kappa, route, grads[k].w.as_mut()));
                }
                _ => {
                    adj = self.closures[k].vjp()?.vjp(&layer.h, input, &z_adj)?;
                }
            }
            // H̄ = Ā ∘ φ'(H) of this layer's samples, from the corrected layers above.
            let h_bar = sample_adj.take().map(|mut a_bar| {
                let (h, phi) = (&pass.samples[k].h, net.activation.at(k));
                for s in 0..h.ncols() {
                    // The network's own backward kernel (SIMD φ', as `net::train`).
                    kernels::mul_derivative(phi, h.col_as_slice(s), a_bar.col_as_slice_mut(s));
                }
                a_bar
            });
            if h_bar.is_none() && d_bar.is_none() {
                continue;
            }
            let (centred, mean) = self.samples_in(pass, c, x, k);
            if let Some(h_bar) = &h_bar {
                // H = W(X̃ + m1ᵀ) + b1ᵀ: ∂W += H̄X̃ᵀ + (H̄1)mᵀ, ∂b += H̄1.
                gemm(
                    grads[k].w.as_mut(),
                    true,
                    h_bar.as_ref(),
                    centred.transpose(),
                    1.0,
                );
                for i in 0..h_bar.nrows() {
                    let row: f64 = (0..h_bar.ncols()).map(|s| h_bar[(i, s)]).sum();
                    grads[k].b[i] += row;
                    for j in 0..mean.nrows() {
                        grads[k].w[(i, j)] += row * mean[j];
                    }
                }
            }
            if k == 0 {
                continue;
            }
            // Ā of layer k's activations: H = W A + b1ᵀ, D = W Ã with Ã = A − A11ᵀ/n, so
            // Ā = Wᵀ(H̄ + D̄ − D̄11ᵀ/n).
            let n = centred.ncols();
            let d_bar = d_bar.map(|mut d_bar| {
                let mut row_means = Col::zeros(d_bar.nrows());
                centre_rows(d_bar.as_mut(), &mut row_means);
                d_bar
            });
            let g = match (h_bar, d_bar) {
                (Some(mut h_bar), Some(d_bar)) => {
                    h_bar += &d_bar;
                    h_bar
                }
                (Some(h_bar), None) => h_bar,
                (None, Some(d_bar)) => d_bar,
                (None, None) => unreachable!("returned above when both are None"),
            };
            let mut a_bar = Mat::zeros(centred.nrows(), n);
            gemm(
                a_bar.as_mut(),
                false,
                net.layers[k].w.transpose(),
                g.as_ref(),
                1.0,
            );
            sample_adj = Some(a_bar);
        }
        Ok(())
    }
}

/// h = Wa + b of one class's input moments `input` through `layer` (exact).
fn affine(layer: &Layer, input: &Moments, ws: &mut AffineWorkspace) -> Result<Moments> {
    let n = layer.w.nrows();
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

/// Errors where a stage (`name` of hidden layer `l`, or the output) holds a non-finite entry.
fn finite(m: &Moments, name: &str, l: usize) -> Result<()> {
    match m.first_non_finite() {
        Some(what) => Err(Error::Numeric(format!("stage {name}{l}: {what}"))),
        None => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cumtrain::correction_bound::tests::least_generalized;
    use crate::data::higher_order::HigherOrderConfig;
    use crate::net::Activation;

    /// Class c's measured z¹ and its bound's B = C_m + εI (ε = s·tr C_m/n), formed here from
    /// the data: z_s = φ(W¹x_s + b¹) over the class's training samples, mean and covariance
    /// ÷ n_c.
    fn measured_z1(net: &Mlp, data: &Dataset, c: usize) -> (Moments, Mat<f64>) {
        let (w, b, phi) = (&net.layers[0].w, &net.layers[0].b, net.activation.at(0));
        let cols: Vec<usize> = (0..data.len())
            .filter(|&s| data.labels[s] as usize == c)
            .collect();
        let n = w.nrows();
        let z = Mat::from_fn(n, cols.len(), |i, k| {
            let h: f64 = (0..w.ncols())
                .map(|j| w[(i, j)] * data.x[(j, cols[k])])
                .sum();
            phi.eval(h + b[i])
        });
        let count = cols.len() as f64;
        let mean = Col::from_fn(n, |i| {
            (0..cols.len()).map(|k| z[(i, k)]).sum::<f64>() / count
        });
        let cov = Mat::from_fn(n, n, |i, j| {
            (0..cols.len())
                .map(|k| (z[(i, k)] - mean[i]) * (z[(j, k)] - mean[j]))
                .sum::<f64>()
                / count
        });
        let eps = FLOOR_SHARE * (0..n).map(|i| cov[(i, i)]).sum::<f64>() / n as f64;
        let b = Mat::from_fn(n, n, |i, j| cov[(i, j)] + if i == j { eps } else { 0.0 });
        (Moments::gaussian(mean, cov), b)
    }

    /// Against the measured z (`BoundReference::Measured`) the bounded z¹ covariance C keeps
    /// the share α of the network's own z¹ covariance C_m in every direction:
    /// λ_min(C − C_m, B) ≥ −(1 − α) with B = C_m + εI (C ⪰ αC_m − (1 − α)εI), to 10⁻⁹ (C_m
    /// formed here from the data, independently of the objective's sample pass), and reached
    /// where the bound acts (the boundary, to 10⁻⁹), under both rules; under shrink the mean is
    /// μ_m + t(μ_c − μ_m), t < 1. On the same erf network the Gaussian reference's bounded C
    /// lies below it (λ_min < −(1 − α) − 0.05 for some class: the case has the power to
    /// fail). Fails with the measured z replaced by the Gaussian closure's in the forward pass.
    #[test]
    fn measured_bound_keeps_the_share_of_the_measured_covariance() {
        let data = HigherOrderConfig {
            dim: 4,
            n_skewed: 2,
            n_train: 400,
            n_test: 2,
            ..HigherOrderConfig::default()
        }
        .generate()
        .unwrap()
        .train;
        let stats = ClassStatistics::measure(&data).unwrap();
        let mut net = Mlp::init(&[4, 5, 2], Activation::Erf, 1.0, 3).unwrap();
        for i in 0..4 {
            for j in 0..4 {
                net.layers[0].w[(i, j)] = if i == j { 0.8 } else { 0.05 * (i + j) as f64 };
            }
            net.layers[0].b[i] = -0.3;
        }
        let alpha = 0.9;
        let least = |reference, rule, mean| -> Vec<(f64, Option<(f64, Moments)>)> {
            let obj = CumulantObjective::corrected(&net, Corrections::K3K4, &data, &stats)
                .unwrap()
                .with_layers(CorrectedLayers::First)
                .with_correction_bound(Some(alpha))
                .with_correction_bound_rule(rule)
                .with_correction_bound_mean(mean)
                .with_correction_bound_reference(reference);
            (0..2)
                .map(|c| {
                    let pass = obj.forward(&net, c, &stats.per_class[c]).unwrap();
                    let layer = &pass.layers[0];
                    let (measured, b) = measured_z1(&net, &data, c);
                    let bounded = layer.bounded.as_ref();
                    let cov = bounded.map_or(&layer.z.cov, |b| &b.z.cov);
                    let above = Mat::from_fn(5, 5, |i, j| cov[(i, j)] - measured.cov[(i, j)]);
                    let t = bounded.map(|b| (b.bound.t(), b.z.clone()));
                    (least_generalized(&above, &b), t)
                })
                .collect()
        };
        let kink = -(1.0 - alpha);
        let mut acted = false;
        for rule in [BoundRule::Scale, BoundRule::Clip] {
            for (c, (l, bounded)) in least(BoundReference::Measured, rule, BoundMean::Shrink)
                .into_iter()
                .enumerate()
            {
                assert!(l >= kink - 1e-9, "{rule} class {c}: λ_min {l} below {kink}");
                if let Some((t, z)) = bounded {
                    acted = true;
                    assert!(
                        (l - kink).abs() < 1e-9,
                        "{rule} class {c}: λ_min {l} not {kink}"
                    );
                    let (measured, _) = measured_z1(&net, &data, c);
                    let pass_z =
                        &CumulantObjective::corrected(&net, Corrections::K3K4, &data, &stats)
                            .unwrap()
                            .with_layers(CorrectedLayers::First)
                            .forward(&net, c, &stats.per_class[c])
                            .unwrap()
                            .layers[0]
                            .z;
                    for i in 0..5 {
                        let want = measured.mean[i] + t * (pass_z.mean[i] - measured.mean[i]);
                        assert!((z.mean[i] - want).abs() < 1e-9, "{rule} class {c} mean {i}");
                    }
                }
            }
        }
        assert!(acted, "the measured bound did not act");
        let gauss = least(BoundReference::Gauss, BoundRule::Scale, BoundMean::Shrink);
        assert!(
            gauss.iter().any(|(l, _)| *l < kink - 0.05),
            "the Gaussian reference kept the measured share too: {:?}",
            gauss.iter().map(|(l, _)| l).collect::<Vec<_>>()
        );
    }
}
