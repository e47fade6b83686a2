//! Loading through every layer, precedence, provenance and printing.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::registry::ALL;
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
    let ini = TempToml::new("[app:main]\n");
    assert_eq!(
        resolve_args(&["--paster", ini.path()])
            .paste
            .map(|p| p.file),
        Some(ini.0.clone())
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
        ["invalid value \"0\" for `workers` (from GUNICORN_CMD_ARGS): must be a positive integer"]
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
            .any(|l| l.contains("\"many\" for `workers` (from config file") && l.contains("c.py")),
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
            "--logger-class",
            "my.Logger",
            "--worker-tmp-dir",
            "/dev/shm",
        ],
    )
    .unwrap();
    assert_eq!(l.warnings.len(), 2, "{:#?}", l.warnings);
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

/// `--paste`: the ini file adds Gunicorn's application-specific layer (the process name,
/// and `logconfig` when it has [loggers]) under the config file and the command line; a
/// missing file and a bad `--paste-global` name their setting.
#[test]
fn paste_layer_and_its_precedence() {
    let ini = TempToml::new(
        "[app:main]\nuse = egg:x\n[server:main]\nport = 1\nworkers = 9\n[loggers]\nkeys = root\n",
    );
    let path = ini.path();
    let env = MapEnv::default();
    let l = load_with(
        &env,
        &["--paste", path, "--paste-global", "A\\=B=c", "app:app"],
    )
    .unwrap();
    assert_eq!(l.settings.logconfig.as_deref(), Some(path));
    assert_eq!(l.settings.default_proc_name, path);
    assert_eq!(l.sources["logconfig"], Source::Paste(ini.0.clone()));
    assert_eq!(l.settings.workers, 1, "[server:main] is not read");
    assert_eq!(
        l.settings.raw_paste_global_conf,
        [("A=B".into(), "c".into())]
    );
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("APP_MODULE \"app:app\" is ignored"))
    );
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("[server:main] is not read"))
    );

    let file = TempToml::new("logconfig = \"file.ini\"\n");
    let l = load_with(&env, &["-c", file.path(), "--paste", path]).unwrap();
    assert_eq!(l.settings.logconfig.as_deref(), Some("file.ini"));
    assert_eq!(l.sources["default_proc_name"], Source::Paste(ini.0.clone()));
    let l = load_with(
        &env,
        &[
            "-c",
            file.path(),
            "--paste",
            path,
            "--log-config",
            "cli.ini",
        ],
    )
    .unwrap();
    assert_eq!(l.settings.logconfig.as_deref(), Some("cli.ini"));

    let quiet = TempToml::new("[app:main]\n");
    let l = load_with(&env, &["--paste", &format!("{}#main", quiet.path())]).unwrap();
    assert_eq!(l.settings.logconfig, None, "no [loggers]");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);

    let errors = error_lines(load_with(&env, &["--paste", "/nonexistent-runicorn/x.ini"]));
    assert_eq!(
        errors,
        [
            "invalid value \"/nonexistent-runicorn/x.ini\" for `paste` (from command line): \
          \"/nonexistent-runicorn/x.ini\" not found"
        ]
    );
    let errors = error_lines(load_with(
        &env,
        &["--paste", path, "--paste-global", "NOEQUALS"],
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("\"NOEQUALS\" for `raw_paste_global_conf`")
            && errors[0].contains("KEY=VALUE"),
        "{errors:?}"
    );
}
