//! The access log: Gunicorn's `--access-logformat`, compiled once into segments and rendered
//! per request into a reused buffer, then written by [`AccessLog`].
//!
//! ```text
//! config:  Format::from_setting("@combined" | "@./my.format" | "%(h)s …")  ─► Format (+ Needs)
//! request: server captures what format.needs() lists ─► Record ─► AccessLog::log
//!          ─► Format::render into the per-process buffer ─► writer thread ─► file / stdout
//! ```
//!
//! | module     | owns |
//! |------------|------|
//! | `format`   | the nom parser, [`Format`], [`FormatError`], [`Needs`], `Display` round-trip |
//! | `atom`     | the atom letter ↔ [`Atom`] table, environ keys, value types |
//! | `record`   | [`Record`] and the derivations from it (path/query split, Basic user) |
//! | `render`   | atom values, escaping, Python's `%` conversions, JSON encoding |
//! | `clock`    | the per-second cached `[%d/%b/%Y:%H:%M:%S %z]` stamp |
//! | `sink`     | [`AccessLog`]: buffering, the writer thread, flush, reopen, error counting |
//!
//! # Compatibility with Gunicorn
//!
//! Atoms render exactly as Gunicorn 27 renders them (golden cases captured from Gunicorn live
//! in `formats/golden/`). Deliberate differences, all documented in `formats/README.md`:
//!
//! * **Escaping**: besides Gunicorn's `"` → `\"`, control bytes, DEL and bytes ≥ 0x80 are
//!   written `\xHH`, so clients cannot forge lines (see [`render`](self) docs).
//! * **Malformed formats** fail at startup with a [`FormatError`] instead of a traceback per
//!   request; numeric conversions of string atoms (`%(h)d`, `%(b)d`) are such errors.
//! * `B` with an unknown byte count renders `-` (Gunicorn: `None`, or a `TypeError` with `%d`).
//! * `U`, `q`, `m`, `H` of a request whose request line was never parsed render `-`.
//! * `{key}e` knows the CGI keys a server has (see [`atom::EnvKey`]), not a WSGI app's extras.
//!
//! # Presets and files ([`Format::from_setting`])
//!
//! * `@name`: a preset embedded in the binary (`formats/presets/<name>.format`);
//! * `@/abs/path`, `@./rel`, `@../rel`: a format file;
//! * `@@…`: an inline format that starts with `@`;
//! * anything else: an inline Gunicorn format (so every Gunicorn setting keeps working).
//!
//! Preset and file contents are a `%`-format (one line; the trailing newline is dropped), or
//! `#!json` followed by whitespace-separated atom keys for one JSON object per line.

pub mod atom;
mod clock;
mod format;
#[cfg(test)]
mod golden;
mod record;
mod render;
mod sink;

pub use atom::{Atom, EnvKey, ValueType};
pub use clock::{Clock, Stamp};
pub use format::{
    Conv, Field, Format, FormatError, FormatErrorKind, Found, MAX_WIDTH, Mode, Needs, Segment, Spec,
};
pub use record::{CAPTURE_INLINE, Captured, CapturedValues, Headers, Record};
pub use render::Context;
pub use sink::{AccessLog, ErrorHandler, FLUSH_INTERVAL, QUEUE_DEPTH, SHIP_AT, Stats, set_tap};

/// The presets shipped in the binary: `(name, contents)`.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "gunicorn",
        include_str!("../../formats/presets/gunicorn.format"),
    ),
    (
        "combined",
        include_str!("../../formats/presets/combined.format"),
    ),
    (
        "common",
        include_str!("../../formats/presets/common.format"),
    ),
    (
        "timing",
        include_str!("../../formats/presets/timing.format"),
    ),
    ("json", include_str!("../../formats/presets/json.format")),
];

impl Format {
    /// Resolves an `access_log_format` setting value (rules in the module docs).
    ///
    /// # Errors
    ///
    /// Unknown preset, unreadable file, or a [`FormatError`] in the format itself.
    pub fn from_setting(value: &str) -> Result<Format, FormatError> {
        let Some(rest) = value.strip_prefix('@') else {
            return Format::compile(value);
        };
        if rest.starts_with('@') {
            return Format::compile(rest);
        }
        if rest.starts_with('/') || rest.starts_with("./") || rest.starts_with("../") {
            let text = std::fs::read_to_string(rest).map_err(|e| FormatError {
                offset: 0,
                kind: FormatErrorKind::File(rest.to_owned(), e.to_string()),
            })?;
            return Format::from_contents(&text);
        }
        match PRESETS.iter().find(|(name, _)| *name == rest) {
            Some((_, text)) => Format::from_contents(text),
            None => {
                let known = PRESETS
                    .iter()
                    .map(|(n, _)| format!("@{n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(FormatError {
                    offset: 0,
                    kind: FormatErrorKind::UnknownPreset(rest.to_owned(), known),
                })
            }
        }
    }

    /// Compiles the contents of a preset or format file. Offsets in errors are relative to
    /// the format (after `#!json` for JSON lists).
    ///
    /// # Errors
    ///
    /// As [`Format::compile`] / [`Format::compile_json`].
    pub fn from_contents(text: &str) -> Result<Format, FormatError> {
        if let Some(fields) = text.strip_prefix("#!json") {
            return Format::compile_json(fields);
        }
        let line = text.strip_suffix('\n').unwrap_or(text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        Format::compile(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_compile_and_gunicorn_is_the_default() {
        for (name, _) in PRESETS {
            Format::from_setting(&format!("@{name}")).unwrap_or_else(|e| panic!("@{name}: {e}"));
        }
        assert_eq!(
            Format::from_setting("@gunicorn").unwrap(),
            Format::default()
        );
        assert_eq!(
            Format::from_setting("@combined").unwrap(),
            Format::default()
        );
        assert_eq!(Format::from_setting("@json").unwrap().mode(), Mode::Json);
        let timing = Format::from_setting("@timing").unwrap();
        assert!(timing.needs().duration);
        assert!(
            timing
                .needs()
                .request_headers
                .iter()
                .any(|h| h == "x-forwarded-for")
        );
    }

    #[test]
    fn setting_rules() {
        assert_eq!(
            Format::from_setting("%(s)s").unwrap(),
            Format::compile("%(s)s").unwrap()
        );
        assert_eq!(
            Format::from_setting("@@%(s)s").unwrap(),
            Format::compile("@%(s)s").unwrap()
        );
        let e = Format::from_setting("@nope").unwrap_err();
        assert!(e.to_string().contains("unknown preset `@nope`"), "{e}");
        assert!(e.to_string().contains("@combined"), "{e}");
        let e = Format::from_setting("@./does/not/exist.format").unwrap_err();
        assert!(matches!(e.kind, FormatErrorKind::File(..)), "{e}");

        let dir = std::env::temp_dir().join(format!("runicorn-fmt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("x.format");
        std::fs::write(&file, "%(s)s %(b)s\n").unwrap();
        let f = Format::from_setting(&format!("@{}", file.display())).unwrap();
        assert_eq!(f, Format::compile("%(s)s %(b)s").unwrap());
        std::fs::write(&file, "#!json\nh s\n").unwrap();
        assert_eq!(
            Format::from_setting(&format!("@{}", file.display()))
                .unwrap()
                .mode(),
            Mode::Json
        );
    }
}
