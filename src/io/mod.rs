//! Low-level file helpers shared by every reader: opening only regular files, memory limits,
//! content checksums and self-cleaning temporary files.

pub mod checksum;
pub mod limit;
pub mod regular;
pub mod temp;

pub use limit::{default_memory_limit, MemoryLimit};
pub use regular::{open_regular, open_regular_append, read_regular, read_regular_to_string};
