//! NumPy `.npy` files (format versions 1–3): the magic `\x93NUMPY`, the version, the header
//! length (u16 in version 1, u32 after), a Python dict literal
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (N, …), }`, then the raw elements.
//! Specification: numpy.lib.format (NEP 1).

use std::path::Path;

use super::{check_data_len, map_file, ArrayFile, Elem, Endian, Order};
use crate::error::excerpt;
use crate::{Error, Result};

/// The first bytes of every `.npy` file.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Opens and validates the `.npy` file `path`.
pub fn open(path: &Path) -> Result<ArrayFile> {
    let map = map_file(path)?;
    let bad = |msg: String| Error::format(path, msg);
    if !map.starts_with(MAGIC) || map.len() < 10 {
        return Err(bad(
            "not a NumPy .npy file: expected the magic \\x93NUMPY and a version".into(),
        ));
    }
    let (len, start): (usize, usize) = match map[6] {
        1 => (usize::from(u16::from_le_bytes([map[8], map[9]])), 10),
        2 | 3 if map.len() >= 12 => (
            u32::from_le_bytes([map[8], map[9], map[10], map[11]]) as usize,
            12,
        ),
        v => {
            return Err(bad(format!(
                "unsupported .npy format version {v}; expected 1, 2 or 3"
            )))
        }
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= map.len())
        .ok_or_else(|| {
            bad(format!(
                "header of {len} bytes runs past the end of the file"
            ))
        })?;
    let header =
        std::str::from_utf8(&map[start..end]).map_err(|_| bad("the header is not text".into()))?;
    let entries = entries(header).ok_or_else(|| {
        bad(format!(
            "the header is not a Python dict literal of 'key': value entries: {}",
            excerpt(header)
        ))
    })?;
    check_keys(&entries).map_err(bad)?;
    let descr = field(&entries, "descr")
        .ok_or_else(|| bad(format!("header lacks 'descr': {}", excerpt(header))))?;
    let (elem, endian) = parse_descr(descr).ok_or_else(|| {
        bad(format!(
            "unsupported dtype {}; expected one of u1 i1 u2 i2 u4 i4 u8 i8 f2 f4 f8 (any byte order)",
            excerpt(descr)
        ))
    })?;
    let order = match field(&entries, "fortran_order") {
        Some("True") => Order::Fortran,
        Some("False") => Order::C,
        other => {
            return Err(bad(format!(
                "header 'fortran_order' is {}, expected True or False",
                other.map_or("absent".to_string(), excerpt)
            )))
        }
    };
    let dims = field(&entries, "shape")
        .and_then(parse_shape)
        .ok_or_else(|| {
            bad(format!(
                "header lacks a 'shape' tuple of integers: {}",
                excerpt(header)
            ))
        })?;
    let total = map.len();
    check_data_len(path, &dims, elem, total - end)?;
    Ok(ArrayFile::new(
        path.to_path_buf(),
        map,
        end..total,
        dims,
        (elem, endian),
        order,
    ))
}

/// The keys a `.npy` header holds, each once (numpy.lib.format: NumPy's reader refuses a header
/// with any other key, "Header does not contain the correct keys").
const KEYS: [&str; 3] = ["descr", "fortran_order", "shape"];

/// Refuses a key other than [`KEYS`] (a writer's own key may change what the bytes mean, and
/// NumPy itself would not read the file) and a key given twice (Python keeps the last value, a
/// scan the first: two readers, two arrays), naming the key.
fn check_keys(entries: &[(&str, &str)]) -> std::result::Result<(), String> {
    for (i, &(key, _)) in entries.iter().enumerate() {
        if !KEYS.contains(&key) {
            return Err(format!(
                "header key '{}' is not one NumPy writes: expected exactly 'descr', \
                 'fortran_order' and 'shape' (NumPy refuses such a file too)",
                excerpt(key)
            ));
        }
        if entries[..i].iter().any(|&(k, _)| k == key) {
            return Err(format!(
                "header key '{key}' is given twice: expected each of 'descr', 'fortran_order' \
                 and 'shape' once"
            ));
        }
    }
    Ok(())
}

/// The header dict's entries `'key': value` in file order (keys in single or double quotes),
/// each value's text: a quoted string without its quotes, a parenthesised tuple with its
/// parentheses, a bracketed list (a structured dtype's fields, nested lists included) with its
/// brackets, or a bare word. `None` when the text is not such a dict (padding spaces and the
/// newline after the closing brace are allowed, nothing else).
fn entries(header: &str) -> Option<Vec<(&str, &str)>> {
    let mut rest = header.trim_start().strip_prefix('{')?;
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return after.trim().is_empty().then_some(out);
        }
        let (key, after) = quoted(rest)?;
        let after = after.trim_start().strip_prefix(':')?.trim_start();
        let (value, after) = value(after)?;
        out.push((key, value));
        rest = after.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return None;
        }
    }
}

/// The value text of `key` among `entries` (each key is there at most once: [`check_keys`]).
fn field<'a>(entries: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    entries.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
}

/// `'text'…` or `"text"…` → the text and what follows the closing quote.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let q = s.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let end = s[1..].find(q)? + 1;
    Some((&s[1..end], &s[end + 1..]))
}

/// One value at the start of `s` (as [`entries`] describes) and what follows it.
fn value(s: &str) -> Option<(&str, &str)> {
    if s.starts_with(['\'', '"']) {
        return quoted(s);
    }
    let (open, close) = match s.chars().next()? {
        '(' => ('(', ')'),
        '[' => ('[', ']'),
        _ => {
            let end = s.find([',', '}'])?;
            return Some((s[..end].trim_end(), &s[end..]));
        }
    };
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some((&s[..=i], &s[i + 1..]));
            }
        }
    }
    None
}

/// `'<f8'`, `'|u1'`, `'>i2'` … → element type and byte order (`=` is the native order, little
/// endian on every platform corrflow runs on; `|` is for single bytes).
fn parse_descr(descr: &str) -> Option<(Elem, Endian)> {
    let mut chars = descr.chars();
    let endian = match chars.next()? {
        '<' | '=' | '|' => Endian::Little,
        '>' => Endian::Big,
        _ => return None,
    };
    let elem = match chars.as_str() {
        "u1" => Elem::U8,
        "i1" => Elem::I8,
        "u2" => Elem::U16,
        "i2" => Elem::I16,
        "u4" => Elem::U32,
        "i4" => Elem::I32,
        "u8" => Elem::U64,
        "i8" => Elem::I64,
        "f2" => Elem::F16,
        "f4" => Elem::F32,
        "f8" => Elem::F64,
        _ => return None,
    };
    Some((elem, endian))
}

/// `(3, 4)`, `(3,)`, `()` → the dimensions.
fn parse_shape(tuple: &str) -> Option<Vec<usize>> {
    let inner = tuple.strip_prefix('(')?.strip_suffix(')')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.trim_end_matches('L').parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of `key` in `header`'s entries.
    fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
        super::field(&entries(header)?, key)
    }

    #[test]
    fn header_fields_parse() {
        let h = "{'descr': '>i2', 'fortran_order': True, 'shape': (3, 4), }";
        assert_eq!(field(h, "descr"), Some(">i2"));
        assert_eq!(field(h, "fortran_order"), Some("True"));
        assert_eq!(field(h, "shape").and_then(parse_shape), Some(vec![3, 4]));
        assert_eq!(parse_shape("(5,)"), Some(vec![5]));
        assert_eq!(parse_shape("()"), Some(vec![]));
        assert_eq!(parse_descr(">i2"), Some((Elem::I16, Endian::Big)));
        assert_eq!(parse_descr("<c16"), None);
        // A structured dtype is quoted whole in the error, nested fields included.
        let h = "{'descr': [('a', '<f8'), ('b', [('c', '<i4')])], 'fortran_order': False, 'shape': (3,), }";
        assert_eq!(
            field(h, "descr"),
            Some("[('a', '<f8'), ('b', [('c', '<i4')])]")
        );
        assert_eq!(parse_descr(field(h, "descr").unwrap()), None);
        assert_eq!(field(h, "shape"), Some("(3,)"));
        assert_eq!(field("{'descr': [('a', '<f8'), }", "descr"), None);
        // Double quotes, no trailing comma, NumPy's padding and newline.
        let h = "{\"shape\": (2,), \"descr\": \"<f8\", \"fortran_order\": False}    \n";
        assert_eq!(field(h, "descr"), Some("<f8"));
        assert_eq!(field(h, "fortran_order"), Some("False"));
        assert_eq!(field("{'descr': '<f8'} x", "descr"), None);
    }

    /// Keys other than NumPy's three, or one of them twice, are refused naming the key (adv39;
    /// a scan for each key read both files, the duplicate with its first value).
    #[test]
    fn an_extra_or_repeated_key_is_refused_naming_it() {
        let ok = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
        assert_eq!(check_keys(&entries(ok).unwrap()), Ok(()));
        let extra = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'units': 'm', }";
        let err = check_keys(&entries(extra).unwrap()).unwrap_err();
        assert!(
            err.contains("header key 'units' is not one NumPy writes"),
            "{err}"
        );
        let twice = "{'descr': '<i8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
        let err = check_keys(&entries(twice).unwrap()).unwrap_err();
        assert!(err.contains("header key 'descr' is given twice"), "{err}");
    }
}
