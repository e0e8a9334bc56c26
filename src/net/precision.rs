//! The floating-point type of training and propagation: `--precision f64` (default) or `f32`.
//!
//! The forward pass, backpropagation and the optimiser are generic over [`Real`] (f32, f64);
//! models are always stored in f64 and every statistic stays f64 (propagation in f32 is the
//! propagation engine's, `--precision f32`). An f32 run
//! trains a copy of the f64 initialisation rounded to f32 (`Mlp::cast`) and widens the result
//! back to f64 exactly (every f32 is an f64).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use clap::ValueEnum;
use faer::Mat;
use serde::{Deserialize, Serialize};

use super::{kernels, Activation};
use crate::error::{parse_value, value_name, Error, Field, Result};

/// Which float type the training loop computes in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f64 (ε = 2⁻⁵²), the default.
    #[default]
    #[value(alias = "float64", alias = "double")]
    F64,
    /// f32 (ε = 2⁻²³): half the memory traffic, twice the SIMD lanes.
    #[value(alias = "float32", alias = "single")]
    F32,
}

impl FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        parse_value(s, Field::Precision)
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// A float type the network can be trained in: faer's real field plus conversions and the fused
/// pulp kernels of [`kernels`] for its lane width (8 f64 / 16 f32 per AVX-512 vector).
pub trait Real: faer::traits::RealField + crate::io::ZeroBits {
    /// Unit roundoff·2 (machine epsilon): 2⁻⁵² for f64, 2⁻²³ for f32.
    const EPSILON: f64;
    /// The nearest value of this type (round to nearest even).
    fn from_f64(x: f64) -> Self;
    /// The exact f64 value.
    fn to_f64(self) -> f64;
    /// √x.
    fn sqrt(self) -> Self;
    /// h ← h + b, z ← φ(h) for one column.
    fn bias_activation(act: Activation, h: &mut [Self], b: &[Self], z: &mut [Self]);
    /// g ← g ∘ φ'(h).
    fn mul_derivative(act: Activation, h: &[Self], g: &mut [Self]);
    /// `x` in this type: borrowed for f64, rounded once into a new matrix for f32 (so that
    /// the training batches are gathered from half the bytes).
    fn convert_mat(x: &Mat<f64>) -> Cow<'_, Mat<Self>>;
}

impl Real for f64 {
    const EPSILON: f64 = f64::EPSILON;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn bias_activation(act: Activation, h: &mut [f64], b: &[f64], z: &mut [f64]) {
        kernels::bias_activation(act, h, b, z);
    }
    fn mul_derivative(act: Activation, h: &[f64], g: &mut [f64]) {
        kernels::mul_derivative(act, h, g);
    }
    fn convert_mat(x: &Mat<f64>) -> Cow<'_, Mat<f64>> {
        Cow::Borrowed(x)
    }
}

impl Real for f32 {
    const EPSILON: f64 = f32::EPSILON as f64;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn bias_activation(act: Activation, h: &mut [f32], b: &[f32], z: &mut [f32]) {
        kernels::bias_activation_f32(act, h, b, z);
    }
    fn mul_derivative(act: Activation, h: &[f32], g: &mut [f32]) {
        kernels::mul_derivative_f32(act, h, g);
    }
    fn convert_mat(x: &Mat<f64>) -> Cow<'_, Mat<f32>> {
        let mut out = Mat::<f32>::zeros(x.nrows(), x.ncols());
        for j in 0..x.ncols() {
            for (d, s) in out.col_as_slice_mut(j).iter_mut().zip(x.col_as_slice(j)) {
                *d = *s as f32;
            }
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        assert_eq!("F32".parse::<Precision>().unwrap(), Precision::F32);
        assert_eq!("f64".parse::<Precision>().unwrap(), Precision::F64);
        let err = "f16".parse::<Precision>().unwrap_err().to_string();
        assert!(
            err.contains("train.precision") && err.contains("f16"),
            "{err}"
        );
        for p in [Precision::F32, Precision::F64] {
            assert_eq!(p.to_string().parse::<Precision>().unwrap(), p);
        }
        assert_eq!(<f32 as Real>::from_f64(0.1).to_f64(), f64::from(0.1f32));
    }
}
