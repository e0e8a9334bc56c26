//! The work of one grid point: train, measure every layer's statistics on the test set, predict
//! the accuracy from each start layer and split the class information into mean and covariance
//! terms, with the same functions as `corrflow analyze`.

use crate::analysis::accuracy::{theory_accuracy, AccuracyOptions};
use crate::analysis::information::stage_information;
use crate::command::init::with_init;
use crate::command::{check_classes, train_checked};
use crate::config::{Naming, On, RunConfig};
use crate::cumtrain::fit;
use crate::data::Split;
use crate::error::Result;
use crate::measure::{layer_stats, Higher};
use crate::net::train::TrainConfig;
use crate::net::unlearned::{unlearned_warning, Origin, Unlearned};
use crate::net::Mlp;
use crate::net::Stage;
use crate::propagate::closures::ClosureMethod;
use crate::timing::Timings;

use super::keys::name_key;
use super::record::{InfoTerms, TheoryAccuracy};

/// Everything a point needs before it runs: its data, the untrained network and how to train it.
pub struct Prepared {
    pub split: Split,
    pub net: Mlp,
    pub train: TrainConfig,
    /// The data in words, for the record.
    pub data: String,
    /// The grid key `init`'s model as read, training's start (`net` before training), kept
    /// for the `unlearned` warning's start L₀; None for a seeded start.
    pub init: Option<Mlp>,
}

impl Prepared {
    /// Loads the data of `config` and builds its untrained network: the seeded one, or the
    /// model file `init` names (read and checked against the task as `train --init` does). A
    /// test set (the one [`evaluate`] measures) with a class of one sample is refused naming
    /// the data, as `corrflow analyze` does, before the training.
    pub fn new(config: &RunConfig) -> Result<Prepared> {
        let (init, configured) = with_init(config, Naming::Keys).map_err(name_key)?;
        let config = configured.as_ref();
        config.check_memory(None)?;
        let loaded = config.load_data()?;
        check_classes(&loaded.split, &loaded.description, On::Test)?;
        let (net, train) =
            config.network(loaded.split.train.dim(), loaded.split.train.n_classes)?;
        let (net, init) = match init {
            Some(init) => {
                let (file_net, _) = init.start(&net, &loaded.description).map_err(name_key)?;
                (file_net.clone(), Some(file_net))
            }
            None => (net, None),
        };
        Ok(Prepared {
            split: loaded.split,
            net,
            train,
            data: loaded.description,
            init,
        })
    }
}

/// What a point measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub theory: Vec<TheoryAccuracy>,
    pub input_info: Option<InfoTerms>,
    pub output_info: Option<InfoTerms>,
    /// A training far worse than a constant output (`net::unlearned`), as `train` warns of it.
    pub unlearned: Option<Unlearned>,
}

/// Runs one point in the current rayon pool. `config`'s Monte Carlo samples and seed drive the
/// theory accuracy (only used with ≥ 3 outputs); its statistics batch and ridge are those of
/// `corrflow analyze`: [`theory_accuracy`] per start layer and [`stage_information`] at input
/// and output. A training far worse than a constant output is kept in [`Outcome::unlearned`]
/// for the record (`net::unlearned`).
pub fn evaluate(prepared: Prepared, config: &RunConfig) -> Result<Outcome> {
    let Prepared {
        split,
        mut net,
        train: cfg,
        data,
        init,
    } = prepared;
    let history = train_checked(&split.train, &data, cfg.precision, || {
        fit(
            &mut net,
            &split.train,
            &cfg,
            config.train.objective,
            &config.train.check(),
            |_| {},
            |_| {},
        )
    })?;
    let origin = match &init {
        Some(model) => Origin::Model(model),
        None => Origin::Seeded(config.net.start(net.activation.at(0))),
    };
    let unlearned = unlearned_warning(&history, &net, &split.train, origin, &cfg);
    let stats = layer_stats(&net, &split.test, Higher::None, config.analysis.stats_batch)?;
    let opts = AccuracyOptions {
        method: ClosureMethod::Auto,
        mc_samples: config.analysis.mc_samples,
        seed: config.net.seed,
        engine: config.engine(),
    };
    let theory = theory_accuracy(&net, &stats, opts, &Timings::disabled())?
        .into_iter()
        .map(|t| TheoryAccuracy {
            from_layer: t.start_layer,
            accuracy: t.accuracy,
            stderr: t.stderr,
            degenerate: t.degenerate,
        })
        .collect();
    let info = |stage: Stage| {
        let m = stats.get(stage).expect("layer_stats measures every stage");
        stage_information(stage, net.depth(), &m.per_class, config.analysis.ridge)
            .ok()
            .map(|s| InfoTerms {
                mean_term: s.mean_term,
                cov_term: s.cov_term,
            })
    };
    Ok(Outcome {
        train_accuracy: net.accuracy(&split.train),
        test_accuracy: net.accuracy(&split.test),
        theory,
        input_info: info(Stage::Input),
        output_info: info(Stage::Output),
        unlearned,
    })
}
