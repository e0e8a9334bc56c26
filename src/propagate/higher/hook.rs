//! The engine's hook for carried cumulants: what [`crate::propagate::Propagator::run_hooked`]
//! calls around each layer. Implemented by the full-tensor [`super::carry::Carry`] and the
//! leading-unit [`super::subset::SubsetCarry`].

use crate::error::Result;
use crate::net::{Activation, Layer, Mlp};
use crate::stats::Moments;
use crate::timing::Timings;

/// A carry of higher cumulants through the layer loop (see [`super::carry::Carry`] for the contract).
pub trait CarryHook: Send {
    /// Checks the start state against the network and the class count before anything runs
    /// (and learns the network's depth).
    fn check(&mut self, net: &Mlp, from: usize, classes: usize) -> Result<()>;
    /// Maps the carried state into h^l (hidden layer `l`'s affine map), attaching its slices to
    /// `pre`.
    fn enter(
        &mut self,
        l: usize,
        layer: &Layer,
        pre: &mut [Moments],
        timings: &Timings,
    ) -> Result<()>;
    /// Adds the closure's corrections to z^l's Gaussian moments in `post` and carries on.
    fn leave(
        &mut self,
        l: usize,
        act: Activation,
        pre: &mut [Moments],
        post: &mut [Moments],
        timings: &Timings,
    ) -> Result<()>;
    /// Maps the carried state through the read-out into y, attaching y's slices.
    fn readout(&mut self, layer: &Layer, y: &mut [Moments], timings: &Timings) -> Result<()>;
    /// The first hidden layer the hook no longer carries (None: it carries to y): from there
    /// the engine runs the Gaussian closure alone, calls neither `enter`, `leave` nor
    /// `readout`, and drops the κ slices of every h ([`CarryHook::set_cut`]).
    fn cut(&self) -> Option<usize>;
    /// Stops the carry before hidden layer `k`, set before the run: the engine runs layers k,
    /// k + 1, … with the Gaussian closure alone (h^k's mean and covariance are still the map of
    /// the carried z^{k−1}; its κ are dropped) and y gets no tensors. `reason` is listed among
    /// the hook's fallbacks at layer k once the run reaches it, after those of earlier layers.
    /// For a run whose corrections left a covariance indefinite, so that a later closure failed
    /// ([`crate::propagate::Propagator::run_carried_or_cut`],
    /// [`crate::propagate::Propagator::run_hooked_or_cut`]).
    fn set_cut(&mut self, k: usize, reason: String);
}
