//! TLS end to end: real rustls clients against the `probe` example with the
//! test-only PKI in certs/: HTTP/1.1 and HTTP/2 by ALPN, client certificates, old protocol
//! versions refused, clear startup errors, certificate swap on HUP under load, the
//! handshake timeout, SNI, and session resumption across workers.

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, HandshakeKind, RootCertStore, StreamOwned};

use crate::util::*;

pub(crate) fn cert(name: &str) -> String {
    format!("{}/certs/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn tls_args() -> Vec<String> {
    vec![
        "--certfile".into(),
        cert("server.pem"),
        "--keyfile".into(),
        cert("server.key"),
    ]
}

/// Client options.
#[derive(Default, Clone)]
pub(crate) struct Opts {
    pub(crate) alpn: Vec<&'static [u8]>,
    pub(crate) client_cert: bool,
    pub(crate) tls12_only: bool,
}

pub(crate) fn client_config(o: &Opts) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if o.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let b = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = if o.client_cert {
        let chain: Vec<_> = CertificateDer::pem_file_iter(cert("client.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        b.with_client_auth_cert(
            chain,
            PrivateKeyDer::from_pem_file(cert("client.key")).unwrap(),
        )
        .unwrap()
    } else {
        b.with_no_client_auth()
    };
    cfg.alpn_protocols = o.alpn.iter().map(|p| p.to_vec()).collect();
    cfg.resumption = Resumption::in_memory_sessions(64);
    Arc::new(cfg)
}

/// A blocking HTTP/1.1-over-TLS client connection.
struct TlsConn {
    stream: BufReader<StreamOwned<ClientConnection, TcpStream>>,
}

impl TlsConn {
    fn open(addr: SocketAddr, cfg: &Arc<ClientConfig>, name: &str) -> std::io::Result<TlsConn> {
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
        tcp.set_nodelay(true)?;
        let server_name = ServerName::try_from(name.to_string()).map_err(std::io::Error::other)?;
        let conn =
            ClientConnection::new(cfg.clone(), server_name).map_err(std::io::Error::other)?;
        let mut s = StreamOwned::new(conn, tcp);
        // Drive the handshake now so failures surface here.
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(TlsConn {
            stream: BufReader::new(s),
        })
    }

    fn tls(&self) -> &ClientConnection {
        &self.stream.get_ref().conn
    }

    fn alpn(&self) -> Option<Vec<u8>> {
        self.tls().alpn_protocol().map(<[u8]>::to_vec)
    }

    fn resumed(&self) -> bool {
        self.tls().handshake_kind() == Some(HandshakeKind::Resumed)
    }

    fn peer_leaf(&self) -> Vec<u8> {
        self.tls()
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .unwrap_or_default()
    }
}

impl Requester for TlsConn {
    fn request(&mut self, path: &str) -> std::io::Result<Resp> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.stream.get_mut().write_all(req.as_bytes())?;
        self.stream.get_mut().flush()?;
        read_response_from(&mut self.stream)
    }
}

fn leaf_of(file: &str) -> Vec<u8> {
    CertificateDer::pem_file_iter(cert(file))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// One HTTP/2 GET over TLS with hyper's client; returns (ALPN, status, version, body).
fn h2_get(
    addr: SocketAddr,
    cfg: Arc<ClientConfig>,
    path: &str,
) -> (Option<Vec<u8>>, u16, http::Version, String) {
    use http_body_util::BodyExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let (mut send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tls),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let req = http::Request::get(format!("https://localhost{path}"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        let (status, version) = (resp.status().as_u16(), resp.version());
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (
            alpn,
            status,
            version,
            String::from_utf8_lossy(&body).into_owned(),
        )
    })
}

#[test]
fn http1_by_default_http2_when_preferred_and_https_in_the_access_log() {
    let dir = Scratch::new("tls-alpn");
    let log = dir.path("access.log");
    let both = Opts {
        alpn: vec![b"h2", b"http/1.1"],
        ..Opts::default()
    };

    // Default --http-protocols h1: a client offering h2 first still gets HTTP/1.1.
    let m = Master::probe().args(tls_args()).args(["-w", "1"]).spawn();
    assert!(m.log().contains("Listening at: https://"), "{}", m.log());
    let mut c = TlsConn::open(m.addr(), &client_config(&both), "localhost").unwrap();
    assert_eq!(c.alpn().as_deref(), Some(&b"http/1.1"[..]));
    let r = c.request("/").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(c.request("/").unwrap().status, 200, "keep-alive over TLS");
    drop(m);

    let m = Master::probe()
        .args(tls_args())
        .args([
            "-w",
            "1",
            "--http-protocols",
            "h2,h1",
            "--access-logfile",
            log.to_str().unwrap(),
        ])
        .args(["--access-logformat", "%(H)s %({wsgi.url_scheme}e)s %(s)s"])
        .spawn();
    let (alpn, status, version, _) = h2_get(m.addr(), client_config(&both), "/");
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!((status, version), (200, http::Version::HTTP_2));
    // An HTTP/1.1-only client still works on the same listener.
    let mut c = TlsConn::open(
        m.addr(),
        &client_config(&Opts {
            alpn: vec![b"http/1.1"],
            ..Opts::default()
        }),
        "localhost",
    )
    .unwrap();
    assert_eq!(c.request("/").unwrap().status, 200);
    assert!(
        eventually(Duration::from_secs(5), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("HTTP/2.0 https 200") && text.contains("HTTP/1.1 https 200")
        }),
        "{:?}",
        std::fs::read_to_string(&log)
    );
}

#[test]
fn client_certificates_none_optional_required() {
    let no_cert = client_config(&Opts::default());
    let with_cert = client_config(&Opts {
        client_cert: true,
        ..Opts::default()
    });
    let ca = ["--ca-certs".to_string(), cert("ca.pem")];
    // With TLS 1.3 a refused client certificate surfaces on the first read, not in the
    // client's handshake, so judge by whether a request succeeds.
    let works = |addr, cfg: &Arc<ClientConfig>| {
        TlsConn::open(addr, cfg, "localhost")
            .and_then(|mut c| c.request("/"))
            .is_ok_and(|r| r.status == 200)
    };

    let m = Master::probe()
        .args(tls_args())
        .args(ca.clone())
        .args(["--cert-reqs", "2"])
        .spawn();
    assert!(
        !works(m.addr(), &no_cert),
        "required: a client without a certificate must be refused"
    );
    assert!(works(m.addr(), &with_cert));
    drop(m);

    let m = Master::probe()
        .args(tls_args())
        .args(ca.clone())
        .args(["--cert-reqs", "1"])
        .spawn();
    assert!(works(m.addr(), &no_cert));
    assert!(works(m.addr(), &with_cert));
    drop(m);

    let m = Master::probe()
        .args(tls_args())
        .args(["--cert-reqs", "0"])
        .spawn();
    assert!(works(m.addr(), &no_cert));

    let (code, _, err) = Master::probe()
        .args(tls_args())
        .args(["--cert-reqs", "2"])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--ca-certs"), "{err}");
}

#[test]
fn tls_1_2_works_and_1_0_1_1_are_refused() {
    let m = Master::probe().args(tls_args()).spawn();
    let mut c = TlsConn::open(
        m.addr(),
        &client_config(&Opts {
            tls12_only: true,
            ..Opts::default()
        }),
        "localhost",
    )
    .unwrap();
    assert_eq!(
        c.tls().protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(c.request("/").unwrap().status, 200);
    // rustls clients cannot speak 1.0/1.1; openssl can, when installed.
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!(
            "openssl not installed: TLS 1.0/1.1 refusal checked only by the server config unit test"
        );
        return;
    }
    for flag in ["-tls1", "-tls1_1"] {
        let out = std::process::Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &m.addr().to_string(),
                flag,
                "-servername",
                "localhost",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{flag} must fail: {text}");
        assert!(
            !text.contains("Cipher is ECDHE") && !text.contains("New, TLSv1"),
            "{flag}: {text}"
        );
    }
}

#[test]
fn bad_certificate_files_are_clear_startup_errors() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--certfile", "expired.pem", "--keyfile", "expired.key"],
            "expired",
        ),
        (
            &["--certfile", "server.pem", "--keyfile", "other.key"],
            "does not match",
        ),
        (
            &["--certfile", "missing.pem", "--keyfile", "server.key"],
            "missing.pem",
        ),
        (
            &["--certfile", "server.pem", "--keyfile", "server.pem"],
            "no PEM private key",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if a.ends_with(".pem") || a.ends_with(".key") {
                    cert(a)
                } else {
                    a.to_string()
                }
            })
            .collect();
        let (code, _, err) = Master::probe()
            .args(args.clone())
            .run(Duration::from_secs(10));
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        let file = args[3].rsplit('/').next().unwrap().to_string();
        assert!(
            err.contains(&file) || err.contains(args[1].rsplit('/').next().unwrap()),
            "names the file: {err}"
        );
    }
    let (code, _, err) = Master::probe()
        .args(tls_args())
        .args(["--ciphers", "HIGH:!aNULL"])
        .run(Duration::from_secs(10));
    assert_ne!(code, Some(0));
    assert!(
        err.contains("ciphers") && err.contains("HIGH:!aNULL") && err.contains("command line"),
        "{err}"
    );
}

#[test]
fn hup_swaps_the_certificate_under_load_and_keeps_it_when_the_new_one_is_broken() {
    let dir = Scratch::new("tls-hup");
    let (crt, key) = (dir.path("live.pem"), dir.path("live.key"));
    std::fs::copy(cert("server.pem"), &crt).unwrap();
    std::fs::copy(cert("server.key"), &key).unwrap();
    let m = Master::probe()
        .args([
            "-w",
            "2",
            "--certfile",
            crt.to_str().unwrap(),
            "--keyfile",
            key.to_str().unwrap(),
        ])
        .spawn();
    let addr = m.addr();
    let cfg = client_config(&Opts::default());
    // A resumed session reports the certificate of the session it resumes, not the one
    // the server holds now: look at the certificate with full handshakes only.
    let mut fresh = (*cfg).clone();
    fresh.resumption = rustls::client::Resumption::disabled();
    let fresh = Arc::new(fresh);
    let leaf = |addr| {
        TlsConn::open(addr, &fresh, "localhost")
            .unwrap()
            .peer_leaf()
    };
    assert_eq!(leaf(addr), leaf_of("server.pem"));

    let load_cfg = cfg.clone();
    let load = Load::start_with(4, "/", move || TlsConn::open(addr, &load_cfg, "localhost"));
    assert!(load.wait_for_more(50, Duration::from_secs(10)));

    std::fs::copy(cert("server2.pem"), &crt).unwrap();
    std::fs::copy(cert("server2.key"), &key).unwrap();
    m.signal(Signal::SIGHUP);
    assert!(
        eventually(Duration::from_secs(15), || leaf(addr)
            == leaf_of("server2.pem")),
        "new certificate not served"
    );
    assert!(load.wait_for_more(50, Duration::from_secs(10)));

    // A broken file: the master logs an error and new workers keep the previous certificate.
    std::fs::write(&crt, "not a certificate\n").unwrap();
    m.signal(Signal::SIGHUP);
    assert!(
        m.wait_for_log(
            "keeping the previous TLS certificate",
            Duration::from_secs(10)
        )
        .is_some(),
        "{}",
        m.log()
    );
    assert!(
        m.wait_for_count("Booting worker", 6, Duration::from_secs(15))
            .is_some(),
        "{}",
        m.log()
    );
    // Older generations keep serving until the new one is ready (capacity never dips);
    // once the four older workers have exited, only the newest generation answers.
    assert!(
        m.wait_for_count("Worker exiting", 4, Duration::from_secs(30))
            .is_some(),
        "{}",
        m.log()
    );
    for _ in 0..4 {
        assert_eq!(leaf(addr), leaf_of("server2.pem"));
    }
    assert!(load.wait_for_more(50, Duration::from_secs(10)));
    let (ok, failed, errors) = load.finish();
    assert_eq!(failed, 0, "{ok} ok, errors: {errors:?}");
}

#[test]
fn a_silent_client_is_cut_off_at_the_handshake_timeout_while_others_are_served() {
    let m = Master::probe()
        .args(tls_args())
        .args(["-w", "1", "--tls-handshake-timeout", "3"])
        .spawn();
    let start = Instant::now();
    let mut silent = TcpStream::connect(m.addr()).unwrap();
    // Others are served while the silent one waits in its own task (one worker).
    let cfg = client_config(&Opts::default());
    for _ in 0..5 {
        let mut c = TlsConn::open(m.addr(), &cfg, "localhost").unwrap();
        assert_eq!(c.request("/").unwrap().status, 200);
    }
    let mut buf = [0u8; 16];
    if start.elapsed() < Duration::from_millis(2500) {
        silent
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let still_open = matches!(silent.read(&mut buf), Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
        assert!(
            still_open,
            "the silent connection was closed before its timeout"
        );
    }
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "expected the server to close the silent connection");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(2900) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
}

#[test]
fn sni_picks_the_named_certificate_and_falls_back_to_the_default() {
    let sni = format!("other.test={}:{}", cert("other.pem"), cert("other.key"));
    let m = Master::probe()
        .args(tls_args())
        .args(["--sni-cert", &sni])
        .spawn();
    let cfg = client_config(&Opts::default());
    let mut c = TlsConn::open(m.addr(), &cfg, "other.test").unwrap();
    assert_eq!(c.peer_leaf(), leaf_of("other.pem"));
    assert_eq!(c.request("/").unwrap().status, 200);
    assert_eq!(
        TlsConn::open(m.addr(), &cfg, "localhost")
            .unwrap()
            .peer_leaf(),
        leaf_of("server.pem")
    );
    // A name the server has no certificate for gets the default (which the client refuses).
    assert!(TlsConn::open(m.addr(), &cfg, "wrong.example").is_err());
}

#[test]
fn sessions_resume_on_another_worker() {
    let m = Master::probe().args(tls_args()).args(["-w", "2"]).spawn();
    let pids_ready = eventually(Duration::from_secs(10), || m.count("Booting worker") >= 2);
    assert!(pids_ready, "{}", m.log());
    std::thread::sleep(Duration::from_millis(300));
    for tls12_only in [false, true] {
        let mut crossed = false;
        for _ in 0..200 {
            // A fresh client cache each round: the second connection can only resume the
            // first one's session, and the two pids say which workers served them.
            let cfg = client_config(&Opts {
                tls12_only,
                ..Opts::default()
            });
            let mut a = TlsConn::open(m.addr(), &cfg, "localhost").unwrap();
            let pid_a = String::from_utf8(a.request("/pid").unwrap().body).unwrap();
            drop(a);
            let mut b = TlsConn::open(m.addr(), &cfg, "localhost").unwrap();
            let pid_b = String::from_utf8(b.request("/pid").unwrap().body).unwrap();
            assert!(
                b.resumed(),
                "tls12_only={tls12_only}: the second connection did not resume"
            );
            if pid_a != pid_b {
                crossed = true;
                break;
            }
        }
        assert!(
            crossed,
            "tls12_only={tls12_only}: never landed on two different workers"
        );
    }
}

#[test]
fn http2_in_flight_streams_finish_and_the_connection_closes_on_graceful_stop() {
    use http_body_util::BodyExt;
    let m = Master::probe()
        .args(tls_args())
        .args(["-w", "1", "--http-protocols", "h2"])
        .spawn();
    let cfg = client_config(&Opts {
        alpn: vec![b"h2"],
        ..Opts::default()
    });
    let addr = m.addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let (mut send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tls),
        )
        .await
        .unwrap();
        let conn = tokio::spawn(conn);
        let req = http::Request::get("https://localhost/sleep?ms=1500")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let in_flight = tokio::spawn(send.send_request(req));
        tokio::time::sleep(Duration::from_millis(300)).await;
        m.signal(Signal::SIGTERM);
        let resp = in_flight
            .await
            .unwrap()
            .expect("the in-flight stream must finish");
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"slept 1500");
        // GOAWAY then close: the client's connection task ends without error.
        let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
        drop(m);
    });
}

#[test]
fn handshakes_are_counted_in_the_metrics_endpoint() {
    let m = Master::probe()
        .args(tls_args())
        .args(["--metrics-bind", "127.0.0.1:0"])
        .spawn();
    let maddr = crate::observe::metrics_addr(&m);
    let cfg = client_config(&Opts::default());
    let mut c = TlsConn::open(m.addr(), &cfg, "localhost").unwrap();
    assert_eq!(c.request("/").unwrap().status, 200);
    // Plaintext HTTP to the TLS port: a failed handshake.
    let mut plain = TcpStream::connect(m.addr()).unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = std::io::Read::read_to_end(&mut plain, &mut Vec::new());
    let value = |body: &str, key: &str| -> Option<f64> {
        body.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
    };
    let mut body = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            body = get(maddr, "/metrics").map(|r| r.1).unwrap_or_default();
            value(&body, "runicorn_tls_handshakes_total{result=\"ok\"}") == Some(1.0)
                && value(&body, "runicorn_tls_handshakes_total{result=\"failed\"}") == Some(1.0)
        }),
        "{body}"
    );
}

#[test]
fn an_idle_tls_keep_alive_connection_parks_and_serves_the_next_requests() {
    // Parking (hyper lets go of a connection idle for 100 ms) sits above TLS: the rustls
    // session must survive it, with records that arrive while parked and after.
    let m = Master::probe()
        .args(tls_args())
        .args(["-w", "1", "--keep-alive", "5", "--log-level", "debug"])
        .spawn();
    let mut c = TlsConn::open(m.addr(), &client_config(&Opts::default()), "localhost").unwrap();
    let pid = c.request("/pid").unwrap();
    assert_eq!(pid.status, 200);
    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(400));
        if round == 0 {
            m.wait_for_log("parked until its next request", Duration::from_secs(5))
                .expect("the idle TLS connection parked");
        }
        let again = c.request("/pid").unwrap();
        assert_eq!(again.status, 200, "round {round}");
        assert_eq!(
            again.body, pid.body,
            "the same worker and connection, round {round}"
        );
    }
    // Two requests in one TLS record, sent to a parked connection: both answered in order.
    std::thread::sleep(Duration::from_millis(400));
    let two = "GET /pid HTTP/1.1\r\nHost: localhost\r\n\r\nGET /big?ms=7 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    c.stream.get_mut().write_all(two.as_bytes()).unwrap();
    c.stream.get_mut().flush().unwrap();
    assert_eq!(read_response_from(&mut c.stream).unwrap().body, pid.body);
    assert_eq!(read_response_from(&mut c.stream).unwrap().body, b"xxxxxxx");
}
