//! Where the carried orders 3/4 leave f64's range: a relu or leaky relu unit at its kink with
//! a tiny spread.
//!
//! Near the kink (|μ| ≤ 12 s, the chaos rule's range) such a unit is non-Gaussian at O(1)
//! whatever s is: φ(μ + s z) = s φ(μ/s + z), so its carried κ₄ is ~s⁴ and its chaos
//! coefficients B_{1,j} ~ s^{1−j} (`chaos_kink`'s homogeneity), down to B_{1,5} ~ s⁻⁴, and
//! both enter the closures at full weight. The closures and the order-4 carry form products
//! of two such factors, ~s^{±8}, which stay in f64's normal range only for
//! s ≥ (2⁻¹⁰²²)^{1/8} = 2^{−127.75} ≈ 3.49·10⁻³⁹ ([`KINK_SPREAD_MIN`]). Below it the run is
//! refused, naming the unit, rather than computed: measured on bias-free relu and leaky relu
//! networks (EXPERIMENTS.md, chaos33), data ×10⁻⁴²…×10⁻⁵⁰ gave order 4 errors 5–52 % off the
//! exact answer (the same network on data ×1, by homogeneity) with exit 0, and from ×10⁻⁴⁵ on
//! NaN in the closure or the pilot; at ×10⁻³⁰…×10⁻⁴⁰ the answers agree with ×1 to 5·10⁻⁹.
//! The products leave the range on the other side too, s⁸ above f64's largest for
//! s > 2^127.75 ≈ 2.9·10³⁸ ([`KINK_SPREAD_MAX`]): order 4 is refused there by its own overflow
//! check, but order 3 ran to exit 0 on data ×10⁵⁵ with errors 8–70 % off data ×1's (adv35;
//! ×10⁴⁰…×10⁵⁰ still agreed to 10⁻⁷), so a spread above the bound is refused as well.
//! A smooth φ at tiny s is linear to O(s) and its carried corrections are negligible there
//! (they underflow harmlessly), and a relu unit further than 12 s from its kink is exactly
//! linear: neither is refused.

use super::chaos::{UnitChaos, RANGE};
use crate::error::{Error, Result};
use crate::net::Activation;
use crate::stats::Moments;

/// The smallest spread s of a relu or leaky relu unit within [`RANGE`]·s of its kink that the
/// carried orders accept: s⁸ and s⁻⁸ within f64's normal range (module docs).
pub const KINK_SPREAD_MIN: f64 = 3.5e-39;

/// The largest spread s of such a unit the carried orders accept: 1 / [`KINK_SPREAD_MIN`]
/// (s⁸ within f64's range, module docs).
pub const KINK_SPREAD_MAX: f64 = 1.0 / KINK_SPREAD_MIN;

/// The chaos coefficients of every unit of one class's pre-activation `h` at layer `l`, or an
/// error naming the first unit (module docs) whose coefficients the carry cannot use.
pub fn layer_units(
    act: Activation,
    h: &Moments,
    (l, class): (usize, usize),
) -> Result<Vec<UnitChaos>> {
    (0..h.dim())
        .map(|i| {
            let (mu, s) = (h.mean[i], h.cov[(i, i)].max(0.0).sqrt());
            if beyond_range(act, mu, s) {
                return Err(Error::Numeric(format!(
                    "class {class}: unit {i} of h{l} ({act}) lies within {RANGE} standard \
                     deviations of its kink (mean {mu:e}, standard deviation {s:e}, outside \
                     {KINK_SPREAD_MIN:e}…{KINK_SPREAD_MAX:.1e}): orders 3/4 multiply its carried \
                     κ₄ (~s⁴) and chaos coefficients (~s⁻⁴) in pairs, beyond f64's range; rescale the data \
                     (--scale S divides every value by S; exact for a network without biases) \
                     or use --order 2"
                )));
            }
            Ok(UnitChaos::new(act, mu, s))
        })
        .collect()
}

/// Whether a unit of `act` at h ~ N(μ, s²) is a relu or leaky relu unit near its kink with s
/// below [`KINK_SPREAD_MIN`] or above [`KINK_SPREAD_MAX`]. A leaky relu of slope 1 is the
/// identity: it has no kink (adv35 found it refused at spreads below 3.5·10⁻³⁹).
fn beyond_range(act: Activation, mu: f64, s: f64) -> bool {
    let kinked = match act {
        Activation::Relu => true,
        Activation::LeakyRelu { slope } => slope != 1.0,
        _ => false,
    };
    kinked && s > 0.0 && !(KINK_SPREAD_MIN..=KINK_SPREAD_MAX).contains(&s) && mu.abs() <= RANGE * s
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::{Col, Mat};

    /// One unit's moments.
    fn unit(mu: f64, s: f64) -> Moments {
        Moments::gaussian(Col::from_fn(1, |_| mu), Mat::from_fn(1, 1, |_, _| s * s))
    }

    /// Relu and leaky relu at the kink below the bound are refused, naming the unit and the
    /// flag; above the bound, away from the kink, at s = 0 and for a smooth φ they are not.
    #[test]
    fn kink_units_below_the_bound_are_refused() {
        let kinked = [Activation::Relu, Activation::LeakyRelu { slope: 0.1 }];
        for act in kinked {
            for (mu, s) in [(0.0, 1e-45), (-3e-45, 1e-45), (1e-140, 1e-140)] {
                let err = layer_units(act, &unit(mu, s), (2, 1))
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains("unit 0 of h2") && err.contains("kink") && err.contains("--scale"),
                    "{act} {mu} {s}: {err}"
                );
            }
            for (mu, s) in [
                (0.0, 1e-38),
                (0.0, 1.0),
                (13e-45, 1e-45),
                (1.0, 1e-100),
                (0.0, 0.0),
            ] {
                let got = layer_units(act, &unit(mu, s), (2, 1)).unwrap();
                assert_eq!(got, vec![UnitChaos::new(act, mu, s)], "{act} {mu} {s}");
            }
        }
        for act in [Activation::Tanh, Activation::Linear] {
            assert!(layer_units(act, &unit(0.0, 1e-45), (1, 0)).is_ok(), "{act}");
        }
    }

    /// The same above the bound (adv35: order 3 on data ×10⁵⁵ ran with errors 8–70 % off):
    /// a spread of 10⁵⁵ or 10³⁹ at the kink is refused, 10³⁸ and one far from the kink are not.
    #[test]
    fn kink_units_above_the_bound_are_refused() {
        for act in [Activation::Relu, Activation::LeakyRelu { slope: 0.1 }] {
            for (mu, s) in [(0.0, 1e55), (-3e39, 1e39)] {
                let err = layer_units(act, &unit(mu, s), (1, 0))
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains("unit 0 of h1") && err.contains("kink") && err.contains("--scale"),
                    "{act} {mu} {s}: {err}"
                );
            }
            for (mu, s) in [(0.0, 1e38), (1e100, 1e55), (0.0, 2.8e38)] {
                assert!(
                    layer_units(act, &unit(mu, s), (1, 0)).is_ok(),
                    "{act} {mu} {s}"
                );
            }
        }
        assert!(layer_units(Activation::Tanh, &unit(0.0, 1e55), (1, 0)).is_ok());
    }

    /// A leaky relu of slope 1 is linear: at the kink's spreads that are refused for slope 0.1
    /// (10⁻⁴⁵, 10⁵⁵) it is computed, and its chaos is the identity's (adv36; adv35 found it
    /// refused).
    #[test]
    fn a_leaky_relu_of_slope_1_has_no_kink() {
        let one = Activation::LeakyRelu { slope: 1.0 };
        for s in [1e-45, 1e55] {
            assert!(
                layer_units(Activation::LeakyRelu { slope: 0.1 }, &unit(0.0, s), (1, 0)).is_err()
            );
            let got = layer_units(one, &unit(0.0, s), (1, 0)).unwrap();
            assert_eq!(got, vec![UnitChaos::new(one, 0.0, s)], "{s}");
            let linear = UnitChaos::new(Activation::Linear, 0.0, s);
            for (a, b) in got[0].b.iter().flatten().zip(linear.b.iter().flatten()) {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{s}: {a} vs {b}");
            }
        }
    }
}
