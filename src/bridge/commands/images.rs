//! Images given to a command instead of an `mxc://` argument: `pk;member alice avatar` as the
//! caption of an image, or as a reply to one. An encrypted image is decrypted and uploaded
//! again in the clear, since an avatar must be readable by everyone.

use serde_json::Value;

use super::super::{Bridge, BridgeResult, RoomEvent};
use crate::core::{
    commands::{Command, FieldArg, GroupCommand, MemberCommand, SystemCommand},
    message::Content,
    profile::{GroupField, MemberField, SystemField},
};

fn is_image(content: &Content) -> bool {
    content.get("msgtype").and_then(Value::as_str) == Some("m.image")
}

impl Bridge {
    /// An image field shown without a value becomes set, when the command carries or
    /// answers an image.
    pub(super) async fn with_image_argument(&self, event: &RoomEvent, cmd: Command) -> BridgeResult<Command> {
        let wants_image = matches!(
            &cmd,
            Command::System(SystemCommand::Field {
                field: SystemField::Avatar | SystemField::Banner,
                value: FieldArg::Show
            }) | Command::Member(MemberCommand::Field {
                field: MemberField::Avatar | MemberField::Banner,
                value: FieldArg::Show,
                ..
            }) | Command::Group(GroupCommand::Field {
                field: GroupField::Icon | GroupField::Banner,
                value: FieldArg::Show,
                ..
            })
        );
        if !wants_image {
            return Ok(cmd);
        }
        let Some(uri) = self.image_of(event).await? else { return Ok(cmd) };
        Ok(match cmd {
            Command::System(SystemCommand::Field { field, .. }) => {
                Command::System(SystemCommand::Field { field, value: FieldArg::Set(uri) })
            }
            Command::Member(MemberCommand::Field { member, field, .. }) => {
                Command::Member(MemberCommand::Field { member, field, value: FieldArg::Set(uri) })
            }
            Command::Group(GroupCommand::Field { group, field, .. }) => {
                Command::Group(GroupCommand::Field { group, field, value: FieldArg::Set(uri) })
            }
            other => other,
        })
    }

    /// The `mxc://` URI of the image this event carries or replies to (re-uploaded in the
    /// clear if it was encrypted).
    async fn image_of(&self, event: &RoomEvent) -> BridgeResult<Option<String>> {
        let content = if is_image(&event.content) {
            event.content.clone()
        } else {
            let replied =
                event.content.get("m.relates_to").and_then(|r| r.get("m.in_reply_to")).and_then(|r| r.get("event_id"));
            let Some(id) = replied.and_then(Value::as_str).and_then(|id| ruma::EventId::parse(id).ok()) else {
                return Ok(None);
            };
            match self.fetch_event(&event.room_id, &id).await? {
                Some(original) if is_image(&original.content) => original.content,
                _ => return Ok(None),
            }
        };
        if let Some(url) = content.get("url").and_then(Value::as_str) {
            return Ok(Some(url.to_owned()));
        }
        let Ok(data) = self.download_attachment(&content).await? else { return Ok(None) };
        let mimetype =
            content.get("info").and_then(|i| i.get("mimetype")).and_then(Value::as_str).unwrap_or("image/png");
        Ok(Some(self.upload_plain(data, mimetype).await?))
    }
}
