//! Which activation follows each hidden layer: one φ for the whole network, or one per layer.

use std::fmt;
use std::str::FromStr;

use super::Activation;
use crate::error::{Error, Field};

/// The activations of a network's hidden layers. A network with the same φ everywhere is
/// always [`Activations::Uniform`] (constructors normalise), so that its text, JSON and model
/// metadata spell one activation exactly as before per-layer activations existed.
#[derive(Clone, Debug, PartialEq)]
pub enum Activations {
    /// The same φ after every hidden layer.
    Uniform(Activation),
    /// φ of hidden layer l (1-based) at index l − 1; at least two differ.
    PerLayer(Vec<Activation>),
}

impl Activations {
    /// One activation per hidden layer; [`Activations::Uniform`] when they are all equal.
    /// An empty list (a network without hidden layers) has no activation to record and is
    /// refused.
    pub fn per_layer(acts: Vec<Activation>) -> Result<Self, Error> {
        match acts.first() {
            None => Err(Error::config(
                Field::Activation,
                "an empty per-layer list: give at least one activation",
            )),
            Some(&first) if acts.iter().all(|&a| a == first) => Ok(Activations::Uniform(first)),
            Some(_) => Ok(Activations::PerLayer(acts)),
        }
    }

    /// φ after hidden layer `l` (0-based: the map h^{l+1} ↦ z^{l+1}).
    pub fn at(&self, l: usize) -> Activation {
        match self {
            Activations::Uniform(a) => *a,
            Activations::PerLayer(acts) => acts[l],
        }
    }

    /// The one activation of a uniform network; None when layers differ.
    pub fn uniform(&self) -> Option<Activation> {
        match self {
            Activations::Uniform(a) => Some(*a),
            Activations::PerLayer(_) => None,
        }
    }

    /// True when every hidden layer's φ is `pred`.
    pub fn all(&self, pred: impl Fn(Activation) -> bool) -> bool {
        match self {
            Activations::Uniform(a) => pred(*a),
            Activations::PerLayer(acts) => acts.iter().all(|&a| pred(a)),
        }
    }

    /// Checks a per-layer list against the number of hidden layers.
    pub fn check_depth(&self, depth: usize) -> Result<(), String> {
        match self {
            Activations::PerLayer(acts) if acts.len() != depth => Err(format!(
                "{} per-layer activations ({self}) for {depth} hidden layers",
                acts.len()
            )),
            _ => Ok(()),
        }
    }
}

impl From<Activation> for Activations {
    fn from(a: Activation) -> Self {
        Activations::Uniform(a)
    }
}

impl fmt::Display for Activations {
    /// One activation's spelling (`relu`), or the per-layer list joined by commas
    /// (`relu,tanh,relu`): what [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activations::Uniform(a) => write!(f, "{a}"),
            Activations::PerLayer(acts) => {
                let names: Vec<String> = acts.iter().map(Activation::to_string).collect();
                write!(f, "{}", names.join(","))
            }
        }
    }
}

impl FromStr for Activations {
    type Err = Error;

    /// `relu` (every layer) or `relu,tanh,relu` (one per hidden layer).
    fn from_str(s: &str) -> Result<Self, Error> {
        let acts = s
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<Activation>, Error>>()?;
        Activations::per_layer(acts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_lists_collapse_and_mixed_ones_round_trip() {
        let same: Activations = "tanh,tanh".parse().unwrap();
        assert_eq!(same, Activations::Uniform(Activation::Tanh));
        assert_eq!(same.to_string(), "tanh");
        let mixed: Activations = "relu, leaky_relu:0.2,silu".parse().unwrap();
        assert_eq!(mixed.to_string(), "relu,leaky_relu:0.2,silu");
        assert_eq!(mixed.to_string().parse::<Activations>().unwrap(), mixed);
        assert_eq!(mixed.at(1), Activation::LeakyRelu { slope: 0.2 });
        assert_eq!(mixed.uniform(), None);
        assert!(mixed.check_depth(3).is_ok());
        assert!(mixed
            .check_depth(2)
            .unwrap_err()
            .contains("2 hidden layers"));
        assert!("relu,,tanh".parse::<Activations>().is_err());
    }
}
