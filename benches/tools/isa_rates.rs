//! Rates per instruction set on this machine (issue #14, item 7): a register-only FMA loop
//! (the machine's measured f64 peak), faer's GEMM micro-kernels (`private-gemm-x86`, the crate
//! behind faer's f64 products above 16³) held to AVX-512 or AVX2, and the dense affine update's
//! two products WΣ and (WΣ)Wᵀ (4N³ flops) on each, at 1 and 2 threads:
//! `cargo run --release --example isa_rates -- N ROUNDS`.
//!
//! faer itself always takes AVX-512 where the CPU has it (`is_x86_feature_detected!("avx512f")`
//! in faer 0.24's `matmul`, no switch), so the AVX2 GEMM is called directly here. The crate's
//! own kernels (closures) follow `CORRFLOW_ISA` (see `closure_ratio`). Every rate is the best
//! of ROUNDS, in GFLOP/s, with its share of the FMA loop of the same instruction set and
//! thread count.

use std::hint::black_box;
use std::time::Instant;

use corrflow::timing::peak::fma_peak_on;

#[cfg(target_arch = "x86_64")]
use private_gemm_x86::{gemm, Accum, DType, DstKind, IType, InstrSet};

#[path = "inputs.rs"]
#[allow(dead_code)]
mod inputs;
#[cfg(target_arch = "x86_64")]
use inputs::Uniform;

const USAGE: &str = "usage: isa_rates N ROUNDS";

/// Steps of the FMA loop per run (`timing::peak`): ~0.1 s on a 2026 core.
const FMA_ITERATIONS: usize = 20_000_000;

/// C = A·B (column-major n×n, Accum::Replace) by private-gemm-x86 on `instr`.
#[cfg(target_arch = "x86_64")]
fn product(instr: InstrSet, n: usize, a: &[f64], b: &[f64], c: &mut [f64], threads: usize) {
    let alpha = 1.0f64;
    // SAFETY: a, b and c are n×n column-major buffers (row stride 1, column stride n) that
    // outlive the call; c does not alias a or b.
    unsafe {
        gemm(
            DType::F64,
            IType::U64,
            instr,
            n,
            n,
            n,
            c.as_mut_ptr() as *mut (),
            1,
            n as isize,
            std::ptr::null(),
            std::ptr::null(),
            DstKind::Full,
            Accum::Replace,
            a.as_ptr() as *const (),
            1,
            n as isize,
            false,
            std::ptr::null(),
            0,
            b.as_ptr() as *const (),
            1,
            n as isize,
            false,
            &raw const alpha as *const (),
            threads,
        );
    }
}

#[cfg(target_arch = "x86_64")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |k: usize| -> usize { args.get(k).and_then(|a| a.parse().ok()).expect(USAGE) };
    let (n, rounds) = (num(0), num(1).max(1));
    let v4 = pulp::x86::V4::try_new().is_some();
    let v3 = pulp::x86::V3::try_new().is_some();
    println!("N={n}, rounds={rounds}, CPU has AVX-512: {v4}, AVX2+FMA: {v3}");
    let mut u = Uniform(7);
    let w: Vec<f64> = (0..n * n).map(|_| u.next()).collect();
    let sigma: Vec<f64> = (0..n * n).map(|_| u.next()).collect();
    let (mut ws, mut out) = (vec![0.0; n * n], vec![0.0; n * n]);
    let sets = [
        ("avx512", corrflow::simd::Isa::Best, InstrSet::Avx512, 8, v4),
        ("avx2", corrflow::simd::Isa::Avx2, InstrSet::Avx256, 4, v3),
    ];
    for (name, isa, instr, lanes, present) in sets {
        if !present {
            println!("{name}: not on this CPU");
            continue;
        }
        for threads in [1, 2] {
            let p = fma_peak_on(isa, FMA_ITERATIONS, rounds, threads);
            assert_eq!(
                p.lanes, lanes,
                "{name}: the FMA loop ran on {} lanes",
                p.lanes
            );
            let peak = if threads == 1 { p.per_core } else { p.total };
            let best = |f: &mut dyn FnMut()| {
                (0..rounds)
                    .map(|_| {
                        let t = Instant::now();
                        f();
                        t.elapsed().as_secs_f64()
                    })
                    .fold(f64::INFINITY, f64::min)
            };
            let g = best(&mut || product(instr, n, &w, &sigma, &mut ws, threads));
            let gemm_rate = 2.0 * (n as f64).powi(3) / g * 1e-9;
            // WΣ, then (WΣ)·Wᵀ with Wᵀ as a column-major copy (the affine update keeps one).
            let wt: Vec<f64> = (0..n * n).map(|k| w[(k % n) * n + k / n]).collect();
            let a = best(&mut || {
                product(instr, n, &w, &sigma, &mut ws, threads);
                product(instr, n, &ws, &wt, &mut out, threads);
            });
            let affine_rate = 4.0 * (n as f64).powi(3) / a * 1e-9;
            black_box(&out);
            println!(
                "{name} threads={threads}: FMA loop {peak:.1} GFLOP/s; GEMM {n}³ {:.2} ms = \
                 {gemm_rate:.1} GFLOP/s ({:.0}% of the loop); WΣWᵀ (two products) {:.2} ms = \
                 {affine_rate:.1} GFLOP/s ({:.0}%)",
                g * 1e3,
                100.0 * gemm_rate / peak,
                a * 1e3,
                100.0 * affine_rate / peak
            );
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("isa_rates measures x86-64 instruction sets only");
}
