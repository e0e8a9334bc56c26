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

    // A shard given twice is reported as duplicated, and the merge still succeeds.
    let o = run(&["sweep", "merge", "--grid", g, "--out", m, s0, s1, s2, s0]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("point {} is in 2 folders", ids[0])),
        "{}",
        stderr(&o)
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
