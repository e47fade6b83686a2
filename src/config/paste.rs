//! PasteDeploy settings, parsed once into their types: `--paste CONFIG[#SECTION]` (which ini
//! file and app section to load) and `--paste-global KEY=VALUE` (the app factory's
//! `global_conf`); and the application-specific layer an ini file adds to the precedence,
//! as Gunicorn's `WSGIApplication.init` does: `default_proc_name` is the file, and
//! `logconfig` is the file when it has a `[loggers]` section. Gunicorn's `--paste` reads
//! nothing else from the ini (its `[server:main]` section is only read by PasteDeploy's own
//! server runner, `pserve`), and neither does runicorn.

use std::path::{Component, Path, PathBuf};

use super::layer::{Layer, Raw, Source};

/// `--paste`: the ini file, absolute, and the app section after `#` (PasteDeploy's
/// default, `main`, when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasteConfig {
    /// As the user wrote it (`--print-config` shows it so, as Gunicorn).
    pub given: String,
    /// Absolute and normalised against the directory runicorn was started in, before
    /// `--chdir` (Gunicorn's `os.path.abspath` at argument parsing).
    pub file: PathBuf,
    pub section: Option<String>,
}

impl PasteConfig {
    /// The URI PasteDeploy's `loadapp` takes: `config:/abs/file.ini[#section]`.
    pub fn uri(&self) -> String {
        match &self.section {
            Some(s) => format!("config:{}#{s}", self.file.display()),
            None => format!("config:{}", self.file.display()),
        }
    }
}

impl super::value::Render for PasteConfig {
    fn render(&self) -> String {
        self.given.clone()
    }
}

/// `--paste`: empty means unset. The file's existence is checked once the configuration
/// is resolved ([`app_layer`]), where the error can name its source.
pub fn parse(text: &str) -> Result<Option<PasteConfig>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let (file, section) = match text.split_once('#') {
        Some((f, s)) => (f, Some(s.to_string())),
        None => (text, None),
    };
    if file.is_empty() {
        return Err("names no file (expected CONFIG[#SECTION])".into());
    }
    let abs =
        std::path::absolute(file).map_err(|e| format!("cannot make {file:?} absolute: {e}"))?;
    Ok(Some(PasteConfig {
        given: text.to_string(),
        file: normalize(&abs),
        section,
    }))
}

/// `os.path.normpath` for an absolute path: `.` dropped, `..` folded (lexically, as
/// Python does, without resolving symlinks).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// `--paste-global KEY=VALUE`, as Gunicorn's `paste_global_conf` splits it: at the first
/// `=` not preceded by a backslash, then `\=` unescaped to `=` in both halves. An item
/// without such an `=` is refused (Gunicorn: "environment setting %r invalid", raised only
/// when the app loads).
pub fn global_conf(items: &[String]) -> Result<Vec<(String, String)>, (String, String)> {
    items
        .iter()
        .map(|item| {
            let b = item.as_bytes();
            let at = (0..b.len()).find(|&i| b[i] == b'=' && (i == 0 || b[i - 1] != b'\\'));
            match at {
                Some(i) => Ok((
                    item[..i].replace("\\=", "="),
                    item[i + 1..].replace("\\=", "="),
                )),
                None => Err((item.clone(), "must be KEY=VALUE".to_string())),
            }
        })
        .collect()
}

/// The section names of an ini file, as `configparser` finds its headers: a trimmed line
/// that starts with `[`, the name running to its last `]` (the regex `\[(.+)\]`, greedy and
/// not anchored at the end), outside comments (`#`, `;`).
fn sections(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| Some(l.strip_prefix('[')?.rsplit_once(']')?.0))
        .filter(|name| !name.is_empty())
        .collect()
}

/// The application-specific layer of `paste` (between the defaults and the config file, as
/// Gunicorn's `init` sets these before reading the config file), and the warnings the
/// ini file calls for. `Err` is why the file cannot be used (one line).
pub(crate) fn app_layer(p: &PasteConfig) -> Result<(Layer, Vec<String>), String> {
    let text = std::fs::read_to_string(&p.file).map_err(|e| match e.kind() {
        // Gunicorn's words: "'/abs/app.ini' not found".
        std::io::ErrorKind::NotFound => format!("{:?} not found", p.file.display().to_string()),
        _ => format!("cannot read {}: {e}", p.file.display()),
    })?;
    let found = sections(&text);
    let file = p.file.display().to_string();
    let mut layer = Layer::new(Source::Paste(p.file.clone()));
    layer
        .values
        .insert("default_proc_name", Raw::One(file.clone()));
    if found.contains(&"loggers") {
        layer.values.insert("logconfig", Raw::One(file.clone()));
    }
    let mut warnings = Vec::new();
    if let Some(server) = found.iter().find(|s| s.starts_with("server:")) {
        warnings.push(format!(
            "{file}: [{server}] is not read by --paste (nor by Gunicorn's): set bind, workers \
             and the other settings on the command line or in a config file"
        ));
    }
    Ok((layer, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paste_uri_is_absolute_with_its_section() {
        let cwd = std::env::current_dir().unwrap();
        let p = parse("conf/../app.ini#admin").unwrap().unwrap();
        assert_eq!(p.file, cwd.join("app.ini"));
        assert_eq!(p.section.as_deref(), Some("admin"));
        assert_eq!(p.given, "conf/../app.ini#admin");
        assert_eq!(
            p.uri(),
            format!("config:{}#admin", cwd.join("app.ini").display())
        );
        let p = parse("/srv/x.ini").unwrap().unwrap();
        assert_eq!((p.uri().as_str(), p.section), ("config:/srv/x.ini", None));
        assert_eq!(parse("").unwrap(), None);
        assert!(parse("#main").is_err());
    }

    #[test]
    fn global_conf_splits_as_gunicorn() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            global_conf(&v(&["A=1", "B=", "C=x=y", "D\\=E=F\\=G", "=v"])),
            Ok(vec![
                ("A".into(), "1".into()),
                ("B".into(), "".into()),
                ("C".into(), "x=y".into()),
                ("D=E".into(), "F=G".into()),
                ("".into(), "v".into()),
            ])
        );
        assert_eq!(
            global_conf(&v(&["A=1", "NOVALUE"])),
            Err(("NOVALUE".into(), "must be KEY=VALUE".into()))
        );
        assert!(global_conf(&v(&["A\\=1"])).is_err());
    }

    #[test]
    fn ini_sections_as_configparser_sees_them() {
        let text = "[app:main]\nuse = x\n; [loggers]\n# [handlers]\n[loggers]  \n\
                    [server:main] trailing\nkey = [v]\n[]\n";
        assert_eq!(sections(text), ["app:main", "loggers", "server:main"]);
    }
}
