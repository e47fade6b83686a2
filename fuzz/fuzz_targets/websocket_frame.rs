//! Fuzz target for the WebSocket frame decoder (server role, with and without
//! permessage-deflate, a small message limit): arbitrary client bytes must never panic, and
//! what comes out (messages, control frames, the close code of a failure) must not depend
//! on how the bytes were split across socket reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runicorn::websocket::fuzz_decode;

fuzz_target!(|data: &[u8]| {
    let (sel, rest) = data.split_first().map_or((0, data), |(s, r)| (*s, r));
    let deflate = sel & 1 == 1;
    let max = if sel & 2 == 2 { 64 } else { 1 << 16 };
    let whole = fuzz_decode(rest, rest.len().max(1), max, deflate);
    let chunk = usize::from(sel >> 2) + 1;
    let split = fuzz_decode(rest, chunk, max, deflate);
    assert_eq!(whole, split, "split every {chunk} bytes");
});
