//! Numbers as people read them in text output (JSON keeps every digit).
//!
//! [`sig`] prints a value with a given number of significant digits: fixed-point between 10⁻³
//! and 10⁵ (`8.237`, `0.01234`, `1234.6`), scientific outside (`3.142e-7`), `0` for zero.
//! [`non_negative`] is for quantities that are ≥ 0 in exact arithmetic (a KL divergence, a
//! relative error, a Bhattacharyya term): a negative value no larger in magnitude than
//! [`ROUNDING_LEVEL`] is floating-point cancellation and prints as `0`; a larger negative value
//! is printed as it is, since it signals a real problem rather than rounding.

/// Magnitude below which a negative value of a non-negative quantity counts as rounding (the
/// crate's one rounding level for O(1) quantities, defined with the statistics).
pub use crate::stats::ROUNDING_LEVEL;

/// `x` with `digits` significant digits (at least 1), as the module docs describe.
pub fn sig(x: f64, digits: usize) -> String {
    let digits = digits.max(1);
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let magnitude = x.abs();
    if (1e-3..1e5).contains(&magnitude) {
        let exponent = magnitude.log10().floor() as i32;
        let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
        let text = format!("{x:.decimals$}");
        // Rounding may carry into a new leading digit (9.9996 → 10.000): one decimal fewer.
        let carried = text.trim_start_matches('-').split('.').next().map(str::len)
            > Some(exponent.max(0) as usize + 1);
        if carried && decimals > 0 {
            return format!("{x:.prec$}", prec = decimals - 1);
        }
        return text;
    }
    format!("{x:.prec$e}", prec = digits - 1)
}

/// A standard error beside a probability printed with 4 decimals: `{se:.4}` from 5·10⁻⁵ on,
/// below that 2 significant digits in scientific notation (`2.8e-5`), so that an error that is
/// not 0 never prints as `0.0000`, which reads as exact (a predicted confusion entry printed
/// "0.0003 ± 0.0000" for a standard error of 2.8·10⁻⁵, adv59); 0 prints as `0.0000`.
pub fn stderr(se: f64) -> String {
    if se == 0.0 || se.abs() >= 5e-5 || !se.is_finite() {
        format!("{se:.4}")
    } else {
        format!("{se:.1e}")
    }
}

/// [`sig`] of a quantity that is non-negative in exact arithmetic, with rounding-level
/// negatives (≥ −[`ROUNDING_LEVEL`]) printed as `0`.
pub fn non_negative(x: f64, digits: usize) -> String {
    if (-ROUNDING_LEVEL..0.0).contains(&x) {
        return "0".to_string();
    }
    sig(x, digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A standard error prints with 4 decimals where they hold a digit of it, in scientific
    /// notation below (never a 0.0000 for an error that is not 0), and 0 as 0.0000.
    #[test]
    fn a_small_standard_error_keeps_its_digits() {
        assert_eq!(stderr(0.0), "0.0000");
        assert_eq!(stderr(0.0123), "0.0123");
        assert_eq!(stderr(5e-5), "0.0001");
        assert_eq!(stderr(2.8e-5), "2.8e-5");
        assert_eq!(stderr(4.94e-5), "4.9e-5");
        assert_eq!(stderr(1.2e-9), "1.2e-9");
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(sig(8.23731, 5), "8.2373");
        assert_eq!(sig(0.0, 4), "0");
        assert_eq!(sig(0.012345, 3), "0.0123");
        assert_eq!(sig(1234.56, 4), "1235");
        assert_eq!(sig(9.99996, 4), "10.00");
        assert_eq!(sig(-0.5, 3), "-0.500");
        assert_eq!(sig(3.14159e-7, 4), "3.142e-7");
        assert_eq!(sig(2.5e7, 2), "2.5e7");
        assert_eq!(sig(f64::NAN, 3), "NaN");
        assert_eq!(non_negative(-5.684e-14, 4), "0");
        assert_eq!(non_negative(-0.25, 3), "-0.250");
        assert_eq!(non_negative(1.5e-12, 3), "1.50e-12");
    }
}
