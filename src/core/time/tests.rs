use super::*;
use proptest::prelude::*;

const BERLIN: Tz = Tz::Europe__Berlin;
const NEW_YORK: Tz = Tz::America__New_York;
const LOS_ANGELES: Tz = Tz::America__Los_Angeles;

/// A UTC wall-clock time as ms.
fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, s).unwrap().and_utc().timestamp_millis()
}

/// 2026-05-10 12:00:00 UTC (14:00 CEST, 08:00 EDT).
fn now() -> i64 {
    utc(2026, 5, 10, 12, 0, 0)
}

fn parse(s: &str, tz: Tz) -> i64 {
    parse_time(s, now(), tz).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn zones() {
    assert_eq!(parse_zone("Europe/Berlin"), Ok(BERLIN));
    assert_eq!(parse_zone("  europe/berlin "), Ok(BERLIN));
    assert_eq!(parse_zone("AMERICA/NEW_YORK"), Ok(NEW_YORK));
    assert_eq!(parse_zone("America/New York"), Ok(NEW_YORK));
    assert_eq!(parse_zone("UTC"), Ok(Tz::UTC));
    assert_eq!(parse_zone("gmt"), Ok(Tz::GMT));
    assert_eq!(parse_zone("Z"), Ok(Tz::UTC));
    for bad in ["Mars/Olympus_Mons", "", "CEST", "Berlin"] {
        let err = parse_zone(bad).unwrap_err();
        assert!(err.contains("Europe/Berlin"), "{err}");
        assert!(!err.contains('`') && !err.contains('*'), "no markup: {err}");
    }
    assert!(parse_zone("Mars").unwrap_err().contains("not a known IANA time zone"));
}

#[test]
fn durations() {
    let cases = [
        ("2h", 2 * HOUR),
        ("1d12h", DAY + 12 * HOUR),
        ("30m", 30 * MINUTE),
        ("1w", WEEK),
        ("90s", 90 * SECOND),
        ("1h 30m", HOUR + 30 * MINUTE),
        ("2 hours", 2 * HOUR),
        ("1d 12h", DAY + 12 * HOUR),
        ("1 Week 2 DAYS", 9 * DAY),
        (" 1 hr 5 mins 3 secs ", HOUR + 5 * MINUTE + 3 * SECOND),
        ("1 minute 1 second", MINUTE + SECOND),
        ("0h 5m", 5 * MINUTE),
        ("36525d", MAX_DURATION_MS),
    ];
    for (text, ms) in cases {
        assert_eq!(parse_duration(text), Some(ms), "{text}");
    }
    let bad = [
        "",
        " ",
        "h",
        "2",
        "2x",
        "1h30",
        "14:30",
        "May 1",
        "0m",
        "0d 0h",
        "36526d",
        "5300w",
        "-2h",
        "1.5h",
        "2 hours ago",
        "99999999999999999999h",
        "999999999999h",
        "2h,30m",
    ];
    for text in bad {
        assert_eq!(parse_duration(text), None, "{text}");
    }
}

#[test]
fn durations_are_formatted_like_pluralkit() {
    assert_eq!(format_duration(0), "0s");
    assert_eq!(format_duration(-5 * HOUR), "0s");
    assert_eq!(format_duration(59_999), "59s");
    assert_eq!(format_duration(4 * MINUTE + 10 * SECOND), "4m 10s");
    assert_eq!(format_duration(5 * HOUR), "5h 0m");
    assert_eq!(format_duration(5 * HOUR + 59 * MINUTE + 59 * SECOND), "5h 59m");
    assert_eq!(format_duration(2 * DAY + 3 * HOUR + 4 * MINUTE), "2d 3h");
    assert_eq!(format_duration(400 * DAY), "400d 0h");
    assert!(format_duration(i64::MAX).ends_with('h'));
}

#[test]
fn instants_are_formatted_with_the_abbreviation() {
    let summer = utc(2026, 5, 1, 12, 30, 0);
    let winter = utc(2026, 1, 15, 12, 30, 5);
    assert_eq!(format_instant(summer, BERLIN), "2026-05-01 14:30:00 CEST");
    assert_eq!(format_instant(winter, BERLIN), "2026-01-15 13:30:05 CET");
    assert_eq!(format_instant(summer, NEW_YORK), "2026-05-01 08:30:00 EDT");
    assert_eq!(format_instant(winter, NEW_YORK), "2026-01-15 07:30:05 EST");
    assert_eq!(format_instant(summer, Tz::UTC), "2026-05-01 12:30:00 UTC");
    assert_eq!(format_instant(summer, Tz::Asia__Kolkata), "2026-05-01 18:00:00 IST");
    assert_eq!(format_instant(summer, Tz::Asia__Dubai), "2026-05-01 16:30:00 +04");
    assert_eq!(format_instant(summer + 999, Tz::UTC), "2026-05-01 12:30:00 UTC");
    assert!(format_instant(i64::MIN, BERLIN).starts_with("0001-"));
    assert!(format_instant(i64::MAX, Tz::Pacific__Kiritimati).starts_with("9999-"));
}

#[test]
fn a_duration_is_that_long_ago() {
    assert_eq!(parse("2h", BERLIN), now() - 2 * HOUR);
    assert_eq!(parse("1d 12h", NEW_YORK), now() - DAY - 12 * HOUR);
    assert_eq!(parse_time("2h", i64::MIN, Tz::UTC), Ok(i64::MIN));
}

#[test]
fn a_time_alone_is_today_or_yesterday_if_that_is_in_the_future() {
    // now is 12:00 UTC.
    assert_eq!(parse("09:15", Tz::UTC), utc(2026, 5, 10, 9, 15, 0));
    assert_eq!(parse("9:15", Tz::UTC), utc(2026, 5, 10, 9, 15, 0));
    assert_eq!(parse("14:30", Tz::UTC), utc(2026, 5, 9, 14, 30, 0));
    assert_eq!(parse("14:30:15", Tz::UTC), utc(2026, 5, 9, 14, 30, 15));
    assert_eq!(parse("2:30pm", Tz::UTC), utc(2026, 5, 9, 14, 30, 0));
    assert_eq!(parse("2:30 PM", Tz::UTC), utc(2026, 5, 9, 14, 30, 0));
    assert_eq!(parse("2:30 p.m.", Tz::UTC), utc(2026, 5, 9, 14, 30, 0));
    assert_eq!(parse("9am", Tz::UTC), utc(2026, 5, 10, 9, 0, 0));
    assert_eq!(parse("9 am", Tz::UTC), utc(2026, 5, 10, 9, 0, 0));
    assert_eq!(parse("12am", Tz::UTC), utc(2026, 5, 10, 0, 0, 0));
    // Exactly now is not in the future.
    assert_eq!(parse("12pm", Tz::UTC), now());
    assert_eq!(parse("12:00", Tz::UTC), now());
    // Berlin: now is 14:00 CEST.
    assert_eq!(parse("13:00", BERLIN), utc(2026, 5, 10, 11, 0, 0));
    assert_eq!(parse("15:00", BERLIN), utc(2026, 5, 9, 13, 0, 0));
    // Los Angeles: now is 05:00 PDT on May 10.
    assert_eq!(parse("4:00", LOS_ANGELES), utc(2026, 5, 10, 11, 0, 0));
    assert_eq!(parse("21:00", LOS_ANGELES), utc(2026, 5, 10, 4, 0, 0));
}

#[test]
fn the_local_date_is_the_one_in_the_zone() {
    // 03:00 UTC on May 10 is 20:00 PDT on May 9.
    let now = utc(2026, 5, 10, 3, 0, 0);
    assert_eq!(parse_time("19:00", now, LOS_ANGELES), Ok(utc(2026, 5, 10, 2, 0, 0)));
    assert_eq!(parse_time("21:00", now, LOS_ANGELES), Ok(utc(2026, 5, 9, 4, 0, 0)));
    assert_eq!(parse_time("today", now, LOS_ANGELES), Ok(utc(2026, 5, 9, 7, 0, 0)));
}

#[test]
fn dates_and_times() {
    let at_1430 = utc(2026, 5, 1, 12, 30, 0);
    for text in [
        "2026-05-01 14:30",
        "2026-05-01T14:30",
        "2026-05-01t14:30:00",
        "2026/05/01 14:30",
        "2026-5-1 2:30pm",
        "May 1 14:30",
        "may 1, 14:30",
        "14:30 May 1",
        "2:30 pm, May 1st",
        "1 May 2026 14:30",
        "May 1st, 2026 2:30pm",
        "May 1 2026, 14:30",
        "14:30 1 may 2026",
        "2026 05 01 14:30",
    ] {
        assert_eq!(parse(text, BERLIN), at_1430, "{text}");
    }
    let midnight = utc(2026, 4, 30, 22, 0, 0);
    for text in ["2026-05-01", "1 May 2026", "May 1", "May 1st", "1 may", "MAY 1, 2026", "2026/05/01"] {
        assert_eq!(parse(text, BERLIN), midnight, "{text}");
    }
    assert_eq!(parse("sept 1 2025", Tz::UTC), utc(2025, 9, 1, 0, 0, 0));
    assert_eq!(parse("1 September 2025 8am", Tz::UTC), utc(2025, 9, 1, 8, 0, 0));
    // An explicit date is taken as written, even in the future.
    assert_eq!(parse("2027-01-01", Tz::UTC), utc(2027, 1, 1, 0, 0, 0));
}

#[test]
fn a_date_without_a_year_is_the_latest_one_not_in_the_future() {
    assert_eq!(parse("May 1", Tz::UTC), utc(2026, 5, 1, 0, 0, 0));
    assert_eq!(parse("Dec 25", Tz::UTC), utc(2025, 12, 25, 0, 0, 0));
    assert_eq!(parse("May 10 11:00", Tz::UTC), utc(2026, 5, 10, 11, 0, 0));
    assert_eq!(parse("May 10 13:00", Tz::UTC), utc(2025, 5, 10, 13, 0, 0));
    assert_eq!(parse("Feb 29", Tz::UTC), utc(2024, 2, 29, 0, 0, 0));
    // New year's eve seen from just after midnight on Jan 1 in Berlin.
    let new_year = utc(2025, 12, 31, 23, 30, 0);
    assert_eq!(parse_time("Dec 31 23:00", new_year, BERLIN), Ok(utc(2025, 12, 31, 22, 0, 0)));
    assert_eq!(parse_time("Jan 1 1am", new_year, BERLIN), Ok(utc(2025, 1, 1, 0, 0, 0)));
}

#[test]
fn yesterday_and_today() {
    assert_eq!(parse("yesterday 14:30", BERLIN), utc(2026, 5, 9, 12, 30, 0));
    assert_eq!(parse("14:30 yesterday", BERLIN), utc(2026, 5, 9, 12, 30, 0));
    assert_eq!(parse("today 9am", BERLIN), utc(2026, 5, 10, 7, 0, 0));
    assert_eq!(parse("Yesterday", BERLIN), utc(2026, 5, 8, 22, 0, 0));
    // "today" is taken as written even when later than now.
    assert_eq!(parse("today 11pm", BERLIN), utc(2026, 5, 10, 21, 0, 0));
}

#[test]
fn dst_in_berlin() {
    // Spring forward on 2026-03-29 at 02:00 CET: 02:30 doesn't exist and becomes 03:30 CEST.
    assert_eq!(parse("2026-03-29 02:30", BERLIN), utc(2026, 3, 29, 1, 30, 0));
    assert_eq!(parse("2026-03-29 03:30", BERLIN), utc(2026, 3, 29, 1, 30, 0));
    assert_eq!(parse("2026-03-29 01:59", BERLIN), utc(2026, 3, 29, 0, 59, 0));
    // Fall back on 2026-10-25 at 03:00 CEST: 02:30 happens twice; the earlier one wins.
    assert_eq!(parse_time("2026-10-25 02:30", utc(2026, 11, 1, 0, 0, 0), BERLIN), Ok(utc(2026, 10, 25, 0, 30, 0)));
    let later = utc(2026, 11, 1, 0, 0, 0);
    assert_eq!(parse_time("2026-10-25 02:30 CEST", later, BERLIN), Ok(utc(2026, 10, 25, 0, 30, 0)));
    assert_eq!(parse_time("2026-10-25 02:30 CET", later, BERLIN), Ok(utc(2026, 10, 25, 1, 30, 0)));
    // A time alone on the day after spring forward, "yesterday" lands in the gap.
    let day_after = utc(2026, 3, 30, 0, 0, 0); // 02:00 CEST on March 30
    assert_eq!(parse_time("2:30", day_after, BERLIN), Ok(utc(2026, 3, 29, 1, 30, 0)));
}

#[test]
fn dst_west_of_utc() {
    // New York springs forward on 2026-03-08 at 02:00 EST.
    assert_eq!(parse("2026-03-08 02:30", NEW_YORK), utc(2026, 3, 8, 7, 30, 0));
    assert_eq!(parse("2026-03-08 01:30", NEW_YORK), utc(2026, 3, 8, 6, 30, 0));
    assert_eq!(parse("2026-03-08 03:30", NEW_YORK), utc(2026, 3, 8, 7, 30, 0));
    // ...and falls back on 2026-11-01 at 02:00 EDT.
    let later = utc(2026, 12, 1, 0, 0, 0);
    assert_eq!(parse_time("2026-11-01 01:30", later, NEW_YORK), Ok(utc(2026, 11, 1, 5, 30, 0)));
    assert_eq!(parse_time("2026-11-01 01:30 EST", later, NEW_YORK), Ok(utc(2026, 11, 1, 6, 30, 0)));
    assert_eq!(parse_time("Nov 1 1:30am edt", later, NEW_YORK), Ok(utc(2026, 11, 1, 5, 30, 0)));
}

#[test]
fn zone_abbreviations() {
    assert_eq!(parse("2026-05-01 14:30 UTC", BERLIN), utc(2026, 5, 1, 14, 30, 0));
    assert_eq!(parse("2026-05-01 14:30 z", NEW_YORK), utc(2026, 5, 1, 14, 30, 0));
    assert_eq!(parse("2026-05-01 14:30:00 CEST", BERLIN), utc(2026, 5, 1, 12, 30, 0));
    assert_eq!(parse("2026-05-01 18:00:00 IST", Tz::Asia__Kolkata), utc(2026, 5, 1, 12, 30, 0));
    assert_eq!(parse("2026-05-01 18:15:00 +0545", Tz::Asia__Kathmandu), utc(2026, 5, 1, 12, 30, 0));
    assert_eq!(parse("2026-05-01 16:30:00 +04", Tz::Asia__Dubai), utc(2026, 5, 1, 12, 30, 0));
    let err = parse_time("2026-05-01 14:30 EST", now(), BERLIN).unwrap_err();
    assert!(err.contains("EST") && err.contains("Europe/Berlin"), "{err}");
    assert!(parse_time("2026-05-01 14:30 CET", now(), BERLIN).is_err());
}

#[test]
fn nonsense_is_refused_with_examples() {
    for text in [
        "",
        "nonsense",
        "25:00",
        "14:5",
        "14",
        "13pm",
        "0am",
        "May 32",
        "Feb 30",
        "2026-13-01",
        "2026-02-30",
        "May",
        "tomorrow",
        "yesterday today",
        "14:30 15:30",
        "May 1 2026 2027",
        "1 2 3",
        "0000-01-01",
        "2h ago",
    ] {
        let err = parse_time(text, now(), BERLIN).unwrap_err();
        assert!(err.contains("2h") && err.contains("14:30"), "{text}: {err}");
    }
    let long = "x".repeat(500);
    assert!(parse_time(&long, now(), BERLIN).unwrap_err().len() < 250);
}

const ZONES: [Tz; 7] = [
    Tz::UTC,
    Tz::Europe__Berlin,
    Tz::America__New_York,
    Tz::America__Sao_Paulo,
    Tz::Asia__Kolkata,
    Tz::Australia__Lord_Howe,
    Tz::Pacific__Auckland,
];

fn duration_text(days: i64, hours: i64, minutes: i64, long: bool, spaced: bool) -> String {
    let units = if long { [" days", " hours", " minutes"] } else { ["d", "h", "m"] };
    let parts: Vec<String> = [days, hours, minutes].iter().zip(units).map(|(n, unit)| format!("{n}{unit}")).collect();
    parts.join(if spaced { " " } else { "" })
}

/// Any instant, with extra weight at the ends of the calendar range.
fn any_now() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        MIN_CALENDAR_MS..MIN_CALENDAR_MS + 10 * 366 * DAY,
        MAX_CALENDAR_MS - 10 * 366 * DAY..=MAX_CALENDAR_MS,
        utc(2000, 1, 1, 0, 0, 0)..utc(2040, 1, 1, 0, 0, 0),
    ]
}

#[test]
fn the_ends_of_the_calendar() {
    for tz in [Tz::Pacific__Kiritimati, Tz::Pacific__Pago_Pago, BERLIN] {
        for now in [MIN_CALENDAR_MS, MAX_CALENDAR_MS] {
            for text in
                ["Dec 31 23:59", "Jan 1", "Feb 29", "0:00", "23:59", "yesterday", "9999-12-31 23:59", "0001-01-01"]
            {
                let _ = parse_time(text, now, tz);
            }
        }
    }
    assert!(parse_time("14:30", i64::MAX, BERLIN).is_err());
}

proptest! {
    #[test]
    fn formatted_durations_parse_to_their_sum(
        days in 0i64..1000, hours in 0i64..100, minutes in 0i64..1000, long: bool, spaced: bool,
    ) {
        let sum = days * DAY + hours * HOUR + minutes * MINUTE;
        let parsed = parse_duration(&duration_text(days, hours, minutes, long, spaced));
        prop_assert_eq!(parsed, (sum > 0).then_some(sum));
    }

    #[test]
    fn a_duration_is_never_after_now(
        now in any::<i64>(), days in 0i64..20_000, hours in 1i64..100, minutes in 0i64..1000, long: bool,
        zone in 0..ZONES.len(),
    ) {
        let text = duration_text(days, hours, minutes, long, true);
        let at = parse_time(&text, now, ZONES[zone]);
        prop_assert!(matches!(at, Ok(at) if at <= now), "{} at {}: {:?}", text, now, at);
    }

    #[test]
    fn formatted_instants_parse_back(
        now in utc(2000, 1, 1, 0, 0, 0)..utc(2040, 1, 1, 0, 0, 0),
        ago in 0i64..366 * DAY,
        zone in 0..ZONES.len(),
    ) {
        let tz = ZONES[zone];
        let at = (now - ago).div_euclid(SECOND) * SECOND;
        let text = format_instant(at, tz);
        prop_assert_eq!(parse_time(&text, now, tz), Ok(at), "{}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,40}", now in any_now(), zone in 0..ZONES.len()) {
        let _ = parse_duration(&text);
        let _ = parse_time(&text, now, ZONES[zone]);
        let _ = parse_zone(&text);
    }

    #[test]
    fn time_like_text_never_panics(
        text in "[0-9]{1,4}[-/: ]?[0-9]{0,2}[-/: ]?[0-9]{0,4}( ?(am|pm|jan|feb|utc|cest|yesterday|[0-9:]{1,5}))*",
        now in any_now(),
        zone in 0..ZONES.len(),
    ) {
        let _ = parse_time(&text, now, ZONES[zone]);
    }

    #[test]
    fn formatting_never_panics(ms in any::<i64>(), zone in 0..ZONES.len()) {
        let _ = format_instant(ms, ZONES[zone]);
        let _ = format_duration(ms);
    }
}
