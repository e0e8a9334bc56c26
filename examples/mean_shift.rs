//! Real and expanded mean shifts of the first hidden layer (issue #16 item 6): how far the
//! Gram–Charlier corrected closure moves z¹'s mean from the Gaussian closure's, against how far
//! the class's real z¹ mean lies from it, in the correction bound's metric.
//!
//! For a trained model and each class c of its training set: h¹ = W¹x + b¹ has the class's
//! propagated moments (μ_h, Σ_h) and κ₃ slices measured from the class's samples, skew-capped,
//! exactly as the cumulant objective forms them at order 3 (`CumulantObjective`'s first layer);
//! its corrected closure gives z¹'s mean μ_G + Δμ_GC and, formed on the way, the Gaussian
//! closure's (μ_G, C_G). With B = C_G + εI = LLᵀ the correction bound's (ε = s·tr C_G/n,
//! s = `FLOOR_SHARE`) it prints
//!
//! ```text
//! m_GC   = ‖Δμ_GC‖_{B⁻¹}        = ‖L⁻¹Δμ_GC‖            (the expansion's mean shift)
//! m_real = ‖μ_meas − μ_G‖_{B⁻¹}                          (the real one: μ_meas = φ(h¹)'s class mean)
//! m_err  = ‖μ_G + Δμ_GC − μ_meas‖_{B⁻¹}                  (the corrected closure's error)
//! √χ²    = ‖κ̃₃‖/√3!  of the class's h¹ samples whitened by their covariance (pseudo-inverse)
//! ```
//!
//! For the Gram–Charlier density p = (1 + 𝒟_κ)p_G, Δμ = E_G[(p/p_G − 1)(φ(h) − μ_G)], so by
//! Cauchy–Schwarz ‖Δμ‖_{C_G⁻¹} ≤ √E_G[(p/p_G − 1)²] = √χ² (at order 3 with the full κ₃; the
//! closure reads κ₃'s diagonal for the mean, so with the skewness cap the bound is on the capped
//! tensor's). ‖κ̃₃‖² = Σ_ijk (E[y_i y_j y_k])² over the whitened centred samples y.
//!
//! With a correction bound (`α MEAN RULE` as `--correction-bound α --correction-bound-mean MEAN
//! --correction-bound-rule RULE`) it also prints where the covariance the objective propagates
//! stands against the measured one, C_meas (the class's z¹ samples' covariance, + εI alike):
//! the least generalized eigenvalue of (C, C_meas) for C = C_G (`v_G`), the corrected closure's
//! C_G + ΔC (`v_GC`) and the bounded one (`v_bd`): a value ≪ 1 is a direction in which the
//! closure's class is much narrower than the real one. And for every pair of classes (a, b), the
//! Mahalanobis distance between their means under the pooled covariance, the objective's
//! (bounded means and covariances) against the measured ones: d_obj / d_meas ≫ 1 is the closure
//! separating classes that the network does not (largest and smallest over the pairs); and
//! d_obj with the objective's covariances but the Gaussian closure's means (`d_G`, no mean
//! correction at all) or the measured means (`d_m`): whether the separation is the means' or
//! the covariances'. With a β after RULE, also `d_β`: with the means capped, μ_G +
//! min(1, β/m_GC)Δμ_GC (what a cap ‖Δμ‖_{B⁻¹} ≤ β on the mean's correction would give at these
//! weights).
//!
//! `cargo run --release --example mean_shift -- MODEL higher-order|mnist [α MEAN RULE [β]]` (MNIST
//! from `MNIST_DIR`, the data as `corrflow train` loads it by default).

use corrflow::config::{DataConfig, Task};
use corrflow::cumtrain::correction_bound::{BoundMean, BoundRule, CorrectionBound};
use corrflow::cumtrain::first_closure::check_activation;
use corrflow::cumtrain::first_layer::{ClassSamples, Slices};
use corrflow::cumtrain::spectral_floor::FLOOR_SHARE;
use corrflow::cumtrain::ClassStatistics;
use corrflow::linalg::gemm;
use corrflow::net::{kernels, model_io};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::ClosurePair;
use corrflow::stats::Moments;
use corrflow::{Error, Result};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Col, Mat, MatRef, Par, Side};

/// ‖L⁻¹v‖ for the lower Cholesky factor `l` of B.
fn b_norm(l: MatRef<'_, f64>, v: &Col<f64>) -> f64 {
    let mut x = Mat::from_fn(v.nrows(), 1, |i, _| v[i]);
    solve_lower_triangular_in_place(l, x.as_mut(), Par::Seq);
    (0..v.nrows())
        .map(|i| x[(i, 0)].powi(2))
        .sum::<f64>()
        .sqrt()
}

/// √χ² = ‖κ̃₃‖/√6 of the centred samples `d` (N × n), whitened by their covariance DDᵀ/n on
/// its range (eigenvalues above 10⁻¹² of the largest), and that rank.
fn sqrt_chi2(d: MatRef<'_, f64>) -> Result<(f64, usize)> {
    let (big_n, n) = (d.nrows(), d.ncols());
    let mut s = Mat::zeros(big_n, big_n);
    gemm(s.as_mut(), false, d, d.transpose(), 1.0 / n as f64);
    let evd = s
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::Numeric(format!("sample covariance: {e:?}")))?;
    let (vals, vecs) = (evd.S().column_vector(), evd.U());
    let top = (0..big_n).map(|i| vals[i]).fold(0.0, f64::max);
    let keep: Vec<usize> = (0..big_n).filter(|&i| vals[i] > 1e-12 * top).collect();
    let r = keep.len();
    // Y = Λ^{-1/2} Vᵀ D (r × n).
    let vt = Mat::from_fn(r, big_n, |a, i| vecs[(i, keep[a])] / vals[keep[a]].sqrt());
    let mut y = Mat::zeros(r, n);
    gemm(y.as_mut(), false, vt.as_ref(), d, 1.0);
    let mut total = 0.0;
    for i in 0..r {
        // κ̃[i, j, k] = Σ_s y_is y_js y_ks / n: (y_i ∘ Y) Yᵀ / n.
        let e = Mat::from_fn(r, n, |j, s| y[(i, s)] * y[(j, s)]);
        let mut k = Mat::zeros(r, r);
        gemm(k.as_mut(), false, e.as_ref(), y.transpose(), 1.0 / n as f64);
        total += (0..r)
            .flat_map(|j| (0..r).map(move |l| (j, l)))
            .map(|(j, l)| k[(j, l)].powi(2))
            .sum::<f64>();
    }
    Ok(((total / 6.0).sqrt(), r))
}

/// B = C + s·(tr C/n)·I, the bound's ridged matrix (s = `FLOOR_SHARE`).
fn ridged(c: MatRef<'_, f64>) -> Mat<f64> {
    let n = c.nrows();
    let eps = FLOOR_SHARE * (0..n).map(|i| c[(i, i)]).sum::<f64>().max(0.0) / n as f64;
    Mat::from_fn(n, n, |i, j| c[(i, j)] + if i == j { eps } else { 0.0 })
}

/// The least generalized eigenvalue of (A, B), B = LLᵀ positive definite: the least eigenvalue
/// of L⁻¹AL⁻ᵀ, with L⁻¹ formed once.
fn least_relative(a: MatRef<'_, f64>, l: MatRef<'_, f64>) -> Result<f64> {
    let n = a.nrows();
    let mut l_inv = Mat::<f64>::identity(n, n);
    solve_lower_triangular_in_place(l, l_inv.as_mut(), Par::Seq);
    let whitened = &l_inv * a * l_inv.transpose();
    let sym = Mat::from_fn(n, n, |i, j| 0.5 * (whitened[(i, j)] + whitened[(j, i)]));
    let s = sym
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::Numeric(format!("eigenvalues: {e:?}")))?;
    Ok(s.iter().copied().fold(f64::INFINITY, f64::min))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model), Some(task)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: mean_shift MODEL higher-order|mnist");
        std::process::exit(2);
    };
    let task: Task = corrflow::error::parse_value(task, corrflow::config::Field::Task)?;
    let bound = match (args.get(3), args.get(4), args.get(5)) {
        (Some(alpha), Some(mean), Some(rule)) => {
            let alpha: f64 = alpha
                .parse()
                .map_err(|_| Error::flag("α", format!("'{alpha}'")))?;
            let mean: BoundMean =
                corrflow::error::parse_value(mean, corrflow::config::Field::CorrectionBoundMean)?;
            let rule: BoundRule =
                corrflow::error::parse_value(rule, corrflow::config::Field::CorrectionBoundRule)?;
            Some((alpha, mean, rule))
        }
        _ => None,
    };
    let net = model_io::load(model.as_ref())?;
    let data = DataConfig {
        task: Some(task),
        mnist_dir: std::env::var_os("MNIST_DIR").map(Into::into),
        ..DataConfig::default()
    };
    let train = data.load()?.split.train;
    let stats = ClassStatistics::measure(&train)?;
    let means: Vec<Vec<f64>> = stats
        .per_class
        .iter()
        .map(|m| (0..m.dim()).map(|i| m.mean[i]).collect())
        .collect();
    let means: Vec<&[f64]> = means.iter().map(Vec::as_slice).collect();
    let samples = ClassSamples::gather(&train, &means);
    let closure = check_activation(&net, Corrections::K3)?;
    let pairs = ClosurePair::for_layers(&net, ClosureMethod::Auto, false)?;
    let (layer, phi) = (&net.layers[0], net.activation.at(0));
    println!(
        "{model}: {:?} {phi}, first layer, order 3, B = C_G + εI (s = {FLOOR_SHARE:e})",
        net.widths()
    );
    println!(
        "class  n_c    m_real   m_GC     m_err    √χ²      rank  capped  v_G      v_GC     v_bd"
    );
    // Per class the objective's bounded z¹ and the measured one, for the separations.
    let beta: Option<f64> = match args.get(6) {
        Some(b) => Some(b.parse().map_err(|_| Error::flag("β", format!("'{b}'")))?),
        None => None,
    };
    // (bounded z, measured z, μ_G, capped mean) per class.
    let mut pairs_of: Vec<(Moments, Moments, Col<f64>, Col<f64>)> = Vec::new();
    for (c, x) in stats.per_class.iter().enumerate() {
        let w = layer.w.as_ref();
        let big_n = w.nrows();
        // h = Wx + b exactly: μ_h = Wμ + b, Σ_h = WΣWᵀ.
        let mut mean = layer.b.clone();
        gemm(mean.as_mat_mut(), true, w, x.mean.as_mat(), 1.0);
        let mut ws = Mat::zeros(big_n, x.dim());
        gemm(ws.as_mut(), false, w, x.cov.as_ref(), 1.0);
        let mut cov = Mat::zeros(big_n, big_n);
        gemm(cov.as_mut(), false, ws.as_ref(), w.transpose(), 1.0);
        let mut h = Moments::gaussian(mean.clone(), cov);
        let centred = samples.centred[c].as_ref();
        let mut slices = Slices::measure(w, centred, false);
        let capped = if closure.caps_skewness() {
            slices.cap_skewness()
        } else {
            0
        };
        slices.attach(&mut h);
        let mut z = Moments::gaussian(Col::zeros(0), Mat::zeros(0, 0));
        let gauss = closure
            .forward(&*pairs[0].closure, &h, Corrections::K3, &mut z)?
            .ok_or_else(|| Error::Unsupported("no Gaussian closure formed on the way".into()))?;
        let llt = ridged(gauss.cov.as_ref())
            .llt(Side::Lower)
            .map_err(|e| Error::Numeric(format!("class {c}: B has no Cholesky factor: {e:?}")))?;
        let l = llt.L();
        // The class's z¹ samples: φ(D + μ_h), D = WX̃.
        let d = slices.centred();
        let n = d.ncols();
        let offset: Vec<f64> = (0..big_n).map(|i| mean[i]).collect();
        let mut zs = Mat::<f64>::zeros(big_n, n);
        let mut hs = vec![0.0; big_n];
        for s in 0..n {
            for i in 0..big_n {
                hs[i] = d[(i, s)];
            }
            kernels::bias_activation(phi, &mut hs, &offset, zs.col_as_slice_mut(s));
        }
        let measured = Col::from_fn(big_n, |i| {
            (0..n).map(|s| zs[(i, s)]).sum::<f64>() / n as f64
        });
        let zc = Mat::from_fn(big_n, n, |i, s| zs[(i, s)] - measured[i]);
        let mut c_meas = Mat::zeros(big_n, big_n);
        gemm(
            c_meas.as_mut(),
            false,
            zc.as_ref(),
            zc.transpose(),
            1.0 / n as f64,
        );
        let meas_llt = ridged(c_meas.as_ref())
            .llt(Side::Lower)
            .map_err(|e| Error::Numeric(format!("class {c}: C_meas + εI: {e:?}")))?;
        let lm = meas_llt.L();
        let d_gc = Col::from_fn(big_n, |i| z.mean[i] - gauss.mean[i]);
        let v_g = least_relative(gauss.cov.as_ref(), lm)?;
        let v_gc = least_relative(z.cov.as_ref(), lm)?;
        let v_bd = match bound {
            Some((alpha, mean, rule)) => {
                let bounded =
                    match CorrectionBound::apply(&gauss, &z, (alpha, FLOOR_SHARE), (mean, rule))? {
                        Some((bounded, _)) => bounded,
                        None => Moments::gaussian(z.mean.clone(), z.cov.clone()),
                    };
                let v = least_relative(bounded.cov.as_ref(), lm)?;
                let share = beta.map_or(1.0, |b| (b / b_norm(l, &d_gc)).min(1.0));
                let capped = Col::from_fn(big_n, |i| gauss.mean[i] + share * d_gc[i]);
                pairs_of.push((
                    bounded,
                    Moments::gaussian(measured.clone(), c_meas.clone()),
                    gauss.mean.clone(),
                    capped,
                ));
                v
            }
            None => f64::NAN,
        };
        let d_real = Col::from_fn(big_n, |i| measured[i] - gauss.mean[i]);
        let d_err = Col::from_fn(big_n, |i| z.mean[i] - measured[i]);
        let (chi, rank) = sqrt_chi2(d)?;
        println!(
            "{c:>5}  {n:<5}  {:<7.4}  {:<7.4}  {:<7.4}  {chi:<7.4}  {rank:<4}  {capped:<6}  \
             {v_g:<7.4}  {v_gc:<7.4}  {v_bd:<7.4}",
            b_norm(l, &d_real),
            b_norm(l, &d_gc),
            b_norm(l, &d_err),
        );
    }
    let mut ratios = Vec::new();
    for a in 0..pairs_of.len() {
        for b in a + 1..pairs_of.len() {
            type Pick = fn(&(Moments, Moments, Col<f64>, Col<f64>)) -> (&Moments, &Col<f64>);
            let distance = |pick: Pick| -> Result<f64> {
                let ((x, mx), (y, my)) = (pick(&pairs_of[a]), pick(&pairs_of[b]));
                let pooled = Mat::from_fn(x.dim(), x.dim(), |i, j| {
                    0.5 * (x.cov[(i, j)] + y.cov[(i, j)])
                });
                let llt = ridged(pooled.as_ref())
                    .llt(Side::Lower)
                    .map_err(|e| Error::Numeric(format!("pooled covariance: {e:?}")))?;
                let diff = Col::from_fn(x.dim(), |i| mx[i] - my[i]);
                Ok(b_norm(llt.L(), &diff))
            };
            let (d_obj, d_meas) = (
                distance(|p| (&p.0, &p.0.mean))?,
                distance(|p| (&p.1, &p.1.mean))?,
            );
            let d_g = distance(|p| (&p.0, &p.2))?;
            let d_m = distance(|p| (&p.0, &p.1.mean))?;
            let d_beta = distance(|p| (&p.0, &p.3))?;
            ratios.push((d_obj / d_meas, a, b, d_obj, d_meas, d_g, d_m, d_beta));
        }
    }
    ratios.sort_by(|x, y| x.0.total_cmp(&y.0));
    for (what, r) in [("smallest", ratios.first()), ("largest", ratios.last())] {
        if let Some((ratio, a, b, d_obj, d_meas, d_g, d_m, d_beta)) = r {
            println!(
                "separation d_obj/d_meas, {what}: classes {a}, {b}: {d_obj:.3} / {d_meas:.3} = \
                 {ratio:.3}  (d_G {d_g:.3}, d_m {d_m:.3}, d_β {d_beta:.3})"
            );
        }
    }
    Ok(())
}
