//! The configuration file: TOML whose top-level keys are setting keys
//! (`workers = 4`, `bind = ["127.0.0.1:8000", "unix:/run/app.sock"]`), turned into a
//! `Layer`. Unknown keys are errors with a "did you mean" suggestion. Python config
//! files (`*.py`, `python:module`) are executed by `python_file` when runicorn is built with
//! the `python` feature, and refused with an explanation without it.

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::layer::{Layer, Raw, Source};
use super::registry::{ALL, Kind, find};

/// Files larger than this are refused rather than read: a config file is small, and a
/// mistaken path (a log, a device) should not be slurped.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a Python config file is not applied in a build without the `python` feature.
#[cfg(not(feature = "python"))]
pub(crate) const PYTHON_CONFIG_REASON: &str = "Python config files need runicorn built with the \
     `python` feature (this build has no Python); use a TOML config file";

/// Whether `-c spec` names a Python config (`python:module`, `*.py`).
pub(crate) fn is_python(spec: &str) -> bool {
    spec.starts_with("python:") || spec.ends_with(".py")
}

/// Reads the config file named by `-c` (`PATH`, `file:PATH`, `python:MODULE`): the layer
/// of its valid keys (if it could be read at all), every problem found, and warnings.
pub(crate) fn layer(spec: &str, warnings: &mut Vec<String>) -> (Option<Layer>, Vec<ConfigError>) {
    if is_python(spec) {
        #[cfg(feature = "python")]
        {
            let out = super::python_file::run(spec);
            warnings.extend(out.warnings);
            return (out.layer, out.errors);
        }
        #[cfg(not(feature = "python"))]
        {
            let _ = warnings;
            let reason = format!("not applied: {PYTHON_CONFIG_REASON}");
            return (
                None,
                vec![ConfigError::File {
                    path: PathBuf::from(spec),
                    reason,
                }],
            );
        }
    }
    let path = PathBuf::from(spec.strip_prefix("file:").unwrap_or(spec));
    match read(&path) {
        Ok(text) => parse(&text, &path),
        Err(reason) => (None, vec![ConfigError::File { path, reason }]),
    }
}

fn read(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// Parses TOML `text` read from `path` into a layer of its valid keys, and every problem
/// found; the valid keys still take part in resolution so that their errors show too.
pub(crate) fn parse(text: &str, path: &Path) -> (Option<Layer>, Vec<ConfigError>) {
    let table: toml::Table = match text.parse().map_err(|e: toml::de::Error| {
        let reason = e.message().to_string();
        let reason = match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {reason}")
            }
            None => reason,
        };
        ConfigError::File {
            path: path.to_path_buf(),
            reason: format!("invalid TOML: {reason}"),
        }
    }) {
        Ok(table) => table,
        Err(e) => return (None, vec![e]),
    };
    let source = Source::ConfigFile(path.to_path_buf());
    let mut layer = Layer::new(source.clone());
    let mut errors = Vec::new();
    for (key, value) in &table {
        let Some(spec) = find(key) else {
            errors.push(ConfigError::UnknownKey {
                key: key.clone(),
                origin: source.clone(),
                suggestion: suggest(key),
            });
            continue;
        };
        match to_raw(spec.key(), spec.kind(), spec.text_only(), value) {
            Ok(raw) => {
                layer.values.insert(spec.key(), raw);
            }
            Err(reason) => errors.push(ConfigError::Setting(super::SettingError {
                key: spec.key(),
                value: value.to_string(),
                origin: source.clone(),
                reason,
            })),
        }
    }
    (Some(layer), errors)
}

/// A TOML value as raw text. Scalars become their text (`true` → "true", `4` → "4"),
/// arrays become lists for repeatable settings; the two dictionary-valued settings take
/// tables.
fn to_raw(key: &str, kind: Kind, text: bool, value: &toml::Value) -> Result<Raw, String> {
    use toml::Value as V;
    let scalar = |v: &V| -> Option<String> {
        match v {
            V::String(s) => Some(s.clone()),
            _ if text => None,
            V::Integer(i) => Some(i.to_string()),
            V::Float(f) => Some(f.to_string()),
            V::Boolean(b) => Some(b.to_string()),
            V::Datetime(d) => Some(d.to_string()),
            V::Array(_) | V::Table(_) => None,
        }
    };
    match value {
        V::Array(items) if kind == Kind::Append => items
            .iter()
            .map(|i| {
                scalar(i).ok_or_else(|| match i {
                    V::Array(_) | V::Table(_) => "list items must be plain values".to_string(),
                    _ => format!("not a string: {i}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Raw::Many),
        V::Array(_) => Err("takes a single value, not a list".into()),
        V::Table(t) if key == "secure_scheme_headers" => t
            .iter()
            .map(|(k, v)| match v {
                V::String(s) => Ok(format!("{k}={s}")),
                _ => Err(format!("the value for header {k:?} must be a string")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Raw::Many),
        V::Table(t) if key == "logconfig_dict" => Ok(Raw::One(t.to_string())),
        V::Table(_) => Err("takes a single value, not a table".into()),
        v => scalar(v).map(Raw::One).ok_or_else(|| match text {
            true => format!("not a string: {v}"),
            false => "unsupported value".into(),
        }),
    }
}

/// The known key closest to `key`, if any is close enough to be a likely typo.
pub(crate) fn suggest(key: &str) -> Option<&'static str> {
    let normalized = key.replace('-', "_").to_ascii_lowercase();
    ALL.iter()
        .map(|s| (edit_distance(&normalized, s.key()), s.key()))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("wokers"), Some("workers"));
        assert_eq!(suggest("worker-class"), Some("worker_class"));
        assert_eq!(suggest("keep_alive"), Some("keepalive"));
        assert_eq!(suggest("zzzzzzzz"), None);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    fn ok(text: &str) -> Layer {
        match parse(text, Path::new("x.toml")) {
            (Some(layer), errs) if errs.is_empty() => layer,
            (_, errs) => panic!("{errs:?}"),
        }
    }

    fn errors(text: &str) -> Vec<ConfigError> {
        parse(text, Path::new("x.toml")).1
    }

    #[test]
    fn toml_shapes() {
        let l = ok("workers = 3\nbind = \"a:1\"\nraw_env = [\"A=1\", \"B=2\"]\ndaemon = true\n");
        assert_eq!(l.values["workers"], Raw::One("3".into()));
        assert_eq!(l.values["bind"], Raw::One("a:1".into()));
        assert_eq!(
            l.values["raw_env"],
            Raw::Many(vec!["A=1".into(), "B=2".into()])
        );
        assert_eq!(l.values["daemon"], Raw::One("true".into()));
        let l = ok("secure_scheme_headers = { X-PROTO = \"https\" }");
        assert_eq!(
            l.values["secure_scheme_headers"],
            Raw::Many(vec!["X-PROTO=https".into()])
        );
    }

    #[test]
    fn toml_errors_are_all_reported() {
        let errs = errors("wokers = 3\nworkers = [1, 2]\nbogus = 1\n");
        let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("`wokers`") && l.contains("did you mean `workers`?"))
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("`workers`") && l.contains("not a list"))
        );
        let errs = errors("workers = ");
        assert!(
            errs[0].to_string().contains("invalid TOML: line 1"),
            "{}",
            errs[0]
        );
    }

    #[cfg(not(feature = "python"))]
    #[test]
    fn python_files_are_refused_with_a_reason() {
        let errs = layer("gunicorn.conf.py", &mut Vec::new()).1;
        assert!(errs[0].to_string().contains("`python` feature"));
        let errs = layer("python:myapp.conf", &mut Vec::new()).1;
        assert!(errs[0].to_string().contains("`python` feature"));
    }

    #[test]
    fn missing_files_are_named() {
        let errs = layer("file:/nonexistent/runicorn.toml", &mut Vec::new()).1;
        assert!(errs[0].to_string().contains("/nonexistent/runicorn.toml"));
        let errs = layer("/nonexistent/gunicorn.conf.py", &mut Vec::new()).1;
        assert!(
            errs[0]
                .to_string()
                .contains("/nonexistent/gunicorn.conf.py")
        );
    }
}
