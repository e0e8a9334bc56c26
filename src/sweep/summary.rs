//! Summaries of result records: a text table with one row per point, and the averages the
//! plots show (accuracy gap against width and depth per activation, class information).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::record::{FailedRecord, Record};

/// One line per record, in grid order, with a header; a last column `keys` holds the keys
/// other than those of its columns (task, hidden, activation, seed) whose values differ between
/// the records, so that points differing only in, say, `objective` or `correction_bound` are told
/// apart (grid73: the rows showed their ids alone).
pub fn table(records: &[Record]) -> String {
    let others: Vec<Vec<(String, String)>> = records
        .iter()
        .map(|r| other_settings(r, &["seed"]))
        .collect();
    let distinguishing = distinguishing_keys(others.iter());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>5} {:>16} {:<12} {:<12} {:<10} {:>5} {:>7} {:>7} {:>7} {:>8} {:>8} {:>9} {:>9}",
        "#",
        "id",
        "task",
        "hidden",
        "activation",
        "seed",
        "net",
        "th(l=0)",
        "th(l=1)",
        "gap(0)",
        "gap(1)",
        "out_mean",
        "out_cov"
    );
    out += keys_header(&distinguishing);
    for (r, others) in records.iter().zip(&others) {
        let info = r.output_info;
        let _ = write!(
            out,
            "{:>5} {:>16} {:<12} {:<12} {:<10} {:>5} {:>7.4} {:>7.4} {:>7.4} {:>+8.4} {:>+8.4} {:>9} {:>9}",
            r.index,
            r.id,
            r.config.task().to_string(),
            widths_label(&r.widths),
            r.activation,
            r.config.seed.unwrap_or(1),
            r.test_accuracy,
            r.theory.first().map_or(f64::NAN, |t| t.accuracy),
            r.theory.get(1).map_or(f64::NAN, |t| t.accuracy),
            r.gap_from_input,
            r.gap_from_layer1,
            info.map_or("n/a".into(), |i| format!("{:.3}", i.mean_term)),
            info.map_or("n/a".into(), |i| format!("{:.3}", i.cov_term)),
        );
        out += &keys_cell(&distinguishing, others);
        if let Some(cause) = r.unlearned_cause() {
            let _ = writeln!(
                out,
                "      ! learned nothing usable ({cause}): its training ended no better than a \
                 constant output; its record's `unlearned` names the setting"
            );
        }
    }
    out
}

/// The line after [`means_table`] naming the points that learned nothing usable, which its
/// means pool with the others; empty when there are none (adv52: the summary said nothing of
/// them, where the record, the CSV and the sweep's stderr did).
pub fn unlearned_line(records: &[Record]) -> String {
    let marked: Vec<String> = records
        .iter()
        .filter_map(|r| r.unlearned_cause().map(|c| format!("#{} ({c})", r.index)))
        .collect();
    if marked.is_empty() {
        return String::new();
    }
    format!(
        "{} point(s) learned nothing usable and are pooled in these means: {}\n",
        marked.len(),
        marked.join(", ")
    )
}

/// One line per failed point: index, id, configuration and its error.
pub fn failed_table(failed: &[FailedRecord]) -> String {
    let mut out = String::new();
    for f in failed {
        let _ = writeln!(
            out,
            "{:>5} {:>16}  {}\n      {}",
            f.index,
            f.id,
            f.config.summary(),
            f.failed
        );
    }
    out
}

/// The keys a mean over seeds pools: the replicates' seeds. Every other key a grid sets splits
/// the groups (adv72: a grid over `objective` or `lr` pooled its points into one mean).
const REPLICATE_KEYS: [&str; 2] = ["seed", "data_seed"];

/// The keys [`means_table`] shows in its own columns.
const LABEL_KEYS: [&str; 3] = ["task", "hidden", "activation"];

/// Means over seeds: over the records that share every key but `seed` and `data_seed`, one
/// line per group in order of first appearance, with a header. The groups are labelled by task,
/// hidden widths and activation, and by the other keys whose values differ between groups
/// (a key a group does not set reads `(default)`), so that no two lines look alike.
pub fn means_table(records: &[Record]) -> String {
    // (task, hidden, activation, the other keys set) → its records.
    type Label = (String, String, String, Vec<(String, String)>);
    let mut groups: Vec<(Label, Vec<&Record>)> = Vec::new();
    for r in records {
        let others = other_settings(r, &REPLICATE_KEYS);
        let key = (
            r.config.task().to_string(),
            widths_label(&r.widths),
            r.activation.clone(),
            others,
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let distinguishing = distinguishing_keys(groups.iter().map(|((.., others), _)| others));
    let mut out = String::new();
    let _ = write!(
        out,
        "{:<12} {:<12} {:<10} {:>3} {:>7} {:>7} {:>7} {:>8} {:>8} {:>9} {:>9}",
        "task",
        "hidden",
        "activation",
        "n",
        "net",
        "th(l=0)",
        "th(l=1)",
        "gap(0)",
        "gap(1)",
        "out_mean",
        "out_cov"
    );
    out += keys_header(&distinguishing);
    for ((task, hidden, act, others), members) in &groups {
        let mean = |f: &dyn Fn(&Record) -> f64| {
            members.iter().map(|r| f(r)).sum::<f64>() / members.len() as f64
        };
        let theory = |l: usize| mean(&|r| r.theory.get(l).map_or(f64::NAN, |t| t.accuracy));
        let info = |f: &dyn Fn(&super::record::InfoTerms) -> f64| {
            mean(&|r| r.output_info.as_ref().map_or(f64::NAN, f))
        };
        let _ = write!(
            out,
            "{:<12} {:<12} {:<10} {:>3} {:>7.4} {:>7.4} {:>7.4} {:>+8.4} {:>+8.4} {:>9.3} {:>9.3}",
            task,
            hidden,
            act,
            members.len(),
            mean(&|r| r.test_accuracy),
            theory(0),
            theory(1),
            mean(&|r| r.gap_from_input),
            mean(&|r| r.gap_from_layer1),
            info(&|i| i.mean_term),
            info(&|i| i.cov_term),
        );
        out += &keys_cell(&distinguishing, others);
    }
    out
}

/// The keys `r`'s grid set, with their values, but the labelled ones and `excluded`.
fn other_settings(r: &Record, excluded: &[&str]) -> Vec<(String, String)> {
    r.config
        .settings()
        .into_iter()
        .filter(|(k, _)| !excluded.contains(&k.as_str()) && !LABEL_KEYS.contains(&k.as_str()))
        .collect()
}

/// The end of a table's header: `  keys` where some key distinguishes its lines.
fn keys_header(distinguishing: &[String]) -> &'static str {
    if distinguishing.is_empty() {
        "\n"
    } else {
        "  keys\n"
    }
}

/// The end of a line: its value of each distinguishing key (`(default)` where it sets none).
fn keys_cell(distinguishing: &[String], others: &[(String, String)]) -> String {
    let keys: Vec<String> = distinguishing
        .iter()
        .map(|k| match others.iter().find(|(o, _)| o == k) {
            Some((_, v)) => format!("{k}={v}"),
            None => format!("{k}=(default)"),
        })
        .collect();
    if keys.is_empty() {
        "\n".to_string()
    } else {
        format!("  {}\n", keys.join(" "))
    }
}

/// The keys whose values are not the same in every group (sorted): a key set in some groups
/// and not in others counts too.
fn distinguishing_keys<'a>(
    groups: impl Iterator<Item = &'a Vec<(String, String)>> + Clone,
) -> Vec<String> {
    let mut keys: Vec<String> = groups
        .clone()
        .flat_map(|others| others.iter().map(|(k, _)| k.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| {
        let mut values = groups
            .clone()
            .map(|others| others.iter().find(|(o, _)| o == k).map(|(_, v)| v));
        let first = values.next().flatten();
        values.any(|v| v != first)
    });
    keys
}

/// Hidden widths of a record as `32x32` (input and output left out).
fn widths_label(widths: &[usize]) -> String {
    let hidden = &widths[1..widths.len().saturating_sub(1).max(1)];
    hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("x")
}

/// A curve: points (x, mean y) in increasing x, one per distinct x.
pub type Curve = Vec<(f64, f64)>;

/// Mean accuracy gaps against one property of the network, per activation.
#[derive(Debug, Default)]
pub struct GapCurves {
    /// (activation, theory from l = 0 minus network).
    pub from_input: Vec<(String, Curve)>,
    /// (activation, theory from l = 1 minus network).
    pub from_layer1: Vec<(String, Curve)>,
}

/// The gaps averaged over every record with the same activation and the same `x` (other keys
/// and seeds are pooled).
pub fn gap_curves(records: &[Record], x: impl Fn(&Record) -> f64) -> GapCurves {
    // activation → bits of x → (x, Σ gap from input, Σ gap from layer 1, count).
    type Sums = (f64, f64, f64, usize);
    let mut groups: BTreeMap<&str, BTreeMap<u64, Sums>> = BTreeMap::new();
    for r in records {
        let xv = x(r);
        let slot = groups
            .entry(r.activation.as_str())
            .or_default()
            .entry(xv.to_bits())
            .or_insert((xv, 0.0, 0.0, 0));
        slot.1 += r.gap_from_input;
        slot.2 += r.gap_from_layer1;
        slot.3 += 1;
    }
    let mut curves = GapCurves::default();
    for (act, by_x) in groups {
        let mut pts: Vec<_> = by_x.into_values().collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = |p: &Sums| p.3 as f64;
        curves.from_input.push((
            act.to_string(),
            pts.iter().map(|p| (p.0, p.1 / n(p))).collect(),
        ));
        curves.from_layer1.push((
            act.to_string(),
            pts.iter().map(|p| (p.0, p.2 / n(p))).collect(),
        ));
    }
    curves
}

/// The widest hidden layer of a record's network.
pub fn width(r: &Record) -> f64 {
    r.widths[1..r.widths.len() - 1]
        .iter()
        .copied()
        .max()
        .unwrap_or(0) as f64
}

/// The number of hidden layers of a record's network.
pub fn depth(r: &Record) -> f64 {
    r.widths.len().saturating_sub(2) as f64
}

/// (mean term, covariance term) of every record, per activation, at the input and the output.
pub fn information_points(records: &[Record]) -> [Vec<(String, Curve)>; 2] {
    let mut input: BTreeMap<&str, Curve> = BTreeMap::new();
    let mut output: BTreeMap<&str, Curve> = BTreeMap::new();
    for r in records {
        if let Some(i) = r.input_info {
            input
                .entry(&r.activation)
                .or_default()
                .push((i.mean_term, i.cov_term));
        }
        if let Some(o) = r.output_info {
            output
                .entry(&r.activation)
                .or_default()
                .push((o.mean_term, o.cov_term));
        }
    }
    let owned = |m: BTreeMap<&str, Curve>| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    [owned(input), owned(output)]
}
