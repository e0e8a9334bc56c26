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

use faer::{Col, Mat, Scale};

use crate::error::{Error, Field, Result};
use crate::net::{Activation, Mlp};
use crate::propagate::backward::{
    Adjoint, ClosureVjp, CorrectedVjp, ErfVjp, LeakyReluVjp, QuadraticVjp, ReluVjp, SliceAdjoint,
};
use crate::propagate::closures::{Closure, Corrections};
use crate::stats::{scaled_mean_cov, Moments};

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
    if net.depth() == 0 {
        return Err(Error::config(
            Field::Order,
            format!(
                "{}: the corrections act at the first hidden layer's closure, and the network \
                 has no hidden layer; use --order 2",
                order.order()
            ),
        ));
    }
    corrected_closure(net.activation.at(0)).ok_or_else(|| {
        Error::config(
            Field::Order,
            format!(
                "{}: the cumulant objective's κ₃/κ₄ corrections are implemented for the \
                 quadratic (quad:α), relu, leaky relu (leaky_relu:α) and erf activations only, not \
                 {} (the first hidden layer's); use --order 2",
                order.order(),
                net.activation.at(0)
            ),
        )
    })
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
    /// `apply_counted_in_slice_units` at `order` either way: at a slice unit ℓ ≠ 1 a positively
    /// homogeneous φ closes μ/ℓ, Σ/ℓ² and the slices as stored, and its z and Gaussian z are
    /// scaled back by ℓ, ℓ²; any other φ closes the slices in natural units.
    pub fn forward(
        &self,
        quadratic: &dyn Closure,
        h: &Moments,
        order: Corrections,
        z: &mut Moments,
    ) -> Result<Option<Moments>> {
        let l = h.slice_unit();
        if l == 1.0 {
            return self.forward_natural(quadratic, h, order, z);
        }
        if self.positively_homogeneous() {
            let mut gauss = self.forward_natural(quadratic, &h.in_slice_units(), order, z)?;
            for m in std::iter::once(z).chain(gauss.as_mut()) {
                (m.mean, m.cov) = scaled_mean_cov(&m.mean, &m.cov, l);
            }
            return Ok(gauss);
        }
        let mut natural = h.clone();
        natural.slices_to_natural_units();
        self.forward_natural(quadratic, &natural, order, z)
    }

    /// [`FirstClosure::forward`] of an `h` whose slices are in natural units.
    fn forward_natural(
        &self,
        quadratic: &dyn Closure,
        h: &Moments,
        order: Corrections,
        z: &mut Moments,
    ) -> Result<Option<Moments>> {
        // Resized by the closure.
        let mut gauss = Moments::gaussian(Col::zeros(0), Mat::zeros(0, 0));
        match self {
            FirstClosure::Quadratic(_) => {
                quadratic.apply_counted(h, order, z)?;
                return Ok(None);
            }
            FirstClosure::Relu => ReluVjp.forward_with_gaussian(h, order, z, &mut gauss),
            FirstClosure::Erf => ErfVjp.forward_with_gaussian(h, order, z, &mut gauss),
            FirstClosure::LeakyRelu(vjp) => vjp.forward_with_gaussian(h, order, z, &mut gauss),
        }?;
        Ok(Some(gauss))
    }

    /// The input adjoint of the corrected first closure at `h` (h¹'s μ and Σ with the κ slices
    /// the closure read, [`super::first_layer::Slices::attach`]), whose output `z` got the
    /// adjoint `z_adj`, and the κ slices' adjoint (for
    /// [`super::first_layer::Slices::backward`]), with respect to the slices as `h` stores
    /// them, in its slice unit ℓ; `gauss` is what [`FirstClosure::forward`] returned at h (a
    /// Gram–Charlier closure's Gaussian closure, which its reverse pass needs). The reverse of
    /// [`FirstClosure::forward`]: at ℓ ≠ 1 a positively homogeneous φ's closure ran on μ/ℓ,
    /// Σ/ℓ² and the slices as stored, its results scaled by ℓ, ℓ²; so its VJP runs there on z,
    /// the Gaussian z and the output adjoint rescaled (÷ℓ, ÷ℓ²; ×ℓ, ×ℓ²), and the input adjoint
    /// it gives is scaled by 1/ℓ, 1/ℓ² (the slices' adjoint is already theirs). Any other φ's
    /// closure read the slices in natural units, κ₃ = ℓ³T, κ₄ = ℓ⁴K: its VJP runs there, and the
    /// slices' adjoints are ×ℓ³, ×ℓ⁴. Every scaling is by powers of two (exact).
    pub fn backward(
        &self,
        h: &Moments,
        (z, gauss): (&Moments, Option<&Moments>),
        z_adj: &Adjoint,
        order: Corrections,
    ) -> Result<(Adjoint, SliceAdjoint)> {
        let l = h.slice_unit();
        if l == 1.0 {
            return self.backward_natural(h, (z, gauss), z_adj, order);
        }
        if self.positively_homogeneous() {
            let in_units = |m: &Moments| {
                let (mean, cov) = scaled_mean_cov(&m.mean, &m.cov, 1.0 / l);
                Moments::gaussian(mean, cov)
            };
            let (z_l, gauss_l) = (in_units(z), gauss.map(in_units));
            let (mean, cov) = scaled_mean_cov(&z_adj.mean, &z_adj.cov, l);
            let adj_l = Adjoint { mean, cov };
            let (a, slices) = self.backward_natural(
                &h.in_slice_units(),
                (&z_l, gauss_l.as_ref()),
                &adj_l,
                order,
            )?;
            let (mean, cov) = scaled_mean_cov(&a.mean, &a.cov, 1.0 / l);
            return Ok((Adjoint { mean, cov }, slices));
        }
        let mut natural = h.clone();
        natural.slices_to_natural_units();
        let (a, mut slices) = self.backward_natural(&natural, (z, gauss), z_adj, order)?;
        let (l3, l4) = (l * l * l, (l * l) * (l * l));
        slices.k3_iij = &slices.k3_iij * Scale(l3);
        for (m, f) in [(&mut slices.k4_iijj, l4), (&mut slices.k4_iiij, l4)] {
            if let Some(m) = m {
                *m = &*m * Scale(f);
            }
        }
        Ok((a, slices))
    }

    /// [`FirstClosure::backward`] of an `h` whose slices are in natural units.
    fn backward_natural(
        &self,
        h: &Moments,
        (z, gauss): (&Moments, Option<&Moments>),
        z_adj: &Adjoint,
        order: Corrections,
    ) -> Result<(Adjoint, SliceAdjoint)> {
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
        match self {
            FirstClosure::Quadratic(vjp) => {
                let k3 = h.k3_iij.as_ref().ok_or_else(|| {
                    Error::Unsupported("the corrected closure's h1 carries no κ₃ slice".into())
                })?;
                let mut adj = vjp.vjp(h, z, z_adj)?;
                let k = vjp.kappa_terms(h, k3, z_adj, order == Corrections::K3K4)?;
                adj.mean += &k.mean;
                Ok((adj, k.slices))
            }
            FirstClosure::Relu => ReluVjp.corrected(h, order, gauss()?, z_adj),
            FirstClosure::Erf => ErfVjp.corrected(h, order, gauss()?, z_adj),
            FirstClosure::LeakyRelu(vjp) => vjp.corrected(h, order, gauss()?, z_adj),
        }
    }
}
