//! Small, allocation-free readers for the standard's value forms: dates and N14.6 numbers.

/// A calendar time read from `YYYYMMDDhhmmss` (and optional `zzz` milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
}

fn digits(s: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

pub fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Why a date text is not a real date, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFault {
    Form,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl DateFault {
    pub fn describe(self, want: &str) -> String {
        match self {
            DateFault::Form => format!("not a time of the form {want}"),
            DateFault::Month => "month is not 01..12".into(),
            DateFault::Day => "day does not exist in that month".into(),
            DateFault::Hour => "hour is not 00..23".into(),
            DateFault::Minute => "minute is not 00..59".into(),
            DateFault::Second => "second is not 00..59".into(),
        }
    }
}

/// Read `YYYYMMDDhhmmss` (14 digits) or `YYYYMMDDhhmmsszzz` (17 digits) and check it is real.
pub fn read_stamp(s: &[u8]) -> Result<Stamp, DateFault> {
    if s.len() != 14 && s.len() != 17 {
        return Err(DateFault::Form);
    }
    let year = digits(&s[0..4]).ok_or(DateFault::Form)?;
    let month = digits(&s[4..6]).ok_or(DateFault::Form)?;
    let day = digits(&s[6..8]).ok_or(DateFault::Form)?;
    let hour = digits(&s[8..10]).ok_or(DateFault::Form)?;
    let minute = digits(&s[10..12]).ok_or(DateFault::Form)?;
    let second = digits(&s[12..14]).ok_or(DateFault::Form)?;
    let millis = if s.len() == 17 {
        digits(&s[14..17]).ok_or(DateFault::Form)?
    } else {
        0
    };
    if !(1..=12).contains(&month) {
        return Err(DateFault::Month);
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(DateFault::Day);
    }
    if hour > 23 {
        return Err(DateFault::Hour);
    }
    if minute > 59 {
        return Err(DateFault::Minute);
    }
    if second > 59 {
        return Err(DateFault::Second);
    }
    Ok(Stamp {
        year: year as u16,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        millis: millis as u16,
    })
}

impl Stamp {
    /// Seconds since 1970-01-01 00:00:00 of this wall-clock time read as if it were UTC.
    /// The standard's clock is local (Asia/Shanghai); callers attach the zone.
    pub fn wall_seconds(&self) -> i64 {
        let days = days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        );
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of `days_from_civil`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Format wall-clock seconds (as from `Stamp::wall_seconds`) as `YYYYMMDDhhmmss`.
pub fn format_wall_seconds(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How a number's text strays from N14.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberForm {
    /// within N14.6: optional sign, at most 14 significant digits and 6 decimals
    Standard,
    /// a number, but longer than N14.6 allows or in exponent form
    Loose,
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Read a decimal number. The common case (at most 15 digits, no exponent) is exact:
/// the integer of the digits is below 2^53 and one division by an exact power of ten is
/// correctly rounded, so the result equals Rust's own parse. Anything else falls back to it.
pub fn read_number(s: &[u8]) -> Option<(f64, NumberForm)> {
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = body.len();
    // digits of a value on the wire rarely pass 15; more would overflow nothing here (the
    // slow path below takes over), but wrapping keeps the digit loop free of checks
    let (mut i, mut mant) = digits_into(body, 0, 0);
    let int_digits = i;
    let mut frac_digits = 0;
    if i < n && body[i] == b'.' {
        let from = i + 1;
        (i, mant) = digits_into(body, from, mant);
        frac_digits = i - from;
    }
    let digits = int_digits + frac_digits;
    if digits == 0 {
        return None;
    }
    if i < n {
        // only an exponent may follow; let the standard library judge the whole text
        if !matches!(body[i], b'e' | b'E') {
            return None;
        }
        let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
        return if v.is_finite() {
            Some((v, NumberForm::Loose))
        } else {
            None
        };
    }
    if digits <= 14 && frac_digits <= 6 {
        // at most 14 digits: below 2^53, and 10^frac is exact, so one division rounds right
        let v = mant as f64 / POW10[frac_digits];
        return Some((if neg { -v } else { v }, NumberForm::Standard));
    }
    let significant = digits
        - body
            .iter()
            .take_while(|&&b| b == b'0' || b == b'.')
            .filter(|&&b| b == b'0')
            .count();
    let form = if significant <= 14 && frac_digits <= 6 {
        NumberForm::Standard
    } else {
        NumberForm::Loose
    };
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    v.is_finite().then_some((v, form))
}

/// Fold the decimal digits of `s` from `i` into `mant`; where they stop, and the mantissa.
#[inline]
fn digits_into(s: &[u8], mut i: usize, mut mant: u64) -> (usize, u64) {
    while let Some(d) = s.get(i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9) {
        mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    (i, mant)
}

/// Read a non-negative integer of at most 9 digits.
pub fn read_uint(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    digits(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_dates() {
        assert!(read_stamp(b"20160801085857").is_ok());
        assert!(read_stamp(b"20160801085857223").is_ok());
        assert_eq!(read_stamp(b"20160229000000").map(|s| s.day), Ok(29));
        assert_eq!(read_stamp(b"20170229000000"), Err(DateFault::Day));
        assert_eq!(read_stamp(b"20161301000000"), Err(DateFault::Month));
        assert_eq!(read_stamp(b"20160801240000"), Err(DateFault::Hour));
        assert_eq!(read_stamp(b"20160801236000"), Err(DateFault::Minute));
        assert_eq!(read_stamp(b"2016080108585"), Err(DateFault::Form));
        assert_eq!(read_stamp(b"2016080108585x"), Err(DateFault::Form));
    }

    #[test]
    fn epoch_roundtrip() {
        let s = read_stamp(b"20160801085857").unwrap();
        assert_eq!(s.wall_seconds(), 1_470_041_937);
        assert_eq!(format_wall_seconds(s.wall_seconds()), "20160801085857");
    }

    #[test]
    fn numbers() {
        assert_eq!(read_number(b"12.5"), Some((12.5, NumberForm::Standard)));
        assert_eq!(read_number(b"-0.001"), Some((-0.001, NumberForm::Standard)));
        assert_eq!(read_number(b"7"), Some((7.0, NumberForm::Standard)));
        assert_eq!(read_number(b".5"), Some((0.5, NumberForm::Standard)));
        assert_eq!(read_number(b"5."), Some((5.0, NumberForm::Standard)));
        assert_eq!(
            read_number(b"1.1234567"),
            Some((1.1234567, NumberForm::Loose))
        );
        assert_eq!(read_number(b"1e3"), Some((1000.0, NumberForm::Loose)));
        assert_eq!(read_number(b""), None);
        assert_eq!(read_number(b"-"), None);
        assert_eq!(read_number(b"."), None);
        assert_eq!(read_number(b"1.2.3"), None);
        assert_eq!(read_number(b"abc"), None);
        assert_eq!(read_number(b"NaN"), None);
        assert_eq!(read_number(b"inf"), None);
        assert_eq!(read_number(b"1e999"), None);
        assert_eq!(read_number(b"12 "), None);
    }

    proptest! {
        #[test]
        fn fast_path_equals_std(int in 0u64..100_000_000, frac in 0u32..1_000_000, neg: bool) {
            let text = format!("{}{}.{:06}", if neg { "-" } else { "" }, int, frac);
            let (v, _) = read_number(text.as_bytes()).unwrap();
            prop_assert_eq!(v, text.parse::<f64>().unwrap());
        }

        #[test]
        fn any_float_text_agrees(x in proptest::num::f64::NORMAL) {
            let text = format!("{x}");
            if let Some((v, _)) = read_number(text.as_bytes()) {
                prop_assert_eq!(v, text.parse::<f64>().unwrap());
            }
        }

        #[test]
        fn days_roundtrip(d in -800_000i64..800_000) {
            let (y, m, dd) = civil_from_days(d);
            prop_assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
