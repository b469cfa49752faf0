//! Files in rooms: downloading an attachment through the authenticated media API as the bot,
//! plain (`url`) or encrypted (`file`, decrypted with matrix-sdk-crypto's attachment
//! decryption, which also checks the file's hash).

use std::io::Read;

use matrix_sdk_crypto::{AttachmentDecryptor, AttachmentEncryptor, MediaEncryptionInfo};
use ruma::{
    MxcUri, RoomId,
    api::client::{authenticated_media::get_content, media::create_content},
    events::room::EncryptedFile,
};
use serde_json::{Value, json};

use super::{Bridge, BridgeResult};
use crate::core::message::Content;

/// Largest file the bot downloads (an export of 1,000 members is a few MB).
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;

impl Bridge {
    /// Uploads `data` as the bot and returns the `m.file` content for `room`: encrypted (with
    /// matrix-sdk-crypto's attachment encryption) where the room is, plain elsewhere.
    pub(super) async fn file_content(
        &self,
        room: &RoomId,
        filename: &str,
        mimetype: &str,
        data: Vec<u8>,
    ) -> BridgeResult<Content> {
        let size = data.len();
        let encrypted = match &self.crypto {
            Some(crypto) => crypto.is_encrypted(&self.settings.bot, room).await?,
            None => false,
        };
        let (upload, info) = if encrypted {
            let mut reader = std::io::Cursor::new(data);
            let mut encryptor = AttachmentEncryptor::new(&mut reader);
            let mut ciphertext = Vec::new();
            encryptor
                .read_to_end(&mut ciphertext)
                .map_err(|e| super::BridgeError::Invalid(format!("encrypting the file: {e}")))?;
            (ciphertext, Some(encryptor.finish()))
        } else {
            (data, None)
        };
        let mut req = create_content::v3::Request::new(upload);
        req.filename = Some(filename.to_owned());
        req.content_type = Some(if info.is_some() { "application/octet-stream" } else { mimetype }.to_owned());
        let uri = self.hs.send(req, Some(&self.settings.bot)).await?.content_uri;
        let mut content = json!({"msgtype": "m.file", "body": filename, "filename": filename,
                                 "info": {"mimetype": mimetype, "size": size}, "m.mentions": {}});
        match info {
            Some(info) => {
                let mut file = serde_json::to_value(&info).unwrap_or_default();
                file["url"] = json!(uri);
                content["file"] = file;
            }
            None => content["url"] = json!(uri),
        }
        Ok(content.as_object().cloned().unwrap_or_default())
    }

    /// Uploads `data` unencrypted as the bot; returns its `mxc://` URI.
    pub(super) async fn upload_plain(&self, data: Vec<u8>, mimetype: &str) -> BridgeResult<String> {
        let mut req = create_content::v3::Request::new(data);
        req.content_type = Some(mimetype.to_owned());
        Ok(self.hs.send(req, Some(&self.settings.bot)).await?.content_uri.to_string())
    }

    /// The attachment of a message, decrypted where it is encrypted. `Ok(Err(why))` when the
    /// message has no usable file (the reason is for the user).
    pub(super) async fn download_attachment(&self, content: &Content) -> BridgeResult<Result<Vec<u8>, String>> {
        let size = content.get("info").and_then(|i| i.get("size")).and_then(Value::as_u64);
        if size.is_some_and(|s| s > MAX_FILE_BYTES as u64) {
            return Ok(Err(format!("That file is too large (at most {} MB).", MAX_FILE_BYTES / 1024 / 1024)));
        }
        let encrypted: Option<EncryptedFile> = content.get("file").and_then(|f| serde_json::from_value(f.clone()).ok());
        let url = match (&encrypted, content.get("url").and_then(Value::as_str)) {
            (Some(file), _) => file.url.to_string(),
            (None, Some(url)) => url.to_owned(),
            (None, None) => return Ok(Err("That message has no file attached.".to_owned())),
        };
        let Ok(request) = get_content::v1::Request::from_uri(<&MxcUri>::from(url.as_str())) else {
            return Ok(Err("That file's address is not an `mxc://` URI.".to_owned()));
        };
        let data = self.hs.send(request, Some(&self.settings.bot)).await?.file;
        if data.len() > MAX_FILE_BYTES {
            return Ok(Err(format!("That file is too large (at most {} MB).", MAX_FILE_BYTES / 1024 / 1024)));
        }
        let Some(file) = encrypted else { return Ok(Ok(data)) };
        let mut reader = std::io::Cursor::new(data);
        let info = MediaEncryptionInfo::from(file);
        let mut decrypted = Vec::new();
        let result = AttachmentDecryptor::new(&mut reader, info).map(|mut d| d.read_to_end(&mut decrypted));
        match result {
            Ok(Ok(_)) => Ok(Ok(decrypted)),
            _ => Ok(Err("That encrypted file could not be decrypted (its key or hash does not match).".to_owned())),
        }
    }
}
