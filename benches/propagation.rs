//! Criterion benchmarks of corrflow's hot paths (issue #5): the affine covariance update
//! Σ' = WΣWᵀ (10 classes stacked; 2 classes at N = 2048 to keep a full run near 10 minutes) and
//! its structured variants (factored, constant coordinates dropped; 2 classes, N ≤ 1024),
//! faer's own N×N×N GEMM for reference, every closure per layer width N, the forward pass of a
//! 784-1000-1000-10 network, the streaming moment accumulator, and the whole engine (a warm
//! [`Propagator`] through an N-N-N-10 relu network, 10 classes: two affine updates, two
//! closures and the read-out, with no allocation per layer), the comparison's KL divergence
//! of two N × N Gaussians, one relu layer with f64 and with f32 covariances
//! (`layer_precision`), propagate's statistics and comparison kernels (`stats_compare`), and
//! the Gaussian closure of the peer's small networks (`small_gaussian`: width 64, 8 hidden
//! layers, relu/gelu/tanh, as `arc_compare --order 2` runs them), the κ tensors measured from
//! samples (`kappa_measure`) and the chaos rules' build (`chaos_rule`).
//!
//! Throughput: for `affine`, `gemm` and `kl_divergence` one "element" is one flop (criterion's elem/s = flop/s;
//! 3N³ per class for the affine update: 2N³ for WΣ plus N³ for the lower triangle of (WΣ)Wᵀ);
//! for closures one element is one pair (i, j ≤ i), N(N+1)/2 per layer; for the forward pass
//! and the accumulator one element is one sample. `just bench-summary` turns the estimates into
//! a table of cost vs N and GFLOP/s.

use std::hint::black_box;
use std::time::Duration;

use corrflow::net::{Activation, ForwardPass, Mlp, Precision};
use corrflow::propagate::affine::{affine_moments, AffineStrategy, AffineWorkspace};
use corrflow::propagate::closures::{Closure, ClosureMethod, Corrections};
use corrflow::propagate::higher::affine::{
    affine_tensor, tensor_affine_flops, TensorAffineWorkspace,
};
use corrflow::propagate::higher::closure::ChaosRule;
use corrflow::propagate::higher::sampled::{measure_tensors, tensor_flops};
use corrflow::propagate::higher::tensor::SymTensor;
use corrflow::propagate::higher::{Carry, Tensors};
use corrflow::propagate::ClosurePair;
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::stats::gaussian::{kl_divergence, kl_flops};
use corrflow::stats::{MomentAccumulator, Moments};
use corrflow::timing::Timings;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faer::linalg::matmul::matmul;
use faer::{Accum, Col, Mat, Par};

#[path = "tools/inputs.rs"]
mod inputs;

/// The allocator of the `corrflow` binary ([`corrflow::io::PaddingZeroing`]), so that the kernels
/// are timed as the binary runs them (the forward pass's 10-row read-out among them).
#[global_allocator]
static ALLOCATOR: corrflow::io::PaddingZeroing = corrflow::io::PaddingZeroing;
use inputs::{closure_cases, layer_moments, smooth_cases, strong_layer_moments, Uniform};

const WIDTHS: [usize; 6] = [64, 128, 256, 512, 1024, 2048];

fn classes_at(n: usize) -> usize {
    if n >= 2048 {
        2
    } else {
        10
    }
}

fn bench_affine(c: &mut Criterion) {
    let mut g = c.benchmark_group("affine");
    for n in WIDTHS {
        let classes = classes_at(n);
        let inputs: Vec<Moments> = (0..classes)
            .map(|k| layer_moments(&mut Uniform(1 + k as u64), n))
            .collect();
        let mut outputs = inputs.clone();
        let w = Uniform(99).mat(n, n, 1.0 / (n as f64).sqrt());
        let b = Col::zeros(n);
        let mut ws = AffineWorkspace::new();
        g.throughput(Throughput::Elements(3 * (n as u64).pow(3) * classes as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| {
                affine_moments(w.as_ref(), b.as_ref(), &inputs, &mut outputs, &mut ws).unwrap();
                black_box(&outputs);
            })
        });
    }
    g.finish();
}

/// The structured updates (issue #14, item 5), 2 classes per N, in dense-equivalent flops
/// (3N³ per class, so elem/s compares with `affine` directly): `factored` forces (WL)(WL)ᵀ on
/// full-rank Σ; `auto_constant` lets [`AffineStrategy::Auto`] choose on Σ with every sixth
/// coordinate constant (zero variance, like MNIST's constant pixels).
fn bench_affine_structured(c: &mut Criterion) {
    let mut g = c.benchmark_group("affine_structured");
    for n in &WIDTHS[..WIDTHS.len() - 1] {
        let n = *n;
        let full: Vec<Moments> = (0..2)
            .map(|k| layer_moments(&mut Uniform(1 + k as u64), n))
            .collect();
        let constant: Vec<Moments> = full
            .iter()
            .map(|m| {
                let keep = |i: usize| !i.is_multiple_of(6);
                let cov = Mat::from_fn(n, n, |i, j| {
                    if keep(i) && keep(j) {
                        m.cov[(i, j)]
                    } else {
                        0.0
                    }
                });
                Moments::gaussian(m.mean.clone(), cov)
            })
            .collect();
        let w = Uniform(99).mat(n, n, 1.0 / (n as f64).sqrt());
        let b = Col::zeros(n);
        g.throughput(Throughput::Elements(3 * (n as u64).pow(3) * 2));
        for (name, inputs, strategy) in [
            ("factored", &full, AffineStrategy::Factored),
            ("auto_constant", &constant, AffineStrategy::Auto),
            ("dense_constant", &constant, AffineStrategy::Dense),
        ] {
            let mut outputs = inputs.clone();
            let mut ws = AffineWorkspace::with_strategy(strategy);
            g.bench_with_input(BenchmarkId::new(name, n), &n, |bench, _| {
                bench.iter(|| {
                    affine_moments(w.as_ref(), b.as_ref(), inputs, &mut outputs, &mut ws).unwrap();
                    black_box(&outputs);
                })
            });
        }
    }
    g.finish();
}

fn bench_gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    for n in WIDTHS {
        let mut u = Uniform(7);
        let (a, b) = (u.mat(n, n, 1.0), u.mat(n, n, 1.0));
        let mut dst = Mat::zeros(n, n);
        g.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| {
                matmul(
                    dst.as_mut(),
                    Accum::Replace,
                    a.as_ref(),
                    b.as_ref(),
                    1.0,
                    Par::rayon(0),
                );
                black_box(&dst);
            })
        });
    }
    g.finish();
}

/// Times one closure on `input` (N = `n`, throughput in entries of C's triangle) in group `g`.
fn bench_closure(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    closure: &dyn Closure,
    input: &Moments,
    n: usize,
) {
    let mut out = input.clone();
    g.throughput(Throughput::Elements((n * (n + 1) / 2) as u64));
    g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
        bench.iter(|| {
            closure
                .apply_into(input, Corrections::None, &mut out)
                .unwrap();
            black_box(&out);
        })
    });
}

fn bench_closures(c: &mut Criterion) {
    let strong = [
        (
            "relu_strong".to_string(),
            Activation::Relu,
            ClosureMethod::Auto,
        ),
        (
            "erf_strong".to_string(),
            Activation::Erf,
            ClosureMethod::Auto,
        ),
    ];
    let smooth =
        smooth_cases().map(|(name, act)| (format!("{name}_strong"), act, ClosureMethod::Auto));
    let cases = closure_cases()
        .map(|(name, act, method)| (name.to_string(), act, method))
        .into_iter()
        .chain(strong)
        .chain(smooth);
    for (name, act, method) in cases {
        let closure = ClosurePair::new(act, method).map(|p| p.closure).unwrap();
        let mut g = c.benchmark_group(format!("closure_{name}"));
        for n in WIDTHS {
            // `_strong`: correlations shaped like a trained MNIST layer (see inputs.rs).
            let input = if name.ends_with("_strong") {
                strong_layer_moments(&mut Uniform(42), n)
            } else {
                layer_moments(&mut Uniform(42), n)
            };
            bench_closure(&mut g, closure.as_ref(), &input, n);
        }
        g.finish();
    }
}

/// The smooth closures on MNIST-shaped inputs widened k = 2, 4, 8 times (μ·k, Σ·k²), at
/// N = 256 and 1024: groups `closure_<name>_strong_x<k>` (issue #14, item 3: a cost that does
/// not grow with the scale of the pre-activations; k = 1 is `closure_<name>_strong`).
fn bench_smooth_scales(c: &mut Criterion) {
    for (name, act) in smooth_cases() {
        let closure = ClosurePair::new(act, ClosureMethod::Auto)
            .map(|p| p.closure)
            .unwrap();
        for widen in [2.0, 4.0, 8.0] {
            let mut g = c.benchmark_group(format!("closure_{name}_strong_x{widen}"));
            for n in [256, 1024] {
                let m = strong_layer_moments(&mut Uniform(42), n);
                let input = Moments::gaussian(&m.mean * widen, &m.cov * (widen * widen));
                bench_closure(&mut g, closure.as_ref(), &input, n);
            }
            g.finish();
        }
    }
}

fn bench_forward(c: &mut Criterion) {
    let mut g = c.benchmark_group("forward");
    let batch = 1024;
    let x = Uniform(3).mat(784, batch, 1.0);
    for (name, act) in [
        ("relu", Activation::Relu),
        ("tanh", Activation::Tanh),
        ("erf", Activation::Erf),
    ] {
        let net = Mlp::init(&[784, 1000, 1000, 10], act, 1.0, 5).unwrap();
        let mut fp = ForwardPass::new(&net, batch);
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(BenchmarkId::new("784-1000-1000-10", name), |bench| {
            bench.iter(|| {
                net.forward_into(x.as_ref(), &mut fp);
                black_box(fp.output());
            })
        });
    }
    g.finish();
}

fn bench_moments(c: &mut Criterion) {
    let mut g = c.benchmark_group("moments_push");
    let (dim, batch) = (784, 1024);
    let x = Uniform(11).mat(dim, batch, 1.0);
    let labels: Vec<u32> = (0..batch).map(|k| (k % 10) as u32).collect();
    for higher in [false, true] {
        let mut acc = MomentAccumulator::new(dim, 10, higher).unwrap();
        g.throughput(Throughput::Elements(batch as u64));
        let name = if higher { "mean_cov_k3_k4" } else { "mean_cov" };
        g.bench_function(BenchmarkId::new(name, "784x1024"), |bench| {
            bench.iter(|| acc.push(x.as_ref(), &labels).unwrap())
        });
    }
    // A batch of one class, as `analyze` takes them (class-ordered batches of 512): one Gram
    // of 784 rows over 512 samples, its sum over samples in chunks (`stats::gram`).
    let one = vec![0u32; 512];
    let mut acc = MomentAccumulator::new(dim, 10, false).unwrap();
    g.throughput(Throughput::Elements(512));
    g.bench_function(BenchmarkId::new("mean_cov_one_class", "784x512"), |bench| {
        bench.iter(|| acc.push(x.as_ref().subcols(0, 512), &one).unwrap())
    });
    g.finish();
}

fn bench_engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_relu_2_layers");
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    for n in [256, 1024] {
        let net = Mlp::init(&[n, n, n, 10], Activation::Relu, 1.0, 9).unwrap();
        let start: Vec<Moments> = (0..10)
            .map(|k| layer_moments(&mut Uniform(1 + k as u64), n))
            .collect();
        let mut engine = Propagator::new();
        let timings = Timings::disabled();
        g.throughput(Throughput::Elements(2 * 3 * (n as u64).pow(3) * 10));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| {
                let stages = engine.run(&net, 0, &start, None, opts, &timings).unwrap();
                black_box(stages.len());
            })
        });
    }
    g.finish();
}

/// The theory-vs-measurement comparison's kernel: KL(N_p ‖ N_q) of two N × N covariances (two
/// Cholesky factors, the triangular solve L_q⁻¹L_p with its triangular right-hand side, the
/// Mahalanobis term). One element is one flop ([`kl_flops`]: n³ in all).
fn bench_kl_divergence(c: &mut Criterion) {
    let mut g = c.benchmark_group("kl_divergence");
    for n in [256, 512, 1024] {
        let p = layer_moments(&mut Uniform(21), n);
        let q = layer_moments(&mut Uniform(22), n);
        g.throughput(Throughput::Elements(kl_flops(n) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| {
                let kl = kl_divergence(
                    (p.mean.as_ref(), p.cov.as_ref()),
                    (q.mean.as_ref(), q.cov.as_ref()),
                    1e-8,
                )
                .unwrap();
                black_box(kl.value);
            })
        });
    }
    g.finish();
}

/// `propagate`'s statistics and comparison kernels (issue #14 item 2), d = N = 512, 10 classes:
/// the moment accumulator fed 5120 samples in 5 batches of 1024 in data order (classes
/// interleaved: 10 rank-~102 updates per batch) and in class order (1–2 rank-~512 updates per
/// batch), one element = one sample; the conversion of the sums into moments, borrowing
/// (`finish`, copies the sums) and consuming (`into_moments`, in place), one element = one
/// covariance entry of one class; and 8 KL divergences of N × N pairs run in parallel with each
/// pair's factorizations sequential (`kl_pairs_seq`, as `compare_stages` runs them) or nested
/// parallel (`kl_pairs_nested`), one element = one flop.
fn bench_stats_compare(c: &mut Criterion) {
    use corrflow::stats::gaussian::kl_divergence_with;
    use rayon::prelude::*;
    let mut g = c.benchmark_group("stats_compare");
    let (n, batch, batches, classes) = (512, 1024, 5, 10);
    let x = Uniform(31).mat(n, batch * batches, 1.0);
    let interleaved: Vec<u32> = (0..batch * batches).map(|k| (k % classes) as u32).collect();
    let mut sorted = interleaved.clone();
    sorted.sort_unstable();
    let fill = |labels: &[u32]| {
        let mut acc = MomentAccumulator::new(n, classes, false).unwrap();
        for b in 0..batches {
            let cols = b * batch..(b + 1) * batch;
            acc.push(x.as_ref().subcols(cols.start, batch), &labels[cols])
                .unwrap();
        }
        acc
    };
    g.throughput(Throughput::Elements((batch * batches) as u64));
    for (name, labels) in [
        ("push_data_order", &interleaved),
        ("push_class_order", &sorted),
    ] {
        g.bench_with_input(BenchmarkId::new(name, n), &n, |bench, _| {
            bench.iter(|| black_box(fill(labels).counts()))
        });
    }
    let acc = fill(&sorted);
    g.throughput(Throughput::Elements((classes * n * n) as u64));
    g.bench_with_input(BenchmarkId::new("finish", n), &n, |bench, _| {
        bench.iter(|| black_box(acc.finish().unwrap().counts))
    });
    g.bench_with_input(BenchmarkId::new("into_moments", n), &n, |bench, _| {
        bench.iter_batched(
            || acc.clone(),
            |a| black_box(a.into_moments().unwrap().counts),
            criterion::BatchSize::LargeInput,
        )
    });
    let pairs: Vec<(Moments, Moments)> = (0..8)
        .map(|k| {
            (
                layer_moments(&mut Uniform(40 + k), n),
                layer_moments(&mut Uniform(60 + k), n),
            )
        })
        .collect();
    g.throughput(Throughput::Elements((8.0 * kl_flops(n)) as u64));
    for (name, par) in [
        ("kl_pairs_seq", Par::Seq),
        ("kl_pairs_nested", Par::rayon(0)),
    ] {
        g.bench_with_input(BenchmarkId::new(name, n), &n, |bench, _| {
            bench.iter(|| {
                let total: f64 = pairs
                    .par_iter()
                    .map(|(p, q)| {
                        kl_divergence_with(
                            (p.mean.as_ref(), p.cov.as_ref()),
                            (q.mean.as_ref(), q.cov.as_ref()),
                            (1e-8, false),
                            par,
                        )
                        .unwrap()
                        .value
                    })
                    .sum();
                black_box(total)
            })
        });
    }
    g.finish();
}

/// One relu layer N → N (plus a one-unit read-out), 2 classes, propagated by a warm engine with
/// f64 and with f32 covariances (issue #14 item 4); one element is one dense-update flop.
fn bench_layer_precision(c: &mut Criterion) {
    let mut g = c.benchmark_group("layer_precision");
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    for n in [256, 512, 1024] {
        let net = Mlp::init(&[n, n, 1], Activation::Relu, 1.0, 9).unwrap();
        let start: Vec<Moments> = (0..2)
            .map(|k| strong_layer_moments(&mut Uniform(1 + k as u64), n))
            .collect();
        let timings = Timings::disabled();
        g.throughput(Throughput::Elements(3 * (n as u64).pow(3) * 2));
        for precision in [Precision::F64, Precision::F32] {
            let mut engine = Propagator::with_settings(precision, AffineStrategy::Dense);
            g.bench_with_input(
                BenchmarkId::new(precision.to_string(), n),
                &n,
                |bench, _| {
                    bench.iter(|| {
                        let stages = engine.run(&net, 0, &start, None, opts, &timings).unwrap();
                        black_box(stages.len());
                    })
                },
            );
        }
    }
    g.finish();
}

/// The exact affine map of the carried κ₃ (N³) and κ₄ (N⁴) tensors (`propagate::higher`), one
/// class, N × N weights; one element = one flop of `tensor_affine_flops` (≈ 4N⁴ for κ₃, 4N⁵ for
/// κ₄, using the symmetry). κ₄ stops at N = 64 (N = 128 is 2 GB per tensor, ~0.14 TFLOP per map).
fn bench_kappa_affine(c: &mut Criterion) {
    let mut g = c.benchmark_group("kappa_affine");
    for (order, widths) in [(3, &[16usize, 32, 64, 128][..]), (4, &[16, 32, 64][..])] {
        for &n in widths {
            let mut u = Uniform(11);
            let w = u.mat(n, n, 1.0);
            let data = u.mat(n.pow(order as u32 - 1), n, 1.0);
            let t = SymTensor::from_data(
                n,
                order,
                data.col_iter()
                    .flat_map(|c| c.iter().copied().collect::<Vec<_>>())
                    .collect(),
            )
            .expect("n^order entries");
            let mut out = SymTensor::zeros(n, order);
            let mut ws = TensorAffineWorkspace::default();
            g.throughput(Throughput::Elements(tensor_affine_flops(n, n, order) as u64));
            let id = BenchmarkId::new(format!("k{order}"), n);
            g.bench_with_input(id, &n, |bench, _| {
                bench.iter(|| {
                    affine_tensor(w.as_ref(), &t, &mut out, &mut ws).expect("shapes fit");
                    black_box(&out);
                })
            });
        }
    }
    g.finish();
}

/// One carried run (`Propagator::run_carried`, issue #16 item 7) through a random bias-free relu
/// MLP of width N with two hidden layers from x ~ N(0, I), at order 3 and 4: the input's zero
/// tensors, z¹'s tensors from the chaos rule, their map into h², z²'s tensors and the read-out's
/// map (the ARC setup of `examples/higher_depth.rs` at depth 2). Compare with
/// `carried_speed` (benches/tools) for the per-stage split.
fn bench_carried_run(c: &mut Criterion) {
    let mut g = c.benchmark_group("carried_run");
    for (order, widths) in [(3, &[32usize, 64, 128][..]), (4, &[16, 32, 48][..])] {
        for &n in widths {
            let net = Mlp::init(&[n; 4], Activation::Relu, 2f64.sqrt(), 1).expect("widths > 0");
            let x = Moments::gaussian(Col::zeros(n), Mat::identity(n, n));
            let mut engine = Propagator::new();
            let id = BenchmarkId::new(format!("o{order}"), n);
            g.bench_with_input(id, &n, |bench, _| {
                bench.iter(|| {
                    let mut carry =
                        Carry::new(order, vec![Tensors::gaussian(n, order)]).expect("order 3 or 4");
                    let run = engine.run_carried(
                        &net,
                        0,
                        std::slice::from_ref(&x),
                        &mut carry,
                        ClosureMethod::Auto,
                        &Timings::disabled(),
                    );
                    black_box(run.expect("a carried run").len());
                })
            });
        }
    }
    g.finish();
}

/// The full κ₃ and κ₄ tensors measured from n = 1000 samples of N units
/// (`propagate::higher::sampled::measure_tensors`, the start of `--order 4 --carry depth`), one
/// element = one flop of `tensor_flops` (dominated by the upper triangle of the N²/2 × N²/2
/// pair sums), and the chaos rules' build (`ChaosRule::new`, the diagram tables every carried
/// run compiles once per process; one element = one rule).
fn bench_kappa_measure(c: &mut Criterion) {
    let mut g = c.benchmark_group("kappa_measure");
    let samples = 1000;
    for n in [32usize, 64] {
        let h = Uniform(13).mat(n, samples, 1.0);
        g.throughput(Throughput::Elements(tensor_flops(n, samples, 4) as u64));
        g.bench_with_input(BenchmarkId::new("k4", n), &n, |bench, _| {
            bench.iter(|| black_box(measure_tensors(h.as_ref(), 4).expect("finite samples")))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("chaos_rule");
    g.throughput(Throughput::Elements(1));
    for order in [3, 4] {
        g.bench_with_input(BenchmarkId::new("new", order), &order, |bench, &o| {
            bench.iter(|| black_box(ChaosRule::new(o).order()))
        });
    }
    g.finish();
}

/// The Gaussian closure (order 2) of the peer's small networks (issue #16's sampling goal,
/// benches/peers/arc/): a warm [`Propagator`] runs x ~ N(0, I) through a width-64 MLP with 8
/// hidden layers (He gain √2, zero biases) of relu, gelu and tanh, one class, as
/// `arc_compare --order 2` times it. Run with RAYON_NUM_THREADS=1 for its one-thread figure.
fn bench_small_gaussian(c: &mut Criterion) {
    let mut g = c.benchmark_group("small_gaussian");
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let (n, depth) = (64, 8);
    for (name, act) in [
        ("relu", Activation::Relu),
        ("gelu", Activation::Gelu),
        ("tanh", Activation::Tanh),
    ] {
        let net = Mlp::init(&[n; 10], act, 2f64.sqrt(), 1).expect("widths > 0");
        let x = [Moments::gaussian(Col::zeros(n), Mat::identity(n, n))];
        let mut engine = Propagator::new();
        let timings = Timings::disabled();
        g.bench_function(BenchmarkId::new(name, format!("n{n}_L{depth}")), |bench| {
            bench.iter(|| {
                let stages = engine.run(&net, 0, &x, None, opts, &timings).unwrap();
                black_box(stages.len());
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_affine, bench_affine_structured, bench_gemm, bench_closures, bench_smooth_scales, bench_forward, bench_moments, bench_engine, bench_kl_divergence, bench_layer_precision, bench_kappa_affine, bench_stats_compare, bench_carried_run, bench_kappa_measure, bench_small_gaussian
}
criterion_main!(benches);
