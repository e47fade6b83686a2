//! The command line and configuration as a user meets them: `--help`, precedence across
//! every layer through the real binary, `--print-config`, `--check-config`, warnings for
//! unimplemented settings, and a server configured by a TOML file.

use std::time::Duration;

use crate::util::*;

fn print_config(b: Builder) -> String {
    let (code, out, err) = b
        .no_bind()
        .arg("--print-config")
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
    out
}

fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
}

#[test]
fn help_lists_every_gunicorn_flag() {
    let (code, out, _) = Master::runicorn()
        .no_bind()
        .arg("--help")
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let flags = include_str!("../../src/config/gunicorn_flags.txt");
    let mut missing = vec![];
    for flag in flags.lines().map(str::trim).filter(|l| l.starts_with("--")) {
        if !out.contains(flag) {
            missing.push(flag);
        }
    }
    assert!(missing.is_empty(), "missing from --help: {missing:?}");
    for heading in [
        "Server Socket:",
        "Worker Processes:",
        "Logging:",
        "Security:",
    ] {
        assert!(
            out.contains(heading),
            "--help grouped by section: no {heading}"
        );
    }
}

/// A value with bytes that are not UTF-8 is refused by setting and source; before, the
/// whole GUNICORN_CMD_ARGS was dropped as if unset, without a word.
#[test]
fn a_cmd_args_value_that_is_not_utf8_is_refused_by_name() {
    use std::os::unix::ffi::OsStringExt;
    let bad = std::ffi::OsString::from_vec(b"-w \xff".to_vec());
    let (code, _, err) = Master::runicorn()
        .no_bind()
        .env_os("GUNICORN_CMD_ARGS", bad)
        .arg("--print-config")
        .run(Duration::from_secs(10));
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("for `workers` (from GUNICORN_CMD_ARGS)"),
        "{err}"
    );
}

#[test]
fn precedence_default_env_seed_file_cmd_args_cli() {
    let dir = Scratch::new("prec");
    let file = dir.path("r.toml");
    std::fs::write(&file, "workers = 3\ntimeout = 11\n").unwrap();
    let f = file.to_str().unwrap();

    let base = || Master::runicorn();
    assert!(line(&print_config(base()), "workers").contains("= 1"));
    assert!(line(&print_config(base().env("WEB_CONCURRENCY", "2")), "workers").contains("= 2"));
    let with_file = || base().env("WEB_CONCURRENCY", "2").args(["-c", f]);
    let out = print_config(with_file());
    assert!(line(&out, "workers").contains("= 3"), "{out}");
    assert!(line(&out, "timeout").contains("= 11"));
    let out = print_config(with_file().env("GUNICORN_CMD_ARGS", "-w 4"));
    assert!(line(&out, "workers").contains("= 4"));
    assert!(
        line(&out, "timeout").contains("= 11"),
        "untouched keys keep the file's value"
    );
    let out = print_config(
        with_file()
            .env("GUNICORN_CMD_ARGS", "-w 4")
            .env("RUNICORN_CMD_ARGS", "--workers=6"),
    );
    assert!(line(&out, "workers").contains("= 6"));
    let out = print_config(
        with_file()
            .env("GUNICORN_CMD_ARGS", "-w 4")
            .env("RUNICORN_CMD_ARGS", "-w 6")
            .args(["-w", "5"]),
    );
    assert!(line(&out, "workers").contains("= 5"), "{out}");
    // The other direction: a lower layer never overrides a higher one.
    let out = print_config(base().env("GUNICORN_CMD_ARGS", "-w 4").args(["-c", f]));
    assert!(
        line(&out, "workers").contains("= 4"),
        "GUNICORN_CMD_ARGS beats the file: {out}"
    );
}

#[test]
fn port_env_seeds_the_default_bind() {
    let out = print_config(Master::runicorn().env("PORT", "9123"));
    assert!(line(&out, "bind").contains("0.0.0.0:9123"), "{out}");
    let out = print_config(
        Master::runicorn()
            .env("PORT", "9123")
            .args(["-b", "127.0.0.1:7000"]),
    );
    assert!(line(&out, "bind").contains("127.0.0.1:7000") && !line(&out, "bind").contains("9123"));
}

#[test]
fn check_config_reports_every_error_with_setting_value_and_source() {
    let dir = Scratch::new("check");
    let file = dir.path("bad.toml");
    std::fs::write(&file, "workerz = 2\nbacklog = \"lots\"\n").unwrap();
    let (code, _, err) = Master::runicorn()
        .no_bind()
        .args([
            "--check-config",
            "-c",
            file.to_str().unwrap(),
            "--timeout",
            "soon",
        ])
        .env("GUNICORN_CMD_ARGS", "--graceful-timeout -1")
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("workerz") && err.contains("did you mean `workers`"),
        "{err}"
    );
    assert!(
        err.contains("\"lots\"") && err.contains("backlog") && err.contains("bad.toml"),
        "{err}"
    );
    assert!(
        err.contains("\"soon\"") && err.contains("`timeout`") && err.contains("command line"),
        "{err}"
    );
    assert!(
        err.contains("graceful_timeout") && err.contains("GUNICORN_CMD_ARGS"),
        "{err}"
    );
    let (code, _, err) = Master::runicorn()
        .no_bind()
        .args(["--check-config", "-w", "2"])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn unimplemented_settings_are_accepted_with_one_warning_each() {
    let (code, _, err) = Master::runicorn()
        .no_bind()
        .args([
            "--check-config",
            "--dirty-workers",
            "2",
            "--spew",
            "--worker-tmp-dir",
            "/dev/shm",
        ])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err.matches("setting `dirty_workers`").count(), 1, "{err}");
    assert!(err.contains("spew"), "{err}");
    assert!(
        err.contains("worker_tmp_dir") && err.contains("shared memory"),
        "{err}"
    );
}

#[test]
fn a_server_runs_from_a_toml_config_file() {
    let dir = Scratch::new("toml");
    let file = dir.path("runicorn.toml");
    std::fs::write(
        &file,
        "bind = [\"127.0.0.1:0\"]\nworkers = 2\nkeepalive = 5\n",
    )
    .unwrap();
    let m = Master::probe()
        .no_bind()
        .args(["-c", file.to_str().unwrap()])
        .spawn_listening();
    assert!(eventually(Duration::from_secs(10), || m.children().len() == 2));
    assert_eq!(m.get("/").unwrap(), (200, "Hello, World!".to_string()));
}
