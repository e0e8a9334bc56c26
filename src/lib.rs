//! corrflow: a trained feed-forward network seen as a mapping of correlation functions.
//!
//! Each layer maps the class-conditional distribution of its input to a new one. The affine part
//! maps every cumulant exactly; the nonlinearity moves information between orders. corrflow
//! measures the statistics of every layer from real forward passes ([`stats`]), predicts them by
//! propagating cumulants through closures ([`propagate`]), and compares both ([`analysis`]).
//!
//! Pipeline: [`data`] → [`stats`] → [`net`] → [`propagate`] → [`analysis`] → [`report`].
//! Source of the science: Fischer et al., "Decomposing neural networks as mappings of
//! correlation functions", Phys. Rev. Research 4, 043143 (2022).

pub mod analysis;
pub mod data;
pub mod error;
pub mod io;
pub mod net;
pub mod propagate;
pub mod report;
pub mod simd;
pub mod stats;
pub mod sweep;
pub mod timing;

pub use error::{Error, Result};
