//! Slow-client load for `benches/slow_clients.sh`: opens N connections to ADDR; half
//! trickle a request head one byte per second (slowloris), half send a head announcing a
//! 100 kB body and trickle the body one byte per second. Each connection records when the
//! server cut it off. After SECONDS, prints how many were cut and how many of those within
//! 25 s. Loopback only. Usage: `slow_clients 127.0.0.1:8000 200 30`.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn trickle(addr: String, body: bool, run_for: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(&addr).await.ok()?;
    let (head, drip): (&[u8], &[u8]) = if body {
        (
            b"POST / HTTP/1.1\r\nHost: bench\r\nContent-Length: 100000\r\n\r\n",
            b"x",
        )
    } else {
        (
            b"GET / HTTP/1.1\r\nHost: bench\r\n",
            b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        )
    };
    if body {
        s.write_all(head).await.ok()?;
    }
    let mut buf = [0u8; 4096];
    let mut i = 0usize;
    while start.elapsed() < run_for {
        let byte = if body {
            drip[0]
        } else if i < head.len() {
            head[i]
        } else {
            drip[(i - head.len()) % drip.len()]
        };
        i += 1;
        if s.write_all(&[byte]).await.is_err() {
            return Some(start.elapsed());
        }
        // Wait a second, noticing a close (EOF or reset) as soon as it happens.
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {} // a response (the app answered before reading the body); keep trickling
            Err(_) => {}
        }
    }
    None
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8000".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(trickle(addr.clone(), i % 2 == 1, Duration::from_secs(secs))))
        .collect();
    let mut cut = 0;
    let mut within25 = 0;
    let mut worst = Duration::ZERO;
    for t in tasks {
        if let Ok(Some(d)) = t.await {
            cut += 1;
            worst = worst.max(d);
            if d <= Duration::from_secs(25) {
                within25 += 1;
            }
        }
    }
    println!(
        "slow clients: {n}, cut off: {cut}, within 25 s: {within25} ({:.1}%), slowest cut: {:.1} s",
        100.0 * within25 as f64 / n as f64,
        worst.as_secs_f64()
    );
}
