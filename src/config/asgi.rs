//! The ASGI host's enumerated settings, parsed once into their types: `--asgi-loop`
//! (which event loop runs the app) and `--asgi-lifespan` (whether the lifespan protocol
//! runs). Gunicorn 27 spells and defaults them the same way.

use std::fmt;
use std::str::FromStr;

/// `--asgi-loop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AsgiLoop {
    /// uvloop when it can be imported, else asyncio.
    #[default]
    Auto,
    /// The standard library's loop.
    Asyncio,
    /// uvloop; a startup error when it is not installed.
    Uvloop,
}

/// `--asgi-lifespan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifespan {
    /// Run it; an app that does not speak it (raises or returns at once) is served
    /// without it, with one INFO line.
    #[default]
    Auto,
    /// Run it; an app that does not speak it fails to boot.
    On,
    /// Never run it.
    Off,
}

impl FromStr for AsgiLoop {
    type Err = String;
    fn from_str(t: &str) -> Result<Self, String> {
        match t.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(AsgiLoop::Auto),
            "asyncio" => Ok(AsgiLoop::Asyncio),
            "uvloop" => Ok(AsgiLoop::Uvloop),
            _ => Err("must be one of auto, asyncio, uvloop".into()),
        }
    }
}

impl fmt::Display for AsgiLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AsgiLoop::Auto => "auto",
            AsgiLoop::Asyncio => "asyncio",
            AsgiLoop::Uvloop => "uvloop",
        })
    }
}

impl FromStr for Lifespan {
    type Err = String;
    fn from_str(t: &str) -> Result<Self, String> {
        match t.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Lifespan::Auto),
            "on" => Ok(Lifespan::On),
            "off" => Ok(Lifespan::Off),
            _ => Err("must be one of auto, on, off".into()),
        }
    }
}

impl fmt::Display for Lifespan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lifespan::Auto => "auto",
            Lifespan::On => "on",
            Lifespan::Off => "off",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_show() {
        for t in ["auto", "asyncio", "uvloop"] {
            assert_eq!(t.parse::<AsgiLoop>().unwrap().to_string(), t);
        }
        for t in ["auto", "on", "off"] {
            assert_eq!(t.parse::<Lifespan>().unwrap().to_string(), t);
        }
        assert_eq!(" UVLOOP ".parse::<AsgiLoop>(), Ok(AsgiLoop::Uvloop));
        assert!(
            "trio"
                .parse::<AsgiLoop>()
                .unwrap_err()
                .contains("auto, asyncio")
        );
        assert!(
            "yes"
                .parse::<Lifespan>()
                .unwrap_err()
                .contains("auto, on, off")
        );
    }
}
