//! `Settings`: every resolved setting as a typed field, written by exactly one registry
//! entry.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::env::MapEnv;
use super::layer::{self, Layer};
use super::value::{BindAddr, LogLevel};
use super::{target, worker_class};

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
    pub asgi_loop: super::asgi::AsgiLoop,
    pub asgi_lifespan: super::asgi::Lifespan,
    pub asgi_disconnect_grace_period: u64,
    pub websocket_max_message_size: u64,
    pub websocket_ping_interval: u64,
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
    /// `--paste`: the PasteDeploy ini file and app section.
    pub paste: Option<super::paste::PasteConfig>,
    pub proxy_protocol: crate::http::proxy::ProxyMode,
    pub proxy_allow_ips: Vec<String>,
    pub protocol: String,
    pub uwsgi_allow_ips: Vec<String>,
    /// `--paste-global` pairs, unescaped.
    pub raw_paste_global_conf: Vec<(String, String)>,
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
    pub http2_cleartext: super::h2c::Http2Cleartext,
    pub http2_max_concurrent_streams: u32,
    pub http2_initial_window_size: u32,
    pub http2_max_frame_size: u32,
    pub http2_max_header_list_size: u32,
    pub dirty_apps: Vec<String>,
    pub dirty_workers: u32,
    pub dirty_timeout: u64,
    pub dirty_threads: u32,
    pub dirty_graceful_timeout: u64,
    /// `--control-socket`; `None` is Gunicorn's default path (see `master::control`).
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
            asgi_loop: Default::default(),
            asgi_lifespan: Default::default(),
            asgi_disconnect_grace_period: 0,
            websocket_max_message_size: 0,
            websocket_ping_interval: 0,
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
            http2_cleartext: super::h2c::Http2Cleartext::Off,
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
