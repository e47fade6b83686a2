//! TLS termination (rustls with the aws-lc-rs provider): the material the master reads and
//! validates before forking and on HUP ([`Material`]), the per-worker `ServerConfig` and
//! handshake driver ([`Acceptor`]), shared rotating session tickets ([`ticketer`]), SNI
//! ([`sni`]), `--ciphers` names ([`ciphers`]) and the HTTP/2 limits applied when ALPN picks
//! `h2`.
//!
//! Split of work: the master turns settings into a [`Material`] (files read, keys checked
//! against their certificates, expiry checked, a trial `ServerConfig` built) so that a bad
//! file fails at startup, or on HUP keeps the previous material; each worker builds its
//! `ServerConfig` once from the inherited material; each connection task runs its own
//! handshake under `--tls-handshake-timeout`.

pub(crate) mod certs;
pub(crate) mod sni;
pub(crate) mod ticketer;

use std::collections::HashMap;
use std::fmt::Display;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::Settings;
use certs::Identity;

/// ALPN identifiers in `--http-protocols` order.
const ALPN_H1: &[u8] = b"http/1.1";
const ALPN_H2: &[u8] = b"h2";

/// `--cert-reqs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// 0: no client certificate is asked for.
    None,
    /// 1: asked for; verified against `--ca-certs` when sent.
    Optional,
    /// 2: required and verified against `--ca-certs`.
    Required,
}

/// Everything a worker needs to build its `ServerConfig`: validated in the master, then
/// inherited through fork.
#[derive(Debug, Clone)]
pub(crate) struct Material {
    default: Identity,
    sni: Vec<(String, Identity)>,
    client_auth: ClientAuth,
    client_roots: Vec<CertificateDer<'static>>,
    /// `None`: the provider's defaults.
    suites: Option<Vec<SupportedCipherSuite>>,
    alpn: Vec<Vec<u8>>,
    ticket_secret: ticketer::Secret,
}

fn provider(suites: Option<&[SupportedCipherSuite]>) -> CryptoProvider {
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    match suites {
        Some(s) => p.cipher_suites = s.to_vec(),
        // The provider's defaults, AES-128-GCM first (Mozilla's "intermediate" order): its
        // SHA-256 key schedule runs on SHA extensions where SHA-384's does not, which
        // measured ~1/3 of the server's CPU per full handshake with AES-256-GCM-SHA384
        // first (perf, benches/tls.sh). Every suite stays AEAD with forward secrecy.
        None => p.cipher_suites.sort_by_key(|s| {
            !s.suite()
                .as_str()
                .is_some_and(|n| n.contains("AES_128_GCM"))
        }),
    }
    p
}

impl Material {
    /// Reads and checks the TLS files named by `s`; `Ok(None)` when TLS is off (neither
    /// `--certfile` nor `--keyfile`). Errors name the file or setting at fault.
    pub(crate) fn load(
        s: &Settings,
        ticket_secret: ticketer::Secret,
    ) -> Result<Option<Material>, String> {
        let (certfile, keyfile) = match (&s.certfile, &s.keyfile) {
            (None, None) => {
                if !s.sni_cert.is_empty() {
                    return Err(
                        "--sni-cert needs --certfile/--keyfile for the default certificate".into(),
                    );
                }
                return Ok(None);
            }
            // Gunicorn accepts the key inside the certificate file and vice versa.
            (Some(c), None) => (c, c),
            (None, Some(k)) => (k, k),
            (Some(c), Some(k)) => (c, k),
        };
        let suites = match &s.ciphers {
            Some(text) => {
                Some(crate::config::ciphers::parse(text).map_err(|e| format!("--ciphers: {e}"))?)
            }
            None => None,
        };
        let prov = provider(suites.as_deref());
        let default = Identity::load(certfile, keyfile, &prov)?;
        let mut sni = Vec::new();
        for item in &s.sni_cert {
            let e = crate::config::sni::parse_entry(item)
                .map_err(|e| format!("--sni-cert {item}: {e}"))?;
            sni.push((e.name, Identity::load(&e.certfile, &e.keyfile, &prov)?));
        }
        let client_auth = match s.cert_reqs {
            0 => ClientAuth::None,
            1 => ClientAuth::Optional,
            _ => ClientAuth::Required,
        };
        let client_roots = match (&s.ca_certs, client_auth) {
            (_, ClientAuth::None) => Vec::new(),
            (Some(ca), _) => certs::load_certs(ca, "CA certificates file")?,
            (None, _) => {
                return Err(format!(
                    "--cert-reqs {} needs --ca-certs to verify client certificates",
                    s.cert_reqs
                ));
            }
        };
        let alpn = s
            .http_protocols
            .iter()
            .map(|p| {
                if p == "h2" {
                    ALPN_H2.to_vec()
                } else {
                    ALPN_H1.to_vec()
                }
            })
            .collect();
        let m = Material {
            default,
            sni,
            client_auth,
            client_roots,
            suites,
            alpn,
            ticket_secret,
        };
        // A trial build catches what only rustls can judge (suites without a usable
        // protocol version, CA files that are not trust anchors) before any worker starts.
        m.server_config()?;
        Ok(Some(m))
    }

    /// The rustls configuration: TLS 1.2+ (rustls has nothing older), server cipher
    /// preference, ALPN, SNI, client verification, shared tickets and a per-worker
    /// stateful session cache.
    pub(crate) fn server_config(&self) -> Result<ServerConfig, String> {
        let prov = Arc::new(provider(self.suites.as_deref()));
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
            if prov.cipher_suites.iter().any(|s| s.version() == v) {
                versions.push(v);
            }
        }
        let builder = ServerConfig::builder_with_provider(prov.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("--ciphers: {e}"))?;
        let builder = match self.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            auth => {
                let mut roots = RootCertStore::empty();
                for c in &self.client_roots {
                    roots
                        .add(c.clone())
                        .map_err(|e| format!("--ca-certs: not a usable CA certificate: {e}"))?;
                }
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), prov.clone());
                let v = if auth == ClientAuth::Optional {
                    v.allow_unauthenticated()
                } else {
                    v
                };
                builder
                    .with_client_cert_verifier(v.build().map_err(|e| format!("--ca-certs: {e}"))?)
            }
        };
        let mut by_name = HashMap::new();
        for (name, id) in &self.sni {
            by_name.insert(name.clone(), id.certified(&prov)?);
        }
        let resolver = sni::Resolver {
            default: self.default.certified(&prov)?,
            by_name,
        };
        let mut cfg = builder.with_cert_resolver(Arc::new(resolver));
        cfg.ignore_client_order = true;
        cfg.alpn_protocols = self.alpn.clone();
        cfg.ticketer = Arc::new(ticketer::Ticketer::new(self.ticket_secret));
        // Stateful resumption (TLS 1.2 clients without ticket support) stays per worker.
        cfg.session_storage = ServerSessionMemoryCache::new(4096);
        Ok(cfg)
    }
}

/// `--http2-*` limits for hyper's HTTP/2 builder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Http2Limits {
    pub max_concurrent_streams: u32,
    pub initial_window_size: u32,
    pub max_frame_size: u32,
    /// 0 = unlimited.
    pub max_header_list_size: u32,
}

impl Http2Limits {
    pub(crate) fn from_settings(s: &Settings) -> Http2Limits {
        Http2Limits {
            max_concurrent_streams: s.http2_max_concurrent_streams,
            initial_window_size: s.http2_initial_window_size,
            max_frame_size: s.http2_max_frame_size,
            max_header_list_size: s.http2_max_header_list_size,
        }
    }

    pub(crate) fn apply<E>(&self, b: &mut hyper::server::conn::http2::Builder<E>) {
        b.max_concurrent_streams(self.max_concurrent_streams);
        b.initial_stream_window_size(self.initial_window_size);
        b.max_frame_size(self.max_frame_size);
        b.max_header_list_size(if self.max_header_list_size == 0 {
            u32::MAX
        } else {
            self.max_header_list_size
        });
    }
}

/// A worker's TLS front: its `ServerConfig` (built once) and the per-connection knobs.
pub(crate) struct Acceptor {
    acceptor: tokio_rustls::TlsAcceptor,
    handshake_timeout: Duration,
    suppress_ragged_eofs: bool,
    /// Applied when ALPN selects `h2`.
    pub http2: Http2Limits,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl Acceptor {
    /// Builds the worker's `ServerConfig` from the master's material.
    pub(crate) fn new(m: &Material, s: &Settings) -> Result<Acceptor, String> {
        Ok(Acceptor {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(m.server_config()?)),
            handshake_timeout: Duration::from_secs(s.tls_handshake_timeout),
            suppress_ragged_eofs: s.suppress_ragged_eofs,
            http2: Http2Limits::from_settings(s),
        })
    }

    /// Runs the handshake within the timeout (0 = none). On failure logs at debug with the
    /// peer, counts it, and returns `None`. On success returns the stream and whether ALPN
    /// chose `h2`.
    pub(crate) async fn handshake<IO>(
        &self,
        io: IO,
        peer: impl Display,
    ) -> Option<(TlsIo<IO>, bool)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let accept = self.acceptor.accept(io);
        let result = if self.handshake_timeout.is_zero() {
            accept.await
        } else {
            match tokio::time::timeout(self.handshake_timeout, accept).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "handshake timed out",
                )),
            }
        };
        match result {
            Ok(stream) => {
                crate::scoreboard::edge::TLS_HANDSHAKES.fetch_add(1, Ordering::Relaxed);
                let h2 = stream.get_ref().1.alpn_protocol() == Some(ALPN_H2);
                Some((
                    TlsIo {
                        inner: stream,
                        suppress_ragged_eofs: self.suppress_ragged_eofs,
                    },
                    h2,
                ))
            }
            Err(e) => {
                crate::scoreboard::edge::TLS_HANDSHAKE_FAILURES.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("TLS handshake with {peer} failed: {e}");
                None
            }
        }
    }
}

/// A server TLS stream that can turn a ragged EOF (TCP closed without `close_notify`) into
/// a clean end of stream (`--suppress-ragged-eofs`, on by default as in Gunicorn).
/// Without suppression hyper sees the error and the connection ends as failed (logged at
/// debug); a request cut short is an error either way, since hyper checks its framing.
pub(crate) struct TlsIo<IO> {
    inner: tokio_rustls::server::TlsStream<IO>,
    suppress_ragged_eofs: bool,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Err(e))
                if this.suppress_ragged_eofs && e.kind() == io::ErrorKind::UnexpectedEof =>
            {
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsIo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(name: &str) -> String {
        format!("{}/certs/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn settings(f: impl FnOnce(&mut Settings)) -> Settings {
        let mut s = Settings {
            certfile: Some(cert("server.pem")),
            keyfile: Some(cert("server.key")),
            ..Settings::default()
        };
        f(&mut s);
        s
    }

    #[test]
    fn off_without_files() {
        let s = settings(|s| {
            s.certfile = None;
            s.keyfile = None;
        });
        assert!(Material::load(&s, [0; 32]).unwrap().is_none());
    }

    #[test]
    fn only_tls12_and_13_with_server_preference() {
        let m = Material::load(&settings(|_| {}), [0; 32]).unwrap().unwrap();
        let cfg = m.server_config().unwrap();
        assert!(cfg.ignore_client_order);
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let versions: Vec<_> = cfg
            .crypto_provider()
            .cipher_suites
            .iter()
            .map(|s| s.version().version)
            .collect();
        assert!(versions.iter().all(|v| matches!(
            v,
            rustls::ProtocolVersion::TLSv1_2 | rustls::ProtocolVersion::TLSv1_3
        )));
        assert!(!m.alpn.iter().any(|p| p == ALPN_H2));
    }

    #[test]
    fn default_order_prefers_aes_128_gcm() {
        let p = provider(None);
        let names: Vec<&str> = p
            .cipher_suites
            .iter()
            .filter_map(|s| s.suite().as_str())
            .collect();
        assert_eq!(
            names.first(),
            Some(&"TLS13_AES_128_GCM_SHA256"),
            "{names:?}"
        );
        assert_eq!(
            names.len(),
            rustls::crypto::aws_lc_rs::DEFAULT_CIPHER_SUITES.len()
        );
        // TLS 1.3 suites still come before TLS 1.2 ones within each group.
        assert!(
            names
                .iter()
                .position(|n| n.starts_with("TLS_ECDHE_ECDSA_WITH_AES_128"))
                > names.iter().position(|n| *n == "TLS13_AES_128_GCM_SHA256")
        );
    }

    #[test]
    fn alpn_follows_http_protocols() {
        let m = Material::load(
            &settings(|s| s.http_protocols = vec!["h2".into(), "h1".into()]),
            [0; 32],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            m.server_config().unwrap().alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn client_auth_needs_a_ca() {
        let e = Material::load(&settings(|s| s.cert_reqs = 2), [0; 32]).unwrap_err();
        assert!(e.contains("--ca-certs"), "{e}");
        let s = settings(|s| {
            s.cert_reqs = 1;
            s.ca_certs = Some(cert("ca.pem"));
        });
        assert!(Material::load(&s, [0; 32]).unwrap().is_some());
    }

    #[test]
    fn tls13_only_suites_disable_tls12() {
        let m = Material::load(
            &settings(|s| s.ciphers = Some("TLS_AES_128_GCM_SHA256".into())),
            [0; 32],
        )
        .unwrap()
        .unwrap();
        let cfg = m.server_config().unwrap();
        assert_eq!(cfg.crypto_provider().cipher_suites.len(), 1);
    }

    #[test]
    fn sni_needs_a_default_and_loads_files() {
        let other = format!("other.test={}:{}", cert("other.pem"), cert("other.key"));
        let e = Material::load(
            &settings(|s| {
                s.certfile = None;
                s.keyfile = None;
                s.sni_cert = vec![other.clone()];
            }),
            [0; 32],
        );
        assert!(e.is_err());
        assert!(
            Material::load(&settings(|s| s.sni_cert = vec![other.clone()]), [0; 32])
                .unwrap()
                .is_some()
        );
        let broken = format!("other.test={}:{}", cert("other.pem"), cert("server.key"));
        let e = Material::load(&settings(|s| s.sni_cert = vec![broken]), [0; 32]).unwrap_err();
        assert!(e.contains("does not match"), "{e}");
    }
}
