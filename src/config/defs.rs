//! Every setting, declared once, grouped by Gunicorn's sections in Gunicorn's order.
//!
//! Each `static` is the single source of truth for one setting: its flags, config-file key,
//! default (raw text, parsed like any other value), validation, help and support status.
//! `registry::ALL` lists them; the CLI, the config file, `--print-config` and the README
//! table are all derived from here. The user-facing documentation is the `help` text.

use std::path::PathBuf;

use super::registry::{EnvSeed, Kind, Parse, Section, Spec, Support::*};
use super::value::{self, BindAddr, LogLevel};

// ===== Section::ConfigFile =====
pub(crate) static CONFIG: Spec<Option<PathBuf>> = Spec {
    key: "config",
    short: Some('c'),
    long: &["config"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CONFIG",
    section: Section::ConfigFile,
    parse: Parse::One(value::opt_path),
    field: |s| &mut s.config,
    support: Supported,
    help: "The config file: FILE.py or python:MODULE (Python), else TOML.\n\
         \n\
         Names are setting names, e.g. `workers = 4`; `file:PATH` is accepted. Without -c,\n\
         ./runicorn.conf.py or ./gunicorn.conf.py is read when present (the first wins).",
};
pub(crate) static WSGI_APP: Spec<Option<String>> = Spec {
    key: "wsgi_app",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "STRING",
    section: Section::ConfigFile,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.wsgi_app,
    support: Supported,
    help: "The application to serve, as MODULE:VARIABLE.\n\
         \n\
         Usually given as the APP_MODULE argument, which wins over a config-file value.",
};

// ===== Section::ServerSocket =====
pub(crate) static BIND: Spec<Vec<BindAddr>> = Spec {
    key: "bind",
    short: Some('b'),
    long: &["bind"],
    kind: Kind::Append,
    env_seed: Some(EnvSeed {
        var: "PORT",
        to_raw: |v| format!("0.0.0.0:{v}"),
    }),
    default: "127.0.0.1:8000",
    meta: "ADDRESS",
    section: Section::ServerSocket,
    parse: Parse::Many(value::binds),
    field: |s| &mut s.bind,
    support: Supported,
    help: "The socket to bind: HOST, HOST:PORT, unix:PATH or fd://FD; repeatable.\n\
         \n\
         IPv6 hosts go in brackets ([::1]:8000). Without -b, 127.0.0.1:8000 is used, or\n\
         0.0.0.0:$PORT when the PORT environment variable is set.",
};
pub(crate) static BACKLOG: Spec<i32> = Spec {
    key: "backlog",
    short: None,
    long: &["backlog"],
    kind: Kind::Value,
    env_seed: None,
    default: "2048",
    meta: "INT",
    section: Section::ServerSocket,
    parse: Parse::One(value::uint::<i32>),
    field: |s| &mut s.backlog,
    support: Supported,
    help: "The maximum number of pending connections (listen backlog).\n\
         \n\
         The kernel may cap it (net.core.somaxconn on Linux).",
};

// ===== Section::WorkerProcesses =====
pub(crate) static WORKERS: Spec<u32> = Spec {
    key: "workers",
    short: Some('w'),
    long: &["workers"],
    kind: Kind::Value,
    env_seed: Some(EnvSeed {
        var: "WEB_CONCURRENCY",
        to_raw: |v| v.to_string(),
    }),
    default: "1",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::positive::<u32>),
    field: |s| &mut s.workers,
    support: Supported,
    help: "The number of worker processes for handling requests.\n\
         \n\
         Defaults to $WEB_CONCURRENCY when set. Two to four per CPU core is a common start.",
};
pub(crate) static WORKER_CLASS: Spec<super::worker_class::WorkerClass> = Spec {
    key: "worker_class",
    short: Some('k'),
    long: &["worker-class"],
    kind: Kind::Value,
    env_seed: None,
    default: "sync",
    meta: "STRING",
    section: Section::WorkerProcesses,
    parse: Parse::One(|t| t.parse()),
    field: |s| &mut s.worker_class,
    support: Supported,
    help: "The type of workers to use: sync, gthread, gevent or asgi.\n\
         \n\
         WSGI apps run behind a Rust edge that reads whole requests first: sync = one app\n\
         thread per worker, gthread = --threads app threads, gevent (gevent_wsgi,\n\
         gevent_pywsgi) = one thread running gevent's hub, each request a greenlet, up to\n\
         --worker-connections at once (needs gevent >= 24.10.1). asgi (also\n\
         uvicorn.workers.UvicornWorker, UvicornH11Worker and uvicorn_worker.UvicornWorker) runs\n\
         an ASGI app on one asyncio event loop per worker; an ASGI app given with the default\n\
         class is detected and served as ASGI. eventlet, tornado and other class paths are\n\
         refused at start.",
};
pub(crate) static THREADS: Spec<u32> = Spec {
    key: "threads",
    short: None,
    long: &["threads"],
    kind: Kind::Value,
    env_seed: None,
    default: "1",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::positive::<u32>),
    field: |s| &mut s.threads,
    support: Supported,
    help: "The number of threads per worker for handling requests.\n\
         \n\
         As in Gunicorn, more than one thread with the sync class means gthread. For WSGI\n\
         apps these are Python app threads (network I/O stays on one tokio thread); for\n\
         Rust services, tokio worker threads.",
};
pub(crate) static WORKER_CONNECTIONS: Spec<u32> = Spec {
    key: "worker_connections",
    short: None,
    long: &["worker-connections"],
    kind: Kind::Value,
    env_seed: None,
    default: "1000",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::positive::<u32>),
    field: |s| &mut s.worker_connections,
    support: Supported,
    help: "The maximum number of simultaneous clients per worker.",
};
pub(crate) static MAX_REQUESTS: Spec<u64> = Spec {
    key: "max_requests",
    short: None,
    long: &["max-requests"],
    kind: Kind::Value,
    env_seed: None,
    default: "0",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.max_requests,
    support: Supported,
    help: "Restart a worker after it has handled this many requests; 0 disables.\n\
         \n\
         A cheap guard against memory leaks in the application.",
};
pub(crate) static MAX_REQUESTS_JITTER: Spec<u64> = Spec {
    key: "max_requests_jitter",
    short: None,
    long: &["max-requests-jitter"],
    kind: Kind::Value,
    env_seed: None,
    default: "0",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.max_requests_jitter,
    support: Supported,
    help: "A random 0..=N added to max_requests per worker, so restarts spread out.\n\
         \n\
         Only has an effect when max_requests is above 0.",
};
pub(crate) static TIMEOUT: Spec<u64> = Spec {
    key: "timeout",
    short: Some('t'),
    long: &["timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "30",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.timeout,
    support: Supported,
    help: "Kill and restart a worker silent for more than this many seconds; 0 disables.\n\
         \n\
         Silence means no heartbeat: a worker stuck in one request is killed (for WSGI\n\
         apps, with -k sync, as in Gunicorn: a gthread worker's long requests are not).\n\
         Boot time is governed separately by --boot-timeout.",
};
pub(crate) static BOOT_TIMEOUT: Spec<u64> = Spec {
    key: "boot_timeout",
    short: None,
    long: &["boot-timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "120",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.boot_timeout,
    support: Supported,
    help: "Seconds a booting worker may take before the master kills it; 0 disables.\n\
         \n\
         A runicorn addition: Gunicorn counts boot time against --timeout, which kills\n\
         slow-starting apps. Here --timeout applies only once the worker has booted.",
};
pub(crate) static REQUEST_TIMEOUT: Spec<u64> = Spec {
    key: "request_timeout",
    short: None,
    long: &["request-timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "0",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.request_timeout,
    support: Supported,
    help: "Seconds a WSGI app may take to start its response; 0 disables.\n\
         \n\
         A runicorn addition: past it the client gets 504 Gateway Timeout and the app's\n\
         late output is discarded (its thread finishes the call; Python cannot be\n\
         interrupted safely). Gunicorn's --timeout only guards against wedged workers.",
};
pub(crate) static GRACEFUL_TIMEOUT: Spec<u64> = Spec {
    key: "graceful_timeout",
    short: None,
    long: &["graceful-timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "30",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.graceful_timeout,
    support: Supported,
    help: "Seconds workers get to finish requests after a graceful stop or restart.\n\
         \n\
         Workers still alive after this are killed.",
};
pub(crate) static KEEPALIVE: Spec<u64> = Spec {
    key: "keepalive",
    short: None,
    long: &["keep-alive"],
    kind: Kind::Value,
    env_seed: None,
    default: "2",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.keepalive,
    support: Supported,
    help: "Seconds to wait for the next request on a keep-alive connection.",
};
pub(crate) static ASGI_LOOP: Spec<super::asgi::AsgiLoop> = Spec {
    key: "asgi_loop",
    short: None,
    long: &["asgi-loop"],
    kind: Kind::Value,
    env_seed: None,
    default: "auto",
    meta: "STRING",
    section: Section::WorkerProcesses,
    parse: Parse::One(str::parse),
    field: |s| &mut s.asgi_loop,
    support: Supported,
    help: "The event loop for ASGI workers: auto, asyncio or uvloop.",
};
pub(crate) static ASGI_LIFESPAN: Spec<super::asgi::Lifespan> = Spec {
    key: "asgi_lifespan",
    short: None,
    long: &["asgi-lifespan"],
    kind: Kind::Value,
    env_seed: None,
    default: "auto",
    meta: "STRING",
    section: Section::WorkerProcesses,
    parse: Parse::One(str::parse),
    field: |s| &mut s.asgi_lifespan,
    support: Supported,
    help: "ASGI lifespan protocol handling: auto, on or off.",
};
pub(crate) static ASGI_DISCONNECT_GRACE_PERIOD: Spec<u64> = Spec {
    key: "asgi_disconnect_grace_period",
    short: None,
    long: &["asgi-disconnect-grace-period"],
    kind: Kind::Value,
    env_seed: None,
    default: "3",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.asgi_disconnect_grace_period,
    support: Supported,
    help: "Seconds an ASGI app gets to react to a client disconnect.",
};
pub(crate) static WEBSOCKET_MAX_MESSAGE_SIZE: Spec<u64> = Spec {
    key: "websocket_max_message_size",
    short: None,
    long: &["websocket-max-message-size"],
    kind: Kind::Value,
    env_seed: None,
    default: "16777216",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.websocket_max_message_size,
    support: Supported,
    help: "The largest WebSocket message, in bytes; 0 = unlimited.\n\
         \n\
         Checked after reassembly and inflation, from each frame's header (an oversize\n\
         message is never buffered); over it the socket closes with 1009.",
};
pub(crate) static WEBSOCKET_PING_INTERVAL: Spec<u64> = Spec {
    key: "websocket_ping_interval",
    short: None,
    long: &["websocket-ping-interval"],
    kind: Kind::Value,
    env_seed: None,
    default: "20",
    meta: "INT",
    section: Section::WorkerProcesses,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.websocket_ping_interval,
    support: Supported,
    help: "Seconds of WebSocket silence before a server ping; 0 disables.\n\
         \n\
         A runicorn addition (Gunicorn sends no pings; uvicorn: --ws-ping-interval and\n\
         --ws-ping-timeout, 20 s each). A peer that sends nothing, not even the pong, for\n\
         another interval is closed with 1011, so a dead or silent socket does not keep\n\
         its connection slot. Time the server spends not reading (the app is behind)\n\
         does not count.",
};
pub(crate) static HTTP_PARSER: Spec<String> = Spec {
    key: "http_parser",
    short: None,
    long: &["http-parser"],
    kind: Kind::Value,
    env_seed: None,
    default: "auto",
    meta: "STRING",
    section: Section::WorkerProcesses,
    parse: Parse::One(|t| value::one_of(t, &["auto", "fast", "python"])),
    field: |s| &mut s.http_parser,
    support: Unsupported(
        "not applicable: it picks between Gunicorn's Python and C parsers; runicorn has one parser",
    ),
    help: "Gunicorn's HTTP parser implementation: auto, fast or python.",
};

// ===== Section::Security =====
pub(crate) static LIMIT_REQUEST_LINE: Spec<u32> = Spec {
    key: "limit_request_line",
    short: None,
    long: &["limit-request-line"],
    kind: Kind::Value,
    env_seed: None,
    default: "4094",
    meta: "INT",
    section: Section::Security,
    parse: Parse::One(value::limit_request_line),
    field: |s| &mut s.limit_request_line,
    support: Supported,
    help: "The maximum size of the HTTP request line in bytes; 0 = unlimited.\n\
         \n\
         As in Gunicorn, values above 8190 are lowered to 8190. Longer lines get a 414.",
};
pub(crate) static LIMIT_REQUEST_FIELDS: Spec<u32> = Spec {
    key: "limit_request_fields",
    short: None,
    long: &["limit-request-fields"],
    kind: Kind::Value,
    env_seed: None,
    default: "100",
    meta: "INT",
    section: Section::Security,
    parse: Parse::One(value::limit_request_fields),
    field: |s| &mut s.limit_request_fields,
    support: Supported,
    help: "The maximum number of header fields in a request.\n\
         \n\
         As in Gunicorn, 0, negative values and values above 32768 mean 32768.",
};
pub(crate) static LIMIT_REQUEST_FIELD_SIZE: Spec<u32> = Spec {
    key: "limit_request_field_size",
    short: None,
    long: &["limit-request-field_size"],
    kind: Kind::Value,
    env_seed: None,
    default: "8190",
    meta: "INT",
    section: Section::Security,
    parse: Parse::One(value::limit_request_field_size),
    field: |s| &mut s.limit_request_field_size,
    support: Supported,
    help: "The maximum size of one HTTP header field in bytes.\n\
         \n\
         As in Gunicorn, 0 and negative values mean 8190 (not unlimited). The flag really\n\
         is spelled with an underscore.",
};

// runicorn's edge settings: what nginx did in front of Gunicorn (server/conn/).
pub(crate) static HEADER_TIMEOUT: Spec<u64> = Spec {
    key: "header_timeout",
    short: None,
    long: &["header-timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "10",
    meta: "INT",
    section: Section::Security,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.header_timeout,
    support: Supported,
    help: "Seconds a client has to send a complete request head; 0 disables.\n\
         \n\
         A runicorn addition (nginx: client_header_timeout). Counted from accept, or on a\n\
         keep-alive connection from the first byte of the next request (never before the\n\
         end of the previous response); slowloris clients that trickle headers are cut\n\
         off. --keep-alive stays the idle time allowed before the next request starts,\n\
         even when it is longer.",
};
pub(crate) static BODY_TIMEOUT: Spec<u64> = Spec {
    key: "body_timeout",
    short: None,
    long: &["body-timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "30",
    meta: "INT",
    section: Section::Security,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.body_timeout,
    support: Supported,
    help: "Seconds a request body may stall before 408 and close; 0 disables.\n\
         \n\
         A runicorn addition (nginx: client_body_timeout).",
};
pub(crate) static BODY_MIN_RATE: Spec<u64> = Spec {
    key: "body_min_rate",
    short: None,
    long: &["body-min-rate"],
    kind: Kind::Value,
    env_seed: None,
    default: "256",
    meta: "BYTES",
    section: Section::Security,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.body_min_rate,
    support: Supported,
    help: "Minimum average upload rate (bytes/s) after 5 s of body; 0 disables.\n\
         \n\
         A runicorn addition: a client trickling its body (1 byte/s) never stalls long\n\
         enough for --body-timeout, so the average rate is checked too. Time the app spends\n\
         not reading the body does not count against the client.",
};
pub(crate) static SEND_TIMEOUT: Spec<u64> = Spec {
    key: "send_timeout",
    short: None,
    long: &["send-timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "30",
    meta: "INT",
    section: Section::Security,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.send_timeout,
    support: Supported,
    help: "Seconds a client may stop reading a response; 0 disables.\n\
         \n\
         A write that waits this long on the client drops it, unless the client read at\n\
         least 64 KiB meanwhile: a large send buffer frees room in big steps, and a\n\
         client reading steadily but slowly is not one that stopped. A runicorn addition\n\
         (nginx: send_timeout).",
};
pub(crate) static LIMIT_REQUEST_BODY: Spec<u64> = Spec {
    key: "limit_request_body",
    short: None,
    long: &["limit-request-body"],
    kind: Kind::Value,
    env_seed: None,
    default: "0",
    meta: "BYTES",
    section: Section::Security,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.limit_request_body,
    support: Supported,
    help: "The maximum request body size in bytes (413); 0 means unlimited.\n\
         \n\
         A runicorn addition (nginx: client_max_body_size). A Content-Length over the\n\
         limit is refused before the body is read; a chunked body when it crosses it.",
};

// ===== Section::Debugging =====
pub(crate) static RELOAD: Spec<bool> = Spec {
    key: "reload",
    short: None,
    long: &["reload"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Debugging,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.reload,
    support: Supported,
    help: "Restart workers when code changes (development only).\n\
         \n\
         Watches the files of every module the app imported, the config file and\n\
         --reload-extra-file; a change starts new workers as HUP does and retires the old\n\
         ones once the new ones serve. If the new code fails to load (a syntax error),\n\
         the error is logged and the old workers keep serving until the next change.\n\
         With --preload the app is imported once in the master, so (as in Gunicorn) new\n\
         workers still run the old code.",
};
pub(crate) static RELOAD_ENGINE: Spec<String> = Spec {
    key: "reload_engine",
    short: None,
    long: &["reload-engine"],
    kind: Kind::Value,
    env_seed: None,
    default: "auto",
    meta: "STRING",
    section: Section::Debugging,
    parse: Parse::One(|t| value::one_of(t, &["auto", "poll", "inotify"])),
    field: |s| &mut s.reload_engine,
    support: Supported,
    help: "How reload watches files: auto, poll or inotify.\n\
         \n\
         auto: inotify, else polling; poll: stat the watched files once a second.",
};
pub(crate) static RELOAD_EXTRA_FILES: Spec<Vec<String>> = Spec {
    key: "reload_extra_files",
    short: None,
    long: &["reload-extra-file"],
    kind: Kind::Append,
    env_seed: None,
    default: "",
    meta: "FILES",
    section: Section::Debugging,
    parse: Parse::Many(value::strings),
    field: |s| &mut s.reload_extra_files,
    support: Supported,
    help: "An extra file or glob for reload to watch; repeatable.\n\
         \n\
         A value with *, ? or [ is a glob (** descends); files created later that match\n\
         it count too.",
};
pub(crate) static SPEW: Spec<bool> = Spec {
    key: "spew",
    short: None,
    long: &["spew"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Debugging,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.spew,
    support: Unsupported("not applicable: it traces every Python line executed"),
    help: "Trace every line the server executes (Python debugging aid).",
};
pub(crate) static CHECK_CONFIG: Spec<bool> = Spec {
    key: "check_config",
    short: None,
    long: &["check-config"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Debugging,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.check_config,
    support: Supported,
    help: "Check the configuration and exit: status 0 if valid, 1 if not.\n\
         \n\
         With an APP_MODULE, the WSGI app is imported too (after --chdir), as Gunicorn\n\
         does: an import error prints its traceback and exits 1.",
};
pub(crate) static PRINT_CONFIG: Spec<bool> = Spec {
    key: "print_config",
    short: None,
    long: &["print-config"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Debugging,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.print_config,
    support: Supported,
    help: "Print the fully resolved settings and exit; implies --check-config.\n\
         \n\
         Values not at their default are followed by `# source`.",
};

// ===== Section::ServerMechanics =====
pub(crate) static PRELOAD_APP: Spec<bool> = Spec {
    key: "preload_app",
    short: None,
    long: &["preload"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.preload_app,
    support: Supported,
    help: "Load the application before forking the workers.\n\
         \n\
         The WSGI app is imported in the master, `gc.freeze()` moves what import created out\n\
         of the collector's reach (so copy-on-write pages stay shared), and each worker\n\
         repairs the interpreter after fork (`PyOS_AfterFork_Child`: `random` reseeds). As in\n\
         Gunicorn, HUP then cannot reload the code (USR2 can). Without it, each worker\n\
         initialises its own interpreter after fork and the master never runs Python.",
};
pub(crate) static SENDFILE: Spec<bool> = Spec {
    key: "sendfile",
    short: None,
    long: &["no-sendfile"],
    kind: Kind::Switch("false"),
    env_seed: Some(EnvSeed {
        var: "SENDFILE",
        to_raw: |v| {
            matches!(v.to_ascii_lowercase().as_str(), "y" | "1" | "yes" | "true").to_string()
        },
    }),
    default: "true",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.sendfile,
    support: Supported,
    help: "Disable the use of sendfile().\n\
         \n\
         Without the flag, $SENDFILE decides (y, 1, yes or true enable it); else enabled.\n\
         For WSGI apps, enabled means a wsgi.file_wrapper over a regular file is streamed\n\
         by the Rust edge (positioned reads, not sendfile(2)), freeing the app thread at\n\
         once; disabled, the file is iterated through Python. For --static-map files\n\
         answered on plaintext connections, enabled means sendfile(2); disabled, a\n\
         64 KiB buffer.",
};
pub(crate) static STATIC_MAP: Spec<Vec<(String, String)>> = Spec {
    key: "static_map",
    short: None,
    long: &["static-map"],
    kind: Kind::Append,
    env_seed: None,
    default: "",
    meta: "URL_PREFIX=DIRECTORY",
    section: Section::ServerMechanics,
    parse: Parse::Many(value::prefix_values),
    field: |s| &mut s.static_map,
    support: Supported,
    help: "Serve the files of DIRECTORY under URL_PREFIX at the edge; repeatable.\n\
         \n\
         Requests under a mapped prefix never reach the app (the longest prefix wins);\n\
         with maps and no APP_MODULE, runicorn serves only static files (404 elsewhere).\n\
         GET and HEAD, ETag/Last-Modified validators, single byte ranges, precompressed\n\
         .br/.gz siblings, index.html for directories; dotfiles are hidden.",
};
pub(crate) static STATIC_CACHE_CONTROL: Spec<Vec<(String, String)>> = Spec {
    key: "static_cache_control",
    short: None,
    long: &["static-cache-control"],
    kind: Kind::Append,
    env_seed: None,
    default: "",
    meta: "URL_PREFIX=VALUE",
    section: Section::ServerMechanics,
    parse: Parse::Many(value::prefix_values),
    field: |s| &mut s.static_cache_control,
    support: Supported,
    help: "runicorn: the Cache-Control header of static files under URL_PREFIX; repeatable\n\
         (the longest matching prefix wins; it may be narrower than a --static-map prefix).\n\
         For content-hashed assets: `public, max-age=31536000, immutable`.\n\
         \n\
         Default: no Cache-Control (clients revalidate with ETag/Last-Modified).",
};
pub(crate) static STATIC_FOLLOW_SYMLINKS: Spec<bool> = Spec {
    key: "static_follow_symlinks",
    short: None,
    long: &["static-follow-symlinks"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.static_follow_symlinks,
    support: Supported,
    help: "Serve symlinks that lead outside their --static-map directory.\n\
         \n\
         Default: such symlinks answer 404 (symlinks within the directory are served).",
};
pub(crate) static REUSE_PORT: Spec<bool> = Spec {
    key: "reuse_port",
    short: None,
    long: &["reuse-port"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.reuse_port,
    support: Supported,
    help: "Set SO_REUSEPORT on the listening sockets.",
};
pub(crate) static CHDIR: Spec<Option<PathBuf>> = Spec {
    key: "chdir",
    short: None,
    long: &["chdir"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CHDIR",
    section: Section::ServerMechanics,
    parse: Parse::One(value::opt_path),
    field: |s| &mut s.chdir,
    support: Supported,
    help: "Change to this directory before loading the application.\n\
         \n\
         Default: stay in the current directory.",
};
pub(crate) static DAEMON: Spec<bool> = Spec {
    key: "daemon",
    short: Some('D'),
    long: &["daemon"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.daemon,
    support: Supported,
    help: "Detach from the terminal and run in the background.",
};
pub(crate) static RAW_ENV: Spec<Vec<(String, String)>> = Spec {
    key: "raw_env",
    short: Some('e'),
    long: &["env"],
    kind: Kind::Append,
    env_seed: None,
    default: "",
    meta: "ENV",
    section: Section::ServerMechanics,
    parse: Parse::Many(value::key_values),
    field: |s| &mut s.raw_env,
    support: Supported,
    help: "Set an environment variable for the workers, as KEY=VALUE; repeatable.",
};
pub(crate) static PIDFILE: Spec<Option<PathBuf>> = Spec {
    key: "pidfile",
    short: Some('p'),
    long: &["pid"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "FILE",
    section: Section::ServerMechanics,
    parse: Parse::One(value::opt_path),
    field: |s| &mut s.pidfile,
    support: Supported,
    help: "Write the master's PID to this file.",
};
pub(crate) static WORKER_TMP_DIR: Spec<Option<PathBuf>> = Spec {
    key: "worker_tmp_dir",
    short: None,
    long: &["worker-tmp-dir"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "DIR",
    section: Section::ServerMechanics,
    parse: Parse::One(value::opt_path),
    field: |s| &mut s.worker_tmp_dir,
    support: Unneeded(
        "runicorn's heartbeat lives in shared memory, with no file on disk, so /dev/shm tricks are unnecessary",
    ),
    help: "Accepted for compatibility; runicorn's heartbeat needs no file.",
};
pub(crate) static USER: Spec<Option<u32>> = Spec {
    key: "user",
    short: Some('u'),
    long: &["user"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "USER",
    section: Section::ServerMechanics,
    parse: Parse::One(value::user),
    field: |s| &mut s.user,
    support: Supported,
    help: "Switch worker processes to this user (name or uid).\n\
         \n\
         Default: the user the master runs as. Unknown names are configuration errors. A \
         unix socket the master binds is given to this user (and --group), as Gunicorn does.",
};
pub(crate) static GROUP: Spec<Option<u32>> = Spec {
    key: "group",
    short: Some('g'),
    long: &["group"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "GROUP",
    section: Section::ServerMechanics,
    parse: Parse::One(value::group),
    field: |s| &mut s.group,
    support: Supported,
    help: "Switch worker processes to this group (name or gid).\n\
         \n\
         Default: the group the master runs as.",
};
pub(crate) static UMASK: Spec<u32> = Spec {
    key: "umask",
    short: Some('m'),
    long: &["umask"],
    kind: Kind::Value,
    env_seed: None,
    default: "0",
    meta: "INT",
    section: Section::ServerMechanics,
    parse: Parse::One(value::umask),
    field: |s| &mut s.umask,
    support: Supported,
    help: "The umask for the unix sockets the server binds.\n\
         \n\
         Decimal, 0o/0x prefixed, or octal with a leading zero (022). As under Gunicorn, it \
         applies while binding only: workers, and the files an app creates, keep the umask \
         the server was started with (022 under --daemon).",
};
pub(crate) static INITGROUPS: Spec<bool> = Spec {
    key: "initgroups",
    short: None,
    long: &["initgroups"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.initgroups,
    support: Supported,
    help: "Give workers all the supplementary groups of --user.",
};
pub(crate) static TMP_UPLOAD_DIR: Spec<Option<String>> = Spec {
    key: "tmp_upload_dir",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "DIR",
    section: Section::ServerMechanics,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.tmp_upload_dir,
    support: Supported,
    help: "A directory for temporary request data.\n\
         \n\
         Where the WSGI host spills request bodies larger than --wsgi-body-buffer (unlinked\n\
         files). Default: the system temporary directory.",
};
pub(crate) static WSGI_BODY_BUFFER: Spec<u64> = Spec {
    key: "wsgi_body_buffer",
    short: None,
    long: &["wsgi-body-buffer"],
    kind: Kind::Value,
    env_seed: None,
    default: "1048576",
    meta: "BYTES",
    section: Section::ServerMechanics,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.wsgi_body_buffer,
    support: Supported,
    help: "Request-body bytes a WSGI worker keeps in memory before using a file.\n\
         \n\
         A runicorn addition: the Rust edge reads the whole body before the app runs, so a\n\
         slow upload never holds a Python thread. Spill files go to --tmp-upload-dir.",
};
pub(crate) static SECURE_SCHEME_HEADERS: Spec<Vec<(String, String)>> = Spec {
    key: "secure_scheme_headers",
    short: None,
    long: &[],
    kind: Kind::Append,
    env_seed: None,
    default: "X-FORWARDED-PROTOCOL=ssl\nX-FORWARDED-PROTO=https\nX-FORWARDED-SSL=on",
    meta: "HEADER=VALUE",
    section: Section::ServerMechanics,
    parse: Parse::Many(value::key_values),
    field: |s| &mut s.secure_scheme_headers,
    support: Supported,
    help: "Headers and values that mark a request from a trusted proxy as HTTPS.\n\
         \n\
         For WSGI apps, as Gunicorn: from a peer in --forwarded-allow-ips (or a unix\n\
         socket) a match makes wsgi.url_scheme https; contradicting headers get a 400.\n\
         \n\
         In a config file, a table such as `{ X-FORWARDED-PROTO = \\\"https\\\" }`.",
};
pub(crate) static FORWARDED_ALLOW_IPS: Spec<Vec<String>> = Spec {
    key: "forwarded_allow_ips",
    short: None,
    long: &["forwarded-allow-ips"],
    kind: Kind::Value,
    env_seed: Some(EnvSeed {
        var: "FORWARDED_ALLOW_IPS",
        to_raw: |v| v.to_string(),
    }),
    default: "127.0.0.1,::1",
    meta: "STRING",
    section: Section::ServerMechanics,
    parse: Parse::One(value::addr_list),
    field: |s| &mut s.forwarded_allow_ips,
    support: Supported,
    help: "Proxy addresses or networks (comma list, or *) trusted for forwarded headers.\n\
         \n\
         Defaults to $FORWARDED_ALLOW_IPS when set.",
};
pub(crate) static PYTHONPATH: Spec<Option<String>> = Spec {
    key: "pythonpath",
    short: None,
    long: &["pythonpath"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "STRING",
    section: Section::ServerMechanics,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.pythonpath,
    support: Supported,
    help: "Comma-separated directories to add to the Python path.\n\
         \n\
         Each is made absolute and inserted at the front of sys.path in turn, as Gunicorn\n\
         does; the working directory (after --chdir) is on sys.path too.",
};
pub(crate) static PASTE: Spec<Option<super::paste::PasteConfig>> = Spec {
    key: "paste",
    short: None,
    long: &["paste", "paster"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "STRING",
    section: Section::ServerMechanics,
    parse: Parse::One(super::paste::parse),
    field: |s| &mut s.paste,
    support: Supported,
    help: "Load the app from a PasteDeploy config file (CONFIG[#SECTION]).\n\
         \n\
         The embedded Python's PasteDeploy (`pip install PasteDeploy`) loads section SECTION\n\
         (default main) of CONFIG, a path relative to where runicorn starts (before\n\
         --chdir), with --paste-global values as its global_conf. As in Gunicorn, an APP_MODULE\n\
         is then ignored, the file names the processes and, when it has a [loggers] section,\n\
         is the default --log-config; its [server:main] section is not read.",
};
pub(crate) static PROXY_PROTOCOL: Spec<crate::http::proxy::ProxyMode> = Spec {
    key: "proxy_protocol",
    short: None,
    long: &["proxy-protocol"],
    kind: Kind::OptionalValue("auto"),
    env_seed: None,
    default: "off",
    meta: "MODE",
    section: Section::ServerMechanics,
    parse: Parse::One(value::proxy_protocol),
    field: |s| &mut s.proxy_protocol,
    support: Supported,
    help: "Accept the PROXY protocol: off, v1, v2 or auto (the bare flag means auto).",
};
pub(crate) static PROXY_ALLOW_IPS: Spec<Vec<String>> = Spec {
    key: "proxy_allow_ips",
    short: None,
    long: &["proxy-allow-from"],
    kind: Kind::Value,
    env_seed: None,
    default: "127.0.0.1,::1",
    meta: "PROXY_ALLOW_IPS",
    section: Section::ServerMechanics,
    parse: Parse::One(value::addr_list),
    field: |s| &mut s.proxy_allow_ips,
    support: Supported,
    help: "Addresses or networks (comma list, or *) allowed to send PROXY headers.",
};
pub(crate) static PROTOCOL: Spec<String> = Spec {
    key: "protocol",
    short: None,
    long: &["protocol"],
    kind: Kind::Value,
    env_seed: None,
    default: "http",
    meta: "STRING",
    section: Section::ServerMechanics,
    parse: Parse::One(|t| value::one_of(t, &["http", "uwsgi"])),
    field: |s| &mut s.protocol,
    support: Unsupported(
        "not applicable: runicorn speaks HTTP only; the uwsgi binary protocol is not planned",
    ),
    help: "The protocol for incoming connections: http or uwsgi.",
};
pub(crate) static UWSGI_ALLOW_IPS: Spec<Vec<String>> = Spec {
    key: "uwsgi_allow_ips",
    short: None,
    long: &["uwsgi-allow-from"],
    kind: Kind::Value,
    env_seed: None,
    default: "127.0.0.1,::1",
    meta: "UWSGI_ALLOW_IPS",
    section: Section::ServerMechanics,
    parse: Parse::One(value::addr_list),
    field: |s| &mut s.uwsgi_allow_ips,
    support: Unsupported(
        "not applicable: runicorn speaks HTTP only; the uwsgi binary protocol is not planned",
    ),
    help: "Addresses or networks (comma list, or *) allowed to speak uwsgi.",
};
pub(crate) static RAW_PASTE_GLOBAL_CONF: Spec<Vec<(String, String)>> = Spec {
    key: "raw_paste_global_conf",
    short: None,
    long: &["paste-global"],
    kind: Kind::Append,
    env_seed: None,
    default: "",
    meta: "CONF",
    section: Section::ServerMechanics,
    parse: Parse::Many(super::paste::global_conf),
    field: |s| &mut s.raw_paste_global_conf,
    support: Supported,
    help: "A PasteDeploy global variable as KEY=VALUE, for --paste; repeatable.\n\
         \n\
         Split at the first `=` not escaped as `\\=`; the app factory gets it in global_conf,\n\
         and the ini file can use it as %(KEY)s.",
};
pub(crate) static PERMIT_OBSOLETE_FOLDING: Spec<bool> = Spec {
    key: "permit_obsolete_folding",
    short: None,
    long: &["permit-obsolete-folding"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.permit_obsolete_folding,
    support: Supported,
    help: "Accept obsolete folded (continuation) header lines instead of a 400.",
};
pub(crate) static STRIP_HEADER_SPACES: Spec<bool> = Spec {
    key: "strip_header_spaces",
    short: None,
    long: &["strip-header-spaces"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.strip_header_spaces,
    support: Supported,
    help: "Strip blanks between a header name and its colon (unsafe, deprecated).",
};
pub(crate) static PERMIT_UNCONVENTIONAL_HTTP_METHOD: Spec<bool> = Spec {
    key: "permit_unconventional_http_method",
    short: None,
    long: &["permit-unconventional-http-method"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.permit_unconventional_http_method,
    support: Supported,
    help: "Accept HTTP methods that break naming conventions (length, case, #).",
};
pub(crate) static PERMIT_UNCONVENTIONAL_HTTP_VERSION: Spec<bool> = Spec {
    key: "permit_unconventional_http_version",
    short: None,
    long: &["permit-unconventional-http-version"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.permit_unconventional_http_version,
    support: Supported,
    help: "Accept HTTP versions other than 1.x.",
};
pub(crate) static CASEFOLD_HTTP_METHOD: Spec<bool> = Spec {
    key: "casefold_http_method",
    short: None,
    long: &["casefold-http-method"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::ServerMechanics,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.casefold_http_method,
    support: Supported,
    help: "Upper-case received HTTP methods (legacy, deprecated).",
};
pub(crate) static FORWARDER_HEADERS: Spec<Vec<String>> = Spec {
    key: "forwarder_headers",
    short: None,
    long: &["forwarder-headers"],
    kind: Kind::Value,
    env_seed: None,
    default: "SCRIPT_NAME,PATH_INFO",
    meta: "FORWARDER_HEADERS",
    section: Section::ServerMechanics,
    parse: Parse::One(value::comma_list),
    field: |s| &mut s.forwarder_headers,
    support: Supported,
    help: "Headers with underscores a trusted proxy may pass into the environ.\n\
         \n\
         From a peer in --forwarded-allow-ips these names (* for any) reach the WSGI environ\n\
         as HTTP_* although they contain `_`, and a SCRIPT_NAME header also becomes the\n\
         request's SCRIPT_NAME (PATH_INFO is what follows it), as in Gunicorn 27. Under\n\
         -k asgi they stay in the scope's headers, and SCRIPT_NAME is the request's\n\
         root_path (Gunicorn's ASGI worker leaves root_path alone).",
};
pub(crate) static HEADER_MAP: Spec<crate::http::head::HeaderMap> = Spec {
    key: "header_map",
    short: None,
    long: &["header-map"],
    kind: Kind::Value,
    env_seed: None,
    default: "drop",
    meta: "HEADER_MAP",
    section: Section::ServerMechanics,
    parse: Parse::One(value::header_map),
    field: |s| &mut s.header_map,
    support: Supported,
    help: "How header names with underscores are handled: drop, refuse or dangerous.\n\
         \n\
         For WSGI apps, as Gunicorn: `drop` leaves them out of the environ (X_Forwarded_For\n\
         could otherwise pose as X-Forwarded-For: both map to HTTP_X_FORWARDED_FOR),\n\
         `refuse` answers 400, `dangerous` maps them like any other header.",
};
pub(crate) static ROOT_PATH: Spec<String> = Spec {
    key: "root_path",
    short: None,
    long: &["root-path"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "STRING",
    section: Section::ServerMechanics,
    parse: Parse::One(value::string),
    field: |s| &mut s.root_path,
    support: Supported,
    help: "The root path for ASGI applications.",
};

// ===== Section::Logging =====
pub(crate) static ACCESSLOG: Spec<Option<String>> = Spec {
    key: "accesslog",
    short: None,
    long: &["access-logfile"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "FILE",
    section: Section::Logging,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.accesslog,
    support: Supported,
    help: "The access log file to write to; `-` means stdout.\n\
         \n\
         Default: no access log.",
};
pub(crate) static DISABLE_REDIRECT_ACCESS_TO_SYSLOG: Spec<bool> = Spec {
    key: "disable_redirect_access_to_syslog",
    short: None,
    long: &["disable-redirect-access-to-syslog"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Logging,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.disable_redirect_access_to_syslog,
    support: Supported,
    help: "Do not send access log lines to syslog.\n\
         \n\
         Without it, --log-syslog also sends every access line (at INFO) to syslog, even\n\
         when no --access-logfile is set, as Gunicorn does.",
};
pub(crate) static ACCESS_LOG_FORMAT: Spec<crate::access_log::Format> = Spec {
    key: "access_log_format",
    short: None,
    long: &["access-logformat"],
    kind: Kind::Value,
    env_seed: None,
    default: "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"",
    meta: "STRING",
    section: Section::Logging,
    parse: Parse::One(value::access_log_format),
    field: |s| &mut s.access_log_format,
    support: Supported,
    help: "The access log format, with Gunicorn's %(atom)s placeholders.\n\
         \n\
         Compiled once at start-up; a malformed format is a configuration error naming the\n\
         byte offset. `@gunicorn` (the default), `@common`, `@combined`, `@timing` and\n\
         `@json` select presets; `@./path` or `@/path` read a format from a file.",
};
pub(crate) static ACCESS_LOG_SKIP: Spec<Vec<String>> = Spec {
    key: "access_log_skip",
    short: None,
    long: &["access-log-skip"],
    kind: Kind::Append,
    env_seed: None,
    default: "",
    meta: "PATH_PREFIX",
    section: Section::Logging,
    parse: Parse::Many(value::path_prefixes),
    field: |s| &mut s.access_log_skip,
    support: Supported,
    help: "Write no access log line for requests whose path starts with this prefix\n\
         (health checks, metrics scrapes); repeatable. Matched against the raw path\n\
         (percent-encoded, without the query): `/healthz` also skips `/healthz/deep`.",
};
pub(crate) static ERRORLOG: Spec<String> = Spec {
    key: "errorlog",
    short: None,
    long: &["error-logfile", "log-file"],
    kind: Kind::Value,
    env_seed: None,
    default: "-",
    meta: "FILE",
    section: Section::Logging,
    parse: Parse::One(value::string),
    field: |s| &mut s.errorlog,
    support: Supported,
    help: "The error log file to write to; `-` means stderr.",
};
pub(crate) static LOGLEVEL: Spec<LogLevel> = Spec {
    key: "loglevel",
    short: None,
    long: &["log-level"],
    kind: Kind::Value,
    env_seed: None,
    default: "info",
    meta: "LEVEL",
    section: Section::Logging,
    parse: Parse::One(LogLevel::parse),
    field: |s| &mut s.loglevel,
    support: Supported,
    help: "The error log level: debug, info, warning, error or critical.",
};
pub(crate) static CAPTURE_OUTPUT: Spec<bool> = Spec {
    key: "capture_output",
    short: None,
    long: &["capture-output"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Logging,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.capture_output,
    support: Supported,
    help: "Send the workers' stdout and stderr to the error log file.",
};
pub(crate) static LOGGER_CLASS: Spec<String> = Spec {
    key: "logger_class",
    short: None,
    long: &["logger-class"],
    kind: Kind::Value,
    env_seed: None,
    default: "gunicorn.glogging.Logger",
    meta: "STRING",
    section: Section::Logging,
    parse: Parse::One(value::string),
    field: |s| &mut s.logger_class,
    support: Unsupported(
        "not applicable: it names a Python logger class; runicorn's logger is built in",
    ),
    help: "The Python logger class Gunicorn uses.",
};
pub(crate) static LOGCONFIG: Spec<Option<String>> = Spec {
    key: "logconfig",
    short: None,
    long: &["log-config"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "FILE",
    section: Section::Logging,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.logconfig,
    support: Supported,
    help: "A logging configuration file (Python fileConfig format) for the app's loggers.\n\nApplied to Python's `logging` in the workers (and in the master when a Python config\nfile runs there); runicorn's own error and access logs keep their formats.",
};
pub(crate) static LOGCONFIG_DICT: Spec<String> = Spec {
    key: "logconfig_dict",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "{}",
    meta: "DICT",
    section: Section::Logging,
    parse: Parse::One(value::string),
    field: |s| &mut s.logconfig_dict,
    support: Supported,
    help: "A logging.config.dictConfig dict for the app's loggers (config file only).\n\nMerged shallowly over Gunicorn's defaults; wins over logconfig_json and logconfig.",
};
pub(crate) static LOGCONFIG_JSON: Spec<Option<String>> = Spec {
    key: "logconfig_json",
    short: None,
    long: &["log-config-json"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "FILE",
    section: Section::Logging,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.logconfig_json,
    support: Supported,
    help: "A JSON logging configuration file (dictConfig format) for the app's loggers.\n\nWins over --log-config.",
};
pub(crate) static SYSLOG_ADDR: Spec<super::target::SyslogTarget> = Spec {
    key: "syslog_addr",
    short: None,
    long: &["log-syslog-to"],
    kind: Kind::Value,
    env_seed: None,
    default: "udp://localhost:514",
    meta: "SYSLOG_ADDR",
    section: Section::Logging,
    parse: Parse::One(value::syslog_addr),
    field: |s| &mut s.syslog_addr,
    support: Supported,
    help: "Where syslog messages go: udp://HOST:PORT, tcp://HOST:PORT or unix://PATH.\n\
         \n\
         The port defaults to 514. unix://PATH#dgram is a datagram socket; a unix socket\n\
         without #dgram (or with #stream) is tried as a datagram socket, then as a stream\n\
         socket. An unreachable target never delays or fails a\n\
         request: messages are dropped and the outage is reported once on the error log.",
};
pub(crate) static SYSLOG: Spec<bool> = Spec {
    key: "syslog",
    short: None,
    long: &["log-syslog"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Logging,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.syslog,
    support: Supported,
    help: "Send the server's logs to syslog.\n\
         \n\
         Error-log lines (and access lines, see --disable-redirect-access-to-syslog) are\n\
         sent as Gunicorn sends them: `<PRI>gunicorn.<prefix>.<error|access>: [pid] msg`\n\
         followed by a NUL byte, one message per datagram, besides the usual log files.",
};
pub(crate) static SYSLOG_PREFIX: Spec<Option<String>> = Spec {
    key: "syslog_prefix",
    short: None,
    long: &["log-syslog-prefix"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "SYSLOG_PREFIX",
    section: Section::Logging,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.syslog_prefix,
    support: Supported,
    help: "The program name in syslog entries.\n\
         \n\
         Default: the process name (--name, else the application), with `:` turned\n\
         into `.`.",
};
pub(crate) static SYSLOG_FACILITY: Spec<super::target::Facility> = Spec {
    key: "syslog_facility",
    short: None,
    long: &["log-syslog-facility"],
    kind: Kind::Value,
    env_seed: None,
    default: "user",
    meta: "SYSLOG_FACILITY",
    section: Section::Logging,
    parse: Parse::One(value::syslog_facility),
    field: |s| &mut s.syslog_facility,
    support: Supported,
    help: "The syslog facility name (user, daemon, local0 to local7, ...).\n\
         \n\
         All of Gunicorn's names: auth, authpriv, cron, daemon, ftp, kern, lpr, mail, news,\n\
         security, syslog, user, uucp and local0 to local7, in any case.",
};
pub(crate) static ENABLE_STDIO_INHERITANCE: Spec<bool> = Spec {
    key: "enable_stdio_inheritance",
    short: Some('R'),
    long: &["enable-stdio-inheritance"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Logging,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.enable_stdio_inheritance,
    support: Supported,
    help: "Keep stdio open in daemon mode.",
};
pub(crate) static STATSD_HOST: Spec<Option<super::target::StatsdTarget>> = Spec {
    key: "statsd_host",
    short: None,
    long: &["statsd-host"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "STATSD_ADDR",
    section: Section::Logging,
    parse: Parse::One(value::statsd_host),
    field: |s| &mut s.statsd_host,
    support: Supported,
    help: "The StatsD server to send metrics to: HOST:PORT or unix://PATH.\n\
         \n\
         The port defaults to 8125. Gunicorn's metrics, one per datagram:\n\
         gunicorn.requests and\n\
         gunicorn.request.status.<code> (counters), gunicorn.request.duration (timer, ms),\n\
         gunicorn.workers (gauge, from the master, when it changes) and\n\
         gunicorn.log.{critical,error,warning,exception} (counters). Sent on non-blocking\n\
         sockets: a dead collector never slows a request.",
};
pub(crate) static DOGSTATSD_TAGS: Spec<String> = Spec {
    key: "dogstatsd_tags",
    short: None,
    long: &["dogstatsd-tags"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "DOGSTATSD_TAGS",
    section: Section::Logging,
    parse: Parse::One(value::string),
    field: |s| &mut s.dogstatsd_tags,
    support: Supported,
    help: "Comma-separated DogStatsD tags to add to every metric.",
};
pub(crate) static STATSD_PREFIX: Spec<String> = Spec {
    key: "statsd_prefix",
    short: None,
    long: &["statsd-prefix"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "STATSD_PREFIX",
    section: Section::Logging,
    parse: Parse::One(value::string),
    field: |s| &mut s.statsd_prefix,
    support: Supported,
    help: "A prefix for StatsD metric names (a trailing `.` is added).",
};
pub(crate) static ENABLE_BACKLOG_METRIC: Spec<bool> = Spec {
    key: "enable_backlog_metric",
    short: None,
    long: &["enable-backlog-metric"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Logging,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.enable_backlog_metric,
    support: Supported,
    help: "Report the listen backlog length as a metric (Linux only).\n\
         \n\
         Once a second the master sends gunicorn.backlog (histogram) to StatsD: the\n\
         connections waiting in the TCP listeners' accept queues. With --metrics-bind it\n\
         is also exported as runicorn_listen_backlog.",
};
pub(crate) static METRICS_BIND: Spec<Option<String>> = Spec {
    key: "metrics_bind",
    short: None,
    long: &["metrics-bind"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "ADDRESS",
    section: Section::Logging,
    parse: Parse::One(value::metrics_bind),
    field: |s| &mut s.metrics_bind,
    support: Supported,
    help: "Serve Prometheus metrics on HOST:PORT (path /metrics).\n\
         \n\
         A runicorn addition, served by the master from counters every worker keeps in\n\
         shared memory: requests, a request-duration histogram, responses by status,\n\
         requests refused by the HTTP edge (by status), slow clients cut off (header,\n\
         body, send deadlines), TLS handshakes, workers and worker restarts by reason.\n\
         Counts of exited workers are kept. Keep it on a private address.",
};

// ===== Section::ProcessNaming =====
pub(crate) static PROC_NAME: Spec<Option<String>> = Spec {
    key: "proc_name",
    short: Some('n'),
    long: &["name"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "STRING",
    section: Section::ProcessNaming,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.proc_name,
    support: Supported,
    help: "A base name for process titles.\n\
         \n\
         Default: default_proc_name (the application).",
};
pub(crate) static DEFAULT_PROC_NAME: Spec<String> = Spec {
    key: "default_proc_name",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "runicorn",
    meta: "STRING",
    section: Section::ProcessNaming,
    parse: Parse::One(value::string),
    field: |s| &mut s.default_proc_name,
    support: Supported,
    help: "The process title base when proc_name is unset; set from APP_MODULE.",
};

// ===== Section::ServerHooks =====
pub(crate) static ON_STARTING: Spec<Option<String>> = Spec {
    key: "on_starting",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("on_starting").or_default(),
    support: Supported,
    help: "The `on_starting` server hook (Python callable; config file only).",
};
pub(crate) static ON_RELOAD: Spec<Option<String>> = Spec {
    key: "on_reload",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("on_reload").or_default(),
    support: Supported,
    help: "The `on_reload` server hook (Python callable; config file only).",
};
pub(crate) static WHEN_READY: Spec<Option<String>> = Spec {
    key: "when_ready",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("when_ready").or_default(),
    support: Supported,
    help: "The `when_ready` server hook (Python callable; config file only).",
};
pub(crate) static PRE_FORK: Spec<Option<String>> = Spec {
    key: "pre_fork",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("pre_fork").or_default(),
    support: Supported,
    help: "The `pre_fork` server hook (Python callable; config file only).",
};
pub(crate) static POST_FORK: Spec<Option<String>> = Spec {
    key: "post_fork",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("post_fork").or_default(),
    support: Supported,
    help: "The `post_fork` server hook (Python callable; config file only).",
};
pub(crate) static POST_WORKER_INIT: Spec<Option<String>> = Spec {
    key: "post_worker_init",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("post_worker_init").or_default(),
    support: Supported,
    help: "The `post_worker_init` server hook (Python callable; config file only).",
};
pub(crate) static WORKER_INT: Spec<Option<String>> = Spec {
    key: "worker_int",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("worker_int").or_default(),
    support: Supported,
    help: "The `worker_int` server hook (Python callable; config file only).",
};
pub(crate) static WORKER_ABORT: Spec<Option<String>> = Spec {
    key: "worker_abort",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("worker_abort").or_default(),
    support: Supported,
    help: "The `worker_abort` server hook (Python callable; config file only).",
};
pub(crate) static PRE_EXEC: Spec<Option<String>> = Spec {
    key: "pre_exec",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("pre_exec").or_default(),
    support: Supported,
    help: "The `pre_exec` server hook (Python callable; config file only).",
};
pub(crate) static PRE_REQUEST: Spec<Option<String>> = Spec {
    key: "pre_request",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("pre_request").or_default(),
    support: Supported,
    help: "The `pre_request` server hook (Python callable; config file only).",
};
pub(crate) static POST_REQUEST: Spec<Option<String>> = Spec {
    key: "post_request",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("post_request").or_default(),
    support: Supported,
    help: "The `post_request` server hook (Python callable; config file only).",
};
pub(crate) static CHILD_EXIT: Spec<Option<String>> = Spec {
    key: "child_exit",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("child_exit").or_default(),
    support: Supported,
    help: "The `child_exit` server hook (Python callable; config file only).",
};
pub(crate) static WORKER_EXIT: Spec<Option<String>> = Spec {
    key: "worker_exit",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("worker_exit").or_default(),
    support: Supported,
    help: "The `worker_exit` server hook (Python callable; config file only).",
};
pub(crate) static NWORKERS_CHANGED: Spec<Option<String>> = Spec {
    key: "nworkers_changed",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("nworkers_changed").or_default(),
    support: Supported,
    help: "The `nworkers_changed` server hook (Python callable; config file only).",
};
pub(crate) static ON_EXIT: Spec<Option<String>> = Spec {
    key: "on_exit",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("on_exit").or_default(),
    support: Supported,
    help: "The `on_exit` server hook (Python callable; config file only).",
};
pub(crate) static SSL_CONTEXT: Spec<Option<String>> = Spec {
    key: "ssl_context",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::ServerHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("ssl_context").or_default(),
    support: Unsupported(
        "TLS is configured by settings (--certfile, --keyfile, --ciphers, --ca-certs, --cert-reqs, --sni-cert); the ssl_context hook is never called",
    ),
    help: "The `ssl_context` server hook (Python callable; config file only).",
};

// ===== Section::Ssl =====
pub(crate) static KEYFILE: Spec<Option<String>> = Spec {
    key: "keyfile",
    short: None,
    long: &["keyfile"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "FILE",
    section: Section::Ssl,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.keyfile,
    support: Supported,
    help: "The TLS private key file (PEM); setting it turns TLS on.\n\
         \n\
         PKCS#8, PKCS#1 (RSA) and SEC1 (EC) keys are read. Without --keyfile the key is read\n\
         from --certfile. The key must match the certificate: a mismatch, like a missing or\n\
         unreadable file, stops runicorn at startup (on HUP the previous files are kept).",
};
pub(crate) static CERTFILE: Spec<Option<String>> = Spec {
    key: "certfile",
    short: None,
    long: &["certfile"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "FILE",
    section: Section::Ssl,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.certfile,
    support: Supported,
    help: "The TLS certificate chain file (PEM); setting it turns TLS on.\n\
         \n\
         The leaf comes first, then intermediates. TLS 1.2 and 1.3 only, with the server's\n\
         cipher order; every listener then speaks TLS. An expired leaf is a startup error.\n\
         HUP re-reads the files: new workers use them, and if they are broken the previous\n\
         certificate is kept and an error logged.",
};
pub(crate) static SSL_VERSION: Spec<String> = Spec {
    key: "ssl_version",
    short: None,
    long: &["ssl-version"],
    kind: Kind::Value,
    env_seed: None,
    default: "2",
    meta: "SSL_VERSION",
    section: Section::Ssl,
    parse: Parse::One(value::string),
    field: |s| &mut s.ssl_version,
    support: Unneeded(
        "deprecated: Gunicorn has ignored it since 21.0; runicorn always negotiates TLS 1.2 or 1.3",
    ),
    help: "The TLS protocol version (deprecated and ignored).",
};
pub(crate) static CERT_REQS: Spec<u32> = Spec {
    key: "cert_reqs",
    short: None,
    long: &["cert-reqs"],
    kind: Kind::Value,
    env_seed: None,
    default: "0",
    meta: "CERT_REQS",
    section: Section::Ssl,
    parse: Parse::One(|t| value::ranged(t, 0, 2)),
    field: |s| &mut s.cert_reqs,
    support: Supported,
    help: "Client certificates: 0 none, 1 optional, 2 required.\n\
         \n\
         1 and 2 verify a presented certificate against --ca-certs (which they need); 2\n\
         refuses clients that send none.",
};
pub(crate) static CA_CERTS: Spec<Option<String>> = Spec {
    key: "ca_certs",
    short: None,
    long: &["ca-certs"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "FILE",
    section: Section::Ssl,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.ca_certs,
    support: Supported,
    help: "The CA certificates file (PEM) for client certificates.\n\
         \n\
         Used when --cert-reqs is 1 or 2.",
};
pub(crate) static SUPPRESS_RAGGED_EOFS: Spec<bool> = Spec {
    key: "suppress_ragged_eofs",
    short: None,
    long: &["suppress-ragged-eofs"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "true",
    meta: "",
    section: Section::Ssl,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.suppress_ragged_eofs,
    support: Supported,
    help: "Treat a TLS connection closed without close_notify as a clean end.\n\
         \n\
         When false, such a close ends the connection as an error (logged at debug). A\n\
         request cut short is an error either way.",
};
pub(crate) static DO_HANDSHAKE_ON_CONNECT: Spec<bool> = Spec {
    key: "do_handshake_on_connect",
    short: None,
    long: &["do-handshake-on-connect"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Ssl,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.do_handshake_on_connect,
    support: Unneeded(
        "runicorn always handshakes at once, in the connection's own task under --tls-handshake-timeout, so a slow client never blocks others",
    ),
    help: "Do the TLS handshake as soon as a connection is accepted.",
};
pub(crate) static CIPHERS: Spec<Option<String>> = Spec {
    key: "ciphers",
    short: None,
    long: &["ciphers"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CIPHERS",
    section: Section::Ssl,
    parse: Parse::One(super::ciphers::validate),
    field: |s| &mut s.ciphers,
    support: Supported,
    help: "The TLS cipher suites, in order of preference, comma- or colon-separated.\n\
         \n\
         Names are rustls's or IANA's (TLS13_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256,\n\
         TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) or OpenSSL's for single suites\n\
         (ECDHE-RSA-AES128-GCM-SHA256). OpenSSL cipher strings (HIGH:!aNULL, ...) cannot be\n\
         mapped and are a configuration error. Unset: rustls's defaults.",
};

pub(crate) static TLS_HANDSHAKE_TIMEOUT: Spec<u64> = Spec {
    key: "tls_handshake_timeout",
    short: None,
    long: &["tls-handshake-timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "10",
    meta: "INT",
    section: Section::Ssl,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.tls_handshake_timeout,
    support: Supported,
    help: "runicorn: seconds a client may take to finish the TLS handshake; 0 = no limit.\n\
         \n\
         The handshake runs in the connection's own task, so a slow or silent client only\n\
         holds its own connection slot until this timeout.",
};
pub(crate) static SNI_CERT: Spec<Vec<String>> = Spec {
    key: "sni_cert",
    short: None,
    long: &["sni-cert"],
    kind: Kind::Append,
    env_seed: None,
    default: "",
    meta: "NAME=CERTFILE:KEYFILE",
    section: Section::Ssl,
    parse: Parse::Many(super::sni::validate),
    field: |s| &mut s.sni_cert,
    support: Supported,
    help: "runicorn: a certificate for one TLS server name (SNI); repeatable.\n\
         \n\
         NAME is a DNS name or *.domain (one label); the key path is what follows the last\n\
         colon. Clients asking for another name, or none, get --certfile/--keyfile, which\n\
         must be set. In a config file: sni_cert = [\"api.example.com=api.pem:api.key\"].",
};

// ===== Section::Http2 =====
pub(crate) static HTTP_PROTOCOLS: Spec<Vec<String>> = Spec {
    key: "http_protocols",
    short: None,
    long: &["http-protocols"],
    kind: Kind::Value,
    env_seed: None,
    default: "h1",
    meta: "STRING",
    section: Section::Http2,
    parse: Parse::One(value::http_protocols),
    field: |s| &mut s.http_protocols,
    support: Supported,
    help: "HTTP versions to offer, comma-separated in order of preference: h1, h2.\n\
         \n\
         The order is the TLS ALPN preference. h2 needs TLS, or --http2-cleartext \
         for HTTP/2 without TLS (h2c).",
};
pub(crate) static HTTP2_CLEARTEXT: Spec<super::h2c::Http2Cleartext> = Spec {
    key: "http2_cleartext",
    short: None,
    long: &["http2-cleartext"],
    kind: Kind::Value,
    env_seed: None,
    default: "off",
    meta: "STRING",
    section: Section::Http2,
    parse: Parse::One(str::parse),
    field: |s| &mut s.http2_cleartext,
    support: Supported,
    help: "Accept HTTP/2 without TLS (h2c): off, prior-knowledge, upgrade or both.\n\
         \n\
         prior-knowledge serves connections that open with the HTTP/2 preface; upgrade \
         honours an HTTP/1.1 request with Upgrade: h2c (without a body); both accepts \
         either. Plain HTTP/1.1 keeps working on the same port. Only peers in \
         forwarded_allow_ips (and Unix-socket peers) may use it; others get HTTP/1.x as \
         if this were off. Needs h2 in http_protocols; ignored when TLS is on (ALPN \
         chooses there).",
};
pub(crate) static HTTP2_MAX_CONCURRENT_STREAMS: Spec<u32> = Spec {
    key: "http2_max_concurrent_streams",
    short: None,
    long: &["http2-max-concurrent-streams"],
    kind: Kind::Value,
    env_seed: None,
    default: "100",
    meta: "INT",
    section: Section::Http2,
    parse: Parse::One(value::positive::<u32>),
    field: |s| &mut s.http2_max_concurrent_streams,
    support: Supported,
    help: "The maximum number of concurrent HTTP/2 streams per connection.",
};
pub(crate) static HTTP2_INITIAL_WINDOW_SIZE: Spec<u32> = Spec {
    key: "http2_initial_window_size",
    short: None,
    long: &["http2-initial-window-size"],
    kind: Kind::Value,
    env_seed: None,
    default: "65535",
    meta: "INT",
    section: Section::Http2,
    parse: Parse::One(|t| value::ranged(t, 0, 2_147_483_647)),
    field: |s| &mut s.http2_initial_window_size,
    support: Supported,
    help: "The initial HTTP/2 flow-control window size in bytes.",
};
pub(crate) static HTTP2_MAX_FRAME_SIZE: Spec<u32> = Spec {
    key: "http2_max_frame_size",
    short: None,
    long: &["http2-max-frame-size"],
    kind: Kind::Value,
    env_seed: None,
    default: "16384",
    meta: "INT",
    section: Section::Http2,
    parse: Parse::One(|t| value::ranged(t, 16_384, 16_777_215)),
    field: |s| &mut s.http2_max_frame_size,
    support: Supported,
    help: "The maximum HTTP/2 frame payload size in bytes.",
};
pub(crate) static HTTP2_MAX_HEADER_LIST_SIZE: Spec<u32> = Spec {
    key: "http2_max_header_list_size",
    short: None,
    long: &["http2-max-header-list-size"],
    kind: Kind::Value,
    env_seed: None,
    default: "65536",
    meta: "INT",
    section: Section::Http2,
    parse: Parse::One(value::uint::<u32>),
    field: |s| &mut s.http2_max_header_list_size,
    support: Supported,
    help: "The maximum size of an HTTP/2 header list in bytes; 0 = unlimited.",
};

// ===== Section::DirtyArbiters =====
pub(crate) static DIRTY_APPS: Spec<Vec<String>> = Spec {
    key: "dirty_apps",
    short: None,
    long: &["dirty-app"],
    kind: Kind::Append,
    env_seed: None,
    default: "",
    meta: "STRING",
    section: Section::DirtyArbiters,
    parse: Parse::Many(value::strings),
    field: |s| &mut s.dirty_apps,
    support: Unsupported("not applicable: dirty arbiters are a Gunicorn-specific Python task pool"),
    help: "A dirty application to load (MODULE:CLASS[:N]); repeatable.",
};
pub(crate) static DIRTY_WORKERS: Spec<u32> = Spec {
    key: "dirty_workers",
    short: None,
    long: &["dirty-workers"],
    kind: Kind::Value,
    env_seed: None,
    default: "0",
    meta: "INT",
    section: Section::DirtyArbiters,
    parse: Parse::One(value::uint::<u32>),
    field: |s| &mut s.dirty_workers,
    support: Unsupported("not applicable: dirty arbiters are a Gunicorn-specific Python task pool"),
    help: "The number of dirty worker processes.",
};
pub(crate) static DIRTY_TIMEOUT: Spec<u64> = Spec {
    key: "dirty_timeout",
    short: None,
    long: &["dirty-timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "300",
    meta: "INT",
    section: Section::DirtyArbiters,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.dirty_timeout,
    support: Unsupported("not applicable: dirty arbiters are a Gunicorn-specific Python task pool"),
    help: "Seconds a dirty task may run.",
};
pub(crate) static DIRTY_THREADS: Spec<u32> = Spec {
    key: "dirty_threads",
    short: None,
    long: &["dirty-threads"],
    kind: Kind::Value,
    env_seed: None,
    default: "1",
    meta: "INT",
    section: Section::DirtyArbiters,
    parse: Parse::One(value::uint::<u32>),
    field: |s| &mut s.dirty_threads,
    support: Unsupported("not applicable: dirty arbiters are a Gunicorn-specific Python task pool"),
    help: "The number of threads per dirty worker.",
};
pub(crate) static DIRTY_GRACEFUL_TIMEOUT: Spec<u64> = Spec {
    key: "dirty_graceful_timeout",
    short: None,
    long: &["dirty-graceful-timeout"],
    kind: Kind::Value,
    env_seed: None,
    default: "30",
    meta: "INT",
    section: Section::DirtyArbiters,
    parse: Parse::One(value::uint::<u64>),
    field: |s| &mut s.dirty_graceful_timeout,
    support: Unsupported("not applicable: dirty arbiters are a Gunicorn-specific Python task pool"),
    help: "Seconds dirty workers get to stop gracefully.",
};

// ===== Section::DirtyArbiterHooks =====
pub(crate) static ON_DIRTY_STARTING: Spec<Option<String>> = Spec {
    key: "on_dirty_starting",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::DirtyArbiterHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("on_dirty_starting").or_default(),
    support: Unsupported("dirty arbiters are not supported, so their hooks are never called"),
    help: "The `on_dirty_starting` dirty-arbiter hook (Python callable; config file only).",
};
pub(crate) static DIRTY_POST_FORK: Spec<Option<String>> = Spec {
    key: "dirty_post_fork",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::DirtyArbiterHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("dirty_post_fork").or_default(),
    support: Unsupported("dirty arbiters are not supported, so their hooks are never called"),
    help: "The `dirty_post_fork` dirty-arbiter hook (Python callable; config file only).",
};
pub(crate) static DIRTY_WORKER_INIT: Spec<Option<String>> = Spec {
    key: "dirty_worker_init",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::DirtyArbiterHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("dirty_worker_init").or_default(),
    support: Unsupported("dirty arbiters are not supported, so their hooks are never called"),
    help: "The `dirty_worker_init` dirty-arbiter hook (Python callable; config file only).",
};
pub(crate) static DIRTY_WORKER_EXIT: Spec<Option<String>> = Spec {
    key: "dirty_worker_exit",
    short: None,
    long: &[],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "CALLABLE",
    section: Section::DirtyArbiterHooks,
    parse: Parse::One(value::opt_string),
    field: |s| s.hooks.entry("dirty_worker_exit").or_default(),
    support: Unsupported("dirty arbiters are not supported, so their hooks are never called"),
    help: "The `dirty_worker_exit` dirty-arbiter hook (Python callable; config file only).",
};

// ===== Section::Control =====
pub(crate) static CONTROL_SOCKET: Spec<Option<String>> = Spec {
    key: "control_socket",
    short: None,
    long: &["control-socket"],
    kind: Kind::Value,
    env_seed: None,
    default: "",
    meta: "PATH",
    section: Section::Control,
    parse: Parse::One(value::opt_string),
    field: |s| &mut s.control_socket,
    support: Supported,
    help: "The unix socket of the control interface that Gunicorn's `gunicornc` drives.\n\
         \n\
         On by default, as in Gunicorn: `$XDG_RUNTIME_DIR/gunicorn.ctl` when that directory\n\
         exists, else `$HOME/.gunicorn/gunicorn.ctl` (the directory is created, mode 0700).\n\
         A relative path is taken from the working directory at start.",
};
pub(crate) static CONTROL_SOCKET_MODE: Spec<u32> = Spec {
    key: "control_socket_mode",
    short: None,
    long: &["control-socket-mode"],
    kind: Kind::Value,
    env_seed: None,
    default: "384",
    meta: "INT",
    section: Section::Control,
    parse: Parse::One(value::umask),
    field: |s| &mut s.control_socket_mode,
    support: Supported,
    help: "The permission bits of the control socket (default 0600: its owner only).\n\
         \n\
         Decimal, 0o/0x prefixed, or octal with a leading zero (0660).",
};
pub(crate) static CONTROL_SOCKET_DISABLE: Spec<bool> = Spec {
    key: "control_socket_disable",
    short: None,
    long: &["no-control-socket"],
    kind: Kind::Switch("true"),
    env_seed: None,
    default: "false",
    meta: "",
    section: Section::Control,
    parse: Parse::One(value::boolean),
    field: |s| &mut s.control_socket_disable,
    support: Supported,
    help: "Disable the control socket.",
};
