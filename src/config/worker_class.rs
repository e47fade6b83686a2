//! `-k/--worker-class`, parsed once: which app host a name selects, with Gunicorn's rule
//! that `sync` with more than one thread is `gthread`. The text is kept as given, for
//! `--print-config` and the hooks' `cfg.worker_class_str`.

use std::fmt;
use std::str::FromStr;

/// The kinds of worker a class name selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerKind {
    /// `sync`: one app thread per worker.
    Sync,
    /// `gthread`: `--threads` app threads per worker.
    Gthread,
    /// `gevent`, `gevent_wsgi`, `gevent_pywsgi`.
    Gevent,
    /// `eventlet` (removed from Gunicorn in 26.0).
    Eventlet,
    /// `tornado`.
    Tornado,
    /// `asgi` and the uvicorn worker classes.
    Asgi,
    /// Any other dotted class path (a custom Gunicorn worker class).
    Other,
}

/// A worker class as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerClass {
    pub kind: WorkerKind,
    text: String,
}

const KNOWN: [&str; 8] = [
    "sync",
    "gthread",
    "gevent",
    "gevent_wsgi",
    "gevent_pywsgi",
    "eventlet",
    "tornado",
    "asgi",
];

impl WorkerClass {
    /// The class name as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Gunicorn's name for what runs (`Using worker: ...`): `sync` with more than one
    /// thread is `gthread`.
    pub fn effective_name(&self, threads: u32) -> &str {
        if self.kind == WorkerKind::Sync && threads > 1 {
            "gthread"
        } else {
            &self.text
        }
    }
}

impl FromStr for WorkerClass {
    type Err = String;

    /// A known name, or a dotted Python path (reported as unsupported when the app host
    /// starts, not rejected here).
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let dotted = !t.is_empty()
            && t.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
            && !t.starts_with(|c: char| c.is_ascii_digit());
        if !(KNOWN.contains(&t) || dotted || t.starts_with("egg:")) {
            return Err(format!(
                "must be one of {} or a dotted class path",
                KNOWN.join(", ")
            ));
        }
        let short = t.rsplit('.').next().unwrap_or(t).to_ascii_lowercase();
        let kind = match t {
            "sync" => WorkerKind::Sync,
            "gthread" => WorkerKind::Gthread,
            "gevent" | "gevent_wsgi" | "gevent_pywsgi" => WorkerKind::Gevent,
            "eventlet" => WorkerKind::Eventlet,
            "tornado" => WorkerKind::Tornado,
            _ if short == "asgi"
                || t.to_ascii_lowercase().contains("uvicorn")
                || t.contains("asgi") =>
            {
                WorkerKind::Asgi
            }
            _ => WorkerKind::Other,
        };
        Ok(WorkerClass {
            kind,
            text: t.to_string(),
        })
    }
}

impl Default for WorkerClass {
    fn default() -> Self {
        WorkerClass {
            kind: WorkerKind::Sync,
            text: "sync".into(),
        }
    }
}

impl fmt::Display for WorkerClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_classes() {
        for ok in [
            "sync",
            "gthread",
            "gevent",
            "eventlet",
            "tornado",
            "asgi",
            "my.pkg.Worker",
        ] {
            assert_eq!(
                ok.parse::<WorkerClass>().map(|c| c.to_string()),
                Ok(ok.to_string())
            );
        }
        for bad in ["", "my worker", "a..b", ".x"] {
            assert!(bad.parse::<WorkerClass>().is_err(), "{bad:?}");
        }
        let kind = |t: &str| t.parse::<WorkerClass>().unwrap().kind;
        assert_eq!(kind("gevent_pywsgi"), WorkerKind::Gevent);
        assert_eq!(kind("uvicorn.workers.UvicornWorker"), WorkerKind::Asgi);
        assert_eq!(kind("uvicorn_worker.UvicornH11Worker"), WorkerKind::Asgi);
        assert_eq!(kind("mypkg.MyWorker"), WorkerKind::Other);
        let sync: WorkerClass = "sync".parse().unwrap();
        assert_eq!(
            (sync.effective_name(1), sync.effective_name(4)),
            ("sync", "gthread")
        );
    }
}
