//! adv39: `.npy` headers are read as NumPy reads them — exactly the keys `descr`,
//! `fortran_order` and `shape` — and a header with another key, or one of them twice, is
//! refused naming the file and the key (main read both: an extra key ignored, a repeated
//! `descr` taken at its first value where NumPy takes the last).

use super::common::corrflow;

/// Writes `x.npy` with the dict `header` over 4 × 2 f64 values (k / 8) and `y.npy` with
/// labels 0, 1, 0, 1; returns the `train` arguments that read them.
fn write_pair(dir: &std::path::Path, header: &str) -> Vec<String> {
    let mut h = header.to_owned();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(h.len() as u16).to_le_bytes());
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend((0..8).flat_map(|k| (k as f64 / 8.0).to_le_bytes()));
    std::fs::write(dir.join("x.npy"), bytes).unwrap();
    super::common::write_npy(
        &dir.join("y.npy"),
        "<i8",
        false,
        &[4],
        &[0i64, 1, 0, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>(),
    );
    let p = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    [
        "--threads",
        "1",
        "train",
        "--task",
        "data",
        "--train-x",
        &p("x.npy"),
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(
        [
            "--train-y",
            &p("y.npy"),
            "--test-split",
            "0:2",
            "--hidden",
            "2",
            "--epochs",
            "1",
        ]
        .into_iter()
        .map(str::to_owned),
    )
    .chain(["--out".to_owned(), p("m.safetensors")])
    .collect()
}

#[test]
fn an_npy_header_with_an_extra_or_repeated_key_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = |header: &str| {
        let args = write_pair(dir.path(), header);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        corrflow(&args)
    };
    // The plain header (keys in any order, double quotes) is read.
    let ok = run("{\"shape\": (4, 2), 'fortran_order': False, 'descr': '<f8'}");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    std::fs::remove_file(dir.path().join("m.safetensors")).unwrap();
    for (header, key, what) in [
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), 'units': 'm', }",
            "'units'",
            "is not one NumPy writes",
        ),
        (
            "{'descr': '<i8', 'fortran_order': False, 'shape': (4, 2), 'descr': '<f8', }",
            "'descr'",
            "is given twice",
        ),
    ] {
        let out = run(header);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{header}: {err}");
        assert!(
            err.contains("x.npy") && err.contains(&format!("header key {key} {what}")),
            "{err}"
        );
        assert!(!dir.path().join("m.safetensors").exists());
    }
}

/// adv45: what a message echoes of a `.npy` header is at most ~200 characters with its control
/// characters escaped: a 30 000-byte dtype, a header that is no dict, a `fortran_order` of
/// escape sequences were echoed whole, terminal escapes and all (30 kB of stderr; `\x1b[2J`
/// cleared the screen).
#[test]
fn an_npy_header_is_echoed_short_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let junk = format!("\x1b[2J\x1b]0;title\x07{}", "A".repeat(30_000));
    for header in [
        format!("{{'descr': '<f8{junk}', 'fortran_order': False, 'shape': (4, 2), }}"),
        format!("{junk}\n\n\n"),
        format!("{{'descr': '<f8', 'fortran_order': '{junk}', 'shape': (4, 2), }}"),
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': '{junk}', }}"),
    ] {
        let args = write_pair(dir.path(), &header);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = corrflow(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        let shown = &err[..err.len().min(300)];
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(err.contains("x.npy"), "{shown}");
        assert!(err.len() < 800, "{} bytes: {shown}", err.len());
        assert!(
            !err.trim_end().chars().any(char::is_control),
            "a control character: {shown}"
        );
        assert!(!dir.path().join("m.safetensors").exists());
    }
}
