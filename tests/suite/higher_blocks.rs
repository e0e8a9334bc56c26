//! The factored order 3 with its κ₄\[a,a,b,c\] blocks' smallest terms dropped
//! ([`Carry::truncated_blocks`], issue #16 goal): no truncation gives the factored carry's
//! outputs, a large tolerance changes them (relu, gelu: tanh's symmetric h drops the blocks
//! anyway), and a tolerance that cannot be used is refused.

use corrflow::net::Activation;
use corrflow::propagate::higher::Carry;

use super::higher_compressed::{needs_factored_and_tolerance, truncation_cases};

#[test]
fn blocks_without_truncation_are_the_factored_carry() {
    truncation_cases(
        Carry::truncated_blocks,
        &[Activation::Relu, Activation::Gelu],
    );
}

#[test]
fn truncated_blocks_need_the_factored_carry_and_a_tolerance() {
    needs_factored_and_tolerance(Carry::truncated_blocks);
}
