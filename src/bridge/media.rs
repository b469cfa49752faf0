//! Files in rooms: downloading an attachment through the authenticated media API as the bot,
//! plain (`url`) or encrypted (`file`, decrypted with matrix-sdk-crypto's attachment
//! decryption, which also checks the file's hash).

use std::io::Read;

use matrix_sdk_crypto::{AttachmentDecryptor, MediaEncryptionInfo};
use ruma::{MxcUri, api::client::authenticated_media::get_content, events::room::EncryptedFile};
use serde_json::Value;

use super::{Bridge, BridgeResult};
use crate::core::message::Content;

/// Largest file the bot downloads (an export of 1,000 members is a few MB).
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;

impl Bridge {
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
