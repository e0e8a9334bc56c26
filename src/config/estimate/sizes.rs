//! Byte sizes as people read them ([`human_bytes`]) and write them ([`parse_size`]:
//! `--max-memory`, `sweep submit --mem`), and the memory the machine has available
//! ([`mem_available`], a sweep's default limit).

use std::path::Path;

use crate::error::{Error, Result};

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

/// Parses a size such as `512M`, `4G`, `1.5GiB` or a plain number of bytes, the value of
/// `flag` (`--max-memory`, `sweep submit --mem`), which an error names.
pub fn parse_size(text: &str, flag: &str) -> Result<f64> {
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
        // Sizes are whole bytes in a u64 (16 EiB): a larger one (`99999999999999999999T`, or
        // digits that overflow f64) was taken as no limit without a word (adv49a).
        Ok(n) if n > 0.0 && factor.is_finite() && n * factor >= 2f64.powi(64) => Err(Error::flag(
            flag,
            format!(
                "'{}' is over the largest size, 16 EiB (leave {flag} out for the default)",
                crate::error::excerpt(text)
            ),
        )),
        Ok(n) if n > 0.0 && factor.is_finite() => Ok(n * factor),
        _ => Err(Error::flag(
            flag,
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

    /// A size past a u64 of bytes is refused, not taken as no limit (adv49a: exit 0 under
    /// `--max-memory 99999999999999999999T`); 16E-1 byte sizes still parse.
    #[test]
    fn a_size_past_sixteen_exbibytes_is_refused() {
        for text in ["99999999999999999999T", "16777216T", &"9".repeat(400)] {
            let err = parse_size(text, "--max-memory").unwrap_err().to_string();
            assert!(
                err.contains("over the largest size, 16 EiB"),
                "{text}: {err}"
            );
        }
        assert_eq!(
            parse_size("16777215T", "--max-memory").unwrap(),
            16777215.0 * 1024f64.powi(4)
        );
        assert_eq!(
            parse_size("512M", "--max-memory").unwrap(),
            512.0 * 1024f64.powi(2)
        );
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(
            parse_size("4G", "--max-memory").unwrap(),
            4.0 * 1024.0 * 1024.0 * 1024.0
        );
        assert_eq!(
            parse_size("1.5GiB", "--max-memory").unwrap(),
            1.5 * 1024.0 * 1024.0 * 1024.0
        );
        assert_eq!(
            parse_size("512m", "--max-memory").unwrap(),
            512.0 * 1024.0 * 1024.0
        );
        assert_eq!(parse_size("1000", "--max-memory").unwrap(), 1000.0);
        assert!(parse_size("lots", "--max-memory").is_err());
        assert!(parse_size("4X", "--max-memory").is_err());
    }
}
