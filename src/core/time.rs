//! Times as users type and read them: IANA zone names, durations (`2h`, `1d12h`), points in
//! time for `pk;switch move` and `pk;system frontpercent`, and PluralKit-style text for
//! durations (`2d 3h`) and instants (`2026-05-01 14:30:00 CEST`).
//!
//! Pure: every instant is i64 milliseconds since the Unix epoch, and "now" is always a
//! parameter (the clock belongs to the edge).

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone};
pub use chrono_tz::Tz;
use chrono_tz::{GapInfo, TZ_VARIANTS};

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// Longest duration accepted: 100 years of 365.25 days.
const MAX_DURATION_MS: i64 = 36_525 * DAY;

/// Instants handled as calendar times: 0001-01-02 to 9999-12-30 UTC, which leaves room for any
/// zone offset on either side. Outside this, times are clamped (formatting) or refused (parsing).
const MIN_CALENDAR_MS: i64 = -62_135_510_400_000;
const MAX_CALENDAR_MS: i64 = 253_402_128_000_000;

/// An IANA zone name, case-insensitive (`europe/berlin` is fine, and so are spaces for
/// underscores: `America/New York`); `UTC`, `GMT` and `Z` are accepted.
/// Err: a user-facing message (no markup) with an example.
pub fn parse_zone(s: &str) -> Result<Tz, String> {
    let wanted = s.split_whitespace().collect::<Vec<_>>().join("_");
    if wanted.eq_ignore_ascii_case("z") {
        return Ok(Tz::UTC);
    }
    if let Some(tz) = TZ_VARIANTS.iter().copied().find(|tz| tz.name().eq_ignore_ascii_case(&wanted)) {
        return Ok(tz);
    }
    if wanted.is_empty() {
        return Err("Give a time zone name, such as Europe/Berlin, America/New_York or UTC.".to_owned());
    }
    Err(format!(
        "\"{}\" is not a known IANA time zone. Use a zone name such as Europe/Berlin, America/New_York or UTC.",
        shorten(s.trim())
    ))
}

/// A duration like `2h`, `1d12h`, `30m`, `1w`, `90s`, `1h 30m`, `2 hours`, `1d 12h`: parts of
/// a number and a unit (w/wk/week, d/day, h/hr/hour, m/min/minute, s/sec/second, plurals ok,
/// any case), with optional spaces. Returns milliseconds.
///
/// None if the whole string is not a duration, if it adds up to zero (as PluralKit's
/// `ParsePeriod`), or if it is longer than 100 years.
pub fn parse_duration(s: &str) -> Option<i64> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        // 12 digits is far beyond 100 years in any unit, and far below i64 overflow.
        if digits == 0 || digits > 12 {
            return None;
        }
        let amount: i64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = unit_ms(&rest[..letters].to_ascii_lowercase())?;
        total = total.checked_add(amount.checked_mul(unit)?)?;
        if total > MAX_DURATION_MS {
            return None;
        }
        rest = rest[letters..].trim_start();
    }
    (total > 0).then_some(total)
}

fn unit_ms(unit: &str) -> Option<i64> {
    Some(match unit {
        "w" | "wk" | "wks" | "week" | "weeks" => WEEK,
        "d" | "day" | "days" => DAY,
        "h" | "hr" | "hrs" | "hour" | "hours" => HOUR,
        "m" | "min" | "mins" | "minute" | "minutes" => MINUTE,
        "s" | "sec" | "secs" | "second" | "seconds" => SECOND,
        _ => return None,
    })
}

/// A point in time typed by a user, for `pk;switch move <time>` and
/// `pk;system frontpercent <time>`:
///  - a duration means that long ago (`2h` = now - 2h);
///  - `14:30`, `2:30pm`, `2:30 pm`, `2pm`, `14:30:15`: today in `tz`, or yesterday if that is
///    in the future;
///  - `2026-05-01 14:30`, `2026-05-01T14:30`, `2026/05/01`, `2026-05-01` (midnight),
///    `May 1 14:30`, `14:30 May 1`, `1 May 2026`, `May 1st, 2026`, `May 1` (this year, or the
///    latest earlier year in which it is not in the future) in `tz`;
///  - `yesterday 14:30`, `today 9am`, `yesterday` (midnight);
///  - optionally followed by a zone abbreviation, as [`format_instant`] writes it
///    (`2026-10-25 02:30:00 CET`): `UTC`/`GMT`/`Z` mean UTC, anything else must be an
///    abbreviation `tz` uses at that time, and picks between the two readings of a repeated hour.
///
/// Local times that happen twice (DST overlap) are the earlier instant; local times skipped by
/// a DST gap are moved forward by the length of the gap (02:30 becomes 03:30 CEST), as
/// NodaTime's `InZoneLeniently` in PluralKit. Explicit dates are not checked against `now`.
/// Err: a short user-facing message with examples.
pub fn parse_time(s: &str, now: i64, tz: Tz) -> Result<i64, String> {
    if let Some(ms) = parse_duration(s) {
        return Ok(now.saturating_sub(ms));
    }
    let spec = Spec::parse(s).ok_or_else(|| bad_time(s))?;
    let now_local = naive_local(now, tz).ok_or_else(|| "The current time is out of range.".to_owned())?;
    let today = now_local.date();
    let zone = spec.zone.as_deref();
    let at = |date: NaiveDate| to_instant(date.and_time(spec.time.unwrap_or(NaiveTime::MIN)), tz, zone);
    match spec.date {
        DateSpec::Today => at(today),
        DateSpec::Yesterday => at(today.pred_opt().ok_or_else(|| bad_time(s))?),
        DateSpec::Full(date) => at(date),
        DateSpec::TimeOnly => {
            let instant = at(today)?;
            match today.pred_opt() {
                Some(yesterday) if instant > now => at(yesterday),
                _ => Ok(instant),
            }
        }
        DateSpec::Yearless { month, day } => {
            // This year, or the latest earlier year where the date exists and is not in the
            // future (Feb 29 goes back to the last leap year).
            let mut future = None;
            for year in (today.year() - 8..=today.year()).rev() {
                let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else { continue };
                let instant = at(date)?;
                if instant <= now {
                    return Ok(instant);
                }
                future.get_or_insert(instant);
            }
            future.ok_or_else(|| bad_time(s))
        }
    }
}

fn bad_time(s: &str) -> String {
    format!(
        "Couldn't read \"{}\" as a time. Try something like 2h (2 hours ago), 1d12h, 14:30, 2:30pm, \
         yesterday 9am, May 1 14:30 or 2026-05-01 14:30.",
        shorten(s.trim())
    )
}

fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX { s.to_owned() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

/// PluralKit's `FormatDuration`: the two most significant units, `2d 3h`, `5h 0m`, `4m 10s`,
/// `45s` (days are whole 24-hour days; seconds are truncated). Negative input is treated as 0.
pub fn format_duration(ms: i64) -> String {
    let secs = ms.max(0) / SECOND;
    let (days, hours, minutes, seconds) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `2026-05-01 14:30:00 CEST`: the instant in `tz`, to the second, with the zone's abbreviation
/// (or its numeric offset, `+0530`, where the zone has no abbreviation). Instants beyond years
/// 1 to 9999 are clamped.
pub fn format_instant(ms: i64, tz: Tz) -> String {
    let ms = ms.clamp(MIN_CALENDAR_MS, MAX_CALENDAR_MS);
    match DateTime::from_timestamp_millis(ms) {
        Some(utc) => utc.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
        None => String::new(),
    }
}

/// The wall-clock time in `tz` at `ms`, if within the calendar range.
fn naive_local(ms: i64, tz: Tz) -> Option<NaiveDateTime> {
    if !(MIN_CALENDAR_MS..=MAX_CALENDAR_MS).contains(&ms) {
        return None;
    }
    Some(DateTime::from_timestamp_millis(ms)?.with_timezone(&tz).naive_local())
}

/// A wall-clock time in `tz` as an instant. `zone`: a lower-case abbreviation the user wrote.
fn to_instant(local: NaiveDateTime, tz: Tz, zone: Option<&str>) -> Result<i64, String> {
    if matches!(zone, Some("utc" | "gmt" | "z")) {
        return Ok(local.and_utc().timestamp_millis());
    }
    let candidates: Vec<DateTime<Tz>> = match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => vec![at],
        LocalResult::Ambiguous(a, b) if b < a => vec![b, a],
        LocalResult::Ambiguous(a, b) => vec![a, b],
        LocalResult::None => gap_instant(local, tz).into_iter().collect(),
    };
    let chosen = match zone {
        None => candidates.first(),
        Some(zone) => candidates.iter().find(|at| at.offset().to_string().eq_ignore_ascii_case(zone)),
    };
    match (chosen, zone) {
        (Some(at), _) => Ok(at.timestamp_millis()),
        (None, Some(zone)) => Err(format!(
            "{} is not what {} is called at that time. Leave the zone out to use your time zone setting, or write UTC.",
            zone.to_uppercase(),
            tz.name()
        )),
        (None, None) => Err("That time doesn't exist in your time zone.".to_owned()),
    }
}

/// A wall-clock time skipped by a DST gap, read with the offset from before the gap (so it
/// lands after the gap, shifted forward by the gap's length).
fn gap_instant(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Tz>> {
    let gap = GapInfo::new(&local, &tz)?;
    match gap.begin {
        Some((_, before)) => {
            let utc = local.checked_sub_signed(TimeDelta::seconds(i64::from(before.fix().local_minus_utc())))?;
            Some(tz.from_utc_datetime(&utc))
        }
        None => gap.end,
    }
}

/// What a non-duration time string says, before it is placed relative to "now".
struct Spec {
    date: DateSpec,
    time: Option<NaiveTime>,
    /// A trailing zone abbreviation, lower case.
    zone: Option<String>,
}

enum DateSpec {
    TimeOnly,
    Today,
    Yesterday,
    Full(NaiveDate),
    Yearless { month: u32, day: u32 },
}

impl Spec {
    fn parse(s: &str) -> Option<Spec> {
        let mut tokens = tokenize(s);
        let zone = match tokens.last() {
            Some(last) if tokens.len() >= 2 && is_zone_like(last) => tokens.pop(),
            _ => None,
        };
        let mut time = None;
        if let Some(t) = tokens.first().and_then(|t| parse_clock(t)) {
            time = Some(t);
            tokens.remove(0);
        } else if let Some(t) = tokens.last().and_then(|t| parse_clock(t)) {
            time = Some(t);
            tokens.pop();
        }
        let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let date = match words.as_slice() {
            [] if time.is_some() => DateSpec::TimeOnly,
            [] => return None,
            ["today"] => DateSpec::Today,
            ["yesterday"] => DateSpec::Yesterday,
            [iso] => DateSpec::Full(parse_iso_date(iso)?),
            [a, b] => match (month(a), month(b)) {
                (Some(month), None) => DateSpec::Yearless { month, day: day(b)? },
                (None, Some(month)) => DateSpec::Yearless { month, day: day(a)? },
                _ => return None,
            },
            [a, b, y] => match (month(a), month(b)) {
                (Some(month), None) => DateSpec::Full(NaiveDate::from_ymd_opt(year(y)?, month, day(b)?)?),
                (None, Some(month)) => DateSpec::Full(NaiveDate::from_ymd_opt(year(y)?, month, day(a)?)?),
                // `2026 05 01`, as PluralKit accepts.
                _ => ymd(a, b, y)?,
            },
            _ => return None,
        };
        Some(Spec { date, time, zone })
    }
}

/// Lower case, commas as spaces, `dateTtime` split in two, and a separate `am`/`pm` joined to
/// the time before it.
fn tokenize(s: &str) -> Vec<String> {
    let lower = s.to_lowercase().replace(',', " ");
    let mut tokens: Vec<String> = Vec::new();
    for word in lower.split_whitespace() {
        if matches!(word, "am" | "pm" | "a.m." | "p.m.")
            && let Some(previous) = tokens.last_mut()
        {
            previous.push_str(word);
            continue;
        }
        match word.split_once('t') {
            Some((date, time)) if parse_iso_date(date).is_some() && !time.is_empty() => {
                tokens.push(date.to_owned());
                tokens.push(time.to_owned());
            }
            _ => tokens.push(word.to_owned()),
        }
    }
    tokens
}

/// An abbreviation such as `cest`, `utc` or a numeric one such as `+0530`/`-03`.
fn is_zone_like(token: &str) -> bool {
    let alphabetic = token.len() <= 6
        && token.bytes().all(|b| b.is_ascii_alphabetic())
        && month(token).is_none()
        && !matches!(token, "today" | "yesterday");
    let numeric = matches!(token.as_bytes().first(), Some(b'+' | b'-'))
        && matches!(token.len(), 3 | 5)
        && token.bytes().skip(1).all(|b| b.is_ascii_digit());
    alphabetic || numeric
}

/// `14:30`, `14:30:15`, `2:30pm`, `2pm`, `12am` (midnight).
fn parse_clock(token: &str) -> Option<NaiveTime> {
    let (body, pm) = if let Some(body) = token.strip_suffix("am").or_else(|| token.strip_suffix("a.m.")) {
        (body, Some(false))
    } else if let Some(body) = token.strip_suffix("pm").or_else(|| token.strip_suffix("p.m.")) {
        (body, Some(true))
    } else {
        (token, None)
    };
    let parts: Vec<&str> = body.split(':').collect();
    let all_digits = parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !all_digits || parts.len() > 3 || (parts.len() == 1 && pm.is_none()) {
        return None;
    }
    if parts[0].len() > 2 || parts[1..].iter().any(|p| p.len() != 2) {
        return None;
    }
    let number = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<u32>().ok());
    let (mut hour, minute, second) = (number(0)?, number(1)?, number(2)?);
    if let Some(pm) = pm {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    NaiveTime::from_hms_opt(hour, minute, second)
}

/// `2026-05-01` or `2026/05/01`.
fn parse_iso_date(token: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = token.split(['-', '/']).collect();
    match parts.as_slice() {
        [y, m, d] if m.len() <= 2 && d.len() <= 2 => match ymd(y, m, d)? {
            DateSpec::Full(date) => Some(date),
            _ => None,
        },
        _ => None,
    }
}

fn ymd(y: &str, m: &str, d: &str) -> Option<DateSpec> {
    let number = |s: &str| if s.bytes().all(|b| b.is_ascii_digit()) { s.parse::<u32>().ok() } else { None };
    Some(DateSpec::Full(NaiveDate::from_ymd_opt(year(y)?, number(m)?, number(d)?)?))
}

/// A four-digit year from 1 to 9999.
fn year(token: &str) -> Option<i32> {
    if token.len() != 4 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok().filter(|y| *y >= 1)
}

/// A day of the month, `1` or `1st`/`2nd`/`3rd`/`4th`.
fn day(token: &str) -> Option<u32> {
    let digits = ["st", "nd", "rd", "th"].iter().find_map(|s| token.strip_suffix(s)).unwrap_or(token);
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

/// A month name or its abbreviation (`may`, `sept`, `sep.`), as 1 to 12.
fn month(token: &str) -> Option<u32> {
    let token = token.strip_suffix('.').unwrap_or(token);
    if token.len() < 3 {
        return None;
    }
    let found = super::profile::MONTHS
        .iter()
        .position(|name| *name == token || (token.len() <= 4 && name.starts_with(token)))?;
    u32::try_from(found + 1).ok()
}

#[cfg(test)]
mod tests;
