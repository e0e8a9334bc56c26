//! Writes the small IDX fixtures under `fixtures/idx/` with corrflow's own writer.
//!
//! A tiny MNIST-shaped data set of 4 × 4 images: image i has pixel p = (31·i + 7·p) mod 256 and
//! label i mod 10. 20 training samples as raw files, 10 test samples gzip-compressed, so the
//! fixtures exercise both readers. Run from the crate root:
//! `cargo run --release --example make_fixtures`.

use std::path::Path;

use corrflow::data::write_idx_u8;

/// Image side length.
const SIDE: usize = 4;

/// Pixel bytes of images `0..n`, as documented above.
fn images(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (0..SIDE * SIDE).map(move |p| ((31 * i + 7 * p) % 256) as u8))
        .collect()
}

/// Labels of images `0..n`.
fn labels(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 10) as u8).collect()
}

fn main() -> corrflow::Result<()> {
    let dir = Path::new("fixtures/idx");
    std::fs::create_dir_all(dir).map_err(|e| corrflow::Error::io(dir, e))?;
    let (n_train, n_test) = (20, 10);
    write_idx_u8(
        dir.join("train-images-idx3-ubyte"),
        &[n_train, SIDE, SIDE],
        &images(n_train),
    )?;
    write_idx_u8(
        dir.join("train-labels-idx1-ubyte"),
        &[n_train],
        &labels(n_train),
    )?;
    write_idx_u8(
        dir.join("t10k-images-idx3-ubyte.gz"),
        &[n_test, SIDE, SIDE],
        &images(n_test),
    )?;
    write_idx_u8(
        dir.join("t10k-labels-idx1-ubyte.gz"),
        &[n_test],
        &labels(n_test),
    )?;
    println!("wrote fixtures to {}", dir.display());
    Ok(())
}
