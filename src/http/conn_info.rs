//! Where a request came in: the peer and the listener's address, inserted by the server
//! into every request's extensions for the layers above that need more than the request
//! (the WSGI environ's REMOTE_ADDR and SERVER_NAME, the hooks' `req` object).

use std::net::SocketAddr;

/// The remote end of a connection.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    /// A TCP client.
    Tcp(SocketAddr),
    /// A unix-socket client (no address).
    Unix,
}

impl Peer {
    /// The socket address, for TCP peers.
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            Peer::Tcp(a) => Some(*a),
            Peer::Unix => None,
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(a) => write!(f, "{a}"),
            Peer::Unix => f.write_str("unix socket"),
        }
    }
}

/// Where a request came in, for apps that need more than the request (the WSGI host's
/// REMOTE_ADDR and SERVER_NAME): inserted into every request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The client.
    pub peer: Peer,
    /// The listener's own address (TCP only), as Gunicorn's `getsockname()`.
    pub local: Option<SocketAddr>,
    /// The connection is TLS (`wsgi.url_scheme` https).
    pub tls: bool,
}
