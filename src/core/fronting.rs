//! Switches and what they add up to: the rules for registering, editing and moving a switch
//! (`pk;switch`, `pk;switch edit`, `pk;switch move`), the spans shown by `pk;system
//! fronthistory`, and the per-member time and percentages of `pk;system frontpercent`.
//!
//! Pure and generic over the member key `K`. Instants are i64 milliseconds since the Unix
//! epoch; "now" is always a parameter.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// PluralKit's limit of members in one switch.
pub const MAX_SWITCH_MEMBERS: usize = 150;

/// A registered switch: when, and who fronts from then on, first fronter first (empty =
/// switch-out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch<K> {
    pub at: i64,
    pub members: Vec<K>,
}

/// Why a switch can't be registered, edited or moved. The messages are whole sentences, as
/// PluralKit words them where it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    #[error("A switch can have at most {MAX_SWITCH_MEMBERS} members.")]
    TooMany,
    #[error("Duplicate members in member list.")]
    Duplicate,
    /// The switch would have the same members, in the same order, as the latest one.
    #[error("Those members are already fronting, in that order.")]
    SameAsCurrent,
    /// A switch-out when the latest switch is already a switch-out.
    #[error("There's already no one in front.")]
    AlreadyOut,
    #[error("Can't move switch to a time in the future.")]
    InFuture,
    #[error("Can't move switch to before (or at) the previous switch's time, as it would cause conflicts.")]
    BeforePrevious,
}

/// Rules for a new switch given the latest one: at most [`MAX_SWITCH_MEMBERS`], no member
/// twice, not identical (same members, same order) to the latest. The size is checked first,
/// so the duplicate check never runs on an unbounded list.
pub fn check_new<K: PartialEq>(members: &[K], latest: Option<&Switch<K>>) -> Result<(), SwitchError> {
    check_members(members)?;
    match latest {
        Some(latest) => check_differs(members, latest),
        None => Ok(()),
    }
}

/// Rules for `pk;switch edit`, which replaces the members of the latest switch: as PluralKit's
/// `DoEditCommand`, no member twice and not identical (same members, same order) to the latest
/// switch itself, since such an edit would change nothing. Unlike PluralKit, the member limit is
/// enforced here too, so no stored switch ever exceeds it.
pub fn check_edit<K: PartialEq>(members: &[K], latest: &Switch<K>) -> Result<(), SwitchError> {
    check_members(members)?;
    check_differs(members, latest)
}

/// Rules for `pk;switch move` of the latest switch: the new time is not in the future and is
/// strictly after the previous switch's time (PluralKit allows an equal time; two switches at
/// the same instant would make a zero-length span, so it is refused here).
pub fn check_move(new_at: i64, now: i64, previous_at: Option<i64>) -> Result<(), SwitchError> {
    if new_at > now {
        return Err(SwitchError::InFuture);
    }
    match previous_at {
        Some(previous) if new_at <= previous => Err(SwitchError::BeforePrevious),
        _ => Ok(()),
    }
}

fn check_members<K: PartialEq>(members: &[K]) -> Result<(), SwitchError> {
    if members.len() > MAX_SWITCH_MEMBERS {
        return Err(SwitchError::TooMany);
    }
    let duplicate = members.iter().enumerate().any(|(i, member)| members[..i].contains(member));
    if duplicate { Err(SwitchError::Duplicate) } else { Ok(()) }
}

fn check_differs<K: PartialEq>(members: &[K], latest: &Switch<K>) -> Result<(), SwitchError> {
    match (latest.members.as_slice() == members, members.is_empty()) {
        (false, _) => Ok(()),
        (true, true) => Err(SwitchError::AlreadyOut),
        (true, false) => Err(SwitchError::SameAsCurrent),
    }
}

/// One stretch of fronting: members from `start` to `end` (None = still going).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span<K> {
    pub members: Vec<K>,
    pub start: i64,
    pub end: Option<i64>,
}

/// Switches (ascending by `at`; sorted stably here if they are not) to spans, newest first, for
/// `fronthistory`: each switch lasts until the next one, and the latest is still going.
pub fn history<K: Clone>(switches: &[Switch<K>]) -> Vec<Span<K>> {
    let mut end = None;
    ascending(switches)
        .into_iter()
        .rev()
        .map(|switch| {
            let span = Span { members: switch.members.clone(), start: switch.at, end };
            end = Some(switch.at);
            span
        })
        .collect()
}

/// Time per member over a period, as PluralKit's `GetFrontBreakdown`.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown<K> {
    /// Each member who fronted, with their total time, in order of first appearance going back
    /// from the newest switch (PluralKit's order, which breaks ties in [`shares`]).
    pub per_member: Vec<(K, i64)>,
    /// Time with no fronter: switch-outs, and (with a group filter) switches with no member of
    /// the group.
    pub no_fronter: i64,
    /// Where the data starts: the period's start, or the first switch if that is later. With no
    /// switch in the period at all, both ends are the period's end (an empty range).
    pub range_start: i64,
    pub range_end: i64,
}

/// Time per member in [`start`, `end`): `switches` ascending (sorted stably here if they are
/// not), including the last switch at or before `start`, which is clamped to `start`; earlier
/// switches and switches at or after `end` are ignored. `only`: if Some, members outside it are
/// dropped from every switch (group frontpercent; a switch whose members are all outside counts
/// as no-fronter, like PluralKit). Co-fronting gives each co-fronter the whole span, so member
/// times can add up to more than the range.
pub fn breakdown<K: Clone + Eq + Hash>(
    switches: &[Switch<K>],
    start: i64,
    end: i64,
    only: Option<&HashSet<K>>,
) -> Breakdown<K> {
    let mut per_member: Vec<(K, i64)> = Vec::new();
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut no_fronter: i64 = 0;
    let mut range_start = None;
    // Walk back from the newest switch: each one lasts until the one after it (or `end`).
    let mut span_end = end;
    for switch in ascending(switches).into_iter().rev() {
        if switch.at >= end {
            continue;
        }
        let span_start = switch.at.max(start);
        let length = span_end.saturating_sub(span_start);
        span_end = switch.at;
        if length > 0 {
            range_start = Some(span_start);
            let mut seen = HashSet::new();
            let fronters = switch
                .members
                .iter()
                .filter(|member| only.is_none_or(|only| only.contains(*member)))
                .filter(|member| seen.insert(*member));
            let mut anyone = false;
            for member in fronters {
                anyone = true;
                match index.get(member) {
                    Some(&i) => per_member[i].1 = per_member[i].1.saturating_add(length),
                    None => {
                        index.insert(member.clone(), per_member.len());
                        per_member.push((member.clone(), length));
                    }
                }
            }
            if !anyone {
                no_fronter = no_fronter.saturating_add(length);
            }
        }
        if switch.at <= start {
            break;
        }
    }
    Breakdown { per_member, no_fronter, range_start: range_start.unwrap_or(end), range_end: end }
}

fn ascending<K>(switches: &[Switch<K>]) -> Vec<&Switch<K>> {
    let mut sorted: Vec<&Switch<K>> = switches.iter().collect();
    sorted.sort_by_key(|switch| switch.at);
    sorted
}

/// One line of `frontpercent`: member (None = no fronter), time, percent of the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Share<K> {
    pub member: Option<K>,
    pub ms: i64,
    pub percent: f64,
}

/// PluralKit's `CreateFrontPercentEmbed` arithmetic. The period is the range length by default
/// (co-fronting can sum over 100%); with `flat` it is the sum of member times plus the
/// no-fronter time (unless `fronters_only`), so the shares add up to 100%; with `fronters_only`
/// alone it is the range minus the no-fronter time. `fronters_only` also leaves the no-fronter
/// line out (it is only listed when non-zero). Sorted by time, largest first; ties keep the
/// breakdown's order, with no-fronter last. A zero period gives 0%. All lines are returned
/// (PluralKit shows 24 and sums the rest as "others"; that is the caller's to do).
pub fn shares<K: Clone>(b: &Breakdown<K>, flat: bool, fronters_only: bool) -> Vec<Share<K>> {
    let range = b.range_end.saturating_sub(b.range_start).max(0);
    let no_fronter = if fronters_only { 0 } else { b.no_fronter };
    let period = if flat {
        b.per_member.iter().fold(0i64, |sum, (_, ms)| sum.saturating_add(*ms)).saturating_add(no_fronter)
    } else if fronters_only {
        range.saturating_sub(b.no_fronter)
    } else {
        range
    };
    let percent = |ms: i64| if period > 0 { ms as f64 * 100.0 / period as f64 } else { 0.0 };
    let mut lines: Vec<Share<K>> = b
        .per_member
        .iter()
        .map(|(member, ms)| Share { member: Some(member.clone()), ms: *ms, percent: percent(*ms) })
        .collect();
    if no_fronter != 0 {
        lines.push(Share { member: None, ms: no_fronter, percent: percent(no_fronter) });
    }
    // A stable sort, as LINQ's OrderByDescending in PluralKit.
    lines.sort_by_key(|line| std::cmp::Reverse(line.ms));
    lines
}

#[cfg(test)]
mod tests;
