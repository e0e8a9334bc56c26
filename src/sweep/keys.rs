//! Grid keys for configuration fields: a sweep names the key the user wrote in the grid file,
//! not the command-line flag ([`crate::Error::Config`] → "grid key 'epochs'").

use crate::error::Error;

/// Renames the field of a configuration error to its grid key (the field's name: the grid keys
/// are [`crate::config::RunConfig`]'s field names).
pub fn name_key(err: Error) -> Error {
    err.name_field(|field| format!("grid key '{}'", field.name()))
}
