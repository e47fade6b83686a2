//! Fuzz target for the HTTP/1 edge validator: arbitrary bytes through
//! `parse_head`, `ChunkedDecoder`, `parse_proxy` and the `Gate` must never
//! panic, and the Gate must be split-invariant and never emit more than it
//! was given plus the bytes it is allowed to rewrite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runicorn::http::{
    ChunkedDecoder, Event, Gate, GateConfig, HeaderMap, ProxyMode, Rules, Status, parse_head,
    parse_proxy,
};

fuzz_target!(|data: &[u8]| {
    // First byte picks options so every rule set gets exercised.
    let (sel, body) = data.split_first().map_or((0, data), |(s, b)| (*s, b));
    let rules = Rules {
        limit_request_line: if sel & 1 == 0 { 4094 } else { 64 },
        limit_request_fields: if sel & 2 == 0 { 100 } else { 3 },
        limit_request_field_size: if sel & 2 == 0 { 8190 } else { 40 },
        permit_obsolete_folding: sel & 4 != 0,
        strip_header_spaces: sel & 8 != 0,
        casefold_http_method: sel & 16 != 0,
        permit_unconventional_http_method: sel & 32 != 0,
        permit_unconventional_http_version: sel & 32 != 0,
        header_map: match sel >> 6 {
            0 => HeaderMap::Drop,
            1 => HeaderMap::Refuse,
            _ => HeaderMap::Dangerous,
        },
        ..Rules::default()
    };

    if let Ok(Status::Complete(head)) = parse_head(body, &rules) {
        assert!(head.len <= body.len());
        let rewritten = head.rewrite(body);
        assert!(rewritten.len() <= head.len);
        // A rewritten head is a head too, and says the same thing.
        match parse_head(&rewritten, &rules) {
            Ok(Status::Complete(again)) => assert_eq!(again.framing, head.framing),
            other => panic!("rewritten head no longer parses: {other:?}"),
        }
    }

    let mut dec = ChunkedDecoder::new(&rules);
    if let Ok(p) = dec.feed(body) {
        assert!(p.consumed <= body.len());
    }
    for mode in [ProxyMode::V1, ProxyMode::V2, ProxyMode::Auto] {
        if let Ok(Some((_, n))) = parse_proxy(body, mode) {
            assert!(n <= body.len());
        }
    }

    // Gate: all at once vs. split at a data-chosen point vs. per byte.
    let cfg = GateConfig {
        rules,
        proxy_mode: ProxyMode::Auto,
        proxy_allowed: sel & 1 == 0,
        peer_ip: "1.2.3.4".into(),
        // Sometimes a small body limit, so the 413 path is fuzzed too.
        limit_request_body: if sel & 2 == 0 { 0 } else { 64 },
    };
    let run = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut g = Gate::new(cfg.clone());
        let (mut out, mut ev) = (Vec::new(), Vec::new());
        for p in pieces {
            g.feed(p, &mut out, &mut ev);
        }
        (out, ev)
    };
    let whole = run(&mut std::iter::once(body));
    let cut = usize::from(sel) % (body.len() + 1);
    let (a, b) = body.split_at(cut);
    let split = run(&mut [a, b].into_iter());
    let bytes = run(&mut body.chunks(1));
    // 414s report the bytes buffered when the verdict fell; compare kinds.
    let norm = |(out, ev): (Vec<u8>, Vec<Event>)| {
        let ev: Vec<String> = ev
            .into_iter()
            .map(|e| match e {
                Event::Reject(r) if r.status == 414 => "414".to_owned(),
                e => format!("{e:?}"),
            })
            .collect();
        (out, ev)
    };
    let whole = norm(whole);
    assert!(whole.0.len() <= body.len());
    assert_eq!(whole, norm(split));
    assert_eq!(whole, norm(bytes));
});
