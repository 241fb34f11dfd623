//! The binary: parse the command line, run the command, turn an error into a message on
//! stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use omkc::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
