//! Sweeps as Slurm job arrays (`corrflow sweep submit`): one array task per shard.
//!
//! - [`resources`]: CPUs, memory and time per task from the sweep's own estimates;
//! - [`script`]: the batch script and the description of the job left beside it;
//! - [`sbatch`]: finding `sbatch` and submitting;
//! - [`report`]: after a merge, the tasks whose shards are short and how to rerun only them.

pub mod report;
pub mod resources;
pub mod sbatch;
pub mod script;

use std::path::{Path, PathBuf};

use super::grid::Grid;
use crate::error::{Error, Result};
pub use resources::Resources;
pub use script::ArrayJob;

/// What the user asks of an array job.
#[derive(Clone, Debug)]
pub struct Request {
    /// The grid file.
    pub grid: PathBuf,
    /// The output folder (created).
    pub out: PathBuf,
    /// Array tasks N ≥ 1, at most the number of points.
    pub shards: usize,
    pub cpus: usize,
    /// Memory per task in bytes, replacing the estimate.
    pub mem: Option<f64>,
    /// Time per task in seconds, replacing the estimate.
    pub time: Option<u64>,
    pub partition: Option<String>,
    /// The corrflow binary the tasks run.
    pub corrflow: PathBuf,
}

impl Request {
    /// Loads the grid, plans the resources and returns the job with absolute paths (the output
    /// folder is created so that its path can be made absolute).
    pub fn plan(&self) -> Result<(Grid, ArrayJob)> {
        let grid = Grid::load(&self.grid)?;
        let n = grid.points.len();
        if self.shards == 0 || self.shards > n {
            return Err(Error::flag(
                "--shards",
                format!(
                    "{} is not between 1 and the grid's {n} points; each array task runs one shard",
                    self.shards
                ),
            ));
        }
        let resources = Resources::plan(&grid, self.shards, self.cpus, self.mem, self.time)?;
        // A file in its place: create_dir_all's "File exists" named no flag (adv50).
        if std::fs::metadata(&self.out).is_ok_and(|m| !m.is_dir()) {
            return Err(Error::flag(
                "--out",
                format!(
                    "{} exists and is not a folder; --out is the folder of the script, the \
                     shards' results and their logs",
                    self.out.display()
                ),
            ));
        }
        // The first missing folder of `--out`'s path, removed again if the plan is refused
        // (a refused `--partition` left `OUT/logs` behind, fiftieth session).
        let created = self
            .out
            .ancestors()
            .take_while(|p| !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_err())
            .last()
            .map(Path::to_path_buf);
        std::fs::create_dir_all(&self.out).map_err(|e| Error::io(&self.out, e))?;
        let planned = self.job(resources);
        if let (Err(_), Some(dir)) = (&planned, &created) {
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok((grid, planned?))
    }

    /// The job of `resources` in the existing output folder, checked: its manifest (the same
    /// grid and shards, if any), its script (one of `sweep submit`'s own, if any) and the
    /// script's text (every `#SBATCH` value writable).
    fn job(&self, resources: Resources) -> Result<ArrayJob> {
        let job = ArrayJob {
            grid: absolute(&self.grid)?,
            out: absolute(&self.out)?,
            shards: self.shards,
            resources,
            partition: self.partition.clone(),
            corrflow: absolute(&self.corrflow)?,
        };
        let manifest = job.out.join(script::MANIFEST_FILE);
        if let Some(old) = script::Manifest::read(&manifest)? {
            if (&old.grid, old.shards) != (&job.grid, job.shards) {
                return Err(Error::flag(
                    "--out",
                    format!(
                        "{} holds an array job of {} shards of {}; its shard folders would mix \
                         with these. Submit the same grid and --shards again to resume it, or \
                         choose another --out",
                        job.out.display(),
                        old.shards,
                        old.grid.display()
                    ),
                ));
            }
        }
        script::check_own_script(&job.out.join(script::SCRIPT_FILE))?;
        job.script()?;
        Ok(job)
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).map_err(|e| Error::io(path, e))
}
