//! Property: compiling any string as an access-log format never panics; when it compiles,
//! its `Display` compiles back to an equal format, and rendering it for a record built from
//! the same fuzz bytes (arbitrary method, target, header values, status, sizes, timings)
//! never panics and, in text mode, never emits a raw newline or other control byte that
//! the format's own literals did not contain.
#![no_main]

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Version};
use libfuzzer_sys::fuzz_target;
use runicorn::access_log::{Context, Format, Mode, Record, Segment};

fuzz_target!(|data: &[u8]| {
    // The first line is the format; the rest feeds the record.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(src) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let rest = data.get(split + 1..).unwrap_or(&[]);
    let format = match Format::compile(src) {
        Ok(f) => f,
        Err(e) => {
            assert!(e.offset <= src.len());
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(Format::compile(&format.to_string()).as_ref(), Ok(&format));
    let _ = Format::compile_json(src);

    let parts: Vec<&[u8]> = rest.split(|&b| b == 0).collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or(b"");
    let text = |i: usize| String::from_utf8_lossy(part(i)).into_owned();
    let num = |i: usize| {
        part(i)
            .iter()
            .fold(0u64, |a, &b| a.wrapping_mul(31).wrapping_add(u64::from(b)))
    };
    let mut req = HeaderMap::new();
    for (i, name) in [
        "authorization",
        "user-agent",
        "referer",
        "x-forwarded-for",
        "x-forwarded-for",
        "content-type",
    ]
    .iter()
    .enumerate()
    {
        if let Ok(v) = HeaderValue::from_bytes(part(3 + i)) {
            req.append(HeaderName::from_static(name), v);
        }
    }
    let mut resp = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(part(9)) {
        resp.append(HeaderName::from_static("set-cookie"), v);
    }
    let (method, target, script) = (text(0), text(1), text(2));
    let n = num(10);
    let rec = Record {
        peer: if n % 3 == 0 {
            None
        } else {
            Some(([10, 0, (n % 256) as u8, 1], (n % 65536) as u16).into())
        },
        method: (n % 5 != 0).then_some(method.as_str()),
        target: (n % 7 != 0).then_some(target.as_str()),
        version: [
            None,
            Some(Version::HTTP_10),
            Some(Version::HTTP_11),
            Some(Version::HTTP_2),
        ][(n % 4) as usize],
        request_headers: (n % 11 != 0).then_some((&req).into()),
        status: n as u16,
        response_headers: Some((&resp).into()),
        body_bytes: (n % 13 != 0).then_some(num(11)),
        duration: Duration::from_nanos(num(12)),
        script_name: &script,
        ..Record::default()
    };
    let cx = Context {
        clf_time: "[24/Nov/2026:21:15:52 +0000]",
        iso_time: "2026-11-24T21:15:52+00:00",
        pid: n as u32,
    };
    let mut out = Vec::new();
    format.render(&rec, &cx, &mut out);
    if format.mode() == Mode::Text {
        let literal_controls = format
            .segments()
            .iter()
            .any(|s| matches!(s, Segment::Literal(t) if t.bytes().any(|b| b < 0x20 || b == 0x7f)));
        if !literal_controls {
            assert!(
                !out.iter().any(|&b| b < 0x20 || b == 0x7f),
                "control byte in {:?}",
                String::from_utf8_lossy(&out)
            );
        }
    }
});
