//! Integer simulated time: `SimTime` (an instant) and `SimDuration` (a span), both in nanoseconds.

use serde::{Serialize, Serializer};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one millisecond.
pub const NANOS_PER_MILLI: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// An instant of simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable instant ("never").
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the start of the run.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start of the run, as a float (for reports only).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimDuration(nanos)
    }

    /// A span of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        SimDuration(millis * NANOS_PER_MILLI)
    }

    /// A span of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        SimDuration(secs * NANOS_PER_SEC)
    }

    /// A span from a float number of seconds, rounded to the nearest nanosecond (negative → zero).
    pub fn from_secs_f64(secs: f64) -> Self {
        SimDuration((secs * NANOS_PER_SEC as f64).round().max(0.0) as u64)
    }

    /// The span in nanoseconds.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// The span in seconds, as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The span in milliseconds, as a float.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI as f64
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        debug_assert!(self >= rhs, "time went backwards: {self:?} - {rhs:?}");
        SimDuration(self.0 - rhs.0)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

/// The units a duration may be written in, longest suffix first so "ms" wins over "m" and "s".
const DURATION_UNITS: [(&str, f64); 10] = [
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("sec", 1e9),
    ("m", 60e9),
    ("min", 60e9),
    ("h", 3600e9),
    ("d", 86_400e9),
];

/// Why a duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationParseError(String);

/// Parses a human duration such as `"250ms"`, `"1.5s"`, `"5m"`, `"2h"`, `"100us"` or `"0s"`.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationParseError> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(DurationParseError(format!(
            "`{trimmed}` is negative; durations are zero or positive, e.g. \"250ms\""
        )));
    }
    let split_at = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .ok_or_else(|| {
            DurationParseError(format!(
                "`{trimmed}` has no unit; write it with one of ns, us, ms, s, m, h, d (e.g. \"250ms\")"
            ))
        })?;
    let (number, unit) = trimmed.split_at(split_at);
    let unit = unit.trim();
    let scale = DURATION_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, scale)| *scale)
        .ok_or_else(|| {
            DurationParseError(format!(
                "`{trimmed}` has unknown unit `{unit}`; valid units are ns, us, ms, s (sec), m (min), h, d (e.g. \"250ms\", \"5m\")"
            ))
        })?;
    let value: f64 = number.replace('_', "").parse().map_err(|_| {
        DurationParseError(format!(
            "`{trimmed}` does not start with a number; write e.g. \"250ms\" or \"1.5s\""
        ))
    })?;
    let nanos = value * scale;
    if !nanos.is_finite() || nanos > u64::MAX as f64 / 2.0 {
        return Err(DurationParseError(format!("`{trimmed}` is too long")));
    }
    Ok(SimDuration(nanos.round() as u64))
}

impl fmt::Display for SimDuration {
    /// Prints the shortest exact form: "250ms", "5m", "1.5s", "0s".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0;
        if nanos == 0 {
            return write!(f, "0s");
        }
        for (unit, scale) in [
            ("d", 86_400 * NANOS_PER_SEC),
            ("h", 3600 * NANOS_PER_SEC),
            ("m", 60 * NANOS_PER_SEC),
            ("s", NANOS_PER_SEC),
            ("ms", NANOS_PER_MILLI),
            ("us", 1_000),
        ] {
            if nanos % scale == 0 {
                return write!(f, "{}{unit}", nanos / scale);
            }
        }
        write!(f, "{nanos}ns")
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

impl Serialize for SimTime {
    /// Seconds since the start, as a number.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_secs_f64())
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        let cases = [
            ("250ms", 250 * NANOS_PER_MILLI),
            ("1.5s", 1_500 * NANOS_PER_MILLI),
            ("5m", 300 * NANOS_PER_SEC),
            ("5min", 300 * NANOS_PER_SEC),
            ("2sec", 2 * NANOS_PER_SEC),
            ("2h", 7200 * NANOS_PER_SEC),
            ("1d", 86_400 * NANOS_PER_SEC),
            ("100us", 100_000),
            ("7ns", 7),
            ("0s", 0),
            (" 10 ms ", 10 * NANOS_PER_MILLI),
            ("1_000ms", NANOS_PER_SEC),
        ];
        for (text, nanos) in cases {
            assert_eq!(parse_duration(text), Ok(SimDuration(nanos)), "{text}");
        }
    }

    #[test]
    fn rejects_missing_or_unknown_units() {
        for text in ["250", "5 parsecs", "ms", "", "-5s", "1e400s"] {
            assert!(parse_duration(text).is_err(), "{text} should not parse");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["250ms", "5m", "1500ms", "2h", "100us", "7ns", "0s"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&parsed.to_string()).unwrap(), parsed);
        }
        assert_eq!(SimDuration::from_secs(90).to_string(), "90s");
    }
}
