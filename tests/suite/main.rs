//! The integration tests, one binary: every test module links the crate once, and the helpers
//! in [`common`] are shared by all. Modules are named after the part of corrflow they test; run
//! one with `cargo test --release --test suite -- MODULE::` (e.g. `closures_exact::`).
//! `tests/propagate_alloc.rs` is its own binary because it installs a counting global allocator.

mod common;

mod analysis_beyond;
mod analysis_cli;
mod analysis_numbers;
mod analysis_ranges;
mod carry_cli;
mod carry_kink;
mod carry_measured;
mod cli_propagate;
mod cli_train;
mod closures_bvn;
mod closures_degenerate;
mod closures_edgeworth;
mod closures_exact;
mod closures_series;
mod cumtrain_corrected;
mod cumtrain_guard;
mod cumtrain_objective;
mod cumtrain_train;
mod cumtrain_vjp;
mod data_cli;
mod data_formats;
mod data_mnist;
mod data_tasks;
mod degenerate_cli;
mod environment_cli;
mod higher_abandon;
mod higher_blocks;
mod higher_compressed;
mod higher_depth;
mod higher_factored;
mod higher_generations;
mod higher_moments_only;
mod higher_paired;
mod higher_pilot;
mod higher_quartic;
mod higher_terms;
mod idx;
mod interrupt_cli;
mod io_reliability;
mod model_python;
mod paths_cli;
mod pilot_data;
mod pilot_fresh;
mod propagate_engine;
mod propagate_f32;
mod reliability_cli;
mod reliability_cli_names;
mod reliability_cli_range;
mod reliability_cli_time;
mod stats_affine;
mod stats_affine_factored;
mod stats_gaussian;
mod stats_moments;
mod stats_narrow;
mod stats_outputs;
mod sweep_cli;
mod sweep_resume;
mod sweep_shard;
mod sweep_slurm;
mod torch_bridge;
mod train_threads;
