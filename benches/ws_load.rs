//! WebSocket echo load: `ws_load HOST:PORT CONNECTIONS SECONDS SIZE` opens CONNECTIONS
//! sockets (one thread each, blocking I/O, so the client stays cheap and predictable),
//! sends a SIZE-byte binary message on each and waits for its echo, over and over, and
//! prints `messages/s` (echoes completed per second, all sockets together). Frames are
//! masked as a client must; no compression is offered.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let addr = a.get(1).cloned().unwrap_or_else(|| "127.0.0.1:8000".into());
    let conns: usize = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let secs: u64 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let size: usize = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(64);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for _ in 0..conns {
        let (addr, count, stop) = (addr.clone(), count.clone(), stop.clone());
        threads.push(std::thread::spawn(move || run(&addr, size, &count, &stop)));
    }
    // Let every socket open before counting.
    std::thread::sleep(Duration::from_millis(500));
    let start_n = count.load(Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let n = count.load(Ordering::Relaxed) - start_n;
    let rate = n as f64 / start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    println!("{rate:.0} messages/s ({conns} sockets, {size}-byte messages)");
}

fn run(addr: &str, size: usize, count: &AtomicU64, stop: &AtomicBool) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        eprintln!("connect failed");
        return;
    };
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        s,
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            eprintln!("handshake failed");
            return;
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut frame = vec![0x82u8];
    if size < 126 {
        frame.push(0x80 | size as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(size as u16).to_be_bytes());
    }
    frame.extend_from_slice(&[0, 0, 0, 0]); // a zero mask: the payload goes as is
    frame.extend(std::iter::repeat_n(b'x', size));
    let reply_len = if size < 126 { 2 + size } else { 4 + size };
    let mut reply = vec![0u8; reply_len];
    while !stop.load(Ordering::Relaxed) {
        if s.write_all(&frame).is_err() || r.read_exact(&mut reply).is_err() {
            return;
        }
        count.fetch_add(1, Ordering::Relaxed);
    }
}
