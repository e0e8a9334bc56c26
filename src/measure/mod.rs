//! Measuring a network: the empirical per-class statistics of every layer from real forward
//! passes through a trained network (DESIGN.md §1).

pub mod batches;
pub mod carried;
pub mod held_out;
pub mod layers;
pub mod range;
pub mod tensors;

pub use carried::{
    propagate_carried, CarryMode, CarryReport, CarrySettings, IndefiniteOutputFallback, PilotMode,
};
pub use held_out::{Check, HeldOut};
pub use layers::{
    layer_stats, layer_stats_and_outputs, layer_stats_narrow, layer_stats_timed, Higher,
    LayerStats, Measured, STATS_BATCH,
};
