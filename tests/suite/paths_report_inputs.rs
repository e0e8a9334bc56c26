//! A report folder is replaced as a whole, so `analyze --report R` must not be given a model
//! or data file that lies in R, nor write its `--out` model there (adv64): `--model
//! R/report.json` was replaced by the report's JSON and `--out R/report.json` lost the model
//! just written (both exit 0); `--out R/m.safetensors` trained, wrote the model, and only then
//! refused the folder that now held it.

use std::path::Path;

use super::common::{blobs, corrflow, train_data, train_tiny_xor, write_xy};

/// Runs `analyze` with `args` and asserts a refusal (exit 2) before any output whose message
/// names `folder` and holds `says`.
fn refused(args: &[&str], folder: &Path, says: &str) {
    let o = corrflow(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?}: output before the refusal");
    let want = format!("{}: holds {says}", folder.display());
    assert!(
        err.contains(&want) && err.contains("a report replaces the whole folder"),
        "{args:?}: {err}"
    );
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_report_folder_holding_the_run_s_model_or_data_is_refused_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("m.safetensors");
    train_tiny_xor(text(&model), "4");
    let bytes = std::fs::read(&model).unwrap();

    // The model read, under a report file's name in the report folder.
    let rep = d.join("rep");
    std::fs::create_dir(&rep).unwrap();
    let inside = rep.join("report.json");
    std::fs::write(&inside, &bytes).unwrap();
    let mc = ["--mc-samples", "1000"];
    refused(
        &[
            &["analyze", "--model", text(&inside), "--report", text(&rep)],
            &mc[..],
        ]
        .concat(),
        &rep,
        "the model (--model)",
    );
    assert_eq!(
        std::fs::read(&inside).unwrap(),
        bytes,
        "the model was replaced"
    );

    // The model written (`--out`), under a report file's name or another: refused before the
    // training, the folder left empty.
    let train = [
        "analyze",
        "--task",
        "xor",
        "--n-train",
        "200",
        "--epochs",
        "1",
    ];
    for name in ["report.json", "m.safetensors"] {
        let rep = d.join(format!("rep-{name}"));
        std::fs::create_dir(&rep).unwrap();
        let out = rep.join(name);
        let args = [
            &train[..],
            &["--out", text(&out), "--report", text(&rep)],
            &mc[..],
        ]
        .concat();
        refused(&args, &rep, "the model file to write (--out)");
        assert_eq!(
            std::fs::read_dir(&rep).unwrap().count(),
            0,
            "{name} written"
        );
    }

    // Data files that only the model's records name (no data flag given).
    let recorded = d.join("rep-data");
    std::fs::create_dir(&recorded).unwrap();
    let (x, y) = blobs(60, 2, 3, 64);
    let (xp, yp) = write_xy(d, "", &x, &y);
    let (xr, yr) = (recorded.join("report.json"), recorded.join("report.md"));
    std::fs::rename(&xp, &xr).unwrap();
    std::fs::rename(&yp, &yr).unwrap();
    let (xb, yb) = (std::fs::read(&xr).unwrap(), std::fs::read(&yr).unwrap());
    let m2 = d.join("m2.safetensors");
    let o = train_data(&xr, &yr, &m2).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    refused(
        &[
            &["analyze", "--model", text(&m2), "--report", text(&recorded)],
            &mc[..],
        ]
        .concat(),
        &recorded,
        "the training features (--train-x) as the model's records set it",
    );
    assert_eq!(
        std::fs::read(&xr).unwrap(),
        xb,
        "the features were replaced"
    );
    assert_eq!(std::fs::read(&yr).unwrap(), yb, "the labels were replaced");

    // A model beside the report folder, not in it, is no match.
    let beside = d.join("rep-beside");
    let o = corrflow(
        &[
            &[
                "analyze",
                "--model",
                text(&model),
                "--report",
                text(&beside),
            ],
            &mc[..],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(beside.join("report.json").is_file());
}
