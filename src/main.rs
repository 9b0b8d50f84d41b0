//! The `ce-crypt` binary: everything happens in the `cli` module and the library.

#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
