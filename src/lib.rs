//! pluralmatrix: a Matrix application service for plural systems. Members of a system get
//! their own Matrix accounts ("ghosts"); a message that matches a member's proxy tag is
//! re-sent by that member's ghost, and the original is removed.
//!
//! `core` is pure logic; everything else is the edge that talks to the world.

pub mod app;
pub mod bridge;
pub mod config;
pub mod core;
pub mod crypto;
pub mod db;
pub mod engine;
pub mod fault;
pub mod fuzzing;
pub mod homeserver;
pub mod metrics;
pub mod registration;
pub mod server;
