//! Array files of every supported format, element type, byte order and memory order read back
//! exactly (files written byte by byte here, and by NumPy where it is installed), and every
//! malformed file refused with an error naming it.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use corrflow::data::array::{ArrayFile, Elem, OpenOptions};
use corrflow::data::samples::Labels;
use corrflow::data::ArraysConfig;
use corrflow::io::MemoryLimit;
use safetensors::tensor::{Dtype, TensorView};

use crate::common::{python, write_npy};

fn opts(tensor: &str) -> OpenOptions<'_> {
    OpenOptions {
        tensor,
        cache_dir: None,
        limit: MemoryLimit::default(),
    }
}

/// The value of element (i, a, b) of the (3, 2, 2) test array: distinct, small, negative for
/// signed types.
fn value(i: usize, a: usize, b: usize, signed: bool) -> i64 {
    let v = (i * 4 + a * 2 + b) as i64;
    if signed {
        v - 6
    } else {
        v
    }
}

/// The bytes of `v` as element type `elem` in the given byte order.
fn encode(v: i64, elem: Elem, big: bool) -> Vec<u8> {
    let le: Vec<u8> = match elem {
        Elem::U8 => vec![v as u8],
        Elem::I8 => vec![v as i8 as u8],
        Elem::U16 | Elem::I16 => (v as i16).to_le_bytes().to_vec(),
        Elem::U32 | Elem::I32 => (v as i32).to_le_bytes().to_vec(),
        Elem::U64 | Elem::I64 => v.to_le_bytes().to_vec(),
        Elem::F16 => f16_bits(v as f64 + 0.25).to_le_bytes().to_vec(),
        Elem::BF16 => (((v as f32 + 0.25).to_bits() >> 16) as u16)
            .to_le_bytes()
            .to_vec(),
        Elem::F32 => (v as f32 + 0.25).to_le_bytes().to_vec(),
        Elem::F64 => (v as f64 + 0.25).to_le_bytes().to_vec(),
    };
    if big {
        le.into_iter().rev().collect()
    } else {
        le
    }
}

/// binary16 bits of the normal number `x`, which must have at most 11 significant bits.
fn f16_bits(x: f64) -> u16 {
    let sign = u16::from(x < 0.0) << 15;
    let e = x.abs().log2().floor() as i32;
    let m = (x.abs() / 2f64.powi(e) - 1.0) * 1024.0;
    assert!(m.fract() == 0.0 && (-14..=15).contains(&e), "{x}");
    sign | (((e + 15) as u16) << 10) | m as u16
}

const ELEMS: [(Elem, &str, bool); 11] = [
    (Elem::U8, "u1", false),
    (Elem::I8, "i1", true),
    (Elem::U16, "u2", false),
    (Elem::I16, "i2", true),
    (Elem::U32, "u4", false),
    (Elem::I32, "i4", true),
    (Elem::U64, "u8", false),
    (Elem::I64, "i8", true),
    (Elem::F16, "f2", true),
    (Elem::F32, "f4", true),
    (Elem::F64, "f8", true),
];

fn expected(i: usize, j: usize, elem: Elem, signed: bool) -> f64 {
    let v = value(i, j / 2, j % 2, signed) as f64;
    if elem.is_integer() {
        v
    } else {
        v + 0.25
    }
}

fn check_rows(a: &ArrayFile, elem: Elem, signed: bool, what: &str) {
    assert_eq!((a.len(), a.row_len(), a.elem()), (3, 4, elem), "{what}");
    let mut row = vec![0.0; 4];
    for i in 0..3 {
        a.row_f64(i, &mut row);
        for (j, &got) in row.iter().enumerate() {
            assert_eq!(
                got,
                expected(i, j, elem, signed),
                "{what}: sample {i} value {j}"
            );
        }
    }
}

#[test]
fn npy_of_every_dtype_byte_order_and_memory_order() {
    let dir = tempfile::tempdir().unwrap();
    for (elem, code, signed) in ELEMS {
        for big in [false, true] {
            for fortran in [false, true] {
                let mut data = Vec::new();
                // C order: i slowest; Fortran order: i fastest, then a, then b.
                let idx: Vec<(usize, usize, usize)> = if fortran {
                    (0..2)
                        .flat_map(|b| (0..2).flat_map(move |a| (0..3).map(move |i| (i, a, b))))
                        .collect()
                } else {
                    (0..3)
                        .flat_map(|i| (0..2).flat_map(move |a| (0..2).map(move |b| (i, a, b))))
                        .collect()
                };
                for (i, a, b) in idx {
                    data.extend(encode(value(i, a, b, signed), elem, big));
                }
                let order = if elem.size() == 1 {
                    '|'
                } else if big {
                    '>'
                } else {
                    '<'
                };
                let p = dir.path().join(format!("{code}{big}{fortran}.npy"));
                write_npy(&p, &format!("{order}{code}"), fortran, &[3, 2, 2], &data);
                let a = ArrayFile::open(&p, &opts("")).unwrap();
                check_rows(
                    &a,
                    elem,
                    signed,
                    &format!("{code} big={big} fortran={fortran}"),
                );
            }
        }
    }
}

/// An IDX file: magic, type code, dims, big-endian data.
fn idx_bytes(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

#[test]
fn idx_of_every_element_type_and_dimension_count() {
    let dir = tempfile::tempdir().unwrap();
    for (elem, code, signed) in [
        (Elem::U8, 0x08, false),
        (Elem::I8, 0x09, true),
        (Elem::I16, 0x0B, true),
        (Elem::I32, 0x0C, true),
        (Elem::F32, 0x0D, true),
        (Elem::F64, 0x0E, true),
    ] {
        let mut data = Vec::new();
        for i in 0..3 {
            for a in 0..2 {
                for b in 0..2 {
                    data.extend(encode(value(i, a, b, signed), elem, true));
                }
            }
        }
        let p = dir.path().join(format!("t{code}-idx"));
        std::fs::write(&p, idx_bytes(code, &[3, 2, 2], &data)).unwrap();
        check_rows(
            &ArrayFile::open(&p, &opts("")).unwrap(),
            elem,
            signed,
            &format!("IDX {code:#x}"),
        );
        // The same data as (3, 4) and (3, 1, 2, 2): the sample layout does not change.
        for dims in [&[3u32, 4][..], &[3, 1, 2, 2]] {
            std::fs::write(&p, idx_bytes(code, dims, &data)).unwrap();
            check_rows(
                &ArrayFile::open(&p, &opts("")).unwrap(),
                elem,
                signed,
                "IDX dims",
            );
        }
    }
}

#[test]
fn safetensors_data_set_by_tensor_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("data.safetensors");
    let x: Vec<u8> = (0..3)
        .flat_map(|i| (0..4).map(move |j| expected(i, j, Elem::F32, true) as f32))
        .flat_map(f32::to_le_bytes)
        .collect();
    let y: Vec<u8> = [2i64, 0, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let half = |elem: Elem| -> Vec<u8> {
        (0..3)
            .flat_map(|i| (0..4).map(move |j| (i, j)))
            .flat_map(|(i, j)| encode(value(i, j / 2, j % 2, true), elem, false))
            .collect()
    };
    let (x16, xb16) = (half(Elem::F16), half(Elem::BF16));
    let views = vec![
        (
            "train_x",
            TensorView::new(Dtype::F32, vec![3, 2, 2], &x).unwrap(),
        ),
        ("train_y", TensorView::new(Dtype::I64, vec![3], &y).unwrap()),
        (
            "x16",
            TensorView::new(Dtype::F16, vec![3, 4], &x16).unwrap(),
        ),
        (
            "xb16",
            TensorView::new(Dtype::BF16, vec![3, 4], &xb16).unwrap(),
        ),
    ];
    std::fs::write(
        &p,
        safetensors::serialize(views, None::<HashMap<String, String>>).unwrap(),
    )
    .unwrap();
    check_rows(
        &ArrayFile::open(&p, &opts("train_x")).unwrap(),
        Elem::F32,
        true,
        "safetensors",
    );
    // Half precision (a PyTorch tensor of float16 or bfloat16), widened exactly (before the
    // fiftieth session refused).
    for (name, elem) in [("x16", Elem::F16), ("xb16", Elem::BF16)] {
        let a = ArrayFile::open(&p, &opts(name)).unwrap();
        let flat = ArrayFile::open(&p, &opts("train_x")).unwrap();
        let (mut row, mut want) = (vec![0.0; 4], vec![0.0; 4]);
        assert_eq!((a.len(), a.row_len(), a.elem()), (3, 4, elem), "{name}");
        for i in 0..3 {
            a.row_f64(i, &mut row);
            flat.row_f64(i, &mut want);
            assert_eq!(row, want, "{name} sample {i}");
        }
    }
    let labels = Labels::new(ArrayFile::open(&p, &opts("train_y")).unwrap(), None).unwrap();
    assert_eq!(
        (labels.get(0), labels.get(2), labels.max()),
        (Some(2), Some(1), 2)
    );
    let e = ArrayFile::open(&p, &opts("x")).unwrap_err().to_string();
    for want in [
        "data.safetensors",
        "no tensor 'x'",
        "train_x",
        "train_y",
        "--x-tensor",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
}

fn assert_err_names(r: corrflow::Result<impl std::fmt::Debug>, path: &Path, want: &[&str]) {
    let e = r.unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    for w in want {
        assert!(e.contains(w), "{w:?} not in {e}");
    }
}

#[test]
fn malformed_arrays_and_labels_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("trunc.npy");
    write_npy(&p, "<f8", false, &[3, 2], &[0; 40]);
    assert_err_names(
        ArrayFile::open(&p, &opts("")),
        &p,
        &["truncated", "48", "40"],
    );
    write_npy(&p, "<f8", false, &[3, 2], &[0; 56]);
    assert_err_names(ArrayFile::open(&p, &opts("")), &p, &["trailing bytes"]);
    write_npy(&p, "<c16", false, &[1], &[0; 16]);
    assert_err_names(
        ArrayFile::open(&p, &opts("")),
        &p,
        &["unsupported dtype <c16"],
    );
    write_npy(&p, "<f8", false, &[], &[0; 8]);
    assert_err_names(ArrayFile::open(&p, &opts("")), &p, &["0-dimensional"]);
    let z = dir.path().join("a.npz");
    std::fs::write(&z, b"PK\x03\x04").unwrap();
    assert_err_names(ArrayFile::open(&z, &opts("")), &z, &[".npz", "np.save"]);
    let t = dir.path().join("notes.txt");
    std::fs::write(&t, b"hello").unwrap();
    assert_err_names(
        ArrayFile::open(&t, &opts("")),
        &t,
        &["unknown array format"],
    );

    let labels = |descr: &str, shape: &[usize], data: &[u8], k: Option<usize>| {
        let p = dir.path().join("y.npy");
        write_npy(&p, descr, false, shape, data);
        (Labels::new(ArrayFile::open(&p, &opts("")).unwrap(), k), p)
    };
    let (r, p) = labels("<f4", &[2], &[0; 8], None);
    assert_err_names(r, &p, &["float32", "integers"]);
    let (r, p) = labels("|u1", &[2, 2], &[0; 4], None);
    assert_err_names(r, &p, &["(N,) or (N, 1)"]);
    let (r, p) = labels("<i2", &[3], &[1, 0, 0xff, 0xff, 0, 0], None);
    assert_err_names(r, &p, &["label -1 at index 1"]);
    let (r, p) = labels("|u1", &[3], &[0, 4, 1], Some(3));
    assert_err_names(r, &p, &["label 4 at index 1", "0..=2 (3 classes)"]);
    let (r, _) = labels("|u1", &[3, 1], &[0, 1, 2], None);
    assert_eq!(r.unwrap().max(), 2);
}

#[test]
fn count_mismatch_and_non_finite_values_name_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    let cfg = ArraysConfig {
        train_x: x.clone(),
        train_y: y.clone(),
        test_x: None,
        test_y: None,
        tensors: ("x".into(), "y".into()),
        test_split: Some("0:1".parse().unwrap()),
        limit: None,
        scale: Default::default(),
        n_classes: None,
        cache_dir: None,
    };
    let xs: Vec<u8> = [1.0f64, 2.0, f64::NAN, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_npy(&x, "<f8", false, &[4, 1], &xs);
    write_npy(&y, "|u1", false, &[3], &[0, 1, 0]);
    assert_err_names(
        cfg.load_limited(MemoryLimit::default()).map(|_| ()),
        &y,
        &["count mismatch", "3 labels", "4 samples"],
    );
    write_npy(&y, "|u1", false, &[4], &[0, 1, 0, 1]);
    assert_err_names(
        cfg.load_limited(MemoryLimit::default()).map(|_| ()),
        &x,
        &["non-finite value NaN at sample 2"],
    );
    assert_err_names(
        cfg.load_limited(MemoryLimit::new(16)).map(|_| ()),
        &x,
        &["over the memory limit"],
    );
    write_npy(&y, "|u1", false, &[4], &[0; 4]);
    assert_err_names(
        cfg.load_limited(MemoryLimit::default()).map(|_| ()),
        &y,
        &["at least 2 classes"],
    );
}

/// Files written by NumPy itself (`np.save`, `safetensors.numpy.save_file`) in every dtype,
/// both byte orders and both memory orders read back equal to NumPy's own C-order f64 copy.
#[test]
fn numpy_written_files_round_trip() {
    let Some(py) = python() else {
        eprintln!("SKIPPED numpy_written_files_round_trip: no Python with numpy and safetensors (set CORRFLOW_PYTHON)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import sys, numpy as np
from safetensors.numpy import save_file
d = sys.argv[1]
rng = np.random.default_rng(7)
base = rng.normal(size=(5, 3, 4)) * 40
names = []
for t in ['u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f2', 'f4', 'f8']:
    for e in ['<', '>']:
        a = (np.abs(base) if t[0] == 'u' else base).astype(e + t)
        for order in ['C', 'F']:
            name = f'{t}{"b" if e == ">" else "l"}{order}'
            np.save(f'{d}/{name}.npy', np.asarray(a, order=order))
            np.ascontiguousarray(a.reshape(5, -1), dtype='<f8').tofile(f'{d}/{name}.f64')
            names.append(name)
save_file({'x': base.astype('<f4'), 'y': np.arange(5, dtype=np.int64) % 3}, f'{d}/st.safetensors')
base.astype('<f4').reshape(5, -1).astype('<f8').tofile(f'{d}/st.f64')
print(' '.join(names + ['st']))
"#;
    let out = Command::new(py)
        .args(["-c", script])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = names.split_whitespace().collect();
    assert_eq!(names.len(), 45);
    for name in names {
        let file = if name == "st" {
            "st.safetensors".to_string()
        } else {
            format!("{name}.npy")
        };
        let a = ArrayFile::open(&dir.path().join(&file), &opts("x")).unwrap();
        let want: Vec<f64> = std::fs::read(dir.path().join(format!("{name}.f64")))
            .unwrap()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!((a.len(), a.row_len()), (5, 12), "{name}");
        let mut row = vec![0.0; 12];
        for i in 0..5 {
            a.row_f64(i, &mut row);
            assert_eq!(row, want[i * 12..(i + 1) * 12], "{name} sample {i}");
        }
    }
}
