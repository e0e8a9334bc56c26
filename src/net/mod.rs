//! The multilayer perceptron: architecture, forward pass, training, model files.

pub mod activation;
pub mod activations;
pub mod forward;
pub mod grad_update;
pub mod kernels;
pub mod mlp;
pub mod model_io;
pub mod phi_lanes;
pub mod precision;
pub mod stage;
pub(crate) mod stalled;
pub mod train;
pub mod unlearned;

pub use activation::Activation;
pub use activations::Activations;
pub use forward::{ForwardPass, OutputPass};
pub use mlp::{Layer, Mlp};
pub use precision::{Precision, Real};
pub use stage::Stage;
