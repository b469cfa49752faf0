//! Ghost accounts: which member each belongs to, whether it is registered, the profile we
//! last set, and the rooms it has joined.

use super::{Db, DbResult};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Ghost {
    pub user_id: String,
    pub member_id: Option<i64>,
    #[sqlx(try_from = "super::Flag")]
    pub registered: bool,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
}

impl Db {
    pub async fn ghost(&self, user_id: &str) -> DbResult<Option<Ghost>> {
        Ok(sqlx::query_as::<_, Ghost>(
            "SELECT user_id, member_id, registered IS TRUE AS registered, display_name, avatar_url FROM ghosts WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records the ghost of a member (idempotent).
    pub async fn upsert_ghost(
        &self,
        user_id: &str,
        member_id: i64,
        system_slug: &str,
        member_slug: &str,
        now: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO ghosts (user_id, member_id, system_slug, member_slug, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id) DO UPDATE SET member_id = excluded.member_id",
        )
        .bind(user_id)
        .bind(member_id)
        .bind(system_slug)
        .bind(member_slug)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn set_ghost_registered(&self, user_id: &str) -> DbResult<()> {
        sqlx::query("UPDATE ghosts SET registered = TRUE WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_ghost_profile(
        &self,
        user_id: &str,
        display_name: Option<&str>,
        avatar_url: Option<&str>,
    ) -> DbResult<()> {
        sqlx::query("UPDATE ghosts SET display_name = $1, avatar_url = $2 WHERE user_id = $3")
            .bind(display_name)
            .bind(avatar_url)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn ghost_in_room(&self, user_id: &str, room_id: &str) -> DbResult<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM ghost_rooms WHERE user_id = $1 AND room_id = $2")
            .bind(user_id)
            .bind(room_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(found.is_some())
    }

    pub async fn set_ghost_in_room(&self, user_id: &str, room_id: &str, joined: bool) -> DbResult<()> {
        let q = if joined {
            "INSERT INTO ghost_rooms (user_id, room_id) VALUES ($1, $2) ON CONFLICT (user_id, room_id) DO NOTHING"
        } else {
            "DELETE FROM ghost_rooms WHERE user_id = $1 AND room_id = $2"
        };
        sqlx::query(q).bind(user_id).bind(room_id).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn ghost_rooms(&self, user_id: &str) -> DbResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT room_id FROM ghost_rooms WHERE user_id = $1 ORDER BY room_id")
            .bind(user_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// The ghosts of a member (normally one).
    pub async fn ghosts_of_member(&self, member_id: i64) -> DbResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT user_id FROM ghosts WHERE member_id = $1")
            .bind(member_id)
            .fetch_all(self.pool())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use crate::db::test_db;

    #[tokio::test]
    async fn ghost_lifecycle() {
        let db = test_db().await;
        let s = db.create_system("@o:x", "o", None, None, 1).await.unwrap();
        let m = db.create_member(s.id, "Alice", None, 1).await.unwrap();
        let g = "@_plural_o_alice:x";
        db.upsert_ghost(g, m.id, &s.slug, &m.slug, 1).await.unwrap();
        db.upsert_ghost(g, m.id, &s.slug, &m.slug, 2).await.unwrap();
        assert!(!db.ghost(g).await.unwrap().unwrap().registered);
        db.set_ghost_registered(g).await.unwrap();
        db.set_ghost_profile(g, Some("Alice"), None).await.unwrap();
        let ghost = db.ghost(g).await.unwrap().unwrap();
        assert!(ghost.registered);
        assert_eq!(ghost.display_name.as_deref(), Some("Alice"));
        db.set_ghost_in_room(g, "!r:x", true).await.unwrap();
        assert!(db.ghost_in_room(g, "!r:x").await.unwrap());
        db.set_ghost_in_room(g, "!r:x", false).await.unwrap();
        assert!(!db.ghost_in_room(g, "!r:x").await.unwrap());

        // Deleting the member keeps the ghost row, and its slug is not handed out again.
        db.delete_member(m.id).await.unwrap();
        assert_eq!(db.ghost(g).await.unwrap().unwrap().member_id, None);
        let again = db.create_member(s.id, "Alice", None, 3).await.unwrap();
        assert_eq!(again.slug, "alice-2");
    }
}
