//! Training from cumulants (DESIGN.md §6): the cumulant objective, the MSE of each class's
//! propagated output moments, its gradient by reverse mode through the propagation, and the
//! training loop over it (`--objective cumulants`), guarded by a sampled check of the closure's
//! error (issue #16 item 6).

pub mod check;
pub mod clip_rule;
pub mod correction_bound;
pub mod first_closure;
pub mod first_layer;
pub mod guard;
pub mod least_eigenpair;
pub mod objective;
pub mod skew_cap;
pub mod spectral_floor;
pub mod train;

pub use check::{gaussian_model_loss, GaussianModelLoss, SurrogateCheck};
pub use guard::CheckSettings;
pub use objective::{ClassStatistics, CorrectedLayers, CumulantObjective, StepTally};
pub use train::{fit, floor_note, train_cumulants, train_cumulants_timed, FirstStep, Objective};
