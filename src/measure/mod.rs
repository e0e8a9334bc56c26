//! Measuring a network: the empirical per-class statistics of every layer from real forward
//! passes through a trained network (DESIGN.md §1).

pub mod layers;

pub use layers::{layer_stats, layer_stats_timed, Higher, LayerStats};
