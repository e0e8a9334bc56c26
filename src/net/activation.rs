//! Activation functions φ and their parsing from the command line / model metadata.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Field};

/// The pointwise nonlinearity φ of every hidden layer.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Activation {
    /// φ(h) = h.
    Linear,
    /// φ(h) = h + αh² (the paper's activation).
    Quadratic { alpha: f64 },
    /// φ(h) = max(h, 0).
    Relu,
    /// φ(h) = erf(h).
    Erf,
    /// φ(h) = tanh(h).
    Tanh,
    /// φ(h) = 1 / (1 + e^{−h}).
    Sigmoid,
    /// φ(h) = h Φ(h), Φ the standard normal cdf (exact GELU, not the tanh approximation).
    Gelu,
    /// φ(h) = max(h, 0) + a·min(h, 0) (PyTorch's `LeakyReLU(negative_slope=a)`).
    LeakyRelu { slope: f64 },
    /// φ(h) = h / (1 + e^{−h}) (SiLU, "swish").
    Silu,
    /// φ(h) = ln(1 + eʰ), evaluated as max(h, 0) + ln(1 + e^{−|h|}) (PyTorch's `Softplus()`
    /// with β = 1).
    Softplus,
}

/// 1 / (1 + e^{−h}).
fn logistic(h: f64) -> f64 {
    1.0 / (1.0 + (-h).exp())
}

impl Activation {
    /// φ(h), scalar reference.
    pub fn eval(self, h: f64) -> f64 {
        match self {
            Activation::Linear => h,
            Activation::Quadratic { alpha } => h + alpha * h * h,
            Activation::Relu => h.max(0.0),
            Activation::Erf => libm::erf(h),
            Activation::Tanh => h.tanh(),
            Activation::Sigmoid => logistic(h),
            Activation::Gelu => 0.5 * h * libm::erfc(-h * std::f64::consts::FRAC_1_SQRT_2),
            Activation::LeakyRelu { slope } => {
                if h > 0.0 {
                    h
                } else {
                    slope * h
                }
            }
            Activation::Silu => h * logistic(h),
            Activation::Softplus => h.max(0.0) + (-h.abs()).exp().ln_1p(),
        }
    }

    /// φ'(h), scalar reference (relu: 1 for h > 0, else 0; leaky relu: 1 for h > 0, else a).
    pub fn deriv(self, h: f64) -> f64 {
        match self {
            Activation::Linear => 1.0,
            Activation::Quadratic { alpha } => 1.0 + 2.0 * alpha * h,
            Activation::Relu => {
                if h > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Erf => std::f64::consts::FRAC_2_SQRT_PI * (-h * h).exp(),
            Activation::Tanh => {
                let t = h.tanh();
                1.0 - t * t
            }
            Activation::Sigmoid => {
                let s = 1.0 / (1.0 + (-h).exp());
                s * (1.0 - s)
            }
            Activation::Gelu => {
                let pdf = (-0.5 * h * h).exp() / (2.0 * std::f64::consts::PI).sqrt();
                0.5 * libm::erfc(-h * std::f64::consts::FRAC_1_SQRT_2) + h * pdf
            }
            Activation::LeakyRelu { slope } => {
                if h > 0.0 {
                    1.0
                } else {
                    slope
                }
            }
            // σ(h) + h σ(h)(1 − σ(h))
            Activation::Silu => {
                let s = logistic(h);
                s + h * s * (1.0 - s)
            }
            Activation::Softplus => logistic(h),
        }
    }

    /// True when φ is smooth (C^∞), so that its Hermite series converges fast.
    pub fn is_smooth(self) -> bool {
        !matches!(self, Activation::Relu | Activation::LeakyRelu { .. })
    }
}

impl fmt::Display for Activation {
    /// The same spelling [`FromStr`] accepts: `linear`, `quad:0.5`, `relu`, `erf`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Linear => write!(f, "linear"),
            Activation::Quadratic { alpha } => write!(f, "quad:{}", Parameter(*alpha)),
            Activation::Relu => write!(f, "relu"),
            Activation::Erf => write!(f, "erf"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Sigmoid => write!(f, "sigmoid"),
            Activation::Gelu => write!(f, "gelu"),
            Activation::LeakyRelu { slope } => write!(f, "leaky_relu:{}", Parameter(*slope)),
            Activation::Silu => write!(f, "silu"),
            Activation::Softplus => write!(f, "softplus"),
        }
    }
}

/// An activation's parameter in the shortest digits that parse back to the same f64: Rust's
/// `{}` for f64 gives those digits but never an exponent (quad:1e300 would print 301
/// digits, quad:1e-300 a run of 300 zeros), so magnitudes outside [1e-4, 1e16) take `{:e}`
/// (also shortest round-trip: `1e300`, `2.5e-7`); the others, 0 and non-finite values keep
/// `{}` (`0.5`, `1`, `0.01`).
struct Parameter(f64);

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.0.abs();
        if a == 0.0 || !a.is_finite() || (1e-4..1e16).contains(&a) {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{:e}", self.0)
        }
    }
}

/// What `--activation` accepts, for error messages and help.
pub const ACTIVATION_SYNTAX: &str = "linear (or identity), quad:ALPHA (φ(h)=h+αh²), relu, \
     leaky_relu[:SLOPE] (default slope 0.01), erf, tanh, sigmoid, gelu, silu, softplus";

/// PyTorch's default `LeakyReLU` slope, taken when `leaky_relu` is given without one.
pub const DEFAULT_LEAKY_SLOPE: f64 = 0.01;

impl FromStr for Activation {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |msg: String| Error::config(Field::Activation, msg);
        let lower = s.trim().to_ascii_lowercase();
        if let Some(alpha) = lower
            .strip_prefix("quad:")
            .or_else(|| lower.strip_prefix("quadratic:"))
        {
            let alpha: f64 = alpha
                .parse()
                .map_err(|_| bad(format!("'{s}': α after 'quad:' must be a number")))?;
            if !alpha.is_finite() {
                return Err(bad(format!("'{s}': α must be finite")));
            }
            return Ok(Activation::Quadratic { alpha });
        }
        if let Some(slope) = lower
            .strip_prefix("leaky_relu:")
            .or_else(|| lower.strip_prefix("leaky:"))
        {
            let slope: f64 = slope
                .parse()
                .map_err(|_| bad(format!("'{s}': the slope after ':' must be a number")))?;
            if !slope.is_finite() {
                return Err(bad(format!("'{s}': the slope must be finite")));
            }
            return Ok(Activation::LeakyRelu { slope });
        }
        Ok(match lower.as_str() {
            "linear" | "identity" => Activation::Linear,
            "quad" | "quadratic" => {
                return Err(bad(format!("'{s}': give α, e.g. quad:0.5")));
            }
            "relu" => Activation::Relu,
            "erf" => Activation::Erf,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "gelu" => Activation::Gelu,
            "leaky_relu" | "leaky" => Activation::LeakyRelu {
                slope: DEFAULT_LEAKY_SLOPE,
            },
            "silu" | "swish" => Activation::Silu,
            "softplus" => Activation::Softplus,
            _ => return Err(bad(format!("'{s}' is not one of {ACTIVATION_SYNTAX}"))),
        })
    }
}

/// Grid files and other serde sources spell an activation as its flag does.
impl TryFrom<String> for Activation {
    type Error = Error;

    fn try_from(text: String) -> Result<Self, Error> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameters far from 1 print in the shortest digits that parse back to the same bits
    /// (adv31: `quad:1e300` printed 301 digits through `{}`); those in [1e-4, 1e16) as before.
    #[test]
    fn extreme_parameters_print_short_and_parse_back_bit_for_bit() {
        for (alpha, text) in [
            (1e300, "quad:1e300"),
            (-1e300, "quad:-1e300"),
            (1e-300, "quad:1e-300"),
            (f64::MAX, "quad:1.7976931348623157e308"),
            (f64::MIN_POSITIVE / 8.0, "quad:2.781342323134e-309"),
            (1e16, "quad:1e16"),
            (9.999999999999998e15, "quad:9999999999999998"),
            (1e-4, "quad:0.0001"),
            (9.9e-5, "quad:9.9e-5"),
            (0.5, "quad:0.5"),
            (1.0, "quad:1"),
            (0.0, "quad:0"),
        ] {
            let a = Activation::Quadratic { alpha };
            assert_eq!(a.to_string(), text);
            let Activation::Quadratic { alpha: back } = text.parse().unwrap() else {
                panic!("{text}")
            };
            assert_eq!(back.to_bits(), alpha.to_bits(), "{text}");
        }
        let a = Activation::LeakyRelu { slope: 3e-7 };
        assert_eq!(a.to_string(), "leaky_relu:3e-7");
        assert_eq!(a.to_string().parse::<Activation>().unwrap(), a);
    }

    #[test]
    fn parse_display_roundtrip() {
        for s in [
            "linear",
            "quad:0.5",
            "relu",
            "erf",
            "tanh",
            "sigmoid",
            "gelu",
            "quad:-0.25",
            "leaky_relu:0.2",
            "leaky_relu:-0.5",
            "silu",
            "softplus",
        ] {
            let a: Activation = s.parse().unwrap();
            assert_eq!(a.to_string().parse::<Activation>().unwrap(), a);
        }
        assert!("quad".parse::<Activation>().is_err());
        assert!("quad:x".parse::<Activation>().is_err());
        assert!("softmax".parse::<Activation>().is_err());
        assert!("leaky_relu:x".parse::<Activation>().is_err());
        assert_eq!(
            "leaky_relu".parse::<Activation>().unwrap(),
            Activation::LeakyRelu { slope: 0.01 }
        );
        assert_eq!(
            "identity".parse::<Activation>().unwrap(),
            Activation::Linear
        );
    }

    #[test]
    fn derivative_matches_finite_difference() {
        let acts = [
            Activation::Linear,
            Activation::Quadratic { alpha: 0.7 },
            Activation::Erf,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Gelu,
            Activation::Silu,
            Activation::Softplus,
            Activation::LeakyRelu { slope: 0.1 },
        ];
        for a in acts {
            for &h in &[-2.3, -0.4, 0.1, 1.7] {
                let e = 1e-6;
                let fd = (a.eval(h + e) - a.eval(h - e)) / (2.0 * e);
                assert!(
                    (fd - a.deriv(h)).abs() < 1e-8,
                    "{a}: {fd} vs {}",
                    a.deriv(h)
                );
            }
        }
    }
}
