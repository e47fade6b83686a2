//! Executing a Python config file (`-c FILE.py`, `-c python:module`, an implicit
//! `./gunicorn.conf.py`) in the master's embedded interpreter and turning its
//! module-level names into a settings `Layer`, with Gunicorn's rules: every name that is
//! a setting key sets it, other names are ignored (a likely misspelling is warned
//! about). Values are converted to the raw text the shared parsers validate, so errors
//! read exactly like those of a TOML file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::config::ConfigError;
use crate::config::layer::{Layer, Raw, Source};
use crate::config::registry::{Kind, Section, find};

/// A config file's outcome: its layer (when it ran), its errors and warnings.
pub(crate) struct Executed {
    pub layer: Option<Layer>,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<String>,
}

/// The namespace of the config file executed last, waiting for `install`.
static STAGED: Mutex<Option<Py<PyDict>>> = Mutex::new(None);

/// Hands the namespace of the config file executed last to the hooks' installer (once).
pub(crate) fn take_staged() -> Option<Py<PyDict>> {
    STAGED.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// Runs the Python config named by `spec` (`path.py`, `file:path`, `python:module`).
pub(crate) fn run(spec: &str) -> Executed {
    let (shown, target) = match spec.strip_prefix("python:") {
        Some(module) => (PathBuf::from(spec), Target::Module(module)),
        None => {
            let p = Path::new(spec.strip_prefix("file:").unwrap_or(spec));
            (p.to_path_buf(), Target::File(p))
        }
    };
    let fail = |reason: String| Executed {
        layer: None,
        errors: vec![ConfigError::File {
            path: shown.clone(),
            reason,
        }],
        warnings: Vec::new(),
    };
    if let Target::File(p) = target
        && !p.is_file()
    {
        return fail("no such file".into());
    }
    if let Err(e) = crate::python::init_interpreter() {
        return fail(format!("cannot start Python to read it: {e}"));
    }
    Python::attach(|py| {
        let ns = match execute(py, &target) {
            Ok(ns) => ns,
            Err(e) => return fail(last_lines(&crate::python::format_exception(py, &e))),
        };
        let out = convert(py, &ns, &shown);
        *STAGED.lock().unwrap_or_else(|p| p.into_inner()) = Some(ns.unbind());
        out
    })
}

enum Target<'a> {
    File(&'a Path),
    Module(&'a str),
}

/// Python that loads a config as Gunicorn does: a file becomes module `__config__`
/// (registered in `sys.modules`), a module is imported (reloaded on a second load, so a
/// HUP sees its changes); the current directory is importable, as under Gunicorn.
const LOADER: &std::ffi::CStr = cr#"
import importlib, importlib.machinery, importlib.util, os, sys

def _cwd_on_path():
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)

def load_file(filename):
    _cwd_on_path()
    loader = importlib.machinery.SourceFileLoader("__config__", filename)
    spec = importlib.util.spec_from_file_location("__config__", filename, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["__config__"] = mod
    spec.loader.exec_module(mod)
    return vars(mod)

def load_module(name):
    _cwd_on_path()
    if name in sys.modules:
        return vars(importlib.reload(sys.modules[name]))
    return vars(importlib.import_module(name))

def arity(fn):
    import inspect
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return -1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params):
        return -1
    return sum(1 for p in params if p.kind in kinds)
"#;

fn helper(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    PyModule::from_code(py, LOADER, c"<runicorn-config-loader>", c"_runicorn_config")
}

fn execute<'py>(py: Python<'py>, target: &Target<'_>) -> PyResult<Bound<'py, PyDict>> {
    let h = helper(py)?;
    let ns = match target {
        Target::File(p) => h.call_method1("load_file", (p.to_string_lossy().into_owned(),))?,
        Target::Module(m) => h.call_method1("load_module", (*m,))?,
    };
    Ok(ns.cast_into::<PyDict>()?)
}

/// The traceback's last frame and the exception line: `File "x.py", line 3, in <module>:
/// ZeroDivisionError: division by zero`.
fn last_lines(traceback: &str) -> String {
    let lines: Vec<&str> = traceback.lines().map(str::trim).collect();
    let last = lines.last().copied().unwrap_or("unknown error");
    match lines.iter().rev().find(|l| l.starts_with("File \"")) {
        Some(frame) => format!("{frame}: {last}"),
        None => last.to_string(),
    }
}

fn convert(py: Python<'_>, ns: &Bound<'_, PyDict>, path: &Path) -> Executed {
    let source = Source::ConfigFile(path.to_path_buf());
    let mut layer = Layer::new(source.clone());
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut names: Vec<(String, Bound<'_, PyAny>)> = ns
        .iter()
        .filter_map(|(k, v)| Some((k.extract::<String>().ok()?, v)))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in names {
        let Some(spec) = find(&name).filter(|s| s.key() == name) else {
            if let Some(w) = misspelt(py, &name, &value, path) {
                warnings.push(w);
            }
            continue;
        };
        let converted = if spec.section() == Section::ServerHooks
            || spec.section() == Section::DirtyArbiterHooks
        {
            hook_raw(py, spec.key(), &value)
        } else {
            to_raw(spec.key(), spec.kind(), spec.text_only(), &value)
        };
        match converted {
            Ok(raw) => {
                layer.values.insert(spec.key(), raw);
            }
            Err(reason) => errors.push(ConfigError::Setting(crate::config::SettingError {
                key: spec.key(),
                value: repr(&value),
                origin: source.clone(),
                reason,
            })),
        }
    }
    Executed {
        layer: Some(layer),
        errors,
        warnings,
    }
}

fn repr(v: &Bound<'_, PyAny>) -> String {
    v.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unprintable>".into())
}

/// A warning for a module-level name that is probably a misspelt setting: close to a
/// key, public, and not a module, function or class (helpers and imports are normal).
fn misspelt(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>, path: &Path) -> Option<String> {
    if name.starts_with('_') || value.is_callable() {
        return None;
    }
    let module = py.import("types").ok()?.getattr("ModuleType").ok()?;
    if value.is_instance(&module).unwrap_or(false) {
        return None;
    }
    let key = crate::config::file::suggest(name)?;
    Some(format!(
        "config file {}: `{name}` is not a setting and was ignored; did you mean `{key}`?",
        path.display()
    ))
}

/// Numbers, booleans and strings as the text the setting parsers read (Gunicorn's
/// validators take `True`, `"true"`, `4` and `"4"` alike).
fn scalar(v: &Bound<'_, PyAny>) -> Option<String> {
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Some(if v.is_truthy().ok()? { "true" } else { "false" }.into());
    }
    if v.is_instance_of::<pyo3::types::PyString>() {
        return v.extract::<String>().ok();
    }
    if v.is_instance_of::<pyo3::types::PyInt>() || v.is_instance_of::<pyo3::types::PyFloat>() {
        return v.str().ok().map(|s| s.to_string());
    }
    None
}

fn to_raw(key: &str, kind: Kind, text: bool, v: &Bound<'_, PyAny>) -> Result<Raw, String> {
    let scalar = |v: &Bound<'_, PyAny>| {
        if text && !v.is_instance_of::<pyo3::types::PyString>() {
            return None;
        }
        scalar(v)
    };
    if v.is_none() {
        return Ok(match kind {
            Kind::Append => Raw::Many(Vec::new()),
            _ => Raw::One(String::new()),
        });
    }
    if let Some(s) = scalar(v) {
        return Ok(match kind {
            Kind::Append => Raw::Many(vec![s]),
            _ => Raw::One(s),
        });
    }
    if text
        && (v.is_instance_of::<pyo3::types::PyInt>() || v.is_instance_of::<pyo3::types::PyFloat>())
    {
        return Err(format!("not a string: {}", repr(v)));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        if kind != Kind::Append {
            return Err("takes a single value, not a list".into());
        }
        let mut items = Vec::new();
        for item in v.try_iter().map_err(|e| e.to_string())? {
            let item = item.map_err(|e| e.to_string())?;
            items.push(scalar(&item).ok_or_else(|| format!("not a string: {}", repr(&item)))?);
        }
        return Ok(Raw::Many(items));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        return match key {
            "secure_scheme_headers" => d
                .iter()
                .map(|(k, v)| match (scalar(&k), scalar(&v)) {
                    (Some(k), Some(v)) => Ok(format!("{k}={v}")),
                    _ => Err(format!("header {} must map to a string", repr(&k))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Raw::Many),
            // Its repr, as Gunicorn's --print-config shows it; the logging set-up uses the
            // Python dict itself (see logconf).
            "logconfig_dict" => Ok(Raw::One(repr(d.as_any()))),
            _ => Err("takes a single value, not a dict".into()),
        };
    }
    Err(format!(
        "unsupported value of type {}",
        v.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    ))
}

/// A hook: a callable taking the hook's number of arguments, or a dotted path string
/// (`"mypkg.hooks.on_starting"`) imported when hooks are installed. The raw text is
/// `describe`'s (what `--print-config` shows).
fn hook_raw(py: Python<'_>, key: &str, v: &Bound<'_, PyAny>) -> Result<Raw, String> {
    if v.is_none() {
        return Ok(Raw::One(String::new()));
    }
    if let Ok(s) = v.extract::<String>() {
        return Ok(Raw::One(s));
    }
    if !v.is_callable() {
        return Err("must be a callable".into());
    }
    if let Some(want) = crate::config::registry::hook_arity(key) {
        let got: i64 = helper(py)
            .and_then(|h| h.call_method1("arity", (v,)))
            .and_then(|a| a.extract())
            .unwrap_or(-1);
        if got >= 0 && got != want as i64 {
            return Err(format!(
                "must be a callable taking {want} argument(s), not {got}"
            ));
        }
    }
    Ok(Raw::One(describe(v)))
}

/// How a hook's value is shown (`--print-config`), as Gunicorn 27 shows callables:
/// `<qualname()>`; `install` matches the file's callables by this text.
pub(crate) fn describe(v: &Bound<'_, PyAny>) -> String {
    match v
        .getattr("__qualname__")
        .and_then(|q| q.extract::<String>())
    {
        Ok(q) => format!("<{q}()>"),
        Err(_) => repr(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceback_tail() {
        let tb = "Traceback (most recent call last):\n  File \"/c.py\", line 3, in <module>\n    1/0\nZeroDivisionError: division by zero";
        assert_eq!(
            last_lines(tb),
            "File \"/c.py\", line 3, in <module>: ZeroDivisionError: division by zero"
        );
        assert_eq!(last_lines("SyntaxError: bad"), "SyntaxError: bad");
    }
}
