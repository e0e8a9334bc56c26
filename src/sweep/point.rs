//! One grid point: the typed configuration of a single train → propagate → analyse run, its
//! canonical JSON form and the stable id derived from it.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::net::Activation;

/// The tasks a sweep can run (the `task` key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskName {
    Xor,
    HigherOrder,
    Mnist,
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskName::Xor => "xor",
            TaskName::HigherOrder => "higher-order",
            TaskName::Mnist => "mnist",
        })
    }
}

/// Every key a grid file may set. Unset keys take the defaults of `corrflow train` for the task
/// (see `corrflow train --help`); they are left out of the canonical form, so a point's id
/// depends only on what the grid states.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointConfig {
    // The task and its data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskName>,
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
    pub gain: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    // The analysis.
    /// Monte Carlo samples per class for the theory accuracy with ≥ 3 outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mc_samples: Option<usize>,
}

/// Default Monte Carlo samples per class for the theory accuracy (standard error ≤ 0.0035).
pub const DEFAULT_MC_SAMPLES: usize = 20_000;

impl PointConfig {
    /// The task (xor when unset).
    pub fn task(&self) -> TaskName {
        self.task.unwrap_or(TaskName::Xor)
    }

    /// Hidden widths, with the task's default when unset (as `corrflow train`).
    pub fn hidden_or_default(&self) -> Vec<usize> {
        self.hidden.clone().unwrap_or_else(|| match self.task() {
            TaskName::Xor => vec![16],
            TaskName::HigherOrder => vec![64, 64],
            TaskName::Mnist => vec![100, 100],
        })
    }

    /// Monte Carlo samples for the theory accuracy.
    pub fn mc_samples(&self) -> usize {
        self.mc_samples.unwrap_or(DEFAULT_MC_SAMPLES)
    }

    /// Checks the values the types cannot (activation syntax, positive sizes) and brings the
    /// spellings to one form, so that equal configurations get equal ids. `key` errors name the
    /// grid key at fault.
    pub fn normalize(&mut self) -> std::result::Result<(), (String, String)> {
        if let Some(a) = &self.activation {
            let parsed: Activation = a
                .parse()
                .map_err(|e: Error| ("activation".into(), e.to_string()))?;
            self.activation = Some(parsed.to_string());
        }
        for (key, value) in [("loss", &mut self.loss), ("optimizer", &mut self.optimizer)] {
            if let Some(v) = value {
                *v = v.to_ascii_lowercase();
            }
            let allowed: &[&str] = if key == "loss" {
                &["mse", "ce"]
            } else {
                &["adam", "sgd"]
            };
            if let Some(v) = value.as_deref() {
                if !allowed.contains(&v) {
                    return Err((
                        key.into(),
                        format!("'{v}' is not one of {}", allowed.join(", ")),
                    ));
                }
            }
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
        if self.mc_samples.is_some_and(|n| n < 4) {
            // Two antithetic pairs at least, for a standard error.
            return Err(("mc_samples".into(), "must be at least 4".into()));
        }
        for (key, v) in [
            ("sigma", self.sigma),
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
        let value = sort_keys(serde_json::to_value(self).expect("plain data"));
        let serde_json::Value::Object(map) = value else {
            return String::new();
        };
        map.iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
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

    #[test]
    fn fnv_matches_the_reference() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
