//! The task a network is trained and analysed on: one enum for the command line (`--task`),
//! grid files (`task = "…"`) and the defaults table.

use std::fmt;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// The task a network is trained and analysed on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Four Gaussian blobs; the class sits in the covariance (DESIGN.md §5).
    #[default]
    Xor,
    /// Classes with equal mean and covariance, differing only in κ₃ (DESIGN.md §5).
    HigherOrder,
    /// MNIST digits from IDX files (--mnist-dir or explicit files).
    Mnist,
    /// Your own data: features and labels from .npy, safetensors or IDX files (--train-x …).
    Data,
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Task::Xor => "xor",
            Task::HigherOrder => "higher-order",
            Task::Mnist => "mnist",
            Task::Data => "data",
        })
    }
}
