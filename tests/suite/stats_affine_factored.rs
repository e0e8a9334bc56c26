//! The structured covariance updates — constant coordinates dropped, (WU)(WU)ᵀ through a
//! Cholesky factor — against the dense one: positive definite, positive semi-definite of low
//! rank and indefinite-by-rounding inputs agree to rounding (relative Frobenius error below
//! 1e-12); an indefinite Σ and a narrow output fall back to the dense update bit for bit.

use corrflow::propagate::affine::{affine_moments, AffineStrategy, AffineWorkspace};
use corrflow::propagate::affine_factored::{structured_update, Choice, FactorWorkspace, Structure};
use corrflow::stats::gaussian::relative_frobenius;
use corrflow::stats::Moments;
use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// Stated agreement of the factored with the dense update (both are backward stable; the
/// measured error is 1e-15–1e-14, see BENCHMARKS.md "Performance II").
const TOLERANCE: f64 = 1e-12;

fn random_mat(rows: usize, cols: usize, rng: &mut StdRng) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| rng.sample(StandardNormal))
}

/// F Fᵀ / rank for an n × rank Gaussian F: positive semi-definite of rank `rank`.
fn low_rank_cov(n: usize, rank: usize, rng: &mut StdRng) -> Mat<f64> {
    let f = random_mat(n, rank, rng);
    &f * f.transpose() * (1.0 / rank as f64)
}

/// Σ with constant coordinates (zero rows and columns), as MNIST's constant pixels give.
fn with_constant_coordinates(cov: &Mat<f64>, every: usize) -> Mat<f64> {
    Mat::from_fn(cov.nrows(), cov.ncols(), |i, j| {
        if i % every == 0 || j % every == 0 {
            0.0
        } else {
            cov[(i, j)]
        }
    })
}

/// Runs both strategies on `covs` and returns (dense, auto) outputs.
fn both(w: &Mat<f64>, covs: &[Mat<f64>]) -> (Vec<Moments>, Vec<Moments>) {
    let n = w.ncols();
    let b = Col::from_fn(w.nrows(), |i| i as f64 * 0.01);
    let inputs: Vec<Moments> = covs
        .iter()
        .enumerate()
        .map(|(c, cov)| Moments::gaussian(Col::from_fn(n, |i| (i + c) as f64 * 0.1), cov.clone()))
        .collect();
    let run = |strategy| {
        let mut outputs = inputs.clone();
        let mut ws = AffineWorkspace::with_strategy(strategy);
        affine_moments(w.as_ref(), b.as_ref(), &inputs, &mut outputs, &mut ws).unwrap();
        outputs
    };
    (run(AffineStrategy::Dense), run(AffineStrategy::Auto))
}

fn assert_rounding_agreement(dense: &[Moments], auto: &[Moments], what: &str) {
    for (c, (d, a)) in dense.iter().zip(auto).enumerate() {
        assert_eq!(d.mean, a.mean, "{what} class {c}: the mean takes one path");
        let e = relative_frobenius(a.cov.as_ref(), d.cov.as_ref()).unwrap();
        assert!(e < TOLERANCE, "{what} class {c}: relative error {e:e}");
        for i in 0..a.cov.nrows() {
            for j in 0..i {
                assert_eq!(a.cov[(i, j)], a.cov[(j, i)], "{what}: not symmetric");
            }
        }
    }
}

fn update(w: &Mat<f64>, cov: &Mat<f64>, choice: Choice) -> (Option<Structure>, Mat<f64>) {
    let mut ws = FactorWorkspace::new();
    let mut out = Mat::zeros(w.nrows(), w.nrows());
    let structure = structured_update(
        w.as_ref(),
        cov.as_ref(),
        out.as_mut(),
        &mut ws,
        choice,
        faer::Par::rayon(0),
    );
    (structure, out)
}

#[test]
fn positive_definite_low_rank_and_rounding_indefinite_agree_with_dense() {
    let mut rng = StdRng::seed_from_u64(5);
    let n = 200;
    // A widening layer (N_out = 2 N_in): the factored update is chosen at full rank too.
    let w = random_mat(2 * n, n, &mut rng) * (1.0 / (n as f64).sqrt());
    let pd = low_rank_cov(n, n, &mut rng) + Mat::<f64>::identity(n, n) * 0.1;
    let low = low_rank_cov(n, 40, &mut rng);
    let constant = with_constant_coordinates(&low_rank_cov(n, n, &mut rng), 5);
    // Symmetric perturbation at rounding level: eigenvalues of the rank-40 matrix that were
    // zero become ± 1e-15-sized, so it is indefinite by rounding only.
    let noise = random_mat(n, n, &mut rng);
    let scale = 1e-15 * low[(0, 0)].abs().max(1.0);
    let rounding = Mat::from_fn(n, n, |i, j| {
        low[(i, j)] + scale * (noise[(i, j)] + noise[(j, i)])
    });
    let kept = n - n.div_ceil(5);
    for (cov, want, what) in [
        (&pd, Some((n, Some(n))), "positive definite"),
        (&low, None, "rank 40"),
        (&constant, Some((kept, Some(kept))), "constant coordinates"),
        (&rounding, None, "indefinite by rounding"),
    ] {
        let (dense, auto) = both(&w, std::slice::from_ref(cov));
        for choice in [Choice::Cheapest, Choice::Factor] {
            let (structure, out) = update(&w, cov, choice);
            match (structure, want) {
                (Some(Structure::Factored { active, rank }), Some((a, r))) => {
                    assert_eq!((active, Some(rank)), (a, r), "{what}: {choice:?}")
                }
                (Some(Structure::Factored { .. }), None) => {}
                (other, _) => panic!("{what}: {choice:?} gave {other:?}"),
            }
            let e = relative_frobenius(out.as_ref(), dense[0].cov.as_ref()).unwrap();
            assert!(e < TOLERANCE, "{what}: {choice:?} relative error {e:e}");
        }
        assert_rounding_agreement(&dense, &auto, what);
    }
}

#[test]
fn constant_coordinates_are_dropped_for_a_narrow_output() {
    let mut rng = StdRng::seed_from_u64(6);
    let n = 600;
    let w = random_mat(50, n, &mut rng);
    let cov = with_constant_coordinates(&low_rank_cov(n, n, &mut rng), 3);
    let (structure, out) = update(&w, &cov, Choice::Cheapest);
    assert_eq!(structure, Some(Structure::Compressed { active: 400 }));
    let (dense, auto) = both(&w, &[cov]);
    let e = relative_frobenius(out.as_ref(), dense[0].cov.as_ref()).unwrap();
    assert!(e < TOLERANCE, "relative error {e:e}");
    assert_rounding_agreement(&dense, &auto, "constant coordinates");
}

#[test]
fn indefinite_covariance_falls_back_to_the_dense_update_bit_for_bit() {
    let mut rng = StdRng::seed_from_u64(8);
    let n = 200;
    let w = random_mat(2 * n, n, &mut rng);
    let v = Col::from_fn(n, |_| rng.sample::<f64, _>(StandardNormal));
    // Positive diagonal, but one eigenvalue far below zero: a truncated factor would be wrong.
    let pd = low_rank_cov(n, n, &mut rng) + Mat::<f64>::identity(n, n);
    let indefinite = Mat::from_fn(n, n, |i, j| pd[(i, j)] - 3.0 * v[i] * v[j] / n as f64);
    assert!((0..n).all(|i| indefinite[(i, i)] > 0.0));
    // A zero variance with a non-zero covariance beside it: no coordinate may be dropped.
    let mut zero_row = pd.clone();
    zero_row[(7, 7)] = 0.0;
    for (cov, what) in [
        (&indefinite, "indefinite"),
        (&zero_row, "zero variance, row not"),
    ] {
        for choice in [Choice::Cheapest, Choice::Factor] {
            assert_eq!(update(&w, cov, choice).0, None, "{what}: {choice:?}");
        }
        let (dense, auto) = both(&w, &[cov.clone(), pd.clone()]);
        assert_eq!(
            dense[0].cov, auto[0].cov,
            "{what}: the class is updated densely"
        );
        assert_rounding_agreement(
            &dense[1..],
            &auto[1..],
            "the positive definite class beside it",
        );
    }
}

#[test]
fn narrow_or_small_updates_stay_dense() {
    let mut rng = StdRng::seed_from_u64(9);
    let n = 1400;
    let w = random_mat(10, n, &mut rng);
    let cov = low_rank_cov(n, n, &mut rng);
    assert_eq!(update(&w, &cov, Choice::Cheapest).0, None);
    let (dense, auto) = both(&w, &[cov]);
    assert_eq!(dense[0].cov, auto[0].cov);
    // A small update is not worth the per-class work, constant coordinates or not.
    let small = with_constant_coordinates(&low_rank_cov(64, 64, &mut rng), 2);
    let w_small = random_mat(64, 64, &mut rng);
    assert_eq!(update(&w_small, &small, Choice::Cheapest).0, None);
    assert!(update(&w_small, &small, Choice::Factor).0.is_some());
    // A zero covariance has no structure to use.
    let zero = Mat::<f64>::zeros(n, n);
    assert_eq!(update(&w, &zero, Choice::Factor).0, None);
}
