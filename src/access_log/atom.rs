//! The atom table: which `%(key)` names exist, what each one means, and whether Gunicorn
//! hands it to Python's `%` operator as a `str` or an `int`.
//!
//! The letter ↔ variant mapping lives here and nowhere else. Resolution happens once, at
//! compile time: a key becomes an [`Atom`], so rendering never compares strings, and a
//! `{name}i` / `{name}o` key becomes a pre-parsed [`HeaderName`], so a lookup is one hash.

use http::HeaderName;

/// One thing a format can reference, resolved from its `%(key)` at compile time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Atom {
    /// `h`: the peer address (`REMOTE_ADDR`); empty for unix-socket peers.
    RemoteAddr,
    /// `l`: always `-` (identd).
    Ident,
    /// `u`: the user name from `Authorization: Basic`.
    User,
    /// `t`: local time at log time, `[24/Nov/2026:21:15:52 +0000]`.
    Time,
    /// `r`: `METHOD TARGET PROTOCOL`.
    RequestLine,
    /// `m`: the request method.
    Method,
    /// `U`: the percent-decoded path (`PATH_INFO`).
    PathInfo,
    /// `q`: the raw query string without `?` (empty, not `-`, when absent).
    Query,
    /// `H`: the protocol, `HTTP/1.1`.
    Protocol,
    /// `s`: the status code.
    Status,
    /// `B`: body bytes sent, an integer.
    BodyBytes,
    /// `b`: body bytes sent as a string (`0` for an empty body, `-` if unknown).
    BodyBytesClf,
    /// `f`: the `Referer` request header.
    Referer,
    /// `a`: the `User-Agent` request header.
    UserAgent,
    /// `T`: whole seconds of the request time.
    Seconds,
    /// `M`: whole milliseconds.
    Millis,
    /// `D`: microseconds.
    Micros,
    /// `L`: decimal seconds, `0.000509`.
    SecondsDecimal,
    /// `p`: `<pid>`.
    Pid,
    /// `{name}i`: a request header, last value wins.
    RequestHeader(HeaderName),
    /// `{name}o`: a response header as set by the app, last value wins.
    ResponseHeader(HeaderName),
    /// `{key}e`: a CGI-style environ key.
    Environ(EnvKey),
    /// Anything else: always renders `-`, as Gunicorn's `SafeAtoms` does for missing keys.
    Missing,
}

/// The environ keys a server knows without a WSGI app (`{key}e`, key lower-cased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvKey {
    RemoteAddr,
    RemotePort,
    UrlScheme,
    RawUri,
    QueryString,
    PathInfo,
    ScriptName,
    RequestMethod,
    ServerProtocol,
    ServerName,
    ServerPort,
    ServerSoftware,
    ContentType,
    ContentLength,
    /// `http_<name>`: request header `<name>` (underscores read as dashes), repeats
    /// comma-joined as in the WSGI environ.
    Http(HeaderName),
}

/// How Gunicorn's atom dict holds a value, which decides what Python's `%` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Str,
    Int,
}

/// Single-letter atoms, in Gunicorn's documentation order.
const LETTERS: &[(&str, Atom)] = &[
    ("h", Atom::RemoteAddr),
    ("l", Atom::Ident),
    ("u", Atom::User),
    ("t", Atom::Time),
    ("r", Atom::RequestLine),
    ("m", Atom::Method),
    ("U", Atom::PathInfo),
    ("q", Atom::Query),
    ("H", Atom::Protocol),
    ("s", Atom::Status),
    ("B", Atom::BodyBytes),
    ("b", Atom::BodyBytesClf),
    ("f", Atom::Referer),
    ("a", Atom::UserAgent),
    ("T", Atom::Seconds),
    ("M", Atom::Millis),
    ("D", Atom::Micros),
    ("L", Atom::SecondsDecimal),
    ("p", Atom::Pid),
];

const ENV_KEYS: &[(&str, EnvKey)] = &[
    ("remote_addr", EnvKey::RemoteAddr),
    ("remote_port", EnvKey::RemotePort),
    ("wsgi.url_scheme", EnvKey::UrlScheme),
    ("raw_uri", EnvKey::RawUri),
    ("query_string", EnvKey::QueryString),
    ("path_info", EnvKey::PathInfo),
    ("script_name", EnvKey::ScriptName),
    ("request_method", EnvKey::RequestMethod),
    ("server_protocol", EnvKey::ServerProtocol),
    ("server_name", EnvKey::ServerName),
    ("server_port", EnvKey::ServerPort),
    ("server_software", EnvKey::ServerSoftware),
    ("content_type", EnvKey::ContentType),
    ("content_length", EnvKey::ContentLength),
];

/// Response headers Gunicorn removes (`util.hop_headers`) before the atoms see them, so
/// `{name}o` for these is always `-`.
const HIDDEN_RESPONSE_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "server",
    "date",
];

impl Atom {
    /// Resolves a mapping key exactly as `SafeAtoms.__getitem__` does: keys starting with
    /// `{` are lower-cased, everything else is case-sensitive, unknown keys are [`Atom::Missing`].
    pub fn resolve(key: &str) -> Atom {
        if let Some((_, atom)) = LETTERS.iter().find(|(k, _)| *k == key) {
            return atom.clone();
        }
        if !key.starts_with('{') {
            return Atom::Missing;
        }
        let lower = key.to_ascii_lowercase();
        // Python lower-cases non-ASCII too, but no real name contains it: such keys miss either way.
        let Some(rest) = lower.strip_prefix('{') else {
            return Atom::Missing;
        };
        let Some(close) = rest.rfind('}') else {
            return Atom::Missing;
        };
        let (name, suffix) = (&rest[..close], &rest[close + 1..]);
        match suffix {
            "i" => {
                HeaderName::from_bytes(name.as_bytes()).map_or(Atom::Missing, Atom::RequestHeader)
            }
            "o" if HIDDEN_RESPONSE_HEADERS.contains(&name) => Atom::Missing,
            "o" => {
                HeaderName::from_bytes(name.as_bytes()).map_or(Atom::Missing, Atom::ResponseHeader)
            }
            "e" => EnvKey::resolve(name).map_or(Atom::Missing, Atom::Environ),
            _ => Atom::Missing,
        }
    }

    /// The Python type of this atom's value in Gunicorn's dict. `B` is `int` (or `None`,
    /// which this crate renders as `-`); `T`, `M`, `D` are ints; every other value,
    /// including the `-` of a missing key, is a `str`.
    pub fn value_type(&self) -> ValueType {
        match self {
            Atom::BodyBytes | Atom::Seconds | Atom::Millis | Atom::Micros => ValueType::Int,
            _ => ValueType::Str,
        }
    }
}

impl EnvKey {
    fn resolve(name: &str) -> Option<EnvKey> {
        if let Some((_, k)) = ENV_KEYS.iter().find(|(k, _)| *k == name) {
            return Some(k.clone());
        }
        let header = name.strip_prefix("http_")?;
        // Gunicorn puts Content-Type/Length at CONTENT_TYPE/CONTENT_LENGTH only, never HTTP_*.
        if header == "content_type" || header == "content_length" {
            return None;
        }
        let dashed: String = header
            .chars()
            .map(|c| if c == '_' { '-' } else { c })
            .collect();
        HeaderName::from_bytes(dashed.as_bytes())
            .ok()
            .map(EnvKey::Http)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_case_sensitive_and_braces_are_not() {
        assert_eq!(Atom::resolve("h"), Atom::RemoteAddr);
        assert_eq!(Atom::resolve("U"), Atom::PathInfo);
        assert_eq!(Atom::resolve("u"), Atom::User);
        assert_eq!(Atom::resolve("Host"), Atom::Missing);
        assert_eq!(Atom::resolve("zz"), Atom::Missing);
        assert_eq!(Atom::resolve(""), Atom::Missing);
        let xff = Atom::RequestHeader(HeaderName::from_static("x-forwarded-for"));
        assert_eq!(Atom::resolve("{X-Forwarded-For}i"), xff);
        assert_eq!(Atom::resolve("{x-forwarded-for}i"), xff);
    }

    #[test]
    fn hop_by_hop_and_server_date_are_never_visible_as_response_atoms() {
        for h in [
            "{Connection}o",
            "{server}o",
            "{date}o",
            "{transfer-encoding}o",
        ] {
            assert_eq!(Atom::resolve(h), Atom::Missing, "{h}");
        }
        assert!(matches!(
            Atom::resolve("{content-type}o"),
            Atom::ResponseHeader(_)
        ));
        // Request side keeps them: Gunicorn only filters the response.
        assert!(matches!(
            Atom::resolve("{connection}i"),
            Atom::RequestHeader(_)
        ));
    }

    #[test]
    fn environ_keys() {
        assert_eq!(
            Atom::resolve("{REMOTE_PORT}e"),
            Atom::Environ(EnvKey::RemotePort)
        );
        assert_eq!(
            Atom::resolve("{wsgi.url_scheme}e"),
            Atom::Environ(EnvKey::UrlScheme)
        );
        assert_eq!(
            Atom::resolve("{http_x_forwarded_for}e"),
            Atom::Environ(EnvKey::Http(HeaderName::from_static("x-forwarded-for")))
        );
        assert_eq!(Atom::resolve("{http_content_type}e"), Atom::Missing);
        assert_eq!(Atom::resolve("{wsgi.input}e"), Atom::Missing);
        assert_eq!(Atom::resolve("{bad header}i"), Atom::Missing);
        assert_eq!(Atom::resolve("{x}z"), Atom::Missing);
    }

    #[test]
    fn value_types_follow_gunicorns_dict() {
        for k in ["B", "T", "M", "D"] {
            assert_eq!(Atom::resolve(k).value_type(), ValueType::Int, "{k}");
        }
        for k in ["b", "s", "L", "p", "zz", "{a}i"] {
            assert_eq!(Atom::resolve(k).value_type(), ValueType::Str, "{k}");
        }
    }
}
