//! A raw HTTP/1.1 client over a `TcpStream`: requests written by hand, responses read
//! exactly (status, headers, a Content-Length or chunked body).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A minimal HTTP/1.1 client connection.
pub(crate) struct Conn {
    stream: BufReader<TcpStream>,
}

/// A parsed response.
#[derive(Debug)]
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

impl Conn {
    pub(crate) fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(s),
        })
    }

    /// Wraps an already-connected socket.
    pub(crate) fn from_stream(s: TcpStream) -> Conn {
        Conn {
            stream: BufReader::new(s),
        }
    }

    /// The underlying socket, for writing raw bytes.
    pub(crate) fn stream_mut(&mut self) -> &mut TcpStream {
        self.stream.get_mut()
    }

    pub(crate) fn request(&mut self, path: &str) -> std::io::Result<Resp> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        self.stream.get_mut().write_all(req.as_bytes())?;
        self.read_response()
    }

    /// Reads the next final response, skipping interim 1xx ones.
    pub(crate) fn read_response(&mut self) -> std::io::Result<Resp> {
        read_response_from(&mut self.stream)
    }
}

/// Anything that can send a GET and read the response (plain or TLS connections), for
/// `Load`.
pub(crate) trait Requester: Send + 'static {
    fn request(&mut self, path: &str) -> std::io::Result<Resp>;
}

impl Requester for Conn {
    fn request(&mut self, path: &str) -> std::io::Result<Resp> {
        Conn::request(self, path)
    }
}

/// Reads the next final HTTP/1.1 response (Content-Length framing) from any buffered
/// reader, skipping interim 1xx responses.
pub(crate) fn read_response_from(stream: &mut impl BufRead) -> std::io::Result<Resp> {
    loop {
        let r = read_one_response(stream)?;
        if !(100..200).contains(&r.status) {
            return Ok(r);
        }
    }
}

fn read_one_response(stream: &mut impl BufRead) -> std::io::Result<Resp> {
    {
        let eof = || {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a full response",
            )
        };
        let mut line = String::new();
        if stream.read_line(&mut line)? == 0 {
            return Err(eof());
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(eof)?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if stream.read_line(&mut h)? == 0 {
                return Err(eof());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        stream.read_exact(&mut body)?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }
}

/// One request on a fresh connection; returns (status, body).
pub(crate) fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let r = Conn::open(addr)?.request(path)?;
    Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
}
