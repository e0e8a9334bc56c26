//! What is wrong with a safetensors file the `safetensors` crate refused: its messages name
//! neither the tensor nor what was expected ("invalid shape, data type, or offset for tensor",
//! "incomplete metadata, file not fully covered", "invalid offset for tensor `b`" for a
//! tensor *a* left out of the header; twenty-fifth session, adv25). Read only on that error
//! path: the header is parsed again here, entry by entry (so that a name given twice, which a
//! JSON map keeps once, is seen), and checked in the crate's order of concerns. A name or
//! metadata key given twice is also looked for where the crate accepted the file
//! ([`repeated_key`]): the crate keeps the last entry silently.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::error::excerpt;

/// The header's entries in file order, names repeated as they are written, and the keys of its
/// `__metadata__` object likewise (a JSON map would keep each once, the last).
struct Entries(Vec<(String, Value)>, Vec<String>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Entries, A::Error> {
                let (mut entries, mut meta_keys) = (Vec::new(), Vec::new());
                while let Some(key) = m.next_key::<String>()? {
                    let value = if key == "__metadata__" {
                        let Entries(meta, _) = m.next_value()?;
                        meta_keys.extend(meta.iter().map(|(k, _)| k.clone()));
                        Value::Object(meta.into_iter().collect())
                    } else {
                        m.next_value()?
                    };
                    entries.push((key, value));
                }
                Ok(Entries(entries, meta_keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// Bytes of one element of the safetensors dtype `name` (`None`: not a whole-byte dtype this
/// check knows; the crate's own message stands).
fn dtype_bytes(name: &str) -> Option<u128> {
    Some(match name {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "F8_E4M3FNUZ"
        | "F8_E5M2FNUZ" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" | "C64" => 8,
        _ => return None,
    })
}

/// The list of integers at `key` of a tensor's entry (`None`: absent or not such a list).
fn integers(info: &Value, key: &str) -> Option<Vec<u128>> {
    info.get(key)?
        .as_array()?
        .iter()
        .map(|v| v.as_u64().map(u128::from))
        .collect()
}

/// The first name of `names` given before, if any.
fn first_repeated<'a>(names: impl IntoIterator<Item = &'a String>) -> Option<&'a String> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().find(|n| !seen.insert(*n))
}

/// The header of the safetensors file `bytes` (whose size the crate has checked), parsed entry
/// by entry; `None` where it does not parse.
fn entries(bytes: &[u8]) -> Option<Entries> {
    let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    serde_json::from_slice(bytes.get(8..8usize.checked_add(n)?)?).ok()
}

/// What is wrong with the safetensors file `bytes` that the crate accepted: a tensor name (or
/// `__metadata__`) or a metadata key its header gives twice. The crate, like Python's `json`,
/// keeps the last entry of a name without a word, where a reader that keeps the first sees
/// another tensor or record (a tensor `x` as F64 then as I64 over the same bytes trained on
/// the integers, exit 0; adv41). `None` for a header without repeats.
pub fn repeated_key(bytes: &[u8]) -> Option<String> {
    let Entries(entries, meta_keys) = entries(bytes)?;
    if let Some(name) = first_repeated(entries.iter().map(|(k, _)| k)) {
        return Some(if name == "__metadata__" {
            "the header gives __metadata__ twice: expected it once".to_string()
        } else {
            format!(
                "the header names tensor '{name}' twice: expected each once",
                name = excerpt(name)
            )
        });
    }
    first_repeated(&meta_keys).map(|key| {
        format!(
            "its __metadata__ gives key '{key}' twice: expected each key once",
            key = excerpt(key)
        )
    })
}

/// The first defect of the safetensors file `bytes` (its whole content) that explains a
/// refusal, said with what was expected and what was found; `None` where none is found (the
/// caller keeps the crate's message).
pub fn header_defect(bytes: &[u8]) -> Option<String> {
    let len = bytes.len() as u128;
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as u128;
    if 8 + n > len {
        return Some(format!(
            "its first 8 bytes give a header of {n} bytes, beyond the file's {len} bytes: \
             expected at most {} (a truncated file, or not safetensors)",
            len - 8
        ));
    }
    if let Some(defect) = repeated_key(bytes) {
        return Some(defect);
    }
    let Entries(entries, _) = entries(bytes)?;
    let data = len - 8 - n;
    let mut spans: Vec<(u128, u128, &str)> = Vec::new();
    for (name, info) in &entries {
        if name == "__metadata__" {
            continue;
        }
        let dtype = info.get("dtype")?.as_str()?;
        let size = dtype_bytes(dtype)?;
        let (shape, offsets) = (integers(info, "shape")?, integers(info, "data_offsets")?);
        let [start, end] = offsets[..] else {
            return None;
        };
        let need = shape
            .iter()
            .try_fold(size, |p, &s| p.checked_mul(s))
            .unwrap_or(u128::MAX);
        if end < start || end > data {
            return Some(format!(
                "tensor '{name}' has data_offsets [{start}, {end}], beyond its data's {data} \
                 bytes (the file's {len} less the 8 + {n} of its header): expected offsets \
                 within 0..={data}",
                name = excerpt(name)
            ));
        }
        if need != end - start {
            let need = if need == u128::MAX {
                "more than 2^128".to_string()
            } else {
                need.to_string()
            };
            return Some(format!(
                "tensor '{name}' has shape {shape:?} of {dtype}, {need} bytes, but its \
                 data_offsets [{start}, {end}] hold {}: expected a shape and dtype whose \
                 bytes fill its offsets",
                end - start,
                name = excerpt(name)
            ));
        }
        spans.push((start, end, name));
    }
    spans.sort_unstable_by_key(|s| (s.0, s.1));
    let mut at = (0u128, "the start of the data".to_string());
    for (start, end, name) in spans {
        if start > at.0 {
            return Some(format!(
                "bytes {}..{start} of the data, between {} and tensor '{name}', belong to no \
                 tensor: expected the tensors to cover the data (a tensor left out of the \
                 header, or wrong data_offsets)",
                at.0,
                at.1,
                name = excerpt(name)
            ));
        }
        if start < at.0 {
            return Some(format!(
                "tensor '{name}' has data_offsets [{start}, {end}], overlapping {}, which \
                 ends at {}: expected tensors that do not share bytes",
                at.1,
                at.0,
                name = excerpt(name)
            ));
        }
        at = (end, format!("tensor '{name}'", name = excerpt(name)));
    }
    (at.0 < data).then(|| {
        format!(
            "its data is {data} bytes but the tensors end at {}: expected no bytes after the \
             last tensor ({} left over: a tensor left out of the header, or a file written \
             twice)",
            at.0,
            data - at.0
        )
    })
}
