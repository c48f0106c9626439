//! The `fleetsim` binary: parse, call the library, print `Error: ...`, exit non-zero.

use clap::Parser;

fn main() {
    let cli = fleetsim::cli::Cli::parse();
    if let Err(err) = fleetsim::cli::execute(cli) {
        eprintln!("Error: {err:#}");
        std::process::exit(fleetsim::cli::exit_code(&err));
    }
}
