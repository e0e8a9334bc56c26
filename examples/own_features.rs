//! The library route: analyse features you hold in memory, from Rust.
//!
//! Builds a [`Dataset`] from a `Vec<f64>` (here three Gaussian classes in 6 dimensions that
//! differ in mean and covariance, standing in for features your own code computed), trains a
//! 6-16-16-3 network with a different activation per hidden layer (or loads one, given a model
//! file as the first argument), then asks how well the Gaussian description predicts the
//! network's accuracy from every start layer, and where the class information sits.
//!
//! ```text
//! cargo run --release --example own_features              # train, then analyse
//! cargo run --release --example own_features -- m.safetensors
//! ```

use std::path::Path;

use faer::Mat;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use corrflow::analysis::analyze;
use corrflow::config::AnalysisConfig;
use corrflow::data::Dataset;
use corrflow::net::train::{train, Loss, Optimizer, TrainConfig};
use corrflow::net::{model_io, Activation, Activations, Mlp, Precision};
use corrflow::report::tables;
use corrflow::timing::Timings;

/// `n` samples of 3 classes in 6 dimensions: class c has mean 0.8·c·e_c and standard deviation
/// 0.6 + 0.4c along every axis.
fn features(n: usize, seed: u64) -> Dataset {
    let (dim, classes) = (6, 3);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(n * dim); // your features, sample after sample
    let mut labels = Vec::with_capacity(n);
    for k in 0..n {
        let c = k % classes;
        for i in 0..dim {
            let z: f64 = rng.sample(StandardNormal);
            let mean = if i == c { 0.8 * c as f64 } else { 0.0 };
            values.push(mean + (0.6 + 0.4 * c as f64) * z);
        }
        labels.push(c as u32);
    }
    // corrflow keeps one sample per column.
    Dataset {
        x: Mat::from_fn(dim, n, |i, k| values[k * dim + i]),
        labels,
        n_classes: classes,
    }
}

fn main() -> corrflow::Result<()> {
    let (train_set, test_set) = (features(3000, 1), features(3000, 2));
    let net = match std::env::args().nth(1) {
        Some(path) => model_io::load(Path::new(&path))?,
        None => {
            let mut net = Mlp::init(&[6, 16, 16, 3], Activation::Tanh, 1.0, 7)?;
            net.activation = Activations::per_layer(vec![Activation::Tanh, Activation::Relu])?;
            let cfg = TrainConfig {
                epochs: 30,
                batch: 64,
                lr: 3e-3,
                loss: Loss::Ce,
                optimizer: Optimizer::Adam,
                momentum: 0.9,
                seed: 7,
                precision: Precision::F64,
            };
            train(&mut net, &train_set, &cfg, |_| {})?;
            net
        }
    };
    let options = AnalysisConfig::default().options(1, corrflow::net::Precision::F64);
    let (analysis, _) = analyze(&net, &test_set, options, &Timings::disabled())?;
    println!(
        "network {:?} ({}), accuracy {:.4} on {} test samples\n",
        analysis.widths, analysis.activation, analysis.network_accuracy, analysis.n_samples
    );
    print!("{}", tables::theory(&analysis).text(None));
    println!();
    print!("{}", tables::information(&analysis).text(None));
    Ok(())
}
