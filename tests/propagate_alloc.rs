//! The engine's layer loop reuses its buffers (issue #5): a [`Propagator`] that has run a
//! network once allocates no covariance-sized block on the next run, and its results equal the
//! one-shot [`propagate`] bit for bit, also after running a network of other shapes in between.
//!
//! A counting global allocator records every allocation of at least `LARGE` bytes; it is the
//! only global allocator of this test binary, so the tests here run one at a time (a mutex).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use faer::{Col, Mat};

use corrflow::net::{Activation, Mlp};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{propagate, Predicted, PropagateOptions, Propagator};
use corrflow::stats::Moments;
use corrflow::timing::Timings;

/// Width of the test network: an N×N f64 covariance is 2 MiB.
const N: usize = 512;
/// A quarter of one covariance. The closures' per-unit scratch (at most a 60·N f64 table,
/// 240 KiB) stays below it; any N×N buffer, and any N×N/4 one, is above.
const LARGE: usize = N * N * 8 / 4;

static LARGE_ALLOCS: AtomicUsize = AtomicUsize::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

struct CountLarge;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are ours; the only addition is a relaxed atomic counter.
unsafe impl GlobalAlloc for CountLarge {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            LARGE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc`/`realloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= LARGE {
            LARGE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds `new_size`'s rules.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountLarge = CountLarge;

const GAUSSIAN: PropagateOptions = PropagateOptions {
    method: ClosureMethod::Auto,
    corrections: Corrections::None,
};

/// `classes` start moments of dimension `d`: distinct means, covariance 0.5·I + a rank-one part.
fn start(d: usize, classes: usize) -> Vec<Moments> {
    (0..classes)
        .map(|c| {
            let v = Col::from_fn(d, |i| ((i + c) as f64 * 0.37).sin());
            let cov = Mat::from_fn(d, d, |i, j| {
                0.3 * v[i] * v[j] + if i == j { 0.5 } else { 0.0 }
            });
            Moments::gaussian(Col::from_fn(d, |i| 0.1 * (c as f64 - i as f64 * 0.01)), cov)
        })
        .collect()
}

/// Runs one packed GEMM on every thread of rayon's global pool (the engine's, `linalg::on_pool`).
/// faer's GEMM (the `gemm` crate) keeps a per-thread packing slab of the L2 cache's size
/// (`L2_SLAB`, 1 MiB on Zen 5: above `LARGE`), allocated at a thread's first packed product.
/// Which pool threads pack in the first run depends on work stealing, so without this a warm
/// run could count a thread's first slab — not one of the engine's buffers.
fn warm_every_pool_thread() {
    rayon::broadcast(|_| {
        let a = Mat::<f64>::from_fn(256, 256, |i, j| (i + 2 * j) as f64);
        let mut c = Mat::<f64>::zeros(256, 256);
        faer::linalg::matmul::matmul(
            c.as_mut(),
            faer::Accum::Replace,
            a.as_ref(),
            a.as_ref(),
            1.0,
            faer::Par::Seq,
        );
        std::hint::black_box(c);
    });
}

fn large_allocations(f: impl FnOnce()) -> usize {
    let before = LARGE_ALLOCS.load(Ordering::SeqCst);
    f();
    LARGE_ALLOCS.load(Ordering::SeqCst) - before
}

fn assert_same(a: &[Predicted], b: &[Predicted]) {
    assert_eq!(a.len(), b.len());
    for (p, q) in a.iter().zip(b) {
        assert_eq!(p.stage, q.stage);
        assert_eq!(p.classes(), q.classes());
        for c in 0..p.classes() {
            assert_eq!(p.mean(c), q.mean(c), "{:?}", p.stage);
            assert_eq!(p.cov(c), q.cov(c), "{:?}", p.stage);
        }
    }
}

#[test]
fn second_run_allocates_no_covariance_sized_buffer() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let net = Mlp::init(&[N, N, N, 10], Activation::Relu, 1.0, 3).unwrap();
    let x = start(N, 2);
    let timings = Timings::disabled();
    let mut engine = Propagator::new();
    warm_every_pool_thread();
    let cold = large_allocations(|| {
        engine.run(&net, 0, &x, None, GAUSSIAN, &timings).unwrap();
    });
    // Two hidden layers × (pre, post) × 2 classes + the stacked workspace: the counter sees them.
    assert!(
        cold >= 8,
        "the first run allocated only {cold} large buffers"
    );
    let warm = large_allocations(|| {
        engine.run(&net, 0, &x, None, GAUSSIAN, &timings).unwrap();
    });
    assert_eq!(
        warm, 0,
        "a warm run allocated {warm} buffers of ≥ {LARGE} bytes"
    );
}

#[test]
fn reused_engine_matches_one_shot_propagation_across_shapes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let deep = Mlp::init(&[40, 64, 48, 32, 3], Activation::Erf, 1.0, 5).unwrap();
    let small = Mlp::init(&[40, 16, 3], Activation::Quadratic { alpha: 0.4 }, 1.0, 6).unwrap();
    let mut engine = Propagator::new();
    let t = Timings::disabled();
    for (net, from, classes) in [(&deep, 0, 3), (&small, 0, 2), (&deep, 1, 1), (&deep, 0, 3)] {
        let width = if from == 0 { 40 } else { 64 };
        let x = start(width, classes);
        let reused = engine.run(net, from, &x, None, GAUSSIAN, &t).unwrap();
        assert_same(reused, &propagate(net, from, &x, None, GAUSSIAN).unwrap());
    }
}
