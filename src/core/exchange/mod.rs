//! Import and export formats, pure: PluralKit's JSON export (v2, and the v1 keys PluralKit
//! still reads), read into a model that keeps every field it does not interpret (so an export
//! gives back what an import took), and checked with errors that name the field and the
//! member or group. The database mapping lives in `db/`.

pub mod pluralkit;
