//! The `ce-crypt` binary: everything happens in the `cli` module and the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
