//! Grid keys for configuration fields: a sweep names the key the user wrote in the grid file,
//! not the command-line flag ([`crate::Error::Config`] → "grid key 'epochs'").

use crate::error::Error;

/// Renames the field of a configuration error to its grid key (the field's name: the grid keys
/// are [`crate::config::RunConfig`]'s field names).
/// The run's own settings (`run.threads`, `run.max_memory`, …) are flags of `sweep`, not grid
/// keys: they are named as the flag (a point refused under `--max-memory 1M` named "grid key
/// 'max_memory'", adv35).
pub fn name_key(err: Error) -> Error {
    err.name_field(|field| match field.path().strip_prefix("run.") {
        Some(flag) => format!("--{}", flag.replace('_', "-")),
        None => format!("grid key '{}'", field.name()),
    })
}
