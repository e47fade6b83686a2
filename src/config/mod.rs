//! Settings: the typed, validated result of resolving every configuration layer, and
//! `load`, the one entry point (argv + environment → `Loaded`).
//!
//! Layout: `registry.rs` (the data model and `ALL`), `defs.rs` (every setting, declared
//! once), `value.rs` (parsers and `--print-config` rendering), `layer.rs` (sources,
//! precedence, provenance), `cli.rs` (the generated clap `Command`), `env.rs`
//! (`Env`, GUNICORN_CMD_ARGS / RUNICORN_CMD_ARGS), `file.rs` (TOML config files).
//!
//! Precedence, lowest first: registry defaults < env-seeded defaults (PORT,
//! WEB_CONCURRENCY, FORWARDED_ALLOW_IPS, SENDFILE) < config file < GUNICORN_CMD_ARGS <
//! RUNICORN_CMD_ARGS < command line.

pub(crate) mod cli;
pub(crate) mod defs;
pub mod env;
pub(crate) mod file;
pub mod layer;
pub(crate) mod registry;
pub mod value;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use env::{Env, MapEnv, ProcessEnv};
pub use layer::{Source, SettingError};
pub use value::{BindAddr, LogLevel};

use env::CmdArgs;
use layer::{Layer, Raw};
use registry::{ALL, Support};

/// Every resolved setting, validated and free of side effects.
///
/// Every field is written by exactly one registry entry (`defs.rs`); the help text there
/// documents it. `Settings::default()` is the registry defaults with an empty environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `APP_MODULE` from the command line or `wsgi_app` from a config file.
    pub wsgi_app: Option<String>,
    pub bind: Vec<BindAddr>,
    pub backlog: i32,
    pub workers: u32,
    pub worker_class: String,
    pub threads: u32,
    pub worker_connections: u32,
    pub max_requests: u64,
    pub max_requests_jitter: u64,
    /// Heartbeat timeout in seconds; 0 disables.
    pub timeout: u64,
    /// runicorn: seconds a booting worker may stay silent before it is killed; 0 disables.
    pub boot_timeout: u64,
    pub graceful_timeout: u64,
    pub keepalive: u64,
    pub limit_request_line: u32,
    pub limit_request_fields: u32,
    pub limit_request_field_size: u32,
    pub preload_app: bool,
    pub sendfile: bool,
    pub reuse_port: bool,
    pub chdir: Option<PathBuf>,
    pub daemon: bool,
    /// `KEY=VALUE` pairs from `-e/--env`.
    pub raw_env: Vec<(String, String)>,
    pub pidfile: Option<PathBuf>,
    pub worker_tmp_dir: Option<PathBuf>,
    /// Numeric uid/gid the workers switch to; `None` keeps the master's.
    pub user: Option<u32>,
    pub group: Option<u32>,
    pub umask: u32,
    pub initgroups: bool,
    pub accesslog: Option<String>,
    pub access_log_format: String,
    pub errorlog: String,
    pub loglevel: LogLevel,
    pub capture_output: bool,
    pub enable_stdio_inheritance: bool,
    pub proc_name: Option<String>,
    pub check_config: bool,
    pub print_config: bool,

    // The remaining Gunicorn settings. Most are not supported yet (see each spec's
    // `support`); they are parsed and kept so that flipping support needs no new plumbing.
    pub config: Option<PathBuf>,
    pub asgi_loop: String,
    pub asgi_lifespan: String,
    pub asgi_disconnect_grace_period: u64,
    pub websocket_max_message_size: u64,
    pub http_parser: String,
    pub reload: bool,
    pub reload_engine: String,
    pub reload_extra_files: Vec<String>,
    pub spew: bool,
    pub tmp_upload_dir: Option<String>,
    pub secure_scheme_headers: Vec<(String, String)>,
    pub forwarded_allow_ips: Vec<String>,
    pub pythonpath: Option<String>,
    pub paste: Option<String>,
    pub proxy_protocol: String,
    pub proxy_allow_ips: Vec<String>,
    pub protocol: String,
    pub uwsgi_allow_ips: Vec<String>,
    pub raw_paste_global_conf: Vec<String>,
    pub permit_obsolete_folding: bool,
    pub strip_header_spaces: bool,
    pub permit_unconventional_http_method: bool,
    pub permit_unconventional_http_version: bool,
    pub casefold_http_method: bool,
    pub forwarder_headers: Vec<String>,
    pub header_map: String,
    pub root_path: String,
    pub disable_redirect_access_to_syslog: bool,
    pub logger_class: String,
    pub logconfig: Option<String>,
    pub logconfig_dict: String,
    pub logconfig_json: Option<String>,
    pub syslog_addr: String,
    pub syslog: bool,
    pub syslog_prefix: Option<String>,
    pub syslog_facility: String,
    pub statsd_host: Option<String>,
    pub dogstatsd_tags: String,
    pub statsd_prefix: String,
    pub enable_backlog_metric: bool,
    pub default_proc_name: String,
    pub keyfile: Option<String>,
    pub certfile: Option<String>,
    pub ssl_version: String,
    pub cert_reqs: u32,
    pub ca_certs: Option<String>,
    pub suppress_ragged_eofs: bool,
    pub do_handshake_on_connect: bool,
    pub ciphers: Option<String>,
    pub http_protocols: Vec<String>,
    pub http2_cleartext: String,
    pub http2_max_concurrent_streams: u32,
    pub http2_initial_window_size: u32,
    pub http2_max_frame_size: u32,
    pub http2_max_header_list_size: u32,
    pub dirty_apps: Vec<String>,
    pub dirty_workers: u32,
    pub dirty_timeout: u64,
    pub dirty_threads: u32,
    pub dirty_graceful_timeout: u64,
    pub control_socket: Option<String>,
    pub control_socket_mode: u32,
    pub control_socket_disable: bool,
    /// Server hooks by key (`on_starting`, ...); Python callables, config-file only.
    pub hooks: BTreeMap<&'static str, Option<String>>,
}

impl Settings {
    /// Zero values that `resolve` overwrites field by field; never observable. Meaningful
    /// defaults live only in the registry.
    pub(crate) fn placeholder() -> Settings {
        Settings {
            wsgi_app: None,
            bind: Vec::new(),
            backlog: 0,
            workers: 0,
            worker_class: String::new(),
            threads: 0,
            worker_connections: 0,
            max_requests: 0,
            max_requests_jitter: 0,
            timeout: 0,
            boot_timeout: 0,
            graceful_timeout: 0,
            keepalive: 0,
            limit_request_line: 0,
            limit_request_fields: 0,
            limit_request_field_size: 0,
            preload_app: false,
            sendfile: false,
            reuse_port: false,
            chdir: None,
            daemon: false,
            raw_env: Vec::new(),
            pidfile: None,
            worker_tmp_dir: None,
            user: None,
            group: None,
            umask: 0,
            initgroups: false,
            accesslog: None,
            access_log_format: String::new(),
            errorlog: String::new(),
            loglevel: LogLevel::Info,
            capture_output: false,
            enable_stdio_inheritance: false,
            proc_name: None,
            check_config: false,
            print_config: false,
            config: None,
            asgi_loop: String::new(),
            asgi_lifespan: String::new(),
            asgi_disconnect_grace_period: 0,
            websocket_max_message_size: 0,
            http_parser: String::new(),
            reload: false,
            reload_engine: String::new(),
            reload_extra_files: Vec::new(),
            spew: false,
            tmp_upload_dir: None,
            secure_scheme_headers: Vec::new(),
            forwarded_allow_ips: Vec::new(),
            pythonpath: None,
            paste: None,
            proxy_protocol: String::new(),
            proxy_allow_ips: Vec::new(),
            protocol: String::new(),
            uwsgi_allow_ips: Vec::new(),
            raw_paste_global_conf: Vec::new(),
            permit_obsolete_folding: false,
            strip_header_spaces: false,
            permit_unconventional_http_method: false,
            permit_unconventional_http_version: false,
            casefold_http_method: false,
            forwarder_headers: Vec::new(),
            header_map: String::new(),
            root_path: String::new(),
            disable_redirect_access_to_syslog: false,
            logger_class: String::new(),
            logconfig: None,
            logconfig_dict: String::new(),
            logconfig_json: None,
            syslog_addr: String::new(),
            syslog: false,
            syslog_prefix: None,
            syslog_facility: String::new(),
            statsd_host: None,
            dogstatsd_tags: String::new(),
            statsd_prefix: String::new(),
            enable_backlog_metric: false,
            default_proc_name: String::new(),
            keyfile: None,
            certfile: None,
            ssl_version: String::new(),
            cert_reqs: 0,
            ca_certs: None,
            suppress_ragged_eofs: false,
            do_handshake_on_connect: false,
            ciphers: None,
            http_protocols: Vec::new(),
            http2_cleartext: String::new(),
            http2_max_concurrent_streams: 0,
            http2_initial_window_size: 0,
            http2_max_frame_size: 0,
            http2_max_header_list_size: 0,
            dirty_apps: Vec::new(),
            dirty_workers: 0,
            dirty_timeout: 0,
            dirty_threads: 0,
            dirty_graceful_timeout: 0,
            control_socket: None,
            control_socket_mode: 0,
            control_socket_disable: false,
            hooks: BTreeMap::new(),
        }
    }
}

impl Default for Settings {
    /// The registry defaults, ignoring the process environment.
    fn default() -> Settings {
        // The registry tests prove every default parses, so this never falls back.
        layer::resolve(&Layer::defaults(&MapEnv::default()))
            .map(|r| r.settings)
            .unwrap_or_else(|_| Settings::placeholder())
    }
}

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
    UnknownKey { key: String, origin: Source, suggestion: Option<&'static str> },
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
    let config_path = arg_layers.iter().rev().find_map(|l| match l.values.get("config") {
        Some(Raw::One(p)) => Some(p.clone()),
        _ => None,
    });
    let mut layers = Layer::defaults(env);
    match config_path.as_deref() {
        Some("") => {}
        Some(p) => match file::layer(p) {
            Ok(layer) => layers.push(layer),
            Err(e) => errors.extend(e),
        },
        None => {
            let implicit = dir.join("gunicorn.conf.py");
            if implicit.is_file() {
                warnings.push(format!(
                    "{} exists but was NOT applied: {}",
                    implicit.display(),
                    file::PYTHON_CONFIG_REASON
                ));
            }
        }
    }
    layers.extend(arg_layers);

    match layer::resolve(&layers) {
        Ok(resolved) if errors.is_empty() => {
            let mut loaded =
                Loaded { settings: resolved.settings, sources: resolved.sources, warnings };
            loaded.warnings.extend(resolved.warnings);
            // Gunicorn names processes after the application when nothing else is set.
            if loaded.sources.get("default_proc_name").is_some_and(Source::is_default) {
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

/// The resolved settings as `key = value` lines, like Gunicorn's `--print-config`: one
/// per setting, sorted by key, keys padded to a common width, values rendered as
/// Gunicorn renders them; `  # source` follows values that are not the default.
pub fn print_config(loaded: &Loaded) -> String {
    let mut settings = loaded.settings.clone();
    let mut specs: Vec<_> = ALL.to_vec();
    specs.sort_by_key(|s| s.key());
    let width = specs.iter().map(|s| s.key().len()).max().unwrap_or(0);
    let mut out = String::new();
    for spec in specs {
        let value = spec.render(&mut settings);
        let line = format!("{:<width$} = {value}", spec.key());
        out.push_str(line.trim_end());
        match loaded.sources.get(spec.key()) {
            Some(source) if !source.is_default() => {
                out.push_str("  # ");
                out.push_str(&source.to_string());
            }
            _ => {}
        }
        out.push('\n');
    }
    out
}

/// A Markdown table of every setting (key, flags, default, section, support, summary),
/// generated from the registry. README.md carries a copy between its settings markers.
pub fn settings_table_markdown() -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let code = |s: &str| if s.is_empty() { String::new() } else { format!("`{}`", cell(s)) };
    let mut out = String::from(
        "| Setting | Flags | Default | Section | Status | Description |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut defaults = Settings::placeholder();
    for spec in ALL {
        let flags: Vec<String> = spec
            .short()
            .map(|c| format!("-{c}"))
            .into_iter()
            .chain(spec.long().iter().map(|l| format!("--{l}")))
            .map(|f| code(&f))
            .collect();
        let mut default = match spec.apply(&spec.default_raw(), &mut defaults) {
            Ok(()) => code(&spec.render(&mut defaults)),
            Err(_) => "(invalid)".to_string(),
        };
        if let Some(seed) = spec.env_seed() {
            default.push_str(&format!(" (or from `${}`)", seed.var));
        }
        let status = match spec.support() {
            Support::Supported => "supported".to_string(),
            Support::Unsupported(why) => format!("not supported: {}", cell(why)),
            Support::Unneeded(why) => format!("not needed: {}", cell(why)),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            spec.key(),
            flags.join(" "),
            default,
            spec.section().title(),
            status,
            cell(spec.summary()),
        ));
    }
    out
}
