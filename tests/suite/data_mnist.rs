//! MNIST loading: split semantics on the generated fixtures, flag validation, and (when
//! `MNIST_DIR` is set) the real files.

use std::fs;
use std::path::{Path, PathBuf};

use corrflow::config::Field;
use corrflow::data::split::Sets;
use corrflow::data::{Mnist, MnistConfig, MnistFiles, MnistSource, TestSplit};
use corrflow::io::MemoryLimit;
use corrflow::Error;

/// The fixture directory written by `examples/make_fixtures.rs`.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx")
}

/// Pixel p of fixture image i (the generator's formula).
fn pixel(i: usize, p: usize) -> u8 {
    ((31 * i + 7 * p) % 256) as u8
}

/// A config on the fixtures with a private cache directory.
fn config(cache: &Path) -> MnistConfig {
    MnistConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..MnistConfig::from_dir(fixtures())
    }
}

/// Asserts column j of `m`'s set holds fixture image i with label i mod 10.
fn assert_sample(ds: &corrflow::data::Dataset, j: usize, i: usize) {
    assert_eq!(ds.labels[j], (i % 10) as u32, "label of column {j}");
    for p in 0..16 {
        assert_eq!(
            ds.x[(p, j)],
            f64::from(pixel(i, p)) / 255.0,
            "column {j} pixel {p}"
        );
    }
}

fn load(cfg: &MnistConfig) -> Mnist {
    cfg.load().unwrap()
}

#[test]
fn default_split_trains_on_train_and_tests_on_t10k() {
    let cache = tempfile::tempdir().unwrap();
    let m = load(&config(cache.path()));
    assert_eq!(m.image_shape, (4, 4));
    let (tr, te) = (&m.split.train, &m.split.test);
    assert_eq!((tr.dim(), tr.len(), te.dim(), te.len()), (16, 20, 16, 10));
    assert_eq!((tr.n_classes, te.n_classes), (10, 10));
    for j in 0..20 {
        assert_sample(tr, j, j);
    }
    for j in 0..10 {
        assert_sample(te, j, j);
    }
    assert!(
        m.provenance.contains("t10k-images-idx3-ubyte.gz[0..10]"),
        "{}",
        m.provenance
    );
}

/// `Sets::TestPixels` keeps the test set as its bytes (no f64 matrix), and every sample read
/// through `test_labelled` is the fixture image /255 bit for bit, whole or by ranges, under a
/// test split too; with `Sets::Test` the f64 matrix is assembled and there are no bytes.
#[test]
fn test_pixels_read_as_the_assembled_values() {
    let cache = tempfile::tempdir().unwrap();
    for (split, first) in [(None, 0), (Some("6:9"), 6)] {
        let cfg = MnistConfig {
            test_split: split.map(|s| s.parse().unwrap()),
            ..config(cache.path())
        };
        let f64s = cfg
            .load_sets_limited(MemoryLimit::default(), Sets::Test)
            .unwrap();
        assert!(f64s.split.test_pixels.is_none());
        let m = cfg
            .load_sets_limited(MemoryLimit::default(), Sets::TestPixels)
            .unwrap();
        let (te, p) = (&m.split.test, m.split.test_labelled());
        assert_eq!((te.dim(), te.x.ncols()), (16, 0));
        assert_eq!((p.dim(), p.len(), p.labels), (16, te.len(), &te.labels[..]));
        assert_eq!(p.labels, &f64s.split.test.labels[..]);
        let n = p.len();
        let mut got = faer::Mat::<f64>::zeros(16, n);
        p.gather((0..n).rev(), got.as_mut());
        for j in 0..n {
            for q in 0..16 {
                let want = f64::from(pixel(first + n - 1 - j, q)) / 255.0;
                assert_eq!(
                    got[(q, j)].to_bits(),
                    want.to_bits(),
                    "sample {j} pixel {q}"
                );
            }
        }
        let mut buf = faer::Mat::new();
        assert_eq!(
            p.range(1, 2, &mut buf),
            f64s.split.test.x.as_ref().subcols(1, 2)
        );
        assert_eq!(m.provenance, f64s.provenance);
    }
}

#[test]
fn split_of_the_test_file_moves_the_rest_into_training() {
    let cache = tempfile::tempdir().unwrap();
    let cfg = MnistConfig {
        test_split: Some("6:9".parse().unwrap()),
        ..config(cache.path())
    };
    let m = load(&cfg);
    let (tr, te) = (&m.split.train, &m.split.test);
    // train = train[0..20] + t10k[0..6] + t10k[9..10]; test = t10k[6..9].
    assert_eq!((tr.len(), te.len()), (27, 3));
    let train_order: Vec<usize> = (0..20).chain(0..6).chain(9..10).collect();
    for (j, &i) in train_order.iter().enumerate() {
        assert_sample(tr, j, i);
    }
    for j in 0..3 {
        assert_sample(te, j, 6 + j);
    }
}

#[test]
fn split_of_a_single_file_when_no_test_file_is_given() {
    let cache = tempfile::tempdir().unwrap();
    let files = MnistFiles {
        train_images: fixtures().join("train-images-idx3-ubyte"),
        train_labels: fixtures().join("train-labels-idx1-ubyte"),
        test_images: None,
        test_labels: None,
    };
    let mut cfg = MnistConfig {
        source: MnistSource::Files(files),
        ..config(cache.path())
    };
    let e = cfg.load().unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            Error::Config {
                field: Field::TestSplit,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        msg.contains("data.test_split") && msg.contains("20 samples"),
        "{msg}"
    );
    cfg.test_split = Some(TestSplit::new(15, 20).unwrap());
    let m = load(&cfg);
    assert_eq!((m.split.train.len(), m.split.test.len()), (15, 5));
    for j in 0..15 {
        assert_sample(&m.split.train, j, j);
    }
    for j in 0..5 {
        assert_sample(&m.split.test, j, 15 + j);
    }
    cfg.test_split = Some(TestSplit::new(0, 20).unwrap());
    let msg = cfg.load().unwrap_err().to_string();
    assert!(msg.contains("no training samples"), "{msg}");
}

#[test]
fn test_split_parsing_and_range_errors() {
    for bad in ["abc", "5", "a:3", "3:b", "-1:4", "10:5", "5:5", ""] {
        let e = bad.parse::<TestSplit>().unwrap_err();
        assert!(
            matches!(
                e,
                Error::Config {
                    field: Field::TestSplit,
                    ..
                }
            ),
            "{bad}: {e:?}"
        );
        assert!(e.to_string().contains("data.test_split"), "{e}");
    }
    assert_eq!(
        " 5000 : 10000".parse::<TestSplit>().unwrap(),
        TestSplit {
            from: 5000,
            to: 10000
        }
    );
    let cache = tempfile::tempdir().unwrap();
    let cfg = MnistConfig {
        test_split: Some("5:11".parse().unwrap()),
        ..config(cache.path())
    };
    let msg = cfg.load().unwrap_err().to_string();
    assert!(
        msg.contains("t10k-images-idx3-ubyte.gz") && msg.contains("10 samples"),
        "{msg}"
    );
}

#[test]
fn limit_spreads_samples_evenly() {
    let cache = tempfile::tempdir().unwrap();
    let cfg = MnistConfig {
        limit: Some(8),
        ..config(cache.path())
    };
    let m = load(&cfg);
    assert_eq!((m.split.train.len(), m.split.test.len()), (8, 10));
    // floor(i·20/8) = 0, 2, 5, 7, 10, 12, 15, 17.
    for (j, i) in [0, 2, 5, 7, 10, 12, 15, 17].into_iter().enumerate() {
        assert_sample(&m.split.train, j, i);
    }
    let cfg = MnistConfig {
        limit: Some(0),
        ..config(cache.path())
    };
    assert!(matches!(
        cfg.load(),
        Err(Error::Config {
            field: Field::TrainLimit,
            ..
        })
    ));
}

#[test]
fn centring_subtracts_the_training_mean() {
    let cache = tempfile::tempdir().unwrap();
    let plain = load(&config(cache.path()));
    let centred = load(&MnistConfig {
        center: true,
        ..config(cache.path())
    });
    let (n, d) = (plain.split.train.len(), 16);
    for p in 0..d {
        let mean: f64 = (0..n).map(|j| plain.split.train.x[(p, j)]).sum::<f64>() / n as f64;
        let centred_mean: f64 =
            (0..n).map(|j| centred.split.train.x[(p, j)]).sum::<f64>() / n as f64;
        assert!(centred_mean.abs() < 1e-15, "pixel {p}: {centred_mean}");
        for j in 0..plain.split.test.len() {
            let want = plain.split.test.x[(p, j)] - mean;
            assert!((centred.split.test.x[(p, j)] - want).abs() < 1e-15);
        }
    }
}

#[test]
fn directory_lookup_accepts_train5k_and_lists_names() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cfg = MnistConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..MnistConfig::from_dir(dir.path())
    };
    let msg = cfg.load().unwrap_err().to_string();
    assert!(
        msg.contains("train-images-idx3-ubyte[.gz]")
            && msg.contains("train5k-images-idx3-ubyte[.gz]"),
        "{msg}"
    );
    for (from, to) in [
        ("train-images-idx3-ubyte", "train5k-images-idx3-ubyte"),
        ("train-labels-idx1-ubyte", "train5k-labels-idx1-ubyte"),
        ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"),
    ] {
        fs::copy(fixtures().join(from), dir.path().join(to)).unwrap();
    }
    // t10k labels missing while t10k images exist: named in the error.
    let msg = cfg.load().unwrap_err().to_string();
    assert!(msg.contains("t10k-labels-idx1-ubyte[.gz]"), "{msg}");
    fs::copy(
        fixtures().join("t10k-labels-idx1-ubyte.gz"),
        dir.path().join("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let m = load(&cfg);
    assert_eq!((m.split.train.len(), m.split.test.len()), (20, 10));
    assert!(
        m.provenance.contains("train5k-images-idx3-ubyte"),
        "{}",
        m.provenance
    );
}

#[test]
fn explicit_files_need_both_test_files_and_matching_shapes() {
    let cache = tempfile::tempdir().unwrap();
    let files = MnistFiles {
        train_images: fixtures().join("train-images-idx3-ubyte"),
        train_labels: fixtures().join("train-labels-idx1-ubyte"),
        test_images: Some(fixtures().join("t10k-images-idx3-ubyte.gz")),
        test_labels: None,
    };
    let cfg = MnistConfig {
        source: MnistSource::Files(files.clone()),
        ..config(cache.path())
    };
    let msg = cfg.load().unwrap_err().to_string();
    assert!(
        msg.contains("data.test_images") && msg.contains("test labels"),
        "{msg}"
    );
    // Test images of another shape (2 × 8 instead of 4 × 4).
    let other = tempfile::tempdir().unwrap();
    let img = other.path().join("img");
    let lab = other.path().join("lab");
    corrflow::data::write_idx_u8(&img, &[3, 2, 8], &[0; 48]).unwrap();
    corrflow::data::write_idx_u8(&lab, &[3], &[0, 1, 2]).unwrap();
    let cfg = MnistConfig {
        source: MnistSource::Files(MnistFiles {
            test_images: Some(img.clone()),
            test_labels: Some(lab),
            ..files
        }),
        ..config(cache.path())
    };
    let msg = cfg.load().unwrap_err().to_string();
    assert!(
        msg.contains(&img.display().to_string()) && msg.contains("(2, 8)"),
        "{msg}"
    );
}

/// The real MNIST files of `MNIST_DIR` (skipped with a note when unset or missing).
#[test]
fn real_mnist_when_available() {
    let Some(dir) = std::env::var_os("MNIST_DIR").map(PathBuf::from) else {
        eprintln!("note: MNIST_DIR not set; skipping the real-MNIST test");
        return;
    };
    if !dir.join("t10k-images-idx3-ubyte.gz").is_file()
        && !dir.join("t10k-images-idx3-ubyte").is_file()
    {
        eprintln!(
            "note: no t10k files in {}; skipping the real-MNIST test",
            dir.display()
        );
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let m = load(&MnistConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..MnistConfig::from_dir(&dir)
    });
    assert_eq!(m.image_shape, (28, 28));
    let (tr, te) = (&m.split.train, &m.split.test);
    assert_eq!((te.len(), te.dim()), (10_000, 784));
    let counts = |ds: &corrflow::data::Dataset| {
        let mut c = [0usize; 10];
        for &l in &ds.labels {
            c[l as usize] += 1;
        }
        c
    };
    let ct = counts(te);
    assert_eq!(ct.iter().sum::<usize>(), 10_000);
    // Official t10k class counts.
    assert_eq!(ct, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    if m.provenance.contains("train5k") {
        assert_eq!(tr.len(), 5000);
        assert_eq!(counts(tr), [500; 10]);
    }
    for ds in [tr, te] {
        let (lo, hi) = (0..ds.len())
            .flat_map(|j| ds.x.col_as_slice(j).iter().copied())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        assert_eq!((lo, hi), (0.0, 1.0));
    }
    // Run (b): train5k + t10k[0..5000], test t10k[5000..10000].
    let b = load(&MnistConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..b_config(&dir)
    });
    assert_eq!(b.split.test.len(), 5000);
    assert_eq!(b.split.train.len(), tr.len() + 5000);
    assert_eq!(b.split.test.labels[..], te.labels[5000..]);
    // The test set alone (`--on test`): the same test matrix bit for bit (assembled in many
    // parallel chunks), the same provenance, a d × 0 training set; run (b)'s split likewise.
    for (cfg, whole) in [(MnistConfig::from_dir(&dir), &m), (b_config(&dir), &b)] {
        let cfg = MnistConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            ..cfg
        };
        let only = cfg
            .load_sets_limited(MemoryLimit::default(), Sets::Test)
            .unwrap();
        let (t, w) = (&only.split.test, &whole.split.test);
        assert_eq!((t.labels.len(), t.dim()), (w.labels.len(), w.dim()));
        assert_eq!(t.labels, w.labels);
        assert!((0..w.len()).all(|j| t.x.col_as_slice(j) == w.x.col_as_slice(j)));
        assert_eq!((only.split.train.len(), only.split.train.dim()), (0, 784));
        assert_eq!(only.provenance, whole.provenance);
        assert!(only.split.test_pixels.is_none());
        // Kept as pixel bytes (`analyze`): no f64 matrix, and every sample read through
        // `test_labelled` is the assembled column bit for bit.
        let pixels = cfg
            .load_sets_limited(MemoryLimit::default(), Sets::TestPixels)
            .unwrap();
        let p = pixels.split.test_labelled();
        assert_eq!(pixels.split.test.x.ncols(), 0);
        assert_eq!((p.len(), p.dim(), p.labels), (w.len(), 784, &w.labels[..]));
        let mut got = faer::Mat::<f64>::zeros(784, w.len());
        p.gather(0..w.len(), got.as_mut());
        assert!((0..w.len()).all(|j| got.col_as_slice(j) == w.x.col_as_slice(j)));
        let mut buf = faer::Mat::new();
        assert_eq!(p.range(7, 3, &mut buf), w.x.as_ref().subcols(7, 3));
        assert_eq!(pixels.provenance, whole.provenance);
    }
    // Centring needs the training mean: both sets are assembled.
    let centred = MnistConfig {
        center: true,
        cache_dir: Some(cache.path().to_path_buf()),
        ..MnistConfig::from_dir(&dir)
    };
    let both = centred.load().unwrap();
    let only = centred
        .load_sets_limited(MemoryLimit::default(), Sets::Test)
        .unwrap();
    assert_eq!(only.split.train.len(), tr.len());
    assert!((0..te.len())
        .all(|j| only.split.test.x.col_as_slice(j) == both.split.test.x.col_as_slice(j)));
    // ... and no pixel bytes: centring rewrites the values.
    let centred_pixels = centred
        .load_sets_limited(MemoryLimit::default(), Sets::TestPixels)
        .unwrap();
    assert!(centred_pixels.split.test_pixels.is_none());
    assert_eq!(centred_pixels.split.test.x.ncols(), te.len());
}

/// Run (b)'s configuration on `dir`: t10k\[5000..10000\] tested, the rest joins training.
fn b_config(dir: &Path) -> MnistConfig {
    MnistConfig {
        test_split: Some("5000:10000".parse().unwrap()),
        ..MnistConfig::from_dir(dir)
    }
}

#[test]
fn empty_test_file_keeps_the_input_dimension() {
    let cache = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let img = other.path().join("img.gz");
    let lab = other.path().join("lab.gz");
    corrflow::data::write_idx_u8(&img, &[0, 4, 4], &[]).unwrap();
    corrflow::data::write_idx_u8(&lab, &[0], &[]).unwrap();
    let cfg = MnistConfig {
        source: MnistSource::Files(MnistFiles {
            train_images: fixtures().join("train-images-idx3-ubyte"),
            train_labels: fixtures().join("train-labels-idx1-ubyte"),
            test_images: Some(img),
            test_labels: Some(lab),
        }),
        ..config(cache.path())
    };
    let m = load(&cfg);
    assert_eq!((m.split.test.len(), m.split.test.dim()), (0, 16));
}

/// The training and test pairs are opened side by side; when both are broken the training
/// pair's error is the one reported, as when they were opened one after the other, and a
/// broken test pair alone is reported by its own path.
#[test]
fn both_pairs_broken_report_the_training_pair_first() {
    let cache = tempfile::tempdir().unwrap();
    let bad = tempfile::tempdir().unwrap();
    let (train_img, test_img) = (bad.path().join("train-img"), bad.path().join("test-img"));
    fs::write(&train_img, b"not an idx file").unwrap();
    fs::write(&test_img, b"neither is this").unwrap();
    let files = MnistFiles {
        train_images: train_img.clone(),
        train_labels: fixtures().join("train-labels-idx1-ubyte"),
        test_images: Some(test_img.clone()),
        test_labels: Some(fixtures().join("t10k-labels-idx1-ubyte.gz")),
    };
    let cfg = MnistConfig {
        source: MnistSource::Files(files.clone()),
        ..config(cache.path())
    };
    for _ in 0..5 {
        let msg = cfg.load().unwrap_err().to_string();
        assert!(
            msg.contains(&train_img.display().to_string())
                && !msg.contains(&test_img.display().to_string()),
            "{msg}"
        );
    }
    let cfg = MnistConfig {
        source: MnistSource::Files(MnistFiles {
            train_images: fixtures().join("train-images-idx3-ubyte"),
            ..files
        }),
        ..config(cache.path())
    };
    let msg = cfg.load().unwrap_err().to_string();
    assert!(msg.contains(&test_img.display().to_string()), "{msg}");
}
