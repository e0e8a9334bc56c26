//! Configuration fields as command-line flags: the one table the command line uses to name, in
//! an error, the flag the user wrote.

use corrflow::config::Field;

/// The flag that sets `field`: `--` and the field's name with `-` for `_`, except where the
/// flag is named otherwise.
pub fn flag(field: Field) -> String {
    match field {
        Field::StatsBatch => "--batch".to_string(),
        other => format!("--{}", other.name().replace('_', "-")),
    }
}

/// clap's parser for a flag whose value parses with the library's `FromStr` (`--scale`,
/// `--shard`): clap names the flag itself, so the refusal keeps only what was wrong. Parsed by
/// clap directly, the library's error added the configuration field's inner name ("invalid
/// value '0' for '--scale <S>': invalid value for data.scale: …", adv49a).
pub fn library_value<T: std::str::FromStr<Err = corrflow::Error>>(text: &str) -> Result<T, String> {
    text.parse().map_err(|e| match e {
        corrflow::Error::Config { msg, .. } => msg,
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every field's flag is a flag of some subcommand, so no error names a flag that does not
    /// exist.
    #[test]
    fn every_field_names_an_existing_flag() {
        let cli = super::super::Cli::command();
        let mut longs: Vec<String> = cli
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect();
        for sub in cli.get_subcommands() {
            longs.extend(
                sub.get_arguments()
                    .filter_map(|a| a.get_long().map(str::to_string)),
            );
        }
        for field in Field::ALL {
            let f = flag(field);
            assert!(
                longs.contains(&f[2..].to_string()),
                "{field:?} → {f}: no such flag"
            );
        }
    }
}
