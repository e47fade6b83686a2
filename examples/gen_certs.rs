//! Writes the test-only PKI in `certs/` (a CA and the server/client certificates the TLS
//! integration tests use). Run from the repository root:
//! `cargo run --example gen_certs` (see certs/README.md). Every run makes new keys, so
//! commit the whole directory at once.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// (file stem, subject alternative names, common name, (first year, last year)).
type Leaf<'a> = (&'a str, &'a [&'a str], &'a str, (i32, i32));

fn write(dir: &Path, name: &str, text: &str) -> Res<()> {
    std::fs::write(dir.join(name), text)?;
    println!("wrote {}", dir.join(name).display());
    Ok(())
}

/// A leaf certificate for `names`, signed by the CA, valid from `from` to `to` (years).
fn leaf(
    names: &[&str],
    cn: &str,
    client: bool,
    (from, to): (i32, i32),
    issuer: &Issuer<'_, KeyPair>,
) -> Res<(String, KeyPair)> {
    let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = date_time_ymd(from, 1, 1);
    p.not_after = date_time_ymd(to, 1, 1);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![if client {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, issuer)?;
    Ok((cert.pem(), key))
}

fn main() -> Res<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs");
    std::fs::create_dir_all(&dir)?;
    // Long validity so the committed files keep working; the expired one ended in 2021.
    let valid = (2024, 2099);

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "runicorn test CA (tests only)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = date_time_ymd(valid.0, 1, 1);
    ca.not_after = date_time_ymd(valid.1, 1, 1);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let ca_pem = ca_cert.pem();
    write(&dir, "ca.pem", &ca_pem)?;
    write(&dir, "ca.key", &ca_key.serialize_pem())?;
    let issuer = Issuer::new(ca, ca_key);

    // Server certificates are written as full chains (leaf, then the CA).
    let servers: [Leaf<'_>; 5] = [
        ("server", &["localhost", "127.0.0.1"], "localhost", valid),
        (
            "server2",
            &["localhost", "127.0.0.1"],
            "localhost (second key, for reload tests)",
            valid,
        ),
        (
            "expired",
            &["localhost", "127.0.0.1"],
            "localhost (expired)",
            (2020, 2021),
        ),
        ("wronghost", &["wrong.example"], "wrong.example", valid),
        ("other", &["other.test"], "other.test", valid),
    ];
    for (name, sans, cn, years) in servers {
        let (pem, key) = leaf(sans, cn, false, years, &issuer)?;
        write(&dir, &format!("{name}.pem"), &format!("{pem}{ca_pem}"))?;
        write(&dir, &format!("{name}.key"), &key.serialize_pem())?;
    }
    let (pem, key) = leaf(&[], "runicorn test client", true, valid, &issuer)?;
    write(&dir, "client.pem", &pem)?;
    write(&dir, "client.key", &key.serialize_pem())?;
    Ok(())
}
