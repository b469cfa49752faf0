//! The pure core: everything that decides, nothing that does I/O. The edge (HTTP, database,
//! homeserver, crypto) calls into these modules; they never call out.

pub mod access;
pub mod addresses;
pub mod autoproxy;
pub mod commands;
pub mod edit;
pub mod exchange;
pub mod fronting;
pub mod html;
pub mod ids;
pub mod message;
pub mod privacy;
pub mod profile;
pub mod replies;
pub mod settings;
pub mod slug;
pub mod tags;
pub mod time;
