//! `pk;autoproxy …`: autoproxy per room (PluralKit's is per server; a room is Matrix's
//! nearest unit). A room has its own mode or follows the system's default (`-global`);
//! `pk;autoproxy` says what applies in the room and why.

use super::super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{
        autoproxy::{Mode, State},
        commands::AutoproxyArg,
        replies::md,
    },
    db::System,
};

impl Bridge {
    /// The system's default mode, in words (for the system card).
    pub(super) async fn autoproxy_description(&self, system: &System) -> BridgeResult<String> {
        let mode = Mode::parse(&system.autoproxy_mode).unwrap_or(Mode::Off);
        self.mode_text(State { mode, member: system.autoproxy_member_id, latch: None }, false).await
    }

    async fn mode_text(&self, state: State<i64>, with_latch: bool) -> BridgeResult<String> {
        let name_of = |id: Option<i64>| async move {
            Ok::<_, crate::db::DbError>(match id {
                Some(id) => self.db.member_by_id(id).await?.map(|m| m.name).unwrap_or_default(),
                None => String::new(),
            })
        };
        Ok(match state.mode {
            Mode::Off => "off".to_owned(),
            Mode::Latch if !with_latch => "latch".to_owned(),
            Mode::Latch => match state.latch {
                Some((id, _)) => format!("latch (currently **{}**)", md(&name_of(Some(id)).await?)),
                None => "latch (nobody latched yet)".to_owned(),
            },
            Mode::Front => "front (the first current fronter)".to_owned(),
            Mode::Member => format!("always **{}**", md(&name_of(state.member).await?)),
        })
    }

    pub(super) async fn autoproxy_command(
        &self,
        event: &RoomEvent,
        system: System,
        arg: Option<AutoproxyArg>,
        global: bool,
    ) -> BridgeResult<String> {
        let room = event.room_id.as_str();
        let Some(arg) = arg else {
            return self.autoproxy_here(&system, room).await;
        };
        let (mode, member) = match arg {
            AutoproxyArg::Default if global => {
                return Ok("❌ `default` is for one room; the default itself can be \
                 `off`, `latch`, `front` or a member."
                    .to_owned());
            }
            AutoproxyArg::Default => {
                self.db.set_room_autoproxy(system.id, room, None, None).await?;
                let default = self.autoproxy_description(&system).await?;
                return Ok(format!("✅ This room follows your default autoproxy again: {default}."));
            }
            AutoproxyArg::Off => (Mode::Off, None),
            AutoproxyArg::Latch => (Mode::Latch, None),
            AutoproxyArg::Front => (Mode::Front, None),
            AutoproxyArg::Member(reference) => match self.resolve_member(&system, &reference).await? {
                Err(message) => return Ok(message),
                Ok(member) => (Mode::Member, Some(member)),
            },
        };
        let member_id = member.as_ref().map(|m| m.id);
        if global {
            self.db.set_autoproxy(system.id, mode, member_id).await?;
        } else {
            self.db.set_room_autoproxy(system.id, room, Some(mode), member_id).await?;
        }
        let scope = if global { "by default (rooms without their own mode)" } else { "in this room" };
        Ok(match mode {
            Mode::Off => format!("✅ Autoproxy disabled {scope}. Only tagged messages are proxied."),
            Mode::Latch => format!(
                "✅ Autoproxy latch mode enabled {scope}: after a tagged message, your untagged messages go out as that \
                 member. Start a message with `\\` to send it as yourself, or `\\\\` to also let go of the latch."
            ),
            Mode::Front => format!(
                "✅ Autoproxy front mode enabled {scope}: your untagged messages go out as the first current fronter \
                 (`pk;switch <member>` sets who fronts)."
            ),
            Mode::Member => format!(
                "✅ Autoproxy enabled for **{}** {scope}: your untagged messages go out as them.",
                md(&member.map(|m| m.name).unwrap_or_default())
            ),
        })
    }

    /// What applies in this room, and why.
    async fn autoproxy_here(&self, system: &System, room: &str) -> BridgeResult<String> {
        let row = self.db.room_autoproxy(system.id, room).await?;
        let state = row.state(system);
        let mut text = self.mode_text(state, true).await?;
        if state.mode == Mode::Front {
            let fronters = self.db.current_fronters(system.id).await?;
            let first = match fronters.first() {
                Some(id) => self.db.member_by_id(*id).await?.map(|m| format!("**{}**", md(&m.name))),
                None => None,
            };
            text.push_str(&format!(", now {}", first.unwrap_or_else(|| "nobody".to_owned())));
        }
        let why = if row.mode.is_some() {
            "set for this room; `pk;autoproxy default` makes it follow your default".to_owned()
        } else {
            "your default, set with `pk;autoproxy <mode> -global`".to_owned()
        };
        Ok(format!("Autoproxy in this room is {text} ({why})."))
    }
}
