//! The install guide's options table and the CLI say the same: every flag of `run` is
//! documented with its environment variable and default, and no other.

use std::collections::BTreeMap;

use clap::CommandFactory;

/// `--flag` -> (env, default), from the table under "## Options" of docs/install.md.
fn documented() -> BTreeMap<String, (String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/install.md")).unwrap();
    let section = text.split("## Options").nth(1).expect("an Options section");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let flag = cells[1].trim_matches('`');
            let flag = flag.split(' ').next().unwrap().to_string();
            (
                flag,
                (
                    cells[2].trim_matches('`').to_string(),
                    cells[3].trim_matches('`').to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn every_run_flag_is_documented_with_its_variable_and_default() {
    let cli = omkc::cli::Cli::command();
    let run = cli.find_subcommand("run").expect("run");
    let mut actual = BTreeMap::new();
    for arg in run.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["help", "version"].contains(&long) {
            continue;
        }
        let env = arg
            .get_env()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let default = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(",");
        actual.insert(format!("--{long}"), (env, default));
    }
    let documented = documented();
    assert_eq!(
        documented.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "the flags of `run` and the documented ones"
    );
    for (flag, (env, default)) in &actual {
        let (doc_env, doc_default) = &documented[flag];
        assert_eq!(doc_env, env, "{flag}: environment variable");
        if !default.is_empty() {
            assert_eq!(doc_default, default, "{flag}: default");
        }
    }
}
