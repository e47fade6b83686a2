//! The format compiler: Gunicorn's `--access-logformat` (Python `%`-formatting against a
//! mapping) parsed once, at config time, by nom 8 into a list of [`Segment`]s.
//!
//! Grammar (Python's printf-style, restricted to the mapping form Gunicorn uses):
//!
//! ```text
//! format    = { literal | "%%" | directive }
//! directive = "%(" key ")" flags* width? ("." precision?)? length? conversion
//! key       = any text with balanced parentheses (Python counts nesting the same way)
//! flags     = "#" | "0" | "-" | " " | "+"
//! length    = "h" | "l" | "L"                       (accepted and ignored, as Python does)
//! conversion= "s" | "r" | "a" | "d" | "i" | "u" | "o" | "x" | "X" | "e" | "E" | "f" | "F" | "g" | "G"
//! ```
//!
//! What Gunicorn would only discover per request (a traceback on stderr, the line dropped) is
//! rejected here with a byte offset: a `%` that starts no directive (`100% x`), a trailing
//! `%`, an unterminated `%(x`, a missing conversion, `*` widths, `%c`, and numeric
//! conversions of atoms that are always strings in Gunicorn's dict (`%(h)d`, `%(b)d`,
//! `%({x}i)d`, `%(zz)d`: Python raises `TypeError` for every request). The int atoms
//! (`B T M D`) accept every numeric conversion.
//!
//! [`Format::needs`] is computed here too, so the server copies only what the format reads.

use std::fmt;

use http::HeaderName;
use nom::Parser;
use nom::bytes::complete::{is_not, tag, take_while};
use nom::character::complete::{digit0, one_of};
use nom::combinator::opt;
use nom::sequence::preceded;

use super::atom::{Atom, EnvKey, ValueType};
use super::record::Captured;

/// Width and precision above this are rejected: they only serve to make lines huge.
pub const MAX_WIDTH: usize = 4096;

/// A compiled access-log format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pub(crate) segments: Vec<Segment>,
    /// What rendering walks: `segments` regrouped (see [`Step`]).
    pub(crate) steps: Vec<Step>,
    pub(crate) mode: Mode,
    needs: Needs,
}

/// One step of rendering: literal text, then the field after it (none for trailing text).
/// Built from the segments at compile time so that a line costs one loop turn per field,
/// not per segment, and constant fields (a plain `%(l)s` is always `-`) are folded into the
/// text around them: the default format renders in 9 steps instead of 18 segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) text: Lit,
    pub(crate) field: Option<Field>,
}

/// Literal text of a [`Step`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lit {
    /// At most 8 bytes, zero-padded: written as one fixed-size copy then cut to the length,
    /// which is a couple of stores where a `memcpy` call of a few bytes costs ~20 instructions.
    Short([u8; 8], u8),
    Long(Box<str>),
}

impl Lit {
    fn new(text: &str) -> Lit {
        let b = text.as_bytes();
        if b.len() <= 8 {
            let mut short = [0u8; 8];
            short[..b.len()].copy_from_slice(b);
            Lit::Short(short, b.len() as u8)
        } else {
            Lit::Long(text.into())
        }
    }
}

/// Regroups segments into [`Step`]s, folding constant fields into the text.
fn steps(segments: &[Segment]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut text = String::new();
    for s in segments {
        match s {
            Segment::Literal(t) => text.push_str(t),
            Segment::Field(f) if f.plain && f.atom == Atom::Ident => text.push('-'),
            Segment::Field(f) => {
                steps.push(Step {
                    text: Lit::new(&text),
                    field: Some(f.clone()),
                });
                text.clear();
            }
        }
    }
    if !text.is_empty() {
        steps.push(Step {
            text: Lit::new(&text),
            field: None,
        });
    }
    steps
}

/// Text (Gunicorn-compatible line) or JSON (one object per line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Text,
    Json,
}

/// One piece of a compiled format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Text copied verbatim (already un-escaped: `%%` is stored as `%`).
    Literal(Box<str>),
    /// A `%(key)…` directive.
    Field(Field),
}

/// A directive: the key as written (for `Display`), what it resolved to, and the conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub key: Box<str>,
    pub atom: Atom,
    pub spec: Spec,
    /// For atoms that read a header: its slot in [`Needs`] (set when the format is built).
    pub(crate) slot: u32,
    /// A text-mode `%(x)s` without flags, width or precision: the renderer's fast path.
    pub(crate) plain: bool,
}

/// Python's conversion specifier after the mapping key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    pub alt: bool,
    pub zero: bool,
    pub left: bool,
    pub space: bool,
    pub plus: bool,
    pub width: usize,
    pub precision: Option<usize>,
    pub conv: Conv,
}

/// The conversion character.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Conv {
    /// `s`
    #[default]
    Str,
    /// `r`: Python `repr()`.
    Repr,
    /// `a`: Python `ascii()`.
    Ascii,
    /// `d`, `i`, `u` (stored as the letter written, so `Display` round-trips exactly).
    Decimal(u8),
    /// `o`
    Octal,
    /// `x` / `X`
    Hex { upper: bool },
    /// `e` / `E`
    Exp { upper: bool },
    /// `f` / `F`
    Fixed { upper: bool },
    /// `g` / `G`
    General { upper: bool },
    /// The JSON renderer's own encoding (only produced by [`Format::compile_json`]).
    Json,
}

impl Conv {
    fn from_char(c: char) -> Option<Conv> {
        Some(match c {
            's' => Conv::Str,
            'r' => Conv::Repr,
            'a' => Conv::Ascii,
            'd' | 'i' | 'u' => Conv::Decimal(c as u8),
            'o' => Conv::Octal,
            'x' | 'X' => Conv::Hex { upper: c == 'X' },
            'e' | 'E' => Conv::Exp { upper: c == 'E' },
            'f' | 'F' => Conv::Fixed { upper: c == 'F' },
            'g' | 'G' => Conv::General { upper: c == 'G' },
            _ => return None,
        })
    }

    fn as_char(self) -> char {
        match self {
            Conv::Str | Conv::Json => 's',
            Conv::Repr => 'r',
            Conv::Ascii => 'a',
            Conv::Decimal(c) => c as char,
            Conv::Octal => 'o',
            Conv::Hex { upper } => {
                if upper {
                    'X'
                } else {
                    'x'
                }
            }
            Conv::Exp { upper } => {
                if upper {
                    'E'
                } else {
                    'e'
                }
            }
            Conv::Fixed { upper } => {
                if upper {
                    'F'
                } else {
                    'f'
                }
            }
            Conv::General { upper } => {
                if upper {
                    'G'
                } else {
                    'g'
                }
            }
        }
    }

    /// String conversions work on any value; the rest need a number.
    pub fn is_numeric(self) -> bool {
        !matches!(self, Conv::Str | Conv::Repr | Conv::Ascii | Conv::Json)
    }
}

// ===== errors =====

/// Why a format was rejected; `Display` is one line naming the byte offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid access log format at byte {offset}: {kind}")]
pub struct FormatError {
    /// Byte offset into the format string where the problem starts.
    pub offset: usize,
    pub kind: FormatErrorKind,
}

/// What was expected (or what went wrong) at [`FormatError::offset`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatErrorKind {
    #[error("expected `(` or `%` after `%`, found {0} (write `%%` for a literal percent sign)")]
    ExpectedKey(Found),
    #[error("expected `)` closing the key started here, found end of format")]
    UnterminatedKey,
    #[error(
        "expected a digit after `.`, or a conversion character (s r a d i u o x X e E f F g G), found {0}"
    )]
    ExpectedConversion(Found),
    #[error("width or precision larger than {MAX_WIDTH}")]
    TooWide,
    #[error(
        "`%({key}){conv}` needs a number but `{key}` is always a string in Gunicorn (use `%({key})s`)"
    )]
    NotANumber { key: String, conv: char },
    #[error("unknown preset `@{0}` (known: {1})")]
    UnknownPreset(String, String),
    #[error("cannot read format file {0}: {1}")]
    File(String, String),
    #[error("invalid JSON field list: {0}")]
    JsonField(String),
}

/// The character found where something else was expected (Display: `` `x` `` or `end of format`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found(pub Option<char>);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(c) => write!(f, "`{}`", c.escape_debug()),
            None => f.write_str("end of format"),
        }
    }
}

// ===== needs =====

/// What a request must capture for this format; everything else can be skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Request headers to keep (lower-case names, deduplicated). Includes `authorization`
    /// for `u`, `referer` for `f`, `user-agent` for `a`, `content-type`/`content-length`
    /// for those environ keys and the header behind every `{x}i` / `{http_x}e`.
    pub request_headers: Vec<HeaderName>,
    /// Response headers to keep, from `{x}o`.
    pub response_headers: Vec<HeaderName>,
    /// `h`, `{remote_addr}e`, `{remote_port}e`.
    pub peer: bool,
    /// `T M D L`: measure the request duration.
    pub duration: bool,
    /// `b B`: count body bytes.
    pub body_bytes: bool,
    /// `t`: the wall clock.
    pub time: bool,
    /// `p`: the pid.
    pub pid: bool,
}

impl Needs {
    /// Records what `atom` reads; returns the slot of the header it reads (its index in
    /// `request_headers` or `response_headers`), which rendering uses to find captured values.
    fn add(&mut self, atom: &Atom) -> u32 {
        fn slot(list: &mut Vec<HeaderName>, name: &HeaderName) -> u32 {
            let i = list.iter().position(|n| n == name).unwrap_or_else(|| {
                list.push(name.clone());
                list.len() - 1
            });
            // A format would need billions of distinct header atoms to overflow this.
            u32::try_from(i).unwrap_or(u32::MAX)
        }
        let req = &mut self.request_headers;
        match atom {
            Atom::RemoteAddr => self.peer = true,
            Atom::User => return slot(req, &http::header::AUTHORIZATION),
            Atom::Referer => return slot(req, &http::header::REFERER),
            Atom::UserAgent => return slot(req, &http::header::USER_AGENT),
            Atom::Time => self.time = true,
            Atom::Pid => self.pid = true,
            Atom::BodyBytes | Atom::BodyBytesClf => self.body_bytes = true,
            Atom::Seconds | Atom::Millis | Atom::Micros | Atom::SecondsDecimal => {
                self.duration = true
            }
            Atom::RequestHeader(h) => return slot(req, h),
            Atom::ResponseHeader(h) => return slot(&mut self.response_headers, h),
            Atom::Environ(e) => match e {
                EnvKey::RemoteAddr | EnvKey::RemotePort => self.peer = true,
                EnvKey::ContentType => return slot(req, &http::header::CONTENT_TYPE),
                EnvKey::ContentLength => return slot(req, &http::header::CONTENT_LENGTH),
                EnvKey::Http(h) => return slot(req, h),
                _ => {}
            },
            _ => {}
        }
        0
    }

    /// Copies the needed request headers (all values, in order) out of a request that is
    /// about to be handed to the app, without allocating for up to
    /// [`CAPTURE_INLINE`](super::record::CAPTURE_INLINE) values. Returns `None` when the
    /// format reads no request header.
    pub fn capture_request_headers(&self, headers: &http::HeaderMap) -> Option<Captured> {
        (!self.request_headers.is_empty())
            .then(|| Captured::capture(&self.request_headers, headers))
    }

    /// Copies the needed response headers (see [`Needs::capture_request_headers`]).
    pub fn capture_response_headers(&self, headers: &http::HeaderMap) -> Option<Captured> {
        (!self.response_headers.is_empty())
            .then(|| Captured::capture(&self.response_headers, headers))
    }
}

// ===== compile =====

/// The nom error for this grammar: where it failed and what we wanted there.
#[derive(Debug)]
struct PError<'a> {
    at: &'a str,
    kind: Option<FormatErrorKind>,
}

impl<'a> nom::error::ParseError<&'a str> for PError<'a> {
    fn from_error_kind(at: &'a str, _: nom::error::ErrorKind) -> Self {
        PError { at, kind: None }
    }
    fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = nom::IResult<&'a str, T, PError<'a>>;

fn fail<T>(at: &str, kind: FormatErrorKind) -> PResult<'_, T> {
    Err(nom::Err::Failure(PError {
        at,
        kind: Some(kind),
    }))
}

fn found(at: &str) -> Found {
    Found(at.chars().next())
}

/// A key: everything up to the `)` that balances the opening `(` (Python's rule).
fn key(input: &str) -> PResult<'_, &str> {
    let mut depth = 1usize;
    for (i, b) in input.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok((&input[i + 1..], &input[..i]));
                }
            }
            _ => {}
        }
    }
    fail(input, FormatErrorKind::UnterminatedKey)
}

fn number(input: &str) -> PResult<'_, Option<usize>> {
    let (rest, digits) = digit0(input)?;
    if digits.is_empty() {
        return Ok((rest, None));
    }
    match digits.parse::<usize>() {
        Ok(n) if n <= MAX_WIDTH => Ok((rest, Some(n))),
        _ => fail(input, FormatErrorKind::TooWide),
    }
}

/// `(key)flags width .prec length conv`, after the `%`.
fn directive(input: &str) -> PResult<'_, Field> {
    let key_start = input;
    let Ok((input, _)) = tag::<_, _, PError<'_>>("(").parse(input) else {
        return fail(input, FormatErrorKind::ExpectedKey(found(input)));
    };
    let (input, key) = key(input)?;
    let (input, flags) = take_while(|c| "#0- +".contains(c)).parse(input)?;
    let (input, width) = number(input)?;
    let (input, precision) = opt(preceded(tag("."), number)).parse(input)?;
    let (input, _) = opt(one_of("hlL")).parse(input)?;
    let conv_at = input;
    let (input, conv) = match one_of::<_, _, PError<'_>>("srdiuoxXeEfFgGa").parse(input) {
        Ok((rest, c)) => (
            rest,
            Conv::from_char(c).expect("one_of only yields known conversions"),
        ),
        Err(_) => return fail(conv_at, FormatErrorKind::ExpectedConversion(found(conv_at))),
    };
    let atom = Atom::resolve(key);
    if conv.is_numeric() && atom.value_type() == ValueType::Str {
        return Err(nom::Err::Failure(PError {
            at: key_start,
            kind: Some(FormatErrorKind::NotANumber {
                key: key.to_owned(),
                conv: conv.as_char(),
            }),
        }));
    }
    let spec = Spec {
        alt: flags.contains('#'),
        zero: flags.contains('0'),
        left: flags.contains('-'),
        space: flags.contains(' '),
        plus: flags.contains('+'),
        width: width.unwrap_or(0),
        // Python: "." with no digits means precision 0.
        precision: precision.map(|p| p.unwrap_or(0)),
        conv,
    };
    Ok((
        input,
        Field {
            key: key.into(),
            atom,
            spec,
            slot: 0,
            plain: false,
        },
    ))
}

enum Piece<'a> {
    Text(&'a str),
    Field(Field),
}

fn piece(input: &str) -> PResult<'_, Piece<'_>> {
    if let Ok((rest, text)) = is_not::<_, _, PError<'_>>("%").parse(input) {
        return Ok((rest, Piece::Text(text)));
    }
    let (input, _) = tag("%").parse(input)?;
    if let Ok((rest, _)) = tag::<_, _, PError<'_>>("%").parse(input) {
        return Ok((rest, Piece::Text("%")));
    }
    let (rest, field) = directive(input)?;
    Ok((rest, Piece::Field(field)))
}

impl Format {
    /// Gunicorn's default, `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`.
    pub const GUNICORN_DEFAULT: &'static str =
        r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#;

    /// Compiles a Gunicorn `%`-format. This is the validator for `access_log_format`.
    ///
    /// # Errors
    ///
    /// A [`FormatError`] with the byte offset of the first problem (see the module docs).
    pub fn compile(src: &str) -> Result<Format, FormatError> {
        let mut segments: Vec<Segment> = Vec::new();
        let mut input = src;
        while !input.is_empty() {
            match piece(input) {
                Ok((rest, Piece::Text(t))) => {
                    // Merge adjacent text (`a%%b` is one literal) so rendering does one copy.
                    if let Some(Segment::Literal(prev)) = segments.last_mut() {
                        *prev = format!("{prev}{t}").into();
                    } else {
                        segments.push(Segment::Literal(t.into()));
                    }
                    input = rest;
                }
                Ok((rest, Piece::Field(f))) => {
                    segments.push(Segment::Field(f));
                    input = rest;
                }
                Err(nom::Err::Failure(e) | nom::Err::Error(e)) => {
                    let at = src.len() - e.at.len();
                    // NotANumber points at the `(`; report the `%` before it.
                    let (offset, kind) = match e.kind {
                        Some(k @ FormatErrorKind::NotANumber { .. }) => (at - 1, k),
                        Some(k) => (at, k),
                        None => (at, FormatErrorKind::ExpectedKey(found(e.at))),
                    };
                    return Err(FormatError { offset, kind });
                }
                Err(nom::Err::Incomplete(_)) => unreachable!("complete parsers never ask for more"),
            }
        }
        Ok(Format::from_segments(segments, Mode::Text))
    }

    /// Compiles a JSON format from whitespace-separated atom keys (`h t r s {x-forwarded-for}i`):
    /// each line is one JSON object keyed by those names (see `formats/README.md`).
    ///
    /// # Errors
    ///
    /// Empty lists and duplicate keys are rejected.
    pub fn compile_json(fields: &str) -> Result<Format, FormatError> {
        let mut segments = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (i, key) in fields.split_whitespace().enumerate() {
            if seen.contains(&key) {
                let offset = key.as_ptr() as usize - fields.as_ptr() as usize;
                return Err(FormatError {
                    offset,
                    kind: FormatErrorKind::JsonField(format!("duplicate key `{key}`")),
                });
            }
            seen.push(key);
            let mut lit = String::from(if i == 0 { "{" } else { "," });
            super::render::json_string(key.as_bytes(), &mut lit);
            lit.push(':');
            segments.push(Segment::Literal(lit.into()));
            let spec = Spec {
                conv: Conv::Json,
                ..Spec::default()
            };
            segments.push(Segment::Field(Field {
                key: key.into(),
                atom: Atom::resolve(key),
                spec,
                slot: 0,
                plain: false,
            }));
        }
        if segments.is_empty() {
            return Err(FormatError {
                offset: 0,
                kind: FormatErrorKind::JsonField("no keys".into()),
            });
        }
        segments.push(Segment::Literal("}".into()));
        Ok(Format::from_segments(segments, Mode::Json))
    }

    fn from_segments(mut segments: Vec<Segment>, mode: Mode) -> Format {
        let mut needs = Needs::default();
        for s in &mut segments {
            if let Segment::Field(f) = s {
                f.slot = needs.add(&f.atom);
                f.plain = mode == Mode::Text && f.spec == Spec::default();
            }
        }
        Format {
            steps: steps(&segments),
            segments,
            mode,
            needs,
        }
    }

    /// What a request must capture for this format (see [`Needs`]).
    pub fn needs(&self) -> &Needs {
        &self.needs
    }

    /// Text or JSON.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The compiled segments, for inspection and tests.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

impl Default for Format {
    fn default() -> Self {
        Format::compile(Format::GUNICORN_DEFAULT).expect("the default format compiles")
    }
}

/// Text formats display as a `%`-format that compiles back to an equal [`Format`];
/// JSON formats as `#!json` followed by their keys (the preset-file syntax).
impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mode == Mode::Json {
            f.write_str("#!json")?;
            for s in &self.segments {
                if let Segment::Field(field) = s {
                    write!(f, " {}", field.key)?;
                }
            }
            return Ok(());
        }
        for s in &self.segments {
            match s {
                Segment::Literal(t) => f.write_str(&t.replace('%', "%%"))?,
                Segment::Field(field) => {
                    let sp = &field.spec;
                    write!(f, "%({})", field.key)?;
                    for (on, c) in [
                        (sp.alt, '#'),
                        (sp.zero, '0'),
                        (sp.left, '-'),
                        (sp.space, ' '),
                        (sp.plus, '+'),
                    ] {
                        if on {
                            write!(f, "{c}")?;
                        }
                    }
                    if sp.width > 0 {
                        write!(f, "{}", sp.width)?;
                    }
                    if let Some(p) = sp.precision {
                        write!(f, ".{p}")?;
                    }
                    write!(f, "{}", sp.conv.as_char())?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> FormatError {
        Format::compile(src).expect_err(src)
    }

    fn field(src: &str) -> Field {
        match Format::compile(src).unwrap().segments.as_slice() {
            [Segment::Field(f)] => f.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_format_segments() {
        let f = Format::default();
        let keys: Vec<&str> = f
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Field(f) => Some(&*f.key),
                Segment::Literal(_) => None,
            })
            .collect();
        assert_eq!(keys, ["h", "l", "u", "t", "r", "s", "b", "f", "a"]);
        assert_eq!(f.segments[1], Segment::Literal(" ".into()));
        assert_eq!(f.segments[7], Segment::Literal(" \"".into()));
        let n = f.needs();
        assert!(n.peer && n.time && n.body_bytes && !n.duration && !n.pid);
        assert_eq!(
            n.request_headers,
            ["authorization", "referer", "user-agent"]
        );
        assert!(n.response_headers.is_empty());
    }

    #[test]
    fn conversions_flags_width_precision() {
        let f = field("%(s)5s");
        assert_eq!(
            (f.spec.width, f.spec.left, f.spec.conv),
            (5, false, Conv::Str)
        );
        let f = field("%(b)-7s");
        assert_eq!((f.spec.width, f.spec.left), (7, true));
        assert_eq!(field("%(m).2s").spec.precision, Some(2));
        assert_eq!(field("%(m).s").spec.precision, Some(0));
        let f = field("%(T)05d");
        assert_eq!(
            (f.spec.zero, f.spec.width, f.spec.conv),
            (true, 5, Conv::Decimal(b'd'))
        );
        assert_eq!(field("%(D)x").spec.conv, Conv::Hex { upper: false });
        assert_eq!(field("%(D)ld").spec.conv, Conv::Decimal(b'd'));
        assert_eq!(field("%(s)r").spec.conv, Conv::Repr);
        let f = field("%(D)#+ 010.3f");
        assert!(f.spec.alt && f.spec.plus && f.spec.space && f.spec.zero);
        assert_eq!(field("%(a(b)c)s").key.as_ref(), "a(b)c");
        assert_eq!(field("%()s").atom, Atom::Missing);
    }

    #[test]
    fn literals_and_percent() {
        let f = Format::compile("a%%b %%(s)s").unwrap();
        assert_eq!(f.segments, [Segment::Literal("a%b %(s)s".into())]);
        assert_eq!(Format::compile("").unwrap().segments, []);
    }

    #[test]
    fn malformed_formats_name_offset_and_expectation() {
        let e = err("%(h)d");
        assert_eq!(e.offset, 0);
        assert!(matches!(e.kind, FormatErrorKind::NotANumber { .. }));
        assert_eq!(
            e.to_string(),
            "invalid access log format at byte 0: `%(h)d` needs a number but `h` is always a string in Gunicorn (use `%(h)s`)"
        );
        assert_eq!(err("x %(b)d").offset, 2);
        assert_eq!(err("%(zz)x").offset, 0);
        assert_eq!(err("%({x}i)d").offset, 0);

        let e = err("%(s)s %");
        assert_eq!(
            (e.offset, e.kind),
            (7, FormatErrorKind::ExpectedKey(Found(None)))
        );
        let e = err("%(s)s %(s)");
        assert_eq!(
            (e.offset, e.kind),
            (10, FormatErrorKind::ExpectedConversion(Found(None)))
        );
        let e = err("ab %(x");
        assert_eq!((e.offset, e.kind), (5, FormatErrorKind::UnterminatedKey));
        let e = err("100% x");
        assert_eq!(
            (e.offset, e.kind.clone()),
            (4, FormatErrorKind::ExpectedKey(Found(Some(' '))))
        );
        assert!(!e.to_string().contains('\n'));
        // ` e` is Python's space flag plus float conversion, applied to a string.
        assert!(matches!(
            err("%(h) end").kind,
            FormatErrorKind::NotANumber { conv: 'e', .. }
        ));
        assert_eq!(err("%s").offset, 1);
        assert_eq!(err("%(h)c").offset, 4);
        assert_eq!(err("%(h)*s").offset, 4);
        assert_eq!(err("%(h)%").offset, 4);
        assert_eq!(err("%(h)99999s").kind, FormatErrorKind::TooWide);
        assert_eq!(
            err("%(h).99999999999999999999s").kind,
            FormatErrorKind::TooWide
        );
    }

    #[test]
    fn display_round_trips() {
        for src in [
            Format::GUNICORN_DEFAULT,
            "%(s)5s|%(b)-7s|%(m).2s|%(T)05d|%(D)x|%(s)r|100%% done",
            "%(D)#+ 010.3f %(B)ld %({X-Forwarded-For}i)s %(a(b))s",
            "",
        ] {
            let f = Format::compile(src).unwrap();
            let again = Format::compile(&f.to_string()).unwrap();
            assert_eq!(f, again, "{src}");
        }
        let j = Format::compile_json("h t {x-forwarded-for}i").unwrap();
        assert_eq!(j.to_string(), "#!json h t {x-forwarded-for}i");
    }

    #[test]
    fn needs_collects_only_what_is_used() {
        let f = Format::compile("%({X-Req-Id}i)s %({x-req-id}i)s %({Content-Type}o)s %(D)s %({http_x_a}e)s %({content_length}e)s").unwrap();
        let n = f.needs();
        assert_eq!(n.request_headers, ["x-req-id", "x-a", "content-length"]);
        assert_eq!(n.response_headers, ["content-type"]);
        assert!(n.duration && !n.peer && !n.time && !n.body_bytes);

        let mut req = http::HeaderMap::new();
        req.append("x-req-id", "1".parse().unwrap());
        req.append("x-req-id", "2".parse().unwrap());
        req.append("cookie", "secret".parse().unwrap());
        let got = n.capture_request_headers(&req).unwrap();
        assert_eq!(got.values(0).count(), 2);
        assert_eq!(got.len(), 2, "cookie is not kept");
        let slots: Vec<u32> = f
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Field(f) => Some(f.slot),
                Segment::Literal(_) => None,
            })
            .collect();
        assert_eq!(slots, [0, 0, 0, 0, 1, 2]);
        assert!(
            Format::compile("%(s)s")
                .unwrap()
                .needs()
                .capture_request_headers(&req)
                .is_none()
        );
    }

    #[test]
    fn json_field_lists() {
        assert!(Format::compile_json("  ").is_err());
        assert_eq!(Format::compile_json("h s h").unwrap_err().offset, 4);
    }
}
