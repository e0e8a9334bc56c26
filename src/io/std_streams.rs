//! Standard error, written without failing. What a run says there (warnings, notes, the error
//! that refuses it) goes through [`say`]: `eprintln!` panics when stderr cannot be written, and
//! with stderr on a full disk (`2>/dev/full`) a run that warned, or was refused, exited 101
//! (adv49a). A descriptor 0–2 closed at start (`2>&-`) is no concern here: Rust's runtime opens
//! /dev/null on it before `main`.

use std::fmt::Display;
use std::io::Write;

/// Writes `line` and a newline on stderr; a failed write is ignored (stderr on a full disk:
/// the warning or message is lost, the run and its exit status are not).
pub fn say(line: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
