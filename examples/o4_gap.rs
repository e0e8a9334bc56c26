//! Where the factored order 4's covariance departs from the dense one-map's after one map
//! (issue #16; EXPERIMENTS.md, "… sixteenth session (o4cov)").
//!
//! ```text
//! cargo run --release --example o4_gap -- MODEL.safetensors…
//! ```
//!
//! For a network of two hidden layers from x ~ N(0, I) (ARC's benchmark, depth 2), h¹ is
//! Gaussian and z¹'s cumulants are the chaos rule's of a Gaussian h¹; h² = W² z¹ is the one
//! map. Two carries run: the dense order 4 with z¹'s κ₄ over four distinct units from the star
//! alone ([`Carry::with_distinct4`], `Distinct4::Star`: `arc_compare --kappa4 one-map-star`) —
//! the reference — and the factored order 4 ([`Carry::quartic`]: `--kappa4 factored`), whose
//! κ₄ over four distinct units is the same star imaged in h²'s slices, so that every
//! difference is one of the factored carry's own approximations.
//!
//! Printed per model: h²'s slices the closure reads, factored against dense, as
//! ‖X_f − X_d‖_F / ‖X_d‖_F split into the diagonal and the off-diagonal: S = κ₃\[i,i,j\],
//! P = κ₄\[i,i,j,j\], T = κ₄\[i,i,i,j\]. Then y's covariance increment ΔC_y = W³ ΔC W³ᵀ (ΔC the
//! rule's on h², [`ChaosRule::increments`]) with the dense slices, with one of the factored
//! ones put in their place (S, P off i = j, P on it, T), with all of them, and with the dense
//! slices under the factored rule ([`ChaosRule::quartic_factorable`]) instead of the dense
//! one ([`ChaosRule::new`]`(4)`): each as ‖ΔC_y − ΔC_y(dense)‖_F / ‖C_y‖_F, beside the two
//! runs' ‖C_y(factored) − C_y(dense)‖_F / ‖C_y‖_F. A piece whose swap reproduces the runs'
//! difference carries the gap.
//!
//! Up to width [`PIECES_MAX_WIDTH`], the pieces the factored h² still lacks, each computed
//! exactly from z¹'s dense tensors and added to the factored slices: κ₃'s dropped diagrams
//! over three distinct units (the covariance triangle), the dense rule's κ₄\[a,a,b,c\] less
//! the factored blocks' (cost-3 diagrams), those blocks' mixed positions in P (one a on row
//! i, one on row j; the factored order 4 adds them only with `Carry::with_mixed_paired`) and
//! the star's meetings of rows i and j; printed as the gap with each piece, and with every
//! piece but it. (P's second pairing and the blocks' mixed positions in T were two more
//! before the sixteenth session, which put them in the factored order 4; EXPERIMENTS.md.)

use std::path::Path;

use corrflow::net::{model_io, Mlp, Stage};
use corrflow::propagate::closures::ClosureMethod;
use corrflow::propagate::higher::chaos::UnitChaos;
use corrflow::propagate::higher::closure::{ChaosRule, Input};
use corrflow::propagate::higher::distinct4::{Distinct4, Distinct4Diagrams};
use corrflow::propagate::higher::quartic_star::QuarticStar;
use corrflow::propagate::higher::sliced::{affine_sliced, SliceWorkspace, Sliced};
use corrflow::propagate::higher::tensor::{SymTensor, ZeroKappa};
use corrflow::propagate::higher::Carry;
use corrflow::propagate::Propagator;
use corrflow::stats::Moments;
use corrflow::timing::Timings;
use corrflow::{Error, Result};
use faer::{Col, Mat, MatRef};

/// h² (its mean and covariance, and its slices `[S, P, T]` as the closure read them) and y of
/// one carried run from N(0, I).
struct Run {
    h2: Moments,
    slices: [Mat<f64>; 3],
    y: Moments,
}

/// Runs `carry` through `net` and returns h² (with its slices) and y.
fn run(net: &Mlp, mut carry: Carry) -> Result<Run> {
    let n = net.input_dim();
    let start = [Moments::gaussian(Col::zeros(n), Mat::identity(n, n))];
    let mut engine = Propagator::new();
    engine.run_carried(
        net,
        0,
        &start,
        &mut carry,
        ClosureMethod::Auto,
        &Timings::disabled(),
    )?;
    if let Some(f) = carry.fallback() {
        return Err(Error::Numeric(format!("the carry fell back: {}", f.reason)));
    }
    let stages = engine.take_stages();
    let find = |s: Stage| -> Result<Moments> {
        let p = (stages.iter().find(|p| p.stage == s))
            .ok_or_else(|| Error::Shape(format!("no stage {s:?}")))?;
        Ok(p.f64_moments()?[0].clone())
    };
    Ok(Run {
        h2: find(Stage::Pre(2))?,
        slices: (carry.last_slices(0))
            .ok_or_else(|| Error::Shape("the carry kept no slices of h²".into()))?,
        y: find(Stage::Output)?,
    })
}

/// ‖a − b‖_F / ‖b‖_F over the entries `keep(i, j)` selects.
fn rel(a: &Mat<f64>, b: &Mat<f64>, keep: impl Fn(usize, usize) -> bool) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for j in 0..b.ncols() {
        for i in (0..b.nrows()).filter(|&i| keep(i, j)) {
            num += (a[(i, j)] - b[(i, j)]).powi(2);
            den += b[(i, j)].powi(2);
        }
    }
    (num / den).sqrt()
}

/// `base` with the entries `take(i, j)` selects from `from`.
fn swap(base: &Mat<f64>, from: &Mat<f64>, take: impl Fn(usize, usize) -> bool) -> Mat<f64> {
    Mat::from_fn(base.nrows(), base.ncols(), |i, j| {
        if take(i, j) {
            from[(i, j)]
        } else {
            base[(i, j)]
        }
    })
}

/// y's covariance increment W ΔC Wᵀ from `rule`'s ΔC on h (mean and covariance of `h`, the
/// slices `[S, P, T]`).
fn y_increment(rule: &ChaosRule, net: &Mlp, h: &Moments, [s, p, t]: [Mat<f64>; 3]) -> Mat<f64> {
    let act = net.activation.at(1);
    let units: Vec<UnitChaos> = (0..h.dim())
        .map(|i| UnitChaos::new(act, h.mean[i], h.cov[(i, i)].max(0.0).sqrt()))
        .collect();
    let sliced = Sliced::new(s, Some((p, t)));
    let input = Input {
        cov: &h.cov,
        k3: &sliced,
        k4: Some(&sliced),
        units: &units,
    };
    let dc = rule.increments(&input).cov;
    let w = &net.layers[2].w;
    w * &dc * w.transpose()
}

fn report(model: &Path) -> Result<()> {
    let net = model_io::load(model)?;
    if net.depth() != 2 {
        return Err(Error::Shape(format!(
            "{}: {} hidden layers; the diagnostic is one map (2 hidden layers)",
            model.display(),
            net.depth()
        )));
    }
    let n = net.input_dim();
    let fresh = |order| Ok::<_, Error>(Carry::from_gaussian(order, n, 1)?.moments_only());
    let dense = run(&net, fresh(4)?.with_distinct4(Distinct4::Star)?)?;
    let fact = run(&net, fresh(3)?.factored()?.quartic()?)?;
    let cy = dense.y.cov.norm_l2();
    println!("{}", model.display());
    println!(
        "  h² mean/cov (factored vs dense): {:.2e} / {:.2e}; runs' C_y gap {:.4e}",
        (&fact.h2.mean - &dense.h2.mean).norm_l2() / dense.h2.mean.norm_l2(),
        (&fact.h2.cov - &dense.h2.cov).norm_l2() / dense.h2.cov.norm_l2(),
        (&fact.y.cov - &dense.y.cov).norm_l2() / cy
    );
    let (d, f) = (dense.slices, fact.slices);
    let diag = |i: usize, j: usize| i == j;
    let off = |i: usize, j: usize| i != j;
    for (k, name) in ["S = κ₃[i,i,j]", "P = κ₄[i,i,j,j]", "T = κ₄[i,i,i,j]"]
        .iter()
        .enumerate()
    {
        println!(
            "  {name}: diagonal {:.3e}, off it {:.3e} (dense ‖·‖_F {:.3e})",
            rel(&f[k], &d[k], diag),
            rel(&f[k], &d[k], off),
            d[k].norm_l2()
        );
    }
    let dense_rule = ChaosRule::new(4);
    let fact_rule = ChaosRule::quartic_factorable();
    let base = y_increment(&dense_rule, &net, &dense.h2, d.clone());
    let gap = |inc: Mat<f64>| (&inc - &base).norm_l2() / cy;
    let with = |k: usize, take: &dyn Fn(usize, usize) -> bool| {
        let mut s = d.clone();
        s[k] = swap(&d[k], &f[k], take);
        gap(y_increment(&dense_rule, &net, &dense.h2, s))
    };
    let all = |_: usize, _: usize| true;
    println!(
        "  ΔC_y gap, one factored piece in the dense slices: S {:.4e}, P off {:.4e}, P diag \
         {:.4e}, T {:.4e}; all {:.4e}; factored rule on dense slices {:.4e}",
        with(0, &all),
        with(1, &off),
        with(1, &diag),
        with(2, &all),
        gap(y_increment(&dense_rule, &net, &dense.h2, f.clone())),
        gap(y_increment(&fact_rule, &net, &dense.h2, d.clone())),
    );
    if n > PIECES_MAX_WIDTH {
        println!("  (pieces: only up to width {PIECES_MAX_WIDTH})");
        return Ok(());
    }
    let list = pieces(&net, &d)?;
    let plus = |add: &[&[Mat<f64>; 3]]| {
        let mut s = f.clone();
        for a in add {
            for k in 0..3 {
                s[k] += &a[k];
            }
        }
        gap(y_increment(&dense_rule, &net, &dense.h2, s))
    };
    let every: Vec<&[Mat<f64>; 3]> = list.iter().map(|(_, a)| a).collect();
    for (k, (name, add)) in list.iter().enumerate() {
        let others: Vec<&[Mat<f64>; 3]> = (every.iter().enumerate())
            .filter(|&(o, _)| o != k)
            .map(|(_, &a)| a)
            .collect();
        println!(
            "  {name}: factored + it {:.4e}, + every other piece {:.4e}",
            plus(&[add]),
            plus(&others)
        );
    }
    println!("  factored + every piece: ΔC_y gap {:.4e}", plus(&every));
    Ok(())
}

/// Widths up to which the pieces' exact images are formed (z¹'s dense κ₄, N⁴ numbers, and
/// one masked copy: 2 × 128 MiB at N = 64).
const PIECES_MAX_WIDTH: usize = 64;

/// The index pattern of a κ₄ entry: how many distinct units, and the largest multiplicity.
fn pattern(idx: [usize; 4]) -> (usize, usize) {
    let mut s = idx;
    s.sort_unstable();
    let (mut distinct, mut run, mut top) = (1, 1, 1);
    for k in 1..4 {
        if s[k] == s[k - 1] {
            run += 1;
        } else {
            distinct += 1;
            run = 1;
        }
        top = usize::max(top, run);
    }
    (distinct, top)
}

/// `k4`'s entries of one index pattern ([`pattern`]), the rest zero.
fn masked(k4: &SymTensor, keep: (usize, usize)) -> SymTensor {
    let n = k4.dim();
    let mut out = SymTensor::zeros(n, 4);
    for (f, (o, &v)) in out.data_mut().iter_mut().zip(k4.data()).enumerate() {
        let idx = [f % n, f / n % n, f / (n * n) % n, f / (n * n * n)];
        if pattern(idx) == keep {
            *o = v;
        }
    }
    out
}

/// The exact image of z's κ₄ `k4` (κ₃ `k3`) in h = W z's `[S, P, T]`.
fn image(w: MatRef<'_, f64>, k3: &SymTensor, k4: &SymTensor) -> [Mat<f64>; 3] {
    let s = affine_sliced(w, k3, Some(k4), &mut SliceWorkspace::default());
    let [p, _, t] = s.k4.expect("κ₄ slices were asked for");
    [s.k3_aab, p, t]
}

/// z¹'s κ₃[a,b,c] and κ₄[a,a,b,c] of the factored carry's rule and blocks at a Gaussian h¹
/// (`factored.rs`, `star4.rs`): κ₃'s stars, and κ₄'s cost-2 stars at a, b and c
/// s_a β_b β_c Σ_ab Σ_ac + 2α_a (γ_b β_c Σ_ab Σ_bc + γ_c β_b Σ_ac Σ_bc).
fn factored_z(input: &Input<'_>, n: usize) -> (SymTensor, SymTensor) {
    let mut k3 = SymTensor::zeros(n, 3);
    ChaosRule::quartic_factorable().tensors(input, &mut k3, None);
    let u = input.units;
    let (beta, gamma, alpha) = (
        |a: usize| u[a].b[1][1],
        |a: usize| u[a].b[1][2],
        |a: usize| u[a].b[2][1],
    );
    let s = |a: usize| 2.0 * (u[a].b[2][2] - beta(a) * beta(a));
    let c = input.cov;
    let mut q = SymTensor::zeros(n, 4);
    for a in 0..n {
        for b in 0..n {
            for d in b + 1..n {
                if a == b || a == d {
                    continue;
                }
                let v = s(a) * beta(b) * beta(d) * c[(a, b)] * c[(a, d)]
                    + 2.0
                        * alpha(a)
                        * (gamma(b) * beta(d) * c[(a, b)] * c[(b, d)]
                            + gamma(d) * beta(b) * c[(a, d)] * c[(b, d)]);
                q.set_sym(&[a, a, b, d], v);
            }
        }
    }
    (k3, q)
}

/// Off the diagonal, the mixed positions of z's κ₄[a,a,b,c] (`q`) in h's P that the
/// factored image leaves out unless asked (`Carry::with_mixed_paired`):
/// 4 Σ_a W_ia W_ja (W Q_a Wᵀ)_ij less that of the diagonal blocks (`kept(a)` over every b,
/// c, their values where indices meet included), whose split term the image keeps.
fn mixed(w: MatRef<'_, f64>, q: &SymTensor, kept: impl Fn(usize) -> Mat<f64>) -> Mat<f64> {
    let (m, n) = (w.nrows(), w.ncols());
    let mut p = Mat::zeros(m, m);
    for a in 0..n {
        let qa = Mat::from_fn(n, n, |b, c| q.get(&[a, a, b, c]));
        let sa = kept(a);
        let xs = w * (&qa - &sa) * w.transpose();
        for i in 0..m {
            for j in (0..m).filter(|&j| j != i) {
                p[(i, j)] += 4.0 * w[(i, a)] * w[(j, a)] * xs[(i, j)];
            }
        }
    }
    p
}

/// A named addition to h²'s `[S, P, T]`.
type Piece = (&'static str, [Mat<f64>; 3]);

/// The pieces the factored carry's h² lacks against the dense one-map's, each as an addition
/// to h²'s `[S, P, T]`, named; computed exactly from z¹'s dense tensors.
fn pieces(net: &Mlp, dense_slices: &[Mat<f64>; 3]) -> Result<Vec<Piece>> {
    let (l1, w) = (&net.layers[0], net.layers[1].w.as_ref());
    let (m, n) = (w.nrows(), w.ncols());
    let cov = &l1.w * l1.w.transpose();
    let act = net.activation.at(0);
    let units: Vec<UnitChaos> = (0..n)
        .map(|a| UnitChaos::new(act, l1.b[a], cov[(a, a)].max(0.0).sqrt()))
        .collect();
    let input = Input {
        cov: &cov,
        k3: &ZeroKappa,
        k4: Some(&ZeroKappa),
        units: &units,
    };
    let (mut k3, mut k4) = (SymTensor::zeros(n, 3), SymTensor::zeros(n, 4));
    ChaosRule::new(4).tensors(&input, &mut k3, Some(&mut k4));
    Distinct4Diagrams::new(Distinct4::Star).fill(&input, &mut k4);
    let whole = image(w, &k3, &k4);
    let (_, pf, tf) = ChaosRule::quartic_factorable().slices_unpaired(&input);
    println!(
        "  z¹'s P and T, factored rule vs dense: {:.1e}, {:.1e}",
        rel(
            &pf.0,
            &Mat::from_fn(n, n, |a, b| k4.get(&[a, a, b, b])),
            |_, _| true
        ),
        rel(
            &tf,
            &Mat::from_fn(n, n, |a, b| k4.get(&[a, a, a, b])),
            |a, b| a != b
        ),
    );
    println!(
        "  z¹ rebuilt: its exact image vs the dense run's h² slices: S {:.1e}, P {:.1e}, T {:.1e}",
        rel(&whole[0], &dense_slices[0], |_, _| true),
        rel(&whole[1], &dense_slices[1], |_, _| true),
        rel(&whole[2], &dense_slices[2], |_, _| true)
    );
    let zero3 = SymTensor::zeros(n, 3);
    let zeros = || Mat::zeros(m, m);
    // κ₃ over three distinct units: the dropped diagrams (triangle).
    let (k3f, qf) = factored_z(&input, n);
    let mut dk3 = k3.clone();
    for (d, f) in dk3.data_mut().iter_mut().zip(k3f.data()) {
        *d -= f;
    }
    let s3 = affine_sliced(w, &dk3, None, &mut SliceWorkspace::default()).k3_aab;
    // κ₄[a,a,b,c]: the dense rule's less the factored blocks', whole image.
    let qd = masked(&k4, (3, 2));
    let mut dq = qd.clone();
    for (d, f) in dq.data_mut().iter_mut().zip(qf.data()) {
        *d -= f;
    }
    println!(
        "  z¹'s κ₄[a,a,b,c]: factored blocks vs dense rule {:.3e}; κ₃ over distinct units: {:.3e}",
        (dq.data().iter().map(|x| x * x).sum::<f64>()
            / qd.data().iter().map(|x| x * x).sum::<f64>())
        .sqrt(),
        (dk3.data().iter().map(|x| x * x).sum::<f64>()
            / k3.data().iter().map(|x| x * x).sum::<f64>())
        .sqrt(),
    );
    let dq_img = image(w, &zero3, &dq);
    drop(dq);
    // The diagonal blocks the image keeps the split term of, at a, over every b, c: the star
    // at a's (b = c included) and the correction (I, I, −2Hᵀ) removing the blocks' values
    // where b or c is a (there the star at b's, 2α_a β_a γ_x Σ_ax², x the other unit).
    let kept = |a: usize| {
        let u = &units;
        let (alpha, beta, gamma) = (
            |x: usize| u[x].b[2][1],
            |x: usize| u[x].b[1][1],
            |x: usize| u[x].b[1][2],
        );
        let s = 2.0 * (u[a].b[2][2] - beta(a) * beta(a));
        let hollow = |x: usize| if x == a { 0.0 } else { cov[(a, x)] };
        let at_a = |x: usize| 2.0 * alpha(a) * beta(a) * gamma(x) * hollow(x) * hollow(x);
        Mat::from_fn(n, n, |b, c| {
            let corr = if b == a { at_a(c) } else { 0.0 } + if c == a { at_a(b) } else { 0.0 };
            s * beta(b) * beta(c) * hollow(b) * hollow(c) - corr
        })
    };
    let pmix = mixed(w, &qf, kept);
    drop(qd);
    // Four distinct units: the exact image less the star's (the meetings of rows i and j).
    let dz = masked(&k4, (4, 1));
    let d_img = image(w, &zero3, &dz);
    let (sp, st) = QuarticStar::new(&cov, &units).image(w);
    Ok(vec![
        ("κ₃ triangle", [s3, zeros(), zeros()]),
        ("κ₄[aabc] rule−blocks", dq_img),
        ("κ₄[aabc] mixed P", [zeros(), pmix, zeros()]),
        ("star meetings", [zeros(), &d_img[1] - &sp, &d_img[2] - &st]),
    ])
}

fn main() -> Result<()> {
    let models: Vec<String> = std::env::args().skip(1).collect();
    if models.is_empty() {
        return Err(Error::flag(
            "MODEL",
            "none given; usage: o4_gap MODEL.safetensors…",
        ));
    }
    for m in &models {
        report(Path::new(m))?;
    }
    Ok(())
}
