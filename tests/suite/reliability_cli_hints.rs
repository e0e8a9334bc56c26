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

/// `--order 4 --carry depth --kappa-units 2⁶²` of a width-200 layer (the units capped at 200,
/// whose κ₄ needs 59.8 GiB) names the most units that fit, 143; old: "use --order 3 or a
/// narrower network", not the flag's own cure.
#[test]
fn too_many_kappa_units_name_the_most_that_fit() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("xor.safetensors");
    let m = model.to_str().unwrap();
    super::common::train_tiny_xor(m, "200");
    let out = corrflow(&[
        "--threads",
        "1",
        "propagate",
        "--model",
        m,
        "--task",
        "xor",
        "--order",
        "4",
        "--carry",
        "depth",
        "--kappa-units",
        "4611686018427387904",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("or --kappa-units 143 (the most"), "{err}");
    assert!(out.stdout.is_empty());
}
