//! The upper halves of the AVX registers after code that leaves them in use.
//!
//! faer's GEMM on x86 (`private-gemm-x86`) runs hand-written AVX-512/AVX micro-kernels that
//! return without `vzeroupper`, so the thread that ran one keeps the upper halves of its vector
//! registers marked in use (XINUSE bits 2 and 6). The crate's scalar code is SSE (the baseline
//! target), and every call from it into glibc's VEX-encoded `exp`, `log`, … while that state is
//! set pays a transition: on this project's Intel Xeon (AVX-512, 2 cores, KVM) a loop of
//! `exp(log(·))` ran 28× slower (14.4 → 410–432 ms for 10⁶ iterations, a C probe, clo22;
//! BENCHMARKS.md "The series closures at two threads"). Compiled Rust SIMD code (pulp) ends
//! each function with `vzeroupper` and cleans the state as a side effect, so the slowdown
//! appears only where scalar code with libm calls follows a GEMM on the same thread before any
//! such function: rayon workers after a parallel GEMM (the affine update, the series
//! closures' coefficient products).

/// Marks the upper halves of the vector registers unused (`vzeroupper`) on the calling thread;
/// nothing on a CPU without AVX. Call it after a faer GEMM on a thread that goes on to scalar
/// code.
#[inline]
pub fn clear_upper() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn zero_upper() {
            std::arch::x86_64::_mm256_zeroupper();
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX (checked just above).
            unsafe { zero_upper() };
        }
    }
}

/// [`clear_upper`] on the calling thread and on every thread of the current rayon pool (one
/// `rayon::broadcast`): after a GEMM with `Par::rayon`, whose micro-kernels ran on the pool's
/// workers.
pub fn clear_upper_everywhere() {
    rayon::broadcast(|_| clear_upper());
    clear_upper();
}

/// Whether the calling thread has the upper halves of its vector registers in use (XINUSE,
/// `xgetbv` with ECX = 1: bit 2, the YMM upper halves, or bit 6, the ZMM upper halves of
/// registers 0–15, the state `vzeroupper` clears); `None` where the CPU cannot tell.
pub fn upper_in_use() -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "xsave")]
        fn xinuse() -> u64 {
            // SAFETY: called only where CPUID reports XGETBV with ECX = 1.
            unsafe { std::arch::x86_64::_xgetbv(1) }
        }
        #[allow(unused_unsafe)]
        // SAFETY: leaf 0xD exists on every CPU with XSAVE, checked first.
        let ecx1 = std::arch::is_x86_feature_detected!("xsave")
            && unsafe { std::arch::x86_64::__cpuid_count(0xd, 1) }.eax & 4 != 0;
        if ecx1 {
            // SAFETY: XSAVE and XGETBV with ECX = 1 are available (checked above).
            return Some(unsafe { xinuse() } & 0x44 != 0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a faer GEMM the state is set (the premise of this module, so that the tests of the
    /// callers that clear it can fail), and `clear_upper` clears it.
    #[test]
    fn gemm_leaves_the_upper_state_in_use_and_clear_upper_clears_it() {
        use faer::linalg::matmul::matmul;
        use faer::{Accum, Mat, Par};
        let Some(_) = upper_in_use() else {
            println!("XINUSE not readable on this CPU: skipped");
            return;
        };
        let a = Mat::<f64>::from_fn(64, 64, |i, j| (i + 2 * j) as f64);
        let mut c = Mat::<f64>::zeros(64, 64);
        matmul(c.as_mut(), Accum::Replace, &a, &a, 1.0, Par::Seq);
        let after_gemm = upper_in_use();
        clear_upper();
        let after_clear = upper_in_use();
        assert_eq!(after_clear, Some(false));
        println!("after the GEMM: in use {after_gemm:?}");
    }
}
