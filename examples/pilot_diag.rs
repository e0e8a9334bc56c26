//! The diagnosis of EXPERIMENTS.md "The pilot's check against the report, thirty-first session
//! (nw31)": why the pilot's check and the report disagree.
//!
//! ```text
//! cargo run --release --example pilot_diag -- MODEL mnist|higher-order|xor ORDER FROM CLASS NSUB REPS
//! ```
//!
//! For class CLASS: the reported run's carried and Gaussian outputs (start: the test set's
//! class), their KL against the test set's measured output; the held-out check statistic of
//! those reported outputs against other draws (the training set; for the higher-order task also
//! fresh samples drawn after the test set from the same generator stream); the report's start
//! subsampled to NSUB samples REPS times (KL against the full test set); and the check on halves
//! of each set. Environment: FRESH (fresh samples drawn for the higher-order task, default
//! 10000), QUICK (stop after the reported outputs' tests). The carries of the check on halves
//! here keep their own breakdown limits (the pilot's follow the reported run's path).
//!
//! SWEEP=F1,F2,… (generated tasks; EXPERIMENTS.md "`--pilot fresh` on more networks,
//! thirty-second session (fresh32)"): after the report's line, the `--pilot fresh` check of the
//! reported outputs against the fresh samples n..n + F·n of the test stream (n the reported test
//! set's size, the CLI's samples at F = 4) for each F, then the *truth*: the same statistics and
//! the measured KL / covariance error of both outputs against TRUTH further samples drawn after
//! the largest F's (n + F_max·n onwards: independent of every check's draws).

use corrflow::config::defaults::task_defaults;
use corrflow::config::task::Task;
use corrflow::config::DataConfig;
use corrflow::data::preprocess::Scale;
use corrflow::data::Dataset;
use corrflow::measure::tensors::class_outputs;
use corrflow::measure::{layer_stats, propagate_carried, Higher, STATS_BATCH};
use corrflow::net::{model_io, Mlp, Stage};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::higher::pilot::{held_out_check, JudgedBy};
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::stats::gaussian::{kl_divergence, KL_RIDGE};
use corrflow::stats::{MomentAccumulator, Moments};
use corrflow::timing::Timings;
use faer::Mat;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

type R<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> R<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 7 {
        return Err(
            "usage: pilot_diag MODEL mnist|higher-order|xor ORDER FROM CLASS NSUB REPS".into(),
        );
    }
    let net = model_io::load(std::path::Path::new(&a[0]))?;
    let task = a[1].as_str();
    let order: usize = a[2].parse()?;
    let from: usize = a[3].parse()?;
    let class: usize = a[4].parse()?;
    let nsub: usize = a[5].parse()?;
    let reps: usize = a[6].parse()?;
    let mut cfg = DataConfig::default();
    let fresh_n: usize = std::env::var("FRESH").map_or(Ok(10_000), |v| v.parse())?;
    let sweep: Vec<usize> = match std::env::var("SWEEP") {
        Ok(v) => v.split(',').map(str::parse).collect::<Result<_, _>>()?,
        Err(_) => Vec::new(),
    };
    let truth_n: usize = std::env::var("TRUTH").map_or(Ok(0), |v| v.parse())?;
    let sweep_max = sweep.iter().copied().max().unwrap_or(0);
    // n: the reported test set's size (the task's default, as the CLI's).
    let n = match task {
        "mnist" => {
            cfg.task = Some(Task::Mnist);
            cfg.mnist_dir = Some(std::env::var("MNIST_DIR")?.into());
            cfg.scale = Some(Scale::Divide(255.0));
            0
        }
        "xor" | "higher-order" => {
            let t = if task == "xor" {
                Task::Xor
            } else {
                Task::HigherOrder
            };
            let n = task_defaults(t).n_train;
            cfg.task = Some(t);
            cfg.n_train = Some(n);
            cfg.n_test = Some(n + (sweep_max * n + truth_n).max(fresh_n));
            n
        }
        _ => return Err(format!("task {task}: expected mnist, higher-order or xor").into()),
    };
    let split = cfg.load()?.split;
    let train = only(&split.train, class, None);
    let (test, fresh) = if task == "mnist" {
        (only(&split.test, class, None), None)
    } else {
        (
            only(&range(&split.test, 0, n), class, None),
            Some(only(&range(&split.test, n, n + fresh_n), class, None)),
        )
    };
    println!(
        "class {class}: train {} test {} fresh {:?}",
        train.len(),
        test.len(),
        fresh.as_ref().map(Dataset::len)
    );
    let y_test = outputs(&net, &test)?;
    let y_train = outputs(&net, &train)?;
    let m_test = MomentAccumulator::of_one_class(y_test.as_ref(), false)?;
    let (k, g) = predict(&net, &test, from, order, class)?;
    let kl = |p: &Moments, q: &Moments| -> R<f64> {
        Ok(kl_divergence(
            (p.mean.as_ref(), p.cov.as_ref()),
            (q.mean.as_ref(), q.cov.as_ref()),
            KL_RIDGE,
        )?
        .value)
    };
    let cov = |p: &Moments, q: &Moments| (&q.cov - &p.cov).norm_l2() / p.cov.norm_l2();
    println!(
        "REPORT (start test, n {}): carried KL {:.4} cov {:.4} | gaussian KL {:.4} cov {:.4} | dKL {:+.4}",
        test.len(),
        kl(&m_test, &k)?,
        cov(&m_test, &k),
        kl(&m_test, &g)?,
        cov(&m_test, &g),
        kl(&m_test, &k)? - kl(&m_test, &g)?
    );
    let z = |k: &Moments, g: &Moments, y: &Mat<f64>| -> R<String> {
        let v = held_out_check(
            std::slice::from_ref(k),
            std::slice::from_ref(g),
            &[y.as_ref()],
            &[],
            JudgedBy::ALL,
        )?;
        Ok(format!(
            "z mean {:+.1} cov {:+.1} KL {:+.1} (kl_diff {:+.4}, {} draws)",
            v.mean_z, v.cov_z, v.kl_z, v.kl_diff, v.samples
        ))
    };
    if !sweep.is_empty() {
        for &f in &sweep {
            let d = only(&range(&split.test, n, n + f * n), class, None);
            let y = outputs(&net, &d)?;
            let worse = held_out_check(
                std::slice::from_ref(&k),
                std::slice::from_ref(&g),
                &[y.as_ref()],
                &[],
                JudgedBy::ALL,
            )?
            .worse;
            println!(
                "SWEEP {f} | {} | verdict {}",
                z(&k, &g, &y)?,
                if worse { "abandoned" } else { "kept" }
            );
        }
        let lo = n + sweep_max * n;
        let t = only(&range(&split.test, lo, lo + truth_n), class, None);
        let y_t = outputs(&net, &t)?;
        let m_t = MomentAccumulator::of_one_class(y_t.as_ref(), false)?;
        println!(
            "TRUTH samples {lo}..{} | {} | carried KL {:.4} cov {:.4} gaussian KL {:.4} cov {:.4}",
            lo + truth_n,
            z(&k, &g, &y_t)?,
            kl(&m_t, &k)?,
            cov(&m_t, &k),
            kl(&m_t, &g)?,
            cov(&m_t, &g)
        );
        return Ok(());
    }
    println!(
        "  reported outputs vs training draws (all {}): {}",
        train.len(),
        z(&k, &g, &y_train)?
    );
    let m_train = MomentAccumulator::of_one_class(y_train.as_ref(), false)?;
    println!(
        "  reported outputs vs training measured: carried KL {:.4} gaussian KL {:.4}",
        kl(&m_train, &k)?,
        kl(&m_train, &g)?
    );
    if let Some(f) = &fresh {
        let y_f = outputs(&net, f)?;
        let m_f = MomentAccumulator::of_one_class(y_f.as_ref(), false)?;
        println!(
            "  reported outputs vs fresh draws ({}): {}",
            f.len(),
            z(&k, &g, &y_f)?
        );
        println!(
            "  reported outputs vs fresh measured: carried KL {:.4} cov {:.4} gaussian KL {:.4} cov {:.4}",
            kl(&m_f, &k)?,
            cov(&m_f, &k),
            kl(&m_f, &g)?,
            cov(&m_f, &g)
        );
        if std::env::var("QUICK").is_ok() {
            return Ok(());
        }
        // Check on fresh halves (start one half, draws the other).
        for seed in 0..3u64 {
            let (s, d) = halves(f, seed);
            let (ks, gs) = predict(&net, &s, from, order, class)?;
            println!(
                "  check on fresh halves seed {seed}: {}",
                z(&ks, &gs, &outputs(&net, &d)?)?
            );
        }
        // The training start's outputs against fresh draws.
        let (kt, gt) = predict(&net, &train, from, order, class)?;
        println!(
            "  training start (n {}) vs fresh draws: {}",
            train.len(),
            z(&kt, &gt, &y_f)?
        );
    }
    if std::env::var("QUICK").is_ok() {
        return Ok(());
    }
    // Halves of each set, several shuffles.
    for (name, set) in [("training", &train), ("test", &test)] {
        for seed in 0..3u64 {
            let (s, d) = halves(set, seed);
            let (ks, gs) = predict(&net, &s, from, order, class)?;
            let yd = outputs(&net, &d)?;
            let md = MomentAccumulator::of_one_class(yd.as_ref(), false)?;
            println!(
                "  check on {name} halves seed {seed} ({} / {}): {}; KL vs draws half: carried {:.4} gaussian {:.4}",
                s.len(),
                d.len(),
                z(&ks, &gs, &yd)?,
                kl(&md, &ks)?,
                kl(&md, &gs)?
            );
        }
    }
    // The report's start subsampled to NSUB.
    let mut dk = Vec::new();
    for r in 0..reps {
        let mut idx: Vec<usize> = (0..test.len()).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(1000 + r as u64));
        let sub = only(&test, class, Some(&idx[..nsub]));
        let rest = only(&test, class, Some(&idx[nsub..]));
        let (ks, gs) = predict(&net, &sub, from, order, class)?;
        let d = kl(&m_test, &ks)? - kl(&m_test, &gs)?;
        dk.push(d);
        println!(
            "  test start subsample {r} (n {nsub}): vs full test carried KL {:.4} gaussian KL {:.4} dKL {:+.4}; vs the other {} test draws: {}",
            kl(&m_test, &ks)?,
            kl(&m_test, &gs)?,
            d,
            rest.len(),
            z(&ks, &gs, &outputs(&net, &rest)?)?
        );
    }
    if !dk.is_empty() {
        let pos = dk.iter().filter(|&&d| d > 0.0).count();
        let mean = dk.iter().sum::<f64>() / dk.len() as f64;
        println!(
            "  subsample dKL mean {mean:+.4}, carried worse in {pos} of {}",
            dk.len()
        );
    }
    Ok(())
}

/// Class `class`'s samples of `d` (of those at `idx` within the class, where given).
fn only(d: &Dataset, class: usize, idx: Option<&[usize]>) -> Dataset {
    let cols: Vec<usize> = (0..d.len())
        .filter(|&j| d.labels[j] as usize == class)
        .collect();
    let cols: Vec<usize> = match idx {
        Some(i) if d.labels.iter().all(|&l| l as usize == class) => i.to_vec(),
        Some(i) => i.iter().filter_map(|&k| cols.get(k).copied()).collect(),
        None => cols,
    };
    let x = Mat::from_fn(d.dim(), cols.len(), |i, k| d.x[(i, cols[k])]);
    Dataset {
        x,
        labels: vec![class as u32; cols.len()],
        n_classes: d.n_classes,
    }
}

/// Samples lo..hi of `d`.
fn range(d: &Dataset, lo: usize, hi: usize) -> Dataset {
    Dataset {
        x: Mat::from_fn(d.dim(), hi - lo, |i, k| d.x[(i, lo + k)]),
        labels: d.labels[lo..hi].to_vec(),
        n_classes: d.n_classes,
    }
}

/// A shuffled half split (start ⌈n/2⌉, draws the rest).
fn halves(d: &Dataset, seed: u64) -> (Dataset, Dataset) {
    let mut idx: Vec<usize> = (0..d.len()).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(77 + seed));
    let h = d.len().div_ceil(2);
    let c = d.labels[0] as usize;
    (only(d, c, Some(&idx[..h])), only(d, c, Some(&idx[h..])))
}

fn outputs(net: &Mlp, d: &Dataset) -> R<Mat<f64>> {
    let c = d.labels[0] as usize;
    Ok(class_outputs(net, d, STATS_BATCH)?.swap_remove(c))
}

/// The carried (guarded) and the Gaussian closure's outputs from `d`'s start.
fn predict(
    net: &Mlp,
    d: &Dataset,
    from: usize,
    order: usize,
    class: usize,
) -> R<(Moments, Moments)> {
    let stats = layer_stats(net, d, Higher::None, STATS_BATCH)?;
    let start = stats.get(Stage::start(from)).ok_or("no start")?;
    let k = start
        .classes
        .iter()
        .position(|&c| c == class)
        .ok_or("no class")?;
    let s = start.per_class[k].clone();
    let mut engine = Propagator::new();
    let t = Timings::disabled();
    let (stages, _) = propagate_carried(
        &mut engine,
        net,
        d,
        from,
        (std::slice::from_ref(&s), &[class]),
        (order, None),
        None,
        ClosureMethod::Auto,
        STATS_BATCH,
        &t,
    )?;
    let carried = stages.last().ok_or("no stage")?.f64_moments()?[0].clone();
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let g = engine.run(net, from, &[s], None, opts, &t)?;
    let gaussian = g.last().ok_or("no stage")?.f64_moments()?[0].clone();
    Ok((carried, gaussian))
}
