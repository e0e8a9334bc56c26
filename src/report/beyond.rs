//! The report.md sections of issue #16: predicted confusion matrices beside the measured one,
//! the per-layer error budget, and the accuracy from the output's own cumulants. Their columns
//! depend on the network's depth, so they are Markdown tables built here rather than
//! [`super::table::Table`]s with fixed headers.

use std::fmt::Write;

use super::table::{Column, Table};
use crate::analysis::budget::{BudgetShares, OrderBudget};
use crate::analysis::start_layers::IndefiniteOutput;
use crate::analysis::tails::{OutputTails, NEGATIVE_MASS_TOL};
use crate::analysis::Analysis;
use crate::stats::lowest_eigenvalue_words;

/// A Markdown table from a header and rows of cells.
fn md_table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        for c in cells {
            let _ = write!(out, "| {c} ");
        }
        out.push_str("|\n");
    };
    line(&mut out, header);
    out.push_str(&"|---".repeat(header.len()));
    out.push_str("|\n");
    for r in rows {
        line(&mut out, r);
    }
    out
}

/// "p ± se" with 4 decimals (se as [`super::number::stderr`] prints it; the ± part left out
/// when se is 0).
fn pm(p: f64, se: f64) -> String {
    if se > 0.0 {
        format!("{p:.4} ± {}", super::number::stderr(se))
    } else {
        format!("{p:.4}")
    }
}

/// A share as a percentage, "—" when undefined.
fn share(s: Option<f64>) -> String {
    s.map_or("—".into(), |s| {
        format!("{:.1} %", unsigned_zero(100.0 * s, 1))
    })
}

/// `x`, or +0 where it prints as zero with `decimals` decimals: a step of −2.8·10⁻¹⁴ (rounding)
/// printed "-0.0000" with the share "-0.0 %" beside "+0.0000" and "0.0 %" (adv60).
fn unsigned_zero(x: f64, decimals: i32) -> f64 {
    if (x * 10f64.powi(decimals)).round() == 0.0 {
        0.0
    } else {
        x
    }
}

/// A budget step's value with 4 decimals (`signed`: with its sign, "+0.0000" for zero).
fn step_value(x: f64, signed: bool) -> String {
    let x = unsigned_zero(x, 4);
    if signed {
        format!("{x:+.4}")
    } else {
        format!("{x:.4}")
    }
}

/// The confusion section: per-class accuracy and the largest confusions, measured beside the
/// theory from every start layer (and the Edgeworth model of y when it ran).
pub fn confusion_section(a: &Analysis) -> String {
    let mut w = String::new();
    let _ = writeln!(w, "\n## Predicted confusion matrices\n");
    let _ = writeln!(
        w,
        "P(argmax y = k | class c): measured on the data (± binomial se) beside the Gaussian \
         theory from each start layer (same draws as the accuracy; ± Monte Carlo se) and, where \
         it ran, the Edgeworth and Student t models of y (see \"The output's tails\"). Full matrices in \
         report.json (`measured_confusion`, `start_layers[l].confusion`).\n"
    );
    let mut header = vec!["class".to_string(), "network".into()];
    header.extend(
        a.start_layers
            .iter()
            .map(|o| format!("from {}", o.start_stage)),
    );
    if a.output_tails.is_some() {
        header.extend(["y Edgeworth".into(), "y Student t".into()]);
    }
    let matrices = a.confusion_matrices();
    let cell = |c: usize, k: usize| -> Vec<String> {
        matrices
            .iter()
            .map(|m| m.get(c, k).map_or("—".into(), |(p, se)| pm(p, se)))
            .collect()
    };
    let rows: Vec<Vec<String>> = a
        .measured_confusion
        .rows
        .iter()
        .map(|r| [vec![r.class.to_string()], cell(r.class, r.class)].concat())
        .collect();
    let _ = writeln!(w, "Per-class accuracy P(argmax y = c | c):\n");
    let _ = write!(w, "{}", md_table(&header, &rows));
    header[0] = "c → k".into();
    let rows: Vec<Vec<String>> = a
        .largest_confusions
        .iter()
        .map(|&[c, k]| [vec![format!("{c} → {k}")], cell(c, k)].concat())
        .collect();
    let _ = writeln!(
        w,
        "\nLargest confusions P(argmax y = k | c), k ≠ c (the cells largest in any column):\n"
    );
    let _ = write!(w, "{}", md_table(&header, &rows));
    w
}

/// The error budget section: one table per closure order.
pub fn budget_section(a: &Analysis) -> String {
    let mut w = String::new();
    let _ = writeln!(w, "\n## Per-layer error budget\n");
    let _ = writeln!(
        w,
        "E(l): the error at the output of the theory from start layer l (class mean of the \
         relative Frobenius error of the covariance, of KL(N_emp ‖ N_prop), and A_l − network). \
         Step \"closure of layer l+1\" = E(l) − E(l+1): what that closure adds; the last row is \
         E(L), where the map to y is exact. The steps add up to E(0) (telescoping, with later \
         closures in place: not independent effects); share = step / E(0).\n"
    );
    for b in &a.error_budget {
        let _ = write!(w, "{}", budget_table(b));
    }
    w
}

fn budget_table(b: &OrderBudget) -> String {
    let header = [
        "order",
        "step",
        "Δ cov error",
        "share",
        "Δ KL",
        "share",
        "Δ accuracy",
        "share",
    ]
    .map(String::from);
    let kl = |k: Option<f64>| k.map_or("—".into(), |k| step_value(k, false));
    let mut rows: Vec<Vec<String>> = b
        .steps
        .iter()
        .map(|s| {
            vec![
                b.order.to_string(),
                s.label.clone(),
                step_value(s.errors.cov_rel_err, false),
                share(s.shares.cov_rel_err),
                kl(s.errors.kl),
                share(s.shares.kl),
                step_value(s.errors.accuracy_err, true),
                share(s.shares.accuracy_err),
            ]
        })
        .collect();
    // The total's own share: 100 % where the steps have shares, "—" where they have none (a
    // total at the rounding level or undefined), not "100 %" beside "—" (adv59).
    let whole = |share: fn(&BudgetShares) -> Option<f64>| {
        let any = b.steps.iter().any(|s| share(&s.shares).is_some());
        if any { "100 %" } else { "—" }.to_string()
    };
    rows.push(vec![
        b.order.to_string(),
        "**total E(0)** (theory from x)".into(),
        step_value(b.total.cov_rel_err, false),
        whole(|s| s.cov_rel_err),
        kl(b.total.kl),
        whole(|s| s.kl),
        step_value(b.total.accuracy_err, true),
        whole(|s| s.accuracy_err),
    ]);
    let mut w = md_table(&header, &rows);
    for (name, why) in withheld_reasons(b) {
        let _ = writeln!(w, "\nOrder {}: no {name} shares (—): {why}.", b.order);
    }
    w
}

/// The components of `b` whose shares are withheld, with the reason ([`OrderBudget::withheld`]).
fn withheld_reasons(b: &OrderBudget) -> Vec<(&'static str, &str)> {
    let w = &b.withheld;
    [
        ("covariance-error", &w.cov_rel_err),
        ("KL", &w.kl),
        ("accuracy", &w.accuracy_err),
    ]
    .into_iter()
    .filter_map(|(name, why)| Some((name, why.as_deref()?)))
    .collect()
}

/// The terminal's note under the budget: the accuracy totals that cannot be told from 0, whose
/// shares report.md and `--json` leave out (the terminal shows no shares; the covariance and KL
/// totals, withheld only at the rounding level, need no word here).
pub fn budget_notes(a: &Analysis) -> Vec<String> {
    a.error_budget
        .iter()
        .filter_map(|b| {
            let why = b.withheld.accuracy_err.as_deref()?;
            Some(format!(
                "order {}: no accuracy shares in report.md or --json: {why}",
                b.order
            ))
        })
        .collect()
}

/// The warning for the Edgeworth model's classes whose expansion fails (negative mass above
/// [`NEGATIVE_MASS_TOL`]), or `None` when it is a density up to that tolerance in every class.
pub fn edgeworth_warning(t: &OutputTails) -> Option<String> {
    if t.edgeworth_failed_classes.is_empty() {
        return None;
    }
    let classes: Vec<String> = t
        .edgeworth_failed_classes
        .iter()
        .map(ToString::to_string)
        .collect();
    Some(format!(
        "the Edgeworth expansion is not a density for class{} {} (negative mass up to {:.3} > \
         {NEGATIVE_MASS_TOL}): its figures there are the clipped density's and may differ from the \
         expansion's by that much",
        if classes.len() == 1 { "" } else { "es" },
        classes.join(", "),
        t.edgeworth_negative_mass
    ))
}

/// One warning per theory whose propagated output covariance is not positive semidefinite for
/// some class (`Analysis::indefinite_outputs`): which classes, how negative, and what that does
/// to the figures — for the classes a carried theory fell back for, what it fell back to (one
/// more line where the same theory kept an indefinite output for other classes).
pub fn indefinite_warnings(a: &Analysis) -> Vec<String> {
    let accuracy = match a.widths.last() {
        Some(2) => {
            "the accuracy reads only the variance of the two outputs' difference, from the \
             covariance with its negative eigenvalue set to 0 where that variance is negative"
        }
        _ => "the accuracy draws from it with the negative eigenvalues set to 0",
    };
    let lowest = |c: &IndefiniteOutput| {
        let difference = match c.difference_variance {
            Some(v) if v < 0.0 => format!("; the outputs' difference has variance {v:.3e} < 0"),
            _ => String::new(),
        };
        format!(
            "{} ({}{difference}",
            c.class,
            lowest_eigenvalue_words(c.most_negative_eigenvalue, c.trace)
        )
    };
    let plural = |n: usize| if n == 1 { "" } else { "es" };
    let mut out = Vec::new();
    for t in &a.indefinite_outputs {
        let (fell, kept): (Vec<&IndefiniteOutput>, Vec<&IndefiniteOutput>) =
            t.classes.iter().partition(|c| c.fallback.is_some());
        if !fell.is_empty() {
            let classes: Vec<String> = fell
                .iter()
                .filter_map(|c| {
                    let f = c.fallback.as_ref()?;
                    Some(format!("{}; fell back to {})", lowest(c), f.fell_back_to))
                })
                .collect();
            out.push(format!(
                "the output covariance carried from {} was not positive semidefinite for \
                 class{} {}: the expansion broke down there (no Gaussian has such a \
                 covariance), so the output, accuracy and KL of {} are the fallback's",
                t.start_stage,
                plural(fell.len()),
                classes.join(", "),
                if fell.len() == 1 {
                    "that class"
                } else {
                    "those classes"
                }
            ));
        }
        if !kept.is_empty() {
            let classes: Vec<String> = kept.iter().map(|c| format!("{})", lowest(c))).collect();
            out.push(format!(
                "the output covariance propagated from {} is not positive semidefinite for \
                 class{} {}: no Gaussian has it (a truncated expansion's covariance need not \
                 be one); {accuracy}{}",
                t.start_stage,
                plural(kept.len()),
                classes.join(", "),
                if t.kl_exists {
                    ""
                } else {
                    ", and the KL is n/a"
                }
            ));
        }
    }
    out
}

/// The output tails section: Gaussian and Edgeworth accuracy from y's own cumulants.
pub fn tails_section(a: &Analysis) -> String {
    let mut w = String::new();
    let _ = writeln!(w, "\n## The output's tails\n");
    let Some(t) = &a.output_tails else {
        let note = a.output_tails_note.as_deref().unwrap_or("not computed");
        let _ = writeln!(w, "Not available: {note}.");
        return w;
    };
    let _ = writeln!(
        w,
        "Accuracy from the network outputs' own cumulants per class: Gaussian N(ȳ_c, C_c) and \
         the 4th-order Edgeworth density (κ₃, κ₄, κ₃² terms), by Monte Carlo with {} draws per \
         class on the same draws (Edgeworth = Gaussian draws weighted by w(u)). Where w < 0 the \
         expansion is not a density: it is clipped at 0 and renormalised (self-normalised \
         weights max(w, 0)), which moves any probability by at most the negative mass \
         N = E[max(−w, 0)]; a class with N > {NEGATIVE_MASS_TOL} is flagged (†). The standard \
         errors are Monte Carlo only (not the sampling error of κ₃/κ₄).\n",
        t.mc_samples
    );
    if let Some(warning) = edgeworth_warning(t) {
        let _ = writeln!(w, "**Warning:** {warning}.\n");
    }
    let _ = writeln!(
        w,
        "Network {:.4}; Gaussian {}; **Edgeworth {}**; **Student t {}** (ν per class from the \
         Mardia kurtosis E|u|⁴ of the whitened outputs, same draws scaled by √W).\n",
        a.network_accuracy,
        pm(t.gaussian_accuracy, t.gaussian_stderr),
        pm(t.edgeworth_accuracy, t.edgeworth_stderr),
        pm(t.student_t_accuracy, t.student_t_stderr)
    );
    let header = [
        "class",
        "network",
        "Gaussian",
        "Edgeworth",
        "mean w",
        "min w",
        "w < 0",
        "N",
        "rank",
        "ν",
        "Student t",
    ]
    .map(String::from);
    let rows: Vec<Vec<String>> = t
        .per_class
        .iter()
        .map(|c| {
            vec![
                c.class.to_string(),
                format!("{:.4}", c.measured),
                pm(c.gaussian, c.gaussian_stderr),
                format!(
                    "{}{}",
                    pm(c.edgeworth, c.edgeworth_stderr),
                    if c.expansion_fails { " †" } else { "" }
                ),
                format!("{:.3}", c.weight_mean),
                format!("{:.3}", c.weight_min),
                format!("{:.1} %", 100.0 * c.negative_share),
                format!("{:.4}", c.negative_mass),
                c.rank.to_string(),
                c.student_t_dof.map_or("∞".into(), |v| format!("{v:.2}")),
                pm(c.student_t, c.student_t_stderr),
            ]
        })
        .collect();
    let _ = write!(w, "{}", md_table(&header, &rows));
    w
}

/// The error budget for the terminal: one row per step and order.
pub fn budget_text(a: &Analysis) -> Table {
    let mut t = Table::new(&[
        Column::new("order", 5),
        Column::new("budget step", 34),
        Column::new("Δ cov_rel_err", 13),
        Column::new("Δ kl", 10),
        Column::new("Δ accuracy", 10),
    ]);
    for b in &a.error_budget {
        for s in &b.steps {
            t.row(vec![
                b.order.to_string(),
                s.label.clone(),
                step_value(s.errors.cov_rel_err, false),
                s.errors.kl.map_or("n/a".into(), |k| step_value(k, false)),
                step_value(s.errors.accuracy_err, true),
            ]);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::budget::{BudgetErrors, BudgetStep, WithheldShares};

    /// A budget whose covariance and KL totals are rounding (no shares) and whose accuracy total
    /// is not: the total row says "—" where its steps do, and "100 %" only for the accuracy.
    #[test]
    fn the_total_row_has_a_share_only_where_its_steps_do() {
        let e = |a: f64| BudgetErrors {
            cov_rel_err: 1e-16,
            kl: Some(0.0),
            accuracy_err: a,
        };
        let step = |layer, a: f64| BudgetStep {
            layer,
            label: "step".into(),
            errors: e(a),
            shares: BudgetShares {
                cov_rel_err: None,
                kl: None,
                accuracy_err: Some(a / -0.02),
            },
        };
        let b = OrderBudget {
            order: 2,
            by_start_layer: vec![e(-0.02), e(-0.01)],
            total: e(-0.02),
            total_accuracy_stderr: 0.001,
            withheld: WithheldShares {
                cov_rel_err: Some("rounding".into()),
                kl: Some("rounding".into()),
                accuracy_err: None,
            },
            steps: vec![step(Some(1), -0.01), step(None, -0.01)],
        };
        let table = budget_table(&b);
        let total = table.lines().rfind(|l| l.starts_with('|')).unwrap();
        assert!(
            total.ends_with("| 0.0000 | — | 0.0000 | — | -0.0200 | 100 % |"),
            "{total}"
        );
        // A rounding-level step prints as zero with a zero share, not "-0.0000" and "-0.0 %".
        let mut tiny = b.clone();
        tiny.steps[0].errors.cov_rel_err = -2.8e-14;
        tiny.steps[0].errors.accuracy_err = -2.8e-14;
        tiny.steps[0].shares.accuracy_err = Some(-2.8e-14 / 0.02);
        let row = budget_table(&tiny).lines().nth(2).unwrap().to_string();
        assert!(
            row.ends_with("| 0.0000 | — | 0.0000 | — | +0.0000 | 0.0 % |"),
            "{row}"
        );
        // Why the shares are "—", once per component withheld (adv60), none for the accuracy.
        assert!(table.contains("Order 2: no covariance-error shares (—): rounding."));
        assert!(table.contains("Order 2: no KL shares (—): rounding."));
        assert!(!table.contains("no accuracy shares"), "{table}");
    }
}
