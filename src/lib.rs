//! corrflow: a trained feed-forward network seen as a mapping of correlation functions.
//!
//! Each layer maps the class-conditional distribution of its input to a new one. The affine part
//! maps every cumulant exactly; the nonlinearity moves information between orders. corrflow
//! measures the statistics of every layer from real forward passes ([`measure`]), predicts them
//! by propagating cumulants through closures ([`propagate`]), and compares both ([`analysis`]).
//!
//! Pipeline (each module imports only those before it): [`data`] → [`stats`] → [`net`] →
//! [`propagate`] → [`measure`] → [`cumtrain`] → [`analysis`] → [`report`] → [`config`] →
//! [`command`] → [`sweep`]; the command line is the binary on top. Low modules usable by all:
//! [`error`], [`io`], [`linalg`], [`special`], [`simd`], [`timing`]. A test (`layering.rs`)
//! enforces this order. [`config`] gathers one run's settings with every default in one table;
//! [`command`] is the library half of each subcommand; [`sweep`] runs grids of configurations.
//! Source of the science: Fischer et al., "Decomposing neural networks as mappings of
//! correlation functions", Phys. Rev. Research 4, 043143 (2022).
//!
//! A program using the library should install [`io::PaddingZeroing`] as its global allocator,
//! as the binaries do: without it faer's products whose left operand has a row count that is not
//! a multiple of 8 can run many times slower (never to different results; see its doc).

pub mod analysis;
pub mod command;
pub mod config;
pub mod cumtrain;
pub mod data;
pub mod error;
pub mod io;
pub mod linalg;
pub mod measure;
pub mod net;
pub mod propagate;
pub mod report;
pub mod simd;
pub mod special;
pub mod stats;
pub mod sweep;
pub mod timing;

pub use error::{Error, Result};

#[cfg(test)]
mod layering;
