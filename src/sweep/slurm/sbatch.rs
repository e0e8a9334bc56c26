//! Submitting with Slurm's `sbatch`: found on `PATH` (a clear error where Slurm is absent),
//! run with `--parsable`, whose output is `JOBID` or `JOBID;CLUSTER`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{excerpt, Error, Result};

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

/// Most bytes of each of sbatch's streams read: `--parsable` prints one job id line, a refusal
/// a few lines of error. Beyond it the stream is closed (a writer gets EPIPE or SIGPIPE): a
/// fake or broken `sbatch` printing gigabytes was read whole, 3 GB held in memory and echoed
/// into the error, or an abort ("memory allocation failed", exit 134) under `ulimit -v` (adv52).
pub const OUTPUT_CAP: u64 = 64 << 10;

/// Runs `sbatch --parsable [extra…] script` and returns the job id. Its stdout and stderr are
/// read up to [`OUTPUT_CAP`] bytes each; more is an error naming sbatch.
pub fn submit(sbatch: &Path, script: &Path, extra: &[String]) -> Result<u64> {
    let mut child = Command::new(sbatch)
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(sbatch, e))?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (stdout, stderr) = std::thread::scope(|s| {
        let err = s.spawn(|| read_capped(stderr));
        let out = read_capped(stdout);
        (out, err.join().unwrap_or_default())
    });
    let status = child.wait().map_err(|e| Error::io(sbatch, e))?;
    if stdout.len() as u64 > OUTPUT_CAP || stderr.len() as u64 > OUTPUT_CAP {
        return Err(Error::format(
            sbatch,
            format!(
                "printed more than {} KiB ({status}; read no further, so whether it submitted \
                 {} is unknown: check squeue before submitting again); expected a job id line \
                 from `sbatch --parsable`; it began: '{}'",
                OUTPUT_CAP >> 10,
                script.display(),
                excerpt(&String::from_utf8_lossy(if stdout.is_empty() {
                    &stderr
                } else {
                    &stdout
                }))
            ),
        ));
    }
    let stdout = String::from_utf8_lossy(&stdout);
    if !status.success() {
        return Err(Error::format(
            script,
            format!(
                "sbatch refused it ({}): {}",
                status,
                excerpt(String::from_utf8_lossy(&stderr).trim())
            ),
        ));
    }
    parse_job_id(&stdout).ok_or_else(|| {
        Error::format(
            sbatch,
            format!(
                "expected a job id from `sbatch --parsable`, got '{}'",
                excerpt(stdout.trim())
            ),
        )
    })
}

/// At most [`OUTPUT_CAP`] + 1 bytes of `pipe` (none without one); the pipe is closed after.
fn read_capped(pipe: Option<impl Read>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        let _ = pipe.take(OUTPUT_CAP + 1).read_to_end(&mut bytes);
    }
    bytes
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
