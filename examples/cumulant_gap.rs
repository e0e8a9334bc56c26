//! What the cumulant objective measures, for a trained model on a generated task: the objective
//! (from the training set's class statistics), the sample MSE on the training and test sets, and
//! the sample MSE on Gaussian surrogate data N(μ_c, Σ_c) (the data the objective assumes).
//!
//! `cargo run --release --example cumulant_gap -- MODEL xor|higher-order`

use corrflow::cumtrain::{ClassStatistics, CumulantObjective};
use corrflow::data::{HigherOrderConfig, XorConfig};
use corrflow::net::{model_io, ForwardPass, Mlp};
use faer::{Mat, Side};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

fn mse(net: &Mlp, x: &Mat<f64>, labels: &[u32]) -> f64 {
    let mut fp = ForwardPass::new(net, x.ncols());
    net.forward_into(x.as_ref(), &mut fp);
    let y = fp.output();
    let total: f64 = (0..x.ncols())
        .map(|k| {
            (0..y.nrows())
                .map(|i| (y[(i, k)] - f64::from(u8::from(i == labels[k] as usize))).powi(2))
                .sum::<f64>()
        })
        .sum();
    total / x.ncols() as f64
}

fn main() -> corrflow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model), Some(task)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: cumulant_gap MODEL xor|higher-order");
        std::process::exit(2);
    };
    let net = model_io::load(model.as_ref())?;
    let split = match task.as_str() {
        "xor" => XorConfig::default().generate()?,
        "higher-order" => HigherOrderConfig::default().generate()?,
        other => return Err(corrflow::Error::flag("TASK", format!("'{other}'"))),
    };
    let stats = ClassStatistics::measure(&split.train)?;
    let objective = CumulantObjective::new(&net)?.loss(&net, &stats)?;
    let train = mse(&net, &split.train.x, &split.train.labels);
    let test = mse(&net, &split.test.x, &split.test.labels);
    // Gaussian surrogate of the test set's size: class c ~ N(μ_c, Σ_c), Σ_c = LLᵀ.
    let mut rng = StdRng::seed_from_u64(7);
    let n = split.test.len();
    let d = split.test.dim();
    let mut x = Mat::zeros(d, n);
    let mut labels = vec![0u32; n];
    let factors = stats
        .per_class
        .iter()
        .map(|m| {
            m.cov
                .llt(Side::Lower)
                .map(|l| l.L().to_owned())
                .map_err(|e| corrflow::Error::Numeric(format!("class covariance: {e:?}")))
        })
        .collect::<corrflow::Result<Vec<_>>>()?;
    for k in 0..n {
        let c = split.test.labels[k] as usize;
        labels[k] = c as u32;
        let (m, l) = (&stats.per_class[c], &factors[c]);
        let z: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        for i in 0..d {
            x[(i, k)] = m.mean[i] + (0..=i).map(|j| l[(i, j)] * z[j]).sum::<f64>();
        }
    }
    let surrogate = mse(&net, &x, &labels);
    let acc_surrogate = {
        let pred = net.predict(x.as_ref(), 1024);
        pred.iter()
            .zip(&labels)
            .filter(|(p, &l)| **p == l as usize)
            .count() as f64
            / n as f64
    };
    println!(
        "objective {objective:.4}  train MSE {train:.4}  test MSE {test:.4}  \
         Gaussian-surrogate MSE {surrogate:.4}  \
         test acc {:.4}  surrogate acc {acc_surrogate:.4}",
        net.accuracy(&split.test)
    );
    Ok(())
}
