//! The network's outputs y on the data, grouped by class: what the measured confusion matrix,
//! the network's accuracy and the output's own cumulants ([`super::tails`]) are computed from.

use faer::Mat;

use crate::net::forward::argmax_columns;

/// y of every sample of each class present in the data.
#[derive(Clone, Debug)]
pub struct ClassOutputs {
    /// The labels present, in label order.
    pub classes: Vec<usize>,
    /// `per_class[k]`: K × n_k, the outputs of the samples labelled `classes[k]`.
    pub per_class: Vec<Mat<f64>>,
}

impl ClassOutputs {
    /// The outputs by label (`per_label[c]`: those of the samples labelled c, as
    /// [`crate::measure::layer_stats_and_outputs`] gives them), keeping the labels present.
    pub fn from_labels(per_label: Vec<Mat<f64>>) -> Self {
        let (classes, per_class) = per_label
            .into_iter()
            .enumerate()
            .filter(|(_, y)| y.ncols() > 0)
            .unzip();
        ClassOutputs { classes, per_class }
    }

    /// The network's accuracy: the share of samples whose output's argmax (ties to the lowest
    /// index) is their label; NaN without samples.
    pub fn accuracy(&self) -> f64 {
        let hits: usize = self
            .classes
            .iter()
            .zip(&self.per_class)
            .map(|(&c, y)| argmax_columns(y.as_ref()).filter(|&a| a == c).count())
            .sum();
        let n: usize = self.per_class.iter().map(Mat::ncols).sum();
        if n == 0 {
            f64::NAN
        } else {
            hits as f64 / n as f64
        }
    }
}
