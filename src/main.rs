//! The binary: parse the command line, run the command, turn an error into a message on
//! stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use omkc::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd => {
            print!("{}", omkc::crd_yaml());
            Ok(())
        }
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
