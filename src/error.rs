//! One error type for the library: every variant names what was wrong and where.

use std::path::PathBuf;

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
    /// A command-line value that cannot be used.
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

    /// A bad command-line value for `flag`.
    pub fn flag(flag: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Flag {
            flag: flag.into(),
            msg: msg.into(),
        }
    }
}
