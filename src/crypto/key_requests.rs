//! Asking for room keys that never reached us. Synapse drops to-device messages (room keys)
//! for an appservice that is down and never re-sends them, and an appservice cannot read
//! them any other way. So when the bot cannot decrypt an event it asks the device that sent
//! it (`m.room_key_request`, in the clear, from the bot's own device); a client like Element
//! re-shares the session to that device if it is still its current session and was shared
//! with it before, as an Olm-encrypted `m.forwarded_room_key`.
//!
//! matrix-sdk-crypto accepts forwarded keys only for requests it made itself to its own
//! user's verified devices, and drops ours. So the answer is taken narrowly here, before the
//! machine sees the message: a throwaway copy of the bot's Olm state (fresh from the store,
//! never saved) decrypts it, and the key is imported only if it is exactly a session we asked
//! for, sent over an Olm session with the very device that created that Megolm session
//! (Olm sender key = the session's `sender_key` = that device's known curve key), with the
//! device's known signing key, for us, with an empty forwarding chain, and its session ID
//! checks out. Then the machine processes the message as usual.

use std::collections::BTreeMap;

use matrix_sdk_crypto::{
    OlmMachine,
    olm::ExportedRoomKey,
    store::types::RoomKeyInfo,
    vodozemac::{
        Curve25519PublicKey,
        megolm::{ExportedSessionKey, InboundGroupSession, SessionConfig},
        olm::OlmMessage,
    },
};
use ruma::{
    OwnedDeviceId, OwnedTransactionId, OwnedUserId, RoomId, UserId,
    api::client::to_device::send_event_to_device,
    events::{AnyToDeviceEvent, AnyToDeviceEventContent, ToDeviceEventType},
    serde::Raw,
    to_device::DeviceIdOrAllDevices,
};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::{Crypto, CryptoError};
use crate::{
    core::ids::txn_id,
    db::{KeyRequest, now_ms},
};

/// A request is sent again while its events wait (the answer, a to-device message, is
/// dropped by Synapse if we are down when it comes; the other side drops requests from devices
/// it does not know yet): after 5 s, then twice as long each time up to a minute, and at once
/// after a restart; at most `MAX_REQUESTS` times in all. Soon matters: a client re-shares only
/// its *current* session, which lasts about 100 messages.
const FIRST_WAIT_MS: i64 = 5_000;
const LONGEST_WAIT_MS: i64 = 60_000;
const MAX_REQUESTS: i64 = 12;

/// Whether a request for a session already asked `attempts` times, last at `sent_at`, is due
/// again at `now`, in a process that started at `started_at`.
fn ask_again(attempts: i64, sent_at: i64, now: i64, started_at: i64) -> bool {
    if attempts >= MAX_REQUESTS {
        return false;
    }
    if sent_at < started_at {
        return true; // its answer may have come while we were down
    }
    let wait = FIRST_WAIT_MS.saturating_mul(1 << (attempts - 1).clamp(0, 8)).min(LONGEST_WAIT_MS);
    now - sent_at >= wait
}

const MEGOLM: &str = "m.megolm.v1.aes-sha2";
const OLM: &str = "m.olm.v1.curve25519-aes-sha2";

impl Crypto {
    /// Asks the device that sent `content` (an `m.room.encrypted` Megolm content) for its
    /// room key, unless asked recently or often enough.
    pub async fn request_room_key(
        &self,
        bot: &UserId,
        room: &RoomId,
        sender: &UserId,
        content: &Value,
    ) -> Result<(), CryptoError> {
        let text = |k: &str| content.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(session_id), Some(sender_key), Some(device)) =
            (text("session_id"), text("sender_key"), text("device_id"))
        else {
            return Ok(()); // nothing to address the request to
        };
        if text("algorithm").as_deref() != Some(MEGOLM) {
            return Ok(());
        }
        let now = now_ms();
        let known = self.db.key_request(&session_id).await?;
        if known.as_ref().is_some_and(|k| !ask_again(k.attempts, k.sent_at, now, self.started_at)) {
            return Ok(());
        }
        let request = KeyRequest {
            session_id,
            room_id: room.to_string(),
            sender: sender.to_string(),
            sender_device: device,
            sender_key,
            request_id: String::new(),
            sent_at: now,
            attempts: known.map_or(1, |k| k.attempts + 1),
        };
        self.send_key_request(bot, request).await
    }

    /// Sends again the requests that are due for sessions whose events still wait (without
    /// this they would be asked again only when their events are tried again). Returns how
    /// many were sent.
    pub async fn repeat_key_requests(&self, bot: &UserId) -> Result<usize, CryptoError> {
        let now = now_ms();
        let mut sent = 0;
        for known in self.db.open_key_requests(MAX_REQUESTS).await? {
            if ask_again(known.attempts, known.sent_at, now, self.started_at) {
                let request = KeyRequest { sent_at: now, attempts: known.attempts + 1, ..known };
                self.send_key_request(bot, request).await?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Sends `request` (its `attempts` already counting this one) to the device named in it,
    /// in the clear, from the bot's device, and records it.
    async fn send_key_request(&self, bot: &UserId, request: KeyRequest) -> Result<(), CryptoError> {
        // A new request ID each time: a client that answered an ID once (its answer may have
        // been dropped like the key was) may not answer it again.
        let request = KeyRequest {
            request_id: txn_id(&request.session_id, &format!("key-request-{}", request.attempts)),
            ..request
        };
        let machine = self.identity(bot).await?;
        let body = json!({
            "action": "request",
            "request_id": request.request_id,
            "requesting_device_id": machine.device_id(),
            "body": {"algorithm": MEGOLM, "room_id": request.room_id, "sender_key": request.sender_key,
                     "session_id": request.session_id},
        });
        let raw: Raw<AnyToDeviceEventContent> =
            Raw::new(&body).map_err(|e| CryptoError::Invalid(e.to_string()))?.cast_unchecked();
        let sender = UserId::parse(request.sender.as_str()).map_err(|e| CryptoError::Invalid(e.to_string()))?;
        let device_id: OwnedDeviceId = request.sender_device.as_str().into();
        let mut messages = BTreeMap::new();
        messages.insert(sender, BTreeMap::from([(DeviceIdOrAllDevices::DeviceId(device_id), raw)]));
        let txn: OwnedTransactionId = txn_id(&request.request_id, "send").into();
        let req = send_event_to_device::v3::Request::new_raw(ToDeviceEventType::RoomKeyRequest, txn, messages);
        self.hs.send_as(req, Some(bot), Some(machine.device_id())).await?;
        self.db.record_key_request(&request).await?;
        info!(
            room = request.room_id,
            sender = request.sender,
            device = request.sender_device,
            session_id = request.session_id,
            attempt = request.attempts,
            "asked the sender's device for a room key"
        );
        Ok(())
    }

    /// Takes the room keys we asked for out of `events` (to-device events for the bot),
    /// checked as described above, and imports them. Returns what was imported.
    pub(super) async fn take_forwarded_keys(
        &self,
        machine: &OlmMachine,
        events: &[Raw<AnyToDeviceEvent>],
    ) -> Result<Vec<RoomKeyInfo>, CryptoError> {
        let mut imported = Vec::new();
        for raw in events {
            let Ok(event) = raw.deserialize_as_unchecked::<Value>() else { continue };
            let content = &event["content"];
            if event["type"] != "m.room.encrypted" || content["algorithm"] != OLM {
                continue;
            }
            let Some(olm_sender_key) = content["sender_key"].as_str() else { continue };
            let requests = self.db.key_requests_by_sender_key(olm_sender_key).await?;
            if requests.is_empty() {
                continue;
            }
            match self.peek_forwarded(machine, &event, olm_sender_key, &requests).await {
                Ok(Some(key)) => {
                    let info = RoomKeyInfo {
                        algorithm: key.algorithm.clone(),
                        room_id: key.room_id.clone(),
                        sender_key: key.sender_key,
                        session_id: key.session_id.clone(),
                    };
                    machine
                        .store()
                        .import_exported_room_keys(vec![key], |_, _| {})
                        .await
                        .map_err(|e| CryptoError::Store(e.to_string()))?;
                    self.db.forget_key_request(&info.session_id).await?;
                    info!(room = %info.room_id, session_id = info.session_id, "imported a room key we asked for");
                    imported.push(info);
                }
                Ok(None) => {}
                Err(why) => warn!(sender_key = olm_sender_key, why, "refused a forwarded room key"),
            }
        }
        Ok(imported)
    }

    /// Decrypts a copy of one Olm message from the device with curve key `olm_sender_key` and
    /// checks it answers one of `requests` (all for sessions of that device). `Ok(None)`: not
    /// for us to take (another message from that device); `Err`: an answer failing a check.
    async fn peek_forwarded(
        &self,
        machine: &OlmMachine,
        event: &Value,
        olm_sender_key: &str,
        requests: &[KeyRequest],
    ) -> Result<Option<ExportedRoomKey>, String> {
        let sender = event["sender"].as_str().unwrap_or_default();
        let ours = machine.identity_keys();
        let Ok(message) =
            serde_json::from_value::<OlmMessage>(event["content"]["ciphertext"][ours.curve25519.to_base64()].clone())
        else {
            return Ok(None);
        };
        // Decrypting with our Olm state for this curve key proves the message is from it.
        let Ok(their_key) = Curve25519PublicKey::from_base64(olm_sender_key) else { return Ok(None) };
        let Some(plaintext) = shadow_decrypt(machine, their_key, &message).await else {
            debug!(sender, "could not read a copy of an Olm message");
            return Ok(None);
        };
        let payload: Value = serde_json::from_str(&plaintext).map_err(|e| e.to_string())?;
        if payload["type"] != "m.forwarded_room_key" {
            return Ok(None);
        }
        let c = &payload["content"];
        let asked = requests.iter().find(|r| {
            c["session_id"].as_str() == Some(r.session_id.as_str())
                && c["room_id"].as_str() == Some(r.room_id.as_str())
                && r.sender == sender
                && r.sender_key == olm_sender_key
        });
        let Some(request) = asked else {
            return Ok(None); // not a session we asked this device for: we take nothing else
        };
        // Who sent it, to whom, with which keys.
        let sender_id = UserId::parse(sender).map_err(|e| e.to_string())?;
        let device_id: OwnedDeviceId = request.sender_device.as_str().into();
        let device = machine
            .get_device(&sender_id, &device_id, None)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the sending device is unknown")?;
        let device_curve = device.curve25519_key().map(|k| k.to_base64());
        let device_ed = device.ed25519_key().map(|k| k.to_base64()).ok_or("the device has no signing key")?;
        let bot: OwnedUserId = machine.user_id().to_owned();
        let checks = [
            (payload["sender"].as_str() == Some(sender), "sender"),
            (payload["recipient"].as_str() == Some(bot.as_str()), "recipient"),
            (payload["recipient_keys"]["ed25519"].as_str() == Some(ours.ed25519.to_base64().as_str()), "recipient key"),
            (payload["keys"]["ed25519"].as_str() == Some(device_ed.as_str()), "sender's signing key"),
            (device_curve.as_deref() == Some(request.sender_key.as_str()), "device's curve key"),
            (c["algorithm"] == MEGOLM, "algorithm"),
            (c["sender_key"].as_str() == Some(request.sender_key.as_str()), "session's sender key"),
            (c["sender_claimed_ed25519_key"].as_str() == Some(device_ed.as_str()), "claimed signing key"),
            (c["forwarding_curve25519_key_chain"].as_array().is_some_and(Vec::is_empty), "forwarding chain"),
        ];
        if let Some((_, what)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(format!("{what} does not match"));
        }
        let session_key = c["session_key"].as_str().ok_or("no session key")?;
        let exported = ExportedSessionKey::from_base64(session_key).map_err(|e| e.to_string())?;
        if InboundGroupSession::import(&exported, SessionConfig::version_1()).session_id() != request.session_id {
            return Err("the session key is for another session".into());
        }
        let key: ExportedRoomKey = serde_json::from_value(json!({
            "algorithm": MEGOLM,
            "room_id": request.room_id,
            "sender_key": request.sender_key,
            "session_id": request.session_id,
            "session_key": session_key,
            "sender_claimed_keys": {"ed25519": device_ed},
            "forwarding_curve25519_key_chain": [],
        }))
        .map_err(|e| e.to_string())?;
        Ok(Some(key))
    }
}

/// Decrypts `message` with copies of the bot's Olm sessions with `their_key` (or, for a
/// pre-key message, a copy of its account), all loaded fresh from the store and dropped
/// afterwards: the machine's own state is untouched.
async fn shadow_decrypt(machine: &OlmMachine, their_key: Curve25519PublicKey, message: &OlmMessage) -> Option<String> {
    let store = machine.store();
    let sessions = (**store).get_sessions(&their_key.to_base64()).await.ok().flatten().unwrap_or_default();
    for mut session in sessions {
        if let Ok(plaintext) = session.decrypt(message).await {
            return Some(plaintext);
        }
    }
    let OlmMessage::PreKey(prekey) = message else { return None };
    let mut account = (**store).load_account().await.ok().flatten()?;
    let own = machine.get_device(machine.user_id(), machine.device_id(), None).await.ok().flatten()?;
    account.create_inbound_session(their_key, own.as_device_keys().clone(), prekey).ok().map(|r| r.plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_repeated_sooner_at_first_and_at_once_after_a_restart() {
        let start = 1_000_000;
        let t = start + 100_000;
        assert!(!ask_again(1, t, t + 4_999, start), "too soon after the first");
        assert!(ask_again(1, t, t + 5_000, start));
        assert!(!ask_again(2, t, t + 9_999, start));
        assert!(ask_again(2, t, t + 10_000, start));
        assert!(!ask_again(9, t, t + 59_999, start), "capped at a minute");
        assert!(ask_again(9, t, t + 60_000, start));
        assert!(ask_again(3, start - 1, start + 1, start), "asked by an earlier process: at once");
        assert!(!ask_again(MAX_REQUESTS, start - 1, t + 3_600_000, start), "bounded");
    }
}
