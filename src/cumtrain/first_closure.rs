//! Which hidden-layer closures the cumulant objective corrects at `--order 3|4`, and their
//! reverse pass (issue #16 item 6). The first hidden layer's φ must have one (else `--order` is
//! refused); a deeper layer whose φ has none keeps the Gaussian closure.
//!
//! - **quadratic** φ = h + αh²: the Gaussian VJP plus the κ terms differentiated in closed form
//!   ([`QuadraticVjp::kappa_terms`]), exact as it was;
//! - **relu**: the generic VJP of the corrected closure
//!   ([`crate::propagate::backward::corrected`]) with the relu's forward terms for the
//!   decisions, its terms to order 6 (`closures::relu_high`) and its Gaussian VJP
//!   ([`ReluVjp`]);
//! - **erf**: the same generic VJP with erf's terms (`closures::erf_terms`,
//!   `closures::erf_high`) and its Gaussian VJP ([`ErfVjp`]);
//! - **leaky relu**: the same with the leaky relu's terms (`closures::relu_terms`' `LeakyTerms`,
//!   `closures::leaky_relu_high`) and its Gaussian VJP ([`LeakyReluVjp`]).
//!
//! Any other first activation is refused naming `--order` and what is supported.

use faer::{Col, Mat};

use super::{CheckSettings, CorrectedLayers};
use crate::error::{Error, Field, Result};
use crate::net::{Activation, Mlp};
use crate::propagate::backward::{
    Adjoint, ClosureVjp, CorrectedVjp, ErfVjp, LeakyReluVjp, QuadraticVjp, ReluVjp, SliceAdjoint,
};
use crate::propagate::closures::{Closure, Corrections};
use crate::stats::{Moments, SliceUnitView};

/// A hidden layer's φ, among those whose corrected closure has a reverse pass (the first
/// layer's at `--corrected-layers first`, every hidden layer's at `all`).
#[derive(Clone, Copy, Debug)]
pub enum FirstClosure {
    Quadratic(QuadraticVjp),
    Relu,
    Erf,
    LeakyRelu(LeakyReluVjp),
}

/// The first closure of `net` for `--order 3|4`, or an error naming `--order`, the activation
/// and the supported ones.
pub fn check_activation(net: &Mlp, order: Corrections) -> Result<FirstClosure> {
    let activations: Vec<Activation> = (0..net.depth()).map(|k| net.activation.at(k)).collect();
    first_closure(&activations, order)
}

/// The first closure of a network whose hidden layers' φ are `activations` (first to last),
/// for `order` 3|4, or an error naming `--order`: no hidden layer, or a first φ without a
/// corrected closure.
fn first_closure(activations: &[Activation], order: Corrections) -> Result<FirstClosure> {
    let Some(&first) = activations.first() else {
        return Err(Error::config(
            Field::Order,
            format!(
                "{}: the corrections act at the first hidden layer's closure, and the network \
                 has no hidden layer; use --order 2",
                order.order()
            ),
        ));
    };
    corrected_closure(first).ok_or_else(|| {
        Error::config(
            Field::Order,
            format!(
                "{}: the cumulant objective's κ₃/κ₄ corrections are implemented for the \
                 quadratic (quad:α), relu, leaky relu (leaky_relu:α) and erf activations only, not \
                 {first} (the first hidden layer's); use --order 2",
                order.order(),
            ),
        )
    })
}

/// What the cumulant objective of `check` refuses of a network whose hidden layers' φ are
/// `activations` (first to last), before anything is measured: at order 3|4 a first φ without
/// a corrected closure, or no hidden layer ([`check_activation`], naming `--order`), and a
/// correction bound α on where no corrected layer (the first at `--corrected-layers first`,
/// every hidden layer at `all`) has a Gram–Charlier closure to bound (naming
/// `--correction-bound`: the quadratic's closure is exact and never bound). Training
/// (`cumtrain::train`) and a sweep's plan (every point before the first runs) share it.
pub fn check_closures(check: &CheckSettings, activations: &[Activation]) -> Result<()> {
    let order = check.corrections()?;
    if order == Corrections::None {
        return Ok(());
    }
    let first = first_closure(activations, order)?;
    let Some(alpha) = check.bound.and_then(|b| b.share()) else {
        return Ok(());
    };
    let deeper = match check.layers.unwrap_or_default() {
        CorrectedLayers::First => &[][..],
        CorrectedLayers::All => &activations[1..],
    };
    let bounded = first.caps_skewness()
        || deeper
            .iter()
            .filter_map(|&a| corrected_closure(a))
            .any(|c| c.caps_skewness());
    if bounded {
        Ok(())
    } else {
        Err(no_closure_to_bound(alpha))
    }
}

/// The refusal of a correction bound `alpha` that no corrected layer takes: it bounds the
/// Gram–Charlier corrected closures (relu, leaky relu, erf), and the corrected layers here
/// (the first hidden layer's at `--corrected-layers first`, every hidden layer's with a
/// corrected closure at `all`) have only the quadratic's, which is exact and never bound.
fn no_closure_to_bound(alpha: f64) -> Error {
    Error::config(
        Field::CorrectionBound,
        format!(
            "{alpha} bounds the Gram–Charlier corrected closures (relu, leaky relu, erf) of \
             --order 3|4, and no corrected hidden layer has one here (the quadratic's closure is \
             exact and is never bound; deeper layers are corrected only with --corrected-layers \
             all): remove the bound or set it off"
        ),
    )
}

/// The corrected closure of a hidden layer whose φ is `activation`: quadratic, relu, leaky relu
/// or erf; None for any other φ (a deeper layer with one keeps the Gaussian closure).
pub fn corrected_closure(activation: Activation) -> Option<FirstClosure> {
    match activation {
        Activation::Quadratic { alpha } => Some(FirstClosure::Quadratic(QuadraticVjp::new(alpha))),
        Activation::Relu => Some(FirstClosure::Relu),
        Activation::Erf => Some(FirstClosure::Erf),
        Activation::LeakyRelu { slope } => Some(FirstClosure::LeakyRelu(LeakyReluVjp::new(slope))),
        _ => None,
    }
}

impl FirstClosure {
    /// Whether the objective caps this closure's skewness ([`super::skew_cap`]): the
    /// Gram–Charlier corrected closures, not the quadratic's (exact at any skewness).
    pub fn caps_skewness(&self) -> bool {
        !matches!(self, FirstClosure::Quadratic(_))
    }

    /// Whether φ is positively homogeneous (relu, the leaky relu), as its forward closure says
    /// (`Closure::positively_homogeneous`): then its closure, and so its reverse pass, runs in
    /// the slices' unit ([`FirstClosure::forward`], [`FirstClosure::backward`]).
    pub fn positively_homogeneous(&self) -> bool {
        matches!(self, FirstClosure::Relu | FirstClosure::LeakyRelu(_))
    }

    /// The corrected closure at `order` of `h` (μ, Σ and the κ slices attached) into `z`: the
    /// quadratic's by `quadratic`, the layer's forward closure; a Gram–Charlier closure's by its
    /// own forward closure, which also hands out its Gaussian closure at h, formed on the way
    /// (`CorrectedVjp::forward_with_gaussian`), returned for the correction bound and the
    /// reverse pass ([`FirstClosure::backward`]). `z` is bit for bit the closure's
    /// `apply_counted_in_slice_units` at `order` either way: both close h's [`SliceUnitView`]
    /// (at a slice unit ℓ ≠ 1 a positively homogeneous φ closes μ/ℓ, Σ/ℓ² and the slices as
    /// stored, and its z and Gaussian z are scaled back by ℓ, ℓ²; any other φ closes the slices
    /// in natural units).
    pub fn forward(
        &self,
        quadratic: &dyn Closure,
        h: &Moments,
        order: Corrections,
        z: &mut Moments,
    ) -> Result<Option<Moments>> {
        let view = SliceUnitView::new(h, self.positively_homogeneous());
        let h = view.moments();
        // Resized by the closure.
        let mut gauss = Moments::gaussian(Col::zeros(0), Mat::zeros(0, 0));
        match self {
            FirstClosure::Quadratic(_) => quadratic.apply_counted(h, order, z),
            FirstClosure::Relu => ReluVjp.forward_with_gaussian(h, order, z, &mut gauss),
            FirstClosure::Erf => ErfVjp.forward_with_gaussian(h, order, z, &mut gauss),
            FirstClosure::LeakyRelu(vjp) => vjp.forward_with_gaussian(h, order, z, &mut gauss),
        }?;
        // The quadratic's closure forms no Gaussian closure on the way.
        let mut gauss = (!matches!(self, FirstClosure::Quadratic(_))).then_some(gauss);
        for m in std::iter::once(z).chain(gauss.as_mut()) {
            view.scale_back(&mut m.mean, &mut m.cov);
        }
        Ok(gauss)
    }

    /// The input adjoint of the corrected first closure at `h` (h¹'s μ and Σ with the κ slices
    /// the closure read, [`super::first_layer::Slices::attach`]), whose output `z` got the
    /// adjoint `z_adj`, and the κ slices' adjoint (for
    /// [`super::first_layer::Slices::backward`]), with respect to the slices as `h` stores
    /// them, in its slice unit ℓ; `gauss` is what [`FirstClosure::forward`] returned at h (a
    /// Gram–Charlier closure's Gaussian closure, which its reverse pass needs). The reverse of
    /// [`FirstClosure::forward`], in h's [`SliceUnitView`]: at ℓ ≠ 1 a positively homogeneous
    /// φ's closure ran on μ/ℓ, Σ/ℓ² and the slices as stored, its results scaled by ℓ, ℓ²; so
    /// its VJP runs there on z, the Gaussian z and the output adjoint rescaled (÷ℓ, ÷ℓ²; ×ℓ,
    /// ×ℓ²), and the input adjoint it gives is scaled by 1/ℓ, 1/ℓ² (the slices' adjoint is
    /// already theirs). Any other φ's closure read the slices in natural units, κ₃ = ℓ³T,
    /// κ₄ = ℓ⁴K: its VJP runs there, and the slices' adjoints are ×ℓ³, ×ℓ⁴. Every scaling is by
    /// powers of two (exact).
    pub fn backward(
        &self,
        h: &Moments,
        (z, gauss): (&Moments, Option<&Moments>),
        z_adj: &Adjoint,
        order: Corrections,
    ) -> Result<(Adjoint, SliceAdjoint)> {
        let view = SliceUnitView::new(h, self.positively_homogeneous());
        let h = view.moments();
        // z, the Gaussian z and z's adjoint in the view's units (copies only where they differ).
        let (z_in, gauss_in, adj_in);
        let (z, gauss, z_adj) = if view.rescaled() {
            let in_view = |m: &Moments| {
                let mut m = Moments::gaussian(m.mean.clone(), m.cov.clone());
                view.scale_in(&mut m.mean, &mut m.cov);
                m
            };
            let mut adj = z_adj.clone();
            view.scale_back(&mut adj.mean, &mut adj.cov);
            (z_in, gauss_in, adj_in) = (in_view(z), gauss.map(in_view), adj);
            (&z_in, gauss_in.as_ref(), &adj_in)
        } else {
            (z, gauss, z_adj)
        };
        // A Gram–Charlier closure's Gaussian closure at h, from the forward pass.
        let gauss = || {
            gauss.ok_or_else(|| {
                Error::Unsupported(
                    "the Gram–Charlier corrected closure's reverse pass was given no Gaussian \
                     closure from its forward pass"
                        .into(),
                )
            })
        };
        let (mut adj, mut slices) = match self {
            FirstClosure::Quadratic(vjp) => {
                let k3 = h.k3_iij().ok_or_else(|| {
                    Error::Unsupported("the corrected closure's h1 carries no κ₃ slice".into())
                })?;
                let mut adj = vjp.vjp(h, z, z_adj)?;
                let k = vjp.kappa_terms(h, k3, z_adj, order == Corrections::K3K4)?;
                adj.mean += &k.mean;
                (adj, k.slices)
            }
            FirstClosure::Relu => ReluVjp.corrected(h, order, gauss()?, z_adj)?,
            FirstClosure::Erf => ErfVjp.corrected(h, order, gauss()?, z_adj)?,
            FirstClosure::LeakyRelu(vjp) => vjp.corrected(h, order, gauss()?, z_adj)?,
        };
        view.scale_in(&mut adj.mean, &mut adj.cov);
        view.slice_adjoints_to_stored(
            &mut slices.k3_iij,
            slices.k4_iijj.as_mut(),
            slices.k4_iiij.as_mut(),
        );
        Ok((adj, slices))
    }
}
