//! Gaussian utilities for the analysis (DESIGN.md §4): divergences between Gaussian descriptions,
//! sampling (surrogate data), argmax probabilities (accuracy prediction) and error measures.

mod argmax;
mod argmax_all;
mod chi_square;
mod compare;
mod divergence;
mod factor;
mod low_rank;
mod normals;
mod pairwise;
mod precision;
mod rounding;
mod sampler;
mod support;

pub use argmax::{prob_argmax, prob_argmax_flops};
pub use argmax_all::{
    argmax_distribution, weighted_argmax, weighted_argmax_models, ArgmaxDistribution, ArgmaxModel,
    DrawWeight, WeightSummary,
};
pub use chi_square::fill_chi_square;
pub use compare::{frobenius_parts, mean_error, mean_error_parts, relative_frobenius};
pub use divergence::{
    bhattacharyya, kl_divergence, kl_divergence_in, kl_divergence_with, kl_flops, Bhattacharyya,
    KlDivergence, KL_RIDGE,
};
pub use factor::{
    factorable_with_ridge, mean_variance, FactorBuffers, Unfactored, MAX_RIDGE, RIDGE_RANGE,
};
pub use low_rank::LowRankFactor;
pub use normals::NormalStream;
pub use pairwise::{pairwise_bhattacharyya, PairwiseSplit};
pub use precision::{precisions, Precisions};
pub use rounding::FIRST_ORDER_LIMIT;
pub use sampler::GaussianSampler;
