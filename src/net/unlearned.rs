//! A training run that ended far worse than a network that ignores its input: warned about,
//! naming `--gain` (or `--lr`), not finished in silence (adv49b).
//!
//! `train --task xor --gain 1e3` ran its 40 epochs and exited 0 with a last-epoch loss of
//! 6.9e18 and accuracy 0.5. The stall rule (`net::stalled`) does not see it: Adam moved
//! every weight by about `--lr` a step, 3–8 % of weights of ~10³ in 2 520 steps, as the rate
//! implies, and the loss fell by a quarter; but the quadratic activation's outputs are ~10⁹
//! and steps of 0.01 need ~10⁴ more steps to bring them to the targets. Neither "the weights
//! moved far less than the rate implies" nor "the loss did not change" holds there, so
//! neither is the criterion. What holds from `--gain` 10 (XOR: loss 26, accuracy 0.55) to
//! 10¹⁶ (where the stall rule refuses) is that the trained network is worse than a constant
//! output, by orders of magnitude.
//!
//! The rule: the last epoch's mean training loss at least [`WORSE_THAN_CONSTANT`] times that
//! of the best constant output ([`constant_loss`]: the training set's class frequencies for
//! MSE, 1 − Σ p_c², ½ for two balanced classes; their entropy for cross-entropy, ln 2) gets a
//! warning. Measured (EXPERIMENTS.md, adv49b): healthy runs end far below the constant's loss
//! (XOR default 0.083 against 0.5; MNIST default 0.055 against 0.9; `--gain` 0.5–5 on XOR
//! ≤ 0.11; MNIST `--gain 3` 0.57, accuracy 0.67, under it), the failing ones far above (XOR
//! `--gain 10` 52×, 10³ 10¹⁹×; MNIST `--gain 10` 690×). A warning, not a refusal: the run
//! did what was asked and its numbers are honest, and a network of a large initial scale is a
//! legitimate object of study; but the user learns that it has learned nothing usable and
//! which setting to change. The flag named first: `--gain` where the first epoch's loss was
//! already that far above (the initial outputs were far off and the steps could not bring
//! them down), `--lr` where training made a good start worse.

use super::train::{EpochStats, Loss, TrainConfig};
use crate::data::class_counts;

/// Multiple of the best constant output's loss ([`constant_loss`]) at or above which a
/// training's last epoch is warned about: an order of magnitude, far from the noise of a run
/// that merely learned little (it ends near 1×) and far below the failures it is for (50× to
/// 10¹⁹× measured).
pub const WORSE_THAN_CONSTANT: f64 = 10.0;

/// The mean loss of the best constant output on a training set of class `counts`: 1 − Σ p_c²
/// for MSE to one-hot targets (the output p, the class frequencies), the entropy −Σ p_c ln p_c
/// for cross-entropy (the logits ln p_c); 0 for an empty set or a single class.
pub fn constant_loss(loss: Loss, counts: &[usize]) -> f64 {
    let n: usize = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    let p = counts.iter().map(|&c| c as f64 / n as f64);
    match loss {
        Loss::Mse => 1.0 - p.map(|p| p * p).sum::<f64>(),
        Loss::Ce => -p.filter(|&p| p > 0.0).map(|p| p * p.ln()).sum::<f64>(),
    }
}

/// The warning for a training whose last epoch in `history` ended at least
/// [`WORSE_THAN_CONSTANT`] times the best constant output's loss on the training `labels`
/// (`n_classes` classes), with `cfg`'s settings; `None` for a run below it, an empty history,
/// or a training set whose constant loss is 0 (one class).
pub fn unlearned_warning(
    history: &[EpochStats],
    labels: &[u32],
    n_classes: usize,
    cfg: &TrainConfig,
) -> Option<String> {
    let (first, last) = (history.first()?, history.last()?);
    let counts = class_counts(labels, n_classes).ok()?;
    let constant = constant_loss(cfg.loss, &counts);
    let far = |loss: f64| constant > 0.0 && loss >= WORSE_THAN_CONSTANT * constant;
    if !far(last.loss) {
        return None;
    }
    let cause = if far(first.loss) {
        format!(
            "its first epoch's loss was {:.2e} already: the initial outputs are far from the \
             targets and {} epochs of steps of --lr {:?} could not bring them there; expected \
             a smaller --gain (the default, 1 or √2 for relu; or data of a smaller scale: \
             --scale, --standardize), or far more --epochs",
            first.loss, cfg.epochs, cfg.lr
        )
    } else {
        format!(
            "its first epoch's loss was {:.2e}: training made it worse; expected a smaller --lr \
             (now {:?})",
            first.loss, cfg.lr
        )
    };
    Some(format!(
        "warning: training ended (epoch {}) with a mean {} loss of {:.2e}, {:.1e} times that of \
         a constant output that ignores the input ({:.3}, the training set's class \
         frequencies), at train accuracy {:.3}: the network has learned nothing usable; {cause}",
        last.epoch,
        cfg.loss,
        last.loss,
        last.loss / constant,
        constant,
        last.train_accuracy,
    ))
}

#[cfg(test)]
mod tests {
    use faer::Mat;

    use super::*;
    use crate::data::Dataset;
    use crate::net::train::{train, Optimizer};
    use crate::net::{Activation, Mlp, Precision};

    #[test]
    fn the_constant_loss_is_that_of_the_class_frequencies() {
        assert!((constant_loss(Loss::Mse, &[50, 50]) - 0.5).abs() < 1e-15);
        assert!((constant_loss(Loss::Mse, &[10; 10]) - 0.9).abs() < 1e-15);
        assert!((constant_loss(Loss::Ce, &[50, 50]) - 2f64.ln()).abs() < 1e-15);
        assert!((constant_loss(Loss::Ce, &[30, 0, 30]) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(constant_loss(Loss::Mse, &[7, 0]), 0.0);
        assert_eq!(constant_loss(Loss::Ce, &[]), 0.0);
    }

    /// Two classes of 3 features whose sign of the sum sets the class, 128 samples.
    fn data() -> Dataset {
        let x = Mat::from_fn(3, 128, |i, k| ((5 * i + 3 * k) as f64 * 0.37).sin());
        let labels = (0..128)
            .map(|k| u32::from(x[(0, k)] + x[(1, k)] + x[(2, k)] > 0.0))
            .collect();
        Dataset {
            x,
            labels,
            n_classes: 2,
        }
    }

    /// The warning after 20 epochs of a 3-8-2 quadratic network of `gain` at `lr` (Adam, MSE).
    fn warning(gain: f64, lr: f64) -> Option<String> {
        let mut net = Mlp::init(&[3, 8, 2], Activation::Quadratic { alpha: 0.5 }, gain, 5).unwrap();
        let cfg = TrainConfig {
            epochs: 20,
            batch: 16,
            lr,
            loss: Loss::Mse,
            optimizer: Optimizer::Adam,
            momentum: 0.9,
            seed: 3,
            precision: Precision::F64,
        };
        let data = data();
        let history = train(&mut net, &data, &cfg, |_| {}).unwrap();
        unlearned_warning(&history, &data.labels, 2, &cfg)
    }

    /// Initial weights of 10³ (outputs ~10⁹) that steps of 0.01 cannot bring down: warned,
    /// naming --gain; the default scale trains silently.
    #[test]
    fn a_network_far_worse_than_a_constant_is_warned_about_naming_the_gain() {
        let w = warning(1e3, 0.01).expect("gain 1e3 is warned about");
        assert!(w.contains("--gain") && w.contains("constant output"), "{w}");
        for gain in [0.5, 1.0] {
            assert_eq!(warning(gain, 0.01), None, "gain {gain}");
        }
    }
}
