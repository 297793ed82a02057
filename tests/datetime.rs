//! The `datetime` reader (`src/datetime.rs`) against an independent one, jiff's RFC 3339
//! `Timestamp` parser, on generated texts: every text casepol accepts, jiff reads as the same
//! instant; every text jiff reads and casepol refuses is one casepol refuses on purpose (a leap
//! second, a fraction finer than a microsecond, a year outside 0000-9999 in UTC, a separator
//! other than `T`). Random edits of valid texts never panic, and what they give round-trips.

use casepol::internal::datetime::{format, format_fixed, parse, MAX, MIN};
use proptest::prelude::*;

/// xorshift64*, so the run is the same every time.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A text in the shape of RFC 3339, its fields mostly in range (one in eight is drawn from past
/// the range), and whether casepol refuses it on purpose where jiff reads it: a fraction finer
/// than a microsecond, a leap second, a space for `T`, an offset of 24 hours or more (jiff
/// reads offsets up to 25:59; RFC 3339 stops at 23:59).
fn text(rng: &mut Rng) -> (String, bool) {
    let mut field = |lo: u64, hi: u64, past: u64| match rng.below(8) {
        0 => rng.below(past + 1),
        _ => lo + rng.below(hi - lo + 1),
    };
    let (y, mo, d) = (field(0, 9999, 9999), field(1, 12, 13), field(1, 28, 32));
    let (h, mi, s) = (field(0, 23, 24), field(0, 59, 60), field(0, 59, 60));
    let (oh, om) = (field(0, 14, 25), field(0, 59, 60));
    let sep = ["T", "T", "T", "t", " "][rng.below(5) as usize];
    let mut t = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}");
    let mut fine = false;
    if rng.below(2) == 0 {
        let n = 1 + rng.below(10);
        t.push('.');
        for i in 0..n {
            // Past the sixth digit, mostly zeros.
            let digit = if i >= 6 && rng.below(3) != 0 {
                0
            } else {
                rng.below(10)
            };
            fine |= i >= 6 && digit != 0;
            t.push(char::from(b'0' + digit as u8));
        }
    }
    match rng.below(4) {
        0 => t.push('Z'),
        1 => t.push('z'),
        2 => t.push_str(&format!("+{oh:02}:{om:02}")),
        _ => t.push_str(&format!("-{oh:02}:{om:02}")),
    }
    let offset_hours = if t.ends_with(['Z', 'z']) { 0 } else { oh };
    (t, fine || s == 60 || sep == " " || offset_hours > 23)
}

/// 200,000 texts: each accepted one is the instant jiff reads, and round-trips through both
/// of casepol's texts; each refused one jiff refuses too, or is out of casepol's range, or is
/// refused on purpose. Counts show each case was reached.
#[test]
fn agrees_with_jiff() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut accepted, mut both_refused, mut on_purpose, mut out_of_range) = (0, 0, 0, 0);
    for _ in 0..200_000 {
        let (t, strict) = text(&mut rng);
        let ours = parse(&t);
        let theirs = t.parse::<jiff::Timestamp>();
        match (&ours, &theirs) {
            (Ok(us), Ok(ts)) => {
                assert_eq!(*us, ts.as_microsecond(), "{t}");
                assert_eq!(parse(&format(*us)), Ok(*us), "{t}");
                assert_eq!(parse(&format_fixed(*us)), Ok(*us), "{t}");
                accepted += 1;
            }
            (Ok(us), Err(e)) => panic!("{t}: casepol read {us}, jiff refused: {e}"),
            (Err(_), Ok(ts)) if !(MIN..=MAX).contains(&ts.as_microsecond()) => out_of_range += 1,
            (Err(e), Ok(_)) => {
                assert!(strict, "{t}: jiff read it, casepol refused: {e}");
                on_purpose += 1;
            }
            (Err(_), Err(_)) => both_refused += 1,
        }
    }
    assert!(accepted > 40_000, "{accepted} accepted");
    assert!(both_refused > 10_000, "{both_refused} refused by both");
    assert!(on_purpose > 10_000, "{on_purpose} refused on purpose");
    // The edges: an instant before year 0000 or after 9999 in UTC (jiff reads the first, as
    // year -1, and refuses the second, as casepol refuses both).
    let before: jiff::Timestamp = "0000-01-01T00:30:00+01:00".parse().unwrap();
    assert!(before.as_microsecond() < MIN);
    for t in ["0000-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"] {
        assert!(parse(t).is_err(), "{t}");
        out_of_range += 1;
    }
    assert_eq!(parse("0000-01-01T01:00:00+01:00"), Ok(MIN));
    assert_eq!(parse("9999-12-31T22:59:59.999999-01:00"), Ok(MAX));
    assert!(out_of_range >= 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    /// Any edit of a valid text: no panic, and an accepted text round-trips.
    #[test]
    fn edits_never_panic(at in 0usize..40, byte in prop::sample::select(b"0123456789-:.+TZtz \xc3".to_vec()), cut in any::<bool>()) {
        let mut t = b"2026-01-31T09:30:00.123456+01:00".to_vec();
        if at < t.len() {
            if cut { t.truncate(at) } else { t[at] = byte }
        } else {
            t.push(byte);
        }
        let t = String::from_utf8_lossy(&t).into_owned();
        if let Ok(us) = parse(&t) {
            prop_assert_eq!(parse(&format(us)), Ok(us));
        }
    }
}
