//! [`super::chaos::UnitChaos`] against the independent reference `fixtures/chaos_reference.csv`
//! (`scripts/chaos_reference.py`: mpmath at 50–60 digits; quadrature at s ≥ 10⁻²·|μ|, the
//! Taylor series of φ to degree 30 with exact Gaussian moments below), for every activation
//! at μ ∈ {0, 0.7, −1.3, 3} and s/|μ| (s at μ = 0) from 10⁻¹ to 10⁻³⁰⁰.
//!
//! A coefficient's error is measured in the unit u_{p,j} = ‖(φ − m)^p‖₂/(s^j √j!): by Parseval
//! |B_{p,j}| s^j √j! ≤ ‖(φ − m)^p‖₂, and every term the closures and the carry build from
//! B_{p,j} multiplies it by a Gaussian or carried cumulant of the unit of size ~s^j, so an
//! error of ε·u_{p,j} is an error of relative size ε in the unit's contribution. The tolerance
//! [`TOL`] is derived from the quadrature's rounding: φ at a node carries an error of
//! ~ulp(|φ|) ≈ 1.1·10⁻¹⁶|φ(μ)|, and Σ_k w_k |He_j(z_k)| ≤ E|He_5| ≈ 6.3 for j ≤ 5, so the
//! quadrature's error in units u is ≲ 10⁻¹⁵·|φ(μ)|/σ_φ (σ_φ = u_{1,0}); the quadrature is kept
//! where that estimate is below 10⁻¹³ (`chaos_taylor::OLD_PATH_LIMIT`), i.e. its error is
//! ≲ 10⁻¹² there; the Taylor form's truncation is kept below 10⁻¹⁴ (`TAYLOR_LIMIT`). TOL = 10⁻¹¹
//! leaves a factor 10 over the quadrature's bound at the switch. The mean is checked to
//! 10⁻¹⁴|m| + TOL·σ_φ (its rounding is relative to |m|).

use super::chaos::{UnitChaos, MAX_DEGREE, MAX_POWER};
use crate::net::Activation;

/// Largest error of a coefficient in units u_{p,j} (module docs).
pub const TOL: f64 = 1e-11;

/// One row of the reference: activation, μ, s, m, B_{p,j} and log₁₀ u_{p,j}.
pub struct Row {
    pub act: Activation,
    pub mu: f64,
    pub s: f64,
    pub mean: f64,
    pub b: [[f64; MAX_DEGREE + 1]; MAX_POWER + 1],
    pub log_u: [[f64; MAX_DEGREE + 1]; MAX_POWER + 1],
}

/// The reference's rows.
pub fn rows() -> Vec<Row> {
    let text = include_str!("../../../fixtures/chaos_reference.csv");
    text.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let num = |i: usize| -> f64 {
                match cells[i] {
                    "-inf" => f64::NEG_INFINITY,
                    c => c.parse().unwrap_or_else(|_| panic!("cell {i} of {line}")),
                }
            };
            let mut b = [[0.0; MAX_DEGREE + 1]; MAX_POWER + 1];
            let mut log_u = b;
            for p in 1..=MAX_POWER {
                for j in 0..=MAX_DEGREE {
                    let k = 4 + 2 * ((p - 1) * (MAX_DEGREE + 1) + j);
                    b[p][j] = num(k);
                    log_u[p][j] = num(k + 1);
                }
            }
            Row {
                act: cells[0].parse().expect("activation"),
                mu: num(1),
                s: num(2),
                mean: num(3),
                b,
                log_u,
            }
        })
        .collect()
}

/// The largest error of `got` against the row in units u_{p,j} (module docs), with its (p, j);
/// a non-finite coefficient counts as an infinite error.
pub fn worst_error(row: &Row, got: &UnitChaos) -> (f64, usize, usize) {
    let mut worst = (0.0, 0, 0);
    for p in 1..=MAX_POWER {
        for j in 0..=MAX_DEGREE {
            let e = error_in_units(got.b[p][j], row.b[p][j], row.log_u[p][j]);
            if e > worst.0 || e.is_nan() {
                worst = (if e.is_nan() { f64::INFINITY } else { e }, p, j);
            }
        }
    }
    worst
}

/// |got − want|/u with u = 10^log_u, computed without leaving f64's range: a u beyond it
/// gives 0 for any finite error, a u below it the error against f64's smallest normal; a
/// reference beyond f64's range (parsed as ±∞) is met only by the same infinity.
fn error_in_units(got: f64, want: f64, log_u: f64) -> f64 {
    if want.is_infinite() && got == want {
        return 0.0; // beyond f64's range, rounded to the same infinity
    }
    if !got.is_finite() {
        return f64::INFINITY;
    }
    let d = (got - want).abs();
    if d == 0.0 {
        return 0.0;
    }
    let log = d.log10() - log_u.max(f64::MIN_POSITIVE.log10());
    10f64.powf(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every coefficient and the mean within [`TOL`] of the reference (module docs), at every
    /// row: 10 activations × 4 means × 16 scales from s/|μ| = 10⁻¹ to 10⁻³⁰⁰.
    #[test]
    fn coefficients_match_the_reference_at_every_scale() {
        let rows = rows();
        assert_eq!(rows.len(), 10 * 4 * 16);
        let mut bad = Vec::new();
        for row in &rows {
            let got = UnitChaos::new(row.act, row.mu, row.s);
            let (e, p, j) = worst_error(row, &got);
            let sigma = 10f64.powf(row.log_u[1][0]);
            let dm = (got.mean - row.mean).abs();
            if e > TOL || dm > 1e-14 * row.mean.abs() + TOL * sigma || dm.is_nan() {
                bad.push(format!(
                    "{} μ={} s={:e}: B[{p}][{j}] {:e} (ref {:e}), error {e:.2e} u; mean {:e} (ref {:e})",
                    row.act, row.mu, row.s, got.b[p][j], row.b[p][j], got.mean, row.mean
                ));
            }
        }
        assert!(
            bad.is_empty(),
            "{} of {} rows:\n{}",
            bad.len(),
            rows.len(),
            bad.join("\n")
        );
    }

    /// The table of EXPERIMENTS.md (nd32): per activation and s/|μ| (s at μ = 0), the largest
    /// error over μ and (p, j) in units u, and the largest relative error |ΔB|/|B| over the
    /// coefficients with |B| ≥ 10⁻³⁰⁰ and ≥ 10⁻¹² u (`cargo test --release --lib chaos_reference --
    /// --ignored --nocapture`).
    #[test]
    #[ignore = "prints the error table"]
    fn print_error_table() {
        let rows = rows();
        let mut cells: Vec<(String, f64, f64, f64)> = Vec::new();
        for row in &rows {
            let got = UnitChaos::new(row.act, row.mu, row.s);
            let ratio = if row.mu == 0.0 {
                row.s
            } else {
                row.s / row.mu.abs()
            };
            let (e, _, _) = worst_error(row, &got);
            let mut rel: f64 = 0.0;
            for p in 1..=MAX_POWER {
                for j in 0..=MAX_DEGREE {
                    let (g, w) = (got.b[p][j], row.b[p][j]);
                    // Coefficients of at least 10⁻¹² u (not zeros by structure or symmetry).
                    if w.abs() >= 1e-300 && error_in_units(0.0, w, row.log_u[p][j]) >= 1e-12 {
                        let r = (g - w).abs() / w.abs();
                        rel = if r.is_nan() {
                            f64::INFINITY
                        } else {
                            rel.max(r)
                        };
                    }
                }
            }
            let name = row.act.to_string();
            match cells
                .iter_mut()
                .find(|c| c.0 == name && (c.1 / ratio - 1.0).abs() < 1e-6)
            {
                Some(c) => {
                    c.2 = c.2.max(e);
                    c.3 = c.3.max(rel);
                }
                None => cells.push((name, ratio, e, rel)),
            }
        }
        for (name, ratio, e, rel) in cells {
            println!("{name}\t{ratio:.0e}\t{e:.1e}\t{rel:.1e}");
        }
    }
}
