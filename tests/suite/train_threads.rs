//! Training does not depend on the thread count (issue #14, item 6): two epochs in a 1-thread
//! and in a 2-thread rayon pool give bit-identical weights, with layers wide enough that the
//! GEMMs, the optimiser step, ∘ φ' and the bias sums all take their parallel paths.

use corrflow::data::Dataset;
use corrflow::net::train::{train, Loss, Optimizer, TrainConfig};
use corrflow::net::{Activation, Mlp, Precision};
use faer::Mat;

/// 1280 samples of dimension 784 in 10 classes: class c lifts a band of coordinates, over a
/// deterministic pseudo-random background.
fn data() -> Dataset {
    let (d, n) = (784, 1280);
    let labels: Vec<u32> = (0..n).map(|j| ((j * 7) % 10) as u32).collect();
    let mut state = 12345u64;
    let x = Mat::from_fn(d, n, |i, j| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = (state >> 11) as f64 / (1u64 << 53) as f64;
        let band = labels[j] as usize * 78;
        noise
            + if (band..band + 78).contains(&i) {
                1.0
            } else {
                0.0
            }
    });
    Dataset {
        x,
        labels,
        n_classes: 10,
    }
}

fn trained(threads: usize, precision: Precision, optimizer: Optimizer, data: &Dataset) -> Mlp {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        // Wide enough that every large GEMM of the 784-512-512-10 network at batch 128 is split
        // (≥ 2²⁴ multiply-adds) and every elementwise sweep too (512 × 128 = 2¹⁶ entries).
        let mut net = Mlp::init(&[784, 512, 512, 10], Activation::Relu, 2f64.sqrt(), 4).unwrap();
        let cfg = TrainConfig {
            epochs: 2,
            batch: 128,
            lr: 1e-3,
            loss: Loss::Ce,
            optimizer,
            momentum: 0.9,
            seed: 11,
            precision,
        };
        let history = train(&mut net, data, &cfg, |_| {}).unwrap();
        assert!(
            history[1].loss < history[0].loss,
            "training did not progress"
        );
        net
    })
}

#[test]
fn weights_are_bit_identical_on_one_and_two_threads() {
    let data = data();
    for (precision, optimizer) in [
        (Precision::F64, Optimizer::Adam),
        (Precision::F32, Optimizer::Sgd),
    ] {
        let one = trained(1, precision, optimizer, &data);
        let two = trained(2, precision, optimizer, &data);
        for (l, (a, b)) in one.layers.iter().zip(&two.layers).enumerate() {
            assert!(
                a.w == b.w && a.b == b.b,
                "{precision:?} {optimizer:?}: layer {l} differs between 1 and 2 threads"
            );
        }
    }
}
