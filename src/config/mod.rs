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

pub mod ciphers;
pub(crate) mod cli;
pub(crate) mod defs;
pub mod env;
pub(crate) mod file;
pub mod layer;
#[cfg(feature = "python")]
pub(crate) mod python_file;
pub(crate) mod registry;
pub mod sni;
pub mod target;
pub mod value;
pub mod worker_class;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use env::{Env, MapEnv, ProcessEnv};
pub use layer::{SettingError, Source};
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
    pub worker_class: worker_class::WorkerClass,
    pub threads: u32,
    pub worker_connections: u32,
    pub max_requests: u64,
    pub max_requests_jitter: u64,
    /// Heartbeat timeout in seconds; 0 disables.
    pub timeout: u64,
    /// runicorn: seconds a booting worker may stay silent before it is killed; 0 disables.
    pub boot_timeout: u64,
    /// runicorn: seconds a WSGI app may take to start its response (504 after); 0 disables.
    pub request_timeout: u64,
    pub graceful_timeout: u64,
    pub keepalive: u64,
    pub limit_request_line: u32,
    pub limit_request_fields: u32,
    pub limit_request_field_size: u32,
    /// runicorn: seconds for a complete request head (0 = off).
    pub header_timeout: u64,
    /// runicorn: seconds a request body may stall (0 = off).
    pub body_timeout: u64,
    /// runicorn: minimum average body rate in bytes/s after a grace period (0 = off).
    pub body_min_rate: u64,
    /// runicorn: seconds a client may stop reading a response (0 = off).
    pub send_timeout: u64,
    /// runicorn: maximum request body in bytes (0 = unlimited).
    pub limit_request_body: u64,
    pub preload_app: bool,
    pub sendfile: bool,
    /// runicorn: `--static-map URL_PREFIX=DIRECTORY` pairs.
    pub static_map: Vec<(String, String)>,
    /// runicorn: `--static-cache-control URL_PREFIX=VALUE` pairs.
    pub static_cache_control: Vec<(String, String)>,
    /// runicorn: static files may be symlinks out of their directory.
    pub static_follow_symlinks: bool,
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
    pub access_log_format: crate::access_log::Format,
    /// Request path prefixes that get no access-log line.
    pub access_log_skip: Vec<String>,
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
    /// runicorn: request-body bytes the WSGI host buffers in memory before spilling to a file.
    pub wsgi_body_buffer: u64,
    pub secure_scheme_headers: Vec<(String, String)>,
    pub forwarded_allow_ips: Vec<String>,
    pub pythonpath: Option<String>,
    pub paste: Option<String>,
    pub proxy_protocol: crate::http::proxy::ProxyMode,
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
    pub header_map: crate::http::head::HeaderMap,
    pub root_path: String,
    pub disable_redirect_access_to_syslog: bool,
    pub logger_class: String,
    pub logconfig: Option<String>,
    pub logconfig_dict: String,
    pub logconfig_json: Option<String>,
    pub syslog_addr: target::SyslogTarget,
    pub syslog: bool,
    pub syslog_prefix: Option<String>,
    pub syslog_facility: target::Facility,
    pub statsd_host: Option<target::StatsdTarget>,
    pub dogstatsd_tags: String,
    pub statsd_prefix: String,
    pub enable_backlog_metric: bool,
    /// runicorn: `--metrics-bind HOST:PORT` for the Prometheus endpoint.
    pub metrics_bind: Option<String>,
    pub default_proc_name: String,
    pub keyfile: Option<String>,
    pub certfile: Option<String>,
    pub ssl_version: String,
    pub cert_reqs: u32,
    pub ca_certs: Option<String>,
    pub suppress_ragged_eofs: bool,
    pub do_handshake_on_connect: bool,
    pub ciphers: Option<String>,
    /// runicorn: seconds allowed for a TLS handshake; 0 = no limit.
    pub tls_handshake_timeout: u64,
    /// runicorn: `NAME=CERTFILE:KEYFILE` SNI certificates.
    pub sni_cert: Vec<String>,
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
            worker_class: Default::default(),
            threads: 0,
            worker_connections: 0,
            max_requests: 0,
            max_requests_jitter: 0,
            timeout: 0,
            boot_timeout: 0,
            request_timeout: 0,
            graceful_timeout: 0,
            keepalive: 0,
            limit_request_line: 0,
            limit_request_fields: 0,
            limit_request_field_size: 0,
            header_timeout: 0,
            body_timeout: 0,
            body_min_rate: 0,
            send_timeout: 0,
            limit_request_body: 0,
            preload_app: false,
            sendfile: false,
            static_map: Vec::new(),
            static_cache_control: Vec::new(),
            static_follow_symlinks: false,
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
            access_log_format: crate::access_log::Format::default(),
            access_log_skip: Vec::new(),
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
            wsgi_body_buffer: 0,
            secure_scheme_headers: Vec::new(),
            forwarded_allow_ips: Vec::new(),
            pythonpath: None,
            paste: None,
            proxy_protocol: Default::default(),
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
            header_map: Default::default(),
            root_path: String::new(),
            disable_redirect_access_to_syslog: false,
            logger_class: String::new(),
            logconfig: None,
            logconfig_dict: String::new(),
            logconfig_json: None,
            syslog_addr: Default::default(),
            syslog: false,
            syslog_prefix: None,
            syslog_facility: Default::default(),
            statsd_host: None,
            dogstatsd_tags: String::new(),
            statsd_prefix: String::new(),
            enable_backlog_metric: false,
            metrics_bind: None,
            default_proc_name: String::new(),
            keyfile: None,
            certfile: None,
            ssl_version: String::new(),
            cert_reqs: 0,
            ca_certs: None,
            suppress_ragged_eofs: false,
            do_handshake_on_connect: false,
            ciphers: None,
            tls_handshake_timeout: 0,
            sni_cert: Vec::new(),
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

    match layer::resolve(&layers) {
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
            Err(e) => format!("directory {}: {e}", path.display()),
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
    let code = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            format!("`{}`", cell(s))
        }
    };
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("runicorn")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// Loads with `env` and `args`, in a directory with no gunicorn.conf.py.
    fn load_with(env: &MapEnv, args: &[&str]) -> Result<Loaded, LoadError> {
        load_in(&argv(args), env, Path::new("/nonexistent-runicorn-dir"))
    }

    fn resolve_args(args: &[&str]) -> Settings {
        match load_with(&MapEnv::default(), args) {
            Ok(l) => l.settings,
            Err(e) => panic!("{args:?}: {e:?}"),
        }
    }

    fn error_lines(r: Result<Loaded, LoadError>) -> Vec<String> {
        match r {
            Err(LoadError::Invalid(errs)) => errs.iter().map(ToString::to_string).collect(),
            other => panic!("expected config errors, got {other:?}"),
        }
    }

    /// A TOML file in the temp dir with a unique name; removed on drop.
    struct TempToml(PathBuf);
    impl TempToml {
        fn new(text: &str) -> TempToml {
            static N: AtomicUsize = AtomicUsize::new(0);
            let name = format!(
                "runicorn-test-{}-{}.toml",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            );
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, text).expect("write temp config");
            TempToml(path)
        }
        fn path(&self) -> &str {
            self.0.to_str().expect("utf-8 temp path")
        }
    }
    impl Drop for TempToml {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn defaults() {
        let s = resolve_args(&[]);
        assert_eq!(s, Settings::default());
        assert_eq!(
            s.bind,
            vec![BindAddr::Tcp {
                host: "127.0.0.1".into(),
                port: 8000
            }]
        );
        assert_eq!(
            (s.workers, s.threads, s.backlog, s.worker_connections),
            (1, 1, 2048, 1000)
        );
        assert_eq!(
            (s.timeout, s.graceful_timeout, s.keepalive, s.boot_timeout),
            (30, 30, 2, 120)
        );
        assert_eq!(
            (
                s.limit_request_line,
                s.limit_request_fields,
                s.limit_request_field_size
            ),
            (4094, 100, 8190)
        );
        assert_eq!(s.worker_class.as_str(), "sync");
        assert!(s.sendfile && !s.daemon && !s.reuse_port);
        assert_eq!(s.errorlog, "-");
        assert_eq!(s.accesslog, None);
        assert_eq!(s.loglevel, LogLevel::Info);
        assert_eq!(s.user, None);
        assert_eq!(s.wsgi_app, None);
        assert_eq!(s.forwarded_allow_ips, ["127.0.0.1", "::1"]);
    }

    #[test]
    fn every_flag_spelling() {
        let s = resolve_args(&[
            "-w",
            "3",
            "-k",
            "gthread",
            "--threads",
            "4",
            "-t",
            "10",
            "--boot-timeout",
            "0",
            "--keep-alive",
            "5",
            "--limit-request-field_size",
            "100",
            "--no-sendfile",
            "-D",
            "-e",
            "A=1",
            "--env",
            "B=2",
            "-p",
            "/run/x.pid",
            "-m",
            "022",
            "--log-file",
            "/tmp/e.log",
            "--log-level",
            "debug",
            "-n",
            "web",
            "-R",
            "--access-logfile",
            "-",
            "-b",
            "unix:/tmp/s",
            "--bind",
            "[::1]:9000",
            "app:application",
        ]);
        assert_eq!(
            (s.workers, s.threads, s.timeout, s.boot_timeout, s.keepalive),
            (3, 4, 10, 0, 5)
        );
        assert_eq!(s.worker_class.as_str(), "gthread");
        assert_eq!(s.limit_request_field_size, 100);
        assert!(!s.sendfile && s.daemon && s.enable_stdio_inheritance);
        assert_eq!(
            s.raw_env,
            [("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        assert_eq!(s.pidfile, Some(PathBuf::from("/run/x.pid")));
        assert_eq!(s.umask, 0o22);
        assert_eq!(s.errorlog, "/tmp/e.log");
        assert_eq!(s.loglevel, LogLevel::Debug);
        assert_eq!(s.proc_name.as_deref(), Some("web"));
        assert_eq!(s.accesslog.as_deref(), Some("-"));
        assert_eq!(s.bind.len(), 2);
        assert_eq!(s.wsgi_app.as_deref(), Some("app:application"));
    }

    #[test]
    fn aliases_and_optional_values() {
        assert_eq!(
            resolve_args(&["--proxy-protocol"])
                .proxy_protocol
                .to_string(),
            "auto"
        );
        assert_eq!(
            resolve_args(&["--proxy-protocol", "v1"])
                .proxy_protocol
                .to_string(),
            "v1"
        );
        assert_eq!(
            resolve_args(&["--proxy-protocol=v2"])
                .proxy_protocol
                .to_string(),
            "v2"
        );
        assert_eq!(
            resolve_args(&["--paster", "x.ini"]).paste.as_deref(),
            Some("x.ini")
        );
        assert_eq!(
            resolve_args(&["--error-logfile", "a", "--log-file", "b"]).errorlog,
            "b"
        );
        // A repeated single-value flag: the last one wins, as with argparse.
        assert_eq!(resolve_args(&["-w", "2", "-w", "5"]).workers, 5);
        // Negative numbers are values, not flags.
        assert_eq!(
            resolve_args(&["--limit-request-fields", "-1"]).limit_request_fields,
            32768
        );
    }

    #[test]
    fn help_and_version_exit() {
        let env = MapEnv::default();
        match load_with(&env, &["--help"]) {
            Err(LoadError::Exit { code: 0, message }) => {
                assert!(message.contains("Worker Processes:"), "{message}");
                assert!(message.contains("--limit-request-field_size"));
                assert!(message.contains("--boot-timeout"));
            }
            other => panic!("{other:?}"),
        }
        match load_with(&env, &["-v"]) {
            Err(LoadError::Exit { code: 0, message }) => {
                assert!(message.contains(env!("CARGO_PKG_VERSION")))
            }
            other => panic!("{other:?}"),
        }
        match load_with(&env, &["--no-such-flag"]) {
            Err(LoadError::Exit { code: 2, message }) => {
                assert!(message.contains("--no-such-flag"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn env_seeds() {
        let env = MapEnv::from([
            ("PORT", "9000"),
            ("WEB_CONCURRENCY", "5"),
            ("FORWARDED_ALLOW_IPS", "*"),
            ("SENDFILE", "no"),
        ]);
        let l = load_with(&env, &[]).unwrap();
        assert_eq!(
            l.settings.bind,
            vec![BindAddr::Tcp {
                host: "0.0.0.0".into(),
                port: 9000
            }]
        );
        assert_eq!(l.settings.workers, 5);
        assert_eq!(l.settings.forwarded_allow_ips, ["*"]);
        assert!(!l.settings.sendfile);
        assert_eq!(l.sources["workers"], Source::EnvSeed("WEB_CONCURRENCY"));
        let env = MapEnv::from([("SENDFILE", "Yes")]);
        assert!(load_with(&env, &[]).unwrap().settings.sendfile);
    }

    /// Each source beats every source below it, and loses to every source above it.
    #[test]
    fn precedence_in_both_directions() {
        // workers from each source: 2 seed, 3 file, 4 GUNICORN_CMD_ARGS, 5 RUNICORN_CMD_ARGS, 6 CLI.
        let file = TempToml::new("workers = 3\n");
        let sources: [(u32, &str); 5] = [
            (2, "WEB_CONCURRENCY"),
            (3, "file"),
            (4, "GUNICORN_CMD_ARGS"),
            (5, "RUNICORN_CMD_ARGS"),
            (6, "cli"),
        ];
        // Every subset of sources: the highest present wins.
        for mask in 0u32..(1 << sources.len()) {
            let mut env = MapEnv::default();
            let mut args: Vec<String> = Vec::new();
            for (i, (n, name)) in sources.iter().enumerate() {
                if mask & (1 << i) == 0 {
                    continue;
                }
                match *name {
                    "WEB_CONCURRENCY" => {
                        env.0.insert(name.to_string(), n.to_string());
                    }
                    "file" => args.extend(["-c".to_string(), file.path().to_string()]),
                    "cli" => args.extend(["-w".to_string(), n.to_string()]),
                    var => {
                        env.0.insert(var.to_string(), format!("--workers {n}"));
                    }
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let want = (0..sources.len())
                .rev()
                .find(|i| mask & (1 << i) != 0)
                .map_or(1, |i| sources[i].0);
            let got = load_with(&env, &args).unwrap().settings.workers;
            assert_eq!(got, want, "mask {mask:05b}");
        }
    }

    #[test]
    fn sources_are_recorded() {
        let file = TempToml::new("timeout = 7\nbind = [\"a:1\", \"b:2\"]\n");
        let env = MapEnv::from([
            ("GUNICORN_CMD_ARGS", "--backlog 10"),
            ("RUNICORN_CMD_ARGS", "--keep-alive 9"),
            ("WEB_CONCURRENCY", "3"),
        ]);
        let l = load_with(&env, &["-c", file.path(), "--threads", "2"]).unwrap();
        assert_eq!(l.sources["timeout"], Source::ConfigFile(file.0.clone()));
        assert_eq!(l.sources["backlog"], Source::GunicornCmdArgs);
        assert_eq!(l.sources["keepalive"], Source::RunicornCmdArgs);
        assert_eq!(l.sources["threads"], Source::CommandLine);
        assert_eq!(l.sources["workers"], Source::EnvSeed("WEB_CONCURRENCY"));
        assert_eq!(l.sources["graceful_timeout"], Source::Default);
        assert_eq!(l.settings.bind.len(), 2);
    }

    #[test]
    fn config_path_from_cmd_args_env() {
        let file = TempToml::new("workers = 3\n");
        let env = MapEnv(
            [(
                "GUNICORN_CMD_ARGS".to_string(),
                format!("-c '{}'", file.path()),
            )]
            .into(),
        );
        assert_eq!(load_with(&env, &[]).unwrap().settings.workers, 3);
        // The command line's -c wins over the environment's.
        let other = TempToml::new("workers = 4\n");
        assert_eq!(
            load_with(&env, &["-c", other.path()])
                .unwrap()
                .settings
                .workers,
            4
        );
    }

    #[test]
    fn append_from_a_higher_source_replaces() {
        let file = TempToml::new("bind = [\"a:1\", \"b:2\"]\nraw_env = [\"X=1\"]\n");
        let s = load_with(&MapEnv::default(), &["-c", file.path(), "-b", "c:3"])
            .unwrap()
            .settings;
        assert_eq!(
            s.bind,
            vec![BindAddr::Tcp {
                host: "c".into(),
                port: 3
            }]
        );
        assert_eq!(s.raw_env, [("X".into(), "1".into())]);
    }

    #[test]
    fn app_module_beats_wsgi_app() {
        let file = TempToml::new("wsgi_app = \"file:app\"\n");
        let env = MapEnv::default();
        let l = load_with(&env, &["-c", file.path()]).unwrap();
        assert_eq!(l.settings.wsgi_app.as_deref(), Some("file:app"));
        assert_eq!(l.settings.default_proc_name, "file:app");
        let l = load_with(&env, &["-c", file.path(), "cli:app"]).unwrap();
        assert_eq!(l.settings.wsgi_app.as_deref(), Some("cli:app"));
    }

    #[test]
    fn file_booleans_and_strings() {
        let file = TempToml::new(
            "daemon = true\nreuse_port = \"true\"\ninitgroups = \"False\"\numask = \"0o077\"\nuser = 0\n",
        );
        let s = load_with(&MapEnv::default(), &["-c", file.path()])
            .unwrap()
            .settings;
        assert!(s.daemon && s.reuse_port && !s.initgroups);
        assert_eq!(s.umask, 0o77);
        assert_eq!(s.user, Some(0));
    }

    #[test]
    fn invalid_values_name_setting_value_and_source() {
        let env = MapEnv::default();
        assert_eq!(
            error_lines(load_with(&env, &["-w", "0"])),
            ["invalid value \"0\" for `workers` (from command line): must be a positive integer"]
        );
        let file = TempToml::new("workers = 0\n");
        assert_eq!(
            error_lines(load_with(&env, &["-c", file.path()])),
            [format!(
                "invalid value \"0\" for `workers` (from config file {}): must be a positive integer",
                file.path()
            )]
        );
        let env = MapEnv::from([("GUNICORN_CMD_ARGS", "-w 0")]);
        assert_eq!(
            error_lines(load_with(&env, &[])),
            [
                "invalid value \"0\" for `workers` (from GUNICORN_CMD_ARGS): must be a positive integer"
            ]
        );
        let env = MapEnv::from([("WEB_CONCURRENCY", "lots")]);
        assert_eq!(
            error_lines(load_with(&env, &[])),
            [
                "invalid value \"lots\" for `workers` (from environment WEB_CONCURRENCY): must be a positive integer"
            ]
        );
        // A bad seed overridden by a higher source is no error.
        assert_eq!(load_with(&env, &["-w", "2"]).unwrap().settings.workers, 2);
    }

    #[test]
    fn all_errors_at_once() {
        let file = TempToml::new("wokers = 2\ntimeout = \"soon\"\n");
        let env = MapEnv::from([
            ("RUNICORN_CMD_ARGS", "--bogus"),
            ("GUNICORN_CMD_ARGS", "-b 'unclosed"),
        ]);
        let lines = error_lines(load_with(
            &env,
            &[
                "-c",
                file.path(),
                "-e",
                "NOEQUALS",
                "-u",
                "no-such-user-runicorn",
                "--log-level",
                "loud",
            ],
        ));
        assert_eq!(lines.len(), 7, "{lines:#?}");
        let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
        assert!(has("unknown setting `wokers`") && has("did you mean `workers`?"));
        assert!(has("`timeout` (from config file"));
        assert!(has("RUNICORN_CMD_ARGS: unexpected argument '--bogus'"));
        assert!(has("GUNICORN_CMD_ARGS: cannot be split"));
        assert!(has(
            "invalid value \"NOEQUALS\" for `raw_env` (from command line): must be KEY=VALUE"
        ));
        assert!(has("`user` (from command line): no such user"));
        assert!(has("`loglevel`"));
    }

    /// A fresh directory for one test (never the process's cwd).
    fn temp_dir(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "runicorn-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(not(feature = "python"))]
    #[test]
    fn python_config_files_need_the_python_feature() {
        let lines = error_lines(load_with(&MapEnv::default(), &["-c", "gunicorn.conf.py"]));
        assert!(lines[0].contains("`python` feature"), "{lines:?}");
        // An implicit ./gunicorn.conf.py is not applied; a warning says so.
        let dir = temp_dir("nopy");
        std::fs::write(dir.join("gunicorn.conf.py"), "workers = 9\n").unwrap();
        let l = load_in(&argv(&[]), &MapEnv::default(), &dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(l.settings.workers, 1);
        assert!(
            l.warnings[0].contains("was NOT applied"),
            "{:?}",
            l.warnings
        );
    }

    #[cfg(feature = "python")]
    #[test]
    fn python_config_files() {
        let dir = temp_dir("py");
        let conf = dir.join("c.py");
        std::fs::write(
            &conf,
            "import os\nworkers = '3'\nbind = '127.0.0.1:9001'\npreload_app = True\n\
             raw_env = ('A=1', 'B=2')\nsecure_scheme_headers = {'X-PROTO': 'https'}\n\
             timout = 5\ndef helper(): pass\n",
        )
        .unwrap();
        let c = conf.to_str().unwrap();
        let l = load_with(&MapEnv::default(), &["-c", c]).unwrap();
        assert_eq!(l.settings.workers, 3);
        assert_eq!(l.settings.bind.len(), 1);
        assert!(l.settings.preload_app);
        assert_eq!(l.settings.raw_env.len(), 2);
        assert_eq!(
            l.settings.secure_scheme_headers,
            vec![("X-PROTO".to_string(), "https".to_string())]
        );
        assert_eq!(l.sources["workers"], Source::ConfigFile(conf.clone()));
        // `timout` is a likely typo; `os` and `helper` are ordinary module names.
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(
            l.warnings[0].contains("did you mean `timeout`"),
            "{:?}",
            l.warnings
        );
        // The file < command line.
        let l = load_with(&MapEnv::default(), &["-c", c, "-w", "5"]).unwrap();
        assert_eq!(l.settings.workers, 5);

        // A bad value names the setting, the value and the file.
        std::fs::write(&conf, "workers = 'many'\nbind = {'a': 1}\n").unwrap();
        let lines = error_lines(load_with(&MapEnv::default(), &["-c", c]));
        assert!(
            lines
                .iter()
                .any(|l| l.contains("\"many\" for `workers` (from config file")
                    && l.contains("c.py")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l.contains("`bind`")), "{lines:?}");
        // A raising file is one error naming the file, the line and the exception.
        std::fs::write(&conf, "workers = 2\nx = 1 / 0\n").unwrap();
        let lines = error_lines(load_with(&MapEnv::default(), &["-c", c]));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("c.py")
                && lines[0].contains("line 2")
                && lines[0].contains("ZeroDivisionError"),
            "{lines:?}"
        );
        std::fs::write(&conf, "workers = = 2\n").unwrap();
        let lines = error_lines(load_with(&MapEnv::default(), &["-c", c]));
        assert!(lines[0].contains("SyntaxError"), "{lines:?}");
        // A hook with the wrong number of arguments is refused.
        std::fs::write(&conf, "def on_starting():\n    pass\n").unwrap();
        let lines = error_lines(load_with(&MapEnv::default(), &["-c", c]));
        assert!(
            lines[0].contains("`on_starting`") && lines[0].contains("1 argument"),
            "{lines:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(feature = "python")]
    #[test]
    fn implicit_python_config_files() {
        let dir = temp_dir("implicit");
        std::fs::write(dir.join("gunicorn.conf.py"), "workers = 9\n").unwrap();
        let l = load_in(&argv(&[]), &MapEnv::default(), &dir).unwrap();
        assert_eq!(l.settings.workers, 9);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        // runicorn.conf.py wins, with a warning naming both.
        std::fs::write(dir.join("runicorn.conf.py"), "workers = 7\n").unwrap();
        let l = load_in(&argv(&[]), &MapEnv::default(), &dir).unwrap();
        assert_eq!(l.settings.workers, 7);
        assert!(l.warnings[0].contains("both"), "{:?}", l.warnings);
        // `-c ''` disables the implicit file.
        let l = load_in(&argv(&["-c", ""]), &MapEnv::default(), &dir).unwrap();
        assert_eq!(l.settings.workers, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unsupported_settings_warn_once_when_set() {
        let env = MapEnv::default();
        assert!(load_with(&env, &[]).unwrap().warnings.is_empty());
        let l = load_with(
            &env,
            &[
                "--paste",
                "x.ini",
                "--logger-class",
                "my.Logger",
                "--worker-tmp-dir",
                "/dev/shm",
            ],
        )
        .unwrap();
        assert_eq!(l.warnings.len(), 3, "{:#?}", l.warnings);
        assert_eq!(
            l.warnings[1],
            "setting `paste` (--paste, --paster, from command line) is not supported: \
             PasteDeploy apps are Python-only and runicorn does not load them; ignored"
        );
        assert!(
            l.warnings
                .iter()
                .any(|w| w.starts_with("setting `logger_class`") && w.contains("not applicable"))
        );
        assert!(l.warnings.iter().any(|w| w.contains("`worker_tmp_dir`")
            && w.contains("is not needed")
            && w.contains("shared memory")));
        // Values are still validated and kept.
        assert_eq!(l.settings.logger_class, "my.Logger");
        // Hooks are supported (a dotted path from TOML too); ssl_context is not.
        let file = TempToml::new("on_starting = \"hooks.start\"\nssl_context = \"m.f\"\n");
        let l = load_with(&env, &["-c", file.path()]).unwrap();
        assert_eq!(l.warnings.len(), 1);
        assert!(
            l.warnings[0].starts_with("setting `ssl_context` (from config file")
                && l.warnings[0].contains("--certfile"),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn print_config_format() {
        let env = MapEnv::from([("WEB_CONCURRENCY", "3")]);
        let l = load_with(
            &env,
            &[
                "-b",
                "0.0.0.0:80",
                "-e",
                "A=B",
                "--umask",
                "0o22",
                "app:app",
            ],
        )
        .unwrap();
        let out = print_config(&l);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), ALL.len());
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(lines, sorted);
        let width = "permit_unconventional_http_version".len();
        let line = |key: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(&format!("{key} ")))
                .copied()
                .unwrap()
        };
        assert_eq!(
            line("bind"),
            format!("{:<width$} = ['0.0.0.0:80']  # command line", "bind")
        );
        assert_eq!(
            line("workers"),
            format!("{:<width$} = 3  # environment WEB_CONCURRENCY", "workers")
        );
        assert_eq!(
            line("raw_env"),
            format!("{:<width$} = ['A=B']  # command line", "raw_env")
        );
        assert_eq!(
            line("umask"),
            format!("{:<width$} = 18  # command line", "umask")
        );
        assert_eq!(line("accesslog"), format!("{:<width$} = None", "accesslog"));
        assert_eq!(line("daemon"), format!("{:<width$} = False", "daemon"));
        assert_eq!(line("loglevel"), format!("{:<width$} = info", "loglevel"));
        assert_eq!(
            line("dogstatsd_tags"),
            format!("{:<width$} =", "dogstatsd_tags")
        );
        assert_eq!(
            line("wsgi_app"),
            format!("{:<width$} = app:app  # command line", "wsgi_app")
        );
        assert_eq!(
            line("access_log_format"),
            format!(
                "{:<width$} = %(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"",
                "access_log_format"
            )
        );
    }

    #[test]
    fn load_never_panics_on_odd_input() {
        let env = MapEnv::from([("GUNICORN_CMD_ARGS", "\\"), ("PORT", "x"), ("SENDFILE", "")]);
        for args in [
            &["-c", ""][..],
            &["-c", "/"],
            &["-b", ""],
            &["-m", "0x"],
            &["--", "-w"],
            &["-w", "99999999999999999999"],
        ] {
            let _ = load_with(&env, args);
        }
        assert!(load_in(&[], &env, Path::new(".")).is_err());
    }

    const README_BEGIN: &str = "<!-- settings:begin -->\n";
    const README_END: &str = "<!-- settings:end -->";

    fn readme_with_table(readme: &str) -> Option<String> {
        let (head, rest) = readme.split_once(README_BEGIN)?;
        let (_, tail) = rest.split_once(README_END)?;
        Some(format!(
            "{head}{README_BEGIN}{}{README_END}{tail}",
            settings_table_markdown()
        ))
    }

    /// README.md's settings table is generated from the registry. To regenerate it, run
    /// `cargo test --lib config::tests::regenerate_readme_settings_table -- --ignored`.
    #[test]
    fn readme_settings_table_is_current() {
        let readme = include_str!("../../README.md");
        let want = readme_with_table(readme).expect("README.md lacks the settings markers");
        assert!(
            readme == want,
            "README.md's settings table is stale; regenerate it with \
             `cargo test --lib config::tests::regenerate_readme_settings_table -- --ignored`"
        );
    }

    #[test]
    #[ignore = "writes README.md; run by hand to regenerate the settings table"]
    fn regenerate_readme_settings_table() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, readme_with_table(&readme).expect("settings markers")).unwrap();
    }
}
