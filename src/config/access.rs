//! `[access]`: who may use the bridge and how much (see `core::access`).

use serde::{Deserialize, Serialize};

/// Who may use the bridge (see `core::access`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// Who may create a system: Matrix ID patterns (`*` = any run of characters); empty means
    /// the users of `homeserver.domain`.
    pub allow: Vec<String>,
    /// Who may not use the bridge at all (admins never are).
    pub deny: Vec<String>,
    /// Members per system.
    pub max_members: usize,
    /// Groups per system.
    pub max_groups: usize,
    /// Who may invite the bot: `anyone` or `allowed` (those `allow` lets create a system).
    pub bot_invites: BotInvitesConfig,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self { allow: vec![], deny: vec![], max_members: 1000, max_groups: 250, bot_invites: BotInvitesConfig::Anyone }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BotInvitesConfig {
    Anyone,
    Allowed,
}

impl AccessConfig {
    pub fn policy(&self, admins: &[String], domain: &str) -> crate::core::access::AccessPolicy {
        let invites = match self.bot_invites {
            BotInvitesConfig::Anyone => crate::core::access::BotInvites::Anyone,
            BotInvitesConfig::Allowed => crate::core::access::BotInvites::Allowed,
        };
        crate::core::access::AccessPolicy::new(&self.allow, &self.deny, admins, invites, domain)
    }
}
