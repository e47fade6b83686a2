//! RFC 6455 framing, server role: the incremental decoder of client frames (every check
//! that ends in a close code lives here), message reassembly with the size limit and
//! permessage-deflate inflation, and the encoder of (unmasked) server frames. Pure code:
//! no I/O, no clock, so the fuzz target (`fuzz/fuzz_targets/websocket_frame.rs`) drives
//! exactly what a socket drives.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::deflate::Inflate;

pub(crate) const OP_CONT: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// Close codes this module sends (RFC 6455 §7.4.1).
pub mod code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away (a draining worker).
    pub const GOING_AWAY: u16 = 1001;
    /// A protocol error: unmasked or malformed frame, reserved opcode or bit.
    pub const PROTOCOL: u16 = 1002;
    /// No status code was present in the peer's close frame (never sent).
    pub const NO_STATUS: u16 = 1005;
    /// The connection ended without a close frame (never sent).
    pub const ABNORMAL: u16 = 1006;
    /// Text that is not UTF-8, or a payload that does not inflate.
    pub const INVALID_DATA: u16 = 1007;
    /// A message over `--websocket-max-message-size`.
    pub const TOO_BIG: u16 = 1009;
    /// The server failed (an app that vanished without closing, for example).
    pub const INTERNAL: u16 = 1011;
}

/// Why the connection is failed: the close code to send and a short reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
}

const fn fail(code: u16, reason: &'static str) -> Fail {
    Fail { code, reason }
}

/// One frame's header, as read from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    mask: [u8; 4],
    len: u64,
    header_len: usize,
}

/// Parses a client frame header from the start of `buf`; `None` until it is complete.
/// Every check that does not need the payload is made here, before anything is buffered.
fn parse_header(buf: &[u8], rsv1_allowed: bool) -> Result<Option<Header>, Fail> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv1 = b0 & 0x40 != 0;
    let opcode = b0 & 0x0F;
    if b0 & 0x30 != 0 {
        return Err(fail(code::PROTOCOL, "reserved bits set"));
    }
    let control = opcode & 0x8 != 0;
    match opcode {
        OP_CONT | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG => {}
        _ => return Err(fail(code::PROTOCOL, "reserved opcode")),
    }
    // RSV1 marks a compressed message: only with permessage-deflate, only on its first frame.
    if rsv1 && (!rsv1_allowed || control || opcode == OP_CONT) {
        return Err(fail(code::PROTOCOL, "reserved bit set"));
    }
    if b1 & 0x80 == 0 {
        return Err(fail(code::PROTOCOL, "unmasked client frame"));
    }
    let (len, at) = match b1 & 0x7F {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            let n = u64::from(u16::from_be_bytes([b[0], b[1]]));
            if n < 126 {
                return Err(fail(code::PROTOCOL, "non-minimal length"));
            }
            (n, 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            let n = u64::from_be_bytes(a);
            if n >> 63 != 0 {
                return Err(fail(code::PROTOCOL, "length with the high bit set"));
            }
            if n <= 0xFFFF {
                return Err(fail(code::PROTOCOL, "non-minimal length"));
            }
            (n, 10)
        }
        n => (u64::from(n), 2),
    };
    if control && (!fin || len > 125) {
        return Err(fail(code::PROTOCOL, "fragmented or oversize control frame"));
    }
    let Some(m) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    Ok(Some(Header {
        fin,
        rsv1,
        opcode,
        mask: [m[0], m[1], m[2], m[3]],
        len,
        header_len: at + 4,
    }))
}

/// XORs `data` with the 4-byte mask, starting at mask offset 0. Eight bytes at a time:
/// the compiler turns it into vector code, where a byte loop would cost a 1 MB message
/// a millisecond.
pub(crate) fn unmask(data: &mut [u8], mask: [u8; 4]) {
    let word = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(a) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// A complete message or control frame from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong,
    /// The peer's close frame: its code and reason (`None`: it had no payload).
    Close(Option<(u16, String)>),
}

/// A data message in pieces.
struct Partial {
    text: bool,
    compressed: bool,
    data: BytesMut,
}

/// The client's side of the stream: frames in, [`Item`]s out.
pub(crate) struct Decoder {
    /// Largest message (bytes, after inflation); 0 = unlimited.
    max_message: u64,
    inflate: Option<Inflate>,
    partial: Option<Partial>,
}

impl Decoder {
    pub(crate) fn new(max_message: u64, inflate: Option<Inflate>) -> Decoder {
        Decoder {
            max_message,
            inflate,
            partial: None,
        }
    }

    fn over_limit(&self, n: u64) -> bool {
        self.max_message != 0 && n > self.max_message
    }

    /// The next item from the bytes in `buf` (consumed as frames complete); `Ok(None)`
    /// when more bytes are needed. After an `Err` the stream is failed: call no more.
    pub(crate) fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Item>, Fail> {
        loop {
            let Some(h) = parse_header(buf, self.inflate.is_some())? else {
                return Ok(None);
            };
            let control = h.opcode & 0x8 != 0;
            if !control {
                let so_far = self.partial.as_ref().map_or(0, |p| p.data.len() as u64);
                match (h.opcode, &self.partial) {
                    (OP_CONT, None) => {
                        return Err(fail(code::PROTOCOL, "continuation without a message"));
                    }
                    (OP_TEXT | OP_BINARY, Some(_)) => {
                        return Err(fail(code::PROTOCOL, "new message inside a fragmented one"));
                    }
                    _ => {}
                }
                // Refused from the header alone: an oversize message is never buffered.
                if self.over_limit(so_far.saturating_add(h.len)) {
                    return Err(fail(code::TOO_BIG, "message too big"));
                }
            }
            let total = h.header_len as u64 + h.len;
            if (buf.len() as u64) < total {
                // Room for the rest of the frame, so the socket reads it in few calls.
                buf.reserve((total - buf.len() as u64).min(1 << 20) as usize);
                return Ok(None);
            }
            let mut payload = buf.split_to(total as usize);
            payload.advance(h.header_len);
            unmask(&mut payload, h.mask);
            match h.opcode {
                OP_PING => return Ok(Some(Item::Ping(payload.freeze()))),
                OP_PONG => return Ok(Some(Item::Pong)),
                OP_CLOSE => return parse_close(&payload).map(|c| Some(Item::Close(c))),
                OP_CONT => {
                    let Some(p) = self.partial.as_mut() else {
                        return Err(fail(code::PROTOCOL, "continuation without a message"));
                    };
                    p.data.extend_from_slice(&payload);
                }
                _ => {
                    let p = Partial {
                        text: h.opcode == OP_TEXT,
                        compressed: h.rsv1,
                        data: payload,
                    };
                    self.partial = Some(p);
                }
            }
            if h.fin {
                let Some(p) = self.partial.take() else {
                    continue;
                };
                return self.finish(p).map(Some);
            }
        }
    }

    fn finish(&mut self, p: Partial) -> Result<Item, Fail> {
        let data = match (p.compressed, self.inflate.as_mut()) {
            (true, Some(inf)) => inf.inflate(&p.data, self.max_message)?,
            _ => p.data.freeze(),
        };
        if !p.text {
            return Ok(Item::Binary(data));
        }
        match String::from_utf8(Vec::from(data)) {
            Ok(s) => Ok(Item::Text(s)),
            Err(_) => Err(fail(code::INVALID_DATA, "text is not UTF-8")),
        }
    }
}

/// Whether a peer may send `c` in a close frame (RFC 6455 §7.4; 1012-1014 are registered
/// with IANA since).
pub(crate) fn valid_close_code(c: u16) -> bool {
    matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fn parse_close(p: &[u8]) -> Result<Option<(u16, String)>, Fail> {
    match p {
        [] => Ok(None),
        [_] => Err(fail(code::PROTOCOL, "one-byte close payload")),
        [a, b, reason @ ..] => {
            let c = u16::from_be_bytes([*a, *b]);
            if !valid_close_code(c) {
                return Err(fail(code::PROTOCOL, "invalid close code"));
            }
            match std::str::from_utf8(reason) {
                Ok(r) => Ok(Some((c, r.to_owned()))),
                Err(_) => Err(fail(code::INVALID_DATA, "close reason is not UTF-8")),
            }
        }
    }
}

/// Appends one unmasked server frame.
pub(crate) fn encode(out: &mut BytesMut, opcode: u8, rsv1: bool, payload: &[u8]) {
    out.reserve(payload.len() + 10);
    out.put_u8(0x80 | if rsv1 { 0x40 } else { 0 } | opcode);
    let n = payload.len();
    if n < 126 {
        out.put_u8(n as u8);
    } else if n <= 0xFFFF {
        out.put_u8(126);
        out.put_u16(n as u16);
    } else {
        out.put_u8(127);
        out.put_u64(n as u64);
    }
    out.extend_from_slice(payload);
}

/// Appends a close frame with `code` and `reason` (cut at 123 bytes, on a character
/// boundary, so the frame stays a legal control frame).
pub(crate) fn encode_close(out: &mut BytesMut, code: u16, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut p = Vec::with_capacity(2 + end);
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(&reason.as_bytes()[..end]);
    encode(out, OP_CLOSE, false, &p);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame.
    fn client(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut v = vec![first];
        let n = payload.len();
        if n < 126 {
            v.push(0x80 | n as u8);
        } else if n <= 0xFFFF {
            v.push(0x80 | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            v.push(0x80 | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
        v.extend_from_slice(&mask);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        v
    }

    fn decode_all(max: u64, wire: &[u8]) -> Result<Vec<Item>, Fail> {
        let mut d = Decoder::new(max, None);
        let mut buf = BytesMut::new();
        let mut items = Vec::new();
        // Byte by byte: every split point must work.
        for b in wire {
            buf.put_u8(*b);
            while let Some(i) = d.next(&mut buf)? {
                items.push(i);
            }
        }
        Ok(items)
    }

    #[test]
    fn text_binary_and_fragments() {
        let mut w = client(0x81, b"hello");
        w.extend(client(0x02, b"ab"));
        w.extend(client(0x89, b"p"));
        w.extend(client(0x80, b"cd"));
        let items = decode_all(0, &w).unwrap();
        assert_eq!(
            items,
            vec![
                Item::Text("hello".into()),
                Item::Ping(Bytes::from_static(b"p")),
                Item::Binary(Bytes::from_static(b"abcd")),
            ]
        );
    }

    #[test]
    fn every_length_encoding_round_trips_unmasking() {
        for n in [0usize, 1, 7, 8, 9, 125, 126, 65535, 65536, 70001] {
            let p: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let items = decode_all(0, &client(0x82, &p)).unwrap();
            assert_eq!(items, vec![Item::Binary(Bytes::from(p))], "n={n}");
        }
    }

    #[test]
    fn violations_get_their_close_codes() {
        let unmasked = [0x81u8, 0x02, b'h', b'i'];
        assert_eq!(decode_all(0, &unmasked).unwrap_err().code, 1002);
        assert_eq!(decode_all(0, &client(0x83, b"x")).unwrap_err().code, 1002);
        assert_eq!(decode_all(0, &client(0x8B, b"x")).unwrap_err().code, 1002);
        assert_eq!(
            decode_all(0, &client(0xC1, b"x")).unwrap_err().code,
            1002,
            "rsv1"
        );
        assert_eq!(
            decode_all(0, &client(0xA1, b"x")).unwrap_err().code,
            1002,
            "rsv2"
        );
        assert_eq!(
            decode_all(0, &client(0x89, &[0; 126])).unwrap_err().code,
            1002
        );
        assert_eq!(decode_all(0, &client(0x09, b"x")).unwrap_err().code, 1002);
        assert_eq!(decode_all(0, &client(0x80, b"x")).unwrap_err().code, 1002);
        assert_eq!(
            decode_all(0, &client(0x81, &[0xC3, 0x28]))
                .unwrap_err()
                .code,
            1007
        );
        assert_eq!(decode_all(0, &client(0x88, &[3])).unwrap_err().code, 1002);
        assert_eq!(
            decode_all(0, &client(0x88, &[3, 0xEE])).unwrap_err().code,
            1002
        );
        let mut bad_reason = 1000u16.to_be_bytes().to_vec();
        bad_reason.push(0xFF);
        assert_eq!(
            decode_all(0, &client(0x88, &bad_reason)).unwrap_err().code,
            1007
        );
        // A data frame inside a fragmented message.
        let mut w = client(0x01, b"a");
        w.extend(client(0x81, b"b"));
        assert_eq!(decode_all(0, &w).unwrap_err().code, 1002);
        // Non-minimal 16-bit length.
        let w = [0x81u8, 0x80 | 126, 0, 5, 0, 0, 0, 0];
        assert_eq!(decode_all(0, &w).unwrap_err().code, 1002);
    }

    #[test]
    fn the_size_limit_is_checked_before_the_payload_arrives() {
        let mut d = Decoder::new(10, None);
        let w = client(0x82, &[0; 11]);
        let mut buf = BytesMut::from(&w[..8]);
        assert_eq!(d.next(&mut buf).unwrap_err().code, 1009);
        // Across fragments too.
        let mut w = client(0x02, &[0; 6]);
        w.extend(client(0x80, &[0; 6]));
        assert_eq!(decode_all(10, &w).unwrap_err().code, 1009);
        assert!(decode_all(12, &w).is_ok());
    }

    #[test]
    fn close_frames() {
        assert_eq!(
            decode_all(0, &client(0x88, &[])).unwrap(),
            vec![Item::Close(None)]
        );
        let mut p = 4001u16.to_be_bytes().to_vec();
        p.extend_from_slice("bye é".as_bytes());
        assert_eq!(
            decode_all(0, &client(0x88, &p)).unwrap(),
            vec![Item::Close(Some((4001, "bye é".into())))]
        );
        let mut out = BytesMut::new();
        encode_close(&mut out, 1000, &"é".repeat(100));
        assert_eq!(out[1] as usize, out.len() - 2);
        assert!(out.len() - 2 <= 125);
        assert!(std::str::from_utf8(&out[4..]).is_ok());
    }
}
