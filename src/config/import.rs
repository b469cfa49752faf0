//! `[import]`: fetching the `https://` avatars of imported members, to show them on the
//! member accounts (re-hosted as `mxc://`), with limits on size, time and where from.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ImportConfig {
    /// Fetch imported avatars and upload them to the homeserver for the member accounts.
    pub fetch_avatars: bool,
    /// Largest avatar fetched.
    pub max_avatar_bytes: usize,
    /// Time allowed for one avatar.
    pub avatar_timeout_seconds: u64,
    /// Also fetch from loopback, private and link-local addresses, and over plain `http://`.
    /// Never on a real deployment: it lets an import make the daemon fetch from the
    /// operator's own network. For local tests only.
    pub allow_private_addresses: bool,
}

impl Default for ImportConfig {
    fn default() -> Self {
        Self {
            fetch_avatars: true,
            max_avatar_bytes: 8 * 1024 * 1024,
            avatar_timeout_seconds: 10,
            allow_private_addresses: false,
        }
    }
}
