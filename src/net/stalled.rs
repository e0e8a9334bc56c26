//! A training run whose first epoch changed none of the network's typical weights: refused
//! naming `--lr` or `--gain`, not finished with exit 0 (adv48a).
//!
//! A weight w moves under a step δ only when |δ| reaches half its spacing, about |w|·2⁻⁵³ in
//! f64 (2⁻²⁴ in f32); a smaller step rounds back to w. Adam's steps are about `--lr` each
//! whatever the gradient, SGD's `--lr` times the gradients' running sum. So a learning rate of
//! 5e-324 or 1e-300 against weights of ~0.1, or the default 1e-3 against weights of ~10¹⁸
//! (`--gain 1e20`), leaves every weight bit-identical, epoch after epoch: the run "trained",
//! printed the initial network's loss and accuracy, and exited 0.
//!
//! The rule: after the first epoch, a run in which, in *every* layer, at least half the
//! weights that got a gradient (a non-zero first moment: Adam's m, SGD's velocity) are
//! bit-identical to their initial values is refused; a layer where no weight got one counts as
//! unmoved. Weights without a gradient — the columns of pixels that are 0 in every training
//! image, the units of a relu dead for every sample — stay rightly and are not counted. Biases
//! are not counted (they start at 0, where any step moves them, and cannot make up for weights
//! that do not move). A run that trains, however slowly (`--lr 1e-6` on MNIST), moves nearly
//! every weight with a gradient in its first epoch.

use faer::Mat;
use rayon::prelude::*;

use super::precision::Real;
use super::train::{Optimizer, TrainConfig};
use super::{Layer, Mlp};
use crate::error::{Error, Field, Result};

/// `median |w| · √fan_in` above which the weights' scale, not the learning rate, is named
/// first: the default initialisation gives about 0.67 · gain with gain 1 or √2, so 16 is a
/// gain of ~24, far beyond any default.
const LARGE_SCALE: f64 = 16.0;

/// The weights of every layer before the first epoch (a copy: one more parameter set, counted
/// in the memory estimate's `Shape::parameter_sets`).
pub(crate) struct WeightsBefore<T>(Vec<Mat<T>>);

impl<T: Real> WeightsBefore<T> {
    /// The weights of `net` as they are now.
    pub(crate) fn of(net: &Mlp<T>) -> Self {
        WeightsBefore(
            net.layers
                .iter()
                .map(|l| crate::io::par_clone(&l.w))
                .collect(),
        )
    }

    /// Refuses (module docs) when at least half the weights of every layer of `net` that got
    /// a gradient — a non-zero first moment in `moments` (Adam's m, SGD's velocity) — are
    /// bit-identical to these; `cfg` names the rate in the message.
    pub(crate) fn check_moved(
        &self,
        net: &Mlp<T>,
        moments: &[Layer<T>],
        cfg: &TrainConfig,
    ) -> Result<()> {
        let unmoved: Vec<(usize, usize)> = self
            .0
            .iter()
            .zip(&net.layers)
            .zip(moments)
            .map(|((before, after), m)| unchanged(before, &after.w, &m.w))
            .collect();
        if unmoved.iter().any(|&(same, all)| 2 * same < all) {
            return Ok(());
        }
        Err(stalled(&self.0, &unmoved, cfg, T::EPSILON > f64::EPSILON))
    }
}

/// (weights with a non-zero moment `m` bit-identical in `a` and `b`, weights with one). A unit
/// dead for every sample (relu) gets no gradient: its weights stay, rightly, and are not
/// counted (adv48a: a 2-2-2 relu network with one dead unit had half its weights unmoved).
fn unchanged<T: Real>(a: &Mat<T>, b: &Mat<T>, m: &Mat<T>) -> (usize, usize) {
    // Columns in parallel (integer counts: the same at every thread count): the check runs
    // once, after the first epoch, over every weight (1.8·10⁶ for 784-1000-1000-10).
    (0..a.ncols())
        .into_par_iter()
        .map(|j| {
            let (a, b, m) = (a.col_as_slice(j), b.col_as_slice(j), m.col_as_slice(j));
            let mut count = (0, 0);
            for ((a, b), m) in a.iter().zip(b).zip(m) {
                if m.to_f64() != 0.0 {
                    count.1 += 1;
                    count.0 += usize::from(a.to_f64().to_bits() == b.to_f64().to_bits());
                }
            }
            count
        })
        .reduce(|| (0, 0), |x, y| (x.0 + y.0, x.1 + y.1))
}

/// The median |entry| of `w`.
fn median_abs<T: Real>(w: &Mat<T>) -> f64 {
    let mut v: Vec<f64> = (0..w.ncols())
        .flat_map(|j| (0..w.nrows()).map(move |i| w[(i, j)].to_f64().abs()))
        .collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The refusal: the layers' unmoved counts and median |w|, the step a median weight needs, and
/// the flag named first — `--gain` where the weights are far beyond the default scale
/// ([`LARGE_SCALE`]) or far below it (`--gain 5e-324`: weights of 0 pass nothing back, their
/// gradients are 0 whatever the rate), `--lr` otherwise (both are named in the text).
fn stalled<T: Real>(
    before: &[Mat<T>],
    unmoved: &[(usize, usize)],
    cfg: &TrainConfig,
    f32: bool,
) -> Error {
    let (bits, spacing) = if f32 {
        (24, "2⁻²⁴ in f32")
    } else {
        (53, "2⁻⁵³ in f64")
    };
    let medians: Vec<f64> = before.iter().map(median_abs).collect();
    let scale = before
        .iter()
        .zip(&medians)
        .map(|(w, m)| m * (w.ncols() as f64).sqrt())
        .fold(0.0, f64::max);
    let least = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let needed = least * 2f64.powi(-bits);
    let counts: Vec<String> = unmoved
        .iter()
        .zip(&medians)
        .enumerate()
        .map(|(l, (&(same, all), m))| match all {
            0 => format!("layer {}: no weight got a gradient", l + 1),
            _ => format!("layer {}: {same} of {all}, median |w| {m:.1e}", l + 1),
        })
        .collect();
    let steps = match cfg.optimizer {
        Optimizer::Adam => "Adam's steps are about --lr each",
        Optimizer::Sgd => "SGD's steps are --lr times the gradients' running sum",
    };
    let (field, expected) = if scale < 1.0 / LARGE_SCALE {
        (
            Field::Gain,
            format!(
                "the weights are far below unit scale (median |w|·√fan_in up to {scale:.1e}): \
                 layers that pass almost nothing get almost no gradient; expected a larger \
                 --gain (the default is 1, √2 for relu)"
            ),
        )
    } else if scale > LARGE_SCALE {
        (
            Field::Gain,
            format!(
                "expected a smaller --gain (the default, 1 or √2 for relu, gives weights that \
                 steps of ~--lr move), or an --lr far above {needed:.1e}"
            ),
        )
    } else {
        (
            Field::Lr,
            format!(
                "expected a larger --lr (a rate that trains is far above {needed:.1e}){}",
                match cfg.optimizer {
                    Optimizer::Adam => {
                        ", or data of a larger scale (--scale, --standardize or the data \
                         files): gradients far below Adam's ε = 1e-8 make its steps far \
                         smaller than --lr"
                    }
                    Optimizer::Sgd =>
                        ", or data of a larger scale (--scale, --standardize \
                         or the data files): SGD's steps scale with the gradients",
                }
            ),
        )
    };
    Error::config(
        field,
        format!(
            "the first epoch left at least half the weights of every layer that got a \
             gradient bit-identical ({}): \
             training changed nothing. A weight w moves only under a step of at least half its \
             spacing, |w|·{spacing}, here {needed:.1e} for the smallest median weight, and \
             {steps} (--lr now {:?}); {expected}",
            counts.join("; "),
            cfg.lr
        ),
    )
}

#[cfg(test)]
mod tests {
    use faer::Mat;

    use crate::data::Dataset;
    use crate::error::{Error, Field};
    use crate::net::train::{train, Loss, Optimizer, TrainConfig};
    use crate::net::{Activation, Mlp, Precision};

    /// Two classes of 3 features, 64 samples.
    fn data() -> Dataset {
        Dataset {
            x: Mat::from_fn(3, 64, |i, k| ((5 * i + 3 * k) as f64 * 0.37).sin()),
            labels: (0..64).map(|k| (k % 2) as u32).collect(),
            n_classes: 2,
        }
    }

    /// Trains a 3-8-2 tanh network of `gain` for 2 epochs at `lr`: the field of the refusal,
    /// or None where it trained.
    fn refused(gain: f64, lr: f64, optimizer: Optimizer, precision: Precision) -> Option<Field> {
        let mut net = Mlp::init(&[3, 8, 2], Activation::Tanh, gain, 5).unwrap();
        let cfg = TrainConfig {
            epochs: 2,
            batch: 16,
            lr,
            loss: Loss::Ce,
            optimizer,
            momentum: 0.9,
            seed: 3,
            precision,
        };
        match train(&mut net, &data(), &cfg, |_| {}) {
            Ok(_) => None,
            Err(Error::Config { field, .. }) => Some(field),
            Err(e) => panic!("gain {gain} lr {lr}: {e}"),
        }
    }

    /// A learning rate whose steps are below every weight's spacing (5e-324, 1e-300, and 1e-25
    /// against weights of ~0.5) is refused naming --lr, under Adam and SGD, in f64 and f32
    /// (1e-12 against f32's spacing); old: the run exited 0 with every weight as initialised.
    /// Small rates that move the weights (1e-6, and 1e-12 in f64) still train.
    #[test]
    fn a_rate_below_the_weights_resolution_is_refused() {
        for optimizer in [Optimizer::Adam, Optimizer::Sgd] {
            for lr in [5e-324, 1e-300, 1e-25] {
                let field = refused(1.0, lr, optimizer, Precision::F64);
                assert_eq!(field, Some(Field::Lr), "{optimizer} {lr}");
            }
            let field = refused(1.0, 1e-12, optimizer, Precision::F32);
            assert_eq!(field, Some(Field::Lr), "{optimizer} f32");
            for lr in [1e-6, 1e-12] {
                assert_eq!(refused(1.0, lr, optimizer, Precision::F64), None, "{lr}");
            }
        }
    }

    /// Adam at its default rate against weights of ~10¹⁹ (`--gain 1e20`, up to the 1e49 whose
    /// squares overflow) moves none of them: refused naming --gain; old: exit 0, untrained.
    /// Weights of 0 (`--gain 5e-324`) get no gradient: refused naming --gain, not --lr.
    #[test]
    fn weights_too_large_for_the_steps_are_refused_naming_the_gain() {
        for gain in [1e20, 1e30, 5e-324] {
            let field = refused(gain, 1e-3, Optimizer::Adam, Precision::F64);
            assert_eq!(field, Some(Field::Gain), "{gain}");
        }
    }
}
