//! The one dispatch table from (activation, method) to a closure of φ and its VJP: the forward
//! map (DESIGN.md §3) and its reverse (§6) are chosen together, so they cannot drift apart.

use super::backward::{
    ClosureVjp, ErfVjp, HermiteVjp, LeakyReluVjp, LinearVjp, QuadraticVjp, ReluVjp,
};
use super::closures::{
    Closure, ClosureMethod, ErfClosure, HermiteClosure, LeakyReluClosure, LinearClosure,
    QuadraticClosure, QuadratureClosure, ReluClosure,
};
use crate::error::{Error, Result};
use crate::net::{Activation, Mlp};

/// A closure of φ and, where it has one, its VJP.
pub struct ClosurePair {
    /// The forward closure: (μ, Σ) of h ↦ (m, C) of φ(h).
    pub closure: Box<dyn Closure>,
    /// The VJP differentiating exactly `closure`; None for the reference quadrature.
    vjp: Option<Box<dyn ClosureVjp>>,
}

impl ClosurePair {
    /// The pair for `act` under `method`:
    /// - `Auto`: the exact closed forms for linear, quadratic, relu, leaky relu and erf; the
    ///   Hermite series for tanh, sigmoid, gelu, silu and softplus;
    /// - `Hermite`: the series for every smooth φ ([`Error::Unsupported`] for relu and leaky
    ///   relu);
    /// - `Quadrature`: the reference 2-D quadrature for every φ, with no VJP.
    ///
    /// The Hermite series integrates the pairs where its truncation bound fails (|ρ| near 1) by
    /// 2-D quadrature.
    pub fn new(act: Activation, method: ClosureMethod) -> Result<Self> {
        Self::table(act, method, true)
    }

    /// [`ClosurePair::new`], but the Hermite series never falls back to 2-D quadrature (its
    /// truncation error near |ρ| = 1 is at most |ρ|^{K+1}√(RᵢRⱼ), RᵢRⱼ the Parseval remainders;
    /// the fallback would make every training step with many correlated units ~10³× slower).
    /// The VJP differentiates exactly this series.
    pub fn without_fallback(act: Activation, method: ClosureMethod) -> Result<Self> {
        Self::table(act, method, false)
    }

    /// One pair per hidden layer of `net` (its layer's φ under `method`), with the 2-D
    /// quadrature fallback as [`ClosurePair::new`]; without it as
    /// [`ClosurePair::without_fallback`] when `fallback` is false.
    pub fn for_layers(net: &Mlp, method: ClosureMethod, fallback: bool) -> Result<Vec<Self>> {
        (0..net.depth())
            .map(|l| Self::table(net.activation.at(l), method, fallback))
            .collect()
    }

    /// The closures' names for reports: the one name of a network whose layers share it, else
    /// the names in layer order joined by "; "; for a network without a hidden layer (no
    /// closure), "none (no hidden layer: …)" rather than an empty name (adv60: `analyze`'s
    /// closure line was blank).
    pub fn describe(pairs: &[ClosurePair]) -> String {
        if pairs.is_empty() {
            return "none (no hidden layer: the map to y is affine, exact)".into();
        }
        let mut names: Vec<String> = pairs.iter().map(|p| p.closure.name()).collect();
        names.dedup();
        names.join("; ")
    }

    /// The VJP of [`ClosurePair::closure`]; [`Error::Unsupported`] for the reference quadrature.
    pub fn vjp(&self) -> Result<&dyn ClosureVjp> {
        self.vjp.as_deref().ok_or_else(|| {
            Error::Unsupported(
                "the quadrature closure is a reference for checks and has no gradient; train \
                 with --closure auto or hermite"
                    .into(),
            )
        })
    }

    fn table(act: Activation, method: ClosureMethod, fallback: bool) -> Result<Self> {
        let (closure, vjp): (Box<dyn Closure>, Option<Box<dyn ClosureVjp>>) = match (method, act) {
            (ClosureMethod::Quadrature, act) => (Box::new(QuadratureClosure::new(act)), None),
            (ClosureMethod::Auto, Activation::Linear) => {
                (Box::new(LinearClosure), Some(Box::new(LinearVjp)))
            }
            (ClosureMethod::Auto, Activation::Quadratic { alpha }) => (
                Box::new(QuadraticClosure::new(alpha)),
                Some(Box::new(QuadraticVjp::new(alpha))),
            ),
            (ClosureMethod::Auto, Activation::Relu) => {
                (Box::new(ReluClosure), Some(Box::new(ReluVjp)))
            }
            (ClosureMethod::Auto, Activation::LeakyRelu { slope }) => (
                Box::new(LeakyReluClosure::new(slope)),
                Some(Box::new(LeakyReluVjp::new(slope))),
            ),
            (ClosureMethod::Auto, Activation::Erf) => {
                (Box::new(ErfClosure), Some(Box::new(ErfVjp)))
            }
            (ClosureMethod::Hermite | ClosureMethod::Auto, act) => {
                let series = HermiteClosure::new(act)?;
                let series = if fallback {
                    series
                } else {
                    series.with_tolerance(f64::INFINITY)
                };
                (Box::new(series), Some(Box::new(HermiteVjp::new(act)?)))
            }
        };
        Ok(ClosurePair { closure, vjp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 10] = [
        Activation::LeakyRelu { slope: 0.1 },
        Activation::Silu,
        Activation::Softplus,
        Activation::Linear,
        Activation::Quadratic { alpha: 0.3 },
        Activation::Relu,
        Activation::Erf,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
    ];

    #[test]
    fn every_trainable_closure_comes_with_its_vjp() {
        for act in ALL {
            for pair in [
                ClosurePair::new(act, ClosureMethod::Auto).unwrap(),
                ClosurePair::without_fallback(act, ClosureMethod::Auto).unwrap(),
            ] {
                assert!(pair.vjp().is_ok(), "{act}");
            }
            let hermite = ClosurePair::new(act, ClosureMethod::Hermite);
            assert_eq!(hermite.is_ok(), act.is_smooth(), "{act}");
            if let Ok(pair) = hermite {
                assert!(pair.vjp().is_ok(), "{act}");
            }
            let quadrature = ClosurePair::new(act, ClosureMethod::Quadrature).unwrap();
            assert!(
                matches!(quadrature.vjp(), Err(Error::Unsupported(_))),
                "{act}"
            );
        }
    }

    /// A network without a hidden layer has no closure, and its description says so instead
    /// of being empty; one with hidden layers names its closure.
    #[test]
    fn a_network_without_a_closure_is_described_as_such() {
        let flat = Mlp::init(&[3, 3], Activation::Tanh, 1.0, 1).unwrap();
        let pairs = ClosurePair::for_layers(&flat, ClosureMethod::Auto, true).unwrap();
        assert_eq!(
            ClosurePair::describe(&pairs),
            "none (no hidden layer: the map to y is affine, exact)"
        );
        let deep = Mlp::init(&[3, 4, 4, 3], Activation::Tanh, 1.0, 1).unwrap();
        let pairs = ClosurePair::for_layers(&deep, ClosureMethod::Auto, true).unwrap();
        let name = ClosurePair::describe(&pairs);
        assert!(name.starts_with("tanh") && !name.contains(';'), "{name}");
    }
}
