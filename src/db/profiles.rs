//! Profile fields of systems and members (`core::profile` says which there are and checks
//! their values): reading and writing one field, and the member's flags.

use sqlx::AssertSqlSafe;

use super::{Db, DbResult, Member, System};
use crate::core::profile::{MemberField, SystemField};

/// The column that holds a system field (names come from this match only, never from input).
fn system_column(field: SystemField) -> &'static str {
    match field {
        SystemField::Name => "name",
        SystemField::Description => "description",
        SystemField::Pronouns => "pronouns",
        SystemField::Color => "color",
        SystemField::Avatar => "avatar_url",
        SystemField::Banner => "banner_url",
        SystemField::Tag => "tag",
    }
}

fn member_column(field: MemberField) -> &'static str {
    match field {
        MemberField::Name => "name",
        MemberField::DisplayName => "display_name",
        MemberField::Description => "description",
        MemberField::Pronouns => "pronouns",
        MemberField::Color => "color",
        MemberField::Birthday => "birthday",
        MemberField::Avatar => "avatar_url",
        MemberField::Banner => "banner_url",
    }
}

/// A member's yes/no settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberFlag {
    KeepProxy,
    AllowAutoproxy,
}

fn flag_column(flag: MemberFlag) -> &'static str {
    match flag {
        MemberFlag::KeepProxy => "keep_proxy",
        MemberFlag::AllowAutoproxy => "allow_autoproxy",
    }
}

impl System {
    /// A profile field as stored.
    pub fn field(&self, field: SystemField) -> Option<&str> {
        match field {
            SystemField::Name => self.name.as_deref(),
            SystemField::Description => self.description.as_deref(),
            SystemField::Pronouns => self.pronouns.as_deref(),
            SystemField::Color => self.color.as_deref(),
            SystemField::Avatar => self.avatar_url.as_deref(),
            SystemField::Banner => self.banner_url.as_deref(),
            SystemField::Tag => self.tag.as_deref(),
        }
    }
}

impl Member {
    /// A profile field as stored.
    pub fn field(&self, field: MemberField) -> Option<&str> {
        match field {
            MemberField::Name => Some(&self.name),
            MemberField::DisplayName => self.display_name.as_deref(),
            MemberField::Description => self.description.as_deref(),
            MemberField::Pronouns => self.pronouns.as_deref(),
            MemberField::Color => self.color.as_deref(),
            MemberField::Birthday => self.birthday.as_deref(),
            MemberField::Avatar => self.avatar_url.as_deref(),
            MemberField::Banner => self.banner_url.as_deref(),
        }
    }
}

impl Db {
    /// The member's tags that stay in proxied text.
    pub async fn kept_tags(&self, member_id: i64) -> DbResult<Vec<crate::core::tags::ProxyTag>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT prefix, suffix FROM proxy_tags WHERE member_id = $1 AND keep ORDER BY position")
                .bind(member_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|(p, s)| crate::core::tags::ProxyTag::new(p, s)).collect())
    }

    /// Marks one of the member's tags as kept in proxied text (or not). `false`: no such tag.
    pub async fn set_tag_kept(&self, member_id: i64, tag: &crate::core::tags::ProxyTag, keep: bool) -> DbResult<bool> {
        let done = sqlx::query("UPDATE proxy_tags SET keep = $1 WHERE member_id = $2 AND prefix = $3 AND suffix = $4")
            .bind(keep)
            .bind(member_id)
            .bind(&tag.prefix)
            .bind(&tag.suffix)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_system_field(&self, system_id: i64, field: SystemField, value: Option<&str>) -> DbResult<()> {
        let sql = format!("UPDATE systems SET {} = $1 WHERE id = $2", system_column(field));
        sqlx::query(AssertSqlSafe(sql)).bind(value).bind(system_id).execute(self.pool()).await?;
        Ok(())
    }

    /// Sets a member field. The name is never cleared (the caller only clears optional fields).
    pub async fn set_member_field(&self, member_id: i64, field: MemberField, value: Option<&str>) -> DbResult<()> {
        let sql = format!("UPDATE members SET {} = $1 WHERE id = $2", member_column(field));
        sqlx::query(AssertSqlSafe(sql)).bind(value).bind(member_id).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn set_name_format(&self, system_id: i64, format: Option<&str>) -> DbResult<()> {
        sqlx::query("UPDATE systems SET name_format = $1 WHERE id = $2")
            .bind(format)
            .bind(system_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Members of the system whose avatar is an `https://` (or `http://`) URL not re-hosted yet.
    pub async fn avatars_to_rehost(&self, system_id: i64) -> DbResult<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, avatar_url FROM members WHERE system_id = $1 AND avatar_url LIKE 'http%' \
             AND (avatar_mxc_from IS NULL OR avatar_mxc_from <> avatar_url) ORDER BY id",
        )
        .bind(system_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn set_rehosted_avatar(&self, member_id: i64, from: &str, mxc: &str) -> DbResult<()> {
        sqlx::query("UPDATE members SET avatar_mxc = $1, avatar_mxc_from = $2 WHERE id = $3")
            .bind(mxc)
            .bind(from)
            .bind(member_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn member_flag(&self, member_id: i64, flag: MemberFlag) -> DbResult<bool> {
        let sql = format!("SELECT {} IS TRUE FROM members WHERE id = $1", flag_column(flag));
        let flag: Option<super::Flag> =
            sqlx::query_scalar(AssertSqlSafe(sql)).bind(member_id).fetch_optional(self.pool()).await?;
        Ok(flag.is_some_and(|f| f.0))
    }

    pub async fn set_member_flag(&self, member_id: i64, flag: MemberFlag, on: bool) -> DbResult<()> {
        let sql = format!("UPDATE members SET {} = $1 WHERE id = $2", flag_column(flag));
        sqlx::query(AssertSqlSafe(sql)).bind(on).bind(member_id).execute(self.pool()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{now_ms, test_db};

    #[tokio::test]
    async fn every_field_is_stored_and_cleared() {
        let db = test_db().await;
        let s = db.create_system("@a:x", "a", Some("S"), None, now_ms()).await.unwrap();
        let m = db.create_member(s.id, "Ann", None, now_ms()).await.unwrap();
        for field in [
            SystemField::Name,
            SystemField::Description,
            SystemField::Pronouns,
            SystemField::Color,
            SystemField::Avatar,
            SystemField::Banner,
            SystemField::Tag,
        ] {
            db.set_system_field(s.id, field, Some("v")).await.unwrap();
            assert_eq!(db.system_by_id(s.id).await.unwrap().unwrap().field(field), Some("v"), "{field:?}");
            db.set_system_field(s.id, field, None).await.unwrap();
            assert_eq!(db.system_by_id(s.id).await.unwrap().unwrap().field(field), None, "{field:?}");
        }
        for field in [
            MemberField::DisplayName,
            MemberField::Description,
            MemberField::Pronouns,
            MemberField::Color,
            MemberField::Birthday,
            MemberField::Avatar,
            MemberField::Banner,
        ] {
            db.set_member_field(m.id, field, Some("v")).await.unwrap();
            assert_eq!(db.member_by_id(m.id).await.unwrap().unwrap().field(field), Some("v"), "{field:?}");
            db.set_member_field(m.id, field, None).await.unwrap();
            assert_eq!(db.member_by_id(m.id).await.unwrap().unwrap().field(field), None, "{field:?}");
        }
        // Regression: a query with its own column list could not read the new columns.
        db.set_member_field(m.id, MemberField::Pronouns, Some("she/her")).await.unwrap();
        let by_slugs = db.member_by_slugs(&s.slug, &m.slug).await.unwrap().expect("the member by slugs");
        assert_eq!(by_slugs.pronouns.as_deref(), Some("she/her"));
        assert!(by_slugs.allow_autoproxy);
        assert!(!db.member_flag(m.id, MemberFlag::KeepProxy).await.unwrap());
        assert!(db.member_flag(m.id, MemberFlag::AllowAutoproxy).await.unwrap());
        db.set_member_flag(m.id, MemberFlag::KeepProxy, true).await.unwrap();
        assert!(db.member_flag(m.id, MemberFlag::KeepProxy).await.unwrap());
    }
}
