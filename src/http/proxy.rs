//! PROXY protocol v1 (text) and v2 (binary) headers, as Gunicorn accepts
//! them on the first bytes of a connection.
//!
//! Gunicorn's acceptance is narrower than the HAProxy spec: v1 only
//! `TCP4`/`TCP6` with valid addresses and ports (`UNKNOWN` is refused), v2
//! only STREAM over INET/INET6 (UNSPEC tolerated for LOCAL). Errors follow
//! Gunicorn's classes: v1 → 400 `Invalid PROXY line`, v2 → 500 (Gunicorn
//! lets `InvalidProxyHeader` escape its client-error list).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::Reject;

/// Which PROXY versions are accepted (`proxy_protocol` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyMode {
    #[default]
    Off,
    V1,
    V2,
    Auto,
}

impl std::fmt::Display for ProxyMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProxyMode::Off => "off",
            ProxyMode::V1 => "v1",
            ProxyMode::V2 => "v2",
            ProxyMode::Auto => "auto",
        })
    }
}

/// What a PROXY header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyInfo {
    /// The connection does not start with a PROXY header (or the mode is off):
    /// nothing consumed, HTTP starts at byte 0.
    Absent,
    /// v2 LOCAL (health check from the proxy itself): keep the real peer.
    Local,
    /// Proxied TCP connection: the client (`src`) and the address it dialled.
    Tcp { src: SocketAddr, dst: SocketAddr },
}

const V2_SIG: &[u8; 12] = b"\r\n\r\n\x00\r\nQUIT\n";
/// A valid v1 line is at most 107 bytes (spec §2.1), but Gunicorn reads up
/// to the CRLF whatever its length and reports the whole line. We keep that
/// wording for lines up to this many bytes and bound memory beyond it; the
/// verdict only ever looks at the first `V1_CAP + 2` bytes, so it doesn't
/// depend on how the input was split.
const V1_CAP: usize = 4096;

/// Parse a PROXY header at the start of `buf`. `Ok(None)` = need more bytes.
/// On success returns what it said and how many bytes it occupied.
pub fn parse_proxy(buf: &[u8], mode: ProxyMode) -> Result<Option<(ProxyInfo, usize)>, Reject> {
    let v1 = matches!(mode, ProxyMode::V1 | ProxyMode::Auto);
    let v2 = matches!(mode, ProxyMode::V2 | ProxyMode::Auto);
    if v2 {
        let n = buf.len().min(V2_SIG.len());
        if buf.get(..n) == V2_SIG.get(..n) {
            if n < V2_SIG.len() {
                // A prefix of the signature; with v1 also on, `\r\n` could
                // still be an empty line but waiting 12 bytes costs nothing.
                return Ok(None);
            }
            return parse_v2(buf);
        }
    }
    if v1 {
        let n = buf.len().min(6);
        if buf.get(..n) == b"PROXY ".get(..n) {
            if n < 6 {
                return Ok(None);
            }
            return parse_v1(buf);
        }
    }
    Ok(Some((ProxyInfo::Absent, 0)))
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxyInfo, usize)>, Reject> {
    let window = buf.get(..V1_CAP + 2).unwrap_or(buf);
    let Some(crlf) = window.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() >= V1_CAP + 2 {
            return Err(Reject::proxy_line(buf.get(..V1_CAP).unwrap_or(buf)));
        }
        return Ok(None);
    };
    let line = buf.get(..crlf).unwrap_or_default();
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [_, proto, src, dst, sport, dport] = parts.as_slice() else {
        return Err(Reject::proxy_line(line));
    };
    let ip = |s: &[u8]| -> Option<IpAddr> {
        let s = std::str::from_utf8(s).ok()?;
        match *proto {
            b"TCP4" => s.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
            _ => s.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        }
    };
    if *proto != b"TCP4" && *proto != b"TCP6" {
        let mut detail = b"protocol ".to_vec();
        detail.extend_from_slice(super::error::py_repr_str(proto).as_bytes());
        detail.extend_from_slice(b" not supported");
        return Err(Reject::proxy_line(&detail));
    }
    let (Some(s_ip), Some(d_ip)) = (ip(src), ip(dst)) else {
        return Err(Reject::proxy_line(line));
    };
    let port = |p: &[u8]| -> Option<u16> {
        if p.is_empty() || p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(p).ok()?.parse().ok()
    };
    let (Some(sp), Some(dp)) = (port(sport), port(dport)) else {
        let mut detail = b"invalid port ".to_vec();
        detail.extend_from_slice(line);
        return Err(Reject::proxy_line(&detail));
    };
    Ok(Some((
        ProxyInfo::Tcp {
            src: SocketAddr::new(s_ip, sp),
            dst: SocketAddr::new(d_ip, dp),
        },
        crlf + 2,
    )))
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxyInfo, usize)>, Reject> {
    let Some(&[ver_cmd, fam, l1, l2]) = buf.get(12..16) else {
        return Ok(None);
    };
    let version = ver_cmd >> 4;
    if version != 2 {
        return Err(Reject::proxy_header(&format!(
            "unsupported version {version}"
        )));
    }
    let len = usize::from(u16::from_be_bytes([l1, l2]));
    let total = 16 + len;
    let Some(body) = buf.get(16..total) else {
        return Ok(None);
    };
    match ver_cmd & 0x0f {
        0 => return Ok(Some((ProxyInfo::Local, total))),
        1 => {}
        cmd => return Err(Reject::proxy_header(&format!("unsupported command {cmd}"))),
    }
    if fam & 0x0f != 1 {
        return Err(Reject::proxy_header("only TCP protocol is supported"));
    }
    let get2 = |i: usize| match body.get(i..i + 2) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    };
    match fam >> 4 {
        1 => {
            let (Some(a), Some(b), Some(sp), Some(dp)) =
                (body.get(0..4), body.get(4..8), get2(8), get2(10))
            else {
                return Err(Reject::proxy_header("insufficient address data for IPv4"));
            };
            let (Ok(a), Ok(b)) = (<[u8; 4]>::try_from(a), <[u8; 4]>::try_from(b)) else {
                return Err(Reject::proxy_header("insufficient address data for IPv4"));
            };
            let (a, b) = (Ipv4Addr::from(a), Ipv4Addr::from(b));
            Ok(Some((
                ProxyInfo::Tcp {
                    src: SocketAddr::new(a.into(), sp),
                    dst: SocketAddr::new(b.into(), dp),
                },
                total,
            )))
        }
        2 => {
            let (Some(a), Some(b), Some(sp), Some(dp)) =
                (body.get(0..16), body.get(16..32), get2(32), get2(34))
            else {
                return Err(Reject::proxy_header("insufficient address data for IPv6"));
            };
            let (Ok(x), Ok(y)) = (<[u8; 16]>::try_from(a), <[u8; 16]>::try_from(b)) else {
                return Err(Reject::proxy_header("insufficient address data for IPv6"));
            };
            Ok(Some((
                ProxyInfo::Tcp {
                    src: SocketAddr::new(Ipv6Addr::from(x).into(), sp),
                    dst: SocketAddr::new(Ipv6Addr::from(y).into(), dp),
                },
                total,
            )))
        }
        // UNSPEC: the proxy doesn't know the addresses; keep the real peer.
        0 => Ok(Some((ProxyInfo::Local, total))),
        f => Err(Reject::proxy_header(&format!(
            "unsupported address family {f}"
        ))),
    }
}
