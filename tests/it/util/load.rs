//! A load generator: keep-alive HTTP/1.1 clients in threads that count every failure.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::client::{Conn, Requester};
use super::process::eventually;

/// Continuous keep-alive load: `clients` threads, each sending requests back to back on
/// one connection, reconnecting only when a response says `Connection: close`. Every
/// other outcome (refused connect, reset, EOF before a full response, non-200) counts as
/// a failure.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    pub ok: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    pub(crate) fn start(addr: SocketAddr, clients: usize, path: &'static str) -> Load {
        Load::start_with(clients, path, move || Conn::open(addr))
    }

    /// `start` with any kind of connection (e.g. TLS): `open` makes a fresh one.
    pub(crate) fn start_with<R: Requester>(
        clients: usize,
        path: &'static str,
        open: impl Fn() -> std::io::Result<R> + Send + Sync + Clone + 'static,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, ok, failed, errors) =
                    (stop.clone(), ok.clone(), failed.clone(), errors.clone());
                let open = open.clone();
                std::thread::spawn(move || {
                    let mut conn: Option<R> = None;
                    while !stop.load(Ordering::Relaxed) {
                        let c = match conn.as_mut() {
                            Some(c) => c,
                            None => match open() {
                                Ok(c) => conn.insert(c),
                                Err(e) => {
                                    failed.fetch_add(1, Ordering::Relaxed);
                                    errors.lock().unwrap().push(format!("connect: {e}"));
                                    std::thread::sleep(Duration::from_millis(10));
                                    continue;
                                }
                            },
                        };
                        match c.request(path) {
                            Ok(r) if r.status == 200 => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                if r.closes() {
                                    conn = None;
                                }
                            }
                            Ok(r) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                errors.lock().unwrap().push(format!("status {}", r.status));
                                conn = None;
                            }
                            Err(e) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                errors.lock().unwrap().push(format!("request: {e}"));
                                conn = None;
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            errors,
            threads,
        }
    }

    pub(crate) fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Waits until at least `n` more requests succeeded (proves the server still serves).
    pub(crate) fn wait_for_more(&self, n: u64, timeout: Duration) -> bool {
        let start = self.ok();
        eventually(timeout, || self.ok() >= start + n)
    }

    /// Stops the clients; returns (ok, failed, first errors).
    pub(crate) fn finish(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let errors = self
            .errors
            .lock()
            .unwrap()
            .iter()
            .take(10)
            .cloned()
            .collect();
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            errors,
        )
    }
}
