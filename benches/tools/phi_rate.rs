//! Φ on SIMD lanes against the normal draws it would sit beside (issue #14 item 2: a
//! conditional Monte Carlo argmax needs K evaluations of Φ per draw where the plain estimator
//! draws K normals): `cargo run --release --example phi_rate -- ROUNDS`.
//!
//! After one untimed fill (the buffer's first touch), per round: 2²² standard normals from
//! [`NormalStream`] (the stream every Monte Carlo figure of `analyze` uses), then Φ(3u) of each
//! of them by [`corrflow::simd::norm_cdf`] (the arguments of the conditional estimator are
//! spread into the tails: 3u reaches every range of fdlibm's erfc, the two polynomial ones near
//! 0 and the exponential ones beyond |x|/√2 = 1.25, in the same vectors); printed: nanoseconds
//! per value of each, by process CPU time ([`process_cpu_seconds`]), and their ratio.

use corrflow::simd::{dispatch, norm_cdf};
use corrflow::stats::gaussian::NormalStream;
use corrflow::timing::cpu::process_cpu_seconds;
use pulp::{Simd, WithSimd};

const USAGE: &str = "usage: phi_rate ROUNDS";
/// Values per round.
const N: usize = 1 << 22;

/// Φ(3u) of every value of `values`, in place.
struct Phi<'a>(&'a mut [f64]);

impl WithSimd for Phi<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let (head, tail) = S::as_mut_simd_f64s(self.0);
        let three = simd.splat_f64s(3.0);
        for v in head {
            *v = norm_cdf(simd, simd.mul_f64s(three, *v));
        }
        for v in tail {
            *v = corrflow::special::normal_cdf(3.0 * *v);
        }
    }
}

fn main() -> Result<(), String> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .filter(|&r| r > 0)
        .ok_or(USAGE)?;
    let cpu = || process_cpu_seconds().map_err(|e| e.to_string());
    let mut values = vec![0.0; N];
    let mut stream = NormalStream::new(7);
    // One untimed fill first: the buffer's page faults are not the stream's work.
    stream.fill(&mut values);
    for round in 1..=rounds {
        let t = cpu()?;
        stream.fill(&mut values);
        let normals = cpu()? - t;
        let t = cpu()?;
        dispatch(Phi(&mut values));
        let phi = cpu()? - t;
        let sum: f64 = values.iter().sum();
        let ns = |s: f64| s / N as f64 * 1e9;
        println!(
            "round {round}: normal {:.2} ns, Φ {:.2} ns per value, ratio {:.2} (mean Φ {:.4})",
            ns(normals),
            ns(phi),
            phi / normals,
            sum / N as f64
        );
    }
    Ok(())
}
