//! Training on the cumulant objective: XOR is solved from its class covariances alone; the
//! command line accepts `--objective` and refuses what the objective cannot do.

use crate::common::{corrflow, json};

use corrflow::config::defaults;
use corrflow::cumtrain::{train_cumulants, CheckSettings};
use corrflow::data::XorConfig;
use corrflow::net::model_io;
use corrflow::net::train::{Loss, Optimizer, TrainConfig};
use corrflow::net::{Activation, Mlp};

/// XOR's classes share their mean (0) and differ only in the sign of the input correlation:
/// a quadratic network trained on (μ_c, Σ_c) alone must classify real samples.
#[test]
fn cumulant_trained_xor_network_classifies_real_samples() {
    let split = XorConfig::default().generate().unwrap();
    let mut net = Mlp::init(&[2, 16, 2], Activation::Quadratic { alpha: 0.5 }, 1.0, 1).unwrap();
    let before = net.accuracy(&split.test);
    let cfg = TrainConfig {
        epochs: 20,
        batch: 64,
        lr: 1e-2,
        loss: Loss::Mse,
        optimizer: Optimizer::Adam,
        momentum: 0.9,
        seed: 0,
        precision: corrflow::net::Precision::F64,
    };
    let check = CheckSettings {
        weight: defaults::CLOSURE_CHECK,
        samples: defaults::CHECK_SAMPLES,
        order: defaults::ORDER,
        layers: None,
        bound: None,
        bound_mean: None,
        bound_rule: None,
        bound_reference: None,
    };
    let history = train_cumulants(&mut net, &split.train, &cfg, &check, |_, _| {}).unwrap();
    assert_eq!(history.len(), 20);
    assert!(
        history[19].loss < history[0].loss,
        "objective did not decrease"
    );
    let acc = net.accuracy(&split.test);
    println!("test accuracy {before:.3} → {acc:.4}");
    assert!(acc >= 0.95, "cumulant-trained XOR test accuracy {acc}");
}

#[test]
fn cli_trains_on_cumulants_and_writes_a_loadable_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cum.safetensors");
    let out = corrflow(&[
        "train",
        "--objective",
        "cumulants",
        "--epochs",
        "10",
        "--json",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["objective"], "cumulants");
    assert_eq!(
        report["config"]["closure_check"]["weight"],
        defaults::CLOSURE_CHECK
    );
    let last = &report["epochs"][9];
    let (closure, sampled) = (
        last["closure_loss"].as_f64().unwrap(),
        last["sampled_loss"].as_f64().unwrap(),
    );
    // J = max(L_C, S) step by step for λ = 1, so the epoch means satisfy J ≥ max(L_C, S).
    let j = last["loss"].as_f64().unwrap();
    assert!(
        j >= closure.max(sampled),
        "J {j}, L_C {closure}, S {sampled}"
    );
    let gaussian = &report["gaussian_model_loss"];
    let (lg, se) = (
        gaussian["loss"].as_f64().unwrap(),
        gaussian["stderr"].as_f64().unwrap(),
    );
    assert!(lg > 0.0 && se > 0.0 && se < 0.1 * lg, "{gaussian}");
    let acc = report["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.95, "test accuracy {acc}");
    let net = model_io::load(&model).unwrap();
    let split = XorConfig::default().generate().unwrap();
    assert_eq!(net.accuracy(&split.test), acc);
}

#[test]
fn cli_refuses_what_the_cumulant_objective_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("never.safetensors");
    let m = model.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["train", "--objective", "moments", "--out", m],
            "--objective",
        ),
        (
            &[
                "train",
                "--objective",
                "cumulants",
                "--loss",
                "ce",
                "--out",
                m,
            ],
            "--loss",
        ),
        (
            &["train", "--objective", "cumulants", "--lr=0", "--out", m],
            "--lr",
        ),
        (
            &[
                "train",
                "--objective",
                "cumulants",
                "--closure-check=-1",
                "--out",
                m,
            ],
            "--closure-check",
        ),
        (
            &[
                "train",
                "--objective",
                "cumulants",
                "--check-samples",
                "1",
                "--out",
                m,
            ],
            "--check-samples",
        ),
        (
            &["train", "--closure-check", "1", "--out", m],
            "--closure-check",
        ),
    ];
    for (args, needle) in cases {
        let out = corrflow(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!model.exists());
    }
}

/// `train --task xor --hidden 8 --activation quad:0.5 --epochs 1` with `extra` (words split
/// on whitespace) into a fresh folder's model: asserts exit 2 and no model, returns stderr.
fn refused_xor_training(extra: &str) -> String {
    refused_training(&format!(
        "--threads 1 train --task xor --hidden 8 --activation quad:0.5 --epochs 1 {extra}"
    ))
}

/// corrflow with the words of `line` and `--out` a fresh folder's model: asserts exit 2, no
/// model and nothing on stdout, returns stderr.
fn refused_training(line: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("never.safetensors");
    let mut args: Vec<&str> = line.split_whitespace().collect();
    args.extend(["--out", model.to_str().unwrap()]);
    let out = corrflow(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{line}: {err}");
    assert!(!model.exists() && out.stdout.is_empty(), "{line}");
    err
}

/// A λ so large that J = L_C + λ·max(0, S − L_C) or its gradient's squares (Adam's second moment)
/// leave f64's range is refused naming `--closure-check` and a λ that fits, under Adam and
/// SGD alike; old: "cumulant training diverged …; lower the learning rate", which no rate
/// cures (1e160 and 1e200: the run went on untrained under Adam, its second moment infinite;
/// adv47).
#[test]
fn a_closure_check_that_overflows_the_objective_is_named() {
    for (weight, optimizer) in [("1e308", "adam"), ("1e200", "adam"), ("1e200", "sgd")] {
        let extra = format!(
            "--objective cumulants --optimizer {optimizer} --lr 1e-30 --closure-check={weight}"
        );
        let err = refused_xor_training(&extra);
        assert!(
            err.contains("--closure-check")
                && (err.contains("expected a λ below") || err.contains("expected λ ≤")),
            "{extra}: {err}"
        );
        assert!(!err.contains("learning rate"), "{extra}: {err}");
    }
}

/// A λ beyond 2⁵³, where 1 + λ rounds to λ and the data term leaves J's gradient, is refused
/// naming `--closure-check` and the largest λ accepted; old: λ = 1e100 ran to exit 0 with the
/// network at chance (final loss 2.9e99; adv48a). λ = 2⁵³ itself is still accepted by the
/// settings' check.
#[test]
fn a_closure_check_beyond_two_to_the_53_is_refused() {
    let err = refused_xor_training("--objective cumulants --closure-check 1e100");
    assert!(
        err.contains("--closure-check") && err.contains("expected λ ≤ 9.0e15"),
        "{err}"
    );
    let check = |weight| CheckSettings {
        weight,
        samples: 64,
        order: 2,
        layers: None,
        bound: None,
        bound_mean: None,
        bound_rule: None,
        bound_reference: None,
    };
    assert!(check(9_007_199_254_740_992.0).validate().is_ok());
    assert!(check(1e16).validate().is_err());
}

/// A learning rate whose steps cannot move the weights (1e-300) is refused after the first
/// epoch naming --lr, under the cumulant objective as under the samples one; before that, a
/// run whose first step projects past 10 s (2·10⁹ full-batch steps here) says so on stderr.
/// Old: no word, and the run went on for 10⁷ epochs that changed nothing (adv48a).
#[test]
fn a_long_cumulant_training_warns_and_one_that_moves_nothing_is_refused() {
    let err = refused_training(
        "--threads 1 train --task xor --n-train 200 --batch 1 --hidden 8 --activation quad:0.5 \
         --objective cumulants --lr 1e-300 --epochs 10000000",
    );
    assert!(
        err.contains("first step took") && err.contains("2000000000 steps"),
        "{err}"
    );
    assert!(
        err.contains("--lr") && err.contains("bit-identical"),
        "{err}"
    );
}

/// One full-batch step per epoch reads "1 full-batch step" in the long-run warning (old: "(… of
/// 1 full-batch steps)", and "1 epochs" where one epoch; adv66). 10⁷ steps of any duration
/// above 1 µs project past the warning's 10 s.
#[test]
fn the_long_cumulant_training_warning_says_one_step_in_the_singular() {
    let err = refused_training(
        "--threads 1 train --task xor --n-train 200 --batch 200 --hidden 8 --activation quad:0.5 \
         --objective cumulants --lr 1e-300 --epochs 10000000",
    );
    assert!(
        err.contains("10000000 steps (10000000 epochs of 1 full-batch step)"),
        "{err}"
    );
}

/// `--optimizer sgd --gain 1e50` diverges at once; the message names the learning rate's
/// bound and, since the read-out's curvature is the square of inputs the initial weights
/// scale, `--gain` too (old: `--lr` alone; adv48a).
#[test]
fn an_sgd_divergence_from_a_huge_gain_names_the_gain() {
    let err = refused_xor_training("--optimizer sgd --gain 1e50");
    assert!(
        err.contains("--lr") && err.contains("a smaller --gain lowers it"),
        "{err}"
    );
}

/// A `--gain` whose first gradients exceed √(f64::MAX) (1e50 on XOR's quadratic network) is
/// refused at the first step naming --gain, under both objectives: their squares in Adam's
/// second moment are infinite, every step divides by ∞, and the run exited 0 with the untrained
/// network (final loss 1.5e300, accuracy 0.5; adv47).
#[test]
fn gradients_whose_squares_overflow_adams_moment_are_refused() {
    for objective in ["samples", "cumulants"] {
        let err = refused_xor_training(&format!("--objective {objective} --gain 1e50"));
        assert!(
            err.contains("second moment") && err.contains("--gain"),
            "{objective}: {err}"
        );
    }
}

/// Flags taken and ignored, or echoed in full digits (adv48a's probes): `--momentum` under
/// Adam (the default optimiser; it has none) and `--check-samples` with `--closure-check 0`
/// (no check to draw for) are refused naming the flag; `--optimizer sgd --momentum 1e300` is
/// refused in short (old: its 301 digits).
#[test]
fn flags_the_run_would_ignore_are_refused() {
    let err = refused_xor_training("--momentum 0.5");
    assert!(
        err.contains("--momentum") && err.contains("--optimizer sgd"),
        "{err}"
    );
    let err = refused_xor_training("--objective cumulants --closure-check 0 --check-samples 8");
    assert!(err.contains("--check-samples"), "{err}");
    let err = refused_xor_training("--optimizer sgd --momentum 1e300");
    assert!(
        err.contains("--momentum") && !err.contains("00000000000"),
        "{err}"
    );
}

/// `--corrected-layers` is refused naming itself where it means nothing: with the sample
/// objective, and at order 2 (the default), where every closure is Gaussian; an unknown value
/// gets clap's list of the values. Fails with either refusal removed (the run trains, exit 0).
#[test]
fn corrected_layers_is_refused_where_it_means_nothing() {
    let err = refused_xor_training("--corrected-layers all");
    assert!(
        err.contains("--corrected-layers") && err.contains("--objective samples"),
        "{err}"
    );
    for order in ["", "--order 2"] {
        let err = refused_xor_training(&format!(
            "--objective cumulants {order} --corrected-layers first"
        ));
        assert!(
            err.contains("--corrected-layers") && err.contains("--order 3 or 4"),
            "{err}"
        );
    }
    let err = refused_xor_training("--objective cumulants --order 3 --corrected-layers second");
    assert!(
        err.contains("--corrected-layers") && err.contains("first") && err.contains("all"),
        "{err}"
    );
}

/// The `unlearned` warning reads a cumulant epoch by its MSE estimate (the sampled check's S),
/// not by its objective J = L_C + λ·max(0, S − L_C) ≥ max(L_C, S) (λ ≥ 1): three healthy epochs
/// (S 1.23 → 1.01, below the untrained network's 1.31) were warned of as a collapse, "epoch 1
/// ended at a loss of 1.32e0, 1.0e0 times the untrained network's … expected a smaller --lr",
/// and λ = 10³ (J 45 for S 1.2, at chance) named `--lr`, which no rate cures, where the check's
/// weight is at fault (adv65). Since the guard is one-sided (sixty-sixth session) the erf runs
/// of adv65 no longer show it (their check rarely leads); the quadratic network does: at λ = 3
/// its first epoch's J (2.69) lies above the untrained network's loss (2.44), S (2.27) below.
/// The first run fails under `mse_estimate` → `epoch.loss`, the second under the `dominated`
/// test → `false`.
#[test]
fn the_unlearned_warning_reads_cumulant_epochs_by_their_mse_estimate() {
    let run = |lambda: &str| {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.safetensors");
        let line = format!(
            "--threads 1 train --task higher-order --n-train 1000 --hidden 8 --epochs 3 \
             --objective cumulants --order 3 --activation quad:0.5 --closure-check {lambda} --json"
        );
        let mut args: Vec<&str> = line.split_whitespace().collect();
        args.extend(["--out", model.to_str().unwrap()]);
        let out = corrflow(&args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (json(&out), err)
    };
    let (report, err) = run("3");
    assert!(
        report.get("unlearned").is_none() && !err.contains("learned nothing"),
        "λ = 3: {err}"
    );
    let (report, err) = run("1e3");
    let u = &report["unlearned"];
    assert_eq!(u["cause"], "closure_check", "{err}");
    let (j, s) = (
        u["objective"].as_f64().unwrap(),
        u["loss"].as_f64().unwrap(),
    );
    let last = &report["epochs"][2];
    assert_eq!(
        (j, s),
        (
            last["loss"].as_f64().unwrap(),
            last["sampled_loss"].as_f64().unwrap()
        )
    );
    assert!(j >= 10.0 * s, "J {j}, S {s}");
    assert!(
        err.contains("--closure-check 1 (the default") && !err.contains("--lr"),
        "{err}"
    );
}
