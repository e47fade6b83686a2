//! SNI: `--sni-cert NAME=CERTFILE:KEYFILE` entries and the resolver that picks a
//! certificate by the name a client asks for, falling back to `--certfile`/`--keyfile`
//! (rustls's own `ResolvesServerCertUsingSni` has no default, so clients without SNI, or
//! with an unknown name, would fail).

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Picks the certificate for the client's server name.
#[derive(Debug)]
pub(crate) struct Resolver {
    pub default: Arc<CertifiedKey>,
    pub by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl Resolver {
    fn lookup(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        let name = name.to_ascii_lowercase();
        if let Some(ck) = self.by_name.get(&name) {
            return Some(ck);
        }
        let (_, parent) = name.split_once('.')?;
        self.by_name.get(&format!("*.{parent}"))
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .and_then(|n| self.lookup(n))
            .unwrap_or(&self.default);
        Some(chosen.clone())
    }
}
