//! A one-node Slurm cluster on 127.0.0.1 that a test starts and stops itself: munged with a
//! generated key, slurmctld and slurmd with a generated slurm.conf (SlurmUser=root,
//! proctrack/linuxproc, task/none, select/cons_tres, no cgroups, no accounting), all state, spool,
//! sockets and logs in one temporary folder, ports chosen free at start. Clients reach it only
//! through `SLURM_CONF` set on their command, so a real cluster on the machine is not touched.
//! One such cluster at a time per machine (a lock file in the temp folder). Dropping it cancels
//! its jobs, stops the daemons it started (by pid), kills any process still running from its
//! folder, and removes the folder, also when the test failed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Set to 1 to make a missing or unstartable Slurm a failure instead of a skip.
pub const REQUIRE_VAR: &str = "CORRFLOW_REQUIRE_SLURM";

/// Prints a line the test harness does not capture (it captures only the print macros).
pub fn loud(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// A running cluster.
pub struct Cluster {
    daemons: Vec<(&'static str, Child)>,
    conf: PathBuf,
    /// Folder of the client commands (sbatch, squeue, scontrol, scancel, sinfo).
    bin: PathBuf,
    /// Set once the node was idle: only then is there a queue to empty at the end.
    up: bool,
    dir: tempfile::TempDir,
    _gate: File,
}

impl Cluster {
    /// Starts the cluster and waits until its node is idle; `Err` says why it cannot run here.
    pub fn start() -> Result<Cluster, String> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err("the test cluster runs its daemons as root (SlurmUser=root)".into());
        }
        let find = |name: &str| -> Result<PathBuf, String> {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
                .map(|d| d.join(name))
                .find(|p| p.is_file())
                .ok_or_else(|| format!("{name} not found (install slurm-wlm and munge)"))
        };
        let munged = find("munged")?;
        let slurmctld = find("slurmctld")?;
        let slurmd = find("slurmd")?;
        let sbatch = find("sbatch")?;
        for client in ["squeue", "scontrol", "scancel", "sinfo", "munge"] {
            find(client)?;
        }
        let bin = sbatch.parent().unwrap().to_path_buf();

        let gate_path = std::env::temp_dir().join("corrflow-slurm-test.lock");
        let gate = File::create(&gate_path).map_err(|e| format!("{}: {e}", gate_path.display()))?;
        gate.lock()
            .map_err(|e| format!("{}: {e}", gate_path.display()))?;

        let dir = tempfile::Builder::new()
            .prefix("corrflow-slurm-")
            .tempdir_in("/tmp")
            .map_err(|e| format!("temporary folder: {e}"))?;
        let root = dir.path().to_path_buf();
        let mkdir = |sub: &str, mode: u32| -> Result<PathBuf, String> {
            use std::os::unix::fs::PermissionsExt;
            let p = root.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(p)
        };
        // munged wants its socket folder searchable by everyone and its key private.
        mkdir("", 0o755)?;
        let munge_dir = mkdir("munge", 0o755)?;
        for sub in ["state", "spool", "log", "work"] {
            mkdir(sub, 0o755)?;
        }
        let key = munge_dir.join("munge.key");
        write_private(&key, &random_key()?)?;
        let socket = munge_dir.join("munge.socket");
        let (ctld_port, d_port) = (free_port()?, free_port()?);
        let conf = root.join("slurm.conf");
        let plugstack = root.join("plugstack.conf");
        std::fs::write(&plugstack, "").map_err(|e| e.to_string())?;
        std::fs::write(
            &conf,
            slurm_conf(&root, &socket, &plugstack, ctld_port, d_port),
        )
        .map_err(|e| e.to_string())?;

        let mut cluster = Cluster {
            daemons: Vec::new(),
            conf,
            bin,
            up: false,
            dir,
            _gate: gate,
        };
        let m = munge_dir.display();
        cluster.spawn(
            "munged",
            &munged,
            &[
                "-F".into(),
                format!("--key-file={m}/munge.key"),
                format!("--socket={}", socket.display()),
                format!("--pid-file={m}/munged.pid"),
                format!("--log-file={m}/munged.log"),
                format!("--seed-file={m}/munged.seed"),
            ],
        )?;
        cluster.wait_for("munged's socket", Duration::from_secs(15), |c| {
            c.daemons_alive() && socket.exists()
        })?;
        let conf_arg = cluster.conf.display().to_string();
        cluster.spawn(
            "slurmctld",
            &slurmctld,
            &["-D".into(), "-i".into(), "-f".into(), conf_arg.clone()],
        )?;
        cluster.spawn(
            "slurmd",
            &slurmd,
            &[
                "-D".into(),
                "-N".into(),
                "localhost".into(),
                "-f".into(),
                conf_arg,
            ],
        )?;
        cluster.wait_for("an idle node", Duration::from_secs(60), |c| {
            c.daemons_alive()
                && c.client("sinfo", &["-h", "-o", "%t"])
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        })?;
        cluster.up = true;
        Ok(cluster)
    }

    /// The temporary folder; `work/` in it is free for the test.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `SLURM_CONF` of this cluster.
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The folder of sbatch and the other client commands, for a `PATH`.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A client command (`squeue`, `scontrol`, …) aimed at this cluster.
    pub fn command(&self, name: &str) -> Command {
        let mut c = Command::new(self.bin.join(name));
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// Runs a client command and returns its output, `Err` if it could not start or failed.
    pub fn client(&self, name: &str, args: &[&str]) -> Result<Output, String> {
        let o = self
            .command(name)
            .args(args)
            .output()
            .map_err(|e| format!("{name}: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "{name} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(o)
    }

    /// Whether every array task of job `id` has reached a final state. All states are listed
    /// (`-t all`), so that a task between requeue and pending is not taken for finished.
    pub fn job_done(&self, id: u64) -> bool {
        const FINAL: [&str; 9] = [
            "COMPLETED",
            "CANCELLED",
            "FAILED",
            "TIMEOUT",
            "NODE_FAIL",
            "PREEMPTED",
            "BOOT_FAIL",
            "DEADLINE",
            "OUT_OF_MEMORY",
        ];
        match self.client(
            "squeue",
            &["-h", "-t", "all", "-j", &id.to_string(), "-o", "%T"],
        ) {
            Ok(o) => String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .all(|state| FINAL.contains(&state)),
            // Slurm forgets finished jobs after MinJobAge; squeue then calls the id invalid.
            Err(e) => e.contains("Invalid job id"),
        }
    }

    /// The daemons' logs, for a failure message.
    pub fn logs(&self) -> String {
        [
            "log/slurmctld.log",
            "log/slurmd.log",
            "log/slurmctld.out",
            "log/slurmd.out",
        ]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(self.dir().join(f)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            format!(
                "--- {f} (last lines)\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
    }

    fn spawn(&mut self, name: &'static str, program: &Path, args: &[String]) -> Result<(), String> {
        let out = self.dir().join("log").join(format!("{name}.out"));
        let file = File::create(&out).map_err(|e| e.to_string())?;
        let child = Command::new(program)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .spawn()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        self.daemons.push((name, child));
        Ok(())
    }

    fn daemons_alive(&mut self) -> bool {
        self.daemons
            .iter_mut()
            .all(|(_, c)| matches!(c.try_wait(), Ok(None)))
    }

    fn wait_for(
        &mut self,
        what: &str,
        limit: Duration,
        mut ready: impl FnMut(&mut Self) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if ready(self) {
                return Ok(());
            }
            if !self.daemons_alive() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let dead: Vec<&str> = self
            .daemons
            .iter_mut()
            .filter_map(|(n, c)| (!matches!(c.try_wait(), Ok(None))).then_some(*n))
            .collect();
        Err(format!(
            "no {what} within {} s (exited: {dead:?})\n{}",
            limit.as_secs(),
            self.logs()
        ))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Cancel every job of this cluster, and give the tasks a moment to end.
        if let Some(o) = self
            .up
            .then(|| self.client("squeue", &["-h", "-o", "%A"]).ok())
            .flatten()
        {
            let ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                let _ = self.command("scancel").args(&ids).output();
                let deadline = Instant::now() + Duration::from_secs(15);
                while Instant::now() < deadline
                    && self
                        .client("squeue", &["-h", "-o", "%A"])
                        .is_ok_and(|o| !o.stdout.is_empty())
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        // The daemons, last started first: SIGTERM, then SIGKILL after 10 s.
        for (_, child) in self.daemons.iter_mut().rev() {
            // SAFETY: kill with a pid of our own child that has not been reaped yet.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Any task process left (its command line names this folder).
        for pid in processes_mentioning(self.dir.path()) {
            // SAFETY: kill with a pid read from /proc; at worst it has exited already.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Pids of processes whose command line contains `dir`.
fn processes_mentioning(dir: &Path) -> Vec<libc::pid_t> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|&pid| pid != std::process::id() as libc::pid_t)
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

/// A TCP port on 127.0.0.1 that is free now.
fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// 1024 random bytes for the munge key.
fn random_key() -> Result<Vec<u8>, String> {
    let mut key = vec![0u8; 1024];
    let mut f = File::open("/dev/urandom").map_err(|e| e.to_string())?;
    std::io::Read::read_exact(&mut f, &mut key).map_err(|e| e.to_string())?;
    Ok(key)
}

/// Writes `bytes` to a new file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes).map_err(|e| e.to_string())
}

/// The cluster's slurm.conf. `cred_expire=5` shortens the wait of a requeued job before it may
/// start again (the credential lifetime; Slurm's default is 120 s); `config_overrides` lets the
/// node claim 4 CPUs on a smaller machine, so that 4 array tasks run at once.
fn slurm_conf(root: &Path, socket: &Path, plugstack: &Path, ctld_port: u16, d_port: u16) -> String {
    let r = root.display();
    format!(
        "ClusterName=corrflowtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={},cred_expire=5
CredType=cred/munge
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
PlugStackConfig={}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
KillWait=5
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=4 RealMemory=4096 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
",
        socket.display(),
        plugstack.display()
    )
}
