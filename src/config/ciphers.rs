//! `--ciphers`: maps the names operators write (rustls's, IANA's, OpenSSL's) to the
//! aws-lc-rs provider's cipher suites. OpenSSL cipher *strings* (keywords such as `HIGH`,
//! `!aNULL`, `ECDHE+AESGCM`, `@STRENGTH`) describe OpenSSL's own suite algebra and cannot
//! be translated faithfully, so they are refused with the list of usable names rather than
//! approximated.

use rustls::SupportedCipherSuite;
use rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES;

/// OpenSSL spellings (TLS 1.2) and IANA spellings (TLS 1.3) of the suites rustls has,
/// paired with rustls's own name.
const ALIASES: &[(&str, &str)] = &[
    ("TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"),
    ("TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS13_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

fn lookup(name: &str) -> Option<SupportedCipherSuite> {
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, rustls_name)| rustls_name);
    ALL_CIPHER_SUITES.iter().copied().find(|s| {
        s.suite()
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(canonical))
    })
}

/// The suites `text` names, in the order given (the server's preference order), without
/// duplicates. Names are separated by commas or colons.
///
/// # Errors
/// The first name that is not a suite rustls offers, with the names that are.
pub fn parse(text: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    for name in text
        .split([',', ':'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        match lookup(name) {
            Some(s) => {
                if !out.iter().any(|o| o.suite() == s.suite()) {
                    out.push(s);
                }
            }
            None => {
                let known: Vec<&str> = ALIASES.iter().map(|(a, _)| *a).collect();
                let hint = if name.contains(['!', '+', '@'])
                    || name.chars().all(|c| c.is_ascii_uppercase())
                {
                    " (OpenSSL cipher-string keywords cannot be mapped to rustls; name the suites)"
                } else {
                    ""
                };
                return Err(format!(
                    "{name:?} is not a cipher suite runicorn can use{hint}; use names from: {}, or rustls's \
                     TLS13_*/TLS_ECDHE_*_WITH_* spellings",
                    known.join(", ")
                ));
            }
        }
    }
    if out.is_empty() {
        return Err("names no cipher suite".into());
    }
    Ok(out)
}

/// Validates `--ciphers` at configuration time, keeping the operator's text.
pub(crate) fn validate(text: &str) -> Result<Option<String>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse(text).map(|_| Some(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CipherSuite;

    #[test]
    fn every_spelling_maps() {
        let s = parse(
            "ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384,tls13_chacha20_poly1305_sha256",
        )
        .unwrap();
        let got: Vec<CipherSuite> = s.iter().map(|s| s.suite()).collect();
        assert_eq!(
            got,
            [
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS13_AES_256_GCM_SHA384,
                CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            ]
        );
        assert_eq!(
            parse(
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
            )
            .unwrap()
            .len(),
            1
        );
    }

    #[test]
    fn openssl_strings_are_refused_clearly() {
        for bad in [
            "HIGH:!aNULL",
            "ECDHE+AESGCM",
            "AES128-SHA",
            "DEFAULT@SECLEVEL=2",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("is not a cipher suite"), "{bad}: {e}");
        }
        assert!(
            parse("HIGH")
                .unwrap_err()
                .contains("OpenSSL cipher-string keywords")
        );
        assert!(parse(" , ").is_err());
        assert_eq!(validate("").unwrap(), None);
    }
}
