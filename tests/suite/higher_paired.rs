//! Order 3's paired κ₄ and the per-layer fallback of the carry (issue #16 item 7): the chaos
//! rule's exact cases with a paired κ₄ input, agreement of order 3's paired output with order
//! 4's full tensor where they must agree, the diagrams' power-counting costs, and a breakdown
//! that drops the cumulants at one layer and resumes after it.

use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use corrflow::net::{Activation, Mlp};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::higher::chaos::UnitChaos;
use corrflow::propagate::higher::closure::{ChaosRule, Input};
use corrflow::propagate::higher::diagrams::{terms_for, Rules};
use corrflow::propagate::higher::paired::Paired;
use corrflow::propagate::higher::tensor::SymTensor;
use corrflow::propagate::higher::{Carry, Tensors};
use corrflow::propagate::{ClosurePair, Propagator};
use corrflow::stats::Moments;
use corrflow::timing::Timings;

fn random_cov(n: usize, rng: &mut StdRng) -> Mat<f64> {
    let g = Mat::from_fn(n, n, |_, _| rng.sample::<f64, _>(StandardNormal));
    &g * g.transpose() + Mat::<f64>::identity(n, n)
}

/// A random symmetric κ₃ over `n` units.
fn random_k3(n: usize, rng: &mut StdRng) -> SymTensor {
    let mut t = SymTensor::zeros(n, 3);
    for a in 0..n {
        for b in a..n {
            for c in b..n {
                t.set_sym(&[a, b, c], rng.sample::<f64, _>(StandardNormal));
            }
        }
    }
    t
}

/// φ(h) = h passes κ₃ and the paired κ₄ through unchanged at order 3 and adds nothing to the
/// mean and covariance.
#[test]
fn linear_activation_passes_the_paired_kappa4_through() {
    let mut rng = StdRng::seed_from_u64(21);
    let n = 5;
    let cov = random_cov(n, &mut rng);
    let k3 = random_k3(n, &mut rng);
    let p = Paired(Mat::from_fn(n, n, |a, b| 0.3 + 0.1 * (a + b) as f64));
    let units: Vec<_> = (0..n)
        .map(|i| UnitChaos::new(Activation::Linear, -0.2, cov[(i, i)].sqrt()))
        .collect();
    let input = Input {
        cov: &cov,
        k3: &k3,
        k4: Some(&p),
        units: &units,
    };
    let rule = ChaosRule::new(3);
    let mut o3 = SymTensor::zeros(0, 3);
    let out = rule.tensors_paired(&input, &mut o3);
    let scale = p.0.norm_max();
    assert!(
        (&out.0 - &p.0).norm_max() < 1e-12 * scale,
        "paired κ₄ changed"
    );
    let d3 = o3
        .data()
        .iter()
        .zip(k3.data())
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    assert!(d3 < 1e-12 * k3.max_abs(), "κ₃ changed by {d3:e}");
    let inc = rule.increments(&input);
    assert!(inc.mean.iter().all(|v| v.abs() < 1e-12));
    assert!(inc.cov.norm_max() < 1e-12 * cov.norm_max());
}

/// With Gaussian h (no κ blocks) order 3's paired κ₄ of z is the same sum of diagrams as order
/// 4's full κ₄ on those entries, for relu and tanh.
#[test]
fn paired_output_equals_the_full_tensor_on_gaussian_input() {
    let mut rng = StdRng::seed_from_u64(22);
    let n = 4;
    let cov = random_cov(n, &mut rng) * faer::Scale(0.3);
    let mean = Col::from_fn(n, |i| 0.2 * i as f64 - 0.3);
    let (k3, k4) = (SymTensor::zeros(n, 3), SymTensor::zeros(n, 4));
    for act in [Activation::Relu, Activation::Tanh] {
        let units: Vec<_> = (0..n)
            .map(|i| UnitChaos::new(act, mean[i], cov[(i, i)].sqrt()))
            .collect();
        let zero = Paired::zeros(n);
        let three = Input {
            cov: &cov,
            k3: &k3,
            k4: Some(&zero),
            units: &units,
        };
        let four = Input {
            k4: Some(&k4),
            ..three
        };
        let mut o3 = SymTensor::zeros(0, 3);
        let p = ChaosRule::new(3).tensors_paired(&three, &mut o3);
        let (mut f3, mut f4) = (SymTensor::zeros(0, 3), SymTensor::zeros(0, 4));
        ChaosRule::new(4).tensors(&four, &mut f3, Some(&mut f4));
        let scale = f4.max_abs();
        for a in 0..n {
            for b in 0..n {
                let d = (p.0[(a, b)] - f4.get(&[a, a, b, b])).abs();
                assert!(
                    d < 1e-12 * scale,
                    "{act:?} κ₄[{a},{a},{b},{b}] differs by {d:e}"
                );
            }
        }
    }
}

/// The width power-counting costs of Wu et al. (2026, eq. 14): Σ between two units 1, κ₃ 2,
/// κ₄[a,a,b,b] and κ₄[a,a,a,a] 2, the other κ₄ entries 3; a diagram's cost is its blocks' sum.
#[test]
fn diagram_costs_follow_the_power_counting() {
    let rules = Rules {
        kappa3: true,
        kappa4: true,
        max_kappa_blocks: 1,
        gaussian: true,
        connected: true,
    };
    let cost_of = |degrees: &[u8], lens: &[u8]| -> Vec<usize> {
        terms_for(degrees, rules)
            .into_iter()
            .filter(|t| {
                let mut l: Vec<u8> = t.blocks.iter().map(|b| b.len).collect();
                l.sort_unstable();
                l == lens
            })
            .map(|t| t.cost())
            .collect()
    };
    // Degrees (2, 2): Σ_ab² costs 2, κ₄[a,a,b,b] costs 2.
    assert_eq!(cost_of(&[2, 2], &[2, 2]), vec![2]);
    assert_eq!(cost_of(&[2, 2], &[4]), vec![2]);
    // Degrees (3, 1): κ₄[a,a,a,b] costs 3; κ₃[a,a,b] with Σ_ab would need a Σ_aa: absent.
    assert_eq!(cost_of(&[3, 1], &[4]), vec![3]);
    // Degrees (1, 1, 1, 1): κ₄[a,b,c,d] costs 3; the star (3, 1, 1, 1) of three Σ costs 3.
    assert_eq!(cost_of(&[1, 1, 1, 1], &[4]), vec![3]);
    assert_eq!(cost_of(&[3, 1, 1, 1], &[2, 2, 2]), vec![3]);
    // Degrees (1, 1, 1): κ₃[a,b,c] costs 2.
    assert_eq!(cost_of(&[1, 1, 1], &[3]), vec![2]);
}

/// A narrow relu network on N(0, I) with a skewness limit below h²'s: layer 2 drops its
/// cumulants (listed), so z² is exactly the Gaussian closure of h², and the carry resumes from
/// z²'s Gaussian-input cumulants: h³ is skewed again.
#[test]
fn breakdown_drops_one_layer_and_resumes() {
    let net = Mlp::init(&[3, 3, 3, 3, 2], Activation::Relu, 2f64.sqrt(), 5).unwrap();
    let start = [Moments::gaussian(Col::zeros(3), Mat::identity(3, 3))];
    let run = |max_skew: f64| {
        let mut carry = Carry::new(3, vec![Tensors::gaussian(3, 3)])
            .unwrap()
            .with_breakdown(max_skew, f64::INFINITY);
        let mut engine = Propagator::new();
        engine
            .run_carried(
                &net,
                0,
                &start,
                &mut carry,
                ClosureMethod::Auto,
                &Timings::disabled(),
            )
            .unwrap();
        (engine.into_stages(), carry)
    };
    let (_, free) = run(f64::INFINITY);
    assert!(free.fallbacks().is_empty());
    let checks = free.checks();
    assert_eq!(
        checks.iter().map(|c| c.layer).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(checks[0].skew, 0.0, "h¹ is Gaussian");
    let s2 = checks[1].skew;
    assert!(s2 > 0.0, "h² is skewed");
    let (stages, carry) = run(0.5 * s2);
    let layers: Vec<usize> = carry.fallbacks().iter().map(|f| f.layer).collect();
    assert_eq!(layers[0], 2, "{:?}", carry.fallbacks());
    // Stages: h¹ z¹ h² z² h³ z³ y.
    let (h2, z2) = (
        &stages[2].f64_moments().unwrap()[0],
        &stages[3].f64_moments().unwrap()[0],
    );
    let relu = ClosurePair::new(Activation::Relu, ClosureMethod::Auto).unwrap();
    let want = relu.closure.apply(h2, Corrections::None).unwrap();
    assert!((&z2.cov - &want.cov).norm_max() < 1e-14 * want.cov.norm_max());
    assert!(
        h2.k3_iij().is_none(),
        "h²'s dropped slices are not attached"
    );
    // h³'s κ₃ is z²'s Gaussian-input κ₃ mapped: skewed again.
    assert!(carry.checks()[2].skew > 0.0, "{:?}", carry.checks());
}
