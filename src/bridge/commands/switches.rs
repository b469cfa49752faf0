//! `pk;switch …`: registering, moving, editing, copying and deleting switches. Moves, edits
//! and deletes ask first (reply `yes`, or `-y`); the change and the answer are stored in one
//! transaction, so a retried command changes nothing twice.

use std::collections::HashMap;

use super::{
    super::{Bridge, BridgeResult, RoomEvent},
    CONFIRM_WINDOW_MS,
};
use crate::{
    core::{
        commands::{SwitchCommand, SwitchEditHow},
        fronting,
        replies::md,
        time::{format_duration, format_instant, parse_time},
    },
    db::{Member, StoredSwitch, SwitchChange, System, now_ms},
};

impl Bridge {
    pub(super) async fn switch_command(
        &self,
        event: &RoomEvent,
        system: System,
        cmd: SwitchCommand,
    ) -> BridgeResult<String> {
        let now = now_ms();
        let latest = self.db.latest_switches(system.id, 0, 2).await?;
        match cmd {
            SwitchCommand::Register { members } => {
                let members = match self.resolve_members(&system, &members).await? {
                    Ok(m) => m,
                    Err(e) => return Ok(e),
                };
                self.register_switch(event, &system, members, latest.first(), now).await
            }
            SwitchCommand::Copy { members, how } => {
                let Some(current) = latest.first() else { return Ok(NO_SWITCHES.to_owned()) };
                let named = match self.resolve_members(&system, &members).await? {
                    Ok(m) => m,
                    Err(e) => return Ok(e),
                };
                let members = combine(&self.switch_members(current).await?, named, how);
                self.register_switch(event, &system, members, Some(current), now).await
            }
            SwitchCommand::Move { time, confirmed } => {
                let Some(current) = latest.first() else { return Ok(NO_SWITCHES.to_owned()) };
                let zone = system.config.zone();
                let at = match parse_time(&time, now, zone) {
                    Ok(at) => at,
                    Err(e) => return Ok(format!("❌ {e}")),
                };
                if let Err(e) = fronting::check_move(at, now, latest.get(1).map(|s| s.at)) {
                    return Ok(format!("❌ {e}"));
                }
                let who = self.names(&self.switch_members(current).await?);
                let question = format!(
                    "⚠️ This will move the latest switch ({who}) from {} ({} ago) to {} ({} ago).",
                    format_instant(current.at, zone),
                    format_duration(now - current.at),
                    format_instant(at, zone),
                    format_duration(now - at)
                );
                let done =
                    format!("✅ Switch moved to {} ({} ago).", format_instant(at, zone), format_duration(now - at));
                let change = SwitchChange::Move { id: current.id, at };
                self.change_or_ask(event, &system, change, confirmed, question, done).await
            }
            SwitchCommand::Edit { members, how, confirmed } => {
                let Some(current) = latest.first() else { return Ok(NO_SWITCHES.to_owned()) };
                let named = match self.resolve_members(&system, &members).await? {
                    Ok(m) => m,
                    Err(e) => return Ok(e),
                };
                let before = self.switch_members(current).await?;
                let after = combine(&before, named, how);
                let ids: Vec<i64> = after.iter().map(|m| m.id).collect();
                if let Err(e) = fronting::check_edit(&ids, &current.switch()) {
                    return Ok(format!("❌ {e}"));
                }
                let ago = format_duration(now - current.at);
                let (question, done) = if after.is_empty() {
                    (
                        format!(
                            "⚠️ This will turn the latest switch ({}, {ago} ago) into a switch-out.",
                            self.names(&before)
                        ),
                        "✅ Switch edited. The latest switch is now a switch-out.".to_owned(),
                    )
                } else {
                    (
                        format!(
                            "⚠️ This will change the latest switch ({}, {ago} ago) to {}.",
                            self.names(&before),
                            self.names(&after)
                        ),
                        format!("✅ Switch edited. {}", now_fronting(&self.names(&after), after.len())),
                    )
                };
                let change = SwitchChange::Edit { id: current.id, members: ids };
                self.change_or_ask(event, &system, change, confirmed, question, done).await
            }
            SwitchCommand::Delete { all: true, confirmed } => {
                let count = self.db.switch_count(system.id).await?;
                if count == 0 {
                    return Ok(NO_SWITCHES.to_owned());
                }
                let question = format!("⚠️ This will delete all {count} registered switches of your system.");
                let done = "✅ All switches deleted.".to_owned();
                self.change_or_ask(event, &system, SwitchChange::DeleteAll, confirmed, question, done).await
            }
            SwitchCommand::Delete { all: false, confirmed } => {
                let Some(current) = latest.first() else { return Ok(NO_SWITCHES.to_owned()) };
                let who = self.names(&self.switch_members(current).await?);
                let mut question = format!(
                    "⚠️ This will delete the latest switch ({who}, {} ago).",
                    format_duration(now - current.at)
                );
                match latest.get(1) {
                    Some(prev) => question.push_str(&format!(
                        " The one before it is {} ({} ago).",
                        self.names(&self.switch_members(prev).await?),
                        format_duration(now - prev.at)
                    )),
                    None => question.push_str(" You have no other switches."),
                }
                let change = SwitchChange::Delete { id: current.id };
                self.change_or_ask(event, &system, change, confirmed, question, "✅ Switch deleted.".to_owned()).await
            }
        }
    }

    async fn register_switch(
        &self,
        event: &RoomEvent,
        system: &System,
        members: Vec<Member>,
        latest: Option<&StoredSwitch>,
        now: i64,
    ) -> BridgeResult<String> {
        let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
        if let Err(e) = fronting::check_new(&ids, latest.map(StoredSwitch::switch).as_ref()) {
            return Ok(format!("❌ {e}"));
        }
        let answer = if members.is_empty() {
            "✅ Switch-out registered.".to_owned()
        } else {
            format!("✅ Switch registered. {}", now_fronting(&self.names(&members), members.len()))
        };
        let change = SwitchChange::Add { at: now, members: ids };
        self.db.change_switches_answered(system.id, &change, event.event_id.as_str(), &answer, now, None).await?;
        Ok(answer)
    }

    /// Applies `change` now (`confirmed`), or asks the user to reply `yes` first.
    async fn change_or_ask(
        &self,
        event: &RoomEvent,
        system: &System,
        change: SwitchChange,
        confirmed: bool,
        question: String,
        done: String,
    ) -> BridgeResult<String> {
        let now = now_ms();
        if confirmed {
            self.db.change_switches_answered(system.id, &change, event.event_id.as_str(), &done, now, None).await?;
            return Ok(done);
        }
        let action = super::confirm::switch_action(&change, &done);
        self.db
            .set_confirmation(event.sender.as_str(), event.room_id.as_str(), &action, now + CONFIRM_WINDOW_MS)
            .await?;
        Ok(format!("{question} Reply `yes` within 5 minutes to confirm, anything else to cancel."))
    }

    /// The members of a list of references, in order; the first unknown one is the error.
    pub(super) async fn resolve_members(
        &self,
        system: &System,
        references: &[String],
    ) -> BridgeResult<Result<Vec<Member>, String>> {
        let mut out = Vec::with_capacity(references.len());
        for r in references {
            match self.resolve_member(system, r).await? {
                Ok(m) => out.push(m),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(out))
    }

    /// A switch's members, loaded (members deleted since are gone from it already).
    pub(super) async fn switch_members(&self, switch: &StoredSwitch) -> BridgeResult<Vec<Member>> {
        let mut by_id: HashMap<i64, Member> = HashMap::new();
        for id in &switch.members {
            if let Some(m) = self.db.member_by_id(*id).await? {
                by_id.insert(*id, m);
            }
        }
        Ok(switch.members.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// `**A**, **B**` (or `nobody`), for the owner's own replies.
    fn names(&self, members: &[Member]) -> String {
        if members.is_empty() {
            return "nobody".to_owned();
        }
        members.iter().map(|m| format!("**{}**", md(&m.name))).collect::<Vec<_>>().join(", ")
    }
}

const NO_SWITCHES: &str = "❌ You have no registered switches. Register one with `pk;switch <member>`.";

fn now_fronting(names: &str, count: usize) -> String {
    if count == 1 { format!("Current fronter is now {names}.") } else { format!("Current fronters are now {names}.") }
}

/// PluralKit's ways of combining named members with the current switch's.
fn combine(current: &[Member], named: Vec<Member>, how: SwitchEditHow) -> Vec<Member> {
    let without = |list: &[Member], drop: &[Member]| -> Vec<Member> {
        list.iter().filter(|m| !drop.iter().any(|d| d.id == m.id)).cloned().collect()
    };
    match how {
        SwitchEditHow::Replace => named,
        SwitchEditHow::Remove => without(current, &named),
        SwitchEditHow::Append => current.iter().cloned().chain(named).collect(),
        SwitchEditHow::Prepend => named.into_iter().chain(current.iter().cloned()).collect(),
        SwitchEditHow::First => {
            let rest = without(current, &named);
            named.into_iter().take(1).chain(rest).collect()
        }
    }
}
