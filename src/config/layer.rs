//! Configuration layers and their resolution: each source (defaults, a `--paste` ini file,
//! config file,
//! GUNICORN_CMD_ARGS, RUNICORN_CMD_ARGS, command line) yields a `Layer` of raw text per
//! key; `resolve` picks the highest layer for every setting, parses it once, records
//! where each value came from, and collects every error before returning.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::Settings;
use super::env::Env;
use super::registry::{ALL, AnySetting, Support, text_to_raw};

/// A value before parsing, as a source gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    One(String),
    Many(Vec<String>),
}

/// Where a value came from, lowest precedence first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The registry's default.
    Default,
    /// A default replaced by an environment variable (PORT, WEB_CONCURRENCY, ...).
    EnvSeed(&'static str),
    /// What a `--paste` ini file implies (Gunicorn's application-specific settings).
    Paste(PathBuf),
    ConfigFile(PathBuf),
    GunicornCmdArgs,
    RunicornCmdArgs,
    CommandLine,
}

impl Source {
    /// Whether the value was chosen by the user rather than defaulted.
    pub fn is_default(&self) -> bool {
        matches!(self, Source::Default)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::EnvSeed(var) => write!(f, "environment {var}"),
            Source::Paste(p) => write!(f, "PasteDeploy config {}", p.display()),
            Source::ConfigFile(p) => write!(f, "config file {}", p.display()),
            Source::GunicornCmdArgs => f.write_str("GUNICORN_CMD_ARGS"),
            Source::RunicornCmdArgs => f.write_str("RUNICORN_CMD_ARGS"),
            Source::CommandLine => f.write_str("command line"),
        }
    }
}

/// The raw values one source gave, by setting key.
#[derive(Debug, Clone)]
pub struct Layer {
    pub source: Source,
    pub values: BTreeMap<&'static str, Raw>,
}

impl Layer {
    pub fn new(source: Source) -> Layer {
        Layer {
            source,
            values: BTreeMap::new(),
        }
    }

    /// Every setting's default, where an `env_seed` variable (when set) replaces the
    /// registry default. Seeded values carry their own source so that errors and
    /// `--print-config` name the variable.
    pub fn defaults(env: &dyn Env) -> Vec<Layer> {
        let mut defaults = Layer::new(Source::Default);
        let mut seeded = Vec::new();
        for spec in ALL {
            defaults.values.insert(spec.key(), spec.default_raw());
            if let Some(seed) = spec.env_seed() {
                if let Some(v) = env.var_lossy(seed.var) {
                    let mut layer = Layer::new(Source::EnvSeed(seed.var));
                    layer
                        .values
                        .insert(spec.key(), text_to_raw(spec.kind(), &(seed.to_raw)(&v)));
                    seeded.push(layer);
                }
            }
        }
        let mut layers = vec![defaults];
        layers.extend(seeded);
        layers
    }
}

/// One invalid setting: ``invalid value "0" for `workers` (from command line): must be a
/// positive integer``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value:?} for `{key}` (from {origin}): {reason}")]
pub struct SettingError {
    pub key: &'static str,
    pub value: String,
    pub origin: Source,
    pub reason: String,
}

/// The outcome of `resolve`.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub settings: Settings,
    /// Where each setting's value came from.
    pub sources: BTreeMap<&'static str, Source>,
    /// One line per unsupported or unneeded setting that a user set.
    pub warnings: Vec<String>,
}

/// Resolves `layers` (lowest precedence first): for every setting, the highest layer
/// that has it wins, and its raw value is parsed once. Returns every error at once.
pub fn resolve(layers: &[Layer]) -> Result<Resolved, Vec<SettingError>> {
    let mut settings = Settings::placeholder();
    let mut sources = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for spec in ALL {
        let key = spec.key();
        let Some(layer) = layers.iter().rev().find(|l| l.values.contains_key(key)) else {
            // Unreachable when `layers` starts with `Layer::defaults`; falling back to the
            // registry default keeps `resolve` total anyway.
            if let Err(e) = spec.apply(&spec.default_raw(), &mut settings) {
                errors.push(SettingError {
                    key,
                    value: e.value,
                    origin: Source::Default,
                    reason: e.reason,
                });
            }
            sources.insert(key, Source::Default);
            continue;
        };
        let raw = &layer.values[key];
        match spec.apply(raw, &mut settings) {
            Ok(()) => {
                if !layer.source.is_default() {
                    if let Some(w) = unsupported_warning(*spec, &layer.source) {
                        warnings.push(w);
                    }
                }
            }
            Err(e) => errors.push(SettingError {
                key,
                value: e.value,
                origin: layer.source.clone(),
                reason: e.reason,
            }),
        }
        sources.insert(key, layer.source.clone());
    }
    if errors.is_empty() {
        Ok(Resolved {
            settings,
            sources,
            warnings,
        })
    } else {
        Err(errors)
    }
}

/// The warning for a setting runicorn ignores, or `None` if it is supported.
fn unsupported_warning(spec: &dyn AnySetting, source: &Source) -> Option<String> {
    let flags = spec.flags_text();
    let name = if flags.is_empty() {
        format!("setting `{}` (from {source})", spec.key())
    } else {
        format!("setting `{}` ({flags}, from {source})", spec.key())
    };
    match spec.support() {
        Support::Supported => None,
        Support::Unsupported(why) => Some(format!("{name} is not supported: {why}; ignored")),
        Support::Unneeded(why) => Some(format!("{name} is not needed: {why}; ignored")),
    }
}
