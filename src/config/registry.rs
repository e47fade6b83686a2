//! The settings registry's data model: `Spec<T>` (one setting, declared once in
//! `defs.rs`), the type-erased `AnySetting` view the rest of `config` iterates over, and
//! `ALL`, the ordered list of every setting. Also the registry's invariant tests.

use super::Settings;
use super::defs;
use super::layer::Raw;
use super::value::Render;

/// How a setting appears on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Takes one value; the last occurrence wins.
    Value,
    /// A flag without a value; its presence stands for this raw text (`--no-sendfile`
    /// stands for "false").
    Switch(&'static str),
    /// Repeatable; values accumulate within one source, and a higher source replaces a
    /// lower one's list (Gunicorn semantics).
    Append,
    /// Takes zero or one value; bare, it stands for this raw text (`--proxy-protocol`).
    OptionalValue(&'static str),
}

/// Gunicorn's sections, in Gunicorn's order; `--help` groups flags under these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    ConfigFile,
    ServerSocket,
    WorkerProcesses,
    Security,
    Debugging,
    ServerMechanics,
    Logging,
    ProcessNaming,
    ServerHooks,
    Ssl,
    Http2,
    DirtyArbiters,
    DirtyArbiterHooks,
    Control,
}

impl Section {
    /// The heading, spelled as in Gunicorn's documentation.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Section::ConfigFile => "Config File",
            Section::ServerSocket => "Server Socket",
            Section::WorkerProcesses => "Worker Processes",
            Section::Security => "Security",
            Section::Debugging => "Debugging",
            Section::ServerMechanics => "Server Mechanics",
            Section::Logging => "Logging",
            Section::ProcessNaming => "Process Naming",
            Section::ServerHooks => "Server Hooks",
            Section::Ssl => "SSL",
            Section::Http2 => "HTTP/2",
            Section::DirtyArbiters => "Dirty Arbiters",
            Section::DirtyArbiterHooks => "Dirty Arbiter Hooks",
            Section::Control => "Control",
        }
    }
}

/// Whether runicorn acts on a setting. Flip one spec's `support` to change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    Supported,
    /// Accepted and validated, but ignored with a warning giving this reason.
    Unsupported(&'static str),
    /// Accepted and ignored because runicorn does not need it; the warning says why.
    Unneeded(&'static str),
}

/// An environment variable that replaces a setting's default (not its value from a
/// higher source), as Gunicorn does with PORT, WEB_CONCURRENCY, FORWARDED_ALLOW_IPS and
/// SENDFILE.
pub(crate) struct EnvSeed {
    pub var: &'static str,
    /// Turns the variable's text into the setting's raw text (PORT → "0.0.0.0:PORT").
    pub to_raw: fn(&str) -> String,
}

/// A list item that failed to parse, and the reason.
pub(crate) type ItemError = (String, String);

/// A setting's parser: validation is parsing.
pub(crate) enum Parse<T> {
    /// For `Value`, `Switch` and `OptionalValue` kinds; `Err` is the reason.
    One(fn(&str) -> Result<T, String>),
    /// For `Append` kinds; `Err` is the offending item and the reason.
    Many(fn(&[String]) -> Result<T, ItemError>),
}

/// One setting. See `defs.rs` for every instance.
pub(crate) struct Spec<T: 'static> {
    /// Config-file key and `--print-config` name, spelled as in Gunicorn.
    pub key: &'static str,
    pub short: Option<char>,
    /// Long flags without `--`; entries after the first are visible aliases. Empty for
    /// settings that only a config file can set.
    pub long: &'static [&'static str],
    pub kind: Kind,
    pub env_seed: Option<EnvSeed>,
    /// The default as raw text, parsed like any other value. For `Append` kinds, items
    /// are separated by newlines and an empty text is an empty list.
    pub default: &'static str,
    pub meta: &'static str,
    pub section: Section,
    pub parse: Parse<T>,
    /// Where the parsed value lands.
    pub field: fn(&mut Settings) -> &mut T,
    pub support: Support,
    /// First line: the short help (≤ 79 columns); the rest: long help.
    pub help: &'static str,
}

/// Why a raw value was refused: the offending text and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub value: String,
    pub reason: String,
}

/// The type-erased view of a `Spec<T>`.
pub(crate) trait AnySetting: Sync {
    fn key(&self) -> &'static str;
    fn short(&self) -> Option<char>;
    fn long(&self) -> &'static [&'static str];
    fn kind(&self) -> Kind;
    fn env_seed(&self) -> Option<&EnvSeed>;
    fn default_text(&self) -> &'static str;
    fn meta(&self) -> &'static str;
    /// A text setting (a format, an address, a name): config files must give it a
    /// string, as Gunicorn's `validate_string` demands (`bind = 5` is no address).
    fn text_only(&self) -> bool {
        matches!(self.meta(), "STRING" | "ADDRESS")
    }
    fn section(&self) -> Section;
    fn support(&self) -> Support;
    fn help(&self) -> &'static str;
    /// Parses `raw` and stores the value in `settings`.
    fn apply(&self, raw: &Raw, settings: &mut Settings) -> Result<(), Invalid>;
    /// The current value as `--print-config` shows it. Takes `&mut` only because
    /// `field` is a single accessor; nothing is modified.
    fn render(&self, settings: &mut Settings) -> String;

    /// The default as a raw value of this setting's shape.
    fn default_raw(&self) -> Raw {
        text_to_raw(self.kind(), self.default_text())
    }

    /// The first line of the help.
    fn summary(&self) -> &'static str {
        self.help().lines().next().unwrap_or("")
    }

    /// How the setting is spelled for humans: its flags, or its key if it has none.
    fn flags_text(&self) -> String {
        let mut v: Vec<String> = self.short().map(|c| format!("-{c}")).into_iter().collect();
        v.extend(self.long().iter().map(|l| format!("--{l}")));
        v.join(", ")
    }
}

/// Raw text as a value of a setting of `kind`: `Append` kinds take newline-separated items.
pub(crate) fn text_to_raw(kind: Kind, text: &str) -> Raw {
    match kind {
        Kind::Append if text.is_empty() => Raw::Many(Vec::new()),
        Kind::Append => Raw::Many(text.split('\n').map(String::from).collect()),
        _ => Raw::One(text.to_string()),
    }
}

impl<T: Render + Sync + 'static> AnySetting for Spec<T> {
    fn key(&self) -> &'static str {
        self.key
    }
    fn short(&self) -> Option<char> {
        self.short
    }
    fn long(&self) -> &'static [&'static str] {
        self.long
    }
    fn kind(&self) -> Kind {
        self.kind
    }
    fn env_seed(&self) -> Option<&EnvSeed> {
        self.env_seed.as_ref()
    }
    fn default_text(&self) -> &'static str {
        self.default
    }
    fn meta(&self) -> &'static str {
        self.meta
    }
    fn section(&self) -> Section {
        self.section
    }
    fn support(&self) -> Support {
        self.support
    }
    fn help(&self) -> &'static str {
        self.help
    }

    fn apply(&self, raw: &Raw, settings: &mut Settings) -> Result<(), Invalid> {
        let value = match (&self.parse, raw) {
            (Parse::One(p), Raw::One(text)) => p(text).map_err(|reason| Invalid {
                value: text.clone(),
                reason,
            })?,
            (Parse::Many(p), Raw::Many(items)) => {
                p(items).map_err(|(value, reason)| Invalid { value, reason })?
            }
            (Parse::Many(p), Raw::One(text)) => p(std::slice::from_ref(text))
                .map_err(|(value, reason)| Invalid { value, reason })?,
            (Parse::One(_), Raw::Many(items)) => {
                return Err(Invalid {
                    value: items.join(", "),
                    reason: "takes a single value, not a list".into(),
                });
            }
        };
        *(self.field)(settings) = value;
        Ok(())
    }

    fn render(&self, settings: &mut Settings) -> String {
        (self.field)(settings).render()
    }
}

/// Every setting, grouped by section in Gunicorn's order; within a section, in
/// Gunicorn's order. This is the order of `--help`.
pub(crate) static ALL: &[&dyn AnySetting] = &[
    &defs::CONFIG,
    &defs::WSGI_APP,
    &defs::BIND,
    &defs::BACKLOG,
    &defs::WORKERS,
    &defs::WORKER_CLASS,
    &defs::THREADS,
    &defs::WORKER_CONNECTIONS,
    &defs::MAX_REQUESTS,
    &defs::MAX_REQUESTS_JITTER,
    &defs::TIMEOUT,
    &defs::BOOT_TIMEOUT,
    &defs::REQUEST_TIMEOUT,
    &defs::GRACEFUL_TIMEOUT,
    &defs::KEEPALIVE,
    &defs::ASGI_LOOP,
    &defs::ASGI_LIFESPAN,
    &defs::ASGI_DISCONNECT_GRACE_PERIOD,
    &defs::WEBSOCKET_MAX_MESSAGE_SIZE,
    &defs::WEBSOCKET_PING_INTERVAL,
    &defs::HTTP_PARSER,
    &defs::LIMIT_REQUEST_LINE,
    &defs::LIMIT_REQUEST_FIELDS,
    &defs::LIMIT_REQUEST_FIELD_SIZE,
    &defs::HEADER_TIMEOUT,
    &defs::BODY_TIMEOUT,
    &defs::BODY_MIN_RATE,
    &defs::SEND_TIMEOUT,
    &defs::LIMIT_REQUEST_BODY,
    &defs::RELOAD,
    &defs::RELOAD_ENGINE,
    &defs::RELOAD_EXTRA_FILES,
    &defs::SPEW,
    &defs::CHECK_CONFIG,
    &defs::PRINT_CONFIG,
    &defs::PRELOAD_APP,
    &defs::SENDFILE,
    &defs::STATIC_MAP,
    &defs::STATIC_CACHE_CONTROL,
    &defs::STATIC_FOLLOW_SYMLINKS,
    &defs::REUSE_PORT,
    &defs::CHDIR,
    &defs::DAEMON,
    &defs::RAW_ENV,
    &defs::PIDFILE,
    &defs::WORKER_TMP_DIR,
    &defs::USER,
    &defs::GROUP,
    &defs::UMASK,
    &defs::INITGROUPS,
    &defs::TMP_UPLOAD_DIR,
    &defs::WSGI_BODY_BUFFER,
    &defs::SECURE_SCHEME_HEADERS,
    &defs::FORWARDED_ALLOW_IPS,
    &defs::PYTHONPATH,
    &defs::PASTE,
    &defs::PROXY_PROTOCOL,
    &defs::PROXY_ALLOW_IPS,
    &defs::PROTOCOL,
    &defs::UWSGI_ALLOW_IPS,
    &defs::RAW_PASTE_GLOBAL_CONF,
    &defs::PERMIT_OBSOLETE_FOLDING,
    &defs::STRIP_HEADER_SPACES,
    &defs::PERMIT_UNCONVENTIONAL_HTTP_METHOD,
    &defs::PERMIT_UNCONVENTIONAL_HTTP_VERSION,
    &defs::CASEFOLD_HTTP_METHOD,
    &defs::FORWARDER_HEADERS,
    &defs::HEADER_MAP,
    &defs::ROOT_PATH,
    &defs::ACCESSLOG,
    &defs::DISABLE_REDIRECT_ACCESS_TO_SYSLOG,
    &defs::ACCESS_LOG_FORMAT,
    &defs::ACCESS_LOG_SKIP,
    &defs::ERRORLOG,
    &defs::LOGLEVEL,
    &defs::CAPTURE_OUTPUT,
    &defs::LOGGER_CLASS,
    &defs::LOGCONFIG,
    &defs::LOGCONFIG_DICT,
    &defs::LOGCONFIG_JSON,
    &defs::SYSLOG_ADDR,
    &defs::SYSLOG,
    &defs::SYSLOG_PREFIX,
    &defs::SYSLOG_FACILITY,
    &defs::ENABLE_STDIO_INHERITANCE,
    &defs::STATSD_HOST,
    &defs::DOGSTATSD_TAGS,
    &defs::STATSD_PREFIX,
    &defs::ENABLE_BACKLOG_METRIC,
    &defs::METRICS_BIND,
    &defs::PROC_NAME,
    &defs::DEFAULT_PROC_NAME,
    &defs::ON_STARTING,
    &defs::ON_RELOAD,
    &defs::WHEN_READY,
    &defs::PRE_FORK,
    &defs::POST_FORK,
    &defs::POST_WORKER_INIT,
    &defs::WORKER_INT,
    &defs::WORKER_ABORT,
    &defs::PRE_EXEC,
    &defs::PRE_REQUEST,
    &defs::POST_REQUEST,
    &defs::CHILD_EXIT,
    &defs::WORKER_EXIT,
    &defs::NWORKERS_CHANGED,
    &defs::ON_EXIT,
    &defs::SSL_CONTEXT,
    &defs::KEYFILE,
    &defs::CERTFILE,
    &defs::SSL_VERSION,
    &defs::CERT_REQS,
    &defs::CA_CERTS,
    &defs::SUPPRESS_RAGGED_EOFS,
    &defs::DO_HANDSHAKE_ON_CONNECT,
    &defs::CIPHERS,
    &defs::TLS_HANDSHAKE_TIMEOUT,
    &defs::SNI_CERT,
    &defs::HTTP_PROTOCOLS,
    &defs::HTTP2_CLEARTEXT,
    &defs::HTTP2_MAX_CONCURRENT_STREAMS,
    &defs::HTTP2_INITIAL_WINDOW_SIZE,
    &defs::HTTP2_MAX_FRAME_SIZE,
    &defs::HTTP2_MAX_HEADER_LIST_SIZE,
    &defs::DIRTY_APPS,
    &defs::DIRTY_WORKERS,
    &defs::DIRTY_TIMEOUT,
    &defs::DIRTY_THREADS,
    &defs::DIRTY_GRACEFUL_TIMEOUT,
    &defs::ON_DIRTY_STARTING,
    &defs::DIRTY_POST_FORK,
    &defs::DIRTY_WORKER_INIT,
    &defs::DIRTY_WORKER_EXIT,
    &defs::CONTROL_SOCKET,
    &defs::CONTROL_SOCKET_MODE,
    &defs::CONTROL_SOCKET_DISABLE,
];

/// Looks a setting up by its key.
pub(crate) fn find(key: &str) -> Option<&'static dyn AnySetting> {
    ALL.iter().copied().find(|s| s.key() == key)
}

/// Every hook runicorn calls, with its Gunicorn arity.
#[cfg(feature = "python")]
const ARITY: &[(&str, usize)] = &[
    ("on_starting", 1),
    ("on_reload", 1),
    ("when_ready", 1),
    ("pre_fork", 2),
    ("post_fork", 2),
    ("post_worker_init", 1),
    ("worker_int", 1),
    ("worker_abort", 1),
    ("pre_exec", 1),
    ("pre_request", 2),
    ("post_request", 4),
    ("child_exit", 2),
    ("worker_exit", 2),
    ("nworkers_changed", 3),
    ("on_exit", 1),
    ("ssl_context", 2),
];

/// The number of arguments Gunicorn passes to hook `key` (None: not checked).
#[cfg(feature = "python")]
pub(crate) fn hook_arity(key: &str) -> Option<usize> {
    ARITY.iter().find(|(k, _)| *k == key).map(|&(_, n)| n)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn keys_and_flags_are_unique() {
        let mut keys = BTreeSet::new();
        let mut longs = BTreeSet::from(["help", "version"]);
        let mut shorts = BTreeSet::from(['h', 'v']);
        for s in ALL {
            assert!(keys.insert(s.key()), "duplicate key {}", s.key());
            for l in s.long() {
                assert!(longs.insert(*l), "duplicate long flag --{l}");
            }
            if let Some(c) = s.short() {
                assert!(shorts.insert(c), "duplicate short flag -{c}");
            }
        }
    }

    #[test]
    fn every_default_parses() {
        let mut settings = Settings::placeholder();
        for s in ALL {
            if let Err(e) = s.apply(&s.default_raw(), &mut settings) {
                panic!("default of `{}` does not parse: {e:?}", s.key());
            }
        }
    }

    #[test]
    fn help_is_present_and_short_enough() {
        for s in ALL {
            assert!(!s.help().trim().is_empty(), "`{}` has no help", s.key());
            let first = s.summary();
            assert!(
                first.chars().count() <= 79,
                "`{}` help first line too long: {first}",
                s.key()
            );
            assert!(
                !first.is_empty(),
                "`{}` help starts with a blank line",
                s.key()
            );
        }
    }

    #[test]
    fn kinds_match_parsers() {
        // An Append setting with a single-value parser (or the reverse) would misparse.
        for s in ALL {
            let raw = s.default_raw();
            let many = matches!(raw, Raw::Many(_));
            assert_eq!(many, s.kind() == Kind::Append, "`{}`", s.key());
        }
    }

    #[test]
    fn sections_are_in_order() {
        // --help and defs.rs list sections in Gunicorn's order without interleaving.
        assert!(ALL.windows(2).all(|w| w[0].section() <= w[1].section()));
    }

    #[test]
    fn covers_every_gunicorn_setting() {
        let names = include_str!("gunicorn_settings.txt");
        let missing: Vec<&str> = names.lines().filter(|n| find(n).is_none()).collect();
        assert!(
            missing.is_empty(),
            "Gunicorn settings missing from the registry: {missing:?}"
        );
        assert_eq!(
            names.lines().count(),
            120,
            "gunicorn_settings.txt is Gunicorn 27.0.1's list"
        );
    }

    #[test]
    fn accepts_every_gunicorn_long_flag() {
        let cmd = super::super::cli::command();
        // clap adds --help itself when the command is built.
        let mut known: BTreeSet<String> = BTreeSet::from(["help".to_string()]);
        for arg in cmd.get_arguments() {
            known.extend(arg.get_long().map(String::from));
            if let Some(aliases) = arg.get_all_aliases() {
                known.extend(aliases.into_iter().map(String::from));
            }
        }
        let flags = include_str!("gunicorn_flags.txt");
        let missing: Vec<&str> = flags
            .lines()
            .filter(|f| !known.contains(f.trim_start_matches('-')))
            .collect();
        assert!(
            missing.is_empty(),
            "Gunicorn flags runicorn does not accept: {missing:?}"
        );
    }

    #[test]
    fn unsupported_reasons_are_honest() {
        for s in ALL {
            if let Support::Unsupported(why) | Support::Unneeded(why) = s.support() {
                assert!(!why.is_empty() && !why.ends_with('.'), "`{}`", s.key());
            }
        }
        for key in [
            "config",
            "wsgi_app",
            "bind",
            "backlog",
            "workers",
            "worker_class",
            "threads",
            "worker_connections",
            "max_requests",
            "max_requests_jitter",
            "timeout",
            "graceful_timeout",
            "keepalive",
            "boot_timeout",
            "limit_request_line",
            "limit_request_fields",
            "limit_request_field_size",
            "check_config",
            "print_config",
            "sendfile",
            "reuse_port",
            "chdir",
            "daemon",
            "raw_env",
            "pidfile",
            "user",
            "group",
            "umask",
            "initgroups",
            "accesslog",
            "access_log_format",
            "access_log_skip",
            "errorlog",
            "loglevel",
            "capture_output",
            "enable_stdio_inheritance",
            "proc_name",
            "default_proc_name",
        ] {
            assert_eq!(
                find(key).map(|s| s.support()),
                Some(Support::Supported),
                "`{key}`"
            );
        }
    }
}
