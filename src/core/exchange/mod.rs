//! Import and export formats, pure: PluralKit's JSON export (v2, and the v1 keys PluralKit
//! still reads) and Tupperbox's, read into a model that keeps every field it does not interpret (so an export
//! gives back what an import took), and checked with errors that name the field and the
//! member or group. The database mapping lives in `db/`.

pub mod pluralkit;
pub mod tupperbox;

use pluralkit::{Export, ImportError};

/// Which format a file was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    PluralKit,
    Tupperbox,
}

/// Reads an export of either format.
pub fn parse_any(bytes: &[u8]) -> Result<(Export, Format), ImportError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ImportError(format!("This file is not valid JSON ({e}).")))?;
    if tupperbox::is_tupperbox(&value) {
        return tupperbox::parse(value).map(|e| (e, Format::Tupperbox));
    }
    pluralkit::parse(bytes).map(|e| (e, Format::PluralKit))
}
