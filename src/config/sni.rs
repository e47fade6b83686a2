//! `--sni-cert NAME=CERTFILE:KEYFILE`: the entry syntax, checked when the configuration
//! is loaded (the TLS layer loads the files and resolves names).

/// One `--sni-cert` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniEntry {
    /// Lower-case DNS name, or `*.suffix` for one wildcard label.
    pub name: String,
    pub certfile: String,
    pub keyfile: String,
}

/// Parses `NAME=CERTFILE:KEYFILE`. The key path is what follows the *last* colon, so a
/// certificate path may contain colons and a key path may not.
pub fn parse_entry(text: &str) -> Result<SniEntry, String> {
    let usage = "expected NAME=CERTFILE:KEYFILE";
    let (name, files) = text.split_once('=').ok_or_else(|| usage.to_string())?;
    let (certfile, keyfile) = files.rsplit_once(':').ok_or_else(|| usage.to_string())?;
    let name = name.trim().to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let host = name.strip_prefix("*.").unwrap_or(&name);
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        return Err(format!("{name:?} is not a DNS name (or *.domain); {usage}"));
    }
    if certfile.is_empty() || keyfile.is_empty() {
        return Err(usage.into());
    }
    Ok(SniEntry {
        name,
        certfile: certfile.into(),
        keyfile: keyfile.into(),
    })
}

/// Validates the repeatable `--sni-cert` at configuration time.
pub(crate) fn validate(items: &[String]) -> Result<Vec<String>, (String, String)> {
    let mut seen = Vec::new();
    for item in items {
        let e = parse_entry(item).map_err(|r| (item.clone(), r))?;
        if seen.contains(&e.name) {
            return Err((item.clone(), format!("{} is named twice", e.name)));
        }
        seen.push(e.name);
    }
    Ok(items.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_syntax() {
        let e = parse_entry("Other.Test=/c/o:ther.pem:/k/other.key").unwrap();
        assert_eq!(
            e,
            SniEntry {
                name: "other.test".into(),
                certfile: "/c/o:ther.pem".into(),
                keyfile: "/k/other.key".into()
            }
        );
        assert!(parse_entry("*.example.com=a:b").is_ok());
        for bad in [
            "other.test",
            "other.test=a",
            "=a:b",
            "bad name=a:b",
            "x=:k",
            "x=c:",
            "*.=a:b",
            "a..b=c:d",
        ] {
            assert!(parse_entry(bad).is_err(), "{bad}");
        }
        assert!(validate(&["a.test=c:k".into(), "A.test=c2:k2".into()]).is_err());
    }
}
