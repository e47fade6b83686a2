//! The process environment as an explicit input, so tests never mutate the real one;
//! and the two environment sources of arguments: GUNICORN_CMD_ARGS and (above it)
//! RUNICORN_CMD_ARGS, shell-split and parsed by the same clap `Command` as the command
//! line. (The env-seeded defaults live in `Layer::defaults`.)

use std::collections::BTreeMap;
use std::ffi::OsString;

use super::ConfigError;
use super::cli::{self, ArgsError};
use super::layer::{Layer, Source};

/// Read access to environment variables.
pub trait Env {
    /// The value of `key`, if set and valid UTF-8.
    fn var(&self, key: &str) -> Option<String>;

    /// The value of `key`, if set, with bytes that are not UTF-8 as U+FFFD: for settings,
    /// so a bad value is refused by name (`GUNICORN_CMD_ARGS='-w \xff'`: an invalid value
    /// for `--workers`) instead of the whole variable being dropped as if unset.
    fn var_lossy(&self, key: &str) -> Option<String> {
        self.var(key)
    }
}

/// The real process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    fn var_lossy(&self, key: &str) -> Option<String> {
        std::env::var_os(key).map(|v| v.to_string_lossy().into_owned())
    }
}

/// A fixed map, for tests.
#[derive(Debug, Default, Clone)]
pub struct MapEnv(pub BTreeMap<String, String>);

impl<const N: usize> From<[(&str, &str); N]> for MapEnv {
    fn from(pairs: [(&str, &str); N]) -> Self {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl Env for MapEnv {
    fn var(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

/// What an `*_CMD_ARGS` variable gave.
pub(crate) enum CmdArgs {
    /// The variable is unset or blank.
    Absent,
    /// A layer of values, plus warnings.
    Layer(Layer, Vec<String>),
    /// `--help` or `--version` inside the variable: honour it like on the command line.
    Exit { code: i32, message: String },
    /// The variable could not be parsed.
    Invalid(ConfigError),
}

/// Parses the variable named by `source` (GUNICORN_CMD_ARGS or RUNICORN_CMD_ARGS).
pub(crate) fn cmd_args(env: &dyn Env, source: Source) -> CmdArgs {
    let var = match source {
        Source::RunicornCmdArgs => "RUNICORN_CMD_ARGS",
        _ => "GUNICORN_CMD_ARGS",
    };
    let Some(text) = env.var_lossy(var).filter(|t| !t.trim().is_empty()) else {
        return CmdArgs::Absent;
    };
    let Some(words) = shlex::split(&text) else {
        return CmdArgs::Invalid(ConfigError::Args {
            origin: source,
            reason: "cannot be split into words (unbalanced quotes or a trailing backslash)".into(),
        });
    };
    let argv: Vec<OsString> = std::iter::once(OsString::from(var))
        .chain(words.into_iter().map(OsString::from))
        .collect();
    match cli::parse(&argv, source.clone()) {
        Ok((layer, app)) => {
            // Gunicorn ignores an APP_MODULE given here; say so rather than drop it silently.
            let warnings = app
                .map(|a| {
                    format!("{var}: the application argument {a:?} is ignored here, as in Gunicorn")
                })
                .into_iter()
                .collect();
            CmdArgs::Layer(layer, warnings)
        }
        Err(ArgsError::Exit { code, message }) => CmdArgs::Exit { code, message },
        Err(ArgsError::Usage { message, .. }) => {
            // clap's first line is the error; the rest is usage boilerplate.
            let first = message.lines().next().unwrap_or("invalid arguments");
            let reason = first.strip_prefix("error: ").unwrap_or(first).to_string();
            CmdArgs::Invalid(ConfigError::Args {
                origin: source,
                reason,
            })
        }
    }
}
