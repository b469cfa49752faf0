//! Profile fields in commands: showing, setting and clearing a system's or a member's field,
//! and the member's keepproxy and autoproxy flags. Values arrive checked by the parser
//! (`core::profile`); fields the ghost shows (name, display name, avatar, the system tag) are
//! pushed to the ghosts at once.

use super::super::{Bridge, BridgeResult};
use crate::{
    core::{
        commands::FieldArg,
        profile::{Kind, MemberField, SystemField, show_birthday},
        replies::{code, md, md_lines},
    },
    db::{Member, MemberFlag, System},
};

/// A stored value as the bot shows it.
pub(super) fn shown(kind: Kind, value: &str) -> String {
    match kind {
        Kind::Line(_) => format!("**{}**", md(value)),
        Kind::Text(_) => format!("\n\n{}", md_lines(value)),
        Kind::Color => code(&format!("#{value}")),
        Kind::Date => format!("**{}**", md(&show_birthday(value))),
        Kind::Image => code(value),
    }
}

fn capitalised(label: &str) -> String {
    let mut chars = label.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

impl Bridge {
    pub(super) async fn system_field(
        &self,
        system: System,
        field: SystemField,
        value: FieldArg,
    ) -> BridgeResult<String> {
        let label = field.label();
        match value {
            FieldArg::Show => Ok(match system.field(field) {
                Some(v) => format!("Your system's {label}: {}", shown(field.kind(), &v)),
                None => format!("Your system has no {label}. Set one with {}.", code(&format!("pk;system {label} …"))),
            }),
            FieldArg::Clear => {
                self.db.set_system_field(system.id, field, None).await?;
                self.after_system_change(&system, field).await;
                Ok(format!("✅ System {label} cleared."))
            }
            FieldArg::Set(v) => {
                self.db.set_system_field(system.id, field, Some(&v)).await?;
                self.after_system_change(&system, field).await;
                Ok(match field {
                    SystemField::Tag => format!(
                        "✅ System tag set to {}. Member names now show as {}.",
                        code(&v),
                        code(&format!("<name> {v}"))
                    ),
                    SystemField::Name => format!("✅ System renamed to **{}**.", md(&v)),
                    _ => format!("✅ System {label} set to {}", shown(field.kind(), &v)),
                })
            }
        }
    }

    /// The tag is part of every ghost's display name.
    async fn after_system_change(&self, system: &System, field: SystemField) {
        if field == SystemField::Tag {
            if let Ok(Some(updated)) = self.db.system_by_id(system.id).await {
                self.resync_system_ghosts(&updated).await;
            }
        }
    }

    pub(super) async fn member_field(
        &self,
        system: &System,
        member: &Member,
        field: MemberField,
        value: FieldArg,
    ) -> BridgeResult<String> {
        let (label, name) = (field.label(), md(&member.name));
        let reply = match value {
            FieldArg::Show => {
                return Ok(match member.field(field) {
                    Some(v) => format!("{} of **{name}**: {}", capitalised(label), shown(field.kind(), &v)),
                    None => format!("**{name}** has no {label}."),
                });
            }
            FieldArg::Clear if field == MemberField::Name => return Ok("❌ A member always has a name.".to_owned()),
            FieldArg::Clear => {
                self.db.set_member_field(member.id, field, None).await?;
                format!("✅ {} of **{name}** cleared.", capitalised(label))
            }
            FieldArg::Set(v) => {
                self.db.set_member_field(member.id, field, Some(&v)).await?;
                match field {
                    MemberField::Name => format!("✅ **{name}** is now called **{}**.", md(&v)),
                    MemberField::DisplayName => format!("✅ **{name}** is now shown as **{}**.", md(&v)),
                    _ => format!("✅ {} of **{name}** set to {}", capitalised(label), shown(field.kind(), &v)),
                }
            }
        };
        if matches!(field, MemberField::Name | MemberField::DisplayName | MemberField::Avatar) {
            self.refresh_ghost(system, member.id).await;
        }
        Ok(reply)
    }

    pub(super) async fn member_flag(
        &self,
        member: &Member,
        flag: MemberFlag,
        on: Option<bool>,
    ) -> BridgeResult<String> {
        let name = md(&member.name);
        let Some(on) = on else {
            let current = self.db.member_flag(member.id, flag).await?;
            return Ok(match (flag, current) {
                (MemberFlag::KeepProxy, true) => format!("**{name}**'s proxy tags stay in proxied messages."),
                (MemberFlag::KeepProxy, false) => format!("**{name}**'s proxy tags are removed from proxied messages."),
                (MemberFlag::AllowAutoproxy, true) => format!("Latch and front autoproxy may pick **{name}**."),
                (MemberFlag::AllowAutoproxy, false) => format!("Latch and front autoproxy never pick **{name}**."),
            });
        };
        self.db.set_member_flag(member.id, flag, on).await?;
        Ok(match (flag, on) {
            (MemberFlag::KeepProxy, true) => format!("✅ **{name}**'s proxy tags now stay in proxied messages."),
            (MemberFlag::KeepProxy, false) => {
                format!("✅ **{name}**'s proxy tags are now removed from proxied messages.")
            }
            (MemberFlag::AllowAutoproxy, true) => format!("✅ Latch and front autoproxy may pick **{name}** again."),
            (MemberFlag::AllowAutoproxy, false) => {
                format!("✅ Latch and front autoproxy no longer pick **{name}** (tags still work).")
            }
        })
    }
}
