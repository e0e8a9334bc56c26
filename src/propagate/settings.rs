//! How a propagation computes (`--precision`, `--affine`): the float type of the covariances and
//! the update of f64 covariances through an affine layer. Neither changes what is computed,
//! only its rounding: f32 by its stated error (BENCHMARKS.md "f32 propagation"), the structured
//! affine update by rounding of f64 (BENCHMARKS.md "Performance II").

use super::affine::AffineStrategy;
use super::Propagator;
use crate::net::Precision;

/// The engine's settings, carried by the analysis options into every [`Propagator`] they make.
/// The default is the library's reference, f64 with the dense update (bit for bit the engine
/// before these settings existed); the commands' defaults are in the configuration's table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineSettings {
    /// f64, or f32 covariances ([`super::single`]).
    pub precision: Precision,
    /// The update of f64 covariances (the f32 path always updates densely).
    pub affine: AffineStrategy,
}

impl EngineSettings {
    /// An engine with empty buffers and these settings.
    pub fn engine(self) -> Propagator {
        Propagator::with_settings(self.precision, self.affine)
    }
}
