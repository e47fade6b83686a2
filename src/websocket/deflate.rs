//! permessage-deflate (RFC 7692): choosing an offer from `Sec-WebSocket-Extensions` and
//! answering it, and the per-connection compressor and decompressor (raw deflate through
//! flate2's zlib-rs backend, which honours window sizes).

use bytes::{Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::frame::{Fail, code};

/// The sync-flush tail a sender strips from every message and a receiver puts back.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The parameters agreed for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Params {
    /// The server resets its compressor after every message.
    pub(crate) server_no_context_takeover: bool,
    /// The client said it resets its compressor (echoed back; nothing to do here).
    pub(crate) client_no_context_takeover: bool,
    /// The window the server compresses with (the client asked for it when under 15).
    pub(crate) server_max_window_bits: u8,
    /// `server_max_window_bits` was in the offer (then it is in the answer).
    server_bits_asked: bool,
}

impl Params {
    /// The `Sec-WebSocket-Extensions` value of the answer.
    pub(crate) fn response(&self) -> String {
        let mut s = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if self.server_bits_asked {
            s.push_str("; server_max_window_bits=");
            s.push_str(&self.server_max_window_bits.to_string());
        }
        s
    }
}

/// The first permessage-deflate offer in the `Sec-WebSocket-Extensions` values that this
/// server can honour (RFC 7692 §5: offers are in the client's order of preference; one
/// with an unknown, repeated or out-of-range parameter is skipped, not fatal).
pub(crate) fn negotiate<'a>(values: impl Iterator<Item = &'a [u8]>) -> Option<Params> {
    for value in values {
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        for offer in value.split(',') {
            let mut parts = offer.split(';').map(str::trim);
            if !parts
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case("permessage-deflate"))
            {
                continue;
            }
            if let Some(p) = offer_params(parts) {
                return Some(p);
            }
        }
    }
    None
}

fn offer_params<'a>(parts: impl Iterator<Item = &'a str>) -> Option<Params> {
    let mut p = Params {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        server_bits_asked: false,
    };
    let mut client_bits_seen = false;
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (part, None),
        };
        let bits = |v: Option<&str>| v.and_then(|v| v.parse::<u8>().ok());
        match (name.to_ascii_lowercase().as_str(), value) {
            ("server_no_context_takeover", None) if !p.server_no_context_takeover => {
                p.server_no_context_takeover = true;
            }
            ("client_no_context_takeover", None) if !p.client_no_context_takeover => {
                p.client_no_context_takeover = true;
            }
            // 8 is legal but raw zlib streams cannot use a 256-byte window: skip the offer.
            ("server_max_window_bits", v) if !p.server_bits_asked => match bits(v) {
                Some(b @ 9..=15) => {
                    p.server_max_window_bits = b;
                    p.server_bits_asked = true;
                }
                _ => return None,
            },
            // The client's window limits only what it sends; inflating with 15 bits
            // decodes any smaller window, so there is nothing to answer.
            ("client_max_window_bits", v) if !client_bits_seen => {
                client_bits_seen = true;
                if v.is_some() && !matches!(bits(v), Some(8..=15)) {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(p)
}

/// The decompressor of client messages.
pub(crate) struct Inflate {
    d: Decompress,
}

impl Inflate {
    pub(crate) fn new() -> Inflate {
        Inflate {
            d: Decompress::new_with_window_bits(false, 15),
        }
    }

    /// One message's payload, inflated; over `limit` bytes (0 = none) it fails with 1009
    /// as soon as the output passes it, so a small bomb never inflates whole.
    pub(crate) fn inflate(&mut self, payload: &[u8], limit: u64) -> Result<Bytes, Fail> {
        let bad = Fail {
            code: code::INVALID_DATA,
            reason: "bad compressed data",
        };
        let mut out: Vec<u8> = Vec::with_capacity((payload.len() * 3).clamp(64, 1 << 20));
        let mut ended = false;
        for input in [payload, &TAIL[..]] {
            if ended {
                break;
            }
            let mut at = 0;
            loop {
                if out.capacity() - out.len() < 1024 {
                    out.reserve(out.capacity().max(4096));
                }
                let (in0, out0) = (self.d.total_in(), out.len());
                let st = self
                    .d
                    .decompress_vec(&input[at..], &mut out, FlushDecompress::Sync)
                    .map_err(|_| bad)?;
                at += (self.d.total_in() - in0) as usize;
                if limit != 0 && out.len() as u64 > limit {
                    return Err(Fail {
                        code: code::TOO_BIG,
                        reason: "message too big",
                    });
                }
                let full = out.len() == out.capacity();
                if st == Status::StreamEnd {
                    ended = true;
                    break;
                }
                if at == input.len() && !full {
                    break;
                }
                // Input left, room left, nothing moved: the stream is stuck (or over).
                if self.d.total_in() == in0 && out.len() == out0 && !full {
                    return Err(bad);
                }
            }
        }
        if ended {
            // A message that ended its deflate stream (BFINAL): the next starts afresh.
            self.d.reset(false);
        }
        Ok(Bytes::from(out))
    }
}

/// The compressor of server messages (created at the first message sent: a socket that
/// only listens never pays for deflate's buffers).
pub(crate) struct Deflate {
    c: Option<Compress>,
    params: Params,
}

impl Deflate {
    pub(crate) fn new(params: Params) -> Deflate {
        Deflate { c: None, params }
    }

    /// `data` compressed for one message, or `None` when that would not make it smaller
    /// (already compressed or random data): the message then goes uncompressed, and the
    /// compressor forgets it. The peer's decompressor never sees an uncompressed message,
    /// so a later message that referred back into it would inflate to the wrong bytes
    /// (the peer would resolve the reference in the message before it).
    pub(crate) fn compress(&mut self, data: &[u8]) -> Option<BytesMut> {
        let mut z = BytesMut::new();
        self.deflate(data, &mut z);
        if z.len() < data.len() {
            return Some(z);
        }
        if let Some(c) = &mut self.c {
            c.reset();
        }
        None
    }

    /// Appends `data` compressed, sync-flushed, tail stripped (RFC 7692 §7.2.1).
    fn deflate(&mut self, data: &[u8], out: &mut BytesMut) {
        let bits = self.params.server_max_window_bits;
        // Level 1: deflate's cost grows fast with the level, its ratio slowly, and a
        // server compresses every message of every socket.
        let c = self.c.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::fast(), false, bits)
        });
        let mut buf: Vec<u8> = Vec::with_capacity(data.len() / 2 + 64);
        let start = c.total_in();
        loop {
            if buf.capacity() - buf.len() < 64 {
                buf.reserve(buf.capacity().max(256));
            }
            let used = (c.total_in() - start) as usize;
            if c.compress_vec(&data[used..], &mut buf, FlushCompress::Sync)
                .is_err()
            {
                break;
            }
            // A sync flush is complete once all input is in and output space is left.
            if (c.total_in() - start) as usize == data.len() && buf.len() < buf.capacity() {
                break;
            }
        }
        if buf.ends_with(&TAIL) {
            buf.truncate(buf.len() - 4);
        }
        if buf.is_empty() {
            // An empty message still needs one empty stored block after stripping.
            buf.push(0x00);
        }
        out.extend_from_slice(&buf);
        if self.params.server_no_context_takeover {
            c.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(s: &str) -> Option<Params> {
        negotiate(std::iter::once(s.as_bytes()))
    }

    #[test]
    fn offers() {
        let p = offer("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(p.response(), "permessage-deflate");
        let p = offer("permessage-deflate; server_no_context_takeover; server_max_window_bits=10")
            .unwrap();
        assert_eq!(
            p.response(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        );
        // The first offer is unusable, the second is taken.
        let p = offer("permessage-deflate; server_max_window_bits=8, permessage-deflate").unwrap();
        assert_eq!(p.server_max_window_bits, 15);
        assert!(offer("permessage-deflate; bogus").is_none());
        assert!(
            offer("permessage-deflate; client_no_context_takeover; client_no_context_takeover")
                .is_none()
        );
        assert!(offer("x-webkit-deflate-frame").is_none());
        assert!(offer("permessage-deflate; client_max_window_bits=\"16\"").is_none());
    }

    #[test]
    fn round_trip_with_and_without_context_takeover() {
        for no_ctx in [false, true] {
            let params = Params {
                server_no_context_takeover: no_ctx,
                client_no_context_takeover: false,
                server_max_window_bits: 12,
                server_bits_asked: true,
            };
            let mut def = Deflate::new(params);
            let mut inf = Inflate::new();
            for msg in [
                &b"hello hello hello"[..],
                b"",
                &[7u8; 100_000][..],
                b"hello",
            ] {
                let mut out = BytesMut::new();
                def.deflate(msg, &mut out);
                assert_eq!(&inf.inflate(&out, 0).unwrap()[..], msg);
            }
        }
    }

    #[test]
    fn a_message_sent_uncompressed_is_never_referred_back_to() {
        // With context takeover, a message sent as is must leave the compressor's window
        // too: here it ends with the text the next message repeats, so a compressor that
        // kept it would point the peer at bytes the peer never had.
        let mut def = Deflate::new(offer("permessage-deflate").unwrap());
        let mut peer = Inflate::new();
        // xorshift64: bytes deflate cannot shrink.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut noise: Vec<u8> = (0..65_536)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 56) as u8
            })
            .collect();
        noise.extend_from_slice(&b"abc".repeat(40));
        let text = "\u{e9}".repeat(5000);
        let then = b"abc".repeat(1000);
        for (msg, compressed) in [
            (text.as_bytes(), true),
            (&noise[..], false),
            (&then[..], true),
        ] {
            match def.compress(msg) {
                Some(z) => {
                    assert!(compressed, "{} bytes went compressed", msg.len());
                    let got = peer.inflate(&z, 0).unwrap();
                    assert!(got == msg, "{} bytes inflated to other bytes", msg.len());
                }
                None => assert!(!compressed, "{} bytes went as is", msg.len()),
            }
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit_and_garbage_fails() {
        let mut def = Deflate::new(offer("permessage-deflate").unwrap());
        let mut out = BytesMut::new();
        def.deflate(&vec![0u8; 10 << 20], &mut out);
        // Level 1 compresses zeros less than deflate's best (1:1032), still a bomb.
        assert!(out.len() < 512 * 1024, "{}", out.len());
        assert_eq!(
            Inflate::new().inflate(&out, 1 << 20).unwrap_err().code,
            1009
        );
        assert_eq!(
            Inflate::new()
                .inflate(&[0xFF, 0xFF, 0xFF], 0)
                .unwrap_err()
                .code,
            1007
        );
    }
}
