//! The `ce-crypt` command line: turns arguments into library calls.
//!
//! `args` holds the clap definitions; one module per subcommand does the work;
//! `input`, `output` and `keysource` are the I/O edges they share.

mod args;
mod decrypt;
mod docs;
mod encrypt;
mod input;
mod keygen;
mod keysource;
mod methods;
mod output;
mod send;

use std::io::{self, Write};
use std::process::ExitCode;

use ce_crypt::batch::BatchError;
use ce_crypt::codec::EncryptError;
use ce_crypt::events::{EventCheckError, EventErrors};
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
            report(&error);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Encrypt(args) => encrypt::run(args),
        Command::Decrypt(args) => decrypt::run(args),
        Command::Send(args) => send::run(args),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
        Command::Methods => methods::run(),
    }
}

/// Prints the error: one `error:` line, or one per problem for event checks.
fn report(error: &anyhow::Error) {
    let mut stderr = io::stderr().lock();
    let events = error.chain().find_map(|cause| {
        cause
            .downcast_ref::<EventErrors>()
            .or(match cause.downcast_ref::<EventCheckError>() {
                Some(EventCheckError::Events(events)) => Some(events),
                _ => None,
            })
    });
    if let Some(events) = events {
        for problem in &events.problems {
            let _ = writeln!(stderr, "error: {problem}");
        }
        return;
    }
    let message = format!("{error:#}").replace('\n', " ");
    let _ = writeln!(stderr, "error: {message}");
}

/// A reader of our output went away (`ce-crypt ... | head`): end quietly.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = cause
            .downcast_ref::<io::Error>()
            .or(match cause.downcast_ref::<BatchError>() {
                Some(BatchError::Io(io)) => Some(io),
                _ => None,
            })
            .or(match cause.downcast_ref::<EncryptError>() {
                Some(EncryptError::Io(io)) => Some(io),
                _ => None,
            });
        io.is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
