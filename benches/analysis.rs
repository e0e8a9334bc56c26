//! Criterion benchmarks of `analyze`'s own kernels (issue #14 item 2): the output tails'
//! Edgeworth weight w(±u) over a block of 4096 whitened draws (one element = one flop of
//! [`pair_flops`] per draw), for output ranks r = 5, 10, 20, and the three tail models
//! (Gaussian, Edgeworth, Student-t-like scale mixture) on one stream of 2·10⁵ draws of a
//! 10-output class (one element = one draw).

use std::hint::black_box;
use std::time::Duration;

use corrflow::analysis::tails::cumulants::WhitenedCumulants;
use corrflow::analysis::tails::weight::{pair_flops, EdgeworthWeight};
use corrflow::stats::gaussian::{weighted_argmax_models, ArgmaxModel, DrawWeight};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faer::Mat;

/// The allocator of the `corrflow` binary ([`corrflow::io::PaddingZeroing`]), so that the kernels
/// are timed as the binary runs them (r = 10 outputs: left operands of 10 rows).
#[global_allocator]
static ALLOCATOR: corrflow::io::PaddingZeroing = corrflow::io::PaddingZeroing;

/// Cumulants of r skewed outputs: cubes of uniform draws, mixed (a whitened κ₃/κ₄ that is full).
fn skewed_cumulants(r: usize) -> WhitenedCumulants {
    let mut state = 7u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let y = Mat::from_fn(r, 4000, |_, _| next().powi(3) + 0.1 * next());
    WhitenedCumulants::of_samples(y.as_ref()).expect("skewed outputs vary")
}

fn bench_edgeworth_weight(c: &mut Criterion) {
    let mut g = c.benchmark_group("edgeworth_weight");
    let b = 4096;
    for r in [5, 10, 20] {
        let w = EdgeworthWeight::new(&skewed_cumulants(r));
        // b draws of r coordinates, one per row (`EdgeworthWeight::pair` reads z as b × r).
        let z = Mat::from_fn(b, r, |j, i| ((i * 7 + j * 13) % 29) as f64 / 10.0 - 1.4);
        let (mut plus, mut minus) = (vec![0.0; b], vec![0.0; b]);
        g.throughput(Throughput::Elements((pair_flops(r) * b as f64) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(r), &r, |bench, _| {
            bench.iter(|| {
                w.pair(z.as_ref(), &mut plus, &mut minus);
                black_box(plus[0] + minus[0]);
            })
        });
    }
    g.finish();
}

fn bench_tail_models(c: &mut Criterion) {
    let mut g = c.benchmark_group("tail_models");
    let (k, draws) = (10, 200_000);
    let cum = skewed_cumulants(k);
    let w = EdgeworthWeight::new(&cum);
    let edge: DrawWeight<'_> = &|_, z, p, m| w.pair(z, p, m);
    // A scale per pair, as the Student-t-like model of the output tails draws them.
    let scale: Vec<f64> = (0..draws / 2).map(|j| 0.8 + 0.1 * (j % 5) as f64).collect();
    let models = [
        ArgmaxModel::Gaussian,
        ArgmaxModel::Weight(edge),
        ArgmaxModel::Scaled(&scale),
    ];
    g.throughput(Throughput::Elements(draws as u64));
    g.bench_function(BenchmarkId::from_parameter(k), |bench| {
        bench.iter(|| {
            let d =
                weighted_argmax_models(cum.mean.as_ref(), cum.factor.as_ref(), draws, 3, &models)
                    .expect("enough draws");
            black_box(d.len());
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_edgeworth_weight, bench_tail_models
}
criterion_main!(benches);
