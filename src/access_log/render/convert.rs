//! Python's `%` conversions applied to atom values: width, precision, flags, `r`/`a`,
//! and the numeric conversions (`d`, `x`, `o`, `e`, `f`, `g`, ...).

use std::io::Write as _;

use super::escape::{HEX_LOWER, HEX_UPPER, Json, Raw, Text};
use super::{
    Context, Value, body_bytes_clf, emit, joined, put_clf_time, put_status, remote_addr,
    request_line,
};
use crate::access_log::atom::Atom;
use crate::access_log::format::{Conv, Field, Mode, Spec};
use crate::access_log::record::Record;
use http::header::{REFERER, USER_AGENT};

/// `%(x)s` in a text format, the common case: [`render_field`]'s `Conv::Str` arm without
/// the mode, conversion, width and precision checks (the compiler ruled them out). The
/// default format's atoms are dispatched here, inlined into the render loop, instead of
/// through [`emit`], whose general frame costs more than most of them.
#[inline]
pub(super) fn plain_text(f: &Field, rec: &Record<'_>, cx: &Context<'_>, out: &mut Vec<u8>) {
    let value = match &f.atom {
        Atom::Time => {
            put_clf_time(cx.clf_time, out);
            return;
        }
        Atom::RemoteAddr => remote_addr(rec, &mut Text(out)),
        Atom::RequestLine => request_line(rec, &mut Text(out)),
        Atom::Status => {
            put_status(rec.status, &mut Text(out));
            return;
        }
        Atom::BodyBytesClf => body_bytes_clf(rec, &mut Text(out)),
        Atom::Referer => joined(rec.request_headers, &REFERER, f.slot, &mut Text(out)),
        Atom::UserAgent => joined(rec.request_headers, &USER_AGENT, f.slot, &mut Text(out)),
        _ => emit(f, rec, cx, false, &mut Text(out)),
    };
    match value {
        Value::Str => {}
        Value::Missing | Value::NoneInt => out.push(b'-'),
        Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
    }
}

pub(super) fn render_field(
    f: &Field,
    mode: Mode,
    rec: &Record<'_>,
    cx: &Context<'_>,
    out: &mut Vec<u8>,
) {
    let spec = f.spec;
    let start = out.len();
    if mode == Mode::Json || spec.conv == Conv::Json {
        // Numbers in Gunicorn's text (s, b, L) are JSON numbers here.
        if matches!(
            f.atom,
            Atom::Status | Atom::BodyBytesClf | Atom::SecondsDecimal
        ) {
            match emit(f, rec, cx, true, &mut Raw(out)) {
                Value::Str => {}
                Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
                Value::Missing | Value::NoneInt => out.extend_from_slice(b"null"),
            }
            return;
        }
        out.push(b'"');
        match emit(f, rec, cx, true, &mut Json(out)) {
            Value::Str => out.push(b'"'),
            Value::Missing | Value::NoneInt => {
                out.truncate(start);
                out.extend_from_slice(b"null");
            }
            Value::Int(n) => {
                out.truncate(start);
                out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            }
        }
        return;
    }
    match spec.conv {
        Conv::Str | Conv::Json => {
            match emit(f, rec, cx, false, &mut Text(out)) {
                Value::Str => {}
                Value::Missing | Value::NoneInt => out.push(b'-'),
                Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            }
            if spec.width > 0 || spec.precision.is_some() {
                truncate_and_pad(out, start, spec);
            }
        }
        Conv::Repr | Conv::Ascii => {
            match emit(f, rec, cx, false, &mut Raw(out)) {
                Value::Str => {
                    // repr needs the whole value to pick its quote; r/a are rare, so copy.
                    let raw = out.split_off(start);
                    repr(&raw, out);
                }
                Value::Missing => out.extend_from_slice(b"'-'"),
                Value::NoneInt => out.push(b'-'),
                Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            }
            truncate_and_pad(out, start, spec);
        }
        _ => match emit(f, rec, cx, false, &mut Raw(out)) {
            Value::Int(n) => number(n, spec, out),
            // Unreachable for compiled formats (string atoms cannot take numeric conversions),
            // kept total so rendering can never fail.
            _ => {
                out.truncate(start);
                out.push(b'-');
                truncate_and_pad(
                    out,
                    start,
                    Spec {
                        precision: None,
                        ..spec
                    },
                );
            }
        },
    }
}

/// Python's `repr()` of the value after Gunicorn's `"` → `\"`.
pub(super) fn repr(raw: &[u8], out: &mut Vec<u8>) {
    let has_dq = raw.contains(&b'"');
    let quote = if raw.contains(&b'\'') && !has_dq {
        b'"'
    } else {
        b'\''
    };
    out.push(quote);
    for &b in raw {
        match b {
            // SafeAtoms made it `\"`; repr then doubles that backslash.
            b'"' => out.extend_from_slice(if quote == b'"' {
                b"\\\\\\\""
            } else {
                b"\\\\\""
            }),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ if b == quote => out.extend_from_slice(&[b'\\', b]),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX_LOWER[usize::from(b >> 4)],
                HEX_LOWER[usize::from(b & 15)],
            ]),
        }
    }
    out.push(quote);
}

/// Applies precision (truncation) and width (space padding) to `out[start..]`, as Python
/// does for `s`, `r` and `a`. The `0` flag does not zero-pad strings in Python either.
pub(super) fn truncate_and_pad(out: &mut Vec<u8>, start: usize, spec: Spec) {
    if let Some(p) = spec.precision {
        out.truncate(start + p.min(out.len() - start));
    }
    pad(out, start, start, spec.width, spec.left, b' ');
}

/// Pads `out[start..]` to `width`: after it when `left`, else by inserting `fill` at `at`.
pub(super) fn pad(out: &mut Vec<u8>, start: usize, at: usize, width: usize, left: bool, fill: u8) {
    let len = out.len() - start;
    if len >= width {
        return;
    }
    let n = width - len;
    let end = out.len();
    out.resize(end + n, fill);
    if !left {
        out.copy_within(at..end, at + n);
        out[at..at + n].fill(fill);
    }
}

/// Python's numeric conversions of a non-negative integer.
pub(super) fn number(n: u64, spec: Spec, out: &mut Vec<u8>) {
    let start = out.len();
    if spec.plus {
        out.push(b'+');
    } else if spec.space {
        out.push(b' ');
    }
    match spec.conv {
        Conv::Decimal(_) | Conv::Octal | Conv::Hex { .. } => {
            let (prefix, radix, upper): (&[u8], u64, bool) = match spec.conv {
                Conv::Octal => (b"0o", 8, false),
                Conv::Hex { upper: false } => (b"0x", 16, false),
                Conv::Hex { upper: true } => (b"0X", 16, true),
                _ => (b"", 10, false),
            };
            if spec.alt {
                out.extend_from_slice(prefix);
            }
            let digits_at = out.len();
            push_radix(n, radix, upper, out);
            // Precision on integers is a minimum digit count.
            if let Some(p) = spec.precision {
                pad(out, digits_at, digits_at, p, false, b'0');
            }
            finish_number(out, start, digits_at, spec);
        }
        Conv::Fixed { .. } => {
            let digits_at = out.len();
            let p = spec.precision.unwrap_or(6);
            let _ = write!(out, "{:.*}", p, n as f64);
            if spec.alt && p == 0 {
                out.push(b'.');
            }
            finish_number(out, start, digits_at, spec);
        }
        Conv::Exp { upper } => {
            let digits_at = out.len();
            let p = spec.precision.unwrap_or(6);
            exp(n as f64, p, spec.alt, upper, out);
            finish_number(out, start, digits_at, spec);
        }
        Conv::General { upper } => {
            let digits_at = out.len();
            let p = spec.precision.unwrap_or(6).max(1);
            // The exponent after rounding to p significant digits decides the style.
            let _ = write!(out, "{:.*e}", p - 1, n as f64);
            let e_at = out[digits_at..]
                .iter()
                .position(|&b| b == b'e')
                .map_or(out.len(), |i| digits_at + i);
            let x: i64 = std::str::from_utf8(&out[e_at + 1..])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            out.truncate(digits_at);
            if -4 <= x && x < p as i64 {
                let _ = write!(out, "{:.*}", (p as i64 - 1 - x) as usize, n as f64);
            } else {
                exp(n as f64, p - 1, false, upper, out);
            }
            if spec.alt {
                // `#` keeps trailing zeros and always shows the point.
                let e = out[digits_at..]
                    .iter()
                    .position(|&b| b == b'e' || b == b'E')
                    .map(|i| digits_at + i);
                if !out[digits_at..].contains(&b'.') {
                    let at = e.unwrap_or(out.len());
                    out.insert(at, b'.');
                }
            } else {
                strip_zeros(out, digits_at);
            }
            finish_number(out, start, digits_at, spec);
        }
        _ => push_radix(n, 10, false, out),
    }
}

pub(super) fn finish_number(out: &mut Vec<u8>, start: usize, digits_at: usize, spec: Spec) {
    if spec.left {
        pad(out, start, start, spec.width, true, b' ');
    } else if spec.zero {
        // Zeros go after the sign and `0x` prefix, as in Python.
        pad(out, start, digits_at, spec.width, false, b'0');
    } else {
        pad(out, start, start, spec.width, false, b' ');
    }
}

pub(super) fn push_radix(mut n: u64, radix: u64, upper: bool, out: &mut Vec<u8>) {
    if radix == 10 {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        return;
    }
    let digits = if upper { HEX_UPPER } else { HEX_LOWER };
    let mut buf = [0u8; 24];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = digits[(n % radix) as usize];
        n /= radix;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// `%e`: Rust writes `5.09e2`; Python writes `5.09e+02`.
pub(super) fn exp(v: f64, p: usize, alt: bool, upper: bool, out: &mut Vec<u8>) {
    let at = out.len();
    let _ = write!(out, "{:.*e}", p, v);
    let e_at = out[at..]
        .iter()
        .position(|&b| b == b'e')
        .map_or(out.len(), |i| at + i);
    let x: i64 = std::str::from_utf8(&out[e_at + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    out.truncate(e_at);
    if alt && p == 0 {
        out.push(b'.');
    }
    out.push(if upper { b'E' } else { b'e' });
    out.push(if x < 0 { b'-' } else { b'+' });
    let ax = x.unsigned_abs();
    if ax < 10 {
        out.push(b'0');
    }
    out.extend_from_slice(itoa::Buffer::new().format(ax).as_bytes());
}

/// `%g` without `#`: drop trailing zeros of the fraction, and the point if nothing is left.
pub(super) fn strip_zeros(out: &mut Vec<u8>, at: usize) {
    let Some(dot) = out[at..].iter().position(|&b| b == b'.').map(|i| at + i) else {
        return;
    };
    let frac_end = out[dot..]
        .iter()
        .position(|&b| b == b'e' || b == b'E')
        .map_or(out.len(), |i| dot + i);
    let mut keep = frac_end;
    while keep > dot + 1 && out[keep - 1] == b'0' {
        keep -= 1;
    }
    if keep == dot + 1 {
        keep = dot;
    }
    out.drain(keep..frac_end);
}
