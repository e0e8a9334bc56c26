//! Preprocessing of the inputs, applied in this order and recorded in a model file so that the
//! same transformation is applied when the model is analysed:
//!
//! 1. scale: every value divided by `scale` (255 maps bytes to [0, 1]; done while reading);
//! 2. normaliser: x ← (x − mean)/std per feature, with mean and std given by the user (one value
//!    for all features, or one per feature), as `torchvision.transforms.Normalize`;
//! 3. centring: the per-feature mean of the training set, m = (1/n) Σⱼ xⱼ, is subtracted from
//!    training and test samples alike;
//! 4. standardisation: centring, then division by the per-feature standard deviation of the
//!    training set, s = √((1/n) Σⱼ (xⱼ − m)²) (features with s = 0 are left as centred).

use faer::Mat;
use serde::{Deserialize, Serialize};

use super::{Dataset, Split};
use crate::error::{Error, Field, Result};

/// The scale of byte data: x = byte/255 ∈ [0, 1].
pub const BYTE_SCALE: f64 = 255.0;

/// The preprocessing of a run after the scale (which is applied while reading).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    /// Normaliser mean (one value, or one per feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<Vec<f64>>,
    /// Normaliser standard deviation (one value, or one per feature), each > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<Vec<f64>>,
    /// Subtract the training set's per-feature mean.
    #[serde(default)]
    pub center: bool,
    /// Centre, then divide by the training set's per-feature standard deviation.
    #[serde(default)]
    pub standardize: bool,
}

impl Normalization {
    /// Applies steps 2–4 of the module documentation to `split`; returns a description for the
    /// provenance line ("" when nothing is done). Errors: a normaliser with only one of mean
    /// and std, of a length other than 1 or d, or with a std that is not positive and finite.
    pub fn apply(&self, split: &mut Split) -> Result<String> {
        let mut done = Vec::new();
        match (&self.mean, &self.std) {
            (None, None) => {}
            (Some(mean), Some(std)) => {
                let d = split.train.dim();
                let mean = broadcast(mean, d, Field::NormalizeMean)?;
                let std = broadcast(std, d, Field::NormalizeStd)?;
                if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
                    return Err(Error::config(
                        Field::NormalizeStd,
                        format!("{s}: every standard deviation must be positive and finite"),
                    ));
                }
                for (ds, set) in [(&mut split.train, "training"), (&mut split.test, "test")] {
                    affine(&mut ds.x, &mean, &std);
                    check_normalised(&ds.x, &mean, &std, set)?;
                }
                done.push(format!(
                    "normalised by mean {} / std {}",
                    short(&mean),
                    short(&std)
                ));
            }
            (Some(_), None) => {
                return Err(Error::config(Field::NormalizeMean, "given without a std"))
            }
            (None, Some(_)) => {
                return Err(Error::config(Field::NormalizeStd, "given without a mean"))
            }
        }
        if self.standardize {
            standardize(split);
            done.push("standardised on the training mean and std".into());
        } else if self.center {
            center(split);
            done.push("centred on the training mean".into());
        }
        Ok(done.iter().map(|d| format!("; {d}")).collect())
    }
}

/// `v` as d values: itself when it has d, its one value repeated when it has 1.
fn broadcast(v: &[f64], d: usize, field: Field) -> Result<Vec<f64>> {
    match v.len() {
        1 => Ok(vec![v[0]; d]),
        n if n == d => Ok(v.to_vec()),
        n => Err(Error::config(
            field,
            format!("{n} values: expected 1 or one per input feature ({d})"),
        )),
    }
}

/// `0.1307` for a repeated value, `[0.1, 0.2, …] (d values)` otherwise, each in [`compact`]
/// form.
fn short(v: &[f64]) -> String {
    if v.iter().all(|x| *x == v[0]) {
        return compact(v[0]);
    }
    format!(
        "[{}, {}, …] ({} values)",
        compact(v[0]),
        compact(v[1]),
        v.len()
    )
}

/// `v` as the shortest text that reads back to it: a plain decimal where |v| is 0 or in
/// [10⁻⁵, 10¹⁶), exponent form otherwise (a plain 1e-320 is 330 digits: `--scale`, adv43;
/// `--normalize-std`, adv46).
pub(crate) fn compact(v: f64) -> String {
    if v == 0.0 || (1e-5..1e16).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Refuses normalised values `x` of the `set` samples that are not finite: the data was
/// checked finite while it was read, so a mean and std that overflow it (a std of 1e-320) are
/// at fault, not the file (it was blamed on the data's scale or spread, adv46).
fn check_normalised(x: &Mat<f64>, mean: &[f64], std: &[f64], set: &str) -> Result<()> {
    for j in 0..x.ncols() {
        if let Some(k) = x.col_as_slice(j).iter().position(|v| !v.is_finite()) {
            return Err(Error::config(
                Field::NormalizeStd,
                format!(
                    "feature {k} of sample {j} of the {set} set, less the mean {} and divided \
                     by the std {}, is beyond f64's range; expected a mean and std that keep \
                     every value finite",
                    compact(mean[k]),
                    compact(std[k])
                ),
            ));
        }
    }
    Ok(())
}

/// x ← (x − mean)/std, feature by feature.
fn affine(x: &mut Mat<f64>, mean: &[f64], std: &[f64]) {
    for j in 0..x.ncols() {
        for ((v, m), s) in x.col_as_slice_mut(j).iter_mut().zip(mean).zip(std) {
            *v = (*v - m) / s;
        }
    }
}

/// Per-feature mean m = (1/n) Σⱼ x[:, j] of `data` (zeros when it is empty).
fn feature_mean(data: &Dataset) -> Vec<f64> {
    let x = &data.x;
    let mut mean = vec![0.0; x.nrows()];
    for j in 0..x.ncols() {
        for (m, &v) in mean.iter_mut().zip(x.col_as_slice(j)) {
            *m += v;
        }
    }
    if x.ncols() > 0 {
        mean.iter_mut().for_each(|m| *m /= x.ncols() as f64);
    }
    mean
}

/// Subtracts the per-feature mean of the training set from training and test samples.
pub fn center(split: &mut Split) {
    let mean = feature_mean(&split.train);
    for ds in [&mut split.train, &mut split.test] {
        for j in 0..ds.x.ncols() {
            for (v, &m) in ds.x.col_as_slice_mut(j).iter_mut().zip(&mean) {
                *v -= m;
            }
        }
    }
}

/// Centres, then divides by the per-feature standard deviation of the (centred) training set;
/// features of zero spread stay as centred.
fn standardize(split: &mut Split) {
    center(split);
    let x = &split.train.x;
    let mut var = vec![0.0; x.nrows()];
    for j in 0..x.ncols() {
        for (s, &v) in var.iter_mut().zip(x.col_as_slice(j)) {
            *s += v * v;
        }
    }
    let n = x.ncols().max(1) as f64;
    let std: Vec<f64> = var
        .iter()
        .map(|s| (s / n).sqrt())
        .map(|s| if s > 0.0 { s } else { 1.0 })
        .collect();
    let zero = vec![0.0; std.len()];
    for ds in [&mut split.train, &mut split.test] {
        affine(&mut ds.x, &zero, &std);
    }
}

/// What every value is divided by while it is read (`--scale`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Scale {
    /// 255 for byte (uint8) features, 1 (none) for every other type.
    #[default]
    Auto,
    /// Values as stored.
    None,
    /// Every value divided by this positive number.
    Divide(f64),
}

impl Scale {
    /// The divisor for features of element type `elem` (`None`: values as stored).
    pub fn divisor(self, elem: super::array::Elem) -> Option<f64> {
        match self {
            Scale::Auto => (elem == super::array::Elem::U8).then_some(BYTE_SCALE),
            Scale::None => None,
            Scale::Divide(s) => Some(s),
        }
    }
}

impl std::str::FromStr for Scale {
    type Err = Error;

    /// `auto`, `none`, `byte` (= 255) or a positive number.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "auto" => Ok(Scale::Auto),
            "none" => Ok(Scale::None),
            "byte" => Ok(Scale::Divide(BYTE_SCALE)),
            t => match t.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(Scale::Divide(v)),
                _ => Err(Error::config(
                    Field::Scale,
                    format!("{s:?}: expected auto, none, byte (= 255) or a positive number"),
                )),
            },
        }
    }
}

impl std::fmt::Display for Scale {
    /// The text [`FromStr`](std::str::FromStr) reads back: a divisor in [10⁻⁵, 10¹⁶) as a plain
    /// decimal, others in exponent form (both the shortest that round-trips): `--scale 1e-320`
    /// was written in 330 digits into warnings, errors and the model's metadata (adv43).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scale::Auto => f.write_str("auto"),
            Scale::None => f.write_str("none"),
            Scale::Divide(v) => f.write_str(&compact(*v)),
        }
    }
}

impl Serialize for Scale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let text = match &v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            other => return Err(serde::de::Error::custom(format!("scale {other}"))),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A vector given as a comma-separated list (`0.1307` or `0.5,0.4,0.3`) or as a file: a NumPy
/// `.npy` array (by its extension or, under another name, its magic bytes), or text holding
/// numbers separated by commas or white space (UTF-8, a leading byte-order mark skipped). Errors
/// name `field` (and the file); a non-finite value (`nan`, `inf` parse as numbers) is refused
/// here, where it enters, not found later as non-finite weights; so is an empty entry of a
/// comma list (`0.5,,0.25`, `,0.5`, `0.5,`: `empty_entry`), which was dropped (adv63); a
/// `.npz` archive is refused as for samples.
pub fn read_vector(spec: &str, field: Field) -> Result<Vec<f64>> {
    let path = std::path::Path::new(spec);
    // A value that is no list of numbers is read as a file; one that cannot be opened names
    // the flag too (adv47b: `--normalize-mean abc` said "abc: No such file or directory",
    // naming neither the flag nor, for a model's record, the model).
    let as_file = |e: Error| {
        let why = match &e {
            Error::Io { path: p, source } if p == path => source.to_string(),
            Error::Format { path: p, msg } if p == path => msg.clone(),
            _ => return e,
        };
        Error::config(
            field,
            format!(
                "'{}' is neither a comma-separated list of numbers nor a file of them: {why}",
                crate::error::excerpt(spec)
            ),
        )
    };
    let array = || -> Result<Vec<f64>> {
        let a = super::array::ArrayFile::open_any_rank(
            path,
            &super::array::OpenOptions {
                tensor: "",
                cache_dir: None,
                limit: crate::io::MemoryLimit::default(),
            },
        )
        .map_err(as_file)?;
        check_vector_shape(a.dims(), spec, field)?;
        Ok(a.values_f64())
    };
    let empty = |text: &str, trailing_ok: bool| match empty_entry(text, trailing_ok) {
        None => Ok(()),
        Some(k) => Err(Error::config(
            field,
            format!(
                "{}: entry {k} of the comma-separated list is empty; expected a number between \
                 every two commas (and none before the first or after the last)",
                crate::error::excerpt(spec)
            ),
        )),
    };
    let v = if let Some(v) = as_list(spec) {
        empty(spec, false)?;
        v
    } else if path.extension().is_some_and(|e| e == "npy" || e == "npz") {
        array()?
    } else {
        let bytes = crate::io::read_regular(path, 1 << 26, "vector file").map_err(as_file)?;
        if bytes.starts_with(super::array::NPY_MAGIC) {
            array()?
        } else {
            let text = String::from_utf8(bytes).map_err(|e| {
                as_file(Error::format(
                    path,
                    format!("vector file is not UTF-8 text: {e}"),
                ))
            })?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let v = parse_list(text).ok_or_else(|| {
                as_file(Error::format(
                    path,
                    "expected numbers separated by commas or white space",
                ))
            })?;
            check_text_vector(text, spec, field)?;
            // A file's last comma may end its text: a list wrapped after its commas.
            empty(text, true)?;
            v
        }
    };
    if v.is_empty() {
        return Err(Error::config(field, format!("{spec}: no values")));
    }
    if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(Error::config(
            field,
            format!("{spec}: value {} is {x}; expected finite numbers", i + 1),
        ));
    }
    Ok(v)
}

/// The numbers of `text` separated by commas or white space; `None` when a part is no number.
fn parse_list(text: &str) -> Option<Vec<f64>> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<f64>().ok())
        .collect()
}

/// `spec` as [`read_vector`]'s list of numbers: `None` when it is read as a file.
fn as_list(spec: &str) -> Option<Vec<f64>> {
    parse_list(spec).filter(|v| !v.is_empty())
}

/// The file [`read_vector`] reads for `spec`, or `None` for a list of numbers (a sweep
/// fingerprints the file in its records: `sweep::inputs`).
pub fn vector_file(spec: &str) -> Option<&std::path::Path> {
    as_list(spec).is_none().then(|| std::path::Path::new(spec))
}

/// The first empty entry (1-based) of a comma list: a part between two commas, before the
/// first or after the last that holds nothing but white space (`0.5,,0.25`: entry 2). Such an
/// entry was dropped (adv63: `--normalize-mean 0.5,,0.25` read as two values, `0.5,` as one
/// for every feature), so a forgotten value shifted the others or turned a list into one
/// broadcast value. `trailing_ok` allows the last part to be empty (a file's list ending in a
/// comma). Text without commas has no entries to be empty.
fn empty_entry(text: &str, trailing_ok: bool) -> Option<usize> {
    let parts: Vec<&str> = text.split(',').collect();
    if parts.len() < 2 {
        return None;
    }
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .find(|&(i, part)| part.trim().is_empty() && !(trailing_ok && i == last))
        .map(|(i, _)| i + 1)
}

/// Refuses an array that is not a vector: one of two or more dimensions longer than 1, e.g. a
/// (2, 2) array read as 4 values, or a (28, 28) mean image (adv62: such an array was flattened
/// and taken whenever its size matched the features). A scalar (shape ()), a 1-D array and a
/// row or column ((1, d), (d, 1)) are vectors.
fn check_vector_shape(dims: &[usize], spec: &str, field: Field) -> Result<()> {
    if dims.iter().filter(|&&n| n > 1).count() <= 1 {
        return Ok(());
    }
    Err(Error::config(
        field,
        format!(
            "{}: an array of shape {}; expected a vector, shape (d,) with one value per input \
             feature, or () or (1,) for one value for every feature (a per-feature array of \
             another shape: save it flattened in C order, a.reshape(-1))",
            crate::error::excerpt(spec),
            shape_text(dims)
        ),
    ))
}

/// Refuses a text file that is a table (`np.savetxt` of a 2-D array): two or more lines of two
/// or more values each, none ending in a comma (read as one list of all of them, adv62). A
/// vector is one line of values, one value per line, or a comma list wrapped after commas.
fn check_text_vector(text: &str, spec: &str, field: Field) -> Result<()> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let counts: Vec<usize> = lines
        .iter()
        .map(|l| {
            l.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
                .count()
        })
        .collect();
    let wrapped = lines.iter().any(|l| l.ends_with(','));
    if wrapped || counts.iter().filter(|&&n| n > 1).count() < 2 {
        return Ok(());
    }
    Err(Error::config(
        field,
        format!(
            "{}: a table of {} lines of up to {} values each; expected a vector: one line of values, \
             or one value per line",
            crate::error::excerpt(spec),
            counts.len(),
            counts.iter().max().unwrap_or(&0)
        ),
    ))
}

/// A shape as NumPy prints it: `()`, `(3,)`, `(2, 2)`.
fn shape_text(dims: &[usize]) -> String {
    match dims {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `v` as the comma-separated list [`read_vector`] reads back exactly (shortest round-trip
/// decimal of each value).
pub fn write_vector(v: &[f64]) -> String {
    v.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
}
