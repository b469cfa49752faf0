//! `pk;autoproxy …`: showing and setting the system's autoproxy mode.

use super::super::{Bridge, BridgeResult};
use crate::{
    core::{autoproxy::Mode, commands::AutoproxyArg, replies::md},
    db::System,
};

impl Bridge {
    pub(super) async fn autoproxy_description(&self, system: &System) -> BridgeResult<String> {
        let state = system.autoproxy_state();
        Ok(match state.mode {
            Mode::Off => "off".to_owned(),
            Mode::Latch => match state.latch {
                Some((id, _)) => {
                    let name = self.db.member_by_id(id).await?.map(|m| m.name).unwrap_or_default();
                    format!("latch (currently **{}**)", md(&name))
                }
                None => "latch (nobody latched yet)".to_owned(),
            },
            Mode::Front => "front".to_owned(),
            Mode::Member => {
                let name = match state.member {
                    Some(id) => self.db.member_by_id(id).await?.map(|m| m.name).unwrap_or_default(),
                    None => String::new(),
                };
                format!("always **{}**", md(&name))
            }
        })
    }

    pub(super) async fn autoproxy_command(&self, system: System, arg: Option<AutoproxyArg>) -> BridgeResult<String> {
        match arg {
            None => Ok(format!("Autoproxy is {}.", self.autoproxy_description(&system).await?)),
            Some(AutoproxyArg::Off) => {
                self.db.set_autoproxy(system.id, Mode::Off, None).await?;
                Ok("✅ Autoproxy disabled. Only tagged messages are proxied.".to_owned())
            }
            Some(AutoproxyArg::Latch) => {
                self.db.set_autoproxy(system.id, Mode::Latch, None).await?;
                Ok("✅ Autoproxy latch mode enabled: after a tagged message, your untagged messages go out as that \
                    member. Start a message with `\\` to send it as yourself, or `\\\\` to also let go of the latch."
                    .to_owned())
            }
            Some(AutoproxyArg::Front) => {
                self.db.set_autoproxy(system.id, Mode::Front, None).await?;
                Ok("✅ Autoproxy front mode enabled. Note: switches are not tracked yet, so until they are, nobody \
                    is fronting and untagged messages are not proxied."
                    .to_owned())
            }
            Some(AutoproxyArg::Member(reference)) => match self.resolve_member(&system, &reference).await? {
                Err(message) => Ok(message),
                Ok(member) => {
                    self.db.set_autoproxy(system.id, Mode::Member, Some(member.id)).await?;
                    Ok(format!(
                        "✅ Autoproxy enabled for **{}**: your untagged messages go out as them.",
                        md(&member.name)
                    ))
                }
            },
        }
    }
}
