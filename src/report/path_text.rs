//! File paths in JSON outputs. serde writes a path as a JSON string only when it is valid UTF-8
//! and fails the whole output otherwise; a Unix file name may hold any byte but `/` and NUL, so
//! a model named with a byte such as 0xff would make `--json` fail after the work. These write
//! the path as [`Path::display`] does: each invalid sequence as U+FFFD.

use std::path::{Path, PathBuf};

use serde::Serializer;

/// Serialises `path` as a string, invalid UTF-8 replaced by U+FFFD.
pub fn lossy<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// [`lossy`] for an optional path (`null` when absent).
pub fn lossy_opt<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(p) => lossy(p, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Paths {
        #[serde(serialize_with = "lossy")]
        one: PathBuf,
        #[serde(serialize_with = "lossy_opt")]
        two: Option<PathBuf>,
    }

    #[test]
    fn a_path_that_is_not_utf8_is_written_with_replacement_characters() {
        let bad = PathBuf::from(OsStr::from_bytes(b"o/n\xff\xfe.safetensors"));
        let v = Paths {
            one: bad.clone(),
            two: Some(bad),
        };
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(
            text,
            "{\"one\":\"o/n\u{fffd}\u{fffd}.safetensors\",\"two\":\"o/n\u{fffd}\u{fffd}.safetensors\"}"
        );
        let none = Paths {
            one: PathBuf::from("m"),
            two: None,
        };
        assert_eq!(
            serde_json::to_string(&none).unwrap(),
            "{\"one\":\"m\",\"two\":null}"
        );
    }
}
