//! Output and input names at the edges of what a file system takes (sixteenth session): a name
//! of up to 255 bytes is written (its temporary twin used to be too long), a longer one is
//! refused before the work, and names that are not UTF-8 neither panic nor fail `--json`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::common::command;

/// Runs corrflow with `args` (paths that need not be UTF-8).
fn run(args: &[&OsStr]) -> std::process::Output {
    command().args(args).output().unwrap()
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[test]
fn an_output_name_of_255_bytes_is_written_and_a_longer_one_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let longest = dir.path().join("m".repeat(255));
    let train = ["train", "--task", "xor", "--epochs", "1", "--out"].map(os);
    let o = run(&[&train[..], &[longest.as_os_str()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(longest.is_file());
    let report = dir.path().join("r".repeat(255));
    let analyze = ["analyze", "--task", "xor", "--epochs", "1", "--report"].map(os);
    let o = run(&[&analyze[..], &[report.as_os_str()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(report.join("report.json").is_file());

    // A million epochs: refused at once, or the test would time out.
    let too_long = dir.path().join("m".repeat(256));
    let slow = ["train", "--task", "xor", "--epochs", "1000000", "--out"].map(os);
    let o = run(&[&slow[..], &[too_long.as_os_str()]].concat());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot be written (File name too long"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "only the two outputs: {left:?}");
}

#[test]
fn names_that_are_not_utf8_neither_panic_nor_fail_json() {
    let dir = tempfile::tempdir().unwrap();
    let p = |tail: &[u8]| {
        let mut bytes = dir.path().as_os_str().as_bytes().to_vec();
        bytes.extend_from_slice(tail);
        std::path::PathBuf::from(OsStr::from_bytes(&bytes))
    };
    let model = p(b"/n\xff.safetensors");
    let report = p(b"/r\xff");
    let train = ["train", "--task", "xor", "--epochs", "1", "--json", "--out"].map(os);
    let o = run(&[&train[..], &[model.as_os_str()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["model"]
        .as_str()
        .unwrap()
        .ends_with("n\u{fffd}.safetensors"));
    for cmd in ["propagate", "analyze"] {
        let args = [cmd, "--json", "--model"].map(os);
        let o = run(&[&args[..], &[model.as_os_str()]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{cmd}: {err}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            v["model"]
                .as_str()
                .unwrap()
                .ends_with("n\u{fffd}.safetensors"),
            "{cmd}"
        );
    }
    // The report records its command line: the argument that is not UTF-8 used to panic.
    let args = ["analyze", "--model"].map(os);
    let o = run(&[
        &args[..],
        &[model.as_os_str(), os("--report"), report.as_os_str()],
    ]
    .concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(Path::new(&report).join("report.md")).unwrap();
    assert!(md.contains("r\u{fffd}"), "{md}");
}

/// adv50: a model named with a newline (and a `|`) kept report.md's header table whole only
/// for the `|`: the newline ended the row, and the rest of the name and of the command stood
/// as paragraphs outside the table. Every line of the table is a row now, the newline written
/// `\n`.
#[test]
fn a_newline_in_a_model_name_stays_inside_the_reports_table() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("x\n| injected |\n.safetensors");
    let report = dir.path().join("rep");
    let train = ["train", "--task", "xor", "--epochs", "1", "--out"].map(os);
    let o = run(&[&train[..], &[model.as_os_str()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let args = ["analyze", "--mc-samples", "1000", "--report"].map(os);
    let o = run(&[
        &args[..],
        &[report.as_os_str(), os("--model"), model.as_os_str()],
    ]
    .concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let table: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(
        table.iter().all(|l| l.starts_with('|') && l.ends_with('|')),
        "{md}"
    );
    assert!(md.contains("x\\n\\| injected \\|\\n.safetensors"), "{md}");
}

#[test]
fn a_data_path_that_is_not_utf8_is_refused_naming_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = dir.path().as_os_str().as_bytes().to_vec();
    bytes.extend_from_slice(b"/x\xff.npy");
    let x = std::path::PathBuf::from(OsStr::from_bytes(&bytes));
    super::common::write_npy(&x, "<f8", false, &[4, 1], &[0u8; 32]);
    let y = dir.path().join("y.npy");
    super::common::write_npy(
        &y,
        "<i8",
        false,
        &[4],
        &[[0u8; 8], [1, 0, 0, 0, 0, 0, 0, 0]].concat().repeat(2),
    );
    let out = dir.path().join("m.safetensors");
    let o = super::common::train_data(&x, &y, &out).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--train-x") && err.contains("not valid UTF-8"),
        "{err}"
    );
    assert!(!out.exists());
}

/// Sets (`on`) or clears the immutable attribute (`chattr +i`) of `path`; false where this
/// process or file system cannot (no CAP_LINUX_IMMUTABLE, no inode flags).
fn set_immutable(path: &Path, on: bool) -> bool {
    use std::os::fd::AsRawFd;
    const IMMUTABLE: libc::c_int = 0x10; // FS_IMMUTABLE_FL of linux/fs.h
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut flags: libc::c_int = 0;
    // SAFETY: a valid descriptor and a writable int, the kernel's size for these flags.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) } != 0 {
        return false;
    }
    flags = if on {
        flags | IMMUTABLE
    } else {
        flags & !IMMUTABLE
    };
    // SAFETY: as above; the kernel reads the int.
    unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) == 0 }
}

/// Clears the attribute again when the test ends, pass or fail (else the temporary folder
/// cannot be removed).
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        set_immutable(self.0, false);
    }
}

/// An immutable output file or report folder cannot be renamed over: refused before the work,
/// naming the attribute, and left as it was (it failed after the work with "Operation not
/// permitted").
#[test]
fn an_immutable_output_is_refused_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let report = dir.path().join("report");
    let train = ["train", "--task", "xor", "--epochs", "1", "--out"].map(os);
    assert!(run(&[&train[..], &[model.as_os_str()]].concat())
        .status
        .success());
    let analyze = ["analyze", "--task", "xor", "--epochs", "1", "--report"].map(os);
    assert!(run(&[&analyze[..], &[report.as_os_str()]].concat())
        .status
        .success());
    let before = std::fs::read(&model).unwrap();
    if !set_immutable(&model, true) || !set_immutable(&report, true) {
        set_immutable(&model, false);
        eprintln!("SKIPPED: cannot set the immutable attribute here (needs root and ext4/xfs/btrfs/tmpfs)");
        return;
    }
    let _guards = (Immutable(&model), Immutable(&report));
    for (args, path) in [(&train, &model), (&analyze, &report)] {
        let o = run(&[&args[..], &[path.as_os_str()]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("is immutable (chattr +i)"), "{err}");
    }
    assert_eq!(std::fs::read(&model).unwrap(), before);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

/// A previous report whose file is a FIFO under one of the report's own names: the check for
/// immutable entries opened it and waited for a writer forever; now it does not open what is
/// not a regular file or folder, and the run replaces the report as it did before that check.
#[test]
fn a_fifo_in_a_previous_report_does_not_hang_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rep");
    let args = |r: &Path| {
        let mut c = command();
        c.args(["analyze", "--task", "xor", "--epochs", "2", "--report"])
            .arg(r);
        c
    };
    let o = args(&report).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fifo = report.join("accuracy.svg");
    std::fs::remove_file(&fifo).unwrap();
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let mut child = args(&report)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > std::time::Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("the run hung on a FIFO in the previous report");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().is_file());
}

/// Outputs that exist and that this user may not replace, found before the work (they failed
/// after it: "Operation not permitted" for a file or report of another user in a sticky folder
/// such as /tmp; "Permission denied" naming a temporary folder, left behind, for a previous
/// report folder this user cannot write). Run as user 65534 (nobody) against root's files; it
/// skips, saying so, when the test is not run as root.
#[test]
fn another_users_output_is_refused_before_the_work() {
    let Some((_dir, [sticky, open])) =
        folders_for_another_user([("sticky", 0o1777), ("open", 0o777)])
    else {
        return;
    };
    let model = sticky.join("m.safetensors");
    let (report, open_report) = (sticky.join("rep"), open.join("rep"));
    let train = ["train", "--task", "xor", "--epochs", "1", "--out"].map(os);
    let analyze = ["analyze", "--task", "xor", "--epochs", "1", "--report"].map(os);
    for (args, path) in [
        (&train, &model),
        (&analyze, &report),
        (&analyze, &open_report),
    ] {
        let o = run(&[&args[..], &[path.as_os_str()]].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let before = std::fs::read(&model).unwrap();
    for (args, path, says) in [
        (&train, &model, "in a folder with the sticky bit"),
        (&analyze, &report, "in a folder with the sticky bit"),
        (
            &analyze,
            &open_report,
            "its old files cannot be removed by this user",
        ),
    ] {
        let o = run_as_nobody(&[&args[..], &[path.as_os_str()]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    }
    assert_eq!(std::fs::read(&model).unwrap(), before);
    assert_no_temporaries(&[&sticky, &open]);
}

/// Read-only outputs (adv25's open item, tried as user 65534 in adv26): a mode-444 file this
/// user owns, in a folder it may write, was replaced by `train --out` and `sweep export --csv`
/// (rename(2) needs only the folder's permission) and left writable; a `sweep --out` that
/// cannot be created (a mode-555 parent) or whose results.jsonl is mode 444 said only
/// "Permission denied". Each is now refused naming the path and what was expected, the file
/// unchanged, nothing left. Skips, saying so, when the test is not run as root.
#[test]
fn read_only_outputs_are_refused_naming_the_path() {
    use std::os::unix::fs::{chown, PermissionsExt};
    let Some((dir, [open, shut])) = folders_for_another_user([("open", 0o777), ("shut", 0o555)])
    else {
        return;
    };
    let sweep = open.join("sw");
    let grid = one_point_sweep(dir.path(), &sweep);
    let (model, csv) = (open.join("m.safetensors"), open.join("e.csv"));
    let results = sweep.join("results.jsonl");
    for p in [&model, &csv] {
        std::fs::write(p, b"keep").unwrap();
    }
    for p in [&sweep, &results, &model, &csv] {
        chown(p, Some(65534), Some(65534)).unwrap();
    }
    for p in [&results, &model, &csv] {
        set_mode(p, 0o444);
    }
    let train = ["train", "--task", "xor", "--epochs", "1", "--out"].map(os);
    let export = [os("sweep"), os("export"), sweep.as_os_str(), os("--csv")];
    let to_sweep = [os("sweep"), os("--grid"), grid.as_os_str(), os("--out")];
    let new_sweep = shut.join("sw");
    let read_only = "exists and is read-only for this user (mode 444";
    for (args, path, says, expected) in [
        (
            &train[..],
            &model,
            read_only,
            "make it writable (chmod u+w)",
        ),
        (&export[..], &csv, read_only, "make it writable (chmod u+w)"),
        (
            &to_sweep[..],
            &new_sweep,
            "cannot be created as the output folder (Permission denied",
            "expected --out to name a folder this user may create",
        ),
        (
            &to_sweep[..],
            &sweep,
            "results.jsonl: cannot be opened for appending (Permission denied",
            "expected a results file and folder this user may write",
        ),
    ] {
        let o = run_as_nobody(&[args, &[path.as_os_str()]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        let named = path.file_name().unwrap().to_string_lossy();
        assert!(
            err.contains(&*named) && err.contains(says) && err.contains(expected),
            "{err}"
        );
    }
    for p in [&model, &csv] {
        assert_eq!(std::fs::read(p).unwrap(), b"keep");
        assert_eq!(
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
            0o444
        );
    }
    assert_no_temporaries(&[&open, &shut, &sweep]);
}

/// Writes a one-point XOR grid `dir/g.toml`, runs its sweep into `out`, and returns the grid.
fn one_point_sweep(dir: &Path, out: &Path) -> PathBuf {
    let grid = dir.join("g.toml");
    std::fs::write(
        &grid,
        "task = \"xor\"\nn_train = 200\nhidden = [[4]]\nepochs = 1\n",
    )
    .unwrap();
    let o = run(&[
        os("sweep"),
        os("--grid"),
        grid.as_os_str(),
        os("--out"),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    grid
}

/// A temporary folder (mode 755) holding the `folders` (name, mode), for runs as user 65534
/// against root's files; `None`, saying so, when the test is not run as root.
fn folders_for_another_user<const N: usize>(
    folders: [(&str, u32); N],
) -> Option<(tempfile::TempDir, [PathBuf; N])> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root, to run as another user than the files' owner");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    let paths = folders.map(|(name, m)| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        set_mode(&d, m);
        d
    });
    Some((dir, paths))
}

fn set_mode(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Runs corrflow with `args` as user 65534 (nobody).
fn run_as_nobody(args: &[&OsStr]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    command().args(args).uid(65534).gid(65534).output().unwrap()
}

/// Asserts that no temporary file or folder (`.corrflow-tmp-…`) is left in `dirs`.
fn assert_no_temporaries(dirs: &[&Path]) {
    for d in dirs {
        let left: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            left.iter()
                .all(|n| !n.to_string_lossy().starts_with(".corrflow-tmp")),
            "{left:?}"
        );
    }
}

/// An output that is one of the run's own inputs, under any path that names it (`dir/./x.npy`,
/// a hard link), is refused before the work, naming the output and the input: `train --out`
/// of its `--train-x` replaced the training data with the model (exit 0), `analyze --out` the
/// same, and `sweep export DIR --csv DIR/results.jsonl` replaced the sweep's results with the
/// CSV (adv27). The inputs are unchanged; a new file in the sweep folder is still written.
/// An output in the MNIST folder under a name the folder is searched for (raw or `.gz`, any
/// prefix) is refused before the work, and nothing is written: beside the `.gz` a run reads,
/// the raw name would be read instead by every later run (adv27's left item). The folder need
/// not hold the files: the name alone decides.
#[test]
fn an_output_under_a_name_the_mnist_folder_is_searched_for_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in [
        "t10k-labels-idx1-ubyte",
        "train-images-idx3-ubyte.gz",
        "train5k-labels-idx1-ubyte",
    ] {
        let out = d.join(".").join(name);
        let o = run(&[
            os("train"),
            os("--task"),
            os("mnist"),
            os("--mnist-dir"),
            d.as_os_str(),
            os("--epochs"),
            os("1"),
            os("--out"),
            out.as_os_str(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(name) && err.contains("is a name the MNIST folder"),
            "{err}"
        );
        assert!(!d.join(name).exists(), "{name} was written");
    }
}

#[test]
fn an_output_that_is_one_of_the_run_s_inputs_is_refused_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (x, y) = super::common::blobs(300, 3, 4, 27);
    let (xp, yp) = super::common::write_xy(d, "", &x, &y);
    let (xb, yb) = (std::fs::read(&xp).unwrap(), std::fs::read(&yp).unwrap());
    let linked = d.join("y-link.npy");
    std::fs::hard_link(&yp, &linked).unwrap();
    let data = [
        os("--task"),
        os("data"),
        os("--train-x"),
        xp.as_os_str(),
        os("--train-y"),
        yp.as_os_str(),
        os("--test-split"),
        os("0:30"),
        os("--epochs"),
        os("1"),
        os("--out"),
    ];
    let dotted = d.join(".").join("x.npy");
    for (command, out, input) in [
        ("train", &dotted, "the training features (--train-x)"),
        ("train", &linked, "the training labels (--train-y)"),
        ("analyze", &xp, "the training features (--train-x)"),
    ] {
        let o = run(&[&[os(command)], &data[..], &[out.as_os_str()]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains(&*out.to_string_lossy())
                && err.contains(input)
                && err.contains("an output never replaces an input"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(&xp).unwrap(), xb);
    assert_eq!(std::fs::read(&yp).unwrap(), yb);

    let sweep = d.join("sw");
    one_point_sweep(d, &sweep);
    let results = sweep.join("results.jsonl");
    let kept = std::fs::read(&results).unwrap();
    let export = |csv: &Path| {
        run(&[
            os("sweep"),
            os("export"),
            sweep.as_os_str(),
            os("--csv"),
            csv.as_os_str(),
        ])
    };
    let o = export(&results);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("results.jsonl: is a file of the sweep folder being exported"),
        "{err}"
    );
    assert_eq!(std::fs::read(&results).unwrap(), kept);
    let o = export(&sweep.join("e.csv"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_no_temporaries(&[d, &sweep]);
}

/// A report path whose last name is `.` or `..`, or a symbolic link to a report folder named
/// with a trailing `/`, is refused before the work naming the path; the old report is left as
/// it was. The first failed after the work at the swap's rename ("Device or resource busy"),
/// the link's with "Not a directory" (adv27).
#[test]
fn a_report_path_ending_in_a_dot_or_a_slashed_symlink_is_refused_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("m.safetensors");
    let o = run(&[
        os("train"),
        os("--task"),
        os("xor"),
        os("--epochs"),
        os("1"),
        os("--out"),
        model.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = d.join("rep");
    let analyze = |r: &OsStr, cwd: &Path| {
        command()
            .args([
                os("analyze"),
                os("--model"),
                model.as_os_str(),
                os("--report"),
                r,
            ])
            .current_dir(cwd)
            .output()
            .unwrap()
    };
    let o = analyze(report.as_os_str(), d);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let old = std::fs::read(report.join("report.json")).unwrap();
    std::os::unix::fs::symlink("rep", d.join("link")).unwrap();
    for (path, cwd, says) in [
        (".", &report, "ends in '.', which a rename cannot replace"),
        (
            "rep/.",
            &d.to_path_buf(),
            "ends in '.', which a rename cannot replace",
        ),
        (
            "rep/..",
            &d.to_path_buf(),
            "ends in '..', which a rename cannot replace",
        ),
        ("link/", &d.to_path_buf(), "exists and is a symbolic link"),
    ] {
        let o = analyze(os(path), cwd);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{path}: {err}");
        assert!(err.contains(&format!("{path}: {says}")), "{path}: {err}");
    }
    assert_eq!(std::fs::read(report.join("report.json")).unwrap(), old);
    assert_no_temporaries(&[d, &report]);
}
