//! The `fleetsim` binary: parse arguments, run, map failures to exit codes (2 invalid input, 1 runtime).

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments = cli::Cli::parse();
    match cli::execute(arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(cli::Failure::Invalid(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(cli::Failure::Runtime(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
