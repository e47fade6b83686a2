//! Where rendered value bytes go and how they are escaped: the text sink (Gunicorn's `"`
//! escaping plus `\xHH` for every other non-printable byte), the raw sink, and JSON
//! strings (see the module above for the rules).

pub(super) trait Sink {
    fn put(&mut self, bytes: &[u8]);
    /// For bytes the server produced itself (digits, IPs, the clock, `-`): nothing to escape
    /// in any mode, so the text sink skips its scan.
    fn put_trusted(&mut self, bytes: &[u8]) {
        self.put(bytes);
    }
    /// Trusted bytes in a fixed-size buffer, the first `len` of them used. The text and raw
    /// sinks copy all `N` (a fixed-size copy is a store or two; a `memcpy` call of a few
    /// bytes costs ~20 instructions) and cut the output back to `len`.
    fn put_trusted_padded<const N: usize>(&mut self, buf: &[u8; N], len: usize) {
        self.put_trusted(&buf[..len]);
    }
}

/// [`Sink::put_trusted_padded`] into a `Vec`.
#[inline]
fn put_padded<const N: usize>(out: &mut Vec<u8>, buf: &[u8; N], len: usize) {
    debug_assert!(len <= N);
    let end = out.len() + len;
    out.extend_from_slice(buf);
    out.truncate(end);
}

/// Gunicorn-compatible text escaping plus `\xHH` for everything non-printable.
pub(super) struct Text<'o>(pub(super) &'o mut Vec<u8>);
/// No escaping: the value is post-processed (repr) by the caller.
pub(super) struct Raw<'o>(pub(super) &'o mut Vec<u8>);
/// JSON string contents.
pub(super) struct Json<'o>(pub(super) &'o mut Vec<u8>);

pub(super) const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
pub(super) const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = ONES * 0x80;
const LOW7: u64 = ONES * 0x7f;

/// Bit 7 set in every byte of `w` that is `< 0x20`, `>= 0x7f` or `"` (word-at-a-time: most
/// values are clean printable ASCII, and this checks them 8 bytes per step). Exact per byte:
/// the additions work on each byte's low 7 bits, so no carry crosses into the next byte.
#[inline]
fn escape_mask(w: u64) -> u64 {
    let m = w & LOW7;
    let del = m + ONES; // bit 7 set iff the low 7 bits are 0x7f
    let printable = m + ONES * 0x60; // bit 7 set iff they are >= 0x20
    let not_quote = (m ^ (ONES * u64::from(b'"'))) + LOW7; // bit 7 set iff they are not `"`
    (w | del | !(printable & not_quote)) & HIGH
}

/// [`escape_mask`] plus `\`, for JSON strings.
#[inline]
fn json_escape_mask(w: u64) -> u64 {
    let not_backslash = ((w & LOW7) ^ (ONES * u64::from(b'\\'))) + LOW7;
    escape_mask(w) | (!not_backslash & HIGH)
}

/// Whether any of 8 bytes is `< 0x20`, `>= 0x7f` or `"` (the tests check the masks with it).
#[cfg(test)]
pub(super) fn word_needs_escape(w: u64) -> bool {
    escape_mask(w) != 0
}

/// Whether any of 8 bytes needs JSON escaping: the text rule plus `\`.
#[cfg(test)]
pub(super) fn word_needs_json_escape(w: u64) -> bool {
    json_escape_mask(w) != 0
}

/// The length of a prefix of `bytes` that needs no escaping (all of it, usually): the
/// [`Text`] rule, or the JSON one when `JSON`. Only a lower bound when shorter than `bytes`
/// (it ends before the first chunk holding a dirty byte); callers escape byte by byte from
/// there.
#[inline]
pub(super) fn clean_len<const JSON: bool>(bytes: &[u8]) -> usize {
    let mask = |w: u64| {
        if JSON {
            json_escape_mask(w)
        } else {
            escape_mask(w)
        }
    };
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let n = bytes.len();
    if n < 8 {
        // Short values (methods, small headers) as one word too: two overlapping halves for
        // 4-7 bytes; first, middle and last byte (padded with a clean `a`) for 1-3.
        let w = if n >= 4 {
            let half = |b: &[u8]| u64::from(u32::from_le_bytes(b.try_into().expect("4 bytes")));
            half(&bytes[..4]) | half(&bytes[n - 4..]) << 32
        } else if n > 0 {
            u64::from(bytes[0])
                | u64::from(bytes[n / 2]) << 8
                | u64::from(bytes[n - 1]) << 16
                | 0x6161_6161_6100_0000
        } else {
            return 0;
        };
        return if mask(w) == 0 { n } else { 0 };
    }
    // 16 bytes per step, one branch for both words.
    let mut clean = 0;
    let mut pairs = bytes.chunks_exact(16);
    for p in &mut pairs {
        if mask(word(&p[..8])) | mask(word(&p[8..])) != 0 {
            return clean;
        }
        clean += 16;
    }
    // The rest, at most 15 bytes, as the word after the pairs (if any) and the last word,
    // overlapping bytes already known clean instead of going byte by byte.
    let tail = pairs.remainder();
    if tail.is_empty() {
        return n;
    }
    let first = if tail.len() >= 8 {
        mask(word(&tail[..8]))
    } else {
        0
    };
    if first | mask(word(&bytes[n - 8..])) != 0 {
        return clean;
    }
    n
}

impl Sink for Text<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let out = &mut *self.0;
        let clean = clean_len::<false>(bytes);
        if clean == bytes.len() {
            out.extend_from_slice(bytes);
            return;
        }
        // Byte by byte from the first dirty word.
        let mut run = 0;
        for (i, &b) in bytes.iter().enumerate().skip(clean) {
            if (0x20..0x7f).contains(&b) && b != b'"' {
                continue;
            }
            out.extend_from_slice(&bytes[run..i]);
            run = i + 1;
            if b == b'"' {
                out.extend_from_slice(b"\\\"");
            } else {
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX_UPPER[usize::from(b >> 4)],
                    HEX_UPPER[usize::from(b & 15)],
                ]);
            }
        }
        out.extend_from_slice(&bytes[run..]);
    }

    fn put_trusted(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn put_trusted_padded<const N: usize>(&mut self, buf: &[u8; N], len: usize) {
        put_padded(self.0, buf, len);
    }
}

impl Sink for Raw<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn put_trusted_padded<const N: usize>(&mut self, buf: &[u8; N], len: usize) {
        put_padded(self.0, buf, len);
    }
}

impl Sink for Json<'_> {
    fn put(&mut self, bytes: &[u8]) {
        json_escape(bytes, self.0);
    }

    fn put_trusted(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn put_trusted_padded<const N: usize>(&mut self, buf: &[u8; N], len: usize) {
        put_padded(self.0, buf, len);
    }
}

pub(super) fn json_escape(bytes: &[u8], out: &mut Vec<u8>) {
    let clean = clean_len::<true>(bytes);
    if clean == bytes.len() {
        out.extend_from_slice(bytes);
        return;
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX_LOWER[usize::from(b >> 4)],
                HEX_LOWER[usize::from(b & 15)],
            ]),
        }
    }
    out.extend_from_slice(&bytes[run..]);
}

/// A JSON string literal (with quotes) for compile-time keys.
pub(crate) fn json_string(bytes: &[u8], out: &mut String) {
    let mut v = Vec::with_capacity(bytes.len() + 2);
    v.push(b'"');
    json_escape(bytes, &mut v);
    v.push(b'"');
    out.push_str(std::str::from_utf8(&v).expect("json_escape output is ASCII"));
}
