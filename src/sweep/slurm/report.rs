//! After a merge: which array tasks left their shard short, and the `sbatch --array=…` command
//! that runs just those again. Found through the [`Manifest`] that `corrflow sweep submit` left
//! in the folder above the shard folders; a merge of other folders gets no such lines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::script::{shard_dir, Manifest, MANIFEST_FILE};
use crate::error::{Error, Result};
use crate::sweep::grid::{Grid, GridPoint};

/// The shards of one array job that lack points.
#[derive(Clone, Debug, PartialEq)]
pub struct ShortShards {
    pub manifest: Manifest,
    /// (shard, points missing from it, points it should hold), by shard.
    pub shards: Vec<(usize, usize, usize)>,
}

impl ShortShards {
    /// One line per short shard, then the command that resubmits them all.
    pub fn lines(&self) -> Vec<String> {
        let out = self.manifest.script.parent().unwrap_or(Path::new("."));
        let mut lines: Vec<String> = self
            .shards
            .iter()
            .map(|&(i, missing, total)| {
                format!(
                    "  shard {i} ({}): {missing} of {total} points missing",
                    shard_dir(out, i).display()
                )
            })
            .collect();
        lines.push(format!(
            "rerun only these array tasks (each resumes its shard), then merge again: {}",
            self.resubmit_command()
        ));
        lines
    }

    /// `sbatch --array=I,J,… SCRIPT`.
    pub fn resubmit_command(&self) -> String {
        let list: Vec<String> = self.shards.iter().map(|s| s.0.to_string()).collect();
        format!(
            "sbatch --array={} {}",
            list.join(","),
            super::script::shell_quote(&self.manifest.script)
        )
    }
}

/// The short shards of every array job (of `grid`) whose shard folders are among `inputs`.
pub fn short_shards(
    grid: &Grid,
    inputs: &[PathBuf],
    missing: &[GridPoint],
) -> Result<Vec<ShortShards>> {
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let grid_path = std::fs::canonicalize(&grid.path).map_err(|e| Error::io(&grid.path, e))?;
    let mut manifests: Vec<PathBuf> = inputs
        .iter()
        .filter_map(|dir| Some(dir.parent()?.join(MANIFEST_FILE)))
        .collect();
    manifests.sort();
    manifests.dedup();
    let mut found = Vec::new();
    for path in manifests {
        let Some(manifest) = Manifest::read(&path)? else {
            continue;
        };
        if manifest.grid != grid_path || manifest.shards == 0 {
            continue;
        }
        let mut by_shard: BTreeMap<usize, usize> = BTreeMap::new();
        for p in missing {
            *by_shard.entry(p.index % manifest.shards).or_default() += 1;
        }
        let n = grid.points.len();
        let shards = by_shard
            .into_iter()
            .map(|(i, k)| (i, k, (i..n).step_by(manifest.shards).count()))
            .collect();
        found.push(ShortShards { manifest, shards });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_points_are_counted_per_shard() {
        let dir = tempfile::tempdir().unwrap();
        let grid_path = dir.path().join("g.toml");
        std::fs::write(&grid_path, "seed = [1, 2, 3, 4, 5, 6, 7]\n").unwrap();
        let grid = Grid::load(&grid_path).unwrap();
        let out = dir.path().join("run");
        std::fs::create_dir_all(&out).unwrap();
        let manifest = Manifest {
            grid: std::fs::canonicalize(&grid_path).unwrap(),
            shards: 3,
            script: out.join("sweep.sbatch"),
        };
        std::fs::write(
            out.join(MANIFEST_FILE),
            serde_json::to_string(&manifest).unwrap(),
        )
        .unwrap();
        let inputs = vec![out.join("shard0"), out.join("shard1")];
        // Points 1 and 4 (shard 1) and 2 (shard 2) are missing.
        let missing: Vec<GridPoint> = [1, 2, 4].map(|i| grid.points[i].clone()).to_vec();
        let found = short_shards(&grid, &inputs, &missing).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].shards, vec![(1, 2, 2), (2, 1, 2)]);
        assert_eq!(
            found[0].resubmit_command(),
            format!("sbatch --array=1,2 {}", out.join("sweep.sbatch").display())
        );
        // Another grid's job is not this one's.
        let other = dir.path().join("h.toml");
        std::fs::write(&other, "seed = [1, 2]\n").unwrap();
        let other = Grid::load(&other).unwrap();
        assert!(short_shards(&other, &inputs, &missing).unwrap().is_empty());
    }
}
