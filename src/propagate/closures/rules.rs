//! Quadrature rules: Gauss–Legendre nodes and a composite Gauss–Legendre rule for Gaussian
//! expectations E[f(z)], z ~ N(0, 1), with optional break points where f has a kink.

use std::f64::consts::PI;
use std::sync::OnceLock;

/// Points per panel of the composite rule.
pub const PANEL_POINTS: usize = 16;

/// Gauss–Legendre nodes and weights on [−1, 1] (nodes ascending), by Newton's method on the
/// Legendre recurrence (n P_n = (2n−1) x P_{n−1} − (n−1) P_{n−2}), started from the Tricomi
/// approximation cos(π(k − ¼)/(n + ½)). Accurate to a few ulps for n ≤ a few hundred.
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    for k in 0..n.div_ceil(2) {
        let mut z = (PI * (k as f64 + 0.75) / (n as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (p, d) = legendre(n, z);
            let dz = p / d;
            z -= dz;
            if dz.abs() <= 1e-16 {
                break;
            }
        }
        let (_, d) = legendre(n, z);
        let wk = 2.0 / ((1.0 - z * z) * d * d);
        x[k] = -z;
        x[n - 1 - k] = z;
        w[k] = wk;
        w[n - 1 - k] = wk;
    }
    (x, w)
}

/// P_n(z) and P_n'(z) by the three-term recurrence.
fn legendre(n: usize, z: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, z);
    if n == 0 {
        return (1.0, 0.0);
    }
    for k in 2..=n {
        let kf = k as f64;
        let p2 = ((2.0 * kf - 1.0) * z * p1 - (kf - 1.0) * p0) / kf;
        p0 = p1;
        p1 = p2;
    }
    let d = n as f64 * (z * p1 - p0) / (z * z - 1.0);
    (p1, d)
}

/// Nodes and weights of the [`PANEL_POINTS`]-point Gauss–Legendre rule on [−1, 1] of every
/// panel, computed once.
pub fn panel_nodes() -> &'static (Vec<f64>, Vec<f64>) {
    static RULE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    RULE.get_or_init(|| gauss_legendre(PANEL_POINTS))
}

/// A stretch [lo, hi] of z where the integrand varies on a finer scale than elsewhere: its
/// panels are at most `width` wide.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub lo: f64,
    pub hi: f64,
    pub width: f64,
}

/// Composite rule for Gaussian expectations: ∫_{−L}^{L} f(z) φ(z) dz, φ the standard normal
/// density, split at `breaks` (kinks of f, at most 4) and at the ends of `windows` (at most 2),
/// and into panels no wider than `width` — or, inside a window, than the narrowest window's
/// width — each with a 16-point Gauss–Legendre rule. Calls `visit(z, w)` once per node;
/// Σ w f(z) ≈ E[f(z)]. The truncated mass beyond ±L is 2Φ(−L) (≈ 2·10⁻¹⁹ at L = 9). Without
/// windows the panels are those of a single width.
pub fn for_each_normal_node(
    breaks: &[f64],
    width: f64,
    windows: &[Window],
    half_range: f64,
    mut visit: impl FnMut(f64, f64),
) {
    let norm = 1.0 / (2.0 * PI).sqrt();
    for_each_node(breaks, width, windows, half_range, |z, w| {
        visit(z, w * norm * (-0.5 * z * z).exp())
    });
}

/// The panels of [`for_each_normal_node`] without the Gaussian weight: `visit(z, w)` with
/// Σ w f(z) ≈ ∫_{−L}^{L} f(z) dz, for callers that apply the weight φ(z) themselves (on SIMD
/// lanes).
pub fn for_each_node(
    breaks: &[f64],
    width: f64,
    windows: &[Window],
    half_range: f64,
    mut visit: impl FnMut(f64, f64),
) {
    let (gx, gw) = panel_nodes();
    for_each_panel(breaks, width, windows, half_range, |mid, half| {
        for (x, w) in gx.iter().zip(gw) {
            visit(mid + half * x, half * w);
        }
    });
}

/// The panels of [`for_each_node`]: `visit(mid, half)` once per panel [mid − half, mid + half],
/// whose nodes are mid + half·xₖ with weights half·wₖ, (xₖ, wₖ) the [`PANEL_POINTS`]-point
/// Gauss–Legendre rule of [`panel_nodes`] (for callers that form the nodes on SIMD lanes).
pub fn for_each_panel(
    breaks: &[f64],
    width: f64,
    windows: &[Window],
    half_range: f64,
    mut visit: impl FnMut(f64, f64),
) {
    for_each_segment(breaks, width, windows, half_range, |lo, hi, panels| {
        let h = (hi - lo) / panels as f64;
        for p in 0..panels {
            visit(lo + (p as f64 + 0.5) * h, 0.5 * h);
        }
    });
}

/// How many panels [`for_each_panel`] visits, counted per segment without visiting them: a
/// rule's cost (its nodes are [`PANEL_POINTS`] times this) in time independent of its size.
pub fn panel_count(breaks: &[f64], width: f64, windows: &[Window], half_range: f64) -> usize {
    let mut count = 0;
    for_each_segment(breaks, width, windows, half_range, |_, _, panels| {
        count += panels
    });
    count
}

/// The segments of [−L, L] between the `breaks` (at most 4) and the ends of the `windows` (at
/// most 2): `visit(lo, hi, panels)` with the count of equal panels no wider than `width` — or,
/// inside a window, than the narrowest window's width — that the segment is cut into.
fn for_each_segment(
    breaks: &[f64],
    width: f64,
    windows: &[Window],
    half_range: f64,
    mut visit: impl FnMut(f64, f64, usize),
) {
    let mut cuts = [0.0f64; 10];
    let mut len = 0;
    cuts[len] = -half_range;
    len += 1;
    let window_ends = windows.iter().take(2).flat_map(|w| [w.lo, w.hi]);
    for b in breaks.iter().take(4).copied().chain(window_ends) {
        if b.is_finite() && b > -half_range && b < half_range {
            cuts[len] = b;
            len += 1;
        }
    }
    cuts[len] = half_range;
    len += 1;
    cuts[..len].sort_by(f64::total_cmp);
    for seg in cuts[..len].windows(2) {
        let (lo, hi) = (seg[0], seg[1]);
        if hi <= lo {
            continue;
        }
        let mid = 0.5 * (lo + hi);
        let width = windows
            .iter()
            .take(2)
            .filter(|w| w.lo <= mid && mid <= w.hi)
            .fold(width, |acc, w| acc.min(w.width));
        visit(lo, hi, ((hi - lo) / width).ceil().max(1.0) as usize);
    }
}

/// E[f(z)], z ~ N(0, 1), by [`for_each_normal_node`].
pub fn normal_expect(
    breaks: &[f64],
    width: f64,
    windows: &[Window],
    half_range: f64,
    mut f: impl FnMut(f64) -> f64,
) -> f64 {
    let mut acc = 0.0;
    for_each_normal_node(breaks, width, windows, half_range, |z, w| acc += w * f(z));
    acc
}
