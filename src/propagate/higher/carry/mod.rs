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
//! carried one is significantly further from them; for a start measured from data,
//! `measure::carried` runs the same statistics per class against held-out samples' outputs
//! ([`super::pilot::held_out_check`]). The Gram–Charlier density region (|skewness| ≤ [`MAX_SKEW`],
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
//! rank by 2N per layer for nothing (h is then Gaussian, as after a fallback). The factored
//! carry does not form a symmetric h's κ₄ in the first place ([`Carry::symmetric_unformed`]).
//! The full fallback is also taken when the expansion is not ordered at a layer: the part of ΔC
//! from diagrams beyond the order's width power-counting budget
//! ([`ChaosRule::beyond_budget`], e.g. κ₄\[a,a,b,b\]Σ_ab at order 3) outweighs the rest
//! ([`MAX_BEYOND_SHARE`]) and is more than rounding noise of the covariance. That is the case for an odd φ (tanh) at zero mean, whose in-budget
//! κ terms vanish (no even Hermite coefficients), so that order 3's correction would be made
//! of an incomplete set of the next order's terms. [`Carry::fallbacks`] lists every such layer
//! and why, [`Carry::checks`] the largest standardised skewness and kurtosis met at each
//! layer. A unit
//! whose corrected variance would fall below [`MIN_VARIANCE_SHARE`] of the Gaussian one keeps
//! the Gaussian closure's variance and covariances, and its corrected mean
//! ([`Carry::gaussian_units`] counts them); at the output the same share is tested along every
//! direction, not only units ([`super::output_guard`], applied by `measure::carried`).

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
use super::kappa3_blocks::kappa3_blocks;
use super::paired::{affine_paired, paired_affine_flops, Kappa4, Paired};
use super::paired_leading::{affine_paired_leading, paired_leading_flops};
use super::pilot::{Pilot, PilotVerdict};
use super::quartic_star::QuarticStar;
use super::sliced::{affine_sliced, sliced_affine_flops, SliceWorkspace, Sliced};
use super::slices::attach;
use super::star4::{HKappa3, Star4};
use super::tensor::{check_memory, Kappa3, SymTensor, ZeroKappa, DEFAULT_TENSOR_BYTES};
use super::triple4::{unpaired_map_flops, Unpaired4};
use super::triple4_factored::{
    carried_blocks, fresh_blocks, kappa3_part, Dropped, Unpaired4Factored, GENERATIONS,
};
use super::unpaired_factored::PairedTriple;
use crate::error::{Error, Result};
use crate::net::{Activation, Layer, Mlp};
use crate::stats::Moments;
use crate::timing::Timings;

mod engine_hook;
mod maps;
mod setup;

/// The edge of the region where the 4th-order Gram–Charlier density is a density (|skewness|
/// ≤ 1.05 and excess kurtosis ≤ 4; Jondeau & Rockinger, J. Econ. Dyn. Control 25, 2001): a
/// breakdown limit of the full and the subset carry only when set by [`Carry::with_breakdown`]
/// (module docs) or [`super::subset::SubsetCarry::with_breakdown`].
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
/// which a layer's expansion counts as ordered; above it the layer falls back. The ratio is
/// read only where the part beyond the budget is visible in the covariance,
/// ‖ΔC beyond‖_F > ε‖C‖_F (ε = `f64::EPSILON`, C the Gaussian closure's covariance,
/// [`beyond_is_visible`]): below that both parts are rounding noise — a symmetric h's κ₃ of
/// ~10⁻¹⁶ σ³ gives ‖ΔC‖ ~ 10⁻³² ‖C‖ — and their ratio is noise over noise (0.23, 1.002, 0.86 at
/// the three layers of `higher_factored::factored_drops_the_rounding_noise_of_a_symmetric_network`'s
/// network), which says nothing about the expansion's order (tanh43).
pub const MAX_BEYOND_SHARE: f64 = 1.0;

/// Whether ΔC's part beyond the budget, `beyond`, changes the Gaussian closure's covariance `c`
/// beyond its rounding: ‖beyond‖_F > ε‖c‖_F ([`MAX_BEYOND_SHARE`]).
pub fn beyond_is_visible(beyond: faer::MatRef<'_, f64>, c: faer::MatRef<'_, f64>) -> bool {
    beyond.norm_l2() > f64::EPSILON * c.norm_l2()
}

/// A corrected variance below this share of the Gaussian closure's is a breakdown.
pub const MIN_VARIANCE_SHARE: f64 = 0.1;
/// Largest |ΔC_aa| / C_aa over the units of a layer, ΔC_aa the variance increment from the
/// carried cumulants and C_aa the Gaussian closure's variance, at which the expansion counts as
/// ordered; above it the layer falls back (module docs). An asymptotic series is trusted while
/// its terms decrease; 10 leaves room for single units near a relu kink, whose Gaussian variance
/// is small (on the ARC benchmark the ratio stays ≤ 4 to depth 8 and reaches 10–2 600 only
/// where the corrected variances later turn negative, depth 11–16 at n = 64/128).
pub const MAX_VARIANCE_INCREMENT: f64 = 10.0;
/// Most generations of the κ₄\[a,a,b,c\] blocks [`Carry::with_generations`] takes: the
/// carried rank triples with each, and at 3 the ninth session's factored order 3 already took
/// 26× the time of 1 on relu n = 64, depth 8 (EXPERIMENTS.md, "cap 2 / 3").
pub const MAX_GENERATIONS: usize = 3;

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
/// A class whose κ₄ the factored carry left unformed ([`Carry::symmetric_unformed`]) counts 0
/// in the kurtosis.
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
    /// The first hidden layer at which a breakdown rule may stop the carry
    /// ([`Carry::with_rules_from`]; 0: every layer).
    rules_from: usize,
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
    /// Maps a κ₄\[a,a,b,c\] block goes through before the carry drops it
    /// ([`Carry::with_generations`]; default [`GENERATIONS`]).
    generations: usize,
    /// What the blocks dropped after a map give h ([`Carry::with_dropped_blocks_paired_only`];
    /// default [`Dropped::Mapped`]).
    dropped: Dropped,
    /// Whether z's κ₄\[a,a,b,c\]'s κ₃ term is carried as blocks ([`Carry::with_kappa3_blocks`])
    /// instead of imaged once.
    kappa3_blocks: bool,
    /// Per class, the largest standardised skewness of the last h the hook's `enter` checked.
    h_skew: Vec<f64>,
    /// Per class, whether the factored order 3's last map left h's κ₄ unformed, h being
    /// symmetric ([`Carry::symmetric_unformed`]): `enter`'s check drops it as it drops a formed
    /// one.
    unformed: Vec<bool>,
    /// How many class-layers the factored order 3 left h's κ₄ unformed.
    unformed_count: usize,
    /// Tests only: form h's κ₄ where it would be left unformed (the path before sym76).
    #[cfg(test)]
    form_symmetric: bool,
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
    /// The first hidden layer not carried ([`CarryHook::set_cut`]: the Gaussian closure alone from
    /// there, after a carried run failed) and why, None: carried to y.
    cut: Option<Fallback>,
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

/// The chaos rule of `order` (3 or 4), compiled once per process: its diagram tables
/// ([`ChaosRule::new`]) are the same for every network (a few milliseconds to build, as much
/// as a whole carried run through a narrow one). Order 3's dense carry reads κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\]
/// ([`ChaosRule::unpaired`]).
fn compiled_rule(order: usize) -> &'static ChaosRule {
    static UNPAIRED: OnceLock<ChaosRule> = OnceLock::new();
    if order == 3 {
        UNPAIRED.get_or_init(ChaosRule::unpaired)
    } else {
        ChaosRule::shared(4)
    }
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
    *o.natural_slices_mut().k3_iij = Some(Mat::zeros(m, m));
    *o.natural_slices_mut().k4_iijj = Some(Mat::zeros(m, m));
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
