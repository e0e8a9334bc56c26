//! The layer-by-layer engine: start from the statistics of one layer and map them to the output
//! with the exact affine map (§2) and a closure of the nonlinearity (§3), per class.
//!
//! A [`Propagator`] owns every buffer the loop writes: the affine map's stacked workspace and
//! the mean and covariance of each predicted stage. Each layer writes into its stage's buffers in
//! place and the next layer reads them there, so a run on a network whose shapes the propagator
//! has seen before allocates no N×N matrix (the closures keep only O(N) per-unit scratch).
//! Sweeps, benchmarks and repeated evaluations reuse one propagator; [`propagate`] is the
//! one-shot form.

use super::affine::{affine_moments, AffineStrategy, AffineWorkspace};
use super::closures::{Closure, ClosureMethod, Corrections, Fallbacks, Work};
use super::higher::hook::CarryHook;
use super::higher::pilot::{pilot_check, pilot_flops_per_sample};
use super::higher::Carry;
use super::layer_clock::LayerClock;
use super::pair::ClosurePair;
use super::single::{Finished, SinglePropagator, Start};
pub use super::stage::Predicted;
use crate::error::{Error, Field, Result};
use crate::linalg::on_pool;
use crate::net::{Layer, Mlp, Precision, Stage};
use crate::simd;
use crate::stats::{indefinite_beyond_rounding, lowest_eigenvalue_words, Moments, NarrowMoments};
use crate::timing::{affine_flops, Timings};
use rayon::prelude::*;

/// How to propagate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PropagateOptions {
    pub method: ClosureMethod,
    /// κ₃/κ₄ corrections (order 3 or 4) are applied at the first nonlinearity after the start
    /// layer, the only place where the κ slices are known (they come from the measured
    /// pre-activation; the slices alone cannot be mapped through a further affine layer,
    /// DESIGN.md §2).
    pub corrections: Corrections,
}

/// Propagates per-class moments from layer `from` (0 = the input x, l ≥ 1 = the post-activation
/// zˡ) to the output y. Returns every later stage: h^{from+1}, z^{from+1}, …, y.
///
/// `start[c]` are class c's moments of the start layer. With corrections (order 3 or 4),
/// `first_pre[c]` must hold the measured moments of h^{from+1} including their κ slices (at
/// order 4 also κ₄\[i,i,i,j\], except for the quadratic closure): the affine map is
/// exact for every cumulant, so measuring h^{from+1} equals mapping the start layer's full κ
/// tensors, which are never formed.
///
/// ```
/// use corrflow::net::{Activation, Mlp};
/// use corrflow::propagate::closures::{ClosureMethod, Corrections};
/// use corrflow::propagate::{propagate, PropagateOptions};
/// use corrflow::stats::Moments;
/// use faer::{Col, Mat};
///
/// // One class, x ~ N(0, I) in 3 dimensions, through a 3-4-2 relu network.
/// let net = Mlp::init(&[3, 4, 2], Activation::Relu, 1.0, 1)?;
/// let x = Moments::gaussian(Col::zeros(3), Mat::identity(3, 3));
/// let opts = PropagateOptions {
///     method: ClosureMethod::Auto,
///     corrections: Corrections::None,
/// };
/// let stages = propagate(&net, 0, &[x], None, opts)?;
/// // h¹, z¹ and y; y's covariance is W Cov(z¹) Wᵀ, positive on the diagonal.
/// assert_eq!(stages.len(), 3);
/// let y = stages[2].cov(0);
/// assert!(y[(0, 0)] > 0.0 && y[(1, 1)] > 0.0);
/// # Ok::<(), corrflow::Error>(())
/// ```
pub fn propagate(
    net: &Mlp,
    from: usize,
    start: &[Moments],
    first_pre: Option<&[Moments]>,
    opts: PropagateOptions,
) -> Result<Vec<Predicted>> {
    let mut engine = Propagator::new();
    engine.run(net, from, start, first_pre, opts, &Timings::disabled())?;
    Ok(engine.into_stages())
}

/// The propagation engine with its reusable buffers (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Propagator {
    ws: AffineWorkspace,
    stages: Vec<Predicted>,
    precision: Precision,
    single: SinglePropagator,
    fallbacks: Fallbacks,
    /// The hidden layer whose closure failed in the last carried run from the second carried
    /// layer on (its h held corrections carried into the z before), and the closure's own
    /// message: read by [`Propagator::run_carried_or_cut`].
    failed_carried: Option<(usize, String)>,
    /// The classes whose carried output covariance was indefinite beyond rounding in the last
    /// [`Propagator::run_carried_or_cut`] (or [`Propagator::run_hooked_or_cut`]), as the first
    /// run that had such an output left it: the run kept was cut instead.
    indefinite_carried: Vec<IndefiniteCarried>,
    /// Says once when the hidden layers still to come would run long (`layer_clock`).
    clock: LayerClock,
}

/// What [`Propagator::run_carried_or_cut`] does with a run whose carried output covariance is
/// indefinite beyond rounding ([`IndefiniteCarried`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputRule {
    /// Cut it (the run reported): at the first hidden layer whose z is indefinite beyond
    /// rounding, else one layer earlier each time, until the output is positive semidefinite
    /// (at the latest the Gaussian closure's run from the start).
    Cut,
    /// Keep it, and cut the run at hidden layer k from the start where `Some(k)`: the pilot's
    /// check of a reported run that was cut at k for its output, following the same path (its
    /// comparison of errors takes any covariance).
    Follow(Option<usize>),
}

/// A class whose output covariance Σ, as a carried run left it, had an eigenvalue below
/// −[`crate::stats::ROUNDING_LEVEL`]·tr Σ: no Gaussian has that covariance, the expansion broke down
/// (issue #16: fall back, saying so). [`Propagator::run_carried_or_cut`] cuts such a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IndefiniteCarried {
    /// The class's index among the run's classes.
    pub class: usize,
    /// The most negative eigenvalue of Σ.
    pub most_negative_eigenvalue: f64,
    /// tr Σ, for scale.
    pub trace: f64,
}

impl Propagator {
    /// An engine with empty buffers (f64, dense affine update); they are sized by the first run.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine whose [`Propagator::run`] computes in `precision` (f32: [`super::single`],
    /// Gaussian closure only; with κ₃/κ₄ corrections it runs in f64) and updates f64
    /// covariances by `affine` (the f32 path always updates densely).
    pub fn with_settings(precision: Precision, affine: AffineStrategy) -> Self {
        Propagator {
            ws: AffineWorkspace::with_strategy(affine),
            precision,
            ..Self::default()
        }
    }

    /// [`propagate`] into this engine's buffers, recording the time of the "affine" (with its
    /// flops) and "closure" stages: returns the stages h^{from+1}, z^{from+1}, …, y, valid until
    /// the next run. On error the stages hold no meaningful values.
    pub fn run(
        &mut self,
        net: &Mlp,
        from: usize,
        start: &[Moments],
        first_pre: Option<&[Moments]>,
        opts: PropagateOptions,
        timings: &Timings,
    ) -> Result<&[Predicted]> {
        check_start(net, from, &dims(start))?;
        let pairs = ClosurePair::for_layers(net, opts.method, true)?;
        let closures: Vec<&dyn Closure> = pairs.iter().map(|p| p.closure.as_ref()).collect();
        if self.precision == Precision::F32 && opts.corrections == Corrections::None {
            let start = Start::Wide(start);
            start.check_f32_range(Stage::start(from))?;
            self.run_single(net, from, start, opts.method, &closures, timings, None)?;
            for p in &self.stages {
                check_finite(p, net.depth(), F32_PRODUCED)?;
            }
            return Ok(&self.stages);
        }
        self.run_closure(
            net,
            from,
            start,
            first_pre,
            &closures,
            opts.corrections,
            timings,
        )
    }

    /// [`Propagator::run`] at f32 without κ corrections from `start` held in f32 (measured
    /// statistics, `stats::narrow`; released once the first layer has read it), streamed: each stage h^{from+1}, z^{from+1}, …, y is
    /// checked to be finite and handed to `finished` as soon as the engine no longer reads it,
    /// and its covariances are then released (the stages keep their means), so the run holds
    /// the Σ of at most two layers' stages instead of every stage's. The numbers handed over are
    /// those [`Propagator::run`] returns from the f64 start these were rounded from. An error
    /// for an engine not set to f32.
    pub fn run_streamed(
        &mut self,
        net: &Mlp,
        from: usize,
        start: NarrowMoments,
        method: ClosureMethod,
        timings: &Timings,
        finished: &mut Finished<'_>,
    ) -> Result<()> {
        if self.precision != Precision::F32 {
            return Err(Error::Unsupported(
                "a streamed propagation runs in f32: the engine is set to f64".into(),
            ));
        }
        let start = Start::Narrow(start);
        check_start(net, from, &start.dims())?;
        let pairs = ClosurePair::for_layers(net, method, true)?;
        let closures: Vec<&dyn Closure> = pairs.iter().map(|p| p.closure.as_ref()).collect();
        let depth = net.depth();
        let mut checked = |p: &Predicted| {
            check_finite(p, depth, F32_PRODUCED)?;
            finished(p)
        };
        self.run_single(
            net,
            from,
            start,
            method,
            &closures,
            timings,
            Some(&mut checked),
        )
    }

    /// The f32 engine ([`SinglePropagator`]) from `start` into this engine's stages, each
    /// stage handed to `finished` as soon as it is ready when there is one
    /// ([`Propagator::run_streamed`]).
    #[allow(clippy::too_many_arguments)]
    fn run_single(
        &mut self,
        net: &Mlp,
        from: usize,
        start: Start<'_>,
        method: ClosureMethod,
        closures: &[&dyn Closure],
        timings: &Timings,
        finished: Option<&mut Finished<'_>>,
    ) -> Result<()> {
        self.fallbacks = Fallbacks::default();
        shape_stages(&mut self.stages, from, net.depth(), start.classes());
        let (single, stages) = (&mut self.single, &mut self.stages);
        single.run(
            net,
            from,
            start,
            method,
            closures,
            stages,
            (timings, &mut self.clock),
            finished,
        )
    }

    /// [`Propagator::run`] with given closures, `closures[l − 1]` that of hidden layer l's φ
    /// (one per hidden layer). Every stage is kept until
    /// the next run, the pre-activations (without κ slices) included: they are what the reverse
    /// pass through the closures needs (the cumulant objective reads them).
    #[allow(clippy::too_many_arguments)]
    pub fn run_closure(
        &mut self,
        net: &Mlp,
        from: usize,
        start: &[Moments],
        first_pre: Option<&[Moments]>,
        closures: &[&dyn Closure],
        first_corrections: Corrections,
        timings: &Timings,
    ) -> Result<&[Predicted]> {
        let first = (first_pre, first_corrections);
        self.run_inner(net, from, start, first, None, closures, timings)
    }

    /// [`Propagator::run`] carrying κ₃ (order 3) or κ₃ and κ₄ (order 4) through every layer
    /// from the start layer's tensors in `carry` ([`super::higher`]): each h^l gets its κ slices,
    /// each z^l the chaos rule's Δm, ΔC added to the Gaussian closure's mean and covariance, and
    /// y its κ slices. Where the expansion breaks down at a layer that layer runs Gaussian; where
    /// the carry abandons the run ([`Carry::abandons_run`]: its series diverged, and its first
    /// closure got no correction) the whole run is the Gaussian closure's from `start`, run
    /// again without the carry; an error of the carried run's layers after the divergence (a
    /// variance of h that undoing the last correction does not make non-negative) is then not
    /// the run's, as those layers are discarded. With a pilot ([`Carry::with_pilot`]) a run
    /// the carry kept is checked against draws of the start pushed through the network
    /// ([`super::higher::pilot`]; timed as "pilot"), and abandoned the same way where its
    /// output is significantly worse than the Gaussian closure's. [`Carry::fallback`] says
    /// where. The carried tensors of y stay in `carry`.
    pub fn run_carried(
        &mut self,
        net: &Mlp,
        from: usize,
        start: &[Moments],
        carry: &mut Carry,
        method: ClosureMethod,
        timings: &Timings,
    ) -> Result<&[Predicted]> {
        let carried = self
            .run_hooked(net, from, start, carry, method, timings)
            .map(|_| ());
        if !carry.abandons_run() {
            carried?;
            if let Some(pilot) = carry.pilot() {
                let ours = self.stages.last().map(|y| y.f64_moments()).transpose()?;
                let ours = ours.unwrap_or_default();
                let flops =
                    pilot.samples as f64 * start.len() as f64 * pilot_flops_per_sample(net, from);
                let verdict = timings.time("pilot", flops, || {
                    let opts = PropagateOptions {
                        method,
                        corrections: Corrections::None,
                    };
                    let mut gauss = Propagator::new();
                    gauss.run(net, from, start, None, opts, &Timings::disabled())?;
                    let theirs = gauss.stages.last().map(|y| y.f64_moments()).transpose()?;
                    pilot_check(net, from, start, ours, theirs.unwrap_or_default(), pilot)
                })?;
                carry.record_pilot(verdict);
            }
            if !carry.abandons_run() {
                return Ok(&self.stages);
            }
        }
        let pairs = ClosurePair::for_layers(net, method, true)?;
        let closures: Vec<&dyn Closure> = pairs.iter().map(|p| p.closure.as_ref()).collect();
        let first = (None, Corrections::None);
        self.run_inner(net, from, start, first, None, &closures, timings)
    }

    /// [`Propagator::run_carried`] that falls back instead of failing where the carried
    /// corrections break the run (issue #16: never worse than the Gaussian at any depth). A
    /// closure of hidden layer l ≥ from + 2 can fail (a negative variance of h^l) when the
    /// corrections added to earlier z's left a covariance indefinite — the Gaussian closure's
    /// covariance of a PSD h is PSD and the affine map keeps it so, but a correction ΔC is not
    /// PSD, and [`Carry::abandons_run`] / the undo of the last correction do not cover those of
    /// a run whose first closure was corrected from measured cumulants. Then the run is made
    /// again from a new carry (`make`, which must build the same one) cut at hidden layer k
    /// ([`CarryHook::set_cut`]): the carried run up to z^{k−1}, the Gaussian closure alone from
    /// h^k on, k being the first layer below l whose z is indefinite beyond rounding
    /// (`indefinite`), else l − 1 (the z that fed h^l); should that run fail too, k moves
    /// down, to from + 1 at the latest (the Gaussian closure's run from the start). The cut and
    /// why are listed among the carry's fallbacks ([`Carry::cut_at`]). Runs that do not fail
    /// are [`Propagator::run_carried`]'s. With [`OutputRule::Cut`] a run that does not fail
    /// but leaves an output covariance indefinite beyond rounding (an eigenvalue below
    /// −[`crate::stats::ROUNDING_LEVEL`]·tr Σ: the expansion broke down, no Gaussian has it) is cut the same
    /// way — at the first hidden layer whose z is indefinite, else one layer earlier each time
    /// — until the output is positive semidefinite (issue #16: fall back, saying so; measured
    /// against the alternatives in EXPERIMENTS.md "Indefinite carried outputs fall back,
    /// twenty-ninth session (psd29)"); [`Propagator::indefinite_carried`] lists the classes
    /// and the cut says why. Returns the carry of the run kept; its stages are the engine's.
    pub fn run_carried_or_cut(
        &mut self,
        net: &Mlp,
        from: usize,
        start: &[Moments],
        (make, rule): (&mut dyn FnMut() -> Result<Carry>, OutputRule),
        method: ClosureMethod,
        timings: &Timings,
    ) -> Result<Carry> {
        self.run_or_cut(from, (make, rule), &mut |engine, carry| {
            engine
                .run_carried(net, from, start, carry, method, timings)
                .map(|_| ())
        })
    }

    /// [`Propagator::run_carried_or_cut`] for any [`CarryHook`] run by
    /// [`Propagator::run_hooked`] (the leading-unit
    /// [`super::higher::subset::SubsetCarry`]): the same cut, found the same way.
    pub fn run_hooked_or_cut<H: CarryHook>(
        &mut self,
        net: &Mlp,
        from: usize,
        start: &[Moments],
        (make, rule): (&mut dyn FnMut() -> Result<H>, OutputRule),
        method: ClosureMethod,
        timings: &Timings,
    ) -> Result<H> {
        self.run_or_cut(from, (make, rule), &mut |engine, carry| {
            engine
                .run_hooked(net, from, start, carry, method, timings)
                .map(|_| ())
        })
    }

    /// The loop of [`Propagator::run_carried_or_cut`]: `run` runs a carry from `from`.
    fn run_or_cut<H: CarryHook>(
        &mut self,
        from: usize,
        (make, rule): (&mut dyn FnMut() -> Result<H>, OutputRule),
        run: &mut dyn FnMut(&mut Propagator, &mut H) -> Result<()>,
    ) -> Result<H> {
        let mut cut: Option<(usize, String)> = match rule {
            OutputRule::Follow(Some(k)) => Some((
                k,
                "the run checked was cut here, its carried output covariance being not \
                 positive semidefinite: the same path; the Gaussian closure alone from here on"
                    .to_string(),
            )),
            OutputRule::Cut | OutputRule::Follow(None) => None,
        };
        self.indefinite_carried.clear();
        loop {
            let mut carry = make()?;
            if let Some((k, reason)) = &cut {
                carry.set_cut(*k, reason.clone());
            }
            let err = match run(self, &mut carry) {
                Ok(()) => {
                    // An output covariance indefinite beyond rounding: no Gaussian has it, the
                    // expansion broke down. Cut as for a failed closure, unless the run is
                    // already the Gaussian closure's from the start (cut at from + 1).
                    let end = cut
                        .as_ref()
                        .map_or(from + self.stages.len().div_ceil(2), |c| c.0);
                    let found = indefinite_outputs(self.stages.last())?;
                    let cuts = rule == OutputRule::Cut && end > from + 1;
                    let Some(worst) = found.first().copied().filter(|_| cuts) else {
                        return Ok(carry);
                    };
                    if self.indefinite_carried.is_empty() {
                        self.indefinite_carried = found;
                    }
                    let (k, z) = self.first_indefinite_z(from, end);
                    let IndefiniteCarried {
                        class,
                        most_negative_eigenvalue: lambda,
                        trace,
                    } = worst;
                    cut = Some((
                        k,
                        format!(
                            "class {class}: the output covariance with the carried corrections \
                             is not positive semidefinite ({}){z}: the series broke down; the \
                             Gaussian closure alone from h{k} on",
                            lowest_eigenvalue_words(lambda, trace)
                        ),
                    ));
                    continue;
                }
                Err(e) => e,
            };
            let Some((l, cause)) = self.failed_carried.take() else {
                return Err(err);
            };
            // Layers below the failing one and below the last cut, whose z the failed run wrote.
            let below = cut.as_ref().map_or(l, |c| c.0.min(l));
            let found = self.indefinite_z(from, below);
            let (k, why) = match found {
                Some((j, c, lambda)) => (
                    j,
                    format!(
                        "class {c}: z{j}'s covariance with its carried correction is indefinite \
                         (smallest eigenvalue {lambda:.3e})"
                    ),
                ),
                None => (
                    below - 1,
                    format!(
                        "the corrections carried into z{} and before left a later covariance \
                         indefinite",
                        below - 1
                    ),
                ),
            };
            cut = Some((
                k,
                format!(
                    "{why}, so that the closure of h{l} failed ({cause}): the series broke down; \
                     the Gaussian closure alone from h{k} on"
                ),
            ));
        }
    }

    /// The first hidden layer j in from + 1 .. `below` whose z^j the last run left indefinite
    /// beyond rounding ([`indefinite`]), with the class and smallest eigenvalue found there.
    fn indefinite_z(&self, from: usize, below: usize) -> Option<(usize, usize, f64)> {
        (from + 1..below).find_map(|j| {
            let z = &self.stages[2 * (j - from - 1) + 1];
            z.per_class
                .iter()
                .enumerate()
                .find_map(|(c, m)| indefinite(m).map(|lambda| (j, c, lambda)))
        })
    }

    /// Where to cut a run whose output was indefinite and which carried up to hidden layer
    /// `end` (exclusive; the depth + 1 when it was not cut): at the first layer whose z is
    /// indefinite beyond rounding (the run up to the PSD z before it is kept: its Gaussian
    /// closure's covariances are then PSD to y), else one layer earlier than `end`. Returns
    /// the layer and the clause that says why.
    fn first_indefinite_z(&self, from: usize, end: usize) -> (usize, String) {
        match self.indefinite_z(from, end) {
            Some((j, _, lambda)) => (
                j,
                format!(
                    ", z{j}'s covariance with its carried correction being indefinite \
                     (smallest eigenvalue {lambda:.3e})"
                ),
            ),
            None => (end - 1, String::new()),
        }
    }

    /// The classes whose carried output covariance the last [`Propagator::run_carried_or_cut`]
    /// (or [`Propagator::run_hooked_or_cut`]) found indefinite beyond rounding before it cut
    /// the run (empty where it kept the run as carried).
    pub fn indefinite_carried(&self) -> &[IndefiniteCarried] {
        &self.indefinite_carried
    }

    /// [`Propagator::run_carried`] with any [`CarryHook`] (the full tensors' [`Carry`] or the
    /// leading-unit [`super::higher::subset::SubsetCarry`]).
    pub fn run_hooked(
        &mut self,
        net: &Mlp,
        from: usize,
        start: &[Moments],
        carry: &mut dyn CarryHook,
        method: ClosureMethod,
        timings: &Timings,
    ) -> Result<&[Predicted]> {
        check_start(net, from, &dims(start))?;
        carry.check(net, from, start.len())?;
        let pairs = ClosurePair::for_layers(net, method, true)?;
        let closures: Vec<&dyn Closure> = pairs.iter().map(|p| p.closure.as_ref()).collect();
        let first = (None, Corrections::None);
        self.run_inner(net, from, start, first, Some(carry), &closures, timings)
    }

    /// The layer loop of [`Propagator::run_closure`] and [`Propagator::run_carried`], on a
    /// thread of rayon's pool ([`on_pool`]).
    #[allow(clippy::too_many_arguments)]
    fn run_inner(
        &mut self,
        net: &Mlp,
        from: usize,
        start: &[Moments],
        first: (Option<&[Moments]>, Corrections),
        carry: Option<&mut dyn CarryHook>,
        closures: &[&dyn Closure],
        timings: &Timings,
    ) -> Result<&[Predicted]> {
        on_pool(move || self.run_layers(net, from, start, first, carry, closures, timings))
    }

    /// [`Propagator::run_inner`] on the calling thread.
    #[allow(clippy::too_many_arguments)]
    fn run_layers(
        &mut self,
        net: &Mlp,
        from: usize,
        start: &[Moments],
        (first_pre, first_corrections): (Option<&[Moments]>, Corrections),
        mut carry: Option<&mut dyn CarryHook>,
        closures: &[&dyn Closure],
        timings: &Timings,
    ) -> Result<&[Predicted]> {
        check_start(net, from, &dims(start))?;
        if closures.len() != net.depth() {
            return Err(Error::Shape(format!(
                "{} closures for a network of {} hidden layers",
                closures.len(),
                net.depth()
            )));
        }
        let depth = net.depth();
        let classes = start.len();
        shape_stages(&mut self.stages, from, depth, classes);
        // Every stage in f64 (an f32 engine runs here with κ corrections).
        self.stages.iter_mut().for_each(|p| {
            p.single.clear();
            p.f32_rounding = 0.0;
            p.f32_fresh = 0.0;
        });
        let Propagator {
            ws,
            stages,
            fallbacks,
            failed_carried,
            clock,
            ..
        } = self;
        *fallbacks = Fallbacks::default();
        *failed_carried = None;
        // A cut carry ([`CarryHook::set_cut`]) is not called from its cut on.
        let cut = carry.as_deref().and_then(|c| c.cut());
        let carries = |l: usize| cut.is_none_or(|k| l < k);
        for l in from + 1..=depth {
            let layer = &net.layers[l - 1];
            let (done, rest) = stages.split_at_mut(2 * (l - from - 1));
            let current = done.last().map_or(start, |p| p.per_class.as_slice());
            let [pre, post, ..] = rest else {
                unreachable!("shape_stages made two stages per hidden layer")
            };
            clock.start();
            timed_affine(layer, current, &mut pre.per_class, ws, timings)?;
            check_finite(pre, depth, "the affine map")?;
            let corrections = if l == from + 1 {
                first_corrections
            } else {
                Corrections::None
            };
            if corrections != Corrections::None {
                attach_kappa(&mut pre.per_class, first_pre, l)?;
            }
            if let Some(c) = carry.as_deref_mut().filter(|_| carries(l)) {
                // The carry works in natural units.
                pre.per_class
                    .iter_mut()
                    .for_each(Moments::slices_to_natural_units);
                c.enter(l, layer, &mut pre.per_class, timings)?;
            }
            let closure = closures[l - 1];
            // From the second layer on, a carried run's h holds the corrections carried into z
            // of the layers before: a closure's numerical error (a negative variance of h) is
            // theirs, and the message says so and names the way around them.
            let carried = carry.is_some() && l > from + 1 && carries(from + 1);
            // Without a carry, the first closure's corrections (from measured κ slices) are the
            // only ones; a later closure's numerical error is theirs, named with the order.
            let corrected_first =
                carry.is_none() && l > from + 1 && first_corrections != Corrections::None;
            let foreseen: Option<Work> =
                pre.per_class.iter().map(|h| closure.foreseen_work(h)).sum();
            // The corrections' terms (measured or carried κ slices) are not counted.
            let corrected = corrections != Corrections::None || (carry.is_some() && carries(l));
            if let Some(work) = foreseen.map(|w| w.with_more(corrected)) {
                let threads = rayon::current_num_threads();
                let (name, classes) = (closure.name(), pre.per_class.len());
                clock.foresee((l, &name, classes), work, threads, timings);
            }
            // Classes side by side (each closure is parallel over its pairs too): the per-class
            // serial parts (unit moments, tables, zeroing) overlap. Results and errors in class order.
            timings
                .time("closure", 0.0, || {
                    let counts: Vec<Result<Fallbacks>> = pre
                        .per_class
                        .par_iter()
                        .zip(post.per_class.par_iter_mut())
                        .map(|(h, z)| closure.apply_counted_in_slice_units(h, corrections, z))
                        .collect();
                    counts.into_iter().enumerate().try_for_each(|(c, count)| {
                        *fallbacks = fallbacks.plus(count.map_err(|e| (c, e))?);
                        Ok(())
                    })
                })
                .map_err(|(c, e)| match e {
                    Error::Numeric(msg) if corrected_first => {
                        let k = from + 1;
                        let order = first_corrections.order();
                        let why = match indefinite(&done[2 * (k - from - 1) + 1].per_class[c]) {
                            Some(lambda) => format!(
                                "z{k}'s covariance with the corrections is indefinite (smallest \
                                 eigenvalue {lambda:.3e}), "
                            ),
                            None => String::new(),
                        };
                        let kappa = if order == 3 { "κ₃" } else { "κ₃/κ₄" };
                        Error::Numeric(format!(
                            "stage h{l} (layer {l}), class {c}, after the {kappa} corrections of \
                             --order {order} at layer {k}: {why}{msg}; expected a covariance the \
                             next closure can take: --order 2 (no correction) runs, or try \
                             --carry depth, whose carry falls back to the Gaussian closure where \
                             the corrections break the series"
                        ))
                    }
                    Error::Numeric(msg) if carried => {
                        let e = Error::Numeric(format!(
                            "stage h{l} (layer {l}), after the κ₃/κ₄ corrections carried from \
                             layer {from} into z{} (--carry depth): {msg}; with --carry first or \
                             --order 2 no carried correction enters",
                            l - 1
                        ));
                        *failed_carried = Some((l, msg));
                        e
                    }
                    e => e,
                })?;
            if let Some(c) = carry.as_deref_mut().filter(|_| carries(l)) {
                c.leave(
                    l,
                    net.activation.at(l - 1),
                    &mut pre.per_class,
                    &mut post.per_class,
                    timings,
                )?;
            } else {
                for m in &mut pre.per_class {
                    m.clear_slices();
                }
            }
            check_finite(post, depth, "the closure").map_err(|e| beyond_range(e, pre, l))?;
            clock.finish(l, depth, timings);
        }
        let readout = net.layers.last().expect("validated network has a read-out");
        let (done, y) = stages.split_at_mut(2 * (depth - from));
        let current = done.last().map_or(start, |p| p.per_class.as_slice());
        timed_affine(readout, current, &mut y[0].per_class, ws, timings)?;
        if let Some(c) = carry.filter(|_| cut.is_none()) {
            c.readout(readout, &mut y[0].per_class, timings)?;
        }
        check_finite(&y[0], depth, "the read-out's affine map")?;
        Ok(stages)
    }

    /// How many units and pairs the last run's corrections left Gaussian, summed over classes
    /// ([`Fallbacks`]; all zero at order 2).
    pub fn fallbacks(&self) -> Fallbacks {
        self.fallbacks
    }

    /// The stages of the last run (h^{from+1}, z^{from+1}, …, y), valid until the next.
    pub fn stages(&self) -> &[Predicted] {
        &self.stages
    }

    /// The stages of the last run, moved out.
    pub fn into_stages(self) -> Vec<Predicted> {
        self.stages
    }

    /// The stages of the last run, moved out, the engine keeping its buffers: for a caller that
    /// releases them (hundreds of MB at N = 1000, whose unmapping takes milliseconds) only once
    /// its work on the stages is done.
    pub fn take_stages(&mut self) -> Vec<Predicted> {
        std::mem::take(&mut self.stages)
    }
}

/// The exact affine map of every class through `layer`, timed as "affine" with its flops.
fn timed_affine(
    layer: &Layer,
    inputs: &[Moments],
    outputs: &mut [Moments],
    ws: &mut AffineWorkspace,
    timings: &Timings,
) -> Result<()> {
    let flops = affine_flops(layer.fan_out(), layer.fan_in(), inputs.len());
    timings.time("affine", flops, || {
        affine_moments(layer.w.as_ref(), layer.b.as_ref(), inputs, outputs, ws)
    })
}

/// Covariance entries of a stage from which [`check_finite`] scans its classes in parallel
/// (2²⁰ entries are 8 MB, ~0.4 ms on one thread: more than waking the pool costs).
const PARALLEL_SCAN_ENTRIES: usize = 1 << 20;

/// Errors when a predicted stage holds a non-finite mean or covariance entry (overflow of a huge
/// weight, a closure's breakdown), naming the stage, its layer, the class and the map that
/// produced it, so that no NaN or ∞ is passed on to the next layer or to the output.
fn check_finite(p: &Predicted, depth: usize, produced_by: &str) -> Result<()> {
    // A scan on SIMD lanes first (`Moments::first_non_finite`, `simd::all_finite_f32`); locate
    // only on failure. Classes in parallel when the stage is large (10 classes of 1000² are
    // 80 MB, a few ms on one thread); the first bad class in order is the one reported either
    // way.
    let scan = |(c, m): (usize, &Moments)| m.first_non_finite().map(|w| (c, w));
    let entries: usize = p
        .per_class
        .iter()
        .map(|m| m.cov.nrows() * m.cov.ncols())
        .sum();
    let bad_f64 = if entries >= PARALLEL_SCAN_ENTRIES {
        p.per_class.par_iter().enumerate().find_map_first(scan)
    } else {
        p.per_class.iter().enumerate().find_map(scan)
    };
    let bad_f32 = || {
        p.single.iter().enumerate().find_map(|(c, s)| {
            (0..s.ncols()).find_map(|j| {
                let col = s.col_as_slice(j);
                if simd::all_finite_f32(col) {
                    return None;
                }
                let i = col.iter().position(|v| !v.is_finite())?;
                Some((c, format!("covariance ({i}, {j}) = {} (f32)", col[i])))
            })
        })
    };
    if let Some((c, what)) = bad_f64.or_else(bad_f32) {
        return Err(Error::Numeric(format!(
            "stage {} (layer {}), class {c}: {what}, produced by {produced_by}",
            p.stage,
            p.stage.layer(depth),
        )));
    }
    Ok(())
}

/// The largest second moment mean² + variance of a closure's input h^l up to which the closures
/// are finite: (f64::MAX)^(1/2) = 1.3e154. Measured (twenty-fourth session): gelu and silu
/// XOR networks (8, 8) scaled until their closure's output turned NaN did so where h²'s
/// largest mean² + variance crossed 1.3e154–2.8e154 (the series' products of two such moments
/// overflow); a network that large overflows the output's comparison anyway (the squared
/// covariance entries of y, beyond 10³⁰⁸ from weights ×10³⁰ on).
const CLOSURE_RANGE: f64 = 1.3407807929942596e154;

/// A closure's non-finite output `e` completed with the size of its input h`l` where that is
/// beyond [`CLOSURE_RANGE`] (an input within it keeps `e` as it is): what the closures take,
/// and what was found.
fn beyond_range(e: Error, pre: &Predicted, l: usize) -> Error {
    let Error::Numeric(msg) = e else { return e };
    let largest = pre
        .per_class
        .iter()
        .enumerate()
        .flat_map(|(c, m)| (0..m.dim()).map(move |a| (m.mean[a] * m.mean[a] + m.cov[(a, a)], c, a)))
        .fold(
            (0.0f64, 0, 0),
            |best, x| if x.0 > best.0 { x } else { best },
        );
    let (second, c, a) = largest;
    if second.is_nan() || second <= CLOSURE_RANGE {
        return Error::Numeric(msg);
    }
    Error::Numeric(format!(
        "{msg}: its input h{l} has a second moment mean² + variance of {second:.2e} (class {c}, \
         unit {a}), beyond the {CLOSURE_RANGE:.2e} = (1.8e308)^(1/2) the closures take (their \
         products of two such moments overflow f64); expected smaller pre-activations (rescale \
         the model's weights or the inputs)"
    ))
}

/// What [`check_finite`] says produced a non-finite f32 result: the output's read-out, widened
/// from f32, named the f32 propagation without its range or the remedy (twenty-first session).
const F32_PRODUCED: &str = "the f32 propagation (f32 overflows above 3.4e38; use --precision f64)";

/// The smallest eigenvalue of `m`'s covariance where it is below −64ε·N·max_a(m_a² + Σ_aa),
/// the rounding of a closure's covariance (the closures' own floor on a variance,
/// −64ε·(mean² + largest variance), times N for an eigenvalue of an N×N perturbation); None
/// for a covariance PSD to rounding (or whose eigenvalues could not be found).
fn indefinite(m: &Moments) -> Option<f64> {
    let n = m.dim();
    let scale = (0..n)
        .map(|a| m.mean[a] * m.mean[a] + m.cov[(a, a)].abs())
        .fold(0.0, f64::max);
    let floor = -64.0 * f64::EPSILON * n as f64 * scale;
    let lambda = m
        .cov
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .ok()?
        .first()
        .copied()?;
    (lambda < floor).then_some(lambda)
}

/// The classes of the output stage `y` whose covariance Σ has an eigenvalue below
/// −[`crate::stats::ROUNDING_LEVEL`]·|tr Σ| (K × K, K the outputs: cheap), the most negative first.
fn indefinite_outputs(y: Option<&Predicted>) -> Result<Vec<IndefiniteCarried>> {
    let Some(y) = y else { return Ok(Vec::new()) };
    let mut found = Vec::new();
    for class in 0..y.classes() {
        let what = format!("the output covariance of class {class}");
        if let Some((lowest, trace)) = indefinite_beyond_rounding((*y.cov(class)).as_ref(), &what)?
        {
            found.push(IndefiniteCarried {
                class,
                most_negative_eigenvalue: lowest,
                trace,
            });
        }
    }
    found.sort_by(|a, b| {
        a.most_negative_eigenvalue
            .total_cmp(&b.most_negative_eigenvalue)
    });
    Ok(found)
}

/// Every class's dimension of `start`.
fn dims(start: &[Moments]) -> Vec<usize> {
    start.iter().map(Moments::dim).collect()
}

/// Checks the start layer index and the start statistics' dimension (`dims`, one per class).
fn check_start(net: &Mlp, from: usize, dims: &[usize]) -> Result<()> {
    let depth = net.depth();
    if from > depth {
        return Err(Error::config(
            Field::FromLayer,
            format!("{from} is beyond the last hidden layer ({depth})"),
        ));
    }
    let width = if from == 0 {
        net.input_dim()
    } else {
        net.layers[from - 1].fan_out()
    };
    if let Some(bad) = dims.iter().find(|&&d| d != width) {
        return Err(Error::Shape(format!(
            "start statistics have dimension {bad} but layer {from} has width {width}"
        )));
    }
    Ok(())
}

/// Labels the stages h^{from+1}, z^{from+1}, …, y with `classes` slots each, keeping the
/// buffers already there (their sizes are fitted by the maps that write them).
fn shape_stages(stages: &mut Vec<Predicted>, from: usize, depth: usize, classes: usize) {
    let labels = (from + 1..=depth)
        .flat_map(|l| [Stage::Pre(l), Stage::Post(l)])
        .chain([Stage::Output]);
    stages.truncate(2 * (depth - from) + 1);
    for (k, stage) in labels.enumerate() {
        if k == stages.len() {
            stages.push(Predicted::new(stage));
        }
        stages[k].stage = stage;
        stages[k].per_class.resize_with(classes, || {
            Moments::gaussian(faer::Col::zeros(0), faer::Mat::zeros(0, 0))
        });
    }
}

/// Copies the measured κ slices of h^l into the propagated moments of h^l.
fn attach_kappa(pre: &mut [Moments], measured: Option<&[Moments]>, l: usize) -> Result<()> {
    let measured = measured.ok_or_else(|| {
        Error::Unsupported(format!(
            "κ₃/κ₄ corrections need the measured κ slices of h{l}; none were given"
        ))
    })?;
    if measured.len() != pre.len() {
        return Err(Error::Shape(format!(
            "κ slices for {} classes, propagating {}",
            measured.len(),
            pre.len()
        )));
    }
    for (p, m) in pre.iter_mut().zip(measured) {
        let (Some(k3), Some(k4)) = (m.k3_iij(), m.k4_iijj()) else {
            return Err(Error::Unsupported(format!(
                "the statistics of h{l} carry no κ slices"
            )));
        };
        if k3.nrows() != p.dim() {
            return Err(Error::Shape(format!(
                "κ slices of h{l} are {}×{}, the layer has width {}",
                k3.nrows(),
                k3.ncols(),
                p.dim()
            )));
        }
        p.set_slices(
            (Some(k3.clone()), Some(k4.clone()), m.k4_iiij().cloned()),
            m.slice_unit(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use faer::{Col, Mat};

    /// A carry that adds `delta` to z^`layer`'s covariance (every class), as a carried
    /// correction ΔC would, and records where it was cut.
    struct AddToZ {
        layer: usize,
        delta: Mat<f64>,
        cut: Option<(usize, String)>,
    }

    impl CarryHook for AddToZ {
        fn check(&mut self, _: &Mlp, _: usize, _: usize) -> Result<()> {
            Ok(())
        }
        fn enter(&mut self, _: usize, _: &Layer, _: &mut [Moments], _: &Timings) -> Result<()> {
            Ok(())
        }
        fn leave(
            &mut self,
            l: usize,
            _: crate::net::Activation,
            _: &mut [Moments],
            post: &mut [Moments],
            _: &Timings,
        ) -> Result<()> {
            if l == self.layer {
                for m in post {
                    m.cov += &self.delta;
                }
            }
            Ok(())
        }
        fn readout(&mut self, _: &Layer, _: &mut [Moments], _: &Timings) -> Result<()> {
            Ok(())
        }
        fn cut(&self) -> Option<usize> {
            self.cut.as_ref().map(|c| c.0)
        }
        fn set_cut(&mut self, k: usize, reason: String) {
            self.cut = Some((k, reason));
        }
    }

    /// A linear 2-2-2-2 network with identity weights from x ~ N(0, I): z¹ = z² = y = x
    /// without a carry. A carry adding diag(0, −1.5) to z² leaves y's covariance diag(1, −0.5),
    /// indefinite beyond rounding: the run is cut at the first indefinite z, z² (the carry
    /// to z¹ kept, the Gaussian closure from h² on), y is diag(1, 1) again, and the engine lists
    /// the class with its eigenvalue −0.5 and trace 0.5. A carry leaving a variance of −10⁻¹³
    /// in z² (and y: an eigenvalue of −10⁻¹³·tr Σ, rounding, although beyond the floor of
    /// [`indefinite`] for a z) is kept as carried. With
    /// [`OutputRule::Follow`] the indefinite run is kept (or cut where told).
    #[test]
    fn an_output_indefinite_beyond_rounding_is_cut_one_at_rounding_is_not() {
        let mut net = Mlp::init(&[2, 2, 2, 2], Activation::Linear, 1.0, 1).unwrap();
        for layer in &mut net.layers {
            layer.w = Mat::identity(2, 2);
            layer.b = Col::zeros(2);
        }
        let x = [Moments::gaussian(Col::zeros(2), Mat::identity(2, 2))];
        let diag = |a: f64, b: f64| Mat::from_fn(2, 2, |i, j| [[a, 0.0], [0.0, b]][i][j]);
        let run = |layer: usize, delta: Mat<f64>, rule: OutputRule| {
            let mut engine = Propagator::new();
            let mut make = || {
                Ok(AddToZ {
                    layer,
                    delta: delta.clone(),
                    cut: None,
                })
            };
            let t = Timings::disabled();
            let hook = engine
                .run_hooked_or_cut(&net, 0, &x, (&mut make, rule), ClosureMethod::Auto, &t)
                .unwrap();
            let y = engine.stages().last().unwrap().cov(0).into_owned();
            (hook.cut, engine.indefinite_carried().to_vec(), y)
        };
        let (cut, found, y) = run(2, diag(0.0, -1.5), OutputRule::Cut);
        let (k, why) = cut.expect("an indefinite output is cut");
        assert_eq!(k, 2, "{why}");
        assert!(
            why.contains("not positive semidefinite") && why.contains("z2"),
            "{why}"
        );
        assert_eq!(found.len(), 1);
        assert!(
            (found[0].most_negative_eigenvalue + 0.5).abs() < 1e-12,
            "{found:?}"
        );
        assert!((found[0].trace - 0.5).abs() < 1e-12, "{found:?}");
        assert!((&y - &diag(1.0, 1.0)).norm_max() < 1e-12, "{y:?}");

        let (cut, found, y) = run(2, diag(0.0, -1.0 - 1e-13), OutputRule::Cut);
        assert!(cut.is_none() && found.is_empty(), "{cut:?} {found:?}");
        assert!((&y - &diag(1.0, -1e-13)).norm_max() < 1e-15, "{y:?}");

        let (cut, found, y) = run(2, diag(0.0, -1.5), OutputRule::Follow(None));
        assert!(cut.is_none() && found.is_empty(), "{cut:?} {found:?}");
        assert!((&y - &diag(1.0, -0.5)).norm_max() < 1e-12, "{y:?}");
        let (cut, _, y) = run(2, diag(0.0, -1.5), OutputRule::Follow(Some(2)));
        assert_eq!(cut.map(|c| c.0), Some(2));
        assert!((&y - &diag(1.0, 1.0)).norm_max() < 1e-12, "{y:?}");
    }

    /// The first class in order with a non-finite entry is reported, with the entry, on both
    /// the serial scan of a small stage and the parallel scan of a large one; a finite stage
    /// passes.
    #[test]
    fn check_finite_reports_the_first_bad_class_and_entry() {
        for n in [8, 400] {
            let classes = 10;
            assert_eq!(
                n * n * classes >= PARALLEL_SCAN_ENTRIES,
                n == 400,
                "one small and one large stage"
            );
            let moments = |c: usize| {
                let cov = Mat::from_fn(n, n, |i, j| if i == j { 1.0 + c as f64 } else { 0.25 });
                Moments::gaussian(Col::from_fn(n, |i| i as f64), cov)
            };
            let mut per_class: Vec<Moments> = (0..classes).map(moments).collect();
            let stage = Stage::Post(1);
            assert!(
                check_finite(&Predicted::from_classes(stage, per_class.clone()), 2, "x").is_ok()
            );
            per_class[7].cov[(3, 5)] = f64::INFINITY;
            per_class[4].cov[(n - 1, 2)] = f64::NAN;
            per_class[9].mean[1] = f64::NAN;
            let err = check_finite(&Predicted::from_classes(stage, per_class), 2, "the closure")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("class 4: covariance (")
                    && err.contains(&format!("({}, 2) = NaN", n - 1))
                    && err.contains("produced by the closure"),
                "{err}"
            );
        }
    }
}
