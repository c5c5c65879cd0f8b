//! RFC 3339 dates for the command line and the listings (UTC seconds inside).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::KeystoreError;

/// Seconds since the Unix epoch.
pub(crate) fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Format seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(secs: i64) -> String {
    u64::try_from(secs)
        .ok()
        .and_then(|s| der::DateTime::from_unix_duration(Duration::from_secs(s)).ok())
        .map(|d| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minutes(),
                d.seconds()
            )
        })
        .unwrap_or_else(|| format!("@{secs}"))
}

fn num(s: &str, what: &str) -> Result<u32, KeystoreError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(what));
    }
    s.parse().map_err(|_| bad(what))
}

fn bad(what: &str) -> KeystoreError {
    KeystoreError::Invalid(format!(
        "not an RFC 3339 date ({what}): expected e.g. 2026-12-31T18:00:00Z or 2026-12-31T19:00:00+01:00"
    ))
}

/// Parse an RFC 3339 date-time (`2026-12-31T18:00:00Z`, `…+01:00`, fractional
/// seconds ignored) or a full date `2026-12-31` (midnight UTC) into seconds since the
/// epoch.
pub fn parse_rfc3339(s: &str) -> Result<i64, KeystoreError> {
    let s = s.trim();
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, "00:00:00Z"),
    };
    let d: Vec<&str> = date.split('-').collect();
    let [y, mo, da] = d.as_slice() else {
        return Err(bad("date"));
    };
    let (time, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return Err(bad("time zone missing")),
    };
    let time = time.split('.').next().unwrap_or(time);
    let t: Vec<&str> = time.split(':').collect();
    let [h, mi, se] = t.as_slice() else {
        return Err(bad("time"));
    };
    let year = u16::try_from(num(y, "year")?).map_err(|_| bad("year"))?;
    let month = u8::try_from(num(mo, "month")?).map_err(|_| bad("month"))?;
    let day = u8::try_from(num(da, "day")?).map_err(|_| bad("day"))?;
    let hour = u8::try_from(num(h, "hour")?).map_err(|_| bad("hour"))?;
    let minute = u8::try_from(num(mi, "minute")?).map_err(|_| bad("minute"))?;
    let second = u8::try_from(num(se, "second")?).map_err(|_| bad("second"))?;
    let dt = der::DateTime::new(year, month, day, hour, minute, second.min(59))
        .map_err(|_| bad("out of range"))?;
    let base = i64::try_from(dt.unix_duration().as_secs()).map_err(|_| bad("out of range"))?;
    let off = if offset.eq_ignore_ascii_case("z") {
        0
    } else {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let o: Vec<&str> = offset[1..].split(':').collect();
        let [oh, om] = o.as_slice() else {
            return Err(bad("offset"));
        };
        let (oh, om) = (num(oh, "offset")?, num(om, "offset")?);
        if oh > 23 || om > 59 {
            return Err(bad("offset"));
        }
        sign * i64::from(oh * 3600 + om * 60)
    };
    Ok(base - off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2026-12-31T19:00:00+01:00").unwrap(),
            parse_rfc3339("2026-12-31T18:00:00Z").unwrap()
        );
        assert_eq!(
            parse_rfc3339("2026-12-31").unwrap(),
            parse_rfc3339("2026-12-31T00:00:00.5Z").unwrap()
        );
        let t = parse_rfc3339("2027-03-04T05:06:07Z").unwrap();
        assert_eq!(format_rfc3339(t), "2027-03-04T05:06:07Z");
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-12-31T18:00:00",
            "tomorrow",
            "2026-12-31T18:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
