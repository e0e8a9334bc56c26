//! Dense linear algebra shared by the layers above: matrix products, triangle mirroring, the
//! parallel fill of a symmetric matrix. Imports nothing of the crate but [`crate::error`].
//!
//! **Convention** (faer's): every operation is a free function that writes into a view or buffer
//! the caller owns (`MatMut`, `&mut Mat`) and allocates no matrix itself, so a loop that reuses
//! its buffers does not allocate; one file per operation. The exception is [`columns`], a copy
//! of picked columns by definition.

mod centre;
mod columns;
mod gemm;
mod grow;
mod mirror;
mod precision;
mod scratch;
mod split;
mod symmetric;
mod symmetrize;
mod transpose;

pub use centre::centre_rows;
pub use columns::columns;
pub use gemm::{gemm, gemm_batch, gemm_par};
pub use grow::at_least;
pub use mirror::{mirror_lower, mirror_upper};
pub use precision::{narrow, widen};
pub use scratch::with_work;
pub use split::{class_split, on_pool};
pub use symmetric::{fill_symmetric, fill_symmetric_grouped};
pub use symmetrize::symmetrize;
pub use transpose::transpose_into;
