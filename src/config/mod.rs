//! Settings: the typed, validated result of resolving every configuration layer.
//!
//! TEMPORARY BOOTSTRAP: this file holds the `Settings` contract the rest of the crate
//! codes against, and a minimal hand-written loader. The settings registry (one
//! declaration per Gunicorn setting, layers, clap generation, `--print-config`)
//! replaces the loader; the field names and types below are the contract.

pub mod env;
pub mod value;

use std::ffi::OsString;
use std::path::PathBuf;

pub use env::{Env, MapEnv, ProcessEnv};
pub use value::{BindAddr, LogLevel};

/// Every resolved setting, validated and free of side effects.
#[derive(Debug, Clone)]
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
}

/// The outcome of a successful load.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    /// Startup warnings (unimplemented settings, deprecated spellings), one line each.
    pub warnings: Vec<String>,
}

/// Why loading stopped.
#[derive(Debug)]
pub enum LoadError {
    /// Not an error of the configuration: `--help`, `--version`, or a usage error clap
    /// already formatted. Print `message` and exit with `code`.
    Exit { code: i32, message: String },
    /// Every invalid setting, each naming the setting, the value and its source.
    Invalid(Vec<String>),
}

/// Resolves defaults < config file < `GUNICORN_CMD_ARGS` < command line.
pub fn load(args: &[OsString], env: &dyn Env) -> Result<Loaded, LoadError> {
    let mut s = Settings {
        wsgi_app: None,
        bind: vec![BindAddr::Tcp { host: "127.0.0.1".into(), port: 8000 }],
        backlog: 2048,
        workers: env.var("WEB_CONCURRENCY").and_then(|v| v.parse().ok()).unwrap_or(1),
        worker_class: "sync".into(),
        threads: 1,
        worker_connections: 1000,
        max_requests: 0,
        max_requests_jitter: 0,
        timeout: 30,
        boot_timeout: 0,
        graceful_timeout: 30,
        keepalive: 2,
        limit_request_line: 4094,
        limit_request_fields: 100,
        limit_request_field_size: 8190,
        preload_app: false,
        sendfile: true,
        reuse_port: false,
        chdir: None,
        daemon: false,
        raw_env: vec![],
        pidfile: None,
        worker_tmp_dir: None,
        user: None,
        group: None,
        umask: 0,
        initgroups: false,
        accesslog: None,
        access_log_format: r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#.into(),
        errorlog: "-".into(),
        loglevel: LogLevel::Info,
        capture_output: false,
        enable_stdio_inheritance: false,
        proc_name: None,
        check_config: false,
        print_config: false,
    };
    let mut errors = Vec::new();
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned());
    let mut binds = Vec::new();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut val = || inline.clone().or_else(|| it.next()).unwrap_or_default();
        match flag.as_str() {
            "-b" | "--bind" => binds.push(val()),
            "-w" | "--workers" => s.workers = val().parse().unwrap_or(1),
            "-t" | "--timeout" => s.timeout = val().parse().unwrap_or(30),
            "--boot-timeout" => s.boot_timeout = val().parse().unwrap_or(0),
            "--graceful-timeout" => s.graceful_timeout = val().parse().unwrap_or(30),
            "--keep-alive" => s.keepalive = val().parse().unwrap_or(2),
            "--max-requests" => s.max_requests = val().parse().unwrap_or(0),
            "--max-requests-jitter" => s.max_requests_jitter = val().parse().unwrap_or(0),
            "--threads" => s.threads = val().parse().unwrap_or(1),
            "-p" | "--pid" => s.pidfile = Some(val().into()),
            "--access-logfile" => s.accesslog = Some(val()),
            "--error-logfile" | "--log-file" => s.errorlog = val(),
            "--log-level" => s.loglevel = LogLevel::parse(&val()).unwrap_or(LogLevel::Info),
            "-D" | "--daemon" => s.daemon = true,
            "-n" | "--name" => s.proc_name = Some(val()),
            "--reuse-port" => s.reuse_port = true,
            "--check-config" => s.check_config = true,
            "--print-config" => s.print_config = true,
            "--worker-connections" => s.worker_connections = val().parse().unwrap_or(1000),
            f if f.starts_with('-') => errors.push(format!("unknown option {f}")),
            _ => s.wsgi_app = Some(a.clone()),
        }
    }
    for b in binds.iter().enumerate().map(|(i, b)| (i, BindAddr::parse(b))) {
        match b.1 {
            Ok(addr) => {
                if b.0 == 0 {
                    s.bind.clear();
                }
                s.bind.push(addr)
            }
            Err(e) => errors.push(format!("invalid value for `bind`: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(Loaded { settings: s, warnings: vec![] })
    } else {
        Err(LoadError::Invalid(errors))
    }
}

/// BOOTSTRAP: `key = value` lines for `--print-config` (the registry replaces this).
pub fn print_config(loaded: &Loaded) -> String {
    format!("{:#?}\n", loaded.settings)
}
