//! report.md of `corrflow analyze --report`: the analysis tables and links to the plots.
//! Accuracies are printed with 4 decimals, distances and norms with 4 significant digits.

use std::fmt::Write;

use super::{number, tables};
use crate::analysis::{Analysis, Heatmap};

/// The plots the report links, by file stem (each exists as .png and .svg).
pub const PLOTS: [(&str, &str); 5] = [
    ("accuracy", "Accuracy vs start layer"),
    ("information", "Mean vs covariance information per stage"),
    ("heatmap", "Covariance heatmap, measured beside propagated"),
    ("confusion", "Confusion matrices, measured beside predicted"),
    ("budget", "Per-layer error budget (waterfall)"),
];

/// `text` as one cell of a Markdown table row: `|` escaped as `\|`, and each control character
/// written as a Rust string literal writes it (`\n`, `\u{1b}`). A newline in a model's path
/// ended the row, and the header table with it: the rest of the path and of the command stood
/// as paragraphs of their own (adv50).
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// The report as Markdown; `header` rows (name, value) describe the run (model, data, command).
pub fn markdown(header: &[(&str, String)], a: &Analysis, heatmap: &Heatmap) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# corrflow analysis\n");
    let _ = writeln!(w, "| | |\n|---|---|");
    for (k, v) in header {
        let _ = writeln!(w, "| {k} | {} |", cell(v));
    }
    let _ = writeln!(
        w,
        "| network | {:?} {} |\n| samples | {} (per class {:?}) |\n",
        a.widths, a.activation, a.n_samples, a.class_counts
    );

    let _ = writeln!(w, "## Accuracy of the Gaussian description\n");
    let _ = writeln!(
        w,
        "Network accuracy: **{:.4}** ± {} (binomial standard error).\n",
        a.network_accuracy,
        number::stderr(a.network_accuracy_stderr)
    );
    let _ = writeln!(
        w,
        "Theory from layer l: the measured mean and covariance of each class at layer l, \
         propagated to the output with the Gaussian closure; accuracy Σ_c p(c) P(argmax y = c) \
         under y ~ N(μ_c, Σ_c) (exact for 2 outputs, else Monte Carlo with {} draws per class).\n",
        a.mc_samples
    );
    let _ = write!(w, "{}", tables::theory(a).markdown());

    if let Some(t) = &a.theory_accuracy_k3k4 {
        let _ = writeln!(
            w,
            "\nFrom the input with the measured κ slices of h1 at the first nonlinearity \
             (Gram–Charlier order {}): {:.4} ± {} ({:+.4} vs the network).",
            a.order,
            t.accuracy,
            number::stderr(t.stderr),
            t.accuracy - a.network_accuracy
        );
        if let Some(note) = &a.theory_accuracy_k3k4_note {
            let _ = writeln!(w, "\n**Note:** {note}.");
        }
    }
    for warning in super::beyond::indefinite_warnings(a) {
        let _ = writeln!(w, "\n**Warning:** {warning}.");
    }
    let _ = writeln!(w, "\n## Surrogate inputs by correlation order\n");
    let _ = writeln!(
        w,
        "Order 1: N(μ_c, Σ_w) with the within-class covariance Σ_w = Σ_c p(c)Σ_c; order 2: \
         N(μ_c, Σ_c). Each covariance is sampled through a pivoted Cholesky factor that \
         leaves out the directions whose variance is below d·ε·maxᵢ Σᵢᵢ (constant or linearly \
         dependent coordinates of a singular Σ).\n"
    );
    let _ = write!(w, "{}", tables::surrogates(a).markdown());

    let _ = writeln!(w, "\n## Where the class sits\n");
    let _ = writeln!(
        w,
        "Bhattacharyya distance per class pair, mean term ⅛ΔμᵀΣ̄⁻¹Δμ and covariance term \
         ½ ln(det Σ̄/√(det Σ₁ det Σ₂)), averaged over pairs (per pair in report.json). Relative \
         ridge {:e} (added only to pairs whose covariance is numerically singular).\n",
        a.information_ridge
    );
    let _ = write!(w, "{}", tables::information(a).markdown());

    if let Some(transfer) = &a.transfer {
        let _ = writeln!(w, "\n## Transfer between orders (quadratic closure)\n");
        let _ = writeln!(
            w,
            "Share of each term's norm in zˡ's mean m and covariance C, from the measured \
             statistics of hˡ (class average). The residual checks that the terms add up to the \
             measured moments of zˡ.\n"
        );
        let _ = write!(w, "{}", tables::transfer_terms(transfer).markdown());
        for t in transfer.iter().filter(|t| t.cov_feeds_mean.is_none()) {
            let _ = writeln!(
                w,
                "\nLayer {}: every term is 0 (h{} is 0 for every sample): no shares (n/a).",
                t.layer, t.layer
            );
        }
    }

    w.push_str(&super::beyond::confusion_section(a));
    w.push_str(&super::beyond::budget_section(a));
    w.push_str(&super::beyond::tails_section(a));

    let _ = writeln!(w, "\n## Plots\n");
    let _ = writeln!(
        w,
        "Heatmap: covariance of {} for class {}, measured beside propagated from the input \
         (relative Frobenius error {:.4}).\n",
        heatmap.stage, heatmap.class, heatmap.rel_err
    );
    for (stem, title) in PLOTS {
        let _ = writeln!(w, "![{title}]({stem}.png) ([SVG]({stem}.svg))\n");
    }
    out
}
