//! The daemon's configuration: loading (TOML file + `PLURALMATRIX__SECTION__KEY` environment,
//! via figment), validation, resolving relative paths against the config file, and printing
//! the effective values with secrets masked.

mod access;
mod import;
mod operations;

pub use access::{AccessConfig, BotInvitesConfig};
pub use import::ImportConfig;
pub use operations::{LoggingConfig, MetricsConfig};

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Environment prefix for overrides: `PLURALMATRIX__APPSERVICE__AS_TOKEN=…`.
pub const ENV_PREFIX: &str = "PLURALMATRIX__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} not found (pass -c FILE or set PLURALMATRIX_CONFIG)")]
    NotFound(PathBuf),
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("config file {path}: {key}: {message}")]
    BadValue { path: PathBuf, key: &'static str, message: String },
    #[error("config file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub homeserver: HomeserverConfig,
    pub appservice: AppserviceConfig,
    pub database: DatabaseConfig,
    pub encryption: EncryptionConfig,
    pub commands: CommandsConfig,
    pub proxy: ProxyConfig,
    pub admin: AdminConfig,
    pub engine: EngineConfig,
    pub access: AccessConfig,
    pub import: ImportConfig,
    pub metrics: MetricsConfig,
    pub logging: LoggingConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Lines handled at the same time (one sender's messages in a room, or a room's state
    /// events; each line in order).
    pub rooms_in_flight: usize,
    /// `/health` answers 503 when work has waited longer than this.
    pub stall_seconds: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { rooms_in_flight: 32, stall_seconds: 120 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HomeserverConfig {
    /// Client-server API base URL.
    pub url: String,
    /// `server_name`: the part after `:` in user IDs.
    pub domain: String,
    /// Tries per request while the homeserver is unreachable or busy (with growing pauses,
    /// about 1.5 minutes for the default 10); after that the transaction waits in the journal.
    pub retry_attempts: u32,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AppserviceConfig {
    pub id: String,
    /// Where the daemon listens for the homeserver.
    pub listen: String,
    /// How the homeserver reaches the daemon (written into the registration).
    pub url: String,
    pub as_token: String,
    pub hs_token: String,
    pub bot_localpart: String,
    pub ghost_prefix: String,
    /// Largest transaction body accepted, in bytes.
    pub max_body_bytes: usize,
}

/// Tokens are secrets: `Debug` (and so every `{:?}` of a `Config`) shows only whether they
/// are set.
impl std::fmt::Debug for AppserviceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppserviceConfig")
            .field("id", &self.id)
            .field("listen", &self.listen)
            .field("url", &self.url)
            .field("as_token", &mask(&self.as_token))
            .field("hs_token", &mask(&self.hs_token))
            .field("bot_localpart", &self.bot_localpart)
            .field("ghost_prefix", &self.ghost_prefix)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// How a secret is shown: whether it is set, and how long it is.
fn mask(secret: &str) -> String {
    if secret.is_empty() { String::new() } else { format!("<set, {} characters>", secret.chars().count()) }
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path` (relative paths resolve against the config file) or `postgres://…`.
    pub url: String,
}

/// Shows the URL with its password (if any) masked.
impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig").field("url", &crate::db::redact_url(&self.url)).finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EncryptionConfig {
    pub enabled: bool,
    pub store_dir: PathBuf,
    /// Crypto machines kept open at once (least recently used ones are closed).
    pub max_open_machines: usize,
    /// Which devices get room keys: `all`, or only `cross-signed` ones.
    pub share_with: crate::crypto::ShareWith,
    /// How long an encrypted message waits for its room key before the sender is told.
    pub room_key_wait_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CommandsConfig {
    pub prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Minutes a latch holds without a proxied message; 0 = forever.
    pub latch_timeout_minutes: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Matrix IDs allowed to run bridge-admin commands.
    pub users: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            homeserver: HomeserverConfig::default(),
            appservice: AppserviceConfig::default(),
            database: DatabaseConfig::default(),
            encryption: EncryptionConfig::default(),
            commands: CommandsConfig::default(),
            proxy: ProxyConfig::default(),
            admin: AdminConfig::default(),
            engine: EngineConfig::default(),
            access: AccessConfig::default(),
            import: ImportConfig::default(),
            metrics: MetricsConfig::default(),
            logging: LoggingConfig::default(),
        }
    }
}

impl Default for HomeserverConfig {
    fn default() -> Self {
        Self { url: "http://127.0.0.1:8008".into(), domain: "localhost".into(), retry_attempts: 10 }
    }
}

impl Default for AppserviceConfig {
    fn default() -> Self {
        Self {
            id: "pluralmatrix".into(),
            listen: "127.0.0.1:9003".into(),
            url: "http://127.0.0.1:9003".into(),
            as_token: String::new(),
            hs_token: String::new(),
            bot_localpart: "plural_bot".into(),
            ghost_prefix: "_plural_".into(),
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: "sqlite://data/pluralmatrix.db".into() }
    }
}

impl Default for EncryptionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            store_dir: PathBuf::from("data/crypto"),
            max_open_machines: 128,
            share_with: crate::crypto::ShareWith::All,
            room_key_wait_seconds: 600,
        }
    }
}

impl Default for CommandsConfig {
    fn default() -> Self {
        Self { prefix: "pk;".into() }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self { latch_timeout_minutes: 360 }
    }
}

/// Where the config file is: `-c`, else `$PLURALMATRIX_CONFIG`, else `./config.toml`
/// (clap fills in the environment variable).
pub fn config_path(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| PathBuf::from("config.toml"))
}

/// A loaded, validated configuration and the file it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub config: Config,
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    }
}

/// Loads the file plus environment overrides, resolves relative paths, and validates.
/// `require_tokens`: `run` needs tokens; `generate-registration` creates them.
pub fn load(path: &Path, require_tokens: bool) -> Result<Loaded, ConfigError> {
    if !path.is_file() {
        return Err(ConfigError::NotFound(path.to_path_buf()));
    }
    let path = absolute(path);
    let figment = Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::file_exact(&path))
        .merge(Env::prefixed(ENV_PREFIX).split("__"));
    let mut config: Config =
        figment.extract().map_err(|e| ConfigError::Invalid { path: path.clone(), message: describe(e) })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    config.resolve_paths(&base);
    config.validate(&path, require_tokens)?;
    Ok(Loaded { path, config })
}

/// figment's errors, folded into one line.
fn describe(e: figment::Error) -> String {
    let mut parts = Vec::new();
    for err in e {
        let key = err.path.join(".");
        let kind = err.kind.to_string();
        parts.push(if key.is_empty() { kind } else { format!("{key}: {kind}") });
    }
    parts.join("; ")
}

impl Config {
    fn resolve_paths(&mut self, base: &Path) {
        if let Some(rest) = self.database.url.strip_prefix("sqlite:") {
            let rest = rest.trim_start_matches("//");
            if !rest.starts_with(':') && !rest.is_empty() {
                let (file, query) = rest.split_once('?').map_or((rest, None), |(f, q)| (f, Some(q)));
                let file = Path::new(file);
                let abs = if file.is_absolute() { file.to_path_buf() } else { base.join(file) };
                self.database.url = match query {
                    Some(q) => format!("sqlite://{}?{q}", abs.display()),
                    None => format!("sqlite://{}", abs.display()),
                };
            }
        }
        if self.encryption.store_dir.is_relative() {
            self.encryption.store_dir = base.join(&self.encryption.store_dir);
        }
    }

    fn validate(&self, path: &Path, require_tokens: bool) -> Result<(), ConfigError> {
        let bad = |key: &'static str, message: String| ConfigError::BadValue { path: path.to_path_buf(), key, message };
        let http_url = |key: &'static str, v: &str| -> Result<(), ConfigError> {
            match reqwest::Url::parse(v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
                _ => Err(bad(key, format!("`{v}` is not an http(s) URL"))),
            }
        };
        http_url("homeserver.url", &self.homeserver.url)?;
        if self.homeserver.domain.is_empty() || self.homeserver.domain.contains(['/', '@', ' ']) {
            return Err(bad("homeserver.domain", format!("`{}` is not a server name", self.homeserver.domain)));
        }
        if self.homeserver.retry_attempts == 0 {
            return Err(bad("homeserver.retry_attempts", "must be at least 1".into()));
        }
        if self.engine.rooms_in_flight == 0 {
            return Err(bad("engine.rooms_in_flight", "must be at least 1".into()));
        }
        if self.engine.stall_seconds == 0 {
            return Err(bad("engine.stall_seconds", "must be at least 1".into()));
        }
        if self.access.max_members == 0 {
            return Err(bad("access.max_members", "must be at least 1".into()));
        }
        if self.import.max_avatar_bytes == 0 || self.import.avatar_timeout_seconds == 0 {
            return Err(bad("import.max_avatar_bytes", "and import.avatar_timeout_seconds must be at least 1".into()));
        }
        if self.access.max_groups == 0 {
            return Err(bad("access.max_groups", "must be at least 1".into()));
        }
        for (key, patterns) in [("access.allow", &self.access.allow), ("access.deny", &self.access.deny)] {
            if let Some(p) = patterns.iter().find(|p| p.is_empty() || p.chars().any(char::is_whitespace)) {
                return Err(bad(key, format!("`{p}` is not a Matrix ID pattern (like \"@*:example.org\")")));
            }
        }
        let a = &self.appservice;
        if a.id.is_empty() {
            return Err(bad("appservice.id", "must not be empty".into()));
        }
        a.listen
            .parse::<SocketAddr>()
            .map_err(|_| bad("appservice.listen", format!("`{}` is not an address like 127.0.0.1:9003", a.listen)))?;
        http_url("appservice.url", &a.url)?;
        let localpart_ok = |s: &str| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-/+".contains(&b))
        };
        if !localpart_ok(&a.bot_localpart) {
            return Err(bad("appservice.bot_localpart", format!("`{}` is not a valid localpart", a.bot_localpart)));
        }
        if !localpart_ok(&a.ghost_prefix) {
            return Err(bad("appservice.ghost_prefix", format!("`{}` is not valid in a localpart", a.ghost_prefix)));
        }
        if a.bot_localpart.starts_with(&a.ghost_prefix) {
            return Err(bad("appservice.bot_localpart", "must not start with ghost_prefix".into()));
        }
        if a.max_body_bytes < 64 * 1024 {
            return Err(bad("appservice.max_body_bytes", "must be at least 65536".into()));
        }
        if require_tokens {
            if a.as_token.is_empty() {
                return Err(bad(
                    "appservice.as_token",
                    "is empty: run `pluralmatrix generate-registration` first".into(),
                ));
            }
            if a.hs_token.is_empty() {
                return Err(bad(
                    "appservice.hs_token",
                    "is empty: run `pluralmatrix generate-registration` first".into(),
                ));
            }
        }
        if !a.as_token.is_empty() && a.as_token == a.hs_token {
            return Err(bad("appservice.hs_token", "must differ from as_token".into()));
        }
        let db = &self.database.url;
        if crate::db::Backend::of(db).is_err() {
            let shown = crate::db::redact_url(db);
            return Err(bad("database.url", format!("`{shown}` is neither a sqlite:// nor a postgres:// URL")));
        }
        if self.encryption.max_open_machines == 0 {
            return Err(bad("encryption.max_open_machines", "must be at least 1".into()));
        }
        if self.commands.prefix.trim().is_empty() || self.commands.prefix.contains(char::is_whitespace) {
            return Err(bad("commands.prefix", "must be non-empty and without spaces".into()));
        }
        for user in &self.admin.users {
            if ruma::UserId::parse(user.as_str()).is_err() {
                return Err(bad("admin.users", format!("`{user}` is not a Matrix user ID")));
            }
        }
        self.metrics.check().and_then(|()| self.logging.check()).map_err(|(key, message)| bad(key, message))
    }

    /// The bot's user ID.
    pub fn bot_user_id(&self) -> String {
        format!("@{}:{}", self.appservice.bot_localpart, self.homeserver.domain)
    }

    /// The effective configuration as TOML, with tokens masked.
    pub fn masked_toml(&self) -> String {
        let mut shown = self.clone();
        for token in [&mut shown.appservice.as_token, &mut shown.appservice.hs_token] {
            *token = mask(token);
        }
        shown.database.url = crate::db::redact_url(&shown.database.url);
        toml::to_string(&shown).unwrap_or_else(|e| format!("# could not render: {e}\n"))
    }
}

#[cfg(test)]
mod tests;
