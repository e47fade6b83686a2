//! Settings as text: `--print-config` (Gunicorn's `key = value` lines) and the README's
//! generated settings table.

use super::registry::{ALL, Support};
use super::{Loaded, Settings};

/// The resolved settings as `key = value` lines, like Gunicorn's `--print-config`: one
/// per setting, sorted by key, keys padded to a common width, values rendered as
/// Gunicorn renders them; `  # source` follows values that are not the default.
pub fn print_config(loaded: &Loaded) -> String {
    let mut settings = loaded.settings.clone();
    let mut specs: Vec<_> = ALL.to_vec();
    specs.sort_by_key(|s| s.key());
    let width = specs.iter().map(|s| s.key().len()).max().unwrap_or(0);
    let mut out = String::new();
    for spec in specs {
        let value = spec.render(&mut settings);
        let line = format!("{:<width$} = {value}", spec.key());
        out.push_str(line.trim_end());
        match loaded.sources.get(spec.key()) {
            Some(source) if !source.is_default() => {
                out.push_str("  # ");
                out.push_str(&source.to_string());
            }
            _ => {}
        }
        out.push('\n');
    }
    out
}

/// A Markdown table of every setting (key, flags, default, section, support, summary),
/// generated from the registry. README.md carries a copy between its settings markers.
pub fn settings_table_markdown() -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let code = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            format!("`{}`", cell(s))
        }
    };
    let mut out = String::from(
        "| Setting | Flags | Default | Section | Status | Description |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut defaults = Settings::placeholder();
    for spec in ALL {
        let flags: Vec<String> = spec
            .short()
            .map(|c| format!("-{c}"))
            .into_iter()
            .chain(spec.long().iter().map(|l| format!("--{l}")))
            .map(|f| code(&f))
            .collect();
        let mut default = match spec.apply(&spec.default_raw(), &mut defaults) {
            Ok(()) => code(&spec.render(&mut defaults)),
            Err(_) => "(invalid)".to_string(),
        };
        if let Some(seed) = spec.env_seed() {
            default.push_str(&format!(" (or from `${}`)", seed.var));
        }
        let status = match spec.support() {
            Support::Supported => "supported".to_string(),
            Support::Unsupported(why) => format!("not supported: {}", cell(why)),
            Support::Unneeded(why) => format!("not needed: {}", cell(why)),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            spec.key(),
            flags.join(" "),
            default,
            spec.section().title(),
            status,
            cell(spec.summary()),
        ));
    }
    out
}
