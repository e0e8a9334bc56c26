//! The network's outputs y on the data, grouped by class: what the measured confusion matrix
//! and the output's own cumulants ([`super::tails`]) are computed from.

use faer::{Mat, MatRef};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::net::{ForwardPass, Mlp};

/// Samples per forward-pass batch.
const BATCH: usize = 1024;

/// y of every sample of each class present in the data.
#[derive(Clone, Debug)]
pub struct ClassOutputs {
    /// The labels present, in label order.
    pub classes: Vec<usize>,
    /// `per_class[k]`: K × n_k, the outputs of the samples labelled `classes[k]`.
    pub per_class: Vec<Mat<f64>>,
}

impl ClassOutputs {
    /// Pushes `data` through `net` in batches and sorts the outputs by label.
    pub fn of(net: &Mlp, data: &Dataset) -> Result<Self> {
        let k = net.output_dim();
        if data.dim() != net.input_dim() {
            return Err(Error::Shape(format!(
                "network outputs: the network takes {} inputs, the data has {}",
                net.input_dim(),
                data.dim()
            )));
        }
        let mut counts = vec![0usize; data.n_classes.max(k)];
        for &l in &data.labels {
            let slot = counts.get_mut(l as usize).ok_or_else(|| {
                Error::Shape(format!("label {l} is out of range for {k} outputs"))
            })?;
            *slot += 1;
        }
        let classes: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] > 0).collect();
        let mut slot = vec![usize::MAX; counts.len()];
        for (i, &c) in classes.iter().enumerate() {
            slot[c] = i;
        }
        let mut per_class: Vec<Mat<f64>> =
            classes.iter().map(|&c| Mat::zeros(k, counts[c])).collect();
        let mut filled = vec![0usize; classes.len()];
        let n = data.len();
        let mut fp = ForwardPass::new(net, BATCH.min(n.max(1)));
        for start in (0..n).step_by(BATCH) {
            let len = BATCH.min(n - start);
            net.forward_into(data.x.as_ref().subcols(start, len), &mut fp);
            let y: MatRef<'_, f64> = fp.output();
            for j in 0..len {
                let s = slot[data.labels[start + j] as usize];
                let col = filled[s];
                for i in 0..k {
                    per_class[s][(i, col)] = y[(i, j)];
                }
                filled[s] += 1;
            }
        }
        Ok(ClassOutputs { classes, per_class })
    }
}
