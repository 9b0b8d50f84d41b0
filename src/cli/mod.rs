//! The `ce-crypt` command line: turns arguments into library calls.
//!
//! `args` holds the clap definitions; one module per subcommand does the work;
//! `input`, `output`, `overlap`, `keysource` and `read_ahead` are the I/O
//! edges they share; `process` the process itself (signals, core dumps);
//! `error` turns errors into one line with advice.

mod args;
mod check;
mod decrypt;
mod docs;
mod encrypt;
mod error;
mod input;
mod keygen;
mod keysource;
mod methods;
mod output;
mod overlap;
mod process;
mod read_ahead;
mod secret_file;
mod send;
mod terminal;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use error::Doing;

/// Runs the command line; `main` returns what this returns.
pub fn main() -> ExitCode {
    process::disable_core_dumps();
    // clap prints usage errors itself and exits 2, help and version with 0.
    let cli = Cli::try_parse().unwrap_or_else(|e| process::clap_exit(error::usage(e)));
    let doing = match &cli.command {
        Command::Encrypt(args) if args.raw => Doing::Other,
        Command::Encrypt(args) if args.check_events => Doing::EncryptEvents,
        Command::Encrypt(args) if args.compact => Doing::EncryptCompact,
        Command::Encrypt(_) => Doing::EncryptJson,
        Command::Decrypt(args) if args.pretty => Doing::DecryptPretty,
        Command::Send(_) => Doing::Send,
        Command::Check(_) => Doing::Check,
        _ => Doing::Other,
    };
    let result = run(cli);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) if error.is::<error::ExitStatus>() => {
            ExitCode::from(error.downcast_ref::<error::ExitStatus>().map_or(1, |s| s.0))
        }
        Err(error) => {
            error::report(&error, doing);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Encrypt(args) => encrypt::run(args),
        Command::Decrypt(args) => decrypt::run(args),
        Command::Check(args) => check::run(args),
        Command::Send(args) => send::run(*args),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
        Command::Methods => methods::run(),
    }
}
