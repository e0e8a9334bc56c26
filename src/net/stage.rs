//! Places in a network where a distribution is described: the input, each hidden layer's pre-
//! and post-activation, the read-out.

use std::fmt;

use serde::{Serialize, Serializer};

/// A place in the network where a distribution is described.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// The data x (layer 0).
    Input,
    /// hˡ = Wˡzˡ⁻¹ + bˡ of hidden layer l ≥ 1 ("pre").
    Pre(usize),
    /// zˡ = φ(hˡ) ("post").
    Post(usize),
    /// The read-out y.
    Output,
}

impl Stage {
    /// Layer index: 0 for the input, l for hidden layer l, L+1 for the output of a depth-L net.
    pub fn layer(self, depth: usize) -> usize {
        match self {
            Stage::Input => 0,
            Stage::Pre(l) | Stage::Post(l) => l,
            Stage::Output => depth + 1,
        }
    }

    /// "input", "pre", "post" or "output".
    pub fn kind(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Pre(_) => "pre",
            Stage::Post(_) => "post",
            Stage::Output => "output",
        }
    }

    /// The stage layer `layer`'s statistics are taken from, where a propagation from that layer
    /// starts: x for layer 0, zˡ otherwise.
    pub fn start(layer: usize) -> Stage {
        if layer == 0 {
            Stage::Input
        } else {
            Stage::Post(layer)
        }
    }

    /// Every stage of a network with `depth` hidden layers, from input to output.
    pub fn all(depth: usize) -> Vec<Stage> {
        let mut s = vec![Stage::Input];
        for l in 1..=depth {
            s.push(Stage::Pre(l));
            s.push(Stage::Post(l));
        }
        s.push(Stage::Output);
        s
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Input => write!(f, "x"),
            Stage::Pre(l) => write!(f, "h{l}"),
            Stage::Post(l) => write!(f, "z{l}"),
            Stage::Output => write!(f, "y"),
        }
    }
}

impl Serialize for Stage {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.kind())
    }
}
