//! The results folder of a run, written atomically: everything goes into a hidden temporary
//! folder beside the target, which is then renamed into place. An existing results folder is
//! never overwritten.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

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

/// `summary.json` (or `plan.json`) bytes: pretty-printed, keys in contract order (the
/// fields' order), trailing newline.
pub fn summary_json<T: Serialize + ?Sized>(doc: &T) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

/// Flattens a JSON object into (dotted key, leaf) pairs in document order, for CSV rows.
fn flatten(doc: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, child, out);
                }
            }
            leaf => out.push((prefix.to_string(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", doc, &mut out);
    out
}

/// CSV with one row per record (e.g. per replication), columns from the dotted paths of the
/// first record's JSON leaves, prefixed with an index column named `index_name`.
pub fn rows_csv<T: Serialize>(index_name: &str, records: &[T]) -> Result<String> {
    let docs = records
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<Value>, _>>()?;
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

/// Checks, before any long run, that `dest` can be created: the folder that will hold it
/// exists or can be made, a temporary folder can be made and removed there, and an exact
/// `--out` is free. The message names the user's path, never a temporary one.
pub fn check_writable(dest: &Destination<'_>) -> Result<(), String> {
    let (parent, shown) = match dest {
        Destination::Exact(dir) => {
            if dir.exists()
                && fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                return Err(format!(
                    "--out {}: the folder exists and is not empty; results are never \
                     overwritten (choose a new folder or remove it)",
                    dir.display()
                ));
            }
            (parent_of(dir), format!("--out {}", dir.display()))
        }
        Destination::Numbered { root, scenario }
        | Destination::NumberedAs { root, scenario, .. } => (
            root.join(scenario),
            format!("--results-dir {}", root.display()),
        ),
    };
    let fail = |e: std::io::Error| format!("{shown}: results cannot be written there: {e}");
    // Probe the nearest folder that exists, creating nothing that would stay behind if the
    // run then fails: the folders below it are made when the results are written.
    let mut existing = parent.as_path();
    while !existing.exists() {
        existing = match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
    }
    if !existing.is_dir() {
        return Err(format!(
            "{shown}: results cannot be written there: {} is not a folder",
            existing.display()
        ));
    }
    let probe = existing.join(format!("{TEMP_PREFIX}{}-probe", std::process::id()));
    fs::create_dir(&probe).map_err(fail)?;
    fs::remove_dir(&probe).map_err(fail)?;
    Ok(())
}

/// Writes `files` into a new folder at `dest`, atomically; returns the folder's path.
///
/// An exact `--out` that another run took meanwhile is never overwritten: the results go to
/// a fresh sibling (`<out>-2`, `<out>-3`, ...) and a note on stderr says where. Errors name
/// the user's path, not the temporary folder.
pub fn write_atomically(dest: Destination<'_>, files: &[ResultFile]) -> Result<PathBuf> {
    write_atomically_with(dest, |dir| write_files(dir, files))
}

/// [`write_atomically`] with the folder's files written by `fill` into the (temporary)
/// folder it is given, so large results can be streamed to disk instead of held in memory.
pub fn write_atomically_with(
    dest: Destination<'_>,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
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
            let parent = parent_of(dir);
            let tmp = stage(&parent, fill)
                .with_context(|| format!("--out {}: writing the results", dir.display()))?;
            // An empty folder may be replaced; rename refuses a non-empty one.
            if dir.exists() && fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
                let _ = fs::remove_dir(dir);
            }
            if fs::rename(&tmp, dir).is_ok() {
                return Ok(dir.to_path_buf());
            }
            // Taken meanwhile (another run on the same --out): keep both, never overwrite.
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "results".into());
            for n in 2..10_000u32 {
                let sibling = parent.join(format!("{name}-{n}"));
                if sibling.exists() {
                    continue;
                }
                if fs::rename(&tmp, &sibling).is_ok() {
                    eprintln!(
                        "note: --out {} was taken by another run while this one ran; these \
                         results are in {} instead",
                        dir.display(),
                        sibling.display()
                    );
                    return Ok(sibling);
                }
            }
            let _ = fs::remove_dir_all(&tmp);
            bail!(
                "--out {}: the folder was taken by another run and no free sibling folder \
                 could be made",
                dir.display()
            )
        }
        Destination::Numbered { .. } => unreachable!("normalised to NumberedAs above"),
        Destination::NumberedAs {
            root,
            scenario,
            prefix,
        } => {
            let base = root.join(scenario);
            fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
            let tmp = stage(&base, fill)
                .with_context(|| format!("{}: writing the results", base.display()))?;
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

/// Prefix of the hidden temporary folders results are staged in (`.tmp-fleetsim-<pid>`).
pub const TEMP_PREFIX: &str = ".tmp-fleetsim-";

/// Removes temporary folders in `parent` left by runs that were killed before their final
/// rename: only those whose process is gone (Linux `/proc`; elsewhere none are removed),
/// with a note on stderr for each. Returns the folders removed.
pub fn remove_stale_temps(parent: &Path) -> Vec<PathBuf> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || proc.join(pid.to_string()).exists() {
            continue;
        }
        let path = e.path();
        if path.is_dir() && fs::remove_dir_all(&path).is_ok() {
            eprintln!(
                "note: removed {}, left by run {pid} that was stopped before it finished",
                path.display()
            );
            removed.push(path);
        }
    }
    removed
}

/// Writes `files` into `dir`, each synced to disk.
fn write_files(dir: &Path, files: &[ResultFile]) -> Result<()> {
    for f in files {
        let path = dir.join(&f.name);
        let mut file = fs::File::create(&path).with_context(|| format!("creating {}", f.name))?;
        file.write_all(&f.bytes)
            .with_context(|| format!("writing {}", f.name))?;
        file.sync_all()
            .with_context(|| format!("writing {}", f.name))?;
    }
    Ok(())
}

/// Fills a hidden temporary folder inside `parent` with `fill`; removes it on failure.
fn stage(parent: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    remove_stale_temps(parent);
    let tmp = parent.join(format!("{TEMP_PREFIX}{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).context("clearing this run's old temporary folder")?;
    }
    fs::create_dir(&tmp).context("creating a temporary folder")?;
    let result = fill(&tmp);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(tmp)
}
