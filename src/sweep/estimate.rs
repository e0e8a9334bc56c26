//! Guard rails before a sweep starts: each point's peak memory and floating-point work, from its
//! configuration alone (no data is read), and the check that the grid fits the machine.
//!
//! Peak memory, in f64 words: the data, (n_train + n_test)·d; the parameters P four times
//! (weights, gradients, two optimiser states); the training batch's activations, 3·batch·ΣNₗ;
//! and the statistics: for each of the 2L+2 stages a covariance per class, C·N² — measured
//! ones while accumulating and finished (×2) plus one propagated set (×1), so 3·C·ΣN². The
//! κ₃/κ₄ slices are not used by a sweep. Work: training 6P per sample and epoch, statistics 2P
//! + ΣN² per test sample, propagation ≈ 4N³ per class and layer from every start layer.

use std::path::Path;

use super::point::PointConfig;
use crate::config::defaults::{self, task_defaults};
use crate::config::Task;
use crate::data::array::{ArrayFile, OpenOptions};
use crate::data::arrays::X_TENSOR;
use crate::error::{Error, Field, Result};
use crate::io::MemoryLimit;

/// Task data's (d, training samples) from the header of its training features (no data is
/// read); (0, 0) when the file cannot be opened, which the point itself then reports.
fn data_shape(config: &PointConfig) -> (usize, usize) {
    let opts = OpenOptions {
        tensor: config.x_tensor.as_deref().unwrap_or(X_TENSOR),
        cache_dir: None,
        limit: MemoryLimit::default(),
    };
    config
        .train_x
        .as_deref()
        .and_then(|p| ArrayFile::open(p, &opts).ok())
        .map_or((0, 0), |a| {
            (
                a.row_len(),
                config.train_limit.unwrap_or(a.len()).min(a.len()),
            )
        })
}

/// Fixed overhead of the process (code, allocator, rayon pools), in bytes.
const BASE_BYTES: f64 = 64.0 * 1024.0 * 1024.0;

/// Shape of a point's problem as the estimates need it.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub d_in: usize,
    pub n_classes: usize,
    pub n_train: usize,
    pub n_test: usize,
    pub widths: Vec<usize>,
    pub epochs: usize,
    pub batch: usize,
}

impl Shape {
    /// The shape the defaults of [`crate::config::defaults`] give `config` (MNIST: the full
    /// files or `train_limit` training samples).
    pub fn of(config: &PointConfig) -> Shape {
        let task = config.task();
        let d = task_defaults(task);
        let (d_in, n_train) = match task {
            Task::Mnist => (d.dim, config.train_limit.unwrap_or(d.n_train)),
            Task::Data => data_shape(config),
            _ => (
                config.dim.unwrap_or(d.dim),
                config.n_train.unwrap_or(d.n_train),
            ),
        };
        let n_test = d.n_test.unwrap_or(config.n_test.unwrap_or(n_train));
        let n_classes = match task {
            Task::Data => config.n_classes.unwrap_or(2),
            _ => d.n_classes,
        };
        let mut widths = vec![d_in];
        widths.extend(config.hidden_or_default());
        widths.push(n_classes);
        Shape {
            d_in,
            n_classes,
            n_train,
            n_test,
            widths,
            epochs: config.epochs.unwrap_or(d.epochs),
            batch: config.batch.unwrap_or(defaults::BATCH),
        }
    }
}

/// How long a point takes, by its floating-point work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeClass {
    /// Under 10⁹ flops: well under a second.
    Tiny,
    /// Under 10¹¹: seconds.
    Small,
    /// Under 10¹³: minutes.
    Medium,
    /// More: hours.
    Large,
}

impl std::fmt::Display for TimeClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeClass::Tiny => "tiny",
            TimeClass::Small => "small",
            TimeClass::Medium => "medium",
            TimeClass::Large => "large",
        })
    }
}

/// The estimates of one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Peak resident memory, bytes.
    pub bytes: f64,
    /// Floating-point operations.
    pub flops: f64,
}

impl Estimate {
    /// Estimates `config`'s peak memory and work.
    pub fn of(config: &PointConfig) -> Estimate {
        let s = Shape::of(config);
        let f = |n: usize| n as f64;
        let params: f64 = s
            .widths
            .windows(2)
            .map(|w| f(w[0]) * f(w[1]) + f(w[1]))
            .sum();
        let hidden = &s.widths[1..s.widths.len() - 1];
        // Stage dimensions: input, pre and post of every hidden layer, output.
        let sq_sum: f64 = f(s.d_in).powi(2)
            + hidden.iter().map(|&n| 2.0 * f(n).powi(2)).sum::<f64>()
            + f(s.n_classes).powi(2);
        let width_sum: f64 = s.widths.iter().map(|&n| f(n)).sum();
        let c = f(s.n_classes);
        let words = f(s.n_train + s.n_test) * f(s.d_in)
            + 4.0 * params
            + 3.0 * f(s.batch.min(s.n_train)) * width_sum
            + 3.0 * c * sq_sum;
        let train = f(s.epochs) * f(s.n_train) * 6.0 * params;
        let stats = f(s.n_test) * (2.0 * params + sq_sum);
        let propagate: f64 = (0..s.widths.len() - 1)
            .map(|from| {
                s.widths[from..]
                    .windows(2)
                    .map(|w| c * 2.0 * f(w[0]) * f(w[1]) * (f(w[0]) + f(w[1])))
                    .sum::<f64>()
            })
            .sum();
        Estimate {
            bytes: BASE_BYTES + 8.0 * words,
            flops: train + stats + propagate,
        }
    }

    /// The time class of the work.
    pub fn time_class(&self) -> TimeClass {
        match self.flops {
            x if x < 1e9 => TimeClass::Tiny,
            x if x < 1e11 => TimeClass::Small,
            x if x < 1e13 => TimeClass::Medium,
            _ => TimeClass::Large,
        }
    }
}

/// Bytes as "512 MiB", "3.2 GiB".
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 || v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Parses a size such as `512M`, `4G`, `1.5GiB` or a plain number of bytes (`--max-memory`).
pub fn parse_size(text: &str) -> Result<f64> {
    let t = text.trim();
    let split = t
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let factor = match unit
        .trim()
        .to_ascii_lowercase()
        .trim_end_matches("ib")
        .trim_end_matches('b')
    {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0f64.powi(2),
        "g" => 1024.0f64.powi(3),
        "t" => 1024.0f64.powi(4),
        _ => f64::NAN,
    };
    match num.parse::<f64>() {
        Ok(n) if n > 0.0 && factor.is_finite() => Ok(n * factor),
        _ => Err(Error::config(
            Field::MaxMemory,
            format!("'{text}' is not a size like 512M, 4G or 1.5GiB"),
        )),
    }
}

/// MemAvailable from `/proc/meminfo`, in bytes; `None` where it cannot be read.
pub fn mem_available() -> Option<f64> {
    let text = std::fs::read_to_string(Path::new("/proc/meminfo")).ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4G").unwrap(), 4.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(
            parse_size("1.5GiB").unwrap(),
            1.5 * 1024.0 * 1024.0 * 1024.0
        );
        assert_eq!(parse_size("512m").unwrap(), 512.0 * 1024.0 * 1024.0);
        assert_eq!(parse_size("1000").unwrap(), 1000.0);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("4X").is_err());
    }

    #[test]
    fn memory_grows_with_the_square_of_the_width() {
        let at = |n: usize| {
            Estimate::of(&PointConfig {
                task: Some(Task::Mnist),
                hidden: Some(vec![n]),
                ..Default::default()
            })
            .bytes
        };
        // 10 classes, pre and post: 3·10·2·N² words dominate for a wide layer.
        let wide = at(20_000) - at(10_000);
        let expected = 8.0 * 60.0 * (20_000f64.powi(2) - 10_000f64.powi(2));
        assert!((wide / expected - 1.0).abs() < 0.01, "{wide} vs {expected}");
    }
}
