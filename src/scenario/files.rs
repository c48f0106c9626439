//! The files a scenario reads while it is validated, and which of them it may read.
//!
//! Validation is the only place a scenario opens files (`traffic.path`, `traffic.rates_csv`),
//! and every open goes through [`FileAccess::read`]: the policy is checked on the resolved
//! path *before* the file is opened, whatever the key. The CLI allows any regular file; the
//! HTTP service allows none, or only files inside its `--allowed-traces` folder, and then
//! never quotes a file's contents in an error. [`super::Scenario::files_read`] lists what a
//! validated scenario read, so the service can check the outcome as well as the gate.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file a scenario may read (a trace or a rates CSV), in bytes; the trace reader owns it.
pub use crate::trace::MAX_FILE_BYTES;

/// Which files validation may open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FileAccess {
    /// Any regular file the process can open (the CLI: the user runs it on their machine).
    #[default]
    Any,
    /// No file at all (`fleetsim serve` without `--allowed-traces`).
    Nothing,
    /// Only regular files inside this folder, after following links (`--allowed-traces`);
    /// errors then never quote what a file holds.
    Within(PathBuf),
}

impl FileAccess {
    /// Whether error messages may quote a file's contents (only for [`FileAccess::Any`]).
    pub fn may_quote_contents(&self) -> bool {
        matches!(self, FileAccess::Any)
    }

    /// The path to open for `key` (written `written` in the scenario, resolved to `path`), or
    /// why it is refused. Nothing is opened here; for [`FileAccess::Within`] the answer is the
    /// canonical path, so a link swapped in later cannot lead outside the folder.
    pub fn check(&self, key: &str, written: &str, path: &Path) -> Result<PathBuf, String> {
        match self {
            FileAccess::Any => Ok(path.to_path_buf()),
            FileAccess::Nothing => Err(format!(
                "scenarios sent to the service may not read files (start the server with \
                 --allowed-traces DIR to allow trace files from that folder); `{key}` names \
                 {written:?}"
            )),
            FileAccess::Within(dir) => {
                let refuse = || {
                    format!(
                        "{written:?} is not a file inside the allowed folder {}; only files \
                         there may be read",
                        dir.display()
                    )
                };
                // Same answer for "missing" and "outside": no probing of the file system.
                match (path.canonicalize(), dir.canonicalize()) {
                    (Ok(file), Ok(dir)) if file.starts_with(&dir) && file.is_file() => Ok(file),
                    _ => Err(refuse()),
                }
            }
        }
    }

    /// Reads the file `key` names (`written` as in the scenario, `path` resolved), after the
    /// policy allows it: a regular file (not a pipe or device, which could block or never
    /// end), at most [`MAX_FILE_BYTES`], UTF-8. Returns the path opened and the text; errors
    /// name the file but never its contents.
    pub fn read(&self, key: &str, written: &str, path: &Path) -> Result<(PathBuf, String), String> {
        let open = self.check(key, written, path)?;
        let meta = std::fs::metadata(&open)
            .map_err(|e| format!("cannot read {}: {}", open.display(), io_kind(&e)))?;
        if !meta.is_file() {
            return Err(format!(
                "{} is not a regular file (a folder, pipe or device cannot be read)",
                open.display()
            ));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_big(&open));
        }
        let file = std::fs::File::open(&open)
            .map_err(|e| format!("cannot read {}: {}", open.display(), io_kind(&e)))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {}: {}", open.display(), io_kind(&e)))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_big(&open));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{} is not UTF-8 text", open.display()))?;
        Ok((open, text))
    }
}

fn too_big(path: &Path) -> String {
    format!(
        "{} is larger than {} bytes, the most a scenario may read",
        path.display(),
        MAX_FILE_BYTES
    )
}

/// The OS's description of an I/O error (it never includes what the file holds).
fn io_kind(e: &std::io::Error) -> String {
    e.to_string()
}

/// One file a validated scenario read: the key that named it and the path opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRead {
    /// The dotted key, e.g. `traffic.path`.
    pub key: &'static str,
    /// The path that was opened.
    pub path: PathBuf,
}
