//! Imported avatars re-hosted for the member accounts: an `https://` avatar from an import is
//! fetched (size and time limits, global addresses only, the checked address pinned so DNS
//! cannot change it between check and fetch, no redirects), uploaded to the homeserver, and
//! recorded beside the URL, which stays in the data for export. Best effort: a failure is
//! logged and the member simply shows no avatar.

use std::{net::SocketAddr, time::Duration};

use tracing::{info, warn};

use super::Bridge;
use crate::core::addresses::is_global;

/// How avatars are fetched (`[import]`); `None` in the settings turns fetching off.
#[derive(Debug, Clone)]
pub struct AvatarFetch {
    pub max_bytes: usize,
    pub timeout: Duration,
    /// Loopback, private addresses and plain `http://` too (local tests only).
    pub allow_private: bool,
}

impl AvatarFetch {
    /// Fetches an image; `Err` says why not (for the log).
    async fn fetch(&self, url: &str) -> Result<(Vec<u8>, String), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        let plain_ok = self.allow_private && parsed.scheme() == "http";
        if parsed.scheme() != "https" && !plain_ok {
            return Err("only https:// is fetched".to_owned());
        }
        let host = parsed.host_str().ok_or("no host")?.to_owned();
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        let addr = addrs
            .into_iter()
            .find(|a| self.allow_private || is_global(a.ip()))
            .ok_or_else(|| format!("{host} has no public address"))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .resolve(&host, addr)
            .build()
            .map_err(|e| e.to_string())?;
        let mut resp = client.get(parsed).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status()));
        }
        let mimetype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !mimetype.starts_with("image/") {
            return Err(format!("not an image ({mimetype})"));
        }
        let mut data = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            data.extend_from_slice(&chunk);
            if data.len() > self.max_bytes {
                return Err(format!("larger than {} bytes", self.max_bytes));
            }
        }
        Ok((data, mimetype))
    }
}

impl Bridge {
    /// Re-hosts the system's imported avatars that are not yet (run after an import, in the
    /// background).
    pub async fn rehost_avatars(&self, system_id: i64) {
        let Some(fetch) = self.settings.avatar_fetch.clone() else { return };
        let todo = match self.db.avatars_to_rehost(system_id).await {
            Ok(todo) => todo,
            Err(e) => return warn!(error = %e, "cannot list avatars to fetch"),
        };
        let mut done = 0;
        for (member, url) in todo {
            let result = match fetch.fetch(&url).await {
                Ok((data, mimetype)) => self.upload_plain(data, &mimetype).await.map_err(|e| e.to_string()),
                Err(why) => Err(why),
            };
            match result {
                Ok(mxc) => match self.db.set_rehosted_avatar(member, &url, &mxc).await {
                    Ok(()) => done += 1,
                    Err(e) => warn!(member, error = %e, "cannot record a fetched avatar"),
                },
                Err(why) => warn!(member, url = %url, why = %why, "avatar not fetched"),
            }
        }
        info!(system_id, done, "imported avatars fetched");
    }
}
