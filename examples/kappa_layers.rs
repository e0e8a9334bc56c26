//! Where order 3's description of a trained network departs from its data, layer by layer and
//! class by class (issue #16; EXPERIMENTS.md, "MNIST order 3, ninth session").
//!
//! ```text
//! cargo run --release --example kappa_layers -- MODEL MNIST_DIR [FOLDS]
//! cargo run --release --example kappa_layers -- scratch/qc-m48.safetensors /work/shared/mnist 10
//! ```
//!
//! **Moments per stage.** From each start layer l < L the measured class moments are propagated
//! by order 2, by order 3 carried from h^{l+1}'s measured κ₃ with its paired κ₄ only (its
//! κ₄\[a,a,a,b\], κ₄\[a,a,b,c\] at zero), by order 3 with those two classes measured as well,
//! and by order 4 (h^{l+1}'s full κ₄ measured). Printed per stage: the class mean of
//! ‖C − Ĉ‖_F / ‖Ĉ‖_F and of ‖m − m̂‖ / √tr Ĉ against the test set's Ĉ, m̂ (population
//! estimates), and at y per class.
//!
//! **κ₄ classes per stage.** The carried κ₄ classes are rebuilt from the same pieces as the
//! carry from x: z¹'s from the rule ([`ChaosRule::unpaired`]) on h¹'s measured moments, κ₃ and
//! κ₄ classes (with [a,a,a,b], [a,a,b,c] zero, or measured), and h²'s from z¹'s by the
//! carry's leading-order map ([`Unpaired4::affine`], [`affine_paired`] plus
//! [`Unpaired4::paired_image`]) or by the exact map of the same classes (every other entry of
//! z's κ₄ zero; [`affine_tensor`]); h²'s exact map of z¹'s measured classes too. Each is
//! compared with the classes measured at that stage ([`measure_third`]): the relative
//! Frobenius error of P = κ₄\[a,a,b,b\], T = κ₄\[a,a,a,b\] and D = κ₄\[a,a,b,c\]. The sampling
//! error of the measured classes is the standard error of the mean over FOLDS disjoint folds
//! (default 10) of each class's samples, ‖s.e.‖_F / ‖κ̂‖_F.

use std::path::Path;

use corrflow::data::mnist::MnistConfig;
use corrflow::data::Dataset;
use corrflow::measure::tensors::measure_tensors;
use corrflow::measure::{layer_stats, Higher};
use corrflow::net::{ForwardPass, Mlp, Stage};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::higher::affine::{affine_tensor, TensorAffineWorkspace};
use corrflow::propagate::higher::chaos::UnitChaos;
use corrflow::propagate::higher::closure::{ChaosRule, Input};
use corrflow::propagate::higher::paired::{affine_paired, Kappa4};
use corrflow::propagate::higher::sampled::{measure_paired, measure_third};
use corrflow::propagate::higher::tensor::SymTensor;
use corrflow::propagate::higher::triple4::Unpaired4;
use corrflow::propagate::higher::Carry;
use corrflow::propagate::{Predicted, PropagateOptions, Propagator};
use corrflow::timing::Timings;
use faer::{Col, Mat};

type Boxed = Box<dyn std::error::Error>;

/// The variants of the first table.
const VARIANTS: [&str; 4] = ["order 2", "3, paired only", "3, classes", "order 4"];

fn main() -> Result<(), Boxed> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: kappa_layers MODEL MNIST_DIR [FOLDS]".into());
    }
    let net = corrflow::net::model_io::load(Path::new(&args[0]))?;
    let data = MnistConfig::from_dir(&args[1]).load()?.split.test;
    let folds: usize = args.get(2).map_or(Ok(10), |s| s.parse())?;
    let samples = stage_samples(&net, &data);
    println!(
        "network {:?}, accuracy {:.4}, {} test images",
        net.widths(),
        net.accuracy(&data),
        data.len()
    );
    for from in 0..net.depth() {
        moments_table(&net, &data, &samples, from, "all test images")?;
    }
    let (even, odd) = halves(&data);
    let odd_samples = stage_samples(&net, &odd);
    for from in 0..net.depth() {
        let label = "fitted on the even-indexed test images, compared with the odd-indexed";
        moments_table(&net, &even, &odd_samples, from, label)?;
    }
    classes_table(&net, &samples, folds)?;
    closure_table(&net, &data, &samples)?;
    Ok(())
}

/// The samples of even and of odd index in `data`.
fn halves(data: &Dataset) -> (Dataset, Dataset) {
    let pick = |parity: usize| {
        let idx: Vec<usize> = (parity..data.len()).step_by(2).collect();
        Dataset {
            x: Mat::from_fn(data.x.nrows(), idx.len(), |i, k| data.x[(i, idx[k])]),
            labels: idx.iter().map(|&s| data.labels[s]).collect(),
            n_classes: data.n_classes,
        }
    };
    (pick(0), pick(1))
}

/// Per stage (h¹, z¹, …, y) and class, the samples as columns (units × n_c).
fn stage_samples(net: &Mlp, data: &Dataset) -> Vec<(Stage, Vec<Mat<f64>>)> {
    let mut stages = Vec::new();
    for l in 1..=net.depth() {
        stages.push(Stage::Pre(l));
        stages.push(Stage::Post(l));
    }
    stages.push(Stage::Output);
    let mut counts = vec![0usize; data.n_classes];
    for &l in &data.labels {
        counts[l as usize] += 1;
    }
    let width = |s: Stage| match s {
        Stage::Pre(l) | Stage::Post(l) => net.widths()[l],
        _ => *net.widths().last().unwrap_or(&0),
    };
    let mut out: Vec<(Stage, Vec<Mat<f64>>)> = stages
        .iter()
        .map(|&s| (s, counts.iter().map(|&n| Mat::zeros(width(s), n)).collect()))
        .collect();
    let batch = 1000.min(data.len());
    let mut filled = vec![0usize; data.n_classes];
    let mut fp = ForwardPass::new(net, batch);
    for start in (0..data.len()).step_by(batch) {
        let len = batch.min(data.len() - start);
        net.forward_into(data.x.as_ref().subcols(start, len), &mut fp);
        for (s, &label) in data.labels[start..start + len].iter().enumerate() {
            let c = label as usize;
            for (stage, per_class) in out.iter_mut() {
                let m = match *stage {
                    Stage::Pre(l) => fp.pre(l),
                    Stage::Post(l) => fp.post(l),
                    _ => fp.output(),
                };
                per_class[c].col_mut(filled[c]).copy_from(m.col(s));
            }
            filled[c] += 1;
        }
    }
    out
}

/// Population mean and covariance of the columns of `x`.
fn mean_cov(x: &Mat<f64>) -> (Col<f64>, Mat<f64>) {
    let (m, n) = (x.nrows(), x.ncols() as f64);
    let mean = Col::from_fn(m, |i| x.row(i).iter().sum::<f64>() / n);
    let d = Mat::from_fn(m, x.ncols(), |i, s| x[(i, s)] - mean[i]);
    (mean, &d * d.transpose() * (1.0 / n))
}

/// (‖C − Ĉ‖_F / ‖Ĉ‖_F, ‖m − m̂‖ / √tr Ĉ) of class `c` at a stage.
fn errors(p: &Predicted, c: usize, measured: &Mat<f64>) -> (f64, f64) {
    let (m, cov) = mean_cov(measured);
    let e_cov = (&*p.cov(c) - &cov).norm_l2() / cov.norm_l2();
    let trace: f64 = (0..cov.nrows()).map(|i| cov[(i, i)]).sum();
    (e_cov, (p.mean(c) - &m).norm_l2() / trace.sqrt())
}

/// The first table: every variant's errors per stage from start layer `from`, its start
/// measured on `data` and compared with `samples`.
fn moments_table(
    net: &Mlp,
    data: &Dataset,
    samples: &[(Stage, Vec<Mat<f64>>)],
    from: usize,
    label: &str,
) -> Result<(), Boxed> {
    let stats = layer_stats(net, data, Higher::None, 1024)?;
    let fit = stage_samples(net, data);
    let stage = if from == 0 {
        Stage::Input
    } else {
        Stage::Post(from)
    };
    let start = stats.get(stage).ok_or("no start statistics")?;
    let first = &fit[2 * from].1;
    let mut engine = Propagator::new();
    let t = &Timings::disabled();
    // runs[v][k]: variant v's stages for class k.
    let mut runs: Vec<Vec<Vec<Predicted>>> = vec![Vec::new(); VARIANTS.len()];
    for (k, moments) in start.per_class.iter().enumerate() {
        let one = std::slice::from_ref(moments);
        let h = first[start.classes[k]].as_ref();
        let options = PropagateOptions {
            method: ClosureMethod::Auto,
            corrections: Corrections::None,
        };
        runs[0].push(engine.run(net, from, one, None, options, t)?.to_vec());
        let tensors = || measure_tensors(h, 3);
        let carries = [
            Carry::from_first_pre(3, vec![tensors()?])?
                .with_first_paired(vec![measure_paired(h)?])?,
            Carry::from_first_pre(3, vec![tensors()?])?
                .with_first_unpaired(vec![measure_third(h)?.1])?,
            Carry::from_first_pre(4, vec![measure_tensors(h, 4)?])?,
        ];
        for (v, mut carry) in carries.into_iter().enumerate() {
            let run = engine.run_carried(net, from, one, &mut carry, ClosureMethod::Auto, t)?;
            runs[v + 1].push(run.to_vec());
        }
    }
    println!("\nfrom layer {from} ({label}): class mean of cov error / mean error per stage");
    println!("| stage | {} |", VARIANTS.join(" | "));
    println!("|---|{}", "---|".repeat(VARIANTS.len()));
    let n_stages = runs[0][0].len();
    for s in 0..n_stages {
        let stage = runs[0][0][s].stage;
        let measured = &samples
            .iter()
            .find(|(st, _)| *st == stage)
            .ok_or("stage")?
            .1;
        let cells: Vec<String> = runs
            .iter()
            .map(|per_class| {
                let (mut ec, mut em) = (0.0, 0.0);
                for (k, run) in per_class.iter().enumerate() {
                    let (c, m) = errors(&run[s], 0, &measured[start.classes[k]]);
                    ec += c;
                    em += m;
                }
                let n = per_class.len() as f64;
                format!("{:.4} / {:.4}", ec / n, em / n)
            })
            .collect();
        println!("| {stage:?} | {} |", cells.join(" | "));
    }
    println!("\nfrom layer {from} ({label}): output covariance error per class");
    println!("| class | {} |", VARIANTS.join(" | "));
    println!("|---|{}", "---|".repeat(VARIANTS.len()));
    let y = &samples.last().ok_or("no stages")?.1;
    for (k, &class) in start.classes.iter().enumerate() {
        let cells: Vec<String> = runs
            .iter()
            .map(|per_class| {
                let run = &per_class[k];
                format!("{:.4}", errors(&run[run.len() - 1], 0, &y[class]).0)
            })
            .collect();
        println!("| {class} | {} |", cells.join(" | "));
    }
    Ok(())
}

/// (P, T, D) of a κ₄'s classes as flat vectors: P\[a,b\] (all a, b), T\[a,b\] (a ≠ b) and
/// D\[a;b,c\] (a, b, c distinct).
fn classes(k: &dyn Kappa4, n: usize) -> [Vec<f64>; 3] {
    let mut out = [Vec::new(), Vec::new(), Vec::new()];
    for a in 0..n {
        for b in 0..n {
            out[0].push(k.get(&[a, a, b, b]));
            if a != b {
                out[1].push(k.get(&[a, a, a, b]));
                for c in 0..n {
                    if c != a && c != b {
                        out[2].push(k.get(&[a, a, b, c]));
                    }
                }
            }
        }
    }
    out
}

/// ‖x − y‖ / ‖y‖.
fn rel(x: &[f64], y: &[f64]) -> f64 {
    let d: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
    let n: f64 = y.iter().map(|b| b * b).sum();
    (d / n).sqrt()
}

/// The exact map W·κ of a κ₄ that is `u` on its classes and zero on four distinct units.
fn exact_map(w: &Mat<f64>, u: &Unpaired4) -> Result<SymTensor, Boxed> {
    let n = u.dim();
    let mut t = SymTensor::zeros(n, 4);
    for a in 0..n {
        for b in a..n {
            for c in b..n {
                for d in c..n {
                    t.set_sym(&[a, b, c, d], u.get(&[a, b, c, d]));
                }
            }
        }
    }
    let mut out = SymTensor::zeros(w.nrows(), 4);
    affine_tensor(
        w.as_ref(),
        &t,
        &mut out,
        &mut TensorAffineWorkspace::default(),
    )?;
    Ok(out)
}

/// Class `c`'s z¹ κ₄ classes from the rule on h¹'s measured moments, κ₃ and `k4`.
fn rule_z(
    h: &Mat<f64>,
    act: corrflow::net::Activation,
    k4: &dyn Kappa4,
) -> Result<Unpaired4, Boxed> {
    let (mean, cov) = mean_cov(h);
    let k3 = measure_tensors(h.as_ref(), 3)?.k3;
    let units: Vec<UnitChaos> = (0..h.nrows())
        .map(|i| UnitChaos::new(act, mean[i], cov[(i, i)].max(0.0).sqrt()))
        .collect();
    let input = Input {
        cov: &cov,
        k3: &k3,
        k4: Some(k4),
        units: &units,
    };
    let mut z3 = SymTensor::zeros(0, 3);
    Ok(ChaosRule::unpaired().tensors_unpaired(&input, &mut z3))
}

/// ‖s.e.‖_F / ‖κ̂‖_F of the classes measured from `folds` disjoint folds of `x`'s columns.
fn sampling_error(x: &Mat<f64>, folds: usize, full: &[Vec<f64>; 3]) -> Result<[f64; 3], Boxed> {
    let n = x.ncols() / folds;
    let parts: Vec<[Vec<f64>; 3]> = (0..folds)
        .map(|f| {
            let u = measure_third(x.as_ref().subcols(f * n, n))?.1;
            Ok(classes(&u, x.nrows()))
        })
        .collect::<Result<_, Boxed>>()?;
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut var = 0.0;
        for e in 0..full[k].len() {
            let m: f64 = parts.iter().map(|p| p[k][e]).sum::<f64>() / folds as f64;
            let s2: f64 = parts.iter().map(|p| (p[k][e] - m).powi(2)).sum::<f64>();
            // Variance of the mean over folds, scaled to the full sample (folds × n draws).
            var += s2 / (folds - 1) as f64 / folds as f64;
        }
        let norm: f64 = full[k].iter().map(|v| v * v).sum();
        *o = (var / norm).sqrt();
    }
    Ok(out)
}

/// The second table: the κ₄ classes of z¹ and h² (carry from x) against the measured ones.
fn classes_table(net: &Mlp, samples: &[(Stage, Vec<Mat<f64>>)], folds: usize) -> Result<(), Boxed> {
    if net.depth() < 2 {
        return Ok(());
    }
    let act = net.activation.at(1);
    let w2 = &net.layers[1].w;
    let (h1, z1, h2) = (&samples[0].1, &samples[1].1, &samples[2].1);
    println!(
        "\nκ₄ classes from x, relative error P / T / D against the measured ones (s.e.: \
         sampling error of the measured, {folds} folds)"
    );
    println!(
        "| class | h¹ s.e. | z¹ s.e. | z¹ rule, paired only | z¹ rule, classes | h² s.e. | \
         h² leading (classes) | h² exact (classes) | h² exact of measured z¹ classes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let f = |e: [f64; 3]| format!("{:.2} / {:.2} / {:.2}", e[0], e[1], e[2]);
    let cmp = |x: &[Vec<f64>; 3], y: &[Vec<f64>; 3]| {
        [rel(&x[0], &y[0]), rel(&x[1], &y[1]), rel(&x[2], &y[2])]
    };
    for c in 0..h1.len() {
        let (n1, n2) = (h1[c].nrows(), h2[c].nrows());
        let mh1 = measure_third(h1[c].as_ref())?.1;
        let mz1 = measure_third(z1[c].as_ref())?.1;
        let mh2 = measure_third(h2[c].as_ref())?.1;
        let (ch1, cz1, ch2) = (classes(&mh1, n1), classes(&mz1, n1), classes(&mh2, n2));
        let se = |x: &Mat<f64>, full| sampling_error(x, folds, full);
        let z_paired = rule_z(&h1[c], act, &mh1.paired)?;
        let z_classes = rule_z(&h1[c], act, &mh1)?;
        let leading = z_classes.map(w2.as_ref(), affine_paired(w2.as_ref(), &z_classes.paired));
        let exact = exact_map(w2, &z_classes)?;
        let exact_measured = exact_map(w2, &mz1)?;
        println!(
            "| {c} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f(se(&h1[c], &ch1)?),
            f(se(&z1[c], &cz1)?),
            f(cmp(&classes(&z_paired, n1), &cz1)),
            f(cmp(&classes(&z_classes, n1), &cz1)),
            f(se(&h2[c], &ch2)?),
            f(cmp(&classes(&leading, n2), &ch2)),
            f(cmp(&classes(&exact, n2), &ch2)),
            f(cmp(&classes(&exact_measured, n2), &ch2)),
        );
    }
    Ok(())
}

/// A κ₄ whose paired entries are `paired`'s and whose κ₄\[a,a,a,b\], κ₄\[a,a,b,c\] are
/// `other`'s.
fn mixed(paired: &Unpaired4, other: &dyn Kappa4) -> Unpaired4 {
    let n = paired.dim();
    let triple = Mat::from_fn(n, n, |a, b| other.get(&[a, a, a, b]));
    let mut by_double = vec![0.0; n * n * n];
    for a in 0..n {
        for c in 0..n {
            for b in 0..n {
                by_double[b + n * (c + n * a)] = other.get(&[a, a, b, c]);
            }
        }
    }
    Unpaired4::new(paired.paired.clone(), triple, by_double)
}

/// The classes of a dense κ₄ as the carry stores them.
struct Dense<'a>(&'a SymTensor);

impl Kappa4 for Dense<'_> {
    fn get(&self, idx: &[usize]) -> f64 {
        self.0.get(idx)
    }
}

/// The third table: layer 2's closure alone. From h²'s measured moments, κ₃ and paired κ₄,
/// z²'s covariance is the Gaussian closure's plus the rule's ΔC with h²'s κ₄\[a,a,a,b\],
/// κ₄\[a,a,b,c\] taken from: zero; the measured ones; the carry's leading-order map of the
/// z¹ classes the rule makes from x's measured h¹; the exact map of those; the exact map of
/// z¹'s measured classes. Printed per class: ‖C − Ĉ‖_F / ‖Ĉ‖_F at z² and at y (y = W³z² + b³).
fn closure_table(
    net: &Mlp,
    data: &Dataset,
    samples: &[(Stage, Vec<Mat<f64>>)],
) -> Result<(), Boxed> {
    if net.depth() != 2 {
        return Ok(());
    }
    let stats = layer_stats(net, data, Higher::None, 1024)?;
    let start = stats.get(Stage::Post(1)).ok_or("no z1 statistics")?;
    let mut engine = Propagator::new();
    let options = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let act = net.activation.at(2);
    let (w2, w3) = (&net.layers[1].w, &net.layers[2].w);
    let (h1, z1, h2) = (&samples[0].1, &samples[1].1, &samples[2].1);
    let (z2, y) = (&samples[3].1, &samples[4].1);
    let names = [
        "zero",
        "measured",
        "leading map of carried z¹",
        "exact map of carried z¹",
        "exact map of measured z¹ classes",
    ];
    println!("\nlayer 2's closure alone (from h²'s measured moments, κ₃, paired κ₄): z² / y covariance error by h²'s κ₄[a,a,a,b], κ₄[a,a,b,c]");
    println!("| class | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    let mut sums = vec![[0.0; 2]; names.len()];
    for (k, &c) in start.classes.iter().enumerate() {
        let one = std::slice::from_ref(&start.per_class[k]);
        let gauss = engine
            .run(net, 1, one, None, options, &Timings::disabled())?
            .to_vec();
        let gz = gauss[1].cov(0).into_owned();
        let (mean, cov) = mean_cov(&h2[c]);
        let k3 = measure_tensors(h2[c].as_ref(), 3)?.k3;
        let measured = measure_third(h2[c].as_ref())?.1;
        let z_carried = rule_z(
            &h1[c],
            net.activation.at(1),
            &measure_third(h1[c].as_ref())?.1,
        )?;
        let leading = z_carried.map(w2.as_ref(), affine_paired(w2.as_ref(), &z_carried.paired));
        let exact = exact_map(w2, &z_carried)?;
        let exact_measured = exact_map(w2, &measure_third(z1[c].as_ref())?.1)?;
        let n = h2[c].nrows();
        let variants = [
            Unpaired4::new(
                measured.paired.clone(),
                Mat::zeros(n, n),
                vec![0.0; n * n * n],
            ),
            measured.clone(),
            mixed(&measured, &leading),
            mixed(&measured, &Dense(&exact)),
            mixed(&measured, &Dense(&exact_measured)),
        ];
        let units: Vec<UnitChaos> = (0..n)
            .map(|i| UnitChaos::new(act, mean[i], cov[(i, i)].max(0.0).sqrt()))
            .collect();
        let (_, cz2) = mean_cov(&z2[c]);
        let (_, cy) = mean_cov(&y[c]);
        let mut cells = Vec::new();
        for (v, k4) in variants.iter().enumerate() {
            let input = Input {
                cov: &cov,
                k3: &k3,
                k4: Some(k4),
                units: &units,
            };
            let z = &gz + &ChaosRule::unpaired().increments(&input).cov;
            let yc = w3 * &z * w3.transpose();
            let e = [
                (&z - &cz2).norm_l2() / cz2.norm_l2(),
                (&yc - &cy).norm_l2() / cy.norm_l2(),
            ];
            sums[v][0] += e[0];
            sums[v][1] += e[1];
            cells.push(format!("{:.4} / {:.4}", e[0], e[1]));
        }
        println!("| {c} | {} |", cells.join(" | "));
    }
    let m = start.classes.len() as f64;
    let cells: Vec<String> = sums
        .iter()
        .map(|s| format!("{:.4} / {:.4}", s[0] / m, s[1] / m))
        .collect();
    println!("| mean | {} |", cells.join(" | "));
    Ok(())
}
