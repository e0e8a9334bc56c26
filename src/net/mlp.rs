//! The network: hidden layers hˡ = Wˡzˡ⁻¹ + bˡ, zˡ = φ(hˡ), and a linear read-out.

use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use super::precision::Real;
use super::{Activation, Activations};
use crate::error::{Error, Result};

/// One affine map: `w` is out × in, `b` has `out` entries; f64 unless trained in f32
/// (see [`super::precision`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer<T = f64> {
    pub w: Mat<T>,
    pub b: Col<T>,
}

impl<T: Real> Layer<T> {
    /// Whether every weight and bias is finite.
    pub fn is_finite(&self) -> bool {
        let finite = |v: &T| v.to_f64().is_finite();
        (0..self.w.ncols()).all(|j| self.w.col(j).iter().all(finite)) && self.b.iter().all(finite)
    }
}

impl<T> Layer<T> {
    /// Input width.
    pub fn fan_in(&self) -> usize {
        self.w.ncols()
    }
    /// Output width.
    pub fn fan_out(&self) -> usize {
        self.w.nrows()
    }
}

/// A feed-forward network: `layers[..L]` are hidden (each followed by its φ), `layers[L]` is the
/// linear read-out y = W^{out} z^L + b^{out}.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp<T = f64> {
    pub layers: Vec<Layer<T>>,
    pub activation: Activations,
    /// One flag per layer: true for a layer without a bias (PyTorch's `Linear(bias=False)`),
    /// whose b stays 0: training leaves it, model files omit its bias tensor.
    pub bias_free: Vec<bool>,
}

impl<T: Real> Mlp<T> {
    /// The same network in another float type: every parameter rounded to nearest (exact when
    /// widening f32 → f64).
    pub fn cast<U: Real>(&self) -> Mlp<U> {
        let layers = self
            .layers
            .iter()
            .map(|l| Layer {
                w: Mat::from_fn(l.w.nrows(), l.w.ncols(), |i, j| {
                    U::from_f64(l.w[(i, j)].to_f64())
                }),
                b: Col::from_fn(l.b.nrows(), |i| U::from_f64(l.b[i].to_f64())),
            })
            .collect();
        Mlp {
            layers,
            activation: self.activation.clone(),
            bias_free: self.bias_free.clone(),
        }
    }

    /// Number of hidden layers L.
    pub fn depth(&self) -> usize {
        self.layers.len() - 1
    }

    /// `[d_in, n_1, …, n_L, d_out]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.layers[0].fan_in()];
        w.extend(self.layers.iter().map(Layer::fan_out));
        w
    }

    /// Input dimension.
    pub fn input_dim(&self) -> usize {
        self.layers[0].fan_in()
    }

    /// Output dimension (number of classes for a classifier).
    pub fn output_dim(&self) -> usize {
        self.layers.last().map(Layer::fan_out).unwrap_or(0)
    }
}

impl Mlp {
    /// A network with widths `[d_in, n_1, …, n_L, d_out]`, φ = `activation` after every hidden
    /// layer, weights drawn N(0, gain²/fan_in), biases zero (and trainable), from `seed`.
    pub fn init(widths: &[usize], activation: Activation, gain: f64, seed: u64) -> Result<Self> {
        if widths.len() < 2 || widths.contains(&0) {
            return Err(Error::Shape(format!(
                "network widths {widths:?}: need at least input and output, all > 0"
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let layers: Vec<Layer> = widths
            .windows(2)
            .map(|pair| {
                let (fan_in, fan_out) = (pair[0], pair[1]);
                let scale = gain / (fan_in as f64).sqrt();
                // Row by row so the draw order does not depend on the storage order.
                let mut w = Mat::zeros(fan_out, fan_in);
                for i in 0..fan_out {
                    for j in 0..fan_in {
                        let z: f64 = rng.sample(StandardNormal);
                        w[(i, j)] = scale * z;
                    }
                }
                Layer {
                    w,
                    b: Col::zeros(fan_out),
                }
            })
            .collect();
        let bias_free = vec![false; layers.len()];
        Ok(Mlp {
            layers,
            activation: Activations::Uniform(activation),
            bias_free,
        })
    }

    /// Checks that consecutive layers fit and every parameter is finite.
    pub fn validate(&self) -> Result<()> {
        if self.layers.is_empty() {
            return Err(Error::Shape("network has no layers".into()));
        }
        self.activation
            .check_depth(self.depth())
            .map_err(Error::Shape)?;
        if self.bias_free.len() != self.layers.len() {
            return Err(Error::Shape(format!(
                "{} bias flags for {} layers",
                self.bias_free.len(),
                self.layers.len()
            )));
        }
        for (l, pair) in self.layers.windows(2).enumerate() {
            if pair[1].fan_in() != pair[0].fan_out() {
                return Err(Error::Shape(format!(
                    "layer {} outputs {} values but layer {} expects {}",
                    l + 1,
                    pair[0].fan_out(),
                    l + 2,
                    pair[1].fan_in()
                )));
            }
        }
        for (l, layer) in self.layers.iter().enumerate() {
            if layer.b.nrows() != layer.fan_out() {
                return Err(Error::Shape(format!(
                    "layer {}: bias has {} entries, weight has {} rows",
                    l + 1,
                    layer.b.nrows(),
                    layer.fan_out()
                )));
            }
            if self.bias_free[l] && layer.b.iter().any(|&v| v != 0.0) {
                return Err(Error::Numeric(format!(
                    "layer {} is bias-free but has a non-zero bias",
                    l + 1
                )));
            }
            if !layer.is_finite() {
                return Err(Error::Numeric(format!(
                    "layer {} has non-finite weights or biases",
                    l + 1
                )));
            }
        }
        Ok(())
    }
}
