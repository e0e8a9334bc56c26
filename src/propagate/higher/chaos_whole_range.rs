//! [`super::chaos::UnitChaos`] against the quadrature reference over the whole range
//! (`closures::coef_reference::powers`: 20-point Gauss–Legendre over |z| ≤ 50, compensated
//! sums, its cut bounded by `powers_tail_bound`) on both sides of sigmoid, SiLU, softplus,
//! GELU, tanh and erf: μ/s = ±6.5 … ±10⁴, s = 10⁻³ … 10, every E[(φ − m)^p Heⱼ] = B_{p,j}·j!·s^j,
//! p ≤ 4, j ≤ 5, and the mean.
//!
//! Two scales per power p, both times √j! (|E[g Heⱼ]| ≤ ‖g‖·√j!):
//! - the unit's, (|m| + √Var)^p, the existing tests' scale for p = 1 (`hermite_coef`); on
//!   the decaying side m → 0 with the unit's output, so an absolute floor says nothing there;
//! - the row's own, max((|m| + √Var)^p, maxⱼ |E[(φ − m)^p Heⱼ]|/√j!): where (φ − m)^p is
//!   heavy-tailed (a wide decaying unit: E[φ⁴] ≫ Var², its mass at h > 0 beyond the bulk of
//!   φ's) the coefficients exceed the unit's scale by many orders and this judges them
//!   relative to their own size.
//!
//! A power is judged where its own scale is above 10⁻²⁵⁰ (products w·(φ − m)^p of the rules
//! stay normal near the integrand's peak) and the reference's cut is below 10⁻¹⁷ of it.

use super::chaos::UnitChaos;
use crate::net::Activation;
use crate::propagate::closures::coef_reference::{
    powers, powers_tail_bound, MEANS, RANGE, SPREADS,
};
/// The activations of the grid.
pub const ACTS: [Activation; 6] = [
    Activation::Sigmoid,
    Activation::Silu,
    Activation::Softplus,
    Activation::Gelu,
    Activation::Tanh,
    Activation::Erf,
];
/// j! for j = 0..=5.
const FACTS: [f64; 6] = [1.0, 1.0, 2.0, 6.0, 24.0, 120.0];

/// The largest error of one unit's coefficients in each scale (module docs), with its (p, j)
/// ((1, 0) for the mean), and the powers judged.
#[derive(Clone, Copy, Debug)]
pub struct Gap {
    pub unit: (f64, usize, usize),
    pub own: (f64, usize, usize),
    pub judged: usize,
}

/// One unit's E[(φ − m)^p Heⱼ] (rows 1..4; row 0 unused) and its mean m.
pub type Table = ([[f64; 6]; 5], f64);

/// [`UnitChaos`]'s coefficients as a [`Table`]: E[(φ − m)^p Heⱼ] = B_{p,j}·j!·s^j (B_{1,0} is
/// 0 by definition, and the mean stands in its place).
pub fn table(got: &UnitChaos, s: f64) -> Table {
    let mut e = [[0.0; 6]; 5];
    for (row, b) in e.iter_mut().zip(&got.b).skip(1) {
        for (j, (x, b)) in row.iter_mut().zip(b).enumerate() {
            *x = b * FACTS[j] * s.powi(j as i32);
        }
    }
    (e, got.mean)
}

/// `got` against the reference at (μ, s) with panels `width`/max(1, s) (module docs); `None`
/// where no power is judged.
pub fn gap(act: Activation, mu: f64, s: f64, got: &Table, width: f64) -> Option<Gap> {
    let (want, even, m) = powers(act, mu, s, width);
    let base = m.abs() + even[1];
    let mut out = Gap {
        unit: (0.0, 0, 0),
        own: (0.0, 0, 0),
        judged: 0,
    };
    for (p, want) in want.iter().enumerate().skip(1) {
        let unit = base.powi(p as i32);
        let row = (0..6).fold(0.0f64, |a, j| a.max(want[j].abs() / FACTS[j].sqrt()));
        let own = unit.max(row);
        if !(own > 1e-250 && powers_tail_bound(mu, s, m, p, RANGE) <= 1e-17 * own) {
            continue;
        }
        out.judged += 1;
        for j in 0..6 {
            let d = if p == 1 && j == 0 {
                (got.1 - m).abs()
            } else {
                (got.0[p][j] - want[j]).abs()
            };
            let d = if d.is_nan() { f64::INFINITY } else { d };
            let f = FACTS[j].sqrt();
            if unit > 1e-250 && d / (unit * f) > out.unit.0 {
                out.unit = (d / (unit * f), p, j);
            }
            if d / (own * f) > out.own.0 {
                out.own = (d / (own * f), p, j);
            }
        }
    }
    (out.judged > 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest error of a judged unit in its own scale (module docs): measured worst 2.6·10⁻¹⁴
    /// (GELU s = 5, μ = −30 s). The reference's own error: its panels halved change it by
    /// ≤ 1.1·10⁻¹⁴ of that scale on this grid, and it is within 1.3·10⁻¹⁴ of mpmath on the
    /// eight rows of `whole_range_dump` (EXPERIMENTS.md, gh36); TOL leaves a factor ~75 over
    /// both.
    const TOL: f64 = 1e-12;

    /// [`UnitChaos::new`] on the whole grid (module docs): every judged unit's mean and
    /// E[(φ − m)^p Heⱼ] (p ≤ 4, j ≤ 5) within [`TOL`] of the reference in the row's own scale.
    /// Fails on main's rule (|z| ≤ 12 on the decaying side; the Taylor form for saturated
    /// wide tanh and erf units): checked, EXPERIMENTS.md, gh36.
    #[test]
    fn unit_chaos_matches_the_reference_over_the_whole_range() {
        let (mut judged, mut worst, mut bad) = (0, (0.0f64, String::new()), Vec::new());
        for act in ACTS {
            for s in SPREADS {
                for a in MEANS.iter().flat_map(|&a| [-a, a]) {
                    let mu = a * s;
                    let got = table(&UnitChaos::new(act, mu, s), s);
                    let Some(g) = gap(act, mu, s, &got, 0.25) else {
                        continue;
                    };
                    judged += 1;
                    let at = format!("{act} s = {s} μ/s = {a}: B{:?}", (g.own.1, g.own.2));
                    if g.own.0 > worst.0 {
                        worst = (g.own.0, at.clone());
                    }
                    if g.own.0 > TOL {
                        bad.push(format!("{at} {:.2e}", g.own.0));
                    }
                }
            }
        }
        assert!(
            bad.is_empty(),
            "{} of {judged}:\n{}",
            bad.len(),
            bad.join("\n")
        );
        println!(
            "{judged} units judged, worst {:.2e} at {}",
            worst.0, worst.1
        );
    }

    /// Full-precision reference and [`UnitChaos`] values on the rows where main's rule and
    /// this one differ most, for the mpmath check (`cargo test --release --lib
    /// whole_range_dump -- --ignored --nocapture`; EXPERIMENTS.md, gh36): per row `REF`
    /// (m, then E[(φ − m)^p Heⱼ], p = 1..4, j = 0..5) and `GOT`.
    #[test]
    #[ignore = "rows for the mpmath check in EXPERIMENTS.md"]
    fn whole_range_dump() {
        let rows = [
            (Activation::Sigmoid, 2.0, -20.0),
            (Activation::Sigmoid, 10.0, -12.0),
            (Activation::Silu, 5.0, -12.0),
            (Activation::Softplus, 1.5, -12.0),
            (Activation::Gelu, 1.0, -30.0),
            (Activation::Gelu, 5.0, -12.0),
            (Activation::Tanh, 10.0, 6.5),
            (Activation::Erf, 1.5, -6.5),
        ];
        let line = |tag: String, (e, m): Table| {
            let v: Vec<String> = (1..=4)
                .flat_map(|p| e[p].map(|x| format!("{x:e}")))
                .collect();
            println!("{tag} {m:e} {}", v.join(" "));
        };
        for (act, s, a) in rows {
            let mu = a * s;
            let (want, _, m) = powers(act, mu, s, 0.25);
            line(format!("ROW {act} {s} {a} REF"), (want, m));
            line(
                format!("ROW {act} {s} {a} GOT"),
                table(&UnitChaos::new(act, mu, s), s),
            );
        }
    }

    /// The grid's table (EXPERIMENTS.md, gh36): `cargo test --release --lib
    /// whole_range_table -- --ignored --nocapture`; with the reference at panels 0.125 against
    /// itself at 0.25 (its discretisation, column `half`).
    #[test]
    #[ignore = "a table for EXPERIMENTS.md"]
    fn whole_range_table() {
        for act in ACTS {
            for s in SPREADS {
                for a in MEANS.iter().flat_map(|&a| [-a, a]) {
                    let mu = a * s;
                    let unit = UnitChaos::new(act, mu, s);
                    let Some(g) = gap(act, mu, s, &table(&unit, s), 0.25) else {
                        println!("SKIP {act} {s:e} {a}");
                        continue;
                    };
                    let (fine, _, m) = powers(act, mu, s, 0.125);
                    let half = gap(act, mu, s, &(fine, m), 0.25).map_or(0.0, |h| h.own.0);
                    println!(
                        "ROW {act} {s:e} {a} unit {:.1e} B{:?} own {:.1e} B{:?} judged {} \
                         half {half:.1e} mean {:e} ref {m:e}",
                        g.unit.0,
                        (g.unit.1, g.unit.2),
                        g.own.0,
                        (g.own.1, g.own.2),
                        g.judged,
                        unit.mean
                    );
                }
            }
        }
    }
}
