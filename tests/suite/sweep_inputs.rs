//! A resumed sweep whose points read files that changed since (fp63, after adv63: an edited
//! `train_x` left "N already done, 0 to run" and the old contents' numbers): refused before
//! anything runs, naming the file, what changed and the points; unchanged files, and records
//! written before fingerprints were, resume as before.

use std::path::{Path, PathBuf};

use crate::common::sweep::*;
use crate::common::{blobs, write_xy};

/// A grid of task data in `dir`: one training set, test features `ax.npy` (#0) or `bx.npy`
/// (#1) with the labels `ay.npy`, and a normaliser mean from `mean.txt` (its std a list, no file). Returns the grid and
/// `bx.npy`, `mean.txt`.
fn data_grid(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (x, y) = blobs(40, 2, 2, 1);
    let (train_x, train_y) = write_xy(dir, "", &x, &y);
    let (tx, ty) = blobs(20, 2, 2, 2);
    let (ax, ay) = write_xy(dir, "a", &tx, &ty);
    let (tx, _) = blobs(20, 2, 2, 3);
    let (bx, _) = write_xy(dir, "b", &tx, &ty);
    let mean = dir.join("mean.txt");
    std::fs::write(&mean, "0, 0\n").unwrap();
    let grid = grid_file(
        dir,
        "g.toml",
        &format!(
            "task = \"data\"\ntrain_x = {train_x:?}\ntrain_y = {train_y:?}\n\
             test_x = [{ax:?}, {bx:?}]\ntest_y = {ay:?}\nnormalize_mean = {mean:?}\nnormalize_std = \"1\"\n\
             hidden = [[4]]\nepochs = 2\n"
        ),
    );
    (grid, bx, mean)
}

/// [`data_grid`] in `dir`, swept once into `dir/out`: the grid, `bx.npy`, `mean.txt` and the
/// output folder.
fn swept(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let (grid, bx, mean) = data_grid(dir);
    let out = dir.join("out");
    let first = run_sweep(&grid, &out, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    (grid, bx, mean, out)
}

/// The bytes of an f64 `.npy` with its last value moved by 0.5: the same length, other
/// contents.
fn last_value_moved(bytes: &[u8]) -> Vec<u8> {
    let mut moved = bytes.to_vec();
    let last = moved.len() - 8;
    let v = f64::from_le_bytes(moved[last..].try_into().unwrap()) + 0.5;
    moved[last..].copy_from_slice(&v.to_le_bytes());
    moved
}

/// Editing a file a point read refuses the rerun, naming the results file, the file, what
/// changed (same length, one value; another length; gone) and only the points that read it
/// (`#1 id`, not #0), leaving the records as they were; with the file back it resumes
/// ("2 already done"). Mutations: no check on resume (`check_unchanged` not called) → the
/// edited reruns succeed; the normaliser file not fingerprinted (`files_read` without it) →
/// the `mean.txt` case passes; a hash of the length only → the same-length edit passes.
#[test]
fn a_changed_input_file_refuses_the_resume_naming_file_and_points() {
    let dir = tempfile::tempdir().unwrap();
    let (grid, bx, mean, out) = swept(dir.path());
    let results = out.join("results.jsonl");
    let recorded = std::fs::read(&results).unwrap();
    let ids = grid_ids(&grid);
    let resumed = |what: &str| {
        let o = run_sweep(&grid, &out, &[]);
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("2 already done, 0 to run"),
            "{what}: {}",
            stderr(&o)
        );
    };
    resumed("unchanged");

    let original = std::fs::read(&bx).unwrap();
    let one_value = last_value_moved(&original);
    let len = original.len();
    let (bx_s, mean_s) = (bx.display().to_string(), mean.display().to_string());
    let point0 = format!("#0 {}", ids[0]);
    let both = format!("points #0 {}, #1 {}", ids[0], ids[1]);
    let cases = [
        (
            &bx,
            Some(one_value),
            format!(
                "{bx_s}: contents changed (same length, {len} bytes) since point #1 {}",
                ids[1]
            ),
            "same length",
            false,
        ),
        (
            &bx,
            Some(original[..len - 8].to_vec()),
            format!("{bx_s}: length {len} → {} bytes since point #1", len - 8),
            "shorter",
            false,
        ),
        (
            &bx,
            None,
            format!("{bx_s}: no longer exists since point #1"),
            "removed",
            false,
        ),
        (
            &mean,
            Some(b"0.5, 0\n".to_vec()),
            format!("{mean_s}: length 5 → 7 bytes since {both}"),
            "normaliser",
            true,
        ),
    ];
    for (file, bytes, want, what, names_0) in cases {
        let before = std::fs::read(file).unwrap();
        match &bytes {
            Some(b) => std::fs::write(file, b).unwrap(),
            None => std::fs::remove_file(file).unwrap(),
        }
        let o = run_sweep(&grid, &out, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains(&format!("{}: input files changed", results.display())),
            "{what}: {err}"
        );
        assert!(err.contains(&want), "{what}: want {want}\n{err}");
        assert_eq!(err.contains(&point0), names_0, "{what}: {err}");
        assert!(
            err.contains("Nothing was run: use a new --out"),
            "{what}: {err}"
        );
        assert_eq!(std::fs::read(&results).unwrap(), recorded, "{what}");
        std::fs::write(file, before).unwrap();
    }
    resumed("restored");
}

/// A store written before records carried fingerprints (the `inputs` field stripped from
/// every line) resumes as before and exports, its records unchecked. Mutation: `inputs`
/// without `#[serde(default)]` → the store is refused ("missing field `inputs`").
#[test]
fn a_store_without_fingerprints_still_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (grid, _, _, out) = swept(dir.path());
    let results = out.join("results.jsonl");
    let text = std::fs::read_to_string(&results).unwrap();
    let mut stripped = String::new();
    for line in text.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let inputs = v.as_object_mut().unwrap().remove("inputs").unwrap();
        assert_eq!(inputs.as_array().unwrap().len(), 5, "{inputs}");
        stripped.push_str(&format!("{v}\n"));
    }
    std::fs::write(&results, &stripped).unwrap();
    let o = run_sweep(&grid, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 already done, 0 to run"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&results).unwrap(), stripped);
    let exported = run(&["sweep", "export", out.to_str().unwrap(), "--csv", "-"]);
    assert!(exported.status.success(), "{}", stderr(&exported));
}

/// The files of `dir` (recursively) with their contents, in path order.
fn folder(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(folder(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            files.push((path, bytes));
        }
    }
    files.sort();
    files
}

/// `sweep --dry-run` of a resume checks the fingerprints as the run does (tidy64: it listed the
/// points as done and exited 0 where the run exits 2): with `bx.npy` edited, it exits 2 with
/// the run's very message and leaves the folder as it was; shard 0/2, whose point #0 did not
/// read `bx.npy`, lists as before, as its run resumes. Mutations: the check removed from
/// `dry_run` → the edited dry run exits 0 ("done"); `skipped` without its shard filter → shard
/// 0/2 is refused.
#[test]
fn a_dry_run_of_a_resume_refuses_a_changed_input_file_as_the_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let (grid, bx, _, out) = swept(dir.path());
    let dry = |extra: &[&str]| {
        let args: Vec<&str> = ["--dry-run"].iter().chain(extra).copied().collect();
        run_sweep(&grid, &out, &args)
    };
    let unchanged = dry(&[]);
    assert!(unchanged.status.success(), "{}", stderr(&unchanged));
    let listed = String::from_utf8_lossy(&unchanged.stdout).into_owned();
    assert!(listed.contains("plan: 0 of 2 points to run"), "{listed}");

    std::fs::write(&bx, last_value_moved(&std::fs::read(&bx).unwrap())).unwrap();
    let before = folder(&out);
    let refused = dry(&[]);
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(refused.stdout.is_empty(), "{err}");
    assert!(
        err.contains(&format!("{}: contents changed", bx.display())),
        "{err}"
    );
    assert_eq!(folder(&out), before, "the dry run wrote in --out");
    let run = run_sweep(&grid, &out, &[]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert_eq!(err, stderr(&run), "the dry run's refusal and the run's");

    let shard = dry(&["--shard", "0/2"]);
    assert!(shard.status.success(), "{}", stderr(&shard));
    let listed = String::from_utf8_lossy(&shard.stdout).into_owned();
    assert!(listed.contains("plan: 0 of 1 points to run"), "{listed}");
}
