//! The network and how it is trained; [`RunConfig::network`](super::RunConfig::network) builds
//! the untrained [`Mlp`] and its [`TrainConfig`] with every unset value from [`super::defaults`].

use serde::Deserialize;

use super::defaults::{self, task_defaults};
use super::Task;
use crate::cumtrain::correction_bound::{BoundMean, BoundReference, BoundRule, BoundSetting};
use crate::cumtrain::{CheckSettings, CorrectedLayers, Objective};
use crate::data::preprocess::compact;
use crate::error::{Error, Field, Result};
use crate::net::train::{Loss, Optimizer, TrainConfig};
use crate::net::unlearned::Start;
use crate::net::{Activation, Mlp, Precision};

/// Architecture and initialisation. Field names are the grid keys.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct NetConfig {
    /// Hidden layer widths [default: the task's].
    pub hidden: Option<Vec<usize>>,
    /// Activation of every hidden layer [default: the task's].
    pub activation: Option<Activation>,
    /// Initial weights N(0, gain²/fan_in) [default: [`defaults::gain`]].
    pub gain: Option<f64>,
    /// Seed of the initialisation, the batch order and the analysis' random draws.
    pub seed: u64,
    /// A model file whose weights training starts from instead of the seeded initialisation
    /// (`train --init`); its architecture must agree with the task's and with `hidden` and
    /// `activation` where set (checked by `train`, `command::init`).
    pub init: Option<std::path::PathBuf>,
}

impl NetConfig {
    /// How a network of `activation` is initialised: the gain set, else the activation's
    /// default ([`defaults::gain`]), and the seed; what `net::unlearned` rebuilds its start from.
    pub fn start(&self, activation: Activation) -> Start {
        let default_gain = defaults::gain(activation);
        Start {
            gain: self.gain.unwrap_or(default_gain),
            default_gain,
            seed: self.seed,
        }
    }
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            hidden: None,
            activation: None,
            gain: None,
            seed: defaults::SEED,
            init: None,
        }
    }
}

/// The optimisation. Field names are the grid keys.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    pub objective: Objective,
    pub loss: Loss,
    pub optimizer: Optimizer,
    /// Passes over the training set [default: the task's].
    pub epochs: Option<usize>,
    pub batch: usize,
    /// Learning rate [default: Adam the task's, SGD [`defaults::SGD_LR`]].
    pub lr: Option<f64>,
    pub momentum: f64,
    /// Float type of training [default: f64].
    pub precision: Option<Precision>,
    /// Cumulant objective: weight λ of the sampled check of the closure's error.
    pub closure_check: f64,
    /// Cumulant objective: surrogate draws per class and step of the sampled check.
    pub check_samples: usize,
    /// Cumulant objective: the first closure's cumulant order (2 = Gaussian, 3/4 = with the
    /// κ slices of h¹ measured per step from the training samples).
    pub order: u8,
    /// Cumulant objective at order 3/4: which hidden layers' closures are corrected [default:
    /// [`defaults::CORRECTED_LAYERS`]].
    pub corrected_layers: Option<CorrectedLayers>,
    /// Cumulant objective at order 3/4: the bound on the Gram–Charlier closures' corrections
    /// [default: [`defaults::CORRECTION_BOUND`]].
    pub correction_bound: Option<BoundSetting>,
    /// Cumulant objective with a correction bound: what it does to the mean's correction
    /// [default where the bound is on: [`defaults::CORRECTION_BOUND_MEAN`]; refused set where it
    /// is off].
    pub correction_bound_mean: Option<BoundMean>,
    /// Cumulant objective with a correction bound: how it keeps the covariance within it
    /// [default where the bound is on: [`defaults::CORRECTION_BOUND_RULE`]; refused set where it
    /// is off].
    pub correction_bound_rule: Option<BoundRule>,
    /// Cumulant objective with a correction bound: what it keeps z near [default where the
    /// bound is on: [`defaults::CORRECTION_BOUND_REFERENCE`]; refused set where it is off].
    pub correction_bound_reference: Option<BoundReference>,
}

impl TrainSettings {
    /// The sampled check of the cumulant objective (`closure_check`, `check_samples`), its
    /// order and, at order 3/4, its corrected layers, its correction bound and (where the bound
    /// is on, or where they were set) what the bound does to the mean, its rule and reference.
    pub fn check(&self) -> CheckSettings {
        let bound =
            (self.order != 2).then(|| self.correction_bound.unwrap_or(defaults::CORRECTION_BOUND));
        // Given, a bound's setting goes to the check's validation, which refuses it where the
        // bound is off; absent, the default where the bound is on.
        let bound_on = bound.and_then(|b| b.share()).is_some();
        CheckSettings {
            weight: self.closure_check,
            samples: self.check_samples,
            order: self.order,
            layers: (self.order != 2)
                .then(|| self.corrected_layers.unwrap_or(defaults::CORRECTED_LAYERS)),
            bound,
            bound_mean: self
                .correction_bound_mean
                .or(bound_on.then_some(defaults::CORRECTION_BOUND_MEAN)),
            bound_rule: self
                .correction_bound_rule
                .or(bound_on.then_some(defaults::CORRECTION_BOUND_RULE)),
            bound_reference: self
                .correction_bound_reference
                .or(bound_on.then_some(defaults::CORRECTION_BOUND_REFERENCE)),
        }
    }
}

/// The settings of the cumulant objective as the user gave them: `train`'s flags or a sweep
/// point's grid keys, None where not given. [`TrainSettings::set_cumulant`] takes them with the
/// refusals both share.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CumulantSettings {
    pub closure_check: Option<f64>,
    pub check_samples: Option<usize>,
    pub order: Option<u8>,
    pub corrected_layers: Option<CorrectedLayers>,
    pub correction_bound: Option<BoundSetting>,
    pub correction_bound_mean: Option<BoundMean>,
    pub correction_bound_rule: Option<BoundRule>,
    pub correction_bound_reference: Option<BoundReference>,
}

/// How a refusal names the other settings it mentions: as `train`'s flags (`--order`) or as a
/// grid's keys (`order`). The setting at fault is the error's [`Field`], which each caller names
/// its own way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    Flags,
    Keys,
}

impl Naming {
    /// `field` as the user writes it: `--corrected-layers` or `corrected_layers`.
    pub fn name(self, field: Field) -> String {
        match self {
            Naming::Flags => format!("--{}", field.name().replace('_', "-")),
            Naming::Keys => field.name().to_string(),
        }
    }

    /// What the user removes: "the flag" or "the key".
    pub fn noun(self) -> &'static str {
        match self {
            Naming::Flags => "flag",
            Naming::Keys => "key",
        }
    }
}

impl CumulantSettings {
    /// The settings given, in the order their refusals are tried.
    fn given(&self) -> [(Field, bool); 8] {
        [
            (Field::ClosureCheck, self.closure_check.is_some()),
            (Field::CheckSamples, self.check_samples.is_some()),
            (Field::Order, self.order.is_some()),
            (Field::CorrectedLayers, self.corrected_layers.is_some()),
            (Field::CorrectionBound, self.correction_bound.is_some()),
            (
                Field::CorrectionBoundMean,
                self.correction_bound_mean.is_some(),
            ),
            (
                Field::CorrectionBoundRule,
                self.correction_bound_rule.is_some(),
            ),
            (
                Field::CorrectionBoundReference,
                self.correction_bound_reference.is_some(),
            ),
        ]
    }
}

/// Whether `field` has a meaning only for the corrected closures of order 3|4: which layers
/// take the κ corrections, and the correction bound's settings.
fn of_order_3_or_4(field: Field) -> bool {
    matches!(
        field,
        Field::CorrectedLayers
            | Field::CorrectionBound
            | Field::CorrectionBoundMean
            | Field::CorrectionBoundRule
            | Field::CorrectionBoundReference
    )
}

impl TrainSettings {
    /// Takes the cumulant objective's settings `given` for objective `self.objective`, refusing
    /// (naming the setting at fault, the others as `naming` says) any of them with the samples
    /// objective, and `corrected_layers` or a bound setting at order 2 (given, or the default),
    /// where every closure is Gaussian. `train`'s flags and a sweep's grid points share it, so
    /// a grid refuses what the command line refuses. The values' own checks (λ, the draws, the
    /// bound's settings where it is off) are [`CheckSettings::validate`]'s.
    pub fn set_cumulant(&mut self, given: &CumulantSettings, naming: Naming) -> Result<()> {
        let objective = naming.name(Field::Objective);
        let order = naming.name(Field::Order);
        if let Some((field, _)) = given.given().into_iter().find(|(_, set)| *set) {
            if self.objective != Objective::Cumulants {
                let what = match field {
                    Field::Order => "sets the first closure's order",
                    Field::CorrectedLayers => "sets the corrected layers",
                    Field::ClosureCheck | Field::CheckSamples => "sets the sampled check",
                    _ => "bounds the corrected closures",
                };
                let at = match field {
                    Field::ClosureCheck | Field::CheckSamples | Field::Order => String::new(),
                    _ => format!(" at {order} 3|4"),
                };
                return Err(Error::config(
                    field,
                    format!(
                        "{what} of {objective} cumulants{at}; it has no meaning for {objective} \
                         samples"
                    ),
                ));
            }
        }
        self.closure_check = given.closure_check.unwrap_or(self.closure_check);
        self.check_samples = given.check_samples.unwrap_or(self.check_samples);
        self.order = given.order.unwrap_or(self.order);
        if self.order == 2 {
            let of_order_3 = given
                .given()
                .into_iter()
                .find_map(|(field, set)| (set && of_order_3_or_4(field)).then_some(field));
            if let Some(field) = of_order_3 {
                let does = if field == Field::CorrectedLayers {
                    "sets which closures take the κ corrections"
                } else {
                    "bounds the κ corrections"
                };
                return Err(Error::config(
                    field,
                    format!(
                        "{does} of {order} 3|4; at {order} 2 (the default) every closure is \
                         Gaussian: add {order} 3 or 4, or remove the {}",
                        naming.noun()
                    ),
                ));
            }
        }
        self.corrected_layers = given.corrected_layers;
        self.correction_bound = given.correction_bound;
        self.correction_bound_mean = given.correction_bound_mean;
        self.correction_bound_rule = given.correction_bound_rule;
        self.correction_bound_reference = given.correction_bound_reference;
        Ok(())
    }
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            objective: defaults::OBJECTIVE,
            loss: defaults::LOSS,
            optimizer: defaults::OPTIMIZER,
            epochs: None,
            batch: defaults::BATCH,
            lr: None,
            momentum: defaults::MOMENTUM,
            precision: None,
            closure_check: defaults::CLOSURE_CHECK,
            check_samples: defaults::CHECK_SAMPLES,
            order: defaults::ORDER,
            corrected_layers: None,
            correction_bound: None,
            correction_bound_mean: None,
            correction_bound_rule: None,
            correction_bound_reference: None,
        }
    }
}

/// The untrained network and its training settings for `task`, `d_in` inputs, `n_classes`
/// outputs.
pub(super) fn build(
    net: &NetConfig,
    train: &TrainSettings,
    task: Task,
    d_in: usize,
    n_classes: usize,
) -> Result<(Mlp, TrainConfig)> {
    let d = task_defaults(task);
    let activation = net.activation.unwrap_or(d.activation);
    let hidden = net.hidden.clone().unwrap_or_else(|| d.hidden.to_vec());
    if hidden.contains(&0) {
        return Err(Error::config(
            Field::Hidden,
            "every width must be at least 1",
        ));
    }
    let mut widths = vec![d_in];
    widths.extend(&hidden);
    widths.push(n_classes);
    let gain = net.start(activation).gain;
    if !(gain.is_finite() && gain > 0.0) {
        return Err(Error::config(
            Field::Gain,
            format!("{} is not a positive number", compact(gain)),
        ));
    }
    if !(0.0..1.0).contains(&train.momentum) {
        return Err(Error::config(
            Field::Momentum,
            // compact: 1e300 was written in its 301 digits (adv48a).
            format!("{} is not in [0, 1)", compact(train.momentum)),
        ));
    }
    let mlp = Mlp::init(&widths, activation, gain, net.seed)?;
    let lr = train.lr.unwrap_or(match train.optimizer {
        Optimizer::Adam => d.adam_lr,
        Optimizer::Sgd => defaults::SGD_LR,
    });
    let cfg = TrainConfig {
        epochs: train.epochs.unwrap_or(d.epochs),
        batch: train.batch,
        lr,
        loss: train.loss,
        optimizer: train.optimizer,
        momentum: train.momentum,
        seed: net.seed.wrapping_add(defaults::BATCH_SEED_OFFSET),
        precision: train.precision.unwrap_or_default(),
    };
    Ok((mlp, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each setting alone, for the cumulant objective at order 2 (the default): the corrected
    /// closures' settings are refused naming themselves, the sampled check's and the order are
    /// taken. Fails if `of_order_3_or_4` drops a field (it is taken) or gains one (refused).
    #[test]
    fn at_order_2_only_the_corrected_closures_settings_are_refused() {
        let given = |f: fn(&mut CumulantSettings)| {
            let mut settings = CumulantSettings::default();
            f(&mut settings);
            settings
        };
        let refused = [
            given(|s| s.corrected_layers = Some(CorrectedLayers::All)),
            given(|s| s.correction_bound = Some(BoundSetting::Share(0.2))),
            given(|s| s.correction_bound_mean = Some(BoundMean::Keep)),
            given(|s| s.correction_bound_rule = Some(BoundRule::Clip)),
            given(|s| s.correction_bound_reference = Some(BoundReference::Measured)),
        ];
        let taken = [
            given(|s| s.closure_check = Some(2.0)),
            given(|s| s.check_samples = Some(100)),
            given(|s| s.order = Some(2)),
        ];
        for settings in refused {
            let field = settings
                .given()
                .into_iter()
                .find_map(|(field, set)| set.then_some(field))
                .unwrap();
            let mut train = TrainSettings {
                objective: Objective::Cumulants,
                ..TrainSettings::default()
            };
            match train.set_cumulant(&settings, Naming::Keys) {
                Err(Error::Config { field: at, msg }) => {
                    assert_eq!(at, field, "{msg}");
                    assert!(msg.contains("order 3|4"), "{msg}");
                }
                other => panic!("{field:?} at order 2: {other:?}"),
            }
        }
        for settings in taken {
            let mut train = TrainSettings {
                objective: Objective::Cumulants,
                ..TrainSettings::default()
            };
            assert!(train.set_cumulant(&settings, Naming::Keys).is_ok());
        }
    }
}
