use super::*;
use proptest::prelude::*;

const H: i64 = 3_600_000;

fn sw(at: i64, members: &[&'static str]) -> Switch<&'static str> {
    Switch { at, members: members.to_vec() }
}

fn ms_of(b: &Breakdown<&'static str>, member: &str) -> Option<i64> {
    b.per_member.iter().find(|(m, _)| *m == member).map(|(_, ms)| *ms)
}

fn percent_sum<K>(shares: &[Share<K>]) -> f64 {
    shares.iter().map(|s| s.percent).sum()
}

#[test]
fn new_switches() {
    let latest = sw(0, &["a", "b"]);
    assert_eq!(check_new(&["a"], None), Ok(()));
    assert_eq!(check_new::<&str>(&[], None), Ok(()));
    assert_eq!(check_new(&["b", "a"], Some(&latest)), Ok(()));
    assert_eq!(check_new(&["a"], Some(&latest)), Ok(()));
    assert_eq!(check_new(&[], Some(&latest)), Ok(()));
    assert_eq!(check_new(&["a", "b"], Some(&latest)), Err(SwitchError::SameAsCurrent));
    assert_eq!(check_new(&[], Some(&sw(0, &[]))), Err(SwitchError::AlreadyOut));
    assert_eq!(check_new(&["a", "c", "a"], None), Err(SwitchError::Duplicate));
    let many: Vec<usize> = (0..=MAX_SWITCH_MEMBERS).collect();
    assert_eq!(check_new(&many, None), Err(SwitchError::TooMany));
    assert_eq!(check_new(&many[..MAX_SWITCH_MEMBERS], None), Ok(()));
    assert!(SwitchError::TooMany.to_string().contains("150"));
    assert!(SwitchError::SameAsCurrent.to_string().contains("already fronting"));
    assert!(SwitchError::AlreadyOut.to_string().contains("no one in front"));
}

#[test]
fn edits_compare_with_the_latest_switch_itself() {
    let latest = sw(0, &["a", "b"]);
    assert_eq!(check_edit(&["a", "b"], &latest), Err(SwitchError::SameAsCurrent));
    assert_eq!(check_edit(&["b", "a"], &latest), Ok(()));
    assert_eq!(check_edit(&[], &latest), Ok(()));
    assert_eq!(check_edit(&[], &sw(0, &[])), Err(SwitchError::AlreadyOut));
    assert_eq!(check_edit(&["c", "c"], &latest), Err(SwitchError::Duplicate));
    let many: Vec<usize> = (0..=MAX_SWITCH_MEMBERS).collect();
    assert_eq!(check_edit(&many, &Switch { at: 0, members: vec![] }), Err(SwitchError::TooMany));
}

#[test]
fn moves() {
    assert_eq!(check_move(50, 100, Some(10)), Ok(()));
    assert_eq!(check_move(100, 100, None), Ok(()));
    assert_eq!(check_move(101, 100, None), Err(SwitchError::InFuture));
    assert_eq!(check_move(10, 100, Some(10)), Err(SwitchError::BeforePrevious));
    assert_eq!(check_move(5, 100, Some(10)), Err(SwitchError::BeforePrevious));
    assert_eq!(check_move(11, 100, Some(10)), Ok(()));
}

#[test]
fn history_is_newest_first_and_contiguous() {
    assert_eq!(history::<&str>(&[]), vec![]);
    let spans = history(&[sw(1, &["a"]), sw(5, &[]), sw(9, &["b", "a"])]);
    assert_eq!(
        spans,
        vec![
            Span { members: vec!["b", "a"], start: 9, end: None },
            Span { members: vec![], start: 5, end: Some(9) },
            Span { members: vec!["a"], start: 1, end: Some(5) },
        ]
    );
    // Out-of-order input is sorted first.
    assert_eq!(history(&[sw(9, &["b"]), sw(1, &["a"])])[0].start, 9);
}

#[test]
fn solo_fronting() {
    let b = breakdown(&[sw(0, &["a"]), sw(6 * H, &["b"])], 0, 10 * H, None);
    assert_eq!(
        b,
        Breakdown { per_member: vec![("b", 4 * H), ("a", 6 * H)], no_fronter: 0, range_start: 0, range_end: 10 * H }
    );
    let s = shares(&b, false, false);
    assert_eq!(s.iter().map(|s| (s.member, s.ms)).collect::<Vec<_>>(), vec![(Some("a"), 6 * H), (Some("b"), 4 * H)]);
    assert!((s[0].percent - 60.0).abs() < 1e-9 && (s[1].percent - 40.0).abs() < 1e-9);
}

#[test]
fn co_fronting_counts_for_each_member() {
    let b = breakdown(&[sw(0, &["a", "b"])], 0, 10 * H, None);
    assert_eq!(b.per_member, vec![("a", 10 * H), ("b", 10 * H)]);
    let default = shares(&b, false, false);
    assert!((percent_sum(&default) - 200.0).abs() < 1e-9);
    assert_eq!(default[0].member, Some("a"), "ties keep the switch order");
    let flat = shares(&b, true, false);
    assert!((percent_sum(&flat) - 100.0).abs() < 1e-9);
    assert!((flat[0].percent - 50.0).abs() < 1e-9);
}

#[test]
fn switch_out_time() {
    let b = breakdown(&[sw(0, &["a"]), sw(6 * H, &[]), sw(8 * H, &["a"])], 0, 10 * H, None);
    assert_eq!(b.per_member, vec![("a", 8 * H)]);
    assert_eq!(b.no_fronter, 2 * H);
    let all = shares(&b, false, false);
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].member, all[0].percent), (Some("a"), 80.0));
    assert_eq!((all[1].member, all[1].ms, all[1].percent), (None, 2 * H, 20.0));
    // Fronters only: the switch-out time leaves the period and the list.
    let fronters = shares(&b, false, true);
    assert_eq!(fronters.len(), 1);
    assert_eq!((fronters[0].member, fronters[0].percent), (Some("a"), 100.0));
    assert_eq!(shares(&b, true, true)[0].percent, 100.0);
    assert!((percent_sum(&shares(&b, true, false)) - 100.0).abs() < 1e-9);
}

#[test]
fn the_switch_before_the_period_is_clamped() {
    let switches = [sw(-50 * H, &["old"]), sw(-20 * H, &["a"]), sw(4 * H, &["b"]), sw(12 * H, &["late"])];
    let b = breakdown(&switches, 0, 10 * H, None);
    assert_eq!(b.per_member, vec![("b", 6 * H), ("a", 4 * H)]);
    assert_eq!((b.range_start, b.range_end), (0, 10 * H));
    // A switch exactly at the start: the one before it adds nothing.
    let b = breakdown(&[sw(-5, &["a"]), sw(0, &["b"])], 0, 10, None);
    assert_eq!(b.per_member, vec![("b", 10)]);
    assert_eq!(b.range_start, 0);
}

#[test]
fn the_range_starts_at_the_first_switch_if_later() {
    let b = breakdown(&[sw(3 * H, &["a"])], 0, 10 * H, None);
    assert_eq!((b.range_start, b.range_end), (3 * H, 10 * H));
    assert_eq!(shares(&b, false, false)[0].percent, 100.0);
}

#[test]
fn group_filter() {
    let only: HashSet<&str> = ["a", "c"].into_iter().collect();
    let switches = [sw(0, &["a", "b"]), sw(2 * H, &["b"]), sw(5 * H, &["c", "b", "a"]), sw(6 * H, &[])];
    let b = breakdown(&switches, 0, 10 * H, Some(&only));
    assert_eq!(ms_of(&b, "a"), Some(3 * H));
    assert_eq!(ms_of(&b, "c"), Some(H));
    assert_eq!(ms_of(&b, "b"), None);
    // b alone (3h) counts as no fronter for the group, as does the switch-out (4h).
    assert_eq!(b.no_fronter, 7 * H);
}

#[test]
fn empty_history() {
    let b = breakdown::<&str>(&[], 0, 10 * H, None);
    assert_eq!(b, Breakdown { per_member: vec![], no_fronter: 0, range_start: 10 * H, range_end: 10 * H });
    assert!(shares(&b, false, false).is_empty());
    assert!(shares(&b, true, true).is_empty());
    // Only switches after the end: the same.
    assert_eq!(breakdown(&[sw(10 * H, &["a"])], 0, 10 * H, None).per_member, vec![]);
}

#[test]
fn a_zero_period_gives_zero_percent() {
    let b = Breakdown { per_member: vec![("a", 5)], no_fronter: 0, range_start: 7, range_end: 7 };
    assert_eq!(shares(&b, false, false)[0].percent, 0.0);
    let b = Breakdown { per_member: vec![("a", 0)], no_fronter: 0, range_start: 0, range_end: 7 };
    assert_eq!(shares(&b, true, false)[0].percent, 0.0);
}

#[test]
fn ties_keep_the_breakdown_order_with_no_fronter_last() {
    let b = breakdown(&[sw(0, &[]), sw(5, &["x"]), sw(10, &["y"])], 0, 15, None);
    let order: Vec<_> = shares(&b, false, false).into_iter().map(|s| s.member).collect();
    assert_eq!(order, vec![Some("y"), Some("x"), None]);
}

fn switches_strategy() -> impl Strategy<Value = Vec<Switch<u8>>> {
    prop::collection::vec((-1_000i64..1_000, prop::collection::hash_set(0u8..6, 0..4)), 0..12).prop_map(|raw| {
        let mut switches: Vec<Switch<u8>> =
            raw.into_iter().map(|(at, members)| Switch { at, members: members.into_iter().collect() }).collect();
        switches.sort_by_key(|s| s.at);
        switches
    })
}

proptest! {
    #[test]
    fn flat_shares_sum_to_100(
        switches in switches_strategy(), start in -1_200i64..800, len in 0i64..1_500, fronters_only: bool,
        group in prop::option::of(prop::collection::hash_set(0u8..6, 0..4)),
    ) {
        let b = breakdown(&switches, start, start + len, group.as_ref());
        let lines = shares(&b, true, fronters_only);
        let total: i64 = lines.iter().map(|l| l.ms).sum();
        if total > 0 {
            prop_assert!((percent_sum(&lines) - 100.0).abs() < 0.01, "{:?}", lines);
        } else {
            prop_assert!(lines.iter().all(|l| l.percent == 0.0));
        }
    }

    #[test]
    fn member_time_fits_in_the_range(
        switches in switches_strategy(), start in -1_200i64..800, len in 0i64..1_500,
        group in prop::option::of(prop::collection::hash_set(0u8..6, 0..4)),
    ) {
        let end = start + len;
        let b = breakdown(&switches, start, end, group.as_ref());
        prop_assert!(start <= b.range_start && b.range_start <= b.range_end && b.range_end == end);
        let range = b.range_end - b.range_start;
        for (_, ms) in &b.per_member {
            prop_assert!(*ms > 0 && *ms <= range);
        }
        prop_assert!(b.no_fronter <= range);
        let covered: i64 = b.per_member.iter().map(|(_, ms)| ms).sum::<i64>() + b.no_fronter;
        if switches.iter().any(|s| s.at <= start) {
            prop_assert_eq!(b.range_start, start);
            prop_assert!(covered >= len);
        }
        let default: f64 = shares(&b, false, false).iter().filter(|s| s.member.is_none()).map(|s| s.percent).sum();
        prop_assert!(default <= 100.0 + 1e-9);
    }

    #[test]
    fn history_spans_are_contiguous(switches in switches_strategy()) {
        let spans = history(&switches);
        prop_assert_eq!(spans.len(), switches.len());
        if let Some(first) = spans.first() {
            prop_assert_eq!(first.end, None);
        }
        for pair in spans.windows(2) {
            prop_assert_eq!(pair[1].end, Some(pair[0].start));
            prop_assert!(pair[1].start <= pair[0].start);
        }
    }

    #[test]
    fn shares_are_sorted_largest_first(
        switches in switches_strategy(), start in -1_200i64..800, len in 0i64..1_500, flat: bool, fronters_only: bool,
    ) {
        let b = breakdown(&switches, start, start + len, None);
        let lines = shares(&b, flat, fronters_only);
        prop_assert!(lines.windows(2).all(|w| w[0].ms >= w[1].ms));
        prop_assert_eq!(lines.iter().any(|l| l.member.is_none()), !fronters_only && b.no_fronter > 0);
    }
}
