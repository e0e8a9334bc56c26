//! adv36: refusals name the setting the user gave, not one they did not.

use super::common::{blobs, corrflow, write_xy};

/// stderr as text.
fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One-class test data from its own files: `analyze` names the test labels' file
/// (`--test-y`), not `--test-split`, which was not given (adv35); with `--test-split` cutting a
/// one-class set from the training file, that flag; with a one-class training set analysed
/// (`--on train`, its labels from `--train-y`), `--train-y`.
#[test]
fn one_class_analysed_data_names_the_labels_that_were_given() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = blobs(60, 3, 4, 2);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let one: Vec<i64> = vec![0; 60];
    let (ox, oy) = write_xy(dir.path(), "one-", &x, &one);
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let (xs, ys, oxs, oys) = (s(&xp), s(&yp), s(&ox), s(&oy));
    let cases: [(Vec<&str>, &str, &str); 2] = [
        (
            vec![
                "--train-x",
                &xs,
                "--train-y",
                &ys,
                "--test-x",
                &oxs,
                "--test-y",
                &oys,
            ],
            "--test-y",
            "--test-split",
        ),
        (
            vec![
                "--train-x",
                &oxs,
                "--train-y",
                &oys,
                "--test-x",
                &xs,
                "--test-y",
                &ys,
                "--on",
                "train",
                "--n-classes",
                "3",
            ],
            "--train-y",
            "--test-y",
        ),
    ];
    for (files, named, not) in cases {
        let args = [
            &["--threads", "1", "analyze", "--task", "data"][..],
            &files,
            &["--json"],
        ]
        .concat();
        let o = corrflow(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(
            e.contains(named) && !e.contains(not) && e.contains("samples of the"),
            "{args:?}: {e}"
        );
        assert!(o.stdout.is_empty());
    }
}
