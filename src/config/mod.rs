//! Settings: the typed, validated result of resolving every configuration layer, and
//! `load`, the one entry point (argv + environment → `Loaded`).
//!
//! Layout: `settings.rs` (the `Settings` struct), `registry.rs` (the data model and
//! `ALL`), `defs.rs` (every setting, declared once), `value.rs` (parsers and
//! `--print-config` rendering), typed values next to their parsers (`target.rs`,
//! `worker_class.rs`, `asgi.rs`, `h2c.rs`, `ciphers.rs`, `sni.rs`), `layer.rs` (sources, precedence,
//! provenance), `cli.rs` (the generated clap `Command`), `env.rs` (`Env`,
//! GUNICORN_CMD_ARGS / RUNICORN_CMD_ARGS), `file.rs` (TOML config files), `python_file.rs`
//! (Python config files), `print.rs` (`--print-config`, the README's settings table).
//!
//! Precedence, lowest first: registry defaults < env-seeded defaults (PORT,
//! WEB_CONCURRENCY, FORWARDED_ALLOW_IPS, SENDFILE) < what a `--paste` ini file implies
//! (Gunicorn's application-specific settings, `paste.rs`) < config file <
//! GUNICORN_CMD_ARGS < RUNICORN_CMD_ARGS < command line.

pub mod asgi;
pub mod ciphers;
pub(crate) mod cli;
pub(crate) mod defs;
pub mod env;
pub(crate) mod file;
pub mod h2c;
pub mod layer;
pub mod paste;
mod print;
#[cfg(feature = "python")]
pub(crate) mod python_file;
pub(crate) mod registry;
mod settings;
pub mod sni;
pub mod target;
pub mod value;
pub mod worker_class;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use env::{Env, MapEnv, ProcessEnv};
pub use layer::{SettingError, Source};
pub use print::{print_config, settings_table_markdown};
pub use settings::Settings;
pub use value::{BindAddr, LogLevel};

use env::CmdArgs;
use layer::{Layer, Raw};

/// The outcome of a successful load.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    /// Startup warnings (unsupported or unneeded settings that were set, an unread
    /// ./gunicorn.conf.py, ...), one line each.
    pub warnings: Vec<String>,
    /// Where each setting's value came from, by key.
    pub sources: BTreeMap<&'static str, Source>,
}

/// One configuration problem, displayed as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// A config-file key that names no setting.
    #[error("unknown setting `{key}` (from {origin}){}", suggestion.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownKey {
        key: String,
        origin: Source,
        suggestion: Option<&'static str>,
    },
    /// A config file that cannot be read or parsed.
    #[error("config file {}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// GUNICORN_CMD_ARGS or RUNICORN_CMD_ARGS that cannot be parsed.
    #[error("{origin}: {reason}")]
    Args { origin: Source, reason: String },
}

/// Why loading stopped.
#[derive(Debug)]
pub enum LoadError {
    /// Not an error of the configuration: `--help`, `--version`, or a usage error clap
    /// already formatted. Print `message` and exit with `code`.
    Exit { code: i32, message: String },
    /// Every configuration error, each naming the setting, the value and its source.
    Invalid(Vec<ConfigError>),
}

/// Resolves defaults < config file < `GUNICORN_CMD_ARGS` < `RUNICORN_CMD_ARGS` <
/// command line. `args[0]` is the program name. Never panics.
///
/// # Errors
///
/// `LoadError::Exit` for `--help`, `--version` and command-line usage errors;
/// `LoadError::Invalid` with every configuration error otherwise.
pub fn load(args: &[OsString], env: &dyn Env) -> Result<Loaded, LoadError> {
    load_in(args, env, Path::new("."))
}

/// `load`, looking for the implicit `gunicorn.conf.py` in `dir` instead of the current
/// directory (tests must not depend on, or change, the process's cwd).
pub(crate) fn load_in(args: &[OsString], env: &dyn Env, dir: &Path) -> Result<Loaded, LoadError> {
    let (mut cli_layer, app) = match cli::parse(args, Source::CommandLine) {
        Ok(parsed) => parsed,
        Err(cli::ArgsError::Exit { code, message } | cli::ArgsError::Usage { code, message }) => {
            return Err(LoadError::Exit { code, message });
        }
    };
    if let Some(app) = app {
        cli_layer.values.insert("wsgi_app", Raw::One(app));
    }
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut arg_layers = Vec::new();
    for source in [Source::GunicornCmdArgs, Source::RunicornCmdArgs] {
        match env::cmd_args(env, source) {
            CmdArgs::Absent => {}
            CmdArgs::Layer(layer, w) => {
                warnings.extend(w);
                arg_layers.push(layer);
            }
            CmdArgs::Exit { code, message } => return Err(LoadError::Exit { code, message }),
            CmdArgs::Invalid(e) => errors.push(e),
        }
    }
    arg_layers.push(cli_layer);

    // `-c` may come from any argument source; the highest one names the file.
    let config_path = arg_layers
        .iter()
        .rev()
        .find_map(|l| match l.values.get("config") {
            Some(Raw::One(p)) => Some(p.clone()),
            _ => None,
        });
    let mut implicit = || -> Option<String> {
        // runicorn.conf.py is runicorn-specific, so it wins over gunicorn.conf.py.
        let ours = dir.join("runicorn.conf.py");
        let theirs = dir.join("gunicorn.conf.py");
        match (ours.is_file(), theirs.is_file()) {
            (true, true) => {
                warnings.push(format!(
                    "both {} and {} exist: using {}",
                    ours.display(),
                    theirs.display(),
                    ours.display()
                ));
                Some(ours.to_string_lossy().into_owned())
            }
            (true, false) => Some(ours.to_string_lossy().into_owned()),
            (false, true) => Some(theirs.to_string_lossy().into_owned()),
            (false, false) => None,
        }
    };
    let chosen = match &config_path {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(p.clone()),
        None => implicit(),
    };
    let mut layers = Layer::defaults(env);
    #[cfg(not(feature = "python"))]
    let chosen = chosen.filter(|p| {
        // A Rust service that happens to run next to a gunicorn.conf.py keeps working.
        let explicit = config_path.is_some();
        if !explicit {
            warnings.push(format!(
                "{p} exists but was NOT applied: {}",
                file::PYTHON_CONFIG_REASON
            ));
        }
        explicit
    });
    if let Some(p) = chosen {
        let (layer, file_errors) = file::layer(&p, &mut warnings);
        layers.extend(layer);
        errors.extend(file_errors);
    }
    layers.extend(arg_layers);

    let mut resolved = layer::resolve(&layers);
    // `--paste` (from whichever layer set it) adds a layer under the config file: resolve
    // once to learn it, then again with that layer.
    if let Ok(r) = &resolved
        && let Some(p) = &r.settings.paste
    {
        let origin = r.sources.get("paste").cloned().unwrap_or(Source::Default);
        match paste::app_layer(p) {
            Ok((layer, w)) => {
                if let Some(app) = &r.settings.wsgi_app {
                    warnings.push(format!(
                        "APP_MODULE {app:?} is ignored: --paste {} loads the application (as \
                         in Gunicorn)",
                        p.given
                    ));
                }
                warnings.extend(w);
                let at = layers
                    .iter()
                    .take_while(|l| matches!(l.source, Source::Default | Source::EnvSeed(_)))
                    .count();
                layers.insert(at, layer);
                resolved = layer::resolve(&layers);
            }
            Err(reason) => errors.push(ConfigError::Setting(SettingError {
                key: "paste",
                value: p.given.clone(),
                origin,
                reason,
            })),
        }
    }
    match resolved {
        Ok(resolved) if errors.is_empty() => {
            let mut loaded = Loaded {
                settings: resolved.settings,
                sources: resolved.sources,
                warnings,
            };
            loaded.warnings.extend(resolved.warnings);
            let unusable = check_static(&loaded);
            if !unusable.is_empty() {
                return Err(LoadError::Invalid(unusable));
            }
            // Gunicorn names processes after the application when nothing else is set.
            if loaded
                .sources
                .get("default_proc_name")
                .is_some_and(Source::is_default)
            {
                if let Some(app) = &loaded.settings.wsgi_app {
                    loaded.settings.default_proc_name = app.clone();
                }
            }
            Ok(loaded)
        }
        Ok(_) => Err(LoadError::Invalid(errors)),
        Err(setting_errors) => {
            errors.extend(setting_errors.into_iter().map(ConfigError::Setting));
            Err(LoadError::Invalid(errors))
        }
    }
}

/// What the value parsers cannot see, checked once the configuration is resolved: every
/// `--static-map` directory exists (relative paths from `--chdir`, where the workers will
/// run) and every `--static-cache-control` value is a valid header value. Found here,
/// `--check-config` reports them and start-up fails with the setting, the value and its
/// source, instead of every worker failing to boot.
fn check_static(loaded: &Loaded) -> Vec<ConfigError> {
    let s = &loaded.settings;
    let error = |key: &'static str, value: String, reason: String| {
        ConfigError::Setting(SettingError {
            key,
            value,
            origin: loaded.sources.get(key).cloned().unwrap_or(Source::Default),
            reason,
        })
    };
    let mut errors = Vec::new();
    for (prefix, dir) in &s.static_map {
        let path = match &s.chdir {
            Some(base) => base.join(dir),
            None => PathBuf::from(dir),
        };
        let reason = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => "not a directory".to_string(),
            // Debug-quoted: a path may hold a newline, and every error is one line.
            Err(e) => format!("directory {path:?}: {e}"),
        };
        errors.push(error("static_map", format!("{prefix}={dir}"), reason));
    }
    for (prefix, value) in &s.static_cache_control {
        if http::HeaderValue::from_str(value).is_err() {
            errors.push(error(
                "static_cache_control",
                format!("{prefix}={value}"),
                "not a valid header value".to_string(),
            ));
        }
    }
    errors
}

/// Validates the text of a TOML configuration file as `-c` would read it: every error, one
/// line each (used by fuzzing and by tools that check a file before deploying it).
pub fn check_config_text(text: &str) -> Result<(), Vec<String>> {
    let (layer, mut errors) = file::parse(text, Path::new("<text>"));
    if let Some(layer) = layer {
        let mut layers = layer::Layer::defaults(&MapEnv::default());
        layers.push(layer);
        if let Err(e) = layer::resolve(&layers) {
            errors.extend(e.into_iter().map(ConfigError::Setting));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.iter().map(|e| e.to_string()).collect())
    }
}

#[cfg(test)]
mod tests;
