//! Listening sockets: bound by the master (or inherited from a parent master, systemd or
//! `fd://N`), shared with every worker across fork, accepted on by each worker's runtime.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::PathBuf;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::config::BindAddr;

/// The address family of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Family {
    /// TCP on this address (port resolved, so port 0 shows the real port).
    Tcp(SocketAddr),
    /// A unix stream socket at this path (None for unnamed/abstract sockets).
    Unix(Option<PathBuf>),
}

/// One listening socket.
#[derive(Debug)]
pub(crate) struct Listener {
    fd: OwnedFd,
    family: Family,
    /// Whether we created the socket file and must remove it on shutdown.
    owns_path: bool,
}

impl std::fmt::Display for Listener {
    /// Gunicorn's spelling, used in `Listening at: ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.family {
            Family::Tcp(SocketAddr::V4(a)) => write!(f, "http://{}:{}", a.ip(), a.port()),
            Family::Tcp(SocketAddr::V6(a)) => write!(f, "http://[{}]:{}", a.ip(), a.port()),
            Family::Unix(Some(p)) => write!(f, "unix:{}", p.display()),
            Family::Unix(None) => write!(f, "unix:"),
        }
    }
}

/// Binding failed for good.
#[derive(Debug, thiserror::Error)]
#[error("Can't connect to {addr}: {source}")]
pub(crate) struct BindError {
    addr: String,
    source: io::Error,
}

impl std::os::fd::AsFd for Listener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Listener {
    /// The raw descriptor (for GUNICORN_FD hand-over).
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// A duplicate handle for a worker's runtime.
    pub(crate) fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }

    /// Binds `addr`, retrying for 5 seconds while the address is in use (Gunicorn does
    /// the same, which smooths over a previous process still releasing the port).
    pub(crate) fn bind(
        addr: &BindAddr,
        backlog: i32,
        reuse_port: bool,
    ) -> Result<Listener, BindError> {
        let mut attempt = 0;
        loop {
            match Self::bind_once(addr, backlog, reuse_port) {
                Ok(l) => return Ok(l),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempt < 4 => {
                    tracing::error!("Connection in use: {addr}");
                    tracing::error!("Retrying in 1 second.");
                    attempt += 1;
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(source) => {
                    return Err(BindError {
                        addr: addr.to_string(),
                        source,
                    });
                }
            }
        }
    }

    fn bind_once(addr: &BindAddr, backlog: i32, reuse_port: bool) -> io::Result<Listener> {
        match addr {
            BindAddr::Tcp { host, port } => {
                let sa = (host.as_str(), *port)
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| {
                        io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"))
                    })?;
                let socket = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
                socket.set_reuse_address(true)?;
                if reuse_port {
                    socket.set_reuse_port(true)?;
                }
                if sa.is_ipv6() {
                    // `[::]` means IPv6 only here, as Gunicorn's; bind 0.0.0.0 for IPv4.
                    socket.set_only_v6(true)?;
                }
                socket.bind(&sa.into())?;
                socket.listen(backlog)?;
                socket.set_nonblocking(true)?;
                let local = socket.local_addr()?.as_socket().unwrap_or(sa);
                Ok(Listener {
                    fd: socket.into(),
                    family: Family::Tcp(local),
                    owns_path: false,
                })
            }
            BindAddr::Unix(path) => {
                // A stale socket file from a crashed run would make bind fail forever; any
                // other file there is the user's, and is left alone (as Gunicorn does).
                if let Ok(meta) = std::fs::symlink_metadata(path) {
                    use std::os::unix::fs::FileTypeExt;
                    if !meta.file_type().is_socket() {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("{} is not a socket", path.display()),
                        ));
                    }
                    std::fs::remove_file(path)?;
                }
                let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
                socket.bind(&SockAddr::unix(path)?)?;
                socket.listen(backlog)?;
                socket.set_nonblocking(true)?;
                Ok(Listener {
                    fd: socket.into(),
                    family: Family::Unix(Some(path.clone())),
                    owns_path: true,
                })
            }
            BindAddr::Fd(n) => Self::from_inherited(*n),
        }
    }

    /// Gives a unix socket's file to `uid`/`gid` (None: unchanged), as Gunicorn does after
    /// binding, so workers that run as `--user`/`--group` and a front end in that group
    /// can reach it. TCP and unnamed sockets have no file.
    pub(crate) fn chown(&self, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
        match &self.family {
            Family::Unix(Some(path)) if uid.is_some() || gid.is_some() => {
                std::os::unix::fs::chown(path, uid, gid)
            }
            _ => Ok(()),
        }
    }

    /// Adopts an already-listening descriptor (USR2 parent, systemd, `fd://N`).
    pub(crate) fn from_inherited(fd: RawFd) -> io::Result<Listener> {
        let owned = crate::sys::adopt_fd(fd).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("file descriptor {fd} is not open"),
            )
        })?;
        let socket = Socket::from(owned);
        if !socket.is_listener().unwrap_or(true) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("file descriptor {fd} is not a listening socket"),
            ));
        }
        socket.set_nonblocking(true)?;
        let local = socket.local_addr()?;
        let family = match local.as_socket() {
            Some(sa) => Family::Tcp(sa),
            None => Family::Unix(local.as_pathname().map(|p| p.to_path_buf())),
        };
        // The socket file belongs to whoever created it (the old master or systemd).
        Ok(Listener {
            fd: socket.into(),
            family,
            owns_path: false,
        })
    }

    /// Closes the listener; removes its socket file if we created it and `unlink` is set
    /// (not when a USR2 child master still serves on it).
    pub(crate) fn close(self, unlink: bool) {
        if let (true, true, Family::Unix(Some(p))) = (unlink, self.owns_path, &self.family) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A worker-side listener registered with the worker's tokio runtime.
#[derive(Debug)]
pub(crate) enum Accepting {
    /// TCP.
    Tcp(tokio::net::TcpListener),
    /// Unix stream socket.
    Unix(tokio::net::UnixListener),
}

impl Accepting {
    /// Registers a duplicate of `l` with the current runtime.
    pub(crate) fn from_listener(l: &Listener) -> io::Result<Accepting> {
        let fd = l.try_clone_fd()?;
        Ok(match l.family {
            Family::Tcp(_) => Accepting::Tcp(tokio::net::TcpListener::from_std(
                std::net::TcpListener::from(fd),
            )?),
            Family::Unix(_) => Accepting::Unix(tokio::net::UnixListener::from_std(
                StdUnixListener::from(fd),
            )?),
        })
    }
}
