//! Systems, their linked accounts, members, proxy tags, autoproxy state and pending
//! confirmations.

use sqlx::Row;

use super::{
    Db, DbError, DbResult,
    inserts::{insert_member_in, insert_system_in},
    settings::SystemConfig,
};
use crate::core::{autoproxy::Mode, tags::ProxyTag};

#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct System {
    pub id: i64,
    pub short_id: String,
    pub slug: String,
    pub name: Option<String>,
    pub tag: Option<String>,
    pub autoproxy_mode: String,
    pub autoproxy_member_id: Option<i64>,
    pub latch_member_id: Option<i64>,
    pub latch_at: Option<i64>,
    /// The event whose `system new` created it.
    pub created_by_event: Option<String>,
    pub description: Option<String>,
    pub pronouns: Option<String>,
    pub color: Option<String>,
    pub avatar_url: Option<String>,
    pub banner_url: Option<String>,
    /// How ghost display names are made (`{name}`, `{tag}`); `None` is the default.
    pub name_format: Option<String>,
    /// `pk;config` settings (see `db::settings`).
    #[sqlx(flatten)]
    pub config: SystemConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    pub id: i64,
    pub system_id: i64,
    pub short_id: String,
    pub slug: String,
    pub name: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    /// The event whose `member new` created it.
    pub created_by_event: Option<String>,
    pub description: Option<String>,
    pub pronouns: Option<String>,
    pub color: Option<String>,
    /// `YYYY-MM-DD`, year 0004 when none was given.
    pub birthday: Option<String>,
    pub banner_url: Option<String>,
    /// Keep the matched tag in the proxied text.
    #[sqlx(try_from = "super::Flag")]
    pub keep_proxy: bool,
    /// Whether latch and front autoproxy may pick this member.
    #[sqlx(try_from = "super::Flag")]
    pub allow_autoproxy: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Messages proxied as this member.
    pub message_count: i64,
    /// The `mxc://` copy of an `https://` avatar, and the URL it was made from.
    pub avatar_mxc: Option<String>,
    pub avatar_mxc_from: Option<String>,
}

impl Member {
    /// The avatar the member's account shows: an `mxc://` avatar, or the re-hosted copy of
    /// the current `https://` one.
    pub fn account_avatar(&self) -> Option<String> {
        match self.avatar_url.as_deref() {
            Some(url) if url.starts_with("mxc://") => Some(url.to_owned()),
            Some(url) if self.avatar_mxc_from.as_deref() == Some(url) => self.avatar_mxc.clone(),
            _ => None,
        }
    }
}

const SYSTEM_COLS: &str = "s.id, s.short_id, s.slug, s.name, s.tag, s.autoproxy_mode, s.autoproxy_member_id, s.latch_member_id, s.latch_at, s.created_by_event, s.description, s.pronouns, s.color, s.avatar_url, s.banner_url, s.name_format, s.timezone, s.latch_timeout_ms, s.pings_enabled IS TRUE AS pings_enabled, s.case_sensitive_tags IS TRUE AS case_sensitive_tags, s.proxy_switch, s.member_default_private IS TRUE AS member_default_private, s.group_default_private IS TRUE AS group_default_private, s.show_private IS TRUE AS show_private";
const MEMBER_COLS: &str = "id, system_id, short_id, slug, name, display_name, avatar_url, created_by_event, description, pronouns, color, birthday, banner_url, keep_proxy IS TRUE AS keep_proxy, allow_autoproxy IS TRUE AS allow_autoproxy, created_at, message_count, avatar_mxc, avatar_mxc_from";

pub(super) fn random_u32() -> u32 {
    rand::random()
}

impl Db {
    pub async fn system_for_account(&self, user_id: &str) -> DbResult<Option<System>> {
        let sql =
            format!("SELECT {SYSTEM_COLS} FROM systems s JOIN accounts a ON a.system_id = s.id WHERE a.user_id = $1");
        Ok(sqlx::query_as::<_, System>(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_optional(self.pool()).await?)
    }

    pub async fn system_by_id(&self, id: i64) -> DbResult<Option<System>> {
        let sql = format!("SELECT {SYSTEM_COLS} FROM systems s WHERE s.id = $1");
        Ok(sqlx::query_as::<_, System>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?)
    }

    /// A system by slug or short ID (case-insensitive).
    pub async fn system_by_reference(&self, reference: &str) -> DbResult<Option<System>> {
        let r = reference.to_lowercase();
        let sql = format!("SELECT {SYSTEM_COLS} FROM systems s WHERE s.slug = $1 OR s.short_id = $1");
        Ok(sqlx::query_as::<_, System>(sqlx::AssertSqlSafe(sql)).bind(r).fetch_optional(self.pool()).await?)
    }

    pub async fn system_accounts(&self, system_id: i64) -> DbResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT user_id FROM accounts WHERE system_id = $1 ORDER BY created_at, user_id")
            .bind(system_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Creates a system owned by `owner`, its slug derived from `slug_source` (the owner's
    /// localpart) and made unique. With `cause` (the command's event), a second call for the
    /// same event returns the system the first made.
    pub async fn create_system(
        &self,
        owner: &str,
        slug_source: &str,
        name: Option<&str>,
        cause: Option<&str>,
        now: i64,
    ) -> DbResult<System> {
        if let Some(made) = self.made_by::<System>("systems s", SYSTEM_COLS, cause).await? {
            return Ok(made);
        }
        let mut tx = self.write_tx().await?;
        let id = insert_system_in(&mut tx, owner, slug_source, name, cause, now).await?;
        tx.commit().await?;
        self.system_by_id(id).await?.ok_or_else(|| DbError::Invalid("system vanished after insert".into()))
    }

    /// Sets the system's default autoproxy mode (and member for member mode), for rooms
    /// without their own. The latch of every room that follows the default is let go.
    pub async fn set_autoproxy(&self, system_id: i64, mode: Mode, member: Option<i64>) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE systems SET autoproxy_mode = $1, autoproxy_member_id = $2 WHERE id = $3")
            .bind(mode.as_str())
            .bind(member)
            .bind(system_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE room_autoproxy SET latch_member_id = NULL, latch_at = NULL WHERE system_id = $1 AND mode IS NULL",
        )
        .bind(system_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn members(&self, system_id: i64) -> DbResult<Vec<Member>> {
        let sql = format!("SELECT {MEMBER_COLS} FROM members WHERE system_id = $1 ORDER BY id");
        Ok(sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(sql)).bind(system_id).fetch_all(self.pool()).await?)
    }

    pub async fn member_by_id(&self, member_id: i64) -> DbResult<Option<Member>> {
        let sql = format!("SELECT {MEMBER_COLS} FROM members WHERE id = $1");
        Ok(sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(sql)).bind(member_id).fetch_optional(self.pool()).await?)
    }

    pub async fn member_by_slugs(&self, system_slug: &str, member_slug: &str) -> DbResult<Option<Member>> {
        let sql = format!(
            "SELECT {MEMBER_COLS} FROM members WHERE id = \
             (SELECT m.id FROM members m JOIN systems s ON s.id = m.system_id WHERE s.slug = $1 AND m.slug = $2)"
        );
        Ok(sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(sql))
            .bind(system_slug)
            .bind(member_slug)
            .fetch_optional(self.pool())
            .await?)
    }

    /// A member of `system_id` by slug, short ID, or name (all case-insensitive).
    pub async fn find_member(&self, system_id: i64, reference: &str) -> DbResult<Option<Member>> {
        let r = reference.trim().to_lowercase();
        let members = self.members(system_id).await?;
        let pick = members
            .iter()
            .find(|m| m.short_id == r)
            .or_else(|| members.iter().find(|m| m.slug == r))
            .or_else(|| members.iter().find(|m| m.name.to_lowercase() == r))
            .or_else(|| members.iter().find(|m| m.display_name.as_deref().is_some_and(|d| d.to_lowercase() == r)));
        Ok(pick.cloned())
    }

    /// A member of any system by short ID.
    pub async fn member_by_short_id(&self, short: &str) -> DbResult<Option<Member>> {
        let sql = format!("SELECT {MEMBER_COLS} FROM members WHERE short_id = $1");
        Ok(sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(sql))
            .bind(short.to_lowercase())
            .fetch_optional(self.pool())
            .await?)
    }

    /// Creates a member with a slug derived from its name, unique within the system. With
    /// `cause` (the command's event), a second call for the same event returns the member the
    /// first made.
    pub async fn create_member(&self, system_id: i64, name: &str, cause: Option<&str>, now: i64) -> DbResult<Member> {
        if let Some(made) = self.made_by::<Member>("members", MEMBER_COLS, cause).await? {
            return Ok(made);
        }
        let mut tx = self.write_tx().await?;
        let id = insert_member_in(&mut tx, system_id, name, None, cause, now).await?;
        tx.commit().await?;
        self.member_by_id(id).await?.ok_or_else(|| DbError::Invalid("member vanished after insert".into()))
    }

    /// The row of `table` that the event `cause` created, if any.
    pub(super) async fn made_by<T>(&self, table: &str, cols: &str, cause: Option<&str>) -> DbResult<Option<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let Some(cause) = cause else { return Ok(None) };
        let alias = table.split(' ').nth(1).map(|a| format!("{a}.")).unwrap_or_default();
        let sql = format!("SELECT {cols} FROM {table} WHERE {alias}created_by_event = $1");
        Ok(sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)).bind(cause).fetch_optional(self.pool()).await?)
    }

    /// Deletes a member (its tags go with it) and clears autoproxy references to it.
    pub async fn delete_member(&self, member_id: i64) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        delete_member_in(&mut tx, member_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a member and records the answer to the command that did it, together.
    pub async fn delete_member_answered(&self, member_id: i64, event_id: &str, answer: &str, now: i64) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        delete_member_in(&mut tx, member_id).await?;
        record_answer_in(&mut tx, event_id, answer, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn member_tags(&self, member_id: i64) -> DbResult<Vec<ProxyTag>> {
        let rows = sqlx::query("SELECT prefix, suffix FROM proxy_tags WHERE member_id = $1 ORDER BY position")
            .bind(member_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(ProxyTag::new(r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?))).collect()
    }

    /// Every (member ID, tag) pair of a system, in member creation order then tag order.
    pub async fn system_tags(&self, system_id: i64) -> DbResult<Vec<(i64, ProxyTag)>> {
        Ok(self.system_tags_kept(system_id).await?.into_iter().map(|(member, tag, _)| (member, tag)).collect())
    }

    /// Every tag of the system with its member and whether it stays in proxied text
    /// (`proxy add <tag> -keep`), in member then tag order.
    pub async fn system_tags_kept(&self, system_id: i64) -> DbResult<Vec<(i64, ProxyTag, bool)>> {
        let rows = sqlx::query(
            "SELECT t.member_id, t.prefix, t.suffix, t.keep IS TRUE FROM proxy_tags t JOIN members m ON m.id = t.member_id \
             WHERE m.system_id = $1 ORDER BY m.id, t.position",
        )
        .bind(system_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let tag = ProxyTag::new(r.try_get::<String, _>(1)?, r.try_get::<String, _>(2)?);
                Ok((r.try_get::<i64, _>(0)?, tag, r.try_get::<super::Flag, _>(3)?.0))
            })
            .collect()
    }

    /// Replaces a member's tags.
    /// Tags that stay keep their keepproxy flag.
    pub async fn set_member_tags(&self, member_id: i64, tags: &[ProxyTag]) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        let kept: Vec<(String, String)> =
            sqlx::query_as("SELECT prefix, suffix FROM proxy_tags WHERE member_id = $1 AND keep")
                .bind(member_id)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM proxy_tags WHERE member_id = $1").bind(member_id).execute(&mut *tx).await?;
        for (i, tag) in tags.iter().enumerate() {
            let keep = kept.iter().any(|(p, s)| *p == tag.prefix && *s == tag.suffix);
            sqlx::query(
                "INSERT INTO proxy_tags (member_id, position, prefix, suffix, keep) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(member_id)
            .bind(i as i64)
            .bind(&tag.prefix)
            .bind(&tag.suffix)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Remembers a destructive action awaiting confirmation by `user_id` in `room_id`.
    pub async fn set_confirmation(&self, user_id: &str, room_id: &str, action: &str, expires_at: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO pending_confirmations (user_id, room_id, action, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, room_id) DO UPDATE SET action = excluded.action, expires_at = excluded.expires_at",
        )
        .bind(user_id)
        .bind(room_id)
        .bind(action)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The pending action of `user_id` in `room_id`, if not expired.
    pub async fn pending_confirmation(&self, user_id: &str, room_id: &str, now: i64) -> DbResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT action FROM pending_confirmations WHERE user_id = $1 AND room_id = $2 AND expires_at >= $3",
        )
        .bind(user_id)
        .bind(room_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Removes the pending action of `user_id` in `room_id`; with `deletion` = (member,
    /// confirming event, answer, now), deletes the member and records the answer in the same
    /// transaction.
    pub async fn settle_confirmation(
        &self,
        user_id: &str,
        room_id: &str,
        deletion: Option<(i64, &str, &str, i64)>,
    ) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        settle_confirmation_in(&mut tx, user_id, room_id).await?;
        if let Some((member_id, event_id, answer, now)) = deletion {
            delete_member_in(&mut tx, member_id).await?;
            record_answer_in(&mut tx, event_id, answer, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

pub(super) use super::Tx;

async fn delete_member_in(tx: &mut Tx, member_id: i64) -> DbResult<()> {
    sqlx::query("UPDATE systems SET autoproxy_member_id = NULL, autoproxy_mode = 'off' WHERE autoproxy_member_id = $1")
        .bind(member_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE systems SET latch_member_id = NULL, latch_at = NULL WHERE latch_member_id = $1")
        .bind(member_id)
        .execute(&mut **tx)
        .await?;
    // A room that autoproxied as the member follows the system's default again.
    sqlx::query("UPDATE room_autoproxy SET mode = NULL, member_id = NULL WHERE member_id = $1")
        .bind(member_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM members WHERE id = $1").bind(member_id).execute(&mut **tx).await?;
    Ok(())
}

/// Removes `user`'s pending confirmation in `room` (it is answered).
pub(super) async fn settle_confirmation_in(tx: &mut Tx, user: &str, room: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM pending_confirmations WHERE user_id = $1 AND room_id = $2")
        .bind(user)
        .bind(room)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn record_answer_in(tx: &mut Tx, event_id: &str, answer: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO command_results (event_id, reply, created_at) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(answer)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::core::{autoproxy::Mode, tags::ProxyTag};
    use crate::db::CryptoInput;
    use crate::db::test_db;

    #[tokio::test]
    async fn systems_get_unique_slugs() {
        let db = test_db().await;
        let a = db.create_system("@Alice:x", "Alice", Some("A"), None, 1).await.unwrap();
        let b = db.create_system("@alice:y", "alice", None, None, 2).await.unwrap();
        let c = db.create_system("@alice:z", "alice", None, None, 3).await.unwrap();
        assert_eq!((a.slug.as_str(), b.slug.as_str(), c.slug.as_str()), ("alice", "alice-2", "alice-3"));
        assert_ne!(a.short_id, b.short_id);
        assert_eq!(db.system_for_account("@Alice:x").await.unwrap().unwrap().id, a.id);
        assert!(db.system_for_account("@nobody:x").await.unwrap().is_none());
        assert!(db.create_system("@Alice:x", "again", None, None, 4).await.is_err(), "one system per account");
        assert_eq!(db.system_by_reference("ALICE-2").await.unwrap().unwrap().id, b.id);
    }

    #[tokio::test]
    async fn members_tags_and_lookup() {
        let db = test_db().await;
        let s = db.create_system("@o:x", "o", None, None, 1).await.unwrap();
        let alice = db.create_member(s.id, "Alice Bee", None, 1).await.unwrap();
        let alice2 = db.create_member(s.id, "alice bee", None, 2).await.unwrap();
        assert_eq!((alice.slug.as_str(), alice2.slug.as_str()), ("alice-bee", "alice-bee-2"));
        assert_eq!(db.find_member(s.id, "ALICE BEE").await.unwrap().unwrap().id, alice.id);
        assert_eq!(db.find_member(s.id, "alice-bee-2").await.unwrap().unwrap().id, alice2.id);
        assert_eq!(db.find_member(s.id, &alice2.short_id.to_uppercase()).await.unwrap().unwrap().id, alice2.id);
        assert!(db.find_member(s.id, "carol").await.unwrap().is_none());

        db.set_member_tags(alice.id, &[ProxyTag::new("a:", ""), ProxyTag::new("[", "]")]).await.unwrap();
        db.set_member_tags(alice2.id, &[ProxyTag::new("b:", "")]).await.unwrap();
        let tags = db.system_tags(s.id).await.unwrap();
        assert_eq!(
            tags.iter().map(|(m, t)| (*m, t.to_string())).collect::<Vec<_>>(),
            vec![(alice.id, "a:text".to_owned()), (alice.id, "[text]".to_owned()), (alice2.id, "b:text".to_owned())]
        );

        db.set_autoproxy(s.id, Mode::Member, Some(alice.id)).await.unwrap();
        db.delete_member(alice.id).await.unwrap();
        assert_eq!(db.system_tags(s.id).await.unwrap().len(), 1, "tags go with the member");
        let s = db.system_by_id(s.id).await.unwrap().unwrap();
        assert_eq!((s.autoproxy_mode.as_str(), s.autoproxy_member_id), ("off", None));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_survive_concurrent_journal_inserts() {
        // The worker's read-then-write transactions run while the intake keeps writing.
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::connect(&format!("sqlite://{}/t.db", dir.path().display())).await.unwrap();
        let s = db.create_system("@o:x", "o", None, None, 1).await.unwrap();
        let writer = db.clone();
        let intake = tokio::spawn(async move {
            for i in 0..400 {
                let body = format!("{{\"n\":{i}}}");
                writer.journal_insert(&format!("t{i}"), body.as_bytes(), &[], CryptoInput::None, i).await.unwrap();
            }
        });
        for i in 0..60 {
            db.create_member(s.id, &format!("m{i}"), None, i).await.unwrap();
        }
        intake.await.unwrap();
        assert_eq!(db.members(s.id).await.unwrap().len(), 60);
    }

    #[tokio::test]
    async fn confirmations_expire() {
        let db = test_db().await;
        db.set_confirmation("@u:x", "!r:x", "delete 1", 100).await.unwrap();
        assert!(db.pending_confirmation("@u:x", "!r:x", 101).await.unwrap().is_none());
        db.set_confirmation("@u:x", "!r:x", "delete 2", 200).await.unwrap();
        assert_eq!(db.pending_confirmation("@u:x", "!r:x", 150).await.unwrap().as_deref(), Some("delete 2"));
        assert!(db.pending_confirmation("@u:x", "!r:x", 150).await.unwrap().is_some(), "still there until settled");
        db.settle_confirmation("@u:x", "!r:x", None).await.unwrap();
        assert!(db.pending_confirmation("@u:x", "!r:x", 150).await.unwrap().is_none());
    }

    /// Regression: a confirmed deletion was taken out of the table before the deletion was
    /// done, so a retry after a failure did nothing. Now both happen together, with the answer.
    #[tokio::test]
    async fn a_confirmed_deletion_settles_with_its_answer() {
        let db = test_db().await;
        let s = db.create_system("@o:x", "o", None, None, 1).await.unwrap();
        let m = db.create_member(s.id, "Alice", None, 1).await.unwrap();
        db.set_confirmation("@o:x", "!r:x", "delete-member:1", 200).await.unwrap();
        db.settle_confirmation("@o:x", "!r:x", Some((m.id, "$confirm", "deleted", 2))).await.unwrap();
        assert!(db.member_by_id(m.id).await.unwrap().is_none());
        assert!(db.pending_confirmation("@o:x", "!r:x", 3).await.unwrap().is_none());
        assert_eq!(db.command_result("$confirm").await.unwrap().as_deref(), Some("deleted"));
    }

    /// Regression: a retried `member new` made a second member (`alice-2`).
    #[tokio::test]
    async fn creating_again_for_the_same_event_returns_the_first() {
        let db = test_db().await;
        let s = db.create_system("@o:x", "o", None, Some("$sys"), 1).await.unwrap();
        let again = db.create_system("@o:x", "o", None, Some("$sys"), 2).await.unwrap();
        assert_eq!(s, again);
        let a = db.create_member(s.id, "Alice", Some("$new"), 1).await.unwrap();
        let b = db.create_member(s.id, "Alice", Some("$new"), 2).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(db.members(s.id).await.unwrap().len(), 1);
        let other = db.create_member(s.id, "Alice", Some("$other"), 3).await.unwrap();
        assert_eq!(other.slug, "alice-2", "another event makes another member");
    }
}
