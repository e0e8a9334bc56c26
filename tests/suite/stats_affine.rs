//! The affine map against the naive two-GEMM product and against Monte Carlo.

use corrflow::propagate::affine::{affine_moments, AffineWorkspace};
use corrflow::stats::gaussian::{relative_frobenius, GaussianSampler};
use corrflow::stats::{MomentAccumulator, Moments};
use corrflow::Error;
use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

fn random_mat(rows: usize, cols: usize, rng: &mut StdRng) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| rng.sample(StandardNormal))
}

/// A random SPD covariance A Aᵀ/n + 0.1 I and a random mean.
fn random_moments(n: usize, rng: &mut StdRng) -> Moments {
    let a = random_mat(n, n, rng);
    let cov = Mat::from_fn(n, n, |i, j| {
        (0..n).map(|k| a[(i, k)] * a[(j, k)]).sum::<f64>() / n as f64
            + if i == j { 0.1 } else { 0.0 }
    });
    Moments::gaussian(Col::from_fn(n, |_| rng.sample(StandardNormal)), cov)
}

fn empty_outputs(c: usize) -> Vec<Moments> {
    (0..c)
        .map(|_| Moments::gaussian(Col::zeros(0), Mat::zeros(0, 0)))
        .collect()
}

#[test]
fn matches_naive_two_gemm_and_reuses_the_workspace() {
    let mut rng = StdRng::seed_from_u64(21);
    let mut ws = AffineWorkspace::new();
    let mut outputs = empty_outputs(3);
    // Layer widths change up and down: the workspace and outputs are resized in place.
    for (n_in, n_out) in [(7, 5), (5, 9), (9, 4), (30, 30)] {
        let w = random_mat(n_out, n_in, &mut rng);
        let b = Col::from_fn(n_out, |_| rng.sample(StandardNormal));
        let inputs: Vec<Moments> = (0..3).map(|_| random_moments(n_in, &mut rng)).collect();
        affine_moments(w.as_ref(), b.as_ref(), &inputs, &mut outputs, &mut ws).unwrap();
        for (input, out) in inputs.iter().zip(&outputs) {
            let want_cov = &w * &input.cov * w.transpose();
            let want_mean = &w * &input.mean + &b;
            let e_cov = relative_frobenius(out.cov.as_ref(), want_cov.as_ref()).unwrap();
            let e_mean = relative_frobenius(out.mean.as_mat(), want_mean.as_mat()).unwrap();
            assert!(
                e_cov < 1e-12 && e_mean < 1e-12,
                "{n_in}→{n_out}: {e_cov:e} {e_mean:e}"
            );
            for i in 0..n_out {
                for j in 0..i {
                    assert_eq!(out.cov[(i, j)], out.cov[(j, i)]);
                }
            }
        }
    }
}

#[test]
fn linear_map_of_gaussian_samples() {
    let (n_in, n_out, n) = (4, 3, 200_000);
    let mut rng = StdRng::seed_from_u64(22);
    let w = random_mat(n_out, n_in, &mut rng);
    let b = Col::from_fn(n_out, |i| i as f64 - 1.0);
    let input = random_moments(n_in, &mut rng);
    let mut out = empty_outputs(1);
    let mut ws = AffineWorkspace::new();
    affine_moments(
        w.as_ref(),
        b.as_ref(),
        std::slice::from_ref(&input),
        &mut out,
        &mut ws,
    )
    .unwrap();
    let sampler = GaussianSampler::new(input.mean.as_ref(), input.cov.as_ref()).unwrap();
    let x = sampler.sample(n, &mut rng);
    let mut y = &w * &x;
    for j in 0..n {
        for i in 0..n_out {
            y[(i, j)] += b[i];
        }
    }
    let mut acc = MomentAccumulator::new(n_out, 1, false).unwrap();
    acc.push(y.as_ref(), &vec![0; n]).unwrap();
    let emp = acc.finish().unwrap().per_class.remove(0);
    let (s, nf) = (&out[0].cov, n as f64);
    for i in 0..n_out {
        let se_mean = (s[(i, i)] / nf).sqrt();
        assert!(
            (emp.mean[i] - out[0].mean[i]).abs() < 5.0 * se_mean,
            "mean[{i}]"
        );
        for j in 0..n_out {
            let se = ((s[(i, i)] * s[(j, j)] + s[(i, j)].powi(2)) / nf).sqrt();
            assert!(
                (emp.cov[(i, j)] - s[(i, j)]).abs() < 5.0 * se,
                "cov[{i},{j}]"
            );
        }
    }
}

/// The outputs' κ slices, all three, are dropped with their unit (an output that held slices in
/// a unit ℓ ≠ 1 before); wrong shapes are refused.
#[test]
fn cumulant_slices_are_dropped_and_shapes_checked() {
    let mut rng = StdRng::seed_from_u64(23);
    let mut input = random_moments(3, &mut rng);
    input.set_slices((Some(Mat::zeros(3, 3)), Some(Mat::zeros(3, 3)), None), 1.0);
    let w = random_mat(2, 3, &mut rng);
    let mut ws = AffineWorkspace::new();
    let mut out = empty_outputs(1);
    let slice = || Some(Mat::zeros(2, 2));
    out[0].set_slices((slice(), slice(), slice()), 2f64.powi(-10));
    let inputs = [input];
    affine_moments(
        w.as_ref(),
        Col::zeros(2).as_ref(),
        &inputs,
        &mut out,
        &mut ws,
    )
    .unwrap();
    assert!(out[0].k3_iij().is_none() && out[0].k4_iijj().is_none());
    assert!(out[0].k4_iiij().is_none() && out[0].slice_unit() == 1.0);

    let bad_bias = affine_moments(
        w.as_ref(),
        Col::zeros(3).as_ref(),
        &inputs,
        &mut out,
        &mut ws,
    );
    assert!(matches!(bad_bias, Err(Error::Shape(_))));
    let wide = random_mat(2, 4, &mut rng);
    match affine_moments(
        wide.as_ref(),
        Col::zeros(2).as_ref(),
        &inputs,
        &mut out,
        &mut ws,
    ) {
        Err(Error::Shape(msg)) => assert!(msg.contains("2×4") && msg.contains("class 0"), "{msg}"),
        other => panic!("expected a shape error, got {other:?}"),
    }
    let mut two = empty_outputs(2);
    let count = affine_moments(
        w.as_ref(),
        Col::zeros(2).as_ref(),
        &inputs,
        &mut two,
        &mut ws,
    );
    assert!(matches!(count, Err(Error::Shape(_))));
}
