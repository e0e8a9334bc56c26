//! Carrying κ₃ (order 3) or κ₃ and κ₄ (order 4) through every layer: the state the engine's
//! hook ([`crate::propagate::Propagator::run_carried`]) updates.
//!
//! Per hidden layer l and class: the start layer's (or z^{l−1}'s) tensors are mapped exactly to
//! h^l ([`super::affine`]); their slices are attached to h^l's moments; after the Gaussian
//! closure, the chaos rule ([`super::closure`]) adds Δm and ΔC to z^l's mean and covariance
//! and writes z^l's tensors. At the read-out the tensors are mapped to y and y's slices
//! attached (its tails).
//!
//! **Breakdown.** The expansion is an asymptotic series in the carried cumulants; where it is not
//! ordered, a layer falls back for that class: h's carried κ₃/κ₄ are dropped (h taken as
//! Gaussian, as order 2 does), so z gets the Gaussian closure's mean and covariance alone and
//! its tensors are those the nonlinearity makes from a Gaussian h; the carry resumes from them
//! at the next layer. The series counts as diverging at a layer when some unit's variance
//! increment from the carried cumulants exceeds [`MAX_VARIANCE_INCREMENT`] times the Gaussian
//! closure's variance of that unit (the order-K term outweighing the order-2 term it corrects
//! by an order of magnitude). **A diverging series abandons the whole run** ([`Carry::abandons_run`]):
//! where it diverges at some layer (or a variance of the next h turns negative, below), the
//! corrections carried up to there are not trusted either, and
//! [`crate::propagate::Propagator::run_carried`] returns the Gaussian closure's run from the
//! start layer (listed as the first fallback, at the first hidden layer). The corrections of
//! the layers before the divergence are made within the ranges seen where they help, and later
//! layers amplify them: on the ARC benchmark, Gaussian layers from the divergence on left
//! gelu's output mean at depth 16 2.6–9× worse than the all-Gaussian run (EXPERIMENTS.md, "Against
//! ARC's peer", fifth and sixth sessions). This holds for a run whose first closure gets no
//! correction (a Gaussian start stage: every correction is the carried series'); a run whose
//! first closure is corrected from given cumulants (measured at h^{from+1}, e.g. MNIST) keeps
//! the per-layer fallback, since abandoning it would discard that correction too (the
//! quadratic XOR network's z¹ is exact at order 4 only with it). A series that never
//! diverges can still end worse than the Gaussian closure (tanh at depth 16, width 64, order
//! 4): for a Gaussian start, the Monte Carlo pilot ([`Carry::with_pilot`], [`super::pilot`])
//! compares both outputs with draws pushed through the network and abandons the run where the
//! carried one is significantly further from them. The Gram–Charlier density region (|skewness| ≤ [`MAX_SKEW`],
//! excess kurtosis ≤ [`MAX_KURTOSIS`]) is no longer a default criterion: the chaos expansion
//! needs no positive density, and on the ARC benchmark that check fired at depth 5–8 where
//! keeping the carry cut the covariance error 2–3× (EXPERIMENTS.md, "Against ARC's peer,
//! fourth session"); [`Carry::with_breakdown`] still sets it.
//! At order 3 an h without skewness (below [`SYMMETRIC_SKEW`]: an odd φ such as tanh at zero
//! mean) drops its paired κ₄ and keeps κ₃ (zero): the order-3 terms linear in κ₃ vanish there,
//! and the paired κ₄ alone, without the next order's terms in the odd Hermite coefficients
//! (order 4's), made tanh's covariance worse than the Gaussian's on the ARC benchmark — as the
//! peer's own K = 3 does (EXPERIMENTS.md, "Against ARC's peer, third session"). The factored
//! carry ([`Carry::factored`]) drops that κ₃ as well where h's skewness is at rounding level
//! (below [`NOISE_SKEW`]): it is rounding noise there, and carrying it would grow the factors'
//! rank by 2N per layer for nothing (h is then Gaussian, as after a fallback).
//! The full fallback is also taken when the expansion is not ordered at a layer: the part of ΔC
//! from diagrams beyond the order's width power-counting budget
//! ([`ChaosRule::beyond_budget`], e.g. κ₄\[a,a,b,b\]Σ_ab at order 3) outweighs the rest
//! ([`MAX_BEYOND_SHARE`]). That is the case for an odd φ (tanh) at zero mean, whose in-budget
//! κ terms vanish (no even Hermite coefficients), so that order 3's correction would be made
//! of an incomplete set of the next order's terms. [`Carry::fallbacks`] lists every such layer
//! and why, [`Carry::checks`] the largest standardised skewness and kurtosis met at each
//! layer. A unit
//! whose corrected variance would fall below [`MIN_VARIANCE_SHARE`] of the Gaussian one keeps
//! the Gaussian closure's variance and covariances, and its corrected mean
//! ([`Carry::gaussian_units`] counts them).

use std::sync::OnceLock;

use faer::{Mat, MatRef};

use super::affine::{affine_tensor, tensor_affine_flops, TensorAffineWorkspace};
use super::blocks_truncated::truncate;
use super::chaos::UnitChaos;
use super::closure::{standardised, ChaosRule, Increments, Input};
use super::compressed::{compress, valid_tolerance};
use super::distinct4::{cut, Distinct4, Distinct4Diagrams};
use super::factored::{Factored, StarTerms};
use super::hook::CarryHook;
use super::paired::{affine_paired, paired_affine_flops, Kappa4, Paired};
use super::paired_leading::{affine_paired_leading, paired_leading_flops};
use super::pilot::{Pilot, PilotVerdict, PILOT_Z};
use super::quartic_star::QuarticStar;
use super::sliced::{affine_sliced, sliced_affine_flops, SliceWorkspace, Sliced};
use super::slices::attach;
use super::star4::{HKappa3, Star4};
use super::tensor::{check_memory, Kappa3, SymTensor, ZeroKappa, DEFAULT_TENSOR_BYTES};
use super::triple4::{unpaired_map_flops, Unpaired4};
use super::triple4_factored::{
    carried_blocks, fresh_blocks, kappa3_part, Unpaired4Factored, GENERATIONS,
};
use super::unpaired_factored::PairedTriple;
use crate::error::{Error, Result};
use crate::net::{Activation, Layer, Mlp};
use crate::stats::Moments;
use crate::timing::Timings;

/// The edge of the region where the 4th-order Gram–Charlier density is a density (|skewness|
/// ≤ 1.05 and excess kurtosis ≤ 4; Jondeau & Rockinger, J. Econ. Dyn. Control 25, 2001): the
/// subset carry's breakdown limit, and the full carry's only when set by
/// [`Carry::with_breakdown`] (module docs).
pub const MAX_SKEW: f64 = 1.05;
/// The Gram–Charlier region's |excess kurtosis| edge (see [`MAX_SKEW`]).
pub const MAX_KURTOSIS: f64 = 4.0;
/// Below this largest standardised skewness an h is symmetric to rounding (an odd φ at zero
/// mean): order 3 then drops its paired κ₄ (module docs).
pub const SYMMETRIC_SKEW: f64 = 1e-3;
/// Below this largest standardised skewness h's κ₃ is rounding noise (tanh's on the ARC
/// benchmark: 1e-17…1e-16); the factored carry drops it (module docs).
pub const NOISE_SKEW: f64 = 1e-10;
/// Largest ratio ‖ΔC beyond the budget‖_F / ‖rest of ΔC‖_F ([`ChaosRule::beyond_budget`]) at
/// which a layer's expansion counts as ordered; above it the layer falls back.
pub const MAX_BEYOND_SHARE: f64 = 1.0;
/// A corrected variance below this share of the Gaussian closure's is a breakdown.
pub const MIN_VARIANCE_SHARE: f64 = 0.1;
/// Largest |ΔC_aa| / C_aa over the units of a layer, ΔC_aa the variance increment from the
/// carried cumulants and C_aa the Gaussian closure's variance, at which the expansion counts as
/// ordered; above it the layer falls back (module docs). An asymptotic series is trusted while
/// its terms decrease; 10 leaves room for single units near a relu kink, whose Gaussian variance
/// is small (on the ARC benchmark the ratio stays ≤ 4 to depth 8 and reaches 10–2 600 only
/// where the corrected variances later turn negative, depth 11–16 at n = 64/128).
pub const MAX_VARIANCE_INCREMENT: f64 = 10.0;

/// κ₃ (and at order 4 κ₄) of one class at one stage.
#[derive(Clone, Debug)]
pub struct Tensors {
    pub k3: SymTensor,
    pub k4: Option<SymTensor>,
}

impl Tensors {
    /// Zero tensors over `n` units: a Gaussian stage (e.g. the input x ~ N(μ, Σ)).
    pub fn gaussian(n: usize, order: usize) -> Self {
        Tensors {
            k3: SymTensor::zeros(n, 3),
            k4: (order >= 4).then(|| SymTensor::zeros(n, 4)),
        }
    }

    fn dim(&self) -> usize {
        self.k3.dim()
    }
}

/// A layer where the carried cumulants were dropped, and why (the reason names the class).
#[derive(Clone, Debug, PartialEq)]
pub struct Fallback {
    /// Hidden layer whose closure used the Gaussian h.
    pub layer: usize,
    pub reason: String,
}

/// The breakdown statistics of one hidden layer, the largest over units and classes: h's
/// standardised skewness |κ₃\[aaa\]|/σ³ and |excess kurtosis| |κ₄\[aaaa\]|/σ⁴, and z's
/// variance increment against the Gaussian variance (max |ΔC_aa|/C_aa,
/// [`MAX_VARIANCE_INCREMENT`]; 0 until the layer is left), the mean shift max_a |Δm_a|/√C_aa
/// and the relative covariance increment ‖ΔC‖_F/‖C‖_F (C the Gaussian closure's covariance).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerCheck {
    pub layer: usize,
    pub skew: f64,
    pub kurtosis: f64,
    pub growth: f64,
    pub shift: f64,
    pub relative: f64,
}

/// The carried tensors and the rule (see the module docs).
#[derive(Clone, Debug)]
pub struct Carry {
    /// The compiled rule of the order, shared by every carry in the process ([`compiled_rule`]).
    rule: &'static ChaosRule,
    limit: u64,
    current: Vec<Tensors>,
    pre: Vec<Tensors>,
    ws: TensorAffineWorkspace,
    fallbacks: Vec<Fallback>,
    checks: Vec<LayerCheck>,
    /// Breakdown limits on h's standardised skewness and |excess kurtosis|.
    limits: (f64, f64),
    gaussian_units: Vec<GaussianUnits>,
    /// The tensors in `pre` are the measured ones of h^{from+1}: the first [`Carry::enter`]
    /// attaches them instead of mapping `current` ([`Carry::from_first_pre`]).
    first_measured: bool,
    /// Order 3: the paired κ₄ ([`super::paired`]) of the stage carried, per class…
    paired: Vec<Paired>,
    /// …and of the mapped pre-activation (both empty at order 4).
    paired_pre: Vec<Paired>,
    /// Only the output's mean and covariance are wanted ([`Carry::moments_only`]).
    moments_only: bool,
    /// The network's last hidden layer (set by [`Carry::check`]).
    depth: usize,
    /// With `moments_only`, the last hidden layer's h as slices, per class (empty before).
    sliced: Vec<Sliced>,
    slice_ws: SliceWorkspace,
    /// Per class, whether the stage carried (`current`) is Gaussian (zero κ, its storage
    /// unused: [`Carry::from_gaussian`])…
    zero: Vec<bool>,
    /// …and whether the mapped pre-activation is (mapped from a Gaussian stage, or dropped).
    zero_pre: Vec<bool>,
    /// The width of a Gaussian start ([`Carry::from_gaussian`]), checked in place of the
    /// tensors'.
    gaussian_width: Option<usize>,
    /// Per class, the Δm and ΔC the last [`Carry::leave`] added to z (None where it added
    /// none): undone by [`Carry::enter`] when they make a variance of the next h negative.
    last: Vec<Option<Increments>>,
    /// The first hidden layer whose series diverged or made a variance of the next h negative
    /// ([`Carry::abandons_run`]).
    diverged: Option<usize>,
    /// Whether the first hidden layer's closure got a correction (a start with cumulants): such
    /// a run is not abandoned ([`Carry::abandons_run`]).
    first_corrected: bool,
    /// The start layer (set by [`Carry::check`]).
    from: usize,
    /// Order 3 with κ₃ factored ([`Carry::factored`]): the rule's star diagrams…
    stars: Option<StarTerms>,
    /// …per class, z's factored κ₃ with its slice and repeated entries…
    fz: Vec<FactoredZ>,
    /// …and h's factored κ₃ (its slices in `sliced`)…
    fh: Vec<Factored>,
    /// …compressed after each hidden map at this relative tolerance ([`Carry::compressed`]).
    compress: Option<f64>,
    /// z's κ₄\[a,a,b,c\] blocks truncated at this relative tolerance
    /// ([`Carry::truncated_blocks`]).
    blocks_tol: Option<f64>,
    /// Order 3: the paired κ₄ is mapped to leading order in the width
    /// ([`super::paired_leading`]) instead of exactly, and κ₄\[a,a,b,c\] carried as blocks
    /// instead of [`super::triple4`]'s dense classes (the factorable rule's carries).
    leading_paired: bool,
    /// Order 3 with `leading_paired`, per class: the κ₃ term of the last closure's z's
    /// κ₄\[a,a,b,c\], imaged in the next h's paired κ₄ ([`super::star4`]) and not carried…
    star4: Vec<Option<Star4>>,
    /// …with the full contraction of its κ₃ term where the map formed it with h's slice
    /// ([`Star4::next_slice`]), per class of the stage mapped (read by the image)…
    star_total: Vec<Option<Mat<f64>>>,
    /// …and the rest of it as blocks ([`super::triple4_factored`]), of z after [`Carry::leave`],
    /// of h after the map (the factorable rule's carries, dense or factored κ₃).
    blocks: Vec<Option<Unpaired4Factored>>,
    /// The Monte Carlo pilot check of a Gaussian start ([`Carry::with_pilot`])…
    pilot: Option<Pilot>,
    /// …and its verdict once run ([`Carry::record_pilot`]).
    pilot_verdict: Option<PilotVerdict>,
    /// Order 3's dense path: κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] carried beside the paired κ₄
    /// ([`super::triple4`]), per class of the stage carried…
    unpaired: Vec<Option<Unpaired4>>,
    /// …and of the mapped pre-activation (None: not carried, the rule reads the paired κ₄).
    unpaired_pre: Vec<Option<Unpaired4>>,
    /// Order 3 with `leading_paired`, per class: h's paired κ₄ with its κ₄\[a,a,a,b\] (from
    /// the blocks' map), as the rule reads them ([`super::unpaired_factored`]; None: the
    /// paired κ₄ alone).
    triple_pre: Vec<Option<PairedTriple>>,
    /// The factored order 4 ([`Carry::quartic`]), per class: the star of the last closure's
    /// z's κ₄ over four distinct units, imaged in the next h's P and T ([`super::quartic_star`])
    /// and not carried (None: not formed)…
    quartic: Option<Vec<Option<QuarticStar>>>,
    /// …with the mixed positions of z's κ₄\[a,a,b,c\] blocks in h's P
    /// ([`Carry::with_mixed_paired`]).
    mixed_paired: bool,
    /// The dense order 4's diagnostic ([`Carry::with_distinct4`]): the diagrams kept in z's κ₄
    /// over four distinct units, h's over four distinct units cut after each map (None: the
    /// rule's, carried).
    distinct4: Option<Distinct4Diagrams>,
}

/// One class's factored κ₃ of z, as the next layer's map reads it ([`Factored::map`]).
#[derive(Clone, Debug)]
struct FactoredZ {
    /// The factors.
    kappa3: Factored,
    /// Their slice κ₃\[i,i,j\] on distinct units ([`Factored::slice`]).
    own: Mat<f64>,
    /// The repeated entries κ₃\[a,a,b\].
    repeated: Mat<f64>,
}

/// What [`Carry::leave`] writes for one class besides Δm and ΔC.
enum ZUpdate {
    /// Nothing: only the output's moments are wanted (the last hidden layer, moments only).
    Moments,
    /// z's dense tensors, and at order 3 its paired κ₄.
    Dense {
        next: Tensors,
        paired: Option<Paired>,
        unpaired: Option<Box<Unpaired4>>,
    },
    /// z's factored κ₃ and its paired κ₄.
    Factored { fz: Box<FactoredZ>, paired: Paired },
}

/// Units whose corrections were dropped at one layer (see [`MIN_VARIANCE_SHARE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GaussianUnits {
    pub layer: usize,
    pub class: usize,
    pub units: usize,
}

/// Drops the row and column of ΔC of every unit whose corrected variance would fall below
/// [`MIN_VARIANCE_SHARE`] of the Gaussian closure's (the expansion's breakdown for that unit's
/// second moments: a relu unit far in its off tail under strong skew); returns how many units
/// were kept. The unit's Δm stays: it is the one-unit Edgeworth term A₃κ₃\[aaa\] + A₄κ₄\[aaaa\],
/// first order in the cumulants, and dropping it too made the ARC benchmark's gelu output means
/// worse (n = 64, depth 8: 3.1e-3 → 4.8e-3 MSE/Var; EXPERIMENTS.md, "Against ARC's peer, fourth
/// session").
pub(super) fn guard_units(inc: &mut Increments, gauss: &Moments) -> usize {
    let n = inc.mean.len();
    let bad: Vec<usize> = (0..n)
        .filter(|&i| {
            let g = gauss.cov[(i, i)];
            g > 0.0 && g + inc.cov[(i, i)] < MIN_VARIANCE_SHARE * g
        })
        .collect();
    for &i in &bad {
        for j in 0..n {
            inc.cov[(i, j)] = 0.0;
            inc.cov[(j, i)] = 0.0;
        }
    }
    n - bad.len()
}

/// The chaos rule of `order` (3 or 4), compiled once per process: its diagram enumeration
/// ([`ChaosRule::new`]) is the same for every network and costs more than a whole carried
/// run through a narrow one. Order 3's dense carry reads κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\]
/// ([`ChaosRule::unpaired`]).
fn compiled_rule(order: usize) -> &'static ChaosRule {
    static RULES: [OnceLock<ChaosRule>; 2] = [OnceLock::new(), OnceLock::new()];
    RULES[order.clamp(3, 4) - 3].get_or_init(|| {
        if order == 3 {
            ChaosRule::unpaired()
        } else {
            ChaosRule::new(order)
        }
    })
}

/// Order 3's rule for the factored κ₃ reading h's κ₄\[a,a,a,b\]
/// ([`ChaosRule::unpaired_factorable`]), compiled once per process.
fn factorable_rule() -> &'static ChaosRule {
    static RULE: OnceLock<ChaosRule> = OnceLock::new();
    RULE.get_or_init(ChaosRule::unpaired_factorable)
}

/// The factored order 4's rule ([`ChaosRule::quartic_factorable`]), compiled once per process.
fn quartic_rule() -> &'static ChaosRule {
    static RULE: OnceLock<ChaosRule> = OnceLock::new();
    RULE.get_or_init(ChaosRule::quartic_factorable)
}

/// Attaches zero κ slices over `m` units to `o` (a Gaussian h).
fn attach_zero(o: &mut Moments, m: usize) {
    o.k3_iij = Some(Mat::zeros(m, m));
    o.k4_iijj = Some(Mat::zeros(m, m));
}

/// The breakdown reason for class `c` when h^l's largest standardised skewness or excess
/// kurtosis (`skew`, `kurt`) is beyond `limits` (max skewness, max kurtosis); None within them.
pub(super) fn outside_region(
    c: usize,
    l: usize,
    (skew, kurt): (f64, f64),
    (max_skew, max_kurt): (f64, f64),
) -> Option<String> {
    (skew > max_skew || kurt > max_kurt).then(|| {
        format!(
            "class {c}: h{l} has a unit with |skewness| {skew:.3} (limit {max_skew}) \
             or |excess kurtosis| {kurt:.3} (limit {max_kurt})"
        )
    })
}

/// max_a |ΔC_aa| / C_aa over the units with a positive Gaussian variance C_aa (`gauss`, the
/// Gaussian closure's output): the size of the carried orders' variance term against the
/// order-2 term it corrects ([`MAX_VARIANCE_INCREMENT`]).
pub(super) fn variance_increment(inc: &Increments, gauss: &Moments) -> f64 {
    (0..inc.mean.len())
        .filter(|&a| gauss.cov[(a, a)] > 0.0)
        .map(|a| inc.cov[(a, a)].abs() / gauss.cov[(a, a)])
        .fold(0.0, f64::max)
}

/// max_a |Δm_a| / √C_aa over the units with a positive Gaussian variance C_aa (`gauss`): the
/// carried orders' mean increment in units of the Gaussian closure's standard deviation.
pub(super) fn mean_shift(inc: &Increments, gauss: &Moments) -> f64 {
    (0..inc.mean.len())
        .filter(|&a| gauss.cov[(a, a)] > 0.0)
        .map(|a| inc.mean[a].abs() / gauss.cov[(a, a)].sqrt())
        .fold(0.0, f64::max)
}

/// Subtracts W·Δm from h's mean and W·ΔC·Wᵀ from its covariance: h = W z + b of a z whose
/// moments had `inc` added becomes the map of z without them.
fn unmap_increments(h: &mut Moments, w: MatRef<'_, f64>, inc: &Increments) {
    h.cov -= w * inc.cov.as_ref() * w.transpose();
    for i in 0..h.dim() {
        h.mean[i] -= (0..w.ncols()).map(|a| w[(i, a)] * inc.mean[a]).sum::<f64>();
    }
}

/// The κ₄ the rule reads for class `c` at a mapped stage: the full tensor (order 4) or the
/// paired one (order 3).
fn k4_view<'a>(paired: &'a [Paired], c: usize, t: &'a Tensors) -> Option<&'a dyn Kappa4> {
    match &t.k4 {
        Some(k4) => Some(k4),
        None => paired.get(c).map(|p| p as &dyn Kappa4),
    }
}

impl Carry {
    /// A carry of `order` (3 or 4) from the start layer's tensors, one per class.
    pub fn new(order: usize, start: Vec<Tensors>) -> Result<Self> {
        if !(order == 3 || order == 4) {
            return Err(Error::Unsupported(format!(
                "carried cumulants need --order 3 or 4, got {order}"
            )));
        }
        if let Some(t) = start.iter().find(|t| t.k4.is_some() != (order >= 4)) {
            return Err(Error::Shape(format!(
                "order {order} start tensors {} a κ₄ tensor (over {} units)",
                if t.k4.is_some() { "carry" } else { "lack" },
                t.dim()
            )));
        }
        let paired: Vec<Paired> = if order == 3 {
            start.iter().map(|t| Paired::zeros(t.dim())).collect()
        } else {
            Vec::new()
        };
        Ok(Carry {
            paired_pre: paired.clone(),
            paired,
            rule: compiled_rule(order),
            limit: DEFAULT_TENSOR_BYTES,
            pre: start.clone(),
            current: start,
            ws: TensorAffineWorkspace::default(),
            fallbacks: Vec::new(),
            checks: Vec::new(),
            limits: (f64::INFINITY, f64::INFINITY),
            gaussian_units: Vec::new(),
            first_measured: false,
            moments_only: false,
            depth: 0,
            sliced: Vec::new(),
            slice_ws: SliceWorkspace::default(),
            zero: Vec::new(),
            zero_pre: Vec::new(),
            gaussian_width: None,
            last: Vec::new(),
            diverged: None,
            first_corrected: false,
            from: 0,
            stars: None,
            compress: None,
            blocks_tol: None,
            fz: Vec::new(),
            fh: Vec::new(),
            leading_paired: false,
            star4: Vec::new(),
            star_total: Vec::new(),
            blocks: Vec::new(),
            pilot: None,
            pilot_verdict: None,
            unpaired: Vec::new(),
            unpaired_pre: Vec::new(),
            triple_pre: Vec::new(),
            quartic: None,
            mixed_paired: false,
            distinct4: None,
        })
    }

    /// A carry of `order` from a Gaussian start layer of width `n` (zero κ₃/κ₄, e.g. the input
    /// x ~ N(μ, Σ)), one per class: equal to [`Carry::new`] with [`Tensors::gaussian`] start
    /// tensors, without forming them — the first affine map and the κ terms of the first
    /// closure, all zero, are skipped.
    pub fn from_gaussian(order: usize, n: usize, classes: usize) -> Result<Self> {
        let start = (0..classes).map(|_| Tensors::gaussian(0, order)).collect();
        let mut carry = Self::new(order, start)?;
        carry.zero = vec![true; classes];
        carry.gaussian_width = Some(n);
        Ok(carry)
    }

    /// A carry of `order` from the measured tensors of the first pre-activation h^{from+1}, one
    /// per class (e.g. [`super::sampled::measure_tensors`]): the affine map into
    /// h^{from+1} is exact, so measuring them there equals mapping the start layer's tensors,
    /// which are never formed (the input's N⁴ would not fit for MNIST).
    pub fn from_first_pre(order: usize, first_pre: Vec<Tensors>) -> Result<Self> {
        let mut carry = Self::new(order, Vec::new())?;
        if let Some(t) = first_pre.iter().find(|t| t.k4.is_some() != (order >= 4)) {
            return Err(Error::Shape(format!(
                "order {order} tensors of h^(l+1) over {} units {} a κ₄ tensor",
                t.dim(),
                if t.k4.is_some() { "carry" } else { "lack" },
            )));
        }
        carry.pre = first_pre;
        carry.current = carry
            .pre
            .iter()
            .map(|_| Tensors::gaussian(0, order))
            .collect();
        if order == 3 {
            // The paired κ₄ of h^{from+1} starts at zero ([`Carry::with_first_paired`]).
            carry.paired_pre = carry.pre.iter().map(|t| Paired::zeros(t.dim())).collect();
            carry.paired = carry.pre.iter().map(|_| Paired::zeros(0)).collect();
        }
        carry.first_measured = true;
        Ok(carry)
    }

    /// Order 3 from measured tensors ([`Carry::from_first_pre`]): seeds the paired κ₄ of
    /// h^{from+1}, one per class (e.g. [`super::sampled::measure_paired`]), which otherwise
    /// starts at zero.
    pub fn with_first_paired(mut self, paired: Vec<Paired>) -> Result<Self> {
        if !self.first_measured || self.order() != 3 {
            return Err(Error::Unsupported(
                "a measured paired κ₄ seeds only an order-3 carry from measured tensors".into(),
            ));
        }
        if paired.len() != self.pre.len()
            || paired
                .iter()
                .zip(&self.pre)
                .any(|(p, t)| p.0.nrows() != t.dim() || p.0.ncols() != t.dim())
        {
            return Err(Error::Shape(format!(
                "{} paired κ₄ matrices for {} classes of measured tensors, or of another width",
                paired.len(),
                self.pre.len()
            )));
        }
        self.paired_pre = paired;
        Ok(self)
    }

    /// Order 3 from measured tensors ([`Carry::from_first_pre`]): seeds h^{from+1}'s paired κ₄
    /// with its κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] ([`super::triple4`]), one per class (e.g.
    /// [`super::sampled::measure_third`]); they otherwise start at zero, and the rule
    /// ([`ChaosRule::unpaired`]) reads them at the first closure as it does at every later one.
    pub fn with_first_unpaired(self, unpaired: Vec<Unpaired4>) -> Result<Self> {
        let paired = unpaired.iter().map(|u| u.paired.clone()).collect();
        let mut carry = self.with_first_paired(paired)?;
        carry.unpaired_pre = unpaired.into_iter().map(Some).collect();
        Ok(carry)
    }

    /// Carries only what the output's mean and covariance need: the last hidden layer's h gets
    /// the slices its closure reads, mapped directly ([`super::sliced`]), instead of its full
    /// tensors; that closure's output tensors and the read-out's map are skipped, so y gets no
    /// κ slices and [`Carry::last`] is `None`. The mean and covariance are those of the full
    /// carry (to rounding).
    pub fn moments_only(mut self) -> Self {
        self.moments_only = true;
        self
    }

    /// Order 3 with z's κ₃ held factored between the layers ([`super::factored`]): the affine
    /// map is W on each factor and every h is held as the slices its closure reads, instead of
    /// the dense N³ map and column fill. Implies [`Carry::moments_only`]. The rule is
    /// [`ChaosRule::unpaired_factorable`]: κ₃(z)'s diagrams over three distinct units without the
    /// covariance triangle, κ₃\[a,b,c\]Σ_bc and κ₄\[a,a,b,c\] (every other diagram as
    /// [`Carry::new`]'s), reading h's κ₄\[a,a,a,b\] ([`super::unpaired_factored`]); κ₄\[a,a,b,c\]
    /// is carried as blocks ([`super::triple4_factored`]) and the paired κ₄ is mapped to leading
    /// order in the width ([`super::paired_leading`]), so the results are the dense carry's with
    /// that rule and those carries ([`Carry::factorable_rule`]), not the default one's.
    pub fn factored(mut self) -> Result<Self> {
        if self.order() != 3 || self.gaussian_width.is_none() {
            return Err(Error::Unsupported(
                "the factored κ₃ carries order 3 from a Gaussian start (Carry::from_gaussian) \
                 only"
                    .into(),
            ));
        }
        self.rule = factorable_rule();
        self.stars = Some(self.rule.star_terms()?);
        self.moments_only = true;
        self.leading_paired = true;
        Ok(self)
    }

    /// The factored carry ([`Carry::factored`] first) with each hidden h's factored κ₃
    /// compressed after the map: its smallest terms dropped while ‖κ₃ − κ₃_c‖_F ≤ tol ‖κ₃‖_F
    /// holds by the terms' norms ([`super::compressed`]; 0 drops nothing, the factored carry's
    /// results). An error for a tolerance that is negative or not finite.
    pub fn compressed(mut self, tol: f64) -> Result<Self> {
        self.compress = Some(self.factored_tolerance(tol, "the compressed κ₃")?);
        Ok(self)
    }

    /// `tol` where this carry is factored and `tol` a relative tolerance ([`valid_tolerance`]),
    /// else an error naming `what` ([`Carry::compressed`], [`Carry::truncated_blocks`]).
    fn factored_tolerance(&self, tol: f64, what: &str) -> Result<f64> {
        if self.stars.is_none() {
            return Err(Error::Unsupported(format!(
                "{what} needs the factored carry (Carry::factored first)"
            )));
        }
        if !valid_tolerance(tol) {
            return Err(Error::Unsupported(format!(
                "{what}'s tolerance must be finite and ≥ 0, got {tol}"
            )));
        }
        Ok(tol)
    }

    /// The factored carry ([`Carry::factored`] first) with each z's κ₄\[a,a,b,c\] blocks
    /// truncated after the closure forms them: their smallest terms dropped while the blocks'
    /// tensor moves by at most tol times its Frobenius norm, by the terms' norms
    /// (`blocks_truncated.rs`; 0 drops nothing, the factored carry's results). An error
    /// for a tolerance that is negative or not finite.
    pub fn truncated_blocks(mut self, tol: f64) -> Result<Self> {
        self.blocks_tol = Some(self.factored_tolerance(tol, "the truncation of the κ₄ blocks")?);
        Ok(self)
    }

    /// The factored order 4 ([`Carry::factored`] first): the factored carry with order 4's
    /// budget for Δm and ΔC ([`ChaosRule::quartic_factorable`]), with the star of each z's κ₄
    /// over four distinct units imaged in the next h's paired κ₄ and κ₄\[a,a,a,b\]
    /// ([`super::quartic_star`]), and without order 3's drop of a symmetric h's paired κ₄ (h then
    /// carries every κ₄ slice a two-unit entry reads, as the dense order 4 does, to leading
    /// order in the width). h's κ₄ over four distinct units is not carried beyond one map, nor
    /// are the paths and κ blocks of z's (module docs of [`super::quartic_star`]). Unlike the
    /// factored order 3 it maps the paired κ₄ exactly ([`affine_paired`], not
    /// [`super::paired_leading`]: M²N²/2 flops) and adds the mixed positions of z's
    /// κ₄\[a,a,b,c\] blocks to h's κ₄\[a,a,a,b\]
    /// ([`super::triple4_factored::Unpaired4Factored::mixed`]; to h's P only on request,
    /// [`Carry::with_mixed_paired`]): both are of the order
    /// of the images it adds, and with them its covariance at depth 2 (h¹ Gaussian) comes
    /// closer to the dense one-map's (`examples/o4_gap.rs`; EXPERIMENTS.md, sixteenth session
    /// (o4cov)).
    pub fn quartic(mut self) -> Result<Self> {
        if self.stars.is_none() {
            return Err(Error::Unsupported(
                "the factored order 4 extends the factored κ₃ carry (Carry::factored first)".into(),
            ));
        }
        self.rule = quartic_rule();
        self.stars = Some(self.rule.star_terms()?);
        self.quartic = Some(Vec::new());
        Ok(self)
    }

    /// The factored order 4 ([`Carry::quartic`] first) with the mixed positions of z's
    /// κ₄\[a,a,b,c\] blocks imaged in h's paired κ₄ off the diagonal as well (one a on each
    /// row, [`super::triple4_factored::Unpaired4Factored::mixed`]; O(M²NR) per map, R the
    /// blocks' rank). Exact at one map from a Gaussian h, where it brings the output
    /// covariance to the dense one-map order 4's but for z's dropped diagrams; carried through
    /// depth it made the ARC benchmark's relu/gelu errors worse at depth 4–8, so it is not the
    /// default (EXPERIMENTS.md, sixteenth session (o4cov)).
    pub fn with_mixed_paired(mut self) -> Result<Self> {
        if self.quartic.is_none() {
            return Err(Error::Unsupported(
                "the mixed positions in P are the factored order 4's (Carry::quartic first)".into(),
            ));
        }
        self.mixed_paired = true;
        Ok(self)
    }

    /// The dense order 4 as a diagnostic of the factored order 4 ([`super::distinct4`]): z's κ₄
    /// over four distinct units from the diagrams of `kind` only, and h's κ₄ over four distinct
    /// units set to zero after each map (imaged in the entries with a repeated unit, not carried
    /// further). Refused for another order or a factored carry.
    pub fn with_distinct4(mut self, kind: Distinct4) -> Result<Self> {
        if self.order() != 4 || self.stars.is_some() {
            return Err(Error::Unsupported(
                "the distinct-unit diagnostic is the dense order 4's".into(),
            ));
        }
        self.distinct4 = Some(Distinct4Diagrams::new(kind));
        Ok(self)
    }

    /// Order 3's dense carry with the factored carry's rule ([`ChaosRule::unpaired_factorable`],
    /// the paired κ₄ mapped by [`super::paired_leading`], κ₄\[a,a,a,b\] and the blocks of
    /// κ₄\[a,a,b,c\] as [`Carry::factored`] carries them): the reference it is checked against.
    pub fn factorable_rule(mut self) -> Result<Self> {
        if self.order() != 3 {
            return Err(Error::Unsupported(
                "the factorable rule is order 3's".into(),
            ));
        }
        self.rule = factorable_rule();
        self.leading_paired = true;
        Ok(self)
    }

    /// Sets the memory limit of the carried tensors in bytes (default 16 GiB).
    pub fn with_limit(mut self, bytes: u64) -> Self {
        self.limit = bytes;
        self
    }

    /// Sets limits on a pre-activation unit's standardised skewness and |excess kurtosis|
    /// beyond which a layer falls back (default: none; [`MAX_SKEW`], [`MAX_KURTOSIS`] are the
    /// Gram–Charlier region's edge).
    pub fn with_breakdown(mut self, max_skew: f64, max_kurtosis: f64) -> Self {
        self.limits = (max_skew, max_kurtosis);
        self
    }

    /// The carried order.
    pub fn order(&self) -> usize {
        self.rule.order()
    }

    /// The first layer where the expansion broke down (see [`Carry::fallbacks`]), if any.
    pub fn fallback(&self) -> Option<&Fallback> {
        self.fallbacks.first()
    }

    /// Class `c`'s last hidden h as its closure read it, after a run with
    /// [`Carry::moments_only`]: `[S, P, T]` with S\[a,b\] = κ₃\[a,a,b\], P\[a,b\] = κ₄\[a,a,b,b\],
    /// T\[a,b\] = κ₄\[a,a,a,b\] (zero where h was taken as Gaussian); None before such a run,
    /// or for a class not carried (the diagnostic `examples/o4_gap.rs` compares two carries'
    /// with it).
    pub fn last_slices(&self, c: usize) -> Option<[Mat<f64>; 3]> {
        if !self.sliced_at(self.depth) {
            return None;
        }
        let m = self.sliced.get(c)?.dim();
        let (k3, k4) = self.kappa(self.depth, c);
        let k4 = k4?;
        Some([
            Mat::from_fn(m, m, |a, b| k3.get(&[a, a, b])),
            Mat::from_fn(m, m, |a, b| k4.get(&[a, a, b, b])),
            Mat::from_fn(m, m, |a, b| k4.get(&[a, a, a, b])),
        ])
    }

    /// Every layer and class where the carried cumulants were dropped (module docs).
    pub fn fallbacks(&self) -> &[Fallback] {
        &self.fallbacks
    }

    /// Per hidden layer entered, the breakdown statistics of its pre-activation.
    pub fn checks(&self) -> &[LayerCheck] {
        &self.checks
    }

    /// Per layer and class, how many units kept the Gaussian closure's moments because their
    /// corrected variance broke down (their tensors are still carried).
    pub fn gaussian_units(&self) -> &[GaussianUnits] {
        &self.gaussian_units
    }

    /// The tensors of the last stage carried (z^L, or y after the read-out), per class (after a
    /// fallback at some layer, those made from there on); `None` for [`Carry::moments_only`]
    /// and for a run the carry abandoned ([`Carry::abandons_run`]).
    pub fn last(&self) -> Option<&[Tensors]> {
        (!self.moments_only && !self.abandons_run()).then_some(self.current.as_slice())
    }

    /// Whether the series diverged at some layer (a unit's variance increment beyond
    /// [`MAX_VARIANCE_INCREMENT`] times its Gaussian variance, or a negative variance of the
    /// next h) of a run whose first closure got no correction, or the Monte Carlo pilot found
    /// the carried output worse than the Gaussian one ([`Carry::with_pilot`]): the whole run
    /// is then the Gaussian closure's (module docs), as
    /// [`crate::propagate::Propagator::run_carried`] returns it.
    pub fn abandons_run(&self) -> bool {
        (self.diverged.is_some() && !self.first_corrected)
            || self.pilot_verdict.is_some_and(|v| v.worse)
    }

    /// Checks a finished run from a Gaussian start against `pilot.samples` draws of the start
    /// pushed through the network ([`super::pilot`]): where the carried output is significantly
    /// further from them than the Gaussian closure's (mean or covariance), the whole run is the
    /// Gaussian closure's. Only for a carry of [`Carry::from_gaussian`], whose start can be
    /// sampled.
    pub fn with_pilot(mut self, pilot: Pilot) -> Result<Self> {
        if self.gaussian_width.is_none() {
            return Err(Error::Unsupported(
                "the Monte Carlo pilot samples a Gaussian start: it needs a carry from \
                 Carry::from_gaussian"
                    .into(),
            ));
        }
        self.pilot = Some(pilot);
        Ok(self)
    }

    /// The pilot's settings ([`Carry::with_pilot`]).
    pub fn pilot(&self) -> Option<Pilot> {
        self.pilot
    }

    /// The pilot's verdict, once [`crate::propagate::Propagator::run_carried`] has run it.
    pub fn pilot_verdict(&self) -> Option<&PilotVerdict> {
        self.pilot_verdict.as_ref()
    }

    /// Records the pilot's verdict; a carried output found worse abandons the run, listed
    /// first among the fallbacks, at the first hidden layer.
    pub fn record_pilot(&mut self, verdict: PilotVerdict) {
        if verdict.worse && !self.abandons_run() {
            self.fallbacks.insert(
                0,
                Fallback {
                    layer: self.from + 1,
                    reason: format!(
                        "the Monte Carlo pilot ({} draws) finds the carried output further \
                         from them than the Gaussian closure's (mean z = {:.1}, covariance \
                         z = {:.1}; limit {PILOT_Z}): the whole run is the Gaussian closure's",
                        verdict.samples, verdict.mean_z, verdict.cov_z
                    ),
                },
            );
        }
        self.pilot_verdict = Some(verdict);
    }

    /// Records that the series diverged at hidden layer `l`: the first such layer abandons the
    /// run (unless its first closure was corrected), listed first among the fallbacks, at the
    /// first hidden layer.
    fn diverge(&mut self, l: usize) {
        if self.diverged.is_none() && !self.first_corrected {
            self.diverged = Some(l);
            self.fallbacks.insert(
                0,
                Fallback {
                    layer: self.from + 1,
                    reason: format!(
                        "the series diverged at layer {l}: the whole run is the Gaussian \
                         closure's"
                    ),
                },
            );
        }
    }

    /// Whether hidden layer `l` is the last one and only the output's moments are wanted: its
    /// h is held as slices and its closure writes no tensors.
    fn sliced_at(&self, l: usize) -> bool {
        self.moments_only && (l == self.depth || self.stars.is_some())
    }

    /// The κ₃ and κ₄ the rule reads for class `c` at hidden layer `l`'s h.
    fn kappa(&self, l: usize, c: usize) -> (&dyn Kappa3, Option<&dyn Kappa4>) {
        if self.zero_pre.get(c) == Some(&true) {
            return (&ZeroKappa, Some(&ZeroKappa));
        }
        match self.sliced.get(c) {
            Some(s) if self.sliced_at(l) => {
                let k4: &dyn Kappa4 = match (self.unpaired_pre.get(c), self.triple_pre.get(c)) {
                    _ if self.order() >= 4 => s,
                    (Some(Some(u)), _) => u,
                    (_, Some(Some(t))) => t,
                    _ => &self.paired_pre[c],
                };
                (s, Some(k4))
            }
            _ => {
                let t = &self.pre[c];
                match (self.unpaired_pre.get(c), self.triple_pre.get(c)) {
                    (Some(Some(u)), _) => (&t.k3, Some(u)),
                    (_, Some(Some(p))) => (&t.k3, Some(p)),
                    _ => (&t.k3, k4_view(&self.paired_pre, c, t)),
                }
            }
        }
    }

    /// `pre[c]` = W·current[c] per class, slices attached to `out` (`readout`: `out` is y).
    fn map(
        &mut self,
        layer: &Layer,
        out: &mut [Moments],
        timings: &Timings,
        readout: bool,
    ) -> Result<()> {
        let (m, n) = (layer.fan_out(), layer.fan_in());
        self.zero_pre = self.zero.clone();
        let zero = |c: usize| self.zero.get(c) == Some(&true);
        for (c, ((cur, pre), o)) in self
            .current
            .iter()
            .zip(&mut self.pre)
            .zip(out.iter_mut())
            .enumerate()
        {
            if zero(c) {
                // W·0 = 0: h's tensors are not formed.
                attach_zero(o, m);
                continue;
            }
            if pre.k3.dim() != m {
                *pre = Tensors::gaussian(m, self.rule.order());
            }
            let flops = tensor_affine_flops(m, n, 3);
            timings.time("kappa affine", flops, || {
                affine_tensor(layer.w.as_ref(), &cur.k3, &mut pre.k3, &mut self.ws)
            })?;
            if let (Some(c4), Some(p4)) = (&cur.k4, &mut pre.k4) {
                let flops = tensor_affine_flops(m, n, 4);
                timings.time("kappa affine", flops, || {
                    affine_tensor(layer.w.as_ref(), c4, p4, &mut self.ws)
                })?;
                if self.distinct4.is_some() {
                    cut(p4);
                }
            }
            if !pre.k3.is_finite() || pre.k4.as_ref().is_some_and(|t| !t.is_finite()) {
                return Err(Error::Numeric(format!(
                    "the affine map of the carried κ tensors into width {m} overflowed"
                )));
            }
            attach(o, &pre.k3, pre.k4.as_ref());
        }
        // A Gaussian class's h is not formed (its blocks are not mapped): skewness 0.
        let skews: Vec<f64> = (out.iter().zip(&self.pre).enumerate())
            .map(|(c, (o, t))| {
                if zero(c) {
                    0.0
                } else {
                    standardised(o, &t.k3, None).0
                }
            })
            .collect();
        self.map_paired(layer, out, timings, (!readout).then_some(&skews[..]));
        Ok(())
    }

    /// Order 3: the paired κ₄ of every class mapped into `out`'s stage (zero from a Gaussian
    /// stage) and attached to its moments; `skews`: per class, h's largest standardised
    /// skewness as `enter` checks it (None at the read-out, whose blocks nothing reads).
    fn map_paired(
        &mut self,
        layer: &Layer,
        out: &mut [Moments],
        timings: &Timings,
        skews: Option<&[f64]>,
    ) {
        let (m, n) = (layer.fan_out(), layer.fan_in());
        for (c, ((cur, pre), o)) in self
            .paired
            .iter()
            .zip(&mut self.paired_pre)
            .zip(out.iter_mut())
            .enumerate()
        {
            let zero = self.zero.get(c) == Some(&true);
            if zero {
                *pre = Paired::zeros(m);
            } else if self.leading_paired && self.quartic.is_none() {
                let flops = paired_leading_flops(m, n);
                *pre = timings.time("kappa affine", flops, || {
                    affine_paired_leading(layer.w.as_ref(), cur)
                });
            } else {
                let flops = paired_affine_flops(m, n);
                *pre = timings.time("kappa affine", flops, || {
                    affine_paired(layer.w.as_ref(), cur)
                });
            }
            let z = self
                .unpaired
                .get(c)
                .and_then(Option::as_ref)
                .filter(|_| !zero);
            let h = if let Some(z) = z {
                let flops = unpaired_map_flops(m, n);
                let h = timings.time("kappa affine", flops, || {
                    z.map(layer.w.as_ref(), std::mem::replace(pre, Paired::zeros(0)))
                });
                pre.0.clone_from(&h.paired.0);
                Some(h)
            } else {
                if let (false, Some(slot)) = (zero, self.blocks.get_mut(c)) {
                    // h's blocks are read unless this is the read-out or h is symmetric (its
                    // paired κ₄ is then dropped by `enter`'s check when the kurtosis is not 0).
                    let read = skews.is_some_and(|s| {
                        s.get(c)
                            .is_some_and(|&k| k >= SYMMETRIC_SKEW || self.quartic.is_some())
                    });
                    if let (Some(zq), true) = (slot.as_mut(), read) {
                        zq.paired = cur.clone();
                        let flops = zq.map_flops(m);
                        let (mut hq, image) = timings.time("kappa affine", flops, || {
                            zq.map(layer.w.as_ref(), GENERATIONS)
                        });
                        if self.quartic.is_some() {
                            let flops = 4.0 * (m * m * n + m * n * n) as f64;
                            let t = timings
                                .time("kappa affine", flops, || zq.triple_map(layer.w.as_ref()));
                            hq.add_triple(&t);
                            let with_p = self.mixed_paired;
                            let flops = zq.mixed_flops(m, with_p);
                            let (p, t) = timings
                                .time("kappa affine", flops, || zq.mixed(layer.w.as_ref(), with_p));
                            hq.add_triple(&t);
                            if let Some(p) = p {
                                pre.0 += &p;
                            }
                        }
                        pre.0 += &image;
                        *zq = hq;
                    } else if let Some(zq) = slot.as_ref() {
                        let flops = zq.image_flops(m);
                        pre.0 +=
                            &timings.time("kappa affine", flops, || zq.image(layer.w.as_ref()));
                    }
                    if let (true, Some(Some(star))) = (slot.is_some(), self.star4.get(c)) {
                        let total = self.star_total.get(c).and_then(Option::as_ref);
                        let flops = star.flops(m, total.is_some());
                        pre.0 += timings.time("kappa affine", flops, || {
                            star.image_with(layer.w.as_ref(), total)
                        });
                    }
                    if !read {
                        *slot = unread_blocks(slot.take(), skews, pre, o, layer.w.as_ref(), cur);
                    }
                    // The factored order 4: z's star over four distinct units, imaged in a
                    // hidden h's P and T (nothing reads the read-out's).
                    let star = (self.quartic.as_ref())
                        .and_then(|q| q.get(c))
                        .and_then(Option::as_ref)
                        .filter(|_| skews.is_some());
                    if let Some(star) = star {
                        let flops = star.flops(m);
                        let (p, t) =
                            timings.time("kappa affine", flops, || star.image(layer.w.as_ref()));
                        pre.0 += &p;
                        if let Some(hq) = slot.as_mut() {
                            hq.add_triple(&t);
                        }
                    }
                }
                self.triple_pre.resize(c + 1, None);
                self.triple_pre[c] = self
                    .blocks
                    .get(c)
                    .and_then(Option::as_ref)
                    .filter(|_| !zero)
                    .map(|hq| PairedTriple::new(pre.clone(), hq.triple().clone()));
                None
            };
            o.k4_iijj = Some(pre.0.clone());
            self.unpaired_pre.resize(c + 1, None);
            self.unpaired_pre[c] = h;
        }
        // The contractions were of this map's W: none is read by a later one.
        self.star_total.clear();
    }

    /// The last hidden layer's h as slices ([`super::sliced`]) per class, attached to `out`;
    /// order 3's paired κ₄ mapped as in [`Carry::map`].
    /// With [`Carry::compressed`], h's factored κ₃ is compressed where a closure reads it
    /// (`hidden`), with its slice.
    fn map_sliced(
        &mut self,
        layer: &Layer,
        out: &mut [Moments],
        timings: &Timings,
        hidden: bool,
    ) -> Result<()> {
        let (m, n) = (layer.fan_out(), layer.fan_in());
        let order = self.order();
        self.sliced.clear();
        self.zero_pre = self.zero.clone();
        if self.stars.is_some() {
            self.fh.clear();
        }
        for (c, o) in out.iter_mut().enumerate() {
            if self.zero.get(c) == Some(&true) {
                attach_zero(o, m);
                self.sliced.push(Sliced::zeros(m, order));
                if self.stars.is_some() {
                    self.fh.push(Factored::zeros(m));
                }
                continue;
            }
            if self.stars.is_some() {
                // z's factors are mapped in place into h's.
                let FactoredZ {
                    kappa3,
                    own,
                    repeated,
                } = &mut self.fz[c];
                let flops = kappa3.map_flops(m);
                timings.time("kappa affine", flops, || {
                    kappa3.map(layer.w.as_ref(), own, repeated)
                })?;
                let mut fh = std::mem::replace(kappa3, Factored::zeros(0));
                // h's slice over the columns z's κ₃ term leads from its contraction, formed
                // once for the image as well.
                let star = self.star4.get(c).and_then(Option::as_ref);
                let flops = star.map_or(0.0, |s| s.next_slice_flops(m));
                let lead = timings.time("kappa affine", flops, || {
                    star.and_then(|s| s.next_slice(layer.w.as_ref(), &fh))
                });
                let (mut slice, total) = match lead {
                    Some((slice, total)) => (slice, Some(total)),
                    None => (fh.slice(), None),
                };
                if let (Some(tol), true) = (self.compress, hidden) {
                    let kept = timings.time("kappa compress", 0.0, || compress(&fh, &slice, tol));
                    if let Some((c, s)) = kept {
                        (fh, slice) = (c, s);
                    }
                }
                self.star_total.resize(c + 1, None);
                self.star_total[c] = total;
                if !slice.is_all_finite() {
                    return Err(Error::Numeric(format!(
                        "the affine map of the factored κ₃ into width {m} overflowed"
                    )));
                }
                o.k3_iij = Some(slice.clone());
                o.k4_iijj = Some(Mat::zeros(m, m));
                self.sliced.push(Sliced::new(slice, None));
                self.fh.push(fh);
                continue;
            }
            let cur = &self.current[c];
            let flops = sliced_affine_flops(m, n, order);
            let s = timings.time("kappa affine", flops, || {
                affine_sliced(
                    layer.w.as_ref(),
                    &cur.k3,
                    cur.k4.as_ref(),
                    &mut self.slice_ws,
                )
            });
            let finite = |x: &Mat<f64>| x.is_all_finite();
            if !finite(&s.k3_aab) || s.k4.as_ref().is_some_and(|k| !k.iter().all(finite)) {
                return Err(Error::Numeric(format!(
                    "the affine map of the carried κ slices into width {m} overflowed"
                )));
            }
            o.k3_iij = Some(s.k3_aab.clone());
            o.k4_iijj = Some(
                s.k4.as_ref()
                    .map_or_else(|| Mat::zeros(m, m), |k| k[0].clone()),
            );
            self.sliced.push(s);
        }
        let skews: Vec<f64> = (out.iter().zip(&self.sliced))
            .map(|(o, s)| standardised(o, s, None).0)
            .collect();
        self.map_paired(layer, out, timings, Some(&skews));
        Ok(())
    }

    /// Breakdown seen one layer late: where a unit of h^l (`pre`, just mapped) has a negative
    /// variance, the carried orders' correction of z^{l−1} (Δm, ΔC) is undone in h^l, i.e.
    /// h^l's mean and covariance become W(m + Δm − Δm), W(C + ΔC − ΔC)Wᵀ: those of z^{l−1}'s
    /// Gaussian closure mapped; h^l's carried tensors are dropped as well (the layer falls
    /// back, listed at l − 1).
    fn undo_negative(&mut self, l: usize, layer: &Layer, pre: &mut [Moments]) {
        for (c, h) in pre.iter_mut().enumerate() {
            if (0..h.dim()).all(|a| h.cov[(a, a)] >= 0.0) {
                continue;
            }
            let Some(Some(inc)) = self.last.get(c) else {
                continue;
            };
            unmap_increments(h, layer.w.as_ref(), inc);
            self.diverge(l - 1);
            self.fallbacks.push(Fallback {
                layer: l - 1,
                reason: format!(
                    "class {c}: h{l} had a negative variance: z{}'s carried correction undone",
                    l - 1
                ),
            });
            self.drop_class(c, h);
        }
    }

    /// What class `c`'s z supplies to the image of its κ₄\[a,a,b,c\] ([`super::star4`]): h's
    /// covariance `cov`, the units' coefficients and h's κ₃ (none where h is Gaussian), held
    /// factored or dense.
    fn star4_of(&self, c: usize, cov: &Mat<f64>, units: &[UnitChaos], factored: bool) -> Star4 {
        let star = Star4::new(cov, units);
        if self.zero_pre.get(c) == Some(&true) {
            star
        } else if let (true, Some(stars)) = (factored, &self.stars) {
            star.with_kappa3(HKappa3::factored_with_slice(
                self.fh[c].clone(),
                self.sliced[c].k3_aab.clone(),
                stars.full_is_beta(),
            ))
        } else {
            star.with_kappa3(HKappa3::Dense(self.pre[c].k3.clone()))
        }
    }

    /// Drops class `c`'s carried tensors of the mapped stage (h taken as Gaussian) and the
    /// slices attached to its moments `h`.
    fn drop_class(&mut self, c: usize, h: &mut Moments) {
        let t = &mut self.pre[c];
        t.k3.data_mut().fill(0.0);
        if let Some(k4) = &mut t.k4 {
            k4.data_mut().fill(0.0);
        }
        if let Some(p) = self.paired_pre.get_mut(c) {
            p.0.fill(0.0);
        }
        if let Some(u) = self.unpaired_pre.get_mut(c) {
            *u = None;
        }
        if let Some(b) = self.blocks.get_mut(c) {
            *b = None;
        }
        if let Some(t) = self.triple_pre.get_mut(c) {
            *t = None;
        }
        if let Some(s) = self.sliced.get_mut(c) {
            s.clear();
        }
        if let Some(f) = self.fh.get_mut(c) {
            *f = Factored::zeros(f.dim());
        }
        if let Some(z) = self.zero_pre.get_mut(c) {
            *z = true;
        }
        h.k3_iij = None;
        h.k4_iijj = None;
    }
}

/// h's blocks where [`Carry::map_paired`] formed z's image alone: none at the read-out
/// (`skews` None) or where `enter`'s check drops h's paired κ₄ (skewness below
/// [`SYMMETRIC_SKEW`], kurtosis from h's paired κ₄ `pre` not 0); else z's blocks `z` mapped
/// through `w` with z's paired κ₄ `cur` after all.
fn unread_blocks(
    z: Option<Unpaired4Factored>,
    skews: Option<&[f64]>,
    pre: &Paired,
    h: &Moments,
    w: MatRef<'_, f64>,
    cur: &Paired,
) -> Option<Unpaired4Factored> {
    let mut z = z?;
    skews?;
    if standardised(h, &ZeroKappa, Some(pre)).1 > 0.0 {
        return None;
    }
    z.paired = cur.clone();
    Some(z.map(w, GENERATIONS).0)
}

/// The engine drives the carry through these, layer by layer ([`CarryHook`]).
impl CarryHook for Carry {
    /// Checks the start tensors against the start layer and every width against the memory
    /// limit before anything runs.
    fn check(&mut self, net: &Mlp, from: usize, classes: usize) -> Result<()> {
        self.depth = net.depth();
        self.from = from;
        self.sliced.clear();
        let (tensors, at) = if self.first_measured {
            (&self.pre, from + 1)
        } else {
            (&self.current, from)
        };
        if tensors.len() != classes {
            return Err(Error::Shape(format!(
                "start tensors for {} classes, propagating {classes}",
                tensors.len()
            )));
        }
        if self.first_measured && from >= net.depth() {
            return Err(Error::Shape(format!(
                "tensors of h{} given, but layer {from} is the last hidden layer",
                from + 1
            )));
        }
        let width = net.widths()[at];
        let dims = |t: &Tensors| self.gaussian_width.unwrap_or(t.dim());
        if let Some(t) = tensors.iter().find(|t| dims(t) != width) {
            return Err(Error::Shape(format!(
                "start tensors over {} units, stage {at} has width {width}",
                dims(t)
            )));
        }
        for (l, &n) in net.widths().iter().enumerate().skip(at) {
            check_memory(n, self.order(), classes, l, self.limit)?;
        }
        Ok(())
    }

    /// Maps the tensors through hidden layer `l`'s affine map into h^l and attaches the slices
    /// to `pre`; checks the breakdown criteria on h^l.
    fn enter(
        &mut self,
        l: usize,
        layer: &Layer,
        pre: &mut [Moments],
        timings: &Timings,
    ) -> Result<()> {
        if self.first_measured {
            self.first_measured = false;
            for (c, (o, t)) in pre.iter_mut().zip(&self.pre).enumerate() {
                attach(o, &t.k3, t.k4.as_ref());
                if let Some(p) = self.paired_pre.get(c) {
                    o.k4_iijj = Some(p.0.clone());
                }
            }
        } else if self.sliced_at(l) {
            self.map_sliced(layer, pre, timings, l < self.depth)?;
            self.undo_negative(l, layer, pre);
        } else {
            self.map(layer, pre, timings, false)?;
            self.undo_negative(l, layer, pre);
        }
        let mut check = LayerCheck {
            layer: l,
            skew: 0.0,
            kurtosis: 0.0,
            growth: 0.0,
            shift: 0.0,
            relative: 0.0,
        };
        for (c, h) in pre.iter_mut().enumerate() {
            let (k3, k4) = self.kappa(l, c);
            let (skew, kurt) = standardised(h, k3, k4);
            check.skew = check.skew.max(skew);
            check.kurtosis = check.kurtosis.max(kurt);
            if self.order() == 3 && self.quartic.is_none() && skew < SYMMETRIC_SKEW && kurt > 0.0 {
                self.fallbacks.push(Fallback {
                    layer: l,
                    reason: format!(
                        "class {c}: h{l} is symmetric (|skewness| {skew:.1e} < {SYMMETRIC_SKEW}): \
                         the paired κ₄ alone is dropped"
                    ),
                });
                self.paired_pre[c].0.fill(0.0);
                if let Some(u) = self.unpaired_pre.get_mut(c) {
                    *u = None;
                }
                if let Some(b) = self.blocks.get_mut(c) {
                    *b = None;
                }
                if let Some(t) = self.triple_pre.get_mut(c) {
                    *t = None;
                }
                h.k4_iijj = None;
                if self.stars.is_some() && skew < NOISE_SKEW {
                    self.drop_class(c, h);
                }
            } else if let Some(reason) = outside_region(c, l, (skew, kurt), self.limits) {
                self.fallbacks.push(Fallback { layer: l, reason });
                self.drop_class(c, h);
            }
        }
        self.checks.push(check);
        Ok(())
    }

    /// Adds the rule's Δm, ΔC to z^l's moments (the Gaussian closure's output in `post`) and
    /// writes z^l's tensors; attaches z^l's slices.
    fn leave(
        &mut self,
        l: usize,
        act: Activation,
        pre: &mut [Moments],
        post: &mut [Moments],
        timings: &Timings,
    ) -> Result<()> {
        let order = self.order();
        let mut updates = Vec::with_capacity(pre.len());
        // z^{l−1}'s tensors were mapped into `self.pre`: their storage takes z^l's.
        let mut spare = std::mem::take(&mut self.current).into_iter();
        let tensors = !self.sliced_at(l);
        for c in 0..pre.len() {
            let h = &pre[c];
            let units: Vec<UnitChaos> = (0..h.dim())
                .map(|i| UnitChaos::new(act, h.mean[i], h.cov[(i, i)].max(0.0).sqrt()))
                .collect();
            let (k3, k4) = self.kappa(l, c);
            let input = Input {
                cov: &h.cov,
                k3,
                k4,
                units: &units,
            };
            let (mut inc, beyond) = timings.time("kappa closure", 0.0, || {
                (
                    self.rule.increments(&input),
                    self.rule.beyond_budget(&input),
                )
            });
            if l == self.from + 1
                && (inc.mean.iter().any(|&d| d != 0.0) || inc.cov.norm_max() != 0.0)
            {
                self.first_corrected = true;
            }
            let share = beyond.norm_l2() / (&inc.cov - &beyond).norm_l2();
            let growth = variance_increment(&inc, &post[c]);
            if let Some(check) = self.checks.last_mut() {
                check.growth = check.growth.max(growth);
                check.shift = check.shift.max(mean_shift(&inc, &post[c]));
                check.relative = check
                    .relative
                    .max(inc.cov.norm_l2() / post[c].cov.norm_l2().max(f64::MIN_POSITIVE));
            }
            let reason = if share > MAX_BEYOND_SHARE {
                Some(format!(
                    "class {c}: z{l}'s covariance increment beyond the order's power \
                     counting is {share:.3} of the rest (limit {MAX_BEYOND_SHARE})"
                ))
            } else if growth > MAX_VARIANCE_INCREMENT {
                self.diverge(l);
                Some(format!(
                    "class {c}: a unit of z{l} has a variance increment {growth:.3e} times its \
                     Gaussian variance (limit {MAX_VARIANCE_INCREMENT}): the series diverges"
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                self.fallbacks.push(Fallback { layer: l, reason });
                self.drop_class(c, &mut pre[c]);
                let n = units.len();
                inc = Increments {
                    mean: vec![0.0; n],
                    cov: Mat::zeros(n, n),
                };
            }
            let kept = guard_units(&mut inc, &post[c]);
            if kept < units.len() {
                self.gaussian_units.push(GaussianUnits {
                    layer: l,
                    class: c,
                    units: units.len() - kept,
                });
            }
            let stars = self.stars.as_ref().filter(|_| l < self.depth);
            if !tensors && stars.is_none() {
                updates.push((inc, ZUpdate::Moments));
                continue;
            }
            // z's κ₄[a,a,b,c]: the fresh blocks and h's carried ones (its κ₃ term imaged), held
            // until the closure gives z's κ₄[a,a,a,b] (h's blocks are read until then).
            let mut blocks = None;
            if order == 3 && self.leading_paired {
                self.star4.resize(pre.len(), None);
                let star = self.star4_of(c, &pre[c].cov, &units, stars.is_some());
                self.blocks.resize(pre.len(), None);
                let mut fresh = fresh_blocks(&star);
                if let Some(h) = &self.blocks[c] {
                    fresh.extend(carried_blocks(h, &units));
                }
                if let Some(tol) = self.blocks_tol {
                    fresh = timings
                        .time("kappa truncate", 0.0, || truncate(fresh, tol))
                        .0;
                }
                blocks = Some(fresh);
                self.star4[c] = Some(kappa3_part(star));
                if let Some(q) = self.quartic.as_mut() {
                    q.resize(pre.len(), None);
                    q[c] = Some(QuarticStar::new(&pre[c].cov, &units));
                }
            }
            let n = units.len();
            let mut triple = Mat::zeros(n, n);
            // h's factors become z's (scaled in place).
            let fh = stars.map(|_| std::mem::replace(&mut self.fh[c], Factored::zeros(0)));
            let (k3, k4) = self.kappa(l, c);
            let input = Input {
                cov: &pre[c].cov,
                k3,
                k4,
                units: &units,
            };
            if let (Some(stars), Some(fh)) = (stars, fh) {
                let sh = &self.sliced[c].k3_aab;
                let (fz, paired, t) = timings.time("kappa closure", 0.0, || {
                    let (repeated, paired, t) = self.rule.slices_unpaired(&input);
                    let (kappa3, own) = stars.closure(&pre[c].cov, fh, sh, &units);
                    let fz = FactoredZ {
                        kappa3,
                        own,
                        repeated,
                    };
                    (Box::new(fz), paired, t)
                });
                if let Some(blocks) = blocks {
                    self.blocks[c] = Some(Unpaired4Factored::new(Paired::zeros(n), t, blocks));
                }
                updates.push((inc, ZUpdate::Factored { fz, paired }));
                continue;
            }
            let mut next = spare.next().unwrap_or_else(|| Tensors::gaussian(0, order));
            let (paired, unpaired) = timings.time("kappa closure", 0.0, || {
                if order == 3 && !self.leading_paired {
                    let u = self.rule.tensors_unpaired(&input, &mut next.k3);
                    (Some(u.paired.clone()), Some(Box::new(u)))
                } else if order == 3 {
                    let (paired, t) = self.rule.tensors_triple(&input, &mut next.k3);
                    triple = t;
                    (Some(paired), None)
                } else {
                    self.rule.tensors(&input, &mut next.k3, next.k4.as_mut());
                    if let (Some(d), Some(k4)) = (&self.distinct4, next.k4.as_mut()) {
                        d.fill(&input, k4);
                    }
                    (None, None)
                }
            });
            if let Some(blocks) = blocks {
                self.blocks[c] = Some(Unpaired4Factored::new(Paired::zeros(n), triple, blocks));
            }
            updates.push((
                inc,
                ZUpdate::Dense {
                    next,
                    paired,
                    unpaired,
                },
            ));
        }
        self.last.clear();
        for (c, (z, (inc, update))) in post.iter_mut().zip(updates).enumerate() {
            for (i, d) in inc.mean.iter().enumerate() {
                z.mean[i] += d;
            }
            z.cov += &inc.cov;
            let paired = match update {
                ZUpdate::Moments => None,
                ZUpdate::Dense {
                    next,
                    paired,
                    unpaired,
                } => {
                    attach(z, &next.k3, next.k4.as_ref());
                    self.current.push(next);
                    self.unpaired.resize(c + 1, None);
                    self.unpaired[c] = unpaired.map(|u| *u);
                    paired
                }
                ZUpdate::Factored { fz, paired } => {
                    // z's repeated entries; the factors are class c's state for the next map.
                    z.k3_iij = Some(fz.repeated.clone());
                    match self.fz.get_mut(c) {
                        Some(slot) => *slot = *fz,
                        None => self.fz.push(*fz),
                    }
                    Some(paired)
                }
            };
            if let Some(p) = paired {
                z.k4_iijj = Some(p.0.clone());
                self.paired[c] = p;
            }
            self.last.push(Some(inc));
        }
        // z^l is not Gaussian: the closure made its κ from h's Σ.
        self.zero.clear();
        Ok(())
    }

    /// Maps the tensors of z^L through the read-out into y and attaches y's slices.
    fn readout(&mut self, layer: &Layer, y: &mut [Moments], timings: &Timings) -> Result<()> {
        if self.moments_only {
            return Ok(());
        }
        self.map(layer, y, timings, true)?;
        std::mem::swap(&mut self.current, &mut self.pre);
        std::mem::swap(&mut self.paired, &mut self.paired_pre);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Col;

    /// Gaussian closure output with variances `var` and no correlations.
    fn gauss(var: &[f64]) -> Moments {
        let n = var.len();
        Moments::gaussian(
            Col::zeros(n),
            Mat::from_fn(n, n, |i, j| if i == j { var[i] } else { 0.0 }),
        )
    }

    #[test]
    fn guard_drops_the_second_moments_of_a_collapsing_unit_and_keeps_its_mean() {
        let g = gauss(&[1.0, 2.0, 4.0]);
        // Unit 1's corrected variance 2 − 1.9 = 0.1 < 0.1·2: guarded; units 0 and 2 kept.
        let mut inc = Increments {
            mean: vec![0.1, 0.2, 0.3],
            cov: Mat::from_fn(3, 3, |i, j| match (i, j) {
                (1, 1) => -1.9,
                (0, 0) => 0.5,
                (2, 2) => -3.0,
                _ => 0.05,
            }),
        };
        assert_eq!(guard_units(&mut inc, &g), 2);
        assert_eq!(inc.mean, vec![0.1, 0.2, 0.3]);
        for j in 0..3 {
            assert_eq!(inc.cov[(1, j)], 0.0);
            assert_eq!(inc.cov[(j, 1)], 0.0);
        }
        assert_eq!(inc.cov[(0, 0)], 0.5);
        assert_eq!(inc.cov[(2, 2)], -3.0);
        assert_eq!(inc.cov[(0, 2)], 0.05);
    }

    #[test]
    fn unmapping_the_increments_gives_the_map_of_the_gaussian_moments() {
        let w = Mat::from_fn(2, 3, |i, a| 0.3 * (i as f64) - 0.2 * (a as f64) + 0.5);
        let (m, c) = (
            Col::from_fn(3, |a| a as f64 - 0.5),
            Mat::from_fn(3, 3, |i, j| if i == j { 2.0 } else { 0.3 }),
        );
        let inc = Increments {
            mean: vec![0.1, -0.2, 0.05],
            cov: Mat::from_fn(3, 3, |i, j| {
                0.01 * (i + j) as f64 - 0.4 * f64::from(u8::from(i == j))
            }),
        };
        let mapped = |m: &Col<f64>, c: &Mat<f64>| Moments::gaussian(&w * m, &w * c * w.transpose());
        let corrected_m = Col::from_fn(3, |a| m[a] + inc.mean[a]);
        let mut h = mapped(&corrected_m, &(&c + &inc.cov));
        unmap_increments(&mut h, w.as_ref(), &inc);
        let want = mapped(&m, &c);
        assert!((&h.cov - &want.cov).norm_max() < 1e-14);
        assert!((&h.mean - &want.mean).norm_max() < 1e-14);
    }

    #[test]
    fn variance_increment_is_the_largest_ratio_over_units_with_variance() {
        // Ratios |ΔC_aa|/C_aa: 0.5, 3 (negative increment), unit 2 deterministic (skipped).
        let g = gauss(&[2.0, 1.0, 0.0]);
        let inc = Increments {
            mean: vec![0.0; 3],
            cov: Mat::from_fn(3, 3, |i, j| match (i, j) {
                (0, 0) => 1.0,
                (1, 1) => -3.0,
                (2, 2) => 7.0,
                _ => 0.0,
            }),
        };
        assert_eq!(variance_increment(&inc, &g), 3.0);
    }
}
