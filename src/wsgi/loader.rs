//! Finding the WSGI callable: parsing `APP_MODULE` as Gunicorn accepts it, preparing
//! `sys.path` (`--chdir`, `--pythonpath`, `VIRTUAL_ENV`) and importing the module, or
//! loading it through PasteDeploy (`--paste`).
//!
//! Accepted forms (Gunicorn's `util.import_app`): `module` (the callable is then
//! `application`), `module:name`, `package.module:name`, `module:factory()` and
//! `module:factory(arg, key=arg)`. Factory arguments must be literals (strings, numbers,
//! `True`/`False`/`None`); they are parsed here in Rust, never evaluated as Python code.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// A parsed `APP_MODULE`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AppSpec {
    /// Dotted module name to import.
    pub module: String,
    /// Attribute of the module holding the app (or the factory).
    pub name: String,
    /// `Some` when the attribute is a factory to call with these arguments.
    pub call: Option<Call>,
}

/// A factory call's arguments.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Call {
    pub args: Vec<Literal>,
    pub kwargs: Vec<(String, Literal)>,
}

/// A Python literal a factory may receive.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
}

impl AppSpec {
    /// Parses `APP_MODULE`; the error is Gunicorn's message for the same mistake.
    pub(crate) fn parse(text: &str) -> Result<AppSpec, String> {
        let (module, obj) = match text.split_once(':') {
            Some((m, o)) => (m.trim(), o.trim()),
            None => (text.trim(), "application"),
        };
        let is_ident = |s: &str| {
            let mut cs = s.chars();
            cs.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && cs.all(|c| c.is_alphanumeric() || c == '_')
        };
        if module.is_empty() || !module.split('.').all(is_ident) {
            return Err(format!("Failed to import {module:?}: not a module name."));
        }
        let bad = || format!("Failed to parse {obj:?} as an attribute name or function call.");
        let (name, call) = match obj.find('(') {
            None => (obj, None),
            Some(open) => {
                let rest = obj[open + 1..].trim_end();
                let inner = rest.strip_suffix(')').ok_or_else(bad)?;
                let call = parse_args(inner).map_err(|()| {
                    format!("Failed to parse arguments as literal values: {obj:?}")
                })?;
                (obj[..open].trim(), Some(call))
            }
        };
        if !is_ident(name) {
            return Err(if name.contains('.') && call.is_some() {
                format!("Function reference must be a simple name: {obj:?}")
            } else {
                bad()
            });
        }
        Ok(AppSpec {
            module: module.to_string(),
            name: name.to_string(),
            call,
        })
    }
}

/// Parses a comma-separated list of literals and `key=literal` pairs.
fn parse_args(text: &str) -> Result<Call, ()> {
    let mut call = Call::default();
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    while p.i < p.s.len() {
        // `key=value`: an identifier followed by `=` (but not `==`).
        let save = p.i;
        let key = p.ident();
        p.ws();
        if let Some(k) = key.filter(|_| p.peek() == Some(b'=')) {
            p.i += 1;
            p.ws();
            call.kwargs.push((k, p.literal()?));
        } else {
            p.i = save;
            if !call.kwargs.is_empty() {
                return Err(()); // positional after keyword
            }
            call.args.push(p.literal()?);
        }
        p.ws();
        match p.peek() {
            None => break,
            Some(b',') => {
                p.i += 1;
                p.ws();
            }
            Some(_) => return Err(()),
        }
    }
    Ok(call)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c == b' ' || c == b'\t') {
            self.i += 1;
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        let id = &self.s[start..self.i];
        (!id.is_empty() && !id[0].is_ascii_digit())
            .then(|| String::from_utf8_lossy(id).into_owned())
    }

    fn literal(&mut self) -> Result<Literal, ()> {
        match self.peek().ok_or(())? {
            q @ (b'"' | b'\'') => self.string(q),
            b'0'..=b'9' | b'-' | b'+' | b'.' => self.number(),
            _ => match self.ident().as_deref() {
                Some("True") => Ok(Literal::Bool(true)),
                Some("False") => Ok(Literal::Bool(false)),
                Some("None") => Ok(Literal::None),
                _ => Err(()),
            },
        }
    }

    fn string(&mut self, quote: u8) -> Result<Literal, ()> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = self.peek().ok_or(())?;
            self.i += 1;
            match c {
                c if c == quote => break,
                b'\\' => {
                    let e = self.peek().ok_or(())?;
                    self.i += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'0' => 0,
                        b'\\' | b'\'' | b'"' => e,
                        _ => return Err(()),
                    });
                }
                c => out.push(c),
            }
        }
        String::from_utf8(out).map(Literal::Str).map_err(|_| ())
    }

    fn number(&mut self) -> Result<Literal, ()> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b'_'))
        {
            self.i += 1;
        }
        let text: String = String::from_utf8_lossy(&self.s[start..self.i]).replace('_', "");
        if let Ok(v) = text.parse::<i64>() {
            return Ok(Literal::Int(v));
        }
        text.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Literal::Float)
            .ok_or(())
    }
}

impl<'py> IntoPyObject<'py> for &Literal {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Literal::Str(s) => s.into_pyobject(py)?.into_any(),
            Literal::Int(i) => i.into_pyobject(py)?.into_any(),
            Literal::Float(f) => f.into_pyobject(py)?.into_any(),
            Literal::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
            Literal::None => py.None().into_bound(py),
        })
    }
}

/// What to put on `sys.path` before importing.
pub(crate) struct PathSetup<'a> {
    /// The working directory (after `--chdir`): Gunicorn inserts it at the front.
    pub cwd: Option<std::path::PathBuf>,
    /// `--pythonpath`, comma-separated.
    pub pythonpath: Option<&'a str>,
    /// `$VIRTUAL_ENV`, whose site-packages must be importable.
    pub virtual_env: Option<std::path::PathBuf>,
}

/// Prepares `sys.path` as Gunicorn does (`Application.chdir` + `pythonpath`): the venv's
/// site-packages (if the interpreter did not pick the venv up itself) ahead of the base
/// installation's, then the working directory, then each `--pythonpath` entry inserted
/// at the front in turn.
pub(crate) fn setup_sys_path(py: Python<'_>, setup: &PathSetup<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    let path = sys.getattr("path")?.cast_into::<PyList>()?;
    if let Some(venv) = &setup.virtual_env {
        let prefix: String = sys.getattr("prefix")?.extract()?;
        let same = std::fs::canonicalize(venv).ok() == std::fs::canonicalize(&prefix).ok();
        if !same {
            let (major, minor): (u32, u32) = {
                let v = sys.getattr("version_info")?;
                (v.get_item(0)?.extract()?, v.get_item(1)?.extract()?)
            };
            let site = venv.join(format!("lib/python{major}.{minor}/site-packages"));
            if site.is_dir() {
                // addsitedir appends (and processes .pth files); the venv must win over
                // the base installation, so move what it added to the front.
                let before = path.len();
                py.import("site")?
                    .call_method1("addsitedir", (site.to_string_lossy().into_owned(),))?;
                let added: Vec<Bound<'_, PyAny>> = (before..path.len())
                    .filter_map(|i| path.get_item(i).ok())
                    .collect();
                for (n, item) in added.iter().enumerate() {
                    path.del_item(before + n)?; // items already moved keep the index stable
                    path.insert(n, item)?;
                }
                sys.setattr("prefix", venv.to_string_lossy().into_owned())?;
                sys.setattr("exec_prefix", venv.to_string_lossy().into_owned())?;
            }
        }
    }
    let front = |p: String| -> PyResult<()> {
        if !path.contains(&p)? {
            path.insert(0, p)?;
        }
        Ok(())
    };
    if let Some(cwd) = &setup.cwd {
        front(cwd.to_string_lossy().into_owned())?;
    }
    if let Some(pp) = setup.pythonpath {
        for p in pp.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.into());
            front(abs.to_string_lossy().into_owned())?;
        }
    }
    Ok(())
}

/// Imports the app; the error is the message (with the Python traceback) for the log.
pub(crate) fn load(py: Python<'_>, spec: &AppSpec) -> Result<Py<PyAny>, String> {
    let module = match py.import(spec.module.as_str()) {
        Ok(m) => m,
        Err(e) => {
            let mut msg = crate::python::format_exception(py, &e);
            if spec.module.ends_with(".py") && std::path::Path::new(&spec.module).exists() {
                msg.push_str(&format!(
                    "\nFailed to find application, did you mean '{}:{}'?",
                    spec.module.trim_end_matches(".py"),
                    spec.name
                ));
            }
            return Err(msg);
        }
    };
    let obj = module.getattr(spec.name.as_str()).map_err(|_| {
        format!(
            "Failed to find attribute {:?} in {:?}.",
            spec.name, spec.module
        )
    })?;
    let app = match &spec.call {
        None => obj,
        Some(call) => {
            let args = PyTuple::new(py, call.args.iter())
                .map_err(|e| crate::python::format_exception(py, &e))?;
            let kwargs = PyDict::new(py);
            for (k, v) in &call.kwargs {
                kwargs
                    .set_item(k, v)
                    .map_err(|e| crate::python::format_exception(py, &e))?;
            }
            obj.call(args, Some(&kwargs))
                .map_err(|e| crate::python::format_exception(py, &e))?
        }
    };
    if app.is_none() {
        return Err(format!(
            "Failed to find application object: {:?}",
            spec.name
        ));
    }
    if !app.is_callable() {
        return Err("Application object must be callable.".to_string());
    }
    Ok(app.unbind())
}

/// Loads `--paste`'s app with PasteDeploy's `loadapp`, as Gunicorn's `pasterapp` calls it:
/// `relative_to` the working directory (after `--chdir`), `global_conf` from
/// `--paste-global`. The error names the setting when PasteDeploy is missing.
pub(crate) fn load_paste(
    py: Python<'_>,
    paste: &crate::config::paste::PasteConfig,
    global_conf: &[(String, String)],
) -> Result<Py<PyAny>, String> {
    let fail = |e: PyErr| crate::python::format_exception(py, &e);
    let deploy = match py.import("paste.deploy") {
        Ok(m) => m,
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyModuleNotFoundError>(py) => {
            let missing: Option<String> = e
                .value(py)
                .getattr("name")
                .ok()
                .and_then(|n| n.extract().ok());
            // Only PasteDeploy itself missing gets the short answer; a module PasteDeploy
            // needs and lacks keeps its traceback.
            if matches!(missing.as_deref(), Some("paste" | "paste.deploy")) {
                return Err(format!(
                    "--paste {:?}: PasteDeploy is not installed for {} (No module named '{}'); \
                     install it with `pip install PasteDeploy`",
                    paste.given,
                    py.import("sys")
                        .and_then(|s| s.getattr("executable"))
                        .and_then(|x| x.extract::<String>())
                        .unwrap_or_else(|_| "this Python".into()),
                    missing.unwrap_or_default(),
                ));
            }
            return Err(fail(e));
        }
        Err(e) => return Err(fail(e)),
    };
    let globals = PyDict::new(py);
    for (k, v) in global_conf {
        globals.set_item(k, v).map_err(fail)?;
    }
    let cwd = py
        .import("os")
        .and_then(|os| os.call_method0("getcwd"))
        .map_err(fail)?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("name", py.None()).map_err(fail)?;
    kwargs.set_item("relative_to", cwd).map_err(fail)?;
    kwargs.set_item("global_conf", globals).map_err(fail)?;
    let app = deploy
        .call_method("loadapp", (paste.uri(),), Some(&kwargs))
        .map_err(fail)?;
    if !app.is_callable() {
        return Err("Application object must be callable.".to_string());
    }
    Ok(app.unbind())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(m: &str, n: &str, call: Option<Call>) -> AppSpec {
        AppSpec {
            module: m.into(),
            name: n.into(),
            call,
        }
    }

    #[test]
    fn parses_gunicorn_forms() {
        assert_eq!(
            AppSpec::parse("app").unwrap(),
            spec("app", "application", None)
        );
        assert_eq!(AppSpec::parse("app:app").unwrap(), spec("app", "app", None));
        assert_eq!(
            AppSpec::parse("pkg.mod:wsgi_app").unwrap(),
            spec("pkg.mod", "wsgi_app", None)
        );
        assert_eq!(
            AppSpec::parse("app:create_app()").unwrap(),
            spec("app", "create_app", Some(Call::default()))
        );
        let c =
            AppSpec::parse("app:make('x, y', 3, -1.5, True, None, debug=False, name=\"n\\\"q\")")
                .unwrap();
        assert_eq!(
            c.call.unwrap(),
            Call {
                args: vec![
                    Literal::Str("x, y".into()),
                    Literal::Int(3),
                    Literal::Float(-1.5),
                    Literal::Bool(true),
                    Literal::None
                ],
                kwargs: vec![
                    ("debug".into(), Literal::Bool(false)),
                    ("name".into(), Literal::Str("n\"q".into()))
                ],
            }
        );
    }

    #[test]
    fn rejects_what_gunicorn_rejects() {
        for bad in [
            "app:",
            "app:1x",
            "app:a.b",
            "app:f(",
            "app:f(x)",
            "app:f(__import__('os'))",
            "app:f(1 + 2)",
            "app:f(a=1, 2)",
            ":app",
            "a b:app",
            "app:f('unterminated)",
            "app:obj.factory()",
        ] {
            assert!(AppSpec::parse(bad).is_err(), "{bad} should fail");
        }
    }
}
