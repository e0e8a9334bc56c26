//! `bench_summary [CRITERION_DIR] [SVG_OUT]`: one table of the criterion results of
//! `cargo bench --bench propagation` (cost vs layer width N per benchmark, GFLOP/s where the
//! benchmark's throughput counts flops) and a log-log SVG plot of cost vs N with the fitted
//! slope of each curve (least squares of ln t on ln N over N ≥ 256, the asymptotic regime).
//!
//! Reads `<dir>/<group>/<id>/new/{benchmark,estimates}.json` (criterion 0.8 layout); the
//! directory defaults to `$CARGO_TARGET_DIR/criterion`, else `target/criterion`; the plot to
//! `<dir>/summary.svg`. The SVG is written by hand (lines and text only), needing no fonts.
//!
//! First it prints the machine's measured f64 peak ([`corrflow::timing::peak`]: an FMA loop on
//! every f64 lane the runtime dispatch picks, one thread and all threads) and faer's GEMM rate
//! measured the same way as `--timings` does, so the table's GFLOP/s have their ceiling beside
//! them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use corrflow::timing::calibrate::{calibrate, CALIBRATION_N, CALIBRATION_REPS};
use corrflow::timing::peak::fma_peak;
use corrflow::timing::Moment;
use serde_json::Value;

/// Groups whose throughput elements are flops (see benches/propagation.rs).
const FLOP_GROUPS: [&str; 3] = ["affine", "gemm", "kl_divergence"];

struct Point {
    n: f64,
    seconds: f64,
    elements: Option<f64>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(|t| PathBuf::from(t).join("criterion"))
            .unwrap_or_else(|| PathBuf::from("target/criterion"))
    });
    let svg = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("summary.svg"));
    print_machine();
    let (sized, other) = match collect(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "bench_summary: {}: {e} (run `just bench` first)",
                dir.display()
            );
            std::process::exit(1);
        }
    };
    print_tables(&sized, &other);
    match std::fs::write(&svg, plot(&sized)) {
        Ok(()) => println!("\nplot: {}", svg.display()),
        Err(e) => eprintln!("bench_summary: writing {}: {e}", svg.display()),
    }
}

/// FMA-loop iterations per run: 256 flops each with AVX-512 (16 accumulators × 8 lanes × 2),
/// ~0.1 s per run on a 2026 core.
const PEAK_ITERATIONS: usize = 20_000_000;

/// The measured FMA peak (one thread, all threads) and faer's GEMM rate on all threads.
fn print_machine() {
    let threads = corrflow::io::thread_count::available_cores();
    let p = fma_peak(PEAK_ITERATIONS, 3, threads);
    println!(
        "machine peak (FMA loop, {} f64 lanes): {:.1} GFLOP/s per core, {:.1} GFLOP/s on {} threads",
        p.lanes, p.per_core, p.total, p.threads
    );
    let mut reference = None;
    let g = calibrate(
        &mut reference,
        Moment::After,
        CALIBRATION_N,
        2 * CALIBRATION_REPS,
    );
    println!(
        "faer GEMM ({n}² f64): {:.1} GFLOP/s on {} threads = {:.0} % of the measured peak\n",
        g.gflops,
        g.threads,
        100.0 * g.gflops / p.total,
        n = g.n
    );
}

type Sized = BTreeMap<String, Vec<Point>>;
type Other = Vec<(String, f64, Option<f64>)>;

/// Benchmarks with a numeric id (the width N) by group, and the others by full id.
fn collect(dir: &Path) -> std::io::Result<(Sized, Other)> {
    let mut sized: Sized = BTreeMap::new();
    let mut other = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if !path.is_dir() {
                continue;
            }
            let (bench, est) = (
                path.join("new/benchmark.json"),
                path.join("new/estimates.json"),
            );
            if !(bench.is_file() && est.is_file()) {
                stack.push(path);
                continue;
            }
            let (Some(b), Some(e)) = (read_json(&bench), read_json(&est)) else {
                continue;
            };
            let ns = e["slope"]["point_estimate"]
                .as_f64()
                .or_else(|| e["mean"]["point_estimate"].as_f64())
                .unwrap_or(f64::NAN);
            let group = b["group_id"].as_str().unwrap_or("?").to_string();
            let elements = b["throughput"]["Elements"].as_f64();
            let id = b["value_str"]
                .as_str()
                .or_else(|| b["function_id"].as_str())
                .unwrap_or("");
            match id.parse::<f64>() {
                Ok(n) if b["function_id"].is_null() => {
                    sized.entry(group).or_default().push(Point {
                        n,
                        seconds: ns * 1e-9,
                        elements,
                    })
                }
                _ => other.push((
                    b["full_id"].as_str().unwrap_or(&group).to_string(),
                    ns * 1e-9,
                    elements,
                )),
            }
        }
    }
    for pts in sized.values_mut() {
        pts.sort_by(|a, b| a.n.total_cmp(&b.n));
    }
    other.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((sized, other))
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Least-squares slope of ln t against ln N over the points with N ≥ `from`.
fn slope(pts: &[Point], from: f64) -> Option<f64> {
    let xy: Vec<(f64, f64)> = pts
        .iter()
        .filter(|p| p.n >= from && p.seconds > 0.0)
        .map(|p| (p.n.ln(), p.seconds.ln()))
        .collect();
    if xy.len() < 2 {
        return None;
    }
    let k = xy.len() as f64;
    let (mx, my) = (
        xy.iter().map(|p| p.0).sum::<f64>() / k,
        xy.iter().map(|p| p.1).sum::<f64>() / k,
    );
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    Some(sxy / sxx)
}

fn fmt_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn print_tables(sized: &Sized, other: &Other) {
    let widths: Vec<f64> = {
        let mut w: Vec<f64> = sized.values().flatten().map(|p| p.n).collect();
        w.sort_by(f64::total_cmp);
        w.dedup();
        w
    };
    let mut head = format!("{:<20}", "benchmark \\ N");
    for n in &widths {
        let _ = write!(head, " {n:>10}");
    }
    println!("{head} {:>7}", "slope");
    for (group, pts) in sized {
        let mut row = format!("{group:<20}");
        let mut rate = format!("{:<20}", "  GFLOP/s");
        for n in &widths {
            match pts.iter().find(|p| p.n == *n) {
                Some(p) => {
                    let _ = write!(row, " {:>10}", fmt_time(p.seconds));
                    let g = p.elements.map_or(f64::NAN, |e| e / p.seconds * 1e-9);
                    let _ = write!(rate, " {g:>10.1}");
                }
                None => {
                    let _ = write!(row, " {:>10}", "-");
                    let _ = write!(rate, " {:>10}", "-");
                }
            }
        }
        let s = slope(pts, 256.0).map_or("-".into(), |s| format!("{s:.2}"));
        println!("{row} {s:>7}");
        if FLOP_GROUPS.contains(&group.as_str()) {
            println!("{rate}");
        }
    }
    if let (Some(a), Some(g)) = (sized.get("affine"), sized.get("gemm")) {
        let mut row = format!("{:<20}", "affine/gemm rate");
        for n in &widths {
            let r = a
                .iter()
                .zip(g)
                .find(|(p, q)| p.n == *n && q.n == *n)
                .and_then(|(p, q)| Some((p.elements? / p.seconds) / (q.elements? / q.seconds)));
            let _ = write!(
                row,
                " {:>10}",
                r.map_or("-".into(), |r| format!("{:.0}%", 100.0 * r))
            );
        }
        println!("{row}");
    }
    if !other.is_empty() {
        println!();
        for (id, s, el) in other {
            let per = el.map_or(String::new(), |e| format!("  ({:.3e} elements/s)", e / s));
            println!("{id:<48} {:>10}{per}", fmt_time(*s));
        }
    }
}

/// Log-log plot of cost vs N, one polyline per group, slopes in the legend.
fn plot(sized: &Sized) -> String {
    let (w, h, left, right, top, bottom) = (900.0, 600.0, 80.0, 260.0, 30.0, 60.0);
    let pts = sized.values().flatten();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in pts.filter(|p| p.seconds > 0.0) {
        x0 = x0.min(p.n.log10());
        x1 = x1.max(p.n.log10());
        y0 = y0.min(p.seconds.log10());
        y1 = y1.max(p.seconds.log10());
    }
    let (y0, y1) = (y0.floor(), y1.ceil());
    let sx = |x: f64| left + (x.log10() - x0) / (x1 - x0).max(1e-9) * (w - left - right);
    let sy = |y: f64| top + (y1 - y.log10()) / (y1 - y0).max(1e-9) * (h - top - bottom);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">layer width N (log)</text>\
         <text x=\"15\" y=\"{}\" transform=\"rotate(-90 15 {})\" text-anchor=\"middle\">seconds (log)</text>",
        (left + w - right) / 2.0,
        h - 15.0,
        h / 2.0,
        h / 2.0
    );
    for e in (y0 as i32)..=(y1 as i32) {
        let y = sy(10f64.powi(e));
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">1e{e}</text>",
            w - right,
            left - 5.0,
            y + 4.0
        );
    }
    let mut ns: Vec<f64> = sized.values().flatten().map(|p| p.n).collect();
    ns.sort_by(f64::total_cmp);
    ns.dedup();
    for n in ns {
        let x = sx(n);
        let _ = writeln!(
            s,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{top}\" y2=\"{}\" stroke=\"#ddd\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{n}</text>",
            h - bottom,
            h - bottom + 18.0
        );
    }
    let colors = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
    ];
    for (k, (group, pts)) in sized.iter().enumerate() {
        let c = colors[k % colors.len()];
        let line: Vec<String> = pts
            .iter()
            .filter(|p| p.seconds > 0.0)
            .map(|p| format!("{:.1},{:.1}", sx(p.n), sy(p.seconds)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
        let sl = slope(pts, 256.0).map_or("-".into(), |v| format!("{v:.2}"));
        let ly = top + 20.0 * k as f64;
        let _ = writeln!(
            s,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"3\"/>\
             <text x=\"{}\" y=\"{}\">{group} (slope {sl})</text>",
            w - right + 10.0,
            w - right + 30.0,
            w - right + 35.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
