//! The tables of `analyze` and `propagate`, built once on the [`Table`] model and rendered as
//! text (the terminal) or Markdown (report.md). Accuracies have 4 decimals, distances and
//! errors 4 significant digits ([`super::number`]: no "8.2373e0", rounding-level negatives of
//! non-negative quantities as 0).

use super::number::{non_negative, sig};
use super::table::{Column, Table};
use crate::analysis::transfer::LayerTransfer;
use crate::analysis::{Analysis, ClassMean, StageComparison};

/// Theory accuracy from every start layer, against the network's.
pub fn theory(a: &Analysis) -> Table {
    let mut t = Table::new(&[
        Column::new("start layer", 11),
        Column::new("stage", 6),
        Column::named("theory", "theory accuracy", 9),
        Column::new("stderr", 8),
        Column::named("Δ", "theory − network", 9),
    ]);
    for r in &a.theory_accuracy {
        // A point-mass prediction is marked: its accuracy is 0/1 per class, not a forecast.
        let mark = if r.degenerate { " (degenerate)" } else { "" };
        t.row(vec![
            r.start_layer.to_string(),
            r.start_stage.to_string(),
            format!("{:.4}{mark}", r.accuracy),
            super::number::stderr(r.stderr),
            format!("{:+.4}", r.accuracy - a.network_accuracy),
        ]);
    }
    t
}

/// The network on order-1 and order-2 Gaussian surrogates of its inputs, and on the real ones.
pub fn surrogates(a: &Analysis) -> Table {
    let mut t = Table::new(&[
        Column::named("surrogate", "input", 9),
        Column::new("accuracy", 9),
        Column::new("stderr", 8),
        Column::new("samples", 8),
        Column::named("dropped", "directions dropped", 8),
        Column::markdown_only("largest dropped variance"),
    ]);
    let s = &a.surrogate_accuracy;
    for (name, r) in [
        ("order 1", &s.order1),
        ("order 2", &s.order2),
        ("real", &s.real),
    ] {
        t.row(vec![
            name.to_string(),
            format!("{:.4}", r.accuracy),
            super::number::stderr(r.stderr),
            r.n_samples.to_string(),
            r.dropped_directions.to_string(),
            sig(r.largest_dropped_variance, 4),
        ]);
    }
    t
}

/// Bhattacharyya mean and covariance terms per stage.
pub fn information(a: &Analysis) -> Table {
    let mut t = Table::new(&[
        Column::new("stage", 6),
        Column::new("mean term", 11),
        Column::named("cov term", "covariance term", 11),
        Column::new("mean share", 10),
        Column::markdown_only("ridged pairs"),
    ]);
    for i in &a.information {
        t.row(vec![
            i.stage.to_string(),
            non_negative(i.mean_term, 5),
            non_negative(i.cov_term, 5),
            i.mean_share.map_or("n/a".into(), |s| format!("{s:.3}")),
            i.ridged_pairs.to_string(),
        ]);
    }
    t
}

/// Marks the errors of a degenerate row (absolute, not relative: [`DEGENERATE_NOTE`]).
pub const DEGENERATE_MARK: &str = "*";

/// The footnote of the tables of [`comparisons`] and [`class_means`] when a row is marked: the
/// JSON's `"degenerate": true`, which the text table showed only as implausibly small or large
/// "relative" errors (adv21's relu network ×10⁻³⁰; adv22).
pub const DEGENERATE_NOTE: &str = "* degenerate: the measured covariance (or its trace) is zero, \
     or only the rounding of its mean (spread ≤ 16 ε ‖mean‖; its KL is then n/a), while the \
     prediction differs, so cov_rel_err and mean_err are absolute errors (JSON: \
     \"degenerate\": true); a mean over classes then mixes them with relative ones";

/// Marks a row whose errors are not reported: the stage's measured spread lies below f64's
/// range for the class ([`UNRESOLVED_NOTE`]).
pub const UNRESOLVED_MARK: &str = "n/a†";

/// The footnote of the tables of [`comparisons`] and [`class_means`] when a row is not
/// reported (the JSON's `"unresolved"`, with the unit and the reason).
pub const UNRESOLVED_NOTE: &str = "† not resolved: every unit of the stage has, for that class, \
     a spread below f64's range (its variance subnormal, or 0 at values below 2^-450: units \
     dead for every sample, such as a GELU unit far below 0); its measured covariance and the \
     prediction are rounding, so its errors are not reported (JSON: \"unresolved\", the errors \
     there absolute); the stages after it are compared as usual";

/// The note under `propagate`'s tables when a row's prediction is not a covariance (the JSON's
/// `"indefinite"`): its KL is "n/a".
pub const INDEFINITE_NOTE: &str = "note: kl n/a where the predicted covariance is not positive \
     definite even with the KL's ridge (JSON: \"indefinite\"): the order-3|4 corrections of a \
     strongly skewed pre-activation can leave the positive semidefinite cone although every \
     pair's corrected correlation lies in [-1, 1]; --order 2 keeps it a covariance";

/// `value` (an error of [`non_negative`]'s 4 digits) with [`DEGENERATE_MARK`] when `degenerate`.
fn marked(value: f64, degenerate: bool) -> String {
    let mark = if degenerate { DEGENERATE_MARK } else { "" };
    format!("{}{mark}", non_negative(value, 4))
}

/// The three errors of a row: [`UNRESOLVED_MARK`] each where `unresolved`.
fn errors(
    cov: f64,
    mean: f64,
    kl: Option<f64>,
    (degenerate, unresolved): (bool, bool),
) -> [String; 3] {
    if unresolved {
        return [UNRESOLVED_MARK; 3].map(String::from);
    }
    [
        marked(cov, degenerate),
        marked(mean, degenerate),
        kl.map_or("n/a".to_string(), |k| non_negative(k, 4)),
    ]
}

/// Propagated against measured statistics, one row per stage and class; the errors of a
/// degenerate row are marked ([`DEGENERATE_MARK`]).
pub fn comparisons(rows: &[StageComparison]) -> Table {
    let mut t = Table::new(&[
        Column::new("layer", 5),
        Column::new("stage", 6),
        Column::new("class", 5),
        Column::new("cov_rel_err", 12),
        Column::new("mean_err", 12),
        Column::new("kl", 12),
    ]);
    for r in rows {
        let flags = (r.degenerate, r.unresolved.is_some());
        let mut row = vec![
            r.layer.to_string(),
            r.stage.to_string(),
            r.class.to_string(),
        ];
        row.extend(errors(r.cov_rel_err, r.mean_err, r.kl, flags));
        t.row(row);
    }
    t
}

/// The comparisons averaged over classes, one row per stage; a stage with a degenerate class
/// is marked ([`DEGENERATE_MARK`]).
pub fn class_means(means: &[ClassMean]) -> Table {
    let mut t = Table::new(&[
        Column::new("layer", 5),
        Column::new("stage", 6),
        Column::new("cov_rel_err", 12),
        Column::new("mean_err", 12),
        Column::new("kl", 12),
    ]);
    for m in means {
        let flags = (m.degenerate, m.unresolved);
        let mut row = vec![m.layer.to_string(), m.stage.to_string()];
        row.extend(errors(m.cov_rel_err, m.mean_err, m.kl, flags));
        t.row(row);
    }
    t
}

/// The quadratic closure's transfer between orders, as the text shows it: the shares that
/// cross orders.
pub fn transfer_shares(transfer: &[LayerTransfer]) -> Table {
    let mut t = Table::new(&[
        Column::new("layer", 6),
        Column::new("cov feeds mean", 15),
        Column::new("κ₃/κ₄ feed cov", 17),
    ]);
    for r in transfer {
        t.row(vec![
            r.layer.to_string(),
            share(r.cov_feeds_mean),
            share(r.higher_feeds_cov),
        ]);
    }
    t
}

/// A transfer share with 3 decimals; "n/a" where its group has no term to share (every norm 0).
fn share(s: Option<f64>) -> String {
    s.map_or("n/a".into(), |s| format!("{s:.3}"))
}

/// The quadratic closure's transfer between orders term by term (report.md).
pub fn transfer_terms(transfer: &[LayerTransfer]) -> Table {
    let mut t = Table::new(
        &[
            "layer",
            "m: μ",
            "m: αμ²",
            "m: αΣᵢᵢ",
            "C: Σ",
            "C: (gg−1)Σ",
            "C: 2α²Σ²",
            "C: κ₃",
            "C: κ₄",
            "residual m / C",
        ]
        .map(Column::markdown_only),
    );
    for r in transfer {
        let mut cells = vec![r.layer.to_string()];
        cells.extend(
            r.mean_terms
                .iter()
                .chain(&r.cov_terms)
                .map(|term| share(term.share)),
        );
        cells.push(format!(
            "{} / {}",
            non_negative(r.residual_mean, 2),
            non_negative(r.residual_cov, 2)
        ));
        t.row(cells);
    }
    t
}
