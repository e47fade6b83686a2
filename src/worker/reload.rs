//! `--reload` inside a worker: watches the files of the app's imported modules, the
//! config file and the `--reload-extra-file` entries (files or globs), and on a change
//! logs Gunicorn's `Worker reloading: PATH modified` and asks the master for a new
//! generation through the worker's heartbeat slot.
//!
//! The worker watches because only it knows `sys.modules` (without `--preload` the master
//! imports nothing), and because `notify` runs a thread, which the master must never do.
//! The worker does not exit as Gunicorn's does: the master replaces it the way HUP
//! replaces workers, new generation first, so no request fails; and if the new
//! generation cannot load the app (a syntax error), this worker keeps serving and
//! watching, and the fix is noticed here.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{Event, EventKind, RecursiveMode, Watcher};

use crate::config::Settings;
use crate::scoreboard::heartbeat::Slot;

/// Gunicorn's poll reloader stats every file once a second.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A running watcher; dropping it stops its thread.
pub(crate) struct Reloader {
    _watcher: Box<dyn Watcher>,
}

/// What to watch and which changes count.
#[derive(Debug, Default)]
struct WatchSet {
    /// Files whose change asks for a reload (absolute; symlinks also by their target).
    files: HashSet<PathBuf>,
    /// `--reload-extra-file` globs, matched against every event's path (so files created
    /// after boot count, as Gunicorn's per-scan `glob.glob` finds them).
    patterns: Vec<glob::Pattern>,
    /// Directories to watch with inotify, and whether recursively (a `**` glob).
    dirs: Vec<(PathBuf, RecursiveMode)>,
    /// The directories that hold watched modules: a new or edited `*.py` there counts too
    /// (a module the edited app now imports, whose syntax error must be fixable).
    module_dirs: HashSet<PathBuf>,
}

/// Starts watching; `modules` are the `__file__`s of the app's imported modules (empty
/// for a Rust app). Errors are logged: the worker serves on without reloading.
pub(crate) fn start(s: &Settings, modules: Vec<PathBuf>, slot: &'static Slot) -> Option<Reloader> {
    tracing::warn!("Reloader is on. Use in development only!");
    if s.preload_app {
        // Gunicorn documents the reloader as incompatible with preloading: workers are
        // replaced, but they are forked from the master's copy of the old code.
        tracing::warn!(
            "--reload with --preload: the app was imported once, in the master, so new \
             workers still run the old code; restart runicorn (or USR2) to load it"
        );
    }
    let set = WatchSet::build(s, modules);
    let handler = {
        let files = set.files.clone();
        let patterns = set.patterns.clone();
        let module_dirs = set.module_dirs.clone();
        move |res: notify::Result<Event>| {
            let Ok(event) = res else { return };
            if let Some(path) = changed(&event, &files, &patterns, &module_dirs)
                && slot.request_reload()
            {
                tracing::info!("Worker reloading: {} modified", path.display());
            }
        }
    };
    let engine = s.reload_engine.as_str();
    let inotify = if engine == "poll" {
        None
    } else {
        match notify::RecommendedWatcher::new(handler.clone(), notify::Config::default()) {
            Ok(w) => Some(w),
            Err(e) if engine == "auto" => {
                tracing::info!("--reload: inotify unavailable ({e}); polling files instead");
                None
            }
            Err(e) => {
                tracing::error!("--reload-engine inotify: cannot start inotify: {e}");
                return None;
            }
        }
    };
    let watcher: Box<dyn Watcher> = match inotify {
        Some(mut w) => {
            // Directories, not files: editors replace a file by renaming a new one over
            // it, which a watch on the old inode never reports.
            for (dir, mode) in &set.dirs {
                if let Err(e) = w.watch(dir, *mode) {
                    tracing::debug!("--reload: cannot watch {}: {e}", dir.display());
                }
            }
            Box::new(w)
        }
        None => {
            let config = notify::Config::default().with_poll_interval(POLL_INTERVAL);
            let mut w = match notify::PollWatcher::new(handler, config) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!("--reload: cannot start the poll watcher: {e}");
                    return None;
                }
            };
            // The poll engine stats the files themselves, as Gunicorn's does; globs by
            // their base directory, so new matching files are seen.
            for f in &set.files {
                let _ = w.watch(f, RecursiveMode::NonRecursive);
            }
            for (dir, mode) in set.dirs.iter().filter(|_| !set.patterns.is_empty()) {
                if set
                    .patterns
                    .iter()
                    .any(|p| Path::new(p.as_str()).starts_with(dir))
                {
                    let _ = w.watch(dir, *mode);
                }
            }
            Box::new(w)
        }
    };
    Some(Reloader { _watcher: watcher })
}

/// The path of the first watched file an event changed, if any.
fn changed<'e>(
    event: &'e Event,
    files: &HashSet<PathBuf>,
    patterns: &[glob::Pattern],
    module_dirs: &HashSet<PathBuf>,
) -> Option<&'e Path> {
    // Reads and opens change nothing; `Other` is inotify's queue overflow and the like.
    if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
        return None;
    }
    event.paths.iter().map(PathBuf::as_path).find(|p| {
        files.contains(*p)
            || patterns.iter().any(|pat| pat.matches_path(p))
            || (p.extension().is_some_and(|e| e == "py")
                && p.parent().is_some_and(|d| module_dirs.contains(d)))
    })
}

impl WatchSet {
    fn build(s: &Settings, modules: Vec<PathBuf>) -> WatchSet {
        let mut set = WatchSet::default();
        for m in modules {
            let m = absolute(&m);
            if let Some(dir) = m.parent() {
                set.module_dirs.insert(dir.to_path_buf());
            }
            set.add_file(m);
        }
        if let Some(config) = &s.config {
            set.add_file(absolute(config));
        }
        for extra in &s.reload_extra_files {
            if is_glob(extra) {
                let pattern = absolute(Path::new(extra));
                match glob::Pattern::new(&pattern.to_string_lossy()) {
                    Ok(p) => {
                        let (base, recursive) = glob_base(&pattern);
                        set.add_dir(base, recursive);
                        set.patterns.push(p);
                    }
                    Err(e) => tracing::error!("--reload-extra-file {extra:?}: {e}"),
                }
            } else {
                set.add_file(absolute(Path::new(extra)));
            }
        }
        set
    }

    fn add_file(&mut self, f: PathBuf) {
        if let Some(dir) = f.parent() {
            self.add_dir(dir.to_path_buf(), false);
        }
        // An edit to a symlink's target is reported in the target's directory.
        if let Ok(target) = std::fs::canonicalize(&f)
            && target != f
        {
            if let Some(dir) = target.parent() {
                self.add_dir(dir.to_path_buf(), false);
            }
            self.files.insert(target);
        }
        self.files.insert(f);
    }

    fn add_dir(&mut self, dir: PathBuf, recursive: bool) {
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        match self.dirs.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, m)) if recursive => *m = mode,
            Some(_) => {}
            None => self.dirs.push((dir, mode)),
        }
    }
}

/// Gunicorn's `is_glob_pattern`: any of `*`, `?` or `[`.
fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The directory before a glob's first magic component, and whether the glob descends
/// (`**`, which Gunicorn expands with `recursive=True`) or has magic above its last part.
fn glob_base(pattern: &Path) -> (PathBuf, bool) {
    let mut base = PathBuf::new();
    let mut parts = pattern.components().peekable();
    while let Some(c) = parts.next() {
        let magic = is_glob(&c.as_os_str().to_string_lossy());
        if magic {
            // Magic in a directory part (`a/*/b.py`) needs the subtree too.
            return (base, parts.peek().is_some());
        }
        if parts.peek().is_none() {
            break;
        }
        base.push(c);
    }
    (base, false)
}

/// `p` made absolute against the current directory (module files normally are already).
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, ModifyKind};

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn glob_bases() {
        assert_eq!(
            glob_base(Path::new("/a/b/*.py")),
            (PathBuf::from("/a/b"), false)
        );
        assert_eq!(
            glob_base(Path::new("/a/**/*.html")),
            (PathBuf::from("/a"), true)
        );
        assert_eq!(
            glob_base(Path::new("/a/t?/x.txt")),
            (PathBuf::from("/a"), true)
        );
    }

    #[test]
    fn which_changes_count() {
        let s = Settings {
            reload_extra_files: vec!["/srv/tpl/*.html".into(), "/srv/extra.txt".into()],
            ..Settings::default()
        };
        let set = WatchSet::build(&s, vec![PathBuf::from("/srv/app/app.py")]);
        let hit = |kind, p| {
            changed(&event(kind, p), &set.files, &set.patterns, &set.module_dirs).is_some()
        };
        let modify = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert!(hit(modify, "/srv/app/app.py"));
        assert!(hit(modify, "/srv/extra.txt"));
        assert!(hit(
            EventKind::Create(CreateKind::File),
            "/srv/tpl/new.html"
        ));
        // A module the edited app may import next, beside the watched ones.
        assert!(hit(modify, "/srv/app/helpers.py"));
        // Editor swap files, reads, and unrelated files do not.
        assert!(!hit(modify, "/srv/app/.app.py.swp"));
        let read = EventKind::Access(notify::event::AccessKind::Any);
        assert!(!hit(read, "/srv/app/app.py"));
        assert!(!hit(modify, "/srv/tpl/x.txt"));
        let dirs: Vec<&PathBuf> = set.dirs.iter().map(|(d, _)| d).collect();
        assert!(dirs.contains(&&PathBuf::from("/srv/app")));
        assert!(dirs.contains(&&PathBuf::from("/srv/tpl")));
    }
}
