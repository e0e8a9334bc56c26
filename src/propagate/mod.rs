//! Cumulant propagation: the exact affine map, the closures of the nonlinearity, and the
//! layer-by-layer engine (DESIGN.md §2–3).

pub mod affine;
pub mod affine_factored;
mod affine_small;
pub mod backward;
pub mod closures;
pub mod engine;
pub mod higher;
mod layer_clock;
pub mod pair;
pub mod settings;
pub mod single;
pub mod stage;

pub use engine::{
    propagate, IndefiniteCarried, OutputRule, Predicted, PropagateOptions, Propagator,
};
pub use pair::ClosurePair;
pub use settings::EngineSettings;
