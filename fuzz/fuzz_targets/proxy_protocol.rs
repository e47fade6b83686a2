//! Fuzz target for the PROXY protocol parser (v1 text, v2 binary, auto): arbitrary bytes
//! must never panic, and a verdict must not depend on how much of the stream has arrived:
//! every proper prefix of an accepted header is "need more bytes", bytes after it change
//! nothing, and `Auto` agrees with the version the signature names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runicorn::http::{ProxyInfo, ProxyMode, parse_proxy};

const V2_SIG: &[u8] = b"\r\n\r\n\x00\r\nQUIT\n";

fuzz_target!(|data: &[u8]| {
    // The first byte picks whether the v2 signature is prepended, so the binary
    // parser is reached often instead of waiting for the fuzzer to guess 12 bytes.
    let (sel, rest) = data.split_first().map_or((0, data), |(s, r)| (*s, r));
    let mut buf = Vec::with_capacity(rest.len() + V2_SIG.len());
    if sel & 1 == 1 {
        buf.extend_from_slice(V2_SIG);
    } else if sel & 2 == 2 {
        buf.extend_from_slice(b"PROXY ");
    }
    buf.extend_from_slice(rest);
    let buf = buf.as_slice();

    for mode in [ProxyMode::V1, ProxyMode::V2, ProxyMode::Auto] {
        let verdict = parse_proxy(buf, mode);
        let Ok(Some((info, n))) = verdict else { continue };
        assert!(n <= buf.len(), "{mode:?} consumed {n} of {} bytes", buf.len());
        if matches!(info, ProxyInfo::Absent) {
            assert_eq!(n, 0, "an absent header consumed bytes");
            continue;
        }
        // The header alone says the same, and so does the header plus anything.
        assert_eq!(parse_proxy(&buf[..n], mode), Ok(Some((info, n))));
        let mut more = buf[..n].to_vec();
        more.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(parse_proxy(&more, mode), Ok(Some((info, n))));
        // Any proper prefix is incomplete, never a different verdict.
        for k in 0..n {
            assert_eq!(
                parse_proxy(&buf[..k], mode),
                Ok(None),
                "{mode:?}: prefix of {k}/{n} bytes of an accepted header"
            );
        }
    }

    // Auto follows the version the first bytes name.
    let auto = parse_proxy(buf, ProxyMode::Auto);
    if buf.starts_with(V2_SIG) {
        assert_eq!(auto, parse_proxy(buf, ProxyMode::V2));
    } else if buf.starts_with(b"PROXY ") {
        assert_eq!(auto, parse_proxy(buf, ProxyMode::V1));
    }
});
