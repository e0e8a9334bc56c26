//! Process CPU time: what a stage cost on a machine shared with other work, where its wall time
//! also counts the time the process waited for a core.

/// CPU time of this process so far, user and system, summed over every thread
/// (`clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`, POSIX), in seconds.
pub fn process_cpu_seconds() -> std::io::Result<f64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec and the clock id is one the kernel defines.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed amount of work (~10⁸ dependent multiply–adds, tens of milliseconds) advances
    /// the clock: a clock that stood still or ran backwards fails.
    #[test]
    fn counts_work_done() {
        let a = process_cpu_seconds().unwrap();
        let mut x = 0u64;
        for _ in 0..100_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let b = process_cpu_seconds().unwrap();
        assert!(b.is_finite() && b > a, "{a} → {b} after {x}");
    }
}
