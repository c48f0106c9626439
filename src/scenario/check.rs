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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_the_key_and_the_value() {
        let c = Check::new(Path::new("w.toml"));
        let msg = |e: ScenarioError| e.to_string();
        assert_eq!(c.positive("a.b", 2.0).unwrap(), 2.0);
        assert_eq!(
            msg(c.positive("a.b", -1.0).unwrap_err()),
            "w.toml: key `a.b`: must be a positive number, got -1"
        );
        assert_eq!(
            msg(c.positive_s("a.t_s", f64::NAN).unwrap_err()),
            "w.toml: key `a.t_s`: must be a positive number of seconds, got NaN"
        );
        assert_eq!(c.non_negative_s("a.t_s", 0.0).unwrap(), 0.0);
        assert_eq!(
            msg(c.count("run.n", 0, 5).unwrap_err()),
            "w.toml: key `run.n`: must be at least 1, got 0"
        );
        assert_eq!(
            msg(c.count("run.n", 6, 5).unwrap_err()),
            "w.toml: key `run.n`: must be at most 5, got 6"
        );
        assert!(c.count("run.n", 5, 5).is_ok());
        assert_eq!(
            msg(c.unknown("traffic.profile", "profile", "x", "human, flat")),
            "w.toml: key `traffic.profile`: unknown profile \"x\"; allowed: human, flat"
        );
        assert!(c.absent(false, "k", "never shown").is_ok());
        assert_eq!(
            msg(c.absent(true, "k", "only applies to y").unwrap_err()),
            "w.toml: key `k`: only applies to y"
        );
        assert_eq!(
            msg(c.at("k")("from a constructor".into())),
            "w.toml: key `k`: from a constructor"
        );
    }
}
