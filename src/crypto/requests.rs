//! Sending what a machine asks for (`outgoing_requests` → homeserver → `mark_request_as_sent`)
//! as its identity (`?user_id=…&device_id=…`), and the cross-signing key upload with
//! user-interactive auth: if the server answers 401 with flows, the advertised stage we can do
//! (`m.login.dummy`) is completed, threading the `session`.

use matrix_sdk_crypto::{
    OlmMachine,
    types::requests::{AnyIncomingResponse, AnyOutgoingRequest, OutgoingRequest, UploadSigningKeysRequest},
};
use ruma::{
    DeviceId, UserId,
    api::client::{
        keys::{get_keys, upload_signatures, upload_signing_keys},
        message::send_message_event,
        to_device::send_event_to_device,
        uiaa::{AuthData, Dummy},
    },
    events::{AnyMessageLikeEventContent, MessageLikeEventContent},
    serde::Raw,
};
use serde_json::Value;
use tracing::debug;

use super::CryptoError;
use crate::homeserver::{Homeserver, HsError};

/// Most request rounds one flush makes; a machine that keeps asking after this is retried
/// on its next use instead of looping here.
const MAX_ROUNDS: usize = 16;

/// Sends every outgoing request of `machine` until it has none left.
pub async fn flush(hs: &Homeserver, machine: &OlmMachine) -> Result<(), CryptoError> {
    for _ in 0..MAX_ROUNDS {
        let requests = machine.outgoing_requests().await.map_err(|e| CryptoError::Store(e.to_string()))?;
        if requests.is_empty() {
            return Ok(());
        }
        for request in requests {
            send_one(hs, machine, &request).await?;
        }
    }
    Ok(())
}

/// Sends one outgoing request as the machine's identity and marks it sent.
pub async fn send_one(hs: &Homeserver, machine: &OlmMachine, request: &OutgoingRequest) -> Result<(), CryptoError> {
    let user = machine.user_id();
    let device = machine.device_id();
    let id = request.request_id();
    match request.request() {
        AnyOutgoingRequest::KeysUpload(req) => {
            let resp = hs.send_as(req.clone(), Some(user), Some(device)).await?;
            debug!(%user, counts = ?resp.one_time_key_counts, "keys uploaded");
            mark(machine, id, (&resp).into()).await
        }
        AnyOutgoingRequest::KeysQuery(req) => {
            let mut q = get_keys::v3::Request::new();
            q.device_keys = req.device_keys.clone();
            q.timeout = req.timeout;
            let resp = hs.send_as(q, Some(user), Some(device)).await?;
            mark(machine, id, (&resp).into()).await
        }
        AnyOutgoingRequest::KeysClaim(req) => {
            let resp = hs.send_as(req.clone(), Some(user), Some(device)).await?;
            mark(machine, id, (&resp).into()).await
        }
        AnyOutgoingRequest::ToDeviceRequest(req) => {
            let r = send_event_to_device::v3::Request::new_raw(
                req.event_type.clone(),
                req.txn_id.clone(),
                req.messages.clone(),
            );
            let resp = hs.send_as(r, Some(user), Some(device)).await?;
            mark(machine, id, (&resp).into()).await
        }
        AnyOutgoingRequest::SignatureUpload(req) => {
            let resp = upload_signatures_checked(hs, user, device, req.clone()).await?;
            mark(machine, id, (&resp).into()).await
        }
        AnyOutgoingRequest::RoomMessage(req) => {
            let content: &AnyMessageLikeEventContent = &req.content;
            let raw = Raw::new(content).map_err(|e| CryptoError::Invalid(e.to_string()))?.cast_unchecked();
            let event_type = content.event_type();
            let r = send_message_event::v3::Request::new_raw(req.room_id.clone(), req.txn_id.clone(), event_type, raw);
            let resp = hs.send_as(r, Some(user), Some(device)).await?;
            mark(machine, id, (&resp).into()).await
        }
    }
}

async fn mark(
    machine: &OlmMachine,
    id: &ruma::TransactionId,
    resp: AnyIncomingResponse<'_>,
) -> Result<(), CryptoError> {
    machine.mark_request_as_sent(id, resp).await.map_err(|e| CryptoError::Store(e.to_string()))
}

/// `keys/signatures/upload`, where a 200 with a non-empty `failures` map is a failure.
pub async fn upload_signatures_checked(
    hs: &Homeserver,
    user: &UserId,
    device: &DeviceId,
    req: upload_signatures::v3::Request,
) -> Result<upload_signatures::v3::Response, CryptoError> {
    let resp = hs.send_as(req, Some(user), Some(device)).await?;
    if !resp.failures.is_empty() {
        let failures = serde_json::to_string(&resp.failures).unwrap_or_default();
        return Err(CryptoError::Rejected(format!("signature upload failures: {failures}")));
    }
    Ok(resp)
}

/// `keys/device_signing/upload`, completing user-interactive auth when the server asks.
pub async fn upload_signing_keys(
    hs: &Homeserver,
    user: &UserId,
    device: &DeviceId,
    keys: &UploadSigningKeysRequest,
) -> Result<upload_signing_keys::v3::Response, CryptoError> {
    let mut req = upload_signing_keys::v3::Request::new();
    req.master_key = keys.master_key.as_ref().map(|k| k.to_raw());
    req.self_signing_key = keys.self_signing_key.as_ref().map(|k| k.to_raw());
    req.user_signing_key = keys.user_signing_key.as_ref().map(|k| k.to_raw());
    match hs.send_as(req.clone(), Some(user), Some(device)).await {
        Ok(resp) => Ok(resp),
        Err(HsError::Matrix { status: 401, body, .. }) if body.get("flows").is_some() => {
            let session = body.get("session").and_then(Value::as_str).map(str::to_owned);
            if !offers_stage(&body, "m.login.dummy") {
                return Err(CryptoError::Rejected(format!(
                    "the homeserver wants user-interactive auth we cannot do for cross-signing keys: {}",
                    body.get("flows").cloned().unwrap_or_default()
                )));
            }
            debug!(%user, "completing m.login.dummy auth for the cross-signing upload");
            let mut dummy = Dummy::new();
            dummy.session = session;
            req.auth = Some(AuthData::Dummy(dummy));
            Ok(hs.send_as(req, Some(user), Some(device)).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether a UIA answer offers a flow whose stages are all `stage`.
fn offers_stage(body: &Value, stage: &str) -> bool {
    body.get("flows").and_then(Value::as_array).is_some_and(|flows| {
        flows.iter().any(|f| {
            f.get("stages").and_then(Value::as_array).is_some_and(|s| !s.is_empty() && s.iter().all(|x| x == stage))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stage_detection() {
        assert!(offers_stage(&json!({"flows": [{"stages": ["m.login.dummy"]}]}), "m.login.dummy"));
        assert!(offers_stage(
            &json!({"flows": [{"stages": ["m.login.password"]}, {"stages": ["m.login.dummy"]}]}),
            "m.login.dummy"
        ));
        assert!(!offers_stage(&json!({"flows": [{"stages": ["m.login.password"]}]}), "m.login.dummy"));
        assert!(!offers_stage(&json!({"flows": [{"stages": ["m.login.dummy", "m.login.password"]}]}), "m.login.dummy"));
        assert!(!offers_stage(&json!({}), "m.login.dummy"));
    }
}
