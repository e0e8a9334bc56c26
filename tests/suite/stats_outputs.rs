//! The outputs kept by the statistics' own forward pass (`layer_stats_and_outputs`, which
//! `analyze` reads for the measured confusion, the network's accuracy and the output tails):
//! each class's outputs in data order, equal to a plain forward pass of its samples, with the
//! same statistics as `layer_stats`; the accuracy read from them is `Mlp::accuracy`.

use crate::common::shuffled_classes;
use corrflow::analysis::outputs::ClassOutputs;
use corrflow::data::Dataset;
use corrflow::measure::{layer_stats, layer_stats_and_outputs, Higher};
use corrflow::net::forward::argmax_columns;
use corrflow::net::{Activation, ForwardPass, Mlp, Stage};
use corrflow::timing::Timings;

/// Classes 0, 1 and 3 of 4 (31, 9, 20 samples; class 2 absent) in shuffled order, 5 inputs
/// with per-class means.
fn data() -> Dataset {
    // Shuffled by the permutation j → 7j mod 60 (7 is prime to 60).
    shuffled_classes(5, 5, &[(0, 31), (1, 9), (3, 20)], 4, 7, 0.4)
}

/// Batches of 8 (classes straddle batches): class c's outputs are the forward pass of its
/// samples in data order to rounding, an absent class has none, and the statistics are
/// `layer_stats`'s.
#[test]
fn outputs_are_each_class_forward_pass_in_data_order() {
    let net = Mlp::init(&[5, 7, 4], Activation::Tanh, 1.5, 2).unwrap();
    let data = data();
    let (stats, outputs) =
        layer_stats_and_outputs(&net, &data, Higher::None, 8, &Timings::disabled()).unwrap();
    let mut fp = ForwardPass::new(&net, data.len());
    net.forward_into(data.x.as_ref(), &mut fp);
    let y = fp.output();
    assert_eq!(outputs.len(), 4);
    for (c, got) in outputs.iter().enumerate() {
        let samples: Vec<usize> = (0..data.len())
            .filter(|&j| data.labels[j] as usize == c)
            .collect();
        assert_eq!(got.shape(), (4, samples.len()), "class {c}");
        for (col, &j) in samples.iter().enumerate() {
            for i in 0..4 {
                let (g, w) = (got[(i, col)], y[(i, j)]);
                assert!(
                    (g - w).abs() <= 1e-14 * (1.0 + w.abs()),
                    "class {c} sample {j}: {g} vs {w}"
                );
            }
        }
    }
    let plain = layer_stats(&net, &data, Higher::None, 8).unwrap();
    for stage in Stage::all(net.depth()) {
        let (a, b) = (stats.get(stage).unwrap(), plain.get(stage).unwrap());
        assert_eq!(a.classes, b.classes);
        for (m, n) in a.per_class.iter().zip(&b.per_class) {
            assert_eq!(m.mean, n.mean, "{stage}");
            assert_eq!(m.cov, n.cov, "{stage}");
        }
    }
}

/// The classes present keep their labels; the accuracy from the outputs is the network's.
#[test]
fn accuracy_from_the_outputs_is_the_networks() {
    let net = Mlp::init(&[5, 6, 4], Activation::Relu, 2.0, 9).unwrap();
    let data = data();
    let (_, outputs) =
        layer_stats_and_outputs(&net, &data, Higher::None, 16, &Timings::disabled()).unwrap();
    let outputs = ClassOutputs::from_labels(outputs);
    assert_eq!(outputs.classes, vec![0, 1, 3]);
    let hits = outputs
        .classes
        .iter()
        .zip(&outputs.per_class)
        .map(|(&c, y)| argmax_columns(y.as_ref()).filter(|&a| a == c).count())
        .sum::<usize>();
    assert!(
        hits > 0 && hits < data.len(),
        "a test that can tell: {hits} hits"
    );
    assert_eq!(outputs.accuracy(), net.accuracy(&data));
}

/// A label beyond the classes is an error naming it, not a panic.
#[test]
fn a_label_out_of_range_is_an_error() {
    let net = Mlp::init(&[5, 6, 4], Activation::Relu, 2.0, 9).unwrap();
    let mut data = data();
    data.labels[3] = 4;
    let err = layer_stats_and_outputs(&net, &data, Higher::None, 16, &Timings::disabled())
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 4"), "{err}");
}
