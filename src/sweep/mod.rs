//! Parameter sweeps (`corrflow sweep`): a TOML grid of configurations, each point trained,
//! propagated and analysed, one JSON record per point appended to `results.jsonl`.
//!
//! - [`grid`]: grid files → points in a fixed order; [`point`]: a point's configuration and id.
//! - [`keys`]: configuration errors named by grid key.
//! - [`plan`]: resume and jobs within memory (each point's [`Estimate`](crate::config::estimate::Estimate)).
//! - [`session`]: one sweep run from grid file to results.
//! - [`shard`]: a deterministic 1/N of the grid; [`runner`]: points in parallel, thread budget.
//! - [`evaluate`]: the work of one point; [`record`]: what it produced; [`inputs`]: the
//!   fingerprints of the files it read, checked on resume.
//! - [`store`]: the locked, append-only, resumable results file; [`merge`]: shard outputs.
//! - [`export`], [`summary`], [`plots`]: CSV, text table, SVG.
//! - [`slurm`]: a sweep as a Slurm job array, one task per shard.

pub mod evaluate;
pub mod export;
pub mod grid;
pub mod inputs;
pub mod keys;
pub mod merge;
pub mod plan;
pub mod plots;
pub mod point;
pub mod record;
pub mod runner;
pub mod session;
pub mod shard;
pub mod slurm;
pub mod store;
pub mod summary;

pub use grid::{Grid, GridPoint};
pub use point::PointConfig;
pub use record::Record;
pub use shard::Shard;
