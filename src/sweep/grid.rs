//! Grid files: a TOML table whose every key is one [`PointConfig`] key, set to a scalar (the
//! same for every point) or to a list (one axis of the grid); a table with no key is refused. The grid is the Cartesian product
//! of the axes, in a fixed order: keys sorted alphabetically, the last key varying fastest (like
//! nested loops with the alphabetically first key outermost). `hidden` takes a list of
//! architectures, `hidden = [[16], [32, 32]]`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::point::PointConfig;
use super::store::GridIds;
use crate::config::estimate::Estimate;
use crate::config::{Task, TrainSettings};
use crate::error::{echoes_whole, excerpt, Error, Field, Result};
use crate::io::read_regular_to_string;
use crate::net::train::Optimizer;

/// Grid files longer than this (16 MiB) are refused before they are read.
pub const MAX_GRID_BYTES: u64 = 16 << 20;

/// Grids larger than this are refused as a likely mistake.
pub const MAX_POINTS: usize = 1_000_000;

/// Hidden widths over all the points of a grid (each point's `hidden` list, summed) beyond
/// which it is refused: a 250 kB file of 10⁴ seeds and one architecture of 10⁵ layers expands
/// to 10⁹ widths, held as points (8 GB) before the first runs, its dry run ~2 min (adv47b).
pub const MAX_WIDTHS: usize = 10_000_000;

/// A parsed grid: the file it came from and its points in grid order.
#[derive(Clone, Debug)]
pub struct Grid {
    pub path: PathBuf,
    pub points: Vec<GridPoint>,
}

/// One point of a grid: its position in grid order, configuration and id.
#[derive(Clone, Debug)]
pub struct GridPoint {
    pub index: usize,
    pub config: PointConfig,
    pub id: String,
    /// The point's peak memory and work.
    pub estimate: Estimate,
}

impl Grid {
    /// Refuses a data key that the task of no point reads (e.g. `sigma` with only task mnist),
    /// naming it: every point would ignore it without a word. A key read by the task of some
    /// points only (`task = ["xor", "higher-order"]` with `sigma`) is allowed, as the grid is a
    /// product of its axes and cannot give a key to some tasks alone.
    pub fn check_keys_are_read(&self) -> Result<()> {
        let mut keys = KeysRead::default();
        for p in &self.points {
            keys.add(&p.config)?;
        }
        keys.check(&self.path)
    }

    /// Reads and validates the grid file at `path`.
    pub fn load(path: &Path) -> Result<Grid> {
        Grid::of(Axes::load(path)?)
    }

    /// Parses grid text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Grid> {
        Grid::of(Axes::parse(text, path)?)
    }

    /// Every point of `axes`, held.
    fn of(axes: Axes) -> Result<Grid> {
        let mut points = Vec::with_capacity(axes.total);
        axes.try_for_each(|p| {
            points.push(p);
            Ok(())
        })?;
        Ok(Grid {
            path: axes.path,
            points,
        })
    }
}

/// A parsed grid file before its points are built: the axes (keys sorted) and the number of
/// points of their product. [`Grid::load`] holds every point; a dry run walks them one at a
/// time ([`Axes::try_for_each`]), so that a 10⁶-point grid is not held (adv24's open item: its
/// `--dry-run` held ~920 MB of points).
pub struct Axes {
    pub path: PathBuf,
    axes: Vec<(String, Vec<Value>)>,
    /// Points in the grid.
    pub total: usize,
}

impl Axes {
    /// Reads and parses the grid file at `path`.
    pub fn load(path: &Path) -> Result<Axes> {
        let text = read_regular_to_string(path, MAX_GRID_BYTES, "grid file")?;
        Axes::parse(&text, path)
    }

    /// Parses grid text and checks every value; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Axes> {
        let bad = |msg: String| Error::format(path, msg);
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| bad(toml_refusal(text, &e)))?;
        if table.is_empty() {
            // An empty file (or comments only) would be one point of every default: far more
            // likely a wrong or unfinished file than that wish (adv41), which `task = "xor"`
            // says plainly.
            return Err(bad(
                "holds no key: expected at least one setting, e.g. `hidden = [[16], [32, 32]]` \
                 (`task = \"xor\"` for one point of the defaults)"
                    .into(),
            ));
        }
        let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
        for (key, value) in &table {
            let values = axis_values(key, value).map_err(&bad)?;
            if values.is_empty() {
                return Err(bad(format!(
                    "key '{key}' is an empty list: the grid would have no points"
                )));
            }
            for v in &values {
                check_value(key, v).map_err(&bad)?;
            }
            axes.push((key.clone(), values));
        }
        axes.sort_by(|a, b| a.0.cmp(&b.0));
        let total = axes
            .iter()
            .try_fold(1usize, |n, (_, v)| {
                n.checked_mul(v.len()).filter(|&n| n <= MAX_POINTS)
            })
            .ok_or_else(|| bad(format!("the grid has more than {MAX_POINTS} points")))?;
        if let Some((_, values)) = axes.iter().find(|(key, _)| key == "hidden") {
            // Each architecture is in total / values.len() points.
            let layers: usize = values
                .iter()
                .map(|v| v.as_array().map_or(1, Vec::len))
                .sum();
            let widths = (layers as u128) * (total / values.len()) as u128;
            if widths > MAX_WIDTHS as u128 {
                return Err(bad(format!(
                    "key 'hidden': its {} architectures of {layers} layers in all, over the \
                     grid's {total} points, make {widths} hidden widths: expected at most \
                     {MAX_WIDTHS} (fewer layers, architectures or points)",
                    values.len()
                )));
            }
        }
        Ok(Axes {
            path: path.to_path_buf(),
            axes,
            total,
        })
    }

    /// Builds every point in grid order and hands it to `f`, refusing a configuration that
    /// repeats an earlier one (naming both); returns each point's id with its index.
    pub fn try_for_each(&self, mut f: impl FnMut(GridPoint) -> Result<()>) -> Result<GridIds> {
        let bad = |msg: String| Error::format(&self.path, msg);
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(self.total);
        for index in 0..self.total {
            let config = point_at(&self.axes, index).map_err(&bad)?;
            let id = config.id();
            if let Some(first) = seen.insert(id.clone(), index) {
                return Err(bad(format!(
                    "points #{first} and #{index} are the same configuration ({}); a list repeats a value",
                    config.summary()
                )));
            }
            // A run configuration that cannot be made (an `init` file whose header does not
            // read) names the grid file and the point, as the checks before the run do.
            let run = config
                .run_config()
                .map_err(|e| bad(format!("point #{index} ({}): {e}", config.summary())))?;
            let estimate = Estimate::of(&run);
            f(GridPoint {
                index,
                config,
                id,
                estimate,
            })?;
        }
        Ok(GridIds {
            path: self.path.clone(),
            index: seen,
        })
    }
}

/// The data keys that the task of no point reads, and the training keys that no point's
/// settings read, point by point ([`Grid::check_keys_are_read`]).
#[derive(Default)]
pub struct KeysRead {
    unread: Option<Vec<Field>>,
    tasks: Vec<Task>,
    /// `momentum` while no point is `optimizer = "sgd"`, `check_samples` while every point's
    /// `closure_check` is 0 (adv48a: both were taken and ignored, as `--momentum` under Adam
    /// and `--check-samples` with `--closure-check 0` were).
    unread_training: Option<Vec<(Field, &'static str)>>,
}

/// The training keys `config` sets that its point does not read, with what would read them.
fn training_not_read(config: &PointConfig, train: &TrainSettings) -> Vec<(Field, &'static str)> {
    let mut unread = Vec::new();
    if config.momentum.is_some() && train.optimizer != Optimizer::Sgd {
        unread.push((Field::Momentum, "it sets the momentum of optimizer \"sgd\""));
    }
    if config.check_samples.is_some() && train.closure_check == 0.0 {
        unread.push((
            Field::CheckSamples,
            "it sets the draws of the sampled check, which closure_check = 0 turns off",
        ));
    }
    unread
}

impl KeysRead {
    /// Counts `config`'s task and the keys it does not read.
    pub fn add(&mut self, config: &PointConfig) -> Result<()> {
        let run = config.run_config()?;
        let here = training_not_read(config, &run.train);
        self.unread_training = Some(match self.unread_training.take() {
            None => here,
            Some(u) => u.into_iter().filter(|f| here.contains(f)).collect(),
        });
        let data = run.data;
        let task = data.task();
        if !self.tasks.contains(&task) {
            self.tasks.push(task);
        }
        let here = data.not_read_by(task);
        self.unread = Some(match self.unread.take() {
            None => here,
            Some(u) => u.into_iter().filter(|f| here.contains(f)).collect(),
        });
        Ok(())
    }

    /// The error naming the first key no point read, for the grid file at `path`.
    pub fn check(&self, path: &Path) -> Result<()> {
        if let Some((field, reader)) = self.unread_training.as_deref().and_then(<[_]>::first) {
            return Err(Error::format(
                path,
                format!(
                    "grid key '{}' is read by no point of the grid ({reader}): every point \
                     would ignore it; remove it",
                    field.name()
                ),
            ));
        }
        match self.unread.as_deref().and_then(<[Field]>::first) {
            Some(field) => {
                let tasks: Vec<String> = self.tasks.iter().map(Task::to_string).collect();
                Err(Error::format(
                    path,
                    format!(
                        "grid key '{}' is read by no task of the grid ({}): every point would \
                         ignore it; remove it",
                        field.name(),
                        tasks.join(", ")
                    ),
                ))
            }
            None => Ok(()),
        }
    }
}

/// The values of one key: a list is an axis, anything else a single value. For `hidden` a list
/// of lists is the axis and a flat list is refused as ambiguous.
/// The TOML parser's refusal with where it is: the line, and the key when that line sets one
/// (a bare key of at most 64 characters; nothing else of the file's text is echoed, adv45).
/// TOML integers are signed 64-bit, so a valid `seed = 18446744073709551615` was refused with
/// "u64 value was too large" alone (adv49a); the range is said.
fn toml_refusal(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    let at = e
        .span()
        .and_then(|span| text.get(..span.start))
        .map(|before| {
            let line = before.matches('\n').count() + 1;
            let start = before.rfind('\n').map_or(0, |i| i + 1);
            let key = text[start..]
                .lines()
                .next()
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim())
                .filter(|k| {
                    !k.is_empty()
                        && k.len() <= 64
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
            match key {
                Some(key) => format!(" at line {line}, key '{key}'"),
                None => format!(" at line {line}"),
            }
        })
        .unwrap_or_default();
    let range = if message.contains("too large") || message.contains("integer") {
        " (TOML integers are signed 64-bit: −9223372036854775808 to 9223372036854775807)"
    } else {
        ""
    };
    format!("not valid TOML{at}: {message}{range}")
}

fn axis_values(key: &str, value: &toml::Value) -> std::result::Result<Vec<Value>, String> {
    let items = match value {
        toml::Value::Array(items) => items.iter().collect::<Vec<_>>(),
        other => vec![other],
    };
    if key == "hidden" && !items.iter().all(|v| v.is_array()) {
        return Err(format!(
            "key 'hidden' takes a list of architectures, e.g. hidden = [[16], [32, 32]] \
             (one point with two layers of 32 is hidden = [[32, 32]]); got {}",
            excerpt(&value.to_string())
        ));
    }
    items.into_iter().map(|v| to_json(key, v)).collect()
}

/// `value` of `key` as JSON. TOML's `nan` and `inf` are refused here: JSON has no such number
/// (`Value::from` makes them null, which read as the key left out: the point ran with the
/// default, and `[nan, inf]` was two equal points).
fn to_json(key: &str, value: &toml::Value) -> std::result::Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) if !f.is_finite() => {
            return Err(format!("key '{key}' = {f}: expected a finite number"))
        }
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| to_json(key, v))
                .collect::<std::result::Result<_, _>>()?,
        ),
        other => {
            return Err(format!(
                "key '{key}': {} values are not supported (use a string, number, boolean or list)",
                other.type_str()
            ))
        }
    })
}

/// Type-checks and normalizes one value of `key` on its own, so the error names the key.
fn check_value(key: &str, value: &Value) -> std::result::Result<(), String> {
    let mut single = serde_json::Map::new();
    single.insert(key.to_string(), value.clone());
    // A key or value too long to echo, or with control characters, is echoed as an excerpt
    // and so is the message that repeats it (adv45: a grid's 5 000-character key was echoed
    // twice, its terminal escapes raw).
    let text = value.to_string();
    let shown = |k: &str, msg: String| {
        if echoes_whole(k) && echoes_whole(&text) {
            (k.to_string(), text.clone(), msg)
        } else {
            (excerpt(k), excerpt(&text), excerpt(&msg))
        }
    };
    let mut config: PointConfig = serde_json::from_value(Value::Object(single)).map_err(|e| {
        let msg = e.to_string();
        let unknown = msg.starts_with("unknown field");
        let (key, value, msg) = shown(key, msg);
        if unknown {
            format!("unknown key '{key}': {msg}")
        } else {
            format!("key '{key}' = {value}: {msg}")
        }
    })?;
    config.normalize().map_err(|(k, msg)| {
        let (k, value, msg) = shown(&k, msg);
        format!("key '{k}' = {value}: {msg}")
    })
}

/// The point at `index` of the product of `axes` (last axis fastest).
fn point_at(
    axes: &[(String, Vec<Value>)],
    mut index: usize,
) -> std::result::Result<PointConfig, String> {
    let mut map = serde_json::Map::new();
    for (key, values) in axes.iter().rev() {
        map.insert(key.clone(), values[index % values.len()].clone());
        index /= values.len();
    }
    let mut config: PointConfig =
        serde_json::from_value(Value::Object(map)).map_err(|e| e.to_string())?;
    config
        .normalize()
        .map_err(|(k, msg)| format!("key '{k}': {msg}"))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Grid> {
        Grid::parse(text, Path::new("g.toml"))
    }

    #[test]
    fn product_order_is_alphabetical_with_the_last_key_fastest() {
        let g = parse("seed = [1, 2]\nactivation = ['relu', 'quad:0.5']\nepochs = 3").unwrap();
        let got: Vec<String> = g.points.iter().map(|p| p.config.summary()).collect();
        assert_eq!(
            got,
            [
                "activation=relu epochs=3 seed=1",
                "activation=relu epochs=3 seed=2",
                "activation=quad:0.5 epochs=3 seed=1",
                "activation=quad:0.5 epochs=3 seed=2",
            ]
        );
    }

    /// A grid whose points hold more than [`MAX_WIDTHS`] hidden widths in all is refused
    /// naming `hidden`, before any point is built; one just under passes. Old (adv47b): parsed,
    /// then every point built (10⁴ seeds × 10⁵ layers: 8 GB, minutes).
    #[test]
    fn a_grid_of_too_many_widths_in_all_is_refused() {
        let seeds: Vec<String> = (0..1000).map(|s| s.to_string()).collect();
        let grid = |layers: usize| {
            format!(
                "task = 'xor'\nseed = [{}]\nhidden = [[{}]]\n",
                seeds.join(","),
                vec!["1"; layers].join(",")
            )
        };
        let err = Axes::parse(&grid(20_000), Path::new("g.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("g.toml: key 'hidden'") && err.contains("20000000 hidden widths"),
            "{err}"
        );
        assert!(Axes::parse(&grid(10_000), Path::new("g.toml")).is_ok());
    }

    /// `momentum` where no point is `optimizer = "sgd"` and `check_samples` where every point's
    /// `closure_check` is 0 are refused naming the key; a grid with one point that reads them
    /// runs. Old: both were taken and ignored (adv48a).
    #[test]
    fn training_keys_no_point_reads_are_refused() {
        let cum = "objective = 'cumulants'\nactivation = 'quad:0.5'\n";
        for (text, key) in [
            ("momentum = 0.5".to_string(), "momentum"),
            ("momentum = 0.5\noptimizer = 'adam'".to_string(), "momentum"),
            (
                format!("{cum}closure_check = 0\ncheck_samples = 8"),
                "check_samples",
            ),
        ] {
            let err = parse(&text).unwrap().check_keys_are_read().unwrap_err();
            let err = err.to_string();
            assert!(
                err.contains(&format!("grid key '{key}' is read by no point")),
                "{err}"
            );
        }
        for text in [
            "momentum = 0.5\noptimizer = ['adam', 'sgd']".to_string(),
            format!("{cum}closure_check = [0, 1]\ncheck_samples = 8"),
        ] {
            parse(&text).unwrap().check_keys_are_read().unwrap();
        }
    }

    #[test]
    fn errors_name_the_key_and_the_file() {
        for (text, want) in [
            ("widht = 3", "unknown key 'widht'"),
            ("epochs = 'ten'", "key 'epochs'"),
            (
                "activation = ['relu', 'mish']",
                "key 'activation' = \"mish\"",
            ),
            ("hidden = [16, 32]", "list of architectures"),
            ("seed = []", "empty list"),
            ("", "holds no key"),
            ("# only a comment\n\n", "holds no key"),
            ("seed = [1, 1]", "same configuration"),
            ("task = 'cifar'", "key 'task'"),
            ("lr = nan", "key 'lr' = NaN: expected a finite number"),
            (
                "sigma = [0.3, inf]",
                "key 'sigma' = inf: expected a finite number",
            ),
            (
                "hidden = [[4]]\ngain = -inf",
                "key 'gain' = -inf: expected a finite number",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with("g.toml: "), "{err}");
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    /// A value the TOML parser refuses is placed: its line, and the key that line sets. Old
    /// (adv49a): "not valid TOML: u64 value was too large" for `seed = 18446744073709551615`,
    /// neither key nor line; a key that is not a plain name is not echoed.
    #[test]
    fn a_value_toml_refuses_is_named_by_line_and_key() {
        for (text, want) in [
            (
                "task = 'xor'\nseed = 18446744073709551615\n",
                "at line 2, key 'seed': u64 value was too large (TOML integers are signed 64-bit",
            ),
            (
                "task = 'xor'\nepochs = 3\nlr = [0.1,\n  1e999]\n",
                "not valid TOML at line 4: ",
            ),
            (
                "\"a\\u001b[31m\" = 99999999999999999999",
                "not valid TOML at line 1: ",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains('\u{1b}'), "{err}");
        }
    }
}
