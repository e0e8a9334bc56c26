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
