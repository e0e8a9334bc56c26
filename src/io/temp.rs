//! Temporary files named after the process that writes them, `.corrflow-tmp-<pid>-<n>-<name>`,
//! so that a later run can find the debris of a killed one (its pid no longer alive) and remove
//! it. A pid reused by an unrelated live process only delays the clean-up to a later run. A
//! killed process that its parent has not yet reaped (a zombie: `Popen.kill()` without
//! `wait()`, or an init slow to reap the orphan of `timeout -s KILL`) writes nothing more and
//! counts as dead (`is_alive`).
//! Every temporary path is also recorded, so that the process itself removes what it left when
//! it is interrupted ([`remove_own_for_exit`], called on SIGINT/SIGTERM by the binaries).
//!
//! A temporary file or folder is created under the same lock as its record ([`create_temp`]),
//! and the clean-up on an interruption keeps that lock until the process ends: no temporary
//! file can appear after the clean-up has looked (a model's temporary file created between the
//! clean-up and the process's death was left behind before; twenty-sixth session).
//!
//! An output folder moved aside to make room for its replacement ([`displace`], the fallback
//! where the file system cannot exchange two folders) is named `.corrflow-tmp-<pid>-<n>h-<name>`
//! when its whole name fits: if the process is killed before the replacement is in, a later
//! run in the folder puts it back at `<name>` instead of removing it as debris
//! ([`remove_stale`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Prefix of every temporary file corrflow writes.
pub const TEMP_PREFIX: &str = ".corrflow-tmp-";

/// Longest file name the file systems corrflow writes to take (Linux's `NAME_MAX`, in bytes).
const NAME_MAX: usize = 255;

/// Marks the counter of an output moved aside whose whole name follows ([`fresh_path`]).
const ASIDE_MARK: char = 'h';

/// How often the clean-up tries to remove a temporary folder that another thread is still
/// writing files into (each try removes what it finds; the writer's next file then fails).
const FOLDER_TRIES: usize = 1000;

/// The temporary paths a process has handed out, behind the lock under which each is created.
struct Registry {
    paths: Mutex<Vec<Entry>>,
}

/// A recorded temporary path; for an output moved aside to make room for its replacement
/// ([`displace`]), also where it came from.
struct Entry {
    path: PathBuf,
    home: Option<PathBuf>,
}

/// This process's temporary paths; most are renamed or removed by the time
/// [`remove_own_for_exit`] looks, which then finds nothing there.
static OWN: Registry = Registry::new();

impl Registry {
    const fn new() -> Self {
        Registry {
            paths: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.paths.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh path in `dir` recorded and then created by `create`, both under the lock.
    fn create<T>(
        &self,
        dir: &Path,
        name: &str,
        create: impl FnOnce(&Path) -> std::io::Result<T>,
    ) -> (PathBuf, std::io::Result<T>) {
        self.record(dir, name, None, create)
    }

    /// [`displace`] on this record.
    fn displace(&self, dir: &Path, name: &str, home: &Path) -> (PathBuf, std::io::Result<()>) {
        self.record(dir, name, Some(home), |path| std::fs::rename(home, path))
    }

    fn record<T>(
        &self,
        dir: &Path,
        name: &str,
        home: Option<&Path>,
        create: impl FnOnce(&Path) -> std::io::Result<T>,
    ) -> (PathBuf, std::io::Result<T>) {
        let mut paths = self.lock();
        let path = fresh_path(dir, name, home.is_some());
        paths.push(Entry {
            path: path.clone(),
            home: home.map(Path::to_path_buf),
        });
        let created = create(&path);
        (path, created)
    }

    /// Puts back the displaced outputs whose place is still empty, removes the other recorded
    /// paths that exist, and returns the lock, still held, with how many paths were put back
    /// or removed: while the caller holds it no temporary path can be created.
    fn remove_all(&self) -> (MutexGuard<'_, Vec<Entry>>, usize) {
        let paths = self.lock();
        let done = paths
            .iter()
            .filter(|e| restore(e) || remove_existing(&e.path))
            .count();
        (paths, done)
    }
}

/// Moves a displaced output back home when it is still aside and its place empty (a run
/// interrupted between moving the old output away and renaming the new one in); true if so.
fn restore(e: &Entry) -> bool {
    let Some(home) = &e.home else {
        return false;
    };
    std::fs::symlink_metadata(home).is_err()
        && std::fs::symlink_metadata(&e.path).is_ok()
        && std::fs::rename(&e.path, home).is_ok()
}

/// A fresh temporary path in `dir` for a file or folder that will be renamed to `name`, created
/// by `create` (which must create it: `create_new`, `create_dir`, a rename onto it) under the
/// lock of the process's record of temporary paths, so that the clean-up on an interruption
/// either sees it or runs before it exists and then stops its creation. The name is
/// `.corrflow-tmp-<pid>-<n>-` followed by as much of `name` as fits in 255 bytes (`NAME_MAX`;
/// cut at a character boundary), so that any output name the file system takes has a temporary
/// twin it takes too. Returns the path with `create`'s result.
pub fn create_temp<T>(
    dir: &Path,
    name: &str,
    create: impl FnOnce(&Path) -> std::io::Result<T>,
) -> (PathBuf, std::io::Result<T>) {
    OWN.create(dir, name, create)
}

/// Moves the existing output `home` aside to a fresh temporary path in `dir` (named as in
/// [`create_temp`]), under the same lock, so that its replacement can be renamed in. An
/// interruption before the replacement is in puts it back; after, it is removed like any
/// temporary path. Returns the temporary path with the rename's result.
pub fn displace(dir: &Path, name: &str, home: &Path) -> (PathBuf, std::io::Result<()>) {
    OWN.displace(dir, name, home)
}

/// `.corrflow-tmp-<pid>-<n>-<name cut to fit>` in `dir`, `n` counting this process's paths; for
/// an output moved `aside`, `.corrflow-tmp-<pid>-<n>h-<name>` when the whole name fits (the
/// mark [`remove_stale`] restores by), else the plain form.
fn fresh_path(dir: &Path, name: &str, aside: bool) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let head = format!("{TEMP_PREFIX}{}-{n}", std::process::id());
    if aside && head.len() + 2 + name.len() <= NAME_MAX {
        return dir.join(format!("{head}{ASIDE_MARK}-{name}"));
    }
    let head = format!("{head}-");
    let mut keep = NAME_MAX.saturating_sub(head.len()).min(name.len());
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    dir.join(format!("{head}{}", &name[..keep]))
}

/// Removes the temporary files and folders this process created that are still there (a write
/// cut short by an interruption), puts back an output moved aside ([`displace`]) whose
/// replacement is not in place, and then blocks every later [`create_temp`] of the process for
/// good: call it only when the process is about to end (the signal thread, before it raises
/// the signal). Returns how many paths were removed or put back. Best effort, like [`remove_stale`].
pub fn remove_own_for_exit() -> usize {
    let (held, removed) = OWN.remove_all();
    std::mem::forget(held);
    removed
}

/// Removes `path` if it exists (a folder with its contents); true if it was removed.
fn remove_existing(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => remove_folder(path),
        Ok(_) => std::fs::remove_file(path).is_ok(),
        Err(_) => false,
    }
}

/// Removes the folder `p` and its contents, trying again while another thread's writes leave
/// it not empty (at most [`FOLDER_TRIES`] times); true once it is gone.
fn remove_folder(p: &Path) -> bool {
    for _ in 0..FOLDER_TRIES {
        match std::fs::remove_dir_all(p) {
            Ok(()) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {}
            Err(_) => break,
        }
    }
    std::fs::symlink_metadata(p).is_err()
}

/// Removes the temporary files and folders in `dir` left by processes that are no longer alive,
/// except an output such a process moved aside ([`displace`]) whose place is empty: that one is
/// put back (a SIGKILL between the fallback's two renames left no output at its name, and its
/// old contents under the temporary one). Returns how many were removed or put back. Best
/// effort: entries that cannot be read, removed or renamed are left alone.
///
/// Of several outputs moved aside to one empty place (two dead processes, each of which moved
/// the output there aside), the newest (latest modification time; then the greater name) goes
/// back, and the older ones are then debris like any output moved aside whose place is taken:
/// each was a whole output once, and the newest is the last one a run put in place. Before
/// adv30 `read_dir`'s order chose, so an older copy could come back and the newest be removed.
pub fn remove_stale(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut dead: Vec<_> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            owner_pid(&name.to_string_lossy()).is_some_and(|pid| !is_alive(pid))
        })
        .collect();
    let modified = |e: &std::fs::DirEntry| e.metadata().and_then(|m| m.modified()).ok();
    dead.sort_by_cached_key(|e| std::cmp::Reverse((modified(e), e.file_name())));
    dead.into_iter()
        .filter(|e| {
            let path = e.path();
            if let Some(home) = aside_home(&e.file_name().to_string_lossy()) {
                let home = dir.join(home);
                if std::fs::symlink_metadata(&home).is_err() {
                    return std::fs::rename(&path, &home).is_ok();
                }
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path).is_ok(),
                _ => std::fs::remove_file(&path).is_ok(),
            }
        })
        .count()
}

/// The pid in a temporary file name `.corrflow-tmp-<pid>-<n>-…` or `.corrflow-tmp-<pid>-<n>h-…`
/// ([`fresh_path`]: `<pid>` and `<n>` in plain decimal), or `None` for other names. A name
/// corrflow never writes is not its debris: `.corrflow-tmp-+<pid>-…` and `.corrflow-tmp-0<pid>-…`
/// (which `parse` reads as the pid) were removed, or renamed as an output moved aside, when that
/// pid was dead (adv29).
fn owner_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    let (pid, rest) = rest.split_once('-')?;
    let (counter, _) = rest.split_once('-')?;
    let counter = counter.strip_suffix(ASIDE_MARK).unwrap_or(counter);
    let plain = |digits: &str| digits.parse::<u64>().is_ok_and(|n| n.to_string() == digits);
    (plain(pid) && plain(counter))
        .then(|| pid.parse().ok())
        .flatten()
        .filter(|&p| p > 0)
}

/// The output name in a temporary name `.corrflow-tmp-<pid>-<n>h-<name>` of an output moved
/// aside, or `None` for other names.
fn aside_home(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    let (_pid, rest) = rest.split_once('-')?;
    let (counter, home) = rest.split_once('-')?;
    let digits = counter.strip_suffix(ASIDE_MARK)?;
    let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    (valid && !home.is_empty()).then_some(home)
}

/// True when a process `pid` exists (`kill(pid, 0)` succeeds or is refused for permission) and
/// is not a zombie: a process that has ended but is not yet reaped still answers `kill`, and its
/// debris was left behind (the adversarial script's kill -9 section under load, seventy-third
/// session). Its state is the first field after the last `)` of `/proc/<pid>/stat` (the name
/// before it may hold spaces and parentheses); where that cannot be read, `kill` decides.
fn is_alive(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only checks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    let exists = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !process_state(pid).is_some_and(|s| s == 'Z' || s == 'X')
}

/// The state letter of process `pid` from `/proc/<pid>/stat`, where readable.
fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat[close + 1..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .map(|&b| b as char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debris_of_a_dead_process_is_removed_and_live_ones_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (mine, made) = create_temp(dir.path(), "x.idx", |p| std::fs::write(p, b"live"));
        made.unwrap();
        let dead = dead_pid();
        let stale = dir.path().join(format!("{TEMP_PREFIX}{dead}-0-x.idx"));
        std::fs::write(&stale, b"debris").unwrap();
        let other = dir.path().join("x.idx");
        std::fs::write(&other, b"kept").unwrap();
        assert_eq!(remove_stale(dir.path()), 1);
        assert!(mine.exists() && other.exists() && !stale.exists());
    }

    /// Names corrflow never writes are left alone, whatever process their digits name: a pid
    /// or counter that is not plain decimal (`+`, a leading 0: `parse` reads both), no counter.
    #[test]
    fn names_corrflow_never_writes_are_not_its_debris() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let foreign = [
            format!("{TEMP_PREFIX}+{dead}-3h-report"),
            format!("{TEMP_PREFIX}0{dead}-3h-report"),
            format!("{TEMP_PREFIX}+{dead}-3-x.idx"),
            format!("{TEMP_PREFIX}{dead}-+3-x.idx"),
            format!("{TEMP_PREFIX}{dead}-03h-report"),
            format!("{TEMP_PREFIX}{dead}-x.idx"),
        ];
        for name in &foreign {
            std::fs::write(dir.path().join(name), b"theirs").unwrap();
        }
        let ours = dir.path().join(format!("{TEMP_PREFIX}{dead}-3-x.idx"));
        std::fs::write(&ours, b"debris").unwrap();
        assert_eq!(remove_stale(dir.path()), 1);
        assert!(!ours.exists() && !dir.path().join("report").exists());
        for name in &foreign {
            assert!(dir.path().join(name).exists(), "{name}");
        }
    }

    /// A pid that no process holds: a child that has exited and been reaped.
    /// A child that has exited and is not yet reaped is dead to [`is_alive`] (and its debris
    /// removed), a running one alive. Fails without the zombie check (`kill(pid, 0)` succeeds
    /// on a zombie).
    #[test]
    fn an_unreaped_child_is_dead_and_its_debris_removed() {
        let mut running = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Wait (bounded) for the child to exit; it stays a zombie until `wait` below.
        let start = std::time::Instant::now();
        while process_state(pid) != Some('Z') {
            assert!(start.elapsed().as_secs() < 20, "child {pid} never exited");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(format!("{TEMP_PREFIX}{pid}-0-x.idx"));
        std::fs::write(&stale, b"debris").unwrap();
        let alive = is_alive(running.id() as i32);
        let removed = remove_stale(dir.path());
        running.kill().unwrap();
        running.wait().unwrap();
        child.wait().unwrap();
        assert!(alive, "a running process is alive");
        assert_eq!(removed, 1);
        assert!(!stale.exists());
    }

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        dead
    }

    #[test]
    fn an_output_a_killed_run_moved_aside_goes_back_to_its_empty_place() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let folder = |name: &str, contents: &[u8]| {
            let path = dir.path().join(name);
            std::fs::create_dir(&path).unwrap();
            std::fs::write(path.join("report.json"), contents).unwrap();
            path
        };
        // Killed between the fallback's two renames: the old report aside, the new one beside it.
        let aside = folder(&format!("{TEMP_PREFIX}{dead}-4h-report"), b"old");
        let fresh = folder(&format!("{TEMP_PREFIX}{dead}-3-report"), b"new");
        // Killed while writing a first report: nothing to put back.
        let half = folder(&format!("{TEMP_PREFIX}{dead}-5-first"), b"{");
        // Killed after the new report was in: the old one is debris.
        let old = folder(&format!("{TEMP_PREFIX}{dead}-7h-replaced"), b"old");
        let replaced = folder("replaced", b"new");
        assert_eq!(remove_stale(dir.path()), 4);
        let report = dir.path().join("report");
        assert_eq!(std::fs::read(report.join("report.json")).unwrap(), b"old");
        assert_eq!(std::fs::read(replaced.join("report.json")).unwrap(), b"new");
        for gone in [&aside, &fresh, &half, &old] {
            assert!(!gone.exists(), "{}", gone.display());
        }
        assert!(!dir.path().join("first").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    /// Two dead processes' asides of one output, in two folders with the same names created in
    /// the same order and the newer copy under either name: the newer goes back in both, the
    /// older is removed. Before adv30 the same name (`read_dir`'s order) came back in both
    /// folders, so one of them lost the newer copy.
    #[test]
    fn of_two_asides_of_one_output_the_newest_goes_back() {
        let (first, second) = (dead_pid(), dead_pid());
        let names = [
            format!("{TEMP_PREFIX}{first}-3h-report"),
            format!("{TEMP_PREFIX}{second}-8h-report"),
        ];
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for newer in 0..2 {
            let dir = tempfile::tempdir().unwrap();
            for (k, name) in names.iter().enumerate() {
                let path = dir.path().join(name);
                std::fs::create_dir(&path).unwrap();
                let text = if k == newer { "newer" } else { "older" };
                std::fs::write(path.join("report.json"), text).unwrap();
                if k != newer {
                    std::fs::File::open(&path)
                        .unwrap()
                        .set_modified(old)
                        .unwrap();
                }
            }
            assert_eq!(remove_stale(dir.path()), 2);
            let back = std::fs::read(dir.path().join("report").join("report.json")).unwrap();
            assert_eq!(back, b"newer", "newer under {}", names[newer]);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

    #[test]
    fn only_an_output_moved_aside_under_its_whole_name_is_marked() {
        let dir = Path::new("/x");
        let name_of = |p: PathBuf| p.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(
            aside_home(&name_of(fresh_path(dir, "report", true))),
            Some("report")
        );
        assert_eq!(
            aside_home(&name_of(fresh_path(dir, "my-report-1", true))),
            Some("my-report-1")
        );
        // A name cut to fit, a temporary file and foreign names carry no home.
        let long = "b".repeat(250);
        assert_eq!(aside_home(&name_of(fresh_path(dir, &long, true))), None);
        assert_eq!(aside_home(&name_of(fresh_path(dir, "report", false))), None);
        for name in [
            "report",
            ".corrflow-tmp-12-h-x",
            ".corrflow-tmp-12-3h-",
            ".corrflow-tmp-12-3-h-x",
        ] {
            assert_eq!(aside_home(name), None, "{name}");
        }
    }

    #[test]
    fn own_temporary_files_and_folders_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let own = Registry::new();
        let (file, made) = own.create(dir.path(), "m.safetensors", |p| {
            std::fs::write(p, b"half a model")
        });
        made.unwrap();
        let (folder, made) = own.create(dir.path(), "report", |p| std::fs::create_dir(p));
        made.unwrap();
        std::fs::write(folder.join("report.json"), b"{").unwrap();
        let (renamed, made) = own.create(dir.path(), "done", |p| std::fs::write(p, b"done"));
        made.unwrap();
        let output = dir.path().join("m.safetensors");
        std::fs::rename(&renamed, &output).unwrap();
        let recorded: Vec<PathBuf> = own.lock().iter().map(|e| e.path.clone()).collect();
        assert_eq!(recorded, [file.clone(), folder.clone(), renamed.clone()]);
        assert_eq!(own.remove_all().1, 2);
        assert!(!file.exists() && !folder.exists() && !renamed.exists() && output.exists());
    }

    #[test]
    fn no_temporary_file_is_created_while_the_clean_up_holds_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let own = Registry::new();
        let (held, removed) = own.remove_all();
        assert_eq!(removed, 0);
        let (started, start) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let creator = s.spawn(|| {
                started.send(()).unwrap();
                own.create(dir.path(), "m.safetensors", |p| std::fs::write(p, b"m"))
            });
            start.recv().unwrap();
            // Time for the creator to create its file if the held record did not stop it.
            std::thread::sleep(std::time::Duration::from_millis(100));
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
            drop(held);
            let (path, made) = creator.join().unwrap();
            made.unwrap();
            assert!(path.exists());
        });
    }

    #[test]
    fn a_temporary_folder_still_being_written_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let own = Registry::new();
        let (folder, made) = own.create(dir.path(), "report", |p| std::fs::create_dir(p));
        made.unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (started, start) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            // A writer that puts files into the folder until told to stop.
            let writer = s.spawn(|| {
                started.send(()).unwrap();
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let _ = std::fs::write(folder.join(format!("f{i}")), b"x");
                }
            });
            start.recv().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            let (held, removed) = own.remove_all();
            let gone = !folder.exists();
            stop.store(true, Ordering::Relaxed);
            drop(held);
            writer.join().unwrap();
            assert_eq!(removed, 1);
            assert!(gone);
        });
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_output_moved_aside_goes_back_unless_its_replacement_is_in() {
        let dir = tempfile::tempdir().unwrap();
        let own = Registry::new();
        let report = dir.path().join("report");
        let replaced = dir.path().join("replaced");
        for folder in [&report, &replaced] {
            std::fs::create_dir(folder).unwrap();
            std::fs::write(folder.join("report.json"), b"old").unwrap();
        }
        // `report` is interrupted between the two renames, `replaced` after both.
        let (aside, moved) = own.displace(dir.path(), "report", &report);
        moved.unwrap();
        let (old, moved) = own.displace(dir.path(), "replaced", &replaced);
        moved.unwrap();
        let (fresh, made) = own.create(dir.path(), "replaced", |p| std::fs::create_dir(p));
        made.unwrap();
        std::fs::write(fresh.join("report.json"), b"new").unwrap();
        std::fs::rename(&fresh, &replaced).unwrap();
        assert_eq!(own.remove_all().1, 2);
        assert_eq!(std::fs::read(report.join("report.json")).unwrap(), b"old");
        assert_eq!(std::fs::read(replaced.join("report.json")).unwrap(), b"new");
        assert!(!aside.exists() && !old.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_temporary_name_fits_in_name_max_whatever_the_output_name() {
        let dir = Path::new("/x");
        for name in [
            "m.safetensors".to_string(),
            "b".repeat(250),
            "é".repeat(127),
        ] {
            let tmp = fresh_path(dir, &name, false);
            let tmp_name = tmp.file_name().unwrap().to_str().unwrap();
            assert!(tmp_name.len() <= NAME_MAX, "{tmp_name}");
            assert!(tmp_name.starts_with(TEMP_PREFIX));
            assert!(
                name.starts_with(tmp_name.rsplit_once('-').unwrap().1),
                "{tmp_name}"
            );
        }
    }
}
