//! One grid point: the typed configuration of a single train → propagate → analyse run, its
//! canonical JSON form and the stable id derived from it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::keys::name_key;
use crate::command::init::InitsRead;
use crate::config::defaults::{self, task_defaults};
use crate::config::{CumulantSettings, Naming, RunConfig, Task};
use crate::cumtrain::correction_bound::{BoundMean, BoundReference, BoundRule, BoundSetting};
use crate::cumtrain::first_closure::check_closures;
use crate::cumtrain::guard::order_corrections;
use crate::cumtrain::{CorrectedLayers, Objective};
use crate::data::xor::sigma_problem;
use crate::data::Scale;
use crate::error::{excerpt, parse_value, value_name, Error, Field, Result};
use crate::net::model_io;
use crate::net::train::{Loss, Optimizer};
use crate::net::{Activation, Precision};
use crate::propagate::affine::AffineStrategy;
use clap::ValueEnum;

/// Every key a grid file may set: the grid's schema, from which the point's id is derived. Unset
/// keys take the defaults of [`crate::config::defaults`] (as `corrflow train`); they are left out of the canonical form, so a point's id
/// depends only on what the grid states.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointConfig {
    // The task and its data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_train: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_test: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skewed: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma_shape: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mnist_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_split: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub center: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_x: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_y: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_x: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_y: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_tensor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y_tensor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_classes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standardize: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize_mean: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize_std: Option<String>,
    // The network and its training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closure_check: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_samples: Option<usize>,
    /// Cumulant objective: the first closure's order, 2|3|4 (`--order`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<u64>,
    /// Cumulant objective at order 3|4: `first` or `all` (`--corrected-layers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected_layers: Option<String>,
    /// Cumulant objective at order 3|4: `"off"` or a share 0 ≤ α < 1 (`--correction-bound`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_bound: Option<serde_json::Value>,
    /// With a correction bound: `shrink` or `keep` (`--correction-bound-mean`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_bound_mean: Option<String>,
    /// With a correction bound: `scale` or `clip` (`--correction-bound-rule`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_bound_rule: Option<String>,
    /// With a correction bound: `gauss` or `measured` (`--correction-bound-reference`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_bound_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain: Option<f64>,
    /// A model file training starts from instead of the seeded initialisation (`train
    /// --init`); its hidden widths and activation are the point's where `hidden` and
    /// `activation` are unset, and must equal them where set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Float type of training and of the propagated covariances: `f64` or `f32`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
    // The analysis.
    /// Monte Carlo samples per class for the theory accuracy with ≥ 3 outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mc_samples: Option<usize>,
    /// Update of f64 covariances through an affine layer: `dense`, `auto` or `factored`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affine: Option<String>,
}

impl PointConfig {
    /// The task (the default task when unset).
    pub fn task(&self) -> Task {
        self.task.unwrap_or_default()
    }

    /// The point as a run configuration: its table deserialised into [`RunConfig`] (the grid
    /// keys are its field names), MNIST's folder from `MNIST_DIR` when the grid gives none, and
    /// the sweep's Monte Carlo default. Errors name the grid key.
    pub fn run_config(&self) -> Result<RunConfig> {
        let table = serde_json::to_value(self).expect("a PointConfig is plain data");
        let mut config: RunConfig = serde_json::from_value(table)
            .map_err(|e| Error::Unsupported(format!("grid point {}: {e}", self.summary())))?;
        if config.data.mnist_dir.is_none() {
            config.data.mnist_dir = std::env::var_os("MNIST_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from);
        }
        if let Some(path) = &config.net.init {
            // The file's architecture (its header alone) where the grid sets none, so that the
            // estimates and the checks before the points run see the network the point trains.
            let (widths, activations) = model_io::architecture(path)
                .map_err(|e| name_key(Error::config(Field::Init, e.to_string())))?;
            let net = &mut config.net;
            net.hidden
                .get_or_insert_with(|| widths[1..widths.len() - 1].to_vec());
            if net.activation.is_none() {
                net.activation = activations.uniform();
            }
        }
        config.analysis.mc_samples = self.mc_samples.unwrap_or(defaults::SWEEP_MC_SAMPLES);
        // A point measures the theory's accuracy only (`sweep::evaluate`): no output tails,
        // whose Student t scales, ⌈M/2⌉ per class, refused `mc_samples = 3000000000` of an
        // XOR point for 22.4 GiB it never allocates (adv54).
        config.analysis.output_tails = false;
        // Nor surrogates: their forward-pass blocks, min(1024, n) draws a task, were charged
        // (adv55).
        config.analysis.surrogates = false;
        Ok(config)
    }

    /// Checks before a sweep starts what would otherwise fail in every point: the values, and
    /// where MNIST comes from; `inits`, the `init` files the sweep's checks have read (each
    /// read once however many points name it). Errors name the grid key.
    pub fn preflight(&self, inits: &mut InitsRead) -> Result<()> {
        let config = self.run_config()?;
        // `init`'s file read whole (its tensors checked; once for all the points that name it)
        // and its architecture against the keys.
        inits.check(&config, Naming::Keys).map_err(name_key)?;
        self.check_cumulant_settings(&config).map_err(name_key)?;
        if config.data.task() == Task::Data {
            return match (&config.data.train_x, &config.data.train_y) {
                (Some(_), Some(_)) => Ok(()),
                (None, _) => Err(name_key(Error::config(
                    Field::TrainX,
                    "task data needs train_x and train_y",
                ))),
                (_, None) => Err(name_key(Error::config(
                    Field::TrainY,
                    "task data needs train_x and train_y",
                ))),
            };
        }
        if config.data.task() != Task::Mnist || config.data.train_images.is_some() {
            return Ok(());
        }
        let missing = match &config.data.mnist_dir {
            None => "task mnist needs mnist_dir in the grid, or MNIST_DIR in the environment"
                .to_string(),
            Some(dir) if !dir.is_dir() => format!("{} is not a folder", dir.display()),
            Some(_) => return Ok(()),
        };
        Err(name_key(Error::config(Field::MnistDir, missing)))
    }

    /// The cumulant objective's keys of the point: refused where `train` refuses their flags
    /// ([`TrainSettings::set_cumulant`](crate::config::TrainSettings::set_cumulant): with
    /// objective samples, a bound's or the corrected layers' key at order 2), where its values
    /// are ([`crate::cumtrain::CheckSettings::validate`]), and where the point's network is
    /// ([`check_closures`]: order 3|4 of an activation without a corrected closure, a bound on
    /// with no Gram–Charlier closure to bound), before any point runs. Errors name the field.
    fn check_cumulant_settings(&self, config: &RunConfig) -> Result<()> {
        let train = &config.train;
        let given = CumulantSettings {
            closure_check: self.closure_check,
            check_samples: self.check_samples,
            order: self.order.map(|_| train.order),
            corrected_layers: train.corrected_layers,
            correction_bound: train.correction_bound,
            correction_bound_mean: train.correction_bound_mean,
            correction_bound_rule: train.correction_bound_rule,
            correction_bound_reference: train.correction_bound_reference,
        };
        train.clone().set_cumulant(&given, Naming::Keys)?;
        if train.objective != Objective::Cumulants {
            return Ok(());
        }
        let check = train.check();
        check.validate()?;
        let defaults = task_defaults(self.task());
        let activation = config.net.activation.unwrap_or(defaults.activation);
        let depth = config
            .net
            .hidden
            .as_ref()
            .map_or(defaults.hidden.len(), Vec::len);
        // An `init` file's own activations, one per layer where they differ.
        let activations = match &config.net.init {
            Some(path) => {
                let (_, per_layer) = model_io::architecture(path)?;
                (0..depth).map(|l| per_layer.at(l)).collect()
            }
            None => vec![activation; depth],
        };
        check_closures(&check, &activations)
    }

    /// Checks the values the types cannot (activation syntax, positive sizes) and brings the
    /// spellings to one form, so that equal configurations get equal ids. `key` errors name the
    /// grid key at fault.
    pub fn normalize(&mut self) -> std::result::Result<(), (String, String)> {
        let to_key = |e: Error| match e {
            Error::Config { field, msg } => (field.name().to_string(), msg),
            other => (String::new(), other.to_string()),
        };
        if let Some(a) = &self.activation {
            let parsed: Activation = a.parse().map_err(to_key)?;
            self.activation = Some(parsed.to_string());
        }
        if let Some(v) = &self.loss {
            let loss: Loss = parse_value(v, Field::Loss).map_err(to_key)?;
            self.loss = Some(loss.to_string());
        }
        if let Some(v) = &self.objective {
            let objective: Objective = parse_value(v, Field::Objective).map_err(to_key)?;
            self.objective = Some(objective.to_string());
        }
        if let Some(v) = &self.optimizer {
            let optimizer: Optimizer = parse_value(v, Field::Optimizer).map_err(to_key)?;
            self.optimizer = Some(optimizer.to_string());
        }
        if let Some(order) = self.order {
            order_corrections(order).map_err(to_key)?;
        }
        if let Some(v) = &self.corrected_layers {
            let layers: CorrectedLayers = parse_value(v, Field::CorrectedLayers).map_err(to_key)?;
            self.corrected_layers = Some(value_name(&layers));
        }
        if let Some(v) = &self.correction_bound {
            let bound = match v {
                serde_json::Value::String(text) => text.parse().map_err(to_key)?,
                serde_json::Value::Number(n) => {
                    let bound = BoundSetting::Share(n.as_f64().unwrap_or(f64::NAN));
                    bound.validate().map_err(to_key)?;
                    bound
                }
                other => {
                    return Err((
                        "correction_bound".into(),
                        format!(
                            "{} is neither off nor a share α with 0 ≤ α < 1",
                            excerpt(&other.to_string())
                        ),
                    ))
                }
            };
            self.correction_bound =
                Some(serde_json::to_value(bound).expect("a bound setting is plain data"));
        }
        if let Some(v) = &self.correction_bound_mean {
            let mean: BoundMean = parse_value(v, Field::CorrectionBoundMean).map_err(to_key)?;
            self.correction_bound_mean = Some(value_name(&mean));
        }
        if let Some(v) = &self.correction_bound_rule {
            let rule: BoundRule = parse_value(v, Field::CorrectionBoundRule).map_err(to_key)?;
            self.correction_bound_rule = Some(value_name(&rule));
        }
        if let Some(v) = &self.correction_bound_reference {
            let reference: BoundReference =
                parse_value(v, Field::CorrectionBoundReference).map_err(to_key)?;
            self.correction_bound_reference = Some(value_name(&reference));
        }
        if let Some(v) = &self.precision {
            let precision: Precision = parse_value(v, Field::Precision).map_err(to_key)?;
            self.precision = Some(precision.to_string());
        }
        if let Some(v) = &self.affine {
            let affine = AffineStrategy::from_str(v.trim(), true)
                .ok()
                .and_then(|a| a.to_possible_value())
                .ok_or_else(|| {
                    let names: Vec<String> = AffineStrategy::value_variants()
                        .iter()
                        .filter_map(|a| a.to_possible_value())
                        .map(|p| p.get_name().to_string())
                        .collect();
                    let names = names.join(", ");
                    ("affine".to_string(), format!("'{v}' is not one of {names}"))
                })?;
            self.affine = Some(affine.get_name().to_string());
        }
        if self
            .hidden
            .as_ref()
            .is_some_and(|h| h.is_empty() || h.contains(&0))
        {
            return Err((
                "hidden".into(),
                "every architecture needs ≥ 1 layer, every width ≥ 1".into(),
            ));
        }
        for (key, v) in [
            ("n_train", self.n_train),
            ("n_test", self.n_test),
            ("dim", self.dim),
            ("epochs", self.epochs),
            ("batch", self.batch),
        ] {
            if v == Some(0) {
                return Err((key.into(), "must be at least 1".into()));
            }
        }
        if let Some(msg) = self.mc_samples.and_then(defaults::mc_samples_problem) {
            return Err(("mc_samples".into(), msg));
        }
        if let Some(msg) = self.sigma.and_then(sigma_problem) {
            return Err(("sigma".into(), msg));
        }
        for (key, v) in [
            ("lr", self.lr),
            ("gain", self.gain),
            ("gamma_shape", self.gamma_shape),
        ] {
            if v.is_some_and(|x| !(x.is_finite() && x > 0.0)) {
                return Err((
                    key.into(),
                    format!("{} is not a positive number", v.unwrap_or_default()),
                ));
            }
        }
        Ok(())
    }

    /// The canonical form: JSON with sorted keys, unset keys omitted, no whitespace.
    pub fn canonical(&self) -> String {
        let value = serde_json::to_value(self).expect("a PointConfig is plain data");
        let sorted = sort_keys(value);
        serde_json::to_string(&sorted).expect("a JSON value serializes")
    }

    /// The point's id: FNV-1a (64 bit) of the canonical form, as 16 hex digits. Stable across
    /// corrflow versions and platforms (no std hasher involved).
    pub fn id(&self) -> String {
        format!("{:016x}", fnv1a(self.canonical().as_bytes()))
    }

    /// A one-line summary for tables and errors: `task=xor hidden=[16] activation=relu seed=1 …`.
    pub fn summary(&self) -> String {
        self.settings()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The keys the grid set, sorted, each with its value as the summary writes it (strings
    /// bare, everything else as JSON).
    pub fn settings(&self) -> Vec<(String, String)> {
        let value = sort_keys(serde_json::to_value(self).expect("plain data"));
        let serde_json::Value::Object(map) = value else {
            return Vec::new();
        };
        map.into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect()
    }
}

/// Rebuilds every object with its keys in sorted order (independent of serde_json's map type).
fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sort_keys).collect())
        }
        other => other,
    }
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_configurations_share_an_id() {
        let mut a = PointConfig {
            activation: Some("QUAD:0.50".into()),
            sigma: Some(1.0),
            ..Default::default()
        };
        let mut b = PointConfig {
            activation: Some("quad:0.5".into()),
            sigma: Some(1.0),
            ..Default::default()
        };
        a.normalize().unwrap();
        b.normalize().unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.canonical(), r#"{"activation":"quad:0.5","sigma":1.0}"#);
        b.seed = Some(2);
        assert_ne!(a.id(), b.id());
    }

    /// A point's keys land in the run configuration's fields of the same name; unset keys take
    /// the defaults, Monte Carlo the sweep's own.
    #[test]
    fn a_point_deserialises_into_the_run_configuration() {
        let point = PointConfig {
            task: Some(Task::HigherOrder),
            skewed: Some(2),
            hidden: Some(vec![8, 4]),
            activation: Some("relu".into()),
            loss: Some("ce".into()),
            lr: Some(0.5),
            seed: Some(7),
            ..Default::default()
        };
        let c = point.run_config().unwrap();
        assert_eq!(c.data.task(), Task::HigherOrder);
        assert_eq!(c.data.skewed, Some(2));
        assert_eq!(c.data.sigma, None);
        assert_eq!(c.net.hidden, Some(vec![8, 4]));
        assert_eq!(c.net.activation, Some(Activation::Relu));
        assert_eq!(c.net.seed, 7);
        assert_eq!(c.train.loss, Loss::Ce);
        assert_eq!(c.train.optimizer, defaults::OPTIMIZER);
        assert_eq!((c.train.lr, c.train.batch), (Some(0.5), defaults::BATCH));
        assert_eq!(c.analysis.mc_samples, defaults::SWEEP_MC_SAMPLES);
        assert!(!c.analysis.output_tails);
        assert!(!c.analysis.surrogates);
        assert_eq!(c.engine().precision, Precision::F64);
        assert_eq!(c.analysis.affine, defaults::AFFINE);
    }

    /// An `init` file's hidden widths and (uniform) activation fill in the point's where unset,
    /// from its header; set ones stay (the checks before the run compare them); a mixed file's
    /// activations leave the key unset. Mutation: the header not read → hidden None.
    #[test]
    fn an_init_files_architecture_fills_in_the_unset_keys() {
        use crate::net::Mlp;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let mut net = Mlp::init(&[2, 7, 3, 2], Activation::Tanh, 1.0, 1).unwrap();
        model_io::save(&net, &path, &[]).unwrap();
        let point = |hidden: Option<Vec<usize>>| PointConfig {
            task: Some(Task::Xor),
            init: Some(path.clone()),
            hidden,
            ..Default::default()
        };
        let c = point(None).run_config().unwrap();
        assert_eq!(c.net.hidden, Some(vec![7, 3]));
        assert_eq!(c.net.activation, Some(Activation::Tanh));
        let c = point(Some(vec![4])).run_config().unwrap();
        assert_eq!(c.net.hidden, Some(vec![4]));
        net.activation = "tanh,relu".parse().unwrap();
        model_io::save(&net, &path, &[]).unwrap();
        let c = point(None).run_config().unwrap();
        assert_eq!((c.net.hidden, c.net.activation), (Some(vec![7, 3]), None));
    }

    /// `precision` and `affine` take any case, reach the engine's settings, and a bad value
    /// names its key.
    /// A grid's `sigma` takes what `--sigma` takes — 0 (the blob centres exactly) included —
    /// and refuses the rest in `--sigma`'s words; old: 0 refused as "not a positive number".
    #[test]
    fn the_sigma_key_agrees_with_the_flag() {
        let point = |sigma| PointConfig {
            sigma: Some(sigma),
            ..Default::default()
        };
        point(0.0).normalize().unwrap();
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let (key, msg) = point(bad).normalize().unwrap_err();
            assert_eq!(key, "sigma");
            assert_eq!(Some(msg), crate::data::xor::sigma_problem(bad));
        }
    }

    /// A grid's `mc_samples` has `--mc-samples`' minimum and reason: 50 antithetic pairs, the
    /// fewest whose spread is a standard error (old: 4, where a p of 0.5 read ± 0, adv54).
    #[test]
    fn the_mc_samples_key_has_the_flags_minimum() {
        let point = |n| PointConfig {
            mc_samples: Some(n),
            ..Default::default()
        };
        let (key, msg) = point(defaults::MIN_MC_SAMPLES - 1).normalize().unwrap_err();
        assert_eq!(key, "mc_samples");
        assert!(
            msg.contains("at least 100") && msg.contains("antithetic"),
            "{msg}"
        );
        assert!(point(4).normalize().is_err());
        point(defaults::MIN_MC_SAMPLES).normalize().unwrap();
    }

    #[test]
    fn precision_and_affine_keys_reach_the_engine() {
        let mut point = PointConfig {
            precision: Some("F32".into()),
            affine: Some("Factored".into()),
            ..Default::default()
        };
        point.normalize().unwrap();
        assert_eq!(point.precision.as_deref(), Some("f32"));
        assert_eq!(point.affine.as_deref(), Some("factored"));
        let engine = point.run_config().unwrap().engine();
        assert_eq!(engine.precision, Precision::F32);
        assert_eq!(engine.affine, AffineStrategy::Factored);
        for (bad, key) in [
            (
                PointConfig {
                    precision: Some("f16".into()),
                    ..Default::default()
                },
                "precision",
            ),
            (
                PointConfig {
                    affine: Some("sparse".into()),
                    ..Default::default()
                },
                "affine",
            ),
        ] {
            let (k, msg) = bad.clone().normalize().unwrap_err();
            assert_eq!(k, key, "{msg}");
        }
    }

    /// The sampled check's keys reach the run configuration with objective "cumulants" and
    /// are refused, by grid key, without it.
    #[test]
    fn the_cumulant_check_keys_need_the_cumulant_objective() {
        let mut point = PointConfig {
            task: Some(Task::Xor),
            objective: Some("CUMULANTS".into()),
            closure_check: Some(2.0),
            check_samples: Some(16),
            ..Default::default()
        };
        point.normalize().unwrap();
        assert_eq!(point.objective.as_deref(), Some("cumulants"));
        point.preflight(&mut InitsRead::default()).unwrap();
        let c = point.run_config().unwrap();
        assert_eq!(c.train.objective, Objective::Cumulants);
        assert_eq!((c.train.closure_check, c.train.check_samples), (2.0, 16));
        point.objective = None;
        let err = point
            .preflight(&mut InitsRead::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("grid key 'closure_check'"), "{err}");
    }

    #[test]
    fn fnv_matches_the_reference() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
