//! Analysis: theory against measurement (DESIGN.md §4).

pub mod compare;

pub use compare::{compare_stages, StageComparison};
