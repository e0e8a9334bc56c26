//! The κ₄\[a,a,b,c\] blocks' options ([`Carry::with_generations`], [`Carry::with_kappa3_blocks`],
//! [`Carry::with_dropped_blocks_paired_only`]; EXPERIMENTS.md, seventeenth session (o4gen),
//! nineteenth session (o3t)): the cap on the blocks' generations and the dropped blocks' image
//! act alike on the factored carry and the dense carry with its rule, and the options are
//! refused where no carry holds the blocks.

use corrflow::net::{Activation, Mlp};
use corrflow::propagate::higher::carry::Fallback;
use corrflow::propagate::higher::carry::MAX_GENERATIONS;
use corrflow::propagate::higher::Carry;
use corrflow::stats::Moments;

use super::higher_moments_only::{deviation, run, two_classes};

/// The factored carry's run `f` is the dense carry's `d` to 1e-10, with the same fallbacks.
fn alike(case: &str, f: &Run, d: &Run) {
    let dev = deviation(&f.0, &d.0);
    assert!(
        dev < 1e-10,
        "{case}: the factored carry deviates by {dev:e}"
    );
    assert_eq!(f.1, d.1, "{case}: fallbacks");
}

/// What [`run`] returns: the stages' moments, the fallbacks, whether the run was abandoned.
type Run = (Vec<Moments>, Vec<Fallback>, bool);

/// relu and gelu networks of depth 2 and 4 from `n` inputs (widths 7, 6, 5, 7; 3 outputs).
fn nets(n: usize) -> impl Iterator<Item = (Activation, usize, Mlp)> {
    [Activation::Relu, Activation::Gelu]
        .into_iter()
        .flat_map(move |act| {
            [2, 4].into_iter().map(move |depth| {
                let mut widths = vec![n];
                widths.extend((0..depth).map(|l| 7 - l % 3));
                widths.push(3);
                let net = Mlp::init(&widths, act, 1.4, 3 + depth as u64).unwrap();
                (act, depth, net)
            })
        })
}

/// With any cap the factored carry gives the dense carry's output with its rule
/// ([`Carry::factorable_rule`], the same blocks) to the same 1e-10 as the default cap
/// (`higher_factored`); the default is the cap 1, and from depth 3 (a block born at z¹ reaches
/// z³'s map only through a second generation) a cap of 2 changes the output.
#[test]
fn generations_act_alike_on_the_factored_and_the_dense_carry() {
    let n = 6;
    let start = two_classes(n, 17);
    for (act, depth, net) in nets(n) {
        let gauss = || Carry::from_gaussian(3, n, 2).unwrap();
        let factored = |g: usize| {
            let carry = gauss().factored().unwrap();
            run(&net, &start, carry.with_generations(g).unwrap())
        };
        let dense = |g: usize| {
            let carry = gauss().factorable_rule().unwrap().moments_only();
            run(&net, &start, carry.with_generations(g).unwrap())
        };
        for g in 0..=MAX_GENERATIONS {
            let (f, d) = (factored(g), dense(g));
            let case = format!("{act:?} depth {depth} generations {g}");
            alike(&case, &f, &d);
        }
        let default = run(&net, &start, gauss().factored().unwrap());
        assert_eq!(deviation(&default.0, &factored(1).0), 0.0);
        let two = deviation(&factored(2).0, &factored(1).0);
        if depth >= 3 {
            assert!(
                two > 1e-12,
                "{act:?} depth {depth}: a second generation is {two:e}"
            );
        }
    }
}

#[test]
fn the_block_options_need_a_carry_that_holds_the_blocks() {
    let plain = || Carry::from_gaussian(3, 4, 1).unwrap();
    let Err(err) = plain().with_generations(2) else {
        panic!("the dense default carry holds no blocks");
    };
    assert!(err.to_string().contains("Carry::factored"), "{err}");
    let Err(err) = plain().with_kappa3_blocks() else {
        panic!("the dense default carry holds no factored κ₃");
    };
    assert!(err.to_string().contains("Carry::factored"), "{err}");
    let factored = || plain().factored().unwrap();
    let Err(err) = factored().with_generations(MAX_GENERATIONS + 1) else {
        panic!("more generations than the limit");
    };
    assert!(err.to_string().contains("at most"), "{err}");
    assert!(factored().with_generations(MAX_GENERATIONS).is_ok());
    assert!(plain()
        .factorable_rule()
        .unwrap()
        .with_generations(2)
        .is_ok());
    assert!(factored().with_kappa3_blocks().is_ok());
}

/// With the dropped blocks imaged in the paired κ₄ alone the factored carry gives the dense
/// carry's output with its rule to the same 1e-10 as `generations_act_alike…`; from depth 3
/// (z²'s carried blocks are the first the map drops with a part in h³'s κ₄\[i,i,i,j\]) the
/// output differs from the default's, and before it equals it.
#[test]
fn paired_only_acts_alike_on_the_factored_and_the_dense_carry() {
    let n = 6;
    let start = two_classes(n, 17);
    for (act, depth, net) in nets(n) {
        let gauss = || Carry::from_gaussian(3, n, 2).unwrap();
        let paired = |c: Carry| c.with_dropped_blocks_paired_only().unwrap();
        let f = run(&net, &start, paired(gauss().factored().unwrap()));
        let dense = gauss().factorable_rule().unwrap().moments_only();
        let d = run(&net, &start, paired(dense));
        let case = format!("{act:?} depth {depth}");
        alike(&case, &f, &d);
        let default = run(&net, &start, gauss().factored().unwrap());
        let moved = deviation(&f.0, &default.0);
        if depth >= 3 {
            assert!(
                moved > 1e-12,
                "{case}: the option moved the output {moved:e}"
            );
        } else {
            assert_eq!(moved, 0.0, "{case}: no block is dropped before depth 3");
        }
    }
    let Err(err) = Carry::from_gaussian(3, 4, 1)
        .unwrap()
        .with_dropped_blocks_paired_only()
    else {
        panic!("the dense default carry holds no blocks");
    };
    assert!(err.to_string().contains("Carry::factored"), "{err}");
}
