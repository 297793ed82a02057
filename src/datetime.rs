//! The `datetime` type's values: RFC 3339 text to microseconds since 1970-01-01T00:00:00Z (UTC),
//! and back. A hand parser of a strict, documented subset (docs/data-formats.md, "Date and
//! time"): `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1 to 9 digits, and `Z` or an offset
//! `±HH:MM`. Every value is kept as UTC microseconds in an `i64`, so values compare as numbers
//! whatever offset they were written with, and the same instant written two ways is one value.

/// Microseconds in a second, a minute, an hour, a day.
const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The first instant a `datetime` holds, 0000-01-01T00:00:00Z: RFC 3339's years have four
/// digits.
pub const MIN: i64 = -62_167_219_200 * SECOND;
/// The last instant a `datetime` holds, 9999-12-31T23:59:59.999999Z.
pub const MAX: i64 = 253_402_300_800 * SECOND - 1;

/// Why a text is not a `datetime`: what was expected where, in words for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTimeError(pub String);

impl std::fmt::Display for DateTimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `datetime` written as it is accepted everywhere, for help text.
pub const EXAMPLE: &str = "2026-01-31T09:30:00Z";

/// Parses RFC 3339 text (the subset in this module's header) to UTC microseconds.
pub fn parse(text: &str) -> Result<i64, DateTimeError> {
    let b = text.as_bytes();
    let err = |what: &str| Err(DateTimeError(what.to_string()));
    // The fixed part: `YYYY-MM-DDTHH:MM:SS` is 19 bytes.
    if b.len() < 19 {
        if b.len() == 10 && b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-') {
            return err("a date alone is not a datetime: add the time and the offset, as in `2026-01-31T00:00:00Z`");
        }
        return err("too short for a datetime, which is written as `2026-01-31T09:30:00Z`");
    }
    let digits = |at: usize, n: usize| -> Option<i64> {
        let mut v = 0i64;
        for &c in b.get(at..at + n)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (Some(year), Some(month), Some(day)) = (digits(0, 4), digits(5, 2), digits(8, 2)) else {
        return err("the date must be written `YYYY-MM-DD`, with digits");
    };
    if b[4] != b'-' || b[7] != b'-' {
        return err("the date must be written `YYYY-MM-DD`, with `-` between its parts");
    }
    if b[10] != b'T' && b[10] != b't' {
        return err("the date and the time must be joined by `T`, as in `2026-01-31T09:30:00Z`");
    }
    let (Some(hour), Some(minute), Some(second)) = (digits(11, 2), digits(14, 2), digits(17, 2))
    else {
        return err("the time must be written `HH:MM:SS`, with digits");
    };
    if b[13] != b':' || b[16] != b':' {
        return err("the time must be written `HH:MM:SS`, with `:` between its parts");
    }
    if !(1..=12).contains(&month) {
        return err("the month must be from 01 to 12");
    }
    if day < 1 || day > days_in_month(year, month) {
        return err("the day does not exist in that month");
    }
    if hour > 23 || minute > 59 {
        return err("the hour must be from 00 to 23, and the minute from 00 to 59");
    }
    if second > 59 {
        return err("the second must be from 00 to 59 (casepol takes no leap seconds)");
    }
    // The fraction: 1 to 9 digits; past the sixth, only zeros (casepol keeps microseconds).
    let mut at = 19;
    let mut micros = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while at < b.len() && b[at].is_ascii_digit() {
            at += 1;
        }
        let n = at - start;
        if n == 0 || n > 9 {
            return err("a fraction of a second has 1 to 9 digits after the `.`");
        }
        for (i, &c) in b[start..at].iter().enumerate() {
            let d = i64::from(c - b'0');
            if i < 6 {
                micros += d * 10i64.pow(5 - i as u32);
            } else if d != 0 {
                return err("casepol keeps a datetime to the microsecond: give at most 6 digits of a second's fraction (more are allowed only as zeros)");
            }
        }
    }
    // The offset: `Z`, or `+HH:MM` / `-HH:MM`.
    let offset = match b.get(at) {
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if at + 6 == b.len() => {
            let (Some(oh), Some(om)) = (digits(at + 1, 2), digits(at + 4, 2)) else {
                return err("the offset must be written `+HH:MM` or `-HH:MM`, with digits");
            };
            if b[at + 3] != b':' {
                return err("the offset must be written `+HH:MM` or `-HH:MM`");
            }
            if oh > 23 || om > 59 {
                return err(
                    "the offset's hour must be from 00 to 23, and its minute from 00 to 59",
                );
            }
            let o = oh * HOUR + om * MINUTE;
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        None => return err("a datetime ends with its offset: `Z` for UTC, or `+HH:MM` / `-HH:MM`"),
        _ => {
            return err(
                "a datetime ends with its offset (`Z`, `+HH:MM` or `-HH:MM`) and nothing after it",
            )
        }
    };
    let local = days_from_civil(year, month, day) * DAY
        + hour * HOUR
        + minute * MINUTE
        + second * SECOND
        + micros;
    // The instant in UTC: local time minus its offset.
    let utc = local - offset;
    if !(MIN..=MAX).contains(&utc) {
        return err("in UTC this instant falls outside the years 0000 to 9999");
    }
    Ok(utc)
}

/// The RFC 3339 text of an instant, in UTC with `Z`: the fraction only when it is not zero,
/// with as many digits as it needs up to 6. What `explain`, the residual and written entities
/// show.
pub fn format(t: i64) -> String {
    let (date, time) = split(t);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date.0,
        date.1,
        date.2,
        time / HOUR,
        time % HOUR / MINUTE,
        time % MINUTE / SECOND
    );
    let micros = time % SECOND;
    if micros != 0 {
        let f = format!("{micros:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The RFC 3339 text of an instant in UTC, always with 6 digits of fraction: every value has
/// the same length, so texts sort as the instants do. What the SQL tables store.
pub fn format_fixed(t: i64) -> String {
    let (date, time) = split(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        date.0,
        date.1,
        date.2,
        time / HOUR,
        time % HOUR / MINUTE,
        time % MINUTE / SECOND,
        time % SECOND
    )
}

/// The civil date and the microseconds into that day of an instant, clamped to the range.
fn split(t: i64) -> ((i64, i64, i64), i64) {
    let t = t.clamp(MIN, MAX);
    let days = t.div_euclid(DAY);
    (civil_from_days(days), t.rem_euclid(DAY))
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), after Howard Hinnant's
/// `days_from_civil`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day since 1970-01-01, after Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse("1970-01-01T00:00:01Z"), Ok(SECOND));
        assert_eq!(parse("1969-12-31T23:59:59Z"), Ok(-SECOND));
        assert_eq!(parse("2000-02-29T12:00:00Z"), Ok(951_825_600 * SECOND));
        assert_eq!(parse("2026-01-01T00:00:00Z"), Ok(1_767_225_600 * SECOND));
        // The same instant written with offsets, lowercase letters and a fraction of zeros.
        let t = parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(parse("2026-01-01T01:30:00+01:30"), Ok(t));
        assert_eq!(parse("2025-12-31T19:00:00-05:00"), Ok(t));
        assert_eq!(parse("2026-01-01t00:00:00z"), Ok(t));
        assert_eq!(parse("2026-01-01T00:00:00.000000000Z"), Ok(t));
        assert_eq!(parse("2026-01-01T00:00:00-00:00"), Ok(t));
        assert_eq!(parse("2026-01-01T00:00:00.5Z"), Ok(t + SECOND / 2));
        assert_eq!(parse("2026-01-01T00:00:00.123456Z"), Ok(t + 123_456));
        assert_eq!(parse("2026-01-01T00:00:00.123456000Z"), Ok(t + 123_456));
        assert_eq!(parse("0000-01-01T00:00:00Z"), Ok(MIN));
        assert_eq!(parse("9999-12-31T23:59:59.999999Z"), Ok(MAX));
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-01-01 00:00:00Z",
            "2026-1-01T00:00:00Z",
            "2026-01-01T0:00:00Z",
            "2026/01/01T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T23:59:60Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.1234567891Z",
            "2026-01-01T00:00:00.1234567Z",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00+01",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+01:60",
            "2026-01-01T00:00:00ZZ",
            "2026-01-01T00:00:00Z ",
            " 2026-01-01T00:00:00Z",
            "+2026-01-01T00:00:00Z",
            "0000-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-00:01",
            "２０２６-01-01T00:00:00Z",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    /// Every day from 0000 to 9999 (a few times a year) and many instants round-trip through
    /// both texts, and the fixed text sorts as the instants do.
    #[test]
    fn round_trips_and_orders() {
        let mut prev: Option<(i64, String)> = None;
        let mut t = MIN;
        let step = 7 * DAY + 3 * HOUR + 17 * MINUTE + 29 * SECOND + 123_457;
        let mut n = 0;
        while t <= MAX {
            let text = format(t);
            assert_eq!(parse(&text), Ok(t), "{text}");
            let fixed = format_fixed(t);
            assert_eq!(parse(&fixed), Ok(t), "{fixed}");
            assert_eq!(fixed.len(), 27);
            if let Some((p, pf)) = &prev {
                assert!(*p < t && *pf < fixed, "{pf} !< {fixed}");
            }
            prev = Some((t, fixed));
            t += step;
            n += 1;
        }
        assert!(n > 500_000, "{n}");
        assert_eq!(format(MAX), "9999-12-31T23:59:59.999999Z");
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(SECOND / 2), "1970-01-01T00:00:00.5Z");
    }

    /// The days of every month agree with counting days one by one from 1970.
    #[test]
    fn days_agree_with_counting() {
        let mut days = 0i64;
        for y in 1970..2400 {
            for m in 1..=12 {
                assert_eq!(days_from_civil(y, m, 1), days, "{y}-{m}");
                assert_eq!(civil_from_days(days), (y, m, 1));
                days += days_in_month(y, m);
            }
        }
    }
}
