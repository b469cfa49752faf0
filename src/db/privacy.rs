//! Reading and setting privacy levels (see `core::privacy`): one column per subject, named
//! by its PluralKit key.

use super::{Db, DbResult};
use crate::core::privacy::{Level, Subject};

/// Whose privacy: a system's, a member's or a group's (by ID).
#[derive(Debug, Clone, Copy)]
pub enum PrivacyOf {
    System(i64),
    Member(i64),
    Group(i64),
}

impl PrivacyOf {
    fn table_and_id(self) -> (&'static str, i64) {
        match self {
            Self::System(id) => ("systems", id),
            Self::Member(id) => ("members", id),
            Self::Group(id) => ("groups", id),
        }
    }
}

/// The levels of every subject of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privacy<S: Subject>(Vec<(S, Level)>);

impl<S: Subject> Privacy<S> {
    /// Everything public (for what has no row, and for tests).
    pub fn public() -> Self {
        Self(S::ALL.iter().map(|s| (*s, Level::Public)).collect())
    }

    pub fn get(&self, subject: S) -> Level {
        self.0.iter().find(|(s, _)| *s == subject).map_or(Level::Private, |(_, l)| *l)
    }

    pub fn iter(&self) -> impl Iterator<Item = (S, Level)> + '_ {
        self.0.iter().copied()
    }
}

impl Db {
    pub async fn privacy<S: Subject>(&self, of: PrivacyOf) -> DbResult<Privacy<S>> {
        let (table, id) = of.table_and_id();
        let cols: Vec<&str> = S::ALL.iter().map(|s| s.key()).collect();
        let sql = format!("SELECT {} FROM {table} WHERE id = $1", cols.join(", "));
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await? else {
            return Ok(Privacy::public());
        };
        let mut levels = Vec::with_capacity(cols.len());
        for (i, subject) in S::ALL.iter().enumerate() {
            let stored: String = sqlx::Row::try_get(&row, i)?;
            levels.push((*subject, Level::from_stored(&stored)));
        }
        Ok(Privacy(levels))
    }

    /// How many members the system has; with `hidden_too` false, only those whose visibility
    /// is public.
    pub async fn member_count(&self, system_id: i64, hidden_too: bool) -> DbResult<usize> {
        let sql = if hidden_too {
            "SELECT COUNT(*) FROM members WHERE system_id = $1"
        } else {
            "SELECT COUNT(*) FROM members WHERE system_id = $1 AND visibility = 'public'"
        };
        let n: i64 = sqlx::query_scalar(sql).bind(system_id).fetch_one(self.pool()).await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub async fn set_privacy<S: Subject>(&self, of: PrivacyOf, subjects: &[S], level: Level) -> DbResult<()> {
        let (table, id) = of.table_and_id();
        let sets: Vec<String> = subjects.iter().map(|s| format!("{} = $1", s.key())).collect();
        if sets.is_empty() {
            return Ok(());
        }
        let sql = format!("UPDATE {table} SET {} WHERE id = $2", sets.join(", "));
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(level.as_str()).bind(id).execute(self.pool()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        core::privacy::{GroupSubject, MemberSubject, SystemSubject},
        db::{now_ms, test_db},
    };

    #[tokio::test]
    async fn levels_are_stored_per_subject() {
        let db = test_db().await;
        let s = db.create_system("@a:x", "a", None, None, now_ms()).await.unwrap();
        let m = db.create_member(s.id, "Ann", None, now_ms()).await.unwrap();
        let g = db.create_group(s.id, "G", None, now_ms()).await.unwrap();
        assert_eq!(db.privacy::<SystemSubject>(PrivacyOf::System(s.id)).await.unwrap(), Privacy::public());
        db.set_privacy(PrivacyOf::Member(m.id), &[MemberSubject::Birthday], Level::Private).await.unwrap();
        let p = db.privacy::<MemberSubject>(PrivacyOf::Member(m.id)).await.unwrap();
        assert_eq!(p.get(MemberSubject::Birthday), Level::Private);
        assert_eq!(p.get(MemberSubject::Name), Level::Public);
        db.set_privacy(PrivacyOf::Group(g.id), GroupSubject::ALL, Level::Private).await.unwrap();
        let p = db.privacy::<GroupSubject>(PrivacyOf::Group(g.id)).await.unwrap();
        assert!(p.iter().all(|(_, l)| l == Level::Private));
        db.set_privacy(PrivacyOf::System(s.id), SystemSubject::ALL, Level::Private).await.unwrap();
        let p = db.privacy::<SystemSubject>(PrivacyOf::System(s.id)).await.unwrap();
        assert!(p.iter().all(|(_, l)| l == Level::Private));
    }
}
