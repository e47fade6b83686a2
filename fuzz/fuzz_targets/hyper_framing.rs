//! Fuzz target for the edge's central promise: the gate and hyper never disagree about
//! where a message ends. Arbitrary bytes go through the `Gate`; whatever it passes on
//! (for a stream it refused nothing of) is served by a real hyper HTTP/1 connection, which
//! must answer exactly the messages the gate saw end, each with the service's 200, and
//! never produce its own 400/431 (which would mean it parsed something the gate did not).
#![no_main]

use std::cell::RefCell;

use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use runicorn::http::{Event, Gate, GateConfig, HeaderMap, Rules};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

thread_local! {
    static RT: RefCell<tokio::runtime::Runtime> = RefCell::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
    );
}

/// Serves `input` with hyper and returns its raw responses.
fn hyper_serves(input: Vec<u8>) -> String {
    RT.with(|rt| {
        rt.borrow().block_on(async move {
            let (mut client, server) = tokio::io::duplex(1 << 20);
            let svc = hyper::service::service_fn(
                |req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = req.into_body().collect().await?.to_bytes();
                    Ok::<_, hyper::Error>(hyper::Response::new(http_body_util::Full::new(
                        bytes::Bytes::from(format!("len={}", body.len())),
                    )))
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .half_close(true)
                .serve_connection(hyper_util::rt::TokioIo::new(server), svc);
            let task = tokio::spawn(conn);
            // The duplex holds all of it: the fuzzer's inputs are far below 1 MiB.
            let _ = client.write_all(&input).await;
            let _ = client.shutdown().await;
            let mut out = Vec::new();
            let _ = client.read_to_end(&mut out).await;
            let _ = task.await;
            String::from_utf8_lossy(&out).into_owned()
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let (sel, body) = data.split_first().map_or((0, data), |(s, b)| (*s, b));
    let rules = Rules {
        permit_obsolete_folding: sel & 1 != 0,
        strip_header_spaces: sel & 2 != 0,
        casefold_http_method: sel & 4 != 0,
        permit_unconventional_http_method: sel & 8 != 0,
        permit_unconventional_http_version: sel & 8 != 0,
        header_map: if sel & 16 != 0 {
            HeaderMap::Dangerous
        } else {
            HeaderMap::Drop
        },
        ..Rules::default()
    };
    let mut gate = Gate::new(GateConfig {
        rules,
        peer_ip: "127.0.0.1".into(),
        ..GateConfig::default()
    });
    let (mut out, mut events) = (Vec::new(), Vec::new());
    gate.feed(body, &mut out, &mut events);

    // Compare only what both sides are meant to serve: nothing refused, and messages up
    // to the first one that ends the connection or asks for an upgrade (after it hyper
    // stops reading, by design).
    if events.iter().any(|e| matches!(e, Event::Reject(_))) {
        return;
    }
    let mut ended = 0;
    let mut last_keeps_alive = true;
    for e in &events {
        match e {
            Event::Head {
                keep_alive,
                wants_upgrade,
                ..
            } => {
                if !last_keeps_alive || *wants_upgrade {
                    return;
                }
                last_keeps_alive = *keep_alive;
            }
            Event::MessageEnd => ended += 1,
            _ => {}
        }
    }
    if ended == 0 {
        return;
    }
    let served = hyper_serves(out);
    let ok = served.matches("HTTP/1.1 200 OK").count() + served.matches("HTTP/1.0 200 OK").count();
    assert!(
        !served.contains(" 400 ") && !served.contains(" 431 ") && !served.contains(" 414 "),
        "hyper refused what the gate accepted: {served:?}"
    );
    assert_eq!(
        ok, ended,
        "the gate ended {ended} messages, hyper answered {ok}: {served:?}"
    );
});
