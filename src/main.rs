//! The binary: parse the command line, run the command, turn an error into a message on
//! stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use omkc::cli::{Cli, Command};

/// Prints a report on stdout, or the failure on stderr, and exits with its code.
fn report(result: Result<String, omkc::cli::Failure>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            // The report so far on stdout, the verdict on stderr: never glued together.
            print!("{}", failure.report);
            eprintln!("error: {}", failure.message.trim_end());
            ExitCode::from(failure.code as u8)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            eprint!("{}", omkc::cli::with_environment(e, &args));
            return ExitCode::from(2);
        }
        Err(e) => {
            // --help, --version.
            print!("{}", e.render());
            return ExitCode::SUCCESS;
        }
    };
    let result = match cli.command {
        Command::Crd { dir: None } => {
            print!("{}", omkc::crd_yaml());
            Ok(())
        }
        Command::Crd { dir: Some(dir) } => omkc::crds().into_iter().try_for_each(|(file, yaml)| {
            let path = dir.join(file);
            std::fs::write(&path, yaml).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }),
        Command::Run(args) => omkc::cli::run(args).await,
        Command::Plan(args) => return report(omkc::cli::plan(&args)),
        Command::Check(args) => return report(omkc::cli::check(&args).await),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
