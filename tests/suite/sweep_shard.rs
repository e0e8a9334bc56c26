//! Shards cover the grid exactly once; merge combines them and names what is missing.

use std::collections::HashSet;

use crate::common::sweep::*;

#[test]
fn shards_cover_the_grid_and_merge_detects_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), "g.toml", &tiny_grid(7));
    let g = grid.to_str().unwrap();
    let shard_dir = |i: usize| dir.path().join(format!("shard{i}"));
    for i in 0..3 {
        let out = shard_dir(i);
        let shard = format!("{i}/3");
        let o = run(&[
            "sweep",
            "--grid",
            g,
            "--out",
            out.to_str().unwrap(),
            "--shard",
            &shard,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let all: Vec<Vec<String>> = (0..3).map(|i| record_ids(&shard_dir(i))).collect();
    let union: HashSet<&String> = all.iter().flatten().collect();
    assert_eq!(
        all.iter().map(Vec::len).sum::<usize>(),
        7,
        "shards overlap: {all:?}"
    );
    assert_eq!(
        union,
        grid_ids(&grid).iter().collect(),
        "shards miss points"
    );
    // i mod 3 == shard index, 0-based: shard 0 holds points 0, 3, 6.
    let ids = grid_ids(&grid);
    let mut shard0 = all[0].clone();
    shard0.sort();
    let mut want = vec![ids[0].clone(), ids[3].clone(), ids[6].clone()];
    want.sort();
    assert_eq!(shard0, want);

    let merged = dir.path().join("merged");
    let m = merged.to_str().unwrap();
    let (s0, s1, s2) = (shard_dir(0), shard_dir(1), shard_dir(2));
    let (s0, s1, s2) = (
        s0.to_str().unwrap(),
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
    );
    let o = run(&["sweep", "merge", "--grid", g, "--out", m, s0, s1, s2]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(record_ids(&merged), ids, "merged records in grid order");

    // Without shard 2 (points 2 and 5) the merge fails and names both.
    let o = run(&["sweep", "merge", "--grid", g, "--out", m, s0, s1]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("2 of 7 points are missing"), "{err}");
    for i in [2, 5] {
        assert!(err.contains(&format!("missing #{i} {}", ids[i])), "{err}");
    }

    // A shard given twice is reported as duplicated, in one line for its 3 points (old,
    // adv49a: a line per point), and the merge still succeeds.
    let o = run(&["sweep", "merge", "--grid", g, "--out", m, s0, s1, s2, s0]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("warning: 3 points are ({}, ", ids[0]))
            && err.contains(&format!(") in 2 folders ({s0}, {s0}); kept the first copy")),
        "{err}"
    );
    assert_eq!(err.matches("warning").count(), 1, "{err}");

    // Merged for a grid of seeds 1 and 2 only, the shards' other points (seeds 4 and 7 in
    // shard 0, 5 in shard 1) are one line per folder, with a count.
    let other = grid_file(dir.path(), "other.toml", &tiny_grid(2));
    let o = run(&[
        "sweep",
        "merge",
        "--grid",
        other.to_str().unwrap(),
        "--out",
        m,
        s0,
        s1,
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let foreign: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("not of the grid"))
        .collect();
    assert_eq!(foreign.len(), 2, "{err}");
    assert!(
        foreign[0].contains(&format!("{s0} holds 2 records (")),
        "{err}"
    );
    assert!(
        foreign[1].contains(&format!("{s1} holds 1 record (")),
        "{err}"
    );
}

#[test]
fn bad_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), "g.toml", &tiny_grid(2));
    let out = dir.path().join("out");
    for bad in ["3/3", "1/0", "x/2"] {
        let o = run(&[
            "sweep",
            "--grid",
            grid.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--shard",
            bad,
        ]);
        assert!(!o.status.success(), "{bad}");
        assert!(stderr(&o).contains("--shard"), "{bad}: {}", stderr(&o));
    }
    assert!(!out.exists());
}

/// A folder of another grid (here: this one before a seed was added in front of its list)
/// merged for the grid: its points take their index in the grid, so the merged folder resumes
/// (and a copy of a point at another index is the same result). Old (adv47b): the records kept
/// their old index and the resume was refused ("index: 0, but point … is #1 of g.toml").
#[test]
fn a_merge_gives_each_point_its_index_in_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let old = grid_file(dir.path(), "old.toml", &tiny_grid(2));
    let grid = grid_file(
        dir.path(),
        "g.toml",
        "task = \"xor\"\nn_train = 200\nepochs = 2\nhidden = [[4]]\nseed = [0, 1, 2]\n",
    );
    let (a, m) = (dir.path().join("a"), dir.path().join("m"));
    let (a, m) = (a.to_str().unwrap(), m.to_str().unwrap());
    let o = run(&["sweep", "--grid", old.to_str().unwrap(), "--out", a]);
    assert!(o.status.success(), "{}", stderr(&o));
    let g = grid.to_str().unwrap();
    let o = run(&["sweep", "merge", "--grid", g, "--out", m, a]);
    assert!(
        stderr(&o).contains("1 of 3 points are missing"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(dir.path().join("m/results.jsonl")).unwrap();
    let indices: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(indices, [1, 2]);
    let o = run(&["sweep", "--grid", g, "--out", m]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(record_ids(&dir.path().join("m")).len(), 3);
}

/// A merge whose --out is one of its inputs is refused before anything is written: the input's
/// records of other grids (left out of the merge) were lost. Old (adv47b): exit 0, "warning: …
/// left out", the input's results.jsonl replaced by the merge.
#[test]
fn a_merge_into_one_of_its_inputs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wide = grid_file(dir.path(), "wide.toml", &tiny_grid(3));
    let grid = grid_file(dir.path(), "g.toml", &tiny_grid(2));
    let a = dir.path().join("a");
    let o = run(&[
        "sweep",
        "--grid",
        wide.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read(a.join("results.jsonl")).unwrap();
    let same = format!("{}/../a", a.display());
    for out in [a.to_str().unwrap(), same.as_str()] {
        let o = run(&[
            "sweep",
            "merge",
            "--grid",
            grid.to_str().unwrap(),
            "--out",
            out,
            a.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("an output never replaces an input"),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            std::fs::read(a.join("results.jsonl")).unwrap(),
            before,
            "{out}"
        );
    }
}
