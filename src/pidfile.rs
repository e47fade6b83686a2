//! The master's pid file: created atomically, refused over a live process, removed only
//! while it still names us, renamed when a USR2 child master is promoted.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Why the pid file could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PidfileError {
    /// Another live process is named in the file.
    #[error("Already running on PID {pid} (or pid file '{path}' is stale)")]
    AlreadyRunning { pid: i32, path: String },
    /// The file could not be written.
    #[error("cannot write pid file '{path}': {source}")]
    Io { path: String, source: io::Error },
}

/// A pid file this process wrote.
#[derive(Debug)]
pub(crate) struct Pidfile {
    path: PathBuf,
    pid: u32,
}

/// Reads the pid a pid file names, if any.
pub(crate) fn read(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn is_alive(pid: i32) -> bool {
    pid > 0 && kill(Pid::from_raw(pid), None).is_ok()
}

impl Pidfile {
    /// Writes our pid to `path` through a temp file and rename, so readers never see a
    /// half-written file. Refuses when the file names another live process.
    pub(crate) fn create(path: &Path) -> Result<Pidfile, PidfileError> {
        let pid = std::process::id();
        if let Some(old) = read(path)
            && old != pid as i32
            && is_alive(old)
        {
            return Err(PidfileError::AlreadyRunning {
                pid: old,
                path: path.display().to_string(),
            });
        }
        let io_err = |source| PidfileError::Io {
            path: path.display().to_string(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.{pid}.tmp",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let write = || -> io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            writeln!(f, "{pid}")?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(e)
        })?;
        Ok(Pidfile {
            path: path.to_path_buf(),
            pid,
        })
    }

    /// Moves the file to `to` (USR2 promotion: `<pidfile>.2` → `<pidfile>`).
    pub(crate) fn rename(&mut self, to: &Path) -> io::Result<()> {
        fs::rename(&self.path, to)?;
        self.path = to.to_path_buf();
        Ok(())
    }

    /// Removes the file if it still names us (a newer master may have taken it over).
    pub(crate) fn unlink(&self) {
        if read(&self.path) == Some(self.pid as i32) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("runicorn-pidfile-{}-{name}", std::process::id()))
    }

    #[test]
    fn create_writes_our_pid_and_unlink_removes_it() {
        let p = tmp("a");
        let f = Pidfile::create(&p).unwrap();
        assert_eq!(read(&p), Some(std::process::id() as i32));
        f.unlink();
        assert!(!p.exists());
    }

    #[test]
    fn refuses_a_live_pid_but_replaces_a_stale_one() {
        let p = tmp("b");
        // pid 1 is always alive.
        fs::write(&p, "1\n").unwrap();
        let err = Pidfile::create(&p).unwrap_err();
        assert!(
            err.to_string().contains("Already running on PID 1"),
            "{err}"
        );
        // A pid that cannot exist (above pid_max) is stale.
        fs::write(&p, "2147483646\n").unwrap();
        let f = Pidfile::create(&p).unwrap();
        assert_eq!(read(&p), Some(std::process::id() as i32));
        f.unlink();
    }

    #[test]
    fn unlink_leaves_a_file_naming_someone_else() {
        let p = tmp("c");
        let f = Pidfile::create(&p).unwrap();
        fs::write(&p, "1\n").unwrap();
        f.unlink();
        assert!(p.exists());
        fs::remove_file(&p).unwrap();
    }
}
