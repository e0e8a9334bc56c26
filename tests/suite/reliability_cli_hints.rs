//! adv45: a refusal names the flag that cures it.

use super::common::{corrflow, refused_over_memory};

/// `propagate --order 3|4 --carry depth` of a [2, 200, 100, 2] model under `--max-memory 100M`
/// is refused naming `--order` and the `--kappa-units` that fits, which then runs under the
/// same limit. Old: "make it smaller or raise the memory limit" and no word of
/// `--kappa-units`, the flag that carries a subset of the κ tensors (adv44).
#[test]
fn a_carry_over_the_memory_limit_names_the_kappa_units_that_fit() {
    for order in ["3", "4"] {
        let carry = [
            "--task", "xor", "--order", order, "--carry", "depth", "--json",
        ];
        let err = refused_over_memory("200,100", 100, &carry, "--order");
        let units: String = err
            .split("--kappa-units ")
            .nth(1)
            .unwrap_or_else(|| panic!("order {order}: no --kappa-units: {err}"))
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert!(!units.is_empty(), "order {order}: {err}");
        // The suggestion runs under the same limit.
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("xor.safetensors");
        let m = model.to_str().unwrap();
        super::common::train_tiny_xor(m, "200,100");
        let args = [
            "--threads",
            "1",
            "--max-memory",
            "100M",
            "propagate",
            "--model",
            m,
        ];
        let out = corrflow(&[&args[..], &carry, &["--kappa-units", &units]].concat());
        assert_eq!(
            out.status.code(),
            Some(0),
            "order {order}, --kappa-units {units}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
