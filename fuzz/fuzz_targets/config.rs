//! Property: no command line, `GUNICORN_CMD_ARGS` value or TOML configuration text makes
//! configuration loading panic; it either resolves or reports errors, each one line.
#![no_main]

use std::ffi::OsString;

use libfuzzer_sys::fuzz_target;
use runicorn::config::{MapEnv, check_config_text, load};

fuzz_target!(|data: &[u8]| {
    // Three parts separated by 0xFF: argv (NUL-separated), GUNICORN_CMD_ARGS, TOML text.
    let mut parts = data.splitn(3, |&b| b == 0xff);
    let argv = parts.next().unwrap_or_default();
    let cmd_args = parts.next().unwrap_or_default();
    let toml = parts.next().unwrap_or_default();

    let mut args: Vec<OsString> = vec!["runicorn".into()];
    args.extend(
        argv.split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| OsString::from(String::from_utf8_lossy(a).into_owned())),
    );
    // Never read files from the fuzzing machine's disk (`-c FILE`, `@./format`).
    let cmd_args = String::from_utf8_lossy(cmd_args);
    let reads_files = |s: &str| s.contains("-c") || s.contains('@');
    if args.iter().any(|a| reads_files(&a.to_string_lossy())) || reads_files(&cmd_args) {
        return;
    }
    let env = MapEnv::from([("GUNICORN_CMD_ARGS", &*cmd_args)]);
    if let Err(runicorn::config::LoadError::Invalid(errors)) = load(&args, &env) {
        for e in errors {
            assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
        }
    }
    if let Ok(text) = std::str::from_utf8(toml)
        && let Err(errors) = check_config_text(text)
    {
        assert!(!errors.is_empty());
    }
});
