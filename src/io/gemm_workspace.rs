//! The address space faer's matrix products map in each thread that runs one: private-gemm-x86
//! (0.1.22, the version faer 0.24 uses) keeps a thread-local workspace of two blocks of its L3
//! size, allocated on the thread's first product, and a failed allocation aborts the process
//! ("memory allocation of 545259520 bytes failed", exit 134, under `ulimit -v 250000` on this
//! project's machine, whose 260 MiB L3 makes it 520 MiB; adv39). The size is computed here as
//! that crate computes it (its `cache::CACHE_INFO`, Linux path, from
//! `/sys/devices/system/cpu/cpu*/cache/index*`), so that `ulimit -v` budgets reserve it.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

/// Where the workspace cannot be worked out: 64 MiB (two 32 MiB blocks, adv's earlier figure).
const FALLBACK_BYTES: u64 = 64 << 20;

/// private-gemm's smallest L3 (its `CACHE_INFO_DEFAULT` on x86-64) and L2.
const MIN_L3: u64 = 2 << 20;
const MIN_L2: u64 = 256 << 10;

/// Bytes of private-gemm's thread-local workspace: 2 × L3 rounded up to 4 KiB pages, where L3
/// is cpu0's level-3 size ÷ the CPUs sharing it × the CPUs sharing its level-1 data cache ×
/// the physical cores, at least 2 MiB and 4 × L2 (L2 likewise, at least 256 KiB) — the crate's
/// rules for a machine whose CPUs are alike. [`FALLBACK_BYTES`] where sysfs says nothing.
pub fn gemm_workspace_bytes() -> u64 {
    static BYTES: OnceLock<u64> = OnceLock::new();
    *BYTES.get_or_init(|| {
        let cache = Path::new("/sys/devices/system/cpu/cpu0/cache");
        let levels = caches(cache);
        let (Some(l1_shared), Some(l3)) = (shared(&levels, 1), levels.iter().find(|c| c.0 == 3))
        else {
            return FALLBACK_BYTES;
        };
        let physical = physical_cores().max(1);
        let per_core = |(_, size, shared): Cache| size / shared.max(1) * l1_shared;
        let l2 = levels
            .iter()
            .find(|c| c.0 == 2)
            .map_or(0, |&c| per_core(c))
            .max(MIN_L2);
        let l3 = (per_core(*l3) * physical).max(MIN_L3).max(4 * l2);
        2 * l3.div_ceil(4096) * 4096
    })
}

/// A data or unified cache of cpu0: its level, size in bytes and the CPUs sharing it.
type Cache = (u32, u64, u64);

/// The data and unified caches under `dir` (`…/cpu0/cache`).
fn caches(dir: &Path) -> Vec<Cache> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let read = |d: &Path, name: &str| fs::read_to_string(d.join(name)).ok();
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|d| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("index"))
        })
        .filter(|d| {
            matches!(
                read(d, "type").as_deref().map(str::trim),
                Some("Data" | "Unified")
            )
        })
        .filter_map(|d| {
            let level = read(&d, "level")?.trim().parse().ok()?;
            let size = parse_size(read(&d, "size")?.trim())?;
            let shared = cpu_count(read(&d, "shared_cpu_list")?.trim())?;
            Some((level, size, shared))
        })
        .collect()
}

/// The CPUs sharing the level-`level` cache (1 for a level-1 data cache of its own).
fn shared(levels: &[Cache], level: u32) -> Option<u64> {
    levels.iter().find(|c| c.0 == level).map(|c| c.2.max(1))
}

/// "266240K", "32M", "1G", "512" → bytes.
fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.char_indices().last()? {
        (i, 'K') => (&text[..i], 1 << 10),
        (i, 'M') => (&text[..i], 1 << 20),
        (i, 'G') => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// The CPUs of a list "0-3,8,10-11" (12 → 7).
fn cpu_count(list: &str) -> Option<u64> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once('-') {
            Some((a, b)) => Some(b.parse::<u64>().ok()? + 1 - a.parse::<u64>().ok()?),
            None => item.parse::<u64>().ok().map(|_| 1),
        })
        .sum()
}

/// Distinct (package, core) pairs among the CPUs (`num_cpus::get_physical`'s count); the
/// available parallelism where the topology cannot be read.
fn physical_cores() -> u64 {
    let Ok(cpus) = fs::read_dir("/sys/devices/system/cpu") else {
        return fallback_cores();
    };
    let mut cores: Vec<(String, String)> = cpus
        .flatten()
        .map(|e| e.path().join("topology"))
        .filter_map(|t| {
            let read = |name| fs::read_to_string(t.join(name)).ok();
            Some((read("physical_package_id")?, read("core_id")?))
        })
        .collect();
    cores.sort();
    cores.dedup();
    match cores.len() as u64 {
        0 => fallback_cores(),
        n => n,
    }
}

/// The available parallelism (1 where unknown).
fn fallback_cores() -> u64 {
    crate::io::thread_count::available_cores() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cpu_lists_parse() {
        assert_eq!(parse_size("266240K"), Some(266240 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(cpu_count("0-3,8,10-11"), Some(7));
        assert_eq!(cpu_count("0"), Some(1));
        assert_eq!(cpu_count("a-b"), None);
    }

    /// The workspace private-gemm allocates is what is reserved: the process maps about that
    /// much more (`/proc/self/statm`'s first field, its address space in pages) across the first
    /// product of a fresh thread, the product's own matrices allocated before. The address space
    /// is the whole process's, which other tests' threads map and unmap meanwhile (it read 0 once
    /// in a parallel run, forty-first session): the growth is measured in a child process of
    /// this test binary that runs only [`workspace_growth_probe`], alone.
    #[test]
    fn the_reserve_covers_the_workspace_a_product_maps() {
        let reserve = gemm_workspace_bytes();
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "--ignored",
                "--exact",
                "io::gemm_workspace::tests::workspace_growth_probe",
                "--nocapture",
                "--test-threads=1",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "probe failed: {stdout}");
        let grown: u64 = stdout
            .lines()
            .find_map(|l| l.split_once("workspace growth bytes: ").map(|(_, n)| n))
            .unwrap_or_else(|| panic!("no growth line in the probe's output: {stdout}"))
            .trim()
            .parse()
            .unwrap();
        // Only a reserve short of the workspace, or far above it, fails.
        assert!(
            grown + (1 << 20) >= reserve && grown <= 2 * reserve,
            "{grown} vs {reserve}"
        );
    }

    /// The measurement of [`the_reserve_covers_the_workspace_a_product_maps`], run by it in a
    /// child process (ignored in ordinary runs: alone in its process it measures the product's
    /// mapping only).
    #[test]
    #[ignore = "run alone in a child process by the_reserve_covers_the_workspace_a_product_maps"]
    fn workspace_growth_probe() {
        let grown = std::thread::spawn(|| {
            let pages = || -> u64 {
                let statm = fs::read_to_string("/proc/self/statm").unwrap();
                statm.split_whitespace().next().unwrap().parse().unwrap()
            };
            let a = faer::Mat::<f64>::from_fn(300, 300, |i, j| (i + j) as f64);
            let mut c = faer::Mat::<f64>::zeros(300, 300);
            let before = pages();
            faer::linalg::matmul::matmul(
                c.as_mut(),
                faer::Accum::Replace,
                a.as_ref(),
                a.as_ref(),
                1.0,
                faer::Par::Seq,
            );
            let after = pages();
            assert!(c[(0, 0)].is_finite());
            after.saturating_sub(before) * 4096
        })
        .join()
        .unwrap();
        println!("workspace growth bytes: {grown}");
    }
}
