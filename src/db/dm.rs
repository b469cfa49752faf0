//! The bot's direct-message room with each user (exports, private answers).

use super::{Db, DbResult};

impl Db {
    pub async fn dm_room(&self, user: &str) -> DbResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT room_id FROM dm_rooms WHERE user_id = $1")
            .bind(user)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn set_dm_room(&self, user: &str, room: &str, now: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO dm_rooms (user_id, room_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id",
        )
        .bind(user)
        .bind(room)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
