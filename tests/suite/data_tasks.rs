//! The synthetic tasks: determinism, balanced classes, and the class-conditional statistics the
//! tasks are defined by (checked against sampling error derived from the known moments).

use corrflow::config::Field;
use corrflow::data::{Dataset, HigherOrderConfig, XorConfig};
use corrflow::Error;
use faer::{Mat, Side};

/// Columns of `ds` with label `c`, as a d × n_c matrix.
fn class(ds: &Dataset, c: u32) -> Mat<f64> {
    let cols: Vec<usize> = (0..ds.len()).filter(|&j| ds.labels[j] == c).collect();
    Mat::from_fn(ds.dim(), cols.len(), |i, k| ds.x[(i, cols[k])])
}

/// Per-coordinate mean of the columns.
fn mean(x: &Mat<f64>) -> Vec<f64> {
    (0..x.nrows())
        .map(|i| (0..x.ncols()).map(|j| x[(i, j)]).sum::<f64>() / x.ncols() as f64)
        .collect()
}

/// Central moment E[(x_a − μ_a)(x_b − μ_b)…] over the columns for the index list `idx`.
fn central(x: &Mat<f64>, mu: &[f64], idx: &[usize]) -> f64 {
    (0..x.ncols())
        .map(|j| idx.iter().map(|&i| x[(i, j)] - mu[i]).product::<f64>())
        .sum::<f64>()
        / x.ncols() as f64
}

#[test]
fn xor_is_deterministic_and_balanced() {
    let cfg = XorConfig {
        dim: 5,
        rotate: true,
        n_train: 101,
        n_test: 37,
        ..XorConfig::default()
    };
    let a = cfg.generate().unwrap();
    let b = cfg.generate().unwrap();
    assert_eq!(a.train.x, b.train.x);
    assert_eq!(a.test.x, b.test.x);
    assert_eq!(a.train.labels, b.train.labels);
    let c = XorConfig {
        seed: 1,
        ..cfg.clone()
    }
    .generate()
    .unwrap();
    assert_ne!(a.train.x, c.train.x);
    assert_eq!((a.train.dim(), a.train.len(), a.test.len()), (5, 101, 37));
    let ones = a.train.labels.iter().filter(|&&l| l == 1).count();
    assert_eq!(ones, 50, "classes alternate in pairs of blobs");
    assert!(XorConfig {
        dim: 1,
        ..cfg.clone()
    }
    .generate()
    .is_err());
    assert!(matches!(
        XorConfig {
            sigma: f64::NAN,
            ..cfg
        }
        .generate(),
        Err(Error::Config {
            field: Field::Sigma,
            ..
        })
    ));
}

/// Plain 2-D XOR: class means 0, Σ₀₁ = ±1, and sign(x₁x₂) reaches the Bayes accuracy
/// 1 − 2p(1−p), p = Φ(−1/σ), all within 5 standard errors.
#[test]
fn xor_statistics_and_bayes_accuracy() {
    let sigma = 0.5;
    let cfg = XorConfig {
        sigma,
        n_train: 40_000,
        n_test: 0,
        ..XorConfig::default()
    };
    let ds = cfg.generate().unwrap().train;
    for (c, sign) in [(0u32, 1.0), (1u32, -1.0)] {
        let x = class(&ds, c);
        let n = x.ncols() as f64;
        let mu = mean(&x);
        let var = 1.0 + sigma * sigma;
        for m in &mu {
            assert!(m.abs() < 5.0 * (var / n).sqrt(), "class {c} mean {m}");
        }
        // x_i = s_i + σe_i with s₁s₂ = ±1, s_i² = 1: x₁x₂ = s₁s₂ + σ(s₁e₂ + s₂e₁) + σ²e₁e₂ has
        // variance 2σ² + σ⁴; x₁² = 1 + 2σs₁e₁ + σ²e₁² has variance 4σ² + 2σ⁴.
        let s2 = sigma * sigma;
        let e12 = central(&x, &[0.0, 0.0], &[0, 1]);
        let se = ((2.0 * s2 + s2 * s2) / n).sqrt();
        assert!(
            (e12 - sign).abs() < 5.0 * se,
            "class {c}: Σ₀₁ = {e12}, want {sign}"
        );
        let v = central(&x, &mu, &[0, 0]);
        let se_v = ((4.0 * s2 + 2.0 * s2 * s2) / n).sqrt();
        assert!(
            (v - var).abs() < 5.0 * se_v,
            "class {c}: Σ₀₀ = {v}, want {var}"
        );
    }
    let correct = (0..ds.len())
        .filter(|&j| {
            let pred = if ds.x[(0, j)] * ds.x[(1, j)] > 0.0 {
                0
            } else {
                1
            };
            pred == ds.labels[j]
        })
        .count() as f64
        / ds.len() as f64;
    let p = 0.5 * libm::erfc(1.0 / sigma / std::f64::consts::SQRT_2);
    let bayes = 1.0 - 2.0 * p * (1.0 - p);
    let se = (bayes * (1.0 - bayes) / ds.len() as f64).sqrt();
    assert!(
        (correct - bayes).abs() < 5.0 * se,
        "accuracy {correct}, Bayes {bayes}"
    );
}

/// Embedded and rotated XOR: Σ₀ − Σ₁ = Q·2(e₁e₂ᵀ + e₂e₁ᵀ)·Qᵀ has eigenvalues −2, 0, …, 0, +2.
#[test]
fn xor_rotation_keeps_the_class_difference_in_a_plane() {
    let d = 6;
    let cfg = XorConfig {
        dim: d,
        rotate: true,
        n_train: 40_000,
        n_test: 0,
        ..XorConfig::default()
    };
    let ds = cfg.generate().unwrap().train;
    let cov = |c: u32| {
        let x = class(&ds, c);
        let mu = mean(&x);
        Mat::from_fn(d, d, |a, b| central(&x, &mu, &[a, b]))
    };
    let diff = cov(0) - cov(1);
    let ev = diff.self_adjoint_eigen(Side::Lower).unwrap();
    let s: Vec<f64> = (0..d).map(|i| ev.S().column_vector()[i]).collect();
    // Entries of each Σ̂ have standard error ≤ E[x_a²x_b²]^{1/2}/√n_c ≤ √3·(1+σ²)/√n_c, so the
    // spectral error of the difference stays below d·2·5·that.
    let n_c = (ds.len() / 2) as f64;
    let tol = d as f64 * 2.0 * 5.0 * 3f64.sqrt() * (1.0 + 0.09) / n_c.sqrt();
    assert!((s[0] + 2.0).abs() < tol, "{s:?} (tol {tol})");
    assert!((s[d - 1] - 2.0).abs() < tol, "{s:?} (tol {tol})");
    for v in &s[1..d - 1] {
        assert!(v.abs() < tol, "{s:?} (tol {tol})");
    }
    // The rotation mixes the plane into every coordinate.
    let untouched = (2..d).all(|a| diff[(a, a)].abs() < tol / d as f64);
    assert!(
        !untouched,
        "rotation left the task plane in the first two coordinates"
    );
}

/// Moments of s = E − 1, E ~ Exp(1): E s³ = 2, E s⁴ = 9, E s⁶ = 265.
const EXP_M4: f64 = 9.0;
const EXP_M6: f64 = 265.0;

/// Equal μ and Σ for both classes (5 standard errors from the known 4th moments), opposite κ₃.
#[test]
fn higher_order_classes_share_mean_and_covariance_but_not_skewness() {
    let cfg = HigherOrderConfig {
        dim: 5,
        n_skewed: 2,
        shape: 1.0,
        rotate: false,
        n_train: 40_000,
        n_test: 0,
        seed: 3,
    };
    let ds = cfg.generate().unwrap().train;
    let m = cfg.n_skewed;
    let fourth = |i: usize| if i < m { EXP_M4 } else { 3.0 };
    let mut k3 = [[0.0; 2]; 2];
    for c in 0..2u32 {
        let x = class(&ds, c);
        let n = x.ncols() as f64;
        let mu = mean(&x);
        for (i, v) in mu.iter().enumerate() {
            assert!(v.abs() < 5.0 / n.sqrt(), "class {c} μ[{i}] = {v}");
        }
        for a in 0..cfg.dim {
            for b in 0..=a {
                let s = central(&x, &mu, &[a, b]);
                let (want, var) = if a == b {
                    (1.0, fourth(a) - 1.0)
                } else {
                    (0.0, 1.0)
                };
                assert!(
                    (s - want).abs() < 5.0 * (var / n).sqrt(),
                    "class {c} Σ[{a},{b}] = {s}"
                );
            }
        }
        for (i, slot) in k3[c as usize].iter_mut().enumerate() {
            *slot = central(&x, &mu, &[i, i, i]);
        }
        // Gaussian coordinates have no third cumulant (Var of z³ is 15).
        for i in m..cfg.dim {
            let k = central(&x, &mu, &[i, i, i]);
            assert!(k.abs() < 5.0 * (15.0 / n).sqrt(), "class {c} κ₃[{i}] = {k}");
        }
    }
    let n_c = (ds.len() / 2) as f64;
    let se = ((EXP_M6 - 4.0) / n_c).sqrt();
    for i in 0..m {
        assert!(
            (k3[0][i] - cfg.skewness()).abs() < 5.0 * se,
            "κ₃ class 0: {:?}",
            k3[0]
        );
        assert!(
            (k3[1][i] + cfg.skewness()).abs() < 5.0 * se,
            "κ₃ class 1: {:?}",
            k3[1]
        );
    }
}

/// The rotated task keeps μ = 0 and Σ = I. Every entry y_a y_b of a rotated sample has
/// E[y_a² y_b²] ≤ max_u E[(uᵀx)⁴] ≤ 9 (the exponential's fourth moment bounds all projections).
#[test]
fn higher_order_rotation_keeps_mean_and_covariance() {
    let cfg = HigherOrderConfig {
        n_train: 20_000,
        n_test: 10,
        ..HigherOrderConfig::default()
    };
    let split = cfg.generate().unwrap();
    assert_eq!(
        split.train.x,
        cfg.generate().unwrap().train.x,
        "deterministic"
    );
    assert_eq!(split.test.len(), 10);
    let ds = split.train;
    for c in 0..2u32 {
        let x = class(&ds, c);
        let n = x.ncols() as f64;
        let mu = mean(&x);
        for v in &mu {
            assert!(v.abs() < 5.0 / n.sqrt(), "class {c} μ = {mu:?}");
        }
        for a in 0..cfg.dim {
            for b in 0..=a {
                let s = central(&x, &mu, &[a, b]);
                let want = if a == b { 1.0 } else { 0.0 };
                assert!(
                    (s - want).abs() < 5.0 * (EXP_M4 / n).sqrt(),
                    "class {c} Σ[{a},{b}] = {s}"
                );
            }
        }
    }
    assert!(HigherOrderConfig {
        n_skewed: 11,
        ..cfg.clone()
    }
    .generate()
    .is_err());
    assert!(HigherOrderConfig { shape: 0.0, ..cfg }.generate().is_err());
}

/// The default task's Bayes classifier (k = 1, m = 3) reaches ≈ 0.90: the log-likelihood ratio of
/// a skewed coordinate t is −2t on (−1, 1), +∞ above 1 (only class 0) and −∞ below −1.
#[test]
fn higher_order_default_is_learnable_above_chance() {
    let cfg = HigherOrderConfig {
        rotate: false,
        n_train: 40_000,
        n_test: 0,
        ..HigherOrderConfig::default()
    };
    assert_eq!((cfg.shape, cfg.n_skewed), (1.0, 3));
    let ds = cfg.generate().unwrap().train;
    let llr = |t: f64| {
        if t > 1.0 {
            f64::INFINITY
        } else if t < -1.0 {
            f64::NEG_INFINITY
        } else {
            -2.0 * t
        }
    };
    let correct = (0..ds.len())
        .filter(|&j| {
            let l: f64 = (0..3).map(|i| llr(ds.x[(i, j)])).sum();
            (if l > 0.0 { 0 } else { 1 }) == ds.labels[j]
        })
        .count() as f64
        / ds.len() as f64;
    // Reference 0.8995 from an independent Monte Carlo with 4·10⁴ samples (its own SE ≈ 0.0015).
    let reference = 0.8995;
    let se = (2.0 * reference * (1.0 - reference) / ds.len() as f64).sqrt();
    assert!(
        (correct - reference).abs() < 5.0 * se,
        "Bayes accuracy {correct}"
    );
}
