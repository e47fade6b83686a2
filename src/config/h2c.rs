//! `--http2-cleartext`: whether plaintext listeners take HTTP/2 (h2c), and by which
//! mechanism, parsed once into [`Http2Cleartext`]. Gunicorn 27 spells and defaults it
//! the same way, and (like Gunicorn) a Python config file's `True`/`False` mean
//! prior-knowledge and off.

use std::fmt;
use std::str::FromStr;

/// `--http2-cleartext`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Http2Cleartext {
    /// No h2c: plaintext listeners speak HTTP/1.x only.
    #[default]
    Off,
    /// A connection that opens with the HTTP/2 connection preface is served HTTP/2
    /// (RFC 9113 §3.3).
    PriorKnowledge,
    /// An HTTP/1.1 request with `Upgrade: h2c` is answered over HTTP/2 after a 101
    /// (RFC 7540 §3.2).
    Upgrade,
    /// Either mechanism.
    Both,
}

impl Http2Cleartext {
    /// Whether a connection opening with the preface is served HTTP/2.
    pub fn prior_knowledge(self) -> bool {
        matches!(self, Http2Cleartext::PriorKnowledge | Http2Cleartext::Both)
    }

    /// Whether an `Upgrade: h2c` request is honoured.
    pub fn upgrade(self) -> bool {
        matches!(self, Http2Cleartext::Upgrade | Http2Cleartext::Both)
    }
}

impl FromStr for Http2Cleartext {
    type Err = String;
    fn from_str(t: &str) -> Result<Self, String> {
        match t.trim().to_ascii_lowercase().as_str() {
            "off" | "false" => Ok(Http2Cleartext::Off),
            "prior-knowledge" | "true" => Ok(Http2Cleartext::PriorKnowledge),
            "upgrade" => Ok(Http2Cleartext::Upgrade),
            "both" => Ok(Http2Cleartext::Both),
            _ => Err("must be one of off, prior-knowledge, upgrade, both".into()),
        }
    }
}

impl fmt::Display for Http2Cleartext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Http2Cleartext::Off => "off",
            Http2Cleartext::PriorKnowledge => "prior-knowledge",
            Http2Cleartext::Upgrade => "upgrade",
            Http2Cleartext::Both => "both",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gunicorns_spellings_and_round_trips() {
        for m in [
            Http2Cleartext::Off,
            Http2Cleartext::PriorKnowledge,
            Http2Cleartext::Upgrade,
            Http2Cleartext::Both,
        ] {
            assert_eq!(m.to_string().parse::<Http2Cleartext>(), Ok(m));
        }
        assert_eq!(" Both ".parse(), Ok(Http2Cleartext::Both));
        assert_eq!("True".parse(), Ok(Http2Cleartext::PriorKnowledge));
        assert_eq!("False".parse(), Ok(Http2Cleartext::Off));
        assert!("h2c".parse::<Http2Cleartext>().is_err());
        assert!("".parse::<Http2Cleartext>().is_err());
    }

    #[test]
    fn each_mode_enables_only_its_mechanisms() {
        use Http2Cleartext::*;
        let table = [
            (Off, false, false),
            (PriorKnowledge, true, false),
            (Upgrade, false, true),
            (Both, true, true),
        ];
        for (m, pk, up) in table {
            assert_eq!((m.prior_knowledge(), m.upgrade()), (pk, up), "{m}");
        }
    }
}
