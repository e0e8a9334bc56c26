//! Submitting with Slurm's `sbatch`: found on `PATH` (a clear error where Slurm is absent),
//! run with `--parsable`, whose output is `JOBID` or `JOBID;CLUSTER`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The `sbatch` executable on `PATH`.
pub fn find_sbatch() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("sbatch"))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            Error::Unsupported(
                "sbatch is not on PATH: Slurm's commands are not installed here, so nothing was \
                 submitted (run this on a login node of the cluster); `corrflow sweep submit \
                 --dry-run` writes the script without submitting it"
                    .into(),
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `sbatch --parsable [extra…] script` and returns the job id.
pub fn submit(sbatch: &Path, script: &Path, extra: &[String]) -> Result<u64> {
    let output = Command::new(sbatch)
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .map_err(|e| Error::io(sbatch, e))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(Error::format(
            script,
            format!(
                "sbatch refused it ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    parse_job_id(&stdout).ok_or_else(|| {
        Error::format(
            sbatch,
            format!(
                "expected a job id from `sbatch --parsable`, got '{}'",
                stdout.trim()
            ),
        )
    })
}

/// The job id in the output of `sbatch --parsable`: `1234` or `1234;cluster`.
pub fn parse_job_id(stdout: &str) -> Option<u64> {
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty())?;
    line.split(';').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_parse_with_and_without_a_cluster() {
        assert_eq!(parse_job_id("1234\n"), Some(1234));
        assert_eq!(parse_job_id("77;corrflowtest\n"), Some(77));
        assert_eq!(parse_job_id("warning: x\n88\n"), Some(88));
        assert_eq!(parse_job_id(""), None);
        assert_eq!(parse_job_id("Submitted batch job 5\n"), None);
    }
}
