//! Analysis: theory against measurement (DESIGN.md §4).
//!
//! - [`compare`]: propagated vs measured statistics per stage and class (§4.1).
//! - [`accuracy`]: accuracy predicted by the Gaussian description from every start layer (§4.2).
//! - [`surrogate`]: the network on order-1 / order-2 Gaussian surrogates of its inputs (§4.3).
//! - [`information`]: Bhattacharyya distance split into mean and covariance terms (§4.4).
//! - [`transfer`]: the quadratic closure's terms by source cumulant (§4.5).
//! - [`analyze()`](analyze::analyze): all of the above for one network and data set.

pub mod accuracy;
pub mod analyze;
pub mod budget;
pub mod compare;
pub mod confusion;
pub mod information;
pub mod outputs;
pub mod start_layers;
pub mod surrogate;
pub mod tails;
pub mod transfer;

pub use analyze::{analyze, analyze_held_out, Analysis, AnalysisOptions, Heatmap};
pub use compare::{
    class_means, compare_stage_lean, compare_stages, comparison_flops, ClassMean, RoundingCarry,
    StageComparison,
};
