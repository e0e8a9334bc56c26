//! The factored order 3 with its smallest κ₃ terms dropped ([`Carry::compressed`], issue #16
//! item 7): no truncation gives the factored carry's outputs, a large tolerance changes them,
//! and a tolerance that cannot be used is refused.

use corrflow::error::Result;
use corrflow::net::{Activation, Mlp};
use corrflow::propagate::higher::Carry;

use super::higher_moments_only::{deviation, run, two_classes};

#[test]
fn compressed_without_truncation_is_the_factored_carry() {
    truncation_cases(
        Carry::compressed,
        &[Activation::Relu, Activation::Tanh, Activation::Gelu],
    );
}

#[test]
fn compressed_needs_the_factored_carry_and_a_tolerance() {
    needs_factored_and_tolerance(Carry::compressed);
}

/// A factored carry with a truncation `with` at τ = 0 gives the factored carry's outputs to
/// rounding (only terms of norm 0 are dropped); at τ = 1e3 the outputs move for the
/// activations `changed` (those whose truncated terms the output reads), at depth ≥ 3.
pub(super) fn truncation_cases(with: impl Fn(Carry, f64) -> Result<Carry>, changed: &[Activation]) {
    let n = 6;
    let start = two_classes(n, 17);
    let mut truncated = 0;
    for act in [Activation::Relu, Activation::Tanh, Activation::Gelu] {
        for depth in [2, 3, 5] {
            let mut widths = vec![n];
            widths.extend((0..depth).map(|l| 7 - l % 3));
            widths.push(3);
            let net = Mlp::init(&widths, act, 1.4, 3 + depth as u64).unwrap();
            let factored = || Carry::from_gaussian(3, n, 2).unwrap().factored().unwrap();
            let want = run(&net, &start, factored());
            let exact = run(&net, &start, with(factored(), 0.0).unwrap());
            let case = format!("{act:?} depth {depth}");
            // Only terms of norm 0 are dropped: the same numbers to rounding.
            let d = deviation(&exact.0, &want.0);
            assert!(d < 1e-12, "{case}: τ = 0 deviates by {d:e}");
            assert_eq!(exact.1, want.1, "{case}: fallbacks");
            // A tolerance far above 1 drops terms from the second map or closure on.
            if depth >= 3 && want.1.is_empty() && changed.contains(&act) {
                let loose = run(&net, &start, with(factored(), 1e3).unwrap());
                let d = deviation(&loose.0, &want.0);
                assert!(
                    d > 1e-12 && d.is_finite(),
                    "{case}: τ = 1e3 deviates by {d:e}"
                );
                truncated += 1;
            }
        }
    }
    assert!(truncated > 0, "no case without fallbacks was truncated");
}

/// `with` refuses a carry that is not factored and a tolerance that cannot be used.
pub(super) fn needs_factored_and_tolerance(with: impl Fn(Carry, f64) -> Result<Carry>) {
    let plain = with(Carry::from_gaussian(3, 3, 1).unwrap(), 0.1);
    let Err(err) = plain else {
        panic!("a carry that is not factored is refused");
    };
    assert!(err.to_string().contains("Carry::factored first"), "{err}");
    for tol in [-1e-3, f64::NAN, f64::INFINITY] {
        let carry = Carry::from_gaussian(3, 3, 1).unwrap().factored().unwrap();
        let Err(err) = with(carry, tol) else {
            panic!("tolerance {tol} is refused");
        };
        assert!(err.to_string().contains("tolerance"), "{err}");
    }
}
