//! The batch script of a sweep's job array: task I of `--array=0-(N-1)` runs
//! `corrflow sweep --shard I/N` into its own folder `OUT/shardI`, so a requeued, preempted or
//! resubmitted task finds its own results file and resumes it (`--requeue`, and the log opened
//! with `--open-mode=append` so a restart adds to it). N is written into the script, not taken
//! from `$SLURM_ARRAY_TASK_COUNT`, which is 1 when a single task is resubmitted with
//! `sbatch --array=I`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::resources::{slurm_mem, slurm_time, time_over_slurm, Resources, MAX_TIME_S};
use crate::error::{Error, Result};

/// Name of the batch script inside the output folder.
pub const SCRIPT_FILE: &str = "sweep.sbatch";
/// Name of the description of the array job inside the output folder ([`Manifest`]).
pub const MANIFEST_FILE: &str = "slurm-array.json";
/// Folder of the tasks' Slurm logs inside the output folder.
pub const LOG_DIR: &str = "logs";
/// The comment that opens the text of a script written here, by which [`check_own_script`]
/// tells it from a user's own file of that name.
const MARK: &str = "# Written by `corrflow sweep submit`";

/// A sweep as a Slurm job array.
#[derive(Clone, Debug)]
pub struct ArrayJob {
    /// The grid file, absolute.
    pub grid: PathBuf,
    /// The output folder, absolute: task I writes `shardI/` there, its log `logs/shardI.log`.
    pub out: PathBuf,
    /// Number of shards N = array tasks.
    pub shards: usize,
    pub resources: Resources,
    /// `--partition`, if one is named.
    pub partition: Option<String>,
    /// The corrflow binary the tasks run, absolute.
    pub corrflow: PathBuf,
}

/// What `corrflow sweep merge` needs to name and resubmit the tasks of a shard that is short:
/// written beside the script as [`MANIFEST_FILE`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The grid file, absolute.
    pub grid: PathBuf,
    /// Number of shards.
    pub shards: usize,
    /// The batch script, absolute.
    pub script: PathBuf,
}

impl Manifest {
    /// Reads the manifest at `path`; `None` if there is none.
    pub fn read(path: &Path) -> Result<Option<Manifest>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::format(path, format!("not a corrflow array-job description: {e}")))
    }
}

impl ArrayJob {
    /// Output folder of shard `i`.
    pub fn shard_dir(&self, i: usize) -> PathBuf {
        shard_dir(&self.out, i)
    }

    /// The batch script.
    pub fn script(&self) -> Result<String> {
        let r = &self.resources;
        // The job's name is only a label: a character an #SBATCH line cannot hold becomes `_`
        // (`my grid.toml` was refused, adv49a); the commands quote the path as it is.
        let name: String = self
            .grid
            .file_stem()
            .map_or("sweep".into(), |s| s.to_string_lossy().into_owned())
            .chars()
            .map(|c| {
                if c.is_whitespace() || c.is_control() || "'\"\\".contains(c) {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let mut s = String::from("#!/bin/bash\n");
        let mut directive = |line: String| {
            s.push_str("#SBATCH ");
            s.push_str(&line);
            s.push('\n');
        };
        directive(format!("--job-name={}", sbatch_safe("grid file", &name)?));
        directive(format!("--array=0-{}", self.shards - 1));
        directive(format!("--cpus-per-task={}", r.cpus));
        directive(format!("--mem={}", slurm_mem(r.mem_bytes)));
        if r.time_s > MAX_TIME_S {
            return Err(time_over_slurm("--time", &slurm_time(r.time_s)));
        }
        directive(format!("--time={}", slurm_time(r.time_s)));
        if let Some(p) = &self.partition {
            directive(format!("--partition={}", sbatch_safe("--partition", p)?));
        }
        // `--output` is a filename pattern: a `%` of the folder's own name is written `%%`, or
        // Slurm replaces it (`runs%j` became `runs4242`, a folder that does not exist, adv49a).
        let out = self.out.to_string_lossy().replace('%', "%%");
        let log = Path::new(&out).join(LOG_DIR).join("shard%a.log");
        directive(format!(
            "--output={}",
            sbatch_safe("--out", &log.to_string_lossy())?
        ));
        directive("--open-mode=append".into());
        directive("--requeue".into());
        s.push_str(&format!(
            "{MARK}: {} shards of {}.\n\
             # Each task resumes its shard's results file, so a requeued, preempted or resubmitted\n\
             # task (sbatch --array=I this-script) only runs the points that are not done yet.\n\
             # When all have ended: corrflow sweep merge --grid {} --out {} {}\n\
             set -euo pipefail\n\
             shard=\"$SLURM_ARRAY_TASK_ID\"\n\
             exec {} --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\" sweep \\\n  \
             --grid {} \\\n  --out {}\"$shard\" \\\n  --shard \"$shard/{}\" \\\n  \
             --jobs {} --max-memory {}\n",
            self.shards,
            comment_safe(&self.grid.to_string_lossy()),
            comment_safe(&shell_quote(&self.grid)),
            comment_safe(&shell_quote(&self.out.join("merged"))),
            comment_safe(&shell_quote(&self.out)) + "/shard*",
            shell_quote(&self.corrflow),
            r.cpus,
            shell_quote(&self.grid),
            shell_quote(&self.out.join("shard")),
            self.shards,
            r.jobs,
            slurm_mem(r.mem_bytes),
        ));
        Ok(s)
    }

    /// Writes the script (atomically), the manifest and the log folder into the output folder;
    /// returns the script's path.
    pub fn write(&self) -> Result<PathBuf> {
        // The text first: a value it refuses leaves no log folder behind.
        let text = self.script()?;
        let logs = self.out.join(LOG_DIR);
        std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
        let script = self.out.join(SCRIPT_FILE);
        crate::io::write_atomically(&script, text.as_bytes())?;
        let manifest = Manifest {
            grid: self.grid.clone(),
            shards: self.shards,
            script: script.clone(),
        };
        let json =
            serde_json::to_string_pretty(&manifest).map_err(|e| Error::Numeric(e.to_string()))?;
        crate::io::write_atomically(&self.out.join(MANIFEST_FILE), json.as_bytes())?;
        Ok(script)
    }
}

/// Refuses to replace a regular file at `script` (the output folder's [`SCRIPT_FILE`]) that
/// `corrflow sweep submit` did not write: its first 4 KiB lack `MARK`. A resubmission
/// replaces its own script; a user's own `sweep.sbatch` in a folder given as `--out` (`--out
/// .` beside it) was replaced without a word (adv50). Anything but a regular file is left to
/// the atomic write, which refuses it.
pub fn check_own_script(script: &Path) -> Result<()> {
    use std::io::Read;
    match std::fs::symlink_metadata(script) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(script, e)),
        Ok(m) if !m.is_file() => return Ok(()),
        Ok(_) => {}
    }
    let mut head = Vec::new();
    std::fs::File::open(script)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .map_err(|e| Error::io(script, e))?;
    if String::from_utf8_lossy(&head).contains(MARK) {
        return Ok(());
    }
    Err(Error::flag(
        "--out",
        format!(
            "{} exists and was not written by `corrflow sweep submit` (a batch script of your \
             own?); it is left as it is: choose another --out",
            script.display()
        ),
    ))
}

/// Output folder of shard `i` under the array job's output folder `out`.
pub fn shard_dir(out: &Path, i: usize) -> PathBuf {
    out.join(format!("shard{i}"))
}

/// `path` quoted for bash: inside single quotes, each `'` written as `'\''`.
pub fn shell_quote(path: &Path) -> String {
    let text = path.to_string_lossy();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        return text.into_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text`, for a comment line of the script, with each control character written as its escape
/// (`\n`): a grid path holding a newline ended its comment line, and bash ran the rest of the
/// name as a command (`touch /tmp/x` in a folder's name ran, adv49a). The commands themselves
/// quote such paths ([`shell_quote`]: a newline inside single quotes is part of the word).
fn comment_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `value` for an `#SBATCH` line, which sbatch splits at whitespace and does not unquote
/// reliably: refused with `what` named if it is empty or holds whitespace, quotes or a
/// backslash (`--partition ""`, an unset variable's expansion, wrote `--partition=`).
fn sbatch_safe<'a>(what: &str, value: &'a str) -> Result<&'a str> {
    if value.is_empty() {
        return Err(Error::flag(what, "'' is empty: expected a name"));
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || "'\"\\".contains(c))
    {
        return Err(Error::flag(
            what,
            format!(
                "'{}' has whitespace, quotes or a backslash, which an #SBATCH line cannot hold; choose a name without them",
                crate::error::excerpt(value)
            ),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ArrayJob {
        ArrayJob {
            grid: "/data/grids/xor.toml".into(),
            out: "/scratch/runs/xor".into(),
            shards: 4,
            resources: Resources {
                cpus: 2,
                jobs: 2,
                mem_bytes: 300.0 * 1024.0 * 1024.0,
                time_s: 3600,
            },
            partition: Some("short".into()),
            corrflow: "/opt/bin/corrflow".into(),
        }
    }

    #[test]
    fn the_script_runs_one_shard_per_task_with_the_planned_resources() {
        let s = job().script().unwrap();
        for line in [
            "#SBATCH --job-name=xor\n",
            "#SBATCH --array=0-3\n",
            "#SBATCH --cpus-per-task=2\n",
            "#SBATCH --mem=300M\n",
            "#SBATCH --time=01:00:00\n",
            "#SBATCH --partition=short\n",
            "#SBATCH --output=/scratch/runs/xor/logs/shard%a.log\n",
            "#SBATCH --open-mode=append\n",
            "#SBATCH --requeue\n",
            "exec /opt/bin/corrflow --threads \"${SLURM_CPUS_PER_TASK:-2}\" sweep \\\n",
            "--out /scratch/runs/xor/shard\"$shard\" \\\n",
            "--shard \"$shard/4\" \\\n",
            "--jobs 2 --max-memory 300M\n",
        ] {
            assert!(s.contains(line), "{line:?} not in\n{s}");
        }
        assert!(s.starts_with("#!/bin/bash\n#SBATCH"), "{s}");
    }

    #[test]
    fn paths_are_quoted_and_unusable_names_refused() {
        assert_eq!(shell_quote(Path::new("/a/b-c_1.toml")), "/a/b-c_1.toml");
        assert_eq!(shell_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
        let mut j = job();
        j.grid = "/my grids/x.toml".into();
        assert!(j.script().unwrap().contains("--grid '/my grids/x.toml'"));
        // A grid file whose name an #SBATCH line cannot hold gives a job name without those
        // characters; the command keeps the path. Old (adv49a): refused, "grid file: 'my x'
        // has whitespace…".
        j.grid = "/g/my x\t\"it's\".toml".into();
        let s = j.script().unwrap();
        assert!(s.contains("#SBATCH --job-name=my_x__it_s_\n"), "{s}");
        assert!(s.contains("--grid '/g/my x\t\"it'\\''s\".toml'"), "{s}");
        j.out = "/my runs/x".into();
        let err = j.script().unwrap_err().to_string();
        assert!(err.contains("--out") && err.contains("#SBATCH"), "{err}");
        let mut j = job();
        j.partition = Some(String::new());
        let err = j.script().unwrap_err().to_string();
        assert!(
            err.contains("--partition") && err.contains("empty"),
            "{err}"
        );
    }

    /// A `sweep.sbatch` of the user's own in the output folder is refused, naming `--out`, and
    /// left as it is; one this module wrote is replaced (a resubmission). Old (adv50): replaced.
    #[test]
    fn a_script_of_the_users_own_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = job();
        j.out = dir.path().to_path_buf();
        j.corrflow = "/opt/bin/corrflow".into();
        let path = dir.path().join(SCRIPT_FILE);
        std::fs::write(&path, "#!/bin/bash\n#SBATCH --array=0-9\nsrun ./mine\n").unwrap();
        let err = check_own_script(&path).unwrap_err().to_string();
        assert!(
            err.contains("--out") && err.contains("sweep.sbatch"),
            "{err}"
        );
        assert!(std::fs::read_to_string(&path).unwrap().contains("./mine"));
        std::fs::write(&path, j.script().unwrap()).unwrap();
        check_own_script(&path).unwrap();
        check_own_script(&dir.path().join("absent")).unwrap();
    }

    /// A grid path holding a newline: every comment line stays one line (the newline written
    /// `\n`), and the command quotes it whole; it ended a comment line, and bash ran the rest
    /// of the folder's name as a command (adv49a).
    #[test]
    fn a_newline_in_a_path_cannot_start_a_line_of_the_script() {
        let mut j = job();
        j.grid = "/data/x\ntouch /tmp/pwned\n/g.toml".into();
        let s = j.script().unwrap();
        // Everything before the commands is the shebang, directives and comments.
        let head = &s[..s.find("set -euo pipefail").unwrap()];
        assert!(
            head.lines().all(|l| l.starts_with('#')),
            "a line of its own:\n{s}"
        );
        assert!(s.contains("# Written by `corrflow sweep submit`: 4 shards of /data/x\\ntouch"));
        assert!(
            s.contains("--grid '/data/x\ntouch /tmp/pwned\n/g.toml' \\\n"),
            "{s}"
        );
    }

    /// A `%` in the output folder's name is written `%%` in `--output`, a filename pattern
    /// where Slurm replaced `%j` with the job id (the log folder did not exist); the shard%a of
    /// the log's own name stays. A planned time beyond sbatch's limit is refused.
    #[test]
    fn the_log_pattern_keeps_a_percent_of_the_folder_and_the_time_fits_sbatch() {
        let mut j = job();
        j.out = "/scratch/runs%j".into();
        let s = j.script().unwrap();
        assert!(
            s.contains("#SBATCH --output=/scratch/runs%%j/logs/shard%a.log\n"),
            "{s}"
        );
        assert!(s.contains("--out /scratch/runs%j/shard\"$shard\""), "{s}");
        j.resources.time_s = MAX_TIME_S + 60;
        let err = j.script().unwrap_err().to_string();
        assert!(err.contains("--time") && err.contains("sbatch"), "{err}");
    }
}
