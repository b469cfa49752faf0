//! The front views: `pk;front` (who fronts now), `pk;fh` (the switch history, paged) and
//! `pk;fp` (time per member, also for a group's members), for the sender's system or
//! another one, with the system's `front` / `fronthistory` privacy applied to others.

use std::collections::{HashMap, HashSet};

use ruma::UserId;

use super::{
    super::{Bridge, BridgeResult},
    NO_SYSTEM,
    links::user_arg,
};
use crate::{
    core::{
        commands::{FrontCommand, FrontView},
        fronting::{self, Switch},
        privacy::{MemberSubject, SystemSubject, Viewer, name_for},
        replies::{code, md},
        time::{Tz, format_duration, format_instant, parse_time},
    },
    db::{PrivacyOf, System, now_ms},
};

/// Switches per page of `pk;fh`.
const HISTORY_PAGE: i64 = 10;
/// `pk;fp` without a time: the last 30 days (PluralKit's default).
const DEFAULT_PERCENT_SPAN_MS: i64 = 30 * 24 * 60 * 60 * 1000;

impl Bridge {
    pub(super) async fn front_command(
        &self,
        sender: &UserId,
        own: Option<System>,
        cmd: FrontCommand,
    ) -> BridgeResult<String> {
        let system = match &cmd.system {
            None => match own.clone() {
                Some(s) => s,
                None => return Ok(NO_SYSTEM.to_owned()),
            },
            Some(target) => match self.find_system(sender, target).await? {
                Some(s) => s,
                None => return Ok(format!("❌ No system found for {}.", code(target))),
            },
        };
        let viewer = if own.as_ref().is_some_and(|o| o.id == system.id) { Viewer::Owner } else { Viewer::Other };
        let privacy = self.db.privacy::<SystemSubject>(PrivacyOf::System(system.id)).await?;
        let subject = if cmd.view == FrontView::Fronter { SystemSubject::Front } else { SystemSubject::FrontHistory };
        if !privacy.get(subject).shows_to(viewer) {
            return Ok("❌ This system's fronting is private.".to_owned());
        }
        let names = self.fronter_names(&system, viewer).await?;
        let zone = system.config.zone();
        match cmd.view {
            FrontView::Fronter => self.fronter(&system, &names, zone).await,
            FrontView::History { page } => self.front_history(&system, &names, zone, page).await,
            FrontView::Percent { since, flat, fronters_only, group } => {
                let only = match group {
                    None => None,
                    Some(g) => match self.db.find_group(system.id, &g).await? {
                        Some(g) => Some(self.db.group_member_ids(g.id).await?.into_iter().collect()),
                        None => return Ok(format!("❌ No group {} in that system.", code(&g))),
                    },
                };
                self.front_percent(&system, &names, zone, since.as_deref(), (flat, fronters_only), only.as_ref()).await
            }
        }
    }

    /// A system by ID, slug or linked account.
    pub(super) async fn find_system(&self, sender: &UserId, target: &str) -> BridgeResult<Option<System>> {
        Ok(if target.starts_with('@') {
            match user_arg(target, sender) {
                Some(user) => self.db.system_for_account(user.as_str()).await?,
                None => None,
            }
        } else {
            self.db.system_by_reference(target).await?
        })
    }

    /// Each member's name as the viewer may see it; members hidden from the viewer are absent
    /// (and show as a private member).
    async fn fronter_names(&self, system: &System, viewer: Viewer) -> BridgeResult<HashMap<i64, String>> {
        let mut names = HashMap::new();
        for m in self.db.members(system.id).await? {
            if viewer == Viewer::Owner {
                names.insert(m.id, format!("**{}**", md(&m.name)));
                continue;
            }
            let p = self.db.privacy::<MemberSubject>(PrivacyOf::Member(m.id)).await?;
            if p.get(MemberSubject::Visibility).shows_to(viewer) {
                let name = name_for(&m.name, m.display_name.as_deref(), p.get(MemberSubject::Name), viewer);
                names.insert(m.id, format!("**{}**", md(name)));
            }
        }
        Ok(names)
    }

    async fn fronter(&self, system: &System, names: &HashMap<i64, String>, zone: Tz) -> BridgeResult<String> {
        let Some(current) = self.db.latest_switches(system.id, 0, 1).await?.pop() else {
            return Ok("No switches registered yet.".to_owned());
        };
        let now = now_ms();
        let since = format!("since {} ({} ago)", format_instant(current.at, zone), format_duration(now - current.at));
        if current.members.is_empty() {
            return Ok(format!("Nobody is fronting (switch-out {since})."));
        }
        let label = if current.members.len() == 1 { "Current fronter" } else { "Current fronters" };
        Ok(format!("**{label}:** {}, {since}.", list(&current.members, names)))
    }

    async fn front_history(
        &self,
        system: &System,
        names: &HashMap<i64, String>,
        zone: Tz,
        page: usize,
    ) -> BridgeResult<String> {
        let total = self.db.switch_count(system.id).await?;
        if total == 0 {
            return Ok("No switches registered yet.".to_owned());
        }
        let pages = (total + HISTORY_PAGE - 1) / HISTORY_PAGE;
        let page = (page as i64).clamp(1, pages);
        let offset = (page - 1) * HISTORY_PAGE;
        // One newer switch than the page shows: it ends the page's first span.
        let from = (offset - 1).max(0);
        let rows = self.db.latest_switches(system.id, from, HISTORY_PAGE + 1).await?;
        let mut ascending: Vec<Switch<i64>> = rows.iter().rev().map(|s| s.switch()).collect();
        let newer_end = if offset > 0 { ascending.pop().map(|s| s.at) } else { None };
        let now = now_ms();
        let mut out = format!("**Front history** (page {page} of {pages}, newest first)\n");
        for span in fronting::history(&ascending).into_iter().take(HISTORY_PAGE as usize) {
            let end = span.end.or(newer_end);
            let who = if span.members.is_empty() { "*(switch-out)*".to_owned() } else { list(&span.members, names) };
            let lasted = match end {
                Some(end) => format!("for {}", format_duration(end - span.start)),
                None => format!("for {}, ongoing", format_duration(now - span.start)),
            };
            out.push_str(&format!(
                "- {who} — {} ({} ago), {lasted}\n",
                format_instant(span.start, zone),
                format_duration(now - span.start)
            ));
        }
        if page < pages {
            out.push_str(&format!("\nMore: {}", code(&format!("pk;fh {}", page + 1))));
        }
        Ok(out)
    }

    async fn front_percent(
        &self,
        system: &System,
        names: &HashMap<i64, String>,
        zone: Tz,
        since: Option<&str>,
        (flat, fronters_only): (bool, bool),
        only: Option<&HashSet<i64>>,
    ) -> BridgeResult<String> {
        let now = now_ms();
        let start = match since {
            None => now - DEFAULT_PERCENT_SPAN_MS,
            Some(s) => match parse_time(s, now, zone) {
                Ok(t) => t,
                Err(e) => return Ok(format!("❌ {e}")),
            },
        };
        let switches: Vec<Switch<i64>> =
            self.db.switches_since(system.id, start).await?.iter().map(|s| s.switch()).collect();
        if switches.is_empty() {
            return Ok("No switches registered in that time.".to_owned());
        }
        let breakdown = fronting::breakdown(&switches, start, now, only);
        let mut out = String::from("**Front breakdown**\n");
        for share in fronting::shares(&breakdown, flat, fronters_only) {
            let who = match share.member {
                Some(id) => names.get(&id).cloned().unwrap_or_else(|| "*(private member)*".to_owned()),
                None => "*(no fronter)*".to_owned(),
            };
            out.push_str(&format!("- {who}: {:.0}% ({})\n", share.percent, format_duration(share.ms)));
        }
        out.push_str(&format!(
            "\nSince {} ({} ago)",
            format_instant(breakdown.range_start, zone),
            format_duration(breakdown.range_end - breakdown.range_start)
        ));
        if flat {
            out.push_str(". Flat: the percentages add up to 100%");
        }
        if fronters_only {
            out.push_str(". Switch-outs left out");
        }
        out.push('.');
        Ok(out)
    }
}

/// `**A**, **B**`; members the viewer may not see show as private.
fn list(members: &[i64], names: &HashMap<i64, String>) -> String {
    members
        .iter()
        .map(|id| names.get(id).cloned().unwrap_or_else(|| "*(private member)*".to_owned()))
        .collect::<Vec<_>>()
        .join(", ")
}
