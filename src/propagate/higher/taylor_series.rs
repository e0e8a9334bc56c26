//! Taylor coefficients of an activation around a point: φ(μ + δ) = Σ_{k≤K} c_k δ^k,
//! c_k = φ⁽ᵏ⁾(μ)/k!, by the recurrences of truncated power series (Griewank & Walther,
//! *Evaluating Derivatives*, 2nd ed., §13.2):
//!
//! ```text
//! e = exp(u):        e_0 = exp(u_0),  k e_k = Σ_{i=1..k} i u_i e_{k−i}
//! y = σ(μ + δ):      (k+1) y_{k+1} = Σ_{i=0..k} y_i c_{k−i},  c = 1 − y (c_0 = σ(−μ), c_k = −y_k)
//! f = ∫ g:           f_k = g_{k−1}/k
//! ```
//!
//! tanh(h) = 2σ(2h) − 1; erf′ = (2/√π) e^{−h²}; gelu = hΦ(h), Φ′ = e^{−h²/2}/√(2π);
//! silu = hσ(h); softplus′ = σ. The complement c_0 = σ(−μ) is evaluated directly so that a
//! saturated σ keeps its small derivatives to relative precision. Linear and quadratic φ are
//! their own (finite) series; relu and leaky relu are linear away from their kink (the
//! caller's condition: the kink beyond the range it integrates over).

use crate::net::Activation;

/// Highest degree K kept.
pub const DEGREE: usize = 24;

/// c_0 … c_K.
pub type Series = [f64; DEGREE + 1];

/// The Taylor coefficients of `act` at μ (module docs); for relu and leaky relu those of the
/// linear piece μ lies on.
pub fn taylor(act: Activation, mu: f64) -> Series {
    let mut c = [0.0; DEGREE + 1];
    match act {
        Activation::Linear => {
            c[0] = mu;
            c[1] = 1.0;
        }
        Activation::Quadratic { alpha } => {
            c[0] = act.eval(mu);
            c[1] = 1.0 + 2.0 * alpha * mu;
            c[2] = alpha;
        }
        Activation::Relu | Activation::LeakyRelu { .. } => {
            c[1] = act.deriv(mu);
            c[0] = act.eval(mu);
        }
        Activation::Erf => {
            let mut g = exp_series(&[-mu * mu, -2.0 * mu, -1.0]);
            g.iter_mut()
                .for_each(|x| *x *= std::f64::consts::FRAC_2_SQRT_PI);
            c = integrate(&g, act.eval(mu));
        }
        Activation::Tanh => {
            c = logistic(2.0 * mu);
            let mut two = 2.0;
            for x in c.iter_mut().skip(1) {
                two *= 2.0;
                *x *= two;
            }
            c[0] = act.eval(mu);
        }
        Activation::Sigmoid => c = logistic(mu),
        Activation::Gelu => {
            let mut g = exp_series(&[-0.5 * mu * mu, -mu, -0.5]);
            let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
            g.iter_mut().for_each(|x| *x *= norm);
            let cdf = 0.5 * libm::erfc(-mu * std::f64::consts::FRAC_1_SQRT_2);
            c = times_h(mu, &integrate(&g, cdf));
            c[0] = act.eval(mu);
        }
        Activation::Silu => {
            c = times_h(mu, &logistic(mu));
            c[0] = act.eval(mu);
        }
        Activation::Softplus => c = integrate(&logistic(mu), act.eval(mu)),
    }
    c
}

/// exp of the polynomial u (degree < K) as a series.
fn exp_series(u: &[f64]) -> Series {
    let mut e = [0.0; DEGREE + 1];
    e[0] = u[0].exp();
    for k in 1..=DEGREE {
        let acc: f64 = (1..=k.min(u.len() - 1))
            .map(|i| i as f64 * u[i] * e[k - i])
            .sum();
        e[k] = acc / k as f64;
    }
    e
}

/// σ(μ + δ) as a series (module docs).
fn logistic(mu: f64) -> Series {
    let mut y = [0.0; DEGREE + 1];
    let mut c = [0.0; DEGREE + 1];
    y[0] = 1.0 / (1.0 + (-mu).exp());
    c[0] = 1.0 / (1.0 + mu.exp());
    for k in 0..DEGREE {
        let acc: f64 = (0..=k).map(|i| y[i] * c[k - i]).sum();
        y[k + 1] = acc / (k + 1) as f64;
        c[k + 1] = -y[k + 1];
    }
    y
}

/// The series of ∫ g with constant term `c0` (the degree-K term of g dropped).
fn integrate(g: &Series, c0: f64) -> Series {
    let mut f = [0.0; DEGREE + 1];
    f[0] = c0;
    for k in 1..=DEGREE {
        f[k] = g[k - 1] / k as f64;
    }
    f
}

/// (μ + δ)·g as a series.
fn times_h(mu: f64, g: &Series) -> Series {
    let mut f = [0.0; DEGREE + 1];
    for k in 0..=DEGREE {
        f[k] = mu * g[k] + if k > 0 { g[k - 1] } else { 0.0 };
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// c_1 is φ′(μ) and c_0 is φ(μ); c_2 and c_3 are the central differences of φ′ (step 1e-3,
    /// error O(1e-6) relative to the fourth derivative's size).
    #[test]
    fn leading_coefficients_are_the_derivatives() {
        let acts = "erf tanh sigmoid gelu silu softplus quad:0.5"
            .split(' ')
            .map(|name| name.parse::<Activation>().expect("an activation"));
        for act in acts {
            for mu in [-2.1, -0.3, 0.0, 0.8, 3.0] {
                let c = taylor(act, mu);
                let d = |h: f64| act.deriv(h);
                let e = 1e-3;
                assert!(
                    (c[0] - act.eval(mu)).abs() <= 1e-15 * (1.0 + c[0].abs()),
                    "{act} {mu}"
                );
                assert!(
                    (c[1] - d(mu)).abs() <= 1e-14 * (1.0 + c[1].abs()),
                    "{act} {mu}"
                );
                let c2 = (d(mu + e) - d(mu - e)) / (2.0 * e) / 2.0;
                let c3 = (d(mu + e) - 2.0 * d(mu) + d(mu - e)) / (e * e) / 6.0;
                assert!((c[2] - c2).abs() <= 1e-6, "{act} {mu} c2 {} vs {c2}", c[2]);
                assert!((c[3] - c3).abs() <= 1e-5, "{act} {mu} c3 {} vs {c3}", c[3]);
            }
        }
    }
}
