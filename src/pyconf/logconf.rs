//! Python `logging` set-up, as Gunicorn's `glogging.Logger.setup` does it: the
//! `gunicorn.error` and `gunicorn.access` loggers exist for apps that look them up, and
//! `logconfig_dict` > `logconfig_json` > `logconfig` (ini) configure the rest, merged
//! shallowly over Gunicorn's `CONFIG_DEFAULTS`. runicorn's own error and access logs stay
//! in Rust; by default `gunicorn.error` feeds runicorn's error log (same format and
//! level) and `gunicorn.access` writes bare lines to the `accesslog` destination.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;

use crate::config::Settings;

/// Set once logging is configured in this process; a forked worker inherits it, so a
/// master that configured logging (a Python config file) is not repeated per worker.
static APPLIED: AtomicBool = AtomicBool::new(false);

const SETUP: &std::ffi::CStr = cr#"
import json, logging, logging.config, os, sys

CONFIG_DEFAULTS = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"],
                           "propagate": True, "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"],
                            "propagate": False, "qualname": "gunicorn.access"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "generic",
                    "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "generic",
                          "stream": "ext://sys.stderr"},
    },
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                    "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
                    "class": "logging.Formatter"},
    },
}

class ErrorLogHandler(logging.Handler):
    """Hands records to runicorn's error log, which adds Gunicorn's prefix."""
    def __init__(self, sink):
        super().__init__()
        self._sink = sink

    def emit(self, record):
        try:
            self._sink(record.levelno, self.format(record))
        except Exception:
            self.handleError(record)

def setup(sink, level, accesslog, dict_cfg, json_path, ini_path):
    err = logging.getLogger("gunicorn.error")
    err.handlers[:] = [ErrorLogHandler(sink)]
    err.setLevel(level)
    err.propagate = False
    acc = logging.getLogger("gunicorn.access")
    acc.handlers[:] = []
    acc.setLevel(logging.INFO)
    acc.propagate = False
    if accesslog:
        h = logging.StreamHandler(sys.stdout) if accesslog == "-" else logging.FileHandler(accesslog)
        h.setFormatter(logging.Formatter("%(message)s"))
        acc.addHandler(h)
    if dict_cfg is not None:
        cfg = dict(CONFIG_DEFAULTS)
        cfg.update(dict_cfg)
        logging.config.dictConfig(cfg)
    elif json_path:
        with open(json_path) as f:
            try:
                loaded = json.load(f)
            except json.JSONDecodeError as e:
                raise RuntimeError("Log config %r not valid JSON: %s" % (json_path, e))
        cfg = dict(CONFIG_DEFAULTS)
        cfg.update(loaded)
        logging.config.dictConfig(cfg)
    elif ini_path:
        if not os.path.exists(ini_path):
            raise RuntimeError("log config %r not found" % ini_path)
        defaults = {"__file__": ini_path, "here": os.path.dirname(ini_path)}
        logging.config.fileConfig(ini_path, defaults=defaults, disable_existing_loggers=False)
"#;

/// Routes a Python log record to runicorn's error log at the matching level.
#[pyfunction]
fn error_log(level: i32, message: &str) {
    match level {
        l if l >= 50 => crate::critical!("{message}"),
        l if l >= 40 => tracing::error!("{message}"),
        l if l >= 30 => tracing::warn!("{message}"),
        l if l >= 20 => tracing::info!("{message}"),
        _ => tracing::debug!("{message}"),
    }
}

/// Whether this process (or the master it was forked from) configured logging already.
pub(crate) fn applied() -> bool {
    APPLIED.load(Ordering::Relaxed)
}

/// Configures Python logging from `s`. The error names the file or dict at fault.
pub(crate) fn apply(py: Python<'_>, s: &Settings) -> Result<(), String> {
    let run = || -> PyResult<()> {
        let m = PyModule::from_code(py, SETUP, c"<runicorn-logging>", c"_runicorn_logging")?;
        let sink = wrap_pyfunction!(error_log, &m)?;
        let level = s.loglevel.name().to_ascii_uppercase();
        let dict_cfg: Option<Py<PyAny>> = if s.logconfig_dict.trim() == "{}" {
            None
        } else {
            match super::hooks::logconfig_dict(py) {
                Some(d) => Some(d),
                None => Some(parse_dict_text(py, &s.logconfig_dict)?),
            }
        };
        m.call_method1(
            "setup",
            (
                sink,
                level,
                s.accesslog.clone(),
                dict_cfg,
                s.logconfig_json.clone(),
                s.logconfig.clone(),
            ),
        )?;
        Ok(())
    };
    match run() {
        Ok(()) => {
            APPLIED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot configure Python logging (logconfig/logconfig_json/logconfig_dict):\n{}",
            crate::python::format_exception(py, &e)
        )),
    }
}

/// `logconfig_dict` as text: a Python literal (the repr a Python config file's dict
/// leaves) or a TOML inline table (a TOML config file).
fn parse_dict_text(py: Python<'_>, text: &str) -> PyResult<Py<PyAny>> {
    match py.import("ast")?.call_method1("literal_eval", (text,)) {
        Ok(v) => Ok(v.unbind()),
        Err(_) => {
            let toml = py.import("tomllib")?;
            Ok(toml
                .call_method1("loads", (format!("v = {text}"),))?
                .get_item("v")?
                .unbind())
        }
    }
}
