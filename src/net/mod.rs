//! The multilayer perceptron: architecture, forward pass, training, model files.

pub mod activation;
pub mod mlp;

pub use activation::Activation;
pub use mlp::{Layer, Mlp};
