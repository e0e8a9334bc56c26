//! Safetensors headers that give a name twice (adv41): the `safetensors` crate, like Python's
//! `json`, keeps the last entry without a word; a reader keeping the first sees another file.

use crate::common::{corrflow, train_data, train_tiny_xor};

/// `bytes` as a safetensors file: its 8-byte length, `header` padded with spaces, the data.
fn safetensors(path: &std::path::Path, header: &str, data: &[u8]) {
    let mut h = header.as_bytes().to_vec();
    h.resize(h.len().div_ceil(8) * 8, b' ');
    let mut file = (h.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(&h);
    file.extend_from_slice(data);
    std::fs::write(path, file).unwrap();
}

/// A data file whose tensor `x` is given as F64 and then as I64 over the same bytes was read
/// as the integers (trained, exit 0), and a model whose metadata gives 'widths' twice was
/// read at the last; both are refused naming the file and the repeated name.
#[test]
fn a_safetensors_name_or_metadata_key_given_twice_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("xtwice.safetensors");
    let n = 40usize;
    let mut bytes: Vec<u8> = (0..2 * n)
        .flat_map(|k| ((k % 7) as f64 - 3.0 + 4.0 * ((k / 2) % 2) as f64).to_le_bytes())
        .collect();
    bytes.extend((0..n).flat_map(|k| ((k % 2) as i64).to_le_bytes()));
    let x = |dtype: &str| {
        format!(r#""x":{{"dtype":"{dtype}","shape":[{n},2],"data_offsets":[0,640]}}"#)
    };
    let header = format!(
        r#"{{{},{},"y":{{"dtype":"I64","shape":[{n}],"data_offsets":[640,960]}}}}"#,
        x("F64"),
        x("I64")
    );
    safetensors(&data, &header, &bytes);
    let out = dir.path().join("m.safetensors");
    let run = train_data(&data, &data, &out).output().unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("xtwice.safetensors") && err.contains("names tensor 'x' twice"),
        "{err}"
    );
    assert!(!out.exists());

    let model = dir.path().join("xor.safetensors");
    let m = model.to_str().unwrap();
    train_tiny_xor(m, "4");
    let file = std::fs::read(&model).unwrap();
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let text = std::str::from_utf8(&file[8..8 + n]).unwrap().trim_end();
    let twice = text.replacen(r#""format":"#, r#""widths":"2,9,2","format":"#, 1);
    assert_ne!(twice, text, "the model's header has a format key: {text}");
    let widths = dir.path().join("widths-twice.safetensors");
    safetensors(&widths, &twice, &file[8 + n..]);
    let run = corrflow(&[
        "--threads",
        "1",
        "propagate",
        "--model",
        widths.to_str().unwrap(),
        "--task",
        "xor",
    ]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("widths-twice.safetensors") && err.contains("gives key 'widths' twice"),
        "{err}"
    );
    assert!(run.stdout.is_empty());
}
