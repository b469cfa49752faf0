//! `[metrics]` and `[logging]`: what an operator watches the daemon with.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve Prometheus metrics at `GET /metrics`.
    pub enabled: bool,
    /// A separate address for `/metrics` (empty: on `appservice.listen`).
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { enabled: true, listen: String::new() }
    }
}

impl MetricsConfig {
    /// `Err`: the key and what is wrong with it.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !self.listen.is_empty() && self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(("metrics.listen", format!("`{}` is not an address like 127.0.0.1:9004", self.listen)));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// `text` (for people) or `json` (one object per line, for log collectors).
    pub format: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self { format: "text".to_owned() }
    }
}

impl LoggingConfig {
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        match self.format.as_str() {
            "text" | "json" => Ok(()),
            other => Err(("logging.format", format!("`{other}` is neither \"text\" nor \"json\""))),
        }
    }

    pub fn json(&self) -> bool {
        self.format == "json"
    }
}
