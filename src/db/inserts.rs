//! Inserting systems and members inside a caller's transaction (creation commands and
//! imports share them): unique slugs that never reuse a retired ghost's, and free short IDs.

use super::{
    DbResult,
    systems::{Tx, random_u32},
};
use crate::core::{
    ids::short_id,
    slug::{slugify, unique_slug},
};

/// Inserts a system and its owner's account; the slug from `slug_source`, made unique (and
/// never a retired ghost's), a fresh short ID. Returns the new system's ID.
pub(super) async fn insert_system_in(
    tx: &mut Tx,
    owner: &str,
    slug_source: &str,
    name: Option<&str>,
    cause: Option<&str>,
    now: i64,
) -> DbResult<i64> {
    let base = slugify(slug_source).unwrap_or_else(|| "system".to_owned());
    // A deleted system's slug still names its retired ghosts' accounts: never reuse it.
    let taken: Vec<String> = sqlx::query_scalar(
        "SELECT slug FROM systems WHERE slug = $1 OR slug LIKE $2 \
             UNION SELECT system_slug FROM ghosts WHERE system_slug = $1 OR system_slug LIKE $2",
    )
    .bind(&base)
    .bind(format!("{base}-%"))
    .fetch_all(&mut **tx)
    .await?;
    let slug = unique_slug(&base, |s| taken.iter().any(|t| t == s));
    let short = free_short_id_in(tx, "systems", None).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO systems (short_id, slug, name, created_at, created_by_event) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
    )
    .bind(&short)
    .bind(&slug)
    .bind(name)
    .bind(now)
    .bind(cause)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO accounts (user_id, system_id, created_at) VALUES ($1, $2, $3)")
        .bind(owner)
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// Inserts a member: the slug from its name, unique in the system (and never a retired
/// ghost's); `preferred_short` as its ID when no member has it yet, else a fresh one.
/// Returns the new member's ID.
pub(super) async fn insert_member_in(
    tx: &mut Tx,
    system_id: i64,
    name: &str,
    preferred_short: Option<&str>,
    cause: Option<&str>,
    now: i64,
) -> DbResult<i64> {
    let base = slugify(name).unwrap_or_else(|| "member".to_owned());
    let taken: Vec<String> =
        sqlx::query_scalar("SELECT slug FROM members WHERE system_id = $1 AND (slug = $2 OR slug LIKE $3)")
            .bind(system_id)
            .bind(&base)
            .bind(format!("{base}-%"))
            .fetch_all(&mut **tx)
            .await?;
    // A slug once used by a deleted member still names its ghost account: never reuse it.
    let retired: Vec<String> = sqlx::query_scalar(
        "SELECT g.member_slug FROM ghosts g JOIN systems s ON s.slug = g.system_slug \
             WHERE s.id = $1 AND g.member_id IS NULL",
    )
    .bind(system_id)
    .fetch_all(&mut **tx)
    .await?;
    let slug = unique_slug(&base, |s| taken.iter().chain(&retired).any(|t| t == s));
    let short = free_short_id_in(tx, "members", preferred_short).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO members (system_id, short_id, slug, name, created_at, created_by_event) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(system_id)
    .bind(&short)
    .bind(&slug)
    .bind(name)
    .bind(now)
    .bind(cause)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// A short ID no row of `table` has: `preferred` if it is free, else a fresh random one.
pub(super) async fn free_short_id_in(tx: &mut Tx, table: &'static str, preferred: Option<&str>) -> DbResult<String> {
    let sql = format!("SELECT 1 FROM {table} WHERE short_id = $1");
    let mut preferred = preferred.map(str::to_owned);
    loop {
        let candidate = preferred.take().unwrap_or_else(|| short_id(random_u32));
        let exists: Option<i64> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(&candidate).fetch_optional(&mut **tx).await?;
        if exists.is_none() {
            return Ok(candidate);
        }
    }
}
