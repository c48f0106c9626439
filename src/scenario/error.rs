//! Errors a user can fix by editing a scenario file or a flag. The CLI exits with code 2 on
//! any of these; every message names the file, the key and what is allowed.

use std::path::PathBuf;

/// A scenario that cannot be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read the scenario file: {error}", file.display())]
    Read {
        /// The scenario file.
        file: PathBuf,
        /// The I/O error (shown in the message; not a `source`, so it prints once).
        error: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys or wrong types (toml's message has the line).
    #[error("{}: {message}", file.display())]
    Parse {
        /// The scenario file.
        file: PathBuf,
        /// toml's message, which names the key and the line.
        message: String,
    },
    /// A key has a value outside what is allowed.
    #[error("{}: key `{key}`: {message}", file.display())]
    Invalid {
        /// The scenario file.
        file: PathBuf,
        /// The dotted key, e.g. `traffic.requests_per_s`.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A `--set key=value` (or `--servers`, `--seed`, ...) override is malformed.
    #[error("override `{arg}`: {message}")]
    Override {
        /// The override as given.
        arg: String,
        /// What is wrong.
        message: String,
    },
}
