//! The command line: a `clap::Command` generated from `registry::ALL`, and the
//! conversion of its matches into a `Layer`. The same `Command` parses
//! GUNICORN_CMD_ARGS and RUNICORN_CMD_ARGS (see `env.rs`).
//!
//! Args get no `default_value` and no `env`: an absent flag stays absent, so lower
//! layers (config file, environment) are not shadowed by clap-filled defaults.

use std::ffi::OsString;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

use super::layer::{Layer, Raw, Source};
use super::registry::{ALL, Kind};

/// The id of the positional APP_MODULE argument; it lands in `wsgi_app`.
const APP_MODULE: &str = "APP_MODULE";

/// The `runicorn` command, with every setting that has a flag, grouped by section.
pub(crate) fn command() -> Command {
    let mut cmd = Command::new("runicorn")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A Gunicorn-compatible pre-fork HTTP server")
        // Gunicorn spells it -v/--version; clap's default is -V.
        .disable_version_flag(true)
        // argparse lets a later flag override an earlier one; clap refuses repeats unless told.
        .args_override_self(true)
        .arg(
            Arg::new("version")
                .short('v')
                .long("version")
                .action(ArgAction::Version)
                .help("Print the version and exit"),
        )
        .arg(
            Arg::new(APP_MODULE)
                .value_name(APP_MODULE)
                .help("The application to serve, as MODULE:VARIABLE"),
        );
    for spec in ALL {
        let Some((first, aliases)) = spec.long().split_first() else {
            continue;
        };
        let mut arg = Arg::new(spec.key())
            .long(*first)
            .visible_aliases(aliases.iter().copied())
            .help(spec.summary())
            .long_help(spec.help())
            .help_heading(spec.section().title());
        if let Some(c) = spec.short() {
            arg = arg.short(c);
        }
        arg = match spec.kind() {
            Kind::Switch(_) => arg.action(ArgAction::SetTrue),
            Kind::Value => arg
                .action(ArgAction::Set)
                .value_name(spec.meta())
                // limit_request_fields gives negative numbers a meaning.
                .allow_negative_numbers(true),
            Kind::Append => arg.action(ArgAction::Append).value_name(spec.meta()),
            Kind::OptionalValue(bare) => arg
                .action(ArgAction::Set)
                .value_name(spec.meta())
                .num_args(0..=1)
                .default_missing_value(bare),
        };
        cmd = cmd.arg(arg);
    }
    cmd
}

/// Why parsing arguments stopped.
#[derive(Debug)]
pub(crate) enum ArgsError {
    /// `--help` or `--version`: print `message`, exit with `code`.
    Exit { code: i32, message: String },
    /// A usage error, formatted by clap.
    Usage { code: i32, message: String },
}

/// Parses `args` (`args[0]` is the program name) into a layer from `source`.
pub(crate) fn parse(
    args: &[OsString],
    source: Source,
) -> Result<(Layer, Option<String>), ArgsError> {
    let argv = std::iter::once(OsString::from("runicorn")).chain(args.iter().skip(1).cloned());
    let matches = command().try_get_matches_from(argv).map_err(|e| {
        let message = e.render().to_string();
        match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                ArgsError::Exit { code: 0, message }
            }
            _ => ArgsError::Usage {
                code: e.exit_code(),
                message,
            },
        }
    })?;
    Ok(to_layer(&matches, source))
}

/// The values the user actually gave, plus the positional APP_MODULE if any.
fn to_layer(m: &ArgMatches, source: Source) -> (Layer, Option<String>) {
    let mut layer = Layer::new(source);
    let given = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
    for spec in ALL {
        let key = spec.key();
        if spec.long().is_empty() || !given(key) {
            continue;
        }
        let raw = match spec.kind() {
            Kind::Switch(means) => match m.try_get_one::<bool>(key) {
                Ok(Some(true)) => Some(Raw::One(means.to_string())),
                _ => None,
            },
            Kind::Value | Kind::OptionalValue(_) => m
                .try_get_one::<String>(key)
                .ok()
                .flatten()
                .map(|v| Raw::One(v.clone())),
            Kind::Append => m
                .try_get_many::<String>(key)
                .ok()
                .flatten()
                .map(|vs| Raw::Many(vs.cloned().collect())),
        };
        if let Some(raw) = raw {
            layer.values.insert(key, raw);
        }
    }
    let app = m.try_get_one::<String>(APP_MODULE).ok().flatten().cloned();
    (layer, app)
}
