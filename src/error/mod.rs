//! One error type for the library: every variant names what was wrong and where; [`Field`]
//! names the configuration field at fault.

mod field;

use std::path::PathBuf;

pub use field::{parse_value, value_name, Field};

/// Result alias used throughout corrflow.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors corrflow reports to its users. Each message names the file, flag or quantity at fault
/// and what was expected instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error while touching `path`.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file whose content does not match its format (IDX, safetensors, grid, …).
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
    /// A configuration value that cannot be used, named by its field; front ends turn it into
    /// [`Error::Flag`] with the name the user wrote ([`Error::name_field`]).
    #[error("invalid value for {field}: {msg}")]
    Config { field: Field, msg: String },
    /// A value that cannot be used, named as the user wrote it (a flag, a grid key).
    #[error("invalid value for {flag}: {msg}")]
    Flag { flag: String, msg: String },
    /// Shapes that do not fit together (network vs data, matrices vs vectors).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A numerical failure: non-finite values, singular or indefinite matrices.
    #[error("numerical error: {0}")]
    Numeric(String),
    /// A request the chosen method cannot honour (e.g. κ₃/κ₄ corrections for a relu closure).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error in `path`.
    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// A bad value of the configuration field `field`.
    pub fn config(field: Field, msg: impl Into<String>) -> Self {
        Error::Config {
            field,
            msg: msg.into(),
        }
    }

    /// Renames a [`Error::Config`] field to what the user wrote (`--epochs`, grid key
    /// `epochs`); other errors pass unchanged.
    pub fn name_field(self, name: impl FnOnce(Field) -> String) -> Self {
        match self {
            Error::Config { field, msg } => Error::Flag {
                flag: name(field),
                msg,
            },
            other => other,
        }
    }

    /// A bad value for `flag`, as the user wrote it.
    pub fn flag(flag: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Flag {
            flag: flag.into(),
            msg: msg.into(),
        }
    }
}

/// Characters of a file's own text that a message echoes at the most ([`excerpt`]).
pub const EXCERPT_CHARS: usize = 200;

/// Whether [`excerpt`] would leave `text` as it is: at most [`EXCERPT_CHARS`] bytes and no
/// control character. A message that repeats `text` inside a longer text of its own (a parser's)
/// may be echoed whole then, and is replaced by an excerpt otherwise.
pub fn echoes_whole(text: &str) -> bool {
    text.len() <= EXCERPT_CHARS && !text.chars().any(char::is_control)
}

/// `text` from a file, as a message may echo it: control characters escaped (`\n`, `\u{1b}`:
/// a header's escape sequences reached the terminal as they were) and at most about
/// [`EXCERPT_CHARS`] characters once escaped, with how many bytes the whole has where it is
/// cut (a `.npy` header of 4 GiB was echoed whole into its error, adv44).
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for (at, c) in text.char_indices() {
        if shown >= EXCERPT_CHARS {
            out.push_str(&format!(
                "… ({} bytes in all, cut at byte {at})",
                text.len()
            ));
            break;
        }
        if c.is_control() {
            let escaped: String = c.escape_default().collect();
            shown += escaped.chars().count();
            out.push_str(&escaped);
        } else {
            shown += 1;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_short_and_escaped() {
        assert_eq!(excerpt("{'a': 1}"), "{'a': 1}");
        assert!(
            echoes_whole("{'a': 1}") && !echoes_whole("a\nb") && !echoes_whole(&"x".repeat(201))
        );
        assert_eq!(excerpt("a\nb\x1b[2J\u{7}"), "a\\nb\\u{1b}[2J\\u{7}");
        let long = "x".repeat(10_000);
        let e = excerpt(&long);
        assert!(e.starts_with(&"x".repeat(EXCERPT_CHARS)), "{e}");
        assert!(
            e.ends_with("… (10000 bytes in all, cut at byte 200)"),
            "{e}"
        );
        assert!(e.len() < EXCERPT_CHARS + 60, "{e}");
        let e = excerpt(&"\x1b".repeat(1000));
        assert!(e.starts_with("\\u{1b}") && !e.contains('\x1b'), "{e}");
        assert!(e.len() < EXCERPT_CHARS + 60, "{e}");
    }
}
