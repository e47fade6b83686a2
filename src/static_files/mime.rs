//! `Content-Type` from a file's extension: a fixed table of the types the web actually
//! serves (a `mime.types` lookup would make the answer depend on the host).

/// The media type of a file name; text types carry `charset=utf-8` because browsers
/// otherwise guess (and a wrong guess on a script is a security problem, not a cosmetic one).
pub(crate) fn content_type(name: &[u8]) -> &'static str {
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(dot) => &name[dot + 1..],
        None => return DEFAULT,
    };
    // Extensions are short: lower-case into a stack buffer instead of allocating.
    let mut buf = [0u8; 12];
    if ext.is_empty() || ext.len() > buf.len() {
        return DEFAULT;
    }
    for (d, s) in buf.iter_mut().zip(ext) {
        *d = s.to_ascii_lowercase();
    }
    let ext = &buf[..ext.len()];
    TABLE
        .iter()
        .find(|(e, _)| e.as_bytes() == ext)
        .map_or(DEFAULT, |(_, t)| t)
}

/// Unknown extensions: the browser downloads rather than renders (never sniffs as HTML).
const DEFAULT: &str = "application/octet-stream";

const TABLE: &[(&str, &str)] = &[
    // Documents and code.
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("cjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("jsonld", "application/ld+json"),
    ("webmanifest", "application/manifest+json"),
    ("xml", "application/xml; charset=utf-8"),
    ("xhtml", "application/xhtml+xml; charset=utf-8"),
    ("rss", "application/rss+xml; charset=utf-8"),
    ("atom", "application/atom+xml; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("text", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("tsv", "text/tab-separated-values; charset=utf-8"),
    ("ics", "text/calendar; charset=utf-8"),
    ("vtt", "text/vtt; charset=utf-8"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("toml", "application/toml"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
    // Images.
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("svg", "image/svg+xml"),
    ("ico", "image/vnd.microsoft.icon"),
    ("bmp", "image/bmp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("jxl", "image/jxl"),
    // Fonts.
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("eot", "application/vnd.ms-fontobject"),
    // Audio and video.
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("webm", "video/webm"),
    ("ogv", "video/ogg"),
    ("mov", "video/quicktime"),
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("ts", "video/mp2t"),
    // Archives and binaries (served for download).
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tgz", "application/gzip"),
    ("br", "application/x-brotli"),
    ("zst", "application/zstd"),
    ("tar", "application/x-tar"),
    ("7z", "application/x-7z-compressed"),
    ("bin", "application/octet-stream"),
];

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn common_types() {
        assert_eq!(content_type(b"index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type(b"app.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type(b"a.b.css"), "text/css; charset=utf-8");
        assert_eq!(content_type(b"logo.svg"), "image/svg+xml");
        assert_eq!(content_type(b"font.woff2"), "font/woff2");
        assert_eq!(content_type(b"data.json"), "application/json");
        assert_eq!(content_type(b"Makefile"), "application/octet-stream");
        assert_eq!(content_type(b"x."), "application/octet-stream");
        assert_eq!(
            content_type(b"x.averyveryverylongext"),
            "application/octet-stream"
        );
    }
}
