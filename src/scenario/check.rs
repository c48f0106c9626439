//! The one validation helper: every [`ScenarioError::Invalid`] is made here, so every
//! message names the file and the dotted key the same way, and the common range checks
//! ("must be a positive number, got ...") are written once.

use std::path::Path;

use super::ScenarioError;

/// Checks values of one scenario file; each failure names `file` and the key.
#[derive(Clone, Copy, Debug)]
pub struct Check<'a> {
    file: &'a Path,
}

impl<'a> Check<'a> {
    /// Checks for the scenario read from `file` (used only to name it in messages).
    pub fn new(file: &'a Path) -> Self {
        Check { file }
    }

    /// The file named in messages.
    pub fn file(&self) -> &'a Path {
        self.file
    }

    /// `key` has a value outside what is allowed; `message` says what is allowed.
    pub fn invalid(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.to_path_buf(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Refuses `key` when it was given (`present`) but does not apply: `message` says when
    /// it does.
    pub fn absent(&self, present: bool, key: &str, message: &str) -> Result<(), ScenarioError> {
        if present {
            Err(self.invalid(key, message))
        } else {
            Ok(())
        }
    }

    /// A name that must be one of `allowed` (listed in the message as given).
    pub fn unknown(&self, key: &str, what: &str, name: &str, allowed: &str) -> ScenarioError {
        self.invalid(key, format!("unknown {what} {name:?}; allowed: {allowed}"))
    }

    /// `v` is finite and above zero.
    pub fn positive(&self, key: &str, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.invalid(key, format!("must be a positive number, got {v}")))
        }
    }

    /// `v` is a finite, positive number of seconds.
    pub fn positive_s(&self, key: &str, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.invalid(
                key,
                format!("must be a positive number of seconds, got {v}"),
            ))
        }
    }

    /// `v` is a finite number of seconds, zero or more.
    pub fn non_negative_s(&self, key: &str, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(self.invalid(
                key,
                format!("must be zero or a positive number of seconds, got {v}"),
            ))
        }
    }

    /// `v` is finite and zero or more.
    pub fn non_negative(&self, key: &str, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(self.invalid(key, format!("must be zero or positive, got {v}")))
        }
    }

    /// A count a user sets: at least 1 and at most `most` (a bound of
    /// [`super::limits`]).
    pub fn count(&self, key: &str, n: u64, most: u64) -> Result<(), ScenarioError> {
        if n == 0 {
            Err(self.invalid(key, "must be at least 1, got 0"))
        } else if n > most {
            Err(self.invalid(key, format!("must be at most {most}, got {n}")))
        } else {
            Ok(())
        }
    }

    /// A message from a constructor (`Err(String)`) as the error of `key`.
    pub fn at(&self, key: &'a str) -> impl Fn(String) -> ScenarioError + 'a {
        let file = self.file;
        move |message| Check { file }.invalid(key, message)
    }
}
