//! A system's settings (`pk;config`) and its autoproxy per room: the room's own mode (or
//! the system's default) and the room's latch.

use super::{Db, DbResult};
use crate::core::{
    autoproxy::{Mode, State},
    settings::{ProxySwitch, Setting},
    time::{Tz, parse_zone},
};

/// The settings columns of `systems`, loaded with every system.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SystemConfig {
    pub timezone: Option<String>,
    pub latch_timeout_ms: Option<i64>,
    #[sqlx(try_from = "super::Flag")]
    pub pings_enabled: bool,
    #[sqlx(try_from = "super::Flag")]
    pub case_sensitive_tags: bool,
    pub proxy_switch: String,
    #[sqlx(try_from = "super::Flag")]
    pub member_default_private: bool,
    #[sqlx(try_from = "super::Flag")]
    pub group_default_private: bool,
    #[sqlx(try_from = "super::Flag")]
    pub show_private: bool,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            timezone: None,
            latch_timeout_ms: None,
            pings_enabled: true,
            case_sensitive_tags: true,
            proxy_switch: "off".to_owned(),
            member_default_private: false,
            group_default_private: false,
            show_private: true,
        }
    }
}

impl SystemConfig {
    /// The system's time zone (UTC when none is set, or if a stored name stopped existing).
    pub fn zone(&self) -> Tz {
        self.timezone.as_deref().and_then(|z| parse_zone(z).ok()).unwrap_or(Tz::UTC)
    }

    /// How long a latch holds (0: for ever), given the daemon's default.
    pub fn latch_timeout(&self, default_ms: i64) -> i64 {
        self.latch_timeout_ms.unwrap_or(default_ms)
    }

    pub fn proxy_switch(&self) -> ProxySwitch {
        ProxySwitch::parse(&self.proxy_switch).unwrap_or_default()
    }
}

/// A room's own autoproxy row.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct RoomAutoproxy {
    /// `None`: the room follows the system's default.
    pub mode: Option<String>,
    pub member_id: Option<i64>,
    pub latch_member_id: Option<i64>,
    pub latch_at: Option<i64>,
}

impl RoomAutoproxy {
    /// What applies in the room: its own mode, or the system's default; the room's latch.
    pub fn state(&self, system: &super::System) -> State<i64> {
        let (mode, member) = match self.mode.as_deref().and_then(Mode::parse) {
            Some(mode) => (mode, self.member_id),
            None => (Mode::parse(&system.autoproxy_mode).unwrap_or(Mode::Off), system.autoproxy_member_id),
        };
        State { mode, member, latch: self.latch_member_id.zip(self.latch_at) }
    }
}

impl Db {
    /// Stores one setting.
    pub async fn set_setting(&self, system_id: i64, setting: &Setting) -> DbResult<()> {
        set_setting_with(self.pool(), system_id, setting).await
    }

    /// The room's own autoproxy row (default: follows the system, nothing latched).
    pub async fn room_autoproxy(&self, system_id: i64, room_id: &str) -> DbResult<RoomAutoproxy> {
        Ok(sqlx::query_as(
            "SELECT mode, member_id, latch_member_id, latch_at FROM room_autoproxy WHERE system_id = $1 AND room_id = $2",
        )
        .bind(system_id)
        .bind(room_id)
        .fetch_optional(self.pool())
        .await?
        .unwrap_or_default())
    }

    /// Sets the room's own mode (`None`: follow the system's default). The room's latch goes.
    pub async fn set_room_autoproxy(
        &self,
        system_id: i64,
        room_id: &str,
        mode: Option<Mode>,
        member: Option<i64>,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO room_autoproxy (system_id, room_id, mode, member_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (system_id, room_id) DO UPDATE SET mode = excluded.mode, member_id = excluded.member_id, \
             latch_member_id = NULL, latch_at = NULL",
        )
        .bind(system_id)
        .bind(room_id)
        .bind(mode.map(Mode::as_str))
        .bind(member)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The room's latch: who, and when last used.
    pub async fn set_room_latch(&self, system_id: i64, room_id: &str, latch: Option<(i64, i64)>) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO room_autoproxy (system_id, room_id, latch_member_id, latch_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (system_id, room_id) DO UPDATE SET latch_member_id = excluded.latch_member_id, \
             latch_at = excluded.latch_at",
        )
        .bind(system_id)
        .bind(room_id)
        .bind(latch.map(|l| l.0))
        .bind(latch.map(|l| l.1))
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// Stores one setting through `conn` (the pool, or an import's transaction).
pub(super) async fn set_setting_with<'c, E>(conn: E, system_id: i64, setting: &Setting) -> DbResult<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    enum V {
        Text(Option<String>),
        Int(Option<i64>),
        Bool(bool),
    }
    let (column, value) = match setting.clone() {
        Setting::Timezone(v) => ("timezone", V::Text(v)),
        Setting::LatchTimeout(v) => ("latch_timeout_ms", V::Int(v)),
        Setting::Ping(v) => ("pings_enabled", V::Bool(v)),
        Setting::ProxyCase(v) => ("case_sensitive_tags", V::Bool(v)),
        Setting::ProxySwitch(v) => ("proxy_switch", V::Text(Some(v.as_str().to_owned()))),
        Setting::MemberPrivate(v) => ("member_default_private", V::Bool(v)),
        Setting::GroupPrivate(v) => ("group_default_private", V::Bool(v)),
        Setting::ShowPrivate(v) => ("show_private", V::Bool(v)),
        Setting::NameFormat(v) => ("name_format", V::Text(v)),
    };
    // The column name comes from the match above, never from the user.
    let sql = format!("UPDATE systems SET {column} = $1 WHERE id = $2");
    let query = sqlx::query(sqlx::AssertSqlSafe(sql));
    let query = match value {
        V::Text(v) => query.bind(v),
        V::Int(v) => query.bind(v),
        V::Bool(v) => query.bind(v),
    };
    query.bind(system_id).execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{core::settings::ProxySwitch, db::test_db};

    #[tokio::test]
    async fn settings_and_autoproxy_per_room() {
        let db = test_db().await;
        let s = db.create_system("@a:x", "a", None, None, 1).await.unwrap();
        assert_eq!(s.config, SystemConfig::default());
        assert_eq!(s.config.zone(), Tz::UTC);
        for setting in [
            Setting::Timezone(Some("Europe/Berlin".into())),
            Setting::LatchTimeout(Some(0)),
            Setting::Ping(false),
            Setting::ProxyCase(false),
            Setting::ProxySwitch(ProxySwitch::New),
            Setting::MemberPrivate(true),
        ] {
            db.set_setting(s.id, &setting).await.unwrap();
        }
        let s = db.system_by_id(s.id).await.unwrap().unwrap();
        assert_eq!(s.config.zone().name(), "Europe/Berlin");
        assert_eq!(s.config.latch_timeout(6), 0, "0: never expires, not the default");
        assert!(!s.config.pings_enabled && !s.config.case_sensitive_tags && s.config.member_default_private);
        assert_eq!(s.config.proxy_switch(), ProxySwitch::New);
        db.set_setting(s.id, &Setting::LatchTimeout(None)).await.unwrap();
        let s = db.system_by_id(s.id).await.unwrap().unwrap();
        assert_eq!(s.config.latch_timeout(6), 6, "cleared: the daemon's default");

        // Rooms follow the default until they get their own mode; latches are per room.
        let alice = db.create_member(s.id, "Alice", None, 1).await.unwrap();
        db.set_autoproxy(s.id, Mode::Front, None).await.unwrap();
        let s = db.system_by_id(s.id).await.unwrap().unwrap();
        assert_eq!(db.room_autoproxy(s.id, "!one:x").await.unwrap().state(&s).mode, Mode::Front);
        db.set_room_autoproxy(s.id, "!two:x", Some(Mode::Latch), None).await.unwrap();
        db.set_room_latch(s.id, "!two:x", Some((alice.id, 50))).await.unwrap();
        let two = db.room_autoproxy(s.id, "!two:x").await.unwrap().state(&s);
        assert_eq!((two.mode, two.latch), (Mode::Latch, Some((alice.id, 50))));
        assert_eq!(db.room_autoproxy(s.id, "!one:x").await.unwrap().state(&s).latch, None, "latch per room");
        // Setting the room's mode again lets go of its latch; `default` follows the system.
        db.set_room_autoproxy(s.id, "!two:x", Some(Mode::Latch), None).await.unwrap();
        assert_eq!(db.room_autoproxy(s.id, "!two:x").await.unwrap().latch_at, None);
        db.set_room_autoproxy(s.id, "!two:x", Some(Mode::Member), Some(alice.id)).await.unwrap();
        assert_eq!(db.room_autoproxy(s.id, "!two:x").await.unwrap().state(&s).member, Some(alice.id));
        // Deleting the member puts the room back on the default.
        db.delete_member(alice.id).await.unwrap();
        assert_eq!(db.room_autoproxy(s.id, "!two:x").await.unwrap().state(&s).mode, Mode::Front);
    }
}
