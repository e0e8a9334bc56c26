//! Training from cumulants (DESIGN.md §6): the cumulant objective, the MSE of each class's
//! propagated output moments, its gradient by reverse mode through the propagation, and the
//! training loop over it (`--objective cumulants`).

pub mod objective;
pub mod train;

pub use objective::{ClassStatistics, CumulantObjective};
pub use train::{train_cumulants, Objective};
