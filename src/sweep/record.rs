//! The result record of one grid point, or the record of its failure: one line of
//! `results.jsonl`.

use serde::{Deserialize, Serialize};

use super::inputs::InputFile;
use super::point::PointConfig;
use crate::net::unlearned::Unlearned;

/// Predicted accuracy when the empirical statistics of one layer are propagated to the output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TheoryAccuracy {
    /// Start layer: 0 = the input x, l = the post-activation zˡ.
    pub from_layer: usize,
    /// Σ_c p(c) P_{y~N(μ_c,Σ_c)}(argmax y = c).
    pub accuracy: f64,
    /// Its Monte Carlo standard error (0 for two outputs, where it is exact).
    pub stderr: f64,
    /// Some class's predicted output is a point mass to rounding, as `analyze`'s
    /// (`analysis::accuracy::point_mass`): the accuracy says nothing about that class. Written
    /// only when true; records without it read as false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub degenerate: bool,
}

/// The Bhattacharyya distance of one stage split into mean and covariance terms, averaged over
/// all pairs of classes (DESIGN.md §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InfoTerms {
    /// ⅛ Δμᵀ Σ̄⁻¹ Δμ, averaged over class pairs.
    pub mean_term: f64,
    /// ½ ln(det Σ̄ / √(det Σ₁ det Σ₂)), averaged over class pairs.
    pub cov_term: f64,
}

/// Everything one grid point produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Stable id: FNV-1a of the canonical configuration (see [`PointConfig::id`]).
    pub id: String,
    /// Position in the grid order of the grid file it was run from.
    pub index: usize,
    /// The point's configuration as the grid states it (unset keys took the task's defaults).
    pub config: PointConfig,
    /// The data as loaded, in words.
    pub data: String,
    /// Layer widths, input to output.
    pub widths: Vec<usize>,
    pub activation: String,
    pub train_accuracy: f64,
    /// Accuracy of the network on the test set, where the statistics are measured too.
    pub test_accuracy: f64,
    /// Theory accuracy per start layer 0..=L, from the test set's statistics.
    pub theory: Vec<TheoryAccuracy>,
    /// Theory from the input (l = 0) minus the network's test accuracy.
    pub gap_from_input: f64,
    /// Theory from the first hidden layer (l = 1) minus the network's test accuracy.
    pub gap_from_layer1: f64,
    /// Class information of the input x; null when a covariance was not positive definite.
    pub input_info: Option<InfoTerms>,
    /// Class information of the output y; null when a covariance was not positive definite.
    pub output_info: Option<InfoTerms>,
    /// A training that ended ≥ 10× a constant output's loss for a reason a setting names
    /// (`net::unlearned`: cause, losses, settings), the warning `train` prints. Written only
    /// then; records without it read as none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlearned: Option<Unlearned>,
    /// The user's files the point read (`train_x`, …, a normaliser file), each with its
    /// length and hash (`sweep::inputs`): a resumed sweep refuses the record when one has
    /// changed since; `sweep merge`, `export` and `summarize` do not check them. Written when
    /// the point read a file; records without it (older ones) read as none and are not checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputFile>,
    /// Seconds from the start of this point to its record.
    pub wall_seconds: f64,
    /// Threads of the pool the point ran in.
    pub threads: usize,
    pub corrflow_version: String,
}

impl Record {
    /// The cause of a training that ended far worse than a constant output
    /// (`net::unlearned`) as the record spells it ("collapse", "lr", …): the CSV's `unlearned`
    /// column and the summary's mark; `None` for a point that learned.
    pub fn unlearned_cause(&self) -> Option<String> {
        let u = self.unlearned.as_ref()?;
        Some(match serde_json::to_value(u.cause) {
            Ok(serde_json::Value::String(s)) => s,
            _ => format!("{:?}", u.cause),
        })
    }

    /// The keys a record line may hold: every field's name, as serde's derive hands them to
    /// `Deserializer::deserialize_struct`. Taken from the type, not from a record: a record
    /// without `unlearned` is written without that key, so the keys of a file's first record
    /// made a later record's `unlearned` "a key no result record has" (adv52).
    pub fn field_names() -> &'static [&'static str] {
        let mut names = FieldNames(&[]);
        let _ = Record::deserialize(&mut names);
        names.0
    }
}

/// A deserializer that reads nothing and keeps the field names of the struct asked of it.
struct FieldNames(&'static [&'static str]);

impl<'de> serde::Deserializer<'de> for &mut FieldNames {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom(
            "only a struct's field names are read",
        ))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(serde::de::Error::custom(
            "only a struct's field names are read",
        ))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A grid point that failed (an error, or a panic in a bug): recorded so that the failure is
/// visible in `summarize` and a rerun skips the point unless asked to retry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedRecord {
    pub id: String,
    pub index: usize,
    pub config: PointConfig,
    /// The error, as the sweep reported it.
    pub failed: String,
    /// The user's files the point read, as in [`Record::inputs`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputFile>,
    pub corrflow_version: String,
}
