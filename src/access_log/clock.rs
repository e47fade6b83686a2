//! The `%(t)s` clock: `[24/Nov/2026:21:15:52 +0000]` in local time, rendered at most once per
//! second and reused by every line logged within that second (formatting through chrono
//! costs ~300–500 ns; a cache hit is a compare and a copy).

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, TimeZone};

/// The time strings for one second: `clf` for text lines, `iso` for JSON lines.
#[derive(Clone, Debug)]
pub struct Stamp {
    /// `[%d/%b/%Y:%H:%M:%S %z]`, brackets included, C-locale month (Gunicorn's `now()`).
    pub clf: String,
    /// RFC 3339 local time with offset, `2026-11-24T21:15:52+00:00` (JSON `t`).
    pub iso: String,
}

impl Stamp {
    /// Formats `dt` (any zone; the caller picks local time).
    pub fn from_datetime<Tz: TimeZone>(dt: &DateTime<Tz>) -> Stamp
    where
        Tz::Offset: std::fmt::Display,
    {
        Stamp {
            clf: dt.format("[%d/%b/%Y:%H:%M:%S %z]").to_string(),
            iso: dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        }
    }
}

/// Per-second cache of [`Stamp`] in the local time zone.
#[derive(Debug, Default)]
pub struct Clock {
    second: Option<i64>,
    stamp: Option<Stamp>,
}

impl Clock {
    /// The stamp for the current second, re-rendered only when the second changed.
    pub fn now(&mut self) -> &Stamp {
        self.at(epoch_seconds())
    }

    /// The stamp for a given epoch second (tests pin the time with this).
    pub fn at(&mut self, secs: i64) -> &Stamp {
        if self.second != Some(secs) || self.stamp.is_none() {
            let dt = Local.timestamp_opt(secs, 0).earliest().unwrap_or_else(|| {
                // Unrepresentable instants do not happen for real clocks; fall back to the epoch.
                Local
                    .timestamp_opt(0, 0)
                    .earliest()
                    .expect("the epoch is representable")
            });
            self.stamp = Some(Stamp::from_datetime(&dt));
            self.second = Some(secs);
        }
        self.stamp.as_ref().expect("set above")
    }
}

/// The current epoch second. On Linux this reads `CLOCK_REALTIME_COARSE` (a few ns, jiffy
/// resolution: plenty for a one-second stamp) instead of the full-precision clock, which was
/// a tenth of the cost of a default line.
fn epoch_seconds() -> i64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Ok(ts) = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME_COARSE) {
        return ts.tv_sec();
    }
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64) - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    #[test]
    fn clf_and_iso_shapes() {
        let tz = FixedOffset::west_opt(5 * 3600).unwrap();
        let dt = tz.with_ymd_and_hms(2026, 11, 4, 9, 5, 2).unwrap();
        let s = Stamp::from_datetime(&dt);
        assert_eq!(s.clf, "[04/Nov/2026:09:05:02 -0500]");
        assert_eq!(s.iso, "2026-11-04T09:05:02-05:00");
    }

    #[test]
    fn cache_rerenders_only_on_a_new_second() {
        let mut c = Clock::default();
        let a = c.at(1_800_000_000).clf.clone();
        assert_eq!(c.at(1_800_000_000).clf, a);
        let b = c.at(1_800_000_001).clf.clone();
        assert_ne!(a, b);
        assert!(c.now().clf.starts_with('[') && c.now().clf.ends_with(']'));
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((epoch_seconds() - wall).abs() <= 1);
    }
}
