//! The f32 layer loop: per layer one pass over the f64 W ([`weights_pass`]: W rounded to f32,
//! every class's mean, the check of subnormal terms), then the f32 GEMM W Σ of every class (the
//! start's Σ rounded into one stacked GEMM; from the second layer on one GEMM per class, read
//! from the previous f32 stage where it lies), per class the upper triangle of the f32 update
//! written straight into the stage's f32 storage and mirrored, and the f32 closure from there
//! into the next stage's (or, for closures without f32 lanes, the f64 closure on one class's Σ
//! widened at a time). The hidden stages stay f32 ([`Predicted::is_f32`]); the output y is
//! widened to f64.

use faer::Mat;

use super::closure::{apply_f32, has_f32_lanes};
use super::start::Start;
use super::units::finite32;
use super::weights::{weights_pass, Inputs};
use crate::error::{Error, Result};
use crate::linalg::{at_least, narrow, widen};
use crate::net::{Layer, Mlp, Stage};
use crate::propagate::affine::Stacked;
use crate::propagate::closures::{Closure, ClosureMethod, Corrections, Work};
use crate::propagate::layer_clock::LayerClock;
use crate::propagate::Predicted;
use crate::stats::{Moments, F32_ROUNDOFF};
use crate::timing::{affine_flops, Timings};

/// The f32 buffers of a propagation: the stacked affine update of every class, W rounded to
/// f32, every class's mean of the current layer, one class's output Σ in f32 before it is widened, and one class's h and z in f64 for
/// the closures without f32 lanes (sized only when such a closure runs).
#[derive(Clone, Debug)]
pub struct SinglePropagator {
    dense: Stacked<f32>,
    w: Mat<f32>,
    /// Every class's mean μ' = Wμ + b of the current layer, one column per class.
    means: Mat<f64>,
    out: Mat<f32>,
    wide: [Moments; 2],
}

impl Default for SinglePropagator {
    fn default() -> Self {
        let empty = || Moments::gaussian(faer::Col::zeros(0), Mat::zeros(0, 0));
        SinglePropagator {
            dense: Stacked::default(),
            w: Mat::new(),
            means: Mat::new(),
            out: Mat::new(),
            wide: [empty(), empty()],
        }
    }
}

impl SinglePropagator {
    /// Propagates `start` (the moments of layer `from`, released after the first layer when
    /// owned) to the output with every Σ in f32 into `stages` (already labelled h^{from+1}, …, y with one slot per class): the hidden stages
    /// f32, y f64. `fallback[l − 1]` is hidden layer l's f64 closure, used where
    /// [`has_f32_lanes`] says no f32 closure exists.
    ///
    /// With `finished`, each stage is handed to it as soon as the loop no longer reads it (hˡ
    /// after its closure, zˡ after the next layer's affine update, y at the end) and its
    /// covariances are released right after (the stage keeps its means): at most the stages of
    /// two layers hold a Σ at a time instead of all, and the stacked input and the product of
    /// each affine update are released once read. The hand-over runs outside the timed blocks.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run(
        &mut self,
        net: &Mlp,
        from: usize,
        mut start: Start<'_>,
        method: ClosureMethod,
        fallback: &[&dyn Closure],
        stages: &mut [Predicted],
        (timings, clock): (&Timings, &mut LayerClock),
        mut finished: Option<&mut Finished<'_>>,
    ) -> Result<()> {
        let classes = start.classes();
        let depth = net.depth();
        // The relative rounding η of the entries so far: the start's Σ rounded to f32.
        let mut rounding = F32_ROUNDOFF;
        for l in from + 1..=depth + 1 {
            clock.start();
            let layer = &net.layers[l - 1];
            let n = layer.fan_out();
            let k = 2 * (l - from - 1);
            let (done, rest) = stages.split_at_mut(k);
            let previous = done.last();
            let [pre, post @ ..] = rest else {
                unreachable!("the caller labelled every stage")
            };
            let fan_in = layer.fan_in();
            let inputs = Inputs::gather(
                classes,
                fan_in,
                |c, j| match previous {
                    Some(p) => p.per_class[c].mean[j],
                    None => start.mean(c)[j],
                },
                |c, j| match previous {
                    Some(p) => f64::from(p.single[c][(j, j)]),
                    None => start.variance(c, j),
                },
            );
            prepare_layer(
                layer,
                pre.stage,
                l,
                &inputs,
                at_least(&mut self.w, n, fan_in, 0.0),
                at_least(&mut self.means, n, classes, 0.0),
            )?;
            let w = self.w.as_ref().submatrix(0, 0, n, fan_in);
            let flops = affine_flops(n, fan_in, classes);
            timings.time("affine", flops, || {
                match previous {
                    Some(p) => {
                        let covs: Vec<_> = p.single.iter().map(Mat::as_ref).collect();
                        self.dense.multiply_each(w, &covs);
                    }
                    None => self
                        .dense
                        .multiply(w, classes, |c, slot| start.fill(c, slot)),
                }
                for (c, out) in pre.per_class.iter_mut().enumerate() {
                    out.mean.resize_with(n, |_| 0.0);
                    out.mean.copy_from(self.means.col(c).subrows(0, n));
                }
            });
            rounding += affine_rounding(fan_in);
            pre.f32_rounding = rounding;
            // W δ Wᵀ of the input's rounding is shaped by W; the update's own is not.
            pre.f32_fresh = if l == from + 1 {
                rounding
            } else {
                affine_rounding(fan_in)
            };
            if l == from + 1 {
                start.release();
            }
            if finished.is_some() {
                self.dense.release_stack();
            }
            if let Some(previous) = done.last_mut() {
                hand_over(previous, &mut finished)?;
            }
            if l == depth + 1 {
                self.output(pre, timings);
                hand_over(pre, &mut finished)?;
                continue;
            }
            to_f32(pre, n);
            let post = &mut post[0];
            to_f32(post, n);
            timings.time("affine", 0.0, || {
                let outs = pre
                    .single
                    .iter_mut()
                    .enumerate()
                    .map(|(c, cov)| (c, cov.as_mut()))
                    .collect();
                self.dense.upper_each(outs);
            });
            if finished.is_some() {
                self.dense.release_product();
            }
            let act = net.activation.at(l - 1);
            rounding += CLOSURE_ROUNDING_ULPS * F32_ROUNDOFF;
            post.f32_rounding = rounding;
            post.f32_fresh = rounding;
            for c in 0..classes {
                let (h, z) = (&pre.per_class[c], &mut post.per_class[c]);
                if has_f32_lanes(act, method) {
                    timings.time("closure", 0.0, || {
                        apply_f32(
                            act,
                            &h.mean,
                            &pre.single[c],
                            &mut z.mean,
                            &mut post.single[c],
                        )
                    })?;
                } else {
                    // The f64 closure would name an overflow of the f32 update as its own.
                    finite32(&pre.single[c], &act.to_string())?;
                    let [wide_h, wide_z] = &mut self.wide;
                    timings.time("f32 ↔ f64", 0.0, || {
                        wide_h.mean.clone_from(&h.mean);
                        widen(&pre.single[c], &mut wide_h.cov);
                    });
                    let closure = fallback[l - 1];
                    if c == 0 {
                        if let Some(work) = foreseen_work(closure, pre, wide_h) {
                            let threads = rayon::current_num_threads();
                            clock.foresee((l, &closure.name(), classes), work, threads, timings);
                        }
                    }
                    timings.time("closure", 0.0, || {
                        closure.apply_into(wide_h, Corrections::None, wide_z)
                    })?;
                    timings.time("f32 ↔ f64", 0.0, || {
                        z.mean.clone_from(&wide_z.mean);
                        narrow(&wide_z.cov, post.single[c].as_mut());
                    });
                }
            }
            hand_over(pre, &mut finished)?;
            clock.finish(l, depth, timings);
        }
        Ok(())
    }

    /// The read-out's update of every class into the f64 output stage `y` (C·K² entries: its
    /// readers, the Monte Carlo accuracy and the comparison, factorise it).
    fn output(&mut self, y: &mut Predicted, timings: &Timings) {
        y.single.clear();
        for (c, m) in y.per_class.iter_mut().enumerate() {
            let n = m.mean.nrows();
            m.clear_slices();
            timings.time("affine", 0.0, || {
                self.out.resize_with(n, n, |_, _| 0.0);
                self.dense.lower_into(c, self.out.as_mut());
            });
            timings.time("f32 ↔ f64", 0.0, || widen(&self.out, &mut m.cov));
        }
    }
}

/// Rounds layer `l`'s W to f32 into `w32`, writes every class's mean μ' = Wμ + b into the
/// columns of `means` ([`weights_pass`], one read of W for all three) and refuses an affine
/// update `stage` = W·(input) whose unit i has a scale sᵢ = Σⱼ w²ᵢⱼ σ²ⱼ (σ²ⱼ the input's, in
/// `inputs`, for each class) positive but below f32's normal range (1.2e-38). Every term
/// wᵢⱼ Σⱼₖ wᵢₖ of the variance (W Σ Wᵀ)ᵢᵢ is at most |wᵢⱼ|σⱼ·|wᵢₖ|σₖ ≤ maxⱼ w²ᵢⱼ σ²ⱼ ≤ sᵢ, so
/// each is then subnormal in f32: the product loses its digits or turns 0, and the prediction
/// would be that of another covariance. The start's and the measured stages' variances are
/// checked where they are narrowed (`Start::check_f32_range`, `measure::layers`); this is the
/// check of the stages the f32 engine makes itself, which the f64 side never holds (adv29:
/// `analyze --precision f32` of a network whose read-out weights are 10⁻²⁵ printed a
/// covariance error of 1 and KLs of 3·10⁸ at y with exit 0). An exact 0 (zero weights,
/// constant inputs) is not refused. Each sᵢ is summed j ascending, whatever the number of
/// classes; the unit reported is the first in (class, unit) order.
fn prepare_layer(
    layer: &Layer,
    stage: Stage,
    l: usize,
    inputs: &Inputs,
    w32: faer::MatMut<'_, f32>,
    means: faer::MatMut<'_, f64>,
) -> Result<()> {
    let floor = f64::from(f32::MIN_POSITIVE);
    let first = weights_pass(
        layer.w.as_ref(),
        layer.b.as_ref(),
        inputs,
        floor,
        w32,
        means,
    );
    match first {
        None => Ok(()),
        Some((c, i, s)) => Err(Error::Numeric(format!(
            "--precision f32: the variance of unit {i} of {stage} (layer {l}'s affine \
             update), class entry {c}, is of the order of {s:.1e} (Σⱼ w²ᵢⱼ σ²ⱼ), below \
             f32's normal range (1.2e-38): each of its terms is subnormal in f32, so the \
             f32 product loses its digits (or turns 0) and the prediction would be that \
             of another covariance; expected --precision f64 (or weights that keep the \
             variances above 1.2e-38)"
        ))),
    }
}

/// The relative rounding (in units of f32's roundoff u = 2⁻²⁴) that one f32 closure adds to
/// the entries it forms: the relu lanes' bound of 8u·sᵢsⱼ (`relu`'s test), which covers
/// leaky relu's, linear's and the quadratic's few operations per entry and the f64 closures'
/// one rounding back to f32. The closure is taken to carry its input's relative rounding no
/// more than once (relu, leaky relu and linear are homogeneous of degree 1 in Σ; a curved φ
/// can amplify it: an assumption, stated with the bound it feeds, `analysis::compare`).
const CLOSURE_ROUNDING_ULPS: f64 = 8.0;

/// The relative rounding an f32 affine update W Σ Wᵀ of fan-in n adds to each entry, relative
/// to √(ΣᵢᵢΣⱼⱼ) of its output: W rounded to f32 (u, twice: 2u) and the two f32 products W·Σ
/// and (WΣ)·Wᵀ, each entry an n-term dot product whose rounding errors are independent and of
/// either sign, so that its error grows as √n·u (Higham and Mary, "A new approach to
/// probabilistic rounding error analysis", SIAM J. Sci. Comput. 41(5), 2019: λ√n·u with
/// probability ≥ 1 − 2exp(−λ²/2); λ = 1 here, the KL's threshold carrying the rest), not the
/// worst case n·u: (2√n + 2)·u. Relative to the output's own entries where the terms do not
/// cancel (|W||Σ||W|ᵀ ≈ |WΣWᵀ|).
fn affine_rounding(fan_in: usize) -> f64 {
    (2.0 * (fan_in as f64).sqrt() + 2.0) * F32_ROUNDOFF
}

/// The receiver of each finished stage of a streamed run ([`crate::propagate::Propagator::run_streamed`]).
pub type Finished<'a> = dyn FnMut(&Predicted) -> Result<()> + 'a;

/// Hands `p` to `finished` (when given) and then releases its covariances.
fn hand_over(p: &mut Predicted, finished: &mut Option<&mut Finished<'_>>) -> Result<()> {
    if let Some(f) = finished {
        f(p)?;
        p.release_covs();
    }
    Ok(())
}

/// Makes `p` an f32 stage of N × N covariances, one per class (the f64 ones released; the f32
/// ones kept when already of that size).
fn to_f32(p: &mut Predicted, n: usize) {
    p.single.resize_with(p.per_class.len(), Mat::new);
    for (m, s) in p.per_class.iter_mut().zip(&mut p.single) {
        if m.cov.nrows() != 0 {
            m.cov = Mat::new();
        }
        m.clear_slices();
        s.resize_with(n, n, |_, _| 0.0);
    }
}

/// The work `closure` foresees ([`Closure::foreseen_work`]) for every class of `pre`, counted
/// before the first class's closure: each count reads its class's Σ widened into `wide` (the
/// closure's f64 input, which holds class 0's on entry and again on return). None for closures
/// that foresee nothing, which then widen nothing more. (Up to the fifty-seventh session the
/// first class was counted for all, which holds only where the classes cost alike.) The f32
/// count is the f32 run's own: on XOR 2-60×20-2 tanh from z¹⁹ it is 3.8·10⁹ evaluations where
/// f64 counts 8.5·10⁹ (both within 0.1 % of the evaluations made; Σ rounded to f32 changes
/// the rules of its strongly correlated pairs, not traced pair by pair).
fn foreseen_work(closure: &dyn Closure, pre: &Predicted, wide: &mut Moments) -> Option<Work> {
    let first = closure.foreseen_work(wide)?;
    let mut all = first;
    for (h, single) in pre.per_class.iter().zip(&pre.single).skip(1) {
        wide.mean.clone_from(&h.mean);
        widen(single, &mut wide.cov);
        all = all + closure.foreseen_work(wide).unwrap_or_default();
    }
    wide.mean.clone_from(&pre.per_class[0].mean);
    widen(&pre.single[0], &mut wide.cov);
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`prepare_layer`] of 200 units in four tasks of rows, three classes. Units 10 and 70 have weights of 1e-21 on
    /// columns 0–14 (unit 10) or 15–29 (unit 70) and 0 elsewhere; class 1's variances are 1e6
    /// on columns 0–14 and ~1 on 15–29, class 2's the reverse, class 0's 1e6 everywhere. So
    /// sᵢ = Σⱼ w²ᵢⱼ σ²ⱼ is below f32's normal range (~1e-41) for unit 70 in class 1 and unit 10
    /// in class 2 only. The error names class 1's unit 70 — the first in (class, unit) order —
    /// with its sum as a loop over that class alone gives it, though unit 10 of class 2 comes
    /// first in row order (a minimum over (unit, class) names it instead: checked to fail).
    /// With class 1 and 2's small variances raised there is no error.
    #[test]
    fn the_first_subnormal_scale_in_class_order_is_named() {
        let (n, fan_in, classes) = (200, 30, 3);
        let w = Mat::from_fn(n, fan_in, |i, j| match i {
            10 => f64::from(u8::from(j < 15)) * 1e-21,
            70 => f64::from(u8::from(j >= 15)) * 1e-21,
            _ => 0.1 + ((i * 31 + j * 17) % 23) as f64 / 23.0,
        });
        let variance = |c: usize, j: usize| match (c, j < 15) {
            (0, _) | (1, true) | (2, false) => 1e6,
            _ => 1.0 + j as f64,
        };
        let layer = Layer {
            w: w.clone(),
            b: faer::Col::zeros(n),
        };
        let check = |variance: &dyn Fn(usize, usize) -> f64| {
            let inputs = Inputs::gather(classes, fan_in, |_, _| 0.0, variance);
            let (mut w32, mut means) = (Mat::zeros(n, fan_in), Mat::zeros(n, classes));
            prepare_layer(
                &layer,
                Stage::Pre(1),
                1,
                &inputs,
                w32.as_mut(),
                means.as_mut(),
            )
        };
        let msg = check(&variance)
            .expect_err("subnormal scales must be refused")
            .to_string();
        let want: f64 = (0..fan_in)
            .map(|j| w[(70, j)] * w[(70, j)] * variance(1, j))
            .sum();
        assert!(want > 0.0 && want < 1e-38, "the case: {want:e}");
        assert!(msg.contains("unit 70 of h1"), "{msg}");
        assert!(msg.contains("class entry 1"), "{msg}");
        assert!(msg.contains(&format!("{want:.1e}")), "{msg}");
        let raised = |c: usize, j: usize| variance(c, j).max(1e6);
        check(&raised).unwrap();
    }
}
