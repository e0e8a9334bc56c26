//! Streaming moments against a naive two-pass computation, batch invariance, known cumulants.

use corrflow::stats::{EmpiricalMoments, MomentAccumulator, Moments};
use corrflow::Error;
use faer::{Col, Mat, MatRef};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::Exp1;

/// Non-Gaussian, correlated samples with a large common offset: x = A e + shift_c + 10³, e ~ Exp(1).
fn skewed_data(dim: usize, n: usize, n_classes: u32, seed: u64) -> (Mat<f64>, Vec<u32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let a = Mat::from_fn(dim, dim, |i, j| {
        if i == j {
            1.0
        } else {
            0.3 * ((i + 2 * j) as f64).sin()
        }
    });
    let labels: Vec<u32> = (0..n).map(|_| rng.random_range(0..n_classes)).collect();
    let mut x = Mat::zeros(dim, n);
    for j in 0..n {
        let e: Vec<f64> = (0..dim).map(|_| rng.sample::<f64, _>(Exp1)).collect();
        for i in 0..dim {
            let mixed: f64 = (0..dim).map(|k| a[(i, k)] * e[k]).sum();
            x[(i, j)] = 1e3 + mixed + f64::from(labels[j]) * (i as f64 + 1.0);
        }
    }
    (x, labels)
}

/// Two-pass double loops: mean, then δ = x − μ, then the averages.
fn naive(x: MatRef<'_, f64>, cols: &[usize]) -> Moments {
    let (d, n) = (x.nrows(), cols.len() as f64);
    let mean = Col::from_fn(d, |i| cols.iter().map(|&j| x[(i, j)]).sum::<f64>() / n);
    let delta = |i: usize, j: usize| x[(i, j)] - mean[i];
    let avg = |f: &dyn Fn(usize) -> f64| cols.iter().map(|&j| f(j)).sum::<f64>() / n;
    let cov = Mat::from_fn(d, d, |a, b| avg(&|j| delta(a, j) * delta(b, j)));
    let k3 = Mat::from_fn(d, d, |a, b| avg(&|j| delta(a, j).powi(2) * delta(b, j)));
    let k4 = Mat::from_fn(d, d, |a, b| {
        avg(&|j| delta(a, j).powi(2) * delta(b, j).powi(2))
            - cov[(a, a)] * cov[(b, b)]
            - 2.0 * cov[(a, b)].powi(2)
    });
    let k4_iiij = Mat::from_fn(d, d, |a, b| {
        avg(&|j| delta(a, j).powi(3) * delta(b, j)) - 3.0 * cov[(a, a)] * cov[(a, b)]
    });
    Moments::with_slices(mean, cov, (Some(k3), Some(k4), Some(k4_iiij)), 1.0)
}

fn accumulate(
    x: MatRef<'_, f64>,
    labels: &[u32],
    n_classes: usize,
    batch: usize,
) -> EmpiricalMoments {
    let mut acc = MomentAccumulator::new(x.nrows(), n_classes, true).unwrap();
    let mut start = 0;
    while start < x.ncols() {
        let len = batch.min(x.ncols() - start);
        acc.push(x.subcols(start, len), &labels[start..start + len])
            .unwrap();
        start += len;
    }
    acc.finish().unwrap()
}

fn rel(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    corrflow::stats::gaussian::relative_frobenius(a, b).unwrap()
}

fn assert_close(got: &Moments, want: &Moments, tol: f64, what: &str) {
    let errs = [
        rel(got.mean.as_mat(), want.mean.as_mat()),
        rel(got.cov.as_ref(), want.cov.as_ref()),
        rel(
            got.k3_iij().unwrap().as_ref(),
            want.k3_iij().unwrap().as_ref(),
        ),
        rel(
            got.k4_iijj().unwrap().as_ref(),
            want.k4_iijj().unwrap().as_ref(),
        ),
        rel(
            got.k4_iiij().unwrap().as_ref(),
            want.k4_iiij().unwrap().as_ref(),
        ),
    ];
    for (e, name) in errs.iter().zip(["mean", "cov", "k3", "k4", "k4_iiij"]) {
        assert!(*e <= tol, "{what}: {name} relative error {e:e} > {tol:e}");
    }
}

#[test]
fn matches_naive_two_pass_with_large_offset() {
    let (x, labels) = skewed_data(5, 900, 3, 1);
    let got = accumulate(x.as_ref(), &labels, 3, 64);
    for c in 0..3u32 {
        let cols: Vec<usize> = (0..labels.len()).filter(|&j| labels[j] == c).collect();
        assert_eq!(got.counts[c as usize], cols.len() as u64);
        assert_close(
            &got.per_class[c as usize],
            &naive(x.as_ref(), &cols),
            1e-10,
            "class",
        );
    }
    let all: Vec<usize> = (0..labels.len()).collect();
    let pooled = got
        .pooled
        .as_ref()
        .expect("finish forms the pooled moments");
    assert_close(pooled, &naive(x.as_ref(), &all), 1e-10, "pooled");
}

#[test]
fn batch_size_does_not_matter() {
    let (x, labels) = skewed_data(4, 500, 2, 2);
    let whole = accumulate(x.as_ref(), &labels, 2, x.ncols());
    for batch in [1, 7] {
        let got = accumulate(x.as_ref(), &labels, 2, batch);
        for c in 0..2 {
            assert_close(
                &got.per_class[c],
                &whole.per_class[c],
                1e-12,
                "batched class",
            );
        }
        let (a, b) = (got.pooled.as_ref(), whole.pooled.as_ref());
        let pooled = a.zip(b).expect("finish forms the pooled moments");
        assert_close(pooled.0, pooled.1, 1e-12, "batched pooled");
    }
}

/// Exp(1) has κ₃ = 2, κ₄ = 6. Independent coordinates: cross slices vanish. Standard errors from
/// the influence functions with the central moments μ_k of Exp(1) (1, 2, 9, 44, 265, 1854, 14833):
/// κ₃ᵢᵢᵢ: μ₆ − 6μ₂μ₄ + 9μ₂³ − μ₃² = 216;  κ₃ᵢᵢⱼ: μ₂(μ₄ − 2μ₂ + 1) = 8;
/// κ₄ᵢᵢᵢᵢ: 11520;  κ₄ᵢᵢⱼⱼ: (μ₄ − 1)² = 64;  κ₄ᵢᵢᵢⱼ: influence δⱼ(δᵢ³ − 3δᵢ − μ₃), variance
/// μ₆ − 6μ₄ − 4μ₃ + 9μ₂ + 4 = 1595 (variance per sample).
#[test]
fn exponential_cumulants_within_sampling_error() {
    let (dim, n) = (3, 1_000_000);
    let mut rng = StdRng::seed_from_u64(3);
    let x = Mat::from_fn(dim, n, |_, _| rng.sample::<f64, _>(Exp1));
    let labels = vec![0u32; n];
    let m = accumulate(x.as_ref(), &labels, 1, 10_000);
    let (k3, k4, k31) = (
        m.per_class[0].k3_iij().unwrap(),
        m.per_class[0].k4_iijj().unwrap(),
        m.per_class[0].k4_iiij().unwrap(),
    );
    let se = |var: f64| 5.0 * (var / n as f64).sqrt();
    for i in 0..dim {
        assert!((m.per_class[0].mean[i] - 1.0).abs() < se(1.0));
        assert!((m.per_class[0].cov[(i, i)] - 1.0).abs() < se(8.0));
        for j in 0..dim {
            let (want3, var3, want4, var4, var31) = if i == j {
                (2.0, 216.0, 6.0, 11520.0, 11520.0)
            } else {
                (0.0, 8.0, 0.0, 64.0, 1595.0)
            };
            assert!(
                (k31[(i, j)] - want4).abs() < se(var31),
                "k4_iiij[{i},{j}] = {}",
                k31[(i, j)]
            );
            assert!(
                (k3[(i, j)] - want3).abs() < se(var3),
                "k3[{i},{j}] = {}",
                k3[(i, j)]
            );
            assert!(
                (k4[(i, j)] - want4).abs() < se(var4),
                "k4[{i},{j}] = {}",
                k4[(i, j)]
            );
        }
    }
}

#[test]
fn without_higher_orders_only_mean_and_cov() {
    let (x, labels) = skewed_data(3, 200, 2, 4);
    let mut acc = MomentAccumulator::new(3, 2, false).unwrap();
    acc.push(x.as_ref(), &labels).unwrap();
    let low = acc.finish().unwrap();
    let high = accumulate(x.as_ref(), &labels, 2, 200);
    for c in 0..2 {
        assert!(low.per_class[c].k3_iij().is_none() && low.per_class[c].k4_iijj().is_none());
        assert!(
            rel(
                low.per_class[c].cov.as_ref(),
                high.per_class[c].cov.as_ref()
            ) < 1e-13
        );
    }
}

#[test]
fn bad_input_is_rejected_and_leaves_sums_alone() {
    let mut acc = MomentAccumulator::new(2, 2, true).unwrap();
    let x = Mat::from_fn(2, 3, |i, j| (i + j) as f64);
    assert!(matches!(
        acc.push(x.as_ref(), &[0, 1]),
        Err(Error::Shape(_))
    ));
    assert!(matches!(
        acc.push(x.as_ref(), &[0, 1, 2]),
        Err(Error::Shape(_))
    ));
    assert!(matches!(
        acc.push(Mat::<f64>::zeros(3, 1).as_ref(), &[0]),
        Err(Error::Shape(_))
    ));
    let mut bad = x.clone();
    bad[(1, 2)] = f64::NAN;
    assert!(matches!(
        acc.push(bad.as_ref(), &[0, 0, 1]),
        Err(Error::Numeric(_))
    ));
    assert_eq!(acc.counts(), vec![0, 0]);
    acc.push(x.as_ref(), &[0, 0, 1]).unwrap();
    match acc.finish() {
        Err(Error::Numeric(msg)) => assert!(msg.contains("class 1"), "{msg}"),
        other => panic!("expected a numeric error naming class 1, got {other:?}"),
    }
}

/// Rows equal to the shift in every sample of a class and batch (MNIST's border pixels) are
/// left out of the Gram: the moments are the two-pass ones, those rows' covariance is exactly
/// 0, a row that starts to vary in a later batch is counted from then on, a strided batch reads
/// as a contiguous one, and the counted flops are those of the varying rows only.
#[test]
fn rows_that_do_not_vary_are_skipped_exactly() {
    let (dim, n) = (70, 360);
    let (mut x, labels) = skewed_data(dim, n, 3, 5);
    let last0 = (0..n).rev().find(|&j| labels[j] == 0).unwrap();
    for j in 0..n {
        match labels[j] {
            // Class 0: rows 0–9 and 30–34 always 0; row 5 varies only in its last sample.
            0 => {
                for i in (0..10).chain(30..35) {
                    x[(i, j)] = if i == 5 && j == last0 { 1.5 } else { 0.0 };
                }
            }
            // Class 1: rows 60–69 always 0.
            1 => {
                for i in 60..70 {
                    x[(i, j)] = 0.0;
                }
            }
            _ => {}
        }
    }
    let naive_of = |c: u32| {
        let cols: Vec<usize> = (0..n).filter(|&j| labels[j] == c).collect();
        naive(x.as_ref(), &cols)
    };
    // Batches of 64 (row 5 of class 0 varies in its last batch only); and one strided batch
    // (a transposed copy read back through its transpose).
    let xt = x.transpose().to_owned();
    for strided in [false, true] {
        let mut acc = MomentAccumulator::new(dim, 3, false).unwrap();
        for start in (0..n).step_by(64) {
            let len = 64.min(n - start);
            let batch = if strided {
                xt.as_ref().transpose().subcols(start, len)
            } else {
                x.as_ref().subcols(start, len)
            };
            acc.push(batch, &labels[start..start + len]).unwrap();
        }
        let got = acc.finish().unwrap();
        for c in 0..3u32 {
            let (g, w) = (&got.per_class[c as usize], naive_of(c));
            assert!(
                rel(g.mean.as_mat(), w.mean.as_mat()) < 1e-12,
                "class {c} mean"
            );
            assert!(rel(g.cov.as_ref(), w.cov.as_ref()) < 1e-10, "class {c} cov");
        }
        let (c0, c1) = (&got.per_class[0].cov, &got.per_class[1].cov);
        for j in 0..dim {
            for i in (0..10).chain(30..35).filter(|&i| i != 5) {
                assert_eq!((c0[(i, j)], c0[(j, i)]), (0.0, 0.0), "class 0 ({i}, {j})");
            }
            for i in 60..70 {
                assert_eq!((c1[(i, j)], c1[(j, i)]), (0.0, 0.0), "class 1 ({i}, {j})");
            }
        }
        assert!(c0[(5, 5)] > 0.0, "row 5 varies in class 0's last batch");
    }
    // One batch of everything: d(d+1)b per class over its r varying rows (class 0: 70 − 15 + 1,
    // row 5 varying; class 1: 60; class 2: 70).
    let mut acc = MomentAccumulator::new(dim, 3, false).unwrap();
    acc.push(x.as_ref(), &labels).unwrap();
    let count = |c: u32| labels.iter().filter(|&&l| l == c).count() as f64;
    let syrk = |r: f64, b: f64| r * (r + 1.0) * b;
    let want = syrk(56.0, count(0)) + syrk(60.0, count(1)) + syrk(70.0, count(2));
    assert_eq!(acc.flops(), want);
}

/// A class whose power sums overflow is named by its label, also after an absent class: with
/// class 0 empty, the overflow of class 2 (values 2 and 1e200: a squared deviation past
/// f64::MAX) was reported as "class 1", its index among the classes present (adv18).
#[test]
fn a_non_finite_class_is_named_by_its_label_after_an_absent_class() {
    let mut acc = MomentAccumulator::new(1, 3, false).unwrap();
    let x = Mat::from_fn(1, 4, |_, j| if j == 3 { 1e200 } else { j as f64 });
    acc.push(x.as_ref(), &[1, 1, 2, 2]).unwrap();
    let err = acc.finish().unwrap_err().to_string();
    assert!(err.contains("class 2") && !err.contains("class 1"), "{err}");
}
