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
}

/// Gunicorn-compatible text escaping plus `\xHH` for everything non-printable.
pub(super) struct Text<'o>(pub(super) &'o mut Vec<u8>);
/// No escaping: the value is post-processed (repr) by the caller.
pub(super) struct Raw<'o>(pub(super) &'o mut Vec<u8>);
/// JSON string contents.
pub(super) struct Json<'o>(pub(super) &'o mut Vec<u8>);

pub(super) const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
pub(super) const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Whether any of 8 bytes is `< 0x20`, `>= 0x7f` or `"` (word-at-a-time: most values are
/// clean printable ASCII, and this checks them 8 bytes per step).
#[inline]
pub(super) fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let high = w & HIGH;
    (below_space | high | has_zero(w ^ (ONES * 0x7f)) | has_zero(w ^ (ONES * u64::from(b'"')))) != 0
}

/// Whether any of 8 bytes needs JSON escaping: the text rule plus `\`.
#[inline]
pub(super) fn word_needs_json_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = w ^ (ONES * u64::from(b'\\'));
    word_needs_escape(w) || (x.wrapping_sub(ONES) & !x & HIGH) != 0
}

/// The length of a prefix of `bytes` that needs no escaping (all of it, usually): the
/// [`Text`] rule, or the JSON one when `JSON`. Only a lower bound when shorter than `bytes`
/// (it ends at the first dirty word); callers escape byte by byte from there.
#[inline]
pub(super) fn clean_len<const JSON: bool>(bytes: &[u8]) -> usize {
    let dirty = |w: u64| {
        if JSON {
            word_needs_json_escape(w)
        } else {
            word_needs_escape(w)
        }
    };
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let n = bytes.len();
    if n < 8 {
        return bytes
            .iter()
            .position(|&b| !(0x20..0x7f).contains(&b) || b == b'"' || (JSON && b == b'\\'))
            .unwrap_or(n);
    }
    let mut clean = 0;
    while clean + 8 <= n {
        if dirty(word(clean)) {
            return clean;
        }
        clean += 8;
    }
    // The tail, as one word overlapping bytes already known clean, instead of byte by byte.
    if clean < n && dirty(word(n - 8)) {
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
}

impl Sink for Raw<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

impl Sink for Json<'_> {
    fn put(&mut self, bytes: &[u8]) {
        json_escape(bytes, self.0);
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
