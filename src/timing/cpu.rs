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

/// Involuntary context switches of this process so far, every thread (`getrusage(RUSAGE_SELF)`'s
/// `ru_nivcsw`, POSIX): each one a time the kernel took a core from one of its threads for other
/// work — on a shared machine, mostly another process.
pub fn involuntary_switches() -> std::io::Result<u64> {
    switches(libc::RUSAGE_SELF).map(|(_, involuntary)| involuntary)
}

/// (voluntary, involuntary) context switches of `who` (RUSAGE_SELF, RUSAGE_THREAD).
fn switches(who: libc::c_int) -> std::io::Result<(u64, u64)> {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage and `who` a target getrusage checks.
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let count = |c: libc::c_long| u64::try_from(c).unwrap_or(0);
    Ok((count(u.ru_nvcsw), count(u.ru_nivcsw)))
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

    /// A thread that sleeps 20 times gives its core up 20 times of its own accord: counted as
    /// voluntary, not as involuntary (this thread's counts, so that the other test threads'
    /// preemptions do not enter); the process count never runs backwards.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_sleep_is_not_an_involuntary_switch() {
        let p = involuntary_switches().unwrap();
        let (v0, i0) = switches(libc::RUSAGE_THREAD).unwrap();
        for _ in 0..20 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let (v1, i1) = switches(libc::RUSAGE_THREAD).unwrap();
        assert!(v1 - v0 >= 20, "voluntary {v0} → {v1} over 20 sleeps");
        assert!(i1 - i0 < 20, "involuntary {i0} → {i1} over 20 sleeps");
        assert!(involuntary_switches().unwrap() >= p);
    }
}
