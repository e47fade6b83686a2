//! Reading certificate chains and private keys from PEM files, with the checks that make a
//! bad file a clear startup (or HUP) error naming the file: unreadable, no PEM block of the
//! right kind, an expired leaf, or a key that does not match its certificate.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate chain and its key, validated.
#[derive(Debug)]
pub(crate) struct Identity {
    /// Leaf first, as read from the certificate file.
    pub chain: Vec<CertificateDer<'static>>,
    /// PKCS#8, PKCS#1 or SEC1, as read from the key file.
    pub key: PrivateKeyDer<'static>,
    /// Where they came from, for messages.
    pub certfile: String,
    pub keyfile: String,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            certfile: self.certfile.clone(),
            keyfile: self.keyfile.clone(),
        }
    }
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(Path::new(path)).map_err(|e| format!("cannot read the TLS {what} {path}: {e}"))
}

/// Every certificate in a PEM file (a full chain keeps its order).
pub(crate) fn load_certs(path: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path, what)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    let certs = certs.map_err(|e| format!("cannot parse the TLS {what} {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "the TLS {what} {path} holds no PEM CERTIFICATE block"
        ));
    }
    Ok(certs)
}

/// The first private key in a PEM file, in any of the forms rustls reads.
pub(crate) fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read(path, "key file")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            format!("the TLS key file {path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")
        }
        e => format!("cannot parse the TLS key file {path}: {e}"),
    })
}

impl Identity {
    /// Reads and checks a certificate/key pair. The key may live in the certificate file
    /// and vice versa (Gunicorn accepts either file alone).
    pub(crate) fn load(
        certfile: &str,
        keyfile: &str,
        provider: &CryptoProvider,
    ) -> Result<Identity, String> {
        let chain = load_certs(certfile, "certificate file")?;
        let key = load_key(keyfile)?;
        let id = Identity {
            chain,
            key,
            certfile: certfile.into(),
            keyfile: keyfile.into(),
        };
        id.check_expiry(now_unix())?;
        id.certified(provider)?;
        Ok(id)
    }

    /// The rustls form, checking that the key matches the leaf certificate.
    pub(crate) fn certified(&self, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, String> {
        let ck = CertifiedKey::from_der(self.chain.clone(), self.key.clone_key(), provider)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => {
                    format!(
                        "the TLS key file {} does not match the certificate in {}",
                        self.keyfile, self.certfile
                    )
                }
                e => format!(
                    "cannot use the TLS key file {} with {}: {e}",
                    self.keyfile, self.certfile
                ),
            })?;
        Ok(Arc::new(ck))
    }

    fn check_expiry(&self, now: i64) -> Result<(), String> {
        let Some(leaf) = self.chain.first() else {
            return Err(format!(
                "the TLS certificate file {} holds no certificate",
                self.certfile
            ));
        };
        match validity(leaf) {
            Some((_, not_after)) if not_after < now => Err(format!(
                "the TLS certificate in {} expired {} day(s) ago",
                self.certfile,
                (now - not_after) / 86_400
            )),
            Some(_) => Ok(()),
            None => Err(format!(
                "cannot read the validity period of the certificate in {}",
                self.certfile
            )),
        }
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ===== a minimal DER walk to the validity dates =====
// rustls and webpki do not expose a certificate's dates; a dozen lines of DER beat a
// full X.509 parser dependency. Every step is bounds-checked: the file is untrusted.

/// One DER TLV: (tag, contents, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let (lb, rest) = b.split_at(n);
        b = rest;
        lb.iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x))
    };
    if b.len() < len {
        return None;
    }
    let (contents, rest) = b.split_at(len);
    Some((tag, contents, rest))
}

/// (notBefore, notAfter) of a certificate, as Unix seconds.
pub(crate) fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    let (0x30, certificate, _) = tlv(cert)? else {
        return None;
    };
    let (0x30, tbs, _) = tlv(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    // [0] EXPLICIT version is optional.
    if tag == 0xa0 {
        rest = r;
    }
    let (_serial, _, r) = tlv(rest)?;
    let (_sig_alg, _, r) = tlv(r)?;
    let (_issuer, _, r) = tlv(r)?;
    let (0x30, validity, _) = tlv(r)? else {
        return None;
    };
    let (t1, nb, r) = tlv(validity)?;
    let (t2, na, _) = tlv(r)?;
    Some((der_time(t1, nb)?, der_time(t2, na)?))
}

/// UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) to Unix seconds.
fn der_time(tag: u8, b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?.strip_suffix('Z')?;
    let (year, rest) = match (tag, s.len()) {
        (0x17, 12) => {
            let yy: i64 = s.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        (0x18, 14) => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let field = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (month, day, h, m, sec) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certs_dir(name: &str) -> String {
        format!("{}/certs/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn provider() -> CryptoProvider {
        rustls::crypto::aws_lc_rs::default_provider()
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(der_time(0x17, b"210101000000Z"), Some(1_609_459_200));
        assert_eq!(der_time(0x18, b"20990101000000Z"), Some(4_070_908_800));
        assert_eq!(der_time(0x17, b"2101010000Z"), None);
        assert_eq!(der_time(0x17, b"211301000000Z"), None);
    }

    #[test]
    fn loads_the_test_pki() {
        let p = provider();
        let id = Identity::load(&certs_dir("server.pem"), &certs_dir("server.key"), &p).unwrap();
        assert_eq!(id.chain.len(), 2, "full chain");
        assert_eq!(validity(&id.chain[0]).map(|v| v.1), Some(4_070_908_800));
        // SEC1 form of the same key.
        Identity::load(&certs_dir("server.pem"), &certs_dir("server-sec1.key"), &p).unwrap();
    }

    #[test]
    fn bad_files_are_named() {
        let p = provider();
        let e =
            Identity::load(&certs_dir("expired.pem"), &certs_dir("expired.key"), &p).unwrap_err();
        assert!(e.contains("expired.pem") && e.contains("expired"), "{e}");
        let e = Identity::load(&certs_dir("server.pem"), &certs_dir("other.key"), &p).unwrap_err();
        assert!(
            e.contains("other.key") && e.contains("does not match"),
            "{e}"
        );
        let e = Identity::load(&certs_dir("nope.pem"), &certs_dir("server.key"), &p).unwrap_err();
        assert!(e.contains("nope.pem"), "{e}");
        let e = Identity::load(&certs_dir("server.key"), &certs_dir("server.key"), &p).unwrap_err();
        assert!(e.contains("no PEM CERTIFICATE"), "{e}");
        let e = Identity::load(&certs_dir("server.pem"), &certs_dir("server.pem"), &p).unwrap_err();
        assert!(e.contains("no PEM private key"), "{e}");
    }

    #[test]
    fn garbage_der_never_panics() {
        let id = Identity::load(
            &certs_dir("server.pem"),
            &certs_dir("server.key"),
            &provider(),
        )
        .unwrap();
        let leaf = id.chain[0].as_ref();
        for cut in 0..leaf.len() {
            let _ = validity(&leaf[..cut]);
        }
        assert_eq!(validity(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
