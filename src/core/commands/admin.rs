//! `pk;admin …`: bridge administration, for `admin.users` only (others get the answer any
//! unknown command gets, so the command does not advertise itself).

use super::{ParseError, args::Args, usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GhostCryptoAction {
    Status,
    Reset,
    Restore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// `pk;admin`: the admin commands.
    Help,
    Status,
    /// The newest `n` dead letters (at most 50).
    Failures(usize),
    /// `None`: all of them.
    Retry(Option<String>),
    System {
        target: String,
        delete: bool,
        confirmed: bool,
    },
    /// `ban` (true) or `unban` a user ID or pattern.
    Ban {
        pattern: String,
        banned: bool,
    },
    GhostCrypto {
        ghost: String,
        action: GhostCryptoAction,
    },
}

pub const USAGE: &str = "Admin commands: `pk;admin status`, `pk;admin failures [n]`, `pk;admin retry <event ID>|all`, \
                         `pk;admin system <system|@user> [delete -y]`, `pk;admin ban|unban <@user|pattern>`, \
                         `pk;admin ghost <@ghost> crypto status|reset|restore`.";

/// `pk;admin …` (token 0 is `admin`).
pub(super) fn parse(args: &Args<'_>) -> Result<AdminCommand, ParseError> {
    let Some(word) = args.word(1) else { return Ok(AdminCommand::Help) };
    let arg = args.text(2);
    Ok(match (word.as_str(), arg) {
        ("help", _) => AdminCommand::Help,
        ("status", None) => AdminCommand::Status,
        ("failures" | "failed" | "dead", n) => {
            let n = match n {
                None => 10,
                Some(n) => n.parse::<usize>().map_err(|_| usage("Usage: `pk;admin failures [n]`"))?,
            };
            AdminCommand::Failures(n.clamp(1, 50))
        }
        ("retry", Some(target)) if args.len() == 3 => {
            AdminCommand::Retry(if target.eq_ignore_ascii_case("all") { None } else { Some(target) })
        }
        ("system" | "s", Some(target)) => {
            let rest: Vec<String> = (3..args.len()).filter_map(|i| args.word(i)).collect();
            let delete = rest.iter().any(|w| w == "delete");
            let confirmed = rest.iter().any(|w| matches!(w.as_str(), "-y" | "-yes" | "-confirm"));
            AdminCommand::System { target, delete, confirmed }
        }
        ("ban" | "deny", Some(pattern)) if args.len() == 3 => AdminCommand::Ban { pattern, banned: true },
        ("unban" | "allow", Some(pattern)) if args.len() == 3 => AdminCommand::Ban { pattern, banned: false },
        ("ghost", Some(ghost)) if args.word(3).as_deref() == Some("crypto") => {
            let action = match args.word(4).as_deref() {
                None | Some("status") => GhostCryptoAction::Status,
                Some("reset") => GhostCryptoAction::Reset,
                Some("restore") => GhostCryptoAction::Restore,
                Some(_) => return Err(usage(USAGE)),
            };
            AdminCommand::GhostCrypto { ghost, action }
        }
        _ => return Err(usage(USAGE)),
    })
}
