//! Trusted front-end proxies: `secure_scheme_headers` from a peer in
//! `forwarded_allow_ips` make `wsgi.url_scheme` "https" (Gunicorn's `http/message.py`),
//! so frameworks build correct external URLs and redirects behind a TLS-terminating
//! load balancer; its `forwarder_headers` (SCRIPT_NAME, PATH_INFO) reach the environ.
//! Decided on the tokio side, before the request is queued.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::HeaderName;

use crate::config::Settings;
use crate::http::Peer;

/// The proxy-trust settings, parsed once per worker.
pub(crate) struct Proxy {
    secure: Vec<(HeaderName, String)>,
    /// `--forwarder-headers`: what a trusted proxy may set with `_` in the name.
    pub(super) forwarders: Forwarders,
    allow_all: bool,
    nets: Vec<(IpAddr, u8)>,
}

impl Proxy {
    pub(crate) fn new(s: &Settings) -> Proxy {
        let secure = s
            .secure_scheme_headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    HeaderName::from_bytes(k.trim().as_bytes()).ok()?,
                    v.trim().to_string(),
                ))
            })
            .collect();
        let nets = s
            .forwarded_allow_ips
            .iter()
            .filter_map(|item| {
                let (ip, bits) = item
                    .split_once('/')
                    .map_or((item.as_str(), None), |(i, b)| (i, Some(b)));
                let ip: IpAddr = ip.trim().parse().ok()?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits = bits.map_or(Some(max), |b| {
                    b.trim().parse::<u8>().ok().filter(|&b| b <= max)
                })?;
                Some((ip, bits))
            })
            .collect();
        Proxy {
            secure,
            forwarders: Forwarders::new(&s.forwarder_headers),
            allow_all: s.forwarded_allow_ips.iter().any(|i| i.trim() == "*"),
            nets,
        }
    }

    /// Whether headers from this peer are believed. Unix-socket peers are (Gunicorn: a
    /// non-tuple peer address is trusted), and so are TCP peers inside an allowed network.
    pub(crate) fn trusted(&self, peer: Option<Peer>) -> bool {
        match peer {
            Some(Peer::Tcp(a)) => {
                self.allow_all
                    || self
                        .nets
                        .iter()
                        .any(|&(net, bits)| contains(net, bits, a.ip()))
            }
            _ => true,
        }
    }

    /// `Ok(true)` for https; `Err` when the secure headers contradict each other (Gunicorn:
    /// InvalidSchemeHeaders, a 400).
    /// `tls`: the connection is TLS; `trusted`: [`Proxy::trusted`] said so of the peer.
    pub(crate) fn https(&self, tls: bool, trusted: bool, headers: &HeaderMap) -> Result<bool, ()> {
        if self.secure.is_empty() || !trusted {
            return Ok(tls);
        }
        let mut scheme = None;
        // One walk over the request's few headers, comparing names, rather than a hashed
        // lookup per secure header; the outcome does not depend on the order (every value
        // must agree).
        for (name, value) in headers {
            for (_, want) in self.secure.iter().filter(|(n, _)| n == name) {
                let secure = value.to_str().is_ok_and(|v| v.trim() == want);
                match scheme {
                    Some(s) if s != secure => return Err(()),
                    _ => scheme = Some(secure),
                }
            }
        }
        // A trusted proxy's word wins (Gunicorn: the header sets the scheme).
        Ok(scheme.unwrap_or(tls))
    }

    /// The mount point a trusted proxy forwarded in a `SCRIPT_NAME` header, when
    /// `--forwarder-headers` lets it: the last one, as Gunicorn reads headers in order, its
    /// bytes as latin-1 (the environ's encoding). The WSGI host makes it the request's
    /// SCRIPT_NAME, the ASGI host the scope's `root_path`.
    pub(crate) fn script_name(&self, trusted: bool, headers: &HeaderMap) -> Option<String> {
        if !trusted || !self.forwarders.allows("script_name") {
            return None;
        }
        let last = headers.get_all("script_name").iter().next_back()?;
        Some(last.as_bytes().iter().map(|&b| b as char).collect())
    }
}

/// `--forwarder-headers` (default `SCRIPT_NAME,PATH_INFO`): header names with `_` that a
/// trusted proxy may send, which reach the environ as `HTTP_*` like any other header (under
/// `header_map = drop` other `_` names are dropped), and `SCRIPT_NAME`, which also becomes
/// the request's `SCRIPT_NAME` (Gunicorn 27's mapping, checked against it).
pub(super) struct Forwarders {
    /// Lower-case header names (as the `http` crate stores them).
    names: Vec<String>,
    all: bool,
}

impl Forwarders {
    fn new(names: &[String]) -> Forwarders {
        Forwarders {
            names: names
                .iter()
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty() && n != "*")
                .collect(),
            all: names.iter().any(|n| n.trim() == "*"),
        }
    }

    /// Whether a trusted proxy may set `name` (a lower-case header name).
    pub(super) fn allows(&self, name: &str) -> bool {
        self.all || self.names.iter().any(|n| n == name)
    }
}

/// Whether `ip` lies in `net/bits` (IPv4-mapped IPv6 peers compare as IPv4).
fn contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ConnInfo;
    use std::net::SocketAddr;

    fn proxy(allow: &[&str]) -> Proxy {
        let s = Settings {
            forwarded_allow_ips: allow.iter().map(|s| s.to_string()).collect(),
            ..Settings::default()
        };
        Proxy::new(&s)
    }

    /// The peer's trust and the connection's TLS, as the WSGI edge passes them.
    fn https(p: &Proxy, conn: Option<&ConnInfo>, h: &HeaderMap) -> Result<bool, ()> {
        p.https(
            conn.is_some_and(|c| c.tls),
            p.trusted(conn.map(|c| c.peer)),
            h,
        )
    }

    fn conn(addr: &str) -> ConnInfo {
        ConnInfo {
            peer: Peer::Tcp(addr.parse::<SocketAddr>().unwrap()),
            local: None,
            tls: false,
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn secure_headers_only_from_trusted_peers() {
        let p = proxy(&["127.0.0.1", "::1", "10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-proto", "https")]);
        assert_eq!(https(&p, Some(&conn("127.0.0.1:1")), &h), Ok(true));
        assert_eq!(https(&p, Some(&conn("10.20.30.40:1")), &h), Ok(true));
        assert_eq!(https(&p, Some(&conn("[::ffff:10.1.2.3]:1")), &h), Ok(true));
        assert_eq!(https(&p, Some(&conn("192.168.1.1:1")), &h), Ok(false));
        assert_eq!(
            https(
                &p,
                Some(&ConnInfo {
                    peer: Peer::Unix,
                    local: None,
                    tls: false
                }),
                &h
            ),
            Ok(true)
        );
        let tls = ConnInfo {
            tls: true,
            ..conn("192.168.1.1:1")
        };
        assert_eq!(
            https(&p, Some(&tls), &HeaderMap::new()),
            Ok(true),
            "TLS connections are https"
        );
        assert_eq!(
            https(
                &p,
                Some(&conn("127.0.0.1:1")),
                &headers(&[("x-forwarded-proto", "http")])
            ),
            Ok(false)
        );
        assert_eq!(
            https(&proxy(&["*"]), Some(&conn("8.8.8.8:1")), &h),
            Ok(true)
        );
    }

    #[test]
    fn script_name_only_from_trusted_peers_that_may_send_it() {
        let p = proxy(&["127.0.0.1"]);
        let mut h = headers(&[("script_name", "/a")]);
        h.append("script_name", http::HeaderValue::from_static("/b"));
        h.append(
            "script_name",
            http::HeaderValue::from_bytes(b"/caf\xe9").unwrap(),
        );
        // The last one, its bytes read as latin-1.
        assert_eq!(p.script_name(true, &h).as_deref(), Some("/caf\u{e9}"));
        assert_eq!(p.script_name(false, &h), None);
        assert_eq!(p.script_name(true, &HeaderMap::new()), None);
        let s = Settings {
            forwarder_headers: vec!["PATH_INFO".into()],
            ..Settings::default()
        };
        assert_eq!(Proxy::new(&s).script_name(true, &h), None);
    }

    #[test]
    fn contradicting_headers_are_an_error() {
        let p = proxy(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-proto", "https"), ("x-forwarded-ssl", "off")]);
        assert_eq!(https(&p, Some(&conn("127.0.0.1:1")), &h), Err(()));
        let h = headers(&[("x-forwarded-proto", "https"), ("x-forwarded-ssl", "on")]);
        assert_eq!(https(&p, Some(&conn("127.0.0.1:1")), &h), Ok(true));
    }
}
