//! The results folder of a run, written atomically: everything goes into a hidden temporary
//! folder beside the target, which is then renamed into place. An existing results folder is
//! never overwritten.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::metrics::ci::flatten;

/// One file of a results folder: its name and its bytes.
pub struct ResultFile {
    /// File name inside the folder.
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

impl ResultFile {
    /// A file from text.
    pub fn text(name: &str, text: impl Into<String>) -> Self {
        ResultFile {
            name: name.into(),
            bytes: text.into().into_bytes(),
        }
    }
}

/// `summary.json` bytes: pretty-printed, keys in contract order, trailing newline.
pub fn summary_json(summary: &Value) -> String {
    let mut s = serde_json::to_string_pretty(summary).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

/// CSV with one row per document (e.g. per replication), columns from the flattened keys of
/// the first document, prefixed with an index column named `index_name`.
pub fn rows_csv(index_name: &str, docs: &[Value]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some(first) = docs.first() {
        let cols: Vec<String> = flatten(first).into_iter().map(|(k, _)| k).collect();
        let mut header = vec![index_name.to_string()];
        header.extend(cols);
        w.write_record(&header)?;
        for (i, d) in docs.iter().enumerate() {
            let mut row = vec![i.to_string()];
            row.extend(flatten(d).into_iter().map(|(_, v)| match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            }));
            w.write_record(&row)?;
        }
    }
    let bytes = w.into_inner().context("finishing CSV")?;
    Ok(String::from_utf8(bytes)?)
}

/// Where a run writes: a fresh `run-NNNN` under `<root>/<scenario>/`, or exactly `out`.
pub enum Destination<'a> {
    /// `results/<scenario>/run-NNNN`, numbered after the highest existing run.
    Numbered {
        /// Usually `results`.
        root: &'a Path,
        /// Scenario name.
        scenario: &'a str,
    },
    /// `--out DIR`: created; refused if it exists and is not empty.
    Exact(&'a Path),
    /// `<root>/<scenario>/<prefix>-NNNN`, e.g. `results/mmc/sweep-0003`: like `Numbered` for
    /// commands other than `run`, each numbering its own folders.
    NumberedAs {
        /// Usually `results`.
        root: &'a Path,
        /// Scenario name.
        scenario: &'a str,
        /// Folder name before the number, e.g. `sweep`.
        prefix: &'a str,
    },
}

/// Writes `files` into a new folder at `dest`, atomically; returns the folder's path.
pub fn write_atomically(dest: Destination<'_>, files: &[ResultFile]) -> Result<PathBuf> {
    let dest = match dest {
        Destination::Numbered { root, scenario } => Destination::NumberedAs {
            root,
            scenario,
            prefix: "run",
        },
        other => other,
    };
    match dest {
        Destination::Exact(dir) => {
            if dir.exists() {
                let empty = fs::read_dir(dir)
                    .with_context(|| format!("reading {}", dir.display()))?
                    .next()
                    .is_none();
                if !empty {
                    bail!(
                        "--out {}: the folder exists and is not empty; results are never \
                         overwritten (choose a new folder or remove it)",
                        dir.display()
                    );
                }
                fs::remove_dir(dir)
                    .with_context(|| format!("replacing empty {}", dir.display()))?;
            }
            let parent = parent_of(dir);
            let tmp = stage(&parent, files)?;
            fs::rename(&tmp, dir)
                .with_context(|| format!("moving results into {}", dir.display()))?;
            Ok(dir.to_path_buf())
        }
        Destination::Numbered { .. } => unreachable!("normalised to NumberedAs above"),
        Destination::NumberedAs {
            root,
            scenario,
            prefix,
        } => {
            let base = root.join(scenario);
            fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
            let tmp = stage(&base, files)?;
            let mut n = next_run_number(&base, prefix)?;
            loop {
                let target = base.join(format!("{prefix}-{n:04}"));
                if !target.exists() {
                    // rename onto a missing name; if another run took it meanwhile, try the next.
                    match fs::rename(&tmp, &target) {
                        Ok(()) => return Ok(target),
                        Err(_) if target.exists() => {}
                        Err(e) => {
                            let _ = fs::remove_dir_all(&tmp);
                            return Err(e).with_context(|| {
                                format!("moving results into {}", target.display())
                            });
                        }
                    }
                }
                n += 1;
            }
        }
    }
}

fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn next_run_number(base: &Path, prefix: &str) -> Result<u32> {
    let mut max = 0;
    for entry in fs::read_dir(base).with_context(|| format!("reading {}", base.display()))? {
        let name = entry?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|s| s.strip_prefix(prefix))
            .and_then(|s| s.strip_prefix('-'))
            .and_then(|s| s.parse::<u32>().ok())
        {
            max = max.max(n);
        }
    }
    Ok(max + 1)
}

/// Writes the files into a hidden temporary folder inside `parent` and syncs them.
fn stage(parent: &Path, files: &[ResultFile]) -> Result<PathBuf> {
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = parent.join(format!(".tmp-fleetsim-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("clearing {}", tmp.display()))?;
    }
    fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let result = (|| -> Result<()> {
        for f in files {
            let path = tmp.join(&f.name);
            let mut file =
                fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            file.write_all(&f.bytes)?;
            file.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(tmp)
}
