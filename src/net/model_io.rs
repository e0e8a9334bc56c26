//! Model files: safetensors holding every layer's weight and bias, the architecture in the
//! metadata, so that the same file loads in PyTorch (`safetensors.torch.load_file`).
//!
//! Tensor names say which layer they are: `hidden1.weight`, `hidden1.bias`, …, `hiddenL.*`,
//! `readout.weight`, `readout.bias`; weights are (out, in) like `torch.nn.Linear`, stored F64
//! little-endian, row-major (F32 files are accepted and widened). Metadata keys:
//! `format` = `corrflow-mlp`, `widths` = `784,100,100,10`, `activation` = `quad:0.5`, plus any
//! free-form keys the caller adds (task, seed, …).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use faer::{Col, Mat};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use super::{Activations, Layer, Mlp};
use crate::data::array::elem::{bf16_to_f64, f16_to_f64};
use crate::data::array::header::repeated_key;
use crate::data::array::safetensors_refused;
use crate::error::{echoes_whole, excerpt, Error, Result};
use crate::io::checksum::Xxh64;
use crate::io::{map_regular, open_regular, write_atomically, MemoryLimit};

/// Value of the `format` metadata key.
pub const FORMAT_TAG: &str = "corrflow-mlp";

/// Name of layer `l` (0-based over all affine maps of a network with `depth` hidden layers).
pub fn layer_name(l: usize, depth: usize) -> String {
    if l == depth {
        "readout".to_string()
    } else {
        format!("hidden{}", l + 1)
    }
}

/// Writes `net` to `path` atomically (temporary file + rename: never a partial file).
pub fn save(net: &Mlp, path: &Path, extra: &[(&str, String)]) -> Result<()> {
    net.validate()?;
    let widths = net
        .widths()
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut meta: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    meta.insert("format".into(), FORMAT_TAG.into());
    meta.insert("widths".into(), widths);
    meta.insert("activation".into(), net.activation.to_string());

    let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (l, layer) in net.layers.iter().enumerate() {
        let name = layer_name(l, net.depth());
        let (rows, cols) = (layer.fan_out(), layer.fan_in());
        let mut w = Vec::with_capacity(rows * cols * 8);
        for i in 0..rows {
            for j in 0..cols {
                w.extend_from_slice(&layer.w[(i, j)].to_le_bytes());
            }
        }
        let b: Vec<u8> = layer.b.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((format!("{name}.weight"), vec![rows, cols], w));
        if !net.bias_free[l] {
            buffers.push((format!("{name}.bias"), vec![rows], b));
        }
    }
    let views = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F64, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::format(path, format!("cannot build tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| Error::format(path, format!("cannot serialise the model: {e}")))?;
    write_atomically(path, &with_metadata(&bytes, &meta))
}

/// The safetensors file `bytes` (written without metadata) with `meta` as its `__metadata__`,
/// keys in order, where `safetensors::serialize` puts it: first in the header, which is padded
/// with spaces to a multiple of 8 bytes. `serialize` takes the metadata as a `HashMap`, whose
/// order changes from process to process, so two identical trainings wrote files that differ
/// (adv29: `cmp` at byte 27); with the keys sorted the same model and records give the same
/// bytes. The tensors' offsets count from the data, which does not move.
fn with_metadata(bytes: &[u8], meta: &BTreeMap<String, String>) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes of header length")) as usize;
    let tensors = std::str::from_utf8(&bytes[8..8 + n])
        .expect("safetensors writes a UTF-8 header")
        .trim_end();
    let rest = tensors.strip_prefix('{').expect("a JSON object");
    let sep = if rest.starts_with('}') { "" } else { "," };
    let meta = serde_json::to_string(meta).expect("a map of strings serialises");
    let mut header = format!("{{\"__metadata__\":{meta}{sep}{rest}");
    header.push_str(&" ".repeat((8 - header.len() % 8) % 8));
    let mut out = Vec::with_capacity(8 + header.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// The metadata of the model file `path` (its header only is read and validated): `format`,
/// `widths`, `activation` and the keys the writer added, e.g. `task`, `corrflow.data` and
/// `corrflow.preprocess` (the records the run configuration reads back; README, "Model files").
pub fn metadata(path: &Path) -> Result<HashMap<String, String>> {
    let file = open_regular(path)?;
    // Only the header is parsed from the map.
    let bytes = map_regular(path, &file)?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::format(path, safetensors_refused(&bytes, &e)))?;
    if let Some(defect) = repeated_key(&bytes) {
        return Err(Error::format(
            path,
            format!("not a safetensors file: {defect}"),
        ));
    }
    Ok(header.metadata().clone().unwrap_or_default())
}

/// The architecture a model file's metadata `meta` declares: its `format` tag checked, its
/// `widths` (≥ 2, positive) and its `activation` (one, or one per hidden layer) parsed; the
/// error says what is wrong, for the caller to name the file.
fn architecture_of(
    meta: &HashMap<String, String>,
) -> std::result::Result<(Vec<usize>, Activations), String> {
    match meta.get("format").map(String::as_str) {
        Some(FORMAT_TAG) => {}
        other => {
            return Err(format!(
                "metadata 'format' is {}, expected \"{FORMAT_TAG}\": a plain PyTorch \
                 state_dict lacks the architecture; write the model with \
                 python/corrflow_torch.py (corrflow_torch.export(model, path))",
                other.map_or("absent".to_string(), |f| format!("\"{}\"", excerpt(f)))
            ))
        }
    }
    let widths: Vec<usize> = meta
        .get("widths")
        .ok_or_else(|| "metadata lacks 'widths' (e.g. \"784,100,10\")".to_string())?
        .split(',')
        .map(|w| w.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            format!(
                "metadata 'widths' = \"{}\" is not a comma-separated list of integers",
                excerpt(&meta["widths"])
            )
        })?;
    if widths.len() < 2 || widths.contains(&0) {
        return Err(format!(
            "metadata 'widths' = {}: need ≥ 2 positive widths",
            excerpt(&format!("{widths:?}"))
        ));
    }
    let activation = meta
        .get("activation")
        .ok_or_else(|| "metadata lacks 'activation'".to_string())?;
    // The parser's messages echo the text whole: a long one, or one with control characters,
    // is refused with an excerpt instead (adv45: 20 kB and a terminal escape were echoed).
    let activation: Activations = match activation.parse() {
        Ok(a) => a,
        Err(e) if echoes_whole(activation) => return Err(format!("metadata 'activation': {e}")),
        Err(_) => {
            return Err(format!(
                "metadata 'activation' = \"{}\" is not an activation or a comma-separated \
                 list of them (e.g. \"relu\", \"tanh\")",
                excerpt(activation)
            ))
        }
    };
    Ok((widths, activation))
}

/// The widths (inputs to classes) and activations of the model file `path` from its header
/// alone (the tensors are not read or checked; [`load_limited`] does that): what a sweep's grid
/// key `init` fills in before its points run.
pub fn architecture(path: &Path) -> Result<(Vec<usize>, Activations)> {
    let meta = metadata(path)?;
    architecture_of(&meta).map_err(|msg| Error::format(path, msg))
}

/// [`load_limited`] with the default [`MemoryLimit`].
///
/// ```
/// use corrflow::net::{model_io, Activation, Mlp};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("net.safetensors");
/// let mut net = Mlp::init(&[4, 8, 3], Activation::Gelu, 1.0, 1)?;
/// net.activation = "leaky_relu:0.1".parse()?;
/// model_io::save(&net, &path, &[("task", "mine".into())])?;
/// assert_eq!(model_io::load(&path)?, net);
/// # Ok::<(), corrflow::Error>(())
/// ```
pub fn load(path: &Path) -> Result<Mlp> {
    load_limited(path, MemoryLimit::default())
}

/// Reads a model written by [`save`] or by the Python recipe in the README. The file (a regular
/// file, else refused at once) is memory-mapped; its header (size, JSON, dtypes, shapes and
/// offsets within the file) is validated before any tensor is read, the network the metadata
/// declares is refused when its f64 weights would exceed `limit`, and every tensor's presence,
/// dtype, shape and finiteness is checked. Every error names the file (and the tensor).
pub fn load_limited(path: &Path, limit: MemoryLimit) -> Result<Mlp> {
    load_fingerprinted(path, limit).map(|(net, _)| net)
}

/// A model file's length in bytes and XXH64 (seed 0, [`crate::io::checksum`]) of its bytes:
/// what `train --init` records of the file it started from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub bytes: u64,
    pub xxh64: u64,
}

/// [`load_limited`], with the [`Fingerprint`] of the very bytes the network was read from.
pub fn load_fingerprinted(path: &Path, limit: MemoryLimit) -> Result<(Mlp, Fingerprint)> {
    let file = open_regular(path)?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let bad = |msg: String| Error::format(path, msg);
    if len < 8 {
        return Err(bad(format!(
            "not a safetensors file: {len} bytes, expected at least the 8-byte header size"
        )));
    }
    // The tensors are copied out of the map and validated right away.
    let bytes = map_regular(path, &file)?;
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| bad(safetensors_refused(&bytes, &e)))?;
    let tensors =
        SafeTensors::deserialize(&bytes).map_err(|e| bad(safetensors_refused(&bytes, &e)))?;
    if let Some(defect) = repeated_key(&bytes) {
        return Err(bad(format!("not a safetensors file: {defect}")));
    }
    let meta = header.metadata().clone().unwrap_or_default();
    let (widths, activation) = architecture_of(&meta).map_err(bad)?;
    let depth = widths.len() - 2;
    // Each layer's (out·in + out) f64 values, held twice while they are converted.
    let needed = widths
        .windows(2)
        .map(|w| 16 * (w[0] as u128 + 1) * w[1] as u128)
        .sum::<u128>();
    if !limit.allows(needed) {
        // Under `ulimit -v` the limit is what the threads leave (0 where they take it all):
        // what to do about it is said (adv45 found "over the memory limit of 0 bytes" alone).
        let advice = if limit.is_address_space() {
            format!("; {}", limit.advice())
        } else {
            String::new()
        };
        return Err(bad(format!(
            "metadata 'widths' = {} needs {needed} bytes of weights, over the memory limit of \
             {}{advice}",
            excerpt(&format!("{widths:?}")),
            limit.describe()
        )));
    }
    // A set, not a list searched per tensor: a model of 10⁵ layers took 30–50 s here (adv47b).
    let known: HashSet<String> = (0..=depth)
        .flat_map(|l| {
            let name = layer_name(l, depth);
            [format!("{name}.weight"), format!("{name}.bias")]
        })
        .collect();
    // The first stray name in sorted order: `names()` comes from a hash map, whose order
    // differs from one load to the next (the message named '0.bias' or '2.weight' by chance).
    if let Some(stray) = sorted_names(&tensors)
        .into_iter()
        .find(|n| !known.contains(*n))
    {
        let expected = format!(
            "{}.weight, {}.bias",
            layer_name(0, depth),
            layer_name(0, depth)
        );
        let expected = match depth {
            0 => expected,
            _ => format!("{expected}, …, readout.weight, readout.bias"),
        };
        return Err(bad(format!(
            "holds a tensor '{}' that is not a layer of widths {} (expected {expected}; a \
             layer's bias may be left out)",
            excerpt(stray),
            excerpt(&format!("{widths:?}"))
        )));
    }
    let mut layers = Vec::with_capacity(depth + 1);
    let mut bias_free = vec![false; depth + 1];
    for l in 0..=depth {
        let name = layer_name(l, depth);
        let (rows, cols) = (widths[l + 1], widths[l]);
        let w = read_tensor(&tensors, &format!("{name}.weight"), &[rows, cols], path)?;
        // A layer without a bias tensor (PyTorch's `Linear(bias=False)`) is bias-free: b = 0.
        let b = match tensors.tensor(&format!("{name}.bias")) {
            Ok(_) => read_tensor(&tensors, &format!("{name}.bias"), &[rows], path)?,
            Err(_) => {
                bias_free[l] = true;
                vec![0.0; rows]
            }
        };
        layers.push(Layer {
            w: Mat::from_fn(rows, cols, |i, j| w[i * cols + j]),
            b: Col::from_fn(rows, |i| b[i]),
        });
    }
    let net = Mlp {
        bias_free,
        layers,
        activation,
    };
    net.validate().map_err(|e| bad(e.to_string()))?;
    let mut hash = Xxh64::new(0);
    hash.update(&bytes);
    let fingerprint = Fingerprint {
        bytes: bytes.len() as u64,
        xxh64: hash.finish(),
    };
    Ok((net, fingerprint))
}

/// The values of tensor `name`, checked for shape and dtype (F64; F32, F16 or BF16 widened,
/// exactly).
fn read_tensor(
    tensors: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    path: &Path,
) -> Result<Vec<f64>> {
    let view = tensors.tensor(name).map_err(|_| {
        Error::format(
            path,
            format!(
                "missing tensor '{name}' (found {})",
                excerpt(&format!("{:?}", sorted_names(tensors)))
            ),
        )
    })?;
    if view.shape() != shape {
        return Err(Error::format(
            path,
            format!(
                "tensor '{name}' has shape {:?}, expected {shape:?}",
                view.shape()
            ),
        ));
    }
    let data = view.data();
    let values: Vec<f64> = match view.dtype() {
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| bf16_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        other => {
            return Err(Error::format(
                path,
                format!("tensor '{name}' has dtype {other:?}, expected F64, F32, F16 or BF16"),
            ));
        }
    };
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        let cols = shape.get(1).copied().unwrap_or(1).max(1);
        let at = if shape.len() == 2 {
            format!("row {}, column {}", k / cols, k % cols)
        } else {
            format!("index {k}")
        };
        return Err(Error::format(
            path,
            format!("tensor '{name}': non-finite value {} at {at}", values[k]),
        ));
    }
    Ok(values)
}

/// The file's tensor names, sorted: the same list, in the same order, at every load.
fn sorted_names<'a>(tensors: &'a SafeTensors<'_>) -> Vec<&'a str> {
    let mut names = tensors.names();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Activation, Activations};

    /// The same network and records give the same file bytes, save after save (the metadata's
    /// keys in order: `safetensors::serialize` wrote a `HashMap`'s order, which changes from
    /// one map to the next, adv29), and the file reads back with every key.
    /// A model whose tensors carry `nn.Sequential`'s names ('0.weight', …, '2.bias') is refused
    /// naming the first stray tensor in sorted order at every load: the names come from a hash
    /// map whose order changes from one load to the next, and the message named '0.bias' or
    /// '2.weight' by chance (the whole adversarial script, forty-ninth session).
    #[test]
    fn a_stray_tensor_is_named_the_same_at_every_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let net = Mlp::init(&[2, 8, 2], Activation::Tanh, 1.0, 3).unwrap();
        save(&net, &path, &[]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
        let (hidden, readout) = (layer_name(0, 1), layer_name(1, 1));
        let renamed = header
            .replace(&format!("\"{hidden}."), "\"0.")
            .replace(&format!("\"{readout}."), "\"2.");
        assert_ne!(renamed, header);
        let mut out = (renamed.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(renamed.as_bytes());
        out.extend_from_slice(&bytes[8 + n..]);
        std::fs::write(&path, out).unwrap();
        for _ in 0..20 {
            let msg = load(&path).unwrap_err().to_string();
            assert!(msg.contains("holds a tensor '0.bias'"), "{msg}");
        }
    }

    #[test]
    fn the_same_model_and_records_give_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let net = Mlp::init(&[4, 3, 2], Activation::Tanh, 1.0, 5).unwrap();
        let extra: Vec<(&str, String)> = ["task", "seed", "epochs", "loss", "optimizer", "lr"]
            .iter()
            .map(|&k| (k, format!("value of {k}")))
            .collect();
        let files: Vec<Vec<u8>> = (0..8)
            .map(|i| {
                let path = dir.path().join(format!("m{i}.safetensors"));
                save(&net, &path, &extra).unwrap();
                std::fs::read(path).unwrap()
            })
            .collect();
        assert!(files.iter().all(|f| f == &files[0]));
        let path = dir.path().join("m0.safetensors");
        assert_eq!(load(&path).unwrap(), net);
        let meta = metadata(&path).unwrap();
        for (k, v) in &extra {
            assert_eq!(meta.get(*k), Some(v), "{k}");
        }
        assert_eq!(meta.get("format").map(String::as_str), Some(FORMAT_TAG));
        // The header is padded to a multiple of 8 bytes, as safetensors writes it.
        let n = u64::from_le_bytes(files[0][..8].try_into().unwrap());
        assert_eq!(n % 8, 0);
        let text = std::str::from_utf8(&files[0][8..8 + n as usize]).unwrap();
        assert!(
            text.starts_with("{\"__metadata__\":{\"activation\":"),
            "{text}"
        );
    }

    /// A model of `quad:1e300` keeps its α bit for bit through the file, and its metadata
    /// spells it `quad:1e300` (301 digits before adv31).
    #[test]
    fn an_extreme_quadratic_alpha_is_saved_short_and_loads_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.safetensors");
        for alpha in [1e300, 1e-300, -3.3e-200] {
            let net = Mlp::init(&[3, 2, 2], Activation::Quadratic { alpha }, 1.0, 4).unwrap();
            save(&net, &path, &[]).unwrap();
            let back = load(&path).unwrap();
            assert_eq!(back, net);
            let Activations::Uniform(Activation::Quadratic { alpha: a }) = back.activation else {
                panic!("{:?}", back.activation)
            };
            assert_eq!(a.to_bits(), alpha.to_bits());
            let meta = metadata(&path).unwrap();
            assert_eq!(meta["activation"], format!("quad:{alpha:e}"));
        }
    }

    #[test]
    fn roundtrip_is_bit_identical_and_corruption_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let net = Mlp::init(&[6, 5, 4, 3], Activation::Quadratic { alpha: 0.25 }, 1.0, 9).unwrap();
        save(&net, &path, &[("task", "xor".into())]).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back, net);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("m.safetensors") && err.contains("safetensors"),
            "{err}"
        );

        std::fs::write(&path, b"hello").unwrap();
        assert!(load(&path).is_err());
    }

    /// binary16 bits of `x`, a normal number or zero with at most 11 significant bits (the test
    /// weights below), exactly.
    fn f16_bits(x: f64) -> u16 {
        if x == 0.0 {
            return 0;
        }
        let sign = u16::from(x < 0.0) << 15;
        let e = x.abs().log2().floor() as i32;
        let m = (x.abs() / 2f64.powi(e) - 1.0) * 1024.0;
        assert!(m.fract() == 0.0 && (-14..=15).contains(&e), "{x}");
        sign | (((e + 15) as u16) << 10) | m as u16
    }

    /// A model whose tensors are stored as F16 or BF16 (a PyTorch model in half precision, or
    /// `torch.bfloat16`) loads as the F64 model of the same values, widened exactly; an
    /// infinite half value is refused naming the tensor (before the fiftieth session both
    /// dtypes were refused).
    #[test]
    fn half_precision_tensors_widen_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let mut net = Mlp::init(&[3, 4, 2], Activation::Tanh, 1.0, 2).unwrap();
        for (l, layer) in net.layers.iter_mut().enumerate() {
            let (r, c) = (layer.w.nrows(), layer.w.ncols());
            layer.w = Mat::from_fn(r, c, |i, j| ((i * c + j + l) as f64 - 5.0) / 8.0);
            layer.b = Col::from_fn(r, |i| (i as f64 - 1.5) * 0.75);
        }
        let path = dir.path().join("m.safetensors");
        save(&net, &path, &[]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let meta = header.metadata().clone();
        let values = |name: &str| -> Vec<f64> {
            st.tensor(name)
                .unwrap()
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect()
        };
        type Encode = fn(f64) -> u16;
        let encodings: [(Dtype, Encode); 2] = [
            (Dtype::F16, f16_bits),
            (Dtype::BF16, |x| ((x as f32).to_bits() >> 16) as u16),
        ];
        for (dtype, encode) in encodings {
            let tensors: Vec<(String, Vec<u64>, Vec<u8>)> = st
                .tensors()
                .into_iter()
                .map(|(name, view)| {
                    let data = values(&name)
                        .into_iter()
                        .flat_map(|v| encode(v).to_le_bytes())
                        .collect();
                    (name, view.shape().iter().map(|&d| d as u64).collect(), data)
                })
                .collect();
            let write = |tensors: &[(String, Vec<u64>, Vec<u8>)]| {
                let views: Vec<(&str, TensorView<'_>)> = tensors
                    .iter()
                    .map(|(n, shape, data)| {
                        let shape = shape.iter().map(|&d| d as usize).collect();
                        (n.as_str(), TensorView::new(dtype, shape, data).unwrap())
                    })
                    .collect();
                std::fs::write(&path, safetensors::serialize(views, meta.clone()).unwrap())
                    .unwrap();
            };
            write(&tensors);
            assert_eq!(load(&path).unwrap(), net, "{dtype:?}");
            let mut inf = tensors.clone();
            let k = inf.iter().position(|t| t.0 == "readout.weight").unwrap();
            let inf_bits: u16 = if dtype == Dtype::F16 { 0x7c00 } else { 0x7f80 };
            inf[k].2[2..4].copy_from_slice(&inf_bits.to_le_bytes());
            write(&inf);
            let msg = load(&path).unwrap_err().to_string();
            assert!(
                msg.contains("tensor 'readout.weight': non-finite value inf at row 0, column 1"),
                "{dtype:?}: {msg}"
            );
        }
    }

    #[test]
    fn nan_weights_and_wrong_shapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.safetensors");
        let mut net = Mlp::init(&[3, 2, 2], Activation::Relu, 1.0, 1).unwrap();
        net.layers[0].w[(1, 1)] = f64::NAN;
        assert!(save(&net, &path, &[]).is_err());
        assert!(!path.exists(), "no partial file after a refused save");
    }

    /// A file written without one layer's bias (as the PyTorch exporter writes
    /// `Linear(bias=False)`) loads with b = 0 for that layer; per-layer activations round-trip;
    /// a stray tensor and a plain state_dict without corrflow's metadata are refused, the latter
    /// pointing to the exporter.
    #[test]
    fn bias_free_layers_and_per_layer_activations_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixed.safetensors");
        let mut net = Mlp::init(&[3, 4, 2, 2], Activation::Relu, 1.0, 5).unwrap();
        net.activation = "leaky_relu:0.1,silu".parse().unwrap();
        net.layers[1].b = Col::from_fn(2, |i| 0.5 + i as f64);
        save(&net, &path, &[]).unwrap();
        assert_eq!(load(&path).unwrap(), net);

        let bytes = std::fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let write = |skip: &str, extra: Option<&str>, meta: bool| {
            let mut views: Vec<(String, TensorView<'_>)> = st
                .tensors()
                .into_iter()
                .filter(|(n, _)| n != skip)
                .collect();
            if let Some(name) = extra {
                views.push((name.to_string(), st.tensor("readout.bias").unwrap()));
            }
            let meta = meta.then(|| header.metadata().clone().unwrap());
            std::fs::write(&path, safetensors::serialize(views, meta).unwrap()).unwrap();
        };
        write("hidden2.bias", None, true);
        let back = load(&path).unwrap();
        assert!(back.layers[1].b.iter().all(|&b| b == 0.0));
        assert_eq!(back.bias_free, [false, true, false]);
        assert_eq!(back.layers[0], net.layers[0]);
        assert_eq!(back.layers[1].w, net.layers[1].w);
        // saved again, it stays bias-free
        let again = dir.path().join("again.safetensors");
        save(&back, &again, &[]).unwrap();
        let bytes = std::fs::read(&again).unwrap();
        assert!(SafeTensors::deserialize(&bytes)
            .unwrap()
            .tensor("hidden2.bias")
            .is_err());
        assert_eq!(load(&again).unwrap(), back);

        write("", Some("hidden9.bias"), true);
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("'hidden9.bias'"), "{err}");

        write("", None, false);
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("corrflow_torch.py"), "{err}");
    }
}
