//! Low-level file helpers: atomic writes of files and folders, output paths that refuse what
//! is not corrflow's, opening only regular files, memory limits, content checksums and
//! self-cleaning temporary files, removed on interruption; stderr written without failing; the
//! binaries' allocator setting and zero matrices zeroed in parallel on the allocator's unzeroed
//! blocks.

mod allocator;
mod atomic;
pub mod checksum;
mod gemm_workspace;
mod inode_flags;
mod interrupt;
pub mod limit;
pub mod main_stack;
pub mod mapped;
pub mod output;
mod ownership;
pub mod regular;
mod std_streams;
pub mod temp;
pub mod thread_count;
pub mod trim;
mod zeros;

pub use allocator::{keep_freed_memory, unzeroed, PaddingZeroing};
pub use atomic::write_atomically;
pub use interrupt::clean_up_on_interrupt;
pub use limit::{default_memory_limit, set_process_limit, MemoryLimit};
pub use output::{
    check_folder_spares, check_not_an_input, check_output_dir, check_output_file, not_a_folder,
    write_dir_atomically,
};
pub use regular::{
    map_regular, open_regular, open_regular_append, read_regular, read_regular_to_string,
};
pub use std_streams::say;
pub use zeros::{
    copied, filled, par_clone, par_zeros, par_zeros_then, resize_for_overwrite, zeroed, ZeroBits,
};
