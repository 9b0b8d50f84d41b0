//! The `ce-crypt` command line: turns arguments into library calls.
//!
//! `args` holds the clap definitions; one module per subcommand does the work;
//! `input`, `output` and `keysource` are the I/O edges they share.

mod args;
mod decrypt;
mod encrypt;
mod input;
mod keygen;
mod keysource;
mod methods;
mod output;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Runs the command line; `main` returns what this returns.
pub fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2, help and version with 0.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let message = format!("{error:#}").replace('\n', " ");
            let _ = writeln!(io::stderr(), "error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Encrypt(args) => encrypt::run(args),
        Command::Decrypt(args) => decrypt::run(args),
        Command::Methods => methods::run(),
    }
}

/// A reader of our output went away (`ce-crypt ... | head`): end quietly.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause.to_string().contains("Broken pipe")
    })
}
