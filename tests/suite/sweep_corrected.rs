//! A sweep over the corrected cumulant objective's settings (`order`, `corrected_layers`,
//! `correction_bound*`): recorded, exported, summarized, part of a point's identity; the
//! combinations `train` refuses are refused before any point runs.

use crate::common::sweep::*;

/// The higher-order task's corrected objective on a tiny relu network, two epochs.
const BASE: &str = "task = 'higher-order'\nn_train = 300\nn_test = 300\nhidden = [[6]]\n\
                    activation = 'relu'\nepochs = 2\nobjective = 'cumulants'\n";

/// A grid of order × correction_bound runs; each record holds both keys, the CSV has a column
/// for each, the summary's rows and means give each combination a line labelled with them
/// (the rows' `keys` column fails with `keys_cell` left out of `summary::table`), and the
/// grid edited afterwards (another bound) is refused naming results.jsonl. Fails with
/// `correction_bound` left out of a point's serialized form (`#[serde(skip_serializing)]` on
/// `PointConfig::correction_bound`: the record, the CSV and the labels lose it, and the edited
/// grid's points keep their ids).
#[test]
fn a_grid_over_order_and_bound_runs_exports_and_summarizes() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{BASE}order = [3, 4]\ncorrection_bound = ['off', 0.2]\n");
    let grid = grid_file(dir.path(), "g.toml", &text);
    let out = dir.path().join("out");
    let o = run_sweep(&grid, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let configs: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["config"].clone())
        .collect();
    let got: Vec<(u64, String)> = configs
        .iter()
        .map(|c| {
            (
                c["order"].as_u64().unwrap(),
                c["correction_bound"].to_string(),
            )
        })
        .collect();
    let mut want = vec![
        (3, "\"off\"".to_string()),
        (3, "0.2".to_string()),
        (4, "\"off\"".to_string()),
        (4, "0.2".to_string()),
    ];
    let mut sorted = got.clone();
    sorted.sort();
    want.sort();
    assert_eq!(sorted, want, "{lines}");

    // The CSV on stdout (`--csv -`).
    let o = run(&["sweep", "export", out.to_str().unwrap(), "--csv", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    for column in ["order", "correction_bound"] {
        assert!(header.contains(&column), "{text}");
    }
    assert!(text.contains(",off,") && text.contains(",0.2,"), "{text}");

    let o = run(&["sweep", "summarize", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let (points, means) = table.split_once("\n\n").unwrap();
    let labelled = |line: &&str| {
        ["correction_bound=off", "correction_bound=0.2"]
            .iter()
            .any(|b| line.contains(b))
            && (line.ends_with("order=3") || line.ends_with("order=4"))
    };
    assert!(points.lines().next().unwrap().ends_with("keys"), "{table}");
    assert_eq!(
        points.lines().skip(1).filter(labelled).count(),
        4,
        "{table}"
    );
    let rows: Vec<&str> = means.lines().skip(2).collect();
    assert_eq!(rows.len(), 4, "one line per combination: {table}");
    for (order, bound) in [(3, "off"), (3, "0.2"), (4, "off"), (4, "0.2")] {
        let label = format!("correction_bound={bound} order={order}");
        assert!(
            rows.iter().filter(|r| r.ends_with(&label)).count() == 1,
            "no line labelled {label}: {table}"
        );
    }

    let edited = text_with_bound(&grid, "0.3");
    std::fs::write(&grid, edited).unwrap();
    let o = run_sweep(&grid, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("results.jsonl"), "{}", stderr(&o));
}

/// The grid file with its bound 0.2 replaced by `bound`.
fn text_with_bound(grid: &std::path::Path, bound: &str) -> String {
    std::fs::read_to_string(grid)
        .unwrap()
        .replace("0.2]", &format!("{bound}]"))
}

/// Combinations `train` refuses are refused at plan time, naming the grid key and the point,
/// before any point runs (no results.jsonl): a bound or the corrected layers at order 2, a
/// bound's rule with the bound off, order 3 of an activation without a corrected closure, a
/// bound on the quadratic's exact closure, order with objective samples. Fails with the
/// point's check (`PointConfig::check_cumulant_settings`) left out of `preflight`: the points
/// run (the order-2 point with the bound ignored) or fail one by one.
#[test]
fn refused_combinations_are_refused_before_any_point_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, key, point)) in [
        (
            "order = [3, 2]\ncorrection_bound = 0.2\n",
            "correction_bound",
            "#1",
        ),
        (
            "order = [3, 2]\ncorrected_layers = 'all'\n",
            "corrected_layers",
            "#1",
        ),
        (
            "order = 3\ncorrection_bound_rule = 'clip'\n",
            "correction_bound_rule",
            "#0",
        ),
        (
            "order = 3\nseed = [1, 2]\nactivation = 'tanh'\n",
            "order",
            "#0",
        ),
        (
            "order = 3\ncorrection_bound = 0.2\nactivation = ['relu', 'quad:0.5']\n",
            "correction_bound",
            "#1",
        ),
        ("order = 3\nobjective = 'samples'\n", "order", "#0"),
    ]
    .into_iter()
    .enumerate()
    {
        // The case's own keys replace the base's.
        let own: Vec<&str> = text.lines().filter_map(|l| l.split(" =").next()).collect();
        let base: String = BASE
            .lines()
            .filter(|l| !own.iter().any(|k| l.starts_with(&format!("{k} ="))))
            .map(|l| format!("{l}\n"))
            .collect();
        let grid = grid_file(dir.path(), &format!("g{i}.toml"), &format!("{base}{text}"));
        let out = dir.path().join(format!("out{i}"));
        let o = run_sweep(&grid, &out, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert!(
            err.contains(&format!("grid key '{key}'")) && err.contains(&format!("point {point} ")),
            "{text}: {err}"
        );
        assert!(!out.join("results.jsonl").exists(), "{text}: a point ran");
    }
}
