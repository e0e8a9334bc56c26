//! Empirical statistics of every layer of a network, per class, from streamed forward passes
//! (DESIGN.md §1). Memory is bounded by batch × width plus the per-class N² accumulators.

use std::fmt;

use serde::{Serialize, Serializer};

use super::{EmpiricalMoments, MomentAccumulator};
use crate::data::Dataset;
use crate::error::Result;
use crate::net::train::check_fits;
use crate::net::{ForwardPass, Mlp};

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

/// Which stages also get the κ₃\[i,i,j\] / κ₄\[i,i,j,j\] slices (they cost two more GEMMs and
/// two more N² sums per class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Higher {
    /// Mean and covariance only.
    None,
    /// κ slices of the input and of every pre-activation hˡ (where the quadratic closure uses them).
    InputAndPre,
}

/// Per-class moments of every stage, in the order of [`Stage::all`].
#[derive(Clone, Debug)]
pub struct LayerStats {
    pub stages: Vec<(Stage, EmpiricalMoments)>,
}

impl LayerStats {
    /// The moments of `stage`.
    pub fn get(&self, stage: Stage) -> Option<&EmpiricalMoments> {
        self.stages
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, m)| m)
    }
}

/// Measures every stage's per-class moments by pushing `data` through `net` in batches.
pub fn layer_stats(net: &Mlp, data: &Dataset, higher: Higher, batch: usize) -> Result<LayerStats> {
    check_fits(net, data)?;
    let batch = batch.clamp(1, data.len());
    let stages = Stage::all(net.depth());
    let widths = net.widths();
    let mut accs = stages
        .iter()
        .map(|&stage| {
            let dim = match stage {
                Stage::Input => widths[0],
                Stage::Pre(l) | Stage::Post(l) => widths[l],
                Stage::Output => net.output_dim(),
            };
            let with_k =
                higher == Higher::InputAndPre && matches!(stage, Stage::Input | Stage::Pre(_));
            MomentAccumulator::new(dim, data.n_classes, with_k)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut fp = ForwardPass::new(net, batch);
    for start in (0..data.len()).step_by(batch) {
        let len = batch.min(data.len() - start);
        let x = data.x.as_ref().subcols(start, len);
        let labels = &data.labels[start..start + len];
        net.forward_into(x, &mut fp);
        for (acc, &stage) in accs.iter_mut().zip(&stages) {
            let values = match stage {
                Stage::Input => x,
                Stage::Pre(l) => fp.pre(l),
                Stage::Post(l) => fp.post(l),
                Stage::Output => fp.output(),
            };
            acc.push(values, labels)?;
        }
    }
    let stages = stages
        .into_iter()
        .zip(&accs)
        .map(|(s, acc)| Ok((s, acc.finish()?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(LayerStats { stages })
}
